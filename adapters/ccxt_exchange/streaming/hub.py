"""A venue's marks, subscribed once for every account the runner streams on it.

What it owns
    * :class:`MarkHub`: one public connection per venue endpoint (the ccxt id, the market type,
      sandbox or not, the urls) that watches the marks of every symbol any account on it holds
      — the union of their positions, watched again as it changes (:func:`~.sockets.watch_held_marks`),
      or every symbol's mark where the venue has them in one subscription (Binance's array) —
      and hands each mark frame, read once (the dialect's ``stream_mark_rows`` as columns, else
      its ``stream_events``), to every account stream that joined it; each applies the rows and
      events of the symbols it holds (:meth:`~.frames.StreamFrames.hub_marks`);
    * the hub's connection: built from a joined account's streaming client (a public
      subscription: its credentials are not used), reconnected with backoff, given up after
      three times ``stale_after`` without a frame; its subscriptions' answers handed to ccxt,
      a subscription the venue refused kept as the connection's (:attr:`MarkHub.refused`, read
      by each joined stream's health), anything but marks dropped and counted;
    * :func:`hub_for`, the hubs of the running loop by endpoint: a stream joins at its start and
      leaves at its stop; the last to leave stops the hub.

Why: each account used to subscribe the same public marks on a connection of its own. At 200
accounts of 50 positions over five venues, 40 copies of every ticker (Bybit pushes each held
symbol every 100 ms) came in, were inflated, decoded and classified 40 times, and the runner's
one loop spent most of its time there: it held the loop past the lease's term (the runner stood
itself down with no rival) and the REST reads of the reconciles timed out behind it. The marks
are the venue's, not an account's: read once, they cost what one account's did.

A mark keeps an account's stream live only while its own connection runs; the hub's silence
(a connection down) leaves each joined stream without marks, so it goes stale after its
``stale_after`` and reads REST until the marks come back, as a silent socket of its own did.

What it must not do
    read an account's private frames, build a client of its own (a joined stream's ``build``
    does), or log anything but scrubbed text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Hashable, Optional

from ..errors import reason_for, scrub
from .frames import event_name
from .sockets import built_in_turn, run_connection, tap_messages, watch_marks
from .state import fresh_events

log = logging.getLogger(__package__)

HELD_EVERY_S = 0.1  # how often the union of the held symbols is worked out again


class MarkHub:
    """One venue endpoint's shared mark subscription; see the module doc. ``key`` names it in
    the log (the venue and its endpoint, never a credential). Its streams are
    :class:`~.stream.AccountStream` (typed ``Any`` here: the stream imports the hub)."""

    def __init__(self, key: Hashable, name: str) -> None:
        self.key = key
        self.name = name
        self.streams: dict[str, Any] = {}
        self.reconnects = 0
        self.frames = 0  # mark frames read
        self.dropped = 0  # frames that were neither marks nor answers, or could not be read
        self._task: Optional[asyncio.Task] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._conn = 0
        self._last = 0.0  # when the last frame came (monotonic)
        self._said: set[str] = set()
        self._held: set[str] = set()
        self._held_at = float("-inf")
        self._frames: dict[tuple, tuple[int, Any]] = {}  # each mark key's last event (time, body)
        self.refused: set[str] = set()  # the symbols whose marks the venue refused on this connection
        self._closing: set[asyncio.Future] = set()  # the clients of connections given up, being closed

    # --- joined streams --------------------------------------------------------------------------

    def join(self, stream: Any) -> None:
        self.streams[stream.key] = stream
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name=f"marks {self.name}")
            self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        """The connection's task ended: by a stop (cancelled), or by a fault of the hub's own,
        said here (never left unretrieved) and started again while accounts are joined."""
        if not task.cancelled() and task.exception() is not None:
            e = task.exception()
            log.error("%s: the venue's mark stream ended on a fault (%s); started again in 1 s, each "
                      "account's stream reading REST once it is stale meanwhile", self.name, type(e).__name__)
            if self._loop is not None and self.streams:
                self._loop.call_later(1.0, self._restart)

    def _restart(self) -> None:
        stream = next(iter(self.streams.values()), None)
        if stream is not None and (self._task is None or self._task.done()):
            self.join(stream)

    async def leave(self, stream: Any) -> None:
        key = stream.key
        if self.streams.get(key) is stream:
            del self.streams[key]
        if not self.streams and self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            await asyncio.gather(task, *self._closing, return_exceptions=True)

    def held(self) -> set[str]:
        """Every symbol a joined account holds, worked out again at most every
        :data:`HELD_EVERY_S` (a frame's rows are read for these; each account then applies
        those it holds itself, so a symbol taken since is read at most that much later)."""
        now = time.monotonic()
        if now - self._held_at >= HELD_EVERY_S:
            out: set[str] = set()
            for s in list(self.streams.values()):
                out |= s._held
            self._held, self._held_at = out, now
        return self._held

    def live(self) -> bool:
        return self._task is not None and not self._task.done()

    # --- the connection --------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while self.streams:
            lead = next(iter(self.streams.values()))
            self._conn += 1
            self.refused = set()  # (a new connection asks for every mark again)
            ex: Any = None
            began = time.monotonic()
            try:
                conn = self._conn
                ex = await built_in_turn(lead._build, lambda client: self._tap(client, lead, conn))
                await self._connection(ex, lead)
            except asyncio.CancelledError:
                self._conn += 1
                await close_client(ex)
                raise
            except Exception as e:  # noqa: BLE001 — every end of the connection is a reconnect
                log.warning("%s: the venue's mark stream is down (%s): %s; each account's stream reads REST "
                            "once it is stale, until the marks come back", self.name, reason_for(e).value,
                            scrub(f"{type(e).__name__}: {e}", lead._secrets()))
            self._conn += 1
            close_beside(ex, self._closing)
            if time.monotonic() - began > 3 * lead.stale_after_ms / 1000:
                attempt = 0  # it ran a while: the next try is not the retry of a failing one
            self.reconnects += 1
            await asyncio.sleep(min(lead.max_backoff_s, lead.backoff_s * 2 ** attempt))
            attempt += 1

    async def _connection(self, ex: Any, lead: Any) -> None:
        self._last = time.monotonic()
        await run_connection([watch_marks(lead._watch_marks, ex, self.held)], lead.stale_after_ms,
                             lambda: (time.monotonic() - self._last) * 1000)

    def _tap(self, ex: Any, lead: Any, conn: int) -> None:
        """Every raw message of the hub's client, before ccxt (:func:`~.sockets.tap_messages`):
        marks read once and handed to the joined streams; the subscriptions' answers to ccxt;
        anything else dropped and counted."""
        event_time = lead._event_time
        mark_rows, events = lead._mark_rows, lead._events
        parser = getattr(ex, lead._order_parser)

        def read(kind: str, message: Any) -> None:
            self._last = time.monotonic()
            if kind == "refused":  # a symbol's marks refused: said by each joined stream that holds it
                for stream in list(self.streams.values()):
                    stream.marks_refused(self.refused, message)
                return None
            if kind != "marks":
                self._drop("malformed" if kind == "malformed" else "unknown", event_name(message))
                return None
            held = self.held()
            try:
                rows = mark_rows(message, held) if mark_rows is not None else None
                evs = events(message, parser, held) if rows is None else []
            except Exception as e:  # noqa: BLE001 — a frame it cannot read is malformed, never applied
                self._drop("malformed", f"{event_name(message)}: {type(e).__name__}")
                return None
            if evs:
                evs = fresh_events(evs, self._frames, lambda kind, ev, held_ms: self._count(kind))
                if not evs:
                    return None
            self.frames += 1
            at = event_time(message)
            for stream in list(self.streams.values()):
                try:
                    stream.hub_marks(rows, evs, at)
                except Exception as e:  # noqa: BLE001 — one account's failure never ends the others' marks
                    self.dropped += 1  # (that account's alone: said, not counted in the others)
                    self._say("failed", f"{stream.key}: {type(e).__name__}")
            return None

        tap_messages(ex, lambda: conn == self._conn, lead._decode, lead._classify, read,
                     lambda what: self._drop("malformed", what))

    def _count(self, kind: str) -> None:
        """A frame dropped, counted here and in every joined account's stream (its status and
        ``killswitch_stream_dropped_total`` show it, as when it read its marks itself)."""
        self.dropped += 1
        for stream in list(self.streams.values()):
            stream.state.drop(kind)

    def _drop(self, kind: str, what: str) -> None:
        self._count(kind)
        self._say(kind, what)

    def _say(self, kind: str, what: str) -> None:
        if kind not in self._said:
            self._said.add(kind)
            log.warning("%s: mark stream message dropped (%s): %s; counted from now on", self.name, kind,
                        what[:120])


async def close_client(ex: Any, what: str = "mark stream", timeout_s: float = 5.0) -> None:
    """Close a ccxt client (a streaming one, the adapter's REST one) within ``timeout_s``; a
    failure is said at debug level only."""
    closer = getattr(ex, "close", None)
    if closer is not None:
        try:
            await asyncio.wait_for(closer(), timeout_s)
        except Exception as e:  # noqa: BLE001
            log.debug("%s close: %s", what, reason_for(e).value)


def close_beside(ex: Any, closing: set[asyncio.Future], what: str = "mark stream") -> None:
    """Close a given-up connection's client beside the next connection, not before it (ccxt's
    close of a client whose socket the venue dropped can take seconds: a reconnect waited for
    it), kept in ``closing`` until it is closed (a stop awaits them)."""
    task = asyncio.ensure_future(close_client(ex, what))
    closing.add(task)
    task.add_done_callback(closing.discard)


_HUBS: dict[Hashable, MarkHub] = {}


def hub_for(key: Hashable, name: str) -> MarkHub:
    """The running loop's hub of ``key`` (made when none is, or the one kept belongs to a loop
    that ended)."""
    loop = asyncio.get_running_loop()
    full = (id(loop), key)
    hub = _HUBS.get(full)
    if hub is None or hub._loop is not None and hub._loop.is_closed():
        hub = _HUBS[full] = MarkHub(key, name)
    for k in [k for k, h in _HUBS.items() if h._loop is not None and h._loop.is_closed()]:
        del _HUBS[k]
    return hub


__all__ = ["MarkHub", "close_beside", "close_client", "hub_for"]
