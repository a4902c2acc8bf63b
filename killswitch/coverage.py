"""Which accounts a preview read: for every account, the snapshots tried and the ones that could
not be read, with their reason codes and the last message.

A preview (``ksctl plan``, ``ksctl replay``) that could not read an account does not know what
the policies would do there; it says so with these values instead of passing for "nothing to
do". A failed snapshot is one with ``fetch.ok`` false: an adapter's (wrong credential, venue down
or slow) or one recorded so. Messages are the adapters' own, which scrub secrets.

What it owns: :class:`AccountCoverage` and :class:`CoverageTally`, which counts them.
What it must not do: fetch, print, read a clock or choose exit codes. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from .snapshot import Snapshot

# Account statuses: every snapshot read, some read, none read.
EVALUATED = "evaluated"
PARTLY_READ = "partly_read"
NOT_READ = "not_read"

# The reason code of a failed snapshot that does not say why (a recording written without one).
UNKNOWN_REASON = "UNKNOWN"


@dataclass(frozen=True)
class AccountCoverage:
    """What a preview saw of one account: ``snapshots`` tried (live: one; a recording: the ticks
    the account appears in), ``failed`` of them not read, the distinct reason codes of those
    failures in the order they first came, the last failure's message, and the tick times (UTC
    ms) of the first and last failure."""

    venue: str
    account: str
    snapshots: int = 0
    failed: int = 0
    reasons: tuple[str, ...] = ()
    message: Optional[str] = None
    first_failed_ms: Optional[int] = None
    last_failed_ms: Optional[int] = None

    @property
    def key(self) -> str:
        return f"{self.venue}/{self.account}"

    @property
    def read(self) -> int:
        return self.snapshots - self.failed

    @property
    def reason(self) -> Optional[str]:
        """The reason code of the last failure (None when every snapshot was read)."""
        return self.reasons[-1] if self.reasons else None

    @property
    def status(self) -> str:
        if self.failed == 0:
            return EVALUATED
        return NOT_READ if self.read == 0 else PARTLY_READ


def complete(accounts: Iterable[AccountCoverage]) -> bool:
    """Every snapshot of every account was read."""
    return all(a.failed == 0 for a in accounts)


class CoverageTally:
    """Counts, account by account, the snapshots a preview tried and the ones it could not read.
    Counters are kept mutable (a long recording is counted snapshot by snapshot); :meth:`accounts`
    hands out frozen values."""

    def __init__(self) -> None:
        # (venue, account) → [snapshots, failed, reasons, message, first_failed_ms, last_failed_ms]
        self._by_key: dict[tuple[str, str], list] = {}

    def saw(self, snap: Snapshot, now_ms: int) -> None:
        """One snapshot of an account, read or failed (``fetch.ok``), at tick time ``now_ms``."""
        c = self._by_key.get((snap.venue, snap.account))
        if c is None:
            c = self._by_key[(snap.venue, snap.account)] = [0, 0, [], None, None, None]
        c[0] += 1
        if snap.fetch.ok:
            return
        reason = snap.fetch.error_code or UNKNOWN_REASON
        c[1] += 1
        if reason not in c[2]:
            c[2].append(reason)
        if snap.fetch.error is not None:
            c[3] = snap.fetch.error
        if c[4] is None:
            c[4] = now_ms
        c[5] = now_ms

    def accounts(self) -> tuple[AccountCoverage, ...]:
        """Every account seen, by venue then account name."""
        return tuple(AccountCoverage(v, a, c[0], c[1], tuple(c[2]), c[3], c[4], c[5])
                     for (v, a), c in sorted(self._by_key.items()))
