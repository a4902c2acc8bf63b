"""The runner: one tick = lease → snapshots → evaluate → journal → persist → lock → send → reconcile.

What it owns: the wiring of the pure engine to the world — adapters (snapshots and orders),
the state store (engine state, journal, audit, lease), the trading lock file. The order of a
tick is the crash-safety argument (see :mod:`killswitch.runner.executor`): intents are
journaled before the state that records the stage entry is saved, and sent only after both.

On start the runner reloads the engine state, the lock book, the dead man's switch and the
resumptions in force from the store — a halt stays a halt after a crash — takes the lease, and
reconciles every pending order intent before its first tick. A runner that does not hold the
lease (a standby) evaluates nothing and sends nothing. What it writes as leader (state, journal,
audit rows) carries its fencing token, so a deposed leader's writes are refused.

Threads. The runner's state (engine state, lock book, dead man's switch, snapshots, closes)
lives on one event loop, the tick's: ticks and operator commands interleave only at await
points, as they always did, and no lock guards it — a second thread touching it would need one
around every read as well as every write, and the tick's store calls would then hold it. What
runs elsewhere touches none of it. ``ksctl run`` serves the HTTP API from a thread of its own
(:mod:`killswitch.runner.api_thread`), which hands every view call to this loop
(:meth:`Runner.run_view_call`) — one mutation at a time, so that a burst of operator calls
cannot starve a tick of the loop, reads as they come. The leader lease is taken and renewed by
a :class:`~killswitch.runner.lease.LeaseKeeper` thread on a store connection of its own, so
that neither a slow tick nor a burst of requests can let it lapse; the tick reads the token the
keeper publishes, and the keeper renews only while this loop shows life, so a runner whose loop
is wedged hands over to a standby. Without a keeper (tests, ``ksctl demo``) the tick takes or
renews the lease itself. Every store call of the runner and its executor runs on a store
thread of its own (:class:`~killswitch.runner.storeio.StoreIO`, one call at a time, in order)
and is awaited, so that a slow disk or a lock wait stalls neither the loop nor the lease: the
runner's state is read and changed on the loop only, and a change an operator makes is computed
from the state as it is after the store has taken its audit row, never from a copy taken
before an await.

Policy decisions all come from ``evaluate``. Besides them the runner applies three fixed rules
an operator set up, each audited and each shown in status:

- **Dead man's switch.** An armed source (a bot, named as its strategy) that stays silent past
  its timeout fires once per silence: a ``dms_fired`` event; the open orders of that strategy
  (the orders the last good snapshots attribute to it) are cancelled; and trading is HALTED for
  the scope named like the source (bots name their strategy in ``/v1/check-order`` and read
  ``scopes[<source>]`` in the lock file). The halt stays until the source is armed again
  (``ksctl dms arm``: someone looked) or an operator unlocks it — a bot that starts beating
  again does not lift it by itself. Silence is counted from when this runner started listening
  (start or takeover) at the earliest: a runner that was down could not hear anyone beat.
  A stage's ``arm_exchange_dms`` arms the venues' own cancel-all-after countdowns; the runner
  refreshes them at a third of the countdown while any scope stays in such a stage, and
  disarms them once none does (refresh failures and lapses are audited).
- **Operator locks.** ``ksctl lock`` halts (or reduces) a scope until ``ksctl unlock`` or its
  ttl. Unlock lifts only operator and dead man's switch locks: a scope a policy's stage holds
  is refused (``MANUAL_RESET_REQUIRED`` for a manual-reset stage — that takes ``ksctl reset``).
- **Resumption.** After a stage at the policy's ``resume.from_level`` or above is reset, the
  pre-trade gate holds the scope's orders at the policy's reduced limits, stepping up on its
  schedule until normal; a new stage entry ends it.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from adapters.base import AdapterError, CancelSelector, ExchangeAdapter, order_rates

from ..compile.graph import DecisionGraph
from ..compile.nodes import ArmExchangeDmsAction, CloseAllAction, HeartbeatAgeSignal
from ..engine.evaluate import Evaluation, evaluate
from ..engine.state import PnlMarks, State, pnl_changes, pnl_marks, record_heartbeat
from ..events import (CLOSE_RESIDUAL, CLOSE_RETRIES_EXHAUSTED, DEPOSED, DMS_FIRED, MANUAL_CLOSE, ORDER_FAILED, RESET,
                      SNAPSHOT_FAILED, STAGE_TRANSITION, Event, MetricsSink, RestoringSink, Sink,
                      StatefulSink)
from ..snapshot import FetchStatus, Snapshot
from ..state.store import FencedError, PnlSampleRow
from .dms import DeadMansSwitch
from .executor import ExecutionReport, Executor, ended_short
from .gate import Decision, Placement, ResumePlan, Resumption, check_order
from .lease import LeaseKeeper
from .lock import DEAD_MANS_SWITCH, NOT_A_POLICY, OPERATOR, LockBook, apply_evaluation, iso_ms, write_lock_file
from .residuals import BELOW_MINIMUM, CLOSE_RETRIES_EXHAUSTED as RETRIES_SPENT, Residual, ResidualBook
from .scopes import Catalog, close_matches
from .sink_context import RunnerSinkContext
from .storeio import StoreIO
from .view import ChangeResult, CloseResult, ResetResult, ResidualStatus, ResumeStatus, RunnerStatus, ScopeStatus

STATE_DOC_VERSION = 1
MAX_TRACKED_CLOSES = 100  # manual closes whose progress ``close_progress`` can still tell
FINAL_ORDER_STATUSES = ("filled", "canceled", "rejected", "expired", "failed")


def wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class _Firing:
    """A dead man's switch firing: the source, why, and the orders to cancel (account, order id)."""

    source: str
    reason: str
    silent_s: float
    timeout_s: float
    orders: tuple[tuple[str, str], ...]
    unknown: tuple[str, ...]  # accounts whose last snapshot failed: their orders are not known


@dataclass
class TickReport:
    now_ms: int
    leader: bool
    fence: Optional[int] = None
    evaluation: Optional[Evaluation] = None
    execution: ExecutionReport = field(default_factory=ExecutionReport)
    snapshot_failures: list[str] = field(default_factory=list)
    # for the sinks: wall-clock ns of the tick and of its phases (snapshots, evaluate, journal,
    # persist, send, reconcile), and the events it produced
    started_ns: int = 0
    ended_ns: int = 0
    phases: dict[str, tuple[int, int]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    @property
    def transitions(self) -> list:
        return self.evaluation.transitions if self.evaluation else []


class Runner:
    def __init__(self, graph: DecisionGraph, adapters: dict[str, ExchangeAdapter], store, *,
                 lock_path: Optional[Path] = None, dry_run: bool = True, holder: str = "runner",
                 lease_ttl_ms: int = 5_000, snapshot_timeout_s: float = 10.0,
                 clock: Callable[[], int] = wall_ms, confirm_gap_ms: int = 2_000,
                 sinks: Sequence[Sink] = ()):
        self.graph = graph
        self.adapters = adapters  # "venue/account" → adapter
        self.store = store
        self.lock_path = Path(lock_path) if lock_path else None
        self.dry_run = dry_run
        self.holder = holder
        self.lease_ttl_ms = lease_ttl_ms
        self.snapshot_timeout_s = snapshot_timeout_s
        self.clock = clock
        self.fence = 0
        self.leader = False
        self._pnl_saved: PnlMarks = {}  # the PnL history as stored (kept apart from the state document)
        self._stored_beats: dict[str, int] = {}  # source → the stored beat last taken in (from a standby)
        self.io = StoreIO(f"store-{holder}")  # every store call after this constructor goes through it
        self.state, self.lock_book, self.dms, self.resume_starts = self._load()
        self.listening_since_ms = clock()  # the dead man's switch counts silence from here at the earliest
        self.native_errors: dict[str, str] = {}  # account → why its countdown's last refresh failed
        self._closes: dict[str, dict] = {}  # manual close id → its progress (the latest MAX_TRACKED_CLOSES)
        self.executor = Executor(store, adapters, lambda: self.fence, dry_run=dry_run, clock=clock,
                                 confirm_gap_ms=confirm_gap_ms, still_leader=self._fence_holds, io=self.io)

        self.policy_error: Optional[str] = None  # the last failed reload (the last good graph runs on)
        self._catalog_cache: Optional[tuple] = None  # (snapshots, state, dms, graph, Catalog)
        self._placement_cache: Optional[tuple] = None  # (snapshots, unit prices, equity)
        self._followed: Optional[dict] = None  # as a standby: the leader's saved document last followed
        self.snapshots: dict[str, Snapshot] = {}  # account key → its last snapshot
        self._manual_closes: list[tuple[str, str, int]] = []  # (scope, reason, requested at), for the next tick
        self._manual_holds: dict[str, int] = {}  # manual close id → ticks its orders waited (REMAINDER_OPEN)
        self.sinks: list[Sink] = list(sinks)
        self.sink_context = RunnerSinkContext(self)  # all a sink sees of this runner
        self.sink_errors = 0
        self.counters = {"ticks": 0, "orders_sent": 0, "orders_filled": 0, "orders_rejected": 0,
                         "orders_unknown": 0, "snapshot_failures": 0, "dms_fired": 0}

    # --- persistence ------------------------------------------------------------------------------

    def _load(self) -> tuple[State, LockBook, DeadMansSwitch, dict[str, int]]:
        """What the last leader saved, with its PnL history. A document from before the dead
        man's switch and the resumptions were persisted has neither: both start empty."""
        return self._take_loaded(*self.store.load_engine_state_and_pnl())  # the constructor: no loop yet

    async def _reload(self) -> tuple[State, LockBook, DeadMansSwitch, dict[str, int]]:
        return self._take_loaded(*await self.io(self.store.load_engine_state_and_pnl))

    def _take_loaded(self, doc: Optional[dict], rows: Sequence[PnlSampleRow]) \
            -> tuple[State, LockBook, DeadMansSwitch, dict[str, int]]:
        self._loaded_doc = doc
        self.residuals = ResidualBook.from_doc(doc)  # what closes left open, as the last leader saw it
        self._pnl_saved = _row_marks(rows)
        self._pnl_complete = True
        return self._load_doc(doc, rows)

    @staticmethod
    def _load_doc(doc: Optional[dict], rows: Sequence[PnlSampleRow] = ()) \
            -> tuple[State, LockBook, DeadMansSwitch, dict[str, int]]:
        if not doc:
            return State(), LockBook(), DeadMansSwitch(), {}
        dms = DeadMansSwitch.from_dict(doc["dms"]) if doc.get("dms") is not None else DeadMansSwitch()
        resume = doc.get("resume") or {}
        if not isinstance(resume, dict) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                   for v in resume.values()):
            raise ValueError('the saved "resume" must map "policy|scope" to the reset time in ms')
        return State.from_json(doc["engine"], rows), LockBook.from_json(doc["lock"]), dms, dict(resume)

    async def _save(self) -> None:
        """The state document (small: no PnL samples) and the PnL history's changes since the
        last save (a sample per account when a sample step passed, else nothing), in one write.
        Both are taken from the state as it is when this is called; the write is awaited."""
        doc = {"format_version": STATE_DOC_VERSION, "engine": self.state.to_json(pnl_samples=False),
               "lock": self.lock_book.to_json(), "dms": self.dms.to_dict(),
               "resume": dict(sorted(self.resume_starts.items())), "sinks": self._sink_states(),
               "residuals": self.residuals.to_json()}
        added, kept = pnl_changes(self.state, self._pnl_saved)
        rows = [PnlSampleRow(w, acct, ts, [list(k) for k in keys], values.tolist())
                for w, acct, ts, keys, values in added]
        marks = pnl_marks(self.state)
        await self.io(self.store.save_engine_state, doc, self.graph.digest, self.fence, pnl_added=rows,
                      pnl_kept=kept)
        # (two saves in flight may both add a sample row: the store upserts it)
        self._pnl_saved = marks

    def _sink_states(self) -> dict:
        """What sinks keep across restarts and takeovers (the notification groups and timers)."""
        out = {}
        for sink in self.sinks:
            if isinstance(sink, StatefulSink):
                try:
                    out[sink.name] = sink.state_doc()
                except Exception:  # noqa: BLE001 - a sink's bug must not stop the save of the stage
                    self.sink_errors += 1
        return out

    def _restore_sinks(self, doc: Optional[dict]) -> None:
        saved = (doc or {}).get("sinks") or {}
        for sink in self.sinks:
            if isinstance(sink, RestoringSink):
                try:
                    sink.restore_state(saved.get(sink.name), self.sink_context)
                except Exception:  # noqa: BLE001 - a sink's bug must not keep the runner from leading
                    self.sink_errors += 1

    async def _audit(self, kind: str, ts_ms: int, payload: dict) -> int:
        """An audit row, fenced while this runner acts as leader (FencedError once deposed)."""
        return await self.io(self.store.audit, kind, ts_ms, payload, fence=self.fence if self.leader else None)

    async def _write_lock(self, now: int) -> None:
        """The lock file, as the lock book is now; written (and fsynced) on the store thread, in
        order with the store's writes, so that a slow disk does not stall the loop."""
        if self.lock_path is not None:
            await self.io(write_lock_file, self.lock_path, self.lock_book, now,
                          extra={"resuming": self._resume_doc(now)})

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> ExecutionReport:
        """Take the lease if free and settle what a previous run left pending."""
        if await self._lease(self.clock()):
            report = await self.executor.reconcile()
            # a close that ended short while we were down (an IOC past its price, a remainder
            # cancelled just now) is planned again at the first tick, as if seen at a tick
            for e in await self._retry_unfilled(report.unfilled):
                self.emit(e)
            return report
        return ExecutionReport()

    # Set by ``ksctl run`` (class defaults: a runner built elsewhere has neither).
    lease_keeper: Optional[LeaseKeeper] = None  # the lease thread; None: the tick renews the lease itself
    _home_loop: Optional[asyncio.AbstractEventLoop] = None  # where view calls from other threads run
    _turn: Optional[asyncio.Semaphore] = None  # one operator mutation at a time on that loop
    _turn_loop: Optional[asyncio.AbstractEventLoop] = None
    _stale = False  # a fenced write failed after its change was applied here: reload on the next lease
    _replans_checked = True  # False from a new lease token until the journal was read for lost re-plans

    def hold_lease_with(self, keeper: LeaseKeeper) -> None:
        """Take the lease from ``keeper`` (a thread renewing it) instead of from the tick."""
        self.lease_keeper = keeper

    async def _lease_token(self, now: int) -> Optional[int]:
        if self.lease_keeper is not None:
            return self.lease_keeper.token(now)
        return await self.io(self.store.acquire_lease, self.holder, self.lease_ttl_ms, now)

    async def _lease(self, now: int) -> bool:
        """Whether this runner leads now; on a new token, the state that goes with it first.
        Takes the operator calls' turn: a change is audited, applied and saved under one fencing
        token, never across a change of token (its audit would be fenced off half-way)."""
        async with self._turn_here():
            return await self._lease_locked(now)

    async def _lease_locked(self, now: int) -> bool:
        token = await self._lease_token(now)
        if token is None or token == self.fence:
            self.leader = token is not None
            return self.leader
        # A new token: the lease lapsed or changed hands since we last held it. If another leader
        # moved the state on meanwhile, ours is stale: take theirs. Not leader until the state
        # that goes with the token is in place (an operator call may come between).
        self.leader = False
        reloaded = False
        if self.fence:
            doc = await self.io(self.store.load_engine_state)
            # another leader moved the state on, or a write of ours was fenced off after what it
            # recorded was applied here: the store's state is the one to go on from
            if doc and (self._stale or doc["engine"].get("last_tick_ms") != self.state.last_tick_ms):
                self.state, self.lock_book, self.dms, self.resume_starts = await self._reload()
                self.executor.forget_unconfirmed()
                self.listening_since_ms = now  # heartbeats sent to the other leader were not heard here
                reloaded = True
        self._stale = False
        if not self._pnl_complete:  # followed as a standby between two sample steps: read it all
            self.state, self.lock_book, self.dms, self.resume_starts = await self._reload()
            reloaded = True
        if reloaded or not self.fence:
            # leading from a saved state (the first time, or after another leader): the sinks take
            # up where it left off (notification groups, what was already paged)
            self._restore_sinks(self._loaded_doc if reloaded else await self.io(self.store.load_engine_state))
        self.fence = token
        self.leader = True
        self._replans_checked = False
        return True

    async def _follow(self) -> None:
        """A standby answers reads (the lock, the pre-trade gate, status) from what the leader
        last saved, never from what it loaded at start: at most one tick behind the leader."""
        try:
            doc = await self.io(self.store.load_engine_state)
        except Exception:  # noqa: BLE001 - the store is unreachable: readiness says so; keep the last view
            return
        if doc and doc != self._followed:  # a tick, or an operator's lock, reset or arming
            self._followed = doc
            history = self.state.pnl
            self.state, self.lock_book, self.dms, self.resume_starts = self._load_doc(doc)
            self.residuals = ResidualBook.from_doc(doc)
            # The PnL samples change once per sample step, not every tick: read them again
            # only then, so that following a 10,000-position book costs the small document.
            if _pnl_steps(self.state.pnl) == _pnl_steps(history):
                self.state.pnl = history
            else:
                try:
                    fresh, rows = await self.io(self.store.load_engine_state_and_pnl)
                except Exception:  # noqa: BLE001 - read them at the next change or on taking over
                    self._pnl_complete = False
                    return
                self._followed = fresh
                self.state, self.lock_book, self.dms, self.resume_starts = self._load_doc(fresh, rows)
                self.residuals = ResidualBook.from_doc(fresh)
                self._pnl_saved = _row_marks(rows)
                self._pnl_complete = True

    async def renew(self) -> bool:
        """Between ticks: take up what the lease keeper holds now (a takeover, a lapse), or
        without a keeper renew the lease here (every third of its TTL, so that it never lapses)."""
        return await self._lease(self.clock())

    async def _fence_holds(self) -> bool:
        """Asked before every order: our term has not run out (the keeper could renew it) and
        no one took the lease since (the store's token is still ours)."""
        if self.lease_keeper is not None and not self.lease_keeper.holds(self.fence, self.clock()):
            return False
        try:
            return await self.io(self.store.current_fence) == self.fence
        except Exception:  # noqa: BLE001 - cannot tell: do not send
            return False

    # --- view calls from another thread ---------------------------------------------------------------

    # What only reads: runs as it comes. Anything else takes its turn (see the module doc).
    READ_ONLY_VIEW_CALLS = frozenset({"status", "ready", "lock_document", "check_order", "dms_status",
                                      "close_progress", "runbook", "metrics_text"})

    def serve_views_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """View calls made from other threads (the API's) run on ``loop``, this runner's tick loop."""
        self._home_loop = loop

    async def run_view_call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a view call (one of this runner's methods) where the runner's state lives: on its
        tick loop, whichever loop awaits the answer."""
        home = self._home_loop
        if home is None or home is asyncio.get_running_loop():
            return await self._view_call(fn, args, kwargs)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._view_call(fn, args, kwargs), home))

    async def _view_call(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if getattr(fn, "__name__", None) in self.READ_ONLY_VIEW_CALLS:
            result = fn(*args, **kwargs)
            return (await result) if asyncio.iscoroutine(result) else result
        async with self._turn_here():
            result = fn(*args, **kwargs)
            if asyncio.iscoroutine(result):
                result = await result
            # Keep the turn for one pass of the loop: what is already due (a tick's next step, the
            # lease watchdog) runs before the next operator call, however many are queued.
            await asyncio.sleep(0)
        return result

    def _turn_here(self) -> asyncio.Semaphore:
        """The turn operator changes (and a change of lease token) take, on the running loop."""
        loop = asyncio.get_running_loop()
        if self._turn is None or self._turn_loop is not loop:
            self._turn, self._turn_loop = asyncio.Semaphore(1), loop
        return self._turn

    async def heartbeat(self, source: str, now_ms: Optional[int] = None) -> None:
        """``source`` is alive: its heartbeat age (a signal) and its dead man's switch. The
        leader takes it in at once (saved with the state at its next tick); a standby stores it
        for the leader, which takes it in at its next tick, so a bot may beat at any replica.
        Raises StoreError when a standby cannot store it (the API answers 503: beat again)."""
        now = now_ms if now_ms is not None else self.clock()
        if not self.leader:
            await self.io(self.store.record_heartbeat, source, now)
            return
        self._beat(source, now)

    def _beat(self, source: str, ts_ms: int) -> None:
        record_heartbeat(self.state, source, ts_ms)
        self.dms = self.dms.beat(source, ts_ms)

    async def _take_stored_heartbeats(self, now: int) -> None:
        """Beats the standbys stored since the last tick. A beat is stamped with the clock of
        the replica that took it: one ahead of ours is taken as heard now, once (each stored
        beat counts once, so a fast clock can never keep a silent source alive)."""
        for source, ts_ms in (await self.io(self.store.heartbeats)).items():
            if self._stored_beats.get(source) != ts_ms:
                self._stored_beats[source] = ts_ms
                self._beat(source, min(ts_ms, now))

    # --- one tick ----------------------------------------------------------------------------------------

    async def tick(self) -> TickReport:
        """One tick. A tick slow enough to lose the lease midway (another runner took over) stops
        at the first fenced write or at the renewal before sending: it reports itself deposed."""
        started = time.time_ns()
        report = TickReport(self.clock(), leader=False, started_ns=started)
        try:
            await self._tick(report)
        except FencedError:
            self.leader = False
            self._stale = True
            report.leader = False
            report.execution.deposed = True
        if report.execution.deposed:
            report.events.append(Event.make(DEPOSED, report.now_ms, {"fence": self.fence}, holder=self.holder))
        report.ended_ns = time.time_ns()
        self._to_sinks(report)
        return report

    async def _tick(self, report: TickReport) -> None:
        now = report.now_ms
        if not await self._lease(now):
            await self._follow()
            await self.learn_symbols()  # a standby answers the pre-trade gate too
            return
        report.leader, report.fence = True, self.fence
        if not self._replans_checked:  # the first tick under a token: what a crash may have dropped
            report.events += await self._retry_unfilled(await self._lost_replans())
            self._replans_checked = True
        await self._take_stored_heartbeats(now)
        phase = _Phases(report)
        snapshots = await asyncio.gather(*(self._snapshot(k, a, now) for k, a in self.adapters.items()))
        phase("snapshots")
        report.snapshot_failures = [f"{s.venue}/{s.account}: {s.fetch.error_code}" for s in snapshots if not s.fetch.ok]
        for s in snapshots:
            if not s.fetch.ok:
                report.events.append(Event.make(SNAPSHOT_FAILED, now, {"error": s.fetch.error_code},
                                                venue=s.venue, account=s.account, reason=s.fetch.error_code))
        self.snapshots = {f"{s.venue}/{s.account}": s for s in snapshots}
        ev, self.state = evaluate(self.graph, snapshots, self.state, now, order_rates(self.adapters.values()))
        report.evaluation = ev
        phase("evaluate")
        plans = ev.plans + self._manual_close_plans(snapshots, now)
        # our own orders left resting at an earlier tick are cancelled (and the cancel confirmed)
        # before anything closes their positions again; a position still carrying one waits
        report.execution.merge(await self.executor.cancel_remainders())
        plans, held = await self.executor.hold(plans)
        report.execution.merge(held)
        await self._requeue_held_manual_closes(held.held)
        # A held close is never journaled: its re-plan is recorded now, and saved with the stage
        # entry below, so that a runner stopped at any later point still plans it again.
        replanned: set[str] = set()
        report.events += await self._retry_unfilled(held.held, seen=replanned, save=False)
        report.events += await self._track_residuals(ev, plans, now)
        report.execution.merge(await self.executor.journal(plans))  # 1. intents, before the stage entry is saved
        phase("journal")
        self.lock_book = apply_evaluation(self.lock_book, ev, self.graph)
        fired = self._fire_dms(now)
        rows = self._track_resumptions(ev, now)
        self._arm_native(ev)
        await self._save()  # 2. the stage entry, the lock and a firing survive a crash from here on
        for s in ev.transitions:
            t = s.transition
            await self._audit("stage_transition", now, {
                "policy": s.policy, "scope": s.scope, "from": t.from_level, "to": t.to_level, "reason": t.reason,
                "decision_id": t.decision_id, "graph_digest": self.graph.digest, "revision": self.graph.revision,
                "dry_run": self.dry_run})
            report.events.append(self._transition_event(s, now))
        for kind, payload in rows:
            await self._audit(kind, now, payload)
        for f in fired:
            data = {"source": f.source, "silent_s": f.silent_s, "timeout_s": f.timeout_s, "lock": "halted",
                    "orders": len(f.orders), "orders_unknown": list(f.unknown), "dry_run": self.dry_run}
            await self._audit("dms_fired", now, data)
            report.events.append(Event.make(DMS_FIRED, now, data, source=f.source, scope=f.source, reason=f.reason))
        await self._write_lock(now)
        phase("persist")
        if not await self._lease(self.clock()):  # renewed just before sending: the tick may have been slow
            report.execution.deposed = True
            return
        report.execution.merge(await self.executor.send(plans))  # 3. only now does anything leave
        await self._dms_cancels(fired, now)
        await self.refresh_native()
        phase("send")
        report.execution.merge(await self.executor.reconcile())
        phase("reconcile")
        for o in report.execution.orders:
            if o.status in ("rejected", "failed"):
                report.events.append(Event.make(
                    ORDER_FAILED, now, {"client_order_id": o.client_order_id, "decision_id": o.decision_id,
                                        "symbol": o.symbol, "side": o.side, "amount": o.amount},
                    venue=o.venue, account=o.account, reason=o.code))
        report.events += await self._retry_unfilled(report.execution.unfilled, seen=replanned)
        self._count(report)

    def _transition_event(self, s, now: int) -> Event:
        t = s.transition
        node = next((p for p in self.graph.policies if p.name == s.policy), None)
        stage = next((st for st in node.stages if st.level == t.to_level), None) if node else None
        labels = dict(node.labels) if node is not None else {}
        data = {"from": t.from_level, "to": t.to_level, "reason": t.reason, "decision_id": t.decision_id,
                "incident": t.decision_id,
                "graph_digest": self.graph.digest, "revision": self.graph.revision, "dry_run": self.dry_run,
                "signals": [{"name": v.name, "value": v.value, "reason": v.reason} for v in s.signals],
                "triggers": [tr.name for tr in s.triggers if tr.firing],
                "orders": len(s.plan.orders) if s.plan else 0}
        labels.update(policy=s.policy, scope=s.scope, stage=stage.name if stage else None, level=t.to_level,
                      from_level=t.from_level, owner=node.owner if node is not None else None,
                      venue=s.scope.split("/")[0] if "/" in s.scope else None)
        return Event.make(STAGE_TRANSITION, now, data, **labels)

    def emit(self, event: Event) -> None:
        """An event outside a tick (a reset, a manual close, a failed reload) to every sink."""
        for sink in self.sinks:
            self._guard(sink, sink.on_event, event)

    def _to_sinks(self, report: TickReport) -> None:
        for sink in self.sinks:
            if self._guard(sink, sink.on_tick, report):
                for e in report.events:
                    self._guard(sink, sink.on_event, e)

    def _guard(self, sink: Sink, fn, arg) -> bool:
        try:
            fn(arg, self.sink_context)
            return True
        except Exception as e:  # noqa: BLE001 - a sink never breaks the kill switch
            self.sink_errors += 1
            import sys

            print(f"killswitch: sink {getattr(sink, 'name', sink)!r} failed: {type(e).__name__}: {e}",
                  file=sys.stderr)
            # queued behind the tick's writes, not awaited: a sink is called from sync code, and
            # the store may be what failed
            self.io.forget(self.store.audit, "sink_failed", self.clock(),
                           {"sink": str(getattr(sink, "name", "?")), "error": type(e).__name__},
                           fence=self.fence if self.leader else None)
            return False

    async def aclose(self) -> None:
        for sink in self.sinks:
            try:
                await sink.aclose()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        await asyncio.to_thread(self.io.close)  # what is queued is written before the store closes

    MAX_CLOSE_RETRIES = 20

    async def _retry_unfilled(self, decisions: list[str], *, seen: Optional[set[str]] = None,
                              save: bool = True) -> list[Event]:
        """A close that ended unfilled (an IOC past its protected price, sent late after a crash,
        a thin book that filled part of it, a remainder we cancelled) or that waited for an
        earlier order on its position (held) leaves the position open: plan the entry's closes
        again next tick, from the positions then and at fresh prices, as decision
        "<entry>/r<n>" — once per entry and tick (``seen``: the entries already re-planned this
        tick), however many of its closes fell short. Bounded: once the budget is spent, what is
        still open is recorded as residuals. ``save`` False: the caller saves the state."""
        from ..engine.stages import decision_id as make_id

        events = []
        seen = set() if seen is None else seen
        for did in dict.fromkeys(decisions):
            base = re.sub(r"/r\d+$", "", did)  # a retry belongs to its entry
            if base in seen:
                continue
            seen.add(base)
            for key, ss in self.state.scopes.items():
                policy, _, scope = key.partition("|")
                if ss.stage.level and make_id(policy, scope, ss.stage.level, ss.stage.entries) == base:
                    if ss.stage.retries >= self.MAX_CLOSE_RETRIES:
                        await self._audit("close_retries_exhausted", self.clock(), {"decision_id": did})
                        events.append(Event.make(CLOSE_RETRIES_EXHAUSTED, self.clock(), {"decision_id": did},
                                                 policy=policy, scope=scope, level=ss.stage.level))
                        events += await self._exhausted(policy, scope, ss, base)
                        continue
                    ss.stage.retries += 1
                    ss.stage.deferred = True
                    await self._audit("close_replanned", self.clock(), {"decision_id": did,
                                                                        "retry": ss.stage.retries})
        if decisions and save:
            await self._save()
        return events

    async def _lost_replans(self) -> list[str]:
        """The stage entries whose closes ended short (expired, cancelled or filled short of
        their amount, refused) in their latest round, journaled as final, while the re-plan that
        shortfall calls for was never saved: a runner stopped between the two (a crash, a
        takeover). The latest round is the one the saved retry count names; a stage already
        deferred re-plans by itself. Read from the journal when a runner starts leading."""
        from ..engine.stages import decision_id as make_id

        out = []
        for key, ss in sorted(self.state.scopes.items()):
            if not ss.stage.level or ss.stage.deferred or ss.stage.retries >= self.MAX_CLOSE_RETRIES:
                continue  # (a spent budget was reported as residuals when it ran out)
            policy, _, scope = key.partition("|")
            base = make_id(policy, scope, ss.stage.level, ss.stage.entries)
            latest = f"{base}/r{ss.stage.retries}" if ss.stage.retries else base
            entries = await self.io(self.store.journal_of, base, ss.stage.entered_ms or 0)
            if any(e.decision_id == latest and e.final and ended_short(e.status, e.filled or 0.0, e.amount,
                                                                        e.reduce_only) for e in entries):
                out.append(latest)
        return out

    async def _requeue_held_manual_closes(self, decisions: list[str]) -> None:
        """A manual close whose orders waited for an earlier order on their position is planned
        again at the next tick under its own id (what it journaled already is not sent twice),
        at most MAX_CLOSE_RETRIES times; then it is given up, audited."""
        for did in decisions:
            m = re.fullmatch(r"manual/(.+)/m(\d+)", did)
            if m is None:
                continue
            n = self._manual_holds.get(did, 0) + 1
            self._manual_holds[did] = n
            if n > self.MAX_CLOSE_RETRIES:
                await self._audit("manual_close_given_up", self.clock(), {"id": did, "reason": "REMAINDER_OPEN"})
                continue
            self._manual_closes.append((m.group(1), "held", int(m.group(2))))

    # --- residuals: what closes left open ---------------------------------------------------------------

    async def _track_residuals(self, ev: Evaluation, plans: list, now: int) -> list[Event]:
        """Bring the residual book up to this tick's snapshots (a residual ends with its
        position or its incident), then record the positions this tick's plans found below the
        venue's minimum. Saved with the tick's state."""
        from ..engine.stages import decision_id as make_id

        def positions(account: str) -> Optional[dict]:
            snap = self.snapshots.get(account)
            if snap is None or not snap.fetch.ok:
                return None
            return {(p.symbol, p.position_side if p.position_side in ("LONG", "SHORT") else p.side): p.contracts
                    for p in snap.positions}

        def in_force(r: Residual) -> bool:
            if r.policy is None:
                return True  # a manual close's residual lasts as long as its position
            ss = self.state.scopes.get(f"{r.policy}|{r.scope}")
            return ss is not None and ss.stage.level > 0 and \
                make_id(r.policy, r.scope, ss.stage.level, ss.stage.entries) == r.incident

        for r, why in self.residuals.refresh(positions, in_force, now):
            await self._audit("close_residual_ended", now, {"incident": r.incident, "account": r.account,
                                                            "symbol": r.symbol, "side": r.side, "why": why})
        owners = {se.plan.decision_id: (se.policy, se.scope) for se in ev.scopes if se.plan is not None}
        events = []
        for p in plans:
            incident = re.sub(r"/r\d+$", "", p.decision_id)
            policy, scope = owners.get(p.decision_id, (None, _manual_scope(p.decision_id)))
            for d in p.residuals:
                code, _, detail = d.reason.partition(": ")
                events += await self._residual(Residual(
                    incident, policy, scope, p.stage, f"{d.venue}/{d.account}", d.symbol, d.side, d.position_side,
                    d.amount, code or BELOW_MINIMUM, detail, now, now))
        return events

    async def _exhausted(self, policy: str, scope: str, ss, incident: str) -> list[Event]:
        """The entry's retry budget is spent: every position one of its closes was for that the
        last snapshot still shows is a residual, with what its last close did."""
        last: dict[tuple, Any] = {}
        for e in await self.io(self.store.journal_of, incident, ss.stage.entered_ms or 0):
            leg = e.position_side if e.position_side in ("LONG", "SHORT") else ("long" if e.side == "sell" else "short")
            last[(f"{e.venue}/{e.account}", e.symbol, leg)] = e
        now = self.clock()
        events = []
        for (account, symbol, leg), e in sorted(last.items()):
            snap = self.snapshots.get(account)
            pos = next((p for p in (snap.positions if snap is not None and snap.fetch.ok else ())
                        if p.symbol == symbol and (p.position_side if p.position_side in ("LONG", "SHORT")
                                                   else p.side) == leg), None)
            if pos is None:
                continue
            detail = (f"{ss.stage.retries} re-plans; last close {e.status or 'pending'} "
                      f"filled={e.filled or 0:g} of {e.amount:g}" + (f" ({e.reason_code})" if e.reason_code else ""))
            events += await self._residual(Residual(
                incident, policy, scope, ss.stage.level, account, symbol, pos.side,
                pos.position_side if pos.position_side in ("LONG", "SHORT") else None, pos.contracts,
                RETRIES_SPENT, detail, now, snap.ts_event if snap is not None else now))
        return events

    async def _residual(self, r: Residual) -> list[Event]:
        """Record ``r``; a new one is audited and announced once (``close_residual``)."""
        if not self.residuals.record(r):
            return []
        await self._audit("close_residual", r.since_ms, r.to_json())
        venue = r.account.split("/", 1)[0]
        return [Event.make(CLOSE_RESIDUAL, r.since_ms, {
            "incident": r.incident, "symbol": r.symbol, "side": r.side, "position_side": r.position_side,
            "amount": r.amount, "why": r.why, "detail": r.detail, "dry_run": self.dry_run},
            policy=r.policy, scope=r.scope, level=r.level or None, venue=venue, account=r.account, symbol=r.symbol,
            reason=r.why, severity="warning" if r.why == BELOW_MINIMUM else "critical")]

    async def _snapshot(self, key: str, adapter: ExchangeAdapter, now: int) -> Snapshot:
        """A snapshot never raises here: a hung or failing adapter becomes a failed snapshot."""
        try:
            return await asyncio.wait_for(adapter.snapshot(), self.snapshot_timeout_s)
        except Exception as e:  # noqa: BLE001 - a timeout, an AdapterError or a bug: all become a signal
            code = e.reason.value if isinstance(e, AdapterError) else "TIMEOUT" if isinstance(
                e, asyncio.TimeoutError) else "UNKNOWN"
            venue, _, account = key.partition("/")
            return Snapshot(venue=venue, account=account, market_type="futures", ts_event=now, ts_observed=now,
                            fetch=FetchStatus(ok=False, error_code=code, error=type(e).__name__))

    # --- the dead man's switch -------------------------------------------------------------------------

    def _fire_dms(self, now: int) -> list[_Firing]:
        """Mark the overdue sources fired and halt their scopes (saved with the tick's state;
        the cancels go out with the tick's orders)."""
        names, self.dms = self.dms.fire_due(now, self.listening_since_ms)
        out = []
        for name in names:
            st = self.dms.sources[name]
            silent_s = (now - (st.last_beat_ms or now)) / 1000
            timeout_s = (st.timeout_ms or 0) / 1000
            orders = tuple((key, o.id) for key, snap in sorted(self.snapshots.items()) if snap.fetch.ok
                           for o in snap.orders if o.strategy == name)
            unknown = tuple(sorted(k for k, snap in self.snapshots.items() if not snap.fetch.ok))
            reason = f"DMS_FIRED: source={name} silent={silent_s:g}s timeout={timeout_s:g}s"
            self.lock_book = self.lock_book.apply(
                name, "halted", now_ms=now, policy=DEAD_MANS_SWITCH,
                reason=reason + "; held until the source is armed again (ksctl dms arm) or ksctl unlock",
                details={"source": name, "last_beat_ts": iso_ms(st.last_beat_ms) if st.last_beat_ms else None})
            self.counters["dms_fired"] += 1
            out.append(_Firing(name, reason, silent_s, timeout_s, orders, unknown))
        return out

    async def _dms_cancels(self, fired: list[_Firing], now: int) -> None:
        for f in fired:
            by_account: dict[str, list[str]] = {}
            for key, oid in f.orders:
                by_account.setdefault(key, []).append(oid)
            for key, ids in sorted(by_account.items()):
                doc: dict[str, Any] = {"source": f.source, "account": key, "orders": len(ids)}
                if self.dry_run:
                    await self._audit("dms_cancel_dry_run", now, doc)
                    continue
                try:
                    res = await asyncio.wait_for(self.adapters[key].cancel_orders(CancelSelector(order_ids=tuple(ids))),
                                                 self.snapshot_timeout_s)
                except Exception as e:  # noqa: BLE001 - the halt holds; the failure is on record
                    await self._audit("dms_cancel_failed", now, {**doc, "reason": _code(e)})
                    continue
                await self._audit("dms_orders_canceled", now, {**doc, "canceled": len(res.canceled),
                                                               "failed": dict(res.failed)})

    def _arm_native(self, ev: Evaluation) -> None:
        """A stage's ``arm_exchange_dms``: keep every capable venue account's countdown armed,
        starting now (a re-entry arms it again at once, with the stage's countdown)."""
        if self.dry_run:
            return
        for se in ev.scopes:
            if se.plan is None or not any(d.kind == "arm_exchange_dms" for d in se.plan.directives):
                continue
            for a in self.graph.policy(se.policy).stage(se.plan.stage).actions:
                if not isinstance(a, ArmExchangeDmsAction):
                    continue
                seconds = a.after_ms / 1000
                for key, adapter in self.adapters.items():
                    if adapter.capabilities.cancel_all_after:
                        self.dms = self.dms.disarm_native(key).arm_native(key, seconds)

    def _native_wanted(self) -> bool:
        """Whether a scope is in a stage that arms the venues' countdowns."""
        for key, ss in self.state.scopes.items():
            if not ss.stage.level:
                continue
            node = self._node(key.partition("|")[0])
            stage = next((st for st in node.stages if st.level == ss.stage.level), None) if node else None
            if stage is not None and any(a.kind == "arm_exchange_dms" for a in stage.actions):
                return True
        return False

    async def refresh_native(self) -> None:
        """Re-arm the venues' cancel-all-after countdowns that are due (a third of the countdown
        since the last refresh), or disarm them all once no scope is in a stage that arms them.
        Leader only; failures are audited and shown in status, and retried at the next call."""
        if self.dry_run or not self.leader or not self.dms.native:
            return
        now = self.clock()
        if not self._native_wanted():
            for key in sorted(self.dms.native):
                adapter = self.adapters.get(key)
                try:
                    if adapter is not None:
                        await asyncio.wait_for(adapter.disarm_cancel_all_after(), self.snapshot_timeout_s)
                except Exception as e:  # noqa: BLE001 - kept, so the next call tries again
                    self.native_errors[key] = _code(e)
                    await self._audit("dms_native_disarm_failed", now, {"account": key, "reason": _code(e)})
                    continue
                self.dms = self.dms.disarm_native(key)
                self.native_errors.pop(key, None)
                await self._audit("dms_native_disarmed", now, {"account": key})
            return
        plan = self.dms.native_plan(now, {k: a.capabilities for k, a in self.adapters.items()})
        for key in plan.refresh:
            countdown_s = self.dms.native[key].countdown_ms / 1000
            if key in plan.lapsed:
                await self._audit("dms_native_lapsed", now, {"account": key, "countdown_s": countdown_s,
                                                             "last_refresh_ms": self.dms.native[key].last_refresh_ms})
            try:
                await asyncio.wait_for(self.adapters[key].arm_cancel_all_after(countdown_s), self.snapshot_timeout_s)
            except Exception as e:  # noqa: BLE001 - a refresh that failed is retried at the next call
                self.native_errors[key] = _code(e)
                await self._audit("dms_refresh_failed", now, {"account": key, "reason": _code(e),
                                                              "countdown_s": countdown_s})
                continue
            self.dms = self.dms.refreshed(key, now)
            self.native_errors.pop(key, None)

    # --- resumption after a reset ----------------------------------------------------------------------

    def _node(self, policy: str):
        return next((p for p in self.graph.policies if p.name == policy), None)

    def _start_resumption(self, policy: str, scope: str, from_level: int, now: int) -> Optional[tuple[str, dict]]:
        node = self._node(policy)
        if node is None or node.resume is None or from_level < node.resume.from_level:
            return None
        self.resume_starts[f"{policy}|{scope}"] = now
        return "resumption_started", {"policy": policy, "scope": scope, "from_level": from_level,
                                      "start": node.resume.start_fraction, "step": node.resume.step_factor,
                                      "every_ms": node.resume.step_ms}

    def _track_resumptions(self, ev: Evaluation, now: int) -> list[tuple[str, dict]]:
        """Start a resumption at a reset, end it at a new stage entry or when its limits are
        normal again (or its policy no longer has a resume plan). Returns the audit rows."""
        rows = []
        for s in ev.transitions:
            t = s.transition
            key = f"{s.policy}|{s.scope}"
            if t.kind == "reset":
                row = self._start_resumption(s.policy, s.scope, t.from_level, now)
                if row:
                    rows.append(row)
            elif key in self.resume_starts:
                del self.resume_starts[key]
                rows.append(("resumption_ended", {"policy": s.policy, "scope": s.scope, "why": "STAGE_ENTERED"}))
        for key, since in sorted(self.resume_starts.items()):
            r = self._resumption(key, since)
            if r is None or r.limits(now).done:
                del self.resume_starts[key]
                policy, _, scope = key.partition("|")
                rows.append(("resumption_ended", {"policy": policy, "scope": scope,
                                                  "why": "NO_RESUME_PLAN" if r is None else "NORMAL_LIMITS"}))
        return rows

    def _resumption(self, key: str, since: int) -> Optional[Resumption]:
        policy, _, scope = key.partition("|")
        node = self._node(policy)
        if node is None or node.resume is None:
            return None
        r = node.resume
        plan = ResumePlan(max_positions=r.max_positions, max_gross_exposure=r.max_gross_exposure,
                          start_fraction=r.start_fraction, step_factor=r.step_factor, step_ms=r.step_ms)
        return Resumption(plan, since, scope)

    def _resumptions(self, now: int) -> list[tuple[str, Resumption]]:
        """(policy, resumption) of every resumption in force at ``now``."""
        out = []
        for key, since in sorted(self.resume_starts.items()):
            r = self._resumption(key, since)
            if r is not None and not r.limits(now).done:
                out.append((key.partition("|")[0], r))
        return out

    def _resume_status(self, now: int) -> tuple[ResumeStatus, ...]:
        out = []
        for policy, r in self._resumptions(now):
            lim = r.limits(now)
            out.append(ResumeStatus(policy, r.scope or "", r.reset_ms, lim.day, lim.days, round(lim.fraction, 6),
                                    lim.max_positions, lim.max_gross_exposure, lim.until_ms))
        return tuple(out)

    def _resume_doc(self, now: int, scope: Optional[str] = None) -> dict:
        """The limits in force, by scope, as the lock document shows them (for one scope: the
        resumptions of that scope and of ``global``)."""
        doc: dict[str, Any] = {}
        for st in self._resume_status(now):
            if scope is not None and st.scope not in (scope, "global"):
                continue
            doc[st.scope] = {"policy": st.policy, "since_ts": iso_ms(st.since_ms), "day": st.day, "days": st.days,
                             "fraction": st.fraction, "max_positions": st.max_positions,
                             "max_gross_exposure": st.max_gross_exposure,
                             "steps_up_ts": iso_ms(st.until_ms) if st.until_ms is not None else None}
        return doc

    # --- what the API and the operator commands see (RunnerView) ------------------------------------

    def _count(self, report: TickReport) -> None:
        x = report.execution
        c = self.counters
        c["ticks"] += 1
        c["orders_sent"] += x.sent
        c["orders_filled"] += x.filled
        c["orders_rejected"] += len(x.rejected)
        c["orders_unknown"] += len(x.unknown)
        c["snapshot_failures"] += len(report.snapshot_failures)

    def status(self) -> RunnerStatus:
        scopes = []
        for key, ss in sorted(self.state.scopes.items()):
            policy, _, scope = key.partition("|")
            node = next((p for p in self.graph.policies if p.name == policy), None)
            stage = next((st for st in node.stages if st.level == ss.stage.level), None) if node else None
            scopes.append(ScopeStatus(policy, scope, ss.stage.level, stage.name if stage else None,
                                      bool(stage and stage.manual), tuple(ss.stage.approvals),
                                      stage.approvals if stage and stage.manual else (1 if stage else 0),
                                      ss.stage.entered_ms))
        now = self.clock()
        # the engine's rule (a frozen feed ages from its last change), so status and triggers agree
        ages = {k: round(age / 1000, 3) for k, a in sorted(self.state.accounts.items())
                if (age := a.data_age_ms(now)) is not None}
        residuals = tuple(ResidualStatus(r.incident, r.policy, r.scope, r.account, r.symbol, r.side, r.position_side,
                                         r.amount, r.why, r.detail, r.since_ms, r.as_of_ms) for r in self.residuals)
        return RunnerStatus("dry-run" if self.dry_run else "live", self.leader, self.fence, self.graph.digest,
                            self.graph.revision, self.policy_error, self.state.last_tick_ms, tuple(scopes), ages,
                            self._resume_status(now), self.dms_status(), residuals)

    async def ready(self) -> tuple[bool, str]:
        try:
            await self.io(self.store.current_fence)
        except Exception as e:  # noqa: BLE001 - readiness reports, it does not raise
            return False, f"STATE_UNREACHABLE: {type(e).__name__}"
        if self.state.last_tick_ms is None:
            return False, "NO_TICK_YET"
        return True, "LEADER" if self.leader else "STANDBY"

    def lock_document(self, scope: Optional[str] = None) -> dict:
        """The lock (all of it, or what binds ``scope``), with the resumed limits in force."""
        now = self.clock()
        doc = self.lock_book.to_doc(now) if scope is None else self.lock_book.for_scope(scope, now).to_doc()
        return {**doc, "resuming": self._resume_doc(now, scope)}

    def check_order(self, request: dict) -> Decision:
        account = request.get("account") if isinstance(request, dict) else None
        snap = self.snapshots.get(account) if isinstance(account, str) else None
        positions = list(snap.positions) if snap is not None and snap.fetch.ok else None
        now = self.clock()
        return check_order(self.lock_book, request, positions, now, resume=[r for _, r in self._resumptions(now)],
                           placement=self.placement(now))

    # --- what the runner knows by name -------------------------------------------------------------------

    def catalog(self, now: Optional[int] = None) -> Catalog:
        """The names a human or a bot may use here (see :mod:`.scopes`); built from the adapters,
        the graph, the state, the dead man's switch and the last snapshots, and cached until one
        of them changes."""
        now = self.clock() if now is None else now
        snaps, state, dms, graph = self.snapshots, self.state, self.dms, self.graph
        cached = self._catalog_cache
        if cached is None or cached[0] is not snaps or cached[1] is not state or cached[2] is not dms \
                or cached[3] is not graph:
            strategies = set(dms.sources) | set(state.heartbeats)
            for adapter in self.adapters.values():
                strategies |= adapter.strategy_names()
            for node in graph.policies:
                strategies |= set(node.scope.get("strategies") or ())
                strategies |= {sig.source for sig in node.signals if isinstance(sig, HeartbeatAgeSignal)}
            for snap in snaps.values():
                if snap.fetch.ok:
                    strategies |= {p.strategy for p in snap.positions if p.strategy}
                    strategies |= {o.strategy for o in snap.orders if o.strategy}
            policy_scopes: dict[str, set[str]] = {node.name: set() for node in graph.policies}
            for key in state.scopes:
                policy, _, scope = key.partition("|")
                if policy in policy_scopes:
                    policy_scopes[policy].add(scope)
                    if next(n for n in graph.policies if n.name == policy).scope.get("level") == "strategy":
                        strategies.add(scope)
            cat = Catalog(accounts=frozenset(self.adapters), strategies=frozenset(strategies),
                          symbols={k: self._symbols_of(k, a) for k, a in self.adapters.items()},
                          policy_scopes={p: frozenset(v) for p, v in policy_scopes.items()})
            cached = self._catalog_cache = (snaps, state, dms, graph, cat)
        held = frozenset(h.scope for h in self.lock_book.in_force(now))
        return replace(cached[4], held=held)

    def _symbols_of(self, key: str, adapter: ExchangeAdapter) -> Optional[frozenset[str]]:
        listed = adapter.symbols()
        snap = self.snapshots.get(key)
        seen: Optional[frozenset[str]] = None
        if snap is not None and snap.fetch.ok:
            seen = frozenset(snap.markets) | {p.symbol for p in snap.positions} | {o.symbol for o in snap.orders}
        if listed is None:
            return seen
        return listed | seen if seen else listed

    def placement(self, now: Optional[int] = None) -> Placement:
        """What the pre-trade gate places an order with: the catalog, the last mark of every symbol
        held, and each account's equity from its last good snapshot."""
        now = self.clock() if now is None else now
        snaps = self.snapshots
        cached = self._placement_cache
        if cached is None or cached[0] is not snaps:
            units: dict[str, float] = {}
            for snap in snaps.values():
                if snap.fetch.ok:
                    for p in snap.positions:
                        if p.symbol not in units and p.mark_price > 0:
                            units[p.symbol] = p.mark_price * p.contract_size
            equity = {k: (s.equity if s.fetch.ok else None) for k, s in snaps.items()}
            cached = self._placement_cache = (snaps, units, equity)
        return Placement(self.catalog(now), cached[1], cached[2])

    async def learn_symbols(self) -> None:
        """Read the markets of every account whose symbols are not known yet (a standby takes no
        snapshots; the pre-trade gate needs them). A failure is retried at the next call."""
        missing = [a for a in self.adapters.values() if a.symbols() is None]
        if missing:
            await asyncio.gather(*(a.load_symbols() for a in missing), return_exceptions=True)
            self._catalog_cache = None

    async def reset(self, policy: str, scope: str, approver: str, reason: str) -> ResetResult:
        """An approval of a manual reset by ``approver`` (the authenticated identity). The
        approval is worked out on a copy of the stage, audited, and only then applied to the
        stage as it is after the audit row is stored: if the tick moved the stage on meanwhile,
        the approval is void (``STAGE_CHANGED``, audited) and nothing is applied."""
        from ..engine.stages import approve_reset

        if not self.leader:
            return ResetResult(False, f"NOT_LEADER: this runner ({self.holder}) is a standby; send the reset to "
                                      "the leader")
        node = next((p for p in self.graph.policies if p.name == policy), None)
        key = f"{policy}|{scope}"
        unknown = self.catalog().resolve_policy_scope(policy, scope)
        if node is None or key not in self.state.scopes or unknown is not None:
            return ResetResult(False, unknown.reason if unknown is not None else f"UNKNOWN_SCOPE: {policy} {scope}")
        now = self.clock()
        before = copy.deepcopy(self.state.scopes[key].stage)
        level = before.level
        trial = copy.deepcopy(before)
        transition, why = approve_reset(node, scope, trial, approver, now)
        try:
            await self._audit("reset_approval", now, {"policy": policy, "scope": scope, "level": level,
                                                      "approver": approver, "reason": reason, "result": why})
        except FencedError:
            self.leader = False
            return ResetResult(False, self._deposed())
        ss = self.state.scopes.get(key)
        if ss is None or ss.stage != before:
            why = (f"STAGE_CHANGED: the stage of {policy} {scope} changed while the approval was being recorded; "
                   "nothing was applied: approve again")
            try:
                await self._audit("reset_approval_void", now, {"policy": policy, "scope": scope, "level": level,
                                                               "approver": approver, "result": why})
            except FencedError:
                self.leader = False
            return ResetResult(False, why)
        ss.stage = trial  # what was audited, applied to the stage it was worked out on
        if level:
            await self.io(self.store.record_approval, f"{key}|e{ss.stage.entries}", level, approver, reason, now)
        self.emit(Event.make(RESET, now, {"approver": approver, "reason": reason, "result": why,
                                          "released": transition is not None},
                             policy=policy, scope=scope, level=level))
        if transition is not None:
            self.lock_book = self.lock_book.release(scope, policy=policy)
            row = self._start_resumption(policy, scope, level, now)
            if self.leader:
                try:
                    if row:
                        await self._audit(row[0], now, row[1])
                    await self._save()
                except FencedError:
                    # this reset did not happen: whoever leads next, this runner included, goes
                    # on from the store, not from the stage released here
                    self.leader = False
                    self._stale = True
                    return ResetResult(False, self._deposed())
                await self._write_lock(now)
        return ResetResult(transition is not None, why)

    def _deposed(self) -> str:
        return f"DEPOSED: another runner holds the lease (fence {self.fence} is stale); nothing changed here"

    async def close(self, scope: str, reason: str, dry_run: bool, *, actor: Optional[str] = None) -> CloseResult:
        """A manual emergency close: close_all over ``scope`` through the planner and the journal,
        at the next tick (``dry_run``: only say how many orders it would send now). ``actor``: the
        authenticated caller, audited."""
        snaps = list(self.snapshots.values())
        if not snaps:
            return CloseResult(False, f"NO_SNAPSHOT: this runner ({self.holder}) has no snapshot yet (a standby "
                                      "takes none): nothing to close or preview here")
        plans = self._close_plans(scope, snaps, self.clock(), "preview")
        if not plans:
            known = set().union(*self.catalog().policy_scopes.values()) if self.graph.policies else set()
            return CloseResult(False, f"UNKNOWN_SCOPE: no policy instance named {scope!r} in the last snapshots"
                                      f"{_did_you_mean(scope, known)}")
        orders = sum(len(p.orders) for p in plans)
        # accounts of the scope whose last snapshot failed: their positions are not in the count
        unread = self._unread_in(scope)
        if dry_run:
            if unread:
                return CloseResult(False, f"INCOMPLETE: {', '.join(unread)} could not be read: the {orders} order(s) "
                                          "counted leave out its positions; nothing was sent", orders)
            return CloseResult(True, f"DRY_RUN: {orders} order(s) would be sent", orders)
        if not self.leader:
            return CloseResult(False, f"NOT_LEADER: this runner ({self.holder}) is a standby; send the close to "
                                      "the leader", orders)
        at = self.clock()
        close_id = f"manual/{scope}/m{at}"
        try:
            await self._audit("manual_close_requested", at, {"scope": scope, "reason": reason, "id": close_id,
                                                             **_by(actor)})
        except FencedError:
            self.leader = False
            return CloseResult(False, self._deposed())
        self._manual_closes.append((scope, reason, at))
        self._closes[close_id] = {"scope": scope, "requested_ms": at, "preview": orders, "processed_ms": None,
                                  "orders": None}
        while len(self._closes) > MAX_TRACKED_CLOSES:
            del self._closes[next(iter(self._closes))]
        self.emit(Event.make(MANUAL_CLOSE, at, {"reason": reason, "orders": orders, "id": close_id}, scope=scope))
        not_read = f"; not read now: {', '.join(unread)}" if unread else ""
        return CloseResult(True, f"QUEUED: close of {scope} at the next tick ({orders} order(s) now{not_read})", orders,
                           close_id)

    def _manual_close_plans(self, snapshots, now: int) -> list:
        plans = []
        for scope, _reason, at in self._manual_closes:
            mine = self._close_plans(scope, snapshots, now, f"m{at}")
            info = self._closes.get(f"manual/{scope}/m{at}")
            if info is not None:
                info.update(processed_ms=now, orders=sum(len(p.orders) for p in mine) if mine else None)
            plans += mine
        self._manual_closes = []
        return plans

    async def close_progress(self, close_id: str) -> Optional[dict]:
        """Where a manual close stands: ``queued`` (before its tick), ``working`` (orders without a
        final result), ``settled`` (every order has one), ``dry_run`` (planned and audited, not
        sent), ``unplanned`` (its scope was not in the tick's snapshots: nothing was sent)."""
        info = self._closes.get(close_id)
        if info is None:
            return None
        doc: dict[str, Any] = {"id": close_id, "scope": info["scope"], "requested_ts": iso_ms(info["requested_ms"]),
                               "mode": "dry-run" if self.dry_run else "live", "orders": info["preview"],
                               "settled": 0, "filled": 0, "open": 0, "unfilled": 0, "statuses": {}}
        if info["processed_ms"] is None:
            return {**doc, "state": "queued"}
        if info["orders"] is None:
            return {**doc, "state": "unplanned", "orders": 0}
        doc["orders"] = info["orders"]
        if self.dry_run:
            return {**doc, "state": "dry_run"}
        entries = [e for e in await self.io(self.store.journal, limit=10_000, since=info["requested_ms"])
                   if e.decision_id == close_id or e.decision_id.startswith(close_id + "/")]
        statuses = Counter(e.status or "pending" for e in entries)
        settled = sum(statuses[s] for s in FINAL_ORDER_STATUSES)
        done = settled == len(entries) and len(entries) >= info["orders"]
        return {**doc, "state": "settled" if done else "working", "settled": settled, "filled": statuses["filled"],
                "open": len(entries) - settled, "unfilled": settled - statuses["filled"],
                "statuses": dict(sorted(statuses.items()))}

    # --- operator changes: locks and the dead man's switch ---------------------------------------------

    async def _change(self, kind: str, payload: dict,
                      update: Callable[[LockBook, DeadMansSwitch], tuple[LockBook, DeadMansSwitch]]) -> Optional[str]:
        """Audit an operator's change (fenced), apply ``update`` to the lock book and the dead
        man's switch as they are once the audit row is stored (the tick may have moved them on
        while it was written), save it and rewrite the lock file. None when done; else why it
        was refused, and nothing changed."""
        if not self.leader:
            return f"NOT_LEADER: this runner ({self.holder}) is a standby; send the change to the leader"
        now = self.clock()
        try:
            await self._audit(kind, now, payload)
        except FencedError:
            self.leader = False
            return self._deposed()
        old = (self.lock_book, self.dms)
        new = update(*old)
        self.lock_book, self.dms = new
        try:
            await self._save()
        except FencedError:
            if self.lock_book is new[0] and self.dms is new[1]:
                self.lock_book, self.dms = old  # nothing moved them since: take the change back
            self._stale = True  # whatever else moved, the store decides when the lease comes back
            self.leader = False
            return self._deposed()
        await self._write_lock(now)
        return None

    async def _refused(self, kind: str, payload: dict, why: str) -> ChangeResult:
        try:
            await self._audit(kind, self.clock(), {**payload, "refused": why})
        except FencedError:
            self.leader = False
        return ChangeResult(False, why)

    async def lock_scope(self, scope: str, mode: str, reason: str, ttl_s: Optional[float] = None, *,
                         actor: Optional[str] = None) -> ChangeResult:
        """An operator's lock on ``scope``: it replaces the operator's earlier lock of that scope
        and holds until ``unlock_scope`` or its ttl. A scope the runner does not know is refused
        (``UNKNOWN_SCOPE`` with close matches): a lock on a typo would stop nothing."""
        payload = {"scope": scope, "mode": mode, "ttl_s": ttl_s, "reason": reason, **_by(actor)}
        if mode not in ("halted", "reducing"):
            return ChangeResult(False, f'BAD_REQUEST: mode is "halted" or "reducing", not {mode!r}')
        unknown = self.catalog().resolve_scope(scope)
        if unknown is not None:
            return await self._refused("manual_lock", payload, unknown.reason)
        ttl_ms = None
        if ttl_s is not None:
            ttl_ms = int(round(ttl_s * 1000))
            if ttl_ms <= 0:
                return ChangeResult(False, "BAD_REQUEST: ttl must be at least 1ms")
        now = self.clock()
        until = "until ksctl unlock" if ttl_ms is None else f"until {iso_ms(now + ttl_ms)}"
        refused = await self._change("manual_lock", payload, lambda book, dms: (
            book.release(scope, policy=OPERATOR).apply(
                scope, mode, now_ms=now, policy=OPERATOR, ttl_ms=ttl_ms, details={"reason": reason},
                reason=f"MANUAL_LOCK: mode={mode} {until}: {reason}"), dms))
        if refused:
            return ChangeResult(False, refused)
        return ChangeResult(True, f"LOCKED: scope={scope} mode={mode} {until}")

    async def unlock_scope(self, scope: str, reason: str, *, actor: Optional[str] = None) -> ChangeResult:
        """Lift the operator's and the dead man's switch's locks on exactly ``scope``. Refused,
        lifting nothing, while a policy's stage also holds it, or when the scope is unknown."""
        now = self.clock()
        payload = {"scope": scope, "reason": reason, **_by(actor)}
        unknown = self.catalog(now).resolve_scope(scope)
        if unknown is not None:
            return await self._refused("manual_unlock", payload, unknown.reason)
        held = [h for h in self.lock_book.in_force(now) if h.scope == scope]
        stages = [h for h in held if h.policy not in NOT_A_POLICY]
        latched = next((h for h in stages if h.manual), None)
        if latched is not None:
            return await self._refused("manual_unlock", payload, (
                f"MANUAL_RESET_REQUIRED: {scope} is held by stage {latched.stage} of policy {latched.policy} "
                f"until a manual reset (ksctl reset --policy {latched.policy} --scope {scope}); nothing was lifted"))
        if stages:
            h = stages[0]
            until = f"until {iso_ms(h.expires_ms)}" if h.expires_ms is not None else "until its stage resets"
            return await self._refused("manual_unlock", payload, (
                f"POLICY_LOCK: {scope} is held by stage {h.stage} of policy {h.policy} {until}; ksctl unlock lifts "
                "only operator and dead man's switch locks; nothing was lifted"))
        mine = [h for h in held if h.policy in NOT_A_POLICY]
        if not mine:
            return await self._refused("manual_unlock", payload,
                                       f"NOT_LOCKED: no operator or dead man's switch lock on {scope}")
        lifted = sorted({"operator" if h.policy == OPERATOR else "dead man's switch" for h in mine})
        def lift(book: LockBook, dms: DeadMansSwitch) -> tuple[LockBook, DeadMansSwitch]:
            for origin in NOT_A_POLICY:
                book = book.release(scope, policy=origin)
            return book, dms

        refused = await self._change("manual_unlock", {**payload, "lifted": lifted}, lift)
        if refused:
            return ChangeResult(False, refused)
        return ChangeResult(True, f"UNLOCKED: {scope} ({' and '.join(lifted)} lock lifted)")

    async def dms_arm(self, source: str, timeout_s: float, *, actor: Optional[str] = None) -> ChangeResult:
        """Watch ``source``: it must beat within ``timeout_s``. Arming lifts the halt an earlier
        firing of that source left (someone looked)."""
        now = self.clock()
        try:
            self.dms.arm(source, timeout_s, now)  # the arguments are checked before anything is audited
        except ValueError as e:
            return ChangeResult(False, f"BAD_REQUEST: {e}")
        locked = any(h.scope == source and h.policy == DEAD_MANS_SWITCH for h in self.lock_book.in_force(now))
        refused = await self._change(
            "dms_armed", {"source": source, "timeout_s": timeout_s, "lock_released": locked, **_by(actor)},
            lambda book, dms: (book.release(source, policy=DEAD_MANS_SWITCH), dms.arm(source, timeout_s, now)))
        if refused:
            return ChangeResult(False, refused)
        return ChangeResult(True, f"DMS_ARMED: source={source} timeout={timeout_s:g}s"
                                  + ("; the halt of its last firing was lifted" if locked else ""))

    async def dms_disarm(self, source: str, *, actor: Optional[str] = None) -> ChangeResult:
        """Stop watching ``source``. A halt its firing left stays (ksctl unlock, or arm it again)."""
        st = self.dms.sources.get(source)
        if st is None or not st.armed:
            return ChangeResult(False, f"NOT_ARMED: source {source} is not armed")
        locked = any(h.scope == source and h.policy == DEAD_MANS_SWITCH for h in self.lock_book.in_force(self.clock()))
        refused = await self._change("dms_disarmed", {"source": source, **_by(actor)},
                                     lambda book, dms: (book, dms.disarm(source)))
        if refused:
            return ChangeResult(False, refused)
        return ChangeResult(True, f"DMS_DISARMED: source={source}"
                                  + ("; the halt of its firing stays until ksctl unlock" if locked else ""))

    def dms_status(self) -> dict:
        now = self.clock()
        in_force = self.lock_book.in_force(now)
        sources = {}
        for name, st in self.dms.status(now).items():
            sources[name] = {**st.to_json(), "locked": any(h.scope == name and h.policy == DEAD_MANS_SWITCH
                                                           for h in in_force)}
        native = {}
        if self.dms.native:
            plan = self.dms.native_plan(now, {k: a.capabilities for k, a in self.adapters.items()})
            for key, n in sorted(self.dms.native.items()):
                last = n.last_refresh_ms
                native[key] = {
                    "countdown_s": n.countdown_ms / 1000,
                    "last_refresh_age_s": None if last is None else max(0, now - last) / 1000,
                    # when the venue cancels everything if no refresh comes before
                    "cancels_in_s": None if last is None else max(0, last + n.countdown_ms - now) / 1000,
                    "refresh_due": key in plan.refresh, "lapsed": key in plan.lapsed,
                    "supported": key not in plan.unsupported, "error": self.native_errors.get(key)}
        return {"format_version": 1, "listening_since_ts": iso_ms(self.listening_since_ms), "sources": sources,
                "native": native}

    def _unread_in(self, scope: str) -> list[str]:
        """The accounts of ``scope``'s policy instance whose last snapshot failed."""
        from ..engine.scope import instances

        for node in self.graph.policies:
            for view in instances(node, list(self.snapshots.values())):
                if view.key == scope:
                    return sorted(f"{s.venue}/{s.account} ({s.fetch.error_code})" for s in view.snapshots
                                  if not s.fetch.ok)
        return []

    def _close_plans(self, scope: str, snapshots, now: int, tag: str) -> list:
        from ..compile.graph import StageNode
        from ..engine.planner import plan
        from ..engine.scope import instances

        stage = StageNode(0, "manual-close", (), None, "manual", None, 1, (CloseAllAction(),))
        out = []
        for node in self.graph.policies:
            for view in instances(node, snapshots):
                if view.key == scope:
                    hist = self.state.pnl.get(node.attribution.reference_window_ms)
                    out.append(plan(node, stage, view, f"manual/{scope}/{tag}", now, hist,
                                    rates=order_rates(self.adapters.values())))
                    return out
        return out

    async def runbook(self, incident: str):
        """The stored runbook of an incident (the runbook sink writes it at the stage entry)."""
        return await self.io(self.store.runbook, incident)

    def metrics_text(self) -> str:
        lines = ["# TYPE killswitch_ticks_total counter", f"killswitch_ticks_total {self.counters['ticks']}",
                 "# TYPE killswitch_leader gauge", f"killswitch_leader {int(self.leader)}",
                 "# TYPE killswitch_orders_total counter"]
        for result in ("sent", "filled", "rejected", "unknown"):
            lines.append(f'killswitch_orders_total{{result="{result}"}} {self.counters["orders_" + result]}')
        lines += ["# TYPE killswitch_snapshot_failures_total counter",
                  f"killswitch_snapshot_failures_total {self.counters['snapshot_failures']}",
                  "# TYPE killswitch_stage gauge"]
        for key, ss in sorted(self.state.scopes.items()):
            policy, _, scope = key.partition("|")
            lines.append(f'killswitch_stage{{policy="{_esc(policy)}",scope="{_esc(scope)}"}} {ss.stage.level}')
        lines.append("# TYPE killswitch_data_age_seconds gauge")
        now = self.clock()
        for k, a in sorted(self.state.accounts.items()):
            if (age := a.data_age_ms(now)) is not None:
                lines.append(f'killswitch_data_age_seconds{{account="{_esc(k)}"}} {age / 1000:g}')
        lines += ["# TYPE killswitch_sink_errors_total counter", f"killswitch_sink_errors_total {self.sink_errors}",
                  "# TYPE killswitch_dms_fired_total counter",
                  f"killswitch_dms_fired_total {self.counters['dms_fired']}",
                  "# TYPE killswitch_dms_seconds_until_fire gauge"]
        for name, st in self.dms.status(now).items():
            if st.armed and st.fires_in_s is not None:
                lines.append(f'killswitch_dms_seconds_until_fire{{source="{_esc(name)}"}} {st.fires_in_s:g}')
        text = "\n".join(lines) + "\n"
        if self.lease_keeper is not None:  # renewals, failures and loop stalls of the lease thread
            text += self.lease_keeper.metrics_text()
        for sink in self.sinks:
            if isinstance(sink, MetricsSink):
                try:
                    text += sink.metrics_text()
                except Exception:  # noqa: BLE001 - a broken sink's metrics are left out, not the page
                    self.sink_errors += 1
        return text


class _Phases:
    """Marks the end of each phase of a tick: phase i runs from the end of phase i-1."""

    def __init__(self, report: TickReport):
        self.report = report
        self.last = report.started_ns

    def __call__(self, name: str) -> None:
        now = time.time_ns()
        self.report.phases[name] = (self.last, now)
        self.last = now


def _code(e: BaseException) -> str:
    if isinstance(e, AdapterError):
        return e.reason.value
    return "TIMEOUT" if isinstance(e, asyncio.TimeoutError) else type(e).__name__


def _by(actor: Optional[str]) -> dict:
    """The audited author of an operator's change (the authenticated identity), when known."""
    return {"by": actor} if actor else {}


def _did_you_mean(name: str, known) -> str:
    near = close_matches(name, known)
    return f"; did you mean {', '.join(repr(k) for k in near)}?" if near else ""


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _row_marks(rows: Sequence[PnlSampleRow]) -> PnlMarks:
    """Where each stored PnL history starts and ends (rows in time order per history)."""
    marks: PnlMarks = {}
    for r in rows:
        key = (r.window_ms, r.account)
        first = marks[key][0] if key in marks else r.ts_ms
        marks[key] = (first, r.ts_ms)
    return marks


def _manual_scope(decision_id: str) -> str:
    """The scope of a manual close's decision id, "manual/<scope>/m<ms>"."""
    return re.sub(r"^manual/|/m\d+$", "", decision_id)


def _pnl_steps(histories: dict) -> dict[int, Optional[int]]:
    """Each PnL history's next sample time: it moves exactly when a sample was taken."""
    return {w: h.next_sample_ms for w, h in histories.items()}
