"""The telemetry sink over hand-built tick reports: span tree, attributes, metrics, export setup.

Reports are built by hand (times in ns chosen by the test), the sink exports to an in-memory
exporter synchronously, and the runner is a hand-written fake with the three attributes the
sink reads (graph, holder, dry_run).
"""

from __future__ import annotations

import asyncio
import re
import textwrap

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.utils import floatToGoString

from killswitch.engine.evaluate import Evaluation, ScopeEvaluation
from killswitch.engine.signals import SignalValue
from killswitch.engine.stages import StageTransition
from killswitch.engine.triggers import TriggerResult
from killswitch.events import MANUAL_CLOSE, ORDER_FAILED, STAGE_TRANSITION, Event
from killswitch.metrics import Registry
from killswitch.runner.tick.report import TickReport
from killswitch.runner.venue.execution import ExecutionReport, OrderOutcome
from killswitch.telemetry import TelemetrySink, attributes as A, export, find
from killswitch.telemetry.thresholds import check, comparisons, describe
from tests.unit.engine_helpers import compile_graph

POLICY = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: desk, owner: risk-desk}
    spec:
      scope: {level: account}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 10m}}
        stale: {data_age: {}}
      triggers:
        soft: {when: "dd >= 1%", on_missing_data: hold}
        hard: {when: "(dd >= 4% && stale < 30s) || 60s < stale", on_missing_data: fire}
      stages:
        - {level: 1, name: trim, on: [soft], cooldown: 1h, actions: [{reduce_top_risk: {count: 1, fraction: 50%}}]}
        - {level: 3, name: flatten, on: [hard], reset: manual, actions: [close_all]}
    """
)
REVISION = "0123abcd"
MS = 1_000_000
T0 = 1_772_456_400_000 * MS  # wall clock of the test's first tick, ns


def graph():
    return compile_graph(POLICY, "desk.yaml", REVISION)


class FakeRunner:
    def __init__(self, sinks=()):
        self.graph = graph()
        self.holder = "unit-runner"
        self.dry_run = False
        self.sinks = list(sinks)


def scope_eval(scope="sim/a", before=0, after=3, dd=0.052, stale=None, transition=True, kind="entered"):
    t = None
    if transition:
        t = StageTransition(kind, before, after, "flatten", f"ESCALATED: stage={before}->{after} triggers=hard",
                            f"desk/{scope}/L{after}/e1")
    return ScopeEvaluation(
        "desk", scope,
        (SignalValue("dd", dd), SignalValue("stale", stale, None if stale is not None else "NO_DATA")),
        (TriggerResult("soft", True, True, None, None),
         TriggerResult("hard", None, True, None, "MISSING_DATA: rule=fire")),
        before, after, t, ("NO_DEESCALATION: stage=3 triggered=1",) if not transition else (), None)


def order(cid, status="filled", code=None, start=T0 + 40 * MS, decision="desk/sim/a/L3/e1", latency_ms=3.0):
    return OrderOutcome(cid, decision, "sim", "a", "BTC/USDT:USDT", "sell", 0.5, True, status, code,
                        0.5 if status == "filled" else 0.0, start, latency_ms)


def report(scopes=(), orders=(), events=(), leader=True, deposed=False, fence=7, failures=()):
    g = graph()
    phases = {"snapshots": (T0, T0 + 10 * MS), "evaluate": (T0 + 10 * MS, T0 + 20 * MS),
              "journal": (T0 + 20 * MS, T0 + 25 * MS), "persist": (T0 + 25 * MS, T0 + 30 * MS),
              "send": (T0 + 30 * MS, T0 + 60 * MS), "reconcile": (T0 + 60 * MS, T0 + 90 * MS)}
    ev = Evaluation(1_772_456_400_000, g.digest, g.revision, tuple(scopes)) if leader else None
    return TickReport(1_772_456_400_000, leader, fence if leader else None, ev,
                      ExecutionReport(orders=list(orders), deposed=deposed), list(failures),
                      T0, T0 + 95 * MS, phases if leader else {}, list(events))


def sink(**kw):
    mem = InMemorySpanExporter()
    s = TelemetrySink(mem, synchronous=True, **kw)
    return s, mem


def by_name(spans, name):
    return [s for s in spans if s.name == name]


def parent_name(spans, span):
    ids = {s.context.span_id: s for s in spans}
    return ids[span.parent.span_id].name if span.parent is not None else None


# --- span tree -----------------------------------------------------------------------------------


def test_a_leader_tick_makes_a_root_with_one_child_per_phase_at_the_measured_times():
    s, mem = sink()
    s.on_tick(report(), FakeRunner())
    spans = mem.get_finished_spans()
    [root] = by_name(spans, A.SPAN_TICK)
    assert root.parent is None and (root.start_time, root.end_time) == (T0, T0 + 95 * MS)
    phases = {x.name: (x.start_time, x.end_time) for x in spans
              if x.parent and x.parent.span_id == root.context.span_id}
    assert phases["killswitch.send"] == (T0 + 30 * MS, T0 + 60 * MS)
    assert set(phases) == {"killswitch." + p for p in ("snapshots", "evaluate", "journal", "persist", "send",
                                                        "reconcile")}
    assert root.attributes[A.RUNNER_HOLDER] == "unit-runner" and root.attributes[A.LEASE_FENCE] == 7
    assert root.attributes[A.GRAPH_REVISION] == REVISION
    assert root.attributes[A.GRAPH_DIGEST].startswith("sha256:")


def test_a_standby_tick_is_a_root_alone():
    s, mem = sink()
    s.on_tick(report(leader=False), FakeRunner())
    [root] = mem.get_finished_spans()
    assert root.name == A.SPAN_TICK and root.attributes[A.RUNNER_LEADER] is False
    assert A.LEASE_FENCE not in root.attributes


def test_a_decision_names_policy_graph_stages_reason_and_each_signal_against_its_threshold():
    s, mem = sink()
    s.on_tick(report([scope_eval()]), FakeRunner())
    spans = mem.get_finished_spans()
    [scope] = by_name(spans, A.SPAN_SCOPE)
    [dec] = by_name(spans, A.SPAN_DECISION)
    assert parent_name(spans, scope) == "killswitch.evaluate"
    assert dec.parent.span_id == scope.context.span_id
    a = dec.attributes
    assert a[A.POLICY] == "desk" and a[A.POLICY_OWNER] == "risk-desk" and a[A.SCOPE] == "sim/a"
    assert a[A.GRAPH_REVISION] == REVISION and a[A.GRAPH_DIGEST] == graph().digest
    assert (a[A.STAGE_FROM], a[A.STAGE_TO], a[A.STAGE_NAME]) == (0, 3, "flatten")
    assert a[A.DECISION_REASON_CODE] == "ESCALATED" and a[A.DECISION_ID] == "desk/sim/a/L3/e1"
    assert set(a[A.TRIGGERS_FIRING]) == {"soft", "hard"}
    assert list(a[A.SIGNALS_VALUES]) == ["dd=5.2%", "stale=unknown (NO_DATA)"]
    assert list(a[A.DECISION_THRESHOLDS]) == [
        "soft: dd=5.2% >= 1% breached",
        "hard: dd=5.2% >= 4% breached",
        "hard: stale=unknown < 30s unknown (NO_DATA)",
        "hard: stale=unknown > 1m unknown (NO_DATA)",  # written "60s < stale": mirrored, canonical
    ]
    events = [dict(e.attributes) for e in dec.events if e.name == A.EVENT_THRESHOLD]
    assert events[1] == {A.TRIGGER_NAME: "hard", A.TRIGGER_FIRING: True, A.SIGNAL_NAME: "dd", A.SIGNAL_VALUE: 0.052,
                         A.THRESHOLD_OPERATOR: ">=", A.THRESHOLD_VALUE: 0.04, A.THRESHOLD_TEXT: "4%",
                         A.THRESHOLD_BREACHED: True}
    assert A.THRESHOLD_BREACHED not in events[2] and events[2][A.SIGNAL_REASON] == "NO_DATA"


def test_orders_hang_under_the_phase_that_sent_them_and_link_to_their_decision():
    s, mem = sink()
    orders = [order("c-sent"), order("c-resent", start=T0 + 70 * MS), order("c-retry", decision="desk/sim/a/L3/e1/r2",
                                                                            start=T0 + 45 * MS)]
    s.on_tick(report([scope_eval()], orders), FakeRunner())
    spans = mem.get_finished_spans()
    [dec] = by_name(spans, A.SPAN_DECISION)
    got = {o.attributes[A.ORDER_CLIENT_ID]: o for o in by_name(spans, A.SPAN_ORDER)}
    assert parent_name(spans, got["c-sent"]) == "killswitch.send"
    assert parent_name(spans, got["c-resent"]) == "killswitch.reconcile"
    for o in got.values():
        assert o.kind is SpanKind.CLIENT
        assert [link.context.span_id for link in o.links] == [dec.context.span_id]
    o = got["c-sent"]
    assert (o.start_time, o.end_time) == (T0 + 40 * MS, T0 + 43 * MS)
    assert {k: o.attributes[k] for k in (A.VENUE, A.ACCOUNT, A.ORDER_SYMBOL, A.ORDER_SIDE, A.ORDER_AMOUNT,
                                        A.ORDER_RESULT, A.ORDER_LATENCY_MS)} == {
        A.VENUE: "sim", A.ACCOUNT: "a", A.ORDER_SYMBOL: "BTC/USDT:USDT", A.ORDER_SIDE: "sell", A.ORDER_AMOUNT: 0.5,
        A.ORDER_RESULT: "filled", A.ORDER_LATENCY_MS: 3.0}
    assert o.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("status,code,error", [("rejected", "INSUFFICIENT_MARGIN", "INSUFFICIENT_MARGIN"),
                                               ("failed", None, "FAILED"), ("unknown", "TIMEOUT", None)])
def test_a_refused_order_span_has_an_error_status_and_type(status, code, error):
    s, mem = sink()
    s.on_tick(report([], [order("c1", status, code)]), FakeRunner())
    [o] = by_name(mem.get_finished_spans(), A.SPAN_ORDER)
    if error is None:
        assert o.status.status_code is StatusCode.UNSET and A.ERROR_TYPE not in o.attributes
        assert o.attributes[A.ORDER_REASON_CODE] == code
    else:
        assert o.status.status_code is StatusCode.ERROR and o.attributes[A.ERROR_TYPE] == error


def test_failed_snapshots_and_a_deposed_tick_are_errors():
    s, mem = sink()
    s.on_tick(report(failures=["sim/a: TIMEOUT"], deposed=True), FakeRunner())
    spans = mem.get_finished_spans()
    [snap] = by_name(spans, "killswitch.snapshots")
    assert snap.status.status_code is StatusCode.ERROR and snap.attributes[A.ERROR_TYPE] == "TIMEOUT"
    assert [dict(e.attributes) for e in snap.events] == [{A.ACCOUNT: "sim/a", A.ERROR_TYPE: "TIMEOUT"}]
    [root] = by_name(spans, A.SPAN_TICK)
    assert root.status.status_code is StatusCode.ERROR and root.attributes[A.TICK_DEPOSED] is True


def test_tick_events_are_root_span_events_and_other_events_are_spans_of_their_own():
    s, mem = sink()
    runner = FakeRunner()
    inside = Event.make(ORDER_FAILED, 1, {"client_order_id": "c1"}, venue="sim", account="a", reason="REJECTED")
    s.on_tick(report(events=[inside]), runner)
    s.on_event(inside, runner)  # the runner hands a tick's events to on_event as well
    outside = Event.make(MANUAL_CLOSE, 2, {"reason": "drill", "orders": 3}, scope="sim/a")
    s.on_event(outside, runner)
    spans = mem.get_finished_spans()
    [root] = by_name(spans, A.SPAN_TICK)
    assert [e.name for e in root.events] == [ORDER_FAILED]
    assert root.events[0].attributes[A.EVENT_REASON] == "REJECTED"
    [ev] = by_name(spans, A.SPAN_EVENT)
    assert ev.parent is None and ev.attributes[A.EVENT_KIND] == MANUAL_CLOSE and ev.attributes[A.SCOPE] == "sim/a"
    text = s.metrics_text()
    assert 'killswitch_events_total{kind="order_failed",severity="critical"} 1.0' in text
    assert 'killswitch_events_total{kind="manual_close",severity="warning"} 1.0' in text


def test_quiet_scopes_beyond_the_budget_get_no_span_but_scopes_with_news_always_do():
    s, mem = sink(max_scope_spans=1)
    quiet = [scope_eval(f"sim/q{i}", 0, 0, dd=0.0, stale=1.0, transition=False) for i in range(3)]
    quiet = [q.__class__(**{**q.__dict__, "triggers": ()}) for q in quiet]
    s.on_tick(report(quiet + [scope_eval("sim/news")]), FakeRunner())
    spans = mem.get_finished_spans()
    assert sorted(x.attributes[A.SCOPE] for x in by_name(spans, A.SPAN_SCOPE)) == ["sim/news", "sim/q0"]
    assert by_name(spans, A.SPAN_TICK)[0].attributes[A.TICK_SCOPE_SPANS_OMITTED] == 2


# --- what other sinks report ---------------------------------------------------------------------


def test_a_notification_joins_the_decision_trace_and_is_counted():
    s, mem = sink()
    runner = FakeRunner([s])
    s.on_tick(report([scope_eval()]), runner)
    tel = find(runner)
    assert tel is s
    tel.record_notification("desk-pager", True, T0 + 100 * MS, T0 + 150 * MS, incident="desk/sim/a/L3/e1",
                            event_kind=STAGE_TRANSITION)
    tel.record_notification("desk-pager", False, T0 + 200 * MS, T0 + 2200 * MS, incident="desk/sim/a/L3/e1",
                            reason="TIMEOUT", attempt=2)
    tel.record_notification("fallback", True, T0, T0 + MS, incident="never/seen")
    spans = mem.get_finished_spans()
    [dec] = by_name(spans, A.SPAN_DECISION)
    ok, failed, orphan = by_name(spans, A.SPAN_NOTIFICATION)
    assert ok.parent.span_id == dec.context.span_id and ok.context.trace_id == dec.context.trace_id
    assert ok.kind is SpanKind.CLIENT and ok.attributes[A.NOTIFICATION_RESULT] == "delivered"
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes[A.ERROR_TYPE] == "TIMEOUT"
    assert failed.attributes[A.NOTIFICATION_ATTEMPT] == 2
    assert orphan.parent is None and orphan.attributes[A.INCIDENT_ID] == "never/seen"
    text = s.metrics_text()
    assert "killswitch_notifications_total" not in text  # the notify sink's own metric
    assert 'killswitch_notification_latency_seconds_count{receiver="desk-pager"} 2.0' in text
    assert 'killswitch_notification_latency_seconds_bucket{le="2.5",receiver="desk-pager"} 2.0' in text
    assert 'killswitch_notification_latency_seconds_bucket{le="1.0",receiver="desk-pager"} 1.0' in text


def test_a_runbook_render_is_a_span():
    s, mem = sink()
    s.record_runbook_render("desk/sim/a/L3/e1", T0, T0 + 5 * MS, template="flatten.md.j2", format="html", ok=False,
                            reason="UNDEFINED_VARIABLE")
    [span] = mem.get_finished_spans()
    assert span.name == A.SPAN_RUNBOOK and span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.RUNBOOK_TEMPLATE] == "flatten.md.j2"
    assert "runbook" not in s.metrics_text()  # the runbook sink counts its renders


def test_record_span_drops_attribute_keys_that_name_a_secret():
    s, mem = sink()
    s.record_span("killswitch.custom", T0, T0 + MS, {
        "killswitch.notification.receiver": "desk", "killswitch.receiver.url": "json://u:p@h/",
        "killswitch.auth_token": "t", "http.request.header.authorization": "Bearer x",
        "killswitch.api_key": "k", "killswitch.order.client_id": "c1"})
    [span] = mem.get_finished_spans()
    assert dict(span.attributes) == {"killswitch.notification.receiver": "desk", "killswitch.order.client_id": "c1"}


def test_without_an_exporter_no_span_is_made_but_metrics_are(monkeypatch):
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    s = TelemetrySink.from_env()
    assert s.tracing is False and s.processor is None
    assert s.describe() == "traces: not exported (no OTEL_EXPORTER_OTLP_ENDPOINT)"
    s.on_tick(report([scope_eval()]), FakeRunner())
    s.record_notification("desk", True, T0, T0 + MS)
    text = s.metrics_text()
    assert "killswitch_tick_duration_seconds_count 1.0" in text
    assert 'killswitch_notification_latency_seconds_count{receiver="desk"} 1.0' in text


def test_find_is_none_without_a_telemetry_sink():
    assert find(FakeRunner()) is None


# --- metrics of ticks -------------------------------------------------------------------------------


def test_tick_metrics_count_duration_phases_transitions_and_orders():
    s, _ = sink()
    runner = FakeRunner()
    s.on_tick(report([scope_eval()], [order("c1", latency_ms=30.0)], fence=7), runner)
    s.on_tick(report([], fence=7), runner)
    s.on_tick(report([], fence=9, deposed=True), runner)
    text = s.metrics_text()
    assert "killswitch_tick_duration_seconds_count 3.0" in text
    assert 'killswitch_tick_duration_seconds_bucket{le="0.1"} 3.0' in text  # 95 ms each
    assert 'killswitch_tick_duration_seconds_bucket{le="0.05"} 0.0' in text
    assert 'killswitch_tick_phase_duration_seconds_count{phase="send"} 3.0' in text
    assert 'killswitch_stage_transitions_total{from="0",policy="desk",scope="sim/a",to="3"} 1.0' in text
    assert 'killswitch_order_latency_seconds_bucket{le="0.05",venue="sim"} 1.0' in text
    # the lease's families are the runner's (its lease log counts changes as they happen, not
    # at the next tick): none here, so a page with both has each once
    assert "killswitch_lease_" not in text
    assert f"killswitch_last_tick_timestamp_seconds {floatToGoString((T0 + 95 * MS) / 1e9)}" in text


# --- the registry ---------------------------------------------------------------------------------------

_LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? '
                   r'(-?[0-9.e+-]+|[+-]Inf|NaN)$')


def test_the_registry_renders_valid_exposition_text_with_cumulative_buckets():
    r = Registry()
    h = r.histogram("x_seconds", "Help with a\nnewline.", ("path",), (0.1, 1.0))
    for v in (0.05, 0.1, 0.5, 7.0):
        h.observe(v, path='a"b\\c')
    r.counter("y_total", "A counter.").inc(2)
    r.gauge("z", "A gauge.", ("k",)).set(1.5, k="v")
    text = r.render()
    for line in text.splitlines():
        assert line.startswith(("# HELP ", "# TYPE ")) or _LINE.match(line), line
    assert "# HELP x_seconds Help with a\\nnewline." in text
    assert 'x_seconds_bucket{le="0.1",path="a\\"b\\\\c"} 2.0' in text
    assert 'x_seconds_bucket{le="1.0",path="a\\"b\\\\c"} 3.0' in text
    assert 'x_seconds_bucket{le="+Inf",path="a\\"b\\\\c"} 4.0' in text
    assert 'x_seconds_sum{path="a\\"b\\\\c"} 7.65' in text
    assert 'x_seconds_count{path="a\\"b\\\\c"} 4.0' in text
    assert "y_total 2.0" in text and 'z{k="v"} 1.5' in text
    assert "_created" not in text  # the library's creation times are left out


@pytest.mark.parametrize("make", [
    lambda r: r.counter("no_suffix", "h"),
    lambda r: r.counter("bad-name_total", "h"),
    lambda r: r.gauge("g", "h", ("le",)),
    lambda r: r.histogram("h", "h", (), ()),
    lambda r: (r.gauge("dup", "h"), r.gauge("dup", "h")),
])
def test_the_registry_refuses_malformed_metrics(make):
    with pytest.raises(ValueError):
        make(Registry())


def test_a_counter_refuses_to_go_down_and_wrong_labels():
    c = Registry().counter("c_total", "h", ("a",))
    with pytest.raises(ValueError):
        c.inc(-1, a="x")
    with pytest.raises(ValueError):
        c.inc(1, b="x")


# --- thresholds --------------------------------------------------------------------------------------


def test_comparisons_are_every_signal_literal_or_signal_signal_compare_of_each_trigger():
    node = graph().policy("desk")
    got = [(c.trigger, c.signal, c.op, c.threshold_text) for c in comparisons(node)]
    assert got == [("soft", "dd", ">=", "1%"), ("hard", "dd", ">=", "4%"), ("hard", "stale", "<", "30s"),
                   ("hard", "stale", ">", "1m")]
    [c] = check(comparisons(node)[:1], {"dd": 0.01}, {})
    assert c.breached is True and describe(c) == "soft: dd=1% >= 1% breached"  # inclusive, as written


# --- export setup -------------------------------------------------------------------------------------


def _clear(monkeypatch):
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER",
                "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_TIMEOUT",
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize("env,endpoint,note", [
    ({}, None, "no OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/traces", None),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://u:pw@c/otlp?token=abc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"},
     "https://c/otlp", None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, None,
     "OTEL_TRACES_EXPORTER=none"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, None,
     "OTLP protocol grpc is not supported; use http/protobuf"),
])
def test_export_is_configured_by_the_standard_environment(monkeypatch, env, endpoint, note):
    _clear(monkeypatch)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    cfg = export.config_from_env()
    assert (cfg.endpoint, cfg.note) == (endpoint, note)
    assert "pw" not in cfg.describe() and "abc" not in cfg.describe()


@pytest.mark.parametrize("raw,seconds", [(None, 2.0), ("0.5", 0.5), ("10000", 10.0), ("0", 0.1), ("soon", 2.0)])
def test_the_export_timeout_is_short_and_clamped(monkeypatch, raw, seconds):
    _clear(monkeypatch)
    if raw is not None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", raw)
    assert export.export_timeout_s() == seconds


def test_the_resource_comes_from_the_environment_with_killswitch_as_the_default_name(monkeypatch):
    _clear(monkeypatch)
    assert export.resource().attributes["service.name"] == "killswitch"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "ks-prod")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod,service.namespace=risk")
    attrs = export.resource().attributes
    assert (attrs["service.name"], attrs["deployment.environment.name"], attrs["service.namespace"]) == (
        "ks-prod", "prod", "risk")


def test_the_tracer_provider_is_owned_not_global():
    from opentelemetry import trace

    before = trace.get_tracer_provider()
    s, _ = sink()
    assert trace.get_tracer_provider() is before and s.provider is not before


# --- the sink's own thread ----------------------------------------------------------------------------


def test_without_synchronous_the_spans_are_built_off_the_tick_in_order():
    mem = InMemorySpanExporter()
    s = TelemetrySink(mem)
    runner = FakeRunner([s])
    s.on_tick(report([scope_eval()], [order("c1")]), runner)
    # reported right after the tick, from another sink: it still finds the decision
    s.record_notification("desk", True, T0 + 100 * MS, T0 + 120 * MS, incident="desk/sim/a/L3/e1")
    assert s.flush(5)
    spans = mem.get_finished_spans()
    [dec] = by_name(spans, A.SPAN_DECISION)
    [note] = by_name(spans, A.SPAN_NOTIFICATION)
    assert note.parent.span_id == dec.context.span_id
    assert len(by_name(spans, A.SPAN_ORDER)) == 1
    assert re.search(r'killswitch_trace_spans_total\{result="exported"\} (\d+)', s.metrics_text()).group(1) == str(
        len(spans))
    asyncio.run(s.aclose())


def test_a_full_queue_drops_and_counts_instead_of_waiting():
    import threading
    import time

    from killswitch.telemetry.sink import MAX_PENDING

    s = TelemetrySink(InMemorySpanExporter())
    busy, gate = threading.Event(), threading.Event()
    s._submit(lambda: (busy.set(), gate.wait(10)))  # the sink's thread is busy until the gate opens
    assert busy.wait(5)
    runner, tick = FakeRunner(), report()
    t = time.perf_counter()
    for _ in range(MAX_PENDING + 5):
        s.on_tick(tick, runner)
    elapsed = time.perf_counter() - t
    gate.set()
    assert 'killswitch_trace_dropped_total{reason="queue_full"} 5.0' in s.metrics_text()
    assert elapsed < 2.0  # nothing waited on the busy thread (generous bound)
    asyncio.run(s.aclose())


def test_a_report_that_breaks_span_building_is_counted_not_fatal():
    s = TelemetrySink(InMemorySpanExporter())
    s.on_tick(report([], [order("c1", start=None)]), FakeRunner())  # malformed: an order without a send time
    s.on_tick(report(), FakeRunner())
    assert s.flush(5)
    assert 'killswitch_trace_dropped_total{reason="error"} 1.0' in s.metrics_text()
    assert "killswitch_tick_duration_seconds_count 2.0" in s.metrics_text()
    asyncio.run(s.aclose())
