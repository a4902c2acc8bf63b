"""The simulated exchange's Hyperliquid face through the real ccxt hyperliquid client and the
CcxtAdapter: POST /info reads and signed POST /exchange actions over the one engine.

Each test starts a :class:`SimServer` on a free 127.0.0.1 port (request nonces checked against
the wall clock, which ccxt signs with; the engine on a manual clock at T0, flat marks), and
checks what the client reads against the engine, and what it sends by what the engine did.
"""

from __future__ import annotations

import json

import aiohttp
import ccxt
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, SimExchange
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.paths import Flat
from adapters.venues.hyperliquid.dialect import to_cloid
from adapters.venues.hyperliquid.face import account_address, account_key, action_digest, hyperliquid_client
from adapters.venues.hyperliquid.face.params import universe
from killswitch.engine.planner import client_order_id
from tests.integration.sim_helpers import T0, engine, hyperliquid_account, intent, run

BTC, ETH, SOL = "BTC/USDC:USDC", "ETH/USDC:USDC", "SOL/USDC:USDC"
CID = client_order_id("decision-1", "hyperliquid/sim-main/BTC/USDC:USDC/long#1")
CLOID = to_cloid(CID)


def serve(test, *, eng=None, timeout: float = 30.0):
    """``await test(server, engine, clock)`` with a fresh server on the calm scenario."""
    ex_engine, clock = eng or engine()

    async def go():
        srv = SimServer(ex_engine, auth_clock=wall_clock)
        await srv.start()
        try:
            return await test(srv, ex_engine, clock)
        finally:
            await srv.stop()

    return run(go(), timeout)


def adapter(srv, monkeypatch, account: str = "sim-main") -> CcxtAdapter:
    acc = hyperliquid_account(srv, monkeypatch, account)
    return CcxtAdapter(acc, urls=acc.api_url, timeout=5)


def paths(srv) -> list[str]:
    return [f"{m} {p}" for m, p, _ in srv.requests]


def close(amount: float, price: float, *, side: str = "sell", symbol: str = BTC, cid: str = CID):
    return intent(symbol, side, amount, cid=cid, limit_price=price, venue="hyperliquid")


# --- markets and addresses --------------------------------------------------------------------------------------


def test_coins_are_the_engines_bases_a_usdc_market_preferred():
    clock = ManualClock(T0)
    markets = [MarketSpec("BTCUSDT", "BTC"), MarketSpec("ETHUSDT", "ETH"), MarketSpec("BTCUSDC", "BTC", quote="USDC")]
    eng = SimExchange(clock, markets=markets, paths={m.symbol: Flat(1.0) for m in markets})
    assert [m.symbol for m in universe(eng)] == ["BTCUSDC", "ETHUSDT"]  # BTC asset 0, ETH asset 1


def test_an_accounts_address_is_its_derived_keys():
    key, address = account_key("sim-main"), account_address("sim-main")
    assert len(key) == 66 and len(address) == 42 and address == address.lower()
    assert account_address("sim-hedge") != address and account_address("sim-main") == address  # fixed, per name
    import coincurve  # the signer's library, as ccxt uses it

    pub = coincurve.PrivateKey(bytes.fromhex(key[2:])).public_key.format(compressed=False)[1:]
    assert "0x" + ccxt.Exchange.hash(pub, "keccak", "hex")[-40:] == address


def test_markets_load_from_meta_and_asset_ctxs_alone():
    async def t(srv, eng, clock):
        ex = hyperliquid_client(srv, "sim-main")
        try:
            markets = await ex.load_markets()
        finally:
            await ex.close()
        assert sorted(markets) == [BTC, ETH, SOL]
        btc = markets[BTC]
        assert (btc["baseName"], btc["baseId"], btc["settle"]) == ("BTC", "0", "USDC")
        assert btc["precision"]["amount"] == 0.001
        assert markets[SOL]["precision"]["amount"] == 1.0 and markets[SOL]["baseId"] == "2"
        assert paths(srv) == ["POST /info"]
        assert all(u == srv.base_url for u in ex.urls["api"].values())
    serve(t)


# --- the snapshot --------------------------------------------------------------------------------------------------


def test_the_snapshot_matches_the_engine(monkeypatch):
    async def t(srv, eng, clock):
        eng.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 1.0, 70_000.0, time_in_force="GTC", reduce_only=True,
                        client_order_id=CLOID)
        stop = eng.place_algo_order("sim-main", "ETHUSDT", "SELL", "STOP_MARKET", quantity=10.0,
                                    trigger_price=2_500.0, reduce_only=True)
        tp = eng.place_algo_order("sim-main", "SOLUSDT", "BUY", "TAKE_PROFIT_MARKET", trigger_price=100.0,
                                  close_position=True)
        a = adapter(srv, monkeypatch)
        try:
            snap = await a.snapshot()
        finally:
            await a.close()
        assert snap.fetch.ok, snap.fetch
        assert snap.equity == pytest.approx(eng.account_state("sim-main").equity)
        got = {p.symbol: (p.side, p.contracts, p.entry_price) for p in snap.positions}
        assert got == {BTC: ("long", 5.0, 60_000.0), ETH: ("long", 100.0, 3_000.0), SOL: ("short", 1000.0, 140.0)}
        orders = {o.symbol: (o.kind, o.side, o.client_id, o.trigger_price, o.reduce_only, o.amount)
                  for o in snap.orders}
        assert orders == {BTC: ("regular", "sell", CID, None, True, 1.0),
                          ETH: ("conditional", "sell", None, 2_500.0, True, 10.0),
                          SOL: ("tpsl", "buy", None, 100.0, True, 0.0)}
        assert {o.id for o in snap.orders} >= {str(stop.algo_id), str(tp.algo_id)}
        assert set(paths(srv)) == {"POST /info"}
    serve(t)


# --- orders ---------------------------------------------------------------------------------------------------------


def test_a_reduce_only_close_fills_and_the_position_shrinks(monkeypatch):
    async def t(srv, eng, clock):
        a = adapter(srv, monkeypatch)
        try:
            r = await a.submit(close(2.0, 59_000.0))
            found = await a.fetch_order(BTC, CID)
        finally:
            await a.close()
        assert (r.client_order_id, r.status, r.filled) == (CID, "filled", 2.0)
        assert eng.positions("sim-main", "BTCUSDT")[0].amount == 3.0
        o = eng.order_by_client_id("sim-main", CLOID)  # the cloid is the engine's client id
        assert o is not None and (o.reduce_only, o.time_in_force, o.type, o.side) == (True, "IOC", "LIMIT", "SELL")
        assert o.price == 59_000.0
        # found again by the engine's id: orderStatus by cloid
        assert (found.client_order_id, found.order_id, found.status, found.filled) == (CID, str(o.order_id),
                                                                                      "filled", 2.0)
    serve(t)


def test_an_ioc_that_cannot_match_is_the_venues_refusal(monkeypatch):
    async def t(srv, eng, clock):
        a = adapter(srv, monkeypatch)
        try:
            with pytest.raises(AdapterError) as e:
                await a.submit(close(1.0, 61_000.0))  # a sell above the mark: nothing crosses
        finally:
            await a.close()
        assert e.value.reason is Reason.INVALID_ORDER and "could not immediately match" in e.value.message
        assert eng.positions("sim-main", "BTCUSDT")[0].amount == 5.0
    serve(t)


def test_the_venues_reduce_only_refusal_is_reduce_only_rejected(monkeypatch):
    async def t(srv, eng, clock):
        a = adapter(srv, monkeypatch)
        try:
            snap = await a.snapshot()  # the adapter knows the long of 5
            assert snap.fetch.ok
            eng.place_order("sim-main", "BTCUSDT", "SELL", "MARKET", 4.0, reduce_only=True)  # behind its back
            with pytest.raises(AdapterError) as e:
                await a.submit(close(2.0, 59_000.0))
            eng.faults.reject_reduce_only("place_order", times=1)  # and the fault, in the venue's words
            with pytest.raises(AdapterError) as fault:
                await a.submit(close(1.0, 59_000.0, cid=client_order_id("d2", "leg")))
        finally:
            await a.close()
        assert e.value.reason is Reason.REDUCE_ONLY_REJECTED
        assert fault.value.reason is Reason.REDUCE_ONLY_REJECTED
        assert eng.positions("sim-main", "BTCUSDT")[0].amount == 1.0
    serve(t)


def test_a_429_is_rate_limited(monkeypatch):
    async def t(srv, eng, clock):
        eng.faults.http_error("place_order", 429, times=1)
        a = adapter(srv, monkeypatch)
        try:
            with pytest.raises(AdapterError) as e:
                await a.submit(close(1.0, 59_000.0))
        finally:
            await a.close()
        assert e.value.reason is Reason.RATE_LIMITED
        assert ("POST", "/exchange", 429) in srv.requests
        assert eng.positions("sim-main", "BTCUSDT")[0].amount == 5.0  # never executed
    serve(t)


def test_cancel_entries_then_all(monkeypatch):
    async def t(srv, eng, clock):
        entry = eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.1, 50_000.0, time_in_force="GTC")
        exit_ = eng.place_order("sim-main", "ETHUSDT", "SELL", "LIMIT", 1.0, 4_000.0, time_in_force="GTC",
                                reduce_only=True, client_order_id=CLOID)
        stop = eng.place_algo_order("sim-main", "ETHUSDT", "SELL", "STOP_MARKET", quantity=10.0,
                                    trigger_price=2_500.0, reduce_only=True)
        a = adapter(srv, monkeypatch)
        try:
            entries = await a.cancel_orders(CancelSelector(which="entries"))
            left = {o.order_id for o in eng.open_orders("sim-main")}
            rest = await a.cancel_orders(CancelSelector(which="all"))
        finally:
            await a.close()
        assert entries.canceled == (str(entry.order_id),) and not entries.failed
        assert left == {exit_.order_id}
        assert sorted(rest.canceled) == sorted([str(exit_.order_id), str(stop.algo_id)]) and not rest.failed
        assert eng.open_orders("sim-main") == [] and eng.open_algo_orders("sim-main") == []
    serve(t)


def test_entries_on_several_coins_go_in_one_cancel_action(monkeypatch):
    """A cancel action names each oid's asset: a rogue's entries spread over coins are one signed
    request, not one a coin (each spends the account's order budget of 5 a second)."""
    async def t(srv, eng, clock):
        placed = [eng.place_order("sim-main", sym, "BUY", "LIMIT", qty, px, time_in_force="GTC")
                  for sym, qty, px in (("BTCUSDT", 0.1, 50_000.0), ("ETHUSDT", 1.0, 2_500.0),
                                       ("SOLUSDT", 10.0, 100.0), ("BTCUSDT", 0.1, 49_000.0))]
        a = adapter(srv, monkeypatch)
        try:
            await a.snapshot()
            before = len(srv.requests)
            r = await a.cancel_orders(CancelSelector(which="entries"))
        finally:
            await a.close()
        assert sorted(r.canceled) == sorted(str(o.order_id) for o in placed) and not r.failed
        assert [p for p in paths(srv)[before:] if p.endswith("/exchange")] == ["POST /exchange"]
        assert eng.open_orders("sim-main") == []
    serve(t)


def test_ccxt_places_rests_and_cancels_by_cloid():
    async def t(srv, eng, clock):
        ex = hyperliquid_client(srv, "sim-main")
        try:
            placed = await ex.create_order(ETH, "limit", "buy", 1.0, 2_900.0, {"clientOrderId": CLOID})
            listed = await ex.fetch_open_orders()
            canceled = await ex.cancel_order("", ETH, {"clientOrderId": CLOID})
            with pytest.raises(ccxt.OrderNotFound) as again:
                await ex.cancel_order(placed["id"], ETH)
        finally:
            await ex.close()
        o = eng.order_by_client_id("sim-main", CLOID)
        assert placed["id"] == str(o.order_id) and o.time_in_force == "GTC" and not o.reduce_only
        assert [(x["id"], x["clientOrderId"], x["price"], x["amount"]) for x in listed] == [
            (str(o.order_id), CLOID, 2_900.0, 1.0)]
        assert canceled["status"] == "success" and o.status == "CANCELED"
        assert "Order was never placed, already canceled, or filled. asset=1" in str(again.value)
    serve(t)


# --- the dead man's switch -------------------------------------------------------------------------------------------


def test_schedule_cancel_arms_and_the_engine_cancels_at_the_time(monkeypatch):
    async def t(srv, eng, clock):
        o = eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.1, 50_000.0, time_in_force="GTC")
        a = adapter(srv, monkeypatch)
        try:
            st = await a.arm_cancel_all_after(30)
            armed = eng.countdowns("sim-main")
            off = await a.disarm_cancel_all_after()
            disarmed = eng.countdowns("sim-main")
            await a.arm_cancel_all_after(30)
        finally:
            await a.close()
        assert (st.armed, st.seconds, off.armed) == (True, 30.0, False)
        assert set(armed) == set(eng.markets) and all(T0 + 29_000 < d <= T0 + 30_000 for d in armed.values())
        assert disarmed == {}
        clock.advance(29_000)
        eng.tick()
        assert eng.open_orders("sim-main")[0].order_id == o.order_id
        clock.advance(1_000)
        eng.tick()
        assert eng.open_orders("sim-main") == [] and eng.order_by_client_id("sim-main", o.client_order_id).status == \
            "CANCELED"
        assert any(e["event"] == "countdown_cancel_all" for e in eng.events)
    serve(t)


def test_schedule_cancel_under_five_seconds_is_refused():
    async def t(srv, eng, clock):
        ex = hyperliquid_client(srv, "sim-main")
        try:
            got = await ex.cancel_all_orders_after(4_000)
        except Exception as e:  # noqa: BLE001 - ccxt raises on the venue's refusal
            got = str(e)
        finally:
            await ex.close()
        assert "at least 5 seconds" in str(got) and eng.countdowns("sim-main") == {}
    serve(t)


# --- signatures and nonces -------------------------------------------------------------------------------------------


async def _post(srv, body: dict) -> tuple[int, object]:
    async with aiohttp.ClientSession() as s:
        async with s.post(srv.base_url + "/exchange", data=json.dumps(body),
                          headers={"Content-Type": "application/json"}) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text


def _signed(action: dict, nonce: int, account: str = "sim-main", key: str | None = None) -> dict:
    ex = ccxt.hyperliquid({"walletAddress": account_address(account), "privateKey": key or account_key(account)})
    return {"action": action, "nonce": nonce, "signature": ex.sign_l1_action(action, nonce)}


def test_the_signer_is_recovered_and_a_nonce_used_once():
    async def t(srv, eng, clock):
        nonce = wall_clock()
        action = {"type": "scheduleCancel", "time": nonce + 60_000}
        body = _signed(action, nonce)
        ok = await _post(srv, body)
        replay = await _post(srv, body)
        tampered = await _post(srv, {**body, "action": {"type": "scheduleCancel", "time": nonce + 600_000}})
        stranger = await _post(srv, _signed(action, nonce + 1, key="0x" + "42" * 32))
        unsigned = await _post(srv, {"action": action, "nonce": nonce + 2})
        old = await _post(srv, _signed(action, nonce - 3 * 86_400_000))
        hedge = await _post(srv, _signed({"type": "scheduleCancel"}, nonce + 3, account="sim-hedge"))
        return ok, replay, tampered, stranger, unsigned, old, hedge

    ok, replay, tampered, stranger, unsigned, old, hedge = serve(t)
    assert ok == (200, {"status": "ok", "response": {"type": "default"}})
    assert replay == (200, {"status": "err", "response": "Invalid nonce: duplicate nonce"})
    for refused in (tampered, stranger):  # another action, another key: a signer no account has
        assert refused[0] == 200 and refused[1]["status"] == "err"
        assert refused[1]["response"].startswith("User or API Wallet 0x")
    assert unsigned[0] == 422 and "signature" in unsigned[1]
    assert old[1]["status"] == "err" and "Invalid nonce" in old[1]["response"]
    assert hedge == (200, {"status": "ok", "response": {"type": "default"}})  # each account's own key


def test_info_for_an_address_no_account_has_is_empty():
    async def t(srv, eng, clock):
        async with aiohttp.ClientSession() as s:
            async with s.post(srv.base_url + "/info", json={"type": "clearinghouseState",
                                                            "user": "0x" + "ab" * 20}) as r:
                state = await r.json()
            async with s.post(srv.base_url + "/info", json={"type": "frontendOpenOrders", "user": "0xab"}) as r:
                bad = r.status
        return state, bad

    state, bad = serve(t)
    assert state["assetPositions"] == [] and state["marginSummary"]["accountValue"] == "0.0"
    assert bad == 422


def test_an_account_built_for_the_face_reads_by_its_address(monkeypatch):
    async def t(srv, eng, clock):
        acc = hyperliquid_account(srv, monkeypatch, "sim-main")
        assert acc.credentials.wallet_address == account_address("sim-main") and acc.api_url == srv.base_url
        # the digest a signature covers is the venue's: a vault changes it
        assert action_digest({"type": "scheduleCancel"}, 1, None) != action_digest({"type": "scheduleCancel"}, 1,
                                                                                   "cd" * 20)
    serve(t)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def test_no_other_account_is_touched(monkeypatch):
    async def t(srv, eng, clock):
        before = eng.dump_state()["accounts"]["sim-hedge"]
        a = adapter(srv, monkeypatch)
        try:
            await a.submit(close(1.0, 59_000.0))
        finally:
            await a.close()
        assert eng.dump_state()["accounts"]["sim-hedge"] == before
    serve(t)


def test_the_hedge_key_does_not_trade_the_main_account(monkeypatch):
    spec = AccountSpec("other", "k", "s", wallet=10_000.0)

    async def t(srv, eng, clock):
        eng.add_account(spec)
        eng.open_position("other", "BTCUSDT", "long", 1.0, 60_000.0)
        a = adapter(srv, monkeypatch, "other")
        try:
            r = await a.submit(close(1.0, 59_000.0))
        finally:
            await a.close()
        assert r.status == "filled" and eng.positions("other") == []
        assert eng.positions("sim-main", "BTCUSDT")[0].amount == 5.0
    serve(t)


def test_the_accounts_fills_are_read_by_time_with_their_order(monkeypatch):
    """``userFillsByTime`` (ccxt's fetchMyTrades with a start): the close's trade, its oid and
    cloid as the venue documents a fill; what a revert's attribution reads."""
    async def t(srv, eng, clock):
        a = adapter(srv, monkeypatch)
        try:
            await a.submit(close(2.0, 59_000.0))
            fills = await a.fills(BTC, T0 - 1)
            later = await a.fills(BTC, clock() + 60_000)
        finally:
            await a.close()
        o = eng.order_by_client_id("sim-main", CLOID)
        assert [(f.order_id, f.client_id, f.side, f.amount, f.symbol) for f in fills] == [
            (str(o.order_id), CID, "sell", 2.0, BTC)]
        assert later == []
        status, rows = await _info(srv, {"type": "userFills", "user": account_address("sim-main")})
        assert status == 200 and [(r["coin"], r["side"], r["sz"], r["oid"], r["cloid"], r["dir"]) for r in rows] == [
            ("BTC", "A", "2.0", o.order_id, CLOID, "Close Long")]
        status, _ = await _info(srv, {"type": "userFillsByTime", "user": account_address("sim-main")})
        assert status == 422  # no startTime
    serve(t)


async def _info(srv, body: dict) -> tuple[int, object]:
    async with aiohttp.ClientSession() as s, s.post(srv.base_url + "/info", json=body) as r:
        text = await r.text()
        return r.status, json.loads(text) if r.status == 200 else text
