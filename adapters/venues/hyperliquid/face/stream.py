"""The simulated exchange's Hyperliquid websocket face: ``/ws``, subscriptions and posts.

:class:`HyperliquidStreamFace` lives on the :class:`adapters.simulated.http.SimServer`'s aiohttp
app and port and speaks Hyperliquid's documented websocket protocol
(https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/websocket), as
``ccxt.pro.hyperliquid`` (4.5.90) opens it at ``urls['api']['ws']['public']``. Its path is
the venue's ``/ws``, which Binance's face serves too: a socket there is this face's when its
first request is one of Hyperliquid's (lowercase ``method``, :meth:`HyperliquidStreamFace.claims`).

requests   ``{"method": "subscribe" | "unsubscribe", "subscription": {"type": ...}}``, answered
           ``{"channel": "subscriptionResponse", "data": {"method", "subscription"}}``; a
           subscription already held, an unknown type, a bad ``user`` address or an unknown
           ``coin`` is ``{"channel": "error", "data": "..."}`` in the venue's words.
           ``{"method": "ping"}`` → ``{"channel": "pong"}``. ``{"method": "post", "id": n,
           "request": {"type": "info" | "action", "payload": ...}}`` runs the REST face's read
           or signed action (its weight and faults included) and answers ``{"channel": "post",
           "data": {"id": n, "response": {"type": "info" | "action" | "error", "payload"}}}``.
channels   ``clearinghouseState`` (``user``; ``dex`` "" only): the account's state as the REST
           read renders it (:mod:`.rows`), at subscription and at each tick of the
           face (a "block", ``tick_s``) in which the account changed — a fill, a set mark of a
           coin it holds — and every ``state_every_ms`` while subscribed (the venue revalues
           positions every block; the simulator does not render a book at each price path
           step). ``orderUpdates`` (``user``): each regular or trigger order's change, sent
           at the end of the block with its last status there (an IOC that filled at once is
           ``filled``, never ``open`` first), one frame an account a block, the
           documented row ``{"order": {coin, side, limitPx, sz, oid, timestamp, origSz, cloid?},
           "status", "statusTimestamp"}`` (no order type, trigger price or reduce-only flag:
           the venue documents none), statuses as ``orderStatus`` says them (``open``,
           ``filled``, ``canceled``, ``triggered``, ``reduceOnlyCanceled``, ...).
           ``userFills`` (``user``): ``{"isSnapshot": true, "user", "fills": []}`` at
           subscription, then the block's fills. ``activeAssetCtx`` (``coin``) every
           ``ctx_every_ms`` and at once on a set mark; ``allMids`` every ``ctx_every_ms``.

Faults come from the engine's :class:`~adapters.simulated.faults.FaultPlan` through
:class:`~adapters.simulated.faces.push.PushFace` (endpoint ``stream:user`` for the user channels,
``stream:market`` for ``activeAssetCtx`` and ``allMids``).
Hyperliquid's websocket authorizes nothing (a user's channels are named by address), so nothing
expires: ``listen_key_expired`` does nothing here. A malformed frame ("fields") loses its
``data``; ("event") its channel is one nobody knows.

What it owns: the sockets' subscriptions and the rendering of changes as Hyperliquid's frames.
What it must not do: keep exchange state or call the engine's charged methods for a push (a
push costs no request): the state is read uncharged, at the tick.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Optional

from aiohttp import web

from ....simulated.changes import AccountChanged, AlgoChanged, Change, MarkSet, OrderChanged
from ....simulated.faces.push import PushFace, _Socket, dumps, first_method
from . import _Face
from .identity import ADDRESS_RE
from .keys import addresses, warm as warm_signatures
from .params import _Err, universe
from .rows import ALGO_STATUS, account_fields, cloid, dec, empty_clearinghouse, order_status, position_row, usd

USER_CHANNELS = ("clearinghouseState", "orderUpdates", "userFills")
UNKNOWN_CHANNEL = "sim.unknown"  # what a STREAM_MALFORMED "event" fault renames a channel to
METHODS = ("subscribe", "unsubscribe", "ping", "post")


class HyperliquidStreamFace(PushFace):
    """The Hyperliquid websocket face over ``server``'s engine (see the module docstring)."""

    EVENT_AT = ("channel",)
    EVENT_UNKNOWN = UNKNOWN_CHANNEL

    def __init__(self, server: Any, *, tick_s: float = 0.05, state_every_ms: int = 1000, ctx_every_ms: int = 1000):
        super().__init__(server, tick_s=tick_s)
        self.state_every_ms = state_every_ms
        self.ctx_every_ms = ctx_every_ms
        self._dirty: set[str] = set()  # accounts whose state changed since the last block
        # the block's order updates (account → oid → its last row) and fills (account → fills)
        self._orders: dict[str, dict[int, dict]] = {}
        self._fills: dict[str, list[dict]] = {}
        self._coins: dict[str, str] = {}  # engine symbol → coin
        # account → symbol → (what its row was rendered from, the row's JSON): a block renders
        # again only the rows whose position changed (a set mark of one coin: one row)
        self._rows: dict[str, dict[str, tuple[tuple, str]]] = {}

    def warm(self) -> None:
        """The signature check's one-time loads (:func:`.keys.warm`), which the REST face's
        first action would otherwise pay."""
        warm_signatures()

    # --- sockets (handed over by the Binance face at /ws) -------------------------------------------------

    @staticmethod
    def claims(first: str) -> bool:
        """Whether a /ws socket whose first request is ``first`` speaks Hyperliquid."""
        return first_method(first) in METHODS

    async def serve(self, ws: web.WebSocketResponse, first: str) -> None:
        sock = _Socket(ws, None)
        sock.pushed["subs"] = {}  # canonical subscription → its object
        await self._serve(sock, first)

    def _error(self, sock: _Socket, text: str) -> None:
        self._say(sock, {"channel": "error", "data": text})

    def _command(self, sock: _Socket, data: str) -> None:
        try:
            req = json.loads(data)
            method = req.get("method")
        except (ValueError, AttributeError):
            self._error(sock, f"Error parsing JSON into valid websocket request: {data[:200]}")
            return
        if method == "ping":
            self._say(sock, {"channel": "pong"})
        elif method in ("subscribe", "unsubscribe"):
            self._subscription(sock, method, req.get("subscription"))
        elif method == "post":
            self._post(sock, req)
        else:
            self._error(sock, f"Error parsing JSON into valid websocket request: {data[:200]}")

    def _subscription(self, sock: _Socket, method: str, sub: Any) -> None:
        problem = self._invalid(sub)
        if problem is not None:
            self._error(sock, f"Invalid subscription {dumps(sub)[:200]}: {problem}")
            return
        key = dumps({k: (v.lower() if k == "user" else v) for k, v in sorted(sub.items())})
        subs = sock.pushed["subs"]
        if method == "subscribe" and key in subs:
            self._error(sock, f"Already subscribed: {dumps(sub)}")
            return
        if method == "unsubscribe" and key not in subs:
            self._error(sock, f"Already unsubscribed: {dumps(sub)}")
            return
        self._say(sock, {"channel": "subscriptionResponse", "data": {"method": method, "subscription": sub}})
        if method == "unsubscribe":
            del subs[key]
            return
        subs[key] = sub
        account = self._account(sub)
        if account is not None:
            sock.owner = account  # the account the stream faults match on
        kind, now = sub["type"], self.engine.now()
        if kind == "clearinghouseState":
            self._push_state(sock, sub, now)
        elif kind == "userFills":
            self._push(sock, "user", "userFills", {"isSnapshot": True, "user": sub["user"], "fills": []})
        elif kind == "activeAssetCtx":
            self._push_ctx(sock, sub["coin"], now)
        elif kind == "allMids":
            self._push_mids(sock, now)

    def _invalid(self, sub: Any) -> Optional[str]:
        if not isinstance(sub, dict) or not isinstance(sub.get("type"), str):
            return "missing field `type`"
        kind = sub["type"]
        if kind in USER_CHANNELS:
            if not isinstance(sub.get("user"), str) or not ADDRESS_RE.match(sub["user"]):
                return "user: invalid address"
            if kind == "clearinghouseState" and sub.get("dex", "") != "":
                return f"unknown dex {sub.get('dex')!r}"
            return None
        if kind == "activeAssetCtx":
            return None if sub.get("coin") in self.coins().values() else f"unknown coin {sub.get('coin')!r}"
        if kind == "allMids":
            return None
        return f"unknown variant `{kind}`"

    def _account(self, sub: dict) -> Optional[str]:
        user = sub.get("user")
        return addresses(self.engine).get(user.lower()) if isinstance(user, str) else None

    def _post(self, sock: _Socket, req: dict) -> None:
        """A read or an action over the socket: the REST face's, answered in the post envelope."""
        rid, request = req.get("id"), req.get("request")
        if not isinstance(request, dict) or request.get("type") not in ("info", "action"):
            self._say(sock, {"channel": "post", "data": {"id": rid, "response": {
                "type": "error", "payload": "Failed to deserialize the JSON body into the target type"}}})
            return
        face, payload, kind = _Face(self.server), request.get("payload"), request["type"]
        try:
            if not isinstance(payload, dict):
                raise _Err(422, "Failed to deserialize the JSON body into the target type")
            if kind == "info":
                account = face.user(payload) if "user" in payload else None
                out: Any = {"type": payload.get("type"),
                            "data": face.info(str(payload.get("type")), payload, account, None)}
            else:
                account, refusal = face.signed(payload)
                if refusal is not None:
                    raise refusal
                assert account is not None
                face.fresh_nonce(account, int(payload["nonce"]))
                out = face.act(account, payload.get("action") or {}, payload, False)
        except _Err as e:
            kind, out = ("action", e.body) if isinstance(e.body, dict) else ("error", e.body)
        self._say(sock, {"channel": "post", "data": {"id": rid, "response": {"type": kind, "payload": out}}})

    # --- events -----------------------------------------------------------------------------------------

    def coins(self) -> dict[str, str]:
        if not self._coins:
            self._coins = {m.symbol: m.base for m in universe(self.engine)}
        return self._coins

    def _users(self, account: str, channel: str) -> list[tuple[_Socket, dict]]:
        out = []
        for s in self.sockets:
            for sub in s.pushed["subs"].values():
                if sub["type"] == channel and self._account(sub) == account:
                    out.append((s, sub))
        return out

    def _on_change(self, c: Change) -> None:
        if isinstance(c, MarkSet):
            coin = self.coins().get(c.symbol)
            for s in self.sockets:
                if coin is not None and any(sub["type"] == "activeAssetCtx" and sub["coin"] == coin
                                            for sub in s.pushed["subs"].values()):
                    self._push_ctx(s, coin, c.ts, c.price)
            for name, a in self.engine.accounts.items():
                if any(sym == c.symbol and leg.amount for (sym, _), leg in a.legs.items()):
                    self._dirty.add(name)  # its positions' values moved: the next block pushes its state
            return
        if isinstance(c, AccountChanged):
            self._dirty.add(c.account)
            return
        if not isinstance(c, (OrderChanged, AlgoChanged)) or c.order.symbol not in self.coins():  # (no spot desk)
            return
        row = self._order_update(c)  # sent at the block's end: its last status (an IOC filled at once: filled)
        self._orders.setdefault(c.account, {})[row["order"]["oid"]] = row
        if isinstance(c, OrderChanged) and c.execution == "TRADE":
            self._fills.setdefault(c.account, []).append(self._fill(c))

    def _flush_block(self) -> None:
        """The block's order updates and fills, each account's in one frame a channel."""
        orders, self._orders = self._orders, {}
        fills, self._fills = self._fills, {}
        for account, rows in orders.items():
            for s, _ in self._users(account, "orderUpdates"):
                self._push(s, "user", "orderUpdates", list(rows.values()))
        for account, done in fills.items():
            for s, sub in self._users(account, "userFills"):
                self._push(s, "user", "userFills", {"user": sub["user"], "fills": done})

    def _order_update(self, c: OrderChanged | AlgoChanged) -> dict:
        """The documented ``orderUpdates`` row of a regular or a trigger order's change."""
        eng = self.engine
        o: Any = c.order
        m = eng.markets[o.symbol]
        ad = m.amount_decimals
        if isinstance(c, AlgoChanged):
            from ....simulated.conditional import LIMIT_TYPES

            price, size, oid, at = (o.price if o.order_type in LIMIT_TYPES else o.trigger_price), o.quantity, \
                o.algo_id, o.create_time
            status, cid = ALGO_STATUS.get(o.status, "canceled"), cloid(o.client_algo_id)
        else:
            price, size, oid, at = o.price, o.remaining if o.is_open else 0.0, o.order_id, o.time
            status, cid = order_status(o), cloid(o.client_order_id)
        order = {"coin": m.base, "side": "B" if o.side == "BUY" else "A", "limitPx": dec(price, m.price_decimals),
                 "sz": dec(size, ad), "oid": oid, "timestamp": at, "origSz": dec(o.quantity, ad)}
        if cid is not None:
            order["cloid"] = cid
        return {"order": order, "status": status, "statusTimestamp": c.ts}

    def _fill(self, c: OrderChanged) -> dict:
        eng, o = self.engine, c.order
        m = eng.markets[o.symbol]
        leg = eng.accounts[c.account].legs.get((o.symbol, o.position_side))
        after = leg.amount if leg is not None else 0.0
        signed = c.last_qty if o.side == "BUY" else -c.last_qty
        start = after - signed
        opening = start == 0 or (start > 0) == (signed > 0)
        side = "Long" if (start > 0 if not opening else signed > 0) else "Short"
        return {"coin": m.base, "px": dec(c.last_price, m.price_decimals), "sz": dec(c.last_qty, m.amount_decimals),
                "side": "B" if o.side == "BUY" else "A", "time": c.ts, "startPosition": dec(start, m.amount_decimals),
                "dir": f"{'Open' if opening else 'Close'} {side}", "closedPnl": usd(c.realized),
                "hash": "0x" + "0" * 64, "oid": o.order_id, "crossed": not c.maker, "fee": usd(c.fee),
                "tid": c.trade_id, "feeToken": "USDC"}

    def _push(self, s: _Socket, kind: str, channel: str, data: Any) -> None:
        s.queue.put_nowait((kind, dumps({"channel": channel, "data": data})))

    def _push_state(self, s: _Socket, sub: dict, now: int, text: Optional[str] = None) -> None:
        """``sub``'s account state to ``s`` (``text``: its frame, rendered once for the block)."""
        s.pushed["state"] = asyncio.get_event_loop().time()
        s.queue.put_nowait(("user", text if text is not None else self._state_text(sub, now)))

    def _state_text(self, sub: dict, now: int) -> str:
        """The ``clearinghouseState`` frame of ``sub``'s user at ``now``, read uncharged."""
        eng = self.engine
        account = self._account(sub)
        head = '{"channel":"clearinghouseState","data":{"dex":"","user":%s,"clearinghouseState":' % dumps(sub["user"])
        if account is None:
            return head + dumps(empty_clearinghouse(now)) + "}}"
        a = eng.accounts[account]
        coins, cache = self.coins(), self._rows.setdefault(account, {})
        parts, ntl = [], 0.0
        for p in eng._positions(a, now):
            if p.symbol not in coins:
                continue
            ntl += abs(p.notional)
            key = (p.amount, p.entry_price, p.notional, p.unrealized_pnl, p.initial_margin, p.liquidation_price,
                   p.leverage)
            held = cache.get(p.symbol)
            if held is None or held[0] != key:
                held = cache[p.symbol] = (key, dumps(position_row(eng, p)))
            parts.append(held[1])
        rest = dumps(account_fields(eng._view(a, now), ntl, now))
        return head + '{"assetPositions":[' + ",".join(parts) + "]," + rest[1:] + "}}"

    def _push_ctx(self, s: _Socket, coin: str, now: int, price: Optional[float] = None) -> None:
        eng = self.engine
        symbol = next((sym for sym, c in self.coins().items() if c == coin), None)
        if symbol is None or symbol not in eng.paths:
            return
        pd = eng.markets[symbol].price_decimals
        mark = dec(eng.mark(symbol, now) if price is None else price, pd)
        ctx = {"dayNtlVlm": "0.0", "prevDayPx": dec(eng.mark(symbol, now - 86_400_000), pd), "markPx": mark,
               "midPx": mark, "oraclePx": mark, "funding": "0.0000125", "openInterest": "0.0", "premium": "0.0",
               "impactPxs": [mark, mark]}
        s.pushed["ctx:" + coin] = asyncio.get_event_loop().time()
        self._push(s, "market", "activeAssetCtx", {"coin": coin, "ctx": ctx})

    def _push_mids(self, s: _Socket, now: int) -> None:
        eng = self.engine
        mids = {coin: dec(eng.mark(sym, now), eng.markets[sym].price_decimals) for sym, coin in self.coins().items()
                if sym in eng.paths}
        s.pushed["mids"] = asyncio.get_event_loop().time()
        self._push(s, "market", "allMids", {"mids": mids})

    def _pump_round(self, now: int, t: float) -> None:
        self._flush_block()
        dirty, self._dirty = self._dirty, set()
        texts: dict[str, str] = {}  # a user's state, rendered once this block
        for s in list(self.sockets):
            for sub in list(s.pushed["subs"].values()):
                kind = sub["type"]
                if kind == "clearinghouseState" and (self._account(sub) in dirty or
                                                     t - s.pushed.get("state", 0.0) >= self.state_every_ms / 1000):
                    user = sub["user"].lower()
                    if user not in texts:
                        texts[user] = self._state_text(sub, now)
                    self._push_state(s, sub, now, texts[user])
                elif kind == "activeAssetCtx" and t - s.pushed.get("ctx:" + sub["coin"], 0.0) >= \
                        self.ctx_every_ms / 1000:
                    self._push_ctx(s, sub["coin"], now)
                elif kind == "allMids" and t - s.pushed.get("mids", 0.0) >= self.ctx_every_ms / 1000:
                    self._push_mids(s, now)


stream_face = HyperliquidStreamFace.at_shared_ws


__all__ = ["HyperliquidStreamFace", "UNKNOWN_CHANNEL", "USER_CHANNELS", "stream_face"]
