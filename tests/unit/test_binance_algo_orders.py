"""Binance USDⓈ-M lists stop, take-profit and trailing orders only in its algo service
(``GET /fapi/v1/openAlgoOrders``), not in ``/fapi/v1/openOrders``: the snapshot lists both, each
order marked with its kind and trigger price, and ``cancel_orders`` cancels an algo order through
the algo service's own endpoints (issue "Venue truth", finding 1). The real ccxt binanceusdm
client, its HTTP ``fetch`` answering from Binance's documented answers and recording every
request the adapter sends."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from adapters.base import CancelSelector
from adapters.ccxt_exchange import CcxtAdapter
from tests.unit.test_ccxt_adapter import BTC, account, market, run

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "venues" / "binanceusdm-open-algo-orders.json"


class Venue:
    """Answers ccxt's requests from the fixture; every request is kept as (METHOD, path, params)."""

    def __init__(self, algo: bool = True):
        self.doc = json.loads(FIXTURE.read_text())
        self.algo = algo
        self.requests: list[tuple[str, str, dict]] = []

    async def fetch(self, url, method="GET", headers=None, body=None):
        parts = urlsplit(url)
        params = {k: v for k, v in parse_qsl(parts.query) if k not in ("timestamp", "signature", "recvWindow")}
        self.requests.append((method, parts.path, params))
        key = (method, parts.path)
        if key in (("GET", "/fapi/v3/account"), ("GET", "/fapi/v2/account")):
            return {"totalMarginBalance": "10000.0", "totalWalletBalance": "10000.0", "assets": [
                {"asset": "USDT", "walletBalance": "10000.0", "marginBalance": "10000.0",
                 "availableBalance": "10000.0", "unrealizedProfit": "0.0"}], "positions": []}
        if key in (("GET", "/fapi/v3/positionRisk"), ("GET", "/fapi/v2/positionRisk")):
            return []
        if key == ("GET", "/fapi/v1/openOrders"):
            return self.doc["openOrders"]
        if key == ("GET", "/fapi/v1/openAlgoOrders"):
            if not self.algo:  # what ccxt raises on the venue's -5000 answer
                raise ccxt.BadRequest(f'binanceusdm {{"code":-5000,"msg":"Path {parts.path}, Method GET is invalid"}}')
            return self.doc["openAlgoOrders"]
        if key in (("DELETE", "/fapi/v1/allOpenOrders"), ("DELETE", "/fapi/v1/algoOpenOrders")):
            return {"code": 200, "msg": "The operation of cancel all open order is done."}
        if key in (("DELETE", "/fapi/v1/order"), ("DELETE", "/fapi/v1/algoOrder")):
            return {"algoId": int(params.get("algoId", 0)), "orderId": int(params.get("orderId", 0)),
                    "symbol": "BTCUSDT", "status": "CANCELED", "code": "200", "msg": "success"}
        raise AssertionError(f"unexpected request {method} {parts.path}")


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    for k, v in (("KS_TEST_KEY", "k"), ("KS_TEST_SECRET", "s"), ("KS_TEST_PASS", "p")):
        monkeypatch.setenv(k, v)


def adapter(venue: Venue) -> CcxtAdapter:
    def build(config: dict):  # the client the adapter would build, with its options
        ex = ccxt_async.binanceusdm(config)
        ex.set_markets([market(BTC, "BTCUSDT")])
        ex.fetch = venue.fetch
        return ex

    return CcxtAdapter(account("binanceusdm"), exchange_factory=build)


def test_the_snapshot_lists_the_algo_services_orders_beside_the_regular_ones():
    venue = Venue()
    a = adapter(venue)
    snap = run(a.snapshot())
    run(a.close())
    assert snap.fetch.ok, snap.fetch
    got = {o.client_id: (o.kind, o.type, o.side, o.trigger_price, o.reduce_only, o.amount) for o in snap.orders}
    assert got == {
        "alpha-limit-1": ("regular", "limit", "buy", None, False, 0.01),
        # ccxt unifies the algo service's STOP to limit and the *_MARKET types to market
        "yT58zmV3DSzMBQxc5tAJXU": ("conditional", "limit", "buy", 100000.0, False, 0.002),
        "alpha-sl-1": ("conditional", "market", "sell", 55000.0, True, 0.0),  # closePosition: reduces
        "alpha-tp-1": ("conditional", "market", "sell", 75000.0, True, 0.005),
        "beta-trail-1": ("trailing", "market", "sell", None, True, 0.004),
    }
    assert {o.strategy for o in snap.orders if o.client_id != "yT58zmV3DSzMBQxc5tAJXU"} == {"alpha", "beta"}
    assert ("GET", "/fapi/v1/openAlgoOrders", {}) in venue.requests


def test_an_algo_list_the_venue_will_not_give_fails_the_snapshot_instead_of_reading_no_stops():
    a = adapter(Venue(algo=False))
    snap = run(a.snapshot())
    run(a.close())
    assert not snap.fetch.ok and snap.equity is None
    assert snap.fetch.error.startswith("GET /fapi/v1/openAlgoOrders: ") and "-5000" in snap.fetch.error


def test_cancel_all_cancels_the_algo_orders_through_the_algo_service():
    venue = Venue()
    a = adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="all")))
    run(a.close())
    assert not res.failed and len(res.canceled) == 5
    deletes = [(m, p, q.get("symbol")) for m, p, q in venue.requests if m == "DELETE"]
    assert sorted(deletes) == [("DELETE", "/fapi/v1/algoOpenOrders", "BTCUSDT"),
                               ("DELETE", "/fapi/v1/allOpenOrders", "BTCUSDT")]


def test_cancel_entries_keeps_every_order_that_can_only_reduce():
    venue = Venue()
    a = adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="entries")))
    run(a.close())
    assert not res.failed
    deletes = sorted((p, q.get("orderId") or q.get("algoId")) for m, p, q in venue.requests if m == "DELETE")
    # the entry limit and the entry stop go, each through its own endpoint; the stop-loss
    # (closePosition), the reduce-only take-profit and the trailing stop stay
    assert deletes == [("/fapi/v1/algoOrder", "3358"), ("/fapi/v1/order", "8886774")]
