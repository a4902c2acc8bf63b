"""Telemetry: traces (OpenTelemetry, OTLP/HTTP) and Prometheus metrics of the runner.

What it owns: the :class:`TelemetrySink` the runner hands its ticks and events to (see
:mod:`.sink` for the metrics, :mod:`.spans` for the span tree), the exporter setup from the standard
``OTEL_*`` environment (:mod:`.export`) and the attribute names (:mod:`.attributes`); its
Prometheus registry is :mod:`killswitch.metrics`. What it must not do: slow a tick, hold global
OpenTelemetry state, or put a secret in a span.

How another sink reports what it did (a page, a runbook render)::

    from killswitch import telemetry

    tel = telemetry.find(ctx)             # None when the runner has no telemetry sink
    if tel is not None:
        tel.record_notification("desk-pager", ok=False, start_ns=t0, end_ns=t1,
                                incident=event.data.get("incident"), reason="TIMEOUT", attempt=2)
        tel.record_runbook_render(incident, t0, t1, template="flatten.md.j2", format="markdown")
        tel.record_span("killswitch.something", t0, t1, {"killswitch.policy.name": "p"})

The methods are thread-safe and never block on the network. Use them rather than the
OpenTelemetry API: they count the metrics too, attach the span to the incident's decision
trace, and drop attribute keys that name a secret. (``tel.tracer`` is there for anything
they do not cover; its spans go through the same bounded queue.)

Importing this package does not import OpenTelemetry: ``TelemetrySink`` loads on first use,
so ``ksctl validate`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol, Sequence

from .attributes import TRACER_NAME

if TYPE_CHECKING:  # pragma: no cover
    from ..events import Sink
    from .sink import TelemetrySink

__all__ = ["TRACER_NAME", "HasSinks", "TelemetrySink", "find"]


class HasSinks(Protocol):
    """All :func:`find` reads of what it is handed: the runner's sinks (a sink's
    :class:`~killswitch.events.SinkContext` offers them, and so does a runner)."""

    @property
    def sinks(self) -> Sequence["Sink"]: ...


def find(ctx: Optional[HasSinks]) -> "Optional[TelemetrySink]":
    """The telemetry sink among ``ctx.sinks`` (the context a sink is handed; None: a sink not
    yet handed one), or None (without importing OpenTelemetry when there is none)."""
    import sys

    if "killswitch.telemetry.sink" not in sys.modules:
        return None  # no TelemetrySink was ever made in this process
    from .sink import find as _find

    return _find(ctx)


def __getattr__(name: str):
    if name == "TelemetrySink":
        from .sink import TelemetrySink

        return TelemetrySink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
