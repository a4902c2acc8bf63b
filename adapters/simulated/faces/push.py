"""What every venue's websocket face in the simulator shares: :class:`PushFace` (a face's life,
its sockets' requests and writer, the stream faults applied to what a socket sends), a socket
(:class:`_Socket`), a frame's writing (:func:`dumps`) and breaking (:func:`malformed`).

What it owns: the shape of a stream face; each venue's face (its channels, its frames) is in its
folder (``adapters/venues/<venue>/face/stream.py``; Binance's user data stream is
:mod:`adapters.simulated.stream`). What it must not do: keep exchange state (the engine does).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from aiohttp import WSMsgType, web

from ..changes import Change
from ..engine import SimExchange
from ..faults import FaultKind, FaultPlan, first

UNKNOWN_EVENT = "SIM_UNKNOWN_EVENT"  # what a STREAM_MALFORMED "event" fault renames ``e`` to


class SocketKey(Protocol):
    """What a socket's key tells of it: the account it authenticates (Binance's listen key)."""

    account: str


@dataclass(eq=False)
class _Socket:
    ws: web.WebSocketResponse
    key: Optional[SocketKey]
    streams: set = field(default_factory=set)
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    pushed: dict = field(default_factory=dict)  # stream → loop time of its last cadence push
    held: Optional[str] = None  # an out-of-order message, sent after the next one
    owner: Optional[str] = None  # the account a venue without listen keys authenticated the socket as

    @property
    def account(self) -> Optional[str]:
        return self.key.account if self.key is not None else self.owner


def dumps(body: Any) -> str:
    """A frame as the venues write one: compact JSON."""
    return json.dumps(body, separators=(",", ":"))


def first_method(first: str) -> Any:
    """The ``method`` of a socket's first request (a face claiming a shared path reads it), or
    None where the request is no JSON object."""
    try:
        req = json.loads(first)
    except ValueError:
        return None
    return req.get("method") if isinstance(req, dict) else None


def malformed(text: str, how: str) -> str:
    """``text`` broken the way a STREAM_MALFORMED fault asks: "json" cut short, "fields" without
    its payload (``a``, ``o``, ``p``), "event" with an event type nobody knows."""
    if how == "fields":
        body = json.loads(text)
        for item in body if isinstance(body, list) else [body]:
            for k in ("a", "o", "p"):
                item.pop(k, None)
        return json.dumps(body, separators=(",", ":"))
    if how == "event":
        body = json.loads(text)
        for item in body if isinstance(body, list) else [body]:
            item["e"] = UNKNOWN_EVENT
        return json.dumps(body, separators=(",", ":"))
    return text[: max(1, len(text) // 2)]


class PushFace:
    """What every venue's websocket face shares: its life (the engine's change hook, the cadence
    pump, the sockets), each socket's reading of requests (:meth:`_command`) and its writer,
    which sends what the socket's queue holds through the stream faults (``stream_*`` kinds,
    matched on the operation ``stream`` and the endpoint ``stream:<kind>`` with the socket's
    account), and the log of the frames sent. A queue item is ``(kind, text)``: kind None is an
    answer to the socket's own request, never faulted. A face says what a malformed frame of its
    venue looks like (:meth:`_malformed`) and how its authorization ends
    (:meth:`_end_authorization`).

    It owns the state every face keeps: its engine and fault plan, its pump's tick, the clock a
    login on a socket is checked against, the sockets, the frames sent, and its hook, pump and
    writers while it runs; a venue's face adds only what is its own (its cadences, its REST
    rows)."""

    def __init__(self, server: Any = None, *, tick_s: float, engine: Optional[SimExchange] = None,
                 faults: Optional[FaultPlan] = None, auth_clock: Optional[Callable[[], int]] = None):
        """A face on ``server`` (its engine and fault plan) or, without one, on ``engine`` (its
        fault plan unless ``faults``). ``tick_s``: how often the pump looks at the face's clocks,
        in wall seconds; ``auth_clock``: the clock a login on a socket is checked against (the
        engine's unless given)."""
        if engine is None:
            engine = server.engine
        self.server: Any = server  # the SimServer the face is served on (None: a face on an engine alone)
        self.engine: SimExchange = engine
        self.faults: FaultPlan = faults if faults is not None else (
            server.faults if server is not None else engine.faults)
        self.tick_s = tick_s
        self.auth_clock: Callable[[], int] = auth_clock or engine.now
        self.sockets: list[_Socket] = []
        self.sent: list[tuple[Optional[str], str]] = []  # (account, text) of every frame sent, in order
        self._conn = 0  # the sockets accepted so far: a socket's ``conn_id``
        self._unhook: Optional[Callable[[], None]] = None
        self._pump: Optional[asyncio.Task] = None
        self._writers: list[asyncio.Task] = []

    def _on_change(self, c: Change) -> None:
        raise NotImplementedError

    async def _run_pump(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tick_s)
            self._pump_round(self.engine.now(), loop.time())

    def _pump_round(self, now: int, t: float) -> None:
        """What is due at the engine's ``now`` and the loop's time ``t``: marks, states, expiries."""
        raise NotImplementedError

    def _command(self, sock: _Socket, data: str) -> None:
        raise NotImplementedError

    def add_routes(self, app: web.Application) -> None:
        """The face's routes on the server's app: none unless the face has paths of its own (a
        face reached through another's path, as Hyperliquid's through Binance's ``/ws``)."""

    def warm(self) -> None:
        """Load once what the venue's first requests would (:meth:`~..http.SimServer.warm`):
        nothing by default."""

    async def start(self) -> None:
        if self._unhook is None:
            self._unhook = self.engine.on_change(self._on_change)
        if self._pump is None:
            self._pump = asyncio.ensure_future(self._run_pump())

    async def stop(self) -> None:
        if self._unhook is not None:
            self._unhook()
            self._unhook = None
        tasks = [t for t in [self._pump, *self._writers] if t is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pump, self._writers = None, []
        for s in list(self.sockets):
            await s.ws.close()
        self.sockets.clear()

    async def _accept(self, request: web.Request, **pushed: Any) -> web.WebSocketResponse:
        """A socket of a venue without listen keys (it authenticates on the socket: Bybit, OKX):
        prepared, numbered (``pushed["conn_id"]``, ``sim-<n>``, with ``pushed`` beside it) and
        served (:meth:`_serve`) until it closes."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._conn += 1
        sock = _Socket(ws, None)
        sock.pushed.update({"conn_id": f"sim-{self._conn}", **pushed})
        await self._serve(sock)
        return ws

    async def _serve(self, sock: _Socket, first: Optional[str] = None) -> None:
        """Read a prepared socket's requests (:meth:`_command`; ``first``, already read, first)
        while its writer sends, until it closes."""
        self.sockets.append(sock)
        writer = asyncio.ensure_future(self._write(sock))
        self._writers.append(writer)
        try:
            if first is not None:
                self._command(sock, first)
            async for msg in sock.ws:
                if msg.type == WSMsgType.TEXT:
                    self._command(sock, msg.data)
        finally:
            if sock in self.sockets:
                self.sockets.remove(sock)
            writer.cancel()
            if writer in self._writers:
                self._writers.remove(writer)

    # where a venue's frame names its event (a path of keys) and the name a malformed ("event")
    # frame carries instead; None: Binance's frames (:func:`malformed`)
    EVENT_AT: Optional[tuple[str, ...]] = None
    EVENT_UNKNOWN = ""
    # the venue's error (its arguments to ``_error``) when a socket's login ends; None: it has none
    LOGGED_OUT: Optional[tuple[Any, ...]] = None

    @classmethod
    def for_server(cls, server: Any, **options: Any) -> Any:
        """The face :class:`adapters.simulated.http.SimServer` serves (its venue's ``stream_face``),
        checking logins against the server's clock."""
        return cls(server, **{"auth_clock": server.auth_clock, **options})

    @classmethod
    def at_shared_ws(cls, server: Any, **options: Any) -> Any:
        """The face of a venue whose path is the bare ``/ws``, Binance's too (Hyperliquid's, MEXC
        spot's): no route of its own, the Binance face hands it a socket that is its
        (``claims``, ``claims_key``)."""
        face = cls(server, **options)
        server.stream.shared.append(face)
        return face

    def _to(self, account: str, channel: str) -> list[_Socket]:
        return [s for s in self.sockets if s.owner == account and channel in s.streams]

    _error: Callable[..., None]  # a venue's error on a socket (one that logs sockets in has one)

    def _say(self, sock: _Socket, body: Any) -> None:
        """An answer to the socket's own request (never faulted)."""
        sock.queue.put_nowait((None, dumps(body)))

    def _malformed(self, text: str, how: str) -> str:
        """``text`` broken the way a STREAM_MALFORMED fault asks: "json" cut short, "fields"
        without its ``data``, "event" naming an event nobody knows (at :attr:`EVENT_AT`)."""
        if self.EVENT_AT is None:
            return malformed(text, how)
        if how not in ("fields", "event"):
            return text[: max(1, len(text) // 2)]
        body = json.loads(text)
        if how == "fields":
            body.pop("data", None)
            return dumps(body)
        *path, name = self.EVENT_AT
        node = body
        for k in path:
            node = node.get(k) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[name] = self.EVENT_UNKNOWN
        return dumps(body)

    def _end_authorization(self, s: _Socket) -> bool:
        """A LISTEN_KEY_EXPIRED fault on ``s``: whether the venue ended its authorization (the
        frame is then not sent): a venue with :attr:`LOGGED_OUT` logs the socket out."""
        if self.LOGGED_OUT is None or s.owner is None:
            return False
        s.owner = None
        self._error(s, *self.LOGGED_OUT)
        return True

    async def _write(self, s: _Socket) -> None:
        """Send what the socket's queue holds, through the stream faults (never the answers)."""
        while True:
            kind, text = await s.queue.get()
            if s.ws.closed:
                return
            if kind is None:
                await self._send(s, text)
                continue
            faults = self.faults.match("stream", self.engine.now(), account=s.account, endpoint=f"stream:{kind}")
            if first(faults, FaultKind.STREAM_DISCONNECT):
                await s.ws.close()
                return
            if first(faults, FaultKind.LISTEN_KEY_EXPIRED) and self._end_authorization(s):
                continue
            if first(faults, FaultKind.STREAM_STALL):
                continue
            bad = first(faults, FaultKind.STREAM_MALFORMED)
            if bad is not None:
                text = self._malformed(text, bad.body or "json")
            if first(faults, FaultKind.STREAM_OUT_OF_ORDER) and s.held is None:
                s.held = text
                continue
            await self._send(s, text)
            if first(faults, FaultKind.STREAM_DUPLICATE):
                await self._send(s, text)
            if s.held is not None:
                held, s.held = s.held, None
                await self._send(s, held)

    async def _send(self, s: _Socket, text: str) -> None:
        try:
            await s.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return
        self.sent.append((s.account, text))
