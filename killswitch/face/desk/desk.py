"""The operator's desk: the runner as the HTTP API, the console and the tests' operators see it.

What it owns: :class:`Desk`, which implements :class:`~killswitch.face.runner_view.RunnerView` over
the runner's parts, above the runner — the reads (the readout, :mod:`killswitch.face.readout.readout`;
the positions, :mod:`killswitch.face.readout.positions`; the actions' previews,
:mod:`killswitch.face.readout.previews`; the charts, :mod:`killswitch.face.readout.charts`), the
pre-trade gate (:mod:`killswitch.runner.watch.pretrade`), the commands
(:mod:`killswitch.runner.operator.commands`, :mod:`~killswitch.runner.operator.closes`,
:mod:`~killswitch.runner.operator.accepts`, :mod:`~killswitch.runner.operator.revoke_commands`,
:mod:`killswitch.runner.silence.silences`), the heartbeats (:mod:`killswitch.runner.effects.countdowns`),
the turn its calls are carried in (:mod:`killswitch.runner.lease.turn`) and, on a shard, the firm
link its firm-wide commands are routed through (:class:`~killswitch.runner.firm_slot.FirmRoutes`)
and the firm board, both read from the :class:`~killswitch.runner.firm_slot.FirmSlot` it is
handed. Each view call is one delegation to the part that owns it, plus the log line of an
operator's change (:mod:`.oplog`) and, for a reset, the silences of the incident it ends: a call
whose entry in the operations' table (:mod:`killswitch.view.operations`) names that part (``by``)
is made from the entry (:func:`_forward`); a call that does more is a method here. Built by
:func:`killswitch.process.bootstrap.build_runner_and_desk` from the same parts as the
:class:`~killswitch.runner.tick.loop.Runner`, which keeps the tick and the lease; no module of
the runner imports it.

Threads. The API serves from a thread of its own (:mod:`killswitch.face.api.thread`) and hands every view call
to the tick's loop (:meth:`Desk.run_view_call`): reads as they come, changes one at a time in the
turn (:class:`~killswitch.runner.lease.turn.Turn`), which the tick holds from start to end ahead of every change
waiting, so that no queue of operator calls delays a tick by more than the one change being
applied when it asks. Every method is quick and never blocks on an exchange.

Must not: hold or receive the runner, decide anything itself (the parts do), or change the book
but through a part's command.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from ...firmlink.local import LocalKill
from ...runner.effects.countdowns import Countdowns
from ...runner.firm_slot import FirmSlot
from ...runner.gate.request import Decision
from ...runner.lease.leadership import Leadership
from ...runner.lease.turn import Turn
from ...runner.operator.accepts import RejectionAccepts
from ...runner.operator.closes import ManualCloses
from ...runner.operator.commands import OperatorCommands
from ...runner.operator.revoke_commands import OperatorRevokes
from ...runner.override.overrides import Overrides
from ...runner.silence.silences import Silences
from ...runner.storeio import StoreIO
from ...runner.sync.tracker import PolicySync
from ...runner.watch.pretrade import Pretrade
from ...state.store import FencedError, StateStore, StoreError
from ...view import (
    ChangeResult,
    CloseResult,
    OverrideResult,
    ResetResult,
    RunnerStatus,
)
from ...view.operations import OPERATIONS, Operation
from ...view.policy_sync import DriftVerdict, verdict_doc
from ..readout.charts import Charts
from ..readout.positions import PositionsReadout
from ..readout.previews import Previews
from ..readout.readout import Readout
from .firm_kill import FirmKillDesk
from .oplog import said
from .request_audits import RequestAudits


class Desk(RequestAudits, FirmKillDesk):
    """The API's :class:`~killswitch.face.runner_view.RunnerView`, from the runner's parts; see the module doc.
    ``firm`` (a shard's firm link) and ``firm_board`` are read from the :class:`FirmSlot` it is
    handed, which the composition root fills on a shard."""

    if TYPE_CHECKING:  # the calls made from the operations' table (_forward), which a type checker cannot see
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, *, readout: Readout, pretrade: Pretrade, previews: Previews, commands: OperatorCommands,
                 closes: ManualCloses, silencing: Silences, operator_revokes: OperatorRevokes,
                 positions: PositionsReadout,
                 countdowns: Countdowns, charts: Charts, turn: Turn, lead: Leadership, store: StateStore,
                 io: StoreIO, clock: Callable[[], int], accepts: RejectionAccepts,
                 firm: FirmSlot, sync: PolicySync, holder: str, overriding: Overrides, local_kill: LocalKill):
        self.overriding = overriding  # the overrides of the pre-trade limits (runner/override/)
        self.accepts = accepts  # the closes the venue refused, accepted by a person
        self.readout, self.previews, self.commands, self.closes = readout, previews, commands, closes
        self.pretrade = pretrade  # the pre-trade gate: its published view answers the API's thread
        self.silencing, self.operator_revokes, self.position_readout = silencing, operator_revokes, positions
        self.countdowns, self.charts, self.turn, self.lead = countdowns, charts, turn, lead
        self.store, self.io, self.clock = store, io, clock
        # a shard's FirmLink (firmlink/firm.py): firm-wide commands become directives
        self._firm = firm
        self._local_kill = local_kill  # the firm-wide kill while the slot stays empty (no shard)
        self.sync, self.holder = sync, holder  # the policy sync, and the name its drift verdict is kept under

    @property
    def firm_board(self) -> Any:
        """The shard's :class:`~killswitch.firmlink.board.BoardLink` (None: not a shard's runner)."""
        return self._firm.board

    async def firm_shards(self) -> dict:  # FIRM_NOT_SHARDED without shards
        board = self._firm.board
        return await board.read() if board is not None else {"error": "FIRM_NOT_SHARDED"}

    # --- where the calls run --------------------------------------------------------------------------

    def serve_views_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """View calls made from other threads (the API's) run on ``loop``, the runner's tick loop."""
        self.turn.home = loop

    async def run_view_call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a view call (one of this desk's methods) where the runner's state lives: reads as
        they come, anything else in its turn (see :class:`~killswitch.runner.lease.turn.Turn`)."""
        return await self.turn.run_view_call(fn, args, kwargs)

    def add_metrics(self, collector: Any) -> None:
        """``collector.collect_metrics(registry)`` adds its families to every scrape of
        ``/metrics`` (the API's admission of writes, the supervisor, the firm link, ...)."""
        self.readout.collectors.append(collector)

    # --- overrides of the pre-trade limits (runner/override/) ------------------------------------------

    async def override_request(self, scope: str, kind: str, reason_code: str, reason: str, expires_s: float, *,
                               actor: str, strategy: Optional[str] = None, limit: Optional[str] = None,
                               raise_to: Optional[float] = None, order: Optional[str] = None) -> OverrideResult:
        result = await self.overriding.request(scope, kind, reason_code, reason, expires_s, actor=actor,
                                               strategy=strategy, limit=limit, raise_to=raise_to, order=order)
        return said("override request", actor, result, scope=scope, kind=kind, limit=limit, order=order)

    async def override_approve(self, override_id: str, *, actor: str) -> OverrideResult:
        result = await self.overriding.approve(override_id, actor=actor)
        return said("override approve", actor, result, id=override_id)

    async def override_end(self, override_id: str, *, actor: str) -> OverrideResult:
        result = await self.overriding.end(override_id, actor=actor)
        return said("override end", actor, result, id=override_id)

    # --- heartbeats -----------------------------------------------------------------------------------

    async def heartbeat(self, source: str, now_ms: Optional[int] = None) -> Optional[str]:
        """``source`` is alive: its heartbeat age (a signal) and its dead man's switch. The
        leader takes it in at once (saved with the state at its next tick); a standby stores it
        for the leader, which takes it in at its next tick, so a bot may beat at any replica.
        A source nothing names, or a new one past the bound, is refused: the reason
        (``UNKNOWN_SOURCE``, ``SOURCES_FULL``: :mod:`killswitch.runner.effects.beat_sources`), else None. Raises
        StoreError when a standby cannot store it (the API answers 503: beat again)."""
        return (await self.heartbeats((source,), now_ms)).get(source)

    async def heartbeats(self, sources: Sequence[str], now_ms: Optional[int] = None) -> dict[str, str]:
        """Every one of ``sources`` is alive (a batch of the API's coalesced beats), as
        :meth:`heartbeat` each, all stamped ``now``; a standby stores them in one store call.
        The refused ones, each with its reason."""
        now = now_ms if now_ms is not None else self.clock()
        refused = self.countdowns.refusals(sources, now)
        taken = [s for s in sources if s not in refused]
        if not self.lead.leader:
            if taken:
                await self.io(self.store.record_heartbeats, {s: now for s in taken})
            return refused
        self.countdowns.beat_many(taken, now)
        return refused

    # --- reads ----------------------------------------------------------------------------------------

    def status(self) -> RunnerStatus:
        return replace(self.readout.status(), silences_idle=self.silencing.idle_flags())

    def status_all(self) -> RunnerStatus:  # the status with every dead man's switch source (?dms=all)
        return replace(self.readout.status(dms_shown=None), silences_idle=self.silencing.idle_flags())

    def check_order_now(self, request: dict, counted: bool = True) -> Decision:  # on the API's thread
        return self.pretrade.gate.check(request, counted)  # from the view published

    async def runbook(self, incident: str) -> Any:  # the runbook sink writes it at the stage entry
        return await self.io(self.store.runbook, incident)

    async def runbooks(self, since_ms: Optional[int] = None, limit: int = 50) -> Any:
        return await self.io(self.store.runbooks, since_ms, None, limit)

    async def firm_status(self) -> dict:  # FIRM_NOT_SHARDED without shards
        return await self.firm.status() if self.firm is not None else {"error": "FIRM_NOT_SHARDED"}

    def metrics_page(self) -> Any:  # the values on this loop; the text written by the API off it
        return self.readout.metrics_page()

    # --- changes (each in the turn; a shard routes its firm-wide ones to the firm) ---------------------

    async def reset(self, policy: str, scope: str, approver: str, reason: str,
                    confirm_relatch: bool = False) -> ResetResult:
        if self.firm is not None and (routed := await self.firm.route_reset(policy, scope, approver, reason,
                                                                            confirm_relatch)):
            return said("reset", approver, routed, policy=policy, scope=scope)  # the firm lease holder's to apply
        open_ = self.silencing.open_incidents()  # the incident being reset, before it ends
        incident = next((i for i, (p, s, _) in open_.items() if p == policy and s == scope), None)
        result = await self.commands.reset(policy, scope, approver, reason, confirm_relatch)
        if result.done and incident is not None:  # the silences made for it or holding its pages
            result = replace(result, silences=self.silencing.for_incident(incident, open_))
            try:
                await self.silencing.settle()  # those made from it ended with it: now, recorded
            except FencedError:
                self.lead.deposed()
        return said("reset", approver, result, policy=policy, scope=scope)

    async def withdraw_reset(self, policy: str, scope: str, approver: str, reason: str) -> ResetResult:
        return said("reset withdraw", approver, await self.commands.withdraw(policy, scope, approver, reason),
                    policy=policy, scope=scope)

    async def lock_scope(self, scope: str, mode: str, reason: str, ttl_s: Optional[float] = None, *,
                         actor: Optional[str] = None, enforce: Optional[dict] = None,
                         sink_down: Optional[str] = None) -> ChangeResult:
        if self.firm is not None and (routed := await self.firm.route("lock", scope, {
                "mode": mode, "reason": reason, "ttl_s": ttl_s, "enforce": enforce}, actor)) is not None:
            return said("lock", actor, routed, scope=scope, mode=mode, ttl_s=ttl_s)
        # an operator's lock is never refused for want of a leader: applied, or stored for the next one
        return said("lock", actor, await self.commands.lock_scope(scope, mode, reason, ttl_s, actor=actor,
                                                                  enforce=enforce, leaderless=True,
                                                                  sink_down=sink_down),
                    scope=scope, mode=mode, ttl_s=ttl_s)

    async def unlock_scope(self, scope: str, reason: str, *, actor: Optional[str] = None) -> ChangeResult:
        if self.firm is not None and (routed := await self.firm.route("unlock", scope, {"reason": reason},
                                                                      actor)) is not None:
            return said("unlock", actor, routed, scope=scope)
        return said("unlock", actor, await self.commands.unlock_scope(scope, reason, actor=actor), scope=scope)

    async def close(self, scope: str, reason: str, dry_run: bool, *, actor: Optional[str] = None,
                    symbol: Optional[str] = None, preview_id: Optional[str] = None,
                    max_notional: Optional[float] = None, leg: Optional[str] = None) -> CloseResult:
        if not dry_run and self.firm is not None and (routed := await self.firm.route(
                "close_all", scope, {"reason": reason}, actor)) is not None:  # every shard previews and closes its own
            return said("close", actor, CloseResult(routed.done, routed.reason), scope=scope)
        result = await self.closes.close(scope, reason, dry_run, actor=actor, symbol=symbol, preview_id=preview_id,
                                         max_notional=max_notional, leg=leg)
        return result if dry_run else said("close", actor, result, scope=scope)  # a preview changes nothing

    async def record_drift(self, verdict: DriftVerdict) -> ChangeResult:
        """The checker's verdict about this runner (``ksctl drift --post``): stored under this
        runner's holder name (a standby's too: each replica is checked for what it runs), then
        shown in the status, the console and ``/metrics``. ``STATE_UNREACHABLE`` when it cannot
        be stored: a verdict that would not survive a restart is not shown either."""
        now = self.clock()
        try:  # with the graph it is about: a runner of the store running it may take it up (sync/kept.py)
            await self.io(self.store.save_policy_drift, self.holder, verdict_doc(verdict), now, self.sync.digest)
        except StoreError as e:
            return said("policy drift", verdict.by, ChangeResult(False, f"STATE_UNREACHABLE: {e}"))
        self.sync.record(replace(verdict, posted_ms=now))
        return said("policy drift", verdict.by, ChangeResult(True, f"DRIFT_RECORDED: {verdict.state}"),
                    state=verdict.state, against=verdict.against)


def _forward(op: Operation) -> Callable[..., Any]:
    """The desk's call of ``op``: its part's method (``op.by``), its answer handed back as the
    part gives it (a coroutine is awaited by whoever calls), or, for a change the operator's log
    says (``op.audit``), awaited and said with the names of ``op.logged`` (:mod:`.oplog`)."""
    part, method = op.by.split(".")

    def call(self: Desk, *args: Any, **kwargs: Any) -> Any:
        return getattr(getattr(self, part), method)(*args, **kwargs)

    async def change(self: Desk, *args: Any, **kwargs: Any) -> Any:
        target = getattr(getattr(self, part), method)
        named = inspect.signature(target).bind(*args, **kwargs).arguments
        return said(op.audit, kwargs.get(op.caller), await target(*args, **kwargs),
                    **{k: named.get(k) for k in op.logged})

    fn = change if op.audit else call
    fn.__name__, fn.__qualname__, fn.__doc__ = op.name, f"Desk.{op.name}", op.doc or None
    return fn


for _entry in OPERATIONS:
    if _entry.by and not hasattr(Desk, _entry.name):
        setattr(Desk, _entry.name, _forward(_entry))
