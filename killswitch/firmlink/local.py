"""``ksctl kill --firm`` sent to a runner of no shard: the same kill, on this runner's accounts,
with no firm's tables to write it in.

What it owns: :class:`LocalKill`, which the desk hands the firm-wide kill when the runner runs
no shard (no ``--shard``: its firm slot is empty):

* **preview** — what the kill does here, in the shape of a shard's preview (one "shard", this
  runner, heard: it answers): every scope locked ``halted``, each account's resting
  non-reduce-only orders as the last tick read them cancelled (with how long ago, when that
  read is older than the runner's interval: :func:`killswitch.figures.as_read`), the bots'
  keys revoked where the venue has the switch (``revoke:``), the others named OUT OF REACH; with
  the id the kill must carry (:func:`killswitch.firm.kill.kill_preview_id`); refused ``KILL_IN_FORCE`` while a
  kill holds;
* **kill** — what a shard does with the kill's directive (:class:`~.kill.KillApplier`), with the
  same steps, in the runner's turn: ``global`` locked ``halted`` as the firm hold
  :data:`~killswitch.firm.kill.KILL_HOLD` (audited ``firm_lock``; an operator's unlock of it is
  refused, ``KILL_IN_FORCE``), the entries cancelled now (:func:`~.kill.cancel_entries`), the
  keys revoked held for two approvers (:func:`~.kill.revoke_keys`). The record is the hold in
  the lock book, saved with the state (a restart or a standby taking over keeps it); what is
  still resting after the cancel is named in the answer, and the venue watch cancels every
  non-reduce-only order under the halt at every tick, as under any halt;
* **release** — one approval (the approver role), recorded in the hold itself (audited
  ``firm_kill_release_approval`` first); the same person twice refused ``DUPLICATE_APPROVER``;
  the second distinct approver's lifts the hold (audited ``firm_unlock``) and restores the
  revoke with both approvals.

Not here: a shard's follow-up report per account (no ``ks_firm.kill_report``: ``ksctl status``
shows the lock and the keys), and ``GET /v1/firm/kill``, which stays ``FIRM_NOT_SHARDED``.

Must not: write the firm's tables, or act on a runner that is a shard's (its firm link does).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..figures import as_read
from ..firm.kill import (
    APPROVALS_NEEDED,
    DUPLICATE_APPROVER,
    KILL_HOLD,
    KILL_IN_FORCE,
    NO_KILL,
    kill_preview_id,
    preview_refused,
)
from ..holds import KILL_RELEASE
from ..state.store import FencedError
from ..view import ChangeResult
from .kill import account_reports, cancel_entries, restore_keys, revoke_keys
from .ports import ShardPorts

LOCAL = "local"  # the kill's id on a runner of no shard: one at a time, its hold
SHOWN = "this-runner"  # the "shard" its preview names
RELEASE = f"released only by {APPROVALS_NEEDED} distinct approvers: {KILL_RELEASE}"


class LocalKill:
    """See the module doc. ``ports``: the runner's parts the kill goes through, as a shard's
    (:func:`killswitch.process.bootstrap.shard_ports`); ``interval_s()``: the interval the
    runner ticks at (a read older than it is said with its age)."""

    def __init__(self, ports: ShardPorts, interval_s: Callable[[], float]):
        self.ports = ports
        self.interval_s = interval_s

    def _hold(self) -> Any:
        now = self.ports.clock()
        return next((h for h in self.ports.book.lock_book.in_force(now)
                     if h.scope == "global" and h.policy == KILL_HOLD), None)

    def preview(self) -> dict:
        """What the kill would do here now (see the module doc)."""
        ports = self.ports
        accounts = sorted(ports.accounts)
        revokes = ports.revokes
        reach = [k for k in accounts if revokes is not None and revokes.reachable(k)]
        far = [k for k in accounts if k not in reach]
        snaps = ports.book.snapshots
        read = [k for k in accounts if k in snaps and snaps[k].fetch.ok]
        resting = {k: sum(1 for o in snaps[k].orders if not o.reduce_only) for k in read}
        # the oldest read counted: old when the ticks stalled or fell behind (a failed read is not counted)
        oldest = min((s.ts_observed if s.ts_observed is not None else s.ts_event for s in (snaps[k] for k in read)),
                     default=None)
        when = as_read(oldest, ports.clock(), self.interval_s()) or "as the last tick read them"
        said = f"{sum(resting.values())} resting non-reduce-only order(s) {when}" if resting \
            else "its resting non-reduce-only orders (none read yet)"
        line = (f"this runner ({len(accounts)} account(s)), no shard: locks halted global; cancels {said}; revokes "
                f"the keys of {len(reach)} account(s)" + (f"; OUT OF REACH (no revoke: block): {', '.join(far)}"
                                                          if far else ""))
        shards = [{"shard": SHOWN, "heard": True, "why": "", "accounts": accounts, "lock": "global",
                   "resting": resting, "revoke": reach, "out_of_reach": far}]
        hold = self._hold()
        refused = None if hold is None else (
            f"{KILL_IN_FORCE}: kill {hold.details.get('directive') or LOCAL} by {hold.details.get('by')} is in force "
            f"on this runner; release it ({KILL_RELEASE}) before another")
        head = (f"PREVIEW: firm-wide kill on a runner of no shard: {len(accounts)} account(s), all this runner's; "
                "locked, cancelled and revoked here (no firm's tables: the kill is this runner's firm:kill lock)")
        got = {"allowed": refused is None, "reason": refused or head, "shards": shards, "lines": [line],
               "accounts": len(accounts), "unheard": [], "release": RELEASE}
        got["preview_id"] = kill_preview_id(got)
        return got

    async def kill(self, reason: str, preview_id: Optional[str], actor: Optional[str]) -> ChangeResult:
        """The kill, as previewed, carried out here in the runner's turn (see the module doc)."""
        ports = self.ports
        if (refused := ports.lead.not_leader("kill")) is not None:
            return ChangeResult(False, refused)
        if not reason.strip():
            return ChangeResult(False, "BAD_REQUEST: a kill needs a reason")
        async with ports.turn.here():  # (the desk calls the kill without the turn: a shard's takes it too)
            if (no := preview_refused(self.preview(), preview_id, "this runner's accounts", "done")) is not None:
                return ChangeResult(False, no)
            return await self._carry_out(reason, actor or "operator")

    async def _carry_out(self, reason: str, actor: str) -> ChangeResult:
        ports = self.ports
        accounts = sorted(ports.accounts)
        why = f"FIRM_KILL {LOCAL}: {reason} (by {actor})"
        refused = await ports.commands.firm_lock(
            "global", KILL_HOLD, {"directive": LOCAL, "kill": True, "scope": "global", "reason": why, "actor": actor},
            mode="halted", reason=why, manual=True, details={"directive": LOCAL, "by": actor, "approvals": []})
        if refused:
            return ChangeResult(False, f"KILL_NOT_LOCKED: global: {refused}")
        locked = ports.clock()
        resting = await cancel_entries(ports, accounts, why, why, {"directive": LOCAL, "actor": actor})
        revoke = await revoke_keys(ports, ["global"], why, f"firm-kill:{LOCAL}:{actor}")
        reports = account_reports(ports, 0, SHOWN, accounts, locked, resting, revoke)
        return ChangeResult(True, f"KILLED: {len(accounts)} account(s) locked halted (global) on this runner, which "
                                  "runs no shard; " + "; ".join(
                                      f"{r.account}: {', '.join(r.states()) or '-'}"
                                      + (f" ({r.resting})" if r.resting_ms is None else "") for r in reports)
                            + f"; {RELEASE}; follow it with ksctl status")

    async def release(self, approver: str, reason: str) -> ChangeResult:
        """``approver``'s approval of the release of the kill in force here (see the module doc)."""
        ports = self.ports
        if (refused := ports.lead.not_leader("release")) is not None:
            return ChangeResult(False, refused)
        hold = self._hold()
        had = [str(a) for a in hold.details.get("approvals") or ()] if hold is not None else []
        approvers = [*had, approver]
        why_not = (f"{NO_KILL}: no firm-wide kill is in force on this runner; nothing to release" if hold is None else
                   f"{DUPLICATE_APPROVER}: {approver} already approved the release of the kill ({len(had)}/"
                   f"{APPROVALS_NEEDED}); another approver must" if approver in had else None)
        try:  # taken or not, as a shard's approval is
            await ports.lead.audit("firm_kill_release_approval", ports.clock(), {
                "directive": LOCAL, "approver": approver, "reason": reason, "taken": why_not is None,
                **({"answer": why_not} if why_not else {"approval": f"{len(approvers)}/{APPROVALS_NEEDED}"})})
        except FencedError:
            return ChangeResult(False, ports.lead.deposed())
        if why_not is not None or hold is None:
            return ChangeResult(False, why_not or NO_KILL)
        if len(approvers) < APPROVALS_NEEDED:  # recorded in the hold, saved with the state (its row just written)
            refused = await ports.commands.firm_lock("global", KILL_HOLD, {}, mode="halted", reason=hold.reason,
                                                     manual=True, details={"approvals": approvers}, written=True)
            if refused:
                return ChangeResult(False, refused)
            return ChangeResult(True, f"APPROVAL_RECORDED: {len(approvers)}/{APPROVALS_NEEDED} approvers="
                                      f"{','.join(approvers)}; the kill stays in force until another approver "
                                      "approves")
        why = f"FIRM_KILL_RELEASED {LOCAL}: {reason} (approved by {', '.join(approvers)})"
        refused = await ports.commands.firm_unlock("global", KILL_HOLD, {
            "directive": "release", "kill": LOCAL, "scope": "global", "approvers": approvers, "reason": why})
        if refused:
            return ChangeResult(False, refused)
        said = [f"global: UNLOCKED ({KILL_HOLD})"]
        # the revoke the kill held for two: restored with both approvals, said as what came of it
        if (restored := await restore_keys(ports, "global", why, approvers)) is not None:
            said.append(restored)
        return ChangeResult(True, f"KILL_RELEASED: released by {','.join(approvers)}: " + "; ".join(said))
