"""Bybit lists positions and open orders one settle coin and one page a call, and ccxt asks USDT
alone, once: a USDC-settled position or order, or any row past the first page, read as flat and
absent (issue "Venue truth", finding 4). Now every settle coin of the account is read (USDT and
USDC when it declares none; an inverse coin when it declares it) to its last page, or the
snapshot is LIST_INCOMPLETE; each open order carries the kind its ``stopOrderType`` says. The
real ccxt bybit client, its HTTP ``fetch`` answering from Bybit's documented answers (by
settleCoin and cursor) and recording every request the adapter sends."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects import DIALECTS, dialect_for
from adapters.ccxt_exchange.dialects.base import MAX_PAGES
from killswitch.compile.settle_check import VENUE_SETTLE_COINS
from tests.unit.adapters.ccxt.fake import account, market, run
from tests.venue_fixtures import fixture

FIXTURE = fixture("bybit-lists.json")
BTC, ETH, BTC_USDC = "BTC/USDT:USDT", "ETH/USDT:USDT", "BTC/USDC:USDC"
BTC_INVERSE = "BTC/USD:BTC"


def markets() -> list[dict]:
    usdc = market(BTC_USDC, "BTCPERP")
    inverse = market("BTC/USD:USD", "BTCUSD", amount_step=1, min_amount=1)
    inverse.update(symbol=BTC_INVERSE, settle="BTC", settleId="BTC", linear=False, inverse=True)
    return [market(BTC, "BTCUSDT"), market(ETH, "ETHUSDT"), usdc, inverse]


class Venue:
    """Answers ccxt's requests from the fixture by settleCoin and cursor; every request is kept
    as (METHOD, path, params). ``endless``: every page of USDT's positions points to another."""

    def __init__(self, endless: bool = False, stop_order_type: str | None = None, newest_first: bool = False):
        self.doc = json.loads(FIXTURE.read_text())
        if newest_first:  # as Bybit lists them: each page's first row is its newest order
            for pages in self.doc["orders"].values():
                for page in pages:
                    rows = page["result"]["list"]
                    for i, row in enumerate(rows):
                        row["createdTime"] = str(int(row["createdTime"]) + 1000 * (len(rows) - i))
        if stop_order_type is not None:
            self.doc["orders"]["USDC"][0]["result"]["list"][0]["stopOrderType"] = stop_order_type
        self.endless = endless
        self.requests: list[tuple[str, str, dict]] = []

    def page(self, lists: dict, params: dict) -> dict:
        pages = lists.get(params.get("settleCoin"))
        if pages is None:
            raise AssertionError(f"no settle coin in {params}")
        cursor = params.get("cursor")
        if self.endless and lists is self.doc["positions"]:
            got = json.loads(json.dumps(pages[0]))
            got["result"]["nextPageCursor"] = f"p{int((cursor or 'p0')[1:]) + 1}"
            return got
        if cursor is None:
            return pages[0]
        i = next(i for i, p in enumerate(pages) if p["result"]["nextPageCursor"] == cursor)
        return pages[i + 1]

    async def fetch(self, url, method="GET", headers=None, body=None):
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query)) if method == "GET" else json.loads(body or "{}")
        self.requests.append((method, parts.path, params))
        if parts.path == "/v5/account/wallet-balance":
            return {"retCode": 0, "retMsg": "OK", "result": {"list": [
                {"accountType": "UNIFIED", "totalEquity": "100000", "totalWalletBalance": "100000", "coin": [
                    {"coin": "USDT", "equity": "100000", "walletBalance": "100000", "unrealisedPnl": "0",
                     "locked": "0", "totalPositionIM": "0", "totalOrderIM": "0"}]}]}, "time": 1}
        if parts.path == "/v5/position/list":
            return self.page(self.doc["positions"], params)
        if parts.path == "/v5/order/realtime":
            return self.page(self.doc["orders"], params)
        if parts.path == "/v5/order/cancel-all":  # result.list: the orders it cancelled
            done = [{"orderId": r["orderId"], "orderLinkId": r.get("orderLinkId", "")}
                    for pages in self.doc["orders"].values() for page in pages for r in page["result"]["list"]
                    if r["symbol"] == params.get("symbol")]
            return {"retCode": 0, "retMsg": "OK", "result": {"list": done, "success": "1"}, "time": 1}
        if parts.path == "/v5/order/cancel":
            return {"retCode": 0, "retMsg": "OK", "result": {"orderId": params.get("orderId", ""), "orderLinkId": "",
                                                            "list": [], "success": "1"}, "time": 1}
        raise AssertionError(f"unexpected request {method} {parts.path}")


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    for k, v in (("KS_TEST_KEY", "k"), ("KS_TEST_SECRET", "s"), ("KS_TEST_PASS", "p")):
        monkeypatch.setenv(k, v)


def adapter(venue: Venue, **kw) -> CcxtAdapter:
    def build(config: dict):  # the client the adapter would build, with its options
        ex = ccxt_async.bybit(config)
        ex.set_markets(markets())
        # a unified trading account, as ccxt learns it from /v5/user/query-api once
        ex.options.update(enableUnifiedMargin=False, enableUnifiedAccount=True, unifiedMarginStatus=6)
        ex.fetch = venue.fetch
        return ex

    return CcxtAdapter(account("bybit", **kw), exchange_factory=build)


def snapshot(venue: Venue, **kw):
    a = adapter(venue, **kw)
    snap = run(a.snapshot())
    run(a.close())
    return snap


def asked(venue: Venue, path: str) -> list[dict]:
    return [q for m, p, q in venue.requests if p == path and m == "GET"]


def test_usdc_settled_positions_and_orders_and_every_page_are_read():
    venue = Venue()
    snap = snapshot(venue)
    assert snap.fetch.ok, snap.fetch
    got = {(p.symbol, p.side): p.contracts for p in snap.positions}
    # the USDC perpetual is finding 4; ETHUSDT is on USDT's second page
    assert got == {(BTC, "long"): 0.5, (ETH, "short"): 2.0, (BTC_USDC, "long"): 0.1}
    assert "2001" in {o.id for o in snap.orders} and len(snap.orders) == 10
    assert asked(venue, "/v5/position/list") == [
        {"category": "linear", "settleCoin": "USDT", "limit": "200"},
        {"category": "linear", "settleCoin": "USDT", "limit": "200", "cursor": "c-usdt-2"},
        {"category": "linear", "settleCoin": "USDC", "limit": "200"},
    ]
    assert asked(venue, "/v5/order/realtime") == [
        {"category": "linear", "settleCoin": "USDT", "limit": "50"},
        {"category": "linear", "settleCoin": "USDT", "limit": "50", "cursor": "o-usdt-2"},
        {"category": "linear", "settleCoin": "USDC", "limit": "50"},
    ]
    assert {p for m, p, q in venue.requests} == {"/v5/account/wallet-balance", "/v5/position/list",
                                                 "/v5/order/realtime"}


def test_every_page_is_read_when_the_venue_lists_newest_first():
    """ccxt sorts a page's orders oldest first: the cursor it copied into the venue's first row
    (the newest) is then in the last row, and is still followed."""
    venue = Venue(newest_first=True)
    snap = snapshot(venue)
    assert snap.fetch.ok, snap.fetch
    assert len(snap.orders) == 10
    assert [q.get("cursor") for q in asked(venue, "/v5/order/realtime")] == [None, "o-usdt-2", None]


def test_declared_settle_coins_replace_the_default_and_an_inverse_coin_is_read_as_inverse():
    venue = Venue()
    snap = snapshot(venue, settle_coins=["USDC", "BTC"])
    assert snap.fetch.ok, snap.fetch
    assert {(p.symbol, p.side) for p in snap.positions} == {(BTC_USDC, "long"), (BTC_INVERSE, "short")}
    assert asked(venue, "/v5/position/list") == [
        {"category": "linear", "settleCoin": "USDC", "limit": "200"},
        {"category": "inverse", "settleCoin": "BTC", "limit": "200"},
    ]
    assert asked(venue, "/v5/order/realtime") == [
        {"category": "linear", "settleCoin": "USDC", "limit": "50"},
        {"category": "inverse", "settleCoin": "BTC", "limit": "50"},
    ]


def test_a_list_longer_than_max_pages_fails_the_snapshot_naming_the_endpoint_and_settle_coin():
    venue = Venue(endless=True)
    snap = snapshot(venue)
    assert not snap.fetch.ok and snap.equity is None
    assert snap.fetch.error_code == Reason.LIST_INCOMPLETE.value
    assert snap.fetch.error.startswith(f"GET /v5/position/list settleCoin=USDT: more than {MAX_PAGES} pages")
    assert len(asked(venue, "/v5/position/list")) == MAX_PAGES


def test_kinds_trigger_prices_and_reduce_only_field_by_field():
    snap = snapshot(Venue())
    got = {o.client_id: (o.kind, o.type, o.side, o.trigger_price, o.reduce_only, o.amount) for o in snap.orders}
    assert got == {
        # a plain entry: its attached take-profit and stop-loss (takeProfit, stopLoss) are no trigger
        "alpha-entry-1": ("regular", "limit", "buy", None, False, 0.01),
        "alpha-stop-entry-1": ("conditional", "market", "buy", 70000.0, False, 0.02),
        "alpha-tp-1": ("tpsl", "market", "sell", 75000.0, True, 0.0),  # the whole position's: qty 0
        "alpha-sl-1": ("tpsl", "market", "sell", 55000.0, True, 0.0),
        "beta-psl-1": ("tpsl", "market", "buy", 3200.0, True, 1.0),
        "beta-trail-1": ("trailing", "market", "buy", 3100.0, True, 2.0),
        "beta-close-1": ("conditional", "market", "buy", 3300.0, True, 2.0),  # closeOnTrigger: reduces
        "beta-tpsl-1": ("tpsl", "limit", "buy", 2850.0, True, 1.0),
        "beta-oco-1": ("oco", "limit", "sell", 3350.0, False, 1.0),
        "alpha-usdc-1": ("regular", "limit", "sell", None, False, 0.1),  # stopOrderType "UNKNOWN"
    }
    assert {o.strategy for o in snap.orders} == {"alpha", "beta"}


@pytest.mark.parametrize("value", ["StopMarket", "stop"])
def test_an_unknown_stop_order_type_fails_the_snapshot_naming_the_field(value):
    snap = snapshot(Venue(stop_order_type=value))
    assert not snap.fetch.ok and snap.fetch.error_code == Reason.BAD_RESPONSE.value
    assert snap.fetch.error == f"bybit GET /v5/order/realtime: field stopOrderType: unknown value {value!r}"


def test_one_symbols_orders_are_one_paged_read_of_that_symbol():
    venue = Venue()
    venue.doc["orders"][None] = venue.doc["orders"]["USDT"]  # (a symbol's read names no settle coin)
    a = adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="entries", symbols=(BTC,))))
    run(a.close())
    assert asked(venue, "/v5/order/realtime") == [
        {"category": "linear", "symbol": "BTCUSDT", "limit": "50"},
        {"category": "linear", "symbol": "BTCUSDT", "limit": "50", "cursor": "o-usdt-2"},
    ]
    assert not res.failed


def test_cancel_entries_keeps_every_tpsl_and_reduce_only_order():
    venue = Venue()
    a = adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="entries")))
    run(a.close())
    assert not res.failed
    cancels = [(p, q) for m, p, q in venue.requests if m == "POST"]
    # the entries go (a regular limit, an entry stop, the OCO, the USDC limit), each by its id and
    # symbol, with no parameter of its kind; every TP/SL, the trailing stop and the close-on-trigger
    # stop stay
    assert sorted(cancels, key=lambda c: c[1]["orderId"]) == [
        ("/v5/order/cancel", {"symbol": "BTCUSDT", "orderId": "1001", "category": "linear"}),
        ("/v5/order/cancel", {"symbol": "BTCUSDT", "orderId": "1002", "category": "linear"}),
        ("/v5/order/cancel", {"symbol": "ETHUSDT", "orderId": "1009", "category": "linear"}),
        ("/v5/order/cancel", {"symbol": "BTCPERP", "orderId": "2001", "category": "linear"}),
    ]


def test_cancel_all_is_one_cancel_all_of_each_symbol_without_an_order_filter():
    venue = Venue()
    a = adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="all")))
    run(a.close())
    assert not res.failed and len(res.canceled) == 10
    cancels = sorted(q["symbol"] for m, p, q in venue.requests if m == "POST" and p == "/v5/order/cancel-all")
    assert cancels == ["BTCPERP", "BTCUSDT", "ETHUSDT"]
    # every kind goes: no orderFilter (Bybit cancels every kind of a linear symbol without one)
    assert all(set(q) == {"category", "symbol"} for m, p, q in venue.requests if m == "POST")


def test_the_compilers_settle_coins_are_the_dialects():
    for venue_id, dialect in DIALECTS.items():
        assert VENUE_SETTLE_COINS.get(venue_id, ()) == dialect.supported_settle_coins, venue_id
    assert dialect_for("kraken").supported_settle_coins == ()


def _order(venue: Venue, order_id: str) -> dict:
    return next(r for pages in venue.doc["orders"].values() for page in pages for r in page["result"]["list"]
                if r["orderId"] == order_id)


def _position(venue: Venue) -> dict:
    return venue.doc["positions"]["USDT"][0]["result"]["list"][0]


def _no_size(v: Venue) -> None:
    del _position(v)["size"]  # ccxt would make one up from positionValue / markPrice


def _unknown_position_side(v: Venue) -> None:
    _position(v)["side"] = "Sideways"


def _no_qty(v: Venue) -> None:
    row = _order(v, "1001")
    del row["qty"], row["leavesQty"]  # (ccxt takes qty as leavesQty + cumExecQty when it has those)


def _no_order_type(v: Venue) -> None:
    del _order(v, "1001")["orderType"]


def _no_trigger(v: Venue) -> None:
    del _order(v, "1002")["triggerPrice"]


def _no_order_id(v: Venue) -> None:
    del _order(v, "1001")["orderId"]


@pytest.mark.parametrize("edit, error", [
    (_no_size, "GET /v5/position/list: field size: missing"),
    (_unknown_position_side, "GET /v5/position/list: field side: missing or unknown (BTC/USDT:USDT)"),
    (_no_qty, "GET /v5/order/realtime: field qty (ccxt amount): missing (order 1001)"),
    (_no_order_type, "GET /v5/order/realtime: field orderType (ccxt type): missing (order 1001)"),
    (_no_trigger, "GET /v5/order/realtime: field triggerPrice: missing on a conditional order (order 1002)"),
    (_no_order_id, "GET /v5/order/realtime: field orderId (ccxt id): missing"),
], ids=["no-size", "unknown-side", "no-qty", "no-orderType", "no-triggerPrice", "no-orderId"])
def test_an_answer_not_understood_fails_the_snapshot_naming_venue_endpoint_and_field(edit, error):
    """Never a position read as flat or made up, nor an order read with a guessed field."""
    venue = Venue()
    edit(venue)
    snap = snapshot(venue)
    assert not snap.fetch.ok and snap.equity is None and snap.positions == [] and snap.orders == []
    assert snap.fetch.error_code == Reason.BAD_RESPONSE.value
    assert snap.fetch.error == f"bybit {error}"


def test_a_margin_rate_close_without_a_trigger_price_is_read_as_a_conditional_order():
    """A MmRateClose closes the position at a maintenance margin rate, not at a price: Bybit gives
    it no trigger price, and the snapshot lists it rather than failing the account for good; a
    Stop without one still fails it (test above)."""
    venue = Venue()
    row = _order(venue, "1002")
    row["stopOrderType"], row["triggerPrice"] = "MmRateClose", ""
    snap = snapshot(venue)
    assert snap.fetch.ok, snap.fetch.error
    (got,) = [o for o in snap.orders if o.id == "1002"]
    assert (got.kind, got.trigger_price) == ("conditional", None)
