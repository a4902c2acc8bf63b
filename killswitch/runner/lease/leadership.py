"""The runner's role: whether it leads and under which fencing token, and the turn operator
changes take (the lease itself is the keeper's, :mod:`.keeper`).

What it owns: whether this runner leads and under which fencing token; taking the lease from
the :class:`~killswitch.runner.lease.keeper.LeaseKeeper` thread (``ksctl run``) or, without one (tests,
``ksctl demo``), from the store at each tick; what a new token calls for before this runner
acts under it (the state another leader moved on, the sinks' saved state); the check made
before every order (``fence_holds``); the audit rows written under the token — every audit row
the runner, its parts and its sinks write goes through here, the one writer of the chain (the
sinks' rows through :meth:`Leadership.audit_now`, a notification's receipt through
:meth:`Leadership.audit_receipt`, a sink's failure through :meth:`Leadership.audit_later`, the
executor's through :attr:`Leadership.orders_audit`) — and the runbooks the sinks store under it
(:meth:`Leadership.save_runbook_now`); and the turn (:class:`Turn`) that an operator change and
a change of token each take, so that a change is audited, applied and saved under one token,
never across two (the turn itself, and the tick's place at its head, are :mod:`.turn`'s).

Must not: decide anything about the book, or send anything. A runner that does not lead
evaluates nothing and sends nothing; what it writes as leader carries its token, so a deposed
leader's writes are refused by the store (``FencedError``).
"""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import Any, Awaitable, Callable, Optional, Sequence

from ...state.store import FencedError, RunbookRecord, StateStore, StoreError
from ..book.book import Book
from ..storeio import StoreIO
from .keeper import LeaseKeeper
from .log import LeaseLog
from .turn import Turn

__all__ = ["FencedAudit", "Leadership", "Turn"]

log = logging.getLogger(__name__)


class FencedAudit:
    """Audit rows appended under the token ``token()`` gives when each is written (None: as a
    standby, unfenced). The one place a runner calls the store's ``audit`` (with the standby
    row of :meth:`Leadership.audit_or_standby`): the executor's rows through one fenced by the
    term's token, whatever it believes of its lead (:attr:`Leadership.orders_audit`)."""

    def __init__(self, store: StateStore, io: StoreIO, token: Callable[[], Optional[int]]):
        self.store = store
        self.io = io
        self.token = token

    async def audit(self, kind: str, ts_ms: int, payload: dict) -> int:
        return await self.io(self.store.audit, kind, ts_ms, payload, fence=self.token())

    async def audit_many(self, rows: Sequence[tuple[str, int, dict]]) -> list[int]:
        return await self.io(self.many_call(rows))

    def many_call(self, rows: Sequence[tuple[str, int, dict]]) -> Callable[[], Any]:
        """The append of ``rows`` as a call to make on the store thread, under the token as it
        is now (see :meth:`StoreIO.in_order`)."""
        return partial(self.store.audit_many, rows, fence=self.token())

    def audit_now(self, kind: str, ts_ms: int, payload: dict) -> int:
        return self.store.audit(kind, ts_ms, payload, fence=self.token())

    def audit_later(self, kind: str, ts_ms: int, payload: dict) -> None:
        self.io.forget(self.store.audit, kind, ts_ms, payload, fence=self.token())


class Leadership:
    """This runner's term as leader; see the module doc. ``on_new_state(now)`` is called when a
    new token comes with a state another leader moved on (the runner forgets what it had not
    confirmed, and counts silence from now); ``restore_sinks(doc)`` hands the sinks their saved
    state when this runner starts leading from a stored document."""

    def __init__(self, book: Book, store: StateStore, io: StoreIO, holder: str, lease_ttl_ms: int,
                 clock: Callable[[], int], turn: Turn, *, on_new_state: Callable[[int], None],
                 restore_sinks: Callable[[Optional[dict]], None]):
        self.book = book
        self.store = store
        self.io = io
        self.holder = holder
        self.lease_ttl_ms = lease_ttl_ms
        self.clock = clock
        self.turn = turn
        self.on_new_state = on_new_state
        self.restore_sinks = restore_sinks
        self.fence = 0
        self.leader = False
        self.keeper: Optional[LeaseKeeper] = None  # the lease thread; None: the tick renews the lease itself
        self.lease_log = LeaseLog(holder)  # every change of our hold on the lease, said once and counted
        self.stale = False  # a fenced write failed after its change was applied here: reload on the next token
        # a store call failed: reload before acting again, under the next token or the same one
        self.resync = False
        self.replans_checked = True  # False from a new token until the journal was read for lost re-plans
        # the lease's holder as the lease stores it (its name: the pod's in the chart), read at the
        # last lease check; None: nobody holds it, or it could not be read
        self.lease_holder: Optional[str] = None
        # the holder the lease named before this runner's latest token; whether its next token is
        # a term to audit (``lease_taken``: the first one of the process, and the first after a
        # loss; a renewal that came back under a new token after its own lapse, unsaid, is not)
        self.took_from: Optional[str] = None
        self.took_ms: Optional[int] = None  # when this runner took the token it leads under
        self.taken_due = True
        self._rows = FencedAudit(store, io, lambda: self.fence if self.leader else None)
        self._held_rows = FencedAudit(store, io, lambda: self.fence or None)  # the last token held
        self.orders_audit = FencedAudit(store, io, lambda: self.fence)  # the executor's: always the term's token

    async def lease(self, now: int) -> bool:
        """Whether this runner leads now; on a new token, the state that goes with it first.
        Takes the turn, ahead of the operator changes waiting for it: a change is audited,
        applied and saved under one token, and no queue of changes delays a renewal."""
        async with self.turn.first():
            leads = await self._lease(now)
            await self.audit_lost(now)
            return leads

    async def audit_lost(self, now: int) -> None:
        """``lease_lost``: each token this runner held and lost since it last looked (its term ran
        out, taken over, fenced off), once, as the standby it is now (unfenced). A store error
        keeps them for the next look."""
        lost = self.lease_log.take_lost()
        for i, (token, reason) in enumerate(lost):
            try:
                await self.audit_as_standby("lease_lost", now, {"holder": self.holder, "fence": token,
                                                                "reason": reason})
            except Exception:
                self.lease_log.lost_unaudited[:0] = lost[i:]  # (written at the next look)
                raise
            self.taken_due = True

    async def audit_taken(self, now: int) -> None:
        """``lease_taken``: this runner leads from now on (the first tick under a token, as
        leader), with the holder the lease named before; once per term (see ``taken_due``)."""
        if self.fence and self.taken_due:
            await self.audit("lease_taken", now, {
                "holder": self.holder, "fence": self.fence, "taken_ms": self.took_ms,
                "previous": self.took_from if self.took_from != self.holder else None})
            self.taken_due, self.took_ms = False, None

    async def _token(self, now: int) -> Optional[int]:
        if self.keeper is not None:
            return self.keeper.token(now)
        return await self.io(self.store.acquire_lease, self.holder, self.lease_ttl_ms, now)

    async def _lease(self, now: int) -> bool:
        token = await self._token(now)
        seen = self.lease_holder
        await self._see_holder(token, now)
        if self.keeper is None:  # (the lease thread says its own changes, as they happen)
            if token is not None:
                self.lease_log.took(token, previous=seen)
            elif self.fence:
                self.lease_log.lost(self.fence, f"taken by {self.lease_holder}" if self.lease_holder
                                    else "not renewed within its term")
        if token is None or (token == self.fence and not self.resync):
            self.leader = token is not None
            return self.leader
        # A new token: the lease lapsed or changed hands since we last held it. If another leader
        # moved the state on meanwhile, ours is stale: take theirs. Not leader until the state
        # that goes with the token is in place (an operator call may come between).
        self.leader = False
        if token != self.fence and (self.took_ms is None or not self.taken_due):
            self.took_from, self.took_ms = seen, now  # (the first token of a term not audited yet)
        book = self.book
        # a store call failed since we last acted (see store_failed): the store's state, under
        # whichever token, whether or not anything was ever saved
        reloaded = self.resync
        if not reloaded and self.fence:
            doc = await self.io(self.store.load_engine_state)
            # another leader moved the state on, or a write of ours was fenced off after what it
            # recorded was applied here: the store's state is the one to go on from
            reloaded = bool(doc and (self.stale or doc["engine"].get("last_tick_ms") != book.state.last_tick_ms))
        if reloaded:
            await book.reload(self.io, self.store)
            self.on_new_state(now)
        self.stale = False
        if not book.pnl_complete:  # followed as a standby between two sample steps: read it all
            await book.reload(self.io, self.store)
            reloaded = True
        if reloaded or not self.fence:
            if not reloaded:  # the first time: the silences and acknowledgements as stored
                await book.reload_notes(self.io, self.store)
            # leading from a saved state (the first time, or after another leader): the sinks take
            # up where it left off (notification groups, what was already paged)
            doc = book.loaded if reloaded else await self.io(self.store.load_engine_state)
            self.fence = token  # what the sinks audit as they take it up is written under the new token
            self.restore_sinks(doc)
        self.fence = token
        self.resync = False
        self.leader = True
        self.replans_checked = False
        return True

    async def _see_holder(self, token: Optional[int], now: int) -> None:
        """Who holds the lease, for a standby's refusals, status and console."""
        if token is not None:
            self.lease_holder = self.holder
        elif self.keeper is not None:
            self.lease_holder = self.keeper.seen_holder(now)
        else:  # the tick takes the lease itself: one read of the lease row
            try:
                le = await self.io(self.store.lease)
                self.lease_holder = le.holder if le.valid_at(now) else None
            except Exception:  # noqa: BLE001 - who leads is said when known; the lease decides, not this
                self.lease_holder = None

    def store_failed(self) -> None:
        """A store call failed (the server unreachable or paused past the call's deadline, the
        connection lost): what this runner holds may be ahead of the store (a change it applied
        whose write failed) or behind it (a write whose answer was lost may have committed).
        It acts again only from what the store holds, read back at its next look at the lease
        (under the same token, or the next), as after a takeover: a restart of the process,
        without the process ending. The journal's idempotence does the rest (see executor)."""
        self.leader = False
        self.resync = True

    async def fence_holds(self) -> bool:
        """Asked before every order: no one took the lease since (the store's token is still
        ours) and our term has not run out (the keeper could renew it). The term is looked at
        after the store has answered, as close to the send as can be: a store that answers late
        (a paused server, a lost connection) may answer with our token after the term ran out
        and a standby, by then free to take the lease, acts on the same book."""
        if not self.term_holds():
            # (no store read needed to know it; not leader: deposed, or a store call failed and
            # the state is to be read back, while another account's orders of the same tick go on)
            return False
        try:
            ours = await self.io(self.store.current_fence) == self.fence
        except StoreError:
            raise  # the store cannot tell: nothing is sent, and the tick stops on it (see Runner.tick)
        except Exception:  # noqa: BLE001 - cannot tell: do not send
            return False
        return ours and self.term_holds()

    def send_until(self) -> float:
        """Until when (the machine's monotonic clock) an order may leave: the term's end while this
        runner leads (infinite where the tick renews the lease itself), 0.0 when it does not. What
        the readers' last look reads (adapters/remote/); :meth:`term_holds` is the same look here."""
        if not self.leader:
            return 0.0
        return math.inf if self.keeper is None else self.keeper.send_until(self.fence)

    def term_holds(self) -> bool:
        """This runner leads and its term has not run out: no I/O, so an adapter may ask it at
        the last moment before an order's request leaves (the executor's send gate), after
        whatever waits the adapter had of its own since :meth:`fence_holds` was asked. It is
        also what status, ``/readyz`` and ``killswitch_leader`` say: with a lease thread, a
        runner whose term ran out unrenewed says it does not lead at the term's end by its own
        clock, even while a tick waits on a store that stopped answering (and holds the turn)."""
        return self.leader and (self.keeper is None or self.keeper.holds(self.fence, self.clock()))

    def fenced_off(self, refused: Optional[FencedError] = None) -> bool:
        """A write under our token was refused (FencedError): another runner holds the lease.
        Act as a standby, and go on from the store's state when the lease comes back (what
        changed here may not be in it). True: deposed. A write ``refused`` that carried a token
        older than the one this runner holds now (begun in a term that lapsed, refused after it
        took the lease again) deposes nothing: as after a failed store call, it acts again from
        what the store holds, read back at its next look at the lease (False)."""
        if refused is not None and refused.fence < self.fence:
            log.info("a write under token %d (a lapsed term of this runner's) was refused; token %d is "
                     "held: acting again from the store's state", refused.fence, self.fence)
            self.store_failed()
            return False
        self.stale = True
        self.deposed()
        return True

    def audit_call(self, rows: Sequence[tuple[str, int, dict]]) -> Callable[[], Any]:
        """Audit rows as one append (all or none), fenced as :meth:`audit`, to make on the store
        thread in one call with other writes (:meth:`~killswitch.runner.tick.persist.Persistence.save`)."""
        return self._rows.many_call(rows)

    async def audit(self, kind: str, ts_ms: int, payload: dict) -> int:
        """An audit row, fenced while this runner acts as leader (FencedError once deposed)."""
        return await self._rows.audit(kind, ts_ms, payload)

    async def audit_many(self, rows: Sequence[tuple[str, int, dict]]) -> list[int]:
        """Audit rows as one append (all or none), fenced as :meth:`audit`."""
        return await self._rows.audit_many(rows)

    def audit_now(self, kind: str, ts_ms: int, payload: dict) -> int:
        """An audit row a sink writes from sync code (a runbook stored or rendered again), in
        the calling thread. Fenced by the last token this runner held, leader or not
        now: a sink's row follows what this runner did as leader, and a deposed leader's is
        refused (FencedError, nothing written). A runner that never led (token 0) writes it as
        the standby it is."""
        return self._held_rows.audit_now(kind, ts_ms, payload)

    def audit_receipt(self, kind: str, ts_ms: int, payload: dict) -> int:
        """A notification's receipt, written by the notify sink's delivery worker in the calling
        thread, fenced as :meth:`audit_now`. The worker runs off the tick's timeline: when this
        runner's own lease lapsed and it took it again (a new token, the same holder), a receipt
        may come between the store handing out the token and the tick taking it up. The store
        then refuses the last token held; the row is this runner's to write under the one it now
        holds, and it is, fenced by that token (so in the same transaction as the check that it
        is still current). A deposed runner's receipt is refused (FencedError, nothing written):
        the lease names another holder, or none."""
        try:
            return self._held_rows.audit_now(kind, ts_ms, payload)
        except FencedError as refused:
            lease = self.store.lease()
            if lease.holder != self.holder or lease.fence <= refused.fence:
                raise
            return self.store.audit(kind, ts_ms, payload, fence=lease.fence)

    def save_runbook_now(self, record: RunbookRecord) -> None:
        """A runbook a sink stores (rendered, or rendered again), in the calling thread, fenced
        as :meth:`audit_now`: a deposed leader's is refused (FencedError) and the runbook the
        leader stored stays."""
        self.store.save_runbook(record, fence=self.fence or None)

    def audit_later(self, kind: str, ts_ms: int, payload: dict) -> None:
        """An audit row queued on the store thread and not awaited (a sink's failure, said from
        sync code), fenced as :meth:`audit_now`; a refusal or a store error is the store
        thread's to swallow (the store may be what failed)."""
        self._held_rows.audit_later(kind, ts_ms, payload)

    async def audit_or_standby(self, kind: str, ts_ms: int, payload: dict) -> None:
        """A row about this runner rather than an action on the book (a policy reload): fenced
        while leader; a runner deposed meanwhile learns it here and writes it as the standby it
        now is."""
        try:
            await self.audit(kind, ts_ms, payload)
        except FencedError:
            self.deposed()
            await self.audit_as_standby(kind, ts_ms, payload)

    async def audit_or_deposed(self, kind: str, ts_ms: int, payload: dict) -> Optional[str]:
        """An operator's change audited, fenced as :meth:`audit`: None once written, else the
        refusal it answers (:meth:`deposed`): nothing of it is applied."""
        try:
            await self.audit(kind, ts_ms, payload)
        except FencedError:
            return self.deposed()
        return None

    async def saved_or_deposed(self, save: Awaitable[None]) -> Optional[str]:
        """An operator's change saved (``save``, fenced): None once through, else the refusal it
        answers (:meth:`deposed`), this runner going on from the store's state when it leads
        again (what it applied here may not be in it)."""
        try:
            await save
        except FencedError:
            self.stale = True
            return self.deposed()
        return None

    async def audit_as_standby(self, kind: str, ts_ms: int, payload: dict) -> None:
        """A row written by a runner that does not lead (unfenced, marked ``standby``): an
        operator's lock stored for the next leader (:mod:`.stored`)."""
        await FencedAudit(self.store, self.io, lambda: None).audit(kind, ts_ms, {**payload, "standby": True})

    async def audit_refusal(self, kind: str, ts_ms: int, payload: dict, why: str) -> None:
        """An operator's change refused, audited with ``why`` (``refused``); a runner deposed
        meanwhile writes nothing and steps down, as at any fenced write."""
        try:
            await self.audit(kind, ts_ms, {**payload, "refused": why})
        except FencedError:
            self.leader = False

    def deposed(self) -> str:
        """A write was fenced off: this runner no longer leads. The refusal an operator sees."""
        self.leader = False
        self.lease_log.lost(self.fence, "a write under it was fenced off: another runner holds the lease")
        return f"DEPOSED: another runner holds the lease (fence {self.fence} is stale); nothing changed here"

    def not_leader(self, what: str) -> Optional[str]:
        """Why an operator's ``what`` is refused here, if this runner is a standby (or its term
        ran out unrenewed: it acts no more until the store confirms what it holds)."""
        if self.term_holds():
            return None
        if self.leader:  # (its term ran out unrenewed: the store has not answered the lease thread)
            return (f"NOT_LEADER: this runner ({self.holder}) did not renew its lease within its term (the state "
                    f"store has not answered it) and acts on nothing; send the {what} to the leader")
        return f"NOT_LEADER: this runner ({self.holder}) is a standby; {self.leader_text()}; send the {what} there"

    def leader_text(self) -> str:
        """Who leads, as a standby says it: the lease holder's name as the lease stores it."""
        if self.term_holds():
            return f"this runner ({self.holder}) leads"
        if self.lease_holder and self.lease_holder != self.holder:
            return f"the leader is {self.lease_holder} (the lease holder)"
        return "no runner holds the lease right now (a standby takes it when its term runs out)"
