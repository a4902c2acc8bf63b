"""A shard carrying out a firm-wide kill on its own accounts, reporting each account's progress
into the firm's tables, and lifting it when two approvers released it.

What it owns: :class:`KillApplier`, which the directive applier (:mod:`.apply`) hands a
``kill`` or a ``kill_release`` directive it claimed:

* **kill** — on every account this shard runs (the kill is the firm's, whether or not its
  writer knew the account): every scope the shard runs locked
  ``halted`` as the firm hold :data:`~killswitch.firm.kill.KILL_HOLD` (audited ``firm_lock``
  naming the directive, once: a leader that stopped between the row and its save is taken up
  again without a second row; an operator's unlock of it is refused), each account's open
  non-reduce-only orders cancelled through the executor (what the venue lists at the cancel:
  audited ``firm_cancel``), its bots' keys revoked through the operator's revoke (reach as the
  revoke computes it: the Accounts document's ``revoke:`` block and the venue's switch; held
  for two approvers, so a shard's own restore needs two too; an account out of reach named),
  and each account's report written (locked, nothing resting, revoked, out of reach) as each
  step is reached;
* **follow-up** — at every tick while a kill this shard carried out is not done here: the
  accounts with orders still resting cancelled again, the revokes' progress (the revoke
  machinery retries a venue's refusal) reported, until every account is done;
* **release** — the kill's lock lifted on every scope it locked (audited ``firm_unlock``) and
  the revoke it held restored with the two approvals the release carries.

Its steps on a runner's own accounts are functions a runner of no shard's kill (:mod:`.local`)
takes too: :func:`cancel_entries`, :func:`revoke_keys`, :func:`restore_keys`, :func:`account_reports`.

And the operator's side, which any shard's API serves (the firm link hands itself): the kill's
preview (:func:`kill_preview`: from the firm board and the Accounts document, with the id the
kill must carry), the kill written once as a durable directive in the firm's tables
(:func:`send_kill`: no call to another runner; a shard that is down takes it up when it starts),
an approval of its release (:func:`release_kill`), its progress (:func:`kill_status`), and an
operator's unlock of a firm-wide scope refused while it is in force (:func:`unlock_under_kill`).

Must not: act on another shard's accounts, or report for a token that is not the shard's.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Optional, Sequence

from ..firm.directives import KILL, Directive, targets
from ..firm.kill import (
    APPROVALS_NEEDED,
    KILL_HOLD,
    KillReport,
    kill_preview as preview_of,
    kill_preview_id,
    kill_progress as progress_of,
    preview_refused,
    unlock_refused,
)
from ..orders import CancelIntent
from ..state.store import FencedError, StoreError
from ..view import ChangeResult
from .ports import ShardPorts


class KillApplier:
    """See the module doc."""

    def __init__(self, ports: ShardPorts, firm: Any, shard: str, schema: str, clock: Callable[[], int],
                 echo: Callable[[str], None]):
        self.ports, self.firm, self.shard, self.schema, self.clock, self.echo = ports, firm, shard, schema, clock, echo
        self.open: Optional[Directive] = None  # a kill carried out here and not done yet
        self._looked = False  # the kill in force read once (a restart after the kill was applied)

    # --- the kill ------------------------------------------------------------------------------

    async def kill(self, d: Directive, fence: int, mine: Sequence[str]) -> str:
        # the whole firm: every account this shard runs now, whether or not its writer knew it
        accounts = sorted(mine)
        if not accounts:
            return "none of this shard's accounts"
        ports, reason = self.ports, f"FIRM_KILL {d.id}: {d.payload.get('reason')} (by {d.actor})"
        scopes = targets(Directive(KILL, "global", {"accounts": accounts}), mine)
        assert d.id is not None
        for scope in scopes:
            written = await ports.commands.firm_lock_audited(d.id, scope, d.created_ms or self.clock())
            refused = await ports.commands.firm_lock(
                scope, KILL_HOLD, {"directive": d.id, "kill": True, "scope": scope, "reason": reason,
                                   "actor": d.actor}, mode="halted", reason=reason, manual=True,
                details={"directive": d.id}, written=written)
            if refused:
                return f"KILL_NOT_LOCKED: {scope}: {refused}"
        locked = self.clock()
        await self._report(fence, [KillReport(d.id, self.shard, k, locked_ms=locked, ts_ms=locked)
                                      for k in accounts])
        resting = await self._cancel(d, accounts, reason)
        # each step reported as it is reached: nothing resting before the keys are asked for
        await self._report(fence, self._reports(d, accounts, locked, resting, "revoke not sent yet"))
        revoke = await revoke_keys(self.ports, scopes, reason, f"firm-kill:{d.id}:{d.actor}")
        reports = self._reports(d, accounts, locked, resting, revoke)
        await self._report(fence, reports)
        done = sum(1 for r in reports if r.done)
        self.open = d if done < len(reports) else None
        return (f"KILLED: {len(accounts)} account(s) locked halted ({', '.join(scopes)}); " +
                "; ".join(f"{r.account}: {', '.join(r.states()) or '-'}" + (f" ({r.resting})" if r.resting_ms is None
                                                                            else "") for r in reports))

    async def _cancel(self, d: Directive, accounts: Sequence[str], reason: str) -> dict[str, str]:
        return await cancel_entries(self.ports, accounts, reason, f"FIRM_KILL {d.id}: {reason}",
                                    {"directive": d.id, "actor": d.actor}, incident=d.decision_id)

    def _reports(self, d: Directive, accounts: Sequence[str], locked: Optional[int], resting: dict[str, str],
                 revoke: str) -> list[KillReport]:
        assert d.id is not None
        return account_reports(self.ports, d.id, self.shard, accounts, locked, resting, revoke)

    async def _report(self, fence: int, reports: list[KillReport]) -> None:
        await asyncio.to_thread(self.firm.report_kill, self.schema, fence, reports)

    # --- every tick ----------------------------------------------------------------------------

    async def follow_up(self, fence: int) -> None:
        """Take up what a kill carried out here has not reached yet (see the module doc)."""
        if self.ports.dry_run:  # a dry run cancels and revokes nothing: there is nothing to take up
            return
        if not self._looked:
            self._looked = True
            kill, release = await asyncio.to_thread(self.firm.kills)
            if kill is not None and release is None:
                self.open = kill
        d = self.open
        if d is None or d.id is None:
            return
        kill, release = await asyncio.to_thread(self.firm.kills)
        if kill is None or kill.id != d.id or release is not None:
            self.open = None
            return
        had = {r.account: r for r in await asyncio.to_thread(self.firm.kill_reports, d.id, self.shard)}
        if not had:  # not carried out here (yet): the directive applier takes it up
            return
        left = sorted(k for k, r in had.items() if not r.done)
        if not left:
            self.open = None
            return
        reason = f"FIRM_KILL {d.id}: {d.payload.get('reason')} (by {d.actor})"
        again = [k for k in left if had[k].resting_ms is None]
        resting = await self._cancel(d, again, reason) if again else {}
        reports = self._reports(d, left, None, {k: resting.get(k, "") for k in left}, "")
        # what was reached before stays reached (the table keeps the first time)
        await self._report(fence, reports)
        if all(r.done or had[r.account].done for r in reports):
            self.open = None

    # --- the release ---------------------------------------------------------------------------

    async def release(self, d: Directive, fence: int, mine: Sequence[str]) -> str:
        kill_id = int(d.payload.get("kill") or 0)
        accounts = sorted(mine)
        if not accounts:
            return "none of this shard's accounts"
        approvers = [str(a) for a in d.payload.get("approvers") or ()]
        reason = f"FIRM_KILL_RELEASED {kill_id}: {d.payload.get('reason')} (approved by {', '.join(approvers)})"
        said = []
        for scope in targets(Directive(KILL, "global", {"accounts": accounts}), mine):  # the scopes the kill locked
            refused = await self.ports.commands.firm_unlock(scope, KILL_HOLD, {
                "directive": d.id, "kill": kill_id, "scope": scope, "approvers": approvers, "reason": reason})
            said.append(f"{scope}: " + (refused or f"UNLOCKED ({KILL_HOLD})"))
            if (restored := await restore_keys(self.ports, scope, reason, approvers)) is not None:
                said.append(restored)
        now = self.clock()
        await self._report(fence, [KillReport(kill_id, self.shard, k, released_ms=now, resting="released",
                                                 revoke="restored", ts_ms=now) for k in accounts])
        if self.open is not None and self.open.id == kill_id:
            self.open = None
        return "RELEASED: " + "; ".join(said)


# --- the kill's steps on a runner's own accounts: a shard's (KillApplier), a runner of no shard's (.local) ---


async def cancel_entries(ports: ShardPorts, accounts: Sequence[str], reason: str, cause: str, audited: dict,
                         incident: Optional[str] = None) -> dict[str, str]:
    """Each account's open non-reduce-only orders cancelled now through the executor (what the
    venue lists at the cancel), audited ``firm_cancel`` with ``audited`` (the kill's id, its
    author): per account '' when nothing is left resting, else what is."""
    if ports.dry_run:
        return {k: "DRY_RUN: nothing cancelled" for k in accounts}
    intents = [CancelIntent(k.split("/", 1)[0], k.split("/", 1)[1], "entries", (), reason, ()) for k in accounts]
    got = await ports.cancels.cancel(intents, incident, cause)
    out = {k: "" for k in accounts}
    for r in got.still_open:
        said = f"{r.symbol} {r.side} order {r.order_id}: {r.said}"
        out[r.account] = f"{out[r.account]}; {said}" if out.get(r.account) else said
    for line in got.cancel_failed:  # each names its account first (venue/name ...)
        for k in accounts:
            if k in line or k.split("/", 1)[1] in line:
                out[k] = (out[k] + f"; CANCEL_FAILED: {line}").lstrip("; ")
    if len(got.cancel_failed) and all(not v for v in out.values()):  # a failure naming no account: all
        out = {k: "CANCEL_FAILED: " + "; ".join(got.cancel_failed) for k in accounts}
    await ports.lead.audit("firm_cancel", ports.clock(), {
        **audited, "kill": True, "accounts": list(accounts), "which": "entries", "canceled": got.canceled,
        "failed": got.cancel_failed, "still_open": {k: v for k, v in out.items() if v}, "reason": reason})
    return out


async def revoke_keys(ports: ShardPorts, scopes: Sequence[str], reason: str, actor: str) -> str:
    """The bots' keys of ``scopes`` revoked through the operator's revoke, held for
    :data:`~killswitch.firm.kill.APPROVALS_NEEDED` approvers (a revoke held already is left as
    it is): what each revoke answered."""
    revokes = ports.revokes
    if revokes is None or ports.dry_run:
        return "DRY_RUN: no key revoked" if ports.dry_run else "no revoke on this runner"
    said = []
    for scope in scopes:
        if revokes.held(scope):  # this kill's revoke taken up again, or an operator's in force: held already
            continue
        preview = revokes.preview(scope)
        if not preview.allowed:
            said.append(preview.reason)
            continue
        got = await revokes.revoke(scope, reason, preview_id=preview.preview_id, approvals=APPROVALS_NEEDED,
                                   actor=actor)
        said.append(got.reason)
    return "; ".join(said)


async def restore_keys(ports: ShardPorts, scope: str, reason: str, approvers: Sequence[str]) -> Optional[str]:
    """The revoke of ``scope`` a kill held, given the release's approvals in turn: one statement
    of what came of it — the last answer (``RESTORED``, ``RESTORE_OWED``, ``RELEASED`` while
    another hold keeps the keys revoked), or ``TRADING STILL REVOKED`` with why when the revoke
    still holds after them —, never the approvals on the way (a first approval's "trading stays
    revoked" beside the second's ``RESTORED``). None when no revoke of ``scope`` is held."""
    revokes = ports.revokes
    if revokes is None or ports.dry_run or not revokes.held(scope):
        return None
    last = None
    for approver in approvers:
        if not revokes.held(scope):
            break
        last = (await revokes.restore(scope, reason, approver=approver)).reason
    if revokes.held(scope):
        return f"TRADING STILL REVOKED on {scope}: {last or 'no approval given'}"
    return last


def account_reports(ports: ShardPorts, kill_id: int, shard: str, accounts: Sequence[str], locked: Optional[int],
                    resting: dict[str, str], revoke: str) -> list[KillReport]:
    """Each account's report now: locked at ``locked``, nothing resting (``resting``: what
    :func:`cancel_entries` left), its keys revoked (as the revoke machinery says) or out of reach."""
    now = ports.clock()
    revokes = ports.revokes
    status = revokes.permissions() if revokes is not None else {}
    out = []
    for k in accounts:
        left = resting.get(k, "")
        gone = now if not left else None
        reach = revokes is not None and revokes.reachable(k)
        st = status.get(k) or {}
        revoked = now if reach and st.get("revoked") and st.get("owed") is None else None
        words = "revoked" if revoked else str(st.get("shown") or revoke or "not revoked") if reach else \
            "OUT_OF_REACH: no revoke: block in the Accounts document, or a venue without the switch"
        out.append(KillReport(kill_id, shard, k, locked_ms=locked, resting_ms=gone, revoked_ms=revoked,
                              resting=left or "nothing resting", revoke=words, out_of_reach=not reach, ts_ms=now))
    return out


# --- the operator's side: sent to any shard's API ---------------------------------------------------

# How long the operator's side of a firm-wide kill waits for one call to the firm's tables in
# PostgreSQL: well under a client's 10 s (client/transport.py), so that a paused store is said as
# the store's and never taken for a runner that does not answer. The kill carried out here after it
# is written (locks, cancels, revokes at the venues) is not bounded by it.
FIRM_WAIT_S = 4.0
LOCAL_HALT = "this shard's own accounts now: ksctl lock --scope global --mode halted"


class FirmTablesSilent(Exception):
    """A call to the firm's tables had no answer within :data:`FIRM_WAIT_S` (it may still run)."""

    def __str__(self) -> str:
        return (f"STATE_UNREACHABLE: the firm's tables in PostgreSQL did not answer within {FIRM_WAIT_S:g}s "
                "(the runner did)")


async def firm_wait(call: Awaitable[Any]) -> Any:
    """``call`` (what reads or writes the firm's tables) waited at most :data:`FIRM_WAIT_S`, or
    :class:`FirmTablesSilent`."""
    try:
        return await asyncio.wait_for(call, FIRM_WAIT_S)
    except asyncio.TimeoutError:
        raise FirmTablesSilent() from None


async def firm_call(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` (a call to the firm's tables) on a thread, waited at most :data:`FIRM_WAIT_S`."""
    return await firm_wait(asyncio.to_thread(fn, *args))


async def kill_preview(link: Any, board: dict) -> dict:
    """What a firm-wide kill would do now (:func:`killswitch.firm.kill.kill_preview`), with the
    ``preview_id`` the kill must carry (its shards' accounts and those not heard)."""
    kill, release = await firm_call(link.firm.kills)
    in_force = None if kill is None or release is not None else {"id": kill.id, "actor": kill.actor}
    got = preview_of(link.start.assignment, board, link.start.declared, in_force)
    if "error" in board:
        got["lines"].insert(0, f"the firm board could not be read ({board.get('reason')}): every shard is shown "
                               "NOT HEARD")
    got["preview_id"] = kill_preview_id(got)
    return got


async def send_kill(link: Any, reason: str, preview_id: Optional[str], actor: Optional[str], board: dict) -> Any:
    """The kill written for every shard (fenced by this shard's token), as previewed
    (``preview_id``), then carried out here at once; each shard carries it out on its own
    accounts at its next tick or on the firm channel's notification."""
    lead = link.ports.lead
    if (refused := lead.not_leader("kill")) is not None:
        return ChangeResult(False, refused)
    if not reason.strip():
        return ChangeResult(False, "BAD_REQUEST: a kill needs a reason")
    try:
        preview = await kill_preview(link, board)
    except FirmTablesSilent as e:
        return ChangeResult(False, f"{e}; nothing was sent; {LOCAL_HALT}")
    if (no := preview_refused(preview, preview_id, "the firm's shards or their accounts", "sent")) is not None:
        return ChangeResult(False, no)
    accounts = sorted(k for s in preview["shards"] for k in s["accounts"])
    d = Directive(KILL, "global", {"accounts": accounts, "reason": reason, "source": "operator",
                                   "shards": {s["shard"]: s["accounts"] for s in preview["shards"]},
                                   "unheard": preview["unheard"]}, None, actor or "operator")
    try:
        did, in_force = await firm_call(link.firm.send_kill, link.start.name, link.start.schema, lead.fence,
                                        d, link.clock())
    except FencedError:
        return ChangeResult(False, lead.deposed())
    except FirmTablesSilent as e:
        return ChangeResult(False, f"{e}; whether the kill was written is not known (written, every shard carries "
                                   f"it out; asking again is then KILL_IN_FORCE): ksctl status --firm; {LOCAL_HALT}")
    except StoreError as e:
        return ChangeResult(False, f"STATE_UNREACHABLE: the kill could not be written: {e}")
    if did is None:
        return ChangeResult(False, f"KILL_IN_FORCE: kill {in_force} is in force; release it before another")
    here = await _carry_out(link)
    unheard = preview["unheard"]
    return ChangeResult(True, f"KILL_SENT: directive {did} for {len(accounts)} account(s) on "
                              f"{len(preview['shards'])} shard(s)" + (
                                  f"; NOT HEARD, carried out when heard again: {', '.join(unheard)}" if unheard else
                                  "") + here + "; follow it with ksctl status --firm")


_CARRYING: set[asyncio.Task] = set()  # applications of a written kill still running (kept from the collector)


async def _carry_out(link: Any) -> str:
    """The written kill carried out on this shard's accounts (the applier takes the runner's
    turn), waited at most :data:`FIRM_WAIT_S`: a tick holding the turn (on a state store that
    does not answer) must not keep the answer past a client's time-out. Past it, the application
    goes on (never cut half-way) and the answer says so."""
    task = asyncio.ensure_future(link.applier.apply_new())
    _CARRYING.add(task)
    task.add_done_callback(_CARRYING.discard)
    try:
        await asyncio.wait_for(asyncio.shield(task), FIRM_WAIT_S)
    except asyncio.TimeoutError:
        return (f"; this shard carries it out once its tick gives up the runner's state (not within "
                f"{FIRM_WAIT_S:g}s)")
    return ""


async def release_kill(link: Any, approver: str, reason: str) -> ChangeResult:
    """``approver``'s approval of the release of the kill in force; the second distinct
    approver's writes the release for every shard."""
    lead = link.ports.lead
    if (refused := lead.not_leader("release")) is not None:
        return ChangeResult(False, refused)
    try:
        taken, why, did = await firm_call(link.firm.approve_kill_release, link.start.name, link.start.schema,
                                          lead.fence, approver, reason, link.clock())
    except FencedError:
        return ChangeResult(False, lead.deposed())
    except FirmTablesSilent as e:
        return ChangeResult(False, f"{e}; whether the approval was taken is not known: ksctl status --firm")
    except StoreError as e:
        return ChangeResult(False, f"STATE_UNREACHABLE: the approval could not be written: {e}")
    await lead.audit("firm_kill_release_approval", link.clock(), {"approver": approver, "reason": reason,
                                                                   "taken": taken, "answer": why, "directive": did})
    if did is not None:
        await link.applier.apply_new()
    return ChangeResult(taken, why)


async def kill_status(link: Any, board: dict) -> dict:
    """The newest kill's progress per shard and account (``GET /v1/firm/kill``); ``kill``: None
    when no kill was ever sent."""
    kill, release = await asyncio.to_thread(link.firm.kills)
    if kill is None or kill.id is None:
        return {"kill": None}
    reports = await asyncio.to_thread(link.firm.kill_reports, kill.id)
    approvals = await asyncio.to_thread(link.firm.kill_approvals, kill.id)
    head = {"id": kill.id, "actor": kill.actor, "reason": kill.payload.get("reason"), "created_ms": kill.created_ms,
            "unheard_at_send": list(kill.payload.get("unheard") or ())}
    rel = None if release is None else {"id": release.id, "approvers": list(release.payload.get("approvers") or ()),
                                        "created_ms": release.created_ms}
    return progress_of(head, reports, link.start.assignment, link.start.declared, board, approvals, rel)


async def unlock_under_kill(link: Any, scope: str, payload: dict, actor: Optional[str]) -> Optional[ChangeResult]:
    """An operator's unlock of the firm-wide ``scope`` refused up front while a firm-wide kill is
    in force (``KILL_IN_FORCE``, naming its release), or while whether one is cannot be read,
    audited with its author as a shard's own refusal is; None when no kill is in force."""
    try:
        kill, release = await firm_call(link.firm.kills)
    except FirmTablesSilent as e:
        why = f"{e}; whether a firm-wide kill is in force is not known; nothing was unlocked"
    except StoreError as e:
        why = f"STATE_UNREACHABLE: the firm's tables could not be read: {e}; nothing was unlocked"
    else:
        if kill is None or release is not None:
            return None
        why = unlock_refused(scope, f"{kill.id} by {kill.actor}")
    lead = link.ports.lead
    if lead.leader:
        try:
            await lead.audit("manual_unlock", link.clock(), {"scope": scope, "reason": payload.get("reason"),
                                                            **({"by": actor} if actor else {}), "refused": why})
        except FencedError:
            return ChangeResult(False, lead.deposed())
    return ChangeResult(False, why)
