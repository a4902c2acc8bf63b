"""MEXC spot through the real ccxt client (``ccxt.async_support.mexc``) and the adapter, answered
with MEXC's documented spot answers (adapters/venues/mexc/fixtures/spot-docs.json, each case
saying whether it is printed so or built on the documented fields) and ccxt's one recorded spot
order row (fixtures/ccxt-static-mexc.json); the requests ccxt sends are held to its recorded
spot requests (fixtures/ccxt-static-request-mexc-spot.json, verbatim). Every answer passes ccxt's
own error check of a body (tests/unit/adapters/venues/answered.py), as the venue's would: a
``code`` and ``msg`` inside HTTP 200 is a refusal."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

import ccxt.async_support as ccxt_async
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter, dialect_for
from adapters.venues.mexc.dialect import spot as dialect_spot
from killswitch.orders import OrderIntent
from killswitch.policy.accounts_doc import Account
from tests.unit.adapters.ccxt.fake import market
from tests.unit.adapters.venues import answered
from tests.unit.adapters.venues.answered import ENGINE_ID, PathVenue, answered_adapter, sale
from tests.venue_fixtures import fixture, recorded

DOCS = json.loads(fixture("spot-docs.json").read_text())["cases"]
REQUESTS = json.loads(fixture("ccxt-static-request-mexc-spot.json").read_text())["cases"]
RECORDED_ROW = json.loads(recorded("mexc").read_text())["cases"]["fetchOrders"]["httpResponse"][0]
BTC, ETH, LTC_BTC, ATLAS = "BTC/USDT", "ETH/USDT", "LTC/BTC", "ATLAS/USDT"
SKIPPED = {"timestamp", "signature", "recvWindow"}  # ccxt's skipped keys, and the window it always sends


def documented(name: str):
    return copy.deepcopy(DOCS[name]["body"])


def recorded_query(name: str) -> dict:
    """The query string of ccxt's recorded spot request ``name``, its skipped keys left out."""
    return {k: v for k, v in parse_qsl(urlsplit(REQUESTS[name]["url"]).query) if k not in SKIPPED}


def account_of(**held: tuple[str, str]) -> dict:
    """GET /api/v3/account's documented answer holding ``held`` (asset → (free, locked))."""
    body = documented("account")
    body["balances"] = [{"asset": a, "free": f, "locked": lk} for a, (f, lk) in held.items()]
    return body


class MexcSpotVenue(PathVenue):
    """Answers ccxt's mexc spot by path: the documented bodies; ``answers`` overrides a path's body
    (``ticker__price``: /api/v3/ticker/price; a tuple: one body a call, in turn), ``by_method`` a
    ``METHOD path``'s. A request sends its query, signed but for the public price ticker."""

    def __init__(self, by_method: Optional[dict] = None, **answers):
        super().__init__({
            "/api/v3/account": documented("account held"),
            "/api/v3/ticker/price": documented("ticker/price one"),
            "/api/v3/openOrders": [],
            **{"/api/v3/" + k.replace("__", "/"): v for k, v in answers.items()},
            **(by_method or {}),
        })

    def params(self, url: str, body: Optional[str]) -> dict:
        assert "signature" in url or urlsplit(url).path == "/api/v3/ticker/price"  # the private ones signed
        return {k: v for k, v in super().params(url, body).items() if k not in SKIPPED}


def spot_markets() -> list:
    return [market(BTC, "BTCUSDT", amount_step=0.000001, price_step=0.01, min_amount=0.000001, min_cost=1, spot=True),
            market(ETH, "ETHUSDT", amount_step=0.0001, price_step=0.01, min_amount=0.0001, min_cost=1, spot=True),
            market(LTC_BTC, "LTCBTC", amount_step=0.001, price_step=0.000001, min_amount=0.001, min_cost=0.0001,
                   spot=True),
            market(ATLAS, "ATLASUSDT", amount_step=1, price_step=0.000001, min_amount=1, min_cost=1, spot=True)]


def mexc_account(**extra) -> Account:
    return Account.model_validate({
        "name": "main", "venue": "mexc", "market_type": "spot",
        "credentials": {"api_key": {"env": "KS_TEST_KEY"}, "secret": {"env": "KS_TEST_SECRET"}}, **extra})


def mexc_client(config: dict):
    ex = ccxt_async.mexc(config)
    ex.set_markets(spot_markets())
    return ex


def mexc_adapter(venue: MexcSpotVenue, acc: Optional[Account] = None) -> CcxtAdapter:
    return answered_adapter(venue, mexc_client, acc or mexc_account())


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    monkeypatch.setenv("KS_TEST_KEY", "k")
    monkeypatch.setenv("KS_TEST_SECRET", "s")


def using(venue: MexcSpotVenue, work, acc: Optional[Account] = None):
    return answered.using(lambda: mexc_adapter(venue, acc), work)


def snapshot(venue: MexcSpotVenue):
    return using(venue, lambda a: a.snapshot())


def close(amount: float, cid: str = ENGINE_ID, symbol: str = BTC) -> OrderIntent:
    return sale("mexc", amount, 184.34, cid, symbol)


def open_row(order_id: str, symbol: str = "BTCUSDT", **fields) -> dict:
    """A row of openOrders: the documented one (LTCBTC, LIMIT BUY, myOrder1), the fields named ours."""
    return dict(documented("openOrders")[0], orderId=order_id, symbol=symbol, **fields)


# --- the dialect -------------------------------------------------------------------------------------


def test_mexc_spot_declares_its_own_reads_and_limits_beside_the_contract_apis():
    d = dialect_for("mexc")
    spot = d.snapshot_cost("spot")
    assert spot is not None and [r.endpoint for r in spot.reads] == [
        "GET /api/v3/account", "GET /api/v3/ticker/price", "GET /api/v3/openOrders"]
    assert d.weight_limit_for("spot") is d.spot_limit and d.weight_limit_for("futures") is d.weight_limit
    assert d.countdown(None, "spot", keeps_private_websocket=False) is None  # no cancel-all-after
    assert d.open_orders_endpoint("spot") == "GET /api/v3/openOrders"


def test_a_spot_account_asking_for_a_stream_is_given_the_spot_websockets():
    """MEXC spot has a websocket of its own (the orders and account pushes after a listen key,
    :mod:`adapters.venues.mexc.dialect.spot_stream`): a spot account with ``stream:`` is given a
    stream whose book is its assets, as a futures account of the venue is given the contract
    websocket's; until it is live and confirmed, the snapshot is REST's."""
    venue = MexcSpotVenue()

    async def work(a):
        stream = a._stream
        return stream is not None and stream.state.spot, a.stream_health().reason, (await a.snapshot()).fetch.ok

    assert using(venue, work, mexc_account(stream={"enabled": True})) == (True, None, True)
    assert dialect_for("mexc").streams_for("futures") and dialect_for("mexc").streams_for("spot")
    # what ksctl validate counts of it: the listen key's POST at each connect, a PUT every 20 minutes
    from killswitch.compile.venue_weights import venue_costs

    cost, _ = venue_costs("mexc", "spot")
    assert (cost.streams, cost.stream_open, cost.stream_keepalive, cost.keepalive_every_s) == (True, 1.0, 1.0, 1200.0)
    assert venue_costs("mexc", "futures")[0].stream_open == 0.0  # the contract login is signed on the socket


# --- the book ----------------------------------------------------------------------------------------


def test_each_held_asset_is_valued_at_mexcs_price_ticker():
    """The balances (free + locked) valued at ``ticker/price``: one held pair asks its symbol alone
    (the documented one-symbol answer); the quote at 1. The requests are ccxt's recorded ones."""
    venue = MexcSpotVenue()
    s = snapshot(venue)
    assert s.fetch.ok, s.fetch.error
    by = {b.asset: b for b in s.balances}
    assert by["BTC"].total == 0.75 and by["BTC"].used == 0.25 and by["BTC"].price == 184.34
    assert s.equity == pytest.approx(1000 + 0.75 * 184.34)
    assert s.positions == [] and s.orders == []
    assert venue.sent("/api/v3/ticker/price") == [{"symbol": "BTCUSDT"}]
    assert venue.sent("/api/v3/account") == [recorded_query("fetchBalance.spot")] == [{}]
    assert venue.sent("/api/v3/openOrders") == [recorded_query("fetchOpenOrders.spotNoSymbol")] == [{}]
    assert not venue.sent("/api/v3/ticker/24hr")


def test_two_held_pairs_are_priced_by_one_answer_of_every_symbol():
    venue = MexcSpotVenue(account=account_of(USDT=("10", "0"), BTC=("1", "0"), ETH=("2", "0")),
                          ticker__price=documented("ticker/price all"))
    s = snapshot(venue)
    assert s.fetch.ok, s.fetch.error
    assert venue.sent("/api/v3/ticker/price") == [{}]
    assert s.equity == pytest.approx(10 + 6.65 + 2 * 5.65)


@pytest.mark.parametrize("account, named", [
    (documented("account"), ["NBNTEST (1.11111e+06)", "MAIN (1.02e+06)"]),  # as printed: no market of theirs
    (account_of(USDT=("10", "0"), ETH=("1", "0")), ["ETH (1)"]),  # a market the answer does not price
])
def test_a_held_asset_no_ticker_prices_fails_the_snapshot_naming_it(account, named):
    s = snapshot(MexcSpotVenue(account=account))
    assert not s.fetch.ok and s.fetch.error_code == "BAD_RESPONSE"
    assert "GET /api/v3/ticker/price" in s.fetch.error and all(n in s.fetch.error for n in named), s.fetch.error


def test_open_orders_are_read_from_the_rows_every_documented_type():
    """The documented LIMIT row (clientOrderId myOrder1), rows of its fields with the other
    documented types and an empty clientOrderId, and ccxt's recorded MARKET row (its status NEW
    here: recorded as FILLED from allOrders, the same row shape)."""
    rows = [documented("openOrders")[0],
            open_row("2", type="LIMIT_MAKER", side="SELL", price="70000", clientOrderId=ENGINE_ID),
            open_row("3", type="IMMEDIATE_OR_CANCEL", price="60000", clientOrderId=""),
            open_row("4", type="FILL_OR_KILL", price="60000", clientOrderId=None),
            dict(RECORDED_ROW, status="NEW", executedQty="0")]
    s = snapshot(MexcSpotVenue(openOrders=rows))
    assert s.fetch.ok, s.fetch.error
    got = {o.id: (o.symbol, o.side, o.kind, o.type, o.price, o.trigger_price, o.amount, o.client_id, o.reduce_only)
           for o in s.orders}
    assert got == {
        "1": (LTC_BTC, "buy", "regular", "limit", 0.1, None, 1.0, "myOrder1", False),
        "2": (BTC, "sell", "regular", "limit", 70000.0, None, 1.0, ENGINE_ID, False),
        "3": (BTC, "buy", "regular", "limit", 60000.0, None, 1.0, None, False),
        "4": (BTC, "buy", "regular", "limit", 60000.0, None, 1.0, None, False),
        "C02__385413065019117569043": (ATLAS, "sell", "regular", "market", None, None, 1220.0, None, False),
    }


@pytest.mark.parametrize("field, value", [("type", "STOP_LIMIT"), ("type", None), ("side", "BOTH")])
def test_a_row_not_documented_fails_the_snapshot_naming_the_field(field, value):
    s = snapshot(MexcSpotVenue(openOrders=[open_row("9", **{field: value})]))
    assert not s.fetch.ok and s.fetch.error_code == "BAD_RESPONSE"
    assert f"field {field}" in s.fetch.error and "GET /api/v3/openOrders" in s.fetch.error


def test_an_error_answer_to_a_read_is_a_failed_snapshot_with_mexcs_code_and_words():
    s = snapshot(MexcSpotVenue(account={"code": 700002, "msg": "Signature for this request is not valid."}))
    assert not s.fetch.ok and s.fetch.error_code == "AUTH" and "Signature for this request" in s.fetch.error


# --- closes ------------------------------------------------------------------------------------------


def test_a_close_is_a_market_sell_of_the_holding_in_ccxts_recorded_form():
    venue = MexcSpotVenue(order=documented("order new"))

    async def work(a):
        await a.snapshot()
        return await a.submit(close(0.5))

    r = using(venue, work)
    assert r.client_order_id == ENGINE_ID
    [sent] = venue.sent("/api/v3/order", "POST")
    rec = recorded_query("createOrder.spotMarketBuy")
    assert set(sent) == set(rec) | {"newClientOrderId"}
    assert (sent["side"], sent["type"], sent["quantity"], sent["newClientOrderId"]) == ("SELL", "MARKET", "0.5",
                                                                                         ENGINE_ID)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(held=st.integers(0, 5_000_000).map(lambda n: n / 1e6), asked=st.integers(1, 6_000_000).map(lambda n: n / 1e6))
def test_a_close_never_sells_more_than_is_held(held, asked):
    """Property: a close of BTC is a sell of at most the BTC held (free + locked); one larger is
    refused before anything is sent (CLOSE_EXCEEDS_POSITION)."""
    venue = MexcSpotVenue(account=account_of(USDT=("100", "0"), BTC=(f"{held:.6f}", "0")),
                          order=documented("order new"))

    async def work(a):
        await a.snapshot()
        try:
            return await a.submit(close(asked))
        except AdapterError as e:
            return e

    got = using(venue, work)
    sent = venue.sent("/api/v3/order", "POST")
    if asked > held * (1 + 1e-9):
        assert isinstance(got, AdapterError) and got.reason is Reason.CLOSE_EXCEEDS_POSITION and not sent
    elif not isinstance(got, AdapterError):
        [one] = sent
        assert one["side"] == "SELL" and float(one["quantity"]) <= held * (1 + 1e-9)
    else:  # below the market's minimum: refused before sending too
        assert got.reason is Reason.INVALID_ORDER and not sent


def test_an_order_refused_inside_a_success_answer_keeps_mexcs_code_and_words():
    """HTTP 200 with ``{"code": 30016, "msg": "trading disabled"}``: refused, never an order sent."""
    venue = MexcSpotVenue(order=documented("refusal trading disabled"))

    async def work(a):
        await a.snapshot()
        with pytest.raises(AdapterError) as e:
            await a.submit(close(0.5))
        return e.value

    e = using(venue, work)
    assert e.refusal is not None and (e.refusal.code, e.refusal.reason) == ("30016", "EXCHANGE_UNAVAILABLE")
    assert "trading disabled" in e.refusal.text()


# --- cancels -----------------------------------------------------------------------------------------


def listed(*ids: str) -> list:
    return [open_row(i) for i in ids]


def test_a_cancel_by_id_is_delete_order_its_status_read_and_a_refusal_kept():
    """``DELETE /api/v3/order``: the documented CANCELED answer (orderId 4) cancels it; -2011
    Unknown order sent refuses the other with MEXC's code and words. The request is ccxt's
    recorded one (symbol, orderId)."""
    venue = MexcSpotVenue(openOrders=listed("4", "5"),
                          order=(documented("order cancel"), documented("refusal unknown order")))

    async def work(a):
        await a.snapshot()
        return await a.cancel_orders(CancelSelector(order_ids=("4", "5")))

    r = using(venue, work)
    assert r.canceled == ("4",) and r.failed == {"5": "ORDER_NOT_FOUND"}
    assert r.words["5"] == "-2011 Unknown order sent."
    sent = venue.sent("/api/v3/order", "DELETE")
    # 5, refused as unknown yet listed open again after it, is asked once more (the adapter's rule)
    assert [q["orderId"] for q in sent] == ["4", "5", "5"]
    assert set(sent[0]) == set(recorded_query("cancelOrder.spot")) and sent[0]["symbol"] == "BTCUSDT"


def test_a_cancel_refused_inside_a_success_answer_is_never_done():
    venue = MexcSpotVenue(openOrders=listed("4"), order=documented("refusal trading disabled"))

    async def work(a):
        await a.snapshot()
        return await a.cancel_orders(CancelSelector(order_ids=("4",)))

    r = using(venue, work)
    assert not r.canceled and r.failed == {"4": "EXCHANGE_UNAVAILABLE"} and "30016" in r.words["4"]


@pytest.mark.parametrize("answer, done, unconfirmed", [
    (documented("openOrders cancel"), ("11", "13"), ()),  # as printed: both CANCELED
    (documented("openOrders cancel")[:1], ("11",), ("13",)),  # one named: the other unconfirmed
    ([dict(documented("openOrders cancel")[0], status="FILLED")], (), ("11", "13")),
])
def test_a_symbols_cancel_reads_each_row_of_delete_openorders(answer, done, unconfirmed):
    """``DELETE /api/v3/openOrders`` of the symbol (ccxt's recorded request); only a row CANCELED
    is done; ``/api/v3/order/all`` (every symbol's) is never sent."""
    venue = MexcSpotVenue(openOrders=listed("11", "13"), by_method={"DELETE /api/v3/openOrders": answer})

    async def work(a):
        await a.snapshot()
        return await a.cancel_orders(CancelSelector(symbols=(BTC,), which="all"))

    r = using(venue, work)
    assert r.canceled == done and set(r.unconfirmed) >= set(unconfirmed)
    [sent] = venue.sent("/api/v3/openOrders", "DELETE")
    assert sent == recorded_query("cancelAllOrders.spot") | {"symbol": "BTCUSDT"}
    assert not venue.sent("/api/v3/order/all")


def test_cancel_answers_read_row_by_row():
    """The dialect's reading alone: a row without ``status`` or ``orderId`` is BAD_RESPONSE; a
    symbol's answer that is no list too; a refusal body refuses every order sent."""
    def order(i: str) -> SimpleNamespace:
        return SimpleNamespace(id=i, symbol=BTC)

    with pytest.raises(AdapterError, match="status"):
        dialect_spot.cancel_answer("one", {"orderId": "4"}, [order("4")])
    with pytest.raises(AdapterError, match="orderId"):
        dialect_spot.cancel_answer("symbol", [{"status": "CANCELED"}], [order("4")])
    with pytest.raises(AdapterError, match="not a list"):
        dialect_spot.cancel_answer("symbol", {"symbol": "BTCUSDT"}, [order("4")])
    got = dialect_spot.cancel_answer("symbol", documented("refusal unknown order"), [order("4"), order("5")])
    assert not got.done and {k: v.reason for k, v in got.refused.items()} == {"4": "ORDER_NOT_FOUND",
                                                                              "5": "ORDER_NOT_FOUND"}
