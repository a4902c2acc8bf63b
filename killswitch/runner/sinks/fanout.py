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

    def _each(self, kind: Any, call: Callable[[Any], Any]) -> list[tuple[Any, Any]]:
        """``call`` on every sink that declares ``kind`` (an ability of :mod:`killswitch.events`),
        in the sinks' order: each one's answer beside it. One that raises is counted and left out:
        a sink's bug must not stop the save of a stage, keep the runner from leading, or take a
        page, the status or a preview with it."""
        out = []
        for sink in self.sinks:
            try:
                if isinstance(sink, kind):
                    out.append((sink, call(sink)))
            except Exception:  # noqa: BLE001 - see above
                self.errors += 1
        return out

    def states(self) -> dict:
        """What sinks keep across restarts and takeovers (the notification groups and timers)."""
        return {sink.name: doc for sink, doc in self._each(StatefulSink, lambda s: s.state_doc())}

    def restore(self, doc: Optional[dict]) -> None:
        saved = (doc or {}).get("sinks") or {}
        self._each(RestoringSink, lambda s: s.restore_state(saved.get(s.name), self.context))

    def collect_metrics(self, registry: "Registry") -> None:
        """Every sink's families into the scrape's registry, in the sinks' order."""
        self._each(CollectingSink, lambda s: s.collect_metrics(registry))

    def status_fields(self) -> dict:
        """What the sinks add to the runner's status (see :class:`~killswitch.events.ReportingSink`),
        merged in the sinks' order."""
        return {k: v for _, fields in self._each(ReportingSink, lambda s: s.status_fields()) for k, v in fields.items()}

    def pages_in_force(self) -> list[tuple[Mapping[str, str], str]]:
        """The pages the sinks hold in force (see :class:`~killswitch.events.PagingSink`): labels
        and receiver of each."""
        return [page for _, pages in self._each(PagingSink, lambda s: s.pages_in_force()) for page in pages]

    async def aclose(self) -> None:
        for sink in self.sinks:
            try:
                await sink.aclose()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
