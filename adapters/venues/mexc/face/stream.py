"""The simulated exchange's MEXC contract websocket face: the signed login, the personal pushes, the tickers.

:class:`MexcStreamFace` lives on the :class:`adapters.simulated.http.SimServer`'s aiohttp app and
port, beside the REST faces, and speaks MEXC's contract websocket (``wss://contract.mexc.com/edge``,
one socket for the public and the private channels) as ``ccxt.pro.mexc`` (4.5.90) opens it at
``urls['api']['ws']['swap']`` (``<base>/edge``). Requests are ``{"method", "param"}``:

login      ``{"method": "login", "param": {"apiKey", "reqTime", "signature"}}``, ``signature`` the hex
           HMAC-SHA256 of ``apiKey + reqTime`` with the secret: answered ``{"channel": "rs.login",
           "data": "success", "ts"}``, and every personal push follows, as MEXC pushes all private
           data after a login by default (``"subscribe": false`` in the login: none until a
           ``personal.filter``). An unknown key or a signature that does not verify is refused
           the documented way of a failure, ``{"channel": "rs.error", "data": <words>, "ts"}``,
           its words the contract API's error list's (401 "Unauthorized", 602 "Verify failed");
           the socket stays logged out.
personal.filter  ``{"method": "personal.filter", "param": {"filters": [{"filter": ...}]}}``: the
           personal pushes kept to those named (``order``, ``position``, ``plan.order``,
           ``stop.planorder``, ``asset``; none named: all), answered ``rs.personal.filter``.
sub.ticker ``{"method": "sub.ticker", "param": {"symbol": "BTC_USDT"}}`` (``unsub.ticker``):
           answered ``rs.sub.ticker`` and the contract's ``push.ticker`` pushed at once (its
           ``fairPrice`` the engine's mark), then every ``mark_every_ms`` while it moves and
           every ``quiet_every_ms`` while not (the simulator's cadence: MEXC's ticker follows its
           market); a contract not listed is ``rs.error`` "Contract doesn't exist!" (documented).
pushes     as MEXC documents them (mexcdevelop/apidocs ``contract_v1_en``, *Private Channels*;
           https://www.mexc.com/api-docs/futures/websocket-api), ``{"channel", "data", "ts"}``
           with ``ts`` the engine clock at the change: ``push.personal.order`` (an order's row as
           the open-order list writes it: ``state`` 2 open, 3 filled, 4 cancelled, 5 invalid),
           ``push.personal.position`` (each leg the change moved: ``positionType`` 1 long /
           2 short, ``holdVol`` in contracts, ``state`` 1 holding, 3 closed with ``holdVol`` 0),
           ``push.personal.asset`` (the USDT row: ``availableBalance``, ``frozenBalance``,
           ``positionMargin``, which add up to the wallet: no unrealized PnL),
           ``push.personal.plan.order`` (a trigger order: ``state`` 1 untriggered, 2 cancelled,
           3 executed, 4 invalid) and ``push.personal.stop.planorder`` (a position's TP/SL: the
           Stop-Limit list's row, ``isFinished`` 1 once it ends).
ping       ``{"method": "ping"}`` answered ``{"channel": "pong", "data": <ms>}``.

Faults come from the engine's :class:`~adapters.simulated.faults.FaultPlan` through
:class:`~adapters.simulated.faces.push.PushFace` (endpoint ``stream:user`` for the personal pushes,
``stream:market`` for the tickers). ``listen_key_expired`` ends a socket's login: it is told
``rs.error`` "Unauthorized" (MEXC documents no end of a login: this is the simulator's rendering
of one the venue dropped) and gets no more personal pushes. A malformed frame ("fields") loses
its ``data``; ("event") its ``channel`` is one nobody knows.

The spot websocket's face (:mod:`.spot_stream`) is served beside it as its ``spot``.

What it owns: the sockets' logins, filters and ticker subscriptions and the rendering of changes
as MEXC's pushes (the rows the REST face writes, :class:`.rows.MexcRows`). What it must not
do: keep exchange state or call the engine's charged methods (a stream costs no request): the
account and its positions are read uncharged, at the change.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Optional

from ....simulated.changes import AccountChanged, AlgoChanged, OrderChanged
from ....simulated.engine import MarketSpec
from ....simulated.faces.channels import ChannelFace
from ....simulated.faces.push import _Socket, dumps
from ....simulated.faces.shared import signs, strict_client
from . import on_server
from .rows import MexcRows, is_stop
from .spot_stream import MexcSpotStreamFace, spot_face
from .wire import SIGNATURE, UNAUTHORIZED, contract_id

PATH = "/edge"
UNKNOWN_CHANNEL = "push.personal.sim-unknown"  # what a STREAM_MALFORMED "event" fault renames a channel to
NO_CONTRACT = "Contract doesn't exist!"  # the documented refusal of a subscription
# MEXC's personal filters → the face's streams (ChannelFace's channel names)
FILTERS = {"order": "orders", "plan.order": "orders-algo", "stop.planorder": "orders-algo", "position": "positions",
           "asset": "account"}
PRIVATE = frozenset(FILTERS.values())
# the engine's conditional order status → a trigger order's ``state``
PLAN_STATES = {"NEW": 1, "CANCELED": 2, "EXPIRED": 2, "TRIGGERED": 3, "REJECTED": 4}


class MexcStreamFace(ChannelFace):
    """The MEXC contract websocket face over ``server``'s engine (see the module docstring)."""

    PATHS = {PATH: "private"}
    MARK_EVERY_MS, QUIET_EVERY_MS = 300, 1_000
    MARK_CHANNEL = "ticker"
    EVENT_AT = ("channel",)
    EVENT_UNKNOWN = UNKNOWN_CHANNEL
    LOGGED_OUT = (UNAUTHORIZED[1],)

    def __init__(self, server: Any, **options: Any):
        super().__init__(server, **options)
        self.rows = MexcRows(server)  # the REST face's rows (a view with no request of its own)
        self.spot: Optional[MexcSpotStreamFace] = None  # the spot websocket's face, served beside (stream_face)

    def warm(self) -> None:
        """What the spot face's first push loads (its protobuf classes): the contract face loads nothing."""
        if self.spot is not None:
            self.spot.warm()

    async def start(self) -> None:
        await super().start()
        if self.spot is not None:
            await self.spot.start()

    async def stop(self) -> None:
        if self.spot is not None:
            await self.spot.stop()
        await super().stop()

    # --- requests ---------------------------------------------------------------------------------------

    def _error(self, sock: _Socket, message: str) -> None:
        self._say(sock, {"channel": "rs.error", "data": message, "ts": self.engine.now()})

    def _command(self, sock: _Socket, data: str) -> None:
        try:
            req = json.loads(data)
            method, param = req.get("method"), req.get("param")
        except (ValueError, AttributeError):
            return self._error(sock, "Json Error")
        param = param if isinstance(param, dict) else {}
        if method == "ping":
            self._say(sock, {"channel": "pong", "data": self.engine.now()})
        elif method == "login":
            self._log_in(sock, param, req.get("subscribe", True) is not False)
        elif method == "personal.filter":
            self._filter(sock, param)
        elif method in ("sub.ticker", "unsub.ticker"):
            self._ticker(sock, str(method), param)
        else:
            self._error(sock, f"Method {str(method)[:40]} not supported")  # (the simulator's words)

    def _log_in(self, sock: _Socket, param: dict, pushes: bool) -> None:
        key, stamp = str(param.get("apiKey") or ""), str(param.get("reqTime") or "")
        account = self.engine.account_for_key(key) if key else None
        if account is None:
            return self._error(sock, UNAUTHORIZED[1])
        if not stamp.isdigit() or not signs(self.engine.key_secret(key, account), key + stamp,
                                            str(param.get("signature") or "")):
            return self._error(sock, SIGNATURE[1])
        sock.owner = account
        if pushes:
            sock.streams |= PRIVATE
        self._say(sock, {"channel": "rs.login", "data": "success", "ts": self.engine.now()})

    def _filter(self, sock: _Socket, param: dict) -> None:
        if sock.owner is None:
            return self._error(sock, UNAUTHORIZED[1])
        named = [str(f.get("filter")) for f in param.get("filters") or [] if isinstance(f, dict)]
        if any(n not in FILTERS for n in named):
            return self._error(sock, "Invalid filter")  # (the simulator's words)
        sock.streams -= PRIVATE
        sock.streams |= {FILTERS[n] for n in named} if named else PRIVATE
        self._say(sock, {"channel": "rs.personal.filter", "data": "success", "ts": self.engine.now()})

    def _ticker(self, sock: _Socket, method: str, param: dict) -> None:
        m = next((mk for mk in self.engine.markets.values() if contract_id(mk) == param.get("symbol")), None)
        if m is None:
            return self._error(sock, NO_CONTRACT)
        self._say(sock, {"channel": f"rs.{method}", "data": "success", "ts": self.engine.now()})
        self._watch_mark(sock, m, method == "sub.ticker", self.engine.now())

    # --- pushes -----------------------------------------------------------------------------------------

    def _instrument(self, m: MarketSpec) -> str:
        return contract_id(m)

    def _mark_frame(self, m: MarketSpec, px: float, ts: int, arg: Optional[dict]) -> dict:
        row = {**self.rows.ticker(m, ts), "lastPrice": px, "bid1": px, "ask1": px, "fairPrice": px, "indexPrice": px,
               "maxBidPrice": px, "minAskPrice": px, "lower24Price": px, "high24Price": px}
        return {"channel": "push.ticker", "data": row, "symbol": contract_id(m), "ts": ts}

    def _changed(self, s: _Socket, channel: str, data: list, ts: int) -> None:
        for frame in data:  # (each row its own push)
            s.queue.put_nowait(("user", dumps(frame)))

    def _order_row(self, c: OrderChanged) -> dict:
        return {"channel": "push.personal.order", "data": self.rows.order_row(c.order), "ts": c.ts}

    def _algo_row(self, c: AlgoChanged) -> dict:
        o = c.order
        if is_stop(o):
            row = {**self.rows.stop_row(o), "state": PLAN_STATES.get(c.status, 2), "isFinished": int(c.status != "NEW")}
            return {"channel": "push.personal.stop.planorder", "data": row, "ts": c.ts}
        row = {**self.rows.plan_row(o), "state": PLAN_STATES.get(c.status, 2), "orderId": o.actual_order_id,
               "positionMode": 2 if o.position_side == "BOTH" else 1}
        return {"channel": "push.personal.plan.order", "data": row, "ts": c.ts}

    def _position_rows(self, c: AccountChanged) -> list:
        eng = self.engine
        views = {(v.symbol, v.position_side): v for v in eng._positions(eng.accounts[c.account], c.ts)}  # uncharged
        frames = []
        for leg in c.legs:
            m, view = eng.markets[leg.symbol], views.get((leg.symbol, leg.position_side))
            long_leg = leg.position_side == "LONG" or (leg.position_side == "BOTH" and leg.amount >= 0)
            row = {"positionId": zlib.crc32(f"{c.account}/{leg.symbol}/{leg.position_side}".encode()),
                   "symbol": contract_id(m), "holdVol": abs(leg.amount), "positionType": 1 if long_leg else 2,
                   "openType": 2, "state": 1 if leg.amount else 3, "frozenVol": 0, "closeVol": 0,
                   "holdAvgPrice": leg.entry if leg.amount else 0, "openAvgPrice": leg.entry if leg.amount else 0,
                   "closeAvgPrice": 0, "liquidatePrice": view.liquidation_price if view is not None else 0,
                   "oim": view.initial_margin if view is not None else 0,
                   "im": view.initial_margin if view is not None else 0, "holdFee": 0, "realised": leg.realized,
                   "leverage": eng.leverage(c.account, leg.symbol), "autoAddIm": False, "updateTime": c.ts}
            frames.append({"channel": "push.personal.position", "data": row, "ts": c.ts})
        return frames

    def _account_row(self, account: str, ts: int) -> dict:
        eng = self.engine
        v = eng._view(eng.accounts[account], ts)  # uncharged, at the change
        row = {"currency": "USDT", "positionMargin": v.initial_margin, "frozenBalance": v.open_order_margin,
               "availableBalance": v.wallet - v.initial_margin - v.open_order_margin, "bonus": 0}
        return {"channel": "push.personal.asset", "data": row, "ts": ts}


def mexc_pro_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.pro.mexc`` bound to ``server`` as ``account``: REST over the contract face, the
    contract websocket at the server's :data:`PATH` (close it after use)."""
    import ccxt.pro as ccxt_pro

    ex = on_server(ccxt_pro.mexc, server, account, config)
    ws = "ws" + server.base_url[len("http"):]
    ex.urls["api"]["ws"] = {"spot": f"{ws}/ws", "swap": ws + PATH}  # (the spot socket: .spot_stream)
    return strict_client(ex, strict)


def stream_face(server: Any, **options: Any) -> MexcStreamFace:
    """The face SimServer serves as its ``mexc_stream``: the contract websocket's, with the spot
    websocket's beside as its ``spot`` (:mod:`.spot_stream`), started and stopped with it."""
    face = MexcStreamFace.for_server(server, **options)
    face.spot = spot_face(server)
    return face


__all__ = ["FILTERS", "MexcStreamFace", "NO_CONTRACT", "PATH", "UNKNOWN_CHANNEL", "mexc_pro_client", "stream_face"]
