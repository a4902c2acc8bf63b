"""Kraken spot's closes: a market sell of what is held, never more, and its look-up by client id.
(Answers as the rig says: ccxt's recordings and Kraken's documented ones.)"""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.base import AdapterError, Reason
from adapters.venues.kraken.dialect.rows import from_cl_ord_id, to_cl_ord_id
from tests.unit.adapters.ccxt.fake import run
from tests.unit.adapters.venues.kraken_spot.rig import (
    BTC,
    ENGINE_ID,
    LTC,
    RECORDED,
    KrakenVenue,
    close,
    closed_by_engine_id,
    documented,
    kraken_account,
    kraken_adapter,
    recorded_rows,
    ticker,
    using,
)

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
