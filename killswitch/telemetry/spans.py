"""The telemetry sink's spans: one tick report as its span tree, and the spans other sinks report.

What it owns
    :class:`TickSpans`, which writes a tick's spans *retroactively*, with the start and end times
    the runner measured (``TickReport.started_ns``, ``phases``, ``OrderOutcome.start_ns``). The
    tree of one tick::

        killswitch.tick                         runner, lease, graph, counts
        ├── killswitch.snapshots                error status + events for failed snapshots
        ├── killswitch.evaluate
        │   └── killswitch.scope.evaluate       per policy and scope: stage, signals, firing triggers
        │       └── killswitch.decision         per stage transition: policy, graph digest and revision,
        │                                        scope, stage from → to, reason codes, every signal value
        │                                        against its threshold (attribute + span events)
        ├── killswitch.books                    the order books of the closes planned, and their re-plan
        │                                        (only in a tick whose closes are sized by the book)
        ├── killswitch.journal
        ├── killswitch.persist
        ├── killswitch.send
        │   └── killswitch.order                per order (CLIENT): venue, symbol, side, amount, client
        │                                        id, result, latency; error status on a refusal; a link
        │                                        to the decision span that planned it
        └── killswitch.reconcile
            └── killswitch.order                orders sent again after reconciliation

    Scope and decision spans cover the evaluate phase: the engine is pure and does not time each
    scope. Quiet scopes (stage 0, nothing firing or pending, no transition) beyond
    ``max_scope_spans`` per tick get no span; the root counts them. The tick's events
    (``stage_transition``, ``order_failed``…) are span events of the root (their attributes:
    :func:`event_attributes`).

    A span another sink reports (:meth:`TickSpans.span`) joins the trace of the decision that
    opened the incident (as a child of the ``killswitch.decision`` span) while that decision is
    among the last ``KEEP_DECISIONS``, and starts a trace of its own otherwise.

What it must not do
    count metrics or queue work (the sink, :mod:`.sink`, does both and calls it on its own
    thread), export (:mod:`.export`), or put a secret in a span: the attributes it is handed
    are the sink's, filtered there.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple, Optional

from opentelemetry.context import Context
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    set_span_in_context,
)

from ..policy.expr import value_text
from . import attributes as A
from .thresholds import check, comparisons, describe

if TYPE_CHECKING:  # pragma: no cover
    from ..events import Event, TickFacts

KEEP_DECISIONS = 512  # incident → decision span, for the notifications and runbooks that follow
MAX_SCOPE_SPANS = 256  # quiet scopes beyond this many get no span (those with news always do)
ERROR_RESULTS = ("rejected", "failed")
_RETRY = re.compile(r"/r\d+$")


class RunnerView(NamedTuple):
    """What the spans need of the runner, as it was at the tick (a reload may swap the graph)."""

    graph: Any
    holder: str
    dry_run: bool


class TickSpans:
    """The spans of the tick reports and of the spans other sinks report, built on one thread
    (the sink's; the decisions kept are read under a lock, for the sink's synchronous mode)."""

    def __init__(self, tracer: Tracer, max_scope_spans: int = MAX_SCOPE_SPANS):
        self.tracer = tracer
        self.max_scope_spans = max_scope_spans
        self._lock = threading.Lock()
        self._decisions: "OrderedDict[str, SpanContext]" = OrderedDict()
        self._comparisons: dict[tuple[str, str], tuple] = {}

    # --- a reported span ---------------------------------------------------------------------------

    def span(self, name: str, start_ns: int, end_ns: int, attrs: dict, incident: Optional[str],
              error: Optional[str], kind: SpanKind) -> None:
        parent = Context()
        if incident:
            attrs[A.INCIDENT_ID] = incident
            with self._lock:
                sc = self._decisions.get(incident)
            if sc is not None:
                parent = set_span_in_context(NonRecordingSpan(sc))
        span = self.tracer.start_span(name, context=parent, kind=kind, attributes=attrs, start_time=start_ns)
        if error:
            span.set_attribute(A.ERROR_TYPE, error)
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=max(end_ns, start_ns))

    # --- spans of a tick ------------------------------------------------------------------------------

    def tick(self, report: "TickFacts", runner: RunnerView) -> None:
        graph = runner.graph
        ev = report.evaluation
        orders = report.execution.orders
        root = self.tracer.start_span(A.SPAN_TICK, context=Context(), start_time=report.started_ns, attributes=_clean({
            A.TICK_TS_MS: report.now_ms, A.RUNNER_LEADER: report.leader, A.RUNNER_HOLDER: runner.holder,
            A.RUNNER_MODE: "dry-run" if runner.dry_run else "live", A.LEASE_FENCE: report.fence,
            A.GRAPH_DIGEST: ev.digest if ev else graph.digest, A.GRAPH_REVISION: ev.revision if ev else graph.revision,
            A.TICK_SCOPES: len(ev.scopes) if ev else 0, A.TICK_TRANSITIONS: len(report.transitions),
            A.TICK_ORDERS: len(orders), A.SNAPSHOT_FAILURES: list(report.snapshot_failures) or None,
            A.TICK_DEPOSED: True if report.execution.deposed else None,
        }))
        try:
            ctx = set_span_in_context(root)
            phases = {}
            for name, (a, b) in report.phases.items():
                span = self.tracer.start_span(A.SPAN_PHASE_PREFIX + name, context=ctx, start_time=a)
                phases[name] = (span, a, b)
            try:
                if "snapshots" in phases and report.snapshot_failures:
                    span = phases["snapshots"][0]
                    for f in report.snapshot_failures:
                        account, _, code = f.rpartition(": ")
                        span.add_event("snapshot_failed", {A.ACCOUNT: account, A.ERROR_TYPE: code},
                                       timestamp=phases["snapshots"][2])
                    span.set_status(Status(StatusCode.ERROR, "SNAPSHOT_FAILED"))
                    span.set_attribute(A.ERROR_TYPE, report.snapshot_failures[0].rpartition(": ")[2])
                if ev is not None:
                    parent, a, b = phases.get("evaluate", (root, report.started_ns, report.ended_ns))
                    self._scopes(ev, graph, runner, set_span_in_context(parent), root, a, b)
                for o in orders:
                    parent = root
                    for span, a, b in phases.values():
                        if a <= o.start_ns <= b:
                            parent = span
                    self._order(o, set_span_in_context(parent))
            finally:
                for span, _a, b in phases.values():
                    span.end(end_time=b)
            for e in report.events:
                root.add_event(e.kind, event_attributes(e), timestamp=report.ended_ns or None)
            if report.execution.deposed:
                root.set_status(Status(StatusCode.ERROR, "DEPOSED"))
                root.set_attribute(A.ERROR_TYPE, "DEPOSED")
        finally:
            root.end(end_time=max(report.ended_ns, report.started_ns))

    def _scopes(self, ev, graph, runner, ctx, root, start: int, end: int) -> None:
        quiet_budget = self.max_scope_spans
        omitted = 0
        for s in ev.scopes:
            firing = [t.name for t in s.triggers if t.firing]
            pending = [f"{t.name}: {t.pending}" for t in s.triggers if t.pending]
            news = s.transition is not None or firing or pending or s.stage_after
            if not news:
                if quiet_budget <= 0:
                    omitted += 1
                    continue
                quiet_budget -= 1
            node = _policy(graph, s.policy)
            types = {x.name: x.type for x in node.signals} if node else {}
            values = [f"{v.name}={value_text(v.value, types.get(v.name))}"
                      + (f" ({v.reason})" if v.value is None and v.reason else "") for v in s.signals]
            span = self.tracer.start_span(A.SPAN_SCOPE, context=ctx, start_time=start, attributes=_clean({
                A.POLICY: s.policy, A.SCOPE: s.scope, A.STAGE_LEVEL: s.stage_after, A.TRIGGERS_FIRING: firing,
                A.TRIGGERS_PENDING: pending or None, A.SIGNALS_VALUES: values,
                A.STAGE_REFUSALS: list(s.refusals) or None,
            }))
            try:
                if s.transition is not None:
                    self._decision(s, ev, node, runner, values, firing, set_span_in_context(span), start, end)
            finally:
                span.end(end_time=end)
        if omitted:
            root.set_attribute(A.TICK_SCOPE_SPANS_OMITTED, omitted)

    def _decision(self, s, ev, node, runner, values, firing, ctx, start: int, end: int) -> None:
        t = s.transition
        checked = []
        if node is not None:
            key = (ev.digest, node.name)
            comps = self._comparisons.get(key)
            if comps is None:
                if len(self._comparisons) > 256:  # graphs reloaded many times: start over
                    self._comparisons.clear()
                comps = self._comparisons[key] = comparisons(node)
            checked = check(comps, {v.name: v.value for v in s.signals}, {v.name: v.reason for v in s.signals},
                            s.triggers)
        code = t.reason.split(":", 1)[0]
        span = self.tracer.start_span(A.SPAN_DECISION, context=ctx, start_time=start, attributes=_clean({
            A.DECISION_ID: t.decision_id, A.DECISION_KIND: t.kind, A.POLICY: s.policy,
            A.POLICY_OWNER: node.owner if node is not None else None, A.GRAPH_DIGEST: ev.digest,
            A.GRAPH_REVISION: ev.revision,
            A.SCOPE: s.scope, A.STAGE_FROM: t.from_level, A.STAGE_TO: t.to_level, A.STAGE_NAME: t.stage,
            A.DECISION_REASON: t.reason, A.DECISION_REASON_CODE: code, A.TRIGGERS_FIRING: firing,
            A.SIGNALS_VALUES: values, A.DECISION_THRESHOLDS: [describe(c) for c in checked],
            A.STAGE_REFUSALS: list(s.refusals) or None, A.DECISION_ORDERS: len(s.plan.orders) if s.plan else 0,
            A.DRY_RUN: runner.dry_run,
        }))
        trig_firing = {tr.name: tr.firing for tr in s.triggers}
        for c in checked:
            k = c.comparison
            span.add_event(A.EVENT_THRESHOLD, _clean({
                A.TRIGGER_NAME: k.trigger, A.TRIGGER_FIRING: trig_firing.get(k.trigger), A.SIGNAL_NAME: k.signal,
                A.SIGNAL_VALUE: c.value, A.SIGNAL_REASON: c.reason, A.THRESHOLD_OPERATOR: k.op,
                A.THRESHOLD_VALUE: c.threshold, A.THRESHOLD_TEXT: k.threshold_text, A.THRESHOLD_BREACHED: c.breached,
            }), timestamp=start)
        span.end(end_time=end)
        if t.decision_id:
            with self._lock:
                self._decisions[t.decision_id] = span.get_span_context()
                self._decisions.move_to_end(t.decision_id)
                while len(self._decisions) > KEEP_DECISIONS:
                    self._decisions.popitem(last=False)

    def _order(self, o, ctx) -> None:
        with self._lock:
            decision = self._decisions.get(_RETRY.sub("", o.decision_id))
        end = o.start_ns + int(max(o.latency_ms, 0.0) * 1_000_000)
        span = self.tracer.start_span(
            A.SPAN_ORDER, context=ctx, kind=SpanKind.CLIENT, start_time=o.start_ns,
            links=[Link(decision)] if decision is not None else None, attributes=_clean({
                A.ORDER_CLIENT_ID: o.client_order_id, A.DECISION_ID: o.decision_id, A.VENUE: o.venue,
                A.ACCOUNT: o.account, A.ORDER_SYMBOL: o.symbol, A.ORDER_SIDE: o.side, A.ORDER_AMOUNT: o.amount,
                A.ORDER_REDUCE_ONLY: o.reduce_only, A.ORDER_RESULT: o.status, A.ORDER_REASON_CODE: o.code,
                A.ORDER_FILLED: o.filled, A.ORDER_LATENCY_MS: o.latency_ms, A.ORDER_RESENT: o.resent,
            }))
        if o.status in ERROR_RESULTS:
            code = o.code or o.status.upper()
            span.set_attribute(A.ERROR_TYPE, code)
            span.set_status(Status(StatusCode.ERROR, code))
        span.end(end_time=end)


def _policy(graph, name: str):
    for p in graph.policies:
        if p.name == name:
            return p
    return None


def _clean(attrs: Mapping[str, Any]) -> dict:
    """Attributes without the unset ones (OpenTelemetry refuses None)."""
    return {k: v for k, v in attrs.items() if v is not None}


# event labels worth a span attribute, and under which name (labels never carry secrets)
_EVENT_LABELS = {"policy": A.POLICY, "scope": A.SCOPE, "stage": A.STAGE_NAME, "venue": A.VENUE,
                 "account": A.ACCOUNT, "reason": A.EVENT_REASON, "severity": A.EVENT_SEVERITY,
                 "source": A.HEARTBEAT_SOURCE}


def event_attributes(e: "Event") -> dict:
    """An event's span attributes: its kind, the labels worth one, its stage level, its incident."""
    attrs: dict[str, Any] = {A.EVENT_KIND: e.kind}
    for label, key in _EVENT_LABELS.items():
        v = e.labels.get(label)
        if v:
            attrs[key] = v
    level = e.labels.get("level")
    if level is not None and str(level).lstrip("-").isdigit():
        attrs[A.STAGE_LEVEL] = int(level)
    for k in ("incident", "decision_id"):
        v = e.data.get(k)
        if isinstance(v, str):
            attrs[A.INCIDENT_ID if k == "incident" else A.DECISION_ID] = v
    return attrs
