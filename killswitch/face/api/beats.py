"""Heartbeats from the API, coalesced per source, and the sources each identity beats.

What it owns: the beats received and not yet handed to the runner. A beat joins the open batch
(one entry per source, however many bots beat as it); the batch is handed over in one view call
(``heartbeats(sources)``: the leader takes them in memory, a standby stores them in one store
call) as soon as the batch before it was, and every request in it is answered when its batch
was taken — with the runner's refusal of its source, if it refused it (``UNKNOWN_SOURCE``,
``SOURCES_FULL``: :mod:`killswitch.runner.effects.beat_sources`) — or fails with its batch (a
standby that could not store it: 503, beat again). A storm of beats is then one call to the
runner per round trip, not one per request.

Also the sources each identity beats (:class:`IdentitySources`): at most
:data:`MAX_SOURCES_PER_IDENTITY` at once, a source counting until the identity has not beaten it
for :data:`SOURCE_IDLE_S`; one more is refused ``IDENTITY_SOURCES_FULL`` before it reaches the
runner, so one token cannot keep every bot's switch quiet or fill the runner's bound alone.

The batches live on the loop that serves the request (each of the API's loops has its own);
the sources each identity beats are one count for both loops, under a lock, like the admission
of writes (:mod:`.admission`).

Must not: answer a beat before the runner took it (a bot reading 204 may rely on it), or stamp a
beat itself (the runner's clock does, when it takes the batch).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from typing import Awaitable, Callable, Mapping, Optional

MAX_SOURCES_PER_IDENTITY = 256  # sources one identity beats at once (a token shared by a hundred bots fits)
SOURCE_IDLE_S = 600.0  # a source an identity has not beaten for this long no longer counts for it
IDENTITY_SOURCES_FULL = "IDENTITY_SOURCES_FULL"


class IdentitySources:
    """The sources each identity beats lately; see the module doc. ``clock``: monotonic seconds."""

    def __init__(self, limit: Optional[int] = None, idle_s: float = SOURCE_IDLE_S,
                 clock: Callable[[], float] = time.monotonic):
        limit = MAX_SOURCES_PER_IDENTITY if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a whole number of at least 1")
        self.limit = limit
        self.idle_s = idle_s
        self.clock = clock
        self._of: dict[str, OrderedDict[str, float]] = {}  # identity → source → when it last beat it
        self.refused: dict[str, int] = {}  # identity → beats refused IDENTITY_SOURCES_FULL
        self._lock = threading.Lock()  # both of the API's loops count here

    def take(self, identity: str, source: str) -> Optional[str]:
        """Count ``source`` for ``identity`` now; the refusal when that would be one too many."""
        with self._lock:
            return self._take(identity, source)

    def _take(self, identity: str, source: str) -> Optional[str]:
        now = self.clock()
        seen = self._of.setdefault(identity, OrderedDict())
        if source in seen:
            seen.move_to_end(source)
            seen[source] = now
            return None
        while seen and next(iter(seen.values())) <= now - self.idle_s:
            seen.popitem(last=False)
        if len(seen) >= self.limit:
            self.refused[identity] = self.refused.get(identity, 0) + 1
            return (f"{IDENTITY_SOURCES_FULL}: {identity} beats {len(seen)} sources already (at most {self.limit}; "
                    f"a source counts until {self.idle_s:g}s without a beat from it): {source!r} was not taken; "
                    "give each group of bots a token of its own")
        seen[source] = now
        return None

    def drop(self, identity: str, source: str) -> None:
        """``source`` was not taken after all (the runner refused it): it does not count."""
        with self._lock:
            seen = self._of.get(identity)
            if seen is not None:
                seen.pop(source, None)


class _Batch:
    def __init__(self) -> None:
        self.sources: dict[str, None] = {}  # in arrival order, each once
        self.task: Optional[asyncio.Future] = None


class HeartbeatBatches:
    """``take(sources)`` hands a batch to the runner (awaited) and gives back the refused
    sources, each with its reason; see the module doc."""

    def __init__(self, take: Callable[[tuple[str, ...]], Awaitable[Optional[Mapping[str, str]]]]):
        self.take = take
        self._open: Optional[_Batch] = None
        self._one: Optional[asyncio.Lock] = None
        self.batches = 0  # handed over so far
        self.beats = 0  # requests answered through them

    async def beat(self, source: str) -> Optional[str]:
        """Wait until a batch holding ``source`` was taken: None, or why the runner refused
        ``source``; raises what taking it raised."""
        b = self._open
        if b is None:
            b = self._open = _Batch()
            b.task = asyncio.ensure_future(self._hand_over(b))
        b.sources[source] = None
        self.beats += 1
        assert b.task is not None
        refused = await asyncio.shield(b.task)
        return refused.get(source)

    async def _hand_over(self, b: _Batch) -> Mapping[str, str]:
        if self._one is None:
            self._one = asyncio.Lock()
        async with self._one:  # the batch before this one first; beats keep joining this one meanwhile
            if self._open is b:
                self._open = None
            self.batches += 1
            refused = await self.take(tuple(b.sources))
        if refused is None:  # a view that refuses nothing may say so with None
            return {}
        if not isinstance(refused, Mapping):
            raise TypeError("heartbeats() must return the refused sources (a mapping) or None")
        return refused
