"""The requests real ccxt builds (its HTTP replaced), one end to end over HTTP on 127.0.0.1,
and the caller's send gate asked as an order leaves."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import parse_qs, urlsplit

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange import CcxtAdapter

from ..fake import (
    API_KEY,
    API_SECRET,
    BTC,
    PASSPHRASE,
    account,
    ccxt_position,
    intent,
    make,
    market,
    real_binance,
    run,
)

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
