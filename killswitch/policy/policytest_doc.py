"""The ``PolicyTest`` document: a policy's unit tests, as series of inputs and what to expect.

What it owns: :class:`PolicyTest` and its cases (:class:`PolicyTestCase`): the input of a case
(:class:`TestInput`: equity, positions, open orders, spot balances, heartbeats, as series of one
value a tick, :data:`Series`), and what holds after a tick (:class:`Expectation`: the stage, the
actions, the firing triggers, the orders and cancels sent). Running them is
``killswitch/preview/policytest/``.

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

from typing import Annotated, Any, Callable, Literal, Optional, Self

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from .actions import ACTION_KINDS
from .fields import Document, Labels
from .kinds._violations import GATE_CODES, VENUE_CODES
from .registry import Strict
from .series import SeriesError, parse_series
from .units import AmountField, Duration, DurationField, RatioField


def _series(value: Any) -> str:
    if isinstance(value, bool):
        raise PydanticCustomError("ks_series", "an input series is text such as 10000-100x9")
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        raise PydanticCustomError("ks_series", "an input series is text such as 10000-100x9")
    try:
        parse_series(value)
    except SeriesError as e:
        raise PydanticCustomError("ks_series", str(e)) from None
    return value


Series = Annotated[
    str,
    BeforeValidator(_series),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}],
                    "examples": ["10000-100x9", "0 _ stale 5x3", 60000]}),
]


def _never_stale(stale: str, wrong: Callable[[float], bool], why: str) -> BeforeValidator:
    """A series none of whose values is stale (``stale`` says so) or ``wrong`` (``why`` says so)."""

    def checked(value: Any) -> str:
        text = _series(value)
        for v in parse_series(text):
            if v == "stale":
                raise PydanticCustomError("ks_series", stale)
            if v is not None and wrong(float(v)):
                raise PydanticCustomError("ks_series", why)
        return text

    return BeforeValidator(checked)


# a position's size as a series; ``_`` or 0: no position at that tick
SizeSeries = Annotated[
    str,
    _never_stale("a size series cannot be stale: write _ or 0 for no position", lambda v: v < 0,
                 "a size is never negative: the side says long or short"),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
                    "examples": [10, "10x5 5x5 0"]}),
]


class PositionSeries(Strict):
    """One position of a test account. Series give a value per tick (the last one holds after)."""

    symbol: Annotated[str, Field(min_length=1)]
    side: Literal["long", "short"]
    account: Optional[str] = None
    contracts: SizeSeries = "1"
    # the hedge-mode leg (LONG, SHORT); BOTH or absent: one-way mode
    position_side: Optional[Literal["LONG", "SHORT", "BOTH"]] = None
    entry: Optional[float] = None
    mark: Series
    pnl: Optional[Series] = None
    liquidation: Optional[Series] = None
    margin: Optional[Series] = None  # the position's margin in the quote currency
    leverage: Optional[Annotated[float, Field(gt=0)]] = None
    strategy: Optional[str] = None


class OpenOrder(Strict):
    """An order resting on the venue for the whole test: what cancel_orders and the closes see."""

    id: Optional[Annotated[str, Field(min_length=1)]] = None  # default: o1, o2, ... in the order written
    client_id: Optional[str] = None
    symbol: Annotated[str, Field(min_length=1)]
    side: Literal["buy", "sell"]
    amount: Annotated[float, Field(gt=0)]
    price: Optional[Annotated[float, Field(gt=0)]] = None
    type: str = "limit"
    reduce_only: bool = False
    position_side: Optional[Literal["LONG", "SHORT", "BOTH"]] = None
    strategy: Optional[str] = None


class BalanceInput(Strict):
    """A spot holding (``market_type: spot``): what close_all sells unless it is a stablecoin."""

    asset: Annotated[str, Field(min_length=1)]
    total: Annotated[float, Field(ge=0)]
    free: Optional[Annotated[float, Field(ge=0)]] = None  # default: the total
    price: Optional[Series] = None  # in the quote currency (USDT); a holding without one cannot be valued


# how many violations were counted at each tick (since the one before)
CountSeries = Annotated[
    str,
    _never_stale("a count cannot be stale: write _ or 0 for none", lambda v: v < 0 or v != int(v),
                 "a count is a whole number, 0 or more"),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}],
                    "examples": [0, "0x5 200x3 0"]}),
]

# the codes the gate refuses with and the venue watch reports (gate_refusals, venue_violations)
_VIOLATION_CODES = GATE_CODES + VENUE_CODES


def _violation_code(c: str) -> str:
    if c not in _VIOLATION_CODES:
        raise PydanticCustomError("ks_value", f'unknown code "{c}"', {"choices": list(_VIOLATION_CODES)})
    return c


class ViolationSeries(Strict):
    """The gate's refusals (a check-order code) or the venue watch's violations
    (``LOCK_VIOLATION``, ``LIMIT_VIOLATION``) counted at each tick, of one strategy and symbol of
    the test account (none: the request named none)."""

    code: Annotated[str, AfterValidator(_violation_code)]
    count: CountSeries
    strategy: Optional[Annotated[str, Field(min_length=1)]] = None
    symbol: Optional[Annotated[str, Field(min_length=1)]] = None


class TestInput(Strict):
    __test__ = False

    # Defaults: the first account and venue the policy names, and the labels it matches.
    account: Optional[str] = None
    venue: Optional[str] = None
    labels: Labels = {}
    market_type: Literal["spot", "futures"] = "futures"
    equity: Series
    initial_capital: Optional[AmountField] = None  # as the Accounts document gives it; default: first equity
    day_open: Optional[AmountField] = None  # equity at the UTC day's open; default: the first equity
    positions: list[PositionSeries] = []
    open_orders: list[OpenOrder] = []
    balances: list[BalanceInput] = []
    heartbeats: dict[str, Series] = {}
    api_errors: Optional[Series] = None
    # the gate's refusals and the venue watch's violations counted at each tick; ``counting``:
    # whether the runner counted ``before`` the test (every window read from the first tick) or
    # only ``from_start`` (a first start: blind until a window has been counted whole)
    violations: list[ViolationSeries] = []
    counting: Literal["before", "from_start"] = "before"

    def symbols(self) -> set[str]:
        """Every symbol the input names: positions, open orders, and the spot pairs of its balances
        (``BTC`` held is ``BTC/USDT``, what close_all sells)."""
        return ({p.symbol for p in self.positions} | {o.symbol for o in self.open_orders}
                | {f"{b.asset}/USDT" for b in self.balances})

    def order_ids(self) -> list[str]:
        """The ids of the open orders, as the test's snapshots carry them (o1, o2, ... by default)."""
        return [o.id or f"o{k}" for k, o in enumerate(self.open_orders, 1)]

    @model_validator(mode="after")
    def _unique_order_ids(self) -> Self:
        ids = self.order_ids()
        dup = next((i for i in ids if ids.count(i) > 1), None)
        if dup is not None:
            raise PydanticCustomError("ks_value", f'open order id "{dup}" is given twice')
        return self


def _known_action(a: str) -> str:
    if a not in ACTION_KINDS:
        raise PydanticCustomError("ks_value", f'unknown action "{a}"', {"choices": list(ACTION_KINDS)})
    return a


class ExpectedOrder(Strict):
    """One order intent expected at a tick. A field left out is not checked; ``symbol`` and
    ``side`` always are. An order split into chunks is one expected order (its total)."""

    symbol: Annotated[str, Field(min_length=1)]
    side: Literal["buy", "sell"]
    amount: Optional[Annotated[float, Field(gt=0)]] = None  # contracts (spot: the asset), all chunks
    fraction: Optional[RatioField] = None  # of the position (spot: the holding) at that tick
    reduce_only: Optional[bool] = None
    # LONG or SHORT: the hedge-mode leg it closes; none: no leg (one-way mode, spot)
    position_side: Optional[Literal["LONG", "SHORT", "none"]] = None
    action: Optional[Annotated[str, AfterValidator(_known_action)]] = None
    chunks: Optional[Annotated[int, Field(ge=1)]] = None
    seq: Optional[Annotated[int, Field(ge=1)]] = None  # its send number in the tick (ksctl plan's send_seq)

    @model_validator(mode="after")
    def _one_size(self) -> Self:
        if self.amount is not None and self.fraction is not None:
            raise PydanticCustomError("ks_value", "give amount or fraction, not both")
        return self


class ExpectedCancel(Strict):
    """One cancel intent expected at a tick (all of an account's cancels of one plan)."""

    which: Optional[Literal["entries", "all"]] = None
    orders: Optional[list[str]] = None  # the ids of the open orders it cancels, in any order
    seq: Optional[Annotated[int, Field(ge=1)]] = None


class Expectation(Strict):
    """What holds after the tick at ``at``. ``stage`` and ``actions`` are always checked (an
    expectation with only ``at`` says: stage 0, nothing done); ``firing`` is the exact set of
    firing triggers when written ([]: none fires); ``not_firing`` names triggers that must not
    fire; ``orders`` and ``cancels`` are the exact lists sent at that tick, in send order, when
    written ([]: none)."""

    at: DurationField
    stage: Annotated[int, Field(ge=0, le=99)] = 0
    actions: list[Annotated[str, AfterValidator(_known_action)]] = []
    firing: Optional[list[str]] = None
    not_firing: list[str] = []
    orders: Optional[list[ExpectedOrder]] = None
    cancels: Optional[list[ExpectedCancel]] = None


def _stage_series(value: Any) -> str:
    text = _series(value)
    for v in parse_series(text):
        # the range first: a level of 400 digits is a float's infinity, which no int() takes
        if v is not None and (v == "stale" or not 0 <= float(v) <= 99 or float(v) != int(float(v))):
            raise PydanticCustomError("ks_series", "a stage series holds levels 0 to 99, or _ for a tick not checked")
    return text


StageSeries = Annotated[
    str,
    BeforeValidator(_stage_series),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}], "examples": ["0x25 1x4 2x3 3"]}),
]


class PolicyTestCase(Strict):
    __test__ = False  # not a pytest class

    name: Annotated[str, Field(min_length=1)]
    interval: Optional[DurationField] = None
    input: TestInput
    # the stage after every tick from the first, one sample a tick (_: not checked)
    stages: Optional[StageSeries] = None
    expect: list[Expectation] = []


class PolicyTestSpec(Strict):
    __test__ = False

    policy: str
    interval: DurationField = Duration(60_000)
    tests: Annotated[list[PolicyTestCase], Field(min_length=1)]


class PolicyTest(Document):
    __test__ = False

    kind: Literal["PolicyTest"] = "PolicyTest"
    spec: PolicyTestSpec
