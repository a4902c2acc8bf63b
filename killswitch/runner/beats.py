"""Heartbeats from the API, coalesced per source.

What it owns: the beats received and not yet handed to the runner. A beat joins the open batch
(one entry per source, however many bots beat as it); the batch is handed over in one view call
(``heartbeats(sources)``: the leader takes them in memory, a standby stores them in one store
call) as soon as the batch before it was, and every request in it is answered when its batch
was taken — or fails with its batch (a standby that could not store it: 503, beat again). A
storm of beats is then one call to the runner per round trip, not one per request.

Lives on the API's thread, like the admission of writes (:mod:`.admission`).

Must not: answer a beat before the runner took it (a bot reading 204 may rely on it), or stamp a
beat itself (the runner's clock does, when it takes the batch).
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Optional


class _Batch:
    def __init__(self) -> None:
        self.sources: dict[str, None] = {}  # in arrival order, each once
        self.task: Optional[asyncio.Future] = None


class HeartbeatBatches:
    """``take(sources)`` hands a batch to the runner (awaited); see the module doc."""

    def __init__(self, take: Callable[[tuple[str, ...]], Awaitable[None]]):
        self.take = take
        self._open: Optional[_Batch] = None
        self._one: Optional[asyncio.Lock] = None
        self.batches = 0  # handed over so far
        self.beats = 0  # requests answered through them

    async def beat(self, source: str) -> None:
        """Wait until a batch holding ``source`` was taken; raises what taking it raised."""
        b = self._open
        if b is None:
            b = self._open = _Batch()
            b.task = asyncio.ensure_future(self._hand_over(b))
        b.sources[source] = None
        self.beats += 1
        assert b.task is not None
        await asyncio.shield(b.task)

    async def _hand_over(self, b: _Batch) -> None:
        if self._one is None:
            self._one = asyncio.Lock()
        async with self._one:  # the batch before this one first; beats keep joining this one meanwhile
            if self._open is b:
                self._open = None
            self.batches += 1
            await self.take(tuple(b.sources))
