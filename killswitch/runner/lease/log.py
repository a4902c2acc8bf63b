"""What this runner says of its hold on the lease: every change said once in the log, and counted.

What it owns: the log lines of the lease changing hands as this runner sees it, each said once
per fencing token — taken (``lease acquired``, or ``lease taken over from X`` when another
holder's term had run out), ``lease held again`` (a renewal confirmed after its term had been
given up), ``lease lost`` (the term ran out unrenewed, another runner took it, or a write under
it was fenced off) and ``lease released`` (a clean stop) — and the families ``/metrics`` shows of
it: ``killswitch_lease_acquired_total``, ``killswitch_lease_lost_total`` and
``killswitch_lease_fence``. The runner's side says the same things its standby's does, so a
takeover reads in both logs: ``lease lost: …`` on the old leader, ``lease taken over from …`` on
the new one, each with the holder and the token.

Without a lease thread (the demo, tests) the tick renews the lease, and a gap between ticks
longer than the TTL lets this runner's own lease run out unseen: the token it takes next says
it (``lease acquired again, token N (…; its own term, token M, had run out)``), counted as a loss
and an acquisition. With the lease thread the term watch says a lapse as it happens.

Thread-safe: the lease thread, its term watch and the runner's loop all report here, and
whichever sees a change first says it; the others' reports of the same change find it said and
say nothing (``lost(5)`` once token 5 is no longer held, ``took(6)`` once 6 is).

Must not: decide anything (the lease keeper and the leadership decide; this says and counts), or
put a store's message in a line (a store error may name a host: its class name at most).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ...metrics import Registry

log = logging.getLogger("killswitch.runner.lease")  # the name log lines and their queries know it by


class LeaseLog:
    """The lease changes of ``holder``, said and counted; see the module doc."""

    def __init__(self, holder: str):
        self.holder = holder
        self._lock = threading.Lock()
        self._held: Optional[int] = None  # the token this runner holds as last said; None: none
        self.fence = 0  # the last token this runner held (0: never held one)
        self.acquired_total = 0  # tokens taken (a new token each time: from a free lease, over, or again)
        self.lost_total = 0  # tokens lost while held (term ran out, taken, fenced off)
        self.released_total = 0
        # tokens lost as said (token, reason), for the runner to audit (``lease_lost``) at its next
        # look at the lease: said here from whichever thread learnt it, written once each
        self.lost_unaudited: list[tuple[int, str]] = []

    def held(self) -> Optional[int]:
        """The token this runner holds as last said (None: it holds none)."""
        with self._lock:
            return self._held

    def took(self, token: int, *, previous: Optional[str] = None, ended_ms_ago: Optional[int] = None,
             late: str = "") -> bool:
        """This runner holds ``token`` now. ``previous``: the holder the lease named before (None:
        free, or not known), whose term ended ``ended_ms_ago``; ``late``: what kept this runner
        from taking it sooner, if anything did. Says whether this was news."""
        with self._lock:
            if self._held == token:
                return False
            lapsed, again = self._held, token == self.fence
            self._held = token
            self.fence = max(self.fence, token)
            if not again:
                self.acquired_total += 1
            if lapsed is not None:
                self.lost_total += 1
        if again:
            # the same token: the store renewed it before anyone else could take it, but the
            # answer came after this runner had given its term up
            log.info("lease held again: a renewal was confirmed after its term had been given up "
                     "(holder %s, token %d); leading again", self.holder, token)
        elif previous is not None and previous != self.holder:
            ago = f"; its term ended {ended_ms_ago / 1000:.1f}s ago" if ended_ms_ago is not None else ""
            ago += f"; {late}" if late else ""
            log.info("lease taken over from %s, token %d (holder %s%s)", previous, token, self.holder, ago)
        elif previous == self.holder or lapsed is not None:
            # (a lapse nobody said as it happened: without a lease thread the tick renews the
            # lease, and a gap between ticks longer than the TTL lets it run out; counted above)
            was = f", token {lapsed}" if lapsed is not None else ""
            log.info("lease acquired again, token %d (holder %s; its own term%s had run out)", token, self.holder,
                     was)
        else:
            log.info("lease acquired, token %d (holder %s; the lease was free)", token, self.holder)
        return True

    def lost(self, token: Optional[int], reason: str) -> bool:
        """This runner no longer holds ``token`` (``reason``: why, in words an on-call engineer
        reads). Said and counted once, and only if this runner held it. Says whether it was news."""
        with self._lock:
            if token is None or self._held != token:
                return False
            self._held = None
            self.lost_total += 1
            self.lost_unaudited.append((token, reason))
        log.warning("lease lost: %s (holder %s, token %d); this runner stands by and sends nothing",
                    reason, self.holder, token)
        return True

    def take_lost(self) -> list[tuple[int, str]]:
        """The tokens lost since the last call, each once (``lease_lost`` rows to write)."""
        with self._lock:
            lost, self.lost_unaudited = self.lost_unaudited, []
        return lost

    def released(self, token: int) -> None:
        """This runner gave ``token`` up (a clean stop): a standby may take it at once."""
        with self._lock:
            if self._held != token:
                return
            self._held = None
            self.released_total += 1
        log.info("lease released (holder %s, token %d): stopped cleanly, a standby takes it at its next look",
                 self.holder, token)

    def collect_metrics(self, registry: "Registry") -> None:
        """The lease's families, exported from the start (at 0: a standby's first takeover is
        then an increase Prometheus sees, not the first sample of a new series)."""
        with self._lock:
            acquired, lost, fence = self.acquired_total, self.lost_total, self.fence
        registry.sampled("killswitch_lease_acquired_total", "counter",
                         "Times this runner took the lease under a new fencing token (a free lease, one taken "
                         "over from another holder, or its own again after its term ran out).").add(acquired)
        registry.sampled("killswitch_lease_lost_total", "counter",
                         "Times this runner lost the lease it held: its term ran out unrenewed, another runner "
                         "took it, or a write under it was fenced off.").add(lost)
        registry.sampled("killswitch_lease_fence", "gauge",
                         "Fencing token of the lease this runner holds or last held (0: never held).").add(fence)
