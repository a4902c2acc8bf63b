"""The simulated exchange's OKX v5 websocket face: the private and business channels and the marks.

:class:`OkxStreamFace` lives on the :class:`adapters.simulated.http.SimServer`'s aiohttp app and
port, beside the REST faces, and speaks OKX v5's documented websocket protocol as
``ccxt.pro.okx`` (4.5.90) opens it from ``urls['api']['ws']`` (``<base>/ws/v5`` + ``/public``,
``/private``, ``/business``):

login      ``{"op": "login", "args": [{"apiKey", "passphrase", "timestamp", "sign"}]}`` on
           ``/private`` or ``/business``: ``sign`` the base64 HMAC-SHA256 of ``timestamp +
           "GET" + "/users/self/verify"`` with the secret, ``timestamp`` (seconds) within 30 s of
           the server's auth clock; answered ``{"event": "login", "code": "0", "msg": "",
           "connId"}``, else ``{"event": "error", "code", "msg", "connId"}`` with OKX's code:
           60005 unknown key, 60024 wrong passphrase, 60006 a stale timestamp, 60007 a bad
           signature (the socket stays logged out).
subscribe  ``{"op": "subscribe", "args": [{"channel", ...}]}``, each answered ``{"event":
           "subscribe", "arg", "connId"}``: ``positions``, ``orders`` and ``account`` on
           ``/private``, ``orders-algo`` on ``/business`` (before login: 60011 "Please log in"),
           ``mark-price`` of an ``instId`` on ``/public``; another channel, or one on another
           path, is 60018. ``positions`` and ``account`` push a ``snapshot`` at subscription
           (the open positions, 100 a page, ``curPage`` / ``lastPage``), as OKX does.
pushes     ``{"arg": {...the subscription's, "uid"}, "data": [...]}`` with the fields OKX
           documents, rendered from the engine's change hooks at the change: an order's every
           change on ``orders`` (its ``state``, the fill's ``fillSz`` / ``fillPx`` /
           ``tradeId``), a conditional order placed, triggered (``effective``), cancelled or
           failed (``order_failed``) on ``orders-algo`` (a trailing stop is OKX's
           ``algo-advance`` channel's, not served), the legs a fill or a seed changed on
           ``positions`` (``eventType`` ``event_update``; a closed leg ``pos`` "0") with the
           account on ``account``. ``mark-price``: ``{"instType", "instId", "markPx", "ts"}``
           at once when :meth:`~adapters.simulated.engine.SimExchange.set_mark` sets one, then every
           ``mark_every_ms`` (OKX's 200 ms) while it moves and every ``quiet_every_ms`` (OKX's 10 s)
           while not.
ping       the text ``ping`` answered ``pong`` on every path.

Faults come from the engine's :class:`~adapters.simulated.faults.FaultPlan` through
:class:`~adapters.simulated.faces.push.PushFace` (endpoint ``stream:user`` for the private and
business channels, ``stream:market`` for marks). ``listen_key_expired`` ends a socket's login: it
is told ``{"event": "error", "code": "60011", "msg": "Please log in"}`` (the venue's answer to a
private request of a socket not logged in; OKX documents no expiry of a login, so this is the
simulator's rendering of a login the venue dropped) and gets no more pushes. A malformed frame
("fields") loses its ``data``; ("event") its channel is one nobody knows.

What it owns: the sockets' login and subscriptions and the rendering of changes as OKX's
pushes. What it must not do: keep exchange state or call the engine's charged methods (a
stream costs no request): the account and a position's margins are read uncharged, at the
change.
"""

from __future__ import annotations

import zlib
from typing import Any, Optional

from ....simulated.changes import AccountChanged, AlgoChanged, OrderChanged
from ....simulated.engine import MarketSpec, decimals
from ....simulated.faces.channels import ChannelFace
from ....simulated.faces.push import _Socket, dumps
from ....simulated.faces.shared import ccxt_client, loopback, strict_client
from . import CCXT_OPTIONS, _Okx
from .wire import _f, _money, _sz, inst_id

PATHS = {"/ws/v5/public": "public", "/ws/v5/private": "private", "/ws/v5/business": "business"}
CHANNELS = {"positions": "private", "orders": "private", "account": "private", "orders-algo": "business",
            "mark-price": "public"}
UNKNOWN_CHANNEL = "sim-unknown"  # what a STREAM_MALFORMED "event" fault renames a channel to
PAGE = 100  # the positions a snapshot page carries
ALGO_STATES = {"NEW": "live", "TRIGGERED": "effective", "CANCELED": "canceled", "EXPIRED": "order_failed",
               "REJECTED": "order_failed"}


class OkxStreamFace(ChannelFace):
    """The OKX websocket face over ``server``'s engine (see the module docstring)."""

    PATHS = PATHS
    REFUSALS = {"illegal": ("60012", "Illegal request: {data}"), "args": ("60013", "Invalid args"),
                "op": ("60019", "Invalid op: {data}"),
                "public": ("60028", "The current operation is not supported by this URL. Please use the correct "
                                    "WebSocket URL for the operation."),
                "key": ("60005", "Invalid apiKey"), "passphrase": ("60024", "Wrong passphrase"),
                "expired": ("60006", "Timestamp request expired"), "sign": ("60007", "Invalid sign")}
    VERIFY = "GET/users/self/verify"
    LOGGED_IN = {"event": "login", "code": "0", "msg": ""}
    MARK_EVERY_MS, QUIET_EVERY_MS = 200, 10_000
    MARK_CHANNEL = "mark-price"
    UNTOLD_ALGOS = ("TRAILING_STOP_MARKET",)  # a trailing stop is OKX's algo-advance channel's, not served here
    EVENT_AT = ("arg", "channel")
    EVENT_UNKNOWN = UNKNOWN_CHANNEL
    LOGGED_OUT = ("60011", "Please log in")
    _rest: Optional[_Okx] = None  # the REST face's rows, made when first read

    @property
    def rest(self) -> _Okx:
        """The REST face's rows (an order's, an algo order's fields), over the server's engine now
        (made again when the engine or its markets changed)."""
        r = self._rest
        if r is None or r.engine is not self.server.engine or len(r.by_inst) != len(self.server.engine.markets):
            r = self._rest = _Okx(self.server)
        return r

    # --- requests ---------------------------------------------------------------------------------------

    def _say(self, sock: _Socket, body: dict) -> None:
        sock.queue.put_nowait((None, dumps({**body, "connId": sock.pushed["conn_id"]})))

    def _error(self, sock: _Socket, code: str, msg: str) -> None:
        self._say(sock, {"event": "error", "code": code, "msg": msg})

    def _subscribe(self, sock: _Socket, op: str, arg: Any) -> None:
        channel = arg.get("channel") if isinstance(arg, dict) else None
        where = CHANNELS.get(channel) if isinstance(channel, str) else None
        inst = arg.get("instId") if isinstance(arg, dict) else None
        market = self.rest.by_inst.get(inst) if isinstance(inst, str) else None
        if where != sock.pushed["path"] or (channel == "mark-price" and market is None):
            self._error(sock, "60018", f"Wrong URL or channel:{channel},instId:{inst} doesn't exist. Please use "
                                       "the correct URL, channel and parameters referring to API document.")
            return
        if where != "public" and sock.owner is None:
            self._error(sock, "60011", "Please log in")
            return
        if not self._subscribed(sock, op, arg, inst, {**arg, **({"uid": _uid(sock.owner)} if sock.owner else {})}):
            return
        if market is not None:
            self._mark(sock, market.symbol, self.engine.now())
        elif channel == "positions":
            self._positions_snapshot(sock)
        elif channel == "account":
            self._push(sock, "account", [self._account_row(sock.owner or "", self.engine.now())], "snapshot")

    # --- pushes -----------------------------------------------------------------------------------------

    def _push(self, s: _Socket, channel: str, data: list, event_type: Optional[str] = None,
              page: tuple[int, bool] = (1, True)) -> None:
        body: dict[str, Any] = {"arg": s.pushed["args"].get(channel, {"channel": channel})}
        if event_type is not None:
            body.update(eventType=event_type, curPage=page[0], lastPage=page[1])
        body["data"] = data
        s.queue.put_nowait(("user", dumps(body)))

    def _instrument(self, m: MarketSpec) -> str:
        return inst_id(m)

    def _changed(self, s: _Socket, channel: str, data: list, ts: int) -> None:
        # an order's push has no event type; a position's and the account's are updates
        self._push(s, channel, data, "event_update" if channel in ("positions", "account") else None)

    def _position_rows(self, c: AccountChanged) -> list:
        views = {(v.symbol, v.position_side): v for v in self._views(c.account, c.ts)}
        return [self._position_row(c.account, leg.symbol, leg.position_side, leg.amount, leg.entry, leg.mark,
                                   leg.unrealized, views.get((leg.symbol, leg.position_side)), c.ts)
                for leg in c.legs]

    def _positions_snapshot(self, s: _Socket) -> None:
        account, now = s.owner or "", self.engine.now()
        rows = [self._position_row(account, v.symbol, v.position_side, v.amount, v.entry_price, v.mark_price,
                                   v.unrealized_pnl, v, now) for v in self._views(account, now)]
        pages = [rows[i:i + PAGE] for i in range(0, len(rows), PAGE)] or [[]]
        for i, page in enumerate(pages):
            self._push(s, "positions", page, "snapshot", (i + 1, i == len(pages) - 1))

    def _mark_frame(self, m: MarketSpec, px: float, ts: int, arg: Optional[dict]) -> dict:
        row = {"instType": "SWAP", "instId": inst_id(m), "markPx": _f(px, decimals(m.price_tick)), "ts": str(ts)}
        return {"arg": arg or {"channel": "mark-price", "instId": inst_id(m)}, "data": [row]}

    # --- rows -------------------------------------------------------------------------------------------

    def _views(self, account: str, ts: int) -> list:
        eng = self.engine
        return list(eng._positions(eng.accounts[account], ts))  # uncharged, at the change

    def _position_row(self, account: str, symbol: str, ps: str, amount: float, entry: float, mark: float,
                      upnl: float, view: Any, ts: int) -> dict:
        eng = self.engine
        m = eng.markets[symbol]
        pd = decimals(m.price_tick)
        hedge = ps != "BOTH"
        notional = abs(amount) * mark * m.contract_size
        return {
            "instType": "SWAP", "instId": inst_id(m), "mgnMode": "cross",
            "posId": str(zlib.crc32(f"{account}/{symbol}/{ps}".encode())),
            "posSide": ps.lower() if hedge else "net", "pos": _sz(m, abs(amount) if hedge else amount),
            "availPos": _sz(m, abs(amount)), "posCcy": "", "ccy": m.quote,
            "avgPx": _f(entry, pd + 2) if amount else "", "bePx": _f(entry, pd + 2) if amount else "",
            "markPx": _f(mark, pd), "last": _f(mark, pd), "idxPx": _f(mark, pd), "upl": _money(upnl),
            "uplLastPx": _money(upnl), "uplRatio": "", "lever": str(eng.leverage(account, symbol)),
            "liqPx": _f(view.liquidation_price, pd) if view is not None and view.liquidation_price else "",
            "imr": _money(view.initial_margin if view is not None else 0),
            "mmr": _money(view.maint_margin if view is not None else 0), "margin": "", "mgnRatio": "",
            "notionalUsd": _money(notional), "adl": "1" if amount else "", "interest": "0", "realizedPnl": "0",
            "pnl": "0", "fee": "0", "fundingFee": "0", "liqPenalty": "0", "tradeId": "",
            "cTime": str(eng.t0), "uTime": str(ts), "pTime": str(ts), "closeOrderAlgo": [],
        }

    def _account_row(self, account: str, ts: int) -> dict:
        eng = self.engine
        v = eng._view(eng.accounts[account], ts)  # uncharged, at the change
        detail = {"ccy": "USDT", "eq": _money(v.equity), "cashBal": _money(v.wallet), "availBal": _money(v.available),
                  "availEq": _money(v.available), "frozenBal": _money(v.initial_margin + v.open_order_margin),
                  "ordFrozen": _money(v.open_order_margin), "upl": _money(v.unrealized_pnl),
                  "imr": _money(v.initial_margin), "mmr": _money(v.maint_margin), "eqUsd": _money(v.equity),
                  "disEq": _money(v.equity), "isoEq": "0", "liab": "0", "uTime": str(ts)}
        return {"totalEq": _money(v.equity), "adjEq": _money(v.equity), "isoEq": "0",
                "imr": _money(v.initial_margin + v.open_order_margin), "mmr": _money(v.maint_margin),
                "ordFroz": _money(v.open_order_margin), "upl": _money(v.unrealized_pnl), "notionalUsd": "",
                "mgnRatio": "", "uTime": str(ts), "details": [detail]}

    def _order_row(self, c: OrderChanged) -> dict:
        row = self.rest.order(c.order)
        m = self.engine.markets[c.order.symbol]
        traded = c.execution == "TRADE"
        row.update({"code": "0", "msg": "", "amendResult": "", "reqId": "", "notionalUsd": "",
                    "fillSz": _sz(m, c.last_qty) if traded else "0",
                    "fillPx": _f(c.last_price, decimals(m.price_tick)) if traded else "",
                    "tradeId": str(c.trade_id) if traded else "", "fillTime": str(c.ts) if traded else "",
                    "fillFee": _money(-c.fee) if traded else "0", "fillFeeCcy": m.quote if traded else "",
                    "execType": ("M" if c.maker else "T") if traded else "", "fillNotionalUsd": "",
                    "uTime": str(c.ts)})
        return row

    def _algo_row(self, c: AlgoChanged) -> dict:
        o = c.order
        row = self.rest.algo(o)
        row.update({"state": ALGO_STATES.get(o.status, "canceled"), "uTime": str(c.ts), "pTime": str(c.ts),
                    "failCode": "51169" if o.status in ("EXPIRED", "REJECTED") else ""})
        if o.status == "TRIGGERED":
            row["ordId"] = str(o.actual_order_id)
        return row


def _uid(account: str) -> str:
    return str(zlib.crc32(account.encode()))


def okx_pro_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.pro.okx`` bound to ``server`` as ``account``: REST as :func:`..face.okx_client`,
    streams at the server's ``/ws/v5/{public,private,business}`` (close it after use)."""
    import ccxt.pro as ccxt_pro

    base = loopback(server.base_url)
    ex = ccxt_client(ccxt_pro.okx, server, account, config, CCXT_OPTIONS, password=True)
    ex.urls["api"] = {k: base for k in (ex.urls.get("api") or {})}
    ex.urls["api"].update(rest=base, ws="ws" + base[len("http"):] + "/ws/v5")
    ex.has = {**ex.has, "fetchCurrencies": False}
    return strict_client(ex, strict)


stream_face = OkxStreamFace.for_server


__all__ = ["OkxStreamFace", "CHANNELS", "UNKNOWN_CHANNEL", "okx_pro_client", "stream_face"]
