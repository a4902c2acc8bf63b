"""The ``venue_violations`` signal: how many orders of the scope broke a lock or a limit at the
venue, without asking the gate, in a window.

The venue watch cancels (or reverts) each order that broke the lock binding it
(``LOCK_VIOLATION``) or a pre-trade limit (``LIMIT_VIOLATION``); ``{venue_violations: {window:
5m}}`` counts them, by the instance's accounts, strategies and symbols (the strategy the order's
client id names: an order of unknown strategy is no strategy's), of the ``codes`` given (default:
both). A bot that keeps sending past the gate can so be latched like one the gate keeps refusing.
Counted, kept and blind as ``gate_refusals`` (``engine/tally.py``).

Pure: no I/O, no clock.
"""

from typing import ClassVar, Optional

from pydantic import field_validator

from ..expr import ValueType
from ..registry import SignalKind, SignalParams
from ..units import Duration, DurationField
from ._violations import (
    VENUE,
    VENUE_CODES,
    ViolationParams,
    build as build_params,
    codes_checked,
    evaluate,
    window_checked,
)


class VenueViolations(SignalParams):
    """Number of the scope's orders the venue watch found breaking a lock or a limit within
    ``window`` (at most 1h), of the ``codes`` given (``LOCK_VIOLATION``, ``LIMIT_VIOLATION``;
    default: both)."""

    window: DurationField
    codes: Optional[list[str]] = None
    window_field: ClassVar[Optional[str]] = "window"
    value_type: ClassVar[ValueType] = ValueType.NUMBER
    bounds: ClassVar = (0.0, None)

    @field_validator("window")
    @classmethod
    def _window(cls, v: Duration) -> Duration:
        return window_checked(v)

    @field_validator("codes")
    @classmethod
    def _codes(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        return codes_checked(v, VENUE_CODES)


def build(p: VenueViolations) -> ViolationParams:
    return build_params(VENUE, p.window, p.codes, VENUE_CODES, p.model_dump(mode="json", exclude_none=True))


KIND = SignalKind("venue_violations", VenueViolations, reads_book=False, build=build, evaluate=evaluate)
