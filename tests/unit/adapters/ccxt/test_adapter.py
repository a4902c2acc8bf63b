"""The ccxt adapter without any network: a ccxt-like fake injected through ``exchange_factory``,
real ccxt exchange classes whose HTTP ``fetch`` is replaced (to see the exact request ccxt
builds), and one aiohttp stub on 127.0.0.1 for the ``urls`` override end to end."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import subprocess
import sys
import time
import traceback
from urllib.parse import parse_qs, urlsplit

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter, OrderBudget, is_reduce_only_rejection, reason_for, scrub
from killswitch.engine.planner import OrderIntent
from killswitch.policy.accounts_doc import Account
from tests.ports import confirmed_cancel
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


# --- import and construction ------------------------------------------------------------------


def test_importing_the_module_does_not_import_ccxt():
    code = "import sys, adapters.ccxt_exchange; print(any(m == 'ccxt' or m.startswith('ccxt.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_secrets_reach_ccxt_config_only_and_options_are_set():
    a, fake = make()
    assert fake.config["apiKey"] == API_KEY and fake.config["secret"] == API_SECRET
    assert fake.config["enableRateLimit"] is True and fake.config["timeout"] == 2000
    assert fake.options["warnOnFetchOpenOrdersWithoutSymbol"] is False
    assert fake.options["defaultType"] == "swap"
    assert API_KEY not in repr(a) and API_SECRET not in repr(a)
    assert fake.config["logger"].getEffectiveLevel() >= logging.WARNING


def test_okx_passphrase_is_passed_as_password():
    _, fake = make(FakeExchange("okx"))
    assert fake.config["password"] == PASSPHRASE


def test_missing_credential_is_auth_without_value(monkeypatch):
    monkeypatch.delenv("KS_TEST_SECRET")
    with pytest.raises(AdapterError) as ei:
        make()
    assert ei.value.reason is Reason.AUTH and API_KEY not in str(ei.value)


def test_unknown_venue_is_unsupported():
    acct = account("nosuchvenue")
    with pytest.raises(AdapterError) as ei:
        CcxtAdapter(acct)
    assert ei.value.reason is Reason.UNSUPPORTED


def test_default_factory_builds_real_ccxt_exchange_without_network():
    a = CcxtAdapter(account("binanceusdm"), timeout=3)
    assert isinstance(a._ex, ccxt_async.binanceusdm)
    assert a._ex.apiKey == API_KEY and a._ex.enableRateLimit and a._ex.timeout == 3000
    assert a.capabilities.cancel_all_after and a.capabilities.positions
    run(a.close())


def test_urls_string_rehosts_every_api_url_and_dict_merges():
    a, fake = make(urls="http://127.0.0.1:8765/")
    assert fake.urls["api"] == {"public": "http://127.0.0.1:8765/v1", "private": "http://127.0.0.1:8765/v1/p"}
    a, fake = make(urls={"api": {"private": "http://127.0.0.1:1/x"}})
    assert fake.urls["api"] == {"public": "https://api.example.com/v1", "private": "http://127.0.0.1:1/x"}


# --- exception → reason ------------------------------------------------------------------------------


@pytest.mark.parametrize("exc,reason", [
    (ccxt.AuthenticationError("bad key"), Reason.AUTH),
    (ccxt.PermissionDenied("ip not allowed"), Reason.AUTH),
    (ccxt.AccountSuspended("suspended"), Reason.AUTH),
    (ccxt.AccountNotEnabled("not enabled"), Reason.AUTH),
    (ccxt.InsufficientFunds("margin is insufficient"), Reason.INSUFFICIENT_MARGIN),
    (ccxt.RateLimitExceeded("429"), Reason.RATE_LIMITED),
    (ccxt.DDoSProtection("418"), Reason.RATE_LIMITED),
    (ccxt.OrderNotFound("unknown order"), Reason.ORDER_NOT_FOUND),
    (ccxt.BadSymbol("no market"), Reason.UNKNOWN_SYMBOL),
    (ccxt.InvalidOrder("precision is over the maximum"), Reason.INVALID_ORDER),
    (ccxt.DuplicateOrderId("dup"), Reason.INVALID_ORDER),
    (ccxt.ExchangeNotAvailable("502"), Reason.EXCHANGE_UNAVAILABLE),
    (ccxt.OnMaintenance("maintenance"), Reason.EXCHANGE_UNAVAILABLE),
    (ccxt.NetworkError("connection reset"), Reason.EXCHANGE_UNAVAILABLE),
    (ccxt.InvalidNonce("nonce"), Reason.EXCHANGE_UNAVAILABLE),
    (ccxt.RequestTimeout("timed out"), Reason.TIMEOUT),
    (asyncio.TimeoutError(), Reason.TIMEOUT),
    (TimeoutError(), Reason.TIMEOUT),
    (ccxt.BadResponse("not json"), Reason.BAD_RESPONSE),
    (ccxt.NullResponse("empty"), Reason.BAD_RESPONSE),
    (json.JSONDecodeError("Expecting value", "<html>", 0), Reason.BAD_RESPONSE),
    (ccxt.NotSupported("no such method"), Reason.UNSUPPORTED),
    (ccxt.ExchangeError("something else"), Reason.UNKNOWN),
    (ccxt.BaseError("base"), Reason.UNKNOWN),
    (ccxt.OperationRejected("rejected"), Reason.UNKNOWN),
    (ValueError("x"), Reason.UNKNOWN),
    (ConnectionResetError("reset"), Reason.EXCHANGE_UNAVAILABLE),
    (AdapterError(Reason.INSUFFICIENT_MARGIN, "kept"), Reason.INSUFFICIENT_MARGIN),
])
def test_reason_for_every_exception(exc, reason):
    assert reason_for(exc) is reason


@pytest.mark.parametrize("exc", [
    ccxt.InvalidOrder('binanceusdm {"code":-2022,"msg":"ReduceOnly Order is rejected."}'),
    ccxt.OperationRejected('binanceusdm {"code":-4112,"msg":"ReduceOnly Order Failed. '
                           'Please check your existing position and open orders."}'),
    ccxt.OperationRejected('binanceusdm {"code":-4118,"msg":"REDUCE_ONLY_MARGIN_CHECK_FAILED"}'),
    ccxt.InvalidOrder('bybit {"retCode":110017,"retMsg":"Reduce-only rule not satisfied","result":{},"time":1}'),
    ccxt.InvalidOrder('bybit {"retCode":"140017","retMsg":"..."}'),
    ccxt.ExchangeError('okx {"code":"1","data":[{"clOrdId":"ks1","ordId":"","sCode":"51169",'
                       '"sMsg":"Order failed"}],"msg":""}'),
    ccxt.ExchangeError('okx {"code":"51170","data":[],"msg":"Failed to place order. '
                       'A reduce-only order can\'t be the same trade side as your open position."}'),
    ccxt.ExchangeError("somevenue: reduce-only rule not satisfied"),
])
def test_reduce_only_rejections_are_recognised(exc):
    assert reason_for(exc) is Reason.REDUCE_ONLY_REJECTED


@pytest.mark.parametrize("exc,reason", [
    # "unless you choose reduce only": a notional floor, not a reduce-only refusal
    (ccxt.InvalidOrder('binanceusdm {"code":-4164,"msg":"Order\'s notional must be no smaller than 20 '
                       '(unless you choose reduce only)."}'),
     Reason.INVALID_ORDER),
    (ccxt.PermissionDenied('binanceusdm {"code":-4087,"msg":"User can only place reduce only order."}'), Reason.AUTH),
    (ccxt.BadRequest('binanceusdm {"code":-1106,"msg":"Parameter \'reduceOnly\' sent when not required."}'),
     Reason.UNKNOWN),
    (ccxt.InvalidOrder('binanceusdm {"code":-2026,"msg":"This OrderType is not supported when reduceOnly."}'),
     Reason.INVALID_ORDER),
])
def test_reduce_only_words_that_are_not_a_rejection(exc, reason):
    assert reason_for(exc) is reason


def test_is_reduce_only_rejection_on_plain_text():
    assert is_reduce_only_rejection("ReduceOnly Order is rejected.")
    assert not is_reduce_only_rejection("Order would immediately trigger.")


# --- secrets -------------------------------------------------------------------------------------------


def _leaky(cls=ccxt.ExchangeError):
    return cls(f"binanceusdm POST https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT&timestamp=1&"
               f"signature=0a1b2c3d4e5f60718293a4b5c6d7e8f9 apiKey={API_KEY} headers X-MBX-APIKEY: {API_KEY} "
               f"secret {API_SECRET} body")


def _assert_clean(text):
    assert API_KEY not in text and API_SECRET not in text and "0a1b2c3d4e5f60718293a4b5c6d7e8f9" not in text


@pytest.mark.parametrize("cls", [ccxt.ExchangeError, ccxt.AuthenticationError, ccxt.InvalidOrder, ccxt.NetworkError])
def test_no_secret_in_adapter_error(cls):
    a, fake = make(max_retries=0)
    fake.positions = [ccxt_position()]
    fake.script["create_order"] = [_leaky(cls)]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent()))
    err = ei.value
    for text in (str(err), repr(err), err.message, repr(err.args),
                 "".join(traceback.format_exception(type(err), err, err.__traceback__))):
        _assert_clean(text)
    assert err.__cause__ is None and err.__context__ is None
    assert err.reason is reason_for(cls("x"))


def test_no_secret_in_failed_snapshot(caplog):
    caplog.set_level(logging.DEBUG)
    a, fake = make(max_retries=1)
    fake.script["fetch_balance"] = [_leaky(ccxt.NetworkError)]
    snap = run(a.snapshot())
    assert not snap.fetch.ok and snap.fetch.error_code == "EXCHANGE_UNAVAILABLE"
    _assert_clean(snap.model_dump_json())
    _assert_clean(caplog.text)
    assert "signature=****" in snap.fetch.error


def test_scrub_helper():
    text = scrub(f"a {API_KEY} b sign=abc123&x=1 'passphrase': 'pp12345' Secret={API_SECRET}", [API_KEY, API_SECRET])
    _assert_clean(text)
    assert "sign=****" in text and "pp12345" not in text and "x=1" in text
    assert len(scrub("x" * 5000)) < 700


# --- rounding ----------------------------------------------------------------------------------------


def real_binance(markets=(market(),), **config):
    ex = ccxt_async.binanceusdm(dict({"apiKey": API_KEY, "secret": API_SECRET}, **config))
    ex.set_markets(list(markets))
    return ex


def test_amount_rounds_down_with_ccxt_truncate():
    ex = real_binance()
    a = CcxtAdapter(account(), exchange_factory=lambda cfg: ex)
    assert a.round_amount(BTC, 0.0129) == 0.012
    assert a.round_amount(BTC, 0.0999999) == 0.099
    assert a.round_amount(BTC, 0.0009) == 0.0  # below one step: nothing left
    rules = a.market_rules(BTC)
    assert (rules.amount_step, rules.min_amount, rules.min_notional, rules.base) == (0.001, 0.001, 5.0, "BTC")
    run(ex.close())


def test_decimal_places_precision_rounds_down_too():
    fake = FakeExchange(markets={BTC: market(amount_step=3, price_step=1)}, precision_mode=2)
    a, _ = make(fake)
    run(a._markets.ensure(_op()))
    assert a.round_amount(BTC, 0.0129) == 0.012
    assert a.market_rules(BTC).amount_step == pytest.approx(0.001)


def _op():
    from adapters.ccxt_exchange.calls import Op as _Op

    return _Op("t", float("inf"))


def test_submit_sends_the_rounded_down_amount_and_refuses_below_minimum():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.submit(intent(amount=0.2349)))
    [(_, args)] = [c for c in fake.calls if c[0] == "create_order"]
    assert args[3] == 0.234
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(amount=0.0004)))
    assert ei.value.reason is Reason.INVALID_ORDER
    assert fake.names().count("create_order") == 1


def test_limit_price_is_put_on_the_tick_towards_protection():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5), ccxt_position(ETH, "short", 3.0, mark=3000, entry=2900, upnl=-300)]
    run(a.submit(intent(side="sell", limit_price=49000.06)))
    run(a.submit(intent(ETH, side="buy", amount=1.0, limit_price=3060.019)))
    sell, buy = [c[1] for c in fake.calls if c[0] == "create_order"]
    assert sell[1:5] == ("limit", "sell", 0.2, pytest.approx(49000.1)) and sell[5]["timeInForce"] == "IOC"
    assert buy[1:5] == ("limit", "buy", 1.0, pytest.approx(3060.01)) and buy[5]["timeInForce"] == "IOC"


# --- the local close check ------------------------------------------------------------------------


def test_close_larger_than_position_is_refused_before_create_order():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.snapshot())
    fake.calls.clear()
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(amount=0.6)))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert "create_order" not in fake.names() and fake.names() == []  # known position: not even a fetch


def test_close_without_reduce_only_on_futures_is_refused():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5)]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(reduce_only=False)))
    assert ei.value.reason is Reason.NOT_REDUCE_ONLY
    assert "create_order" not in fake.names()


def test_unknown_position_is_fetched_then_refused_when_flat():
    a, fake = make()
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent()))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert ("fetch_positions", ([BTC],)) in fake.calls and "create_order" not in fake.names()


def test_closing_the_wrong_side_is_refused():
    a, fake = make()
    fake.positions = [ccxt_position(side="short", contracts=0.5)]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(side="sell")))  # sells close longs; there is none
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert "create_order" not in fake.names()


def test_hedge_leg_that_would_grow_is_refused():
    a, fake = make(acct=account(hedge_mode=True))
    fake.positions = [ccxt_position(info={"positionSide": "LONG"}, hedged=True)]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(side="buy", position_side="LONG")))
    assert ei.value.reason is Reason.NOT_REDUCE_ONLY
    assert "create_order" not in fake.names()


def test_chunks_never_add_up_beyond_the_position():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.snapshot())
    run(a.submit(intent(amount=0.3)))
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(amount=0.3)))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert fake.names().count("create_order") == 1


def test_stale_position_is_refetched():
    a, fake = make(position_max_age_s=0.0)
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.snapshot())
    fake.calls.clear()
    fake.positions = [ccxt_position(contracts=0.1)]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(amount=0.2)))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert fake.names() == ["fetch_positions"]


def test_spot_sell_larger_than_holding_is_refused():
    fake = FakeExchange(markets=SPOT_MARKETS)
    fake.balance = ccxt_balance({"USDT": 100.0, "BTC": 0.01})
    a, _ = make(fake, acct=account(market_type="spot"))
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent("BTC/USDT", amount=0.02, reduce_only=False)))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert "create_order" not in fake.names()
    res = run(a.submit(intent("BTC/USDT", amount=0.01, reduce_only=False)))
    [(_, args)] = [c for c in fake.calls if c[0] == "create_order"]
    assert args[:4] == ("BTC/USDT", "market", "sell", 0.01)
    assert args[5] == {"newClientOrderId": intent().client_order_id}  # spot: no reduceOnly, no leg
    assert res.status == "filled"


# --- retries and timeouts ---------------------------------------------------------------------------


def test_reads_are_retried_on_network_errors_only():
    a, fake = make(max_retries=3)
    fake.script["fetch_balance"] = [ccxt.ExchangeNotAvailable("502"), ccxt.RequestTimeout("t"), fake.balance]
    snap = run(a.snapshot())
    assert snap.fetch.ok
    assert fake.names().count("fetch_balance") == 3
    assert snap.fetch.failed_calls == 2 and snap.fetch.calls == 2 + 2 + 3  # markets, 2 lists, positions, 3 balances


def test_retries_are_bounded():
    a, fake = make(max_retries=2)
    fake.script["fetch_balance"] = [ccxt.NetworkError("down")]
    snap = run(a.snapshot())
    assert not snap.fetch.ok and snap.fetch.error_code == "EXCHANGE_UNAVAILABLE"
    assert fake.names().count("fetch_balance") == 3


@pytest.mark.parametrize("exc", [ccxt.AuthenticationError("k"), ccxt.BadResponse("b"), ccxt.ExchangeError("e")])
def test_non_network_errors_are_not_retried(exc):
    a, fake = make(max_retries=3)
    fake.script["fetch_balance"] = [exc]
    snap = run(a.snapshot())
    assert snap.fetch.error_code == reason_for(exc).value
    assert fake.names().count("fetch_balance") == 1


@pytest.mark.parametrize("exc,reason", [
    (ccxt.RequestTimeout("t"), Reason.TIMEOUT),
    (ccxt.ExchangeNotAvailable("reset"), Reason.EXCHANGE_UNAVAILABLE),
    (ccxt.RateLimitExceeded("429"), Reason.RATE_LIMITED),
    (ccxt.InvalidOrder('{"code":-2022,"msg":"ReduceOnly Order is rejected."}'), Reason.REDUCE_ONLY_REJECTED),
    (ccxt.InsufficientFunds("margin"), Reason.INSUFFICIENT_MARGIN),
])
def test_orders_are_never_retried(exc, reason):
    a, fake = make(max_retries=5)
    fake.positions = [ccxt_position()]
    fake.script["create_order"] = [exc]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent()))
    assert ei.value.reason is reason
    assert fake.names().count("create_order") == 1


def test_order_timeout_forgets_the_position_so_the_next_close_refetches():
    a, fake = make()
    fake.positions = [ccxt_position()]
    run(a.snapshot())
    fake.script["create_order"] = [ccxt.RequestTimeout("t")]
    with pytest.raises(AdapterError):
        run(a.submit(intent()))
    fake.calls.clear()
    fake.script.pop("create_order")
    run(a.submit(intent()))
    assert fake.names() == ["fetch_positions", "create_order"]


def test_hanging_create_order_is_a_timeout():
    a, fake = make(timeout=0.2)
    fake.positions = [ccxt_position()]
    fake.script["create_order"] = [lambda *a: asyncio.sleep(10)]
    t0 = time.monotonic()
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent()))
    assert ei.value.reason is Reason.TIMEOUT and time.monotonic() - t0 < 2
    assert ei.value.__context__ is None


def test_hanging_snapshot_is_a_failed_snapshot_not_a_hang():
    a, fake = make(timeout=0.2)
    fake.script["fetch_positions"] = [lambda *a: asyncio.sleep(10)]
    snap = run(a.snapshot())
    assert not snap.fetch.ok and snap.fetch.error_code == "TIMEOUT" and snap.equity is None


def test_rate_limit_retry_honours_retry_after():
    a, fake = make(max_retries=2)
    fake.last_response_headers = {"Retry-After": "0.2"}
    fake.script["fetch_open_orders"] = [ccxt.RateLimitExceeded("429"), []]
    t0 = time.monotonic()
    snap = run(a.snapshot())
    assert snap.fetch.ok and time.monotonic() - t0 >= 0.2
    assert fake.listings() == 2


def test_retry_after_beyond_the_deadline_gives_up_with_the_hint():
    a, fake = make(timeout=0.5)
    fake.last_response_headers = {"retry-after": "30"}
    fake.script["cancel_order"] = [ccxt.DDoSProtection("418")]
    fake.orders = [ccxt_order("1")]
    res = run(a.cancel_orders(CancelSelector(order_ids=("1",))))
    assert res.failed == {"1": "RATE_LIMITED"} and fake.names().count("cancel_order") == 1


def test_cancels_are_retried_on_network_errors():
    a, fake = make()
    fake.orders = [ccxt_order("1")]
    fake.script["cancel_order"] = [ccxt.NetworkError("reset"), {"id": "1"}]
    res = run(a.cancel_orders(CancelSelector(order_ids=("1",))))
    assert res.canceled == ("1",) and fake.names().count("cancel_order") == 2


def test_order_budget_spaces_orders():
    async def go():
        b = OrderBudget(20.0, burst=1)
        t0 = time.monotonic()
        for _ in range(4):
            await b.acquire()
        return time.monotonic() - t0
    assert run(go()) >= 0.14


def test_a_cancel_costing_no_weight_goes_at_once_while_a_read_waits_out_the_debt():
    """An order endpoint costs no weight (the order budget paces it): it must not queue behind a
    read sleeping off the weight's debt (a venue watch's cancel under a halt waited seconds behind
    a list of every open order, Binance's 40 of weight)."""
    from adapters.ccxt_exchange.budget import RequestPacer

    pacer = RequestPacer(20.0, capacity=60.0)

    async def go():
        await pacer(100)  # the bucket owes 40: the next read waits 2 s
        read = asyncio.ensure_future(pacer(40))
        await asyncio.sleep(0.05)
        assert not read.done()
        await asyncio.wait_for(pacer(0), 0.5)  # the cancel is not behind it
        read.cancel()

    run(go())


def test_request_pacer_credits_idle_time_and_lets_a_request_in_debt_wait(monkeypatch):
    """ccxt's own limiter refills only while a request waits in it, so a snapshot after an idle
    second waits its whole cost; the pacer counts the idle second."""
    from adapters.ccxt_exchange.budget import RequestPacer

    now = [0.0]
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay):
        slept.append(delay)
        now[0] += delay
        await real_sleep(0)

    monkeypatch.setattr("adapters.ccxt_exchange.budget.asyncio.sleep", fake_sleep)
    pacer = RequestPacer(20.0, capacity=60.0, clock=lambda: now[0])

    async def go():
        for cost in (50, 5, 5):  # a snapshot of Binance weights spends the burst ...
            await pacer(cost)
        assert slept == [] and pacer.tokens == 0
        await pacer(40)  # ... a bucket at 0 is not in debt: the request goes, the bucket owes 40
        assert slept == [] and pacer.tokens == -40
        await pacer(1)  # waits for the 40 owed, at 20 a second
        assert slept == [pytest.approx(2.0)]
        now[0] += 1.0  # an idle second refills 20
        await pacer(10)
        assert len(slept) == 1 and pacer.tokens == pytest.approx(9.0)

    run(go())


def test_ccxt_clients_are_paced_by_the_request_pacer_at_ccxts_rate():
    from adapters.ccxt_exchange.budget import RequestPacer

    acc = Account.model_validate({"name": "m", "venue": "binanceusdm", "market_type": "futures"})
    paced = CcxtAdapter(acc, urls="http://127.0.0.1:9")
    unpaced = CcxtAdapter(acc, urls="http://127.0.0.1:9", ccxt_rate_limit=False)
    assert isinstance(paced._ex.throttle, RequestPacer) and paced._ex.throttle.rate == 1000 / paced._ex.rateLimit
    assert not isinstance(unpaced._ex.throttle, RequestPacer)
    run(paced.close())
    run(unpaced.close())


def test_adapter_spends_its_order_budget_on_orders():
    a, fake = make(orders_per_second=10)
    a.budget = OrderBudget(10.0, burst=1)
    fake.orders = [ccxt_order(str(i)) for i in range(4)]
    fake.has["cancelAllOrders"] = False
    t0 = time.monotonic()
    res = run(a.cancel_orders(CancelSelector()))
    assert len(res.canceled) == 4 and time.monotonic() - t0 >= 0.28


def test_a_cancel_never_waits_behind_creates_where_the_venue_limits_cancels_apart():
    """MEXC and Bitget limit their cancel endpoints apart from order placement: a cancel spends a
    budget of its own (the dialect's ``cancel_rate``), so that a venue watch cancelling a rogue's
    entries is not paced behind the reverts the same lock sends (the rogue bench's entry→cancel
    p99 grew past half a second as the shared budget fell behind)."""
    from adapters.venues.mexc.dialect import CANCEL_METHOD
    from killswitch.snapshot import Order

    fake = FakeExchange("mexc", implicit=(CANCEL_METHOD,))
    fake.script[CANCEL_METHOD] = [lambda ids: {"success": True, "code": 0,
                                               "data": [{"orderId": int(i), "errorCode": 0} for i in ids]}]
    a, _ = make(fake, orders_per_second=None)  # the dialect's own rates
    assert a.dialect.cancel_rate is not None
    spent = OrderBudget(a.dialect.order_rate, burst=1, clock=lambda: 0.0)  # creates spent it; it never refills
    run(spent.acquire())
    a.budget = spent
    a._orders = {"7": Order(id="7", symbol=BTC, side="buy", type="limit", amount=1.0, price=40000.0)}
    res = run(asyncio.wait_for(a.cancel_orders(CancelSelector(order_ids=("7",))), 5.0))
    assert res.canceled == ("7",) and fake.names().count(CANCEL_METHOD) == 1


def test_a_hyperliquid_cancel_never_waits_behind_its_orders():
    """Hyperliquid gives cancels a limit of their own (an address's cancels: min(limit + 100000,
    limit * 2), so that a limited address can still cancel): a cancel spends its own budget, and
    a rogue's entries are not cancelled behind the lock's reverts (p99 592 ms in the rogue bench
    on the shared 5 a second; 186 ms on its own)."""
    from killswitch.snapshot import Order

    fake = FakeExchange("hyperliquid")
    a, _ = make(fake, orders_per_second=None)  # the dialect's own rates
    assert a.dialect.cancel_rate is not None and a.dialect.cancel_rate > a.dialect.order_rate
    spent = OrderBudget(a.dialect.order_rate, burst=1, clock=lambda: 0.0)  # orders spent it; it never refills
    run(spent.acquire())
    a.budget = spent
    a._orders = {"7": Order(id="7", symbol=BTC, side="buy", type="limit", amount=1.0, price=40000.0)}
    res = run(asyncio.wait_for(a.cancel_orders(CancelSelector(order_ids=("7",))), 5.0))
    assert res.canceled == ("7",) and fake.names().count("cancel_order") == 1


# --- snapshot parsing --------------------------------------------------------------------------------


def test_futures_snapshot_from_ccxt_structures():
    fake = FakeExchange()
    fake.positions = [
        ccxt_position(BTC, "long", 0.5, mark=50000, entry=48000, upnl=1000, info={"positionSide": "LONG"},
                      hedged=True, liquidationPrice=30000),
        ccxt_position(ETH, "short", 3.0, mark=3000, entry=2900, upnl=-300, info={"positionSide": "SHORT"},
                      hedged=True, notional=-9000.0, liquidationPrice=0, initialMargin=None, collateral=900.0),
        ccxt_position(BTC, "short", 0.0, info={"positionSide": "SHORT"}),  # flat leg: skipped
    ]
    fake.orders = [
        ccxt_order("1", BTC, "buy", "limit", 0.1, 0.02, 40000, client_id="alpha-17", info={"positionSide": "LONG"}),
        {**ccxt_order("2", ETH, "buy", "take_profit_market", 3.0, price=None, reduce_only=True, client_id="x-other"),
         "triggerPrice": 2500.0},
    ]
    fake.balance = ccxt_balance({"USDT": 10500.0, "BNB": 0.0}, info={"totalMarginBalance": "11200.5"})
    a, _ = make(fake, acct=account(hedge_mode=True))
    s = run(a.snapshot())
    assert s.fetch.ok and s.fetch.error_code is None and s.fetch.calls == 5 and s.fetch.failed_calls == 0
    assert s.equity == 11200.5 and s.ts_event == 1700000000123 and s.ts_observed >= s.ts_event
    assert (s.venue, s.account, s.market_type, s.labels, s.initial_capital) == \
        ("binanceusdm", "main", "futures", {"desk": "a"}, 10000.0)
    btc, eth = s.positions
    assert (btc.symbol, btc.side, btc.position_side, btc.contracts, btc.notional) == (BTC, "long", "LONG", 0.5, 25000)
    assert (btc.entry_price, btc.mark_price, btc.unrealized_pnl, btc.liquidation_price, btc.margin, btc.leverage) == \
        (48000, 50000, 1000, 30000, 2500, 10)
    assert (eth.side, eth.position_side, eth.notional, eth.liquidation_price, eth.margin) == \
        ("short", "SHORT", 9000, None, 900)
    o1, o2 = s.orders
    assert (o1.id, o1.client_id, o1.strategy, o1.reduce_only, o1.amount, o1.filled, o1.price, o1.position_side) == \
        ("1", "alpha-17", "alpha", False, 0.1, 0.02, 40000, "LONG")
    assert (o2.type, o2.kind, o2.trigger_price, o2.reduce_only, o2.strategy, o2.price) == \
        ("take_profit_market", "conditional", 2500.0, True, None, None)
    assert [b.asset for b in s.balances] == ["USDT"] and s.balances[0].total == 10500
    assert set(s.markets) == {BTC, ETH} and s.markets[BTC].amount_step == 0.001


@pytest.mark.parametrize("venue,info,pos_info,expected_side", [
    ("bybit", {"retCode": 0, "result": {"list": [{"totalEquity": "2048.25", "coin": []}]}},
     {"positionIdx": 2, "size": "0.5"}, "SHORT"),
    ("okx", {"code": "0", "data": [{"totalEq": "777.7", "details": []}]}, {"posSide": "short", "pos": "0.5"}, "SHORT"),
    ("bybit", {"retCode": 0, "result": {"list": [{"totalEquity": "1"}]}}, {"positionIdx": 0, "size": "0.5"}, "BOTH"),
    ("okx", {"code": "0", "data": [{"totalEq": "1"}]}, {"posSide": "net", "pos": "-0.5"}, "BOTH"),
])
def test_equity_and_leg_per_venue(venue, info, pos_info, expected_side):
    fake = FakeExchange(venue)
    fake.balance = ccxt_balance({"USDT": 5.0}, info=info)
    fake.positions = [ccxt_position(side="short", info=pos_info)]
    a, _ = make(fake)
    s = run(a.snapshot())
    total_eq = info.get("result", {}).get("list", [{}])[0].get("totalEquity") or info["data"][0]["totalEq"]
    assert s.equity == float(total_eq)
    assert s.positions[0].position_side == expected_side


def test_equity_falls_back_to_unified_quote_total():
    fake = FakeExchange("somevenue")
    fake.balance = ccxt_balance({"USDT": 321.0})
    a, _ = make(fake)
    assert run(a.snapshot()).equity == 321.0


def test_missing_mark_is_derived_from_notional_and_missing_pnl_from_entry():
    fake = FakeExchange()
    fake.positions = [ccxt_position(contracts=2.0, mark=None, notional=-100000.0, upnl=None, entry=48000)]
    a, _ = make(fake)
    [p] = run(a.snapshot()).positions
    assert p.mark_price == 50000 and p.unrealized_pnl == 4000 and p.notional == 100000


def test_unusable_position_fails_the_snapshot_as_bad_response():
    fake = FakeExchange()
    fake.positions = [ccxt_position(mark=None, notional=None)]
    a, _ = make(fake)
    s = run(a.snapshot())
    assert not s.fetch.ok and s.fetch.error_code == "BAD_RESPONSE" and s.equity is None and s.positions == []


def test_spot_snapshot_values_holdings_at_last_price():
    fake = FakeExchange(markets=SPOT_MARKETS)
    fake.balance = ccxt_balance({"USDT": 1000.0, "BTC": 0.1, "ETH": 2.0, "USDC": 50.0, "DUST": 7.0})
    fake.script["fetch_tickers"] = [{"BTC/USDT": {"symbol": "BTC/USDT", "last": 60000.0},
                                     "ETH/USDT": {"symbol": "ETH/USDT", "last": None, "bid": 2999, "ask": 3001}}]
    a, _ = make(fake, acct=account(market_type="spot"))
    s = run(a.snapshot())
    assert s.fetch.ok and s.positions == [] and fake.options["defaultType"] == "spot"
    assert ("fetch_tickers", (["BTC/USDT", "ETH/USDT"],)) in fake.calls
    assert "fetch_positions" not in fake.names()
    prices = {b.asset: b.price for b in s.balances}
    assert prices == {"BTC": 60000.0, "ETH": 3000.0, "USDC": 1.0, "USDT": 1.0, "DUST": None}
    assert s.equity == pytest.approx(1000 + 0.1 * 60000 + 2 * 3000 + 50)
    assert set(s.markets) == {"BTC/USDT", "ETH/USDT"}


@pytest.mark.parametrize("method,exc,code", [
    ("load_markets", ccxt.ExchangeNotAvailable("down"), "EXCHANGE_UNAVAILABLE"),
    ("fetch_balance", ccxt.AuthenticationError("bad key"), "AUTH"),
    ("fetch_positions", ccxt.DDoSProtection("418"), "RATE_LIMITED"),
    ("fetch_open_orders", ccxt.BadResponse("html"), "BAD_RESPONSE"),
    ("fetch_open_orders", RuntimeError("boom"), "UNKNOWN"),
])
def test_snapshot_failure_is_a_snapshot(method, exc, code):
    a, fake = make(max_retries=0)
    fake.script[method] = [exc]
    s = run(a.snapshot())
    assert (s.fetch.ok, s.fetch.error_code, s.equity) == (False, code, None)
    assert s.fetch.failed_calls >= 1 and s.fetch.calls >= 1 and s.fetch.latency_ms is not None
    assert (s.venue, s.account, s.initial_capital) == ("binanceusdm", "main", 10000.0)


def test_markets_are_loaded_once():
    a, fake = make()
    run(a.snapshot())
    run(a.snapshot())
    assert fake.names().count("load_markets") == 1


def test_snapshot_keeps_a_young_open_order_list_where_listing_them_all_is_heavy():
    """Binance weighs the list of every open order 40 of a snapshot's 50: a snapshot younger than
    the dialect's age keeps the last list; our own orders and cancels make the next one list again."""
    a, fake = make()
    assert a.open_orders_max_age_s == 9.0
    fake.orders = [ccxt_order("11", client_id="alpha-1")]
    fake.positions = [ccxt_position(contracts=0.5)]
    first = run(a.snapshot())
    fake.orders = [ccxt_order("11", client_id="alpha-1"), ccxt_order("12", symbol=ETH, client_id="beta-1")]
    kept = run(a.snapshot())
    assert fake.listings() == 1
    assert [o.id for o in kept.orders] == [o.id for o in first.orders] == ["11"]
    assert (first.fetch.calls, kept.fetch.calls) == (5, 2)  # markets, balance, positions, orders, algo orders; then two
    run(a.submit(intent(amount=0.2)))
    after_order = run(a.snapshot())
    assert [o.id for o in after_order.orders] == ["11", "12"]
    run(a.cancel_orders(CancelSelector(order_ids=("12",))))
    run(a.snapshot())
    assert fake.listings() == 3


def test_snapshot_lists_the_open_orders_at_once_when_the_runner_starts_watching_entries():
    """A lock that cancels entries placed since the last list: the first snapshot after the runner
    asks the adapter to watch them lists every open order whatever the list's age (the list kept
    was read before the lock), and the next keeps it while it is younger than the watched age."""
    a, fake = make()
    fake.orders = [ccxt_order("11", client_id="alpha-1")]
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.snapshot())
    fake.orders = [ccxt_order("11", client_id="alpha-1"), ccxt_order("12", symbol=ETH, client_id="rogue-1")]
    a.wake_on_entries(True)
    watched = run(a.snapshot())
    assert [o.id for o in watched.orders] == ["11", "12"] and fake.listings() == 2
    a.wake_on_entries(True)  # (told again: nothing changed)
    run(a.snapshot())
    assert fake.listings() == 2  # younger than WATCHED_ORDERS_MAX_AGE_S: kept


@contextlib.contextmanager
def caplog_of(name: str):
    """The messages logged under ``name`` while the block runs."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler, logger = Keep(), logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def test_a_watched_list_waits_for_the_weight_to_spare_and_is_said_once():
    """The sooner lists of a watch come out of the weight the pacer has to spare: with its bucket
    in debt the snapshot keeps the list it has (at the dialect's age, as with no lock), counts
    and says the deferral once; once the bucket can pay a whole snapshot, it lists at once."""
    from adapters.ccxt_exchange.budget import RequestPacer

    now = [0.0]
    a, fake = make()
    fake.throttle = pacer = RequestPacer(20.0, capacity=200, clock=lambda: now[0])
    run(a.snapshot())
    assert fake.listings() == 1
    pacer.tokens = -40.0  # a heavy read just went: two seconds of debt at 20 a second
    fake.orders = [ccxt_order("12", symbol=ETH, client_id="rogue-1")]
    a.wake_on_entries(True)
    with caplog_of("adapters.ccxt_exchange") as said:
        kept = run(a.snapshot())
        run(a.snapshot())
    assert fake.listings() == 1 and [o.id for o in kept.orders] == []
    assert a.watch_lists_deferred == 2
    assert sum("WATCH_LIST_DEFERRED" in m for m in said) == 1
    now[0] += 10.0  # refilled: a whole snapshot (account, positions, both lists: 90) can be paid
    watched = run(a.snapshot())
    assert fake.listings() == 2 and [o.id for o in watched.orders] == ["12"]


def test_snapshot_lists_the_open_orders_again_once_its_list_is_old():
    a, fake = make(open_orders_max_age_s=0.05)
    run(a.snapshot())
    time.sleep(0.06)
    run(a.snapshot())
    assert fake.listings() == 2


@pytest.mark.parametrize("venue,options", [("okx", {}), ("binanceusdm", {"open_orders_max_age_s": 0})])
def test_snapshot_lists_the_open_orders_every_time_where_that_is_cheap(venue, options):
    a, fake = make(FakeExchange(venue), **options)
    for _ in range(3):
        run(a.snapshot())
    assert fake.listings() == 3


# --- order parameters per venue ---------------------------------------------------------------------------


@pytest.mark.parametrize("venue,hedge,in_side,in_leg,expected", [
    ("binanceusdm", False, "sell", None, {"newClientOrderId": "CID", "reduceOnly": True}),
    ("binanceusdm", True, "sell", "LONG", {"newClientOrderId": "CID", "positionSide": "LONG"}),
    ("binanceusdm", True, "buy", "SHORT", {"newClientOrderId": "CID", "positionSide": "SHORT"}),
    ("binanceusdm", True, "buy", None, {"newClientOrderId": "CID", "positionSide": "SHORT"}),
    ("bybit", False, "sell", None, {"clientOrderId": "CID", "reduceOnly": True}),
    ("bybit", True, "sell", "LONG", {"clientOrderId": "CID", "positionIdx": 1, "reduceOnly": True}),
    ("bybit", True, "buy", "SHORT", {"clientOrderId": "CID", "positionIdx": 2, "reduceOnly": True}),
    # OKX: and the margin mode of the position the close reduces (the fake's positions are cross)
    ("okx", False, "buy", None, {"clientOrderId": "CID", "reduceOnly": True, "tdMode": "cross"}),
    ("okx", True, "sell", "LONG", {"clientOrderId": "CID", "posSide": "long", "tdMode": "cross"}),
    ("okx", True, "buy", "SHORT", {"clientOrderId": "CID", "posSide": "short", "tdMode": "cross"}),
    ("gate", True, "sell", "LONG", {"clientOrderId": "CID", "hedged": True, "reduceOnly": True}),
])
def test_hedge_mode_params_per_venue(venue, hedge, in_side, in_leg, expected):
    # the venue reads the mode declared (Binance's and OKX's own reads; Bybit's positions' positionIdx)
    fake = FakeExchange(venue, implicit=("fapiPrivateGetPositionSideDual", "privateGetAccountConfig"))
    fake.script["fapiPrivateGetPositionSideDual"] = [{"dualSidePosition": hedge}]
    fake.script["privateGetAccountConfig"] = [{"code": "0", "data": [
        {"posMode": "long_short_mode" if hedge else "net_mode", "acctLv": "2"}]}]
    side = "long" if in_side == "sell" else "short"
    idx = ("1" if side == "long" else "2") if hedge else "0"
    fake.positions = [ccxt_position(side=side, hedged=hedge, info={"positionIdx": idx})]
    a, _ = make(fake, acct=account(venue, hedge_mode=hedge))
    run(a.snapshot())  # the mode read at the first snapshot
    run(a.submit(intent(side=in_side, position_side=in_leg, cid="CID")))
    [(_, args)] = [c for c in fake.calls if c[0] == "create_order"]
    assert args[:5] == (BTC, "market", in_side, 0.2, None)
    assert args[5] == expected
    assert a.capabilities.hedge_mode is hedge


def test_order_result_mapping():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=1.0)]
    res = run(a.submit(intent(amount=0.2)))
    assert (res.client_order_id, res.order_id, res.status, res.filled, res.amount, res.average_price, res.fee) == \
        (intent().client_order_id, "99", "filled", 0.2, 0.2, 50000.0, 0.12)
    assert res.fees == ((0.12, "USDT"),)
    fake.script["create_order"] = [ccxt_order("5", status="expired", amount=0.2, filled=0.05)]
    res = run(a.submit(intent(amount=0.2, limit_price=49000)))
    assert (res.status, res.filled, res.client_order_id) == ("expired", 0.05, intent().client_order_id)
    fake.script["create_order"] = [ccxt_order("6", status="open", amount=0.2, filled=0.1)]
    assert run(a.submit(intent(amount=0.2))).status == "partially_filled"
    fake.script["create_order"] = [{"id": "7", "info": {}, "status": None, "amount": None, "filled": None}]
    res = run(a.submit(intent(amount=0.1)))
    assert (res.status, res.amount, res.filled) == ("open", 0.1, 0.0)


@pytest.mark.parametrize("fee, fees, want", [
    (None, [], ()),  # the answer carried no fee: not reported
    ({"cost": None, "currency": None}, [], ()),
    ({"cost": 0.12, "currency": "USDT"}, [], ((0.12, "USDT"),)),
    ({"cost": 0.12, "currency": "USDT"}, [{"cost": 0.12, "currency": "USDT"}], ((0.12, "USDT"),)),
    (None, [{"cost": 0.1, "currency": "USDT"}, {"cost": 0.02, "currency": "BNB"}, {"cost": 0.05, "currency": "USDT"}],
     ((0.15000000000000002, "USDT"), (0.02, "BNB"))),  # per currency, never added across them
    ({"cost": "0.3", "currency": ""}, [], ((0.3, None),)),  # a cost in no named currency
])
def test_the_fee_of_an_order_answer_per_currency(fee, fees, want):
    from adapters.ccxt_exchange.parsing import order_result

    res = order_result({**ccxt_order("1", status="closed", amount=1.0, filled=1.0), "fee": fee, "fees": fees},
                       "c", 1.0)
    assert res.fees == want
    assert res.fee == (want[0][0] if len(want) == 1 else None)


# --- fetch_order ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("venue,params", [
    ("binanceusdm", {"origClientOrderId": "CID"}),
    ("okx", {"clOrdId": "CID"}),
    ("kucoinfutures", {"clientOrderId": "CID"}),
])
def test_fetch_order_by_client_id(venue, params):
    a, fake = make(FakeExchange(venue))
    res = run(a.fetch_order(BTC, "CID"))
    assert ("fetch_order", (None, BTC, params)) in fake.calls
    assert (res.client_order_id, res.status, res.filled) == ("CID", "filled", 0.2)


def test_fetch_order_bybit_looks_in_open_then_every_final_order():
    """An IOC close that expired, or one cancelled after a partial fill, is in Bybit's history
    as Cancelled: ccxt's fetch_closed_orders asks for Filled alone and would not find it."""
    a, fake = make(FakeExchange("bybit"))
    for status, filled in (("canceled", 0.4), ("closed", 1)):
        fake.calls.clear()
        fake.script["fetch_canceled_and_closed_orders"] = [
            [ccxt_order("8", status=status, client_id="CID", amount=1, filled=filled)]]
        res = run(a.fetch_order(BTC, "CID"))
        assert [c for c in fake.calls if c[0].startswith("fetch_") and "orders" in c[0]] == [
            ("fetch_open_orders", (BTC, None, None, {"orderLinkId": "CID"})),
            ("fetch_canceled_and_closed_orders", (BTC, None, None, {"orderLinkId": "CID"})),
        ]
        assert (res.order_id, res.status, res.filled) == ("8", "canceled" if status == "canceled" else "filled",
                                                          filled)
    fake.script["fetch_canceled_and_closed_orders"] = [[]]
    with pytest.raises(AdapterError) as ei:
        run(a.fetch_order(BTC, "NOPE"))
    assert ei.value.reason is Reason.ORDER_NOT_FOUND


def test_fetch_order_not_found():
    a, fake = make()
    fake.script["fetch_order"] = [ccxt.OrderNotFound('binanceusdm {"code":-2013,"msg":"Order does not exist."}')]
    with pytest.raises(AdapterError) as ei:
        run(a.fetch_order(BTC, "CID"))
    assert ei.value.reason is Reason.ORDER_NOT_FOUND and fake.names().count("fetch_order") == 1


def test_unknown_symbol():
    a, fake = make()
    with pytest.raises(AdapterError) as ei:
        run(a.fetch_order("DOGE/USDT:USDT", "CID"))
    assert ei.value.reason is Reason.UNKNOWN_SYMBOL


# --- cancels --------------------------------------------------------------------------------------------


def _book():
    return [ccxt_order("1", BTC), ccxt_order("2", BTC, reduce_only=True), ccxt_order("3", ETH),
            ccxt_order("4", ETH, reduce_only=True)]


def test_cancel_all_of_a_symbol_uses_cancel_all_orders():
    a, fake = make()
    fake.orders = _book()
    # the generic dialect reads a symbol's cancel as the venue's "all of them", naming none:
    # acknowledged, which only the list read after it confirms (the port's confirmation)
    res = run(a.cancel_orders(CancelSelector(which="all", symbols=(BTC,))))
    assert res.canceled == () and res.acknowledged == ("1", "2") and res.failed == {}
    assert ("cancel_all_orders", (BTC,)) in fake.calls and "cancel_order" not in fake.names()
    fake.orders = _book()
    res = run(confirmed_cancel(a, CancelSelector(which="all", symbols=(BTC,))))
    assert res.canceled == ("1", "2") and res.failed == {} and not res.acknowledged


def test_cancel_all_everywhere_goes_symbol_by_symbol():
    a, fake = make()
    fake.orders = _book()
    res = run(confirmed_cancel(a, CancelSelector()))
    assert sorted(res.canceled) == ["1", "2", "3", "4"]
    assert [c for c in fake.calls if c[0] == "cancel_all_orders"] == [("cancel_all_orders", (BTC,)),
                                                                      ("cancel_all_orders", (ETH,))]


def test_a_cancel_of_a_few_symbols_lists_each_where_one_symbols_list_is_cheap():
    """Binance weighs a symbol's open orders 1 and every symbol's 40: a cancel (and its
    confirmation's list) of two symbols reads the two lists, never every symbol's."""
    a, fake = make()
    fake.orders = _book()
    res = run(confirmed_cancel(a, CancelSelector(which="all", symbols=(BTC, ETH))))
    assert sorted(res.canceled) == ["1", "2", "3", "4"]
    listed = [c[1][0] for c in fake.calls if c[0] == "fetch_open_orders"]
    assert None not in listed and set(listed) == {BTC, ETH}


def test_cancel_entries_leaves_reduce_only_orders():
    a, fake = make()
    fake.orders = _book()
    res = run(a.cancel_orders(CancelSelector(which="entries")))
    assert sorted(res.canceled) == ["1", "3"]
    assert "cancel_all_orders" not in fake.names()
    assert sorted(c[1][0] for c in fake.calls if c[0] == "cancel_order") == ["1", "3"]


def test_cancel_without_cancel_all_support_cancels_each_and_reports_failures():
    fake = FakeExchange("phemex", has={"cancelAllOrders": False})  # a venue without a dialect: no batch
    fake.orders = _book()
    fake.script["cancel_order"] = [{"id": "1"}, ccxt.OrderNotFound("gone")]
    a, _ = make(fake)
    res = run(a.cancel_orders(CancelSelector(which="all", symbols=(BTC,))))
    assert res.canceled == ("1",) and res.failed == {"2": "ORDER_NOT_FOUND"}
    assert "cancel_all_orders" not in fake.names()


def test_cancel_by_ids_uses_the_symbol_of_each_order_and_flags_unknown_ids():
    a, fake = make()
    fake.orders = _book()
    run(a.snapshot())
    res = run(a.cancel_orders(CancelSelector(order_ids=("3", "nope"))))
    assert res.canceled == ("3",) and res.failed == {"nope": "ORDER_NOT_FOUND"}
    assert ("cancel_order", ("3", ETH)) in fake.calls


def test_cancel_listing_failure_raises():
    a, fake = make(max_retries=0)
    fake.script["fetch_open_orders"] = [ccxt.ExchangeNotAvailable("down")]
    with pytest.raises(AdapterError) as ei:
        run(a.cancel_orders(CancelSelector()))
    assert ei.value.reason is Reason.EXCHANGE_UNAVAILABLE


# --- dead man's switch ----------------------------------------------------------------------------------------


def test_binance_countdown_arm_and_disarm_per_symbol():
    fake = FakeExchange(implicit=("fapiPrivatePostCountdownCancelAll",))
    a, _ = make(fake)
    assert a.capabilities.cancel_all_after
    st = run(a.arm_cancel_all_after(60, (BTC, ETH)))
    assert (st.armed, st.seconds) == (True, 60.0)
    st = run(a.disarm_cancel_all_after())
    assert st.armed is False
    calls = [c[1][0] for c in fake.calls if c[0] == "fapiPrivatePostCountdownCancelAll"]
    assert calls == [{"symbol": "BTCUSDT", "countdownTime": 60000}, {"symbol": "ETHUSDT", "countdownTime": 60000},
                     {"symbol": "BTCUSDT", "countdownTime": 0}, {"symbol": "ETHUSDT", "countdownTime": 0}]


def test_binance_countdown_without_symbols_covers_open_orders_and_positions():
    fake = FakeExchange(implicit=("fapiPrivatePostCountdownCancelAll",))
    fake.orders = [ccxt_order("1", ETH)]
    fake.positions = [ccxt_position(BTC)]
    a, _ = make(fake)
    run(a.snapshot())
    st = run(a.arm_cancel_all_after(30.5))
    assert st.armed and st.seconds == 30.5
    calls = [c[1][0] for c in fake.calls if c[0] == "fapiPrivatePostCountdownCancelAll"]
    assert calls == [{"symbol": "BTCUSDT", "countdownTime": 30500}, {"symbol": "ETHUSDT", "countdownTime": 30500}]


def test_binance_countdown_with_nothing_open_arms_nothing():
    fake = FakeExchange(implicit=("fapiPrivatePostCountdownCancelAll",))
    a, _ = make(fake)
    st = run(a.arm_cancel_all_after(30))
    assert st.armed is False and "fapiPrivatePostCountdownCancelAll" not in fake.names()


def test_okx_cancel_all_after_is_clamped_and_disarmed_with_zero():
    fake = FakeExchange("okx", implicit=("privatePostTradeCancelAllAfter",))
    a, _ = make(fake)
    assert a.capabilities.cancel_all_after and a.capabilities.max_client_id_length == 32
    assert run(a.arm_cancel_all_after(5)).seconds == 10.0
    assert run(a.arm_cancel_all_after(600)).seconds == 120.0
    assert run(a.disarm_cancel_all_after()).armed is False
    calls = [c[1][0] for c in fake.calls if c[0] == "privatePostTradeCancelAllAfter"]
    assert calls == [{"timeOut": "10"}, {"timeOut": "120"}, {"timeOut": "0"}]


def test_a_countdown_the_venue_did_not_set_is_not_taken_as_armed():
    """Binance echoes the countdown it set, OKX says when it fires: an answer that names another
    (or says off) is BAD_RESPONSE, never an armed switch."""
    fake = FakeExchange(implicit=("fapiPrivatePostCountdownCancelAll",))
    fake.script["fapiPrivatePostCountdownCancelAll"] = [{"symbol": "BTCUSDT", "countdownTime": "0"}]
    a, _ = make(fake)
    with pytest.raises(AdapterError) as e:
        run(a.arm_cancel_all_after(60, (BTC,)))
    assert e.value.reason is Reason.BAD_RESPONSE and "0 where 60000 was sent" in e.value.message
    fake = FakeExchange("okx", implicit=("privatePostTradeCancelAllAfter",))
    fake.script["privatePostTradeCancelAllAfter"] = [{"code": "0", "data": [{"triggerTime": "0", "ts": "1"}]}]
    a, _ = make(fake)
    with pytest.raises(AdapterError) as e:
        run(a.arm_cancel_all_after(60))
    assert e.value.reason is Reason.BAD_RESPONSE and "triggerTime" in e.value.message


def test_bybit_dcp_only_with_a_declared_websocket():
    fake = FakeExchange("bybit", implicit=("privatePostV5OrderDisconnectedCancelAll",))
    a, _ = make(fake)
    assert not a.capabilities.cancel_all_after
    with pytest.raises(AdapterError) as ei:
        run(a.arm_cancel_all_after(30))
    assert ei.value.reason is Reason.UNSUPPORTED
    a, _ = make(fake, bybit_dcp_websocket=True)
    assert a.capabilities.cancel_all_after
    assert run(a.arm_cancel_all_after(1)).seconds == 3.0
    assert fake.calls[-1] == ("privatePostV5OrderDisconnectedCancelAll", ({"product": "DERIVATIVES", "timeWindow": 3},))
    with pytest.raises(AdapterError) as ei:
        run(a.disarm_cancel_all_after())
    assert ei.value.reason is Reason.UNSUPPORTED


@pytest.mark.parametrize("venue,market_type", [("kucoin", "spot"), ("binance", "spot"), ("gate", "futures")])
def test_no_native_dms_is_unsupported(venue, market_type):
    fake = FakeExchange(venue, markets=SPOT_MARKETS if market_type == "spot" else FUTURES_MARKETS,
                        implicit=("fapiPrivatePostCountdownCancelAll",) if venue == "binance" else ())
    a, _ = make(fake, acct=account(venue, market_type=market_type))
    assert not a.capabilities.cancel_all_after
    for call in (a.arm_cancel_all_after(30), a.disarm_cancel_all_after()):
        with pytest.raises(AdapterError) as ei:
            run(call)
        assert ei.value.reason is Reason.UNSUPPORTED
    assert fake.calls == []


def test_ccxt_has_the_implicit_methods_used():
    assert hasattr(ccxt_async.binanceusdm, "fapiPrivatePostCountdownCancelAll")
    assert hasattr(ccxt_async.binancecoinm, "dapiPrivatePostCountdownCancelAll")
    assert hasattr(ccxt_async.okx, "privatePostTradeCancelAllAfter")
    assert hasattr(ccxt_async.bybit, "privatePostV5OrderDisconnectedCancelAll")


def test_capabilities_follow_ccxt_has_flags():
    fake = FakeExchange("somevenue", has={"fetchPositions": False, "closePosition": True})
    a, _ = make(fake)
    assert not a.capabilities.positions and a.capabilities.close_position
    s = run(a.snapshot())
    assert s.fetch.error_code == "UNSUPPORTED"


def test_close_closes_the_session():
    a, fake = make()
    run(a.close())
    assert fake.closed


# --- real ccxt request building (HTTP replaced) ---------------------------------------------------------------


class Wire:
    """Replaces a real ccxt exchange's HTTP ``fetch``: records requests, answers from ``routes``."""

    def __init__(self, ex, routes):
        self.ex, self.routes, self.seen = ex, routes, []
        ex.fetch = self.fetch

    async def fetch(self, url, method="GET", headers=None, body=None):
        parts = urlsplit(url)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        params.update({k: v[0] for k, v in parse_qs(body or "").items()})
        self.seen.append((method, parts.path, params, headers or {}))
        for fragment, answer in self.routes.items():
            if fragment in parts.path:
                return answer(params) if callable(answer) else answer  # (an answer that echoes the request)
        raise AssertionError(f"unexpected request {method} {parts.path}")


def test_binance_hedge_close_on_the_wire():
    ex = real_binance()
    wire = Wire(ex, {"/fapi/v1/order": {
        "orderId": 42, "symbol": "BTCUSDT", "status": "FILLED", "clientOrderId": "CID", "price": "0",
        "avgPrice": "50000", "origQty": "0.2", "executedQty": "0.2", "cumQuote": "10000", "timeInForce": "GTC",
        "type": "MARKET", "reduceOnly": False, "side": "SELL", "positionSide": "LONG", "updateTime": 1700000000000}})
    a = CcxtAdapter(account(hedge_mode=True), exchange_factory=lambda cfg: ex)
    a._positions = {(BTC, "long"): a._parse_position(ccxt_position(info={"positionSide": "LONG"}))}
    a._positions_all_at = time.monotonic()
    res = run(a.submit(intent(position_side="LONG", cid="CID")))
    [(method, path, params, headers)] = wire.seen
    assert (method, path) == ("POST", "/fapi/v1/order")
    assert params["positionSide"] == "LONG" and "reduceOnly" not in params
    assert (params["side"], params["type"], params["quantity"], params["newClientOrderId"]) == \
        ("SELL", "MARKET", "0.2", "CID")
    assert headers["X-MBX-APIKEY"] == API_KEY and "signature" in params
    assert (res.order_id, res.status, res.filled) == ("42", "filled", 0.2)
    run(ex.close())


def test_binance_one_way_limit_ioc_on_the_wire():
    ex = real_binance()
    wire = Wire(ex, {"/fapi/v1/order": {
        "orderId": 43, "symbol": "BTCUSDT", "status": "EXPIRED", "clientOrderId": "CID", "price": "49000.1",
        "avgPrice": "49000.1", "origQty": "0.2", "executedQty": "0.1", "cumQuote": "4900", "timeInForce": "IOC",
        "type": "LIMIT", "reduceOnly": True, "side": "SELL", "positionSide": "BOTH", "updateTime": 1700000000000}})
    a = CcxtAdapter(account(), exchange_factory=lambda cfg: ex)
    a._positions = {(BTC, "long"): a._parse_position(ccxt_position())}
    a._positions_all_at = time.monotonic()
    res = run(a.submit(intent(limit_price=49000.01, cid="CID")))
    [(_, _, params, _)] = wire.seen
    assert (params["type"], params["timeInForce"], params["price"], params["reduceOnly"]) == \
        ("LIMIT", "IOC", "49000.1", "true")
    assert "positionSide" not in params
    assert (res.status, res.filled) == ("expired", 0.1)
    run(ex.close())


def test_binance_countdown_on_the_wire():
    ex = real_binance()
    echo = {"/fapi/v1/countdownCancelAll": lambda q: {"symbol": "BTCUSDT", "countdownTime": q["countdownTime"]}}
    wire = Wire(ex, echo)
    a = CcxtAdapter(account(), exchange_factory=lambda cfg: ex)
    run(a.arm_cancel_all_after(60, (BTC,)))
    run(a.disarm_cancel_all_after((BTC,)))
    assert [(m, p, {k: v for k, v in q.items() if k in ("symbol", "countdownTime")}) for m, p, q, _ in wire.seen] == [
        ("POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": "60000"}),
        ("POST", "/fapi/v1/countdownCancelAll", {"symbol": "BTCUSDT", "countdownTime": "0"}),
    ]
    run(ex.close())


def test_okx_cancel_all_after_on_the_wire():
    ex = ccxt_async.okx({"apiKey": API_KEY, "secret": API_SECRET, "password": PASSPHRASE})
    ex.set_markets([market(BTC, "BTC-USDT-SWAP")])
    seen = []

    async def fetch(url, method="GET", headers=None, body=None):
        seen.append((method, urlsplit(url).path, json.loads(body or "{}")))
        return {"code": "0", "msg": "", "data": [{"triggerTime": "1700000060", "ts": "1700000000"}]}

    ex.fetch = fetch
    a = CcxtAdapter(account("okx"), exchange_factory=lambda cfg: ex)
    run(a.arm_cancel_all_after(60))
    assert seen == [("POST", "/api/v5/trade/cancel-all-after", {"timeOut": "60"})]
    run(ex.close())


# --- end to end over HTTP on 127.0.0.1 ------------------------------------------------------------------


def test_urls_override_against_a_local_stub(caplog):
    """A real ccxt binanceusdm pointed at an aiohttp stub: the request arrives, the venue's
    reduce-only refusal becomes REDUCE_ONLY_REJECTED, and neither the message nor any log line
    (ccxt's DEBUG request log included) carries the key, the secret or the signature."""
    from aiohttp import web

    caplog.set_level(logging.DEBUG)
    seen = []

    async def handle(request):
        seen.append((request.method, request.path, request.headers.get("X-MBX-APIKEY")))
        if request.path == "/fapi/v1/order":
            return web.json_response({"code": -2022, "msg": "ReduceOnly Order is rejected."}, status=400)
        return web.json_response({"code": -1000, "msg": "unexpected"}, status=400)

    async def go():
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        ex_holder = {}

        def factory(cfg):
            ex = ccxt_async.binanceusdm(cfg)
            ex.set_markets([market()])
            ex_holder["ex"] = ex
            return ex

        a = CcxtAdapter(account(), urls=f"http://127.0.0.1:{port}", exchange_factory=factory, timeout=5)
        a._positions = {(BTC, "long"): a._parse_position(ccxt_position())}
        a._positions_all_at = time.monotonic()
        try:
            with pytest.raises(AdapterError) as ei:
                await a.submit(intent())
        finally:
            await a.close()
            await runner.cleanup()
        return ei.value

    err = run(go())
    assert err.reason is Reason.REDUCE_ONLY_REJECTED
    assert seen == [("POST", "/fapi/v1/order", API_KEY)]
    for text in (str(err), repr(err), caplog.text):
        assert API_KEY not in text and API_SECRET not in text and "signature=" not in text.replace("signature=****", "")


def test_binance_usdm_orders_are_paced_by_our_budget_not_ccxts_weight_limiter():
    """Binance USD-M orders weigh 0 on the IP weight limit; ccxt charges 4 units, which would
    pace closes at ~5/s. The adapter's OrderBudget paces them instead."""
    import ccxt.async_support as ccxt_async  # noqa: F401 - real ccxt cost tables

    from adapters.ccxt_exchange import CcxtAdapter
    from killswitch.policy.accounts_doc import Account

    acc = Account.model_validate({"name": "m", "venue": "binanceusdm", "market_type": "futures"})
    ad = CcxtAdapter(acc, urls="http://127.0.0.1:9")
    ex = ad._ex
    assert ex.calculate_rate_limiter_cost(["fapiPrivate"], "POST", "order", {}, {"cost": 4}) == 0
    assert ex.calculate_rate_limiter_cost(["fapiPrivate"], "DELETE", "order", {}, {"cost": 1}) == 0
    assert ex.calculate_rate_limiter_cost(["fapiPrivate"], "GET", "openOrders", {}, {"cost": 1, "noSymbol": 40}) == 40
    # the snapshot's reads at the venue's published weights (ccxt's table says 1)
    for path in ("account", "positionRisk"):
        assert ex.calculate_rate_limiter_cost("fapiPrivateV3", "GET", path, {}, {"cost": 1}) == 5
    other = CcxtAdapter(Account.model_validate({"name": "o", "venue": "okx", "market_type": "futures"}),
                        urls="http://127.0.0.1:9")
    # OKX's trade endpoints count against its per-UID trade limits too (the order budget), its
    # reads keep ccxt's own cost
    assert other._ex.calculate_rate_limiter_cost(["private"], "POST", "trade/order", {}, {"cost": 2}) == 0
    assert other._ex.calculate_rate_limiter_cost(["private"], "GET", "account/positions", {}, {"cost": 2}) == 2
    import asyncio

    asyncio.run(ad.close())
    asyncio.run(other.close())


# --- the caller's send gate, asked as the order leaves ---------------------------------------------------


def test_an_order_whose_position_read_outlasts_the_send_gate_is_never_sent():
    """A close whose known position is stale reads it again before sending: that read may take
    longer than what is left of the caller's term. The gate is asked after it, as the request
    leaves: nothing reaches the venue, and the caller learns it as SendWithheld, not as a
    refusal of the venue."""
    from adapters.base import SendWithheld, send_gate

    a, fake = make(position_max_age_s=0.0)
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.snapshot())
    fake.calls.clear()
    term = {"open": True}

    async def slow_read(symbols):
        await asyncio.sleep(0.01)
        term["open"] = False  # the term ran out while the venue answered
        return [ccxt_position(contracts=0.5)]

    fake.script["fetch_positions"] = [slow_read]

    async def go():
        with send_gate(lambda: term["open"]):
            await a.submit(intent(amount=0.2))

    with pytest.raises(SendWithheld):
        run(go())
    assert fake.names() == ["fetch_positions"], "the order left after the gate closed"


def test_the_request_pacer_asks_the_send_gate_after_its_wait(monkeypatch):
    """The request pacer in debt makes a request under the send gate wait inside ccxt, after the
    adapter's own look: it asks the gate again once its wait is over (an order itself costs no
    weight and goes at once, asking the gate as it goes). A read, with no gate open, only waits."""
    from adapters.base import SendWithheld, send_gate
    from adapters.ccxt_exchange.budget import RequestPacer

    now = [0.0]
    term = {"open": True}
    real_sleep = asyncio.sleep

    async def fake_sleep(delay):
        now[0] += delay
        term["open"] = now[0] < 1.0
        await real_sleep(0)

    monkeypatch.setattr("adapters.ccxt_exchange.budget.asyncio.sleep", fake_sleep)
    pacer = RequestPacer(20.0, capacity=10.0, clock=lambda: now[0])

    async def go():
        await pacer(50)  # in debt by 40: the next request waits 2 s
        with send_gate(lambda: term["open"]):
            await pacer(0)  # an order: no weight, no wait (the gate is open now)
            assert now[0] == 0.0
            with pytest.raises(SendWithheld):
                await pacer(1)
        assert pacer.tokens == pytest.approx(0.0)  # the held-back request spent nothing
        await pacer(1)  # no gate: a read goes
        assert pacer.tokens == pytest.approx(-1.0)

    run(go())


def test_an_order_is_sent_while_the_send_gate_is_open():
    from adapters.base import send_gate

    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.snapshot())

    async def go():
        with send_gate(lambda: True):
            return await a.submit(intent(amount=0.2))

    assert run(go()).status == "filled" and fake.names().count("create_order") == 1
