"""The runner's book: what it knows on its loop, and how that is stored and read back.

What it owns: the running graph, the engine state, the lock book, the dead man's switch, the
resumptions in force, the residuals, the closes the venues refused (per leg,
:mod:`.rejections`), the last snapshots and this runner's last evaluation — everything a
tick, an operator command or a status read works on — the silences and the
acknowledgements of incidents (their own tables in the store: a change of them bumps
``notes_mark`` in the state document, so a standby reads them again when it follows) — and the state document they
are saved as (small: no PnL samples) with the PnL history's changes beside it. A leader saves it; a standby follows what
the leader last saved; a runner that starts or takes over loads it.

It is the one writer of the lock book, of the stages' state and of every other field: the
parts that keep them say what happened through its named methods, and no part assigns a field
(tests/unit/runner/test_one_writer.py reads the modules for it). Every write of the lock book
calls ``lock_changed`` (the pre-trade gate's publication: :mod:`..gate.view`).

Must not: take the lease, decide anything, or call the store on the loop (every store call goes
through the runner's :class:`~killswitch.runner.storeio.StoreIO`, in order, and is awaited;
only :meth:`Book.open` runs before the loop exists). The fields are replaced, never edited in
place by a reader: a sink's context or a cache holding the old object sees a consistent one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from ...compile.graph import DecisionGraph, PolicyNode
from ...engine.evaluate import Evaluation, evaluate
from ...engine.removed import Declared, Pruned, prune
from ...engine.state import PnlMarks, StageState, State
from ...silences import Acknowledgement, Silence
from ...snapshot import Snapshot
from ...state.store import StateStore
from ..gate.refusals import Counted
from ..lock.evaluation import apply_evaluation
from ..lock.lock import LockBook
from .dms_state import DeadMansSwitch
from .rejections import CloseRejections
from .residuals import ResidualBook
from .revoke_state import RevokeBook
from .still_open import StillOpenBook
from .storing import Stored


def _nothing() -> None:
    return None


@dataclass
class Book(Stored):
    """What the runner knows now; see the module doc. How it is stored and read back
    (``reload``, ``follow``, ``save``) is its base's, :class:`.storing.Stored`: every change of
    the runner's state is a short method here, so that each piece has one writer."""

    graph: DecisionGraph  # the graph running
    state: State = field(default_factory=State)  # stages, accounts' data, PnL history, the last tick
    _lock_book: LockBook = field(default_factory=LockBook)
    dms: DeadMansSwitch = field(default_factory=DeadMansSwitch)  # armed sources, their beats, the venues' countdowns
    resume_starts: dict[str, int] = field(default_factory=dict)  # "policy|scope" → reset time (ms)
    residuals: ResidualBook = field(default_factory=ResidualBook)  # what closes left open and stopped trying to close
    still_open: StillOpenBook = field(default_factory=StillOpenBook)  # orders a cancel left open
    # the closes the venues refused, per leg (its own methods change it; loaded in place, so the
    # parts that hold it, the tick's and the readout's, see what a start or a takeover read)
    rejections: CloseRejections = field(default_factory=CloseRejections)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)  # account key → its last snapshot
    # this runner's last evaluation (the signal values the console compares with thresholds); not
    # saved: a standby, which evaluates nothing, has none
    evaluation: Optional[Evaluation] = None
    saved_pnl: PnlMarks = field(default_factory=dict)  # the PnL history as stored (the next save adds to it)
    pnl_complete: bool = True  # False while a standby followed without reading a step's samples
    loaded: Optional[dict] = None  # the document last loaded
    followed: Optional[dict] = None  # as a standby: the leader's document last followed
    # the keys of the PnL samples last saved, as the tuple the history shares while the positions
    # stay the same, and their JSON text: encoded once, not at every sample step
    _keys_text: dict[tuple[int, str], tuple[tuple, str]] = field(default_factory=dict)
    silences: tuple[Silence, ...] = ()  # as stored (the latest NOTES_LIMIT), oldest first
    # incident → who has it: each author's latest acknowledgement, oldest first (killswitch.silences.holders)
    acks: dict[str, tuple[Acknowledgement, ...]] = field(default_factory=dict)
    notes_mark: int = 0  # when a silence or an acknowledgement last changed (the leader's clock)
    # stage transitions whose audit row, page or runbook may not be in place yet: key → what
    # completes them (kept by :class:`~killswitch.runner.sinks.entries.EntryOutbox`; replaced whole)
    owed: dict[str, dict] = field(default_factory=dict)
    # the bots' trading permission at the venue: who holds it revoked, and what is owed the venue
    # (kept by :class:`~killswitch.runner.effects.revokes.Revokes`: :meth:`revokes_changed`; replaced whole)
    revokes: RevokeBook = field(default_factory=RevokeBook)
    # the venue watch's baselines: each position leg's size at the lock it is held to (see
    # :mod:`~killswitch.runner.watch.enforce`), saved so that a restart or a takeover keeps them
    baselines: dict[str, Any] = field(default_factory=dict)
    # the stored operator locks (runner/lease/stored.py) applied to this book whose row in the
    # store is not marked taken yet: saved with the lock they placed, so a leader that carries on
    # after a crash between the save and the mark marks them without applying them twice
    stored_applied: tuple[str, ...] = ()
    # a shard's: the firm-wide policies its firm link evaluates while it holds the firm lease,
    # whose stage transitions it tells through this runner's sinks (the firm link's: take_firm_graph)
    firm_graph: Optional[DecisionGraph] = None
    # the gate's refusals and the venue watch's violations since the last tick, on any thread; the
    # tick hands them to the engine's tally (:meth:`count_violations`), which its state saves
    counted: Counted = field(default_factory=Counted, repr=False, compare=False)
    # called after every write of the lock book, on the loop (the pre-trade gate's view is published)
    lock_changed: Callable[[], None] = field(default=_nothing, repr=False, compare=False)

    def node(self, policy: str) -> Optional[PolicyNode]:
        return next((p for p in self.graph.policies if p.name == policy), None)

    # --- what the tick runs on and what it saw -----------------------------------------------------------

    def swap_graph(self, graph: DecisionGraph) -> None:
        """A reloaded graph in place of the running one, in one step (the state carries across by name)."""
        self.graph = graph

    def take_firm_graph(self, graph: DecisionGraph) -> None:
        """A shard's firm-wide policies, as its firm link runs them (the sinks find them here)."""
        self.firm_graph = graph

    def took_snapshots(self, snapshots: Sequence[Snapshot]) -> None:
        """The tick's snapshots: each account's last."""
        self.snapshots = {f"{s.venue}/{s.account}": s for s in snapshots}

    def evaluated(self, ev: Evaluation) -> None:
        """This runner's last evaluation (the tick's, or its plans made whole)."""
        self.evaluation = ev

    # --- the lock book and the stages: changed here only ------------------------------------------------

    @property
    def lock_book(self) -> LockBook:
        """The lock book (immutable: a change replaces it, so a reader's copy stays consistent)."""
        return self._lock_book

    def take_lock_book(self, lock: LockBook) -> None:
        """Replace the lock book whole (a test's or a tool's starting point)."""
        self._lock_book = lock
        self.lock_changed()

    def count_violations(self, now: int) -> None:
        """The refusals and violations counted since the last tick, into the engine's tally
        (before the tick's evaluation reads it)."""
        counts, dropped = self.counted.drain()
        self.state.tally.add(counts, now, dropped)

    def evaluate(self, snapshots: Sequence[Snapshot], now: int, rates: Any, *, first_wave: bool) -> Evaluation:
        """The tick's evaluation of the graph against ``snapshots``; the engine state becomes
        the one it returns (the stages entered, held or left)."""
        ev, self.state = evaluate(self.graph, snapshots, self.state, now, rates, first_wave=first_wave)
        return ev

    def lock_evaluation(self, ev: Evaluation) -> None:
        """What the stages of ``ev`` hold, and what they no longer hold, in the lock book (a tick
        that changed none of it changes nothing: the gate's view is not published again for it)."""
        old = self._lock_book
        new = apply_evaluation(old, ev, self.graph)
        if new is not old and new != old:
            self._lock_book = new
            self.lock_changed()

    def lock_source(self, scope: str, mode: str, *, now_ms: int, policy: str, reason: str, details: dict) -> None:
        """A lock that no policy's stage holds (a dead man's switch firing) on ``scope``."""
        self._lock_book = self._lock_book.apply(scope, mode, now_ms=now_ms, policy=policy, reason=reason,
                                                details=details)
        self.lock_changed()

    def release_lock(self, scope: str, *, policy: str) -> None:
        """``policy``'s hold on ``scope`` lifted (a reset that released its stage)."""
        self._lock_book = self._lock_book.release(scope, policy=policy)
        self.lock_changed()

    def change_lock_and_dms(self, update: Callable[[LockBook, DeadMansSwitch], tuple[LockBook, DeadMansSwitch]]
                            ) -> Callable[[], None]:
        """An operator's change of the lock book and the dead man's switch, applied to them as
        they are now; returns what takes it back (only if nothing moved them since)."""
        old = (self._lock_book, self.dms)
        new = update(*old)
        self._lock_book, self.dms = new
        self.lock_changed()

        def undo() -> None:
            if self._lock_book is new[0] and self.dms is new[1]:
                self._lock_book, self.dms = old
                self.lock_changed()

        return undo

    def stored_lock_applied(self, request_id: str) -> Callable[[], None]:
        """A stored operator lock applied (with :meth:`change_lock_and_dms`, saved with it);
        returns what takes it back, as that change's undo does."""
        before = self.stored_applied
        self.stored_applied = (*before, request_id)

        def undo() -> None:
            self.stored_applied = tuple(r for r in self.stored_applied if r != request_id)

        return undo

    def stored_locks_marked(self, request_ids: Sequence[str]) -> None:
        """Stored locks whose rows are now marked taken in the store: no longer kept here."""
        gone = set(request_ids)
        self.stored_applied = tuple(r for r in self.stored_applied if r not in gone)

    def defer_entry(self, policy: str, scope: str) -> int:
        """Mark the stage entry of ``policy``'s ``scope`` deferred (its first wave alone is
        journaled): saved so, a restarted runner plans it again. Returns its retry count, or -1
        when it was deferred already (a held close of the wave is planned again: a new round,
        which the rest being journaled must not undo)."""
        ss = self.state.scope(policy, scope)
        retries = -1 if ss.stage.deferred else ss.stage.retries
        ss.stage.deferred = True
        return retries

    def entry_planned(self, key: str, retries: int) -> None:
        """The entry of ``key`` ("policy|scope") is journaled in full: no longer deferred,
        unless it was planned again since (its retry count moved on from ``retries``)."""
        ss = self.state.scopes.get(key)
        if ss is not None and ss.stage.retries == retries:
            ss.stage.deferred = False

    def replan_entry(self, key: str, *, held: bool) -> int:
        """The entry of ``key`` is planned again at the next tick (a close ended short, or
        ``held``: waited behind an earlier order): one more retry, deferred. Returns the count."""
        stage = self.state.scopes[key].stage
        stage.retries += 1
        stage.held += 1 if held else 0
        stage.deferred = True
        return stage.retries

    def reset_stage(self, key: str, stage: StageState) -> bool:
        """An approved reset's stage (worked out and audited by the caller) in place of ``key``'s;
        an instance the graph no longer runs that it brings to stage 0 is dropped (True:
        :meth:`end_removed`)."""
        self.state.scopes[key].stage = stage
        return self.end_removed(key)

    # --- the resumptions and the venue watch's baselines ------------------------------------------------

    def prune_instances(self, accounts: Sequence[Declared], now: int,
                        before: Optional[DecisionGraph] = None) -> Pruned:
        """The instances the running graph no longer produces over ``accounts``: dropped at stage
        0, marked removed above it (:func:`killswitch.engine.removed.prune`; ``before``: the graph
        that ran them, for what their reset needs)."""
        return prune(self.graph, self.state, accounts, now, before)

    def end_removed(self, key: str) -> bool:
        """A removed instance its reset brought to stage 0 is dropped (True); else nothing."""
        ss = self.state.scopes.get(key)
        if ss is None or ss.removed is None or ss.stage.level > 0:
            return False
        del self.state.scopes[key]
        return True

    def resumption_started(self, key: str, now: int) -> None:
        """``key``'s ("policy|scope") resumption starts at ``now`` (a reset)."""
        self.resume_starts = {**self.resume_starts, key: now}

    def resumptions_ended(self, keys: Sequence[str]) -> None:
        """The resumptions of ``keys`` ended (a new stage entry, normal limits, no resume plan)."""
        self.resume_starts = {k: v for k, v in self.resume_starts.items() if k not in keys}

    def keep_baselines(self, baselines: dict[str, Any]) -> None:
        """The venue watch's baselines as the tick worked them out (saved with the tick's state)."""
        self.baselines = baselines

    # --- the dead man's switch: changed here only ------------------------------------------------------

    def switch_beat(self, sources: Sequence[str], ts_ms: int) -> None:
        """Each of ``sources`` beat at ``ts_ms`` (the switch copied once, not once a source)."""
        self.dms = self.dms.beat_many(sources, ts_ms)

    def keep_switch_sources(self, named: frozenset[str]) -> None:
        """The switch's entries of the sources nothing names any more forgotten (an armed one stays)."""
        self.dms = self.dms.keep_sources(named)

    def fire_switch(self, now: int, listening_since_ms: Optional[int]) -> list[str]:
        """The overdue sources marked fired; returns their names (their halts: :meth:`lock_source`)."""
        names, self.dms = self.dms.fire_due(now, listening_since_ms)
        return names

    def arm_venue_countdown(self, account: str, seconds: float) -> None:
        """``account``'s cancel-all-after countdown armed again, starting now, at ``seconds``."""
        self.dms = self.dms.disarm_native(account).arm_native(account, seconds)

    def disarm_venue_countdown(self, account: str) -> None:
        self.dms = self.dms.disarm_native(account)

    def venue_countdown_refreshed(self, account: str, now: int) -> None:
        self.dms = self.dms.refreshed(account, now)

    def venue_countdown_stood_down(self, account: str) -> None:
        """``account``'s countdown turned off at the venue at a deliberate stop: kept, due at once
        (the runner that takes the state up arms it again), and not a lapse."""
        self.dms = self.dms.stood_down(account)

    # --- the outbox of stage transitions (kept by :class:`~killswitch.runner.sinks.entries.EntryOutbox`) ---

    def owe(self, entries: dict[str, dict]) -> None:
        """Transitions owed from the save that records them: key → what completes them."""
        self.owed = {**self.owed, **entries}

    def owed_audited(self, keys: Sequence[str]) -> None:
        """The owed transitions of ``keys`` are in the audit chain (a key no longer owed: ignored)."""
        done = set(keys)
        self.owed = {k: {**v, "audited": True} if k in done else v for k, v in self.owed.items()}

    def owed_told(self, events: dict[str, dict]) -> None:
        """Each owed transition's event (key → event document) as the sinks were told it."""
        self.owed = {k: {**v, "event": events[k]} if k in events else v for k, v in self.owed.items()}

    def settle_owed(self, keys: Sequence[str]) -> None:
        """The transitions of ``keys`` let go: audited, and held by every sink."""
        self.owed = {k: v for k, v in self.owed.items() if k not in keys}

    # --- the bots' trading permission (kept by :class:`~killswitch.runner.effects.revokes.Revokes`) ---

    def revokes_changed(self, revokes: RevokeBook) -> None:
        """The trading permission as it is now: a hold placed, approved or lifted, an effect
        owed, confirmed or failed (the value :class:`RevokeBook` returned, in place of the last)."""
        self.revokes = revokes

    # --- the silences and the acknowledgements (kept by :class:`~killswitch.runner.silence.silences.Silences`) --

    def silence_added(self, s: Silence) -> None:
        """``s`` stored: the newest silence (one of the same id before it dropped)."""
        self.silences = tuple(x for x in self.silences if x.id != s.id) + (s,)

    def silence_changed(self, s: Silence) -> None:
        """``s`` stored in place of the silence of its id (changed or expired), where it stands."""
        self.silences = tuple(s if x.id == s.id else x for x in self.silences)

    def incident_held(self, incident: str, who: tuple[Acknowledgement, ...]) -> None:
        """Who has ``incident`` now, after an acknowledgement (:func:`~killswitch.silences.holders`)."""
        self.acks = {**self.acks, incident: who}

    def notes_changed(self, now: int) -> None:
        """A silence or an acknowledgement changed at ``now``: the mark a standby follows moves on."""
        self.notes_mark = max(self.notes_mark + 1, now)

    # --- loading ---------------------------------------------------------------------------------------

    @classmethod
    def open(cls, graph: DecisionGraph, store: StateStore, lock_changed: Callable[[], None] = _nothing) -> "Book":
        """What the last leader saved, with its PnL history (read before the loop starts);
        ``lock_changed`` is called after every later write of the lock book (not for this read:
        nothing is published yet)."""
        book = cls(graph, lock_changed=lock_changed)
        book.take_stored(*store.load_engine_state_and_pnl(), tell=False)
        return book  # the silences and acknowledgements: read when it leads (reload_notes) or follows
