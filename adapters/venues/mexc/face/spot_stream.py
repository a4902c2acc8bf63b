"""The simulated exchange's MEXC spot websocket face: listen keys, the protobuf pushes, the mini tickers.

:class:`MexcSpotStreamFace` speaks MEXC's spot websocket (``wss://wbs-api.mexc.com/ws``) as
``ccxt.pro.mexc`` (4.5.90) opens it at ``urls['api']['ws']['spot']``. Its path is MEXC's own,
``/ws``, which a client rehosted onto the simulator keeps: the bare ``/ws`` is the Binance face's
(and Hyperliquid's, handed over), so this face adds no route — the Binance face hands it a socket
whose ``listenKey`` is one of this face's keys, or whose first request is MEXC spot's
(``SUBSCRIPTION``; Binance's is ``SUBSCRIBE``), as it hands Hyperliquid's.

listen keys  ``POST /api/v3/userDataStream`` (signed, on the spot REST face: :mod:`.spot`)
             → ``{"listenKey"}``, valid 60 minutes on the engine clock; ``PUT`` with
             ``listenKey`` extends it 60 minutes from then; ``DELETE`` ends it. A key that
             lapsed, was deleted or ended by a fault is gone: a ``PUT`` of it is refused.
sockets      ``/ws?listenKey=<key>`` (user data: the key's account) and ``/ws`` (public);
             ``{"method": "SUBSCRIPTION", "params": [<channel>, ...]}`` answered per channel
             ``{"id": 0, "code": 0, "msg": <channel>}``, ``UNSUBSCRIPTION`` alike; ``ping``/``PING``
             answered ``{"id": 0, "code": 0, "msg": "PONG"}``. A private channel on a socket
             without a live key is refused ``"Not Subscribed successfully! [<channel>]. Reason:
             Blocked!"`` (the simulator's words). A socket holds at most 30 subscriptions, as
             MEXC documents ("One ws connection supports a maximum of 30 subscriptions"): a 31st
             is refused, the socket's others kept. MEXC documents the cap, not its answer to a
             31st: the face answers in the shape MEXC refuses any subscription with, ``{"id": 0,
             "code": 0, "msg": "Not Subscribed successfully! [<channel>]. Reason: Blocked!"}``
             (its refusal of a retired channel, as clients quote it) — the cap's own words, if
             MEXC's differ, are not known here. A public channel in :attr:`~MexcSpotStreamFace.refuse`
             (a test's knob) is refused in the same words, as MEXC blocks one.
pushes       binary ``PushDataV3ApiWrapper`` frames (encoded with ``ccxt.protobuf.mexc``'s
             classes, as MEXC's documented examples write them): ``spot@private.orders.v3.api.pb``
             (``privateOrders``: ``id``, ``clientId``, ``orderType`` 1 LIMIT / 3
             IMMEDIATE_OR_CANCEL / 5 MARKET — the types the REST face places —, ``tradeType`` 1
             buy / 2 sell, ``status`` 1 new, 3 partially filled, 2 filled, 4 cancelled, 5
             partially cancelled), ``spot@private.account.v3.api.pb`` (``privateAccount``: an
             asset's ``balanceAmount`` free and ``frozenAmount`` locked, as ``GET
             /api/v3/account`` gives them) and ``spot@public.miniTicker.v3.api.pb@<SYMBOL>@<zone>``
             (``publicMiniTicker``: ``price``, the engine's mark, what ``ticker/price`` answers)
             and ``spot@public.miniTickers.v3.api.pb@<zone>`` (``publicMiniTickers``: one push of
             every pair's, ``items``, one subscription); ``spot@private.deals.v3.api.pb``
             (``privateDeals``, the wrapper's ``symbol`` the pair's: one of the account's fills a
             push, as MEXC's documented deal — ``price``, ``quantity``, ``amount``, ``tradeType``,
             ``tradeId`` the engine's trade number, which ``GET /api/v3/myTrades`` lists as its
             ``id``, ``orderId``, its order's ``clientOrderId``, ``feeAmount``, ``feeCurrency``,
             ``time`` the fill's —, each fill after the channel's subscription, pushed before the
             orders and account pushes of the same tick, as a fill is told first).
             The engine's spot desk tells no change (its orders and balances change inside its
             requests and timers), so the face reads each subscribed account's resting orders and
             balances, uncharged, every ``tick_s`` and pushes what changed since its last push to
             that socket, stamped with the engine clock (MEXC pushes at the change; the simulator,
             at most a tick later). A mark is pushed at once when set, then every
             ``mark_every_ms`` while it moves and every ``quiet_every_ms`` while not (MEXC's mini
             ticker: every 3 s); every pair's push at once on subscribing, at the next tick after
             a mark is set (the marks set meanwhile in one push) and every ``quiet_every_ms``
             (MEXC's: every 3 s, whatever moved).

Faults come from the engine's :class:`~adapters.simulated.faults.FaultPlan` through
:class:`~adapters.simulated.faces.push.PushFace` (endpoint ``stream:user`` for the private
pushes, ``stream:market`` for the mini tickers). ``listen_key_expired`` ends the socket's key:
it is told the text ``Invalid listen key`` (as ccxt reads MEXC's refusal of one) and gets no
more private pushes. A malformed frame ("fields") loses its body; ("event") its channel is one
nobody knows; ("json") is cut short behind bytes no protobuf reader takes.

What it owns: the spot listen keys, the sockets' subscriptions, what each was last told, and the
rendering of the spot desk's state as MEXC's pushes. What it must not do: keep exchange state or
call the engine's charged methods.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Optional

from aiohttp import web

from ....simulated.changes import Change, MarkSet
from ....simulated.engine import MarketSpec
from ....simulated.faces.channels import ChannelFace
from ....simulated.faces.push import _Socket, first_method
from ....simulated.stream import ListenKey, ListenKeyed, ListenKeyError, ListenKeys
from .spot import amount_text as _text

ORDERS = "spot@private.orders.v3.api.pb"
ACCOUNT = "spot@private.account.v3.api.pb"
DEALS = "spot@private.deals.v3.api.pb"
TICKER = "spot@public.miniTicker.v3.api.pb"
TICKERS = "spot@public.miniTickers.v3.api.pb"  # every pair's mini ticker, one subscription
ALLOWANCE = 30  # MEXC's subscriptions a socket
PRIVATE = frozenset((ORDERS, ACCOUNT, DEALS))
UNKNOWN_CHANNEL = "spot@private.sim-unknown.v3.api.pb"  # what a STREAM_MALFORMED "event" fault renames a channel to
INVALID_KEY = "Invalid listen key"
# the engine's order (type, time in force) → the websocket's orderType; its status → the push's
ORDER_TYPES = {("LIMIT", "GTC"): 1, ("LIMIT", "IOC"): 3, ("MARKET", "IOC"): 5}
STATUSES = {"NEW": 1, "PARTIALLY_FILLED": 3, "FILLED": 2}
BAD_BYTES = b"\xff\xff"  # a field of wire type 7: no protobuf reader takes a frame that starts with it


def wrapper(channel: str, ts: int, body: str, row: dict, symbol: Optional[str] = None) -> bytes:
    """One push: a ``PushDataV3ApiWrapper`` of ``channel``, its ``body`` (the oneof's field) ``row``."""
    from ccxt.protobuf.mexc import PushDataV3ApiWrapper_pb2

    w = PushDataV3ApiWrapper_pb2.PushDataV3ApiWrapper(channel=channel, sendTime=ts, createTime=ts)
    if symbol is not None:
        w.symbol = symbol
    getattr(w, body).CopyFrom(type(getattr(w, body))(**row))
    return bytes(w.SerializeToString())


class MexcSpotStreamFace(ListenKeyed, ChannelFace):
    """The MEXC spot websocket face over ``server``'s engine (see the module docstring)."""

    PATHS: dict[str, str] = {}  # (the bare /ws is the Binance face's: it hands this face its sockets)
    MARK_EVERY_MS, QUIET_EVERY_MS = 300, 3_000  # (an unmoved mini ticker: MEXC's 3 s)
    MARK_CHANNEL = TICKER

    def __init__(self, server: Any, **options: Any):
        super().__init__(server, **options)
        self.keys = ListenKeys(self.engine.seed)
        self.frames: list[tuple[Optional[str], bytes]] = []  # (account, frame) of every binary push sent
        self.refuse: set[str] = set()  # the public channels refused ("Reason: Blocked!"), as MEXC may

    def warm(self) -> None:
        """Load the protobuf classes the first push is written with (importing them imports ccxt:
        a second on the simulator's one loop, which a bench would time as the venue's answer)."""
        from ccxt.protobuf.mexc import PushDataV3ApiWrapper_pb2  # noqa: F401

    # --- listen keys (the spot REST face's userDataStream) ---------------------------------------------

    def listen_key(self, method: str, account: str, key: Optional[str]) -> dict:
        """``POST``/``PUT``/``DELETE /api/v3/userDataStream`` of ``account``; ListenKeyError for a
        ``PUT`` or ``DELETE`` of a key that is not the account's live one."""
        now = self.engine.now()
        if method == "POST":
            return {"listenKey": self.keys.issue(account, now).key}
        live = self.keys.live(account, now)
        if live is None or live.key != key:
            raise ListenKeyError(730001, "listenKey does not exist")  # (the simulator's words)
        if method == "PUT":
            return {"listenKey": self.keys.keepalive(account, now).key}
        self._expire(live)
        return {"listenKey": live.key}

    def _expire(self, k: ListenKey) -> None:
        k.expired = True
        for s in self.sockets:
            if s.key is k:
                self._end(s)

    def _end(self, s: _Socket) -> None:
        s.key = None
        s.streams -= PRIVATE
        s.queue.put_nowait((None, INVALID_KEY))

    # --- sockets (handed over by the Binance face at /ws) ----------------------------------------------

    def claims_key(self, key: str) -> bool:
        """Whether a /ws socket's ``listenKey`` is one of this face's (live or not: a lapsed one is
        refused here, as MEXC's)."""
        return key in self.keys.keys

    @staticmethod
    def claims(first: str) -> bool:
        """Whether a bare /ws socket whose first request is ``first`` speaks MEXC spot."""
        return first_method(first) in ("SUBSCRIPTION", "UNSUBSCRIPTION")

    async def serve(self, ws: web.WebSocketResponse, first: Optional[str] = None, key: Optional[str] = None) -> None:
        k = self.keys.keys.get(key) if key else None
        if key and (k is None or k.expired or k.expires_ms <= self.engine.now()):
            await ws.send_str(INVALID_KEY)
            await ws.close()
            return
        sock = _Socket(ws, k)
        sock.pushed.update({"path": "private" if k else "public", "args": {}, "marks": {}, "orders": {}, "assets": {},
                            "subscribed": set()})
        await self._serve(sock, first)

    def _answer(self, sock: _Socket, msg: str) -> None:
        self._say(sock, {"id": 0, "code": 0, "msg": msg})

    def _command(self, sock: _Socket, data: str) -> None:
        try:
            req = json.loads(data)
            method, params = req.get("method"), req.get("params")
        except (ValueError, AttributeError):
            return self._answer(sock, "Json Error")  # (the simulator's words)
        if str(method).upper() == "PING":
            return self._answer(sock, "PONG")
        if method not in ("SUBSCRIPTION", "UNSUBSCRIPTION") or not isinstance(params, list):
            return self._answer(sock, f"Not Subscribed successfully! [{str(method)[:40]}]. Reason: Illegal method")
        for channel in params:
            self._channel(sock, method == "SUBSCRIPTION", str(channel))

    def _refused(self, sock: _Socket, channel: str) -> None:
        self._answer(sock, f"Not Subscribed successfully! [{channel[:80]}]. Reason: Blocked!")

    def _channel(self, sock: _Socket, on: bool, channel: str) -> None:
        subscribed: set = sock.pushed["subscribed"]
        if on and channel not in subscribed and (len(subscribed) >= ALLOWANCE or channel in self.refuse):
            return self._refused(sock, channel)  # (MEXC's cap, or a channel blocked: see the module docstring)
        if self._opened(sock, on, channel):
            (subscribed.add if on else subscribed.discard)(channel)

    def _opened(self, sock: _Socket, on: bool, channel: str) -> bool:
        """A channel's (un)subscription answered: True where the face serves it."""
        if channel in PRIVATE:
            if sock.key is None:
                self._refused(sock, channel)
                return False
            if on:
                sock.streams.add(channel)
                self._baseline(sock, channel)
            else:
                sock.streams.discard(channel)
            self._answer(sock, channel)
            return True
        parts = channel.split("@")
        if len(parts) == 3 and "@".join(parts[:2]) == TICKERS:
            self._answer(sock, channel)
            sock.pushed["args"][TICKERS] = {"channel": channel}
            if on:
                sock.streams.add(TICKERS)
                self._every(sock, self.engine.now())
            else:
                sock.streams.discard(TICKERS)
                sock.pushed.pop("every", None)
            return True
        m = self.engine.markets.get(parts[2]) if len(parts) == 4 and "@".join(parts[:2]) == TICKER else None
        if m is None:
            self._refused(sock, channel)
            return False
        sock.pushed["args"][f"{TICKER}:{m.symbol}"] = {"channel": channel}
        self._answer(sock, channel)
        self._watch_mark(sock, m, on, self.engine.now())
        return True

    # --- pushes ---------------------------------------------------------------------------------------

    def _instrument(self, m: MarketSpec) -> str:
        return m.symbol

    def _on_change(self, c: Change) -> None:
        if isinstance(c, MarkSet):  # (the spot desk tells no other change: the pump reads it)
            self._mark_set(c)
            for s in self.sockets:
                if TICKERS in s.streams and "every" in s.pushed:
                    s.pushed["every"]["due"] = True  # (pushed at the next tick, with the others set meanwhile)

    def _every(self, s: _Socket, ts: int) -> None:
        """Every pair's mini ticker in one push to ``s`` (``publicMiniTickers``), noted for the
        cadence: the pairs it named (what a bench counts as watched) and when."""
        eng = self.engine
        items = []
        for symbol in eng.markets:
            if symbol in eng.paths:
                px = _text(eng.mark(symbol, ts))
                items.append({"symbol": symbol, "price": px, "rate": "0", "zonedRate": "0", "high": px, "low": px,
                              "volume": "0", "quantity": "0"})
        s.pushed["every"] = {"at": asyncio.get_event_loop().time(), "ts": ts, "due": False,
                             "pairs": frozenset(i["symbol"] for i in items)}
        channel = s.pushed["args"].get(TICKERS, {}).get("channel") or f"{TICKERS}@UTC+8"
        s.queue.put_nowait(("market", wrapper(channel, ts, "publicMiniTickers", {"items": items})))

    def _mark(self, s: _Socket, symbol: str, ts: int, price: Optional[float] = None) -> None:
        eng = self.engine
        if symbol not in eng.paths:
            return
        px = eng.mark(symbol, ts) if price is None else price
        s.pushed["marks"][symbol] = (asyncio.get_event_loop().time(), px, ts)
        arg = s.pushed["args"].get(f"{TICKER}:{symbol}") or {"channel": f"{TICKER}@{symbol}@UTC+8"}
        row = {"symbol": symbol, "price": _text(px), "rate": "0", "zonedRate": "0", "high": _text(px),
               "low": _text(px), "volume": "0", "quantity": "0"}
        s.queue.put_nowait(("market", wrapper(arg["channel"], ts, "publicMiniTicker", row, symbol)))

    def _pump_round(self, now: int, t: float) -> None:
        for k in self.keys.due(now):
            for s in self.sockets:
                if s.key is k:
                    self._end(s)
        for s in list(self.sockets):
            if s.key is not None and s.streams & PRIVATE:
                self._changes(s, now)
            every = s.pushed.get("every")
            if every is not None and (every["due"] or (now > every["ts"] and
                                                       t - every["at"] >= self.quiet_every_ms / 1000)):
                self._every(s, now)
        super()._pump_round(now, t)

    def _state(self, account: str) -> tuple[dict[str, Any], dict[str, tuple[float, float]]]:
        """The account's resting spot orders (id → order, ended ones included until pruned) and
        its assets (free, locked), read uncharged."""
        a = self.engine.accounts[account]
        locked = self.engine.spot_locked(account)  # (no weight, no timers)
        assets = {x: (max(0.0, q - locked.get(x, 0.0)), locked.get(x, 0.0)) for x, q in a.spot.items()}
        return dict(a.spot_live), assets

    def _baseline(self, s: _Socket, channel: str) -> None:
        """What the socket is taken to know when it subscribes ``channel``: that channel's state
        now (MEXC pushes changes), the others' left as told — the orders, the assets, or every
        fill so far (the engine's events)."""
        if channel == DEALS:
            s.pushed["deals"] = len(self.engine.events)
            return
        orders, assets = self._state(str(s.account))
        if channel == ORDERS:
            s.pushed["orders"] = {oid: (o.status, o.executed_qty) for oid, o in orders.items() if o.is_open}
        else:
            s.pushed["assets"] = assets

    def _changes(self, s: _Socket, now: int) -> None:
        account = str(s.account)
        orders, assets = self._state(account)
        told: dict = s.pushed["orders"]
        if DEALS in s.streams:
            self._deals(s, account, now)
        if ORDERS in s.streams:
            registry = self.engine.accounts[account].orders
            for oid in sorted(set(orders) | set(told)):
                o = orders.get(oid) or registry.get(oid)
                if o is None:
                    continue
                state = (o.status, o.executed_qty)
                if told.get(oid) == state or (oid not in told and not o.is_open):
                    continue
                if o.is_open:
                    told[oid] = state
                else:
                    told.pop(oid, None)
                s.queue.put_nowait(("user", wrapper(ORDERS, now, "privateOrders", self._order_row(o), o.symbol)))
        if ACCOUNT in s.streams:
            before: dict = s.pushed["assets"]
            for asset in sorted(set(assets) | set(before)):
                free, locked = assets.get(asset, (0.0, 0.0))
                was = before.get(asset, (0.0, 0.0))
                if (free, locked) == was:
                    continue
                row = {"vcoinName": asset, "coinId": asset.lower(), "balanceAmount": _text(free),
                       "balanceAmountChange": _text(free - was[0]), "frozenAmount": _text(locked),
                       "frozenAmountChange": _text(locked - was[1]), "type": "ENTRUST", "time": now}
                s.queue.put_nowait(("user", wrapper(ACCOUNT, now, "privateAccount", row)))
            s.pushed["assets"] = assets

    def _deals(self, s: _Socket, account: str, now: int) -> None:
        """A deals push for each of the account's fills since the socket's last (the engine's
        ``spot_fill`` events, read uncharged; ``tradeId`` the number ``myTrades`` gives it)."""
        events, start = self.engine.events, int(s.pushed.get("deals", len(self.engine.events)))
        s.pushed["deals"] = len(events)
        registry = self.engine.accounts[account].orders
        for n, e in enumerate(events[start:], start + 1):
            if e.get("event") != "spot_fill" or e.get("account") != account:
                continue
            o, m = registry.get(e["order"]), self.engine.markets[e["symbol"]]
            row = {"price": _text(e["price"]), "quantity": _text(e["qty"]), "amount": _text(e["qty"] * e["price"]),
                   "tradeType": 1 if e["side"] == "BUY" else 2, "isMaker": False, "tradeId": str(n),
                   "clientOrderId": (o.client_order_id if o is not None else None) or "", "orderId": str(e["order"]),
                   "feeAmount": _text(e["fee"]), "feeCurrency": m.quote, "time": e["ts"]}
            s.queue.put_nowait(("user", wrapper(DEALS, now, "privateDeals", row, e["symbol"])))

    @staticmethod
    def _order_row(o: Any) -> dict:
        done = o.executed_qty
        status = STATUSES.get(o.status, 5 if done > 0 else 4)
        return {"id": str(o.order_id), "clientId": o.client_order_id or "", "price": _text(o.price),
                "quantity": _text(o.quantity), "amount": _text(o.price * o.quantity),
                "avgPrice": _text(o.cum_quote / done if done else 0.0), "orderType": ORDER_TYPES.get(
                    (o.type, o.time_in_force), 5), "tradeType": 1 if o.side == "BUY" else 2,
                "remainAmount": _text(o.price * max(o.quantity - done, 0.0)),
                "remainQuantity": _text(max(o.quantity - done, 0.0)), "cumulativeQuantity": _text(done),
                "cumulativeAmount": _text(o.cum_quote), "status": status, "createTime": o.time}

    # --- the frames on the wire -------------------------------------------------------------------------

    def _malformed(self, text: Any, how: str) -> Any:
        """A binary push broken the way a STREAM_MALFORMED fault asks (see the module docstring)."""
        if not isinstance(text, bytes):
            return super()._malformed(text, how)
        from ccxt.protobuf.mexc import PushDataV3ApiWrapper_pb2

        if how not in ("fields", "event"):
            return BAD_BYTES + text[: max(1, len(text) // 2)]
        w = PushDataV3ApiWrapper_pb2.PushDataV3ApiWrapper()
        w.ParseFromString(text)
        if how == "fields":
            body = w.WhichOneof("body")
            if body is not None:
                w.ClearField(body)
        else:
            w.channel = UNKNOWN_CHANNEL
        return bytes(w.SerializeToString())

    async def _send(self, s: _Socket, text: Any) -> None:
        if not isinstance(text, bytes):
            return await super()._send(s, text)
        try:
            await s.ws.send_bytes(text)
        except (ConnectionError, RuntimeError):
            return
        self.frames.append((s.account, text))


spot_face = MexcSpotStreamFace.at_shared_ws  # the spot websocket face, handed its sockets at the bare /ws


__all__ = ["ACCOUNT", "ALLOWANCE", "DEALS", "INVALID_KEY", "MexcSpotStreamFace", "ORDERS", "TICKER", "TICKERS",
           "UNKNOWN_CHANNEL", "spot_face", "wrapper"]
