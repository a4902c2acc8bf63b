"""The telemetry sink: every tick as a span tree, and the metrics the runner does not count itself.

After each tick the sink writes the tick's spans *retroactively*, with the start and end times
the runner measured: nothing is traced while the tick runs. ``on_tick`` itself only counts the
metrics and hands the report to the sink's own thread, through a bounded queue (``MAX_PENDING``
reports and spans; full: the item is dropped and counted), which builds the spans — a flatten
of a thousand orders costs that thread tens of milliseconds of SDK work, and the tick none of
it. The span tree of one tick (tick → phases → scope decisions → orders), and how a reported
span joins it, are :mod:`.spans`'. Events outside a tick (a reset, a manual close, a failed
reload) are ``killswitch.event`` spans.

Other sinks report what they did through this sink (find it with
:func:`killswitch.telemetry.find`): :meth:`TelemetrySink.record_notification`,
:meth:`TelemetrySink.record_runbook_render`, or the generic :meth:`TelemetrySink.record_span`.
Such a span joins the trace of the decision that opened the incident while that decision is
still known (see :mod:`.spans`). All three are thread-safe and go through the same queue
as the ticks, so a notification reported after its tick always finds its decision.

Metrics (``metrics_text``) complement the runner's own lines (ticks, leader, orders by result,
snapshot failures, stage per scope, data age per account, and the lease's, which the runner
counts as they happen rather than at the next tick), never repeat their names:
``killswitch_tick_duration_seconds`` and ``killswitch_tick_phase_duration_seconds{phase}``
(histograms), ``killswitch_last_tick_timestamp_seconds``,
``killswitch_stage_transitions_total{policy,scope,from,to}``,
``killswitch_order_latency_seconds{venue}``, ``killswitch_events_total{kind,severity}``,
``killswitch_notification_latency_seconds{receiver}``, ``killswitch_trace_spans_total{result}`` and
``killswitch_trace_dropped_total{reason}``.

What it must not do: block (export runs on the processor's thread, see :mod:`.export`), raise
into the tick for a malformed report, or put a secret in a span — no URL, header, token or
credential; :meth:`TelemetrySink.record_span` drops attribute keys that name one (``attributes.is_secret_key``).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from opentelemetry.trace import SpanKind

from ..metrics import TICK_BUCKETS, Registry
from . import attributes as A
from .export import (
    MAX_QUEUE_SIZE,
    CountingExporter,
    ExportConfig,
    config_from_env,
    otlp_exporter,
    package_version,
    provider,
    warn,
)
from .spans import MAX_SCOPE_SPANS, RunnerView, TickSpans, event_attributes

if TYPE_CHECKING:  # pragma: no cover
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import SpanExporter

    from ..events import Event, SinkContext, TickFacts
    from . import HasSinks

MAX_PENDING = 256  # tick reports and reported spans waiting for the sink's thread


class TelemetrySink:
    """Traces and metrics of the runner (a :class:`killswitch.events.Sink`).

    ``exporter``: where spans go (None: spans are not made at all; metrics still are).
    ``synchronous``: build and export the spans in the caller's thread, as ``on_tick`` and
    ``record_*`` are called — for in-memory exporters in tests. Otherwise spans are built on
    the sink's thread and exported through the bounded batch queue of ``max_queue_size`` spans
    (full: the oldest span is dropped); the tick never waits on either.

    The spans of each tick and of what other sinks report are :class:`.spans.TickSpans`'s
    (:attr:`spans`), built on the sink's thread; the exporter setup (:mod:`.export`) and the
    attribute names (:mod:`.attributes`) live apart.
    """

    name = "telemetry"

    def __init__(self, exporter: Optional["SpanExporter"] = None, *, synchronous: bool = False,
                 resource: Optional["Resource"] = None, config: Optional[ExportConfig] = None,
                 max_scope_spans: int = MAX_SCOPE_SPANS, max_queue_size: int = MAX_QUEUE_SIZE):
        self.config = config
        self.exporter = CountingExporter(exporter) if exporter is not None else None
        self.provider, self.processor = provider(self.exporter, synchronous=synchronous, res=resource,
                                                 max_queue_size=max_queue_size)
        self.tracer = self.provider.get_tracer(A.TRACER_NAME, package_version())
        self.tracing = self.exporter is not None
        self.spans = TickSpans(self.tracer, max_scope_spans)
        self._lock = threading.Lock()
        self._worker = _Worker(self._worker_failed) if self.tracing and not synchronous else None
        self._tick_events: list = []
        self._closed = False
        self._seen_exported = self._seen_failed = 0

        r = self.registry = Registry()
        self.tick_duration = r.histogram("killswitch_tick_duration_seconds",
                                         "Wall-clock duration of a tick, lease to reconcile.", (), TICK_BUCKETS)
        self.phase_duration = r.histogram("killswitch_tick_phase_duration_seconds",
                                          "Wall-clock duration of each phase of a tick.", ("phase",), TICK_BUCKETS)
        self.last_tick = r.gauge("killswitch_last_tick_timestamp_seconds",
                                 "Unix time at which the last tick ended (wall clock).")
        self.transitions = r.counter("killswitch_stage_transitions_total",
                                     "Stage transitions (entries, re-entries, resets) per policy and scope.",
                                     ("policy", "scope", "from", "to"))
        self.order_latency = r.histogram("killswitch_order_latency_seconds",
                                         "Time from sending an order to the venue's answer.", ("venue",))
        self.events = r.counter("killswitch_events_total", "Events handed to the sinks, by kind and severity.",
                                ("kind", "severity"))
        # Delivery and render counts belong to the notify and runbook sinks' own metrics (they count
        # without telemetry too); here only the latency and the spans.
        self.notification_latency = r.histogram("killswitch_notification_latency_seconds",
                                                "Duration of a notification delivery attempt.", ("receiver",))
        self.trace_spans = r.counter("killswitch_trace_spans_total",
                                     "Spans handed to the trace exporter, by outcome (exported, failed).", ("result",))
        self.trace_dropped = r.counter("killswitch_trace_dropped_total",
                                       "Ticks and reported spans not traced: the telemetry queue was full, or "
                                       "building their spans failed.", ("reason",))

    @classmethod
    def from_env(cls, **kw: Any) -> "TelemetrySink":
        """The sink as the standard OpenTelemetry environment configures it (see :mod:`.export`)."""
        config = config_from_env()
        try:
            exporter = otlp_exporter(config)
        except Exception as e:  # noqa: BLE001 - a bad trace setting must not stop the kill switch
            warn(f"traces not exported: {type(e).__name__}")
            exporter, config = None, ExportConfig(None, config.timeout_s, f"exporter failed: {type(e).__name__}")
        return cls(exporter, config=config, **kw)

    def describe(self) -> str:
        """One line for the daemon's start-up message; names no credential."""
        if self.config is not None:
            return self.config.describe()
        return "traces: exported to an injected exporter" if self.tracing else "traces: not exported"

    # --- the Sink protocol -----------------------------------------------------------------------

    def on_tick(self, report: "TickFacts", ctx: "SinkContext") -> None:
        self._tick_events = list(report.events)
        self._count(report)
        if self.tracing and not self._closed:
            # what the spans need of the runner, as it is now (a reload may swap the graph)
            self._submit(self.spans.tick, report, RunnerView(ctx.graph, ctx.holder, ctx.dry_run))

    def on_event(self, event: "Event", ctx: "SinkContext") -> None:
        self.events.inc(kind=event.kind, severity=event.labels.get("severity", "warning"))
        if any(event is e for e in self._tick_events):
            return  # already a span event of its tick's root
        if self.tracing and not self._closed:
            now = time.time_ns()
            attrs = event_attributes(event)
            incident = event.data.get("incident") if isinstance(event.data.get("incident"), str) else None
            self.record_span(A.SPAN_EVENT, now, now, attrs, incident=incident)

    def collect_metrics(self, registry: Registry) -> None:
        """This sink's registry, included in the scrape's (one name space for ``/metrics``)."""
        self._count_spans()
        registry.include(self.registry)

    def metrics_text(self) -> str:
        """This sink's families alone (``/metrics`` takes them through :meth:`collect_metrics`)."""
        self._count_spans()
        return self.registry.render()

    def _count_spans(self) -> None:
        if self.exporter is not None:
            exported, failed = self.exporter.counts()
            with self._lock:
                d_ok, d_bad = exported - self._seen_exported, failed - self._seen_failed
                self._seen_exported, self._seen_failed = exported, failed
            if d_ok:
                self.trace_spans.inc(d_ok, result="exported")
            if d_bad:
                self.trace_spans.inc(d_bad, result="failed")

    async def aclose(self, timeout_s: float = 2.0) -> None:
        """Flush what the collector takes within ``timeout_s``, then stop. The shutdown runs on a
        daemon thread: a hanging collector costs this call ``timeout_s``, never more, and leaves
        nothing the interpreter waits for at exit."""
        if self._closed:
            return
        self._closed = True
        done = threading.Event()
        worker = self._worker

        def stop_then_shutdown() -> None:  # the spans of the last ticks first, then the exporter's queue
            try:
                if worker is not None:
                    worker.stop(timeout_s)
                self.provider.shutdown()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
            finally:
                done.set()

        end = time.monotonic() + timeout_s
        threading.Thread(target=stop_then_shutdown, name="killswitch-telemetry-shutdown", daemon=True).start()
        while not done.is_set() and time.monotonic() < end:
            await asyncio.sleep(0.01)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Build the spans of everything queued, then export them (blocking, in the caller's
        thread: for tests and tools, not for the tick's path)."""
        if self._worker is not None and not self._worker.drain(timeout_s):
            return False
        return bool(self.provider.force_flush(int(timeout_s * 1000)))

    def _submit(self, fn: Callable, *args: Any) -> None:
        if self._worker is None:
            fn(*args)
        elif not self._worker.submit(fn, args):
            self.trace_dropped.inc(reason="queue_full")

    def _worker_failed(self, error: BaseException) -> None:
        self.trace_dropped.inc(reason="error")

    # --- what other sinks report ---------------------------------------------------------------------

    def record_span(self, name: str, start_ns: int, end_ns: int, attributes: Optional[Mapping[str, Any]] = None, *,
                    incident: Optional[str] = None, error: Optional[str] = None,
                    kind: SpanKind = SpanKind.INTERNAL) -> None:
        """A finished span, with the times the caller measured (``time.time_ns()``).

        ``incident``: the decision id that opened the incident; the span becomes a child of its
        ``killswitch.decision`` span when that is still known. ``error``: a reason code; the span
        gets an error status and ``error.type``. Attribute keys that name a secret (``…url``,
        ``…token``, ``…headers``…) are dropped; values must not carry one either.
        """
        if not self.tracing or self._closed:
            return
        attrs = {k: v for k, v in (attributes or {}).items() if v is not None and not A.is_secret_key(k)}
        self._submit(self.spans.span, name, start_ns, end_ns, attrs, incident, error, kind)

    def record_notification(self, receiver: str, ok: bool, start_ns: int, end_ns: int, *,
                            incident: Optional[str] = None, reason: Optional[str] = None, attempt: int = 1,
                            event_kind: Optional[str] = None) -> None:
        """One delivery attempt to a receiver (its route name, never its URL): its latency in
        ``killswitch_notification_latency_seconds`` and a span (the notify sink counts deliveries)."""
        self.notification_latency.observe(max(end_ns - start_ns, 0) / 1e9, receiver=receiver)
        self.record_span(A.SPAN_NOTIFICATION, start_ns, end_ns, {
            A.NOTIFICATION_RECEIVER: receiver, A.NOTIFICATION_RESULT: "delivered" if ok else "failed",
            A.NOTIFICATION_ATTEMPT: attempt, A.EVENT_KIND: event_kind,
        }, incident=incident, error=None if ok else (reason or "UNKNOWN"), kind=SpanKind.CLIENT)

    def record_runbook_render(self, incident: Optional[str], start_ns: int, end_ns: int, *, template: str,
                              format: str = "markdown", ok: bool = True, reason: Optional[str] = None) -> None:
        """One runbook render (``format``: markdown, html): a span (the runbook sink counts renders)."""
        self.record_span(A.SPAN_RUNBOOK, start_ns, end_ns, {
            A.RUNBOOK_TEMPLATE: template, A.RUNBOOK_FORMAT: format,
            A.RUNBOOK_RESULT: "rendered" if ok else "failed",
        }, incident=incident, error=None if ok else (reason or "RENDER_FAILED"))

    # --- metrics of a tick -------------------------------------------------------------------------------

    def _count(self, report: "TickFacts") -> None:
        if report.ended_ns and report.started_ns:
            self.tick_duration.observe(max(report.ended_ns - report.started_ns, 0) / 1e9)
            self.last_tick.set(report.ended_ns / 1e9)
        for phase, (a, b) in report.phases.items():
            self.phase_duration.observe(max(b - a, 0) / 1e9, phase=phase)
        for s in report.transitions:
            t = s.transition
            # the amount given: "from" is a keyword, so those labels come as a dict, which could fill it
            self.transitions.inc(1, policy=s.policy, scope=s.scope,
                                 **{"from": str(t.from_level), "to": str(t.to_level)})
        for o in report.execution.orders:
            self.order_latency.observe(max(o.latency_ms, 0.0) / 1000, venue=o.venue)


class _Worker:
    """One daemon thread running queued calls in order; the queue is bounded, never waited on."""

    def __init__(self, on_error: Callable[[BaseException], None], maxsize: int = MAX_PENDING):
        self._q: "queue.Queue" = queue.Queue(maxsize)
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name="killswitch-telemetry", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable, args: tuple) -> bool:
        try:
            self._q.put_nowait((fn, args))
            return True
        except queue.Full:
            return False

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - a malformed report loses its spans, not the thread
                self._on_error(e)

    def drain(self, timeout_s: float) -> bool:
        """Wait until everything queued before this call has run."""
        done = threading.Event()
        try:
            self._q.put((done.set, ()), timeout=timeout_s)
        except queue.Full:
            return False
        return done.wait(timeout_s)

    def stop(self, timeout_s: float) -> None:
        """Run what is queued (within ``timeout_s``), then end the thread."""
        try:
            self._q.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)


def find(ctx: Optional["HasSinks"]) -> Optional[TelemetrySink]:
    """The runner's telemetry sink, or None (see :func:`killswitch.telemetry.find`)."""
    # getattr, not ``ctx.sinks``: a sink's stand-in context (a tool's, a test's) declares only
    # what that sink reads, and has no telemetry sink to find either
    for sink in getattr(ctx, "sinks", ()):
        if isinstance(sink, TelemetrySink):
            return sink
    return None
