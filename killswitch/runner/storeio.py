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

Must not: run two calls at once (the order above would be lost), touch the runner's state (it
only carries calls and their answers), or swallow an error of a call that is awaited.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Callable, Optional, TypeVar

T = TypeVar("T")


class StoreIO:
    """Runs ``fn(*args)`` on the runner's store thread; see the module doc."""

    def __init__(self, name: str = "store-io"):
        self._name = name
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._lock = threading.Lock()

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                # one worker: the order of the calls is the order of the writes
                self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
            return self._pool

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> "concurrent.futures.Future[T]":
        """Queue a call; its future holds the answer or the error."""
        return self._executor().submit(fn, *args, **kwargs)

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a call on the store thread and wait for it without blocking the loop."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

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


def _drop(future: "concurrent.futures.Future[Any]") -> None:
    future.exception()  # retrieved, so it is not reported as never retrieved
