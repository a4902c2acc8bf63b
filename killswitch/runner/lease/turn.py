"""The turn: who may change the runner's state next, the tick first.

What it owns: one lock per runner, on the loop its state lives on, that a change of the book
takes — the tick (after its snapshots are in), a change of lease token, an operator's lock,
unlock, reset, close or dead man's switch change — so that each is audited, applied and saved
under one token and none interleaves with another. Two classes of waiters: the tick's
(:meth:`Turn.first`) go ahead of every operator change still waiting, whatever the queue, so a
burst of operator writes delays a tick by at most the one change being applied when the tick
asks; operator changes (:meth:`Turn.here`) wait in arrival order. The lock is re-entrant for the
task that holds it (the tick renews the lease inside its own turn), and the tick lends it out
while it waits on the network (:meth:`Turn.lent`): operator changes are applied while its
snapshots are fetched, never while it evaluates, journals, saves or sends.

Also the loop that view calls made from other threads (the API's) are carried to, and which
of them need the turn at all: reads, and heartbeats (an in-memory beat on the leader; a store
write on a standby that changes none of its state), run as they come. A change that has not had
the turn while its holder has held it :data:`TURN_WAIT_S` (a tick waiting on a state store
that does not answer holds it until the store's deadline) is given up, not done, and said as
:class:`TurnBusy`: who holds the state and for how long (a queue of changes that moves is waited
out, however long), within a client's time-out, never left to the client as a runner
that cannot be reached.

Must not: be awaited from a thread other than its loop's (calls from the API's thread are
carried over by :meth:`Turn.run_view_call`), or let an operator change pass a waiting tick.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import Any, AsyncIterator, Callable, Optional

from ...view.operations import WITHOUT_TURN

# the owner of a turn handed to a waiter that has not resumed yet: no one may take it meanwhile
_HANDED = object()

# How long the turn may be held by one holder before a change sent from another thread (the
# API's) stops waiting for it: well under a client's 10 s (client/transport.py), so that a tick
# held up by the state store is said as such.
TURN_WAIT_S = 4.0


class TurnBusy(Exception):
    """A change that did not have the turn within :data:`TURN_WAIT_S`: nothing of it was done."""

    def __init__(self, holder: str, held_s: float):
        super().__init__(holder, held_s)
        self.holder = holder
        self.held_s = held_s

    def __str__(self) -> str:
        return (f"TURN_BUSY: {self.holder} has held the runner's state for {self.held_s:.1f}s (a tick waits there "
                "on the state store or a venue); nothing was done; ask again; ksctl status says what answers")


class _PriorityLock:
    """A re-entrant lock with two queues; see the module doc. One per event loop."""

    def __init__(self) -> None:
        self.owner: Any = None
        self.depth = 0
        self.since = 0.0  # when the owner took it (time.monotonic)
        self.first = False  # the owner is the tick's (or a change of token's)
        self._first: collections.deque[asyncio.Future] = collections.deque()
        self._rest: collections.deque[asyncio.Future] = collections.deque()

    @property
    def waiting(self) -> int:
        """Operator changes waiting for the turn."""
        return sum(1 for f in self._rest if not f.done())

    async def acquire(self, first: bool, patience: Optional[float] = None) -> None:
        """The turn, in its queue. ``patience``: give up (:class:`TurnBusy`, nothing left queued)
        once the one holding it has held it that many seconds — a queue that moves is waited
        out, however long; a holder that does not come back is not."""
        task = asyncio.current_task()
        if self.owner is task:
            self.depth += 1
            return
        if self.owner is None and not self._first and (first or not self._rest):
            self._take(task, first)
            return
        fut = asyncio.get_running_loop().create_future()
        queue = self._first if first else self._rest
        queue.append(fut)
        try:
            while patience is not None and not fut.done():
                holder, held = self.holder()
                if held >= patience and self.owner is not _HANDED:
                    with contextlib.suppress(ValueError):
                        queue.remove(fut)
                    fut.cancel()
                    raise TurnBusy(holder, held)
                await asyncio.wait({fut}, timeout=max(0.05, patience - held))  # never cancels it
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # handed over, then cancelled: pass it on
                self.owner, self.depth = None, 0
                self._wake()
            else:
                with contextlib.suppress(ValueError):
                    queue.remove(fut)
            raise
        self._take(task, first)

    def _take(self, task: Any, first: bool) -> None:
        self.owner, self.depth, self.since, self.first = task, 1, time.monotonic(), first

    def holder(self) -> tuple[str, float]:
        """Who holds the turn now and for how long (seconds)."""
        if self.owner is None:
            return "nobody", 0.0
        return ("the tick" if self.first else "an operator's change"), time.monotonic() - self.since

    def release(self) -> None:
        if self.depth <= 0:
            raise RuntimeError("the turn is not held")
        self.depth -= 1
        if self.depth == 0:
            self.owner = None
            self._wake()

    def _wake(self) -> None:
        for queue in (self._first, self._rest):
            while queue:
                fut = queue.popleft()
                if not fut.done():
                    self.owner = _HANDED
                    fut.set_result(None)
                    return


class Turn:
    """One change of the runner's state at a time, the tick's first; see the module doc."""

    # What runs as it comes, without the turn: the reads, and heartbeats (see the module doc), as
    # the operations' table says (view/operations.py)
    WITHOUT_TURN = WITHOUT_TURN

    def __init__(self) -> None:
        self._lock: Optional[_PriorityLock] = None
        self._lock_loop: Optional[asyncio.AbstractEventLoop] = None
        self.home: Optional[asyncio.AbstractEventLoop] = None  # where view calls from other threads run

    def _here(self) -> _PriorityLock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = _PriorityLock(), loop
        return self._lock

    @property
    def waiting(self) -> int:
        """Operator changes waiting for the turn now (0 before the first is taken)."""
        return self._lock.waiting if self._lock is not None else 0

    def here(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The turn, behind every tick and every change already waiting."""
        return self._hold(first=False)

    def first(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The turn, ahead of every operator change waiting: the tick's, and a change of token's."""
        return self._hold(first=True)

    @contextlib.asynccontextmanager
    async def _hold(self, first: bool) -> AsyncIterator[None]:
        lock = self._here()
        await lock.acquire(first=first)
        try:
            yield
        finally:
            if lock.owner is asyncio.current_task():  # (not when taking it back after a loan was cancelled)
                lock.release()

    @contextlib.asynccontextmanager
    async def lent(self) -> AsyncIterator[None]:
        """Inside :meth:`first`: give the turn up while waiting on something that touches none of
        the state (the network), and take it back first in line. Outside it: nothing."""
        lock = self._here()
        if lock.owner is not asyncio.current_task():
            yield
            return
        depth = lock.depth
        lock.depth = 1
        lock.release()
        try:
            yield
        finally:
            await lock.acquire(first=True)
            lock.depth = depth

    async def run_view_call(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        """Run ``fn`` (a view call of the runner) where the runner's state lives: on its tick
        loop, whichever loop awaits the answer."""
        home = self.home
        if home is None or home is asyncio.get_running_loop():
            return await self._call(fn, args, kwargs)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._call(fn, args, kwargs), home))

    async def _call(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if getattr(fn, "__name__", None) in self.WITHOUT_TURN:
            result = fn(*args, **kwargs)
            return (await result) if asyncio.iscoroutine(result) else result
        lock = self._here()
        await lock.acquire(first=False, patience=TURN_WAIT_S)
        try:
            result = fn(*args, **kwargs)
            if asyncio.iscoroutine(result):
                result = await result
            # Keep the turn for one pass of the loop: what is already due (a tick's next step, the
            # lease watchdog) runs before the next operator call, however many are queued.
            await asyncio.sleep(0)
        finally:
            if lock.owner is asyncio.current_task():
                lock.release()
        return result
