"""What the violation kinds share (``gate_refusals``, ``venue_violations``): their parameters'
checks, the codes each source gives, and the count read through the engine's tally
(:meth:`~killswitch.policy.registry.SignalInputs.violations`). Pure: no I/O, no clock.

No history need (``KS219``): the counts are the runner's, not a signal's — a new policy or
signal reads what the runner has counted since its first start; only that first start (or a
state saved before the counts were kept) is blind, for one window (``UNCOUNTED``).

The codes are the gate's and the venue watch's own (``killswitch/runner/gate/``,
``killswitch/runner/watch/``); a test holds these lists to them.
"""

from typing import Annotated, Any, ClassVar, Optional

from pydantic import AfterValidator, field_validator
from pydantic_core import PydanticCustomError

from ...records import record
from ..expr import ValueType
from ..registry import Reading, SignalInputs, SignalParams
from ..units import Duration, DurationField

MAX_WINDOW_S = 3600  # the engine keeps the counts of the last hour (engine/tally.py)
GATE = "gate"  # the sources the engine counts by (engine/tally.py)
VENUE = "venue"

# what POST /v1/check-order refuses with (its reason's code)
GATE_CODES = ("HALTED", "REDUCING", "RESUMING", "UNKNOWN_ACCOUNT", "UNKNOWN_SCOPE", "UNKNOWN_SYMBOL",
              "STRATEGY_MISMATCH", "UNKNOWN_STRATEGY", "STRATEGY_AMBIGUOUS", "MARKETS_UNKNOWN",
              "AMOUNT_OUT_OF_BOUNDS", "ORDER_TOO_LARGE", "LIMITS_UNKNOWN", "NO_MARK", "PRICE_COLLAR",
              "LIMIT_ORDER_QUANTITY", "LIMIT_ORDER_NOTIONAL", "OPEN_ORDERS_LIMIT", "POSITION_LIMIT",
              "GROSS_LIMIT", "MESSAGE_RATE", "BAD_REQUEST", "INTERNAL")
# the refusals that say what the runner does not know, not what the bot did: not counted unless named
GATE_UNKNOWING = ("MARKETS_UNKNOWN", "LIMITS_UNKNOWN", "INTERNAL")
GATE_DEFAULT = tuple(c for c in GATE_CODES if c not in GATE_UNKNOWING)
# what the venue watch reports (an order that broke a lock, or a limit, without asking the gate)
VENUE_CODES = ("LOCK_VIOLATION", "LIMIT_VIOLATION")


@record
class ViolationParams:
    """A violation kind, compiled: where it counts, over what window, which codes."""

    source: str  # gate | venue (engine/tally.py)
    window_ms: int
    codes: tuple[str, ...]
    key: str  # the written parameters (a change of them is another signal)


def window_checked(v: Duration) -> Duration:
    if v.ms <= 0:
        raise PydanticCustomError("ks_value", "window must be longer than 0s")
    if v.ms > MAX_WINDOW_S * 1000:
        raise PydanticCustomError("ks_value", f"window must be at most 1h (the counts of the last hour are kept), "
                                              f"not {v.seconds:g}s")
    return v


def codes_checked(codes: Optional[list[str]], known: tuple[str, ...]) -> Optional[list[str]]:
    if codes is None:
        return None
    if not codes:
        raise PydanticCustomError("ks_value", "codes lists at least one code (leave it out for the default)")
    for c in codes:
        if c not in known:
            raise PydanticCustomError("ks_value", f'unknown code "{c}"', {"choices": list(known)})
    return codes


class CountParams(SignalParams):
    """A violation kind's parameters: a ``window`` of at most an hour and the ``codes`` counted
    (of the kind's :attr:`known` codes; left out, its :attr:`default`), counted at its
    :attr:`source`."""

    window: Annotated[DurationField, AfterValidator(window_checked)]
    codes: Optional[list[str]] = None
    window_field: ClassVar[Optional[str]] = "window"
    value_type: ClassVar[ValueType] = ValueType.NUMBER
    bounds: ClassVar = (0.0, None)
    source: ClassVar[str]
    known: ClassVar[tuple[str, ...]]
    default: ClassVar[tuple[str, ...]]

    @field_validator("codes")
    @classmethod
    def _codes(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        return codes_checked(v, cls.known)


def build(p: CountParams) -> ViolationParams:
    """The kind compiled: its codes sorted once, its key the parameters as written."""
    written: dict[str, Any] = p.model_dump(mode="json", exclude_none=True)
    chosen = tuple(sorted(set(p.codes))) if p.codes else p.default
    return ViolationParams(p.source, p.window.ms, chosen, f"{p.source}:{sorted(written.items())}")


def evaluate(params: ViolationParams, inputs: SignalInputs, now: int) -> Reading:
    return inputs.violations(params.source, params.window_ms, params.codes, now)

