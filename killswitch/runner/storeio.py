"""The runner's store calls, off its event loop, in the order it makes them.

What it owns: one worker thread per runner that runs every state-store call the runner (and its
executor) makes, first come first served, while the tick's event loop goes on: it keeps showing
life to the lease thread, answers the API's reads and runs the lease watchdog, however long an
fsync or a PostgreSQL lock wait takes. A store call on the loop itself would stall all of that,
and a stall of two thirds of the lease TTL would lapse the lease of even a lone runner.

Order is the contract: calls run one at a time in the order they were submitted, so a state
document serialised later is written later, an intent is journaled before its result, and a
read sees every write submitted before it. Awaiting a call is how the caller waits until it is
durable (an intent before its order is sent); :meth:`StoreIO.submit` queues a write nobody
needs to wait for (an audit row about a sink's failure) in the same order.

Sync code the loop runs (a sink's ``on_tick``, which reads and writes the store as it renders a
runbook) waits for a call with :meth:`StoreIO.wait`: on the store thread, in the same order, and
for a bounded time. A call that has no answer by then raises a :class:`StoreError` and the loop
goes on (the call still runs, when the store answers), and every later one fails at once while
that call is unanswered: a paused server holds the store thread, never the loop that answers
``/readyz``, ``/v1/status`` and ``/metrics`` and shows life to the lease thread.

It also says how long the store has left it without an answer (:meth:`StoreIO.unanswered_s`):
the lease thread renews only while that stays under a term (see :mod:`.lease.keeper`), so a runner
whose store calls hang or keep failing hands the lease over instead of holding it and doing
nothing.

Must not: run two calls at once (the order above would be lost), touch the runner's state (it
only carries calls and their answers), or swallow an error of a call that is awaited.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Optional, Sequence, TypeVar

from ..state.store import StoreError

T = TypeVar("T")

# How long sync code on the loop waits for a store call (see StoreIO.wait): long enough for a
# write queued behind the tick's on a loaded machine (at 0.5 s, a suite run beside two busy loops
# left a runbook unsaved after a crash), inside a lease term (2 s at the shortest TTL in use, 3 s)
# with a tick's work beside it, so a loop held this long keeps the lease and answers its probes.
WAIT_S = 1.0


class StoreIO:
    """Runs ``fn(*args)`` on the runner's store thread; see the module doc."""

    def __init__(self, name: str = "store-io", *, monotonic: Callable[[], float] = time.monotonic):
        self._name = name
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._lock = threading.Lock()
        self._mono = monotonic
        # since when the store thread has waited for an answer it has not had (a call running,
        # or failing for want of one); None: the last call was answered and none runs
        self._waiting_since: Optional[float] = None
        # a call sync code gave up waiting for (StoreIO.wait) and that has had no answer since
        self._given_up: Optional["concurrent.futures.Future[Any]"] = None
        self._thread: Optional[threading.Thread] = None  # the store thread, once it ran a call

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                # one worker: the order of the calls is the order of the writes
                self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
            return self._pool

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> "concurrent.futures.Future[T]":
        """Queue a call; its future holds the answer or the error."""
        return self._executor().submit(self._timed, fn, args, kwargs)

    def unanswered_s(self) -> float:
        """Seconds the store has left this runner without an answer: since the call running
        began (when the one before was answered), or since the first of the calls that have
        failed for want of one (the server unreachable, paused past a call's deadline, the
        connection lost); 0 once a call is answered. A refusal is an answer (a fenced write, an
        unknown intent): only a bare :class:`StoreError`, the driver's failure, is not."""
        since = self._waiting_since
        return 0.0 if since is None else max(0.0, self._mono() - since)

    def wait(self, fn: Callable[..., T], *args: Any, timeout_s: float = WAIT_S, **kwargs: Any) -> T:
        """Run a call on the store thread, in order, and wait for its answer from sync code (on
        the loop) for ``timeout_s`` at most: past that, or at once while an earlier call given
        up on has no answer yet, a :class:`StoreError` (the caller's store call failed, as a
        lost connection's does; a call given up on still runs when the store answers). On the
        store thread itself the call runs there and then."""
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        stuck = self._given_up
        if stuck is not None and not stuck.done():
            raise StoreError(f"the state store has not answered a call for {self.unanswered_s():.1f}s: "
                             "not waited for on the runner's loop")
        future = self.submit(fn, *args, **kwargs)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            self._given_up = future
            raise StoreError(f"the state store did not answer within {timeout_s:g}s: not waited for longer on "
                             "the runner's loop") from None

    def _timed(self, fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
        self._thread = threading.current_thread()
        if self._waiting_since is None:
            self._waiting_since = self._mono()
        try:
            out = fn(*args, **kwargs)
        except StoreError as e:
            if type(e) is not StoreError:  # a refusal (fenced, unknown intent, ...): the store answered
                self._waiting_since = None
            raise
        except BaseException:  # not the store's (a lock file's disk, a bug): not for the lease to judge
            self._waiting_since = None
            raise
        self._waiting_since = None
        return out

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a call on the store thread and wait for it without blocking the loop."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    async def in_order(self, *calls: Callable[[], Any]) -> None:
        """Several calls as one on the store thread: run in turn, the first that raises stops
        the rest and its error is raised here, as awaiting each in turn would, without a hop
        back to the loop between them (each hop wakes this thread and then the loop, which can
        cost the tick more than a small write itself: docs/benchmark-history.md, the liquidation
        entry). The calls count as one for :meth:`unanswered_s`."""
        await self(_each, calls)

    def forget(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queue a call nobody waits for; an error it raises is dropped (the caller counted the
        failure it is recording already)."""
        self.submit(fn, *args, **kwargs).add_done_callback(_drop)

    def close(self) -> None:
        """Wait for the queued calls, then stop the thread."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


async def audit_pages(io: Callable[..., Awaitable[Any]], audit_rows: Callable[..., Sequence[Any]], since_ms: int,
                      kinds: Sequence[str], page: int = 1000, after_seq: int = 0) -> AsyncIterator[Sequence[Any]]:
    """The audit rows of ``kinds`` from ``since_ms`` on, in chain order, ``page`` rows a call of a
    store's ``audit_rows`` made off the loop by ``io`` (a :class:`StoreIO`, ``asyncio.to_thread``)."""
    while True:
        rows = await io(audit_rows, since_ms=since_ms, kinds=list(kinds), limit=page, after_seq=after_seq)
        yield rows
        if len(rows) < page:
            return
        after_seq = rows[-1].seq


def _each(calls: tuple[Callable[[], Any], ...]) -> None:
    for call in calls:
        call()


def _drop(future: "concurrent.futures.Future[Any]") -> None:
    future.exception()  # retrieved, so it is not reported as never retrieved
