"""OKX keeps TP/SL, OCO, trigger and trailing orders in its algo service: the snapshot lists
``GET /api/v5/trade/orders-algo-pending`` for each order type beside the regular
``orders-pending``, each order with its kind, trigger price, client id and whether it can only
reduce, and ``cancel_orders`` cancels an algo order through ``POST /api/v5/trade/cancel-algos``
(issue "Venue truth", finding 2). Both lists are paged (100 rows) and are read to their end, or
the snapshot is LIST_INCOMPLETE. The real ccxt okx client, its HTTP ``fetch`` answering from
OKX's documented answers as a paging venue would and recording every request the adapter
sends."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects import base as dialect_base
from tests.unit.adapters.ccxt.fake import BTC, account, market, run
from tests.venue_fixtures import fixture

REGULAR = json.loads(fixture("okx-orders-pending.json").read_text())["data"]
ALGO = json.loads(fixture("okx-orders-algo-pending.json").read_text())["data"]

BALANCE = {"code": "0", "msg": "", "data": [{"totalEq": "10000", "uTime": "1724751384000", "details": [
    {"ccy": "USDT", "eq": "10000", "cashBal": "10000", "availBal": "9000", "frozenBal": "1000", "availEq": "9000",
     "upl": "0", "uTime": "1724751384000"}]}]}

ORDERS_PENDING = "/api/v5/trade/orders-pending"
ALGO_PENDING = "/api/v5/trade/orders-algo-pending"


def _page(rows: list, id_field: str, params: dict) -> list:
    """What OKX answers: newest (highest id) first, ``limit`` rows (100 at most and by default)
    older than ``after``."""
    rows = sorted(rows, key=lambda r: int(r[id_field]), reverse=True)
    if "after" in params:
        rows = [r for r in rows if int(r[id_field]) < int(params["after"])]
    return rows[:min(int(params.get("limit", 100)), 100)]


class Venue:
    """Answers ccxt's requests as OKX would; every request is kept as (METHOD, path, params),
    the params of a POST its JSON body."""

    def __init__(self, regular: list | None = None, algo: dict | None = None, positions: list | None = None):
        self.regular = REGULAR if regular is None else regular
        self.algo = ALGO if algo is None else algo
        self.positions = positions or []
        self.refuse: set[str] = set()  # order ids a batch cancel refuses (51400)
        self.requests: list[tuple[str, str, object]] = []

    async def fetch(self, url, method="GET", headers=None, body=None):
        parts = urlsplit(url)
        params: object = dict(parse_qsl(parts.query)) if method == "GET" else json.loads(body)
        self.requests.append((method, parts.path, params))
        key = (method, parts.path)
        if key == ("GET", "/api/v5/account/balance"):
            return BALANCE
        if key == ("GET", "/api/v5/account/positions"):
            return {"code": "0", "msg": "", "data": self.positions}
        if key == ("GET", "/api/v5/account/config"):  # the account's mode (the documented answer's fields)
            return {"code": "0", "msg": "", "data": [{"acctLv": "2", "posMode": "net_mode", "uid": "1"}]}
        if key == ("GET", ORDERS_PENDING):
            assert isinstance(params, dict)
            return {"code": "0", "msg": "", "data": _page(self.regular, "ordId", params)}
        if key == ("GET", ALGO_PENDING):
            assert isinstance(params, dict)
            ord_type = params["ordType"]  # OKX requires it: 51000 Parameter ordType error
            return {"code": "0", "msg": "", "data": _page(self.algo.get(ord_type, []), "algoId", params)}
        if key == ("POST", "/api/v5/trade/cancel-order"):
            assert isinstance(params, dict)
            return {"code": "0", "msg": "",
                    "data": [{"clOrdId": "", "ordId": params["ordId"], "sCode": "0", "sMsg": ""}]}
        if key in (("POST", "/api/v5/trade/cancel-algos"), ("POST", "/api/v5/trade/cancel-batch-orders")):
            assert isinstance(params, list)
            # OKX's batch answer: a row per order, "2" when some were refused (sCode, sMsg)
            rows = [{"algoId": p.get("algoId", ""), "ordId": p.get("ordId", ""), "clOrdId": "",
                     "sCode": "0", "sMsg": ""} for p in params]
            for r in rows:
                if (r["ordId"] or r["algoId"]) in self.refuse:
                    r["sCode"], r["sMsg"] = "51400", "Order cancellation failed as the order has been filled"
            return {"code": "2" if any(r["sCode"] != "0" for r in rows) else "0", "msg": "", "data": rows}
        raise AssertionError(f"unexpected request {method} {parts.path}")

    def lists(self) -> list[tuple[str, dict]]:
        """The requests of the order lists, in the order sent."""
        return [(p, q) for m, p, q in self.requests if p in (ORDERS_PENDING, ALGO_PENDING) and isinstance(q, dict)]


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    for k, v in (("KS_TEST_KEY", "k"), ("KS_TEST_SECRET", "s"), ("KS_TEST_PASS", "p")):
        monkeypatch.setenv(k, v)


def adapter(venue: Venue) -> CcxtAdapter:
    def build(config: dict):  # the client the adapter would build, with its options
        ex = ccxt_async.okx(config)
        ex.set_markets([market(BTC, "BTC-USDT-SWAP")])
        ex.fetch = venue.fetch
        return ex

    return CcxtAdapter(account("okx"), exchange_factory=build)


def snapshot(venue: Venue):
    a = adapter(venue)
    try:
        return run(a.snapshot())
    finally:
        run(a.close())


def test_the_snapshot_lists_the_algo_orders_beside_the_regular_ones():
    """Finding 2: orders-algo-pending was never asked, and every TP/SL, OCO, trigger and
    trailing order of an OKX account was missing from the snapshot."""
    venue = Venue()
    snap = snapshot(venue)
    assert snap.fetch.ok, snap.fetch
    got = {o.id: (o.client_id, o.kind, o.type, o.side, o.trigger_price, o.reduce_only, o.amount, o.strategy)
           for o in snap.orders}
    assert got == {
        # orders-pending: ccxt unifies post_only to limit; a TP/SL attached keeps an order regular
        "1752588852617379840": (None, "regular", "limit", "buy", None, False, 0.001, None),
        "1752588852617379845": ("beta-entry-2", "regular", "limit", "buy", None, False, 0.2, "beta"),
        # placed by a stop-loss when it triggered: its own ordId, not the algoId ccxt would take
        "1752588852617379850": (None, "regular", "limit", "sell", None, True, 0.1, None),
        # orders-algo-pending, ordType conditional,oco: the documented row buys when it wakes (an entry)
        "1753184812254216192": (None, "conditional", "conditional", "buy", 10000.0, False, 10.0, None),
        # a position TP/SL (closeFraction 1, no size): the stop-loss's trigger of the two
        "1753184812254216200": ("alpha-tpsl-1", "tpsl", "conditional", "sell", 45000.0, True, 0.0, "alpha"),
        "1753184812254216210": ("alpha-sl-2", "tpsl", "conditional", "sell", 46000.0, True, 0.2, "alpha"),
        "1753184812254216220": ("beta-oco-1", "oco", "oco", "sell", 44000.0, True, 0.3, "beta"),
        # ordType trigger
        "1753184812254216230": ("beta-trig-1", "conditional", "trigger", "buy", 52000.0, False, 0.05, "beta"),
        "1753184812254216240": ("alpha-trig-2", "conditional", "trigger", "sell", 47000.0, True, 0.1, "alpha"),
        # ordType move_order_stop
        "1753184812254216250": ("alpha-trail-1", "trailing", "move_order_stop", "sell", 47500.0, True, 0.1, "alpha"),
    }
    assert all(o.position_side == "BOTH" for o in snap.orders)
    assert venue.lists() == [
        (ORDERS_PENDING, {"limit": "100"}),
        (ALGO_PENDING, {"ordType": "conditional,oco", "limit": "100"}),
        (ALGO_PENDING, {"ordType": "trigger", "limit": "100"}),
        (ALGO_PENDING, {"ordType": "move_order_stop", "limit": "100"}),
    ]
    assert {p for _, p, _ in venue.requests} == {"/api/v5/account/balance", "/api/v5/account/positions",
                                                 ORDERS_PENDING, ALGO_PENDING, "/api/v5/account/config"}


def _copies(row: dict, id_field: str, first: int, n: int, cid: str) -> list[dict]:
    return [{**row, id_field: str(first - i), "clOrdId" if id_field == "ordId" else "algoClOrdId": f"{cid}-{i}",
             "cTime": str(1724733617998 + i), "uTime": str(1724733617998 + i)} for i in range(n)]


def test_a_full_page_is_followed_by_the_next_after_its_oldest_id():
    regular = _copies(REGULAR[0], "ordId", 1752588852617379999, 150, "alpha-r")
    trigger = _copies(ALGO["trigger"][0], "algoId", 1753184812254216999, 100, "beta-t")
    venue = Venue(regular=regular, algo={**ALGO, "trigger": trigger})
    snap = snapshot(venue)
    assert snap.fetch.ok, snap.fetch
    ids = {o.id for o in snap.orders}
    assert {r["ordId"] for r in regular} <= ids and {r["algoId"] for r in trigger} <= ids
    assert len(snap.orders) == 150 + 100 + 4 + 1
    assert venue.lists() == [
        (ORDERS_PENDING, {"limit": "100"}),
        # OKX lists newest first; ccxt hands the page over sorted by time, oldest first
        (ORDERS_PENDING, {"limit": "100", "after": str(1752588852617379999 - 99)}),
        (ALGO_PENDING, {"ordType": "conditional,oco", "limit": "100"}),
        (ALGO_PENDING, {"ordType": "trigger", "limit": "100"}),
        # a last page of exactly 100 rows is followed by an empty one
        (ALGO_PENDING, {"ordType": "trigger", "limit": "100", "after": str(1753184812254216999 - 99)}),
        (ALGO_PENDING, {"ordType": "move_order_stop", "limit": "100"}),
    ]


def test_a_list_longer_than_the_pages_read_makes_the_snapshot_incomplete(monkeypatch):
    monkeypatch.setattr(dialect_base, "MAX_PAGES", 3)
    conditional = _copies(ALGO["conditional,oco"][1], "algoId", 1753184812254219999, 301, "alpha-s")
    venue = Venue(algo={**ALGO, "conditional,oco": conditional})
    snap = snapshot(venue)
    assert not snap.fetch.ok and snap.equity is None
    assert snap.fetch.error_code == "LIST_INCOMPLETE"
    assert snap.fetch.error.startswith(
        "GET /api/v5/trade/orders-algo-pending ordType=conditional,oco: more than 3 pages")
    assert sum(1 for p, q in venue.lists() if q.get("ordType") == "conditional,oco") == 3


def _cancels(venue: Venue) -> list[tuple[str, str]]:
    out = []
    for m, p, q in venue.requests:
        if m != "POST":
            continue
        for body in q if isinstance(q, list) else [q]:
            assert isinstance(body, dict) and body["instId"] == "BTC-USDT-SWAP", body
            out.append((p, body.get("algoId") or body.get("ordId")))
    return sorted(out)


def test_cancel_entries_keeps_every_order_that_closes_and_cancels_entry_algo_orders_as_algo_orders():
    venue = Venue()
    a = adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="entries")))
    run(a.close())
    assert not res.failed
    # the entry limits and the entry conditional and trigger orders go, each through its own
    # endpoint; every reduce-only order, the position TP/SL, the OCO and the trailing stop stay
    assert _cancels(venue) == [
        ("/api/v5/trade/cancel-algos", "1753184812254216192"),
        ("/api/v5/trade/cancel-algos", "1753184812254216230"),
        ("/api/v5/trade/cancel-batch-orders", "1752588852617379840"),
        ("/api/v5/trade/cancel-batch-orders", "1752588852617379845"),
    ]
    assert sorted(res.canceled) == ["1752588852617379840", "1752588852617379845",
                                    "1753184812254216192", "1753184812254216230"]


def test_a_batch_row_refused_beside_done_ones_keeps_the_venues_code_and_words():
    venue = Venue()
    venue.refuse = {REGULAR[0]["ordId"]}
    a = adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="all")))
    run(a.close())
    gone = REGULAR[0]["ordId"]
    assert gone not in res.canceled and len(res.canceled) == 9
    assert res.failed == {gone: "ORDER_NOT_FOUND"}  # 51400: filled, cancelled or not there
    assert res.words[gone] == "51400 Order cancellation failed as the order has been filled"


def test_cancel_all_cancels_algo_orders_through_cancel_algos_and_regular_ones_by_their_ordid():
    venue = Venue()
    a = adapter(venue)
    res = run(a.cancel_orders(CancelSelector(which="all")))
    run(a.close())
    assert not res.failed and len(res.canceled) == 10
    assert _cancels(venue) == sorted(
        [("/api/v5/trade/cancel-batch-orders", r["ordId"]) for r in REGULAR]
        + [("/api/v5/trade/cancel-algos", r["algoId"]) for rows in ALGO.values() for r in rows])


POSITION = json.loads(fixture("okx-positions-isolated.json").read_text())["response"]["data"][0]


def test_a_position_of_the_documented_shape_is_read():
    snap = snapshot(Venue(positions=[POSITION]))
    assert snap.fetch.ok, snap.fetch
    (p,) = snap.positions
    assert (p.symbol, p.side, p.position_side, p.contracts) == (BTC, "long", "BOTH", 0.5)


def _copy(rows: list, i: int, **change) -> list:
    """``rows`` with row ``i`` changed: a key given None is removed."""
    row = {k: v for k, v in {**rows[i], **change}.items() if v is not None}
    return [row if j == i else r for j, r in enumerate(rows)]


ALGO_TRIGGER = f"GET {ALGO_PENDING} ordType=trigger"


@pytest.mark.parametrize("venue, error", [
    (lambda: Venue(regular=_copy(REGULAR, 0, ordType="ioc_plus")),
     f"GET {ORDERS_PENDING}: field ordType: unknown value 'ioc_plus'"),
    (lambda: Venue(regular=_copy(REGULAR, 1, ordType=None)), f"GET {ORDERS_PENDING}: field ordType: missing"),
    (lambda: Venue(algo={**ALGO, "trigger": _copy(ALGO["trigger"], 0, ordType="chase")}),
     f"{ALGO_TRIGGER}: field ordType: unknown value 'chase'"),
    (lambda: Venue(algo={**ALGO, "trigger": _copy(ALGO["trigger"], 0, sz=None)}),
     f"{ALGO_TRIGGER}: field sz (ccxt amount): missing (order 1753184812254216230)"),
    (lambda: Venue(algo={**ALGO, "trigger": _copy(ALGO["trigger"], 0, triggerPx=None)}),
     f"{ALGO_TRIGGER}: field triggerPx|slTriggerPx|tpTriggerPx (ccxt triggerPrice): missing on a conditional "
     "order (order 1753184812254216230)"),
    (lambda: Venue(regular=_copy(REGULAR, 0, side=None)),
     f"GET {ORDERS_PENDING}: field side: missing (order 1752588852617379840)"),
    # (ccxt makes a size up from notionalUsd / markPx, 0.51, when pos is absent)
    (lambda: Venue(positions=_copy([POSITION], 0, pos=None)), "GET /api/v5/account/positions: field pos: missing"),
    (lambda: Venue(positions=_copy([POSITION], 0, posSide="both")),
     "GET /api/v5/account/positions: field posSide|pos (ccxt side): unknown value 'both' (BTC/USDT:USDT)"),
], ids=["unknown-regular-ordType", "no-regular-ordType", "unknown-algo-ordType", "no-sz", "no-triggerPx", "no-side",
        "no-pos", "unknown-posSide"])
def test_an_answer_not_understood_fails_the_snapshot_naming_venue_endpoint_and_field(venue, error):
    """Never an order read as a guessed kind, a zero amount or no trigger, nor a position as flat."""
    snap = snapshot(venue())
    assert not snap.fetch.ok and snap.equity is None and snap.positions == [] and snap.orders == []
    assert snap.fetch.error_code == Reason.BAD_RESPONSE.value
    assert snap.fetch.error == f"okx {error}"
