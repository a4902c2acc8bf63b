"""Cancels that wait on the account's order budget, gathered into one of the venue's batches.

The stream's fast path cancels a bot's new entry the moment it comes, one cancel a call; where
the order budget is spent (Kraken Futures: 4 orders a second against a bot sending 8 entries),
each waits its turn for a request of its own. Here the cancels that come while the budget makes
one wait join it, and go as one batch request once the budget lets it.

What it owns
    :class:`Gathering`: per batch key (the endpoint, and the symbol where the venue's batch does
    not span symbols) the batch forming while it waits on the budget, at most the dialect's
    batch size; its one send, in a task of its own (a caller that stops waiting does not stop
    the others' cancel); its answer read once for the whole batch, each caller's orders read
    from it by the caller.

What it must not do
    send more orders in one batch than its size, spend the budget before the batch may go, or
    read a caller's order from an answer to a batch that did not hold it.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Hashable, Sequence

from killswitch.snapshot import Order

from .dialects.cancel_hooks import CancelAnswer


class _Forming:
    """A batch waiting on the budget: its orders so far, and the answer its callers wait for."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.orders: list[Order] = []
        self.answer: asyncio.Future[CancelAnswer] = asyncio.get_running_loop().create_future()
        # a failure nobody is left to wait for is not logged as never retrieved
        self.answer.add_done_callback(lambda f: f.cancelled() or f.exception())


class Gathering:
    """See the module doc: one account's batches forming, by batch key."""

    def __init__(self) -> None:
        self._forming: dict[Hashable, _Forming] = {}
        self._tasks: set[asyncio.Task] = set()

    def forming(self, key: Hashable) -> bool:
        """Whether a batch of ``key`` waits on the budget (a cancel of that key joins it)."""
        return key in self._forming

    async def cancel(self, key: Hashable, orders: Sequence[Order], size: int, ready: Callable[[], Awaitable[None]],
                     send: Callable[[list[Order]], Awaitable[CancelAnswer]]) -> CancelAnswer:
        """``orders`` (at most ``size``) cancelled in the batch of ``key`` forming now, or in a
        new one where none is forming or it has no room: once ``ready()`` (the budget lets a
        request go) the batch closes and ``send(its orders)`` sends and reads it. The answer
        read for the whole batch (an order of the caller's not in it is not named); its
        failure (AdapterError) raised to every caller."""
        if len(orders) > size:
            raise ValueError(f"{len(orders)} orders for a batch of {size}")
        batch = self._forming.get(key)
        if batch is None or len(batch.orders) + len(orders) > batch.size:
            batch = _Forming(size)
            self._forming[key] = batch
            task = asyncio.get_running_loop().create_task(self._send(key, batch, ready, send),
                                                          name=f"cancel batch {key!r}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        batch.orders.extend(orders)
        return await asyncio.shield(batch.answer)

    async def _send(self, key: Hashable, batch: _Forming, ready: Callable[[], Awaitable[None]],
                    send: Callable[[list[Order]], Awaitable[CancelAnswer]]) -> None:
        try:
            try:
                await ready()
            finally:  # closed: a cancel from now on forms the next batch
                if self._forming.get(key) is batch:
                    del self._forming[key]
            answer = await send(list(batch.orders))
        except asyncio.CancelledError:
            batch.answer.cancel()
            raise
        except Exception as e:  # noqa: BLE001 - every caller gets it, as a request of its own would raise it
            batch.answer.set_exception(e)
        else:
            batch.answer.set_result(answer)

    async def aclose(self) -> None:
        """The batches under way ended (their callers see them cancelled)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # ending them, not judging them


__all__ = ["Gathering"]
