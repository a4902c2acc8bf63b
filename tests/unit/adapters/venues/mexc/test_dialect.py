"""MEXC futures through the real ccxt client (``ccxt.async_support.mexc``), answered with MEXC's
documented contract answers and ccxt's recordings (adapters/venues/mexc/fixtures/, README.md:
which are verbatim recordings, which documented examples, and which values a test fills in). The
snapshot is read field by field, the requests ccxt sends path by path, and each cancel's answer
order by order."""

from __future__ import annotations

import asyncio
import copy
import json
from types import SimpleNamespace
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter, dialect_for
from adapters.ccxt_exchange.dialects import KNOWN_RAW_FIELDS
from adapters.ccxt_exchange.parsing import parse_order
from adapters.venues.mexc.dialect import MEXC, position_mode
from killswitch.policy.accounts_doc import Account
from tests.unit.adapters.ccxt.fake import market, run
from tests.unit.adapters.venues.answered import PathVenue
from tests.venue_fixtures import fixture, recorded

DOCS = json.loads(fixture("contract-docs.json").read_text())
REQUESTS = json.loads(fixture("ccxt-static-request-mexc.json").read_text())["cases"]
ETH, STEPN, BTC = "ETH/USDT:USDT", "STEPN/USDT:USDT", "BTC/USDT:USDT"


def doc(name: str) -> dict:
    return copy.deepcopy(DOCS["examples"][name])


def ok(data) -> dict:
    """MEXC's success envelope (documented: success true, code 0, data)."""
    return {"success": True, "code": 0, "data": data}


# The documented ticker (BTC_USDT) and an ETH_USDT one of its fields, its fairPrice ours: the
# documented position is ETH_USDT's.
TICKERS = [doc("contract_ticker")["data"], dict(doc("contract_ticker")["data"], symbol="ETH_USDT", fairPrice=1220.5)]
# ccxt's documented rows: an open limit order opening a long (order/get's), a trigger order
# opening a long at 3 (limit 2.9); a stop order closing the ETH long: the stoporder list's
# documented fields, its values ours.
ORDER = DOCS["ccxt_comments"]["order_get"]["data"]
TRIGGER = DOCS["ccxt_comments"]["trigger_order"]
STOP = dict(doc("stoporder_list")["data"][0], id=3001, symbol="ETH_USDT", positionId=1394650, stopLossPrice=1150.0,
            takeProfitPrice=1300.0, state=1, positionType=1, vol=1.0, isFinished=0)


class MexcVenue(PathVenue):
    """Answers ccxt's mexc as the contract API (the documented answers above); what a POST sent is
    its JSON body."""

    def __init__(self, mode=2, tickers=None, positions=None):
        super().__init__({
            "/api/v1/private/position/open_positions": doc("open_positions") if positions is None else positions,
            "/api/v1/contract/ticker": ok(TICKERS if tickers is None else tickers),
            "/api/v1/private/position/position_mode": ok(mode),
            "/api/v1/private/account/assets": doc("account_assets"),
            "/api/v1/private/order/list/open_orders": ok([ORDER]),
            "/api/v1/private/planorder/list/orders": ok([TRIGGER]),
            "/api/v1/private/stoporder/list/orders": ok([STOP]),
        })

    def params(self, url: str, body: Optional[str]) -> dict:
        return super().params(url, body) if body is None else json.loads(body or "{}")


def client(venue: MexcVenue):
    ex = ccxt_async.mexc({"apiKey": "k", "secret": "s", "options": {"defaultType": "swap"}})
    ex.set_markets([market(ETH, "ETH_USDT", amount_step=1, price_step=0.01, min_amount=1, contract_size=0.01),
                    market(STEPN, "STEPN_USDT", amount_step=1, price_step=0.001, min_amount=1, contract_size=1.0),
                    market(BTC, "BTC_USDT", amount_step=1, price_step=0.1, min_amount=1, contract_size=0.0001)])
    ex.fetch = venue.fetch
    venue.ex = ex
    return ex


def adapter(venue: MexcVenue, hedge_mode=False) -> CcxtAdapter:
    acc = Account.model_validate({
        "name": "main", "venue": "mexc", "market_type": "futures", "hedge_mode": hedge_mode,
        "credentials": {"api_key": {"env": "KS_TEST_KEY"}, "secret": {"env": "KS_TEST_SECRET"}}})
    return CcxtAdapter(acc, exchange_factory=lambda config: client(venue))


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    for k, v in (("KS_TEST_KEY", "k"), ("KS_TEST_SECRET", "s")):
        monkeypatch.setenv(k, v)


def snapshot(venue: MexcVenue, **kw):
    a = adapter(venue, **kw)
    try:
        return run(a.snapshot())
    finally:
        run(a.close())


# --- the dialect is the venue's -------------------------------------------------------------------


def test_mexc_has_a_dialect_of_its_own_and_no_countdown():
    d = dialect_for("mexc")
    assert d is MEXC and type(d).__name__ == "MexcDialect"
    assert d.countdown(None, "futures", keeps_private_websocket=True) is None
    assert (d.client_id_param, d.max_client_id_length) == ("externalOid", 32)
    assert d.client_id_fits("ks_" + "0" * 29) and not d.client_id_fits("ks_" + "0" * 30)


# --- the snapshot ---------------------------------------------------------------------------------


def test_documented_position_is_valued_at_its_fair_price_with_its_leg_and_the_lists_read_field_by_field():
    venue = MexcVenue(mode=2)
    snap = snapshot(venue)
    assert snap.fetch.ok, snap.fetch
    assert snap.equity == pytest.approx(0.03176562)  # the USDT row's equity
    [p] = snap.positions
    # holdVol 1 contract of ETH_USDT (0.01 ETH each), long, one-way, isolated at 100x
    assert (p.symbol, p.side, p.position_side, p.contracts, p.contract_size) == (ETH, "long", "BOTH", 1.0, 0.01)
    assert (p.entry_price, p.mark_price, p.liquidation_price, p.leverage) == (1217.3, 1220.5, 1211.2, 100.0)
    assert p.unrealized_pnl == pytest.approx((1220.5 - 1217.3) * 0.01)
    assert p.notional == pytest.approx(12.205)
    got = {o.id: (o.client_id, o.symbol, o.side, o.type, o.kind, o.amount, o.price, o.trigger_price,
                  o.reduce_only) for o in snap.orders}
    assert got == {
        # order/get's documented row: a limit (orderType 1) opening a long (side 1), in hedge mode
        "264995729269765120": ("_m_0e9520c256744d64b942985189026d20", STEPN, "buy", "limit", "regular", 15.0, 2.2,
                               None, False),
        # the trigger order: opens a long at 3, a limit at 2.9
        "265557643326564352": (None, STEPN, "buy", "limit", "conditional", 13.0, 2.9, 3.0, False),
        # the stop order of the ETH long: closes it (a sell), its trigger the stop-loss price
        "3001": (None, ETH, "sell", "market", "tpsl", 1.0, None, 1150.0, True),
    }
    legs = {o.id: o.position_side for o in snap.orders}
    assert legs["264995729269765120"] == "LONG"  # the row's positionMode 1 (hedge), side 1: the long leg
    paths = [(m, p) for m, p, _ in venue.requests]
    assert ("GET", "/api/v1/private/position/open_positions") in paths
    assert ("GET", "/api/v1/contract/ticker") in paths and ("GET", "/api/v1/private/position/position_mode") in paths
    # ccxt's recorded request of the open orders (page_size 100) with the page asked
    lists = {p: q for m, p, q in venue.requests if "list" in p}
    assert lists["/api/v1/private/order/list/open_orders"] == {"page_size": "100", "page_num": "1"}
    assert urlsplit(REQUESTS["fetchOpenOrders.swap"]["url"]).path == "/api/v1/private/order/list/open_orders"
    assert lists["/api/v1/private/planorder/list/orders"]["states"] == "1"
    assert lists["/api/v1/private/stoporder/list/orders"] == {"is_finished": "0", "page_num": "1", "page_size": "100"}


def test_hedge_mode_position_reads_its_leg_from_the_mode():
    snap = snapshot(MexcVenue(mode=1), hedge_mode=True)
    assert snap.fetch.ok and [p.position_side for p in snap.positions] == ["LONG"]


def test_a_position_the_tickers_do_not_price_fails_the_snapshot_naming_it():
    snap = snapshot(MexcVenue(tickers=[TICKERS[0]]))  # BTC_USDT's only
    assert not snap.fetch.ok and snap.fetch.error_code == Reason.BAD_RESPONSE.value
    assert "fairPrice" in snap.fetch.error and "ETH_USDT" in snap.fetch.error and snap.positions == []


@pytest.mark.parametrize("field,value", [("positionType", 3), ("holdVol", None)])
def test_a_position_row_of_an_unknown_shape_fails_the_snapshot(field, value):
    positions = doc("open_positions")
    positions["data"][0][field] = value
    snap = snapshot(MexcVenue(positions=positions))
    assert not snap.fetch.ok and snap.fetch.error_code == Reason.BAD_RESPONSE.value and field in snap.fetch.error


def test_an_unknown_side_code_or_order_type_fails_the_snapshot_never_read_as_absent():
    for field, value in (("side", 7), ("orderType", 9), ("state", None)):
        venue = MexcVenue()
        venue.answers["/api/v1/private/order/list/open_orders"] = ok([dict(ORDER, **{field: value})])
        snap = snapshot(venue)
        assert not snap.fetch.ok and snap.fetch.error_code == Reason.BAD_RESPONSE.value
        assert field in snap.fetch.error and "order/list/open_orders" in snap.fetch.error


def test_the_documented_templates_of_the_lists_are_refused_not_read():
    """The documentation's list examples are templates (side 0, orderType 0): no order of them is
    read as a guess."""
    venue = MexcVenue()
    venue.answers["/api/v1/private/order/list/open_orders"] = doc("open_orders")
    snap = snapshot(venue)
    assert not snap.fetch.ok and "side" in snap.fetch.error


def test_a_full_page_asks_the_next_one():
    venue = MexcVenue()
    rows = [dict(ORDER, orderId=str(10_000 + i)) for i in range(100)]
    pages = iter([ok(rows), ok([ORDER])])
    seen = []

    async def fetch(url, method="GET", headers=None, body_=None, **kw):
        if "/order/list/open_orders" in url:
            seen.append(dict(parse_qsl(urlsplit(url).query))["page_num"])
            return next(pages)
        return await MexcVenue.fetch(venue, url, method, headers, body_, **kw)

    venue.fetch = fetch  # type: ignore[method-assign]
    snap = snapshot(venue)
    assert snap.fetch.ok and seen == ["1", "2"] and len([o for o in snap.orders if o.kind == "regular"]) == 101


def test_the_stop_list_is_read_page_by_page_and_an_answer_without_its_rows_fails_the_snapshot():
    venue = MexcVenue()
    pages = iter([ok([dict(STOP, id=4000 + i) for i in range(100)]), ok([STOP])])
    seen = []

    async def fetch(url, method="GET", headers=None, body_=None, **kw):
        if "/stoporder/list/orders" in url:
            seen.append(dict(parse_qsl(urlsplit(url).query))["page_num"])
            return next(pages)
        return await MexcVenue.fetch(venue, url, method, headers, body_, **kw)

    venue.fetch = fetch  # type: ignore[method-assign]
    snap = snapshot(venue)
    assert snap.fetch.ok and seen == ["1", "2"] and len([o for o in snap.orders if o.kind == "tpsl"]) == 101
    venue = MexcVenue()
    venue.answers["/api/v1/private/stoporder/list/orders"] = {"success": True, "code": 0}
    snap = snapshot(venue)
    assert not snap.fetch.ok and "stoporder/list/orders: field data: missing" in snap.fetch.error


# --- the position mode ------------------------------------------------------------------------------


def test_position_mode_reads_1_as_hedge_2_as_one_way_and_refuses_anything_else():
    assert position_mode(doc("position_mode")) is False
    assert position_mode({"info": ok(1), "hedged": True}) is True
    for bad in (ok(3), ok(None), {"success": True}):
        with pytest.raises(Exception, match="data"):
            position_mode(bad)


def test_the_mode_read_of_an_answer_ccxt_would_call_one_way_is_bad_response():
    venue = MexcVenue(mode=0)  # ccxt reads every value but 1 as one-way
    a = adapter(venue)
    try:
        snap = run(a.snapshot())
        mode = a.position_mode()
    finally:
        run(a.close())
    assert mode.hedge is None and "BAD_RESPONSE" in (mode.error or "") and "position_mode" in (mode.error or "")
    # the positions' legs are that mode's: the snapshot holding one fails with it, never one-way
    assert not snap.fetch.ok and snap.fetch.error_code == Reason.BAD_RESPONSE.value


# --- closes -------------------------------------------------------------------------------------------


def sent_order(hedge_mode: bool, leg=None, side="sell"):
    """The body ccxt sends to order/create for a close with the dialect's parameters."""
    venue = MexcVenue(mode=1 if hedge_mode else 2)
    venue.answers["/api/v1/private/order/create"] = ok({"orderId": "814218083416790528", "ts": 1779795118533})
    ex = client(venue)
    params = MEXC.order_params("ks1", futures=True, hedge_leg=leg, reduce_only=True)
    try:
        run(ex.create_order(ETH, "market", side, 1, None, params))
    finally:
        run(ex.close())
    [(method, path, body)] = [r for r in venue.requests if r[1].endswith("/order/create")]
    return path, body


def test_a_one_way_close_is_ccxts_recorded_reduce_only_form():
    path, body = sent_order(False)
    recorded_sell = REQUESTS["createOrder.swapReduceOnlySell"]
    assert path == urlsplit(recorded_sell["url"]).path
    # side 4 (close long), reduceOnly absent from the body: ccxt's recording of the same form
    assert body["side"] == recorded_sell["output"]["side"] == 4 and "reduceOnly" not in body
    assert (body["externalOid"], body["type"], body["openType"]) == ("ks1", 6, 2)
    _, buy = sent_order(False, side="buy")
    assert buy["side"] == REQUESTS["createOrder.swapReduceOnlyBuy"]["output"]["side"] == 2


@pytest.mark.parametrize("leg,side,code", [("LONG", "sell", 4), ("SHORT", "buy", 2)])
def test_a_hedge_close_names_its_legs_close_code(leg, side, code):
    _, body = sent_order(True, leg, side)
    # ccxt alone would write a hedged reduce-only sell as 2 (a close of the short leg)
    assert (body["side"], body["positionMode"], body["externalOid"]) == (code, 1, "ks1")
    assert "reduceOnly" not in body and "hedged" not in body


def test_an_order_is_looked_up_by_its_external_oid():
    venue = MexcVenue()
    path = "/api/v1/private/order/external/STEPN_USDT/_m_0e9520c256744d64b942985189026d20"
    venue.answers[path] = DOCS["ccxt_comments"]["order_get"]
    ex = client(venue)

    async def call(method, *args):
        return await getattr(ex, method)(*args)

    try:
        got = run(MEXC.find_by_client_id(call, STEPN, "_m_0e9520c256744d64b942985189026d20"))
        venue.answers[path] = {"success": True, "code": 0, "data": None}
        gone = run(MEXC.find_by_client_id(call, STEPN, "_m_0e9520c256744d64b942985189026d20"))
    finally:
        run(ex.close())
    assert venue.requests[0][:2] == ("GET", path)
    assert (got["id"], got["clientOrderId"], got["status"], got["side"], got["amount"]) == (
        "264995729269765120", "_m_0e9520c256744d64b942985189026d20", "open", "buy", 15.0)
    assert gone is None


def test_refusals_carry_mexcs_code_and_words():
    body = DOCS["ccxt_comments"]["position_not_exist"]
    r = MEXC.venue_refusal("mexc " + json.dumps(body))
    assert (r.code, r.reason, r.message) == ("2009", "REDUCE_ONLY_REJECTED", "Position is not exists or closed.")
    assert MEXC.venue_refusal('mexc {"success":false,"code":510,"message":"Excessive frequency"}').reason == \
        "RATE_LIMITED"
    # ccxt's cancelOrder() raises a refused row with its words alone: the documented code of those words
    dropped = MEXC.venue_refusal("mexc cancelOrder() the order with id 1 cannot be cancelled: order state cannot be "
                                 "cancelled")
    assert (dropped.code, dropped.reason, dropped.message) == ("2041", "ORDER_NOT_FOUND",
                                                               "order state cannot be cancelled")
    unknown = MEXC.venue_refusal('mexc {"success":false,"code":8817,"message":"risk limit upgraded"}')
    assert (unknown.code, unknown.reason) == ("8817", "VENUE_REFUSED")


# --- cancels, order by order ----------------------------------------------------------------------------


def order(oid: str, kind="regular"):
    return SimpleNamespace(id=oid, kind=kind, symbol=ETH, type="limit")


CANCEL_ROWS = [{"info": row} for row in doc("order_cancel")["data"]]  # ccxt's parse of each row keeps it in info
DONE, NOT_EXIST, CANNOT = "108886241042563584", "101716841474621953", "108885377779302912"


def test_a_batch_answer_is_read_row_by_row_refused_beside_done():
    sent = [order(DONE), order(NOT_EXIST), order(CANNOT), order("555")]
    got = MEXC.cancel_answer("batch", CANCEL_ROWS, sent)
    assert got.done == {DONE} and not got.whole
    assert {k: (v.code, v.message, v.reason) for k, v in got.refused.items()} == {
        NOT_EXIST: ("2040", "order not exist", "ORDER_NOT_FOUND"),  # gone, or never there
        CANNOT: ("2041", "order state cannot be cancelled", "ORDER_NOT_FOUND"),  # already filled
    }
    # "555": fewer rows than asked: neither done nor refused, the list read after it decides
    assert "555" not in got.done and "555" not in got.refused


def test_a_row_of_an_id_never_sent_or_named_twice_counts_once_and_only_for_what_was_sent():
    rows = CANCEL_ROWS + [{"info": {"orderId": DONE, "errorCode": 0, "errorMsg": "success"}},
                          {"info": {"orderId": "999", "errorCode": 0, "errorMsg": "success"}}]
    got = MEXC.cancel_answer("batch", rows, [order(DONE)])
    assert got.done == {DONE} and got.refused == {}


def test_an_empty_batch_answer_confirms_nothing():
    got = MEXC.cancel_answer("batch", [], [order(DONE)])
    assert got.done == frozenset() and got.refused == {} and not got.whole


def test_a_row_without_its_error_code_is_bad_response():
    with pytest.raises(AdapterError) as e:
        MEXC.cancel_answer("batch", [{"info": {"orderId": DONE, "errorMsg": "success"}}], [order(DONE)])
    assert e.value.reason is Reason.BAD_RESPONSE
    assert "errorCode" in e.value.message and "order/cancel" in e.value.message


def test_one_orders_cancel_reads_the_row_ccxt_keeps_in_info():
    # ccxt's cancel_order parses the answer's data (the list) as its order: the rows are its info
    answer = {"id": None, "info": [{"orderId": DONE, "errorCode": 0, "errorMsg": "success"}]}
    assert MEXC.cancel_answer("one", answer, [order(DONE)]).done == {DONE}
    with pytest.raises(AdapterError, match="errorCode"):
        MEXC.cancel_answer("one", {"info": [{"orderId": DONE}]}, [order(DONE)])
    with pytest.raises(AdapterError, match="data"):
        MEXC.cancel_answer("one", {"info": {"success": True}}, [order(DONE)])


def test_one_orders_cancel_is_the_venues_own_request_and_keeps_a_refused_rows_code():
    """A regular order by id goes as ccxt sends it (order/cancel, a list of one id), and its
    answer is read from the venue's body: a row refused with a code the documentation does not
    give words for keeps its code and words (ccxt's cancel_order raises the words alone)."""
    venue = MexcVenue()
    oid = str(ORDER["orderId"])
    venue.answers["/api/v1/private/order/cancel"] = ok([{"orderId": oid, "errorCode": 2097,
                                                         "errorMsg": "order is being processed"}])
    a = adapter(venue)
    try:
        run(a.snapshot())
        refused = run(a.cancel_orders(CancelSelector(order_ids=(oid,))))
        venue.answers["/api/v1/private/order/cancel"] = ok([{"orderId": oid, "errorCode": 0, "errorMsg": "success"}])
        done = run(a.cancel_orders(CancelSelector(order_ids=(oid,))))
    finally:
        run(a.close())
    assert [b for _, p, b in venue.requests if p == "/api/v1/private/order/cancel"] == [[oid], [oid]]
    assert oid not in refused.canceled and "2097" in refused.words[oid]
    assert "order is being processed" in refused.words[oid] and refused.failed[oid] == "VENUE_REFUSED"
    assert list(done.canceled) == [oid]


def test_a_trigger_orders_cancel_is_done_on_success_true():
    sent = [order("265557643326564352", "conditional")]
    answer = {"id": "265557643326564352", "info": {"success": True, "code": 0}}
    assert MEXC.cancel_answer("one", answer, sent).done == {"265557643326564352"}
    with pytest.raises(AdapterError, match="success"):
        MEXC.cancel_answer("one", {"info": {"code": 0}}, sent)


def test_a_symbols_cancel_all_answered_success_with_no_list_is_whole():
    # order/cancel_all and planorder/cancel_all answer {"success": true, "code": 0}: ccxt's []
    got = MEXC.cancel_answer("symbol", [], [order(DONE), order(CANNOT)])
    assert got.whole and got.done == frozenset()


def test_a_stop_orders_cancel_is_never_read_as_done():
    for how, answer in (("symbol", []), ("one", {"info": {"success": True}})):
        got = MEXC.cancel_answer(how, answer, [order("3001", "tpsl")])
        assert got.done == frozenset() and not got.whole


def test_a_stop_order_is_cancelled_through_the_venues_own_endpoint_and_read_on_success():
    stops = [order("3001", "tpsl"), order("3002", "tpsl")]
    sent = []

    async def call(method, *args):
        sent.append((method, args))
        return {"success": True, "code": 0}

    assert MEXC.cancels_itself("tpsl") and not MEXC.cancels_itself("regular")
    assert MEXC.cancel_batch_size("tpsl") == 50 and MEXC.cancel_batch_size("regular") == 0
    answer = asyncio.run(MEXC.cancel_batch(call, stops, "BTC_USDT"))
    rows = [{"stopPlanOrderId": "3001"}, {"stopPlanOrderId": "3002"}]
    assert sent == [("contractPrivatePostStoporderCancel", (rows,))]
    # stoporder/cancel documents "public parameters": success true, no list
    assert MEXC.cancel_answer("batch", answer, stops).done == {"3001", "3002"}
    with pytest.raises(AdapterError, match="stoporder/cancel: field success"):
        MEXC.cancel_answer("batch", {"code": 0}, stops)


def test_cancel_params_reach_each_list_its_way():
    assert MEXC.order_cancel_params(order(DONE)) == {}
    assert MEXC.order_cancel_params(order("1", "conditional")) == {
        "trigger": True, "method": "contractPrivatePostPlanorderCancelAll"}


def test_ccxt_sends_the_recorded_cancel_bodies():
    venue = MexcVenue()
    venue.answers["/api/v1/private/order/cancel"] = doc("order_cancel")
    venue.answers["/api/v1/private/order/cancel_all"] = {"success": True, "code": 0}
    ex = client(venue)
    try:
        rows = run(ex.cancel_orders([DONE, NOT_EXIST, CANNOT], ETH))
        whole = run(ex.cancel_all_orders(ETH))
    finally:
        run(ex.close())
    bodies = {p: b for _, p, b in venue.requests}
    assert bodies["/api/v1/private/order/cancel"] == [DONE, NOT_EXIST, CANNOT]
    assert bodies["/api/v1/private/order/cancel_all"] == {"symbol": "ETH_USDT"}
    assert REQUESTS["cancelAllOrders.swap"]["output"] == {"symbol": "LTC_USDT"}  # the recorded form
    got = MEXC.cancel_answer("batch", rows, [order(DONE), order(NOT_EXIST), order(CANNOT)])
    assert got.done == {DONE} and set(got.refused) == {NOT_EXIST, CANNOT}
    assert whole == [] and MEXC.cancel_answer("symbol", whole, [order(DONE)]).whole


# --- spot: the generic reading ------------------------------------------------------------------------


def test_mexc_spot_order_row_reads_through_ccxt_as_recorded():
    """The one account answer ccxt recorded for mexc: a spot order row (the shape of
    /api/v3/openOrders' rows too), read field by field: spot keeps ccxt's generic reading."""
    rec = json.loads(recorded("mexc").read_text())["cases"]["fetchOrders"]
    ex = ccxt_async.mexc({"apiKey": "k", "secret": "s"})
    ex.set_markets([market("ATLAS/USDT", "ATLASUSDT", amount_step=0.1, price_step=0.000001, min_amount=0.1,
                           spot=True)])
    try:
        raw = ex.parse_order(rec["httpResponse"][0], ex.market("ATLAS/USDT"))
    finally:
        run(ex.close())
    o = parse_order(raw, KNOWN_RAW_FIELDS, ())
    assert (o.id, o.client_id, o.symbol, o.side, o.type, o.amount, o.filled, o.price, o.reduce_only) == (
        "C02__385413065019117569043", None, "ATLAS/USDT", "sell", "market", 1220.0, 1220.0, 0.004327, False)
    assert MEXC.order_params("ks1", futures=False, hedge_leg=None, reduce_only=False) == {"clientOrderId": "ks1"}
