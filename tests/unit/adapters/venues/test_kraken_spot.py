"""Kraken spot through the real ccxt client and the adapter, answered with what ccxt recorded
from the venue (adapters/venues/kraken/fixtures/ccxt-static-kraken.json, verbatim, naming its
commits: open conditional and trailing orders, a ticker, an order's answer, and the requests of a
sell, a cancel and the dead man's switch) and, where nothing was recorded, Kraken's documented
answers (fixtures/spot-documented.json, each case saying whether it is printed so or built on the
documented fields). Every answer passes ccxt's own error check of a body (``handle_errors``), as
the venue's would: a non-empty ``error`` list inside HTTP 200 is a refusal."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

import ccxt.async_support as ccxt_async
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.venues.kraken.dialect import KrakenDialect
from adapters.venues.kraken.dialect_rows import from_cl_ord_id, to_cl_ord_id
from killswitch.orders import OrderIntent
from killswitch.policy.accounts_doc import Account
from tests.unit.adapters.ccxt.fake import market, run
from tests.venue_fixtures import recorded

RECORDED = json.loads(recorded("kraken").read_text())
DOCS = json.loads((recorded("kraken").parent / "spot-documented.json").read_text())["cases"]
BTC, LTC, XRP = "BTC/USD", "LTC/USDT", "XRP/USD"
ENGINE_ID = "ks" + "0123456789abcdef0123456789abcd"


def documented(name: str) -> dict:
    return copy.deepcopy(DOCS[name]["body"])


def case(name: str) -> dict:
    return copy.deepcopy(RECORDED["cases"][name])


def recorded_rows(*names: str) -> dict:
    """OpenOrders' answer holding the recorded open rows of ``names`` (each case's one row)."""
    rows: dict = {}
    for n in names:
        rows.update(case(n)["httpResponse"]["result"]["open"])
    return {"error": [], "result": {"open": rows}}


def ticker(pair: str, last: str) -> dict:
    """GET /0/public/Ticker: the recorded ticker's row (ccxt's fetchTicker of XBTUSDT) under
    ``pair``, its last trade ``last``."""
    row = case("fetchTicker")["httpResponse"]["result"]["XBTUSDT"]
    row["c"] = [last, "0.00160710"]
    return {"error": [], "result": {pair: row}}


class KrakenVenue:
    """Answers ccxt's kraken by path: the recorded bodies where ccxt recorded them, the documented
    ones elsewhere; ``answers`` overrides a path's body (a list: one body a call, in turn)."""

    def __init__(self, ex=None, **answers):
        self.ex = ex
        self.answers = {
            "/0/private/BalanceEx": documented("BalanceEx"),
            "/0/public/Ticker": ticker("XXBTZUSD", "73380.60000"),
            "/0/private/OpenOrders": {"error": [], "result": {"open": {}}},
            "/0/private/ClosedOrders": {"error": [], "result": {"closed": {}, "count": 0}},
            "/0/private/AddOrder": case("createOrder")["httpResponse"],
            "/0/private/CancelOrder": documented("CancelOrder"),
            "/0/private/CancelAllOrdersAfter": documented("CancelAllOrdersAfter"),
            **{f"/0/{k.replace('_', '/')}": v for k, v in answers.items()},
        }
        self.requests: list[tuple[str, str, dict]] = []

    def sent(self, path: str) -> list[dict]:
        return [params for _, p, params in self.requests if p == path]

    async def fetch(self, url, method="GET", headers=None, body=None, **kw):
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query))
        params.update(dict(parse_qsl(body or "")))
        self.requests.append((method, parts.path, params))
        answer = self.answers.get(parts.path)
        if answer is None:
            raise AssertionError(f"unexpected request {method} {parts.path}")
        if isinstance(answer, list):
            answer = answer.pop(0)
        text = json.dumps(answer)
        self.ex.handle_errors(200, "OK", url, method, {}, text, answer, headers, body)  # ccxt's own check
        return answer


def kraken_markets() -> list:
    out = [market(BTC, "XXBTZUSD", amount_step=0.00000001, price_step=0.1, min_amount=0.0001, min_cost=0.5, spot=True),
           market(LTC, "LTCUSDT", amount_step=0.00000001, price_step=0.01, min_amount=0.05, min_cost=0.5, spot=True),
           market(XRP, "XRPUSD", amount_step=0.00000001, price_step=0.00001, min_amount=10, min_cost=0.5, spot=True)]
    for m, alt in zip(out, ("XBTUSD", "LTCUSDT", "XRPUSD")):
        m["info"] = {"altname": alt, "wsname": m["symbol"]}
        m["altname"] = alt
    return out


def kraken_account(**extra) -> Account:
    return Account.model_validate({
        "name": "main", "venue": "kraken", "market_type": "spot", "quote_currency": "USD",
        "credentials": {"api_key": {"env": "KS_TEST_KEY"}, "secret": {"env": "KS_TEST_SECRET"}}, **extra})


def kraken_adapter(venue: KrakenVenue, acc: Optional[Account] = None, **kw) -> CcxtAdapter:
    def build(config: dict):
        ex = ccxt_async.kraken(config)
        ex.set_markets(kraken_markets())
        ex.options["marketsByAltname"] = {m["altname"]: m for m in ex.markets.values()}  # as fetch_markets
        ex.fetch = venue.fetch
        venue.ex = ex
        return ex

    return CcxtAdapter(acc or kraken_account(), exchange_factory=build, **kw)


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    monkeypatch.setenv("KS_TEST_KEY", "k")
    monkeypatch.setenv("KS_TEST_SECRET", "c2VjcmV0")  # Kraken's secret is base64


def using(venue: KrakenVenue, work, acc: Optional[Account] = None):
    async def body():
        a = kraken_adapter(venue, acc)
        try:
            return await work(a)
        finally:
            await a.close()

    return run(body())


def snapshot(venue: KrakenVenue):
    return using(venue, lambda a: a.snapshot())


def close(amount: float, cid: str = ENGINE_ID, symbol: str = BTC) -> OrderIntent:
    return OrderIntent(decision_id="d1", client_order_id=cid, venue="kraken", account="main", symbol=symbol,
                       side="sell", position_side=None, amount=amount, reduce_only=False, limit_price=None,
                       notional=amount * 73380.6, chunk=1, chunks=1, not_before_ms=0, action="close_all",
                       reason="test")


# --- the book ---------------------------------------------------------------------------------------


def test_kraken_has_its_own_dialect_in_usd():
    d = dialect_for("kraken")
    assert isinstance(d, KrakenDialect) and d.quote_currency == "USD"
    assert d.snapshot_cost("futures") is None and d.snapshot_cost("spot") is not None


def test_each_held_asset_is_valued_at_krakens_ticker():
    """BalanceEx's documented example (ZUSD, XXBT) valued at the ticker's last trade: the equity
    is every holding at its price in USD, the BTC read from its ``balance``, ``hold_trade`` held."""
    venue = KrakenVenue()
    s = snapshot(venue)
    assert s.fetch.ok, s.fetch.error
    by = {b.asset: b for b in s.balances}
    assert set(by) == {"USD", "BTC"}
    assert by["BTC"].total == 1.2435 and by["BTC"].used == 0.8423 and by["BTC"].price == 73380.6
    assert by["USD"].price == 1.0
    assert s.equity == pytest.approx(25435.21 + 1.2435 * 73380.6)
    assert s.positions == [] and s.orders == []
    assert sorted((m, p) for m, p, _ in venue.requests) == [
        ("GET", "/0/public/Ticker"), ("POST", "/0/private/BalanceEx"), ("POST", "/0/private/OpenOrders")]
    assert venue.sent("/0/public/Ticker") == [{"pair": "XXBTZUSD"}]


def test_a_held_asset_no_ticker_prices_fails_the_snapshot_naming_it():
    """A Kraken Rewards balance (XBT.F: no market of its own) cannot be valued: the snapshot is
    incomplete, naming it, never an equity that leaves it out."""
    s = snapshot(KrakenVenue(private_BalanceEx=documented("BalanceEx earn")))
    assert not s.fetch.ok and s.fetch.error_code == "BAD_RESPONSE"
    assert "BTC.F (0.5)" in s.fetch.error and "/0/public/Ticker" in s.fetch.error


def test_open_orders_are_read_from_the_rows_with_their_conditional_kinds():
    """The recorded take-profit, stop-loss-limit and trailing-stop rows and the documented limit
    order with its cl_ord_id: each with its kind, trigger and limit from the venue's row, its
    client id its cl_ord_id alone (ccxt reads the userref "0" as one)."""
    answer = recorded_rows("fetchOpenOrders take-profit", "fetchOpenOrders stop-loss-limit",
                           "fetchOpenOrders trailing-stop")
    answer["result"]["open"].update(documented("OpenOrders cl_ord_id")["result"]["open"])
    s = snapshot(KrakenVenue(private_BalanceEx={"error": [], "result": {"ZUSD": {"balance": "10", "hold_trade": "0"}}},
                             private_OpenOrders=answer))
    assert s.fetch.ok, s.fetch.error
    got = {o.id: (o.symbol, o.side, o.kind, o.type, o.trigger_price, o.price, o.amount, o.client_id, o.reduce_only)
           for o in s.orders}
    assert got == {
        "OXCZ7B-EMVZQ-MTJTQJ": (LTC, "sell", "conditional", "market", 120.0, None, 0.1, None, False),
        "OIIQBL-6PV3A-7M2AJJ": (LTC, "sell", "conditional", "limit", 55.0, 54.0, 0.1, None, False),
        "OF7S76-H2IMS-N2ML4U": (XRP, "buy", "trailing", "market", 0.7579, None, 10.0, None, False),
        "O45M52-BFD5S-YXKQOU": (BTC, "buy", "regular", "limit", None, 70000.0, 0.0001, "1234", False),
    }


def test_an_order_type_not_known_fails_the_snapshot_naming_the_field():
    answer = recorded_rows("fetchOpenOrders take-profit")
    answer["result"]["open"]["OXCZ7B-EMVZQ-MTJTQJ"]["descr"]["ordertype"] = "take-profit-trailing"
    s = snapshot(KrakenVenue(private_OpenOrders=answer))
    assert not s.fetch.ok and s.fetch.error_code == "BAD_RESPONSE"
    assert "descr.ordertype" in s.fetch.error and "take-profit-trailing" in s.fetch.error


def test_an_error_list_in_a_read_is_a_failed_snapshot_with_the_venues_words():
    s = snapshot(KrakenVenue(private_BalanceEx={"error": ["EAPI:Invalid key"], "result": {}}))
    assert not s.fetch.ok and s.fetch.error_code == "AUTH" and "EAPI:Invalid key" in s.fetch.error


# --- closes -----------------------------------------------------------------------------------------


def test_a_close_is_the_recorded_market_sell_with_the_engines_id_as_a_uuid():
    """ccxt's recorded spot market sell (pair, type, ordertype, volume), with our cl_ord_id."""
    venue = KrakenVenue(public_Ticker=ticker("LTCUSDT", "70.0"),
                        private_BalanceEx={"error": [], "result": {"LTC": {"balance": "0.5", "hold_trade": "0"}}})
    acc = kraken_account(quote_currency="USDT")

    async def work(a):
        await a.snapshot()
        return await a.submit(close(0.1, symbol=LTC))

    async def body():
        a = kraken_adapter(venue, acc)
        try:
            return await work(a)
        finally:
            await a.close()

    r = run(body())
    assert r.client_order_id == ENGINE_ID
    [sent] = venue.sent("/0/private/AddOrder")
    rec = dict(parse_qsl(RECORDED["requests"]["createOrder spot market sell"]["output"]))
    assert {k: v for k, v in sent.items() if k not in ("nonce", "cl_ord_id")} == \
        {k: v for k, v in rec.items() if k != "nonce"}
    assert sent["cl_ord_id"] == "00012345-6789-abcd-ef01-23456789abcd" == to_cl_ord_id(ENGINE_ID)
    assert from_cl_ord_id(sent["cl_ord_id"]) == ENGINE_ID


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(held=st.integers(0, 5_000_000).map(lambda n: n / 1e6), asked=st.integers(1, 6_000_000).map(lambda n: n / 1e6))
def test_a_close_never_sells_more_than_is_held(held, asked):
    """Property: a close of BTC is a sell of at most the BTC held; one larger is refused before
    anything is sent (CLOSE_EXCEEDS_POSITION), never a sell of what the account does not hold."""
    venue = KrakenVenue(private_BalanceEx={"error": [], "result": {
        "ZUSD": {"balance": "100", "hold_trade": "0"}, "XXBT": {"balance": f"{held:.8f}", "hold_trade": "0"}}})

    async def work(a):
        await a.snapshot()
        try:
            return await a.submit(close(asked))
        except AdapterError as e:
            return e

    got = using(venue, work)
    sent = venue.sent("/0/private/AddOrder")
    if asked > held * (1 + 1e-9):
        assert isinstance(got, AdapterError) and got.reason is Reason.CLOSE_EXCEEDS_POSITION and not sent
    elif not isinstance(got, AdapterError):
        [one] = sent
        assert one["type"] == "sell" and float(one["volume"]) <= held * (1 + 1e-9)
    else:  # below the market's minimum: refused before sending too
        assert got.reason is Reason.INVALID_ORDER and not sent


class LiveHolding:
    """A live, confirmed private stream holding ``streamed`` BTC, as the adapter's check of a sale reads it."""

    def __init__(self, streamed: float):
        self.streamed = streamed

    def health(self):
        from adapters.base import StreamHealth

        return StreamHealth(state="live", reason=None, since_ms=0, last_message_ms=0, answers=True)

    def holding_of(self, asset: str):
        return self.streamed if asset == "BTC" else None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(held=st.integers(0, 5_000_000).map(lambda n: n / 1e6), streamed=st.integers(0, 5_000_000).map(lambda n: n / 1e6),
       asked=st.integers(1, 6_000_000).map(lambda n: n / 1e6))
def test_a_sale_within_what_the_stream_and_the_last_read_hold_is_sent_unread_and_never_more_than_held(
        held, streamed, asked):
    """Property, with a live stream (which may say more or less than the venue's last read): a
    sale within what both hold is sent without a read of the balance (each sale back of a
    rogue's growth read it again); one past either is checked against a fresh read, and never
    sent past what that read holds (CLOSE_EXCEEDS_POSITION, nothing sent)."""
    venue = KrakenVenue(private_BalanceEx={"error": [], "result": {
        "ZUSD": {"balance": "100", "hold_trade": "0"}, "XXBT": {"balance": f"{held:.8f}", "hold_trade": "0"}}})

    async def work(a):
        await a.snapshot()
        a._stream = LiveHolding(streamed)
        try:
            return await a.submit(close(asked))
        except AdapterError as e:
            return e
        finally:
            a._stream = None

    got = using(venue, work)
    sent = venue.sent("/0/private/AddOrder")
    reads = len(venue.sent("/0/private/BalanceEx"))
    assert reads == (1 if asked <= min(held, streamed) * (1 + 1e-9) or streamed == held else 2)
    if asked > held * (1 + 1e-9):
        assert isinstance(got, AdapterError) and got.reason is Reason.CLOSE_EXCEEDS_POSITION and not sent
    elif not isinstance(got, AdapterError):
        [one] = sent
        assert one["type"] == "sell" and float(one["volume"]) <= held * (1 + 1e-9)
    else:  # below the market's minimum: refused before sending too
        assert got.reason is Reason.INVALID_ORDER and not sent


def test_a_refusal_inside_a_success_answer_is_refused_with_krakens_code_and_words():
    """HTTP 200 with ``error: ["EOrder:Insufficient funds"]``: the order is refused with the
    venue's code, never read as an order sent."""
    venue = KrakenVenue(private_AddOrder=documented("AddOrder insufficient funds"))

    async def work(a):
        await a.snapshot()
        with pytest.raises(AdapterError) as e:
            await a.submit(close(0.5))
        return e.value

    e = using(venue, work)
    assert e.refusal is not None and e.refusal.code == "EOrder:Insufficient funds"
    assert e.refusal.reason == "INSUFFICIENT_MARGIN" and e.reason is Reason.INSUFFICIENT_MARGIN
    assert "EOrder:Insufficient funds" in e.refusal.text()


def closed_by_engine_id() -> dict:
    """ClosedOrders' answer holding the recorded closed market order, under the engine's client id."""
    closed = case("fetchOrder closed market")["httpResponse"]["result"]
    closed["OGMZCL-KC6MC-ZRBGM6"]["cl_ord_id"] = to_cl_ord_id(ENGINE_ID)
    return {"error": [], "result": {"closed": closed, "count": 1}}


def test_an_ended_order_is_found_by_its_client_id_in_the_closed_list_in_one_read():
    """A sale, a revert or a close ends at once: the closed list is asked first, and its answer
    is the only read (the open list asked first cost each such order a second read)."""
    venue = KrakenVenue(private_ClosedOrders=closed_by_engine_id())
    r = using(venue, lambda a: a.fetch_order(LTC, ENGINE_ID))
    assert r.status == "filled" and r.client_order_id == ENGINE_ID and r.filled == pytest.approx(0.1)
    assert [p for _, p, _ in venue.requests] == ["/0/private/ClosedOrders"]
    assert all(q["cl_ord_id"] == to_cl_ord_id(ENGINE_ID) for _, _, q in venue.requests)


def test_a_resting_order_is_found_in_the_open_list_after_the_closed_one_and_none_is_not_found():
    empty = {"error": [], "result": {"closed": {}, "count": 0}}
    resting = recorded_rows("fetchOpenOrders take-profit")
    for row in resting["result"]["open"].values():
        row["cl_ord_id"] = to_cl_ord_id(ENGINE_ID)
    venue = KrakenVenue(private_ClosedOrders=empty, private_OpenOrders=resting)
    r = using(venue, lambda a: a.fetch_order(BTC, ENGINE_ID))
    assert r.status == "open" and r.client_order_id == ENGINE_ID
    assert [p for _, p, _ in venue.requests] == ["/0/private/ClosedOrders", "/0/private/OpenOrders"]
    venue = KrakenVenue()
    with pytest.raises(AdapterError) as e:  # named by neither list: not found (two reads)
        using(venue, lambda a: a.fetch_order(LTC, ENGINE_ID))
    assert e.value.reason is Reason.ORDER_NOT_FOUND
    assert [p for _, p, _ in venue.requests] == ["/0/private/ClosedOrders", "/0/private/OpenOrders"]


# --- cancels ----------------------------------------------------------------------------------------


def open_two() -> dict:
    return recorded_rows("fetchOpenOrders take-profit", "fetchOpenOrders trailing-stop")


def test_a_cancel_by_id_is_cancelorder_its_count_read():
    """CancelOrder answered ``count`` 1: cancelled; 0: named neither way (the list decides); an
    error list (``EOrder:Unknown order``): refused with the venue's code and words. Never CancelAll."""
    venue = KrakenVenue(private_OpenOrders=open_two(), private_CancelOrder=[
        documented("CancelOrder"), {"error": [], "result": {"count": 0}}])

    async def work(a):
        await a.snapshot()
        return await a.cancel_orders(CancelSelector(order_ids=("OXCZ7B-EMVZQ-MTJTQJ", "OF7S76-H2IMS-N2ML4U")))

    r = using(venue, work)
    assert r.canceled == ("OXCZ7B-EMVZQ-MTJTQJ",) and r.unconfirmed == ("OF7S76-H2IMS-N2ML4U",)
    sent = venue.sent("/0/private/CancelOrder")
    assert [q["txid"] for q in sent] == ["OXCZ7B-EMVZQ-MTJTQJ", "OF7S76-H2IMS-N2ML4U"]
    rec = dict(parse_qsl(RECORDED["requests"]["cancelOrder"]["output"]))
    assert set(rec) == set(sent[1]) and rec["txid"] == sent[1]["txid"]  # the recorded request's form
    assert not venue.sent("/0/private/CancelAll")


def test_a_cancel_refused_in_a_success_answer_keeps_eorder_unknown_order():
    venue = KrakenVenue(private_OpenOrders=open_two(), private_CancelOrder=documented("CancelOrder unknown"))

    async def work(a):
        await a.snapshot()
        return await a.cancel_orders(CancelSelector(order_ids=("OXCZ7B-EMVZQ-MTJTQJ",)))

    r = using(venue, work)
    assert not r.canceled and r.failed == {"OXCZ7B-EMVZQ-MTJTQJ": "ORDER_NOT_FOUND"}
    assert r.words["OXCZ7B-EMVZQ-MTJTQJ"] == "EOrder:Unknown order"


def test_a_symbols_cancel_sends_one_cancelorder_each_and_never_cancelall():
    """CancelAll is the whole account's: cancelling LTC/USDT's orders leaves XRP/USD's alone."""
    venue = KrakenVenue(private_OpenOrders=open_two())

    async def work(a):
        await a.snapshot()
        return await a.cancel_orders(CancelSelector(symbols=(LTC,), which="all"))

    r = using(venue, work)
    assert r.canceled == ("OXCZ7B-EMVZQ-MTJTQJ",)
    assert [q["txid"] for q in venue.sent("/0/private/CancelOrder")] == ["OXCZ7B-EMVZQ-MTJTQJ"]
    assert not venue.sent("/0/private/CancelAll")


# --- the dead man's switch ----------------------------------------------------------------------------


def test_cancelallordersafter_arms_in_whole_seconds_and_turns_off_with_0():
    venue = KrakenVenue(private_CancelAllOrdersAfter=[documented("CancelAllOrdersAfter"),
                                                      documented("CancelAllOrdersAfter off")])

    async def work(a):
        assert a.capabilities.cancel_all_after
        st_ = await a.arm_cancel_all_after(10, ())
        await a.disarm_cancel_all_after()
        return st_

    got = using(venue, work)
    assert got.armed and got.seconds == 10.0
    on, off = venue.sent("/0/private/CancelAllOrdersAfter")
    for sent, name in ((on, "cancelAllOrdersAfter"), (off, "cancelAllOrdersAfter off")):
        rec = dict(parse_qsl(RECORDED["requests"][name]["output"]))
        assert sent["timeout"] == rec["timeout"] and set(sent) == set(rec)


def test_a_switch_answer_without_its_trigger_time_is_bad_response():
    venue = KrakenVenue(private_CancelAllOrdersAfter={"error": [], "result": {"currentTime": "2023-03-24T17:41:56Z"}})

    async def work(a):
        with pytest.raises(AdapterError) as e:
            await a.arm_cancel_all_after(60, ())
        return e.value

    assert using(venue, work).reason is Reason.BAD_RESPONSE


def test_a_wide_book_reads_every_pairs_ticker_in_one_answer():
    """A Ticker read names each held pair in its URL: past 200 pairs the dialect asks every
    pair's ticker in one answer (no ``pair``), so that a book of about 750 pairs or more is not
    refused for its URL (the simulator refused 8,190 bytes and more, and the account was never
    read); a narrow book keeps ccxt's tickers of its own pairs."""
    from adapters.ccxt_exchange.dialects.base import Reads
    from adapters.venues.kraken.dialect import TICKER_PAIRS_IN_URL

    asked: list = []
    wide = [f"A{i}/USD" for i in range(TICKER_PAIRS_IN_URL + 1)]

    async def call(method, *args):
        asked.append((method, args))
        return {**{s: {"last": 2.0 + i} for i, s in enumerate(wide[:-1])}, "OTHER/USD": {"last": 9.0},
                wide[-1]: {"last": None, "bid": None}}

    reads = Reads(call=call, has_method=lambda name: True, symbol_of=lambda m: m, market_type="spot")
    kraken = dialect_for("kraken")
    assert run(kraken.spot_prices(reads, wide[:TICKER_PAIRS_IN_URL])) is None and asked == []
    got = run(kraken.spot_prices(reads, wide))
    assert asked == [("fetch_tickers", ())]  # every pair's, in one answer
    assert got == {s: 2.0 + i for i, s in enumerate(wide[:-1])}  # ours only; one without a price left out


def test_a_cancel_never_waits_behind_the_accounts_orders():
    """Kraken's spot engine counts cancels per pair, not per account: a cancel spends a budget of
    its own (8 a second beside 2 orders), so that a rogue's entries across pairs are not
    cancelled 2 a second behind the lock's reverts (the spot rogue bench: 37 of 80 cancelled at
    1,000 held pairs; 80 of 80 on their own budget)."""
    from adapters.ccxt_exchange.budget import OrderBudget

    venue = KrakenVenue(private_OpenOrders=open_two(), private_CancelOrder=[documented("CancelOrder")])

    async def work(a):
        await a.snapshot()
        spent = OrderBudget(a.dialect.limits.orders, burst=1, clock=lambda: 0.0)  # orders spent it; never refills
        await spent.acquire()
        a.budget = spent
        return await asyncio.wait_for(a.cancel_orders(CancelSelector(order_ids=("OXCZ7B-EMVZQ-MTJTQJ",))), 5.0)

    r = using(venue, work)  # (the dialect's own rates)
    assert r.canceled == ("OXCZ7B-EMVZQ-MTJTQJ",)


def test_the_accounts_clients_sign_with_strictly_increasing_nonces():
    """Kraken refuses a nonce not above the last its key signed with (EAPI:Invalid nonce). ccxt's is
    the millisecond: an account's REST client and its stream's client (the websocket token), or two
    requests of one, signing in the same millisecond sent one nonce twice and the stream went down
    at its start. Every client of one key now draws from one increasing clock; another key's apart."""
    import uuid

    one, other = f"k-{uuid.uuid4().hex}", f"k-{uuid.uuid4().hex}"  # (the clock is the process's)
    clients = [ccxt_async.kraken({"apiKey": key, "secret": "c2VjcmV0"}) for key in (one, one, other)]
    for c in clients:
        c.milliseconds = lambda: 1_700_000_000_000  # one millisecond for all
        dialect_for("kraken").prepare_client(c)
    drawn = [clients[i % 2].nonce() for i in range(6)]
    assert drawn == sorted(set(drawn)) and len(drawn) == 6  # strictly increasing across both
    assert clients[2].nonce() == 1_700_000_000_000  # another key: its own clock
    for c in clients:
        run(c.close())


# Kraken's documented call counter of each verification tier (its maximum, its decay a second), and
# the tier an account naming none is paced at: the lowest
COUNTERS = {"Starter": (15.0, 0.33), "Intermediate": (20.0, 0.5), "Pro": (20.0, 1.0)}
TIERS = [pytest.param(None, COUNTERS["Starter"], id="none_named_starter"),
         *(pytest.param(t, c, id=t) for t, c in COUNTERS.items())]


@pytest.mark.parametrize(("tier", "counter"), TIERS)
def test_the_client_paces_each_private_read_by_what_it_costs_the_keys_counter(tier, counter):
    """ccxt's pacing of the account's client at its tier's decay (an Intermediate key's 0.5 a
    second: 2 s a call of the counter's 1, 4 s a trade history or ledger read, the counter's 2;
    ccxt's own table charged 6, and the stream's token 3), a Starter key's where the account
    names no tier; nothing for an order endpoint; the key's meter counts the counter's own units."""
    decay = counter[1]
    a = kraken_adapter(KrakenVenue(), kraken_account(**({} if tier is None else {"rate_tier": tier})))
    try:
        ex = a._ex
        paced = {p: ex.calculate_rate_limiter_cost("private", "POST", p, {}) for p in (
            "BalanceEx", "OpenOrders", "ClosedOrders", "GetWebSocketsToken", "TradesHistory", "QueryTrades",
            "Ledgers", "AddOrder", "CancelOrder")}
        counted = {p: a.dialect.request_weight("private", "POST", p, {}, paced[p]) for p in paced}
        budget = a.weight_limit
    finally:
        run(a.close())
    # the snapshot's two reads share what the counter decays a minute (the meter's budget of the key)
    assert budget is not None and {e: (pytest.approx(n), w) for e, (n, w) in budget.endpoint_limits.items()} == {
        "POST /0/private/BalanceEx": (decay * 30, 60.0), "POST /0/private/OpenOrders": (decay * 30, 60.0)}
    assert paced == pytest.approx({"BalanceEx": 1 / decay, "OpenOrders": 1 / decay, "ClosedOrders": 1 / decay,
                                   "GetWebSocketsToken": 1 / decay, "TradesHistory": 2 / decay,
                                   "QueryTrades": 2 / decay, "Ledgers": 2 / decay, "AddOrder": 0.0,
                                   "CancelOrder": 0.0})
    assert {p: paced[p] * decay for p in paced} == pytest.approx(counted)  # the counter's units at its decay


@pytest.mark.parametrize(("tier", "counter"), TIERS)
def test_a_burst_of_reads_never_takes_the_keys_counter_past_its_maximum(monkeypatch, tier, counter):
    """Kraken's call counter holds its tier's maximum and decays at its tier's rate (a Starter key's
    15 at 0.33 a second, the tier of an account that names none; a Pro key's 20 at 1); past it the
    key is refused (EAPI:Rate limit exceeded) and locked out a while. The pacer's burst of 200 let
    60 reads (80 calls) go at once: its ceiling is now the tier's counter, in ccxt's cost, never
    overdrawn, and the reads past it wait for the tier's decay. The counter is kept as Kraken
    documents it, on the pacer's clock."""
    from adapters.ccxt_exchange import budget

    counter_max, decay = counter
    now = [0.0]
    real_sleep = asyncio.sleep

    async def fake_sleep(delay):
        now[0] += delay
        await real_sleep(0)

    monkeypatch.setattr(budget.asyncio, "sleep", fake_sleep)
    venue = KrakenVenue(private_TradesHistory={"error": [], "result": {"trades": {}, "count": 0}})
    level = {"level": 0.0, "at": 0.0, "peak": 0.0}
    answer = venue.fetch

    async def counted(url, *args, **kw):
        path = urlsplit(url).path
        calls = 2 if path.endswith("/TradesHistory") else 1 if "/private/" in path else 0
        now_level = max(0.0, level["level"] - (now[0] - level["at"]) * decay) + calls
        level.update(level=now_level, at=now[0], peak=max(level["peak"], now_level))
        return await answer(url, *args, **kw)

    venue.fetch = counted  # type: ignore[method-assign]

    async def work(a):
        pacer = a._ex.throttle
        assert isinstance(pacer, budget.RequestPacer) and pacer.capacity == pytest.approx(counter_max / decay)
        pacer._clock, pacer._last = (lambda: now[0]), now[0]
        reads = [a._ex.privatePostBalanceEx, a._ex.privatePostOpenOrders, a._ex.privatePostTradesHistory] * 20
        await asyncio.gather(*(read() for read in reads))

    using(venue, work, kraken_account(**({} if tier is None else {"rate_tier": tier})))
    assert len(venue.requests) == 60
    assert level["peak"] <= counter_max + 1e-9  # 80 calls, never more than the tier's maximum on the counter
    assert now[0] >= (80 - counter_max - 2) / decay  # the reads past the maximum waited for the tier's decay


class ToldTrades:
    """An account stream's word on the trades, as the adapter reads it: the stamp they are whole
    under, the trades it keeps (the newest three) and how many it told."""

    def __init__(self):
        from collections import deque

        self.stamp: Optional[tuple[int, int]] = (1, 0)
        self.told_fills: deque = deque(maxlen=3)
        self.fills_told = 0

    def fills_stamp(self):
        return self.stamp

    def tell(self, *fills):
        self.told_fills.extend(fills)
        self.fills_told += len(fills)


def test_a_symbols_trades_are_read_once_then_read_on_from_what_the_stream_told():
    """The trades of a symbol read over REST once (``TradesHistory``; ``QueryOrders`` of a trade's
    order for its client id, which the row does not carry); read again since the same time or
    later, they are that read and the trades the stream told after it (its client ids, the
    strategy of their prefix), with no request. REST is read again where the stream is not whole
    under the read's stamp (a reconnect, a frame dropped), kept fewer trades than it told since,
    or the read asks from earlier."""
    from killswitch.fills import Fill

    t0 = 1_700_000_000_000
    closed = closed_by_engine_id()["result"]["closed"]
    row = closed["OGMZCL-KC6MC-ZRBGM6"]
    row["cl_ord_id"] = "alp-1"
    history = {"error": [], "result": {"count": 1, "trades": {"TCCCTY-WE2O6-P3NB37": {
        "ordertxid": "OGMZCL-KC6MC-ZRBGM6", "postxid": "TKH2SE-M7IF5-CFI7LT", "pair": "LTCUSDT", "time": t0 / 1000,
        "type": "buy", "ordertype": "market", "price": "70.00", "cost": "7.0", "fee": "0.01", "vol": "0.10000000",
        "margin": "0.00000", "misc": ""}}}}
    venue = KrakenVenue(private_TradesHistory=history, private_QueryOrders={"error": [], "result": closed})
    told = ToldTrades()
    later = Fill(id="TSIM-2", order_id="OSIM2", client_id="alp-2", symbol=LTC, side="buy", amount=0.2, price=70.0,
                 ts_ms=t0 + 5_000)

    async def work(a):
        a._stream, seen = told, []

        async def read(since):
            before = len(venue.requests)
            got = await a.fills(LTC, since)
            seen.append(([(f.id, f.client_id, f.strategy) for f in got],
                         [p.rsplit("/", 1)[-1] for _, p, _ in venue.requests[before:]]))

        await read(t0 - 60_000)
        told.tell(later, replace_symbol(later, XRP))
        await read(t0 - 60_000)  # the read, and the stream's trade of the symbol after it
        await read(t0 + 1)  # from later: the stream's alone
        await read(t0 - 120_000)  # from earlier than the read: REST
        told.stamp = (2, 0)  # reconnected
        await read(t0 - 60_000)
        told.tell(later, later, later, later)  # more than it keeps since the read
        await read(t0 - 60_000)
        told.stamp = None  # its word not trusted: read, and kept for nothing
        await read(t0 - 60_000)
        await read(t0 - 60_000)
        return seen

    acc = kraken_account(strategies=[{"name": "alpha", "client_id_prefixes": ["alp-"]}])
    rest = ([("TCCCTY-WE2O6-P3NB37", "alp-1", "alpha")], ["TradesHistory", "QueryOrders"])
    both = [("TCCCTY-WE2O6-P3NB37", "alp-1", "alpha"), ("TSIM-2", "alp-2", "alpha")]
    assert run(_using_account(venue, acc, work)) == [rest, (both, []), ([("TSIM-2", "alp-2", "alpha")], []), rest,
                                                     rest, rest, rest, rest]


def replace_symbol(f, symbol):
    from dataclasses import replace

    return replace(f, symbol=symbol, id=f"{f.id}-{symbol}")


async def _using_account(venue: KrakenVenue, acc: Account, work):
    a = kraken_adapter(venue, acc)
    try:
        return await work(a)
    finally:
        a._stream = None
        await a.close()
