"""The simulator's Kraken Futures face answered through the real ccxt client, its raw answers read
by the dialect as the venue's would be: a symbol's cancel names exactly what it cancelled
(regular and trigger orders), a cancel of an order not open is ``notFound``, a batch of cancels
answers row by row at 9 + its size (and the adapter's cancels waiting on the order budget go in
one), the dead man's switch is the account's, a refused close is HTTP 200 with its
``sendStatus``, a signature not Kraken's is refused."""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.simulated.http import SimServer, wall_clock
from adapters.venues.krakenfutures.face import krakenfutures_client, sim_account
from adapters.venues.krakenfutures.face.wire import order_uuid, trigger_uuid
from killswitch.engine.planner import OrderIntent
from killswitch.snapshot import Order
from tests.integration.sim_helpers import engine, run

KRAKEN = dialect_for("krakenfutures")
ETH = "ETH/USD:USD"


def order(oid: str) -> Order:
    return Order(id=oid, symbol=ETH, side="buy", type="limit", amount=1.0)


async def served(body):
    eng, _ = engine()
    srv = SimServer(eng, auth_clock=wall_clock)
    await srv.start()
    ex = krakenfutures_client(srv, "sim-main")
    try:
        await ex.load_markets()
        return await body(eng, srv, ex)
    finally:
        await ex.close()
        await srv.stop()


def test_a_symbols_cancel_names_exactly_what_it_cancelled_and_the_dialect_counts_only_those():
    async def body(eng, srv, ex):
        a = eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, 2_500.0, time_in_force="GTC",
                            client_order_id="entry")
        t = eng.place_algo_order("sim-main", "ETHUSDT", "SELL", "STOP_MARKET", quantity=1.0, trigger_price=2_000.0,
                                 reduce_only=True, client_algo_id="sl")
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.1, 50_000.0, time_in_force="GTC",
                        client_order_id="other-symbol")
        answer = await ex.privatePostCancelallorders({"symbol": "PF_ETHUSD"})
        st = answer["cancelStatus"]
        assert (st["status"], st["cancelOnly"]) == ("cancelled", "PF_ETHUSD")
        assert {r["order_id"] for r in st["cancelledOrders"]} == {order_uuid(a.order_id), trigger_uuid(t.algo_id)}
        # a third order the caller meant, never named: not done
        got = KRAKEN.cancel_answer("symbol", answer, [order(order_uuid(a.order_id)), order(trigger_uuid(t.algo_id)),
                                                      order("00000000-0000-4000-8000-000000099999")])
        assert got.done == {order_uuid(a.order_id), trigger_uuid(t.algo_id)}
        again = await ex.privatePostCancelallorders({"symbol": "PF_ETHUSD"})
        assert again["cancelStatus"]["status"] == "noOrdersToCancel" and again["cancelStatus"]["cancelledOrders"] == []
        assert [o.client_order_id for o in eng.open_orders("sim-main")] == ["other-symbol"]

    run(served(body))


def test_a_cancel_of_an_order_not_open_is_not_found_and_reads_as_its_refusal():
    async def body(eng, srv, ex):
        answer = await ex.privatePostCancelorder({"order_id": "00000000-0000-4000-8000-000000099999"})
        assert answer["result"] == "success" and answer["cancelStatus"]["status"] == "notFound"
        got = KRAKEN.cancel_answer("one", answer, [order("00000000-0000-4000-8000-000000099999")])
        assert not got.done and got.refused["00000000-0000-4000-8000-000000099999"].reason == "ORDER_NOT_FOUND"

    run(served(body))


def test_the_dead_mans_switch_is_the_accounts():
    async def body(eng, srv, ex):
        armed = await ex.privatePostCancelallordersafter({"timeout": 60})
        assert armed["status"]["triggerTime"] != "0"
        assert set(eng.countdowns("sim-main")) == set(eng.markets)
        off = await ex.privatePostCancelallordersafter({"timeout": 0})
        assert off["status"]["triggerTime"] == "0" and not eng.countdowns("sim-main")

    run(served(body))


def test_a_signature_not_krakens_is_refused():
    async def body(eng, srv, ex):
        ex.secret = "b3RoZXI="  # base64 of another secret
        with pytest.raises(Exception) as e:
            await ex.privateGetAccounts()
        assert "authenticationError" in str(e.value)

    run(served(body))


def test_a_refused_close_is_http_200_with_its_send_status_and_the_adapter_raises_it():
    async def body():
        eng, _ = engine()
        async with SimServer(eng, auth_clock=wall_clock) as srv:
            srv.faults.reject_reduce_only(times=1)
            acc = sim_account(srv, "sim-main")
            ad = CcxtAdapter(acc, urls=acc.api_url, timeout=5.0)
            try:
                snap = await ad.snapshot()
                assert snap.fetch.ok, snap.fetch
                [held] = [p for p in snap.positions if p.symbol == "BTC/USD:USD"]
                intent = OrderIntent("d1", "ksk1", "krakenfutures", "sim-main", held.symbol, "sell", None, 1.0, True,
                                     None, 0.0, 1, 1, 0, "close_all", "test")
                with pytest.raises(AdapterError) as e:
                    await ad.submit(intent)
            finally:
                await ad.close()
        assert e.value.reason is Reason.REDUCE_ONLY_REJECTED
        assert e.value.refusal is not None and e.value.refusal.code == "wouldNotReducePosition"
        assert [s for m, p, s in srv.requests if p.endswith("/sendorder")] == [200]

    run(body())


def test_a_batch_of_cancels_answers_each_row_across_contracts_at_nine_plus_its_size():
    async def body(eng, srv, ex):
        a = eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, 2_500.0, time_in_force="GTC",
                            client_order_id="eth")
        b = eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.1, 50_000.0, time_in_force="GTC",
                            client_order_id="btc")
        t = eng.place_algo_order("sim-main", "ETHUSDT", "SELL", "STOP_MARKET", quantity=1.0, trigger_price=2_000.0,
                                 reduce_only=True, client_algo_id="sl")
        gone = eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, 2_400.0, time_in_force="GTC")
        eng.cancel_order("sim-main", "ETHUSDT", gone.order_id)  # gone at the venue before the batch
        never = "00000000-0000-4000-8000-000000099999"
        ids = [order_uuid(a.order_id), order_uuid(b.order_id), trigger_uuid(t.algo_id), order_uuid(gone.order_id),
               never]
        sent = [order(i) for i in ids]
        before = eng.used_weight("sim-main")
        answer = await ex.privatePostBatchorder({"batchOrder": [{"order": "cancel", "order_id": i} for i in ids]})
        assert eng.used_weight("sim-main") - before == 9 + len(sent)  # the dialect's table: 9 + its size
        assert [(r["status"], r["order_id"]) for r in answer["batchStatus"]] == [
            ("cancelled", ids[0]), ("cancelled", ids[1]), ("cancelled", ids[2]), ("notFound", ids[3]),
            ("notFound", never)]
        got = KRAKEN.cancel_answer("batch", answer, sent)
        assert got.done == set(ids[:3])
        assert {i: (r.code, r.reason) for i, r in got.refused.items()} == {
            ids[3]: ("notFound", "ORDER_NOT_FOUND"), never: ("notFound", "ORDER_NOT_FOUND")}
        assert not eng.open_orders("sim-main") and not eng.open_algo_orders("sim-main")

    run(served(body))


def test_a_batch_that_would_place_an_order_is_refused_whole():
    async def body(eng, srv, ex):
        a = eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, 2_500.0, time_in_force="GTC")
        with pytest.raises(Exception) as e:
            await ex.privatePostBatchorder({"batchOrder": [
                {"order": "cancel", "order_id": order_uuid(a.order_id)},
                {"order": "send", "order_tag": "1", "orderType": "lmt", "symbol": "PF_ETHUSD", "side": "buy",
                 "size": 1, "limitPrice": 2_000}]})
        assert "invalidArgument" in str(e.value)
        assert [o.order_id for o in eng.open_orders("sim-main")] == [a.order_id]  # nothing done

    run(served(body))


def test_cancels_that_wait_on_the_order_budget_go_together_in_one_batch():
    """The stream's fast path cancels each new entry by a call of its own: while the budget makes
    them wait (here 1 order a second, spent by a first cancel) they gather into one batchorder."""
    async def body():
        eng, _ = engine()
        async with SimServer(eng, auth_clock=wall_clock) as srv:
            acc = sim_account(srv, "sim-main")
            ad = CcxtAdapter(acc, urls=acc.api_url, timeout=10.0, orders_per_second=1.0)
            try:
                placed = [eng.place_order("sim-main", sym, "BUY", "LIMIT", 0.1, px, time_in_force="GTC")
                          for sym, px in [("ETHUSDT", 2_000.0), ("ETHUSDT", 2_001.0), ("BTCUSDT", 50_000.0),
                                          ("BTCUSDT", 50_001.0), ("ETHUSDT", 2_002.0)]]
                ad.open_orders_max_age_s = 0.0
                snap = await ad.snapshot()
                assert snap.fetch.ok, snap.fetch
                ids = [order_uuid(o.order_id) for o in placed]
                first = await ad.cancel_orders(CancelSelector(order_ids=(ids[0],)))  # spends the budget
                assert first.canceled == (ids[0],)
                results = await asyncio.gather(*(ad.cancel_orders(CancelSelector(order_ids=(i,))) for i in ids[1:]))
            finally:
                await ad.close()
        assert [r.canceled for r in results] == [(i,) for i in ids[1:]]
        cancels = [p.rsplit("/", 1)[1] for m, p, s in srv.requests if p.endswith(("/cancelorder", "/batchorder"))]
        assert cancels == ["cancelorder", "batchorder"]
        assert not eng.open_orders("sim-main")

    run(body())
