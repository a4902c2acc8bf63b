"""The simulated exchange's HTTP server: every venue's face on one port of 127.0.0.1.

:class:`SimServer` serves one :class:`SimExchange` to real clients (ccxt, the ccxt adapter, a
runner in another process): each request goes to the REST face whose path prefix it starts with
(:func:`adapters.simulated.faces.face_for`: each venue package's ``FACE``,
``adapters/venues/<venue>/face.py``, found by :mod:`adapters.registry`; Binance USDⓈ-M's holds
the empty prefix, every path no other face claims). The prefixes never overlap, so one server
speaks every dialect at once, and an account answers in whichever dialect its client speaks.

The engine's :class:`FaultPlan` (or the one handed in) is applied per request by the faces, keyed
on the operation name (e.g. ``place_order``) or the endpoint (``"POST /fapi/v1/order"``): the
server holds what they share — the plan, how long a TIMEOUT hangs (``hang_s``), how injected
latency is scaled (``time_scale``), the server time a signed request is checked against
(``auth_clock``, ``check_timestamp``), the bodies a STALE rule repeats, and every request's
(method, path, status) in :attr:`SimServer.requests`.

The websocket face of Binance USDⓈ-M (:mod:`.stream`: the user data stream with its listen keys,
mark prices and the stream faults) is served on the same app and port: ``POST/PUT/DELETE
/fapi/v1/listenKey``, ``/ws``, ``/ws/<listenKey>`` and Binance's ``/private/ws``, ``/market/ws``,
``/public/ws``. Every other venue's websocket face is served there too: each venue package's
``STREAM_FACE`` (``adapters/venues/<venue>/face/stream.py``, its ``stream_face``), found by
:mod:`adapters.registry` and kept as :attr:`SimServer.streams` by the venue's folder name and as
the attribute ``<venue>_stream`` (Bybit v5's ``/v5/private``, ``/v5/public/linear``: ``bybit_stream``;
OKX v5's ``/ws/v5/public``, ``/private``, ``/business``: ``okx_stream``; Bitget v2's
``/v2/ws/public``, ``/v2/ws/private``: ``bitget_stream``; Hyperliquid's bare
``/ws``, whose first request says whether it is Hyperliquid's or Binance's:
``hyperliquid_stream``). A face's keyword arguments are ``venue_streams[<venue>]``. A websocket
path two faces claim is refused when the server starts, as a REST prefix is
(:func:`add_stream_routes`).

Test harness endpoints (no venue's API): ``POST /_sim/mark?symbol=&price=`` holds a market's mark
at a price from now on; ``POST /_sim/seed?account=&wallet=&legs=`` sets a wallet and seeds
positions (a request to either it cannot read whole answers 400 with its reason, :mod:`.admin`);
``GET /_sim/state`` answers the engine's :meth:`SimExchange.dump_state` as JSON (positions,
orders with their client ids, fill events), read-only and unauthenticated; all only when the
server is built with ``admin_state=True`` (as ``python -m adapters.simulated serve`` does) — so a
test can check a separate runner process against what the "exchange" really holds.

What it owns: listening, the routing of a request to its face, the harness endpoints, and, from
:mod:`.held_clock`, the clocks ``serve`` runs on. What it must not do: listen anywhere but
loopback, keep exchange state of its own (all state is the engine's; the bodies a STALE rule
repeats are the fault's), know any venue's paths or fields (its faces'), or hold secrets beyond
the engine's test keys.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from aiohttp import web

from ..registry import parts
from .admin import AdminRefusal, mark_request, refused, seed_request
from .engine import SimExchange
from .faces import FaceCollision, face_for, registered
from .faces.shared import respond
from .faults import FaultPlan
from .held_clock import ADMIN_GO_PATH, ScaledClock, held_go, wall_clock
from .stream import StreamFace

LOOPBACK = ("127.0.0.1", "localhost", "::1")

# test harness only (see the module docstring): the engine's dump_state, read-only
ADMIN_STATE_PATH = "/_sim/state"
ADMIN_MARK_PATH = "/_sim/mark"  # POST ?symbol=BTCUSDT&price=50000: hold that mark from now on
# POST ?account=sim-0&wallet=1000000&legs=BTCUSDT:long:5:60000,...: the wallet set, those positions seeded
ADMIN_SEED_PATH = "/_sim/seed"


def add_stream_routes(app: web.Application, faces: list[tuple[str, Any]]) -> None:
    """Each websocket face's routes on ``app``, in turn; a path one face holds that another claims
    too (the same path, its one route would silently answer both) is refused
    (:class:`~.faces.FaceCollision`, naming both faces and the path) before any route is added."""
    owners: dict[str, str] = {}
    for owner, face in faces:
        probe = web.Application()  # the face's paths, read off a router of its own
        face.add_routes(probe)
        for path in dict.fromkeys(r.canonical for r in probe.router.resources()):
            if path in owners:
                raise FaceCollision(f"the simulator's faces {owners[path]} and {owner} both claim the websocket "
                                    f"path {path!r}: a face's paths must be its own (adapters/simulated/faces)")
            owners[path] = owner
    for _, face in faces:
        face.add_routes(app)


class SimServer:
    """Every venue's face over ``engine``, on ``127.0.0.1`` (port 0: a free one).

    ``auth_clock`` is the server time the request ``timestamp`` is checked against (default:
    the engine clock); ``check_timestamp=False`` skips that check. A TIMEOUT fault holds the
    request for ``hang_s`` seconds (or until the client goes away or the server stops);
    injected latency sleeps ``latency_ms * time_scale``.
    """

    def __init__(self, engine: SimExchange, *, host: str = "127.0.0.1", port: int = 0,
                 faults: Optional[FaultPlan] = None, check_timestamp: bool = True,
                 auth_clock: Optional[Callable[[], int]] = None, hang_s: float = 3600.0, time_scale: float = 1.0,
                 admin_state: bool = False, stream: Optional[dict] = None,
                 venue_streams: Optional[dict[str, dict]] = None):
        if host not in LOOPBACK:
            raise ValueError("the simulated exchange listens on loopback only")
        self.engine = engine
        self.host = host
        self._port = port
        self.faults = faults if faults is not None else engine.faults
        self.check_timestamp = check_timestamp
        self.auth_clock = auth_clock or engine.now
        self.hang_s = hang_s
        self.time_scale = time_scale
        self.admin_state = admin_state  # serve GET /_sim/state (test harness, not Binance)
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every request
        self._runner: Optional[web.AppRunner] = None
        # (venue, stale rule, endpoint, account, what the read asks) → the body a STALE rule repeats
        self._frozen: dict[tuple, Any] = {}
        # the websocket face: keyword arguments of StreamFace (mark cadence, tick)
        self.stream = StreamFace(engine, self.faults, requests=self.requests, **(stream or {}))
        # every other venue's websocket face on the same port, in registry order
        options = venue_streams or {}
        unknown = set(options) - {p.venue for p in parts("STREAM_FACE")}
        if unknown:
            raise ValueError(f"no venue has a websocket face named {', '.join(sorted(unknown))}")
        self.streams: dict[str, Any] = {p.venue: p.module.stream_face(self, **options.get(p.venue, {}))
                                        for p in parts("STREAM_FACE")}

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> str:
        registered()  # two faces claiming one path prefix are refused here, before anything listens
        app = web.Application()
        # before the catch-all below; two stream faces claiming one path are refused here too
        add_stream_routes(app, [("the server's own stream", self.stream),
                                *((f"{venue!r} (stream)", face) for venue, face in self.streams.items())])
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        await self.stream.start()
        for face in self.streams.values():
            await face.start()
        return self.base_url

    def warm(self) -> None:
        """Pay now what each venue's faces load at their first request (Hyperliquid's signature
        check: ccxt's msgpack, a second and more), so that a bench does not time the simulator's
        own start as the venue's answer; a server that is not timed need not."""
        for face in self.streams.values():
            face.warm()

    async def stop(self) -> None:
        await self.stream.stop()
        for face in self.streams.values():
            await face.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "SimServer":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    def __getattr__(self, name: str) -> Any:
        """A venue's websocket face as ``<venue>_stream`` (``server.okx_stream``): :attr:`streams`."""
        streams = self.__dict__.get("streams", {})
        if name.endswith("_stream") and name[: -len("_stream")] in streams:
            return streams[name[: -len("_stream")]]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """The websocket base ccxt.pro's binanceusdm takes as ``urls['api']['ws']['linear']``."""
        return f"ws://{self.host}:{self._port}/ws"

    # --- request handling ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        if self.admin_state and path == ADMIN_STATE_PATH and method == "GET":
            text = json.dumps(self.engine.dump_state(), separators=(",", ":"), default=str)
            return web.Response(status=200, text=text, content_type="application/json")
        if self.admin_state and path == ADMIN_MARK_PATH and method == "POST":  # a test moves a market
            try:
                symbol, price = mark_request(request.rel_url.query, self.engine.markets)
            except AdminRefusal as e:
                return self._refused(e)
            self.engine.set_mark(symbol, price)
            return web.Response(status=200, text="{}", content_type="application/json")
        if self.admin_state and path == ADMIN_GO_PATH and method == "POST":  # a test starts a held scenario
            status, body = held_go(self.engine.clock, request.rel_url.query.get("at_ms"))
            return web.Response(status=status, text=json.dumps(body), content_type="application/json")
        if self.admin_state and path == ADMIN_SEED_PATH and method == "POST":  # a bench seeds a book again
            try:
                seed = seed_request(request.rel_url.query, self.engine.accounts, self.engine.markets)
            except AdminRefusal as e:
                return self._refused(e)
            self.engine.set_wallet(seed.account, seed.wallet)
            for symbol, side, amount, entry in seed.legs:
                self.engine.open_position(seed.account, symbol, side, amount, entry)
            return web.Response(status=200, text="{}", content_type="application/json")
        face = face_for(path)
        if face is None:  # no venue holds the empty prefix (Binance USDⓈ-M's face does)
            return respond(self, method, path, 404, "404 page not found")
        return await face(self, request)

    def _refused(self, e: AdminRefusal) -> web.Response:
        status, text = refused(e)
        return web.Response(status=status, text=text, content_type="application/json")


__all__ = ["SimServer", "add_stream_routes", "wall_clock", "ScaledClock", "ADMIN_STATE_PATH", "ADMIN_MARK_PATH",
           "ADMIN_SEED_PATH"]
