"""What the lease thread counts of its attempts, and what the counts say.

What it owns: :class:`LeaseCounts`, the keeper's counters (renewals, failures, attempts skipped
because the runner's loop was silent, changes of the token held), the class of the last store
error, the families ``/metrics`` shows of them, and the words a late takeover adds: the attempts
since the standby last saw another runner's lease in force that did not look or failed.

Must not: call the store, read a clock, or hold a store error's message (it may name a host):
only its class name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ...metrics import Registry

KEEPER_ERROR = "an error in the keeper"  # a failure that was no store error (a bug: it is logged)


class LeaseCounts:
    """The lease thread's counters; see the module doc."""

    def __init__(self) -> None:
        self.renewals = 0
        self.failures = 0
        self.stalls = 0  # attempts skipped because the loop showed no life for a term
        self.changes = 0  # times the token held changed (taken, lost, taken again)
        self.last_error: Optional[str] = None  # the class of the last store error, until a renewal
        self._failed_with = KEEPER_ERROR  # the class of the last failure, kept past a success
        self._seen = (0, 0)  # (stalls, failures) when another runner's lease was last seen in force

    def renewed(self) -> None:
        self.renewals += 1
        self.last_error = None

    def failed(self, error: Optional[str] = None) -> None:
        """An attempt failed: the store's error class, or None for an error of the keeper's own."""
        self.failures += 1
        self._failed_with = error or KEEPER_ERROR
        if error is not None:
            self.last_error = error

    def stalled(self) -> None:
        self.stalls += 1

    def changed(self) -> None:
        """The token held changed: taken, lost, or taken again."""
        self.changes += 1

    def saw_leader(self) -> None:
        """This standby saw another runner's lease in force: a takeover counts from here."""
        self._seen = (self.stalls, self.failures)

    def why_late(self) -> str:
        """What kept this standby from taking a lapsed lease at once: the attempts since it last
        saw another runner's lease in force that did not look (its loop or store calls silent
        for a term) or failed; empty when none."""
        skipped, failed = self.stalls - self._seen[0], self.failures - self._seen[1]
        out = []
        if skipped:
            out.append(f"{skipped} attempt(s) skipped while this runner's loop or its store calls showed no life")
        if failed:
            out.append(f"{failed} failed (last: {self._failed_with})")
        return "; ".join(out)

    def collect_metrics(self, registry: "Registry", silent_ms: float) -> None:
        """The counters, and how long the loop has been silent, as families of the scrape's registry."""
        registry.sampled("killswitch_lease_renewals_total", "counter",
                         "Lease renewals by the lease thread.").add(self.renewals)
        registry.sampled("killswitch_lease_renew_failures_total", "counter",
                         "Lease renewals that failed (store unreachable or lease taken).").add(self.failures)
        registry.sampled("killswitch_lease_loop_stalls_total", "counter",
                         "Renewals skipped because the runner's loop showed no life for a term.").add(self.stalls)
        registry.sampled("killswitch_loop_silent_seconds", "gauge",
                         "Seconds since the runner's loop last showed life.").add(round(silent_ms / 1000, 3))
