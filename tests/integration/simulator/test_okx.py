"""The real ``ccxt.async_support.okx`` and the production CcxtAdapter (venue okx) against the
simulated exchange's OKX v5 face (:mod:`adapters.venues.okx.face`).

Each test starts a :class:`SimServer` on a free 127.0.0.1 port (the Binance face and the OKX
face on the one port), runs, and stops; each is bounded in time. The engine runs on a manual
clock at T0 (flat marks); OKX's request timestamps are checked against the wall clock, which
is what ccxt signs with.
"""

from __future__ import annotations

import os

import aiohttp
import ccxt
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.http import SimServer, wall_clock
from adapters.venues.okx.face import okx_client, sim_account as okx_account
from tests.integration.sim_helpers import T0, engine, intent, run

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


def serve(test, *, account: str = "sim-main", eng=None, adapter_kw=None, timeout: float = 30.0):
    """Run ``await test(server, client, adapter, engine, clock)`` with a fresh server, a ccxt okx
    client and a CcxtAdapter (venue okx) for ``account``."""
    ex_engine, clock = eng or engine()

    async def go():
        srv = SimServer(ex_engine, auth_clock=wall_clock, hang_s=6.0)
        await srv.start()
        client = okx_client(srv, account)
        acc = okx_account(srv, account)
        ad = CcxtAdapter(acc, urls=acc.api_url, timeout=3.0, max_retries=1, backoff_s=0.05, **(adapter_kw or {}))
        try:
            return await test(srv, client, ad, ex_engine, clock)
        finally:
            await ad.close()
            await client.close()
            await srv.stop()

    return run(go(), timeout)


def sent(srv: SimServer) -> list[str]:
    return [f"{m} {p}" for m, p, _ in srv.requests]


async def reason_of(coro) -> Reason:
    try:
        await coro
    except AdapterError as e:
        return e.reason
    pytest.fail("expected an AdapterError")


# --- markets, balance, positions ----------------------------------------------------------------------------


def test_ccxt_okx_loads_swap_instruments_with_contract_size_one_on_loopback_only():
    async def t(srv, ex, ad, eng, clock):
        markets = await ex.load_markets()
        assert sorted(markets) == [BTC, ETH, SOL]
        btc = markets[BTC]
        assert (btc["id"], btc["type"], btc["linear"], btc["settle"], btc["contractSize"]) == (
            "BTC-USDT-SWAP", "swap", True, "USDT", 1.0)
        assert btc["precision"]["amount"] == 0.001 and btc["precision"]["price"] == 0.1
        assert markets[SOL]["precision"]["amount"] == 1.0
        assert sent(srv) == ["GET /api/v5/public/instruments"]
        assert all(u.startswith(srv.base_url) for u in ex.urls["api"].values())
        assert await ex.fetch_time() == T0  # the engine's clock

    serve(t)


def test_snapshot_net_mode_matches_the_engine_with_regular_and_algo_orders():
    async def t(srv, ex, ad, eng, clock):
        eng.set_mark("BTCUSDT", 58_000.0)
        eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, 2_500.0, time_in_force="GTC",
                        client_order_id="entry1")
        await ex.load_markets()
        # through the venue's own algo endpoint: a trigger entry, a stop-loss that reduces, a trailing stop
        await ex.create_order(ETH, "market", "buy", 2.0, None, {"triggerPrice": 3_500.0, "algoClOrdId": "trig1"})
        await ex.create_order(ETH, "market", "sell", 10.0, None,
                              {"stopLossPrice": 2_600.0, "reduceOnly": True, "algoClOrdId": "sl1"})
        await ex.create_order(ETH, "market", "sell", 5.0, None,
                              {"trailingPercent": 2.0, "reduceOnly": True, "algoClOrdId": "trail1"})
        algos = {o.client_algo_id: o for o in eng.open_algo_orders("sim-main")}
        assert set(algos) == {"trig1", "sl1", "trail1"}
        assert algos["trail1"].callback_rate == pytest.approx(2.0)

        s = await ad.snapshot()
        assert s.fetch.ok, s.fetch
        v = eng.account_state("sim-main")
        assert s.equity == pytest.approx(v.equity)
        got = {(p.symbol, p.side): p.contracts for p in s.positions}
        assert got == {(BTC, "long"): 5.0, (ETH, "long"): 100.0, (SOL, "short"): 1000.0}
        orders = {o.client_id: (o.kind, o.side, o.trigger_price, o.reduce_only, o.amount) for o in s.orders}
        assert orders["entry1"] == ("regular", "buy", None, False, 1.0)
        assert orders["trig1"] == ("conditional", "buy", 3_500.0, False, 2.0)
        assert orders["sl1"] == ("tpsl", "sell", 2_600.0, True, 10.0)
        assert orders["trail1"][0] == "trailing" and orders["trail1"][3] is True
        assert set(orders) == {"entry1", "trig1", "sl1", "trail1"}
        lists = [p for p in sent(srv) if "orders-" in p]
        assert lists == ["GET /api/v5/trade/orders-pending"] + ["GET /api/v5/trade/orders-algo-pending"] * 3

    serve(t)


def test_snapshot_long_short_mode_reads_each_leg():
    async def t(srv, ex, ad, eng, clock):
        s = await ad.snapshot()
        assert s.fetch.ok, s.fetch
        legs = {(p.symbol, p.position_side): p.contracts for p in s.positions if p.symbol == BTC}
        assert legs == {(BTC, "LONG"): 2.0, (BTC, "SHORT"): 4.0}
        raw = await ex.private_get_account_positions({"instId": "BTC-USDT-SWAP"})
        assert sorted((r["posSide"], r["pos"], r["mgnMode"]) for r in raw["data"]) == [
            ("long", "2.000", "cross"), ("short", "4.000", "cross")]
        cfg = await ex.private_get_account_config()
        assert cfg["data"][0]["posMode"] == "long_short_mode"

    serve(t, account="sim-hedge")


# --- orders -------------------------------------------------------------------------------------------------


def test_a_reduce_only_close_in_the_positions_td_mode_fills_and_is_found_by_client_id():
    async def t(srv, ex, ad, eng, clock):
        await ad.snapshot()
        r = await ad.submit(intent(BTC, "sell", 2.0, cid="ksclose1", venue="okx"))
        assert r.client_order_id == "ksclose1" and r.order_id
        assert [abs(p.amount) for p in eng.positions("sim-main", "BTCUSDT")] == [pytest.approx(3.0)]
        found = await ad.fetch_order(BTC, "ksclose1")
        assert found.status == "filled" and found.filled == pytest.approx(2.0)
        assert "POST /api/v5/trade/batch-orders" in sent(srv) and "GET /api/v5/trade/order" in sent(srv)
        assert await reason_of(ad.fetch_order(BTC, "ksnever1")) is Reason.ORDER_NOT_FOUND

    serve(t)


def test_long_short_mode_close_names_the_leg_by_pos_side():
    async def t(srv, ex, ad, eng, clock):
        await ad.snapshot()
        r = await ad.submit(intent(BTC, "buy", 1.0, cid="kshedge1", position_side="SHORT", venue="okx",
                                   account="sim-hedge"))
        assert r.client_order_id == "kshedge1"
        legs = {p.position_side: abs(p.amount) for p in eng.positions("sim-hedge", "BTCUSDT")}
        assert legs == {"LONG": pytest.approx(2.0), "SHORT": pytest.approx(3.0)}

    serve(t, account="sim-hedge")


def test_a_close_in_another_margin_mode_or_without_a_position_is_refused_like_okx():
    async def t(srv, ex, ad, eng, clock):
        await ex.load_markets()
        with pytest.raises(ccxt.ExchangeError, match="51169"):  # no isolated position to reduce
            await ex.create_order(BTC, "market", "sell", 1.0, None, {"reduceOnly": True, "tdMode": "isolated"})
        with pytest.raises(ccxt.ExchangeError, match="51170"):  # a reduce-only buy on a long
            await ex.create_order(BTC, "market", "buy", 1.0, None, {"reduceOnly": True})
        with pytest.raises(ccxt.BadRequest, match="51000"):  # the venue keeps cross margin only
            await ex.create_order(BTC, "market", "buy", 0.01, None, {"tdMode": "isolated"})
        with pytest.raises(ccxt.BadRequest, match="posSide"):  # long/short legs in net mode
            await ex.create_order(BTC, "market", "sell", 1.0, None, {"posSide": "long"})
        assert [abs(p.amount) for p in eng.positions("sim-main", "BTCUSDT")] == [pytest.approx(5.0)]

    serve(t)


def test_a_reduce_only_refusal_is_classified_and_nothing_fills():
    async def t(srv, ex, ad, eng, clock):
        await ad.snapshot()
        eng.faults.reject_reduce_only(times=1)
        assert await reason_of(ad.submit(intent(BTC, "sell", 1.0, cid="ksro1", venue="okx"))) \
            is Reason.REDUCE_ONLY_REJECTED
        # the venue's own refusal: the position went away behind the adapter's back
        eng.place_order("sim-main", "SOLUSDT", "BUY", "MARKET", 1000.0, reduce_only=True)
        assert await reason_of(ad.submit(intent(SOL, "buy", 10.0, cid="ksro2", venue="okx"))) \
            is Reason.REDUCE_ONLY_REJECTED
        assert [abs(p.amount) for p in eng.positions("sim-main", "BTCUSDT")] == [pytest.approx(5.0)]

    serve(t)


@pytest.mark.parametrize("which,left", [("entries", {"tp1", "sl1"}), ("all", set())])
def test_cancel_entries_keeps_what_reduces_and_cancel_all_leaves_nothing(which, left):
    async def t(srv, ex, ad, eng, clock):
        eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 1.0, 2_500.0, time_in_force="GTC",
                        client_order_id="entry1")
        eng.place_order("sim-main", "ETHUSDT", "SELL", "LIMIT", 10.0, 3_500.0, time_in_force="GTC",
                        reduce_only=True, client_order_id="tp1")
        await ex.load_markets()
        await ex.create_order(ETH, "market", "buy", 2.0, None, {"triggerPrice": 3_500.0, "algoClOrdId": "trig1"})
        await ex.create_order(ETH, "market", "sell", 10.0, None,
                              {"stopLossPrice": 2_600.0, "reduceOnly": True, "algoClOrdId": "sl1"})
        await ad.snapshot()
        res = await ad.cancel_orders(CancelSelector(which=which, symbols=(ETH,)))
        assert not res.failed
        remaining = {o.client_order_id for o in eng.open_orders("sim-main")} | {
            o.client_algo_id for o in eng.open_algo_orders("sim-main")}
        assert remaining == left
        assert "POST /api/v5/trade/cancel-algos" in sent(srv)

    serve(t)


def test_the_lists_are_read_page_after_page():
    async def t(srv, ex, ad, eng, clock):
        for i in range(130):
            if i and i % 10 == 0:
                clock.advance(1000)  # the engine's order rate: 10 a second
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.01, 50_000.0 + i, time_in_force="GTC",
                            client_order_id=f"rest{i}")
        s = await ad.snapshot()
        assert s.fetch.ok, s.fetch
        assert {o.client_id for o in s.orders} == {f"rest{i}" for i in range(130)}
        pages = [q for m, p, _ in srv.requests if p == "/api/v5/trade/orders-pending" for q in [p]]
        assert len(pages) == 2
        raw = await ex.private_get_trade_orders_pending({"limit": "100"})
        oldest = min(int(r["ordId"]) for r in raw["data"])
        rest = await ex.private_get_trade_orders_pending({"after": str(oldest)})
        assert len(raw["data"]) == 100 and len(rest["data"]) == 30
        assert all(int(r["ordId"]) < oldest for r in rest["data"])
        with pytest.raises(ccxt.BadRequest, match="limit"):
            await ex.private_get_trade_orders_pending({"limit": "101"})

    serve(t)


def test_cancel_all_after_arms_every_market_and_disarms():
    async def t(srv, ex, ad, eng, clock):
        await ad.snapshot()
        st = await ad.arm_cancel_all_after(60, (BTC,))
        assert st.armed and st.supported
        assert set(eng.countdowns("sim-main")) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}  # OKX's is account-wide
        st = await ad.disarm_cancel_all_after((BTC,))
        assert not st.armed and eng.countdowns("sim-main") == {}
        with pytest.raises(ccxt.BadRequest, match="timeOut"):
            await ex.private_post_trade_cancel_all_after({"timeOut": "5"})

    serve(t)


# --- authentication and faults --------------------------------------------------------------------------------


def test_a_bad_signature_or_key_or_passphrase_is_an_authentication_error():
    async def t(srv, ex, ad, eng, clock):
        await ex.load_markets()
        for field, code in (("secret", "50113"), ("apiKey", "50111"), ("password", "50105")):
            bad = okx_client(srv, "sim-main", **{field: "wrong"})
            try:
                await bad.load_markets()
                with pytest.raises(ccxt.AuthenticationError, match=code):
                    await bad.fetch_balance()
            finally:
                await bad.close()
        statuses = [s for m, p, s in srv.requests if p == "/api/v5/account/balance"]
        assert statuses == [401, 401, 401]

    serve(t)


def test_the_adapter_with_a_bad_secret_reports_auth():
    async def t(srv, ex, ad, eng, clock):
        env: dict[str, str] = {}
        acc = okx_account(srv, "sim-main", env=env)
        os.environ.update({**env, "KS_SIM_OKX_SIM_MAIN_SECRET": "not-the-secret"})
        bad = CcxtAdapter(acc, urls=acc.api_url, timeout=3.0, max_retries=0)
        try:
            s = await bad.snapshot()
            assert not s.fetch.ok and s.fetch.error_code == Reason.AUTH.value
        finally:
            await bad.close()

    serve(t)


def test_a_429_is_rate_limited_and_nothing_fills():
    async def t(srv, ex, ad, eng, clock):
        await ad.snapshot()
        eng.faults.http_error("place_order", 429, times=1)
        assert await reason_of(ad.submit(intent(BTC, "sell", 1.0, cid="ks429", venue="okx"))) is Reason.RATE_LIMITED
        assert [abs(p.amount) for p in eng.positions("sim-main", "BTCUSDT")] == [pytest.approx(5.0)]
        assert ("POST", "/api/v5/trade/batch-orders", 429) in srv.requests

    serve(t)


def test_the_engines_own_rate_limit_answers_50011_with_429():
    async def t(srv, ex, ad, eng, clock):
        await ex.load_markets()
        eng.rate_limits = type(eng.rate_limits)(weight_per_minute=10, ban_after=100)
        with pytest.raises(ccxt.RateLimitExceeded, match="50011"):
            for _ in range(5):
                await ex.fetch_positions()

    serve(t)


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_exchange_unavailable(status):
    async def t(srv, ex, ad, eng, clock):
        await ad.snapshot()
        eng.faults.http_error("positions", status, times=5)
        s = await ad.snapshot()
        assert not s.fetch.ok and s.fetch.error_code == Reason.EXCHANGE_UNAVAILABLE.value

    serve(t)


def test_malformed_json_fails_the_snapshot_never_flat():
    async def t(srv, ex, ad, eng, clock):
        await ad.snapshot()
        eng.faults.malformed_json("positions", times=5)
        s = await ad.snapshot()
        assert not s.fetch.ok and s.fetch.error_code == Reason.BAD_RESPONSE.value and s.equity is None

    serve(t)


def test_a_close_that_executed_but_never_answered_is_found_and_not_repeated():
    async def t(srv, ex, ad, eng, clock):
        await ad.snapshot()
        eng.faults.disconnect_after_send(times=1)
        assert await reason_of(ad.submit(intent(BTC, "sell", 2.0, cid="ksdrop1", venue="okx"))) in (
            Reason.EXCHANGE_UNAVAILABLE, Reason.TIMEOUT)
        found = await ad.fetch_order(BTC, "ksdrop1")
        assert found.status == "filled"
        assert [abs(p.amount) for p in eng.positions("sim-main", "BTCUSDT")] == [pytest.approx(3.0)]

    serve(t)


def test_the_face_answers_unsigned_and_unknown_requests_the_okx_way():
    async def t(srv, ex, ad, eng, clock):
        async with aiohttp.ClientSession() as http:
            async with http.get(srv.base_url + "/api/v5/account/balance") as r:
                assert r.status == 401 and (await r.json())["code"] == "50103"
            async with http.get(srv.base_url + "/api/v5/nothing/here") as r:
                assert r.status == 404
            async with http.get(srv.base_url + "/api/v5/public/time") as r:
                assert (await r.json())["data"][0]["ts"] == str(eng.now())
            async with http.get(srv.base_url + "/fapi/v1/time") as r:  # the Binance face, on the same port
                assert (await r.json())["serverTime"] == eng.now()

    serve(t)


def test_an_order_named_by_neither_id_or_by_an_id_okx_never_gave_is_refused_in_its_words():
    async def t(srv, ex, ad, eng, clock):
        inst = {"instId": "BTC-USDT-SWAP"}
        for call, ref, code in ((ex.private_get_trade_order, {}, "50014"),
                                (ex.private_get_trade_order, {"ordId": "x1"}, "51603"),
                                (ex.private_get_trade_order_algo, {"algoId": "x1"}, "51603"),
                                (ex.private_post_trade_cancel_order, {}, "50014"),
                                (ex.private_post_trade_cancel_order, {"ordId": "x1"}, "51400")):
            with pytest.raises(ccxt.ExchangeError, match=code):
                await call({**inst, **ref})

    serve(t)
