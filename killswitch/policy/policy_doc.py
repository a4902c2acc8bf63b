"""The ``Policy`` document: its triggers, stages and the settings around them.

What it owns: :class:`Policy` and :class:`PolicySpec`, a trigger (:class:`Trigger`, with what
missing data means: :class:`MissingData`), a stage (:class:`Stage`), and the policy's settings:
the risk score's weights, the side attribution, correlation groups, how closes are sent
(:class:`Unwind`), trading resumed after a reset (:class:`Resume`), what a blind scope does
(:class:`WhileBlind`). Its signals are :mod:`.signals`, its actions :mod:`.actions`, its scope
:mod:`.scope`, its pre-trade limits :mod:`.limits`; cross-references are the compiler's.

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

import re
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Optional, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .actions import Action
from .fields import NAME_RE, Document, Ident, scalar_to, template_name
from .kinds.lock_trading import LockEnforce
from .limits import Limits
from .registry import Strict
from .scope import Scope
from .signals import Signal
from .time_intervals.model import WINDOW, TimeInterval, Windowed
from .units import AmountField, ConfirmationField, Duration, DurationField, Ratio, RatioField, checked

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


# --- stages ---------------------------------------------------------------------------------------

StageName = Annotated[str, Field(pattern=NAME_RE)]


class Stage(Windowed):
    """A stage; ``during:`` / ``outside:`` named time intervals gate its entry (never its reset)."""

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
    max_impact: Optional[Annotated[RatioField, checked(
        lambda r: 0 < r.exact <= Decimal("0.5"), "ks_value", "max_impact must be above 0% and at most 50%, got {got}",
        "write it like 10%: how far one child order may move the price from the best bid (ask) of the book")]] = None
    book_depth: Optional[Annotated[int, Field(ge=5, le=MAX_BOOK_DEPTH)]] = None

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

    start: Annotated[RatioField, checked(lambda r: 0 < r.exact <= 1, "ks_percent",
                                         "start must be above 0% and at most 100%")]
    step: FactorField = Field(default="x1.5", validate_default=True)
    every: Annotated[DurationField, checked(lambda d: 60_000 <= d.ms <= 30 * 86_400_000, "ks_duration",
                                            "every must be between 1m and 30d")] = Field("1d", validate_default=True)
    # only a reset of a stage at this level or above starts a resumption (default: any stage's)
    from_level: Optional[Annotated[int, Field(ge=1, le=99)]] = None
    max_positions: Optional[Annotated[int, Field(ge=1, le=1_000_000)]] = None
    max_gross_exposure: Optional[Annotated[AmountField, checked(lambda a: a.exact > 0, "ks_amount",
                                                                "max_gross_exposure must be above 0")]] = None

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


class WindowLock(Windowed):
    """A lock held by the clock alone: ``{mode: reducing, during: [weekend, funding]}`` holds every
    scope instance of the policy at ``mode`` while one of the named intervals holds (``outside:``:
    while none does), and lets go when the window closes. ``enforce`` as ``lock_trading``'s."""

    mode: Literal["reducing", "halted"]
    enforce: Optional[LockEnforce] = None

    @model_validator(mode="after")
    def _has_window(self) -> Self:
        if self.window is None:
            raise PydanticCustomError(WINDOW, "lock_trading needs during or outside", {
                "ks_hint": "name the intervals of spec.time_intervals it holds in (during: [weekend]) or "
                           "out of (outside: [desk-hours]); a lock at any time is a stage's lock_trading action"})
        return self


class PolicySpec(Strict):
    scope: Scope = Scope()
    interval: Annotated[DurationField, checked(lambda d: 100 <= d.ms <= 3_600_000, "ks_duration",
                                               "interval must be between 100ms and 1h")] = Duration(5_000)
    signals: dict[Ident, Signal]
    triggers: dict[Ident, Trigger]
    stages: Annotated[list[Stage], Field(min_length=1)]
    risk_score: RiskScore = RiskScore()
    attribution: Attribution = Attribution()
    correlation_groups: list[CorrelationGroup] = []
    unwind: Unwind = Unwind()
    notify: Annotated[Optional[NotifyRef], BeforeValidator(scalar_to("route"))] = None
    runbook: Optional[Annotated[str, AfterValidator(template_name)]] = None
    resume: Optional[Resume] = None
    while_blind: Optional[WhileBlind] = None
    limits: Optional[Limits] = None  # pre-trade limits (:mod:`.limits`)
    # named time intervals (Alertmanager's language, as the routes'): what during/outside name
    time_intervals: list[TimeInterval] = []
    lock_trading: Optional[WindowLock] = None  # a lock by the clock (trading windows)


class Policy(Document):
    kind: Literal["Policy"] = "Policy"
    spec: PolicySpec
