"""Kraken Futures through the real ccxt client and the adapter, answered with what ccxt recorded
from the venue (adapters/venues/krakenfutures/fixtures/ccxt-static-krakenfutures.json, verbatim,
naming its commits: an open position, an open order, the requests of a close, a cancel and the
dead man's switch) and, where nothing was recorded, Kraken's documented answers
(fixtures/documented.json, each case saying whether it is printed so or built on the documented
fields). The snapshot is checked field by field, and the requests ccxt sends path by path."""

from __future__ import annotations

import json
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.deferred import unreadable_snapshot
from adapters.venues.krakenfutures.dialect import KrakenFuturesDialect
from killswitch.orders import OrderIntent
from killswitch.policy.accounts_doc import Account
from tests.unit.adapters.ccxt.fake import market, run
from tests.unit.adapters.venues.answered import PathVenue, answered_adapter
from tests.venue_fixtures import recorded

RECORDED = json.loads(recorded("krakenfutures").read_text())
LTC, BTC, XRP, BTC_INV = "LTC/USD:USD", "BTC/USD:USD", "XRP/USD:USD", "BTC/USD:BTC"


def documented(name: str) -> dict:
    path = recorded("krakenfutures").parent / "documented.json"
    return json.loads(path.read_text())["cases"][name]["body"]


def case(name: str) -> dict:
    return RECORDED["cases"][name]


def ticker_row(symbol: str, mark) -> dict:
    """A row of GET /tickers: the documented ticker (get-ticker-by-symbol, verbatim) with the
    symbol and mark of the contract a test holds (the documented example names pi_xbtusd)."""
    return dict(documented("ticker")["ticker"], symbol=symbol, markPrice=mark)


def tickers(*rows) -> dict:
    return {"result": "success", "tickers": list(rows), "serverTime": "2024-02-06T22:25:22.290Z"}


class KrakenVenue(PathVenue):
    """Answers ccxt's krakenfutures: the recorded bodies where ccxt recorded them, the documented
    ones elsewhere; ``answers`` overrides a path's body."""

    def __init__(self, **answers):
        super().__init__({
            "/derivatives/api/v3/accounts": documented("accounts"),
            "/derivatives/api/v3/openpositions": case("fetchPositions")["httpResponse"],
            "/derivatives/api/v3/tickers": tickers(ticker_row("PF_LTCUSD", 70.0), ticker_row("PF_XBTUSD", 43000.0),
                                                   {"symbol": "in_xbtusd", "last": 43000.0, "tag": "index"}),
            "/derivatives/api/v3/openorders": case("fetchOpenOrders")["httpResponse"],
            "/derivatives/api/v3/sendorder": documented("sendorder placed"),
            "/derivatives/api/v3/cancelorder": documented("cancelorder"),
            "/derivatives/api/v3/cancelallorders": documented("cancelallorders"),
            "/derivatives/api/v3/cancelallordersafter": documented("cancelallordersafter"),
            **{f"/derivatives/api/v3/{k}": v for k, v in answers.items()},
        })


def kraken_markets() -> list:
    inv = market(BTC_INV, "PI_XBTUSD", amount_step=1, price_step=0.5, min_amount=1)
    inv.update(settle="BTC", settleId="BTC", linear=False, inverse=True)
    out = [market(LTC, "PF_LTCUSD", amount_step=0.1, price_step=0.01, min_amount=0.1),
           market(BTC, "PF_XBTUSD", amount_step=0.0001, price_step=1, min_amount=0.0001),
           market(XRP, "PF_XRPUSD", amount_step=1, price_step=0.0001, min_amount=1), inv]
    for m in out:
        m["quoteId"] = "USD"
    return out


def kraken_account(**extra) -> Account:
    return Account.model_validate({
        "name": "main", "venue": "krakenfutures", "market_type": "futures", "quote_currency": "USD",
        "credentials": {"api_key": {"env": "KS_TEST_KEY"}, "secret": {"env": "KS_TEST_SECRET"}}, **extra})


def kraken_adapter(venue: KrakenVenue, acc: Optional[Account] = None, **kw) -> CcxtAdapter:
    def client(config: dict):
        ex = ccxt_async.krakenfutures(config)
        ex.set_markets(kraken_markets())
        return ex

    return answered_adapter(venue, client, acc or kraken_account(), **kw)


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    monkeypatch.setenv("KS_TEST_KEY", "k")
    monkeypatch.setenv("KS_TEST_SECRET", "c2VjcmV0")  # Kraken's secret is base64


def snapshot(venue: KrakenVenue):
    a = kraken_adapter(venue)
    try:
        return run(a.snapshot())
    finally:
        run(a.close())


def test_krakenfutures_has_its_own_dialect():
    d = dialect_for("krakenfutures")
    assert isinstance(d, KrakenFuturesDialect)
    assert (d.client_id_param, d.max_client_id_length, d.limits.orders) == ("cliOrdId", 100, 4.0)


def test_the_recorded_position_is_valued_at_its_tickers_mark_and_the_recorded_order_keeps_its_limit_price():
    venue = KrakenVenue()
    snap = snapshot(venue)
    assert snap.fetch.ok, snap.fetch
    # the documented flex account's portfolioValue (collateral value with the unrealized PnL)
    assert snap.equity == pytest.approx(34995.52)
    [p] = snap.positions
    # the recorded long 0.1 LTC at 68.54 (openpositions gives no mark): valued at the ticker's 70
    assert (p.symbol, p.side, p.contracts, p.entry_price, p.mark_price) == (LTC, "long", 0.1, 68.54, 70.0)
    assert p.notional == pytest.approx(7.0)
    assert p.unrealized_pnl == pytest.approx((70.0 - 68.54) * 0.1)
    [o] = snap.orders
    # the recorded resting limit buy: its limitPrice "50", which ccxt's unified price leaves out
    assert (o.id, o.symbol, o.side, o.kind, o.amount, o.price, o.trigger_price, o.reduce_only) == (
        "6e88d923-630d-40aa-af4f-64e5e2b3ad03", LTC, "buy", "regular", 0.1, 50.0, None, False)
    paths = sorted({p for _, p, _ in venue.requests})
    assert paths == ["/derivatives/api/v3/accounts", "/derivatives/api/v3/openorders",
                     "/derivatives/api/v3/openpositions", "/derivatives/api/v3/tickers"]


def test_an_account_that_declares_no_quote_currency_is_the_venues_usd_never_usdt():
    """Issue 81: a Kraken Futures account without ``quote_currency`` was shown in USDT; its flex
    account is valued in USD, which the dialect says (another venue's stays USDT)."""
    acc = kraken_account(quote_currency=None)
    a = kraken_adapter(KrakenVenue(), acc)
    try:
        snap = run(a.snapshot())
    finally:
        run(a.close())
    assert snap.fetch.ok and snap.quote_currency == "USD", snap
    # an account whose credential cannot be read yet: its failed snapshot says the same
    failed = unreadable_snapshot(acc, AdapterError(Reason.AUTH, "KS_TEST_KEY not set"), 0)
    assert failed.quote_currency == "USD"
    other = Account.model_validate({"name": "main", "venue": "binanceusdm", "market_type": "futures"})
    assert unreadable_snapshot(other, AdapterError(Reason.AUTH, "x"), 0).quote_currency == "USDT"


def test_a_position_whose_contract_has_no_ticker_fails_the_snapshot_naming_it():
    """Blind for that contract, said: never a position valued at nothing."""
    for rows in ([ticker_row("PF_XBTUSD", 43000.0)], [ticker_row("PF_LTCUSD", None)], [ticker_row("PF_LTCUSD", 0)]):
        snap = snapshot(KrakenVenue(tickers=tickers(*rows)))
        assert not snap.fetch.ok
        assert snap.fetch.error_code == Reason.BAD_RESPONSE.value
        assert "PF_LTCUSD" in snap.fetch.error and "tickers" in snap.fetch.error
        assert snap.equity is None


def test_a_tickers_answer_without_its_list_fails_the_snapshot():
    snap = snapshot(KrakenVenue(tickers={"result": "success", "serverTime": "2024-02-06T22:25:22.290Z"}))
    assert not snap.fetch.ok and snap.fetch.error_code == "BAD_RESPONSE" and "field tickers" in snap.fetch.error


def test_an_inverse_position_is_valued_in_the_quote_currency():
    row = {"side": "short", "symbol": "PI_XBTUSD", "price": "40000", "fillTime": "2024-02-06T22:24:34.849Z",
           "size": "1000", "unrealizedFunding": "0"}  # the recorded row's fields, on the inverse contract
    snap = snapshot(KrakenVenue(openpositions={"result": "success", "openPositions": [row]},
                                tickers=tickers(ticker_row("PI_XBTUSD", 44000.0))))
    assert snap.fetch.ok, snap.fetch
    [p] = snap.positions
    assert (p.symbol, p.side, p.contracts, p.mark_price, p.notional) == (BTC_INV, "short", 1000.0, 44000.0, 1000.0)
    assert p.unrealized_pnl == pytest.approx(-1000.0 * (44000.0 / 40000.0 - 1.0))


def test_the_documented_open_orders_and_a_stop_read_with_their_prices_and_reduce_only_flags():
    stop = {"order_id": "aa0c8b49-b8d4-4d9d-9b3d-ad4c7b0ba1b1", "symbol": "PF_XBTUSD", "side": "sell",
            "orderType": "stp", "limitPrice": 39000, "stopPrice": 40000, "unfilledSize": 0.5,
            "receivedTime": "2019-09-05T17:01:17.410Z", "status": "untouched", "filledSize": 0, "reduceOnly": True,
            "triggerSignal": "mark_price", "lastUpdateTime": "2019-09-05T17:01:17.410Z"}  # the documented row's fields
    trail = dict(stop, order_id="aa0c8b49-b8d4-4d9d-9b3d-ad4c7b0ba1b2", orderType="trailing_stop", limitPrice=None,
                 stopPrice=None)
    listed = dict(documented("openorders"))
    listed["openOrders"] = listed["openOrders"] + [stop, trail]
    snap = snapshot(KrakenVenue(openorders=listed))
    assert snap.fetch.ok, snap.fetch
    got = {o.id: (o.side, o.kind, o.amount, o.price, o.trigger_price, o.reduce_only) for o in snap.orders}
    assert got == {
        "59302619-41d2-4f0b-941f-7e7914760ad3": ("sell", "regular", 304.0, 10640.0, None, True),
        "022774bc-2c4a-4f26-9317-436c8d85746d": ("buy", "regular", 1501.0, 7200.0, None, False),
        "aa0c8b49-b8d4-4d9d-9b3d-ad4c7b0ba1b1": ("sell", "conditional", 0.5, 39000.0, 40000.0, True),
        "aa0c8b49-b8d4-4d9d-9b3d-ad4c7b0ba1b2": ("sell", "trailing", 0.5, None, None, True),
    }


@pytest.mark.parametrize("field,value,said", [
    ("orderType", "iceberg", "field orderType: unknown value 'iceberg'"),
    ("reduceOnly", None, "field reduceOnly: missing"),
])
def test_an_open_order_row_not_understood_fails_the_snapshot(field, value, said):
    body = json.loads(json.dumps(case("fetchOpenOrders")["httpResponse"]))
    body["openOrders"][0][field] = value
    snap = snapshot(KrakenVenue(openorders=body))
    assert not snap.fetch.ok and snap.fetch.error_code == "BAD_RESPONSE"
    assert "openorders" in snap.fetch.error and said in snap.fetch.error


def test_a_flex_account_without_its_portfolio_value_fails_the_snapshot():
    body = json.loads(json.dumps(documented("accounts")))
    del body["accounts"]["flex"]["portfolioValue"]
    snap = snapshot(KrakenVenue(accounts=body))
    assert not snap.fetch.ok and snap.fetch.error_code == "BAD_RESPONSE"
    assert "accounts.flex.portfolioValue: missing" in snap.fetch.error


# --- writes --------------------------------------------------------------------------------------


def close(amount=0.1, limit=None, cid="ks1a"):
    return OrderIntent(decision_id="d1", client_order_id=cid, venue="krakenfutures", account="main", symbol=LTC,
                       side="sell", position_side=None, amount=amount, reduce_only=True, limit_price=limit,
                       notional=amount * 70.0, chunk=1, chunks=1, not_before_ms=0, action="close_all", reason="test")


def submit(venue: KrakenVenue, intent: OrderIntent):
    a = kraken_adapter(venue)
    try:
        return run(a.submit(intent))
    finally:
        run(a.close())


def test_a_close_is_sent_as_ccxt_records_a_reduce_only_order_with_its_client_id():
    recorded_close = dict(parse_qsl(urlsplit(RECORDED["requests"]["createOrder reduceOnly"]["url"]).query))
    recorded_cid = dict(parse_qsl(urlsplit(RECORDED["requests"]["createOrder clientOrderId"]["url"]).query))
    venue = KrakenVenue()
    result = submit(venue, close())
    [sent] = [q for m, p, q in venue.requests if p.endswith("/sendorder")]
    assert set(sent) == set(recorded_close) | {"cliOrdId"}
    assert (sent["orderType"], sent["reduceOnly"], sent["cliOrdId"], sent["side"], sent["size"]) == (
        recorded_close["orderType"], recorded_close["reduceOnly"], "ks1a", "sell", "0.1")
    assert "cliOrdId" in recorded_cid  # the venue's own key of the client order id
    assert result.order_id == "salf320-e337-47ac-b345-30sdfsalj"


def test_a_limit_close_goes_as_an_ioc_not_a_resting_limit():
    venue = KrakenVenue()
    submit(venue, close(limit=69.0))
    [sent] = [q for m, p, q in venue.requests if p.endswith("/sendorder")]
    assert (sent["orderType"], sent["limitPrice"], sent["reduceOnly"]) == ("ioc", "69", "true")


@pytest.mark.parametrize("status,reason,kind", [
    ("wouldNotReducePosition", "REDUCE_ONLY_REJECTED", "permanent"),
    ("iocWouldNotExecute", "INVALID_ORDER", "transient"),
    ("insufficientAvailableFunds", "INSUFFICIENT_MARGIN", "transient"),
    ("marketSuspended", "EXCHANGE_UNAVAILABLE", "transient"),
    ("tooManySmallOrders", "INVALID_ORDER", "transient"),
    ("postWouldExecute", "INVALID_ORDER", "transient"),
    ("maxPositionViolation", "INVALID_ORDER", "permanent"),
    ("aNewStatus", "VENUE_REFUSED", "permanent"),
])
def test_a_close_answered_success_with_a_refused_send_status_raises_the_venues_status(status, reason, kind):
    """Kraken answers HTTP 200 result success with the refusal in sendStatus: never an order sent."""
    body = json.loads(json.dumps(documented("sendorder refused")))
    body["sendStatus"]["status"] = status
    with pytest.raises(AdapterError) as e:
        submit(KrakenVenue(sendorder=body), close())
    err = e.value
    assert err.reason.value == reason
    assert err.refusal is not None
    assert (err.refusal.code, err.refusal.reason, err.refusal.kind) == (status, reason, kind)
    assert status in err.message


def test_a_send_status_without_its_status_is_bad_response():
    with pytest.raises(AdapterError) as e:
        submit(KrakenVenue(sendorder={"result": "success", "sendStatus": {"order_id": "x", "orderEvents": []}}),
               close())
    assert e.value.reason is Reason.BAD_RESPONSE and "sendStatus.status: missing" in e.value.message


def test_an_error_body_is_read_with_the_venues_words():
    """ccxt raises a Kraken error body as ``krakenfutures {body}``: the dialect reads its error."""
    body = documented("error")
    ex = ccxt_async.krakenfutures({})
    try:
        with pytest.raises(ccxt_async.RateLimitExceeded) as e:
            ex.handle_errors(200, "OK", "https://futures.kraken.com/derivatives/api/v3/sendorder", "POST", {},
                             json.dumps(body), body, None, None)
    finally:
        run(ex.close())
    refusal = dialect_for("krakenfutures").venue_refusal(str(e.value))
    assert refusal is not None
    assert (refusal.code, refusal.reason, refusal.kind) == ("apiLimitExceeded", "RATE_LIMITED", "transient")


def test_a_cancel_ccxt_raised_for_reads_the_status_it_names():
    """ccxt raises a cancelorder answered notFound or filled as text alone (``failed due to``)."""
    d = dialect_for("krakenfutures")
    for status in ("notFound", "filled"):
        refusal = d.venue_refusal(f"krakenfutures: cancelOrder failed due to {status}")
        assert refusal is not None and (refusal.code, refusal.reason) == (status, "ORDER_NOT_FOUND")
        assert refusal.message.startswith("the order was")


def listed_orders(*ids) -> dict:
    rows = [dict(case("fetchOpenOrders")["httpResponse"]["openOrders"][0], order_id=i, symbol="PF_XRPUSD")
            for i in ids]
    return {"result": "success", "openOrders": rows, "serverTime": "2024-02-08T12:44:24.316Z"}


def test_a_symbols_cancel_goes_through_cancelallorders_read_raw():
    venue = KrakenVenue(openorders=listed_orders("272fd0ac-45c0-4003-b84d-d39b9e86bd36", "second"))
    a = kraken_adapter(venue)
    try:
        run(a.cancel_orders(CancelSelector(symbols=(XRP,), which="all")))
    finally:
        run(a.close())
    [sent] = [q for m, p, q in venue.requests if p.endswith("/cancelallorders")]
    assert sent == {"symbol": "PF_XRPUSD"}


def test_a_cancel_answered_not_found_carries_the_venues_status():
    body = {"result": "success", "cancelStatus": {"status": "notFound", "receivedTime": "2020-07-22T13:26:20.806Z",
                                                  "orderEvents": []}, "serverTime": "2020-07-22T13:26:20.806Z"}
    venue = KrakenVenue(cancelorder=body)
    a = kraken_adapter(venue)
    try:
        got = run(a.cancel_orders(CancelSelector(order_ids=("6e88d923-630d-40aa-af4f-64e5e2b3ad03",))))
    finally:
        run(a.close())
    assert got.canceled == ()
    assert got.failed == {"6e88d923-630d-40aa-af4f-64e5e2b3ad03": "ORDER_NOT_FOUND"}
    recorded_cancel = dict(parse_qsl(urlsplit(RECORDED["requests"]["cancelOrder"]["url"]).query))
    assert [q for m, p, q in venue.requests if p.endswith("/cancelorder")][0] == recorded_cancel


def test_the_dead_mans_switch_is_armed_and_disarmed_as_ccxt_records_it():
    venue = KrakenVenue()
    a = kraken_adapter(venue)
    try:
        armed = run(a.arm_cancel_all_after(10))
        venue.answers["/derivatives/api/v3/cancelallordersafter"] = documented("cancelallordersafter off")
        off = run(a.disarm_cancel_all_after())
    finally:
        run(a.close())
    assert (armed.armed, armed.seconds, off.armed) == (True, 10.0, False)
    sent = [q for m, p, q in venue.requests if p.endswith("/cancelallordersafter")]
    assert sent == [dict(parse_qsl(urlsplit(RECORDED["requests"][k]["url"]).query))
                    for k in ("cancelAllOrdersAfter", "cancelAllOrdersAfter off")]


def test_a_dead_mans_switch_answer_without_its_trigger_time_is_not_read_as_armed():
    venue = KrakenVenue(cancelallordersafter={"result": "success", "serverTime": "2018-06-19T16:51:23.839Z"})
    a = kraken_adapter(venue)
    try:
        with pytest.raises(AdapterError) as e:
            run(a.arm_cancel_all_after(60))
    finally:
        run(a.close())
    assert e.value.reason is Reason.BAD_RESPONSE and "status.triggerTime: missing" in e.value.message


def test_the_requests_cost_the_keys_budget_as_kraken_publishes_it():
    """https://docs.kraken.com/api/docs/guides/futures-rate-limits/: 500 every 10 s a key;
    sendorder, cancelorder 10, cancelallorders and cancelallordersafter 25, accounts,
    openpositions, openorders 2, a batch 9 + its size; public endpoints nothing. The order rate
    (4 a second, 400 of the 500) leaves the reads 10 a second, which the client is paced at."""
    d = dialect_for("krakenfutures")
    costs = {path: d.request_weight("private", "POST", path, {}, 1.0)
             for path in ("sendorder", "cancelorder", "cancelallorders", "cancelallordersafter")}
    costs.update({path: d.request_weight("private", "GET", path, {}, 1.0)
                  for path in ("accounts", "openpositions", "openorders", "orders/status")})
    assert costs == {"sendorder": 10, "cancelorder": 10, "cancelallorders": 25, "cancelallordersafter": 25,
                     "accounts": 2, "openpositions": 2, "openorders": 2, "orders/status": 1}
    assert d.request_weight("private", "POST", "batchorder", {"batchOrder": [{}] * 10}, 1.0) == 19
    assert d.request_weight("public", "GET", "tickers", {}, 1.0) == 0
    assert d.limits.orders * 10 * 10 + 10 * 10 == 500  # orders and reads within the key's 500 every 10 s
    a = kraken_adapter(KrakenVenue())
    try:
        assert a._ex.rateLimit == 100 and a._ex.throttle.rate == pytest.approx(10.0)
        assert d.snapshot_cost("futures").full == 6
    finally:
        run(a.close())
