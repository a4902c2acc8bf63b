"""The runner's sinks: every tick report and event handed to each, and no sink able to break a tick.

What it owns: the sinks in their order (telemetry, notifications, runbooks, the audit anchor:
see :mod:`killswitch.process.bootstrap`), each given the narrow
:class:`~killswitch.runner.sinks.context.RunnerSinkContext`, never the runner; a sink's failure
counted, logged by its type (an error: stderr under ``ksctl run``) and audited through the runner's
fenced audit (queued on the store thread, not awaited: a sink is called from sync code and the store
may be what failed); and the optional abilities a sink declares (:mod:`killswitch.events`): the
state it keeps across restarts and takeovers, its metrics, closing it.

Must not: let a sink's exception reach the tick, or hand a sink anything that changes the book.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Protocol, Sequence

from ...events import (
    CollectingSink,
    Event,
    HoldingSink,
    PagingSink,
    ReportingSink,
    RestoringSink,
    Sink,
    SinkContext,
    StatefulSink,
    TickFacts,
)

if TYPE_CHECKING:
    from ...metrics import Registry

log = logging.getLogger("killswitch.runner.sinks")


class FailureAudit(Protocol):
    """Where a sink's failure is audited: :meth:`~killswitch.runner.lease.leadership.Leadership.audit_later`
    (fenced, queued on the store thread, not awaited)."""

    def audit_later(self, kind: str, ts_ms: int, payload: dict) -> None: ...


class SinkFanout:
    def __init__(self, sinks: Sequence[Sink], context: SinkContext, audit: FailureAudit, clock: Callable[[], int]):
        self.sinks: list[Sink] = list(sinks)
        self.context = context
        self.audit = audit
        self.clock = clock
        self.errors = 0

    def emit(self, event: Event) -> None:
        """An event outside a tick (a reset, a manual close, a failed reload) to every sink."""
        for sink in self.sinks:
            self._guard(sink, sink.on_event, event)

    def report(self, report: TickFacts, events: Sequence[Event]) -> None:
        """A tick's report, then its events, to each sink in turn (a sink whose ``on_tick``
        failed is not handed the events)."""
        for sink in self.sinks:
            if self._guard(sink, sink.on_tick, report):
                for e in events:
                    self._guard(sink, sink.on_event, e)

    def _guard(self, sink: Sink, fn: Callable[[Any, SinkContext], None], arg: Any) -> bool:
        try:
            fn(arg, self.context)
            return True
        except Exception as e:  # noqa: BLE001 - a sink never breaks the kill switch
            self.errors += 1
            log.error("killswitch: sink %r failed: %s: %s", getattr(sink, "name", sink), type(e).__name__, e)
            self.audit.audit_later("sink_failed", self.clock(),
                                   {"sink": str(getattr(sink, "name", "?")), "error": type(e).__name__})
            return False

    def holds(self, event: Event) -> bool:
        """Whether every sink whose effect of ``event`` must survive a crash holds it now (a sink
        that cannot answer does not)."""
        for sink in self.sinks:
            if isinstance(sink, HoldingSink):
                try:
                    if not sink.holds(event):
                        return False
                except Exception:  # noqa: BLE001 - unknown is not held: the event stays owed
                    self.errors += 1
                    return False
        return True

    def states(self) -> dict:
        """What sinks keep across restarts and takeovers (the notification groups and timers)."""
        out = {}
        for sink in self.sinks:
            if isinstance(sink, StatefulSink):
                try:
                    out[sink.name] = sink.state_doc()
                except Exception:  # noqa: BLE001 - a sink's bug must not stop the save of the stage
                    self.errors += 1
        return out

    def restore(self, doc: Optional[dict]) -> None:
        saved = (doc or {}).get("sinks") or {}
        for sink in self.sinks:
            if isinstance(sink, RestoringSink):
                try:
                    sink.restore_state(saved.get(sink.name), self.context)
                except Exception:  # noqa: BLE001 - a sink's bug must not keep the runner from leading
                    self.errors += 1

    def collect_metrics(self, registry: "Registry") -> None:
        """Every sink's families into the scrape's registry, in the sinks' order."""
        for sink in self.sinks:
            try:
                if isinstance(sink, CollectingSink):
                    sink.collect_metrics(registry)
            except Exception:  # noqa: BLE001 - a broken sink's metrics are left out, not the page
                self.errors += 1

    def status_fields(self) -> dict:
        """What the sinks add to the runner's status (see :class:`~killswitch.events.ReportingSink`),
        merged in the sinks' order."""
        out: dict = {}
        for sink in self.sinks:
            try:
                if isinstance(sink, ReportingSink):
                    out.update(sink.status_fields())
            except Exception:  # noqa: BLE001 - a broken sink's fields are left out, not the status
                self.errors += 1
        return out

    def pages_in_force(self) -> list[tuple[Mapping[str, str], str]]:
        """The pages the sinks hold in force (see :class:`~killswitch.events.PagingSink`): labels
        and receiver of each."""
        out: list[tuple[Mapping[str, str], str]] = []
        for sink in self.sinks:
            try:
                if isinstance(sink, PagingSink):
                    out += sink.pages_in_force()
            except Exception:  # noqa: BLE001 - a broken sink's pages are left out of a preview
                self.errors += 1
        return out

    async def aclose(self) -> None:
        for sink in self.sinks:
            try:
                await sink.aclose()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
