"""The runner as its sinks see it: :class:`killswitch.events.SinkContext`, and nothing more.

What it owns: the read-only view a sink gets in ``on_tick``, ``on_event`` and
``restore_state`` — the runner's clock, mode, holder, running graph, the state store as a sink
may read it (:class:`StoreReads`: no write within reach), the sinks' writes through the
runner's one fenced writer (audit rows, notification receipts, runbooks: :class:`SinkWrites`),
its sinks and its last snapshots, and lookups of a stage, an account's engine state, the lock
of a scope, an incident's residuals and the silences in force — each read from the runner when
asked, so a sink always sees the graph and state as they are now (a reload swaps the graph
between ticks).
It holds the runner's book (:mod:`..book.book`), never the runner.

Must not: hand out the runner, its engine state, its lock book or its executor, or offer
anything that changes them. A sink that needs more asks for a new lookup here, in the open.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Protocol, Sequence

from ...engine.stages import decision_id
from ...silences import sink_silences
from ..book.revoke_state import revokes_in_force
from ..lock.lock import iso_ms

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ...compile.graph import DecisionGraph
    from ...events import Sink, SinkStore, StoredRunbook
    from ...snapshot import Snapshot
    from ...state.store import AuditHead, RunbookRecord, StateStore
    from ..book.view import BookView
    from ..storeio import StoreIO


class SinkWrites(Protocol):
    """The runner's one writer of what sinks write, as a sink reaches it (fenced):
    :class:`~killswitch.runner.lease.leadership.Leadership`."""

    def audit_now(self, kind: str, ts_ms: int, payload: dict) -> int: ...

    def audit_receipt(self, kind: str, ts_ms: int, payload: dict) -> int: ...

    def save_runbook_now(self, record: "RunbookRecord") -> None: ...


class StoreReads:
    """The store as a sink reads it (:class:`killswitch.events.SinkStore`): its reads, and no
    write within reach at run time either (a sink writes through the context, fenced). Each read
    runs on the runner's store thread (``io``), waited for a bounded time (:meth:`StoreIO.wait`):
    a sink runs on the loop, and a store that stopped answering must not stop the loop with it."""

    __slots__ = ("_store", "_io")

    def __init__(self, store: "StateStore", io: "StoreIO"):
        self._store = store
        self._io = io

    @property
    def url(self) -> str:
        return self._store.url

    def runbook(self, incident: str) -> Optional["StoredRunbook"]:
        return self._io.wait(self._store.runbook, incident)

    def runbooks(self, since_ms: Optional[int] = None, until_ms: Optional[int] = None,
                 limit: int = 100) -> Sequence["StoredRunbook"]:
        return self._io.wait(self._store.runbooks, since_ms, until_ms, limit)

    def journal_of(self, decision_id: str, since: int) -> Sequence[Any]:
        return self._io.wait(self._store.journal_of, decision_id, since)

    def journal(self, limit: int = 100, since: Optional[int] = None) -> Sequence[Any]:
        return self._io.wait(self._store.journal, limit, since)

    def audit_rows(self, since_ms: Optional[int] = None, kinds: Optional[Sequence[str]] = None,
                   limit: int = 1000, *, after_seq: int = 0) -> Sequence[Any]:
        return self._io.wait(self._store.audit_rows, since_ms, kinds, limit, after_seq=after_seq)

    def silences(self, ending_after_ms: Optional[int] = None) -> Sequence[Any]:
        return self._io.wait(self._store.silences, ending_after_ms)

    def audit_head(self) -> Optional["AuditHead"]:
        return self._io.wait(self._store.audit_head)


class RunnerSinkContext:
    """A :class:`killswitch.events.SinkContext` over one runner's book: the graph, the engine
    state, the lock book, the residuals and the snapshots are read from the book when asked."""

    __slots__ = ("_book", "_holder", "_dry_run", "_store", "_io", "_audit", "_sinks", "_clock", "_overrides")

    def __init__(self, book: "BookView", *, holder: str, dry_run: bool, store: "StateStore", io: "StoreIO",
                 audit: SinkWrites, sinks: Callable[[], Sequence["Sink"]], clock: Callable[[], int],
                 overrides: Callable[[str, int], list[dict]] = lambda scope, now_ms: []):
        self._overrides = overrides  # the overrides of the limits on a scope, not ended (its lock's)
        self._book = book
        self._audit = audit
        self._holder = holder
        self._dry_run = dry_run
        self._io = io
        self._store = StoreReads(store, io)
        self._sinks = sinks
        self._clock = clock

    @property
    def holder(self) -> str:
        return self._holder

    @property
    def dry_run(self) -> bool:
        return self._dry_run

    @property
    def graph(self) -> "DecisionGraph":
        return self._book.graph

    def graph_of(self, policy: str) -> "DecisionGraph":
        graph = self._book.graph
        firm = self._book.firm_graph
        if firm is not None and not any(p.name == policy for p in graph.policies) \
                and any(p.name == policy for p in firm.policies):
            return firm
        return graph

    @property
    def store(self) -> "SinkStore":
        return self._store

    @property
    def sinks(self) -> Sequence["Sink"]:
        return tuple(self._sinks())

    @property
    def snapshots(self) -> Mapping[str, "Snapshot"]:
        return self._book.snapshots

    def clock(self) -> int:
        return self._clock()

    def audit(self, kind: str, ts_ms: int, payload: dict) -> int:
        # on the store thread, waited for a bounded time (a sink writes from the loop: StoreReads)
        return self._io.wait(self._audit.audit_now, kind, ts_ms, payload)

    def audit_receipt(self, kind: str, ts_ms: int, payload: dict) -> int:
        return self._audit.audit_receipt(kind, ts_ms, payload)

    def save_runbook(self, record: "RunbookRecord") -> None:
        self._io.wait(self._audit.save_runbook_now, record)

    def stage(self, policy: str, scope: str) -> Any:
        ss = self._book.state.scopes.get(f"{policy}|{scope}")
        return ss.stage if ss is not None else None

    def account(self, key: str) -> Optional[Any]:
        return self._book.state.accounts.get(key)

    def lock_doc(self, scope: str, now_ms: int) -> dict:
        """The scope's lock with its holds, so that a runbook names the lock that binds and where it
        comes from (an operator's, a stage's own) rather than the merged lock alone, as of
        ``now_ms`` (``as_of``), the revokes of the bots' keys in force on its accounts (``revokes``), and the
        overrides of its pre-trade limits not ended (``overrides``: an override never lifts the
        lock; a runbook says what it lets through beside it)."""
        return {**self._book.lock_book.scope_doc(scope, now_ms), "overrides": self._overrides(scope, now_ms),
                "as_of": iso_ms(now_ms), "revokes": revokes_in_force(self._book.revokes, scope)}

    def lock_key(self, now_ms: int) -> tuple[Any, ...]:
        """What a scope's lock section is made of, cheap to compare: the lock book and the
        revokes (pure values: a change is a new one) and how many holds are in force now (one
        running out by its ttl changes no book)."""
        book = self._book.lock_book
        return book, self._book.revokes, len(book.in_force(now_ms))

    def residuals_of(self, incident: str) -> Sequence[Any]:
        """The incident's residuals, each with who accepted its refused close (``accepted``)."""
        rejections = self._book.rejections
        return tuple(SimpleNamespace(**vars(r), accepted=rejections.acceptance(r.key))
                     for r in self._book.residuals.for_incident(incident))

    def still_open_of(self, incident: str) -> Sequence[Any]:
        return tuple(self._book.still_open.for_incident(incident))

    def silences(self) -> Sequence[Any]:
        # the sink checks each at its flush; one made from a stage's incident ends with it, but
        # for that incident's closing pages (killswitch.silences.sink_silences)
        tied = any(s.tied and s.incident for s in self._book.silences)
        return sink_silences(self._book.silences, stage_incidents(self._book) if tied else (), self._clock())


def stage_incidents(book: "BookView") -> set[str]:
    """The incidents of the stages the scopes are in now (their decision ids)."""
    out = set()
    for key, ss in book.state.scopes.items():
        if ss.stage.level > 0:
            policy, _, scope = key.partition("|")
            out.add(decision_id(policy, scope, ss.stage.level, ss.stage.entries))
    return out
