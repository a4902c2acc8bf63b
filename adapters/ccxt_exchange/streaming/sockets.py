"""What an account's connection and a venue's shared mark connection both do with their sockets.

What it owns: :func:`built_in_turn` (a streaming client built one at a time on the loop),
:func:`tap_messages` (the raw messages read before ccxt: a given-up connection's not read, the
subscriptions' answers handed to ccxt), :func:`run_connection` (a connection's loops and its
watchdog: :class:`Stalled`, no message for three times ``stale_after``, or
:class:`ListenKeyExpired`, the venue ended its authorization: the connection is given up),
:func:`watch_marks` (every mark in one subscription, or the marks of the held symbols
subscribed again as they change, :func:`watch_held_marks`) and :func:`guard_clients` /
:func:`guard_decode` (a frame that is not JSON dropped and counted, never the end of a socket's
receive loop) and :func:`decode_binary` (a binary frame — MEXC spot's protobuf — decoded by the
dialect's ``stream_decode`` before anything reads it). Used by :mod:`.stream` and :mod:`.hub`.

What it must not do: import ccxt, or read a frame's content.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Awaitable, Callable, Iterable, Optional


class Stalled(Exception):
    """No message for three times ``stale_after``: the connection is given up."""


class ListenKeyExpired(Exception):
    """The venue said the stream's authorization ended (Binance's listen key expired, OKX's login
    refused or dropped): the connection is over."""


async def run_connection(loops: Iterable[Awaitable[Any]], stale_after_ms: float,
                         silent_ms: Callable[[], Optional[float]], expired: Optional[asyncio.Event] = None) -> None:
    """A connection's ``loops`` and its watchdog, until one fails (:func:`until_one_fails`). The
    watchdog looks every quarter of ``stale_after_ms`` (at least every 50 ms): it raises
    :class:`Stalled` once ``silent_ms()`` (how long no message came; None: none to judge by yet)
    passes three times ``stale_after_ms`` (a stall the socket's keepalive did not see), and
    :class:`ListenKeyExpired` as soon as ``expired`` is set."""

    async def watchdog(expired: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(expired.wait(), max(stale_after_ms / 4000, 0.05))
            except (asyncio.TimeoutError, TimeoutError):
                pass
            if expired.is_set():
                raise ListenKeyExpired()
            silent = silent_ms()
            if silent is not None and silent > 3 * stale_after_ms:
                raise Stalled()

    await until_one_fails([*loops, watchdog(expired if expired is not None else asyncio.Event())])


def tap_messages(ex: Any, current: Callable[[], bool], decode: Optional[Callable[[Any, Any], Any]],
                 classify: Callable[[Any], str], read: Callable[[str, Any], Any], bad: Callable[[str], None]) -> bool:
    """Every raw message of the streaming client ``ex`` read before ccxt's ``handle_message``
    (False, and nothing done, where it has none): none of a connection no longer ``current()``
    (what a given-up one still delivers); a binary one decoded first (:func:`decode_binary`);
    the dialect's verdict (``classify``) of each: a subscription's ``answer`` handed to ccxt (a
    new connection's are answered even when no data flows), any other to ``read(kind,
    message)``, whose result ccxt is handed (None: nothing). ``bad(what)`` is told of a frame
    that cannot be decoded and, at each of its sockets, of one that is not JSON
    (:func:`guard_clients`)."""
    handle = getattr(ex, "handle_message", None)
    if handle is None:
        return False

    def tapped(client: Any, message: Any) -> Any:
        if not current():
            return None
        message = decode_binary(decode, ex, message)
        if message is UNDECODABLE:
            bad("a frame that cannot be decoded")
            return None
        kind = classify(message)
        if kind == "answer":
            return handle(client, message)
        message = read(kind, message)
        return None if message is None else handle(client, message)

    ex.handle_message = tapped
    guard_clients(ex, lambda: bad("a frame that is not JSON"))
    return True


async def watch_marks(watch: Optional[Callable[[Any, frozenset], Awaitable[Any]]], ex: Any,
                      held: Callable[[], set[str]]) -> None:
    """A connection's marks: ccxt's ``watch_mark_prices`` of every symbol where the venue has
    them in one subscription (``watch`` None: Binance's array, kept, never restarted as positions
    come and go), else the held symbols' (:func:`watch_held_marks`). Its answers are not read:
    the frames are, raw; a disconnect fails it."""
    if watch is None:
        while True:
            await ex.watch_mark_prices()
    await watch_held_marks(watch, ex, held)


async def watch_held_marks(watch: Callable[[Any, frozenset], Awaitable[Any]], ex: Any,
                           held: Callable[[], set[str]]) -> None:
    """The marks' subscription where the venue subscribes them by symbol: ``watch(ex, held())``,
    watched again when the held symbols change (the earlier watches stay pending until the
    connection ends: their frames are read raw, and a disconnect fails them all, which raises
    here). Where the venue has every symbol's mark in one subscription it is
    ``watch_mark_prices``, watched once."""
    watches: list[asyncio.Future] = []
    try:
        while True:
            now = frozenset(held())
            watches.append(asyncio.ensure_future(watch(ex, now)))
            while frozenset(held()) == now and watches:
                done, _ = await asyncio.wait(watches, timeout=0.1, return_when=asyncio.FIRST_COMPLETED)
                for w in done:
                    watches.remove(w)
                    w.result()
    finally:
        for w in watches:
            w.cancel()
        await asyncio.gather(*watches, return_exceptions=True)


def guard_clients(ex: Any, on_bad: Callable[[], None]) -> None:
    """Every websocket client the streaming client ``ex`` makes (one per url) guarded by
    :func:`guard_decode`."""
    make_client = getattr(ex, "client", None)
    if callable(make_client):
        def client(url: str) -> Any:
            c = make_client(url)
            guard_decode(c, on_bad)
            return c

        ex.client = client


def guard_decode(client: Any, on_bad: Callable[[], None]) -> None:
    """A frame ccxt cannot decode (cut JSON) raises inside its receive callback, which ends that
    socket's receive loop without failing a watch: its user data would be dead while the mark
    socket keeps the stream live. ``client`` (a ccxt websocket client) drops such a frame
    instead, calls ``on_bad()`` and reads the next one."""
    decode = getattr(client, "handle_text_or_binary_message", None)
    if decode is None or getattr(decode, "_ks_guarded", False):
        return

    def guarded(data: Any) -> Any:
        try:
            return decode(data)
        except ValueError:  # json's and orjson's decode errors
            on_bad()
            return None

    guarded._ks_guarded = True  # type: ignore[attr-defined]
    client.handle_text_or_binary_message = guarded


# what :func:`decode_binary` gives for a frame that cannot be decoded
UNDECODABLE = object()


def decode_binary(decode: Optional[Callable[[Any, Any], Any]], client: Any, message: Any) -> Any:
    """A binary frame (``bytes``: a venue that pushes protobuf) as ``decode(client, frame)``
    reads it, the streaming client's own decoder (the dialect's ``stream_decode``);
    :data:`UNDECODABLE` where it cannot be read; any other message (decoded JSON) as it came."""
    if decode is None or not isinstance(message, (bytes, bytearray)):
        return message
    try:
        return decode(client, bytes(message))
    except Exception:  # noqa: BLE001 — a frame it cannot decode is dropped and counted, never the socket's end
        return UNDECODABLE


_TURNS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]" = weakref.WeakKeyDictionary()


async def built_in_turn(build: Callable[[], Any], ready: Callable[[Any], None] = lambda client: None) -> Any:
    """``build()`` (a streaming client: ccxt makes its whole API table, tens of milliseconds) in
    the loop's turn, one at a time, the loop free between two; ``ready(client)`` (its taps) in
    the same turn, so that the client leaves it whole. At a start of 200 streamed
    accounts their connections all began in one pass of the loop: 200 clients built back to
    back held it for seconds, past the lease's term, and the runner stood itself down with no
    rival. Built in turn, each build is a hold of its own and the watchdog's wakes come between."""
    async with _TURNS.setdefault(asyncio.get_running_loop(), asyncio.Lock()):
        client = build()
        ready(client)
        await asyncio.sleep(0)  # the loop's other callbacks run before the next build
    return client


__all__ = ["ListenKeyExpired", "Stalled", "UNDECODABLE", "built_in_turn", "decode_binary", "guard_clients",
           "guard_decode", "run_connection", "tap_messages", "until_one_fails", "watch_held_marks", "watch_marks"]


async def until_one_fails(coros: Iterable[Awaitable[Any]]) -> None:
    """Run ``coros`` together until one of them raises (raised here, a disconnect or a stall):
    one connection's loops, which end only by failing. The others are cancelled and awaited."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in done:
            if t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
