"""The documents of the policy language (``apiVersion: killswitch/v1``) as pydantic models.

Four kinds: :class:`Policy`, :class:`Accounts`, :class:`NotificationRoutes`, :class:`PolicyTest`.
Every model is frozen and forbids unknown keys, so a misspelled key is an error, never a
silently ignored setting. Values with units (durations, percentages, amounts) are parsed
here; cross-references (a stage naming a trigger, a condition reading a signal) are the
compiler's job, so that all of them are reported in one pass with positions.

Secrets: credentials and notification URLs are *references* (``{env: VAR}`` or
``{file: PATH}``). A literal secret in a document is rejected (KS209) and its value never
appears in a message.

Size: about 1,350 lines of about 75 small models: the language's schema, read top to bottom in
review beside docs/policy-language.md, with the unit types and validators every kind shares at
its head; the PolicyTest models close it, sharing its units, labels and action names. Parsing
units is :mod:`.units`, the condition language :mod:`.expr`.

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``): pydantic would otherwise compile and evaluate every one of them from its text,
about a tenth of what importing this module costs, and ``ksctl validate`` pays for it.
"""

import re
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Callable, ClassVar, Collection, Literal, Optional, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema,
                      create_model, field_validator, model_validator)
from pydantic_core import PydanticCustomError

from . import kinds as own_modules
from .kinds import (cancel_orders, close_side, concentration, consecutive_losses, data_age, equity_change,
                   gross_exposure, heartbeat_age, leverage, liquidation_distance, lock_trading, net_exposure,
                   position_count, position_loss, suggest_hedge)
from . import time_intervals as intervals
from .patterns import pattern_problem
from .expr import ValueType
from .limits import Limits
from .positions import PositionConditionField
from .registry import ActionKind, SignalKind, SignalParams, Strict
from .series import SeriesError, parse_series
from ..silences import SilenceError, parse_matchers
from .units import (
    Amount,
    fraction_in_range,
    AmountField,
    ConfirmationField,
    Duration,
    DurationField,
    Ratio,
    RatioField,
)

API_VERSION = "killswitch/v1"


def _none_is_empty(value: Any) -> Any:
    """``data_age:`` with nothing after it means ``data_age: {}``."""
    return {} if value is None else value


# --- names ----------------------------------------------------------------------------------

NAME_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
IDENT_RE = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"

DocName = Annotated[str, Field(pattern=NAME_RE, description="lower-case letters, digits and dashes")]
Ident = Annotated[str, Field(pattern=IDENT_RE, description="a name usable in conditions: letters, digits, _")]
Labels = dict[Annotated[str, Field(min_length=1, max_length=63)], str]


class Metadata(Strict):
    name: DocName
    owner: Optional[str] = None
    description: Optional[str] = None
    labels: Labels = {}


class _Document(Strict):
    api_version: Literal["killswitch/v1"] = Field(alias="apiVersion")
    kind: str
    metadata: Metadata


# --- scope ------------------------------------------------------------------------------------


class ScopeLevel(str, Enum):
    """Where a policy keeps one stage machine: one for everything it selects, or one per venue, …"""

    GLOBAL = "global"
    VENUE = "venue"
    ACCOUNT = "account"
    STRATEGY = "strategy"
    SYMBOL = "symbol"

    @property
    def rank(self) -> int:
        return list(ScopeLevel).index(self)


class AccountSelector(Strict):
    names: list[str] = []
    match_labels: Labels = {}


def _boolean(value: Any) -> Any:
    """Only a YAML boolean: ``"yes"``, ``1`` or ``"true"`` are refused, not read as one (an opt-out
    of a safety check is said plainly or not at all)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        shown = f'"{value}"' if len(value) <= 40 and "\n" not in value else "this text"
    elif isinstance(value, (int, float)):
        shown = f"the number {value}"
    else:
        shown = "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else "this value"
    raise PydanticCustomError(
        "ks_value", "{shown} is not a boolean",
        {"shown": shown, "ks_hint": "write true or false, unquoted: allow_empty: true keeps a policy whose scope "
                                    "selects no declared account (one prepared ahead of its account)"})


class Scope(Strict):
    """Which accounts, strategies and symbols a policy watches; empty lists select everything."""

    level: ScopeLevel = ScopeLevel.ACCOUNT
    venues: list[str] = []
    accounts: AccountSelector = AccountSelector()
    strategies: list[str] = []
    symbols: list[str] = []
    # None (left out) is false, and stays out of the canonical form: a policy without it keeps its digest
    allow_empty: Annotated[Optional[bool], BeforeValidator(_boolean), WithJsonSchema({
        "type": "boolean",
        "description": "true: the scope may select no account the Accounts documents declare (a policy prepared "
                       "ahead of its account); otherwise that is an error, KS218"})] = None


# --- signals ----------------------------------------------------------------------------------


_SignalKind = SignalParams  # the base of a kind's parameters (value type, bounds, window field)


class EquityDrawdown(_SignalKind):
    """Drop of equity from its highest value within ``window``, as a positive fraction."""

    window: DurationField
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    window_field: ClassVar[Optional[str]] = "window"


class RealizedVolatility(_SignalKind):
    """Standard deviation of equity log returns sampled every ``sample`` over ``window``; with
    ``annualize: true`` scaled by √(periods per year), a year being 365 days (crypto trades every
    day) and a period one ``sample``."""

    window: DurationField
    sample: DurationField = Duration(60_000)
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    # None is false: left out of the canonical form, so a policy without it keeps its digest
    annualize: Annotated[Optional[bool], AfterValidator(lambda v: v or None)] = None
    bounds: ClassVar = (0.0, None)
    window_field: ClassVar[Optional[str]] = "window"


class TailRisk(_SignalKind):
    """Historical value-at-risk / expected shortfall of equity returns, as a fraction of equity."""

    window: DurationField
    confidence: RatioField = Ratio(Decimal("0.99"))
    horizon: DurationField = Duration(60_000)
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    window_field: ClassVar[Optional[str]] = "window"


class ApiErrorRate(_SignalKind):
    """Fraction of exchange calls that failed within ``window``."""

    window: DurationField
    window_field: ClassVar[Optional[str]] = "window"


class ApiLatency(_SignalKind):
    """A quantile of exchange round-trip latency within ``window``."""

    window: DurationField
    quantile: RatioField = Ratio(Decimal("0.95"))
    value_type: ClassVar[ValueType] = ValueType.DURATION
    bounds: ClassVar = (0.0, None)
    window_field: ClassVar[Optional[str]] = "window"


_Kind = TypeVar("_Kind", SignalKind, ActionKind)


def _catalogue(placed: tuple[_Kind, ...], found: tuple[_Kind, ...]) -> dict[str, _Kind]:
    """The catalogue by name, in the language's order: the entries ``placed`` (the built-in kinds,
    with those moved into a module of their own in their place), then the kinds :mod:`.kinds`
    found that were not placed, in their order. Two entries of one name are an error: a kind
    module would otherwise replace a built-in kind, or another module's, in silence."""
    entries = placed + tuple(k for k in found if not any(k is p for p in placed))
    catalogue: dict[str, _Kind] = {}
    for k in entries:
        if k.name in catalogue:
            raise ValueError(f"two kinds are named {k.name!r}: {catalogue[k.name].model.__qualname__} and "
                             f"{k.model.__qualname__} (in {k.model.__module__})")
        catalogue[k.name] = k
    return catalogue


# The catalogue of signal kinds, in the language's order: the built-in kinds, whose nodes and
# evaluations the compiler and the engine hold (they share windows), with those moved into a
# module of their own in their place, then the other kinds of :mod:`.kinds`, one module each, as
# it finds them. Everything that names the kinds reads it.
SIGNALS: dict[str, SignalKind] = _catalogue((
    SignalKind("equity_drawdown", EquityDrawdown, firm=True),
    equity_change.KIND,  # a module of its own, in its place
    position_loss.KIND,  # a module of its own, in its place
    liquidation_distance.KIND,  # a module of its own, in its place
    gross_exposure.KIND,  # a module of its own, in its place
    net_exposure.KIND,  # a module of its own, in its place
    leverage.KIND,  # a module of its own, in its place
    concentration.KIND,  # a module of its own, in its place
    SignalKind("realized_volatility", RealizedVolatility),
    SignalKind("value_at_risk", TailRisk),
    SignalKind("expected_shortfall", TailRisk),
    position_count.KIND,  # a module of its own, in its place
    consecutive_losses.KIND,  # a module of its own, in its place
    # these measure the feed itself or the bots, not the books
    data_age.KIND,  # a module of its own, in its place
    SignalKind("api_error_rate", ApiErrorRate, reads_book=False),
    SignalKind("api_latency", ApiLatency, reads_book=False),
    heartbeat_age.KIND,  # a module of its own, in its place
), own_modules.SIGNALS)
SIGNAL_KINDS: dict[str, type[_SignalKind]] = {name: k.model for name, k in SIGNALS.items()}

# an optional kind whose bare key (``close_all:`` with no value) means its defaults
_NONE_IS_EMPTY = BeforeValidator(_none_is_empty)


def _bare_kind(value: Any, kinds: Collection[str]) -> Any:
    """A bare kind name stands for that kind with default parameters: ``close_all`` → ``{close_all: {}}``."""
    if isinstance(value, str) and value in kinds:
        return {value: None}
    return value


def _exactly_one_kind(model: BaseModel, kinds: Collection[str], what: str) -> None:
    given = [k for k in kinds if getattr(model, k) is not None]
    if len(given) != 1:
        raise PydanticCustomError(
            "ks_one_kind",
            "{what} declares exactly one kind, found {found}",
            {"what": what, "found": ", ".join(given) if given else "none", "choices": list(kinds)},
        )


def _kind_document(base: type[Strict], name: str, doc: str, kinds: Collection[SignalKind | ActionKind]
                   ) -> type[Any]:
    """``base`` with an optional field for each kind of the catalogue (``kinds``), in its order:
    the document ``Signal`` or ``Action`` of the language. A bare key (``close_all:``) is the
    kind with its defaults; a kind with a short form takes a scalar for that field."""
    fields: dict[str, Any] = {}
    for k in kinds:
        short = k.short if isinstance(k, ActionKind) else None
        before = BeforeValidator(_scalar_to(short)) if short is not None else _NONE_IS_EMPTY
        fields[k.name] = (Annotated[Optional[k.model], before], None)
    made: type[Any] = create_model(name, __base__=base, __doc__=doc, __module__=__name__, **fields)
    return made


class _Signal(Strict):
    # a field per kind of the catalogue, optional, made by _kind_document from SIGNALS

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        return _bare_kind(value, SIGNAL_KINDS)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        _exactly_one_kind(self, SIGNAL_KINDS, "a signal")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in SIGNAL_KINDS if getattr(self, k) is not None)

    @property
    def params(self) -> _SignalKind:
        params: _SignalKind = getattr(self, self.kind)
        return params


if TYPE_CHECKING:
    Signal = _Signal
else:
    Signal = _kind_document(_Signal, "Signal", "One signal: exactly one kind from the catalogue, with its parameters.",
                            SIGNALS.values())


# --- triggers -----------------------------------------------------------------------------------


class MissingData(str, Enum):
    FIRE = "fire"  # fail closed: no data counts as the condition holding
    HOLD = "hold"  # keep the previous result and pending count
    IGNORE = "ignore"  # no data counts as the condition not holding


class Trigger(Strict):
    model_config = ConfigDict(
        json_schema_extra={"required": ["when", "on_missing_data"]},
    )

    when: str  # an empty condition is the compiler's KS120, with the parser's hint
    for_: Optional[ConfirmationField] = Field(default=None, alias="for")
    keep_firing_for: Optional[DurationField] = None
    # Required; checked by the compiler (KS208) so that the error can explain the choices.
    on_missing_data: Optional[MissingData] = None
    description: Optional[str] = None


# --- actions ------------------------------------------------------------------------------------

def _scalar_to(field: str) -> Callable[[Any], Any]:
    def conv(value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return {field: value}
        return value

    return conv


class ReduceTopRisk(Strict):
    """Cut ``fraction`` of each of the ``count`` positions of ``side`` with the highest risk score
    (``losing``: the side attribution names); close in full one within ``close_within_liquidation``."""

    count: Annotated[int, Field(ge=1, le=10_000)]
    fraction: RatioField
    side: Literal["losing", "long", "short", "any"] = "losing"
    close_within_liquidation: Optional[RatioField] = None
    # When attribution is UNKNOWN (nothing declined): skip (cut nothing), or any (rank every
    # position, profitable ones included: the policy's explicit permission).
    on_unknown_side: Literal["skip", "any"] = "skip"

    @field_validator("fraction")
    @classmethod
    def _fraction_range(cls, v: Ratio) -> Ratio:
        return fraction_in_range(v)


# how close_positions orders the positions it may close, worst first: the risk score, a loss
# (largest first) or the liquidation distance (nearest first)
RankBy = Literal["risk_score", "loss_on_equity", "loss_on_margin", "loss_on_notional", "liquidation_distance"]


class ClosePositions(Strict):
    """Close in full the positions that pass every selector given; with ``count``, only the
    ``count`` worst of them by ``rank_by`` (default: the risk score)."""

    symbols: list[str] = []
    side: Literal["long", "short", "any"] = "any"
    min_loss: Optional[RatioField] = None
    correlation_group: Optional[str] = None
    where: Optional[PositionConditionField] = None
    count: Optional[Annotated[int, Field(ge=1, le=10_000)]] = None
    rank_by: Optional[RankBy] = None

    @model_validator(mode="after")
    def _some_selector(self) -> Self:
        if (not self.symbols and self.min_loss is None and self.correlation_group is None and self.side == "any"
                and self.where is None and self.count is None):
            raise PydanticCustomError(
                "ks_value", "close_positions selects nothing; give symbols, side, min_loss, correlation_group, "
                "where or count (use close_all to close everything)"
            )
        if self.rank_by is not None and self.count is None:
            raise PydanticCustomError("ks_value", "rank_by orders the positions count picks; give count too")
        return self


class CloseAll(Strict):
    """Close every position of the scope in full (and, on spot, sell its holdings outside the stablecoins)."""


class ArmExchangeDms(Strict):
    """Arm the venue's dead man's switch: it cancels the account's orders ``after`` this long without a renewal."""

    after: DurationField


class RevokeTrading(Strict):
    """Remove the trading permission of the bots' API keys at the venue itself, with the master
    credential of each account the scope reaches (the keys listed for it in the Accounts
    document): a bot that never asks the gate is refused by the venue. Sent once the stage is
    entered, retried until the venue confirms it; restored only by the stage's reset, with its
    approvals. The stage must be ``reset: manual``."""


class NotifyAction(Strict):
    """Send a notification through ``route`` (a NotificationRoutes route) at ``severity``."""

    route: Annotated[str, Field(min_length=1)]
    severity: Literal["info", "warning", "critical"] = "critical"


class RunbookAction(Strict):
    """Render the runbook ``template`` (a name under runbooks/) for the on-call engineer."""

    template: Annotated[str, Field(min_length=1)]

    @field_validator("template")
    @classmethod
    def _relative(cls, v: str) -> str:
        return _template_name(v)


def _template_name(v: str) -> str:
    if v.startswith("/") or ".." in v.split("/") or "\\" in v:
        raise PydanticCustomError("ks_value", "a runbook template is a name inside runbooks/, not a path")
    return v


# The catalogue of action kinds, in the language's order: the built-in kinds (the planner and the
# runner carry them out), with those moved into a module of their own in their place, then the
# other kinds :mod:`.kinds` finds. Everything that names the kinds reads it.
ACTIONS: dict[str, ActionKind] = _catalogue((
    cancel_orders.KIND,  # a module of its own, in its place
    ActionKind("reduce_top_risk", ReduceTopRisk, closes=True),
    close_side.KIND,  # a module of its own, in its place
    ActionKind("close_positions", ClosePositions, closes=True),
    ActionKind("close_all", CloseAll, closes=True, firm=True),
    lock_trading.KIND,  # a module of its own, in its place
    ActionKind("arm_exchange_dms", ArmExchangeDms, short="after"),
    ActionKind("revoke_trading", RevokeTrading),
    ActionKind("notify", NotifyAction, short="route", firm=True),
    suggest_hedge.KIND,  # a module of its own, in its place
    ActionKind("runbook", RunbookAction, short="template", firm=True),
), own_modules.ACTIONS)
ACTION_KINDS = tuple(ACTIONS)
CLOSING_ACTIONS = tuple(name for name, k in ACTIONS.items() if k.closes)


class _Action(Strict):
    # a field per kind of the catalogue, optional, made by _kind_document from ACTIONS

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        return _bare_kind(value, ACTION_KINDS)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        _exactly_one_kind(self, ACTION_KINDS, "an action")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ACTION_KINDS if getattr(self, k) is not None)

    @property
    def params(self) -> Strict:
        params: Strict = getattr(self, self.kind)
        return params


if TYPE_CHECKING:
    Action = _Action
else:
    Action = _kind_document(_Action, "Action", "One action of a stage: exactly one kind. ``close_all`` and "
                            "``{cancel_orders: all}`` are short forms.", ACTIONS.values())


# --- stages ---------------------------------------------------------------------------------------

StageName = Annotated[str, Field(pattern=NAME_RE)]


class Stage(Strict):
    level: Annotated[int, Field(ge=1, le=99)]
    name: StageName
    on: Annotated[list[str], BeforeValidator(lambda v: [] if v is None else v)] = []
    cooldown: Optional[DurationField] = None
    reset: Literal["auto", "manual"] = "auto"
    # auto reset: quiet time (no trigger of this stage firing) after which the scope re-arms.
    reset_after: Optional[DurationField] = None
    approvals: Annotated[int, Field(ge=1, le=10)] = 1
    actions: list[Action] = []
    description: Optional[str] = None


# --- the rest of a policy ----------------------------------------------------------------------


class RiskWeights(Strict):
    pnl_delta: Annotated[float, Field(ge=0, le=1)] = 0.40
    current_loss: Annotated[float, Field(ge=0, le=1)] = 0.25
    liq_proximity: Annotated[float, Field(ge=0, le=1)] = 0.20
    notional_share: Annotated[float, Field(ge=0, le=1)] = 0.10
    margin_loss: Annotated[float, Field(ge=0, le=1)] = 0.05


class RiskScore(Strict):
    weights: RiskWeights = RiskWeights()


class Attribution(Strict):
    reference_window: DurationField = Duration(3_600_000)
    source_threshold: RatioField = Ratio(Decimal("0.65"))
    # A position opened inside the window has no reference: count its whole PnL, or leave it out.
    missing_reference: Literal["since_open", "exclude"] = "since_open"


class CorrelationGroup(Strict):
    name: Ident
    symbols: Annotated[list[str], Field(min_length=2)]


MAX_BOOK_DEPTH = 1000


class Unwind(Strict):
    """How closes are sent: each a reduce-only limit IOC no worse than ``max_slippage`` from the
    mark, split by ``chunk_notional``, paced by the order rate. Order-book-aware unwinding
    (``max_impact``, ``book_depth``): the closes of a stage are sized against the top of the
    venue's book, fetched only for the positions being closed, so that no child order moves the
    price more than ``max_impact`` from the best level, and each is priced at the book level it
    reaches. Left out (None), they keep a policy's behaviour and digest as they were."""

    max_slippage: RatioField = Ratio(Decimal("0.02"))
    chunk_notional: Optional[AmountField] = None
    orders_per_second: Annotated[float, Field(gt=0, le=1000)] | Literal["exchange"] = "exchange"
    max_retries: Annotated[int, Field(ge=0, le=100)] = 3
    max_impact: Optional[RatioField] = None
    book_depth: Optional[Annotated[int, Field(ge=5, le=MAX_BOOK_DEPTH)]] = None

    @field_validator("max_impact")
    @classmethod
    def _impact_range(cls, v: Optional[Ratio]) -> Optional[Ratio]:
        if v is not None and not (0 < v.exact <= Decimal("0.5")):
            raise PydanticCustomError(
                "ks_value", "max_impact must be above 0% and at most 50%, got {got}",
                {"got": str(v), "ks_hint": "write it like 10%: how far one child order may move the price from "
                                           "the best bid (ask) of the book"})
        return v

    @field_validator("book_depth", mode="before")
    @classmethod
    def _depth_range(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, bool) or not isinstance(v, int) or not (5 <= v <= MAX_BOOK_DEPTH):
            shown = (repr(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                     else f'"{v}"' if isinstance(v, str) else f"a {type(v).__name__}")
            raise PydanticCustomError(
                "ks_value", "book_depth is a whole number of price levels per side from 5 to {top}, got {got}",
                {"top": MAX_BOOK_DEPTH, "got": shown[:40],
                 "ks_hint": "20 levels suit most closes; venues serve 5, 10, 20, 50, 100, 500 or 1000"})
        return v


class NotifyRef(Strict):
    route: Annotated[str, Field(min_length=1)]


_FACTOR = re.compile(r"^[x×*]\s*(\d+(?:\.\d+)?)$")
FACTOR_PATTERN = r"^[x×*]\s*[0-9]+(\.[0-9]+)?$"
MAX_RESUME_STEPS = 1000


def _factor(value: Any) -> Decimal:
    """``x1.5`` (or ``×1.5``, or the bare number 1.5) → 1.5, a factor above 1 and at most 10."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise PydanticCustomError("ks_value", "step is a factor such as x1.5")
    if isinstance(value, str):
        m = _FACTOR.match(value.strip())
        if m is None:
            raise PydanticCustomError("ks_value", f'"{value[:40]}" is not a factor; write it like x1.5')
        d = Decimal(m.group(1))
    else:
        d = Decimal(str(value))
    if not d.is_finite() or not (1 < d <= 10):
        raise PydanticCustomError("ks_value", "step must be a factor above x1 and at most x10")
    return d.normalize()


def _factor_text(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return "x" + (text.rstrip("0").rstrip(".") if "." in text else text)


FactorField = Annotated[
    Decimal,
    BeforeValidator(_factor),
    PlainSerializer(_factor_text, return_type=str),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": FACTOR_PATTERN}, {"type": "number", "exclusiveMinimum": 1,
                                                                              "maximum": 10}],
                    "examples": ["x1.5", 2]}),
]


class Resume(Strict):
    """Trading after a reset: the pre-trade gate holds reduced limits that step up on a schedule.

    On the first step (``every`` long, from the reset) the limits are ``start`` of the normal
    ones; each further step multiplies them by ``step``, until they are normal again. The normal
    limits are per account: open positions, and gross exposure in the quote currency."""

    start: RatioField
    step: FactorField = Field(default="x1.5", validate_default=True)
    every: DurationField = Field(default="1d", validate_default=True)
    # only a reset of a stage at this level or above starts a resumption (default: any stage's)
    from_level: Optional[Annotated[int, Field(ge=1, le=99)]] = None
    max_positions: Optional[Annotated[int, Field(ge=1, le=1_000_000)]] = None
    max_gross_exposure: Optional[AmountField] = None

    @field_validator("start")
    @classmethod
    def _start_range(cls, v: Ratio) -> Ratio:
        if not (0 < v.exact <= 1):
            raise PydanticCustomError("ks_percent", "start must be above 0% and at most 100%")
        return v

    @field_validator("every")
    @classmethod
    def _every_range(cls, v: Duration) -> Duration:
        if not (60_000 <= v.ms <= 30 * 86_400_000):
            raise PydanticCustomError("ks_duration", "every must be between 1m and 30d")
        return v

    @field_validator("max_gross_exposure")
    @classmethod
    def _gross_positive(cls, v: Optional[Amount]) -> Optional[Amount]:
        if v is not None and v.exact <= 0:
            raise PydanticCustomError("ks_amount", "max_gross_exposure must be above 0")
        return v

    @model_validator(mode="after")
    def _limits_and_length(self) -> Self:
        if self.max_positions is None and self.max_gross_exposure is None:
            raise PydanticCustomError("ks_missing", "resume needs the normal limits it scales: max_positions, "
                                                    "max_gross_exposure or both")
        f, n = self.start.exact, 0
        while f < 1 and n <= MAX_RESUME_STEPS:
            f, n = f * self.step, n + 1
        if n > MAX_RESUME_STEPS:
            raise PydanticCustomError("ks_value", f"resume takes more than {MAX_RESUME_STEPS} steps to reach the "
                                                  "normal limits; raise start or step")
        return self


class WhileBlind(Strict):
    """What a policy does while one of its scopes is blind (a trigger a stage uses cannot be
    evaluated: too little history, missing or stale data, an account not read). Without it the
    policy does nothing more than say so (status, metrics, a log line, a page); with
    ``lock_trading`` the pre-trade gate holds the blind scope at that mode until it is armed again."""

    lock_trading: Literal["reducing", "halted"]


class PolicySpec(Strict):
    scope: Scope = Scope()
    interval: DurationField = Duration(5_000)
    signals: dict[Ident, Signal]
    triggers: dict[Ident, Trigger]
    stages: Annotated[list[Stage], Field(min_length=1)]
    risk_score: RiskScore = RiskScore()
    attribution: Attribution = Attribution()
    correlation_groups: list[CorrelationGroup] = []
    unwind: Unwind = Unwind()
    notify: Annotated[Optional[NotifyRef], BeforeValidator(_scalar_to("route"))] = None
    runbook: Optional[str] = None
    resume: Optional[Resume] = None
    while_blind: Optional[WhileBlind] = None
    limits: Optional[Limits] = None  # pre-trade limits (:mod:`.limits`)

    @field_validator("runbook")
    @classmethod
    def _runbook_name(cls, v: Optional[str]) -> Optional[str]:
        return None if v is None else _template_name(v)

    @field_validator("interval")
    @classmethod
    def _interval_range(cls, v: Duration) -> Duration:
        if not (100 <= v.ms <= 3_600_000):
            raise PydanticCustomError("ks_duration", "interval must be between 100ms and 1h")
        return v


class Policy(_Document):
    kind: Literal["Policy"] = "Policy"
    spec: PolicySpec


# --- accounts -----------------------------------------------------------------------------------


class SecretRef(Strict):
    """Where a secret lives: an environment variable or a mounted file. Never the secret itself."""

    env: Optional[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = None
    file: Optional[Annotated[str, Field(min_length=1)]] = None

    @model_validator(mode="before")
    @classmethod
    def _no_literal(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise PydanticCustomError(
                "ks_secret",
                "a secret must be a reference ({env: VAR} or {file: PATH}); a literal value in a file leaks it",
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.env is None) == (self.file is None):
            raise PydanticCustomError("ks_value", "a secret reference names exactly one of env or file")
        return self


# An account address of a wallet-signed venue (Hyperliquid): 0x and 40 hex digits. Public, so
# written as it is, and checked here: a typo would read another account, or none.
WalletAddress = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


class Credentials(Strict):
    """An API key and its secret (``password``, ``uid`` where the venue has them); or, on a venue
    whose orders a wallet signs (Hyperliquid), the account's ``wallet_address`` and the
    ``private_key`` that signs for it (the account's own, or an API wallet approved by it), with
    ``vault_address`` when the key trades a vault or a sub-account of that account."""

    api_key: Optional[SecretRef] = None
    secret: Optional[SecretRef] = None
    password: Optional[SecretRef] = None
    uid: Optional[SecretRef] = None
    wallet_address: Optional[WalletAddress] = None
    private_key: Optional[SecretRef] = None
    vault_address: Optional[WalletAddress] = None

    @model_validator(mode="after")
    def _one_way_to_sign(self) -> Self:
        key = self.api_key is not None or self.secret is not None
        wallet = self.wallet_address is not None or self.private_key is not None or self.vault_address is not None
        if key and wallet:
            raise PydanticCustomError("ks_value", "credentials are an api_key and a secret, or a wallet_address and "
                                      "a private_key (a wallet-signed venue), not both")
        if wallet and (self.wallet_address is None or self.private_key is None):
            raise PydanticCustomError("ks_missing", "a wallet-signed account needs both wallet_address and private_key")
        if not wallet and (self.api_key is None or self.secret is None):
            raise PydanticCustomError("ks_missing", "credentials need an api_key and a secret "
                                      "(or, on a wallet-signed venue, a wallet_address and a private_key)")
        return self


def _fail_closed(value: Any) -> bool:
    """Only the boolean ``false`` turns dry run off; anything else ("no", 0, "false") keeps it on."""
    return value is not False


class RevokeSpec(Strict):
    """The venue's own switch of the bots' trading permission (the ``revoke_trading`` action and
    ``ksctl revoke``): a master credential that may change the sub-account's keys, the
    sub-account (Binance: its email; Bybit: its uid; OKX: its name), and the bots' API keys by
    their public id (their secrets are never needed). ``method``: ``permissions`` (each key
    read-only, its other settings kept) or ``freeze`` (the whole sub-account frozen: Bybit)."""
    master_credentials: Credentials
    # a uid written bare (Bybit's) is read as the text it is
    sub_account: Annotated[str, BeforeValidator(lambda v: str(v) if type(v) is int else v),
                           Field(min_length=1, max_length=128)]
    api_keys: Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]], Field(min_length=1)]
    method: Literal["permissions", "freeze"] = "permissions"

    @field_validator("api_keys")
    @classmethod
    def _keys_once(cls, v: list[str]) -> list[str]:
        twice = sorted({k for k in v if v.count(k) > 1})
        if twice:
            raise PydanticCustomError("ks_value", f"api key listed twice: {twice[0]}")
        return v


class StreamSpec(Strict):
    """Private streams for this account (ccxt's streaming API): the snapshot is kept from the stream, REST
    reconciles every ``reconcile_every`` and at each reconnect; a stream silent for ``stale_after`` is blind and
    the account is polled over REST at the policy interval until it is live again, as it is while the last good
    reconcile is older than 3 × ``reconcile_every`` (the reconcile's REST reads failing)."""
    enabled: bool = True
    reconcile_every: DurationField = Duration(30_000)
    stale_after: DurationField = Duration(10_000)


class StrategyEntry(Strict):
    """A strategy (bot) of this account and the client order id prefixes its orders carry: an order
    whose client id begins with one of them is that strategy's (in a lock violation's page, a
    strategy-scoped policy's orders). A strategy written as its name alone is the name followed by
    ``-``, ``_``, ``:`` or ``.``."""
    name: Annotated[str, Field(min_length=1)]
    client_id_prefixes: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class Account(Strict):
    name: DocName
    venue: Annotated[str, Field(pattern=r"^[a-z0-9_]+$", description="ccxt exchange id, e.g. binanceusdm")]
    market_type: Literal["spot", "futures"]
    labels: Labels = {}
    hedge_mode: bool = False
    # the bots trading on this account: a name (its client ids begin with it) or a name with its prefixes
    strategies: list[str | StrategyEntry] = []
    quote_currency: str = "USDT"
    initial_capital: Optional[AmountField] = None
    stablecoins: list[str] = ["USDT", "USDC", "FDUSD", "DAI"]
    # The settle coins whose positions and orders the account's venue lists apart (Bybit lists
    # one settle coin a call); empty: the venue's main ones (see the exchanges table in docs/exchanges.md).
    settle_coins: list[Annotated[str, Field(pattern=r"^[A-Z0-9]{2,12}$")]] = []
    sandbox: bool = False
    # The venue's REST base URL, for a local simulator or a testnet (never needed for production).
    api_url: Optional[Annotated[str, Field(pattern=r"^https?://[^\s/]+(/.*)?$")]] = None
    # The venue at api_url paces requests itself (the simulated exchange, a gateway that enforces the
    # venue's limits): ccxt's client-side throttle is off, the order budget still paces orders. Only
    # with an api_url (KS224): a public venue keeps the client's pacing.
    paced_by_venue: bool = False
    credentials: Optional[Credentials] = None
    # Opt-in: absent, the account is polled over REST every policy interval as before.
    stream: Optional[StreamSpec] = None
    # The venue's own switch of the bots' keys (revoke_trading); absent: no revoke on this account.
    revoke: Optional[RevokeSpec] = None

    def strategy_names(self) -> list[str]:
        """The strategies' names, as written."""
        return [s if isinstance(s, str) else s.name for s in self.strategies]

    def client_id_prefixes(self) -> dict[str, str]:
        """Client order id prefix → the strategy it names: a declared prefix as written, a
        strategy written as its name alone mapped to itself (matched as a name: see
        ``adapters.ccxt_exchange.parsing.strategy_of``). A prefix claimed twice is KS249."""
        out: dict[str, str] = {}
        for s in self.strategies:
            for prefix in ((s,) if isinstance(s, str) else s.client_id_prefixes):
                out.setdefault(prefix, s if isinstance(s, str) else s.name)
        return out

    @field_validator("stream")
    @classmethod
    def _stream_durations_positive(cls, v: Optional[StreamSpec]) -> Optional[StreamSpec]:
        # 0s would mean a REST reconcile at every tick, or a stream stale at every message
        for name in ("reconcile_every", "stale_after"):
            if v is not None and getattr(v, name).ms <= 0:
                raise PydanticCustomError("ks_value", f"stream.{name} must be longer than 0s")
        return v


SHARD_NAME_RE = r"^[a-z][a-z0-9-]{0,30}$"


def _console_url(value: Any) -> Any:
    """A shard's console URL: http(s) and a host, never a credential (every console shows it)."""
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.username or parts.password:
            raise PydanticCustomError("ks_value", "a console URL carries no credentials (user:password@): every "
                                                  "shard's console shows it; each console asks for its own token")
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
            raise PydanticCustomError("ks_value", "a console URL is http:// or https:// and a host, "
                                                  "e.g. https://ks-desk-a.example/")
    return value


class Shard(Strict):
    """One shard: a runner replica set (``ksctl run --shard NAME``) holding the accounts its
    selector selects (the selector a policy's scope uses); every account is in exactly one shard
    (KS240, KS241). Its state lives in a PostgreSQL schema of its own (``ks_shard_<name>``)."""
    name: Annotated[str, Field(pattern=SHARD_NAME_RE, description="lower-case letters, digits and dashes, "
                                                                   "a letter first, 31 at most")]
    accounts: AccountSelector
    # where people reach the shard's console (its leader Service): every shard's console links to it
    console: Optional[Annotated[str, BeforeValidator(_console_url), Field(
        pattern=r"^https?://[^\s/@]+(/\S*)?$", description="the URL of the shard's console, as people reach its "
                                                          "leader; every shard's console links to it (no credentials "
                                                          "in it)")]] = None


class AccountsSpec(Strict):
    dry_run: Annotated[bool, BeforeValidator(_fail_closed)] = True
    accounts: Annotated[list[Account], Field(min_length=1)]
    # Absent or empty: no sharding, one runner (and its standby) holds every account.
    shards: list[Shard] = []


class Accounts(_Document):
    kind: Literal["Accounts"] = "Accounts"
    spec: AccountsSpec


# --- notification routes ------------------------------------------------------------------------

# Apprise schemes whose URL carries no token of its own (a local webhook receiver). Every other
# apprise URL embeds a credential and must come from a secret reference.
PLAIN_URL_SCHEMES = ("json", "jsons", "form", "forms", "xml", "xmls")


def _plain_url(value: Any) -> Any:
    """A URL written in a document must be one that cannot carry a token (a local webhook)."""
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme not in PLAIN_URL_SCHEMES or parts.username or parts.password:
            raise PydanticCustomError(
                "ks_secret",
                "this notification URL can carry a token; give it as a reference ({env: VAR} or {file: PATH})",
            )
    return value


def _url_or_ref(value: Any) -> Any:
    return {"url": _plain_url(value)} if isinstance(value, str) else value


class AppriseTarget(Strict):
    url: Annotated[Optional[str], BeforeValidator(_plain_url)] = None
    env: Optional[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = None
    file: Optional[str] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if sum(x is not None for x in (self.url, self.env, self.file)) != 1:
            raise PydanticCustomError("ks_value", "a target is a plain local URL, {env: VAR} or {file: PATH}")
        return self


class Receiver(Strict):
    name: Annotated[str, Field(min_length=1)]
    apprise: Annotated[list[Annotated[AppriseTarget, BeforeValidator(_url_or_ref)]], Field(min_length=1)]
    # told when what it was paged about is over (a scope back at level 0, a fault cleared), as
    # Alertmanager's webhook and PagerDuty receivers are by default
    send_resolved: bool = True


def _label_pattern(pattern: str) -> str:
    """A label pattern RE2 compiles (:mod:`.patterns`), or KS114 at the character it is about."""
    problem = pattern_problem(pattern)
    if problem is not None:
        shown = f' "{pattern}"' if len(pattern) <= 60 else ""
        raise PydanticCustomError("ks_pattern", f"the pattern{shown} {problem.message}",
                                  {"ks_hint": problem.hint, "ks_offset": problem.offset})
    return pattern


# a label's pattern (match_re): RE2, anchored, as Alertmanager's
LabelPatternText = Annotated[str, AfterValidator(_label_pattern)]


def _matcher_line(value: Any) -> Any:
    """A line of ``matchers:`` in Alertmanager's text: one matcher or several
    (``{severity="critical", venue!~"okx|bybit"}``), read by the one parser of matchers (the
    silences'); a bad one is reported where it starts in the line."""
    if not isinstance(value, str):
        return value  # the type check reports it
    try:
        found = parse_matchers(value, max_value=None)
    except SilenceError as e:
        raise PydanticCustomError("ks_matcher", e.reason.removeprefix("BAD_MATCHER: "),
                                  {"offset": e.offset}) from None
    if not found:
        raise PydanticCustomError("ks_matcher", "names no matcher", {"offset": 0})
    return value  # (each pattern compiled by the parser, with RE2: what RE2 refuses is a BAD_MATCHER above)


MatcherLine = Annotated[
    str, BeforeValidator(_matcher_line),
    WithJsonSchema({"type": "string", "description": 'matchers in Alertmanager\'s text: name="value", '
                    'name!="value", name=~"regex", name!~"regex"; several in one line: {a="b", c=~"d"}',
                    "examples": ['severity="critical"', '{venue!~"okx|bybit", stage="flatten"}']}),
]


def _checked(parse: Callable[[str], Any]) -> Callable[[list[str]], list[str]]:
    def check(items: list[str]) -> list[str]:
        for item in items:
            try:
                parse(str(item))
            except ValueError as e:
                raise PydanticCustomError("ks_value", str(e)) from None
        return [str(i) for i in items]
    return check


class TimeRange(Strict):
    start_time: str
    end_time: str

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        try:
            intervals.parse_times(self.start_time, self.end_time)
        except ValueError as e:
            raise PydanticCustomError("ks_value", str(e)) from None
        return self


class TimeSpec(Strict):
    """One period of a named time interval: every field given must hold (empty: any)."""

    times: list[TimeRange] = []
    weekdays: Annotated[list[str], AfterValidator(_checked(intervals.parse_weekdays))] = []
    days_of_month: Annotated[list[str], AfterValidator(_checked(intervals.parse_days_of_month))] = []
    months: Annotated[list[str], AfterValidator(_checked(intervals.parse_months))] = []
    years: Annotated[list[str], AfterValidator(_checked(intervals.parse_years))] = []
    location: Annotated[Optional[str], Field(pattern=intervals.LOCATION_RE,
                                             description="an IANA time zone such as Europe/London; UTC if left out")
                        ] = None


class TimeInterval(Strict):
    name: Annotated[str, Field(min_length=1)]
    time_intervals: Annotated[list[TimeSpec], Field(min_length=1)]


class Route(Strict):
    receiver: Optional[str] = None
    matchers: list[MatcherLine] = []  # preferred; match / match_re are Alertmanager's older form
    match: dict[str, str] = {}
    match_re: dict[str, LabelPatternText] = {}
    continue_: bool = Field(default=False, alias="continue")
    group_by: list[str] = []
    group_wait: Optional[DurationField] = None
    group_interval: Optional[DurationField] = None
    repeat_interval: Optional[DurationField] = None
    mute_time_intervals: list[str] = []  # names under spec.time_intervals; not inherited
    active_time_intervals: list[str] = []
    routes: list["Route"] = []


class InhibitRule(Strict):
    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"anyOf": [{"required": [f"{side}_matchers"]}, {"required": [f"{side}_match"]}]}
        for side in ("source", "target")]})

    source_matchers: list[MatcherLine] = []  # preferred; source_match / target_match: the older form
    source_match: dict[str, str] = {}
    target_matchers: list[MatcherLine] = []
    target_match: dict[str, str] = {}
    equal: list[str] = []

    @model_validator(mode="after")
    def _both_sides(self) -> Self:
        for side in ("source", "target"):
            if not getattr(self, f"{side}_matchers") and not getattr(self, f"{side}_match"):
                raise PydanticCustomError(
                    "ks_missing", f"an inhibit rule needs {side}_matchers (or {side}_match): without one it "
                    f"would {'mute on any alert' if side == 'source' else 'mute every alert'}",
                    {"ks_hint": f'add {side}_matchers: [\'stage="flatten"\'] (Alertmanager\'s text)'})
        return self


class RoutesSpec(Strict):
    route: Route
    receivers: Annotated[list[Receiver], Field(min_length=1)]
    inhibit_rules: list[InhibitRule] = []
    fallback_receiver: Optional[str] = None
    time_intervals: list[TimeInterval] = []


class NotificationRoutes(_Document):
    kind: Literal["NotificationRoutes"] = "NotificationRoutes"
    spec: RoutesSpec


# --- policy unit tests ---------------------------------------------------------------------------


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


def _contracts(value: Any) -> str:
    """A position's size as a series; ``_`` or 0: no position at that tick; never stale."""
    text = _series(value)
    for v in parse_series(text):
        if v == "stale":
            raise PydanticCustomError("ks_series", "a size series cannot be stale: write _ or 0 for no position")
        if v is not None and float(v) < 0:
            raise PydanticCustomError("ks_series", "a size is never negative: the side says long or short")
    return text


SizeSeries = Annotated[
    str,
    BeforeValidator(_contracts),
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


class PolicyTest(_Document):
    __test__ = False

    kind: Literal["PolicyTest"] = "PolicyTest"
    spec: PolicyTestSpec


DOCUMENT_KINDS: dict[str, type[_Document]] = {
    "Policy": Policy,
    "Accounts": Accounts,
    "NotificationRoutes": NotificationRoutes,
    "PolicyTest": PolicyTest,
}

__all__ = [
    "API_VERSION", "DOCUMENT_KINDS", "SIGNALS", "SIGNAL_KINDS", "ACTIONS", "ACTION_KINDS", "CLOSING_ACTIONS",
    "Policy", "PolicySpec", "Accounts", "NotificationRoutes", "PolicyTest",
    "Signal", "Trigger", "Stage", "Action", "Scope", "ScopeLevel", "MissingData", "Strict",
]
