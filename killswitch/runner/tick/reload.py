"""A policy reload swapped into a running runner, between two ticks.

What it owns: what a reload brings (:class:`GraphReload`) and what came of it
(:class:`ReloadOutcome`), and :class:`GraphSwap`, the swap itself: a failed reload keeps the last
good graph running, recorded (status, the policy sync, an audit row, an event); a good one
replaces the book's graph at once, drops the instances the new graph no longer produces
(engine/removed.py), tells the guards, the pre-trade gate and the sinks that follow the
documents, and is audited when the graph changed.

Must not: be reached but through the runner's ``apply_graph`` (:mod:`.loop`: the one entry, on the
tick's loop, between two ticks), or tick, take the lease or send anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ...compile.graph import DecisionGraph
from ...events import POLICY_RELOAD_FAILED, Event, ReloadingSink
from ..venue.port import Venues
from .parts import RunnerParts
from .takeover import said_removed


@dataclass(frozen=True)
class GraphReload:
    """What a policy reload brings: the compiled graph, or (``graph`` None) why it failed."""

    graph: Optional[DecisionGraph]
    error: Optional[str] = None  # the first finding, or the compiler's crash (named by its type)
    errors: int = 0
    documents: Sequence[Any] = ()  # the loaded documents, for the sinks that follow them (routes)
    # the sources read ((file, text)) and their git revision: what the policy sync says runs, or was handed
    files: Sequence[tuple[str, str]] = ()
    revision: Optional[str] = None


@dataclass(frozen=True)
class ReloadOutcome:
    applied: bool  # the new graph runs (False: the last good one keeps running)
    running: str  # the digest of the graph running now
    previous: str  # the digest before
    sink_failures: tuple[str, ...] = ()  # sinks that could not follow (they keep their old view)


class GraphSwap:
    """See the module doc; built from the runner's parts and its venues."""

    def __init__(self, parts: RunnerParts, venues: Venues):
        self._p, self._venues = parts, venues

    async def apply(self, reload: GraphReload) -> ReloadOutcome:
        """``reload`` applied: nothing runs between reading the running graph and replacing it,
        and a policy that keeps its name keeps its stages, locks and resumptions (one whose
        resume plan is gone ends at the next tick)."""
        p = self._p
        now = p.clock()
        previous = p.book.graph.digest
        if reload.graph is None:
            error = p.reloads.error = reload.error or "the reload failed"
            p.reloads.failed_ms = now
            p.sync.refused(error, now, reload.files, reload.revision)
            await p.lead.audit_or_standby("policy_reload_failed", now, {
                "errors": reload.errors, "first": error, "running": previous})
            p.fanout.emit(Event.make(POLICY_RELOAD_FAILED, now, {"error": error, "errors": reload.errors,
                                                                 "running": previous}))
            return ReloadOutcome(False, previous, previous)
        before = p.book.graph
        p.book.swap_graph(reload.graph)
        pruned = p.book.prune_instances(self._venues.declared(), now, before)  # engine/removed.py
        said_removed(pruned, "the reload")
        p.guards.now()  # an account the new graph leaves unguarded: logged now
        p.pretrade.gate.changed()  # the new graph's limits and scopes in the gate's view
        p.reloads.error, p.reloads.loaded_ms, p.reloads.failed_ms = None, now, None
        p.sync.took(reload.graph.digest, reload.graph.revision, reload.files, now)
        failures = []
        for sink in p.fanout.sinks:
            if isinstance(sink, ReloadingSink):
                try:
                    sink.reload(list(reload.documents))
                except Exception:  # noqa: BLE001 - the new graph runs; the sink keeps its old view
                    failures.append(str(getattr(sink, "name", sink)))
        if reload.graph.digest != previous:
            await p.lead.audit_or_standby("policy_reloaded", now, {
                "from": previous, "to": reload.graph.digest, "revision": reload.graph.revision,
                **({"removed": pruned.rows()} if pruned.dropped or pruned.kept else {})})
        return ReloadOutcome(True, reload.graph.digest, previous, tuple(failures))


__all__ = ["GraphReload", "GraphSwap", "ReloadOutcome"]
