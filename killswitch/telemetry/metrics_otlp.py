"""OTLP metrics beside ``/metrics``: the same registry, pushed over OTLP/HTTP when asked for.

``/metrics`` stays the source: at each export the runner's registry is rendered as it would be
scraped (``Runner.metrics_text``, on the runner's loop), parsed here, and its counters and gauges
are sent as OTLP sums (monotonic, cumulative) and gauges, with the label pairs as attributes.
Histograms are sent as cumulative explicit-bucket histograms: the bounds are the finite ``le``
values, the counts per bucket are the differences of the cumulative ``_bucket`` lines, with
``_sum`` and ``_count``; min and max are left out (the Prometheus form has neither, and OTLP
makes both optional). An untyped family is sent as a gauge; a summary is not sent.

Configured by OpenTelemetry's environment, as the traces are:

- ``OTEL_SDK_DISABLED=true``: nothing is sent.
- ``OTEL_METRICS_EXPORTER``: ``otlp`` (default) or ``none``; another name is said and ignored.
- ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` (full URL) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` (base
  URL, ``/v1/metrics`` appended); neither set: nothing is sent (no default localhost).
- ``OTEL_METRIC_EXPORT_INTERVAL``: milliseconds between exports (default 60000, at least 1000).
- ``OTEL_EXPORTER_OTLP_[METRICS_]HEADERS``, ``…TIMEOUT``: read by the exporter (the timeout
  clamped as for traces).

Must not: read the runner (it is handed the text), or run on the runner's loop (an export waits
on the network: the daemon calls :meth:`OtlpMetrics.export` on a worker thread).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Optional, cast

from ..metrics import parse_families
from .export import _truthy, export_timeout_s, package_version, resource, safe_endpoint

DEFAULT_INTERVAL_MS = 60_000
MIN_INTERVAL_MS = 1_000
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)")
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class MetricsConfig:
    endpoint: Optional[str]  # safe to print; None: not sent
    interval_ms: int
    timeout_s: float
    note: Optional[str] = None

    def describe(self) -> str:
        if self.endpoint is None:
            return "metrics: on /metrics only" + (f" ({self.note})" if self.note else "")
        return f"metrics: on /metrics and OTLP/HTTP to {self.endpoint} every {self.interval_ms / 1000:g}s"


def metrics_config_from_env() -> MetricsConfig:
    try:
        interval = max(MIN_INTERVAL_MS, int(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", DEFAULT_INTERVAL_MS)))
    except ValueError:
        interval = DEFAULT_INTERVAL_MS
    timeout = export_timeout_s()
    if _truthy(os.environ.get("OTEL_SDK_DISABLED", "")):
        return MetricsConfig(None, interval, timeout, "OTEL_SDK_DISABLED=true")
    kinds = [k.strip().lower() for k in os.environ.get("OTEL_METRICS_EXPORTER", "otlp").split(",") if k.strip()]
    if "otlp" not in kinds:
        return MetricsConfig(None, interval, timeout, f"OTEL_METRICS_EXPORTER={','.join(kinds) or 'none'}")
    explicit = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "").strip()
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not explicit and not base:
        return MetricsConfig(None, interval, timeout, "no OTEL_EXPORTER_OTLP_ENDPOINT")
    return MetricsConfig(safe_endpoint(explicit or base.rstrip("/") + "/v1/metrics"), interval, timeout)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _number(text: str) -> float:
    return float({"+Inf": "inf", "-Inf": "-inf", "NaN": "nan"}.get(text, text))


def _histogram_points(name: str, samples: list[str], start_ns: int, now_ns: int) -> list[Any]:
    """One OTLP point per label set of a Prometheus histogram's ``_bucket``/``_sum``/``_count`` lines."""
    from opentelemetry.sdk.metrics.export import HistogramDataPoint

    series: dict[tuple, dict] = {}
    for line in samples:
        m = _SAMPLE.match(line)
        if m is None:
            continue
        pairs = [(k, _unescape(v)) for k, v in _PAIR.findall(m.group("labels") or "")]
        le = next((v for k, v in pairs if k == "le"), None)
        key = tuple(sorted((k, v) for k, v in pairs if k != "le"))
        s = series.setdefault(key, {"buckets": [], "sum": 0.0, "count": None})
        value = _number(m.group("value"))
        if m.group("name") == name + "_bucket" and le is not None:
            s["buckets"].append((_number(le), value))
        elif m.group("name") == name + "_sum":
            s["sum"] = value
        elif m.group("name") == name + "_count":
            s["count"] = value
    points = []
    for key, s in series.items():
        cumulative = sorted(s["buckets"])
        if not cumulative or cumulative[-1][0] != math.inf:
            continue  # no +Inf bucket: not a histogram OTLP can carry whole
        counts, before = [], 0.0
        for _, c in cumulative:
            counts.append(int(c - before))
            before = c
        total = int(s["count"]) if s["count"] is not None else int(before)
        points.append(HistogramDataPoint(attributes=dict(key), start_time_unix_nano=start_ns, time_unix_nano=now_ns,
                                         count=total, sum=s["sum"], bucket_counts=counts,
                                         explicit_bounds=[b for b, _ in cumulative[:-1]],
                                         min=cast(float, None), max=cast(float, None)))
    return points


def metrics_data(text: str, start_ns: int, now_ns: int, res: Optional[Any] = None) -> Any:
    """The counters, gauges and histograms of exposition ``text`` as the SDK's ``MetricsData``."""
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Gauge,
        Histogram,
        Metric,
        MetricsData,
        NumberDataPoint,
        ResourceMetrics,
        ScopeMetrics,
        Sum,
    )
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    metrics = []
    for name, fam in parse_families(text).items():
        kind = fam["type"] or "untyped"
        if kind == "histogram":
            if hpoints := _histogram_points(name, fam["samples"], start_ns, now_ns):
                metrics.append(Metric(name=name, description=fam["help"] or "", unit="",
                                      data=Histogram(hpoints, AggregationTemporality.CUMULATIVE)))
            continue
        if kind not in ("counter", "gauge", "untyped"):
            continue  # summaries: see the module doc
        points = []
        for line in fam["samples"]:
            m = _SAMPLE.match(line)
            if m is None or m.group("name") != name:
                continue
            attrs = {k: _unescape(v) for k, v in _PAIR.findall(m.group("labels") or "")}
            points.append(NumberDataPoint(attributes=attrs, start_time_unix_nano=start_ns, time_unix_nano=now_ns,
                                          value=_number(m.group("value"))))
        if not points:
            continue
        data: Any = (Sum(points, AggregationTemporality.CUMULATIVE, True) if kind == "counter"
                     else Gauge(points))
        metrics.append(Metric(name=name, description=fam["help"] or "", unit="", data=data))
    scope = InstrumentationScope("killswitch", package_version())
    return MetricsData([ResourceMetrics(res if res is not None else resource(), [ScopeMetrics(scope, metrics, "")],
                                        "")])


class OtlpMetrics:
    """Pushes the registry's counters, gauges and histograms to an OTLP/HTTP collector (see the module doc)."""

    def __init__(self, config: MetricsConfig, exporter: Any, start_ns: int):
        self.config = config
        self.exporter = exporter
        self.start_ns = start_ns
        self.exported = 0
        self.failed = 0
        self._res = resource()

    @classmethod
    def from_env(cls, start_ns: int) -> tuple[MetricsConfig, Optional["OtlpMetrics"]]:
        config = metrics_config_from_env()
        if config.endpoint is None:
            return config, None
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        return config, cls(config, OTLPMetricExporter(timeout=config.timeout_s), start_ns)

    def export(self, text: str, now_ns: int) -> bool:
        """One export of ``text`` (the registry as scraped). Never raises: a failed export is
        counted and the next one sends the cumulative values again."""
        from opentelemetry.sdk.metrics.export import MetricExportResult

        try:
            ok = self.exporter.export(metrics_data(text, self.start_ns, now_ns, self._res),
                                      timeout_millis=self.config.timeout_s * 1000) is MetricExportResult.SUCCESS
        except Exception:  # noqa: BLE001 - a collector's or exporter's failure must not reach the runner
            ok = False
        if ok:
            self.exported += 1
        else:
            self.failed += 1
        return ok

    def shutdown(self) -> None:
        try:
            self.exporter.shutdown()
        except Exception:  # noqa: BLE001 - best effort
            pass
