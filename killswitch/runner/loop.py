"""The runner: one tick = lease → snapshots → evaluate → journal → persist → lock → send → reconcile.

What it owns: the wiring of the pure engine to the world — adapters (snapshots and orders),
the state store (engine state, journal, audit, lease), the trading lock file. The order of a
tick is the crash-safety argument (see :mod:`killswitch.runner.executor`): intents are
journaled before the state that records the stage entry is saved, and sent only after both.

On start the runner reloads the engine state and the lock book from the store — a halt stays
a halt after a crash — takes the lease, and reconciles every pending order intent before its
first tick. A runner that does not hold the lease (a standby) evaluates nothing and sends nothing.

It must not decide anything itself: every decision comes from ``evaluate``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from adapters.base import AdapterError, ExchangeAdapter

from ..compile.graph import DecisionGraph
from ..engine.evaluate import Evaluation, evaluate
from ..engine.state import State, record_heartbeat
from ..snapshot import FetchStatus, Snapshot
from .executor import ExecutionReport, Executor
from .lock import LockBook, apply_evaluation, write_lock_file

STATE_DOC_VERSION = 1


def wall_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class TickReport:
    now_ms: int
    leader: bool
    fence: Optional[int] = None
    evaluation: Optional[Evaluation] = None
    execution: ExecutionReport = field(default_factory=ExecutionReport)
    snapshot_failures: list[str] = field(default_factory=list)

    @property
    def transitions(self) -> list:
        return self.evaluation.transitions if self.evaluation else []


class Runner:
    def __init__(self, graph: DecisionGraph, adapters: dict[str, ExchangeAdapter], store, *,
                 lock_path: Optional[Path] = None, dry_run: bool = True, holder: str = "runner",
                 lease_ttl_ms: int = 5_000, snapshot_timeout_s: float = 10.0,
                 clock: Callable[[], int] = wall_ms, confirm_gap_ms: int = 2_000):
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
        self.state, self.lock_book = self._load()
        self.executor = Executor(store, adapters, lambda: self.fence, dry_run=dry_run, clock=clock,
                                 confirm_gap_ms=confirm_gap_ms)

    # --- persistence ------------------------------------------------------------------------------

    def _load(self) -> tuple[State, LockBook]:
        doc = self.store.load_engine_state()
        if not doc:
            return State(), LockBook()
        return State.from_json(doc["engine"]), LockBook.from_json(doc["lock"])

    def _save(self) -> None:
        doc = {"format_version": STATE_DOC_VERSION, "engine": self.state.to_json(), "lock": self.lock_book.to_json()}
        self.store.save_engine_state(doc, self.graph.digest, self.fence)

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> ExecutionReport:
        """Take the lease if free and settle what a previous run left pending."""
        if self._lease(self.clock()):
            return await self.executor.reconcile()
        return ExecutionReport()

    def _lease(self, now: int) -> bool:
        token = self.store.acquire_lease(self.holder, self.lease_ttl_ms, now)
        self.leader = token is not None
        if token is not None:
            self.fence = token
        return self.leader

    def heartbeat(self, source: str, now_ms: Optional[int] = None) -> None:
        record_heartbeat(self.state, source, now_ms if now_ms is not None else self.clock())

    # --- one tick ----------------------------------------------------------------------------------------

    async def tick(self) -> TickReport:
        now = self.clock()
        if not self._lease(now):
            return TickReport(now, leader=False)
        report = TickReport(now, leader=True, fence=self.fence)
        snapshots = await asyncio.gather(*(self._snapshot(k, a, now) for k, a in self.adapters.items()))
        report.snapshot_failures = [f"{s.venue}/{s.account}: {s.fetch.error_code}" for s in snapshots if not s.fetch.ok]
        ev, self.state = evaluate(self.graph, snapshots, self.state, now)
        report.evaluation = ev
        plans = ev.plans
        report.execution.merge(self.executor.journal(plans))  # 1. intents, before the stage entry is saved
        self.lock_book = apply_evaluation(self.lock_book, ev, self.graph)
        self._save()  # 2. the stage entry and the lock survive a crash from here on
        for s in ev.transitions:
            t = s.transition
            self.store.audit("stage_transition", now, {
                "policy": s.policy, "scope": s.scope, "from": t.from_level, "to": t.to_level, "reason": t.reason,
                "decision_id": t.decision_id, "graph_digest": self.graph.digest, "revision": self.graph.revision,
                "dry_run": self.dry_run})
        if self.lock_path is not None:
            write_lock_file(self.lock_path, self.lock_book, now)
        report.execution.merge(await self.executor.send(plans))  # 3. only now does anything leave
        await self._native_dms(plans)
        report.execution.merge(await self.executor.reconcile())
        return report

    async def _snapshot(self, key: str, adapter: ExchangeAdapter, now: int) -> Snapshot:
        """A snapshot never raises here: a hung or failing adapter becomes a failed snapshot."""
        try:
            return await asyncio.wait_for(adapter.snapshot(), self.snapshot_timeout_s)
        except (asyncio.TimeoutError, AdapterError, Exception) as e:  # noqa: BLE001 - becomes a signal
            code = e.reason.value if isinstance(e, AdapterError) else "TIMEOUT" if isinstance(
                e, asyncio.TimeoutError) else "UNKNOWN"
            venue, _, account = key.partition("/")
            return Snapshot(venue=venue, account=account, market_type="futures", ts_event=now, ts_observed=now,
                            fetch=FetchStatus(ok=False, error_code=code, error=type(e).__name__))

    async def _native_dms(self, plans) -> None:
        if self.dry_run:
            return
        for plan in plans:
            for d in plan.directives:
                if d.kind != "arm_exchange_dms":
                    continue
                from ..policy.units import parse_duration

                seconds = parse_duration(d.params.get("after", "60s")).seconds
                for key, adapter in self.adapters.items():
                    if not adapter.capabilities.cancel_all_after:
                        continue
                    try:
                        await adapter.arm_cancel_all_after(seconds)
                    except AdapterError as e:
                        self.store.audit("dms_arm_failed", self.clock(), {"account": key, "reason": e.reason.value})
