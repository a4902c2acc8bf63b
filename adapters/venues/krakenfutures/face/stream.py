"""The simulated exchange's Kraken Futures websocket face: the challenge, the private feeds, the tickers.

:class:`KrakenFuturesStreamFace` lives on the :class:`adapters.simulated.http.SimServer`'s aiohttp
app and port, beside the REST faces, and speaks Kraken Futures' websocket API v1 as
``ccxt.pro.krakenfutures`` (4.5.90) opens it at ``urls['api']['ws']`` (``<base>/ws/v1``, one
socket for the public and the private feeds):

challenge  ``{"event": "challenge", "api_key"}`` answered ``{"event": "challenge", "message":
           <uuid>}``; the client signs it: base64(HMAC-SHA512(base64-decoded secret,
           SHA-256(challenge))). An unknown key is answered ``{"event": "error", "message":
           "Invalid API key"}``.
subscribe  ``{"event": "subscribe", "feed", "api_key", "original_challenge",
           "signed_challenge"}`` of a private feed (``open_orders``, ``open_positions``,
           ``balances``, ``fills``): a challenge this socket was given, signed with the key's
           secret, answered ``{"event": "subscribed", "feed", ...}`` and followed by the feed's
           snapshot; a challenge not given or not signed so is the venue's alert
           ``{"event": "alert", "message": "Failed to subscribe to authenticated feed"}``.
           ``{"event": "subscribe", "feed": "ticker", "product_ids": [...]}`` (public) is
           answered ``subscribed`` and each product's ticker pushed at once. Another feed, or a
           product not listed, is the alert ``"Invalid product id"`` / ``"Invalid feed"``.
pushes     as Kraken documents them (https://docs.kraken.com/exchange/api-reference/futures-websocket):
           ``open_orders_snapshot`` (``orders``: the open orders, regular and trigger) then
           ``open_orders`` deltas (``order`` the order's row, ``is_cancel`` whether it left
           the book, ``reason``: ``new_placed_order_by_user``, ``partial_fill``, ``full_fill``,
           ``cancelled_by_user``, ``stop_order_triggered``, ...); ``open_positions`` (every
           open position each push: ``instrument``, ``balance`` signed, ``entry_price``,
           ``mark_price``, ``pnl``; ``seq``, ``timestamp``); ``balances_snapshot`` then
           ``balances`` (the multi-collateral ``flex_futures``: ``portfolio_value``,
           ``balance_value``, ``total_unrealized``, ...); ``fills_snapshot`` (none kept: the
           simulator's history starts at the subscription) then ``fills`` (each trade's
           ``fill_id``, ``order_id``, ``price``, ``qty``, ``buy``); ``ticker`` (``product_id``,
           ``markPrice``, ``time``) at a set mark, then every ``mark_every_ms`` while it moves
           and every ``quiet_every_ms`` while not (the simulator's cadence: Kraken's ticker
           follows its market).
ping       ``{"event": "ping"}`` answered ``{"event": "pong"}``.

Faults come from the engine's :class:`~adapters.simulated.faults.FaultPlan` through
:class:`~adapters.simulated.faces.push.PushFace` (endpoint ``stream:user`` for the private feeds,
``stream:market`` for the tickers). ``listen_key_expired`` ends a socket's authorization: it is
told the alert ``Failed to subscribe to authenticated feed`` (Kraken documents no expiry of a
signed challenge: this is the simulator's rendering of one the venue dropped) and gets no more
private pushes. A malformed frame ("fields") loses its payload (:data:`PAYLOADS`); ("event")
its ``feed`` is one nobody knows.

What it owns: the sockets' challenges and subscriptions and the rendering of changes as Kraken's
pushes. What it must not do: keep exchange state or call the engine's charged methods (a stream
costs no request): the account and its positions are read uncharged, at the change.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any, Optional

from ....simulated.changes import AccountChanged, AlgoChanged, Change, MarkSet, OrderChanged
from ....simulated.conditional import SimAlgoOrder
from ....simulated.engine import MarketSpec, SimOrder
from ....simulated.faces.channels import ChannelFace
from ....simulated.faces.push import _Socket, dumps
from ....simulated.faces.shared import b64_secret, ccxt_client, rehosted, strict_client
from .wire import market_id, order_uuid, trigger_uuid

PATH = "/ws/v1"
PRIVATE_FEEDS = ("open_orders", "open_positions", "balances", "fills")
MARK_FEED = "ticker"
UNKNOWN_FEED = "sim-unknown"  # what a STREAM_MALFORMED "event" fault renames a feed to
# what a "fields" fault drops of a frame
PAYLOADS = ("orders", "order", "order_id", "positions", "holding", "futures", "flex_futures", "fills")
AUTH_FAILED = "Failed to subscribe to authenticated feed"
# the engine's conditional types → the open_orders feed's ``type``
WS_TYPES = {"STOP_MARKET": "stop", "STOP": "stop", "TAKE_PROFIT_MARKET": "take_profit", "TAKE_PROFIT": "take_profit",
            "TRAILING_STOP_MARKET": "trailing_stop"}
# why an order left the book, as the feed's ``reason`` says it
ENDED = {"FILLED": "full_fill", "CANCELED": "cancelled_by_user", "EXPIRED": "cancelled_by_user",
         "TRIGGERED": "stop_order_triggered", "REJECTED": "cancelled_by_user"}


def signed(secret: str, challenge: str) -> str:
    """Kraken's ``signed_challenge``: base64(HMAC-SHA512(``secret`` (the raw secret: what Kraken
    hands base64-encoded, decoded), SHA-256(challenge)))."""
    digest = hashlib.sha256(challenge.encode()).digest()
    return base64.b64encode(hmac.new(secret.encode(), digest, hashlib.sha512).digest()).decode()


class KrakenFuturesStreamFace(ChannelFace):
    """The Kraken Futures websocket face over ``server``'s engine (see the module docstring)."""

    PATHS = {PATH: "private"}
    MARK_EVERY_MS, QUIET_EVERY_MS = 300, 1_000
    MARK_CHANNEL = MARK_FEED
    EVENT_AT = ("feed",)
    EVENT_UNKNOWN = UNKNOWN_FEED
    LOGGED_OUT = (AUTH_FAILED,)

    # --- requests ---------------------------------------------------------------------------------------

    def _error(self, sock: _Socket, message: str, event: str = "alert") -> None:
        self._say(sock, {"event": event, "message": message})

    def _command(self, sock: _Socket, data: str) -> None:
        try:
            req = json.loads(data)
            event = req.get("event")
        except (ValueError, AttributeError):
            return self._error(sock, "Json Error")
        if event == "ping":
            self._say(sock, {"event": "pong"})
        elif event == "challenge":
            self._challenge(sock, req)
        elif event in ("subscribe", "unsubscribe"):
            feed = req.get("feed")
            if feed == MARK_FEED:
                self._tickers(sock, event, req)
            elif feed in PRIVATE_FEEDS:
                self._private(sock, event, req)
            else:
                self._error(sock, "Invalid feed")
        else:
            self._error(sock, "Unknown event")

    def _challenge(self, sock: _Socket, req: dict) -> None:
        key = str(req.get("api_key") or "")
        account = self.engine.account_for_key(key) if key else None
        if account is None:
            return self._error(sock, "Invalid API key", "error")
        challenge = str(uuid.uuid4())
        sock.pushed.setdefault("challenges", {})[challenge] = key
        self._say(sock, {"event": "challenge", "message": challenge})

    def _private(self, sock: _Socket, event: str, req: dict) -> None:
        feed, key, challenge = str(req["feed"]), str(req.get("api_key") or ""), str(req.get("original_challenge") or "")
        account = self.engine.account_for_key(key) if key else None
        if account is None or sock.pushed.get("challenges", {}).get(challenge) != key or not hmac.compare_digest(
                signed(self.engine.key_secret(key, account), challenge), str(req.get("signed_challenge") or "")):
            return self._error(sock, AUTH_FAILED)
        answer = {"event": "subscribed" if event == "subscribe" else "unsubscribed", "feed": feed, "api_key": key,
                  "original_challenge": challenge, "signed_challenge": req.get("signed_challenge")}
        self._say(sock, answer)
        if event == "unsubscribe":
            sock.streams.discard(feed)
            return
        sock.owner = account
        sock.streams.add(feed)
        now = self.engine.now()
        self._push(sock, self._snapshot(account, feed, now))

    def _tickers(self, sock: _Socket, event: str, req: dict) -> None:
        ids = req.get("product_ids")
        markets = {market_id(m): m for m in self.engine.markets.values()}
        if not isinstance(ids, list) or not ids or any(str(i).upper() not in markets for i in ids):
            return self._error(sock, "Invalid product id")
        self._say(sock, {"event": "subscribed" if event == "subscribe" else "unsubscribed", "feed": MARK_FEED,
                         "product_ids": ids})
        now = self.engine.now()
        for i in ids:
            self._watch_mark(sock, markets[str(i).upper()], event == "subscribe", now)

    # --- pushes -----------------------------------------------------------------------------------------

    def _push(self, s: _Socket, body: dict) -> None:
        s.queue.put_nowait(("user", dumps(body)))

    def _instrument(self, m: MarketSpec) -> str:
        return market_id(m)

    def _mark_frame(self, m: MarketSpec, px: float, ts: int, arg: Optional[dict]) -> dict:
        return {"time": ts, "product_id": market_id(m), "feed": MARK_FEED, "bid": px, "ask": px, "bid_size": 0,
                "ask_size": 0, "volume": 0, "dtm": 0, "leverage": "50x", "index": px, "premium": 0, "last": px,
                "change": 0, "suspended": False, "tag": "perpetual", "pair": f"{market_id(m)[3:-3]}:USD",
                "openInterest": 0, "markPrice": px, "maturityTime": 0, "post_only": False, "volumeQuote": 0,
                "funding_rate": 0, "funding_rate_prediction": 0, "relative_funding_rate": 0,
                "relative_funding_rate_prediction": 0, "next_funding_rate_time": (ts // 3_600_000 + 1) * 3_600_000}

    def _on_change(self, c: Change) -> None:
        if isinstance(c, MarkSet):
            self._mark_set(c)
        elif isinstance(c, OrderChanged):
            o = c.order
            if o.type == "MARKET" and c.execution == "NEW":
                return  # a market order never rests: the feed tells its end (its fill) alone
            done = o.status not in ("NEW", "PARTIALLY_FILLED")
            reason = ENDED.get(o.status, "cancelled_by_user") if done else (
                "partial_fill" if c.execution == "TRADE" else "new_placed_order_by_user")
            self._tell(c.account, "open_orders", lambda: self._order_delta(self._row_of(o), done, reason), c.ts)
            if c.execution == "TRADE":
                self._tell(c.account, "fills", lambda: self._fills(c), c.ts)
        elif isinstance(c, AlgoChanged):
            if c.status == "TRIGGERING":  # the engine's own step: Kraken says nothing between placed and fired
                return
            t = c.order
            done = t.status != "NEW"
            self._tell(c.account, "open_orders", lambda: self._order_delta(
                self._trigger_row(t), done, ENDED.get(t.status, "cancelled_by_user") if done
                else "new_placed_order_by_user"), c.ts)
        elif isinstance(c, AccountChanged):
            self._tell(c.account, "open_positions", lambda: self._positions(c.account, c.ts), c.ts)
            self._tell(c.account, "balances", lambda: self._balances(c.account, c.ts, "balances"), c.ts)

    def _changed(self, s: _Socket, feed: str, body: dict, ts: int) -> None:
        self._push(s, body)  # a feed's message carries its own name and time

    # --- frames -----------------------------------------------------------------------------------------

    def _snapshot(self, account: str, feed: str, ts: int) -> dict:
        eng = self.engine
        if feed == "open_orders":
            a = eng.accounts[account]  # uncharged: a feed's snapshot costs no request
            rows = [self._row_of(o) for o in eng._live(a) if a.shown(o.order_id)]
            rows += [self._trigger_row(t) for t in eng.conditional.live(a)]
            return {"feed": "open_orders_snapshot", "account": account, "orders": rows}
        if feed == "open_positions":
            return self._positions(account, ts)
        if feed == "balances":
            return self._balances(account, ts, "balances_snapshot")
        return {"feed": "fills_snapshot", "account": account, "fills": []}

    def _order_delta(self, row: dict, done: bool, reason: str) -> dict:
        return {"feed": "open_orders", "order": row, "is_cancel": done, "reason": reason}

    def _row_of(self, o: SimOrder) -> dict:
        row = {"instrument": market_id(self.engine.markets[o.symbol]), "time": o.time,
               "last_update_time": o.update_time, "qty": o.remaining, "filled": o.executed_qty,
               "limit_price": o.price if o.type == "LIMIT" else 0.0, "stop_price": 0.0,
               "type": "limit" if o.type == "LIMIT" else "market", "order_id": order_uuid(o.order_id),
               "direction": 0 if o.side == "BUY" else 1, "reduce_only": bool(o.reduce_only)}
        if o.client_order_id:
            row["cli_ord_id"] = o.client_order_id
        return row

    def _trigger_row(self, t: SimAlgoOrder) -> dict:
        row = {"instrument": market_id(self.engine.markets[t.symbol]), "time": t.create_time,
               "last_update_time": t.update_time, "qty": t.quantity, "filled": 0.0,
               "limit_price": t.price or 0.0, "stop_price": t.trigger_price or 0.0,
               "type": WS_TYPES.get(t.order_type, t.order_type.lower()), "order_id": trigger_uuid(t.algo_id),
               "direction": 0 if t.side == "BUY" else 1, "reduce_only": bool(t.reduce_only or t.close_position),
               "triggerSignal": "mark" if t.working_type == "MARK_PRICE" else "last"}
        if t.client_algo_id:
            row["cli_ord_id"] = t.client_algo_id
        return row

    def _positions(self, account: str, ts: int) -> dict:
        eng = self.engine
        seq = self._seq(account)
        rows = []
        for pv in eng._positions(eng.accounts[account], ts):  # uncharged, at the change
            m = eng.markets[pv.symbol]
            rows.append({"instrument": market_id(m), "balance": pv.amount, "pnl": pv.unrealized_pnl,
                         "entry_price": pv.entry_price, "mark_price": pv.mark_price, "index_price": pv.mark_price,
                         "liquidation_threshold": pv.liquidation_price or 0, "effective_leverage": 0,
                         "return_on_equity": pv.unrealized_pnl / pv.initial_margin if pv.initial_margin else 0,
                         "unrealized_funding": 0, "initial_margin": pv.initial_margin,
                         "initial_margin_with_orders": pv.initial_margin, "maintenance_margin": pv.maint_margin,
                         "pnl_currency": "USD"})
        return {"feed": "open_positions", "account": account, "positions": rows, "seq": seq, "timestamp": ts}

    def _balances(self, account: str, ts: int, feed: str) -> dict:
        eng = self.engine
        v = eng._view(eng.accounts[account], ts)  # uncharged, at the change
        flex = {"currencies": {"USD": {"quantity": v.wallet, "value": v.wallet, "collateral_value": v.wallet,
                                       "available": v.available, "haircut": 0.0, "conversion_spread": 0.0}},
                "balance_value": v.wallet, "portfolio_value": v.equity, "collateral_value": v.wallet,
                "initial_margin": v.initial_margin, "initial_margin_without_orders": v.initial_margin,
                "maintenance_margin": v.maint_margin, "pnl": 0.0, "unrealized_funding": 0.0,
                "total_unrealized": v.unrealized_pnl, "total_unrealized_as_margin": v.unrealized_pnl,
                "margin_equity": v.equity, "available_margin": v.available}
        return {"feed": feed, "account": account, "holding": {}, "futures": {}, "flex_futures": flex,
                "timestamp": ts, "seq": self._seq(account)}

    def _fills(self, c: OrderChanged) -> dict:
        o = c.order
        fill = {"instrument": market_id(self.engine.markets[o.symbol]), "time": c.ts, "price": c.last_price,
                "seq": self._seq(c.account), "buy": o.side == "BUY", "qty": c.last_qty,
                "remaining_order_qty": o.remaining, "order_id": order_uuid(o.order_id),
                "fill_id": str(uuid.UUID(int=c.trade_id)), "fill_type": "maker" if c.maker else "taker",
                "fee_paid": c.fee, "fee_currency": "USD", "taker_order_type": "lmt", "order_type": "lmt"}
        if o.client_order_id:
            fill["cli_ord_id"] = o.client_order_id
        return {"feed": "fills", "username": c.account, "fills": [fill]}

    def _seq(self, account: str) -> int:
        seqs = self.__dict__.setdefault("_seqs", {})
        seqs[account] = seqs.get(account, -1) + 1
        return int(seqs[account])

    def _malformed(self, text: str, how: str) -> str:
        if how != "fields":
            return super()._malformed(text, how)
        body = json.loads(text)
        for k in PAYLOADS:
            body.pop(k, None)
        return dumps(body)


def krakenfutures_pro_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.pro.krakenfutures`` bound to ``server`` as ``account``: REST over the face's
    ``/derivatives``, the websocket at the server's :data:`PATH` (close it after use)."""
    import ccxt.pro as ccxt_pro

    ex = ccxt_client(ccxt_pro.krakenfutures, server, account, config, {}, secret=b64_secret(server, account))
    ex.urls["api"] = {**rehosted(ex.urls["api"], server.base_url), "ws": "ws" + server.base_url[len("http"):] + PATH}
    return strict_client(ex, strict)


stream_face = KrakenFuturesStreamFace.for_server


__all__ = ["AUTH_FAILED", "KrakenFuturesStreamFace", "MARK_FEED", "PATH", "PRIVATE_FEEDS", "UNKNOWN_FEED",
           "krakenfutures_pro_client", "signed", "stream_face"]
