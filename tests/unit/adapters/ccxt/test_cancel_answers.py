"""Each dialect's reading of its venue's answer to a cancel (``Dialect.cancel_answer``), on the
venues' documented answers as ccxt hands them on (its parse of the answer's rows, each with the
venue's row in ``info``; its one order wrapping an answer that names none).

Documented examples (verbatim from ccxt's comments on the endpoints, which quote the venues'
documentation): Bybit ``POST /v5/order/cancel-all`` (linear: ``result.list``; spot:
``result.success``), Bitget ``POST /api/v2/mix/order/batch-cancel-orders``, Binance
``DELETE /fapi/v1/allOpenOrders``. Rows added in their shape are said where they are.
"""

from __future__ import annotations

import ccxt
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.dialects import dialect_for
from killswitch.snapshot import Order

BYBIT_LINEAR = {"retCode": 0, "retMsg": "OK", "result": {"list": [
    {"orderId": "f6a73e1f-39b5-4dee-af21-1460b2e3b27c", "orderLinkId": "a001"}]},
    "retExtInfo": {}, "time": 1672219780463}
BYBIT_SPOT = {"retCode": 0, "retMsg": "OK", "result": {"success": "1"}, "retExtInfo": {}, "time": 1676962409398}
BITGET_BATCH = {"code": "00000", "msg": "success", "requestTime": "1680008815966", "data": {
    "successList": [{"orderId": "1024598257429823488", "clientOid": "876493ce-c287-4bfc-9f4a-8b1905881313"}],
    "failureList": []}}
BINANCE_ALL = {"code": 200, "msg": "The operation of cancel all open order is done."}


def sent(*ids: str) -> list[Order]:
    return [Order(id=i, symbol="BTC/USDT:USDT", side="buy", type="limit", amount=1.0) for i in ids]


def bybit_answer(body: dict) -> list:
    """What ccxt's bybit ``cancel_all_orders`` returns for ``body`` (its own code, bybit.py)."""
    ex = ccxt.bybit()
    rows = body.get("result", {}).get("list")
    return ex.parse_orders(rows) if isinstance(rows, list) else [ex.safe_order({"info": body})]


def bitget_answer(body: dict) -> list:
    """What ccxt's bitget ``cancel_all_orders`` returns for ``body`` (success and failure rows)."""
    data = body["data"]
    return ccxt.bitget().parse_orders(data.get("successList", []) + data.get("failureList", []))


def test_bybit_counts_done_only_what_its_list_names():
    a = dialect_for("bybit").cancel_answer("symbol", bybit_answer(BYBIT_LINEAR),
                                           sent("f6a73e1f-39b5-4dee-af21-1460b2e3b27c", "other"))
    assert a.done == {"f6a73e1f-39b5-4dee-af21-1460b2e3b27c"} and not a.whole and not a.refused


def test_bybit_at_its_cap_names_500_of_600_and_leaves_100_unconfirmed():
    rows = [{"orderId": str(i), "orderLinkId": f"ks{i}"} for i in range(500)]  # rows in the documented shape
    body = {**BYBIT_LINEAR, "result": {"list": rows, "success": "1"}}
    a = dialect_for("bybit").cancel_answer("symbol", bybit_answer(body), sent(*map(str, range(600))))
    assert len(a.done) == 500 and not a.whole


def test_bybit_empty_list_while_orders_rest_confirms_nothing():
    body = {**BYBIT_LINEAR, "result": {"list": [], "success": "1"}}
    a = dialect_for("bybit").cancel_answer("symbol", bybit_answer(body), sent("1", "2"))
    assert a.done == frozenset() and not a.whole


def test_bybit_spot_success_names_none_and_is_the_venues_all():
    a = dialect_for("bybit").cancel_answer("symbol", bybit_answer(BYBIT_SPOT), sent("1"))
    assert a.whole and not a.done


def test_bybit_futures_answer_missing_its_list_is_bad_response():
    body = {**BYBIT_LINEAR, "result": {}}  # a newer or broken shape: no list, no success flag
    with pytest.raises(AdapterError) as e:
        dialect_for("bybit").cancel_answer("symbol", bybit_answer(body), sent("1"))
    assert e.value.reason is Reason.BAD_RESPONSE and "result.list" in e.value.message


def test_bybit_row_without_its_id_is_bad_response():
    body = {**BYBIT_LINEAR, "result": {"list": [{"orderLinkId": "a001"}]}}
    with pytest.raises(AdapterError) as e:
        dialect_for("bybit").cancel_answer("symbol", bybit_answer(body), sent("1"))
    assert e.value.reason is Reason.BAD_RESPONSE and "orderId" in e.value.message


def test_bitget_reads_success_and_failure_rows_with_the_venues_code_and_words():
    a = dialect_for("bitget").cancel_answer("symbol", bitget_answer(BITGET_BATCH), sent("1024598257429823488"))
    assert a.done == {"1024598257429823488"} and not a.refused
    refused = {**BITGET_BATCH, "data": {"successList": BITGET_BATCH["data"]["successList"], "failureList": [
        {"orderId": "1024598257429823499", "clientOid": "x", "errorCode": "40768",
         "errorMsg": "Order does not exist"}]}}
    a = dialect_for("bitget").cancel_answer("symbol", bitget_answer(refused),
                                            sent("1024598257429823488", "1024598257429823499"))
    assert a.done == {"1024598257429823488"}
    r = a.refused["1024598257429823499"]
    assert (r.code, r.message) == ("40768", "Order does not exist") and r.text() == "40768 Order does not exist"


def test_a_list_naming_an_id_twice_counts_it_once():
    body = {**BYBIT_LINEAR, "result": {"list": [{"orderId": "1", "orderLinkId": ""}] * 2}}
    a = dialect_for("bybit").cancel_answer("symbol", bybit_answer(body), sent("1", "2"))
    assert a.done == {"1"}


def test_binance_all_done_names_no_order_and_is_the_venues_all():
    answer = [ccxt.binanceusdm().safe_order({"info": BINANCE_ALL})]
    a = dialect_for("binanceusdm").cancel_answer("symbol", answer, sent("1", "2"))
    assert a.whole and not a.done


# a venue's own answers to one order's cancel are read by its dialect, each shape of them from its
# folder's CANCEL_ANSWERS (test_cancel_property.py; Kraken Futures' cancelStatus, MEXC's data,
# Bitget's data.orderId and a plan's successList / failureList, Bybit's result.orderId, Kraken
# spot's result.count also apart: venues/krakenfutures/test_cancel_answers.py,
# venues/mexc/test_dialect.py, test_bitget_recorded_payloads.py, above and venues/kraken_spot/); an
# id without a dialect of its own reads one the generic way


def test_a_cancel_of_one_order_that_did_not_raise_is_done_by_the_generic_reading():
    assert dialect_for("gate").cancel_answer("one", {"id": "9"}, sent("9")).done == {"9"}


# Hyperliquid's answer to a cancel action of two oids, one of them gone (the documented shape:
# https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/exchange-endpoint#cancel-order-s;
# the error's words are the venue's, as its face and ccxt's comments give them)
HL_CANCEL = {"status": "ok", "response": {"type": "cancel", "data": {"statuses": [
    "success", {"error": "Order was never placed, already canceled, or filled."}]}}}


def test_hyperliquid_reads_each_status_in_the_order_sent():
    a = dialect_for("hyperliquid").cancel_answer("batch", HL_CANCEL, sent("11", "12"))
    assert a.done == {"11"}
    r = a.refused["12"]
    assert r.reason == "ORDER_NOT_FOUND" and r.text() == "Order was never placed, already canceled, or filled."


def test_hyperliquid_statuses_that_do_not_match_the_cancels_sent_are_bad_response():
    with pytest.raises(AdapterError) as e:
        dialect_for("hyperliquid").cancel_answer("batch", HL_CANCEL, sent("11", "12", "13"))
    assert e.value.reason is Reason.BAD_RESPONSE and "2 for 3 cancels" in e.value.message


def test_okx_batch_rows_keep_each_refusal():
    body = {"code": "2", "msg": "", "data": [  # the documented shape of cancel-batch-orders
        {"clOrdId": "", "ordId": "1", "sCode": "0", "sMsg": ""},
        {"clOrdId": "", "ordId": "2", "sCode": "51400", "sMsg": "Order cancellation failed as the order has been "
                                                               "filled, canceled or does not exist"}]}
    a = dialect_for("okx").cancel_answer("batch", body, sent("1", "2"))
    assert a.done == {"1"} and a.refused["2"].reason == "ORDER_NOT_FOUND" and a.refused["2"].code == "51400"
    with pytest.raises(AdapterError):
        dialect_for("okx").cancel_answer("batch", {"code": "0"}, sent("1"))
