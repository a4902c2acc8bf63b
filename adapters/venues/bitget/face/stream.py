"""The simulated exchange's Bitget v2 websocket face: the private channels and the marks.

:class:`BitgetStreamFace` lives on the :class:`adapters.simulated.http.SimServer`'s aiohttp app and
port, beside the REST faces, and speaks Bitget's classic-account websocket as ``ccxt.pro.bitget``
(4.5.90) opens it from ``urls['api']['ws']`` (``public`` ``<base>/v2/ws/public``, ``private``
``<base>/v2/ws/private``):

login      ``{"op": "login", "args": [{"apiKey", "passphrase", "timestamp", "sign"}]}`` on
           ``/private``: ``sign`` the base64 HMAC-SHA256 of ``timestamp + "GET" + "/user/verify"``
           with the secret, ``timestamp`` (seconds) within 30 s of the server's auth clock;
           answered ``{"event": "login", "code": 0}``, else ``{"event": "error", "code", "msg"}``
           with the codes ccxt's bitget lists for Bitget: 30011 an unknown key, 30012 a wrong
           passphrase, 30014 a stale timestamp, 30015 "Invalid sign" (the socket stays logged out).
subscribe  ``{"op": "subscribe", "args": [{"instType": "USDT-FUTURES", "channel", "instId" |
           "coin"}]}``, each arg answered ``{"event": "subscribe", "arg"}``: ``positions``,
           ``orders``, ``orders-algo``, ``account`` on ``/private`` (before login: 30004),
           ``ticker`` of an ``instId`` on ``/public``; another channel, product type or path is
           30001. ``positions`` and ``account`` push a snapshot at subscription.
pushes     ``{"action": "snapshot", "arg": {...the subscription's}, "data": [...], "ts"}`` with the
           fields Bitget documents, rendered from the engine's change hooks at the change (``ts``
           the engine clock then): ``positions`` every open position of the account (the whole
           book, each push: Bitget's positions channel is a snapshot), ``account`` the USDT
           margin coin's equity and unrealized PnL, ``orders`` an order's every change (its
           ``status``, the fill's ``fillPrice`` / ``baseVolume`` / ``tradeId``), ``orders-algo``
           a plan or TP/SL order placed (``live``), fired (``executed``), cancelled
           (``cancelled``) or failed (``fail_execute``) with its channel ``planType`` (pl, tp, sl,
           ptp, psl, track, mtpsl; the engine's TRIGGERING, its own step between live and
           fired, is not Bitget's and is not pushed). ``ticker``: the documented row with the
           engine's mark as every price in it, at once when
           :meth:`~adapters.simulated.engine.SimExchange.set_mark` sets one, then every
           ``mark_every_ms`` while it moves and every ``quiet_every_ms`` while not (the simulator's
           cadence: Bitget's ticker follows its market's trades).
ping       the text ``ping`` answered ``pong`` on both paths.

Faults come from the engine's :class:`~adapters.simulated.faults.FaultPlan` through
:class:`~adapters.simulated.faces.push.PushFace` (endpoint ``stream:user`` for the private
channels, ``stream:market`` for the tickers). ``listen_key_expired`` ends a socket's login: it is
told ``{"event": "error", "code": 30004, "msg": "User needs to log in"}`` (30004 is Bitget's code
of a request that needs a login, ccxt's list says; Bitget documents no expiry of a login, so this
is the simulator's rendering of one the venue dropped, its wording the simulator's) and gets no
more pushes. A malformed frame ("fields") loses its ``data``; ("event") its channel is one nobody
knows.

What it owns: the sockets' login and subscriptions and the rendering of changes as Bitget's
pushes. What it must not do: keep exchange state or call the engine's charged methods (a
stream costs no request): the account and its positions are read uncharged, at the change.
"""

from __future__ import annotations

import zlib
from typing import Any, Optional

from ....simulated.changes import AccountChanged, AlgoChanged, OrderChanged
from ....simulated.engine import MarketSpec, decimals
from ....simulated.faces.channels import ChannelFace
from ....simulated.faces.push import _Socket, dumps
from . import BitgetFace, bitget_pro_client, ws_urls
from .wire import PRODUCT, _f, _money, _px, _sz, symbol_id

PATHS = {"/v2/ws/public": "public", "/v2/ws/private": "private"}
CHANNELS = {"positions": "private", "orders": "private", "orders-algo": "private", "account": "private",
            "ticker": "public"}
UNKNOWN_CHANNEL = "sim-unknown"  # what a STREAM_MALFORMED "event" fault renames a channel to
# the REST planType of a plan order → the name the orders-algo channel gives it
WS_PLAN_TYPES = {"normal_plan": "pl", "profit_plan": "tp", "loss_plan": "sl", "pos_profit": "ptp",
                 "pos_loss": "psl", "track_plan": "track", "moving_plan": "mtpsl"}
ALGO_STATUSES = {"NEW": "live", "TRIGGERED": "executed", "CANCELED": "cancelled", "EXPIRED": "fail_execute",
                 "REJECTED": "fail_execute"}


class BitgetStreamFace(ChannelFace):
    """The Bitget websocket face over ``server``'s engine (see the module docstring)."""

    PATHS = PATHS
    REFUSALS = {"illegal": (30002, "illegal request"), "args": (30016, "Param error"), "op": (30003, "invalid op"),
                "public": (30003, "invalid op"), "key": (30011, "Invalid ACCESS_KEY"),
                "passphrase": (30012, "Invalid ACCESS_PASSPHRASE"), "expired": (30014, "Request timestamp expired"),
                "sign": (30015, "Invalid sign")}
    VERIFY = "GET/user/verify"
    LOGGED_IN = {"event": "login", "code": 0}
    MARK_EVERY_MS, QUIET_EVERY_MS = 300, 1_000
    MARK_CHANNEL = "ticker"
    EVENT_AT = ("arg", "channel")
    EVENT_UNKNOWN = UNKNOWN_CHANNEL
    LOGGED_OUT = (30004, "User needs to log in")

    @property
    def rest(self) -> BitgetFace:
        """The REST face's rows (an order's, a plan order's fields), over the server's engine now."""
        return BitgetFace(self.server)

    # --- requests ---------------------------------------------------------------------------------------

    def _error(self, sock: _Socket, code: int, msg: str, arg: Any = None) -> None:
        self._say(sock, {"event": "error", **({"arg": arg} if arg is not None else {}), "code": code, "msg": msg})

    def _subscribe(self, sock: _Socket, op: str, arg: Any) -> None:
        arg = arg if isinstance(arg, dict) else {}
        channel, inst = arg.get("channel"), arg.get("instId")
        where = CHANNELS.get(channel) if isinstance(channel, str) else None
        market = self.engine.markets.get(inst) if isinstance(inst, str) else None
        if where != sock.pushed["path"] or arg.get("instType") != PRODUCT or (channel == "ticker" and market is None):
            return self._error(sock, 30001, f"instType:{arg.get('instType')},channel:{channel},instId:{inst} "
                                            "doesn't exist", arg)
        if where == "private" and sock.owner is None:
            return self._error(sock, 30004, "User needs to log in", arg)
        if not self._subscribed(sock, op, arg, inst, dict(arg)):
            return
        now = self.engine.now()
        if market is not None:
            self._mark(sock, market.symbol, now)
        elif channel == "positions":
            self._push(sock, "positions", self._positions_of(sock.owner or "", now), now)
        elif channel == "account":
            self._push(sock, "account", [self._account_row(sock.owner or "", now)], now)

    # --- pushes -----------------------------------------------------------------------------------------

    def _instrument(self, m: MarketSpec) -> str:
        return symbol_id(m)

    def _changed(self, s: _Socket, channel: str, data: list, ts: int) -> None:
        self._push(s, channel, data, ts)

    def _push(self, s: _Socket, channel: str, data: list, ts: int) -> None:
        arg = s.pushed["args"].get(channel, {"instType": PRODUCT, "channel": channel, "instId": "default"})
        s.queue.put_nowait(("user", dumps({"action": "snapshot", "arg": arg, "data": data, "ts": ts})))

    def _mark_frame(self, m: MarketSpec, px: float, ts: int, arg: Optional[dict]) -> dict:
        text = _f(px, decimals(m.price_tick))
        row = {"instId": symbol_id(m), "lastPr": text, "bidPr": text, "askPr": text, "bidSz": "0", "askSz": "0",
               "open24h": text, "high24h": text, "low24h": text, "change24h": "0", "fundingRate": "0.0001",
               "nextFundingTime": str((ts // 28_800_000 + 1) * 28_800_000), "markPrice": text, "indexPrice": text,
               "holdingAmount": "0", "baseVolume": "0", "quoteVolume": "0", "openUtc": text, "symbolType": "1",
               "symbol": symbol_id(m), "deliveryPrice": "0", "ts": str(ts)}
        arg = arg or {"instType": PRODUCT, "channel": "ticker", "instId": symbol_id(m)}
        return {"action": "snapshot", "arg": arg, "data": [row], "ts": ts}

    # --- rows -------------------------------------------------------------------------------------------

    def _position_rows(self, c: AccountChanged) -> list:
        return self._positions_of(c.account, c.ts)

    def _positions_of(self, account: str, ts: int) -> list[dict]:
        eng = self.engine
        mode = "hedge_mode" if eng.hedge_mode(account) else "one_way_mode"
        rows = []
        for pv in eng._positions(eng.accounts[account], ts):  # uncharged, at the change
            m = eng.markets[pv.symbol]
            pd = decimals(m.price_tick)
            size = _sz(m, abs(pv.amount))
            notional = abs(pv.amount) * pv.mark_price * m.contract_size
            rows.append({
                "posId": str(zlib.crc32(f"{account}/{pv.symbol}/{pv.position_side}".encode())),
                "instId": symbol_id(m), "marginCoin": "USDT", "marginSize": _money(pv.initial_margin),
                "marginMode": "crossed", "holdSide": pv.side, "posMode": mode, "total": size, "available": size,
                "frozen": "0", "openPriceAvg": _f(pv.entry_price, pd + 2), "leverage": eng.leverage(account, pv.symbol),
                "achievedProfits": "0", "unrealizedPL": _money(pv.unrealized_pnl),
                "unrealizedPLR": _f(pv.unrealized_pnl / pv.initial_margin, 8) if pv.initial_margin else "0",
                "liquidationPrice": _f(pv.liquidation_price, pd) if pv.liquidation_price else "0",
                "keepMarginRate": f"{m.maint_margin_rate:g}",
                "marginRate": _f(pv.maint_margin / notional, 8) if notional else "0",
                "cTime": str(pv.update_time), "uTime": str(pv.update_time), "autoMargin": "off"})
        return rows

    def _account_row(self, account: str, ts: int) -> dict:
        eng = self.engine
        v = eng._view(eng.accounts[account], ts)  # uncharged, at the change
        return {"marginCoin": "USDT", "frozen": _money(v.open_order_margin), "available": _money(v.available),
                "maxOpenPosAvailable": _money(v.available), "maxTransferOut": _money(v.available),
                "equity": _money(v.equity), "usdtEquity": _money(v.equity), "crossedRiskRate": "0",
                "unrealizedPL": _money(v.unrealized_pnl)}

    def _order_row(self, c: OrderChanged) -> dict:
        row = self.rest.order(c.order)
        m = self.engine.markets[c.order.symbol]
        row["instId"] = row.pop("symbol")
        row["accBaseVolume"] = row.pop("baseVolume")
        row["feeDetail"] = [{"feeCoin": "USDT", "fee": row.pop("fee")}]
        row["notionalUsd"] = _money(c.order.quantity * (c.order.price or c.last_price))
        row["uTime"] = str(c.ts)
        if c.execution == "TRADE":
            row.update({"baseVolume": _sz(m, c.last_qty), "fillPrice": _px(m, c.last_price),
                        "tradeId": str(c.trade_id), "fillTime": str(c.ts), "fillFee": _money(-c.fee),
                        "fillFeeCoin": "USDT", "fillNotionalUsd": _money(c.last_qty * c.last_price),
                        "pnl": _money(c.realized), "tradeScope": "M" if c.maker else "T"})
        return row

    def _algo_row(self, c: AlgoChanged) -> dict:
        o = c.order
        row = self.rest.plan(o)
        row["instId"] = row.pop("symbol")
        row["planType"] = WS_PLAN_TYPES[row["planType"]]
        row["status"] = ALGO_STATUSES.get(o.status, "cancelled")
        row.pop("planStatus", None)
        row["actualSize"] = row["size"] if o.status == "TRIGGERED" else "0"
        row["triggerTime"] = str(c.ts) if o.status == "TRIGGERED" else row["cTime"]
        row["uTime"] = str(c.ts)
        return row


stream_face = BitgetStreamFace.for_server


__all__ = ["stream_face", "BitgetStreamFace", "CHANNELS", "UNKNOWN_CHANNEL", "WS_PLAN_TYPES", "bitget_pro_client",
           "ws_urls"]
