"""The real ``ccxt.async_support.mexc`` and the production CcxtAdapter (venue mexc, a spot account)
against the simulated exchange's MEXC spot face (:mod:`adapters.venues.mexc.face_spot`).

Each test starts a :class:`SimServer` on a free 127.0.0.1 port, runs, and stops; each is bounded
in time. The engine runs on a manual clock at T0 (flat marks); the account holds the scenario's
spot balances (USDT, BTC, ETH, SOL). The engine's spot desk rests no order: the open-order list
is empty here, and a cancel finds nothing (the rows are proven on MEXC's documented answers,
tests/unit/adapters/venues/test_mexc_spot.py).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter

import aiohttp
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.simulated.http import SimServer, wall_clock
from adapters.venues.mexc.face_spot import sim_account
from killswitch.orders import OrderIntent
from killswitch.snapshot import Order

from .sim_helpers import engine, run

BTC = "BTC/USDT"
CID = "ks" + "0123456789abcdef0123456789abcd"


def serve(test, *, account: str = "sim-main", timeout: float = 30.0):
    ex_engine, clock = engine()

    async def go():
        srv = SimServer(ex_engine, auth_clock=wall_clock, hang_s=6.0)
        await srv.start()
        acc = sim_account(srv, account)
        ad = CcxtAdapter(acc, urls=acc.api_url, timeout=3.0, max_retries=1, backoff_s=0.05)
        try:
            return await test(srv, ad, ex_engine)
        finally:
            await ad.close()
            await srv.stop()

    return run(go(), timeout)


def sell(amount: float, cid: str = CID) -> OrderIntent:
    return OrderIntent(decision_id="d1", client_order_id=cid, venue="mexc", account="sim-main", symbol=BTC,
                       side="sell", position_side=None, amount=amount, reduce_only=False, limit_price=None,
                       notional=amount * 60_000.0, chunk=1, chunks=1, not_before_ms=0, action="close_all",
                       reason="test")


def test_the_snapshot_values_the_spot_book_at_the_faces_price_tickers():
    async def body(srv, ad, eng):
        s = await ad.snapshot()
        assert s.fetch.ok, s.fetch.error
        held = {b.asset: (b.total, b.price) for b in s.balances}
        assert held == {"USDT": (50_000.0, 1.0), "BTC": (1.5, 60_000.0), "ETH": (20.0, 3_000.0),
                        "SOL": (300.0, 140.0)}
        assert s.equity == pytest.approx(50_000 + 1.5 * 60_000 + 20 * 3_000 + 300 * 140)
        assert s.positions == [] and s.orders == []
        # a second snapshot asks what the dialect declares a spot snapshot reads, once each
        before, counted = len(srv.requests), ad.weight_meter.used()
        assert (await ad.snapshot()).fetch.ok
        cost = dialect_for("mexc").snapshot_cost("spot")
        declared = Counter(" ".join(r.endpoint.split()[:2]) for r in cost.reads)
        assert Counter(f"{m} {p}" for m, p, _ in srv.requests[before:]) == declared
        assert ad.weight_meter.used() - counted == pytest.approx(cost.full) == 3  # one request each

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
