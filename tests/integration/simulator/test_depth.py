"""The simulated venue's order book (adapters/simulated/depth.py): orders walk it, it refills,
and the HTTP face serves it as ``GET /fapi/v1/depth`` to a real ``ccxt.binanceusdm``.

BTCUSDT is held at 50,000 (tick 0.1); the book holds 2 BTC a level, the best 1 bp from the
mark and each next 2 bp further, refilled within 2 s. Expected prices are worked out by hand.
"""

from __future__ import annotations

import aiohttp
import pytest

from adapters.ccxt_exchange import parsing
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.depth import DepthModel
from adapters.simulated.engine import SimError
from adapters.simulated.http import SimServer, wall_clock
from adapters.venues.binance.face import binanceusdm_client
from tests.integration.sim_helpers import engine, run

MODEL = DepthModel(levels=50, half_spread_bps=1.0, level_bps=2.0, amount=2.0, refill_ms=2_000)
BIDS = [50_000 * (1 - (1 + 2 * i) / 1e4) for i in range(50)]  # 49995, 49985, ...


def venue(model=MODEL):
    eng, clock = engine()
    eng.set_mark("BTCUSDT", 50_000.0)
    eng.set_depth(model, "BTCUSDT")
    return eng, clock


def test_the_book_sits_around_the_mark_best_first():
    eng, _ = venue()
    bids, asks, _ = eng.order_book("BTCUSDT", 5)
    assert [p for p, _ in bids] == pytest.approx(BIDS[:5])
    assert [p for p, _ in asks] == pytest.approx([50_005.0, 50_015.0, 50_025.0, 50_035.0, 50_045.0])
    assert {a for _, a in bids + asks} == {2.0}
    assert eng.order_book("ETHUSDT", 5)[:2] == ([], [])  # no depth model: an empty book


def test_a_market_close_walks_the_levels_and_fills_at_their_average():
    eng, clock = venue()
    o = eng.place_order("sim-main", "BTCUSDT", "SELL", "MARKET", 5.0, reduce_only=True)
    assert o.status == "FILLED" and o.executed_qty == pytest.approx(5.0)
    assert o.avg_price == pytest.approx((2 * BIDS[0] + 2 * BIDS[1] + 1 * BIDS[2]) / 5)
    bids, _, _ = eng.order_book("BTCUSDT", 3)
    assert bids == [(pytest.approx(BIDS[2]), pytest.approx(1.0)), (pytest.approx(BIDS[3]), 2.0),
                    (pytest.approx(BIDS[4]), 2.0)]  # the first two levels are gone, the third half


def test_an_ioc_fills_no_further_than_its_price_and_the_rest_expires():
    eng, _ = venue()
    o = eng.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 5.0, price=49_985.0, time_in_force="IOC",
                        reduce_only=True)
    assert o.status == "EXPIRED" and o.executed_qty == pytest.approx(4.0)  # two levels reach 49,985
    assert o.avg_price >= 49_985.0


def test_a_fok_fills_all_or_nothing():
    eng, _ = venue()
    o = eng.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 5.0, price=49_985.0, time_in_force="FOK",
                        reduce_only=True)
    assert o.status == "EXPIRED" and o.executed_qty == 0


def test_the_book_refills_over_time():
    eng, clock = venue()
    eng.place_order("sim-main", "BTCUSDT", "SELL", "MARKET", 2.0, reduce_only=True)
    assert eng.order_book("BTCUSDT", 1)[0][0][0] == pytest.approx(BIDS[1])  # the best level is taken
    clock.advance(1_000)
    assert eng.order_book("BTCUSDT", 1)[0] == [(pytest.approx(BIDS[0]), pytest.approx(1.0))]  # half back
    clock.advance(1_000)
    assert eng.order_book("BTCUSDT", 1)[0] == [(pytest.approx(BIDS[0]), pytest.approx(2.0))]


def test_a_close_never_takes_more_than_the_position_from_the_book():
    eng, _ = venue()
    held = abs(next(p.amount for p in eng.positions("sim-main") if p.symbol == "BTCUSDT"))
    with pytest.raises(SimError):
        eng.place_order("sim-main", "BTCUSDT", "SELL", "MARKET", held + 1.0, reduce_only=True)


def test_a_bad_depth_model_is_refused():
    with pytest.raises(ValueError):
        DepthModel(levels=0)
    with pytest.raises(ValueError):
        DepthModel(amount=0)


def test_the_in_process_adapter_reads_the_book():
    eng, _ = venue()
    ad = SimulatedAdapter(eng, "sim-main", venue="simulated", timeout_s=2.0)
    book = run(ad.fetch_order_book("BTC/USDT:USDT", 3))
    assert [p for p, _ in book.bids] == pytest.approx(BIDS[:3]) and len(book.asks) == 3


def test_the_http_face_serves_the_depth_endpoint_to_ccxt():
    eng, clock = venue()

    async def go():
        async with SimServer(eng, auth_clock=wall_clock) as srv:
            client = binanceusdm_client(srv, "sim-main")
            try:
                raw = await client.fetch_order_book("BTC/USDT:USDT", 5)
                async with aiohttp.ClientSession() as http:
                    async with http.get(f"{srv.base_url}/fapi/v1/depth?symbol=BTCUSDT&limit=7") as r:
                        bad = (r.status, await r.json())
                    async with http.get(f"{srv.base_url}/fapi/v1/depth?symbol=NOPEUSDT") as r:
                        unknown = (r.status, await r.json())
                    async with http.get(f"{srv.base_url}/fapi/v1/depth?symbol=BTCUSDT&limit=5") as r:
                        body = await r.json()
                return raw, bad, unknown, body
            finally:
                await client.close()

    raw, bad, unknown, body = run(go())
    book = parsing.order_book(raw, 5)
    assert [p for p, _ in book.bids] == pytest.approx(BIDS[:5]) and len(book.asks) == 5
    assert bad == (400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."})
    assert unknown[0] == 400 and unknown[1]["code"] == -1121
    assert set(body) == {"lastUpdateId", "E", "T", "bids", "asks"}
    assert body["bids"][0] == ["49995.0", "2.000"] and isinstance(body["asks"][0][0], str)


@pytest.mark.parametrize("raw", [
    pytest.param(None, id="not_a_mapping"),
    pytest.param({"bids": "x", "asks": []}, id="side_not_a_list"),
    pytest.param({"bids": [["abc", 1]], "asks": []}, id="price_not_a_number"),
    pytest.param({"bids": [[100, -1]], "asks": []}, id="negative_amount"),
    pytest.param({"bids": [[0, 1]], "asks": []}, id="zero_price"),
    pytest.param({"bids": [[100]], "asks": []}, id="level_without_amount"),
])
def test_a_malformed_ccxt_book_is_bad_data(raw):
    with pytest.raises(parsing.BadData):
        parsing.order_book(raw, 5)


def test_the_ccxt_adapter_asks_a_depth_the_venue_takes_and_keeps_what_was_asked():
    import os

    from adapters.ccxt_exchange import CcxtAdapter
    from adapters.ccxt_exchange.dialects.base import Dialect
    from adapters.ccxt_exchange.dialects.limits import Limits
    from adapters.venues.binance.dialect import BINANCE_USDM
    from killswitch.policy.accounts_doc import Account

    assert [BINANCE_USDM.book_limit(d) for d in (5, 7, 20, 21, 1000, 5000)] == [5, 10, 20, 50, 1000, 1000]
    assert Dialect(id="generic", limits=Limits(5.0)).book_limit(7) == 7
    eng, _ = venue()
    os.environ["KS_TEST_DEPTH_KEY"], os.environ["KS_TEST_DEPTH_SECRET"] = "sim-main-key", "sim-main-secret"
    acc = Account.model_validate({
        "name": "sim-main", "venue": "binanceusdm", "market_type": "futures",
        "credentials": {"api_key": {"env": "KS_TEST_DEPTH_KEY"}, "secret": {"env": "KS_TEST_DEPTH_SECRET"}}})

    async def go():
        async with SimServer(eng, auth_clock=wall_clock) as srv:
            ad = CcxtAdapter(acc, urls=srv.base_url, timeout=5.0)
            try:
                return await ad.fetch_order_book("BTC/USDT:USDT", 7), srv.requests
            finally:
                await ad.close()

    book, requests = run(go())
    assert len(book.bids) == 7 and len(book.asks) == 7 and book.bids[0][0] == pytest.approx(BIDS[0])
    assert ("GET", "/fapi/v1/depth", 200) in requests
