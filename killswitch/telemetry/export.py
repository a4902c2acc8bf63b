"""Where spans go: the resource, the OTLP/HTTP exporter from the standard environment, and
the bounded processor between the tick and the network.

Configuration is OpenTelemetry's own environment (nothing of it lives in policy files):

- ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``: the resource (``Resource.create``);
  ``service.name`` is ``killswitch`` when neither names one.
- ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (full URL) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` (base
  URL, ``/v1/traces`` appended): where spans go. Neither set: spans are not exported at all —
  no default ``localhost:4318`` that nobody listens on.
- ``OTEL_EXPORTER_OTLP_[TRACES_]HEADERS``: sent with every export, read by the exporter
  itself. They are credentials: nothing here reads, logs or describes them.
- ``OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT``: seconds per export, as the Python SDK reads it,
  clamped to [0.1, 10] — default 2 s — so that a value meant in milliseconds cannot hold the
  export thread for hours.
- ``OTEL_TRACES_EXPORTER``: a comma-separated list of ``otlp`` (default), ``console`` (spans
  as JSON on stdout, the SDK's console exporter) and ``none``; ``otlp,console`` exports to both.
  A name not supported is said in the start line and left out, never the others with it.
  ``OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`` must be ``http/protobuf`` when set (the gRPC exporter
  is not installed).
- ``OTEL_SDK_DISABLED=true``: no span is exported, whatever else is set (``/metrics`` stays).
- ``OTEL_BSP_*`` are ignored: the queue bounds below are part of the kill switch's promise.

Why a dead or hanging collector never slows a tick: the tick only hands its report to the
sink's thread (a bounded queue, see :mod:`.sink`); spans built there end into a
:class:`~opentelemetry.sdk.trace.export.BatchSpanProcessor`, whose ``on_end`` appends to a
bounded deque (``MAX_QUEUE_SIZE``; when full, the oldest span is dropped) and returns; the
processor's thread exports batches with the short timeout above. Nothing on the tick's path
waits on the network or on a queue, and shutting down is bounded too (``TelemetrySink.aclose``).

No global state: the tracer provider is owned by its sink, never registered as the global
one, and not shut down at interpreter exit by the SDK (the sink does it, bounded).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass
from typing import Optional, Sequence
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
    SpanProcessor,
)

DEFAULT_SERVICE_NAME = "killswitch"
DEFAULT_EXPORT_TIMEOUT_S = 2.0
MAX_EXPORT_TIMEOUT_S = 10.0
MAX_QUEUE_SIZE = 2048  # spans; a tick of the flash crash makes ~20, a large flatten a few hundred
MAX_EXPORT_BATCH_SIZE = 512
SCHEDULE_DELAY_MS = 1000

_TIMEOUT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
_PROTOCOL_VARS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


def _env(names: Sequence[str]) -> Optional[str]:
    for n in names:
        v = os.environ.get(n, "").strip()
        if v:
            return v
    return None


def resource() -> Resource:
    """The resource from ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES``, defaulting the
    service name to ``killswitch`` and the version to this package's."""
    res = Resource.create()
    extra = {}
    if str(res.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        extra[SERVICE_NAME] = DEFAULT_SERVICE_NAME
    if SERVICE_VERSION not in res.attributes:
        version = package_version()
        if version:
            extra[SERVICE_VERSION] = version
    return res.merge(Resource(extra)) if extra else res


def package_version() -> Optional[str]:
    from importlib.metadata import PackageNotFoundError, version

    from killswitch import DISTRIBUTION

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return None


def export_timeout_s() -> float:
    raw = _env(_TIMEOUT_VARS)
    if raw is None:
        return DEFAULT_EXPORT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_EXPORT_TIMEOUT_S
    return min(max(value, 0.1), MAX_EXPORT_TIMEOUT_S)


def safe_endpoint(url: str) -> str:
    """The endpoint without user info or query (either may carry a credential), for messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "(unparsable endpoint)"


SUPPORTED_EXPORTERS = ("otlp", "console", "none")


@dataclass(frozen=True)
class ExportConfig:
    """What the environment asks for; ``endpoint`` is None when spans do not go to OTLP,
    ``console`` True when they are written to stdout as well (or instead)."""

    endpoint: Optional[str]  # already safe to print
    timeout_s: float
    note: Optional[str] = None  # why an exporter asked for is off
    console: bool = False

    def describe(self) -> str:
        where = []
        if self.endpoint is not None:
            where.append(f"OTLP/HTTP to {self.endpoint} (timeout {self.timeout_s:g}s, queue {MAX_QUEUE_SIZE} spans)")
        if self.console:
            where.append("the console (stdout)")
        note = f" ({self.note})" if self.note else ""
        return ("traces: " + " and ".join(where) + note) if where else "traces: not exported" + note


def _truthy(value: str) -> bool:
    return value.strip().lower() == "true"  # the specification's boolean: only "true" is true


def config_from_env() -> ExportConfig:
    timeout = export_timeout_s()
    if _truthy(os.environ.get("OTEL_SDK_DISABLED", "")):
        return ExportConfig(None, timeout, "OTEL_SDK_DISABLED=true")
    kinds = list(dict.fromkeys(
        k.strip().lower() for k in os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if k.strip()))
    notes = []
    unknown = [k for k in kinds if k not in SUPPORTED_EXPORTERS]
    if unknown:
        notes.append(f"OTEL_TRACES_EXPORTER {','.join(unknown)} not supported: use otlp, console or none")
    kinds = [k for k in kinds if k in SUPPORTED_EXPORTERS and k != "none"]
    if not kinds and not unknown:
        return ExportConfig(None, timeout, "OTEL_TRACES_EXPORTER=none")
    console = "console" in kinds
    endpoint = None
    if "otlp" in kinds:
        protocol = _env(_PROTOCOL_VARS)
        explicit = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        if protocol is not None and protocol.lower() != "http/protobuf":
            notes.append(f"OTLP protocol {protocol} is not supported; use http/protobuf")
        elif not explicit and not base:
            notes.append("no OTEL_EXPORTER_OTLP_ENDPOINT")
        else:
            endpoint = safe_endpoint(explicit or base.rstrip("/") + "/v1/traces")
    return ExportConfig(endpoint, timeout, "; ".join(notes) or None, console)


def otlp_exporter(config: ExportConfig) -> Optional[SpanExporter]:
    """The exporter the environment configures: OTLP/HTTP (endpoint and headers are read by the
    exporter from the environment), the console, both, or None."""
    exporters: list[SpanExporter] = []
    if config.endpoint is not None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporters.append(OTLPSpanExporter(timeout=config.timeout_s))
    if config.console:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        # stdout as it is now (the SDK's default is the one bound when it was imported)
        exporters.append(ConsoleSpanExporter(out=sys.stdout))
    if not exporters:
        return None
    return exporters[0] if len(exporters) == 1 else FanOutExporter(exporters)


class FanOutExporter(SpanExporter):
    """Every batch to each exporter in turn (``otlp,console``): one failing does not keep the
    others from it; the batch counts as exported only when every exporter took it."""

    def __init__(self, exporters: Sequence[SpanExporter]):
        self.exporters = tuple(exporters)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        ok = True
        for e in self.exporters:
            try:
                ok = e.export(spans) is SpanExportResult.SUCCESS and ok
            except Exception:  # noqa: BLE001 - one exporter's bug must not cost the others the batch
                ok = False
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        for e in self.exporters:
            try:
                e.shutdown()
            except Exception:  # noqa: BLE001 - shutting down is best effort
                pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all([e.force_flush(timeout_millis) for e in self.exporters])


class CountingExporter(SpanExporter):
    """Wraps an exporter and counts the spans each export delivered or lost, for /metrics."""

    def __init__(self, inner: SpanExporter):
        self.inner = inner
        self.exported = 0
        self.failed = 0
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:  # noqa: BLE001 - an exporter bug is a failed export, not a dead thread
            result = SpanExportResult.FAILURE
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                self.exported += len(spans)
            else:
                self.failed += len(spans)
        return result

    def counts(self) -> tuple[int, int]:
        """(spans exported, spans lost) so far."""
        with self._lock:
            return self.exported, self.failed

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def provider(exporter: Optional[SpanExporter], *, synchronous: bool = False, res: Optional[Resource] = None,
             max_queue_size: int = MAX_QUEUE_SIZE) -> tuple[TracerProvider, Optional[SpanProcessor]]:
    """An owned tracer provider (never the global one) exporting to ``exporter``.

    ``synchronous`` exports each span as it ends, in the caller's thread: for in-memory
    exporters in tests only; anything that talks to a network goes through the batch queue.
    """
    tp = TracerProvider(resource=res if res is not None else resource(), shutdown_on_exit=False)
    if exporter is None:
        return tp, None
    if synchronous:
        proc: SpanProcessor = SimpleSpanProcessor(exporter)
    else:
        proc = BatchSpanProcessor(exporter, max_queue_size=max_queue_size, schedule_delay_millis=SCHEDULE_DELAY_MS,
                                  max_export_batch_size=min(MAX_EXPORT_BATCH_SIZE, max_queue_size))
    tp.add_span_processor(proc)
    return tp, proc


def warn(message: str) -> None:
    """Through the log (``killswitch.telemetry``), with a time and a level like every other line."""
    logging.getLogger("killswitch.telemetry").warning(f"killswitch: telemetry: {message}")
