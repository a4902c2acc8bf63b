"""The ccxt adapter's test doubles: a ccxt-like fake injected through ``exchange_factory``
(:class:`FakeExchange`, :func:`make`), the rows ccxt answers (positions, orders, balances,
markets), the credentials' environment, and a real ccxt exchange without network
(:func:`real_binance`). Shared by the adapter's tests (``adapter/``) and the venues' own."""

from __future__ import annotations

import asyncio
import inspect

import ccxt.async_support as ccxt_async
import pytest

from adapters.ccxt_exchange import CcxtAdapter
from killswitch.engine.planner import OrderIntent
from killswitch.policy.accounts_doc import Account
from tests.venue_fixtures import countdown_answer

API_KEY = "AKIAkeyVALUE0123456789"
API_SECRET = "sEcReTvalue9876543210zz"
PASSPHRASE = "pass-phrase-42xyz"
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    monkeypatch.setenv("KS_TEST_KEY", API_KEY)
    monkeypatch.setenv("KS_TEST_SECRET", API_SECRET)
    monkeypatch.setenv("KS_TEST_PASS", PASSPHRASE)


def account(venue="binanceusdm", market_type="futures", hedge_mode=False, **kw):
    creds = {"api_key": {"env": "KS_TEST_KEY"}, "secret": {"env": "KS_TEST_SECRET"}}
    if venue == "okx":
        creds["password"] = {"env": "KS_TEST_PASS"}
    if venue == "hyperliquid":  # a wallet signs: its address and key
        creds = {"wallet_address": "0x" + "ab" * 20, "private_key": {"env": "KS_TEST_SECRET"}}
    return Account.model_validate({
        "name": "main", "venue": venue, "market_type": market_type, "hedge_mode": hedge_mode,
        "labels": {"desk": "a"}, "initial_capital": 10000, "strategies": ["alpha", "beta"],
        "credentials": creds, **kw,
    })


def market(symbol=BTC, mid="BTCUSDT", amount_step=0.001, price_step=0.1, min_amount=0.001, min_cost=5.0,
           spot=False, contract_size=1.0):
    base, rest = symbol.split("/", 1)
    quote = rest.split(":", 1)[0]
    return {
        "id": mid, "symbol": symbol, "base": base, "quote": quote, "settle": None if spot else quote,
        "baseId": base, "quoteId": quote, "settleId": None if spot else quote,
        "type": "spot" if spot else "swap", "spot": spot, "margin": False, "swap": not spot, "future": False,
        "option": False, "contract": not spot, "linear": None if spot else True, "inverse": None if spot else False,
        "contractSize": None if spot else contract_size, "active": True,
        "precision": {"amount": amount_step, "price": price_step},
        "limits": {"amount": {"min": min_amount, "max": 1e6}, "cost": {"min": min_cost}, "price": {}, "leverage": {}},
        "info": {"orderTypes": ["LIMIT", "MARKET"]},
    }


FUTURES_MARKETS = {BTC: market(), ETH: market(ETH, "ETHUSDT", amount_step=0.01, price_step=0.01)}
SPOT_MARKETS = {
    "BTC/USDT": market("BTC/USDT", "BTCUSDT", amount_step=0.00001, price_step=0.01, min_amount=0.00001, spot=True),
    "ETH/USDT": market("ETH/USDT", "ETHUSDT", amount_step=0.0001, price_step=0.01, min_amount=0.0001, spot=True),
}


def ccxt_position(symbol=BTC, side="long", contracts=0.5, mark=50000.0, entry=48000.0, upnl=1000.0, info=None,
                  **extra):
    p = {
        # the venue's own row carries its size (Bybit's size, OKX's pos: ccxt reads them there)
        "info": {"size": str(contracts), "pos": str(contracts), **(info or {})}, "id": None, "symbol": symbol,
        "timestamp": 1700000000000, "datetime": None,
        "hedged": False, "side": side, "contracts": contracts, "contractSize": 1.0, "entryPrice": entry,
        "markPrice": mark, "notional": contracts * mark if mark is not None else None, "leverage": 10.0,
        "collateral": 2500.0,
        "initialMargin": 2500.0, "maintenanceMargin": 100.0, "initialMarginPercentage": 0.1,
        "maintenanceMarginPercentage": 0.004, "unrealizedPnl": upnl, "liquidationPrice": 30000.0,
        "marginMode": "cross", "marginRatio": 0.01, "percentage": 40.0,
    }
    p.update(extra)
    return p


def ccxt_order(oid="11", symbol=BTC, side="buy", type_="limit", amount=1.0, filled=0.0, price=40000.0,
               reduce_only=False, client_id=None, status="open", info=None):
    # the venue's own row carries its type (Binance's openOrders ``type``, checked by its dialect)
    return {
        "info": {"type": type_.upper(), **(info or {})}, "id": oid, "clientOrderId": client_id,
        "timestamp": 1700000000000, "datetime": None,
        "lastTradeTimestamp": None, "symbol": symbol, "type": type_, "timeInForce": "GTC", "postOnly": False,
        "reduceOnly": reduce_only, "side": side, "price": price, "triggerPrice": None, "amount": amount,
        "cost": filled * (price or 0), "average": None, "filled": filled, "remaining": amount - filled,
        "status": status, "fee": None, "trades": [], "fees": [],
    }


def ccxt_balance(total: dict, info=None, timestamp=1700000000123):
    b = {"info": info or {}, "timestamp": timestamp, "datetime": None, "free": {}, "used": {}, "total": {}}
    for asset, t in total.items():
        b[asset] = {"free": t, "used": 0.0, "total": t}
        b["free"][asset], b["used"][asset], b["total"][asset] = t, 0.0, t
    return b


def intent(symbol=BTC, side="sell", amount=0.2, reduce_only=True, position_side=None, limit_price=None,
           cid="ks" + "0123456789abcdef0123456789ab"):
    return OrderIntent(
        decision_id="d1", client_order_id=cid, venue="binanceusdm", account="main", symbol=symbol, side=side,
        position_side=position_side, amount=amount, reduce_only=reduce_only, limit_price=limit_price,
        notional=amount * 50000, chunk=1, chunks=1, not_before_ms=0, action="close_all", reason="test",
    )


class FakeExchange:
    """A ccxt-like exchange: records every call; ``script[name]`` is a list of outcomes (a value,
    an exception to raise, or a callable of the call's arguments), the last one repeating."""

    DEFAULT_HAS = {"fetchPositions": True, "cancelAllOrders": True, "fetchOrder": True, "fetchTickers": True,
                   "closePosition": False}

    def __init__(self, venue="binanceusdm", markets=None, has=None, implicit=(), precision_mode=4):
        self.id = venue
        self.has = dict(self.DEFAULT_HAS, **(has or {}))
        self._all_markets = markets if markets is not None else FUTURES_MARKETS
        self.markets = None
        self.precisionMode = precision_mode
        self.options = {}
        self.urls = {"api": {"public": "https://api.example.com/v1", "private": "https://api.example.com/v1/p"}}
        self.calls: list[tuple[str, tuple]] = []
        self.script: dict[str, list] = {}
        self.last_response_headers = None
        self.config = None
        self.closed = False
        self.positions: list = []
        self.orders: list = []
        self.algo_orders: list = []  # what a trigger=True list answers
        self.balance = ccxt_balance({"USDT": 1000.0}, info={"totalMarginBalance": "1234.5"})
        for name in implicit:
            setattr(self, name, self._recorder(name))

    def factory(self, config):
        self.config = dict(config)
        self.options.update(config.get("options", {}))
        return self

    def _recorder(self, name):
        async def method(*args, **kwargs):
            return await self._do(name, args, countdown_answer(name, args))
        return method

    def names(self):
        return [c[0] for c in self.calls]

    def listings(self):
        """How often every open order was listed: the regular list (an algo list is asked beside it)."""
        return sum(1 for name, args in self.calls
                   if name == "fetch_open_orders" and not (args[3] if len(args) > 3 else {}).get("trigger"))

    async def _do(self, name, args, default):
        self.calls.append((name, args))
        outcomes = self.script.get(name)
        if not outcomes:
            return default
        out = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if callable(out) and not isinstance(out, BaseException):
            out = out(*args)
            if inspect.isawaitable(out):
                out = await out
        if isinstance(out, BaseException):
            raise out
        return out

    async def load_markets(self, reload=False, params={}):
        await self._do("load_markets", (), None)
        self.markets = self._all_markets
        self.markets_by_id = {}  # as ccxt's: every market of an id (a spot and a swap may share one)
        for m in self.markets.values():
            self.markets_by_id.setdefault(m["id"], []).append(m)
        return self.markets

    async def fetch_balance(self, params={}):
        return await self._do("fetch_balance", (params,), self.balance)

    async def fetch_positions(self, symbols=None, params={}):
        default = [p for p in self.positions if symbols is None or p["symbol"] in symbols]
        return await self._do("fetch_positions", (symbols,), default)

    async def fetch_open_orders(self, symbol=None, since=None, limit=None, params={}):
        listed = self.algo_orders if (params or {}).get("trigger") else self.orders  # (Binance's algo service)
        default = [o for o in listed if symbol is None or o["symbol"] == symbol]
        return await self._do("fetch_open_orders", (symbol, since, limit, params), default)

    async def fetch_closed_orders(self, symbol=None, since=None, limit=None, params={}):
        return await self._do("fetch_closed_orders", (symbol, since, limit, params), [])

    async def fetch_canceled_and_closed_orders(self, symbol=None, since=None, limit=None, params={}):
        return await self._do("fetch_canceled_and_closed_orders", (symbol, since, limit, params), [])

    async def fetch_tickers(self, symbols=None, params={}):
        return await self._do("fetch_tickers", (symbols,), {})

    async def create_order(self, symbol, type, side, amount, price=None, params={}):
        cid = params.get("newClientOrderId") or params.get("clientOrderId")
        default = ccxt_order("99", symbol, side, type, amount, amount, price or 50000.0, client_id=cid, status="closed")
        default["average"] = price or 50000.0
        default["fee"] = {"cost": 0.12, "currency": "USDT"}
        return await self._do("create_order", (symbol, type, side, amount, price, params), default)

    async def fetch_order(self, id, symbol=None, params={}):
        cid = params.get("origClientOrderId") or params.get("clOrdId") or params.get("clientOrderId")
        return await self._do("fetch_order", (id, symbol, params),
                              ccxt_order("7", symbol, "sell", "market", 0.2, 0.2, 50000.0, client_id=cid,
                                         status="closed"))

    async def cancel_order(self, id, symbol=None, params={}):
        out = await self._do("cancel_order", (id, symbol), {"id": id})
        self.orders = [o for o in self.orders if o["id"] != id]  # what the venue holds after it
        return out

    async def cancel_all_orders(self, symbol=None, params={}):
        out = await self._do("cancel_all_orders", (symbol,), [])
        self.orders = [o for o in self.orders if o["symbol"] != symbol]
        return out

    async def close(self):
        self.closed = True


def make(fake=None, acct=None, **kw):
    fake = fake or FakeExchange()
    acct = acct or account(fake.id)
    kw.setdefault("timeout", 2.0)
    kw.setdefault("backoff_s", 0.001)
    kw.setdefault("orders_per_second", 1000)
    return CcxtAdapter(acct, exchange_factory=fake.factory, **kw), fake



def real_binance(markets=(market(),), **config):
    ex = ccxt_async.binanceusdm(dict({"apiKey": API_KEY, "secret": API_SECRET}, **config))
    ex.set_markets(list(markets))
    return ex

