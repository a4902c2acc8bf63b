"""Operator locks that wait for a leader: an operator's halt is never refused by a runner that
stood itself down with no rival.

What it owns: the standby's side of a tightening lock (``halted`` or ``reducing``) sent to a
runner that does not lead while no other runner holds the lease — its own term ran out
unrenewed (a loop held past the term at a firm's load), or it stands by while the lease is
free. It first waits, at most one renewal period of the lease (``TTL/3``: the keeper retakes
a lease nobody else took within one retry, a fifth of that), for its own lease to come back
(:meth:`StoredLocks.take_lead`), and the lock is then applied as a leader applies it. If it
still does not lead, the request is stored in the state store (:meth:`StoredLocks.keep`: a
``stored_lock`` row and an unfenced ``lock_stored`` audit row, with a request id) and answered
``LOCK_STORED`` (HTTP 202). It also keeps the requests still waiting as last read
(:attr:`StoredLocks.waiting`) for status, the console and ``/metrics``, read at every look
(:func:`look_for_stored`, every :data:`STORED_LOOK_S` on every runner: one indexed read).

The leader's side — every stored request taken up in order, through the operator's lock path,
exactly once — is :meth:`killswitch.runner.operator.commands.OperatorCommands.take_up_stored`'s:
at the first tick under a new token, before the tick evaluates anything, and at each look while
it leads (a request stored as another runner took the lease, after that runner's first tick).

Must not: store anything but a tightening lock (an unlock, a reset, a dead man's switch change
are refused with ``NOT_LEADER`` as before), store while another runner holds the lease (that
runner applies it: ``NOT_LEADER`` names it), or apply a request (the operator commands do).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Awaitable, Callable, Optional

from ...state.store import StateStore, StoredLock, StoreError
from ..lock.lock import iso_ms
from ..storeio import StoreIO
from .leadership import Leadership

if TYPE_CHECKING:
    from ...metrics import Registry

STORED_LOOK_S = 1.0  # how often every runner reads the requests still waiting (a leader takes them up)
LOCK_STORED = "LOCK_STORED"


def stored_reason(row: StoredLock) -> str:
    """The answer to a lock stored for the next leader (202)."""
    return (f"{LOCK_STORED}: {row.scope} {row.mode} stored at {iso_ms(row.stored_ms)}; no runner leads right now; "
            f"the leader applies it the moment it acts (request {row.request_id})")


def new_request_id() -> str:
    return f"lk-{uuid.uuid4().hex[:16]}"


class StoredLocks:
    """See the module doc. ``wait_ms``: how long a runner that does not lead waits for its own
    lease before it stores a lock (None: one renewal period of the lease, a third of its TTL)."""

    def __init__(self, lead: Leadership, store: StateStore, io: StoreIO, clock: Callable[[], int], *,
                 wait_ms: Optional[int] = None, new_id: Callable[[], str] = new_request_id,
                 monotonic: Callable[[], float] = time.monotonic):
        self.lead = lead
        self.store = store
        self.io = io
        self.clock = clock
        self._wait_ms = wait_ms
        self.new_id = new_id
        self._mono = monotonic  # the wait is bounded on this process's clock, whatever the wall clock does
        self._waited_until = 0.0  # (monotonic) a wait ran out: until then, the next lock is not held back
        self.waiting: tuple[StoredLock, ...] = ()  # stored and not taken up yet, as last read (oldest first)
        self.stored_total = 0  # requests this runner stored
        self.taken_total = 0  # stored requests this runner took up as leader (applied or refused)

    def wait_ms(self) -> int:
        """The bound on the wait for this runner's own lease: one renewal period (``TTL/3``)."""
        if self._wait_ms is not None:
            return self._wait_ms
        keeper = self.lead.keeper
        return keeper.renew_ms if keeper is not None else self.lead.lease_ttl_ms // 3

    def other_holder(self) -> Optional[str]:
        """Another runner that holds the lease, as the lease names it, or None: this runner does,
        or nobody (free, or its holder's term ran out)."""
        keeper = self.lead.keeper
        holder = keeper.seen_holder(self.clock()) if keeper is not None else self.lead.lease_holder
        return holder if holder is not None and holder != self.lead.holder else None

    async def take_lead(self) -> bool:
        """Wait at most :meth:`wait_ms` for this runner to lead (its keeper retakes a lease
        nobody took; without a keeper, the lease is taken here), taking up the token as the
        tick does. False at once when another runner holds the lease, and after one look when
        a wait ran out less than a wait ago."""
        wait_s = self.wait_ms() / 1000
        # a wait that ran out less than a wait ago is not waited again: a burst of locks while no
        # runner leads is stored at once, not one renewal period each (each holds the turn)
        deadline = self._mono() if self._mono() < self._waited_until else self._mono() + wait_s
        step = max(0.005, min(0.05, wait_s / 10))
        while True:
            if await self.lead.lease(self.clock()):
                return True
            if self.other_holder() is not None:
                return False
            if self._mono() >= deadline:
                self._waited_until = self._mono() + wait_s
                return False
            await asyncio.sleep(step)

    async def keep(self, request: dict) -> StoredLock:
        """Store ``request`` (scope, mode, reason, ttl_s, enforce, by) for the next leader: its
        row, then its ``lock_stored`` audit row (unfenced: this runner does not lead). The row is
        the request; an audit row that fails to append leaves it stored, and is said in its
        place by the ``manual_lock`` row that applies it (which names the request, who asked and
        when it was stored)."""
        now = self.clock()
        row = await self.io(self.store.store_lock, self.new_id(), request, self.lead.holder, now)
        self.stored_total += 1
        self.waiting = (*[w for w in self.waiting if w.request_id != row.request_id], row)
        try:
            await self.lead.audit_as_standby("lock_stored", now, {**request, "request": row.request_id,
                                                                  "stored_by": row.stored_by})
        except Exception:  # noqa: BLE001 - the request is stored; the row that applies it names it
            pass
        return row

    async def look(self) -> tuple[StoredLock, ...]:
        """The requests stored and not taken up yet, read now (one indexed read), kept for status."""
        self.waiting = tuple(await self.io(self.store.stored_locks))
        return self.waiting

    def taken(self, request_id: str) -> None:
        """A leader took ``request_id`` up (applied or refused, marked in the store)."""
        self.taken_total += 1
        self.waiting = tuple(w for w in self.waiting if w.request_id != request_id)

    def status(self) -> tuple[dict, ...]:
        """The requests waiting, for status and the console (oldest first)."""
        return tuple({"request": w.request_id, "scope": w.scope, "mode": w.mode, "stored_ms": w.stored_ms,
                      "stored_by": w.stored_by, "by": w.request.get("by"), "reason": w.request.get("reason")}
                     for w in self.waiting)

    def collect_metrics(self, registry: "Registry") -> None:
        registry.sampled("killswitch_locks_stored_waiting", "gauge",
                         "Operator locks stored while no runner led, not applied by a leader yet "
                         "(as this runner last read them).", ()).add(len(self.waiting))
        registry.sampled("killswitch_locks_stored_total", "counter",
                         "Operator locks this runner stored for the next leader because no runner led.",
                         ()).add(self.stored_total)
        registry.sampled("killswitch_locks_stored_taken_total", "counter",
                         "Stored operator locks this runner took up as leader (applied, or refused "
                         "with the reason in their row).", ()).add(self.taken_total)


async def look_for_stored(stored: StoredLocks, take_up: Callable[[], Awaitable[object]],
                          every_s: float = STORED_LOOK_S) -> None:
    """Every ``every_s``: read the requests still waiting (status shows them on every runner),
    and while this runner leads with some waiting, ``take_up`` (the operator's lock path, in the
    turn). Off the tick: one indexed read a second. A store that does not answer skips a look
    (a write that failed reads the state back first, as at a tick). Runs until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        try:
            waiting = await stored.look()
        except StoreError:
            continue  # unreachable: readiness and the tick say so; looked at again in a second
        if waiting and stored.lead.term_holds():
            async with stored.lead.turn.here():  # an operator change's turn, behind the tick
                try:
                    await take_up()
                except StoreError:
                    # a write whose outcome is unknown: act again only from the store's state
                    stored.lead.store_failed()
