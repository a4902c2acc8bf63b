"""The ``venue_violations`` signal: how many orders of the scope broke a lock or a limit at the
venue, without asking the gate, in a window.

The venue watch cancels (or reverts) each order that broke the lock binding it
(``LOCK_VIOLATION``) or a pre-trade limit (``LIMIT_VIOLATION``); ``{venue_violations: {window:
5m}}`` counts them, by the instance's accounts, strategies and symbols (the strategy the order's
client id names: an order of unknown strategy is no strategy's), of the ``codes`` given (default:
both). A bot that keeps sending past the gate can so be latched like one the gate keeps refusing.
Counted, kept and blind as ``gate_refusals`` (``engine/tally.py``).
"""

from ..registry import SignalKind
from ._violations import VENUE, VENUE_CODES, CountParams, build, evaluate


class VenueViolations(CountParams):
    """Number of the scope's orders the venue watch found breaking a lock or a limit within
    ``window`` (at most 1h), of the ``codes`` given (``LOCK_VIOLATION``, ``LIMIT_VIOLATION``;
    default: both)."""

    source = VENUE
    known = VENUE_CODES
    default = VENUE_CODES


KIND = SignalKind("venue_violations", VenueViolations, reads_book=False, build=build, evaluate=evaluate)
