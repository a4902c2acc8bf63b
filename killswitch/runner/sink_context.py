"""The runner as its sinks see it: :class:`killswitch.events.SinkContext`, and nothing more.

What it owns: the read-only view a sink gets in ``on_tick``, ``on_event`` and
``restore_state`` — the runner's clock, mode, holder, running graph, the state store the sinks
write to, its sinks and its last snapshots, and lookups of a stage, an account's engine state,
the lock of a scope and an incident's residuals — each read from the runner when asked, so a
sink always sees the graph and state as they are now (a reload swaps the graph between ticks).

Must not: hand out the runner, its engine state, its lock book or its executor, or offer
anything that changes them. A sink that needs more asks for a new lookup here, in the open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Protocol, Sequence

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..compile.graph import DecisionGraph
    from ..engine.state import State
    from ..events import Sink
    from ..snapshot import Snapshot
    from .lock import LockBook
    from .residuals import ResidualBook


class _Runner(Protocol):
    """What this view reads of the runner (:class:`killswitch.runner.loop.Runner`)."""

    holder: str
    dry_run: bool
    graph: "DecisionGraph"
    store: Any
    sinks: list["Sink"]
    snapshots: dict[str, "Snapshot"]
    clock: Callable[[], int]
    state: "State"
    lock_book: "LockBook"
    residuals: "ResidualBook"


class RunnerSinkContext:
    """A :class:`killswitch.events.SinkContext` over one runner."""

    __slots__ = ("_runner",)

    def __init__(self, runner: _Runner):
        self._runner = runner

    @property
    def holder(self) -> str:
        return self._runner.holder

    @property
    def dry_run(self) -> bool:
        return self._runner.dry_run

    @property
    def graph(self) -> "DecisionGraph":
        return self._runner.graph

    @property
    def store(self) -> Any:
        return self._runner.store

    @property
    def sinks(self) -> Sequence["Sink"]:
        return tuple(self._runner.sinks)

    @property
    def snapshots(self) -> Mapping[str, "Snapshot"]:
        return self._runner.snapshots

    def clock(self) -> int:
        return self._runner.clock()

    def stage(self, policy: str, scope: str) -> Any:
        ss = self._runner.state.scopes.get(f"{policy}|{scope}")
        return ss.stage if ss is not None else None

    def account(self, key: str) -> Optional[Any]:
        return self._runner.state.accounts.get(key)

    def lock_doc(self, scope: str, now_ms: int) -> dict:
        return self._runner.lock_book.for_scope(scope, now_ms).to_doc()

    def residuals_of(self, incident: str) -> Sequence[Any]:
        return tuple(self._runner.residuals.for_incident(incident))
