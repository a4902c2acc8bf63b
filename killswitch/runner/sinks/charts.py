"""The runner's chart history: a sample per policy instance and tick, stored (the chart read back
from them is the readout's, above the runner: :mod:`killswitch.face.readout.charts`).

What it owns: after each tick it leads, one :class:`~killswitch.state.store.SignalSampleRow`
per policy instance its evaluation covered — the instance's equity and its charted signals
(:mod:`killswitch.view.charts`), the very values the triggers compared — written through the store
thread behind the tick's own writes (queued, never awaited: a tick never waits on a chart),
fenced like every leader's write, and samples older than :data:`RETENTION_MS` dropped once a
minute; what such a write raised is taken up by the next tick (:meth:`ChartHistory.failed`),
counted by reason in ``killswitch_chart_sample_failures_total{reason}`` (``fenced``,
``store_error``, ``error``), and one that is not the store's (a bug) said in the log as a
``CHART_SAMPLE_FAILED`` WARNING, at most once a minute with the count since the last line.

Must not: write as a standby (it evaluates nothing: what it would store is not a fact), change
the book, or hold a tick up.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from ...engine.evaluate import Evaluation
from ...metrics import Registry
from ...state.store import FencedError, SignalSampleRow, StateStore, StoreError
from ...view.charts import sample_of
from ..book.view import BookView
from ..collaborators import Audits
from ..storeio import StoreIO

HOUR_MS = 3_600_000
RETENTION_MS = 12 * HOUR_MS  # samples kept; the longest window a chart shows
TRIM_EVERY_MS = 60_000
LOG_EVERY_MS = 60_000  # a failing sample write is said at most once a minute (a tick writes one)
REASONS = ("fenced", "store_error", "error")

log = logging.getLogger("killswitch.runner.charts")


class ChartHistory:
    """See the module doc. ``fence``: the token to write under (None: not leading)."""

    def __init__(self, book: BookView, store: StateStore, io: StoreIO, *, clock: Callable[[], int],
                 lead: Audits):
        self.book = book
        self.store = store
        self.io = io
        self.clock = clock
        self.lead = lead  # its sample writes go under the leader's token (none: as a standby)
        self._trimmed_ms: Optional[int] = None
        # _done runs on the store thread (or on the loop, if the write ended before it was
        # added), failed() on the loop: what is held and counted changes under this lock
        self._lock = threading.Lock()
        self._failed: Optional[BaseException] = None  # what a sample write raised, for the next tick
        self.failures = dict.fromkeys(REASONS, 0)  # sample writes that failed, by reason (the ticks went on)
        self._said_ms: Optional[int] = None  # when CHART_SAMPLE_FAILED was last said
        self._unsaid = 0  # writes failed (not the store's) since

    def record(self, ev: Evaluation) -> None:
        """Queue this tick's samples (a leader's evaluation of the graph running)."""
        fence = self.lead.fence if self.lead.leader else None
        if fence is None or ev.digest != self.book.graph.digest:
            return
        rows = [SignalSampleRow(se.policy, se.scope, ev.now_ms, sample_of(se, node)) for se in ev.scopes
                if (node := self.book.node(se.policy)) is not None]
        keep_from = None
        if self._trimmed_ms is None or ev.now_ms - self._trimmed_ms >= TRIM_EVERY_MS:
            keep_from, self._trimmed_ms = ev.now_ms - RETENTION_MS, ev.now_ms
        if rows or keep_from is not None:
            self.io.submit(self.store.save_signal_samples, rows, fence, keep_from=keep_from) \
                .add_done_callback(self._done)

    def _done(self, future: Any) -> None:
        """(On the store thread.) Count what a write raised, say a bug, and keep the gravest
        failure for the loop to take up: :meth:`failed`."""
        error = future.exception()
        if error is None:
            return
        reason = _reason(error)
        with self._lock:
            if reason is not None:
                self.failures[reason] += 1
            if self._failed is None or _gravity(error) >= _gravity(self._failed):
                self._failed = error  # (a process dying in one write is not hidden by a later refusal)
            if reason != "error":
                return
            self._unsaid += 1
            now = self.clock()
            if self._said_ms is not None and now - self._said_ms < LOG_EVERY_MS:
                return
            self._said_ms, since, self._unsaid = now, self._unsaid, 0
        log.warning("CHART_SAMPLE_FAILED: a chart sample write raised %s: %s; the ticks go on and the charts "
                    "miss these samples (%d failed since the last line; said at most once a minute)",
                    type(error).__name__, error, since, exc_info=error)

    def failed(self) -> Optional[BaseException]:
        """What the sample writes raised since the last call (the gravest, the latest of those),
        taken once: the runner treats it as any store call outside a tick that failed (a fenced
        write: another runner leads; a store error: act again only from the store's state), so
        that a failing store is counted and said whichever call it failed, and a process dying
        in that write (anything not an ``Exception``) dies rather than being held in a future
        nobody reads. A write that ended after the loop last asked is taken at the next call."""
        with self._lock:
            error, self._failed = self._failed, None
        return error

    def collect_metrics(self, registry: Registry) -> None:
        """``killswitch_chart_sample_failures_total{reason}``, every reason at 0 until it counts."""
        with self._lock:
            counts = dict(self.failures)
        family = registry.sampled("killswitch_chart_sample_failures_total", "counter",
                                  "Chart sample writes that failed, by reason: fenced (another runner leads), "
                                  "store_error (also a store failure), error (not the store's: said in the log as "
                                  "CHART_SAMPLE_FAILED). The ticks went on; the charts miss those samples.",
                                  ("reason",))
        for reason in REASONS:
            family.add(counts[reason], reason=reason)


def _reason(error: BaseException) -> Optional[str]:
    """The metric's reason for what a write raised; None for a process dying (not counted: it dies)."""
    if isinstance(error, FencedError):
        return "fenced"
    if isinstance(error, StoreError):
        return "store_error"
    return "error" if isinstance(error, Exception) else None


def _gravity(error: BaseException) -> int:
    """Which of two failures the next tick takes up: a process dying, then a fenced write (the
    runner a standby), then a store error (the state read back), then a bug (counted, said)."""
    if not isinstance(error, Exception):
        return 3
    return 2 if isinstance(error, FencedError) else 1 if isinstance(error, StoreError) else 0
