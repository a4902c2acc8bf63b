"""The real ``ccxt.async_support.mexc`` and the production CcxtAdapter (venue mexc, a spot account)
against the simulated exchange's MEXC spot face (:mod:`adapters.venues.mexc.face_spot`).

Each test starts a :class:`SimServer` on a free 127.0.0.1 port, runs, and stops; each is bounded
in time. The engine runs on a manual clock at T0 (flat marks); the account holds the scenario's
spot balances (USDT, BTC, ETH, SOL). The face places immediate orders alone: the open-order
list is empty here, and a cancel finds nothing (the rows are proven on MEXC's documented answers,
tests/unit/adapters/venues/test_mexc_spot.py).
"""

from __future__ import annotations

import hashlib
import hmac

import aiohttp
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.simulated.http import wall_clock
from adapters.venues.mexc.face_spot import sim_account
from killswitch.orders import OrderIntent
from killswitch.snapshot import Order

from .spot_face_helpers import BTC, CID, serve_spot, spot_sell, valued_at_the_tickers


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
