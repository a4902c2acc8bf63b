"""An operator's revoke of trading at the venue, its preview, and its restore with approvals.

What it owns: ``ksctl revoke --scope S`` (``POST /v1/revoke``), which makes the bots' keys of every
account the scope reaches read-only at the venue and holds them so until restored, through a
preview (``POST /v1/preview/revoke``) whose id the revoke must carry: the scope is resolved
exactly (close matches on a typo, never a guess), and a revoke whose scope reaches other accounts
than the preview showed is refused (``PREVIEW_MISMATCH``); and ``ksctl revoke --scope S --restore``
(``POST /v1/revoke/restore``, the approver role), one approval of the caller: once as many
distinct approvers as the revoke asked for (``approvals``, 1 by default, at most 10) approved,
the hold is lifted and the restore of the accounts left without a hold is owed.

A stage's revoke is the stage's: a restore of it is refused (``REVOKED_BY_STAGE``, naming the
reset that restores it), unless its policy or scope instance is gone (a reload dropped it): then
no reset can reach it, and the restore takes it with the approvals the stage asked for.

The order of a change is that of every operator command: audited first (fenced), applied to the
book as it is once the row is stored, saved (the revoke or the restore owed, durable before
anything is sent), and then sent at once by :meth:`~..effects.revokes.Revokes.work` — retried by the
ticks when the venue refuses. Each returns a :class:`~killswitch.view.answers.ChangeResult` with a reason code.

Must not: lift a hold but by its approvals, or send before the save that owes it returns.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any, Callable, Optional

from ...fills import bot_side, revert_side
from ...holds import LockHold as HoldDoc, holder
from ...state.store import FencedError
from ...view import ActionPreview, ChangeResult
from ..book.revoke_state import ALLOWED, OPERATOR, REVOKED, Hold, holder_of, unreached_text
from ..book.view import BookView
from ..collaborators import Emits, Names, Saves
from ..effects.revokes import Revokes
from ..gate.request import lock_keys
from ..lease.leadership import Leadership
from ..lock.lock import DEAD_MANS_SWITCH, OPERATOR as LOCK_OPERATOR, LockHold, hold_strength, iso_ms
from ..names import near_hint
from .closes import by

MAX_APPROVALS = 10


# why an account a revoke's scope reaches is not revoked
UNREACHABLE = ("no revoke: block in the Accounts document, or a venue without the switch of its bots' keys; "
               "rely on the lock and the venue watch there")


def revoke_preview_id(scope: str, accounts: list[str]) -> str:
    """The id of a revoke's preview: its scope and the accounts it reaches (a revoke carrying it
    is refused when the scope reaches others by then)."""
    return "rv-" + hashlib.sha256(f"{scope}|{','.join(sorted(accounts))}".encode()).hexdigest()[:16]


def _holder(h: LockHold) -> str:
    """Who holds a lock, for a person: ``alice's lock``, ``the dead man's switch``,
    ``quick-watch stage 2``."""
    if h.policy == LOCK_OPERATOR:
        by = h.details.get("by")
        return f"{by}'s lock" if isinstance(by, str) and by else "an operator's lock"
    if h.policy == DEAD_MANS_SWITCH:
        return "the dead man's switch"
    if h.details.get("while_blind") or h.details.get("window"):  # no stage's: as status names it
        return holder(HoldDoc(**h.to_doc()))  # ``policy futures-book while blind``
    return f"{h.policy} stage {h.stage}" if h.stage is not None else str(h.policy)


def _violation(v: dict[str, Any]) -> str:
    """A lock violation as a restore's preview names it: when, by whom, what, how it ended."""
    who = ", ".join(str(n) for n in v.get("strategies") or ()) or v.get("strategy") or "unknown"
    action = v.get("action")
    did = bot_side(v) if action in ("revert", "none") else f"{action} {v.get('side')}"
    back = f", reverted by the runner's {revert_side(v)}" if action == "revert" else ""
    return (f"at {iso_ms(int(v.get('ts_ms') or 0))}: strategy {who}: {did} "
            f"{v.get('symbol')} under {v.get('mode')} {v.get('scope')}{back} ({v.get('outcome') or 'pending'})")


def _named(scope: str, accounts: list[str]) -> str:
    """The revoke's scope (the one its restore takes), then the accounts it holds when they differ:
    ``binanceusdm (accounts binanceusdm/sim-main)``."""
    return scope if accounts == [scope] else f"{scope} (accounts {', '.join(accounts)})"


class OperatorRevokes:
    """See the module doc."""

    def __init__(self, book: BookView, lead: Leadership, revokes: Revokes, *, known: Names, persist: Saves,
                 sinks: Emits, clock: Callable[[], int], dry_run: bool, violations: Callable[[], dict]):
        self.book = book
        self.lead = lead
        self.revokes = revokes
        self.known = known
        self.persist = persist
        self.sinks = sinks
        self.clock = clock
        self.dry_run = dry_run
        self.violations = violations  # the venue watch's ({"total", "recent"}: Enforcement.status)

    def _accounts(self, scope: str) -> tuple[Optional[str], list[str]]:
        """(why ``scope`` is refused, or None; the accounts it reaches, each with a switch)."""
        catalog = self.known.catalog()
        unknown = catalog.resolve_scope(scope)
        if unknown is not None:
            return unknown.reason, []
        if catalog.scope_kind(scope) == "strategy":  # its bots' keys are on the accounts it trades on
            accounts = sorted(catalog.strategy_accounts(scope))
            if not accounts:
                return (f"NO_ACCOUNT: strategy {scope} is declared on no account of this runner (the Accounts "
                        "document's strategies) and no position or order names it; revoke the account it trades "
                        "on by name (ksctl revoke --scope venue/account)"), []
            return None, accounts
        accounts = sorted(catalog.accounts_of(scope))
        if not accounts:
            return f"NO_ACCOUNT: {scope} reaches no account of this runner; nothing to revoke", []
        return None, accounts

    def held(self, scope: str) -> bool:
        """Whether an operator's revoke of exactly ``scope`` is held (a firm-wide kill's among them)."""
        return bool(self.book.revokes.holds_of(holder_of(OPERATOR, scope)))

    def reachable(self, account: str) -> bool:
        """Whether ``account``'s venue has the switch of its bots' keys."""
        return self.revokes.switchable(account)

    def permissions(self) -> dict[str, dict]:
        """Each account's permission as status shows it (``revoked``, ``owed``, ``shown``)."""
        return self.revokes.status()

    def preview(self, scope: str) -> ActionPreview:
        """What a revoke of ``scope`` would do now, and the id the revoke must carry."""
        mode = "dry-run" if self.dry_run else "live"
        why, accounts = self._accounts(scope)
        if why is None:
            why = self.lead.not_leader("revoke")
        if why is not None:
            return ActionPreview("revoke", scope, False, why, mode)
        effects = []
        if self.dry_run:
            effects.append("this runner is a DRY RUN: nothing is sent to any venue; the revoke would only be audited")
        if self.known.catalog().scope_kind(scope) == "strategy":
            effects.append(f"strategy {scope} trades on {', '.join(accounts)} (declared in the Accounts document, or "
                           "named by a position or an order there): the keys are the account's, so every strategy "
                           "on it stops")
        reachable = [a for a in accounts if self.revokes.switchable(a)]
        if not reachable:  # nothing the revoke could do: refused, never owed to fail for ever
            return ActionPreview("revoke", scope, False, f"REVOKE_UNSUPPORTED: no account {scope} reaches has the "
                                 f"venue's switch of its bots' keys ({', '.join(accounts)}: a venue without the "
                                 "endpoint, or no revoke: block in the Accounts document); rely on the lock and "
                                 "the venue watch there", mode)
        for a in accounts:
            perm = self.book.revokes.get(a)
            keys = self.revokes.keys_of(a) if a in reachable else ()
            named = f"keys {', '.join(keys)}" if keys else "every bot key listed for it"
            effects.append(f"{a}: {named} made read-only at the venue (now {perm.shown()})"
                           if a in reachable else f"{a}: OUT OF REACH, not revoked: {UNREACHABLE}")
        effects.append("held until restored: ksctl revoke --scope S --restore with the approvals the revoke asks for")
        return ActionPreview("revoke", scope, True, f"PREVIEW: revoke trading on {len(accounts)} account(s): "
                             f"{', '.join(accounts)}", mode, effects=tuple(effects),
                             preview_id=revoke_preview_id(scope, accounts))

    def preview_restore(self, scope: str, approver: str) -> ActionPreview:
        """What ``approver``'s approval of the restore of ``scope``'s operator revoke would do now:
        recorded (k of N, who approved so far), or the last one (the keys of which accounts are
        made tradable again at once); a refusal as the restore would answer it (nothing audited)."""
        mode = "dry-run" if self.dry_run else "live"
        if (refused := self.lead.not_leader("restore")) is not None:
            return ActionPreview("restore", scope, False, refused, mode)
        held = self.book.revokes.holds_of(holder_of(OPERATOR, scope))
        if not held:
            return ActionPreview("restore", scope, False, self._not_held(scope), mode)
        hold = held[0][1]
        if approver in hold.approvals:
            return ActionPreview("restore", scope, False, f"DUPLICATE_APPROVER: {approver} already approved "
                                                          f"({len(hold.approvals)}/{hold.approvals_needed})", mode)
        have, accounts = len(hold.approvals) + 1, [a for a, _ in held]
        so_far = f"approved so far by {', '.join(hold.approvals)}" if hold.approvals else "no approval yet"
        revoked = f"revoked by {hold.by or 'an operator'}: {hold.reason}"
        binding = self._binding(accounts, hold) + [f"{unreached_text(a)}: the revoke never reached it, so the "
                                                   "restore sends nothing there" for a in hold.out_of_reach]
        if have < hold.approvals_needed:
            return ActionPreview("restore", scope, True, f"PREVIEW: approval {have}/{hold.approvals_needed} of the "
                                 f"restore of trading on {_named(scope, accounts)}", mode, effects=(
                                     revoked, *binding, so_far, f"records the approval of {approver}; trading "
                                     f"stays revoked until {hold.approvals_needed} distinct approvers agree"))
        others = [a for a in accounts if any(h.holder != hold.holder for h in self.book.revokes.get(a).holds)]
        sent = [a for a in accounts if a not in others]
        effects = [revoked, *binding, so_far, "the last approval: the bots' keys made tradable again at the venue "
                                              f"now for {', '.join(sent) or 'no account'}"]
        effects += [f"{a}: stays revoked by another hold (see ksctl status)" for a in others]
        return ActionPreview("restore", scope, True, f"PREVIEW: approval {have}/{hold.approvals_needed}, the last, "
                             f"of the restore of trading on {_named(scope, accounts)}", mode, effects=tuple(effects))

    def _binding(self, accounts: list[str], hold: Hold) -> list[str]:
        """What binds each of ``accounts`` now besides the revoke: the lock its bots' orders get
        (as check-order reads it for an order of the account), and the lock violations of the
        account since that lock was placed (or since the revoke, when no lock binds)."""
        now = self.clock()
        recent = list((self.violations() or {}).get("recent") or ())
        out = []
        for a in accounts:
            keys = lock_keys(account=a)
            lock = self.book.lock_book.effective(keys, now)
            since = hold.since_ms if lock.created_ms is None else min(lock.created_ms, hold.since_ms)
            broke = [v for v in recent if v.get("account") == a and int(v.get("ts_ms") or 0) >= since]
            if lock.locked:  # every hold that binds it: the strongest, then the others it would meet next
                holds = sorted((h for h in self.book.lock_book.in_force(now) if h.scope in keys), key=hold_strength)
                first, rest = holds[0], holds[1:]
                also = "; also held by " + ", ".join(f"{_holder(h)} ({h.mode})" for h in rest) if rest else ""
                why = first.details.get("reason") or first.reason  # an operator's: the words they typed
                out.append(f"{a} is still {lock.mode.upper()} by {_holder(first)} (since {lock.since}: "
                           f"{why}){also}; the restore does not lift "
                           + ("any of them" if rest else "it"))
            else:
                out.append(f"{a}: no lock binds it now; its bots trade freely once restored")
            if broke:
                out.append(f"{a}: {len(broke)} lock violation(s) since " + ("the lock" if lock.locked else "the revoke")
                           + ", the latest " + _violation(broke[0]))
        return out

    def _not_held(self, scope: str) -> str:
        """Why no operator's revoke of ``scope`` can be restored: a stage holds it, or nothing does."""
        stages = [h for p in self.book.revokes.accounts.values() for h in p.holds
                  if h.scope == scope and h.policy != OPERATOR]
        if stages:
            h = stages[0]
            return (f"REVOKED_BY_STAGE: {scope} is revoked by stage {h.stage} of policy {h.policy}; its reset "
                    f"restores it (ksctl reset --policy {h.policy} --scope {scope})")
        held = sorted({h.scope for p in self.book.revokes.accounts.values() for h in p.holds})
        return f"NOT_REVOKED: no revoke of exactly {scope} is held{near_hint(scope, held)}"

    async def revoke(self, scope: str, reason: str, *, preview_id: Optional[str] = None, approvals: int = 1,
                     actor: Optional[str] = None) -> ChangeResult:
        """Revoke trading on every account ``scope`` reaches, as previewed (``preview_id``)."""
        if not 1 <= approvals <= MAX_APPROVALS:
            return ChangeResult(False, f"BAD_REQUEST: approvals must be 1 to {MAX_APPROVALS}, not {approvals}")
        if (standby := self.lead.not_leader("revoke")) is not None:
            return ChangeResult(False, standby)
        why, accounts = self._accounts(scope)
        if why is None and not any(self.revokes.switchable(a) for a in accounts):
            why = f"REVOKE_UNSUPPORTED: no account {scope} reaches has the venue's switch of its bots' keys"
        if why is not None:
            return await self._refused("trading_revoke_requested", {"scope": scope, **by(actor)}, why)
        if preview_id is None:
            return await self._refused("trading_revoke_requested", {"scope": scope, "reason": reason, **by(actor)},
                                       "PREVIEW_REQUIRED: a revoke carries the id of its preview (ksctl revoke "
                                       "previews it first); nothing was revoked")
        if preview_id != revoke_preview_id(scope, accounts):
            return await self._refused("trading_revoke_requested", {"scope": scope, "reason": reason, **by(actor)},
                                       f"PREVIEW_MISMATCH: {scope} reaches {', '.join(accounts)} now, not what the "
                                       "preview showed; preview again; nothing was revoked")
        now = self.clock()
        holder = holder_of(OPERATOR, scope)
        # only what can be sent is owed: an account without the switch is named (in the audit row
        # and on the hold, so status, the console and the report keep saying it), never held (it
        # would be owed, retried and restored without end)
        reachable = [a for a in accounts if self.revokes.switchable(a)]
        unreached = tuple(a for a in accounts if a not in reachable)
        payload = {"scope": scope, "accounts": accounts, "reason": reason, "approvals": approvals, **by(actor),
                   **({"out_of_reach": list(unreached)} if unreached else {})}
        if self.dry_run:
            await self.lead.audit("trading_revoke_dry_run", now, payload)
            return ChangeResult(True, f"DRY_RUN: nothing was sent (this runner is a dry run); would revoke trading "
                                      f"on {', '.join(accounts)}")
        if deposed := await self.lead.audit_or_deposed("trading_revoke_requested", now, payload):
            return ChangeResult(False, deposed)
        self.revokes.hold(reachable, Hold(holder=holder, policy=OPERATOR, scope=scope, since_ms=now,
                                          reason=f"MANUAL_REVOKE: {reason}", approvals_needed=approvals, by=actor,
                                          out_of_reach=unreached), now)
        done = await self._save_and_send(now, "trading", reachable, REVOKED)
        if not unreached:
            return done
        return replace(done, reason=f"{done.reason}; OUT_OF_REACH, not revoked: {', '.join(unreached)} "
                                    f"({UNREACHABLE})", out_of_reach=unreached)

    async def restore(self, scope: str, reason: str, *, approver: str) -> ChangeResult:
        """One approval of ``approver`` (the caller) of the restore of ``scope``'s revoke."""
        if (standby := self.lead.not_leader("restore")) is not None:
            return ChangeResult(False, standby)
        revokes = self.book.revokes
        holder = holder_of(OPERATOR, scope)
        held = revokes.holds_of(holder)
        if not held:
            refused = await self._refused_restore(scope, reason, approver)
            if not refused.done and not refused.reason.startswith(("DEPOSED", "NOT_LEADER")):  # audited, as a
                await self._refused("trading_restore_approval",  # refused reset approval is
                                    {"scope": scope, "reason": reason, "approver": approver}, refused.reason)
            return refused
        hold = held[0][1]
        payload = {"scope": scope, "reason": reason, "approver": approver, "holder": hold.holder}
        if approver in hold.approvals:
            return await self._refused("trading_restore_approval", payload,
                                       f"DUPLICATE_APPROVER: {approver} already approved "
                                       f"({len(hold.approvals)}/{hold.approvals_needed})")
        now = self.clock()
        if deposed := await self.lead.audit_or_deposed(  # which approval it is (1/2), as its answer says
                "trading_restore_approval", now,
                {**payload, "approval": f"{len(hold.approvals) + 1}/{hold.approvals_needed}"}):
            return ChangeResult(False, deposed)
        if not self.book.revokes.holds_of(hold.holder):  # lifted meanwhile (another approval)
            return ChangeResult(False, f"NOT_REVOKED: {scope} is no longer held revoked; nothing changed")
        self.revokes.approve(hold.holder, approver)
        have = len(hold.approvals) + 1
        if have < hold.approvals_needed:
            if deposed := await self.lead.saved_or_deposed(self.persist.save()):
                return ChangeResult(False, deposed)
            return ChangeResult(True, f"APPROVAL_RECORDED: {have}/{hold.approvals_needed} approvers="
                                      f"{','.join((*hold.approvals, approver))}; trading stays revoked")
        restored = self.revokes.release(hold.holder, now)
        if not restored:
            await self.persist.save()
            return ChangeResult(True, f"RELEASED: the revoke of {scope} is lifted; its accounts stay revoked by "
                                      "other holds (see ksctl status)")
        return await self._save_and_send(now, "trading", restored, ALLOWED)

    async def _refused_restore(self, scope: str, reason: str, approver: str) -> ChangeResult:
        """No operator revoke of ``scope``: a stage's (its reset restores it, unless its policy or
        instance is gone), or nothing (with the scopes that are held revoked, as close matches)."""
        stages = [(a, h) for a, p in sorted(self.book.revokes.accounts.items()) for h in p.holds
                  if h.scope == scope and h.policy != OPERATOR]
        for _, h in stages:
            ss = self.book.state.scopes.get(h.holder)
            if self.book.node(h.policy) is not None and ss is not None and ss.stage.level:
                return ChangeResult(False, f"REVOKED_BY_STAGE: {scope} is revoked by stage {h.stage} of policy "
                                           f"{h.policy}; its reset restores it (ksctl reset --policy {h.policy} "
                                           f"--scope {scope}, {h.approvals_needed} approver(s))")
        if stages:  # orphaned: the policy or its instance is gone, so no reset can reach it
            orphan = stages[0][1]
            return await self._release_orphan(scope, reason, approver, orphan)
        return ChangeResult(False, self._not_held(scope))  # (no stage's: NOT_REVOKED, with close matches)

    async def _release_orphan(self, scope: str, reason: str, approver: str, hold: Hold) -> ChangeResult:
        if approver in hold.approvals:
            return ChangeResult(False, f"DUPLICATE_APPROVER: {approver} already approved "
                                       f"({len(hold.approvals)}/{hold.approvals_needed})")
        now, which = self.clock(), f"{len(hold.approvals) + 1}/{hold.approvals_needed}"
        if deposed := await self.lead.audit_or_deposed("trading_restore_approval", now, {
                "scope": scope, "reason": reason, "approver": approver, "holder": hold.holder, "orphaned": True,
                "approval": which}):
            return ChangeResult(False, deposed)
        self.revokes.approve(hold.holder, approver)
        if len(hold.approvals) + 1 < hold.approvals_needed:
            await self.persist.save()
            return ChangeResult(True, f"APPROVAL_RECORDED: {len(hold.approvals) + 1}/{hold.approvals_needed} (the "
                                      f"revoke of policy {hold.policy}, whose stage is gone)")
        restored = self.revokes.release(hold.holder, now)
        return await self._save_and_send(now, f"trading (policy {hold.policy} no longer runs this scope)", restored,
                                         ALLOWED)

    async def _save_and_send(self, now: int, what: str, accounts: list[str], want: str) -> ChangeResult:
        """The owed change (``want``: revoked or allowed) saved (fenced: a deposed runner's is
        refused and undone by a reload), then sent at once; the venue's answer said: ``REVOKED`` /
        ``RESTORED`` when it confirmed every account, else ``REVOKE_OWED`` / ``RESTORE_OWED`` with
        each account's state (a refusal is retried by the ticks)."""
        verb = "REVOKE" if want == REVOKED else "RESTORE"
        owed = f"{verb}_OWED: {what} on {', '.join(accounts) or 'no account'}"
        if deposed := await self.lead.saved_or_deposed(self.persist.save()):
            return ChangeResult(False, deposed)
        try:
            events = await self.revokes.work(now)
        except FencedError:
            self.lead.stale = True
            return ChangeResult(True, f"{owed}; saved, but this runner lost the lease before sending: the leader "
                                      "sends it")
        for e in events:
            self.sinks.emit(e)
        status = self.revokes.status()
        said = "; ".join(f"{a}: {status[a]['shown']}" if a in status else f"{a}: allowed" for a in accounts)
        if want == REVOKED:
            confirmed = all(a in status and status[a]["revoked"] and status[a]["owed"] is None for a in accounts)
        else:  # (an account allowed again with nothing held is dropped from the book)
            confirmed = all(a not in status or not status[a]["revoked"] and status[a]["owed"] is None
                            for a in accounts)
        if accounts and confirmed:
            owed = f"{verb}D: {what} on {', '.join(accounts)}"
        return ChangeResult(True, f"{owed}; {said}")

    async def _refused(self, kind: str, payload: dict, why: str) -> ChangeResult:
        await self.lead.audit_refusal(kind, self.clock(), payload, why)
        return ChangeResult(False, why)


__all__ = ["MAX_APPROVALS", "OperatorRevokes", "revoke_preview_id"]
