"""The real ``ccxt.async_support.mexc`` and the production CcxtAdapter (venue mexc, a spot account)
against the simulated exchange's MEXC spot face (:mod:`adapters.venues.mexc.face.spot`).

Each test starts a :class:`SimServer` on a free 127.0.0.1 port, runs, and stops; each is bounded
in time. The engine runs on a manual clock at T0 (flat marks); the account holds the scenario's
spot balances (USDT, BTC, ETH, SOL). A bot's resting limit orders are placed through a ccxt
client of its own (the rows of the order types the face does not place are proven on MEXC's
documented answers, tests/unit/adapters/venues/mexc/test_spot.py).
"""

from __future__ import annotations

import hashlib
import hmac

import aiohttp
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.simulated.http import wall_clock
from adapters.venues.mexc.face import mexc_client
from adapters.venues.mexc.face.spot import sim_account
from killswitch.orders import OrderIntent
from killswitch.snapshot import Order
from tests.integration.spot_face_helpers import BTC, CID, serve_spot, spot_sell, valued_at_the_tickers


def serve(test, **kw):
    return serve_spot(sim_account, test, **kw)


def sell(amount: float, cid: str = CID) -> OrderIntent:
    return spot_sell("mexc", amount, cid)


def test_the_snapshot_values_the_spot_book_at_the_faces_price_tickers():
    async def body(srv, ad, eng):
        await valued_at_the_tickers(srv, ad, "mexc", 3)  # one request each

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
        assert sum(1 for m, p, _ in srv.requests if (m, p) == ("POST", "/api/v3/order")) == 1

    serve(body)


def test_a_cancel_the_venue_does_not_know_keeps_mexcs_2011():
    async def body(srv, ad, eng):
        ad._orders = {"99": Order(id="99", client_id=None, symbol=BTC, side="sell", type="limit", kind="regular",
                                  amount=0.1)}
        r = await ad.cancel_orders(CancelSelector(order_ids=("99",)))
        assert not r.canceled and r.failed == {"99": "ORDER_NOT_FOUND"}
        assert "-2011" in r.words["99"] and "Unknown order sent" in r.words["99"]
        assert ("DELETE", "/api/v3/order") in {(m, p) for m, p, _ in srv.requests}
        assert not [p for _, p, _ in srv.requests if p == "/api/v3/order/all"]

    serve(body)


def test_no_countdown_is_offered_on_mexc_spot():
    async def body(srv, ad, eng):
        assert ad.position_mode() is None  # a spot account holds assets: no mode to read or warn of
        assert not ad.capabilities.cancel_all_after
        with pytest.raises(AdapterError) as e:
            await ad.arm_cancel_all_after(60, ())
        assert e.value.reason is Reason.UNSUPPORTED

    serve(body)


def test_a_bad_signature_and_a_stale_timestamp_are_refused_in_mexcs_shape():
    async def body(srv, ad, eng):
        spec = eng.accounts["sim-main"].spec
        url = f"{srv.base_url}/api/v3/account"

        async def get(query: str, secret: str) -> tuple[int, dict]:
            sign = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
            headers = {"X-MEXC-APIKEY": spec.api_key}
            async with aiohttp.ClientSession() as s, s.get(f"{url}?{query}&signature={sign}", headers=headers) as r:
                return r.status, await r.json()

        now = int(wall_clock())
        status, good = await get(f"timestamp={now}&recvWindow=5000", spec.secret)
        assert status == 200 and {"asset": "BTC", "free": "1.5", "locked": "0"} in good["balances"]
        assert await get(f"timestamp={now}&recvWindow=5000", "other") == (
            400, {"code": 700002, "msg": "Signature for this request is not valid."})
        status, stale = await get(f"timestamp={now - 60_000}&recvWindow=5000", spec.secret)
        assert status == 400 and stale["code"] == 700003

    serve(body)


async def _bot(srv):
    """A bot's ccxt ``mexc`` client on the account's spot API."""
    ex = mexc_client(srv, "sim-main", options={"defaultType": "spot"})
    await ex.load_markets()
    return ex


def test_a_resting_limit_is_listed_holds_its_balance_and_is_cancelled_by_id():
    async def body(srv, ad, eng):
        ex = await _bot(srv)
        try:
            placed = await ex.create_order(BTC, "limit", "sell", 0.5, 65_000, {"clientOrderId": "bot-a-1"})
            rows = await ex.fetch_open_orders(BTC)
            assert [(o["id"], o["clientOrderId"], o["price"], o["info"]["type"], o["info"]["status"]) for o in rows] \
                == [(placed["id"], "bot-a-1", 65_000.0, "LIMIT", "NEW")]
            bal = await ex.fetch_balance()  # what it holds is locked, the rest free
            assert (bal["BTC"]["total"], bal["BTC"]["used"], bal["BTC"]["free"]) == pytest.approx((1.5, 0.5, 1.0))
        finally:
            await ex.close()
        s = await ad.snapshot()
        assert s.fetch.ok, s.fetch.error
        assert [(o.id, o.client_id, o.kind, o.type, o.side, o.price, o.amount) for o in s.orders] == [
            (placed["id"], "bot-a-1", "regular", "limit", "sell", 65_000.0, 0.5)]
        r = await ad.cancel_orders(CancelSelector(order_ids=(placed["id"],)))
        assert r.canceled == (placed["id"],) and not r.failed
        assert eng.open_spot_orders("sim-main") == [] and (await ad.snapshot()).orders == []
        ad._orders = {o.id: o for o in s.orders}  # cancelled again: the venue no longer knows it
        again = await ad.cancel_orders(CancelSelector(order_ids=(placed["id"],)))
        assert again.failed == {placed["id"]: "ORDER_NOT_FOUND"} and "-2011" in again.words[placed["id"]]

    serve(body)


def test_a_symbols_orders_go_by_one_request_each_named_cancelled():
    async def body(srv, ad, eng):
        kept = eng.place_spot_order("sim-main", "ETHUSDT", "BUY", 1.0, 2_500.0, time_in_force="GTC")
        for price in (64_000.0, 66_000.0):
            eng.place_spot_order("sim-main", "BTCUSDT", "SELL", 0.2, price, time_in_force="GTC")
        s = await ad.snapshot()
        assert s.fetch.ok and len(s.orders) == 3
        before = len(srv.requests)
        r = await ad.cancel_orders(CancelSelector(symbols=(BTC,)))
        assert sorted(r.canceled) == sorted(o.id for o in s.orders if o.symbol == BTC) and not r.failed
        sent = [(m, p) for m, p, _ in srv.requests[before:] if m == "DELETE"]
        assert sent == [("DELETE", "/api/v3/openOrders")]
        assert [o.order_id for o in eng.open_spot_orders("sim-main")] == [kept.order_id]

    serve(body)


def test_a_limit_rests_until_the_mark_crosses_it_and_an_unplaceable_type_is_refused():
    async def body(srv, ad, eng):
        ex = await _bot(srv)
        try:
            placed = await ex.create_order(BTC, "limit", "sell", 0.5, 61_000)
            eng.set_mark("BTCUSDT", 61_500.0)
            assert await ex.fetch_open_orders(BTC) == []
            row = await ex.fetch_order(placed["id"], BTC)
            assert (row["info"]["status"], row["info"]["executedQty"]) == ("FILLED", "0.5")
            with pytest.raises(Exception) as e:  # post-only: not placed by this face (30041)
                await ex.create_order(BTC, "limit", "sell", 0.1, 70_000, {"postOnly": True})
            assert "30041" in str(e.value)
        finally:
            await ex.close()
        assert eng.account_state("sim-main").spot["BTC"] == pytest.approx(1.0)

    serve(body)


def test_the_accounts_trades_are_read_from_my_trades_with_their_orders_client_ids():
    """``GET /api/v3/myTrades`` lists the account's fills of a pair since a time, as ccxt's mexc
    quotes MEXC's row (no client order id): the adapter reads each as a trade and looks its order
    up (``GET /api/v3/order``) for the client id, once an order; another pair's fill is not listed."""
    async def body(srv, ad, eng):
        since = eng.now()
        eng.place_spot_order("sim-main", "BTCUSDT", "BUY", 0.25, client_order_id="alp-mkt-1")
        eng.place_spot_order("sim-main", "ETHUSDT", "BUY", 0.5, client_order_id="alp-mkt-2")
        fills = await ad.fills(BTC, since)
        assert [(f.client_id, f.side, f.amount, f.symbol) for f in fills] == [("alp-mkt-1", "buy", 0.25, BTC)]
        assert fills[0].price and fills[0].price > 0 and fills[0].ts_ms >= since
        asked = [(m, p) for m, p, _ in srv.requests if p in ("/api/v3/myTrades", "/api/v3/order")]
        assert asked == [("GET", "/api/v3/myTrades"), ("GET", "/api/v3/order")], asked
        assert await ad.fills(BTC, eng.now() + 1) == []

    serve(body)
