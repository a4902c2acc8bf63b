"""What the executor's work comes to, as values: each order's outcome, a tick's execution
report, the position (leg) an order of ours reduces, and the order statuses it reads.

Owns the shapes the executor hands on (:class:`OrderOutcome` for the sinks,
:class:`ExecutionReport` for the tick) and the rules read on a journaled order's result: which
statuses are final or still resting at the venue, which answers leave its fate unknown
(:data:`UNCLEAR`), and whether a close ended short of its position (:func:`ended_short`).
Sending and settling orders is :mod:`.executor`'s.

Must not: do I/O or read the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from adapters.base import Reason

from ..book.still_open import StillOpen

# venue answers after which the order's fate is unknown until reconciled; READER_DOWN: the reader
# process that sends the account's orders ended or stalled, perhaps with this one already sent
UNCLEAR = (Reason.TIMEOUT, Reason.EXCHANGE_UNAVAILABLE, Reason.BAD_RESPONSE, Reason.READER_DOWN)
FINAL = ("filled", "canceled", "rejected", "expired", "failed")
RESTING = ("open", "partially_filled")  # the venue keeps working the order: an open remainder
REMAINDER_CANCELED = "REMAINDER_CANCELED"  # journal detail of a remainder we cancelled
REMAINDER_OPEN = "REMAINDER_OPEN"  # why a close waits: an earlier order on its position may still be open
# ... or an earlier order on its position was answered after this tick's snapshots were asked for
# (a send lane beside the tick): the position it was sized on may not show that fill yet
ANSWERED_SINCE_READ = "ANSWERED_SINCE_READ"


@dataclass(frozen=True)
class OrderOutcome:
    """One order as sent, for the sinks: what the venue answered and how long it took."""

    client_order_id: str
    decision_id: str
    venue: str
    account: str
    symbol: str
    side: str
    amount: float
    reduce_only: bool
    status: str  # filled, open, rejected, unknown, … (the journal's status)
    code: Optional[str]  # the reason code of a refusal or an unclear answer
    filled: float
    start_ns: int  # time.time_ns() when sent
    latency_ms: float
    resent: bool = False  # sent again after reconciliation found it never arrived
    # where the venue refused it: its own code and message ("-1106 Parameter 'reduceOnly' sent when
    # not required."), and how a retry fares (adapters.base PERMANENT | TRANSIENT | MODE); the
    # adapter's message where it refused it itself (kind None)
    detail: Optional[str] = None
    refusal: Optional[str] = None
    position_side: Optional[str] = None  # the hedge-mode leg it closes (LONG | SHORT), as planned


@dataclass
class ExecutionReport:
    sent: int = 0
    filled: int = 0
    rejected: list[str] = field(default_factory=list)  # "cid REASON: message"
    unknown: list[str] = field(default_factory=list)  # client ids whose outcome awaits reconciliation
    canceled: int = 0
    # "venue/account REASON: what the venue said: order <id>" of an order a cancel did not take,
    # or "venue/account REASON: message" of a cancel request that failed as a whole
    cancel_failed: list[str] = field(default_factory=list)
    # the orders a cancel meant to take that the venue still lists after it (book.still_open.StillOpen)
    still_open: list[StillOpen] = field(default_factory=list)
    cancels_sent: int = 0  # cancel requests for our own open remainders
    remainders_canceled: int = 0  # of them, confirmed gone (canceled, or filled meanwhile)
    held: list[str] = field(default_factory=list)  # decision ids with a close held back (REMAINDER_OPEN)
    held_orders: list[OrderOutcome] = field(default_factory=list)  # those closes (status "held"), never sent
    dry_run: int = 0
    skipped: int = 0  # already journaled (a restarted runner re-planning a decision)
    unfilled: list[str] = field(default_factory=list)  # decision ids with a close that ended unfilled
    deposed: bool = False  # the lease was lost: nothing more was sent
    orders: list[OrderOutcome] = field(default_factory=list)

    def merge(self, other: "ExecutionReport") -> None:
        self.sent += other.sent
        self.filled += other.filled
        self.rejected += other.rejected
        self.unknown += other.unknown
        self.canceled += other.canceled
        self.cancel_failed += other.cancel_failed
        self.still_open += other.still_open
        self.cancels_sent += other.cancels_sent
        self.remainders_canceled += other.remainders_canceled
        self.held += other.held
        self.held_orders += other.held_orders
        self.dry_run += other.dry_run
        self.skipped += other.skipped
        self.unfilled += other.unfilled
        self.deposed = self.deposed or other.deposed
        self.orders += other.orders


def account_key(venue: str, account: str) -> str:
    return f"{venue}/{account}"


def ended_short(status: Optional[str], filled: float, amount: float, reduce_only: bool) -> bool:
    """A close whose final result leaves its position open: refused or failed, or short of its
    amount (see :func:`filled_short`). What the runner plans again from the positions then."""
    if not reduce_only:
        return False
    return status in ("rejected", "failed") or filled_short(status or "", filled, amount, reduce_only)


def filled_short(status: str, filled: float, amount: float, reduce_only: bool) -> bool:
    """A close that ended without closing all it was meant to: expired or cancelled short of its
    amount, or "filled" by the venue at less than the intent asked (the adapter rounded it down
    to the step: the dust left behind is for the next plan to find, and report)."""
    if not reduce_only or status not in ("expired", "canceled", "filled"):
        return False
    return filled < amount * (1 - 1e-9) - 1e-12
