"""What the runner hands to its sinks (telemetry, notifications, runbooks) and how.

The runner calls every sink synchronously at the end of each tick (:meth:`Sink.on_tick`) and
when something happens between ticks (:meth:`Sink.on_event`: a failed reload, a reset, a manual
close). A sink must not block: anything slow (a page, an export) goes on the sink's own bounded
queue. A sink that raises is reported on stderr and in the audit trail, and the tick goes on —
the kill switch never waits on, or dies of, the way it tells people what it did.

Events carry labels (for routing and grouping) and data (for the message and the runbook).
Labels are plain strings; secrets never enter either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote
from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Runner, TickReport


# kinds of events, and how serious each is by default
STAGE_TRANSITION = "stage_transition"
ORDER_FAILED = "order_failed"
CLOSE_RETRIES_EXHAUSTED = "close_retries_exhausted"
CLOSE_RESIDUAL = "close_residual"  # a position a close left open and stopped closing (critical; dust: warning)
POLICY_RELOAD_FAILED = "policy_reload_failed"
RESET = "reset"
MANUAL_CLOSE = "manual_close"
DEPOSED = "deposed"
SNAPSHOT_FAILED = "snapshot_failed"
DMS_FIRED = "dms_fired"

SEVERITY = {
    STAGE_TRANSITION: "critical", ORDER_FAILED: "critical", CLOSE_RETRIES_EXHAUSTED: "critical",
    CLOSE_RESIDUAL: "critical",
    POLICY_RELOAD_FAILED: "critical", RESET: "info", MANUAL_CLOSE: "warning", DEPOSED: "warning",
    SNAPSHOT_FAILED: "warning", DMS_FIRED: "critical",
}


@dataclass(frozen=True)
class Event:
    kind: str
    ts_ms: int
    labels: Mapping[str, str] = field(default_factory=dict)  # policy, scope, stage, level, venue, severity…
    data: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def make(kind: str, ts_ms: int, data: Optional[Mapping[str, Any]] = None, **labels: Any) -> "Event":
        out = {"event": kind, "severity": SEVERITY.get(kind, "warning")}
        out.update({k: str(v) for k, v in labels.items() if v is not None})
        return Event(kind, ts_ms, out, dict(data or {}))


def runbook_path(incident: str) -> str:
    """Where the runner's API serves an incident's runbook. An incident is one stage entry, named
    by its decision id ("policy/scope/L3/e1"), which is the ``incident`` of a transition event."""
    return "/v1/runbooks/" + quote(incident, safe="")


class Sink(Protocol):
    """What the runner hands its ticks and events to. A sink may also keep state across
    restarts and takeovers: ``state_doc() -> dict`` is saved with the engine state every tick,
    and ``restore_state(doc, runner)`` is called with it when a runner starts leading from a
    saved state (``doc`` None when nothing was saved)."""

    name: str

    def on_tick(self, report: "TickReport", runner: "Runner") -> None:
        """After every tick (leader or not). Must return quickly."""

    def on_event(self, event: Event, runner: "Runner") -> None:
        """An event outside the tick's own report (also called for each event of a tick)."""

    async def aclose(self) -> None:
        """Flush what can be flushed within a short time, then stop."""

    # Optional: ``metrics_text() -> str``, Prometheus exposition lines appended to /metrics.
