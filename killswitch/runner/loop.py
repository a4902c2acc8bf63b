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
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from adapters.base import AdapterError, ExchangeAdapter

from ..compile.graph import DecisionGraph
from ..engine.evaluate import Evaluation, evaluate
from ..engine.state import State, record_heartbeat
from ..snapshot import FetchStatus, Snapshot
from .executor import ExecutionReport, Executor
from .gate import Decision, check_order
from .lock import LockBook, apply_evaluation, write_lock_file
from .sinks import (CLOSE_RETRIES_EXHAUSTED, DEPOSED, MANUAL_CLOSE, ORDER_FAILED, RESET, SNAPSHOT_FAILED,
                    STAGE_TRANSITION, Event, Sink)
from .view import CloseResult, ResetResult, RunnerStatus, ScopeStatus

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
        self.state, self.lock_book = self._load()
        self.executor = Executor(store, adapters, lambda: self.fence, dry_run=dry_run, clock=clock,
                                 confirm_gap_ms=confirm_gap_ms, still_leader=self._fence_holds)

        self.policy_error: Optional[str] = None  # the last failed reload (the last good graph runs on)
        self.snapshots: dict[str, Snapshot] = {}  # account key → its last snapshot
        self._manual_closes: list[tuple[str, str, int]] = []  # (scope, reason, requested at), for the next tick
        self.sinks: list[Sink] = list(sinks)
        self.sink_errors = 0
        self.counters = {"ticks": 0, "orders_sent": 0, "orders_filled": 0, "orders_rejected": 0,
                         "orders_unknown": 0, "snapshot_failures": 0}

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
        if token is not None and token != self.fence:
            # A new token: the lease lapsed or changed hands since we last held it. If another
            # leader moved the state on meanwhile, ours is stale: take theirs.
            if self.fence:
                doc = self.store.load_engine_state()
                if doc and doc["engine"].get("last_tick_ms") != self.state.last_tick_ms:
                    self.state, self.lock_book = self._load()
                    self.executor.forget_unconfirmed()
            self.fence = token
        return self.leader

    def renew(self) -> bool:
        """Renew the lease between ticks (every third of its TTL), so that it never lapses."""
        return self._lease(self.clock())

    def _fence_holds(self) -> bool:
        try:
            return self.store.current_fence() == self.fence
        except Exception:  # noqa: BLE001 - cannot tell: do not send
            return False

    def heartbeat(self, source: str, now_ms: Optional[int] = None) -> None:
        record_heartbeat(self.state, source, now_ms if now_ms is not None else self.clock())

    # --- one tick ----------------------------------------------------------------------------------------

    async def tick(self) -> TickReport:
        """One tick. A tick slow enough to lose the lease midway (another runner took over) stops
        at the first fenced write or at the renewal before sending: it reports itself deposed."""
        from ..state.store import FencedError

        started = time.time_ns()
        report = TickReport(self.clock(), leader=False, started_ns=started)
        try:
            await self._tick(report)
        except FencedError:
            self.leader = False
            report.leader = False
            report.execution.deposed = True
        if report.execution.deposed:
            report.events.append(Event.make(DEPOSED, report.now_ms, {"fence": self.fence}, holder=self.holder))
        report.ended_ns = time.time_ns()
        self._to_sinks(report)
        return report

    async def _tick(self, report: TickReport) -> None:
        now = report.now_ms
        if not self._lease(now):
            return
        report.leader, report.fence = True, self.fence
        phase = _Phases(report)
        snapshots = await asyncio.gather(*(self._snapshot(k, a, now) for k, a in self.adapters.items()))
        phase("snapshots")
        report.snapshot_failures = [f"{s.venue}/{s.account}: {s.fetch.error_code}" for s in snapshots if not s.fetch.ok]
        for s in snapshots:
            if not s.fetch.ok:
                report.events.append(Event.make(SNAPSHOT_FAILED, now, {"error": s.fetch.error_code},
                                                venue=s.venue, account=s.account, reason=s.fetch.error_code))
        self.snapshots = {f"{s.venue}/{s.account}": s for s in snapshots}
        ev, self.state = evaluate(self.graph, snapshots, self.state, now)
        report.evaluation = ev
        phase("evaluate")
        plans = ev.plans + self._manual_close_plans(snapshots, now)
        report.execution.merge(self.executor.journal(plans))  # 1. intents, before the stage entry is saved
        phase("journal")
        self.lock_book = apply_evaluation(self.lock_book, ev, self.graph)
        self._save()  # 2. the stage entry and the lock survive a crash from here on
        for s in ev.transitions:
            t = s.transition
            self.store.audit("stage_transition", now, {
                "policy": s.policy, "scope": s.scope, "from": t.from_level, "to": t.to_level, "reason": t.reason,
                "decision_id": t.decision_id, "graph_digest": self.graph.digest, "revision": self.graph.revision,
                "dry_run": self.dry_run})
            report.events.append(self._transition_event(s, now))
        if self.lock_path is not None:
            write_lock_file(self.lock_path, self.lock_book, now)
        phase("persist")
        if not self._lease(self.clock()):  # renewed just before sending: the tick may have been slow
            report.execution.deposed = True
            return
        report.execution.merge(await self.executor.send(plans))  # 3. only now does anything leave
        await self._native_dms(plans)
        phase("send")
        report.execution.merge(await self.executor.reconcile())
        phase("reconcile")
        for o in report.execution.orders:
            if o.status in ("rejected", "failed"):
                report.events.append(Event.make(
                    ORDER_FAILED, now, {"client_order_id": o.client_order_id, "decision_id": o.decision_id,
                                        "symbol": o.symbol, "side": o.side, "amount": o.amount},
                    venue=o.venue, account=o.account, reason=o.code))
        report.events += self._retry_unfilled(report.execution.unfilled)
        self._count(report)

    def _transition_event(self, s, now: int) -> Event:
        t = s.transition
        node = next((p for p in self.graph.policies if p.name == s.policy), None)
        stage = next((st for st in node.stages if st.level == t.to_level), None) if node else None
        meta = node.model.metadata if node is not None and node.model is not None else None
        labels = dict(getattr(meta, "labels", None) or {})
        data = {"from": t.from_level, "to": t.to_level, "reason": t.reason, "decision_id": t.decision_id,
                "incident": t.decision_id,
                "graph_digest": self.graph.digest, "revision": self.graph.revision, "dry_run": self.dry_run,
                "signals": [{"name": v.name, "value": v.value, "reason": v.reason} for v in s.signals],
                "triggers": [tr.name for tr in s.triggers if tr.firing],
                "orders": len(s.plan.orders) if s.plan else 0}
        labels.update(policy=s.policy, scope=s.scope, stage=stage.name if stage else None, level=t.to_level,
                      from_level=t.from_level, owner=getattr(meta, "owner", None),
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
            fn(arg, self)
            return True
        except Exception as e:  # noqa: BLE001 - a sink never breaks the kill switch
            self.sink_errors += 1
            import sys

            print(f"killswitch: sink {getattr(sink, 'name', sink)!r} failed: {type(e).__name__}: {e}",
                  file=sys.stderr)
            try:
                self.store.audit("sink_failed", self.clock(), {"sink": str(getattr(sink, "name", "?")),
                                                                "error": type(e).__name__})
            except Exception:  # noqa: BLE001 - the store may be what failed
                pass
            return False

    async def aclose(self) -> None:
        for sink in self.sinks:
            try:
                await sink.aclose()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass

    MAX_CLOSE_RETRIES = 20

    def _retry_unfilled(self, decisions: list[str]) -> list[Event]:
        """A close that ended unfilled (an IOC past its protected price, sent late after a crash,
        or a market that ran) leaves the position open: plan the entry's closes again next tick,
        at fresh prices, as decision "<entry>/r<n>". Bounded; exhausting it is audited."""
        from ..engine.stages import decision_id as make_id

        events = []
        for did in dict.fromkeys(decisions):
            base = re.sub(r"/r\d+$", "", did)  # a retry belongs to its entry
            for key, ss in self.state.scopes.items():
                policy, _, scope = key.partition("|")
                if ss.stage.level and make_id(policy, scope, ss.stage.level, ss.stage.entries) == base:
                    if ss.stage.retries >= self.MAX_CLOSE_RETRIES:
                        self.store.audit("close_retries_exhausted", self.clock(), {"decision_id": did})
                        events.append(Event.make(CLOSE_RETRIES_EXHAUSTED, self.clock(), {"decision_id": did},
                                                 policy=policy, scope=scope, level=ss.stage.level))
                        continue
                    ss.stage.retries += 1
                    ss.stage.deferred = True
                    self.store.audit("close_replanned", self.clock(), {"decision_id": did,
                                                                         "retry": ss.stage.retries})
        if decisions:
            self._save()
        return events

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
        ages = {k: round((now - a.last_good_ms) / 1000, 3) for k, a in sorted(self.state.accounts.items())
                if a.last_good_ms is not None}
        return RunnerStatus("dry-run" if self.dry_run else "live", self.leader, self.fence, self.graph.digest,
                            self.graph.revision, self.policy_error, self.state.last_tick_ms, tuple(scopes), ages)

    def ready(self) -> tuple[bool, str]:
        try:
            self.store.current_fence()
        except Exception as e:  # noqa: BLE001 - readiness reports, it does not raise
            return False, f"STATE_UNREACHABLE: {type(e).__name__}"
        if self.state.last_tick_ms is None:
            return False, "NO_TICK_YET"
        return True, "LEADER" if self.leader else "STANDBY"

    def lock_document(self, scope: Optional[str] = None) -> dict:
        now = self.clock()
        if scope is None:
            return self.lock_book.to_doc(now)
        return self.lock_book.for_scope(scope, now).to_doc()

    def check_order(self, request: dict) -> Decision:
        account = request.get("account") if isinstance(request, dict) else None
        snap = self.snapshots.get(account) if isinstance(account, str) else None
        positions = list(snap.positions) if snap is not None and snap.fetch.ok else None
        return check_order(self.lock_book, request, positions, self.clock())

    def reset(self, policy: str, scope: str, approver: str, reason: str) -> ResetResult:
        from ..engine.stages import approve_reset

        node = next((p for p in self.graph.policies if p.name == policy), None)
        key = f"{policy}|{scope}"
        if node is None or key not in self.state.scopes:
            return ResetResult(False, f"UNKNOWN_SCOPE: {policy} {scope}")
        now = self.clock()
        ss = self.state.scopes[key]
        level = ss.stage.level
        transition, why = approve_reset(node, scope, ss.stage, approver, now)
        self.store.audit("reset_approval", now, {"policy": policy, "scope": scope, "level": level,
                                                  "approver": approver, "reason": reason, "result": why})
        if level:
            self.store.record_approval(f"{key}|e{ss.stage.entries}", level, approver, reason, now)
        self.emit(Event.make(RESET, now, {"approver": approver, "reason": reason, "result": why,
                                          "released": transition is not None},
                             policy=policy, scope=scope, level=level))
        if transition is not None:
            self.lock_book = self.lock_book.release(scope, policy=policy)
            if self.leader:
                self._save()
                if self.lock_path is not None:
                    write_lock_file(self.lock_path, self.lock_book, now)
        return ResetResult(transition is not None, why)

    def close(self, scope: str, reason: str, dry_run: bool) -> CloseResult:
        """A manual emergency close: close_all over ``scope`` through the planner and the journal,
        at the next tick (``dry_run``: only say how many orders it would send now)."""
        snaps = list(self.snapshots.values())
        plans = self._close_plans(scope, snaps, self.clock(), "preview")
        if not plans:
            return CloseResult(False, f"UNKNOWN_SCOPE: no policy instance named {scope}")
        orders = sum(len(p.orders) for p in plans)
        if dry_run:
            return CloseResult(True, f"DRY_RUN: {orders} order(s) would be sent", orders)
        self._manual_closes.append((scope, reason, self.clock()))
        self.store.audit("manual_close_requested", self.clock(), {"scope": scope, "reason": reason})
        self.emit(Event.make(MANUAL_CLOSE, self.clock(), {"reason": reason, "orders": orders}, scope=scope))
        return CloseResult(True, f"QUEUED: close of {scope} at the next tick ({orders} order(s) now)", orders)

    def _manual_close_plans(self, snapshots, now: int) -> list:
        plans = []
        for scope, _reason, at in self._manual_closes:
            plans += self._close_plans(scope, snapshots, now, f"m{at}")
        self._manual_closes = []
        return plans

    def _close_plans(self, scope: str, snapshots, now: int, tag: str) -> list:
        from ..compile.graph import ActionNode, StageNode
        from ..engine.planner import plan
        from ..engine.scope import instances

        stage = StageNode(0, "manual-close", (), None, "manual", None, 1, (ActionNode("close_all", {}),))
        out = []
        for node in self.graph.policies:
            for view in instances(node, snapshots):
                if view.key == scope:
                    hist = self.state.pnl.get(node.model.spec.attribution.reference_window.ms)
                    out.append(plan(node, stage, view, f"manual/{scope}/{tag}", now, hist))
                    return out
        return out

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
            if a.last_good_ms is not None:
                lines.append(f'killswitch_data_age_seconds{{account="{_esc(k)}"}} {(now - a.last_good_ms) / 1000:g}')
        lines += ["# TYPE killswitch_sink_errors_total counter", f"killswitch_sink_errors_total {self.sink_errors}"]
        text = "\n".join(lines) + "\n"
        for sink in self.sinks:
            extra = getattr(sink, "metrics_text", None)
            if extra is not None:
                try:
                    text += extra()
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


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
