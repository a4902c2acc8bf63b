"""An approval of a manual reset: worked out on a copy of the stage, audited, then applied.

What it owns: :class:`ResetApprovals` (the operator commands' reset, a part of
:class:`~.commands.OperatorCommands`), :func:`trial_reset` and :func:`engaged_now` (what a reset
of an instance at stage 0 could have meant). An approval taken is applied to the stage as it is
once its audit row is stored (the tick may have moved it on: ``STAGE_CHANGED``, void); a refused
one (``NOT_ENGAGED``, ``DUPLICATE_APPROVER``, ``RELATCH_UNCONFIRMED``, a mistyped policy or
scope: ``UNKNOWN_POLICY``, ``UNKNOWN_SCOPE``) is audited and answered,
and nothing else happens: no stage, approval or event is touched.

Must not: change what a policy's stage holds except through ``approve_reset``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from ...engine.removed import reset_needs
from ...engine.stages import StageTransition, approve_reset, decision_id, withdraw_approval
from ...engine.state import Removal, StageState
from ...events import RESET, Event, every_audit_row
from ...notify.message import iso
from ...state.store import FencedError, StateStore
from ...view import ResetResult, TriggerStatus
from ...view.relatch import relatch_unconfirmed, still_firing, taken
from ..book.book import Book
from ..book.resuming import Resumptions
from ..book.revoke_state import holder_of
from ..collaborators import Emits, Names, Saves
from ..effects.revokes import Revokes
from ..lease.leadership import Leadership
from ..storeio import StoreIO
from ..venue.planned import PlannedOrders


class ResetApprovals:
    """The reset of :class:`~.commands.OperatorCommands`; the attributes are that class's, set
    when it is built."""

    book: Book
    lead: Leadership
    resumptions: Resumptions
    store: StateStore
    io: StoreIO
    clock: Callable[[], int]
    known: Names
    persist: Saves
    sinks: Emits
    triggers: Callable[[], Sequence[TriggerStatus]]
    revokes: Optional[Revokes]

    async def reset(self, policy: str, scope: str, approver: str, reason: str,
                    confirm_relatch: bool = False) -> ResetResult:
        """An approval of a manual reset by ``approver`` (the authenticated identity), in the
        module doc's order. One taken while a trigger that enters a stage of the policy still
        fires (the stage would be entered again at the next tick) is refused
        (``RELATCH_UNCONFIRMED``, with the warning) unless ``confirm_relatch``."""
        if (refused := self.lead.not_leader("reset")) is not None:
            return ResetResult(False, refused)
        book = self.book
        key = f"{policy}|{scope}"
        node, removal, unknown = resettable(book, self.known, policy, scope)
        now = self.clock()
        ss = book.state.scopes.get(key)
        if unknown is not None or ss is None or ss.stage.level == 0:
            # a reset that already passed ended the instance (removed) or left it at stage 0: say so
            since = max(ss.stage.last_entry_ms.values(), default=0) if unknown is None and ss is not None else 0
            passed = await self.io(last_reset, self.store, policy, scope, since)
            if passed is not None:
                return await self._already_reset(policy, scope, approver, reason, now, passed, unknown is not None)
        if unknown is not None or ss is None:  # a mistyped name: a reset attempt all the same, audited
            return await self._refused_attempt(policy, scope, approver, reason, now,
                                               unknown or f"UNKNOWN_SCOPE: {policy} {scope}")
        before = copy.deepcopy(ss.stage)
        level = before.level
        trial, transition, why = trial_reset(node, scope, before, approver, now, removal)
        if transition is not None and removal is None:  # a stage entered again at once continues what it ends
            trial, transition, why = trial_reset(node, scope, before, approver, now, removal,
                                                 await self._ended(policy, scope, before))
        why += engaged_now(book.state.scopes, policy, scope) if why.startswith("NOT_ENGAGED") else ""
        relatch = firing_again(node, scope, removal, transition, why, self.triggers)
        if relatch and not confirm_relatch:
            why = relatch_unconfirmed(policy, scope)
        if deposed := await self.lead.audit_or_deposed("reset_approval", now, {
                "policy": policy, "scope": scope, "level": level, "approver": approver, "reason": reason,
                "result": why}):
            return ResetResult(False, deposed)
        if relatch and not confirm_relatch:  # audited, not applied
            return ResetResult(False, why, relatch)
        ss = book.state.scopes.get(key)
        if ss is None or ss.stage != before:
            why = (f"STAGE_CHANGED: the stage of {policy} {scope} changed while the approval was being recorded; "
                   "nothing was applied: approve again")
            try:
                await self.lead.audit("reset_approval_void", now, {"policy": policy, "scope": scope, "level": level,
                                                                   "approver": approver, "result": why})
            except FencedError:
                self.lead.leader = False
            return ResetResult(False, why)
        if not taken(transition, why):  # refused (NOT_ENGAGED, DUPLICATE_APPROVER): audited above, no page
            return ResetResult(False, why)
        return await self._apply_reset(node, policy, scope, trial, transition, why, level, approver, reason, now,
                                       removal)

    async def _ended(self, policy: str, scope: str, stage: StageState) -> tuple[int, tuple[str, ...]]:
        """What the incident a reset of ``stage`` ends had: the orders its decision journaled
        (its re-plans too; a dry run journals none: the orders it planned) and who had
        acknowledged it, each author once."""
        incident, since = decision_id(policy, scope, stage.level, stage.entries), stage.entered_ms or 0
        orders = len(await self.io(self.store.journal_of, incident, since)) or \
            (await PlannedOrders(self.store, self.io, keep=1).of(incident, since))[1]
        return orders, tuple(dict.fromkeys(a.author for a in self.book.acks.get(incident, ())))

    async def withdraw(self, policy: str, scope: str, approver: str, reason: str) -> ResetResult:
        """``approver`` takes back their own approval of a reset not yet complete (given on the
        wrong scope, say): audited (``reset_approval_withdrawn``), then dropped from the stage and
        the store, so the next approver does not complete a reset nobody meant. Refused
        ``NO_APPROVAL`` (audited, nothing changed) when ``approver`` has none pending there;
        ``STAGE_CHANGED`` when the tick moved the stage on while the row was being stored."""
        if (refused := self.lead.not_leader("reset")) is not None:
            return ResetResult(False, refused)
        key, now = f"{policy}|{scope}", self.clock()
        ss = self.book.state.scopes.get(key)
        before = copy.deepcopy(ss.stage) if ss is not None else None
        given = withdraw_approval(after := copy.deepcopy(before), approver) if before is not None else None
        row = {"policy": policy, "scope": scope, "level": before.level if before is not None else 0,
               "approver": approver, "reason": reason}
        if before is None or after is None or given is None or before.level == 0:
            pending = ", ".join(before.approvals) if before is not None and before.approvals else "none"
            why = (f"NO_APPROVAL: {approver} has no pending approval of the reset of {policy} {scope} to withdraw "
                   f"(pending approvals: {pending}); nothing was changed")
            deposed = await self.lead.audit_or_deposed("reset_approval_withdrawn", now,
                                                       {**row, "result": why, "refused": why})
            return ResetResult(False, deposed or why)
        left = ",".join(after.approvals) or "none"
        why = (f"APPROVAL_WITHDRAWN: {given}'s approval of the reset of {policy} {scope} (stage {before.level}) "
               f"is withdrawn; approvers now: {left}")
        if deposed := await self.lead.audit_or_deposed("reset_approval_withdrawn", now, {**row, "result": why}):
            return ResetResult(False, deposed)
        ss = self.book.state.scopes.get(key)
        if ss is None or ss.stage != before:
            why = (f"STAGE_CHANGED: the stage of {policy} {scope} changed while the withdrawal was being recorded; "
                   "nothing was changed: withdraw again")
            try:
                await self.lead.audit("reset_approval_void", now, {**row, "result": why})
            except FencedError:
                self.lead.leader = False
            return ResetResult(False, why)
        self.book.reset_stage(key, after)
        await self.io(self.store.withdraw_approval, f"{key}|e{after.entries}", after.level, given)
        self.sinks.emit(Event.make(RESET, now, {"approver": approver, "reason": reason, "result": why,
                                                "released": False, "withdrawn": True},
                                   policy=policy, scope=scope, level=after.level))
        deposed = await self.lead.saved_or_deposed(self.persist.save())
        return ResetResult(False, deposed or why)  # (done: a stage released; this released nothing)

    async def _already_reset(self, policy: str, scope: str, approver: str, reason: str, now: int,
                             passed: PassedReset, ended: bool) -> ResetResult:
        """A reset of an instance a reset already released (``ended``: and ended, the instance
        no longer being in the running policies): refused ``ALREADY_RESET``, with when and by
        whom, and audited as a reset attempt; nothing else happens."""
        why = (f"ALREADY_RESET: {policy} {scope} was reset at {iso(passed.ts_ms)} by {', '.join(passed.approvers)}"
               f" (stage {passed.level}); " + ("the instance ended with it: it is no longer in the running policies"
                                              if ended else "it is at stage 0 and has not entered a stage since")
               + "; nothing to reset")
        return await self._refused_attempt(policy, scope, approver, reason, now, why)

    async def _refused_attempt(self, policy: str, scope: str, approver: str, reason: str, now: int,
                               why: str) -> ResetResult:
        """A reset attempt refused before any stage was touched (a mistyped name, one reset
        already): audited all the same (level 0, with the answer), so the report lists it."""
        deposed = await self.lead.audit_or_deposed("reset_approval", now, {
            "policy": policy, "scope": scope, "level": 0, "approver": approver, "reason": reason, "result": why})
        return ResetResult(False, deposed or why)

    async def _apply_reset(self, node: Any, policy: str, scope: str, trial: Any, transition: Any, why: str,
                           level: int, approver: str, reason: str, now: int,
                           removal: Optional[Removal] = None) -> ResetResult:
        """An approval audited and taken, applied: the stage as worked out, the approval recorded,
        told; a release also lifts the stage's lock and revoke and starts its resumption (saved).
        A removed instance (engine/removed.py) it releases ends: the book drops it, no resumption."""
        book, key = self.book, f"{policy}|{scope}"
        # what was audited, applied to the stage it was worked out on (a removed instance released: gone)
        why += ended_removed(policy, scope, book.reset_stage(key, trial))
        if level:
            await self.io(self.store.record_approval, f"{key}|e{trial.entries}", level, approver, reason, now)
        # the incident it resets named (a silence made from it holds its reset page back too)
        self.sinks.emit(Event.make(RESET, now, {"approver": approver, "reason": reason, "result": why,
                                          "released": transition is not None},
                             policy=policy, scope=scope, level=level,
                             incident=decision_id(policy, scope, level, trial.entries) if level else None))
        restores: list[str] = []
        if transition is not None:
            book.release_lock(scope, policy=policy)
            if self.revokes is not None:  # the one way a stage's revoke is lifted: saved below, sent at the tick
                restores = self.revokes.release(holder_of(policy, scope), now)
            row = self.resumptions.start(policy, scope, level, now)
            if self.lead.leader:
                try:
                    if row:
                        await self.lead.audit(row[0], now, row[1])
                    await self.persist.save(lock_at=now)  # (the lock file once the save is through)
                except FencedError:
                    # this reset did not happen: whoever leads next, this runner included, goes
                    # on from the store, not from the stage released here
                    self.lead.stale = True
                    return ResetResult(False, self.lead.deposed())
        warn = firing_again(node, scope, removal, transition, why, self.triggers)
        if restores:
            why += f"; trading restore owed at the venue for {', '.join(restores)} (sent at the next tick)"
        return ResetResult(transition is not None, why, warn)


def resettable(book: Any, known: Names, policy: str, scope: str) -> tuple[Any, Optional[Removal], Optional[str]]:
    """The policy's node and the instance's removal mark (engine/removed.py) a reset of
    ``policy`` on ``scope`` works with, or why no instance of that name can be reset (with
    close matches). A removed instance is reset without its policy's node, with the approvals
    kept with it, and no trigger of it can enter it again (nothing evaluates it)."""
    ss = book.state.scopes.get(f"{policy}|{scope}")
    node, removal = book.node(policy), ss.removed if ss is not None else None
    unknown = known.catalog().resolve_policy_scope(policy, scope)
    if unknown is not None:
        return node, removal, unknown.reason
    if ss is None or (node is None and removal is None):
        return node, removal, f"UNKNOWN_SCOPE: {policy} {scope}"
    return node, removal, None


@dataclass(frozen=True)
class PassedReset:
    """A reset that released an instance: when, of which stage, by whom (each approver, in order)."""

    ts_ms: int
    level: int
    approvers: tuple[str, ...]


def last_reset(store: StateStore, policy: str, scope: str, since_ms: int = 0) -> Optional[PassedReset]:
    """The last reset of ``policy`` on ``scope`` that released its stage at or after ``since_ms``,
    from the audit trail (its ``MANUAL_RESET`` row), with its approvers as the store holds
    them (the approvals of that entry); None when there is none."""
    last = None
    for r in every_audit_row(store, since_ms, ("reset_approval",), 1000):  # the trail's reset rows, oldest first
        p = r.payload
        if p.get("policy") == policy and p.get("scope") == scope \
                and str(p.get("result") or "").startswith("MANUAL_RESET"):
            last = r
    if last is None:
        return None
    level, final = int(last.payload.get("level") or 0), str(last.payload.get("approver") or "?")
    prefix = f"{policy}|{scope}|e"
    entry = next((a.scope_key for a in store.approvals_between(last.ts_ms, last.ts_ms + 1)
                  if a.scope_key.startswith(prefix) and a.level == level and a.approver == final), None)
    who = [a.approver for a in store.approvals(entry, level)] if entry is not None else []
    return PassedReset(last.ts_ms, level, tuple(who) if final in who else tuple(who) + (final,))


def firing_again(node: Any, scope: str, removal: Optional[Removal], transition: Optional[StageTransition],
                 why: str, triggers: Callable[[], Sequence[TriggerStatus]]) -> tuple[str, ...]:
    """The triggers that still fire and would enter the stage again once an approval is taken;
    none for a removed instance (engine/removed.py): nothing evaluates it any more."""
    return still_firing(node, scope, triggers()) if taken(transition, why) and removal is None else ()


def ended_removed(policy: str, scope: str, ended: bool) -> str:
    """What a reset's answer adds when it ``ended`` a removed instance (engine/removed.py: the
    book dropped it, and no resumption starts for it); "" otherwise."""
    return f"; {policy} {scope} is no longer in the running policies: the instance ended" if ended else ""


def trial_reset(node: Any, scope: str, stage: StageState, approver: str, now: int,
                removal: Optional[Removal] = None, ended: tuple[Optional[int], tuple[str, ...]] = (None, ())
                ) -> tuple[StageState, Optional[StageTransition], str]:
    """An approval of ``approver`` worked out on a copy of ``stage`` (which is left as it is):
    the copy as it would be, the transition (a release) if any, and the answer (``removal``: the
    mark of a removed instance, whose reset needs what was kept with it, engine/removed.py;
    ``ended``: the orders and acknowledgers of the incident a release ends, kept with its mark)."""
    trial = copy.deepcopy(stage)
    transition, why = approve_reset(node, scope, trial, approver, now,
                                    reset_needs(removal) if removal is not None else None,
                                    orders=ended[0], acked_by=ended[1])
    return trial, transition, why


def engaged_now(scopes: Mapping[str, Any], policy: str, scope: str, shown: int = 5) -> str:
    """What a reset of an instance at stage 0 could have meant: the instances engaged now, those
    of the same policy or within the typed scope first, each with the command that resets it."""
    engaged = [(k.partition("|")[0], k.partition("|")[2], ss.stage.level) for k, ss in sorted(scopes.items())
               if ss.stage.level > 0]
    if not engaged:
        return f": {policy} {scope} is at stage 0, and no policy instance of this runner is engaged"
    engaged.sort(key=lambda e: (e[0] != policy and not e[1].startswith(scope), -e[2], e[0], e[1]))
    said = "; ".join(f"{p} {s} stage {lvl} (ksctl reset --policy {p} --scope {s})" for p, s, lvl in engaged[:shown])
    more = f"; and {len(engaged) - shown} more" if len(engaged) > shown else ""
    return f": {policy} {scope} is at stage 0; engaged now: {said}{more}"


__all__ = ["PassedReset", "ResetApprovals", "engaged_now", "ended_removed", "firing_again", "last_reset",
           "resettable", "trial_reset"]
