"""The simulated exchange's Kraken spot websocket v2 face: the token, executions, balances, tickers.

:class:`KrakenSpotStreamFace` lives on the :class:`adapters.simulated.http.SimServer`'s aiohttp
app and port, beside the REST faces, and speaks Kraken's spot websocket v2 as
``ccxt.pro.kraken`` (4.5.90) opens it: its ``privateV2`` (``wss://ws-auth.kraken.com/v2``) and
``publicV2`` (``wss://ws.kraken.com/v2``) rehosted onto the server are one path, :data:`PATH`,
whose sockets take the private and the public channels alike. Requests are ``{"method",
"params", "req_id"}``; answers ``{"method", "result", "success", "time_in", "time_out",
"req_id"}``:

subscribe  ``executions`` / ``balances`` with ``params.token``, a token ``POST
           /0/private/GetWebSocketsToken`` gave (:data:`..face.TOKENS`): answered ``success``
           true and followed by the channel's snapshot (``executions``: the account's resting
           spot orders, whole, unless ``snap_orders`` false; ``balances``: each asset's
           ``balance`` and its ``spot`` ``main`` wallet). A token never given is refused
           ``success`` false, ``error`` "ESession:Invalid session" (ccxt's table of the venue's
           words for it). ``ticker`` with ``params.symbol`` (``["BTC/USDT"]``, the engine's pairs
           as v2 names them): one answer a pair and its ticker pushed at once (``last``, ``bid``,
           ``ask``: the engine's mark), then every ``mark_every_ms`` while it moves and every
           ``quiet_every_ms`` while not (the simulator's cadence: Kraken pushes a ticker on each
           trade); a pair not listed is refused "Currency pair not supported".
pushes     as Kraken documents them (https://docs.kraken.com/api/docs/websocket-v2/executions,
           ``/balances``, ``/ticker``), each a frame ``{"channel", "type": "update", "data"}``
           with the engine clock at the change in its rows' ``timestamp`` (RFC 3339): a spot
           order accepted is ``pending_new`` (the whole order: ``symbol``, ``side``,
           ``order_type``, ``order_qty``, ``limit_price``, ``triggers``, ``cl_ord_id``) then
           ``new`` (its id and status alone); a fill ``trade`` (``last_qty``, ``last_price``,
           ``cum_qty``, ``order_status`` partially_filled or filled) and, once nothing is left,
           ``filled``; a cancel ``canceled``, an expiry ``expired`` (their id and status). A
           fill's balances are a ledger entry of each asset it moved (``wallet_type`` spot,
           ``balance`` after it).
ping       ``{"method": "ping"}`` answered ``{"method": "pong"}``.

Faults come from the engine's :class:`~adapters.simulated.faults.FaultPlan` through
:class:`~adapters.simulated.faces.push.PushFace` (endpoint ``stream:user`` for the private
channels, ``stream:market`` for the tickers). ``listen_key_expired`` ends a socket's token: it is
told ``success`` false, "ESession:Invalid session" (the simulator's rendering of a session the
venue dropped) and gets no more private pushes. A malformed frame ("fields") loses its ``data``;
("event") its ``channel`` is one nobody knows.

What it owns: the sockets' subscriptions and the rendering of the spot desk's changes as
Kraken's frames. What it must not do: keep exchange state or call the engine's charged methods (a
stream costs no request): the account's orders and balances are read uncharged, at the change.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from typing import Any, Optional

from ....simulated.changes import Change, MarkSet, SpotBalancesChanged, SpotOrderChanged
from ....simulated.engine import MarketSpec, SimOrder
from ....simulated.faces.channels import ChannelFace
from ....simulated.faces.push import _Socket
from ....simulated.faces.shared import b64_secret, ccxt_client, rehosted, strict_client
from . import TOKENS
from .rows import order_type, txid

PATH = "/v2"
PRIVATE = ("executions", "balances")
MARK_CHANNEL = "ticker"
UNKNOWN_CHANNEL = "sim-unknown"  # what a STREAM_MALFORMED "event" fault renames a channel to
INVALID_SESSION = "ESession:Invalid session"
# the engine's status of a spot order → the channel's order_status
STATUSES = {"NEW": "new", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled", "CANCELED": "canceled",
            "EXPIRED": "expired"}


def rfc3339(ms: int) -> str:
    """The engine's ms as v2 writes a time (``2023-09-22T10:33:05.709950Z``)."""
    at = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}000Z"


def ws_symbol(m: MarketSpec) -> str:
    """A pair as v2 names it: ``BTC/USDT`` (the assets' common codes, not REST's ``XBTUSDT``)."""
    return f"{m.base}/{m.quote}"


class KrakenSpotStreamFace(ChannelFace):
    """The Kraken spot websocket v2 face over ``server``'s engine (see the module docstring)."""

    PATHS = {PATH: "private"}
    MARK_EVERY_MS, QUIET_EVERY_MS = 300, 1_000
    MARK_CHANNEL = MARK_CHANNEL
    EVENT_AT = ("channel",)
    EVENT_UNKNOWN = UNKNOWN_CHANNEL
    LOGGED_OUT = (INVALID_SESSION,)

    # --- requests ---------------------------------------------------------------------------------------

    def _answer(self, sock: _Socket, req: dict, result: Optional[dict] = None, error: Optional[str] = None) -> None:
        now = rfc3339(self.engine.now())
        body: dict = {"method": req.get("method"), "success": error is None, "time_in": now, "time_out": now}
        if error is not None:
            body["error"] = error
        else:
            body["result"] = result or {}
        if req.get("req_id") is not None:
            body["req_id"] = req["req_id"]
        self._say(sock, body)

    def _error(self, sock: _Socket, message: str) -> None:
        self._answer(sock, {"method": "subscribe"}, error=message)

    def _command(self, sock: _Socket, data: str) -> None:
        try:
            req = json.loads(data)
            method, params = req.get("method"), req.get("params")
        except (ValueError, AttributeError):
            return self._answer(sock, {"method": None}, error="EGeneral:Invalid arguments")
        params = params if isinstance(params, dict) else {}
        if method == "ping":
            self._say(sock, {"method": "pong", "req_id": req.get("req_id"), "time_in": rfc3339(self.engine.now()),
                             "time_out": rfc3339(self.engine.now())})
        elif method in ("subscribe", "unsubscribe"):
            channel = params.get("channel")
            if channel in PRIVATE:
                self._private(sock, req, str(channel), params)
            elif channel == MARK_CHANNEL:
                self._tickers(sock, req, params)
            else:
                self._answer(sock, req, error="Subscription name invalid")
        else:
            self._answer(sock, req, error="Method not supported")  # (the simulator's words)

    def _private(self, sock: _Socket, req: dict, channel: str, params: dict) -> None:
        account = TOKENS.get(self.engine, {}).get(str(params.get("token") or ""))
        if account is None:
            return self._answer(sock, req, error=INVALID_SESSION)
        self._answer(sock, req, {"channel": channel, "snapshot": True})
        if req.get("method") == "unsubscribe":
            sock.streams.discard(channel)
            return
        sock.owner = account
        sock.streams.add(channel)
        if channel == "balances":
            self._push(sock, self._balances_snapshot(account))
        elif params.get("snap_orders", True) is not False:
            now = self.engine.now()
            rows = [self._row(o, "new", STATUSES.get(o.status, "new"), now) for o in self._resting(account)]
            self._push(sock, {"channel": "executions", "type": "snapshot", "data": rows, "sequence": 1})

    def _tickers(self, sock: _Socket, req: dict, params: dict) -> None:
        pairs = params.get("symbol")
        markets = {ws_symbol(m): m for m in self.engine.markets.values()}
        if not isinstance(pairs, list) or not pairs or any(p not in markets for p in pairs):
            return self._answer(sock, req, error="Currency pair not supported")
        now = self.engine.now()
        for p in pairs:
            self._answer(sock, req, {"channel": MARK_CHANNEL, "symbol": p, "snapshot": True})
            self._watch_mark(sock, markets[p], req.get("method") == "subscribe", now)

    # --- pushes -----------------------------------------------------------------------------------------

    def _push(self, s: _Socket, body: dict) -> None:
        s.queue.put_nowait(("user", json.dumps(body, separators=(",", ":"))))

    def _instrument(self, m: MarketSpec) -> str:
        return ws_symbol(m)

    def _mark_frame(self, m: MarketSpec, px: float, ts: int, arg: Optional[dict]) -> dict:
        row = {"symbol": ws_symbol(m), "bid": px, "bid_qty": 1.0, "ask": px, "ask_qty": 1.0, "last": px,
               "volume": 0.0, "vwap": px, "low": px, "high": px, "change": 0.0, "change_pct": 0.0,
               "timestamp": rfc3339(ts)}
        return {"channel": MARK_CHANNEL, "type": "update", "data": [row]}

    def _on_change(self, c: Change) -> None:
        if isinstance(c, MarkSet):
            self._mark_set(c)
        elif isinstance(c, SpotOrderChanged):
            self._tell(c.account, "executions", lambda: self._executions(c), c.ts)
        elif isinstance(c, SpotBalancesChanged):
            self._tell(c.account, "balances", lambda: self._ledger(c), c.ts)

    def _changed(self, s: _Socket, channel: str, data: list, ts: int) -> None:
        for rows in data:  # (each execution or ledger entry its own frame, as Kraken sends them)
            self._push(s, {"channel": channel, "type": "update", "data": rows})

    # --- frames -----------------------------------------------------------------------------------------

    def _resting(self, account: str) -> list[SimOrder]:
        a = self.engine.accounts[account]  # uncharged: a snapshot costs no request
        return [o for o in a.spot_live.values() if o.is_open and a.shown(o.order_id)]

    def _row(self, o: SimOrder, exec_type: str, status: str, ts: int) -> dict:
        """An order's whole row (its snapshot's, its ``pending_new``)."""
        m = self.engine.markets[o.symbol]
        row: dict = {"order_id": txid(o.order_id), "order_userref": 0, "symbol": ws_symbol(m), "order_qty": o.quantity,
                     "cum_qty": o.executed_qty, "cum_cost": o.cum_quote, "time_in_force": o.time_in_force,
                     "exec_type": exec_type, "side": o.side.lower(),
                     "order_type": order_type(o), "limit_price_type": "static",
                     "limit_price": o.price if o.type == "LIMIT" else 0.0, "order_status": status,
                     "fee_usd_equiv": o.fee, "fee_ccy_pref": "fciq", "timestamp": rfc3339(ts)}
        trigger = getattr(o, "trigger_price", 0.0)
        if getattr(o, "trigger", ""):
            row["triggers"] = {"reference": "last", "price": trigger, "price_type": "static",
                               "actual_price": trigger,
                               "status": "triggered" if getattr(o, "trigger_time", 0) else "untriggered"}
        if o.client_order_id:
            row["cl_ord_id"] = o.client_order_id
        return row

    def _said(self, o: SimOrder, exec_type: str, ts: int, **more: Any) -> list[dict]:
        """An update naming the order alone: its id, status and what ``more`` says."""
        return [{"order_id": txid(o.order_id), "exec_type": exec_type, "order_status": STATUSES.get(o.status, "new"),
                 "order_userref": 0, "cum_qty": o.executed_qty, "cum_cost": o.cum_quote, "timestamp": rfc3339(ts),
                 **more}]

    def _executions(self, c: SpotOrderChanged) -> list[list[dict]]:
        """The frames' rows of one change of a spot order (one frame each)."""
        o, ts = c.order, c.ts
        if c.execution == "NEW":
            return [[self._row(o, "pending_new", "pending_new", ts)], self._said(o, "new", ts)]
        if c.execution == "TRADE":
            trade = {**self._row(o, "trade", STATUSES.get(o.status, "partially_filled"), ts),
                     "exec_id": f"SIM{c.order.order_id}-{zlib.crc32(f'{ts}/{o.executed_qty}'.encode())}",
                     "last_qty": c.last_qty, "last_price": c.last_price, "liquidity_ind": "t",
                     "fees": [{"asset": self.engine.markets[o.symbol].quote, "qty": c.fee}]}
            return [[trade]] + ([self._said(o, "filled", ts, avg_price=o.avg_price)] if o.status == "FILLED" else [])
        return [self._said(o, STATUSES.get(o.status, "canceled"), ts)]

    def _ledger(self, c: SpotBalancesChanged) -> list[list[dict]]:
        told = self.__dict__.setdefault("_told", {})  # (account, asset) → the balance last told
        rows = []
        for asset, balance in c.balances:
            before = told.get((c.account, asset), balance)
            told[(c.account, asset)] = balance
            ref = f"L{zlib.crc32(f'{c.account}/{asset}/{c.ts}'.encode()):010d}"
            rows.append({"ledger_id": ref, "ref_id": ref, "timestamp": rfc3339(c.ts), "type": "trade",
                         "asset": asset, "asset_class": "currency", "category": "trade", "wallet_type": "spot",
                         "wallet_id": "main", "amount": balance - before, "fee": 0.0, "balance": balance})
        return [rows]

    def _balances_snapshot(self, account: str) -> dict:
        spot = self.engine.accounts[account].spot  # uncharged, at the subscription
        told = self.__dict__.setdefault("_told", {})
        rows = []
        for asset, q in sorted(spot.items()):
            told[(account, asset)] = q
            rows.append({"asset": asset, "asset_class": "currency", "balance": q,
                         "wallets": [{"type": "spot", "id": "main", "balance": q}]})
        return {"channel": "balances", "type": "snapshot", "data": rows, "sequence": 1}


def kraken_pro_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.pro.kraken`` bound to ``server`` as ``account``: REST over the spot face, the v2
    websocket (public and private) at the server's :data:`PATH` (close it after use)."""
    import ccxt.pro as ccxt_pro

    ex = ccxt_client(ccxt_pro.kraken, server, account, config, {}, secret=b64_secret(server, account))
    ws = "ws" + server.base_url[len("http"):]
    ex.urls["api"] = {**rehosted(ex.urls["api"], server.base_url),
                      "ws": {**ex.urls["api"]["ws"], "public": ws, "private": ws, "publicV2": ws + PATH,
                             "privateV2": ws + PATH}}
    return strict_client(ex, strict)


stream_face = KrakenSpotStreamFace.for_server


__all__ = ["INVALID_SESSION", "KrakenSpotStreamFace", "MARK_CHANNEL", "PATH", "PRIVATE", "UNKNOWN_CHANNEL",
           "kraken_pro_client", "rfc3339", "stream_face", "ws_symbol"]
