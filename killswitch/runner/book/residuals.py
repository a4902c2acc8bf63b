"""Residuals: what a close left open that the runner has stopped trying to close, and why.

A stage entry (an *incident*, named by its decision id ``policy/scope/L3/e1``) or a manual
close asks for positions to be closed. What it cannot close becomes a residual, for one of two
reasons, each a reason code with its numbers:

- ``BELOW_MINIMUM``: the position is smaller than the venue takes an order for (less than one
  amount step, or than the minimum amount): the planner sends nothing for it;
- ``CLOSE_RETRIES_EXHAUSTED``: the entry's closes were planned again up to the runner's retry
  budget and the position is still open (a venue that keeps refusing, or a book too thin to
  fill what is left — 40 % of 2 contracts rounds down to nothing on a one-contract step);
- ``CLOSE_REJECTED``: the venue refused the leg's closes up to their bound
  (:mod:`.rejections`); the detail is the venue's own code and message.

A residual is a stored fact: the runner records it from its plans, its journal and the last
good snapshot, saves the book with its state (a restarted runner or a standby shows the same),
audits and announces each new one once (``close_residual``), and keeps its amount as of the
latest good snapshot. It ends when the position is gone (closed by hand, or by the venue) or
when its incident is no longer in force (the stage was reset or entered again, which plans
anew).

Pure data and bookkeeping: no I/O, no clock (times are passed in).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Optional

from .fact_book import FactBook

BELOW_MINIMUM = "BELOW_MINIMUM"
CLOSE_RETRIES_EXHAUSTED = "CLOSE_RETRIES_EXHAUSTED"


@dataclass(frozen=True)
class Residual:
    incident: str  # the stage entry's decision id (no "/r<n>"), or the manual close id
    policy: Optional[str]  # None for a manual close
    scope: str
    level: int  # the stage level (0 for a manual close)
    account: str  # "venue/account"
    symbol: str
    side: str  # long | short: the position left
    position_side: Optional[str]  # LONG | SHORT in hedge mode
    amount: float  # contracts left, as of ``as_of_ms``
    why: str  # BELOW_MINIMUM | CLOSE_RETRIES_EXHAUSTED | CLOSE_REJECTED
    detail: str  # the numbers: "amount=0.0004 step=0.001 min_amount=0.001", "20 re-plans; ..."
    since_ms: int  # when it was recorded
    as_of_ms: int  # the snapshot its amount comes from
    # CLOSE_REJECTED: what the refused close would have closed (a partial reduction's shortfall,
    # less than the leg's ``amount``); None: not known (another reason, or saved before it was)
    shortfall: Optional[float] = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.incident, self.account, self.symbol, self.leg

    @property
    def leg(self) -> str:
        return self.position_side if self.position_side in ("LONG", "SHORT") else self.side

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Residual":
        return cls(**d)


class ResidualBook(FactBook[Residual]):
    """The residuals in force, by (incident, account, symbol, leg)."""

    DOC_KEY = "residuals"
    FACT = Residual

    @staticmethod
    def order(r: Residual) -> tuple[Any, ...]:
        return r.incident, r.account, r.symbol, r.leg

    def record(self, r: Residual) -> bool:
        """Add ``r``; True when it is new (its leg had no residual for that incident). A known
        one keeps its first reason and time, and takes the newer amount."""
        old = self.items.get(r.key)
        if old is None:
            self.items[r.key] = r
            return True
        self.items[r.key] = replace(old, amount=r.amount, as_of_ms=r.as_of_ms)
        return False

    def refresh(self, positions: Callable[[str], Optional[dict]], in_force: Callable[[Residual], bool],
                now_ms: int) -> list[tuple[Residual, str]]:
        """Bring every residual to the latest snapshots and drop the ones that ended.
        ``positions(account)``: (symbol, leg) → contracts of that account's last good snapshot
        (None when it has none: the amount stays as it was). Returns the ended ones with why
        (``POSITION_CLOSED``, ``INCIDENT_ENDED``)."""
        ended = []
        for key, r in list(self.items.items()):
            if not in_force(r):
                ended.append((r, "INCIDENT_ENDED"))
                del self.items[key]
                continue
            book = positions(r.account)
            if book is None:
                continue
            left = book.get((r.symbol, r.leg))
            if not left:
                ended.append((r, "POSITION_CLOSED"))
                del self.items[key]
            elif left != r.amount:
                self.items[key] = replace(r, amount=left, as_of_ms=now_ms)
        return ended
