"""OTLP metrics beside /metrics: the registry's counters and gauges pushed to a local collector
(an HTTP server on 127.0.0.1 that decodes what it receives), configured by OTEL_* variables."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from killswitch.metrics import Registry
from killswitch.telemetry.metrics_otlp import OtlpMetrics, metrics_config_from_env, metrics_data
from tests.conftest import POLICIES
from tests.procs import Receiver, accounts_file, free_port

VARS = ("OTEL_SDK_DISABLED", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS")


class Collector:
    """A local OTLP/HTTP metrics receiver: every request to /v1/metrics, decoded."""

    def __init__(self):
        self.requests: list[ExportMetricsServiceRequest] = []
        got = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/metrics":
                    req = ExportMetricsServiceRequest()
                    req.ParseFromString(body)
                    got.append(req)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def metrics(self) -> dict:
        """name → the last metric of that name received."""
        out = {}
        for req in self.requests:
            for rm in req.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        out[m.name] = m
        return out

    def close(self):
        self.server.shutdown()


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


@pytest.fixture
def env(monkeypatch):
    for v in VARS:
        monkeypatch.delenv(v, raising=False)

    def set_(**kw):
        for k, v in kw.items():
            monkeypatch.setenv(k, v)
    return set_


def _registry_text() -> str:
    r = Registry()
    r.counter("killswitch_events_total", "Events.", ("kind",)).inc(3, kind='a "b"')
    r.gauge("killswitch_leader", "Leader.").set(1)
    h = r.histogram("killswitch_tick_duration_seconds", "Ticks.", ("phase",), (0.1, 1.0))
    for v in (0.05, 0.5, 0.7, 3.0):
        h.observe(v, phase="evaluate")
    h.observe(0.01, phase='save "x"')
    r.sampled("killswitch_ticks_total", "counter", "Ticks.").add(60)
    return r.render()


def test_counters_gauges_and_histograms_become_cumulative_sums_gauges_and_histograms(env):
    data = metrics_data(_registry_text(), 1, 2)
    [rm] = data.resource_metrics
    [sm] = rm.scope_metrics
    by = {m.name: m for m in sm.metrics}
    assert set(by) == {"killswitch_events_total", "killswitch_leader", "killswitch_ticks_total",
                       "killswitch_tick_duration_seconds"}
    events = by["killswitch_events_total"].data
    assert events.is_monotonic and events.aggregation_temporality.name == "CUMULATIVE"
    [p] = events.data_points
    assert (p.value, dict(p.attributes)) == (3.0, {"kind": 'a "b"'})
    assert [x.value for x in by["killswitch_leader"].data.data_points] == [1.0]
    assert by["killswitch_ticks_total"].description == "Ticks."
    hist = by["killswitch_tick_duration_seconds"].data
    assert hist.aggregation_temporality.name == "CUMULATIVE"
    points = {p.attributes["phase"]: p for p in hist.data_points}
    ev = points["evaluate"]  # per-bucket counts (not cumulative), the finite bounds, sum and count
    assert (list(ev.explicit_bounds), list(ev.bucket_counts), ev.count, ev.sum) == ([0.1, 1.0], [1, 2, 1], 4, 4.25)
    assert (list(points['save "x"'].bucket_counts), points['save "x"'].count) == ([1, 0, 0], 1)


@pytest.mark.parametrize("given, endpoint, note", [
    ({}, None, "no OTEL_EXPORTER_OTLP_ENDPOINT"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/metrics", None),
    ({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "https://u:pw@c/m", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"},
     "https://c/m", None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, None, "OTEL_SDK_DISABLED=true"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRICS_EXPORTER": "none"}, None,
     "OTEL_METRICS_EXPORTER=none"),
])
def test_the_environment_decides_whether_metrics_are_pushed(env, given, endpoint, note):
    env(**given)
    cfg = metrics_config_from_env()
    assert (cfg.endpoint, cfg.note) == (endpoint, note)


def test_an_export_reaches_the_collector_and_a_dead_one_is_counted_not_raised(env, collector):
    env(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url)
    cfg, pusher = OtlpMetrics.from_env(1)
    assert pusher is not None and cfg.endpoint == collector.url + "/v1/metrics"
    assert pusher.export(_registry_text(), 2) is True
    got = collector.metrics()
    assert got["killswitch_ticks_total"].sum.data_points[0].as_double == 60
    assert got["killswitch_leader"].gauge.data_points[0].as_double == 1
    hist = {dict((a.key, a.value.string_value) for a in p.attributes)["phase"]: p
            for p in got["killswitch_tick_duration_seconds"].histogram.data_points}
    assert (list(hist["evaluate"].bucket_counts), hist["evaluate"].count, hist["evaluate"].sum) == ([1, 2, 1], 4, 4.25)
    assert not hist["evaluate"].HasField("min") and not hist["evaluate"].HasField("max")
    pusher.shutdown()
    env(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}", OTEL_EXPORTER_OTLP_TIMEOUT="0.5")
    _, dead = OtlpMetrics.from_env(1)
    assert dead.export(_registry_text(), 2) is False and dead.failed == 1
    dead.shutdown()


def test_ksctl_run_pushes_the_metrics_page_to_the_collector(tmp_path, collector):
    pol = tmp_path / "policies"
    pol.mkdir()
    # three ticks a second apart, not the example's 5 s, still span several exports of 1 s; the
    # pages of the blind start reach a fallback that takes them (the stop waits for pages in flight)
    book = (POLICIES / "futures-book.yaml").read_text().replace("interval: 5s", "interval: 1s")
    assert "interval: 1s" in book
    (pol / "futures-book.yaml").write_text(book)
    receiver = Receiver()
    routes = (POLICIES / "routes.yaml").read_text()
    assert "json://127.0.0.1:9099/killswitch" in routes
    (pol / "routes.yaml").write_text(routes.replace("127.0.0.1:9099", f"127.0.0.1:{receiver.port}"))
    env = {k: v for k, v in os.environ.items() if k not in VARS}
    env.update(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url, OTEL_METRIC_EXPORT_INTERVAL="1000",
               OTEL_TRACES_EXPORTER="none", KS_T_KEY="k", KS_T_SECRET="s")
    exe = Path(sys.executable)
    out = subprocess.run([str(exe.with_name("ksctl")), "run", "--policies", str(pol),
                          "--accounts", str(accounts_file(tmp_path, free_port())),
                          "--state", f"sqlite://{tmp_path / 'state.db'}", "--lock-file", str(tmp_path / "lock.json"),
                          "--api-port", "-1", "--max-ticks", "3"], capture_output=True, text=True, timeout=120, env=env)
    receiver.close()
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"metrics: on /metrics and OTLP/HTTP to {collector.url}/v1/metrics every 1s" in out.stdout
    got = collector.metrics()
    assert "killswitch_ticks_total" in got and "killswitch_lease_renewals_total" in got, sorted(got)
    assert got["killswitch_tick_duration_seconds"].histogram.data_points[0].count >= 1, "the tick's histogram too"
