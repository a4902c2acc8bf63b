"""Send lanes: each account's orders sent beside the ticks, so that one account's paced
flatten never holds another account's decision.

A stage that closes fifty positions of one account sends them at the venue's order rate (Bybit
ten a second, Hyperliquid five): five to ten seconds. Sent inside the tick, they held the next
tick, and with it every other account's trigger, for as long (a firm run of ten accounts: one
tick of 5–10 s, another account's first close 5 s after its event). Here each account's orders
of a tick are a *lane*, a task of its own; the tick waits for its lanes at most ``wait_s`` (the
orders of a calm venue are all answered well within it) and goes on; a lane still sending
carries on beside the next ticks, and what it reports is taken up by the first tick that calls
:meth:`SendLanes.run` after it ended. The reconciliation runs as a lane too (:data:`RECONCILE_LANE`,
one at a time): asking a venue about fifty orders it answered as open held a tick 4 s.

What keeps it safe — the same rules as a send inside the tick:

- every order of a lane was journaled before the lane began, and each one asks the fence and
  the lease term before it leaves (the executor's ``run``); a lane of a runner deposed meanwhile
  stops at its next order, leaving the rest journaled without a result for the next leader;
- a later batch for the same account runs after the account's earlier lane ends, whatever it
  ended in: an account's orders leave in the order they were planned;
- while a lane holds an order that has no answer yet, its position is busy for every later
  close (:meth:`~.executor.Executor.hold` finds the journaled intent), and reconciliation and
  the remainders' cancels leave it alone (:meth:`SendLanes.in_flight`): a journaled order not yet sent is
  not an order the venue lost, and is never sent twice;
- an exception a lane meets (its write fenced off, the store unreachable, the process ending) is
  kept and raised by the next :meth:`SendLanes.run`, in the tick, where the tick's own handling applies;
  none is left unretrieved. A lane cancelled at shutdown leaves its unsent orders journaled, as a crash would.

Must not: plan, size or journal anything (the executor does), or send an account's orders out of
their order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Iterable, Optional

from .execution import ExecutionReport

log = logging.getLogger("killswitch.runner.executor")

Send = Callable[[], Awaitable[ExecutionReport]]

# How long a tick waits for its lanes: a calm venue answers a few orders well within it; an
# account's paced flatten goes on beside the next ticks.
SEND_WAIT_S = 0.25
# The reconciliation's lane (runner/venue/reconcile.py): one at a time, beside the ticks too.
RECONCILE_LANE = "(reconcile)"
# How long a runner that stops lets its lanes end before it cancels them.
LANES_DRAIN_S = 10.0


class SendLanes:
    """The accounts' send tasks. ``wait_s``: how long a tick waits for its lanes (None: until
    every one has ended, as a send inside the tick)."""

    def __init__(self, wait_s: Optional[float] = None):
        self.wait_s = wait_s
        self._tails: dict[str, asyncio.Task] = {}  # account key → its last lane
        self._in_flight: set[str] = set()  # client order ids a lane holds, unanswered
        self._landed: list[ExecutionReport] = []  # reports of lanes ended, not taken up yet
        self._failure: Optional[BaseException] = None

    def in_flight(self) -> frozenset[str]:
        """The client order ids a lane holds and has not had answered yet."""
        return frozenset(self._in_flight)

    def busy(self, key: Optional[str] = None) -> int:
        """How many lanes are running now (of ``key`` alone: 1 or 0)."""
        if key is not None:
            task = self._tails.get(key)
            return int(task is not None and not task.done())
        return sum(1 for t in self._tails.values() if not t.done())

    def answered(self, cid: str) -> None:
        """``cid``'s answer is journaled: no longer in flight."""
        self._in_flight.discard(cid)

    async def run(self, batches: Iterable[tuple[str, list[str], Send]]) -> ExecutionReport:
        """Start a lane per ``(account key, client order ids, send)`` (ids none of which is
        in flight: the caller leaves those out), wait for them up to ``wait_s``, and return what
        every lane ended since the last call reported (raising what one of them met)."""
        started = []
        for key, cids, send in batches:
            self._in_flight.update(cids)
            task = asyncio.create_task(self._lane(key, self._tails.get(key), cids, send), name=f"send {key}")
            self._tails[key] = task
            started.append(task)
        if started:
            await asyncio.wait(started, timeout=self.wait_s)
        return self.take_landed()

    def take_landed(self) -> ExecutionReport:
        """What the lanes ended since the last call reported, merged; raises the first
        exception one of them met (and forgets it)."""
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure
        out = ExecutionReport()
        landed, self._landed = self._landed, []
        for r in landed:
            out.merge(r)
        return out

    async def drain(self, timeout_s: float) -> None:
        """At shutdown: let the lanes finish up to ``timeout_s``, then cancel the rest (their
        unsent orders stay journaled without a result, for whoever leads next)."""
        tasks = [t for t in self._tails.values() if not t.done()]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending)
            log.warning("SEND_CUT: %d account(s) still sending at shutdown; their unsent orders stay journaled "
                        "for the next leader to settle", len(pending))

    async def _lane(self, key: str, before: Optional[asyncio.Task], cids: list[str], send: Send) -> None:
        me = asyncio.current_task()
        try:
            if before is not None and not before.done():
                await asyncio.wait([before])  # the account's earlier orders first, however they end
            report = await send()
            self._landed.append(report)  # (the list as it is now: take_landed swaps it)
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # noqa: BLE001 - kept for the tick to raise (see take_landed)
            if self._failure is None:
                self._failure = e
            else:
                log.warning("send lane %s: %s after an earlier lane's %s", key, type(e).__name__,
                            type(self._failure).__name__)
        finally:
            self._in_flight.difference_update(cids)
            if self._tails.get(key) is me:
                del self._tails[key]
