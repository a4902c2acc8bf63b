"""Telemetry of a real runner through the flash crash on the simulated exchange.

The span tree in an in-memory exporter; the same spans decoded from OTLP/HTTP by a local
receiver; the stage change and the tick histogram on the runner's /metrics; and collectors
that hang or refuse, which cost the tick nothing (measured per ``on_tick`` call, bounded
generously) while the exporter's losses are counted.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from collections import Counter

import aiohttp
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from killswitch.compile.compiler import compile_documents
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.policy.load import load_text
from killswitch.telemetry import TelemetrySink, attributes as A
from tests.integration.runner.rig import LONG_LEASE_MS, POLICY, TICK_MS, parts_of, setup
from tests.unit.engine_helpers import compile_graph

REVISION = "5f3c2e1"
SECRET = "otlp-s3cret-never-in-a-span"
PHASES = ("snapshots", "evaluate", "journal", "persist", "send", "reconcile")
OTEL_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS",
             "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
             "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
             "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES")


@pytest.fixture
def otel_env(monkeypatch):
    for var in OTEL_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def crash_runner(tmp_path, *sinks, lease_ttl_ms=LONG_LEASE_MS):
    """By default the lease outlives a tick: with a TTL of one tick every tick is a new token,
    and a store write of the tick before, late on a loaded machine, is fenced off (that tick
    then stops short)."""
    runner, engine, clock, store, _, desk = setup(
        tmp_path, policies=compile_graph(POLICY, "crash-ladder.yaml", REVISION),
        lease_ttl_ms=lease_ttl_ms)
    parts_of(runner).fanout.sinks.extend(sinks)
    return runner, clock, store, desk


async def run_crash(runner, clock, ticks=60, pause_s=0.0):
    await runner.start()
    reports = []
    for _ in range(ticks):
        clock.advance(TICK_MS)
        reports.append(await runner.tick())
        if pause_s:
            await asyncio.sleep(pause_s)
    return reports


def levels(reports):
    return [t.transition.to_level for r in reports for t in r.transitions]


# --- the span tree ------------------------------------------------------------------------------


def test_the_flash_crash_makes_one_trace_per_tick_with_decisions_and_orders(tmp_path):
    mem = InMemorySpanExporter()
    runner, clock, store, _ = crash_runner(tmp_path, TelemetrySink(mem, synchronous=True))
    parts = parts_of(runner)
    reports = asyncio.run(asyncio.wait_for(run_crash(runner, clock), 60))
    assert levels(reports) == [1, 2, 3]
    spans = mem.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}

    roots = [s for s in spans if s.parent is None]
    assert len(roots) == 60 and {s.name for s in roots} == {A.SPAN_TICK}
    traces = {r.context.trace_id for r in roots}
    assert len(traces) == 60 and {s.context.trace_id for s in spans} == traces
    for r in roots:
        children = sorted((s for s in spans if s.parent and s.parent.span_id == r.context.span_id),
                          key=lambda s: s.start_time)
        assert [c.name for c in children] == [f"killswitch.{p}" for p in PHASES]
        assert r.start_time <= children[0].start_time and children[-1].end_time <= r.end_time
        assert r.attributes[A.GRAPH_REVISION] == REVISION and r.attributes[A.RUNNER_LEADER] is True

    decisions = sorted((s for s in spans if s.name == A.SPAN_DECISION), key=lambda s: s.start_time)
    assert [(d.attributes[A.STAGE_FROM], d.attributes[A.STAGE_TO]) for d in decisions] == [(0, 1), (1, 2), (2, 3)]
    firing_trigger = {1: "soft", 2: "harder", 3: "hard"}
    for d in decisions:
        a = d.attributes
        assert by_id[d.parent.span_id].name == A.SPAN_SCOPE
        assert by_id[by_id[d.parent.span_id].parent.span_id].name == "killswitch.evaluate"
        assert (a[A.POLICY], a[A.SCOPE], a[A.GRAPH_DIGEST], a[A.GRAPH_REVISION]) == (
            "crash-ladder", "simulated/sim-main", parts.book.graph.digest, REVISION)
        assert a[A.DECISION_REASON_CODE] == "ESCALATED" and a[A.DECISION_REASON].startswith("ESCALATED: stage=")
        trigger = firing_trigger[a[A.STAGE_TO]]
        assert trigger in a[A.TRIGGERS_FIRING]
        [line] = [t for t in a[A.DECISION_THRESHOLDS] if t.startswith(trigger + ": ")]
        assert re.fullmatch(rf"{trigger}: dd=[0-9.]+% >= [0-9.]+% breached", line), line
        [event] = [e for e in d.events if e.attributes[A.TRIGGER_NAME] == trigger]
        assert event.attributes[A.THRESHOLD_BREACHED] is True
        assert event.attributes[A.SIGNAL_VALUE] >= event.attributes[A.THRESHOLD_VALUE]

    orders = [s for s in spans if s.name == A.SPAN_ORDER]
    journal = store.journal(limit=1000)
    assert sorted(o.attributes[A.ORDER_CLIENT_ID] for o in orders) == sorted(e.client_order_id for e in journal)
    decision_by_id = {d.attributes[A.DECISION_ID]: d for d in decisions}
    for o in orders:
        assert by_id[o.parent.span_id].name in ("killswitch.send", "killswitch.reconcile")
        assert o.attributes[A.ORDER_RESULT] == "filled" and o.attributes[A.ORDER_REDUCE_ONLY] is True
        assert o.attributes[A.VENUE] == "simulated" and o.attributes[A.ORDER_SYMBOL].endswith("/USDT:USDT")
        [link] = o.links
        assert link.context.span_id == decision_by_id[o.attributes[A.DECISION_ID]].context.span_id
    # the stage-3 flatten closes the whole book in one tick, in the trace of its decision
    [level3] = [d for d in decisions if d.attributes[A.STAGE_TO] == 3]
    assert Counter(o.context.trace_id == level3.context.trace_id for o in orders)[True] >= 3


# --- OTLP/HTTP to a local receiver -----------------------------------------------------------------


def _attrs(kvs) -> dict:
    out = {}
    for kv in kvs:
        kind = kv.value.WhichOneof("value")
        v = getattr(kv.value, kind)
        out[kv.key] = [getattr(x, x.WhichOneof("value")) for x in v.values] if kind == "array_value" else v
    return out


async def otlp_receiver():
    got: list[tuple[dict, bytes, ExportTraceServiceRequest]] = []

    async def traces(request: web.Request) -> web.Response:
        body = await request.read()
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        got.append(({k.lower(): v for k, v in request.headers.items()}, body, req))
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    site, url = await start_api(app)
    return site, url, got


def test_spans_reach_an_otlp_http_receiver_with_the_resource_and_headers_of_the_environment(
        tmp_path, otel_env, caplog, capfd):
    caplog.set_level(logging.DEBUG)

    async def go():
        site, url, got = await otlp_receiver()
        otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
        otel_env.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer {SECRET}")
        otel_env.setenv("OTEL_SERVICE_NAME", "ks-it")
        otel_env.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
        sink = TelemetrySink.from_env()
        assert sink.describe() == f"traces: OTLP/HTTP to {url}/v1/traces (timeout 2s, queue 2048 spans)"
        runner, clock, _, _ = crash_runner(tmp_path, sink)
        try:
            reports = await run_crash(runner, clock)
            await runner.aclose()  # flushes what is queued
            deadline = time.monotonic() + 10
            while sum(len(r.resource_spans) for _, _, r in got) == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await stop_api(site)
        return reports, got, sink

    reports, got, sink = asyncio.run(asyncio.wait_for(go(), 60))
    assert levels(reports) == [1, 2, 3]
    assert got, "no export reached the receiver"
    spans, resources = [], []
    for headers, _body, req in got:
        assert headers.get("authorization") == f"Bearer {SECRET}"
        assert headers.get("content-type") == "application/x-protobuf"
        for rs in req.resource_spans:
            resources.append(_attrs(rs.resource.attributes))
            for ss in rs.scope_spans:
                assert ss.scope.name == "killswitch"
                spans += [(s, _attrs(s.attributes)) for s in ss.spans]
    assert all(r["service.name"] == "ks-it" and r["deployment.environment.name"] == "test" for r in resources)
    names = Counter(s.name for s, _ in spans)
    assert names[A.SPAN_TICK] == 60 and names[A.SPAN_DECISION] == 3 and names[A.SPAN_ORDER] >= 3
    decisions = sorted((a for s, a in spans if s.name == A.SPAN_DECISION), key=lambda a: a[A.STAGE_TO])
    assert [a[A.STAGE_TO] for a in decisions] == [1, 2, 3]
    assert all(a[A.GRAPH_REVISION] == REVISION for a in decisions)
    roots = {s.trace_id for s, _ in spans if s.name == A.SPAN_TICK and not s.parent_span_id}
    assert {s.trace_id for s, _ in spans} == roots
    # the collector's credential goes in the request header only
    out, err = capfd.readouterr()
    for text in (out, err, caplog.text, sink.metrics_text(), sink.describe()):
        assert SECRET not in text
    assert all(SECRET.encode() not in body for _, body, _ in got)
    assert re.search(r'killswitch_trace_spans_total\{result="exported"\} \d+', sink.metrics_text())


# --- /metrics ---------------------------------------------------------------------------------------


def test_metrics_show_the_stage_change_the_tick_histogram_and_no_name_twice(tmp_path):
    sink = TelemetrySink()  # metrics only: no exporter configured
    runner, clock, store, desk = crash_runner(tmp_path, sink, lease_ttl_ms=TICK_MS)
    parts = parts_of(runner)

    async def go():
        reports = await run_crash(runner, clock)
        site, url = await start_api(make_app(desk, token="t0ken-for-tests-only"))
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(url + "/metrics") as r:
                    assert r.status == 200
                    return reports, await r.text()
        finally:
            await stop_api(site)

    reports, body = asyncio.run(asyncio.wait_for(go(), 60))
    scope = 'policy="crash-ladder",scope="simulated/sim-main"'
    assert f"killswitch_stage{{{scope}}} 3.0" in body
    for a, b in ((0, 1), (1, 2), (2, 3)):
        assert f'killswitch_stage_transitions_total{{from="{a}",{scope},to="{b}"}} 1.0' in body
    assert "killswitch_tick_duration_seconds_count 60.0" in body
    assert 'killswitch_tick_duration_seconds_bucket{le="+Inf"} 60.0' in body
    assert 'killswitch_tick_phase_duration_seconds_count{phase="send"} 60.0' in body
    orders = sum(len(r.execution.orders) for r in reports)
    assert orders >= 3 and f'killswitch_order_latency_seconds_count{{venue="simulated"}} {orders}' in body
    # the lease (ttl = tick interval here) lapses between ticks: the start and every tick take it
    # under a new token, each the one after the last (one runner), and each lapse is a loss
    tokens = len({r.fence for r in reports})
    assert parts.lead.fence == tokens + 1
    assert f"killswitch_lease_fence {parts.lead.fence}" in body
    assert f"killswitch_lease_acquired_total {tokens + 1}" in body
    assert f"killswitch_lease_lost_total {tokens}" in body
    types = re.findall(r"^# TYPE (\S+) ", body, re.M)
    assert [n for n, c in Counter(types).items() if c > 1] == []
    samples = {line.split("{")[0].split(" ")[0] for line in body.splitlines() if line and not line.startswith("#")}
    assert all(any(s == t or s.startswith(t + "_") for t in types) for s in samples), "a sample without # TYPE"


# --- a dead collector --------------------------------------------------------------------------------


class HangingCollector:
    """Accepts TCP connections and never answers (nor reads): a collector that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[float] = []  # time.monotonic() of each connection
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(time.monotonic())
            self._conns.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for c in self._conns:
            c.close()
        self.sock.close()


def refused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connections are refused
    return port


class TimedSink:
    """Delegates to the telemetry sink and measures each ``on_tick`` call."""

    name = "timed-telemetry"

    def __init__(self, inner: TelemetrySink):
        self.inner = inner
        self.costs: list[float] = []

    def on_tick(self, report, runner) -> None:
        t = time.perf_counter()
        self.inner.on_tick(report, runner)
        self.costs.append(time.perf_counter() - t)

    def on_event(self, event, runner) -> None:
        self.inner.on_event(event, runner)

    def metrics_text(self) -> str:
        return self.inner.metrics_text()

    async def aclose(self) -> None:
        await self.inner.aclose(timeout_s=1.0)


@pytest.mark.parametrize("collector", ["hanging", "refusing"])
def test_a_dead_collector_costs_the_tick_nothing_and_its_losses_are_counted(tmp_path, otel_env, collector):
    hanging = HangingCollector() if collector == "hanging" else None
    port = hanging.port if hanging else refused_port()
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    otel_env.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "3")
    # a small queue, so that the 60 ticks overflow it while the export thread is stuck
    timed = TimedSink(TelemetrySink.from_env(max_queue_size=64))
    runner, clock, _, _ = crash_runner(tmp_path, timed)

    async def go():
        started = time.monotonic()
        reports = await run_crash(runner, clock, pause_s=0.05)  # ~3 s: the exporter tries meanwhile
        ticks_done = time.monotonic()
        deadline = time.monotonic() + 15
        while 'killswitch_trace_spans_total{result="failed"}' not in timed.metrics_text() \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        t = time.monotonic()
        await runner.aclose()
        return reports, started, ticks_done, time.monotonic() - t

    try:
        reports, started, ticks_done, close_s = asyncio.run(asyncio.wait_for(go(), 60))
    finally:
        if hanging:
            hanging.close()
    assert levels(reports) == [1, 2, 3]
    assert len(timed.costs) == 60
    assert max(timed.costs) < 0.5, f"on_tick took {max(timed.costs):.3f}s with a {collector} collector"
    if hanging:
        assert hanging.accepted and hanging.accepted[0] < ticks_done, "the exporter never hung during the ticks"
    failed = re.search(r'killswitch_trace_spans_total\{result="failed"\} (\d+)', timed.metrics_text())
    assert failed and int(failed.group(1)) > 0
    assert close_s < 3.0, f"closing took {close_s:.1f}s"


# --- ksctl run ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint,said", [
    (None, "ksctl run: traces: not exported (no OTEL_EXPORTER_OTLP_ENDPOINT)"),
    ("http://user:pw-in-url@127.0.0.1:4318", "ksctl run: traces: OTLP/HTTP to http://127.0.0.1:4318/v1/traces "
                                             "(timeout 2s, queue 2048 spans)"),
])
def test_ksctl_run_puts_the_telemetry_sink_first_and_says_where_traces_go(tmp_path, otel_env, endpoint, said):
    from killswitch.process.bootstrap import SinkOptions, runner_sinks
    from killswitch.process.options import RunOptions
    from killswitch.state import open_store

    if endpoint:
        otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        otel_env.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"x-api-key={SECRET}")
    result = compile_documents(load_text(POLICY, "crash-ladder.yaml"))
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    said_lines: list[str] = []
    opts = RunOptions(("p",), "accounts.yaml", "sqlite://", str(tmp_path / "lock.json"))
    try:  # the sinks as `ksctl run` builds them
        sinks = runner_sinks(result, store, SinkOptions(policies=opts.policies), echo=said_lines.append,
                             err=said_lines.append)
    finally:
        store.close()
    assert isinstance(sinks[0], TelemetrySink) and sinks[0].tracing is (endpoint is not None)
    assert said in said_lines
    assert not any("pw-in-url" in line or SECRET in line for line in said_lines)
    asyncio.run(sinks[0].aclose(timeout_s=0.5))
