"""Operator commands that change the book: reset, lock, unlock, and the dead man's switch.

What it owns: an approval of a manual reset (its own module, :mod:`.resets`, a part of
:class:`OperatorCommands`); an operator's lock of a scope (until unlock or its
ttl); an unlock, which lifts only operator and dead man's switch locks (a policy's hold —
a stage's, a manual-reset one too, or one while blind or in a trading window — stays, named in
the answer; with nothing of those two to lift it is refused: ``KILL_IN_FORCE`` under a
firm-wide kill, naming its release, ``MANUAL_RESET_REQUIRED`` for a manual-reset stage,
``POLICY_LOCK`` for another policy's hold);
arming and disarming a source's dead man's switch. Each returns the view dataclass the API
serialises, with a reason code when it is refused.

The order of a change is its safety: it is audited first (fenced: a deposed runner changes
nothing), then computed from the book as it is once the audit row is stored — the tick may
have moved it on meanwhile — applied, saved and written to the lock file. A write fenced off
after the change was applied takes it back and marks the book stale (reloaded from the store
when the lease comes back). A scope, policy or source the runner does not know is refused with
close matches, never accepted: a lock on a typo would stop nothing.

A tightening lock sent while no runner leads (this runner stood itself down for slowness, or
stands by while the lease is free) is never refused: it is applied once this runner's own
lease comes back within a renewal period, or else stored for the next leader (``LOCK_STORED``,
:mod:`killswitch.runner.lease.stored`), who takes every stored lock up in order through the
same path (:meth:`OperatorCommands.take_up_stored`), exactly once: the lock and the request id
are saved in one state document, and the request's row is marked after.

Must not: run outside the operator turn (the API's view calls take it; see
:class:`~killswitch.runner.lease.leadership.Turn`), or change what a policy's stage holds except
through ``approve_reset``.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Optional, Sequence

from ...firm.kill import KILL_HOLD, unlock_refused
from ...holds import LockHold as Hold, binding_text
from ...state.store import FencedError, StateStore, StoredLock
from ...view import ChangeResult, TriggerStatus
from ..book.book import Book
from ..book.dms_state import DeadMansSwitch
from ..book.resuming import Resumptions
from ..collaborators import Emits, Names, Saves
from ..effects import beat_sources
from ..effects.revokes import Revokes
from ..lease.leadership import Leadership
from ..lease.stored import StoredLocks, stored_reason
from ..lock.lock import DEAD_MANS_SWITCH, NOT_A_POLICY, OPERATOR, LockBook, LockHold, iso_ms
from ..names import near_hint
from ..storeio import StoreIO, audit_pages
from ..watch.enforce import enforce_details
from .closes import by
from .resets import ResetApprovals

Update = Callable[[LockBook, DeadMansSwitch], tuple[LockBook, DeadMansSwitch]]


async def _no_overrides() -> Optional[str]:
    return None


class OperatorCommands(ResetApprovals):
    """See the module doc. ``persist`` saves the book and rewrites the lock file (awaited);
    ``sinks`` are handed the events; ``known`` resolves the names an operator gives."""

    def __init__(self, book: Book, lead: Leadership, resumptions: Resumptions, store: StateStore, io: StoreIO, *,
                 clock: Callable[[], int], known: Names, persist: Saves, sinks: Emits,
                 triggers: Callable[[], Sequence[TriggerStatus]] = tuple, revokes: Optional[Revokes] = None,
                 stored: Optional[StoredLocks] = None,
                 end_overrides: Callable[[], Awaitable[Optional[str]]] = _no_overrides):
        self.book = book
        self.lead = lead
        self.resumptions = resumptions
        self.store = store
        self.io = io
        self.clock = clock
        self.known = known
        self.persist = persist
        self.sinks = sinks
        self.triggers = triggers  # every trigger's status: a reset warns of one that still fires
        self.revokes = revokes  # a reset that releases its stage owes the restore of what it revoked
        self.stored = stored  # locks stored while no runner leads (None: refused with NOT_LEADER)
        # the overrides of the limits a halt now binds, ended (stored, audited) before the lock is
        # saved: a halt lifted before the next tick has still ended them (override/overrides.py)
        self.end_overrides = end_overrides

    async def _change(self, kind: str, payload: dict, update: Update, *, stored: Optional[str] = None,
                      audited: bool = False) -> Optional[str]:
        """Audit an operator's change (fenced), apply ``update`` to the lock book and the dead
        man's switch as they are once the audit row is stored, save it and rewrite the lock file.
        None when done; else why it was refused, and nothing changed. ``stored``: the request id
        of a stored lock it applies, saved with it; ``audited``: its audit row is in the chain
        already (a leader stopped between the row and the save), so none is written again."""
        refused = self.lead.not_leader("change")
        if refused:
            return refused
        book = self.book
        now = self.clock()
        if not audited and (deposed := await self.lead.audit_or_deposed(kind, now, payload)):
            return deposed
        undo = book.change_lock_and_dms(update)
        unstore = book.stored_lock_applied(stored) if stored is not None else None
        # the overrides a halt now binds end first (stored, audited): an end only tightens, so a
        # crash between it and the save errs on the safe side, and no unlock can come between
        # the two (the operator turn) nor after them before the overrides are ended
        refused = await self.end_overrides()
        if refused is None:
            try:
                await self.persist.save(lock_at=now)  # (the lock file once the save is through)
            except FencedError:
                refused = self.lead.deposed()
        if refused is not None:
            undo()  # taken back if nothing moved them since
            if unstore is not None:
                unstore()
            self.lead.stale = True  # whatever else moved, the store decides when the lease comes back
            return refused
        return None

    async def firm_lock(self, scope: str, hold: str, audited: dict, *, mode: str, reason: str,
                        stage: Optional[int] = None, manual: bool = False, ttl_ms: Optional[int] = None,
                        details: Optional[dict] = None, written: bool = False) -> Optional[str]:
        """A firm policy's lock of ``scope`` (its directive carried out on this shard), held as
        ``hold`` (``firm:<policy>``, ``firm:kill``) until the firm's reset or the kill's release
        lifts it, by :meth:`_change` (audited ``firm_lock``). ``written``: its row is in the chain
        already (:meth:`firm_lock_audited`)."""
        now = self.clock()
        return await self._change("firm_lock", audited, lambda book, dms: (
            book.apply(scope, mode, now_ms=now, policy=hold, stage=stage, reason=reason, manual=manual,
                       ttl_ms=ttl_ms, details=details), dms), audited=written)

    async def firm_lock_audited(self, directive: int, scope: str, since_ms: int) -> bool:
        """Whether a ``firm_lock`` row of ``directive`` on ``scope`` is in the chain already (a
        leader stopped between the row and its save), read from a minute before ``since_ms``."""
        return await self._in_chain("firm_lock", since_ms,
                                    lambda p: p.get("directive") == directive and p.get("scope") == scope)

    async def _in_chain(self, kind: str, since_ms: int, found: Callable[[dict], bool]) -> bool:
        """Whether a ``kind`` row whose payload ``found`` takes is in the chain, read a page at a
        time from a minute before ``since_ms`` (the clock that stamped it may run ahead)."""
        async for page in audit_pages(self.io, self.store.audit_rows, since_ms - 60_000, [kind]):
            if any(found(r.payload) for r in page):
                return True
        return False

    async def firm_unlock(self, scope: str, hold: str, audited: dict) -> Optional[str]:
        """The firm's reset lifting ``hold`` (``firm:<policy>``) from ``scope``, as
        :meth:`firm_lock` takes it: audited ``firm_unlock``, applied, saved."""
        return await self._change("firm_unlock", audited, lambda book, dms: (book.release(scope, policy=hold), dms))

    async def _refused(self, kind: str, payload: dict, why: str) -> ChangeResult:
        await self.lead.audit_refusal(kind, self.clock(), payload, why)
        return ChangeResult(False, why)

    async def lock_scope(self, scope: str, mode: str, reason: str, ttl_s: Optional[float] = None, *,
                         actor: Optional[str] = None, enforce: Optional[dict] = None,
                         leaderless: bool = False, sink_down: Optional[str] = None) -> ChangeResult:
        """An operator's lock on ``scope``: it replaces the operator's earlier lock of that scope
        and holds until ``unlock_scope`` or its ttl. ``enforce``: what it makes hold at the venue
        (``{cancel, revert_growth}``, each left out going by the mode: see runner/watch/enforce/).
        ``leaderless`` (the operator's API): sent while no runner leads, it is applied once this
        runner leads again within a renewal period of the lease, or stored for the next leader
        (``LOCK_STORED``; see :mod:`killswitch.runner.lease.stored`). ``sink_down``: why no audit
        sink takes rows while ``--audit-sink-required`` asks for one: a lock reduces risk and goes
        on, unless it would loosen the operator's lock in force (:func:`loosens`), which waits
        for a sink as an unlock does (``AUDIT_SINK_DOWN``, audited in the local chain)."""
        kept = enforce_details((enforce or {}).get("cancel"), (enforce or {}).get("revert_growth"))
        payload = {"scope": scope, "mode": mode, "ttl_s": ttl_s, "reason": reason, **kept, **by(actor)}
        if mode not in ("halted", "reducing"):
            return ChangeResult(False, f'BAD_REQUEST: mode is "halted" or "reducing", not {mode!r}')
        if (standby := self.lead.not_leader("lock")) is not None:  # before its own view of the book answers
            if not leaderless or self.stored is None:
                return ChangeResult(False, standby)
            if (answer := await self._leaderless(scope, ttl_s, payload, standby)) is not None:
                return answer
        unknown = self.known.catalog().resolve_scope(scope)
        if unknown is not None:
            return await self._refused("manual_lock", payload, unknown.reason)
        ttl_ms, bad_ttl = lock_ttl_ms(ttl_s)
        if bad_ttl:
            return await self._refused("manual_lock", payload, bad_ttl)
        now = self.clock()
        if sink_down is not None and (looser := loosens(self.book.lock_book, scope, mode, now, ttl_ms)):
            return await self._refused("manual_lock", payload, f"AUDIT_SINK_DOWN: {looser}; {sink_down}")
        refused = await self._change("manual_lock", payload, lambda book, dms: (
            operator_lock(book, scope, mode, reason, now, ttl_ms, actor, kept), dms))
        if refused and leaderless and self.stored is not None and self.stored.other_holder() is None:
            # fenced off with no rival: this runner's own lease lapsed and came back under a new
            # token meanwhile; the lock is applied under that one, or stored
            if (answer := await self._leaderless(scope, ttl_s, payload, refused)) is not None:
                # another runner holds it after all: the write was fenced off by it (DEPOSED)
                return answer if answer.stored is not None else ChangeResult(False, refused)
            now = self.clock()
            refused = await self._change("manual_lock", payload, lambda book, dms: (
                operator_lock(book, scope, mode, reason, now, ttl_ms, actor, kept), dms))
        if refused:
            return ChangeResult(False, refused)
        return ChangeResult(True, locked_reason(scope, mode, now, ttl_ms))

    async def _leaderless(self, scope: str, ttl_s: Optional[float], payload: dict, standby: str
                          ) -> Optional[ChangeResult]:
        """A lock sent to this runner while it does not lead: None once it leads again (its own
        lease back within a renewal period; the locks stored before it taken up first), else the
        answer: ``NOT_LEADER`` naming another runner that holds the lease, a refusal of the scope
        or ttl (nothing stored: a lock on a typo would stop nothing), or ``LOCK_STORED``."""
        assert self.stored is not None
        if self.stored.other_holder() is not None:
            return ChangeResult(False, standby)
        unknown = self.known.catalog().resolve_scope(scope)
        if unknown is not None:
            return ChangeResult(False, unknown.reason)
        if (bad_ttl := lock_ttl_ms(payload["ttl_s"])[1]) is not None:
            return ChangeResult(False, bad_ttl)
        if await self.stored.take_lead():
            await self.take_up_stored()  # the requests stored before this one, first
            return None
        if self.stored.other_holder() is not None:  # another runner took the lease meanwhile
            return ChangeResult(False, self.lead.not_leader("lock") or standby)
        row = await self.stored.keep(payload)
        return ChangeResult(False, stored_reason(row), stored=row.request_id)

    async def take_up_stored(self) -> int:
        """As leader: every lock stored while no runner led and not taken up yet, in the order
        stored, through an operator's lock path (its ``manual_lock`` naming the request id, who
        asked and when it was stored), each marked taken in the store after (see the module doc:
        exactly once). A request refused now (its scope gone) is marked with the refusal. Stops
        at the first refusal of leadership: the next leader takes the rest. Returns how many."""
        stored = self.stored
        if stored is None or not self.lead.term_holds():
            return 0
        taken = 0
        for row in await stored.look():
            if row.request_id in self.book.stored_applied:
                result: Optional[str] = stored_locked_reason(row)
            else:
                result = await self._apply_stored(row)
            if result is None:  # no longer leads: the request waits for the next leader
                break
            try:
                await self.io(self.store.stored_lock_taken, row.request_id, self.lead.fence, self.clock(), result)
            except FencedError:
                self.lead.fenced_off()
                break
            self.book.stored_locks_marked([row.request_id])
            stored.taken(row.request_id)
            taken += 1
        return taken

    async def _apply_stored(self, row: StoredLock) -> Optional[str]:
        """One stored request applied as leader: its answer (``LOCKED``, or why it was refused),
        or None if this runner no longer leads."""
        req = row.request
        scope, mode, reason, actor = row.scope, row.mode, str(req.get("reason") or ""), req.get("by")
        kept = {k: req[k] for k in ("enforce",) if k in req}
        payload = {**req, "request": row.request_id, "stored_at": iso_ms(row.stored_ms), "stored_by": row.stored_by}
        unknown = self.known.catalog().resolve_scope(scope)
        ttl_ms, bad_ttl = lock_ttl_ms(req.get("ttl_s"))
        if unknown is not None or bad_ttl is not None or mode not in ("halted", "reducing"):
            why = unknown.reason if unknown is not None else (bad_ttl or f"BAD_REQUEST: mode {mode!r}")
            await self.lead.audit_refusal("manual_lock", self.clock(), payload, why)
            return why if self.lead.term_holds() else None
        audited = await self._audited(row)
        now = self.clock()
        refused = await self._change("manual_lock", payload, lambda book, dms: (
            operator_lock(book, scope, mode, reason, now, ttl_ms, actor, kept), dms),
            stored=row.request_id, audited=audited)
        if refused:
            return None
        return f"{locked_reason(scope, mode, now, ttl_ms)} (stored request {row.request_id})"

    async def _audited(self, row: StoredLock) -> bool:
        """Whether a ``manual_lock`` row naming ``row``'s request is in the chain already (read
        from a minute before it was stored: the storing runner's clock may run ahead)."""
        return await self._in_chain("manual_lock", row.stored_ms,
                                    lambda p: p.get("request") == row.request_id and "refused" not in p)

    async def unlock_scope(self, scope: str, reason: str, *, actor: Optional[str] = None) -> ChangeResult:
        """Lift the operator's and the dead man's switch's locks on exactly ``scope``
        (:func:`unlock_decision`)."""
        now = self.clock()
        payload = {"scope": scope, "reason": reason, **by(actor)}
        if (standby := self.lead.not_leader("unlock")) is not None:  # not NOT_LOCKED from a standby's view
            return ChangeResult(False, standby)
        unknown = self.known.catalog().resolve_scope(scope)
        if unknown is not None:
            return await self._refused("manual_unlock", payload, unknown.reason)
        why, lifted = unlock_decision(self.book.lock_book, scope, now)
        if why is not None:
            return await self._refused("manual_unlock", payload, why)
        refused = await self._change("manual_unlock", {**payload, "lifted": lifted},
                                     lambda book, dms: (lift_unlocked(book, scope), dms))
        if refused:
            return ChangeResult(False, refused)
        still = [h for h in self.book.lock_book.in_force(self.clock()) if h.scope == scope]
        return ChangeResult(True, unlocked_reason(scope, lifted, still))

    async def dms_arm(self, source: str, timeout_s: float, *, actor: Optional[str] = None) -> ChangeResult:
        """Watch ``source``: it must beat within ``timeout_s``. Arming lifts the halt an earlier
        firing of that source left (someone looked)."""
        now = self.clock()
        try:
            self.book.dms.arm(source, timeout_s, now)  # the arguments are checked before anything is audited
        except ValueError as e:
            return await self._refused_arm(source, timeout_s, actor, f"BAD_REQUEST: {e}")
        held = set(self.book.state.heartbeats) | set(self.book.dms.sources)
        if source not in held and len(held) >= beat_sources.MAX_SOURCES:
            return await self._refused_arm(source, timeout_s, actor,
                                           f"{beat_sources.SOURCES_FULL}: {len(held)} heartbeat sources are held "
                                           f"(the bound is {beat_sources.MAX_SOURCES}); {source!r} is not armed: "
                                           "disarm one nothing else names first")
        locked = any(h.scope == source and h.policy == DEAD_MANS_SWITCH for h in self.book.lock_book.in_force(now))
        refused = await self._change(
            "dms_armed", {"source": source, "timeout_s": timeout_s, "lock_released": locked, **by(actor)},
            lambda book, dms: (book.release(source, policy=DEAD_MANS_SWITCH), dms.arm(source, timeout_s, now)))
        if refused:
            return ChangeResult(False, refused)
        return ChangeResult(True, f"DMS_ARMED: source={source} timeout={timeout_s:g}s"
                                  + ("; the halt of its last firing was lifted" if locked else ""))

    async def _refused_arm(self, source: str, timeout_s: float, actor: Optional[str], why: str) -> ChangeResult:
        """An arming refused, audited with its author while this runner leads (a standby says why)."""
        if self.lead.not_leader("arm") is not None:
            return ChangeResult(False, why)
        return await self._refused("dms_armed", {"source": source, "timeout_s": timeout_s, **by(actor)}, why)

    async def dms_disarm(self, source: str, *, actor: Optional[str] = None) -> ChangeResult:
        """Stop watching ``source``. A halt its firing left stays (ksctl unlock, or arm it again)."""
        if (standby := self.lead.not_leader("disarm")) is not None:  # not NOT_ARMED from a standby's view
            return ChangeResult(False, standby)
        st = self.book.dms.sources.get(source)
        if st is None or not st.armed:
            armed = [name for name, s in self.book.dms.sources.items() if s.armed]
            hint = near_hint(source, armed)
            return await self._refused("dms_disarmed", {"source": source, **by(actor)},
                                       f"NOT_ARMED: source {source} is not armed{hint}")
        locked = any(h.scope == source and h.policy == DEAD_MANS_SWITCH
                     for h in self.book.lock_book.in_force(self.clock()))
        refused = await self._change("dms_disarmed", {"source": source, **by(actor)},
                                     lambda book, dms: (book, dms.disarm(source)))
        if refused:
            return ChangeResult(False, refused)
        return ChangeResult(True, f"DMS_DISARMED: source={source}"
                                  + ("; the halt of its firing stays until ksctl unlock" if locked else ""))


# --- the decisions, shared with the previews (:mod:`killswitch.face.readout.previews`): what is previewed is done ---


def lock_ttl_ms(ttl_s: Optional[float]) -> tuple[Optional[int], Optional[str]]:
    """An operator lock's ttl in whole milliseconds (None: until unlocked), or why it is refused."""
    if ttl_s is None:
        return None, None
    ttl_ms = int(round(ttl_s * 1000))
    return (ttl_ms, None) if ttl_ms > 0 else (None, "BAD_REQUEST: ttl must be at least 1ms")


def operator_lock(book: LockBook, scope: str, mode: str, reason: str, now: int, ttl_ms: Optional[int],
                  actor: Optional[str] = None, enforce: Optional[dict] = None) -> LockBook:
    """``book`` with the operator's lock of ``scope`` replaced by this one; ``actor`` (the
    authenticated caller) is kept in its details as ``by`` and named in its reason, and what it
    enforces at the venue (``{"enforce": {...}}``, :func:`~..watch.enforce.values.enforce_details`) with them."""
    until = "until ksctl unlock" if ttl_ms is None else f"until {iso_ms(now + ttl_ms)}"
    who = f" by={actor}" if actor else ""
    return book.release(scope, policy=OPERATOR).apply(
        scope, mode, now_ms=now, policy=OPERATOR, ttl_ms=ttl_ms,
        details={"reason": reason, **by(actor), **(enforce or {})},
        reason=f"MANUAL_LOCK: mode={mode}{who} {until}: {reason}")


def loosens(book: LockBook, scope: str, mode: str, now: int, ttl_ms: Optional[int]) -> Optional[str]:
    """How an operator's lock of ``scope`` would loosen the operator's lock it replaces (a
    reducing lock in place of a halted one; one that ends sooner, even if stricter until then),
    or None: it binds as much or more for as long. A halt without a ttl never loosens; another
    origin's hold is never replaced, so never loosened."""
    held = next((h for h in book.in_force(now) if h.scope == scope and h.policy == OPERATOR), None)
    if held is None:
        return None
    if held.mode == "halted" and mode != "halted":
        return f"a {mode} lock would replace the operator's halted lock of {scope}"
    ends = None if ttl_ms is None else now + ttl_ms
    if ends is not None and (held.expires_ms is None or ends < held.expires_ms):
        until = "until ksctl unlock" if held.expires_ms is None else f"until {iso_ms(held.expires_ms)}"
        return (f"a lock until {iso_ms(ends)} would replace the operator's {held.mode} lock of {scope} {until} "
                "(a halt without a ttl always goes)")
    return None


def locked_reason(scope: str, mode: str, now: int, ttl_ms: Optional[int]) -> str:
    until = "until ksctl unlock" if ttl_ms is None else f"until {iso_ms(now + ttl_ms)}"
    return f"LOCKED: scope={scope} mode={mode} {until}"


def stored_locked_reason(row: StoredLock) -> str:
    """The answer recorded for a stored lock found applied before its row was marked."""
    return f"LOCKED: scope={row.scope} mode={row.mode} (stored request {row.request_id}, applied before)"


def unlock_decision(book: LockBook, scope: str, now: int) -> tuple[Optional[str], list[str]]:
    """(why an unlock of exactly ``scope`` is refused, or None; which locks it lifts: operator,
    dead man's switch), as the module doc says; refused ``NOT_LOCKED`` with nothing held."""
    held = [h for h in book.in_force(now) if h.scope == scope]
    mine = [h for h in held if h.policy in NOT_A_POLICY]
    if mine:
        return None, sorted({"operator" if h.policy == OPERATOR else "dead man's switch" for h in mine})
    policies = [h for h in held if h.policy not in NOT_A_POLICY]
    killed = next((h for h in policies if h.policy == KILL_HOLD), None)
    if killed is not None:  # no stage's, and no reset lifts it: its release does
        directive, actor = killed.details.get("directive"), killed.details.get("by")
        return unlock_refused(scope, " ".join(str(x) for x in (directive, "by" if actor else None, actor) if x)), []
    stages = [h for h in policies if not _no_stage(h)]
    latched = next((h for h in stages if h.manual), None)
    if latched is not None:
        return (f"MANUAL_RESET_REQUIRED: {scope} is held by stage {latched.stage} of policy {latched.policy} "
                f"until a manual reset (ksctl reset --policy {latched.policy} --scope {scope}); no operator or "
                "dead man's switch lock on it to lift; nothing was lifted"), []
    if stages:
        h = stages[0]
        until = f"until {iso_ms(h.expires_ms)}" if h.expires_ms is not None else "until its stage resets"
        return (f"POLICY_LOCK: {scope} is held by stage {h.stage} of policy {h.policy} {until}; ksctl unlock lifts "
                "only operator and dead man's switch locks, and there is none on it; nothing was lifted"), []
    if policies:
        return (f"POLICY_LOCK: no operator or dead man's switch lock on {scope}; it is {binding(policies[0])}, "
                "which ksctl unlock does not lift; nothing was lifted"), []
    return f"NOT_LOCKED: no operator or dead man's switch lock on {scope}", []


def _no_stage(h: LockHold) -> bool:
    """Whether a policy's hold is no stage's: held while the policy is blind, or a trading window."""
    return bool(h.details.get("while_blind") or h.details.get("window"))


def binding(h: LockHold) -> str:
    """A hold in words: its mode, who holds it and until when (:func:`~killswitch.holds.binding_text`)."""
    return binding_text(Hold(**h.to_doc()))


def lift_unlocked(book: LockBook, scope: str) -> LockBook:
    """``book`` without the operator's and the dead man's switch's locks of ``scope``."""
    for origin in NOT_A_POLICY:
        book = book.release(scope, policy=origin)
    return book


def unlocked_reason(scope: str, lifted: list[str], still: Sequence[LockHold] = ()) -> str:
    """The answer of an unlock, and what still binds ``scope`` after it (``still``: its holds)."""
    after = f"; {scope} stays " + "; ".join(still_binds(h) for h in still) if still else ""
    return f"UNLOCKED: {scope} ({' and '.join(lifted)} lock lifted){after}"


def still_binds(h: LockHold) -> str:
    """A hold left after an unlock, in words: a manual-reset stage's names the reset that lifts
    it (``halted by stage 1 of policy bot-a-guard until a manual reset (ksctl reset --policy
    bot-a-guard --scope S)``); any other hold as status says it (:func:`binding`)."""
    if h.manual and h.policy not in NOT_A_POLICY and h.stage is not None:
        return (f"{h.mode} by stage {h.stage} of policy {h.policy} until a manual reset "
                f"(ksctl reset --policy {h.policy} --scope {h.scope})")
    return binding(h)
