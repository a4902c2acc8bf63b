"""The real ``ccxt.async_support.mexc`` and the MEXC dialect against the simulated exchange's MEXC
contract face (:mod:`adapters.venues.mexc.face`): a cancel's answer read order by order — one done
beside one already filled and one the account never had, more ids than the venue takes, a
symbol's cancel-all answered with no list —, the signature refused, and a runner-sized book's
snapshot.

Each test starts a :class:`SimServer` on a free 127.0.0.1 port and stops it; the engine runs on
a manual clock at T0 (flat marks); MEXC's request time is checked against the wall clock.
"""

from __future__ import annotations

from types import SimpleNamespace

import ccxt.async_support as ccxt_async
import pytest

from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.http import SimServer, wall_clock
from adapters.venues.mexc.dialect import MEXC
from adapters.venues.mexc.face import mexc_client, sim_account
from tests.integration.sim_helpers import engine, run

ETH = "ETH/USDT:USDT"


def serve(test, timeout: float = 30.0):
    eng, clock = engine()

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock, hang_s=6.0)
        await srv.start()
        ex = mexc_client(srv, "sim-main")
        try:
            await ex.load_markets()
            return await test(srv, ex, eng)
        finally:
            await ex.close()
            await srv.stop()

    return run(go(), timeout)


def order(oid) -> SimpleNamespace:
    return SimpleNamespace(id=str(oid), kind="regular", symbol=ETH, type="limit")


def test_a_cancel_reads_done_already_filled_and_unknown_orders_apart():
    async def t(srv, ex, eng):
        resting = eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, 2_500.0, time_in_force="GTC")
        filled = eng.place_order("sim-main", "ETHUSDT", "SELL", "MARKET", 1.0, reduce_only=True)
        ids = [str(resting.order_id), str(filled.order_id), "999999"]
        rows = await ex.cancel_orders(ids, ETH)
        got = MEXC.cancel_answer("batch", rows, [order(i) for i in ids] + [order("424242")])
        assert got.done == {str(resting.order_id)} and not got.whole
        assert {k: (v.code, v.message, v.reason) for k, v in got.refused.items()} == {
            str(filled.order_id): ("2041", "order state cannot be cancelled", "ORDER_NOT_FOUND"),
            "999999": ("2040", "order not exist", "ORDER_NOT_FOUND")}
        assert "424242" not in got.done and "424242" not in got.refused  # not asked of the venue: unconfirmed
        assert eng.open_orders("sim-main") == []

    serve(t)


def test_more_ids_than_the_venue_takes_are_refused_whole_with_its_code():
    async def t(srv, ex, eng):
        for i in range(51):
            if i % 10 == 9:
                eng.advance(1_000)  # within the engine's 10 orders a second
            eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, 2_000.0 + i, time_in_force="GTC")
        ids = [str(o.order_id) for o in eng.open_orders("sim-main")]
        with pytest.raises(ccxt_async.ExchangeError) as e:
            await ex.cancel_orders(ids, ETH)
        refusal = MEXC.venue_refusal(str(e.value))
        assert (refusal.code, refusal.reason) == ("2013", "INVALID_ORDER")
        assert len(eng.open_orders("sim-main")) == 51  # nothing cancelled
        rows = await ex.cancel_orders(ids[:50], ETH)  # within the cap: every row done
        assert MEXC.cancel_answer("batch", rows, [order(i) for i in ids[:50]]).done == set(ids[:50])

    serve(t)


def test_a_symbols_cancel_all_answers_no_list_and_the_list_after_it_decides():
    async def t(srv, ex, eng):
        for price in (2_400.0, 2_450.0):
            eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, price, time_in_force="GTC")
        answer = await ex.cancel_all_orders(ETH)
        assert answer == [] and MEXC.cancel_answer("symbol", answer, [order(1), order(2)]).whole
        assert ("POST", "/api/v1/private/order/cancel_all", 200) in srv.requests
        assert eng.open_orders("sim-main") == []

    serve(t)


def test_a_wrong_signature_is_refused_with_mexcs_code():
    async def t(srv, ex, eng):
        ex.secret = "not-the-secret"
        with pytest.raises(ccxt_async.AuthenticationError, match='"code":602'):
            await ex.fetch_positions()

    serve(t)


def test_the_snapshot_of_the_book_through_the_adapter():
    eng, _ = engine()

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock, hang_s=6.0)
        await srv.start()
        acc = sim_account(srv, "sim-main")
        ad = CcxtAdapter(acc, urls=acc.api_url, timeout=5.0, max_retries=1, backoff_s=0.05)
        try:
            return await ad.snapshot(), srv
        finally:
            await ad.close()
            await srv.stop()

    snap, srv = run(go(), 30.0)
    assert snap.fetch.ok, snap.fetch
    truth = {(eng.markets[p.symbol].base, "long" if p.amount > 0 else "short"): abs(p.amount)
             for p in eng.positions("sim-main")}
    assert {(p.symbol.split("/")[0], p.side): p.contracts for p in snap.positions} == pytest.approx(truth)
    marks = {p.symbol.split("/")[0]: p.mark_price for p in snap.positions}
    assert marks == {eng.markets[p.symbol].base: pytest.approx(p.mark_price) for p in eng.positions("sim-main")}
    paths = {p for _, p, _ in srv.requests}
    assert {"/api/v1/contract/ticker", "/api/v1/private/position/position_mode",
            "/api/v1/private/stoporder/list/orders"} <= paths
