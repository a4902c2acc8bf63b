"""The real ``ccxt.async_support.kraken`` and the production CcxtAdapter (venue kraken, a spot
account) against the simulated exchange's Kraken spot face (:mod:`adapters.venues.kraken.face`).

Each test starts a :class:`SimServer` on a free 127.0.0.1 port, runs, and stops; each is bounded
in time. The engine runs on a manual clock at T0 (flat marks); the account holds the scenario's
spot balances (USDT, BTC, ETH, SOL). Orders rest on the engine's spot desk: limits GTC, stop-loss
and take-profit orders until their trigger.
"""

from __future__ import annotations

import base64
import functools

import aiohttp
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.venues.kraken.face import kraken_client, signature, sim_account
from killswitch.orders import OrderIntent
from tests.integration.spot_face_helpers import BTC, CID, serve_spot, spot_sell, valued_at_the_tickers


def serve(test, **kw):
    return serve_spot(sim_account, test, **kw)


def sell(amount: float, cid: str = CID) -> OrderIntent:
    return spot_sell("kraken", amount, cid)


def test_the_snapshot_values_the_spot_book_at_the_faces_tickers():
    async def body(srv, ad, eng):
        await valued_at_the_tickers(srv, ad, "kraken", 2)  # the key's counter: 2 calls

    serve(body)


def test_a_close_sells_the_holding_and_is_found_again_by_its_client_id():
    async def body(srv, ad, eng):
        await ad.snapshot()
        r = await ad.submit(sell(0.5))
        assert r.client_order_id == CID
        assert eng.account_state("sim-main").spot["BTC"] == pytest.approx(1.0)
        found = await ad.fetch_order(BTC, CID)
        assert found.status == "filled" and found.filled == pytest.approx(0.5) and found.client_order_id == CID
        with pytest.raises(AdapterError) as e:  # more than is held: refused before it is sent
            await ad.submit(sell(1.5, "ks" + "f" * 30))
        assert e.value.reason is Reason.CLOSE_EXCEEDS_POSITION
        assert sum(1 for _, p, _ in srv.requests if p == "/0/private/AddOrder") == 1

    serve(body)


def test_a_cancel_the_venue_does_not_know_keeps_eorder_unknown_order():
    async def body(srv, ad, eng):
        from killswitch.snapshot import Order

        ad._orders = {"OSIM9-KRAKN-SPOTS": Order(id="OSIM9-KRAKN-SPOTS", client_id=None, symbol=BTC, side="sell",
                                                 type="limit", kind="regular", amount=0.1)}
        r = await ad.cancel_orders(CancelSelector(order_ids=("OSIM9-KRAKN-SPOTS",)))
        assert not r.canceled and r.failed == {"OSIM9-KRAKN-SPOTS": "ORDER_NOT_FOUND"}
        assert "EOrder:Unknown order" in r.words["OSIM9-KRAKN-SPOTS"]
        assert not [p for _, p, _ in srv.requests if p == "/0/private/CancelAll"]

    serve(body)


def test_the_dead_mans_switch_arms_the_engines_countdown_and_turns_it_off():
    async def body(srv, ad, eng):
        st = await ad.arm_cancel_all_after(60, ())
        assert st.armed and st.seconds == 60.0
        assert len(eng.countdowns("sim-main")) == len(eng.markets)
        await ad.disarm_cancel_all_after()
        assert eng.countdowns("sim-main") == {}

    serve(body)


def test_a_bad_signature_and_a_nonce_not_growing_are_refused_in_krakens_envelope():
    async def body(srv, ad, eng):
        spec = eng.accounts["sim-main"].spec
        secret = base64.b64encode(spec.secret.encode()).decode()
        url = f"{srv.base_url}/0/private/BalanceEx"

        async def post(nonce: str, sign: str) -> dict:
            data = f"nonce={nonce}"
            headers = {"API-Key": spec.api_key, "API-Sign": sign, "Content-Type": "application/x-www-form-urlencoded"}
            async with aiohttp.ClientSession() as s, s.post(url, data=data, headers=headers) as resp:
                assert resp.status == 200
                return await resp.json()

        good = await post("1000", signature(secret, "/0/private/BalanceEx", "1000", "nonce=1000"))
        assert good["error"] == [] and "USDT" in good["result"]
        again = await post("1000", signature(secret, "/0/private/BalanceEx", "1000", "nonce=1000"))
        assert again == {"error": ["EAPI:Invalid nonce"], "result": {}}
        forged = await post("1001", signature(base64.b64encode(b"other").decode(), "/0/private/BalanceEx", "1001",
                                              "nonce=1001"))
        assert forged == {"error": ["EAPI:Invalid signature"], "result": {}}
        # the real client reads the refusal inside HTTP 200 as a failure, never as a balance
        ex = kraken_client(srv, "sim-main", secret="b3RoZXI=")
        try:
            with pytest.raises(Exception) as e:
                await ex.fetch_balance()
            assert "EAPI:Invalid signature" in str(e.value)
        finally:
            await ex.close()

    serve(body)


async def _client(srv):
    """A bot's ccxt ``kraken`` client on the account, with a key of its own: Kraken's nonce grows
    per key, and the adapter's client signs with the account's key meanwhile."""
    if srv.engine.account_for_key("kraken-bot") is None:
        srv.engine.permissions.add_key("sim-main", "kraken-bot", "bot-secret")
    ex = kraken_client(srv, "sim-main", apiKey="kraken-bot", secret=base64.b64encode(b"bot-secret").decode())
    last = [0]

    def nonce() -> int:  # growing even for two requests within a millisecond
        last[0] = max(ex.milliseconds(), last[0] + 1)
        return last[0]

    ex.nonce = nonce
    await ex.load_markets()
    return ex


def test_a_resting_limit_is_listed_with_its_cl_ord_id_and_cancelled_by_id():
    async def body(srv, ad, eng):
        ex = await _client(srv)
        try:
            placed = await ex.create_order(BTC, "limit", "sell", 0.5, 65_000, {"cl_ord_id": "bot-a-1"})
            rows = (await ex.fetch_open_orders())
            assert [(o["id"], o["clientOrderId"], o["price"], o["info"]["descr"]["ordertype"]) for o in rows] == [
                (placed["id"], "bot-a-1", 65_000.0, "limit")]
            # the balance it holds: hold_trade, and free is the rest
            bal = await ex.fetch_balance()
            assert (bal["BTC"]["total"], bal["BTC"]["used"], bal["BTC"]["free"]) == pytest.approx((1.5, 0.5, 1.0))
        finally:
            await ex.close()
        s = await ad.snapshot()
        assert s.fetch.ok, s.fetch.error
        assert [(o.id, o.client_id, o.kind, o.type, o.price, o.amount) for o in s.orders] == [
            (placed["id"], "bot-a-1", "regular", "limit", 65_000.0, 0.5)]
        r = await ad.cancel_orders(CancelSelector(order_ids=(placed["id"],)))
        assert r.canceled == (placed["id"],) and not r.failed
        assert eng.open_spot_orders("sim-main") == []
        assert (await ad.snapshot()).orders == []
        # cancelled again: the venue no longer knows it
        ad._orders = {o.id: o for o in s.orders}
        again = await ad.cancel_orders(CancelSelector(order_ids=(placed["id"],)))
        assert again.failed == {placed["id"]: "ORDER_NOT_FOUND"}
        assert "EOrder:Unknown order" in again.words[placed["id"]]

    serve(body)


def test_cancel_order_answers_count_one_and_the_order_is_gone():
    async def body(srv, ad, eng):
        ex = await _client(srv)
        try:
            placed = await ex.create_order(BTC, "limit", "buy", 0.1, 55_000)
            answer = await ex.private_post_cancelorder({"txid": placed["id"]})
            assert answer == {"error": [], "result": {"count": 1}}
            assert await ex.fetch_open_orders() == []
            with pytest.raises(Exception) as e:
                await ex.cancel_order(placed["id"])
            assert "EOrder:Unknown order" in str(e.value)
        finally:
            await ex.close()

    serve(body)


def test_a_limit_rests_until_the_mark_crosses_it_then_fills():
    async def body(srv, ad, eng):
        ex = await _client(srv)
        try:
            placed = await ex.create_order(BTC, "limit", "sell", 0.5, 61_000, {"cl_ord_id": "bot-a-2"})
            eng.set_mark("BTCUSDT", 60_900.0)
            assert [o["id"] for o in await ex.fetch_open_orders()] == [placed["id"]]
            eng.set_mark("BTCUSDT", 61_500.0)
            assert await ex.fetch_open_orders() == []
            closed = (await ex.private_post_closedorders({"cl_ord_id": "bot-a-2"}))["result"]["closed"]
            row = closed[placed["id"]]
            assert (row["status"], row["vol_exec"], float(row["price"]) >= 61_000) == ("closed", "0.50000000", True)
        finally:
            await ex.close()
        assert eng.account_state("sim-main").spot["BTC"] == pytest.approx(1.0)


def test_a_conditional_order_is_listed_with_its_kind_and_trigger():
    async def body(srv, ad, eng):
        ex = await _client(srv)
        try:
            stop = await ex.create_order(BTC, "market", "sell", 0.5, None, {"stopLossPrice": 55_000})
            take = await ex.create_order(BTC, "limit", "sell", 0.4, 66_000, {"takeProfitPrice": 65_000})
            rows = {o["id"]: o["info"]["descr"] for o in await ex.fetch_open_orders()}
            assert {i: (d["ordertype"], d["price"], d["price2"]) for i, d in rows.items()} == {
                stop["id"]: ("stop-loss", "55000.0", "0"), take["id"]: ("take-profit-limit", "65000.0", "66000.0")}
        finally:
            await ex.close()
        s = await ad.snapshot()
        assert s.fetch.ok, s.fetch.error
        got = {o.id: (o.kind, o.type, o.trigger_price, o.price) for o in s.orders}
        assert got == {stop["id"]: ("conditional", "market", 55_000.0, None),
                       take["id"]: ("conditional", "limit", 65_000.0, 66_000.0)}
        eng.set_mark("BTCUSDT", 54_000.0)  # the stop triggers: sold at the mark
        assert [o.id for o in (await ad.snapshot()).orders] == [take["id"]]
        assert eng.account_state("sim-main").spot["BTC"] == pytest.approx(1.0)

    serve(body)


def test_a_sell_above_the_free_balance_is_refused_insufficient_funds():
    async def body(srv, ad, eng):
        ex = await _client(srv)
        try:
            await ex.create_order(BTC, "market", "sell", 1.0, None, {"stopLossPrice": 50_000})
            with pytest.raises(Exception) as e:  # 0.5 free of the 1.5 held
                await ex.create_order(BTC, "market", "sell", 0.6)
            assert "EOrder:Insufficient funds" in str(e.value)
        finally:
            await ex.close()
        await ad.snapshot()
        with pytest.raises(AdapterError) as refused:  # within the holding, above what is free
            await ad.submit(sell(1.0))
        assert refused.value.reason is Reason.INSUFFICIENT_MARGIN
        assert "EOrder:Insufficient funds" in refused.value.message
        assert eng.account_state("sim-main").spot["BTC"] == pytest.approx(1.5)

    serve(body)


def test_cancel_all_and_the_switch_take_the_resting_orders():
    async def body(srv, ad, eng):
        ex = await _client(srv)
        try:
            await ex.create_order(BTC, "limit", "sell", 0.2, 65_000)
            await ex.create_order(BTC, "market", "sell", 0.2, None, {"stopLossPrice": 55_000})
            answer = await ex.private_post_cancelall()
            assert answer == {"error": [], "result": {"count": 2}}
            assert await ex.fetch_open_orders() == []
            await ex.create_order(BTC, "limit", "sell", 0.2, 65_000)
            st = await ad.arm_cancel_all_after(60, ())
            assert st.armed
            eng.advance(59_000)
            assert len(await ex.fetch_open_orders()) == 1
            eng.advance(1_000)
            assert await ex.fetch_open_orders() == []
        finally:
            await ex.close()

    serve(body)


@pytest.mark.parametrize(("tier", "counter"), [
    pytest.param(None, (15.0, 0.33), id="none_named_starter"), pytest.param("Intermediate", (20.0, 0.5), id="faces")])
def test_the_keys_call_counter_refuses_past_its_maximum_and_the_paced_client_never_reaches_it(monkeypatch, tier,
                                                                                                counter):
    """The face keeps each key's call counter as Kraken documents it (an Intermediate key: 20,
    decaying 0.5 a second; trade history 2): an unpaced client's 21st call at once is ``EAPI:Rate
    limit exceeded``. The account's paced client sends 45 calls' reads as fast as it may and none
    is refused: it waits, on the engine's clock, for the counter to decay at its own tier's pace
    (the face's, or a Starter key's where the account names no tier: slower, never refused)."""
    import types

    import ccxt

    from adapters.ccxt_exchange import budget

    counter_max, decay = counter

    async def body(srv, ad, eng):
        ex, pacer = ad._ex, ad._ex.throttle
        ex.enableRateLimit = False
        for _ in range(20):
            await ex.privatePostBalanceEx()
        with pytest.raises(ccxt.BaseError, match="EAPI:Rate limit exceeded"):
            await ex.privatePostBalanceEx()
        eng.advance(40_000)  # the counter decayed to 0
        ex.enableRateLimit = True

        async def sleep(delay: float) -> None:  # the pacer's waits pass on the engine's clock
            eng.advance(int(delay * 1000) + 1)

        monkeypatch.setattr(budget, "asyncio", types.SimpleNamespace(sleep=sleep))
        pacer._clock, pacer._last = (lambda: eng.now() / 1000), eng.now() / 1000
        start = eng.now()
        for _ in range(15):
            await ex.privatePostBalanceEx()
            await ex.privatePostTradesHistory()
        assert eng.now() - start >= (45 - counter_max) / decay * 1000 - 1000  # past the tier's maximum, its decay

    serve_spot(functools.partial(sim_account, rate_tier=tier), body)
