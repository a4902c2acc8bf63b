"""The simulated exchange's Bybit v5 websocket face: the private stream and the linear tickers.

:class:`BybitStreamFace` lives on the :class:`adapters.simulated.http.SimServer`'s aiohttp app
and port, beside the REST faces, and speaks Bybit v5's documented websocket protocol, as
``ccxt.pro.bybit`` (4.5.90) opens it from ``urls['api']['ws']``:

``/v5/private``        ``{"op": "auth", "args": [api key, expires, signature]}``, the signature
                       the hex HMAC-SHA256 of ``"GET/realtime" + expires`` with the secret, and
                       ``expires`` (ms) not yet past on the server's auth clock; answered
                       ``{"success": true, "ret_msg": "", "op": "auth", "conn_id": ...}`` (a bad
                       key or signature ``success`` false, "Request not authorized", and the
                       socket stays unauthenticated). Then ``{"op": "subscribe", "req_id": ..,
                       "args": [...]}`` of ``position``, ``order``, ``execution`` and ``wallet``
                       (answered ``{"success": true, "ret_msg": "", "op": "subscribe", ...}``;
                       before auth, or an unknown topic: ``success`` false). Each topic's
                       message is ``{"id", "topic", "creationTime", "data": [...]}`` with the
                       fields Bybit documents for it, category ``linear``, rendered from the
                       engine's change hooks at the change (``creationTime`` the engine clock);
                       ``order`` tells of the conditional orders too (``stopOrderType`` Stop or
                       TrailingStop: Untriggered when placed, then Triggered, Deactivated or
                       Rejected, the order it became a regular one of its own id).
``/v5/public/linear``  ``tickers.<SYMBOL>``: a ``snapshot`` at subscription, then ``delta``
                       messages (``{"topic", "type", "data", "cs", "ts"}``) with ``markPrice``
                       and ``indexPrice`` every ``ticker_every_ms`` (Bybit's 100 ms) of a path's
                       mark, and at once when
                       :meth:`~adapters.simulated.engine.SimExchange.set_mark` sets one.
both                   ``{"op": "ping"}``: the private socket answers ``{"op": "pong", "args":
                       [ms], ...}``, the public one ``{"success": true, "ret_msg": "pong",
                       "op": "ping", ...}``, as Bybit does.

Faults come from the engine's :class:`~adapters.simulated.faults.FaultPlan` through
:class:`~adapters.simulated.faces.push.PushFace` (endpoint ``stream:user`` for the private topics,
``stream:market`` for tickers). Bybit has no listen key: ``listen_key_expired`` does nothing
here. A malformed frame ("fields") loses its ``data``; ("event") its topic is one nobody knows.

What it owns: the sockets' authentication and subscriptions and the rendering of changes as
Bybit's messages. What it must not do: keep exchange state or call the engine's charged methods
(a stream costs no request): the wallet and a position's margins are read uncharged, at the
change.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from typing import Any, Callable, Optional

from aiohttp import web

from ....simulated.changes import AccountChanged, AlgoChanged, Change, LegState, MarkSet, OrderChanged
from ....simulated.faces.push import PushFace, _Socket, dumps
from ....simulated.faces.shared import strict_client
from ....simulated.numbers import digits as _digits, fixed as _f, money_text as _money
from . import _Face, bound_client
from .wire import ALGO_STATUS, IDX_OF_LEG

PRIVATE_TOPICS = ("position", "order", "execution", "wallet")
TICKERS = "tickers."
UNKNOWN_TOPIC = "sim.unknown"  # what a STREAM_MALFORMED "event" fault renames a topic to
FUNDING_MS = 8 * 3600_000


class BybitStreamFace(PushFace):
    """The Bybit websocket face over ``server``'s engine (see the module docstring)."""

    EVENT_AT = ("topic",)
    EVENT_UNKNOWN = UNKNOWN_TOPIC

    def __init__(self, server: Any, *, ticker_every_ms: int = 100, tick_s: float = 0.05,
                 auth_clock: Optional[Callable[[], int]] = None):
        super().__init__(server, tick_s=tick_s, auth_clock=auth_clock)
        self.ticker_every_ms = ticker_every_ms
        self._rest = _Face(server)  # the REST face's order rows: the order topic has their fields
        self._seq = 0

    # --- lifecycle ------------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        for path in ("/v5/private", "/v5/public/linear"):
            app.router.add_get(path, self._open)

    # --- sockets ----------------------------------------------------------------------------------------

    async def _open(self, request: web.Request) -> web.StreamResponse:
        return await self._accept(request, private=request.path == "/v5/private")

    def _answer(self, sock: _Socket, op: str, req: dict, ok: bool = True, msg: str = "") -> None:
        body: dict[str, Any] = {"success": ok, "ret_msg": msg, "conn_id": sock.pushed["conn_id"], "op": op}
        if "req_id" in req:
            body["req_id"] = req["req_id"]
        sock.queue.put_nowait((None, dumps(body)))

    def _command(self, sock: _Socket, data: str) -> None:
        try:
            req = json.loads(data)
            op = req.get("op")
        except (ValueError, AttributeError):
            sock.queue.put_nowait((None, dumps({"success": False, "ret_msg": "Invalid JSON", "op": ""})))
            return
        private = sock.pushed["private"]
        if op == "ping":
            if private:
                body = {"op": "pong", "args": [str(self.engine.now())], "conn_id": sock.pushed["conn_id"]}
                if "req_id" in req:
                    body["req_id"] = req["req_id"]
                sock.queue.put_nowait((None, dumps(body)))
            else:
                self._answer(sock, "ping", req, msg="pong")
        elif op == "auth" and private:
            account = self._authenticate(req.get("args"))
            if account is None:
                self._answer(sock, "auth", req, ok=False, msg="Request not authorized")
            else:
                sock.owner = account
                self._answer(sock, "auth", req)
        elif op in ("subscribe", "unsubscribe"):
            args = req.get("args")
            args = args if isinstance(args, list) else []
            bad = next((a for a in args if not self._topic_ok(a, private)), None)
            if private and sock.owner is None:
                self._answer(sock, op, req, ok=False, msg="Request not authorized")
            elif bad is not None or not args:
                self._answer(sock, op, req, ok=False, msg=f"Invalid topic: {bad}" if bad else "args is empty")
            else:
                self._answer(sock, op, req)
                for a in args:
                    (sock.streams.add if op == "subscribe" else sock.streams.discard)(a)
                    if op == "subscribe" and a.startswith(TICKERS):
                        self._ticker(sock, a[len(TICKERS):], "snapshot", self.engine.now())
        else:
            self._answer(sock, str(op), req, ok=False, msg=f"Invalid op: {op}")

    def _authenticate(self, args: Any) -> Optional[str]:
        """The account of ``[api key, expires, signature]``, or None (unknown key, expired, bad
        signature)."""
        if not isinstance(args, list) or len(args) != 3:
            return None
        key, expires, signature = (str(a) for a in args)
        account = self.engine.account_for_key(key)
        if account is None or not expires.isdigit() or int(expires) <= self.auth_clock():
            return None
        want = hmac.new(self.engine.secret(account).encode(), f"GET/realtime{expires}".encode(),
                        hashlib.sha256).hexdigest()
        return account if hmac.compare_digest(want, signature) else None

    def _topic_ok(self, topic: Any, private: bool) -> bool:
        if not isinstance(topic, str):
            return False
        if private:
            return topic in PRIVATE_TOPICS
        return topic.startswith(TICKERS) and topic[len(TICKERS):] in self.engine.markets

    # --- events -----------------------------------------------------------------------------------------

    def _on_change(self, c: Change) -> None:
        if isinstance(c, MarkSet):
            text = None  # one message for every socket that follows the symbol
            for s in self.sockets:
                if TICKERS + c.symbol in s.streams:
                    text = text or self._ticker_text(c.symbol, "delta", c.ts, c.price)
                    self._push(s, c.symbol, text)
            return
        messages: list[tuple[str, list]] = []
        if isinstance(c, AlgoChanged):
            if c.status not in ALGO_STATUS:  # TRIGGERING: no status of Bybit's (Triggered follows)
                return
            messages.append(("order", [self._algo_row(c)]))
        elif isinstance(c, OrderChanged):
            messages.append(("order", [self._order_row(c)]))
            if c.execution == "TRADE":
                messages.append(("execution", [self._execution_row(c)]))
        elif isinstance(c, AccountChanged):
            messages.append(("position", [self._position_row(c.account, leg, c.ts) for leg in c.legs]))
            messages.append(("wallet", [self._wallet_row(c)]))
        for topic, data in messages:
            self._seq += 1
            text = dumps({"id": f"{c.account}:{self._seq}", "topic": topic, "creationTime": c.ts, "data": data})
            for s in self.sockets:
                if s.owner == c.account and topic in s.streams:
                    s.queue.put_nowait(("user", text))

    def _ticker(self, s: _Socket, symbol: str, kind: str, ts: int, price: Optional[float] = None) -> None:
        self._push(s, symbol, self._ticker_text(symbol, kind, ts, price))

    def _push(self, s: _Socket, symbol: str, text: Optional[str]) -> None:
        if text is not None:
            s.pushed[symbol] = asyncio.get_event_loop().time()
            s.queue.put_nowait(("market", text))

    def _ticker_text(self, symbol: str, kind: str, ts: int, price: Optional[float] = None) -> Optional[str]:
        """A ``tickers`` message of ``symbol`` (None: the engine has no path for it)."""
        eng = self.engine
        if symbol not in eng.paths:
            return None
        pd = _digits(eng.markets[symbol])[0]
        mark = _f(eng.mark(symbol, ts) if price is None else price, pd)
        self._seq += 1
        data: dict[str, Any] = {"symbol": symbol, "markPrice": mark, "indexPrice": mark}
        if kind == "snapshot":
            data.update({"tickDirection": "ZeroPlusTick", "price24hPcnt": "0", "lastPrice": mark,
                         "prevPrice24h": mark, "highPrice24h": mark, "lowPrice24h": mark, "prevPrice1h": mark,
                         "openInterest": "0", "openInterestValue": "0", "turnover24h": "0", "volume24h": "0",
                         "nextFundingTime": str((ts // FUNDING_MS + 1) * FUNDING_MS), "fundingRate": "0.0001",
                         "bid1Price": mark, "bid1Size": "0", "ask1Price": mark, "ask1Size": "0"})
        return dumps({"topic": TICKERS + symbol, "type": kind, "data": data, "cs": self._seq, "ts": ts})

    def _order_row(self, c: OrderChanged) -> dict:
        row = self._rest._order(c.order)
        row.update({"category": "linear", "createType": "CreateByUser", "closedPnl": _money(c.order.realized_pnl),
                    "feeCurrency": "", "marketUnit": "", "ocoTriggerBy": "", "slippageToleranceType": "",
                    "slippageTolerance": "", "cumFeeDetail": {"USDT": _money(c.order.fee)}})
        if c.execution == "EXPIRED":
            row["cancelType"] = "UNKNOWN"
        return row

    def _algo_row(self, c: AlgoChanged) -> dict:
        """A conditional order's row on the ``order`` topic: the REST list's fields (``stopOrderType``
        Stop or TrailingStop, ``orderStatus`` Untriggered, Triggered, Deactivated or Rejected)
        with the stream's own, as :meth:`_order_row`."""
        row = self._rest._algo(c.order, c.account)
        row.update({"category": "linear", "createType": "CreateByUser", "closedPnl": "0", "feeCurrency": "",
                    "marketUnit": "", "ocoTriggerBy": "", "slippageToleranceType": "", "slippageTolerance": "",
                    "cumFeeDetail": {}})
        return row

    def _execution_row(self, c: OrderChanged) -> dict:
        o = c.order
        pd, ad = _digits(self.engine.markets[o.symbol])
        mark = _f(self.engine.mark(o.symbol, c.ts), pd)
        return {"category": "linear", "symbol": o.symbol, "isLeverage": "", "orderId": str(o.order_id),
                "orderLinkId": o.client_order_id, "side": o.side.capitalize(), "orderPrice": _f(o.price, pd),
                "orderQty": _f(o.quantity, ad), "leavesQty": _f(o.remaining if o.is_open else 0.0, ad),
                "createType": "CreateByUser", "orderType": o.type.capitalize(), "stopOrderType": "",
                "execFee": _money(c.fee), "execId": f"{o.order_id}-{c.trade_id}", "execPrice": _f(c.last_price, pd),
                "execQty": _f(c.last_qty, ad), "execPnl": _money(c.realized), "execType": "Trade",
                "execValue": _money(c.last_qty * c.last_price), "execTime": str(c.ts), "isMaker": c.maker,
                "feeRate": "0.0005" if not c.maker else "0.0002", "tradeIv": "", "markIv": "", "markPrice": mark,
                "indexPrice": mark, "underlyingPrice": "", "blockTradeId": "", "closedSize": "0",
                "seq": c.trade_id, "feeCurrency": "USDT"}

    def _position_row(self, account: str, leg: LegState, ts: int) -> dict:
        eng = self.engine
        m = eng.markets[leg.symbol]
        pd, ad = _digits(m)
        # the engine's own view of the leg (margins, liquidation), uncharged, at the change
        view = next((v for v in eng._positions(eng.accounts[account], ts)
                     if v.symbol == leg.symbol and v.position_side == leg.position_side), None)
        lev = eng.leverage(account, leg.symbol)
        notional = abs(leg.amount) * leg.mark * m.contract_size
        side = "" if not leg.amount else "Buy" if leg.amount > 0 else "Sell"
        return {
            "category": "linear", "symbol": leg.symbol, "side": side, "size": _f(abs(leg.amount), ad),
            "positionIdx": IDX_OF_LEG[leg.position_side], "tradeMode": 0, "positionValue": _money(notional),
            "riskId": 1, "riskLimitValue": "2000000", "entryPrice": _f(leg.entry if leg.amount else 0, pd + 2),
            "markPrice": _f(leg.mark, pd), "leverage": str(lev),
            "positionBalance": _money(view.initial_margin if view else 0), "autoAddMargin": 0,
            "positionIM": _money(view.initial_margin if view else 0), "positionIMByMp": _money(notional / lev),
            "positionMM": _money(view.maint_margin if view else 0),
            "positionMMByMp": _money(view.maint_margin if view else 0),
            "liqPrice": _f(view.liquidation_price, pd) if view and view.liquidation_price else "", "bustPrice": "",
            "tpslMode": "Full", "takeProfit": "0", "stopLoss": "0", "trailingStop": "0",
            "unrealisedPnl": _money(leg.unrealized), "curRealisedPnl": _money(leg.realized),
            "sessionAvgPrice": "", "delta": "", "gamma": "", "vega": "", "theta": "",
            "cumRealisedPnl": _money(leg.realized), "positionStatus": "Normal",
            "adlRankIndicator": 2 if leg.amount else 0,
            "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "",
            "createdTime": str(eng.t0), "updatedTime": str(ts), "seq": ts,
        }

    def _wallet_row(self, c: AccountChanged) -> dict:
        eng = self.engine
        v = eng._view(eng.accounts[c.account], c.ts)  # uncharged, at the change
        im = v.initial_margin + v.open_order_margin
        coin = {"coin": "USDT", "equity": _money(v.equity), "usdValue": _money(v.equity),
                "walletBalance": _money(c.wallet), "availableToWithdraw": "", "availableToBorrow": "",
                "borrowAmount": "0", "accruedInterest": "0", "totalOrderIM": _money(v.open_order_margin),
                "totalPositionIM": _money(v.initial_margin), "totalPositionMM": _money(v.maint_margin),
                "unrealisedPnl": _money(v.unrealized_pnl), "cumRealisedPnl": "0", "bonus": "0",
                "collateralSwitch": True, "marginCollateral": True, "locked": "0", "spotHedgingQty": "0",
                "spotBorrow": "0"}
        return {"accountIMRate": "%.4f" % (im / v.equity if v.equity > 0 else 0),
                "accountMMRate": "%.4f" % (v.maint_margin / v.equity if v.equity > 0 else 0),
                "totalEquity": _money(v.equity), "totalWalletBalance": _money(c.wallet),
                "totalMarginBalance": _money(v.equity), "totalAvailableBalance": _money(v.available),
                "totalPerpUPL": _money(v.unrealized_pnl), "totalInitialMargin": _money(im),
                "totalMaintenanceMargin": _money(v.maint_margin), "coin": [coin], "accountLTV": "0",
                "accountType": "UNIFIED"}

    def _pump_round(self, now: int, t: float) -> None:
        # one delta a symbol a round, encoded once for every socket due it: a simulator of
        # many accounts (a socket each, on the same tickers) does not encode them again each
        texts: dict[str, Optional[str]] = {}
        for s in list(self.sockets):
            for name in sorted(n for n in s.streams if n.startswith(TICKERS)):
                symbol = name[len(TICKERS):]
                if t - s.pushed.get(symbol, 0.0) >= self.ticker_every_ms / 1000:
                    if symbol not in texts:
                        texts[symbol] = self._ticker_text(symbol, "delta", now)
                    self._push(s, symbol, texts[symbol])


def ws_urls(base_url: str) -> dict[str, Any]:
    """``urls['api']['ws']`` of ccxt.pro's bybit for a server at ``base_url``: the linear public
    stream and the private one; every other family to ``/unsupported/<name>`` (no route)."""
    ws = "ws" + base_url[len("http"):]
    public = {k: f"{ws}/unsupported/public-{k}" for k in ("spot", "inverse", "option")}
    public["linear"] = f"{ws}/v5/public/linear"
    private = {"spot": {"unified": f"{ws}/v5/private", "nonUnified": f"{ws}/unsupported/spot-private"},
               "contract": f"{ws}/v5/private", "usdc": f"{ws}/unsupported/usdc-private",
               "trade": f"{ws}/unsupported/trade"}
    return {"public": public, "private": private}


def bybit_pro_client(server: Any, account: str, *, strict: bool = True, **config: Any) -> Any:
    """A ``ccxt.pro.bybit`` bound to ``server`` as ``account``: REST as :func:`~..face.bybit_client`,
    streams at the server's ``/v5/private`` and ``/v5/public/linear`` (close it after use)."""
    import ccxt.pro as ccxt_pro

    ex = bound_client(ccxt_pro.bybit, server, account, config)
    ex.urls["api"]["ws"] = ws_urls(server.base_url)
    return strict_client(ex, strict)


stream_face = BybitStreamFace.for_server


__all__ = ["BybitStreamFace", "PRIVATE_TOPICS", "UNKNOWN_TOPIC", "bybit_pro_client", "stream_face", "ws_urls"]
