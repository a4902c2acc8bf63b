"""What the API answers, as JSON: the view's values rendered, and the reads shared while in flight.

What it owns: turning the view's answers (dataclasses, dicts, tuples, floats that may not be
finite) into JSON bodies, and the reads the console and the operators poll (status, positions,
the dead man's switch, the firm; the console's page): one view call and one encoding a round
trip, shared by every request that asks meanwhile, the encoding done on a worker thread; and at
most :data:`READ_SLOTS` of those reads worked on at once, the others waiting their turn parked
(they cost the loop nothing while they wait). The status of a runner with many sources and
positions is hundreds of kilobytes: encoded once per request on the API's loop, 500 readers kept
that loop — and the pre-trade gate's requests queued on it behind them — busy for tens of
seconds. Encoded once for all of them off the loop, with a few worked on at a time, the loop's
queue stays short whatever the number of readers, and a check-order waits behind a few of them,
not all.

Must not: hold the runner's state, or change what a read answers (a shared answer is at most one
round trip old, as each would be).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
from typing import Any, AsyncIterator, Awaitable, Callable, Optional

from aiohttp import web

READ_SLOTS = 4  # polled reads answered at once; the rest wait their turn
READ_GAP_S = 0.1  # a polled read's next view call starts at least this long after the last one ended


def plain(obj: Any, depth: int = 0) -> Any:
    """``obj`` as plain JSON values: dataclasses → objects, tuples → lists, non-finite floats →
    null. Raises ``TypeError`` on anything JSON cannot hold."""
    if depth > 64:
        raise TypeError("nested too deeply")
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"a key of type {type(k).__name__}")
            out[k] = plain(v, depth + 1)
        return out
    if isinstance(obj, (list, tuple)):
        return [plain(v, depth + 1) for v in obj]
    raise TypeError(f"cannot render a {type(obj).__name__}")


def encode(payload: Any) -> bytes:
    """``payload`` as a JSON body (compact; ensure_ascii, the default, keeps lone surrogates a
    client sent from breaking the encoder)."""
    return json.dumps(plain(payload), allow_nan=False, separators=(",", ":")).encode("ascii")


def json_response(status: int, payload: Any, headers: Optional[dict] = None) -> web.Response:
    return web.Response(status=status, body=encode(payload), content_type="application/json", charset="utf-8",
                        headers=headers)


class SharedReads:
    """Argument-less reads of the view, each shared by every request that asks while it is in
    flight (a hundred status polls are one call on the runner's loop, not a hundred; each
    answer is at most one round trip old), and, for JSON, encoded once for all of them on a
    worker thread. ``call`` runs a view call (the API's ``_call``)."""

    def __init__(self, call: Callable[..., Awaitable[Any]], slots: int = READ_SLOTS, gap_s: float = READ_GAP_S):
        self._call = call
        self._flights: dict[tuple[str, bool], asyncio.Future] = {}
        self._ended: dict[tuple[str, bool], float] = {}  # when each read's last flight ended (the loop's clock)
        self.slots = slots
        self.gap_s = gap_s
        self._slots: Optional[asyncio.Semaphore] = None  # made on the loop that serves the reads

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the :data:`READ_SLOTS` places a polled read is worked on in; wait for one."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.slots)
        async with self._slots:
            yield

    async def value(self, fn: Callable[[], Any]) -> Any:
        """What ``fn`` answers, shared while in flight."""
        return await self._shared(fn, None)

    async def body(self, fn: Callable[[], Any], check: Optional[Callable[[Any], None]] = None) -> bytes:
        """What ``fn`` answers as a JSON body, shared and encoded once while in flight; ``check``
        raises ``TypeError`` on an answer of the wrong shape (a 500). A flight starts at least
        ``gap_s`` after the last one of ``fn`` ended, and every request that arrives meanwhile
        joins it: however many poll, the view is called and the answer encoded at most about
        1 / ``gap_s`` times a second, and each answer is still worked out after its request
        came."""
        return await self._shared(fn, check or (lambda _: None))

    async def _shared(self, fn: Callable[[], Any], check: Optional[Callable[[Any], None]]) -> Any:
        key = (fn.__name__, check is not None)
        flight = self._flights.get(key)
        if flight is None:
            flight = self._flights[key] = asyncio.ensure_future(self._once(key, fn, check))
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        return await asyncio.shield(flight)

    async def _once(self, key: tuple[str, bool], fn: Callable[[], Any], check: Optional[Callable[[Any], None]]) -> Any:
        loop = asyncio.get_running_loop()
        if check is not None and key in self._ended:
            await asyncio.sleep(max(0.0, self._ended[key] + self.gap_s - loop.time()))
        try:
            return await self._answer(fn, check)
        finally:
            self._ended[key] = loop.time()

    async def _answer(self, fn: Callable[[], Any], check: Optional[Callable[[Any], None]]) -> Any:
        answer = await self._call(fn)
        if check is None:
            return answer
        check(answer)
        return await asyncio.to_thread(encode, answer)


def json_body(status: int, body: bytes) -> web.Response:
    """A response of a body :class:`SharedReads` encoded (the same bytes for every reader)."""
    return web.Response(status=status, body=body, content_type="application/json", charset="utf-8")


__all__ = ["READ_SLOTS", "SharedReads", "encode", "json_body", "json_response", "plain"]
