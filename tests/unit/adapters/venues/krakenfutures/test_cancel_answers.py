"""Kraken Futures' cancel answers read order by order (``Dialect.cancel_answer``): only what the
answer names as cancelled is done; a refused order carries the venue's status and its words; an
answer without the list it documents is BAD_RESPONSE. The bodies are Kraken's documented
answers (adapters/venues/krakenfutures/fixtures/documented.json, each saying whether it is
printed so) and variations of them named at each test: fewer than asked, none, a name twice, an
id the account never had, a refused item beside done ones, an already filled order."""

from __future__ import annotations

import copy

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.dialects import dialect_for
from killswitch.snapshot import Order
from tests.unit.adapters.ccxt.fake import run
from tests.unit.adapters.venues.krakenfutures.test_recorded_payloads import XRP, documented, kraken_markets

KRAKEN = dialect_for("krakenfutures")
NAMED = "272fd0ac-45c0-4003-b84d-d39b9e86bd36"  # the one order the documented cancelallorders names


def order(oid: str, cid=None) -> Order:
    return Order(id=oid, client_id=cid, symbol=XRP, side="buy", type="limit", amount=10.0, price=0.4)


def cancel_all(*rows, status="cancelled") -> dict:
    body = copy.deepcopy(documented("cancelallorders"))
    body["cancelStatus"]["status"] = status
    body["cancelStatus"]["cancelledOrders"] = list(rows)
    return body


# --- cancelallorders ---------------------------------------------------------------------------


def test_the_documented_cancel_all_names_one_of_three_sent_only_that_one_is_done():
    sent = [order(NAMED), order("b"), order("c")]
    got = KRAKEN.cancel_answer("symbol", documented("cancelallorders"), sent)
    assert got.done == {NAMED} and not got.refused and not got.whole


def test_a_cancel_all_answered_cancelled_with_an_empty_list_confirms_nothing():
    got = KRAKEN.cancel_answer("symbol", cancel_all(), [order("a"), order("b")])
    assert got.done == frozenset() and not got.whole


def test_no_orders_to_cancel_confirms_nothing_with_or_without_its_list():
    body = cancel_all(status="noOrdersToCancel")
    del body["cancelStatus"]["cancelledOrders"]
    for b in (body, cancel_all(status="noOrdersToCancel")):
        got = KRAKEN.cancel_answer("symbol", b, [order("a")])
        assert got.done == frozenset() and not got.whole


def test_a_name_twice_and_an_id_the_account_never_had_count_once_and_not_at_all():
    sent = [order("a"), order("b")]
    got = KRAKEN.cancel_answer("symbol", cancel_all({"order_id": "a"}, {"order_id": "a"}, {"order_id": "zzz"}), sent)
    assert got.done == {"a"}


def test_an_order_named_by_its_client_id_is_done():
    got = KRAKEN.cancel_answer("symbol", cancel_all({"order_id": "other", "cliOrdId": "ks7"}),
                               [order("a", cid="ks7"), order("b")])
    assert got.done == {"a"}


@pytest.mark.parametrize("mutate,field", [
    (lambda b: b.pop("cancelStatus"), "field cancelStatus: missing"),
    (lambda b: b["cancelStatus"].pop("cancelledOrders"), "field cancelStatus.cancelledOrders: missing"),
    (lambda b: b["cancelStatus"].pop("status"), "field cancelStatus.status: missing"),
    (lambda b: b["cancelStatus"].update(status="partial"), "field cancelStatus.status: unknown value 'partial'"),
    (lambda b: b["cancelStatus"]["cancelledOrders"].append({"cliOrdId": "x"}),
     "field cancelStatus.cancelledOrders[1].order_id: missing"),
])
def test_a_cancel_all_answer_missing_what_it_documents_is_bad_response(mutate, field):
    body = copy.deepcopy(documented("cancelallorders"))
    mutate(body)
    with pytest.raises(AdapterError) as e:
        KRAKEN.cancel_answer("symbol", body, [order(NAMED)])
    assert e.value.reason is Reason.BAD_RESPONSE
    assert "POST /derivatives/api/v3/cancelallorders" in e.value.message and field in e.value.message


def test_ccxts_parse_of_a_cancel_all_is_not_read_as_the_answer():
    """ccxt's cancel_all_orders keeps the first order event only (repeated): the dialect reads
    the raw answer (its cancel_all_request), and refuses ccxt's list rather than guess from it."""
    ex = ccxt_async.krakenfutures({"apiKey": "k", "secret": "c2VjcmV0"})
    ex.set_markets(kraken_markets())
    body = cancel_all({"order_id": NAMED}, {"order_id": "b"})
    event = body["cancelStatus"]["orderEvents"][0]
    body["cancelStatus"]["orderEvents"].append(dict(event, uid="b", order=dict(event["order"], orderId="b")))

    async def fetch(url, method="GET", headers=None, body_=None, **kw):
        return body

    ex.fetch = fetch
    try:
        parsed = run(ex.cancel_all_orders(XRP))
    finally:
        run(ex.close())
    assert [o["id"] for o in parsed] == [NAMED, NAMED]  # ccxt's parse: the first event twice
    with pytest.raises(AdapterError) as e:
        KRAKEN.cancel_answer("symbol", parsed, [order(NAMED), order("b")])
    assert e.value.reason is Reason.BAD_RESPONSE
    assert KRAKEN.cancel_all_request(XRP, "PF_XRPUSD", {}) == ("privatePostCancelallorders", ({"symbol": "PF_XRPUSD"},))
    assert KRAKEN.cancel_answer("symbol", body, [order(NAMED), order("b")]).done == {NAMED, "b"}


# --- cancelorder --------------------------------------------------------------------------------

DOC_ID = "cb4e34f6-4eb3-4d4b-9724-4c3035b99d47"


def ccxt_cancel(body: dict) -> dict:
    """ccxt's cancel_order answer to ``body``: the real client's parse of it."""
    ex = ccxt_async.krakenfutures({"apiKey": "k", "secret": "c2VjcmV0"})
    ex.set_markets(kraken_markets())

    async def fetch(url, method="GET", headers=None, body_=None, **kw):
        return body

    ex.fetch = fetch
    try:
        return run(ex.cancel_order(DOC_ID))
    finally:
        run(ex.close())


def test_the_documented_cancel_order_is_done_raw_or_through_ccxts_parse():
    parsed = ccxt_cancel(documented("cancelorder"))
    assert parsed["info"]["status"] == "cancelled"  # ccxt's info is the cancelStatus, not the whole body
    for answer in (documented("cancelorder"), parsed):
        assert KRAKEN.cancel_answer("one", answer, [order(DOC_ID)]).done == {DOC_ID}


def test_a_cancel_that_names_another_order_confirms_nothing():
    got = KRAKEN.cancel_answer("one", documented("cancelorder"), [order("not-that-one")])
    assert got.done == frozenset() and not got.refused


@pytest.mark.parametrize("status", ["notFound", "filled"])
def test_not_found_and_already_filled_are_order_not_found_with_the_venues_words(status):
    body = copy.deepcopy(documented("cancelorder"))
    body["cancelStatus"] = {"status": status, "receivedTime": "2020-07-22T13:26:20.806Z", "orderEvents": []}
    got = KRAKEN.cancel_answer("one", body, [order(DOC_ID)])
    assert got.done == frozenset()
    r = got.refused[DOC_ID]
    assert (r.code, r.reason, r.kind) == (status, "ORDER_NOT_FOUND", "permanent")
    assert r.text().startswith(f"{status} the order was")


def test_a_cancel_order_answer_without_its_cancel_status_is_bad_response():
    with pytest.raises(AdapterError) as e:
        KRAKEN.cancel_answer("one", {"result": "success", "serverTime": "2020-07-22T13:26:20.806Z"}, [order(DOC_ID)])
    assert e.value.reason is Reason.BAD_RESPONSE and "cancelorder: field cancelStatus: missing" in e.value.message


# --- batchorder ---------------------------------------------------------------------------------

BATCH_ID = "101c2327-f12e-45f2-8445-7502b87afc0b"


def test_a_batch_reads_each_row_a_refused_item_beside_a_done_one():
    body = copy.deepcopy(documented("batchorder cancelled"))
    # a second row as the documented refusals are written (status, no events): the order already filled
    body["batchStatus"].append({"status": "filled", "order_id": "second", "orderEvents": []})
    sent = [order(BATCH_ID), order("second"), order("third")]
    for answer in (body, [{"id": r.get("order_id"), "info": r} for r in body["batchStatus"]]):  # raw, ccxt's
        got = KRAKEN.cancel_answer("batch", answer, sent)
        assert got.done == {BATCH_ID}
        assert set(got.refused) == {"second"} and got.refused["second"].reason == "ORDER_NOT_FOUND"
        # "third" is in neither: unconfirmed, the list read after the cancel decides


def test_the_documented_refused_batch_rows_name_no_order_and_confirm_none():
    got = KRAKEN.cancel_answer("batch", documented("batchorder refused"), [order("a")])
    assert got.done == frozenset() and not got.refused


def test_a_batch_answer_without_its_batch_status_is_bad_response():
    with pytest.raises(AdapterError) as e:
        KRAKEN.cancel_answer("batch", {"result": "success"}, [order("a")])
    assert e.value.reason is Reason.BAD_RESPONSE and "batchStatus: missing" in e.value.message



def test_a_batch_of_cancels_is_one_batchorder_naming_each_order_whatever_its_contract():
    calls = []

    async def call(method, *args, **kw):
        calls.append((method, args, kw))
        return documented("batchorder cancelled")

    other = Order(id="other", symbol="BTC/USD:USD", side="buy", type="limit", amount=1.0, kind="conditional")
    answer = run(KRAKEN.cancel_batch(call, [order(BATCH_ID), other], "PF_XRPUSD"))
    body = {"batchOrder": [{"order": "cancel", "order_id": BATCH_ID}, {"order": "cancel", "order_id": "other"}]}
    assert calls == [("privatePostBatchorder", (body,), {})]
    assert KRAKEN.cancel_answer("batch", answer, [order(BATCH_ID), other]).done == {BATCH_ID}  # read raw
    assert all(KRAKEN.cancel_batch_spans_symbols(k) and KRAKEN.cancel_batch_size(k) == 30
               for k in ("regular", "conditional", "trailing"))
    # the key's budget: 9 + the batch's size, one order's request (cancelorder) 10 of it
    assert KRAKEN.request_weight("private", "POST", "batchorder", body, 1.0) == 11.0
    assert KRAKEN.cancel_batch_cost(2) == pytest.approx(1.1)
    assert KRAKEN.cancel_batch_cost(KRAKEN.cancel_batch_size("regular")) <= KRAKEN.limits.orders  # within a second's
