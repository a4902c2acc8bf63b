"""Binance USDⓈ-M lists stop, take-profit and trailing orders only in its algo service
(``GET /fapi/v1/openAlgoOrders``), not in ``/fapi/v1/openOrders``: the snapshot lists both, each
order marked with its kind and trigger price, and ``cancel_orders`` cancels an algo order through
the algo service's own endpoints (issue "Venue truth", finding 1). The real ccxt binanceusdm
client, its HTTP ``fetch`` answering from Binance's documented answers and recording every
request the adapter sends."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from adapters.base import CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from tests.unit.adapters.ccxt.fake import BTC, account, market, run
from tests.venue_fixtures import fixture

FIXTURE = fixture("binanceusdm-open-algo-orders.json")

# GET /fapi/v3/positionRisk's documented response example (Binance USDⓈ-M Futures API, "Position
# Information V3"), its symbol changed from ADAUSDT to BTCUSDT
POSITION_ROW = {
    "symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": "30", "entryPrice": "0.385",
    "breakEvenPrice": "0.385077", "markPrice": "0.41047590", "unRealizedProfit": "0.76427700",
    "liquidationPrice": "0", "isolatedMargin": "0", "notional": "12.31427700", "marginAsset": "USDT",
    "isolatedWallet": "0", "initialMargin": "0.61571385", "maintMargin": "0.08004",
    "positionInitialMargin": "0.61571385", "openOrderInitialMargin": "0", "adl": 2, "bidNotional": "0",
    "askNotional": "0", "updateTime": 1720736417660,
}


class Venue:
    """Answers ccxt's requests from the fixture; every request is kept as (METHOD, path, params).
    ``positions``: the rows of positionRisk (none by default); ``regular``: the rows of
    openOrders in place of the fixture's."""

    def __init__(self, algo: bool = True, positions: list | None = None, regular: list | None = None):
        self.doc = json.loads(FIXTURE.read_text())
        if regular is not None:
            self.doc["openOrders"] = regular
        self.positions = positions or []
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
            return self.positions
        if key == ("GET", "/fapi/v1/openOrders"):
            return self.doc["openOrders"]
        if key == ("GET", "/fapi/v1/positionSide/dual"):  # the account's mode (the documented answer)
            return {"dualSidePosition": False}
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


def adapter(venue: Venue, **kw) -> CcxtAdapter:
    def build(config: dict):  # the client the adapter would build, with its options
        ex = ccxt_async.binanceusdm(config)
        ex.set_markets([market(BTC, "BTCUSDT")])
        ex.fetch = venue.fetch
        return ex

    return CcxtAdapter(account("binanceusdm", **kw), exchange_factory=build)


def snapshot(venue: Venue):
    a = adapter(venue)
    try:
        return run(a.snapshot())
    finally:
        run(a.close())


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
    # every request the snapshot sends (signed: timestamp, recvWindow and signature left out): the
    # account, the positions and both lists, each whole (no symbol, no page)
    assert venue.requests == [
        ("GET", "/fapi/v3/account", {}),
        ("GET", "/fapi/v3/positionRisk", {}),
        ("GET", "/fapi/v1/openOrders", {}),
        ("GET", "/fapi/v1/openAlgoOrders", {}),
        ("GET", "/fapi/v1/positionSide/dual", {}),  # the account's position mode, at the first snapshot
    ]


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
    # Binance's cancel-all answers code 200 "done", naming no order: acknowledged, confirmed
    # only by the list the runner's port reads after it
    assert not res.failed and not res.canceled and len(res.acknowledged) == 5
    assert venue.requests == [
        ("GET", "/fapi/v1/openOrders", {}),
        ("GET", "/fapi/v1/openAlgoOrders", {}),
        ("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"}),
        ("DELETE", "/fapi/v1/algoOpenOrders", {"symbol": "BTCUSDT"}),
    ]


def test_cancel_entries_keeps_every_order_that_can_only_reduce():
    venue = Venue()
    a = adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="entries")))
    run(a.close())
    assert not res.failed
    # the entry limit and the entry stop go, each through its own endpoint; the stop-loss
    # (closePosition), the reduce-only take-profit and the trailing stop stay
    assert venue.requests == [
        ("GET", "/fapi/v1/openOrders", {}),
        ("GET", "/fapi/v1/openAlgoOrders", {}),
        ("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": "8886774"}),
        ("DELETE", "/fapi/v1/algoOrder", {"symbol": "BTCUSDT", "algoId": "3358"}),
    ]


def test_a_position_of_the_documented_shape_is_read():
    snap = snapshot(Venue(positions=[POSITION_ROW]))
    assert snap.fetch.ok, snap.fetch
    (p,) = snap.positions
    assert (p.symbol, p.side, p.position_side, p.contracts, p.entry_price) == (BTC, "long", "BOTH", 30.0, 0.385)


def _algo(venue: Venue, algo_id: int) -> dict:
    return next(r for r in venue.doc["openAlgoOrders"] if r["algoId"] == algo_id)


def _unknown_algo_type(v: Venue) -> None:
    _algo(v, 3358)["orderType"] = "STOP_LOSS_LIMIT"  # a spot type, never an algo one


def _no_algo_type(v: Venue) -> None:
    del _algo(v, 3360)["orderType"]


def _no_quantity(v: Venue) -> None:
    del _algo(v, 3358)["quantity"]


def _no_trigger(v: Venue) -> None:
    del _algo(v, 3360)["triggerPrice"]


def _unknown_regular_type(v: Venue) -> None:
    v.doc["openOrders"][0]["type"] = "LIMIT_MAKER"  # a spot type, never a futures one


def _no_side(v: Venue) -> None:
    del v.doc["openOrders"][0]["side"]


def _no_position_amount(v: Venue) -> None:
    v.positions = [{k: x for k, x in POSITION_ROW.items() if k != "positionAmt"}]


@pytest.mark.parametrize("edit, error", [
    (_unknown_algo_type, "GET /fapi/v1/openAlgoOrders: field orderType: unknown value 'STOP_LOSS_LIMIT'"),
    (_no_algo_type, "GET /fapi/v1/openAlgoOrders: field orderType: missing"),
    (_no_quantity, "GET /fapi/v1/openAlgoOrders: field origQty|quantity (ccxt amount): missing (order 3358)"),
    (_no_trigger, "GET /fapi/v1/openAlgoOrders: field stopPrice|triggerPrice (ccxt triggerPrice): missing on a "
                  "conditional order (order 3360)"),
    (_unknown_regular_type, "GET /fapi/v1/openOrders: field type: unknown value 'LIMIT_MAKER'"),
    (_no_side, "GET /fapi/v1/openOrders: field side: missing (order 8886774)"),
    (_no_position_amount, "GET /fapi/v3/positionRisk: field positionAmt: missing"),
], ids=["unknown-algo-orderType", "no-algo-orderType", "no-quantity", "no-triggerPrice", "unknown-type", "no-side",
        "no-positionAmt"])
def test_an_answer_not_understood_fails_the_snapshot_naming_venue_endpoint_and_field(edit, error):
    """Never an order read as a guessed kind, a zero amount or no trigger, nor a position as flat."""
    venue = Venue()
    edit(venue)
    snap = snapshot(venue)
    assert not snap.fetch.ok and snap.equity is None and snap.positions == [] and snap.orders == []
    assert snap.fetch.error_code == Reason.BAD_RESPONSE.value
    assert snap.fetch.error == f"binanceusdm {error}"
