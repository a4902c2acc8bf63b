"""The trace exporters as OpenTelemetry's environment names them: OTEL_SDK_DISABLED and the
exporter list (``otlp,console`` exports to both; an unknown name is said, not fatal)."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter, SpanExportResult

from killswitch.telemetry import TelemetrySink, export

VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SDK_DISABLED")


@pytest.fixture
def env(monkeypatch):
    for var in VARS:
        monkeypatch.delenv(var, raising=False)

    def set_(**kw):
        for k, v in kw.items():
            monkeypatch.setenv(k, v)
    return set_


@pytest.mark.parametrize("given, endpoint, console, note", [
    (dict(OTEL_SDK_DISABLED="true", OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318", OTEL_TRACES_EXPORTER="otlp,console"),
     None, False, "OTEL_SDK_DISABLED=true"),
    (dict(OTEL_SDK_DISABLED="TRUE", OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318"), None, False,
     "OTEL_SDK_DISABLED=true"),
    (dict(OTEL_SDK_DISABLED="false", OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318"), "http://c:4318/v1/traces", False,
     None),
    (dict(OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318", OTEL_TRACES_EXPORTER="otlp,console"),
     "http://c:4318/v1/traces", True, None),
    (dict(OTEL_TRACES_EXPORTER="console"), None, True, None),
    (dict(OTEL_TRACES_EXPORTER="otlp,console"), None, True, "no OTEL_EXPORTER_OTLP_ENDPOINT"),
    (dict(OTEL_EXPORTER_OTLP_ENDPOINT="http://c:4318", OTEL_TRACES_EXPORTER="zipkin,otlp"),
     "http://c:4318/v1/traces", False, "OTEL_TRACES_EXPORTER zipkin not supported: use otlp, console or none"),
    (dict(OTEL_TRACES_EXPORTER="none"), None, False, "OTEL_TRACES_EXPORTER=none"),
])
def test_the_environment_decides_where_spans_go(env, given, endpoint, console, note):
    env(**given)
    cfg = export.config_from_env()
    assert (cfg.endpoint, cfg.console, cfg.note) == (endpoint, console, note)


def test_otlp_and_console_both_get_the_spans(env):
    env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_TRACES_EXPORTER="otlp,console")
    cfg = export.config_from_env()
    assert cfg.describe().startswith("traces: OTLP/HTTP to http://127.0.0.1:9/v1/traces") and \
        "and the console (stdout)" in cfg.describe()
    exporter = export.otlp_exporter(cfg)
    assert isinstance(exporter, export.FanOutExporter)
    kinds = [type(e).__name__ for e in exporter.exporters]
    assert kinds == ["OTLPSpanExporter", "ConsoleSpanExporter"]
    exporter.shutdown()


def test_a_console_only_sink_writes_its_spans_to_stdout(env, capsys):
    env(OTEL_TRACES_EXPORTER="console")
    sink = TelemetrySink.from_env(synchronous=True)
    assert sink.tracing and isinstance(sink.exporter.inner, ConsoleSpanExporter)
    sink.record_span("killswitch.test", 1, 2, {"k": "v"})
    sink.provider.force_flush()
    out = capsys.readouterr().out
    doc = json.loads(out[out.index("{"):])
    assert doc["name"] == "killswitch.test" and doc["attributes"]["k"] == "v"


def test_sdk_disabled_means_no_exporter_at_all(env):
    env(OTEL_SDK_DISABLED="true", OTEL_TRACES_EXPORTER="console")
    sink = TelemetrySink.from_env()
    assert not sink.tracing and sink.exporter is None
    assert sink.describe() == "traces: not exported (OTEL_SDK_DISABLED=true)"


class _Fails(SpanExporter):
    def __init__(self):
        self.batches = 0

    def export(self, spans):
        self.batches += 1
        raise RuntimeError("collector down")

    def shutdown(self):
        pass


class _Takes(_Fails):
    def export(self, spans):
        self.batches += 1
        return SpanExportResult.SUCCESS


def test_one_failing_exporter_does_not_cost_the_other_its_spans():
    bad, good = _Fails(), _Takes()
    assert export.FanOutExporter([bad, good]).export([]) is SpanExportResult.FAILURE
    assert (bad.batches, good.batches) == (1, 1)
    assert export.FanOutExporter([_Takes(), good]).export([]) is SpanExportResult.SUCCESS
