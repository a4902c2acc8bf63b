"""Each venue's refusal of an order, from its documented example error body, through ccxt's own
error handling (the exception ccxt raises for that body) to the adapter's error: the venue's
code and message kept verbatim, the reason code of the venue's table and how a retry fares.

The bodies are the venues' documented shapes and texts: Binance's error codes page
(``{"code": -1106, "msg": "Parameter 'reduceOnly' sent when not required."}``), Bybit v5's
(``retCode`` / ``retMsg``), OKX v5's (an order's own ``sCode`` / ``sMsg`` under ``code`` "1"),
Hyperliquid's action statuses (``{"error": "..."}``, no code), Bitget v2's (``{"code": "40774", "msg":
..., "requestTime": ..., "data": null}``: the bodies ccxt's bitget quotes in its exceptions map are
verbatim — 40774, 40762, 43012, 45110, 40808, 41103, 40917, 45122, 41114 — the others carry the text
Bitget's error code pages give the code)."""

from __future__ import annotations

import json

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import MODE, PERMANENT, TRANSIENT, AdapterError, Reason
from adapters.ccxt_exchange.budget import OrderBudget
from adapters.ccxt_exchange.calls import Calls
from adapters.ccxt_exchange.dialects import DIALECTS, dialect_for
from adapters.ccxt_exchange.dialects.refusals import body_of

BINANCE = [
    ({"code": -1106, "msg": "Parameter 'reduceOnly' sent when not required."}, "POSITION_MODE_MISMATCH", MODE),
    ({"code": -1106, "msg": "Parameter 'price' sent when not required."}, "INVALID_ORDER", PERMANENT),
    ({"code": -4061, "msg": "Order's position side does not match user's setting."}, "POSITION_MODE_MISMATCH", MODE),
    ({"code": -2022, "msg": "ReduceOnly Order is rejected."}, "REDUCE_ONLY_REJECTED", PERMANENT),
    ({"code": -2019, "msg": "Margin is insufficient."}, "INSUFFICIENT_MARGIN", TRANSIENT),
    ({"code": -4164, "msg": "Order's notional must be no smaller than 5 (unless you choose reduce only)."},
     "INVALID_ORDER", PERMANENT),
    ({"code": -1013, "msg": "Filter failure: LOT_SIZE"}, "INVALID_ORDER", PERMANENT),
    ({"code": -4999, "msg": "A refusal no table lists."}, "VENUE_REFUSED", PERMANENT),
]
BYBIT = [
    ({"retCode": 110017, "retMsg": "Reduce-only rule not satisfied", "result": {}, "retExtInfo": {}, "time": 1},
     "REDUCE_ONLY_REJECTED", PERMANENT),
    ({"retCode": 10001, "retMsg": "position idx not match position mode", "result": {}, "retExtInfo": {},
      "time": 1}, "POSITION_MODE_MISMATCH", MODE),
    ({"retCode": 10001, "retMsg": "params error: qty invalid", "result": {}, "retExtInfo": {}, "time": 1},
     "INVALID_ORDER", PERMANENT),
    ({"retCode": 110007, "retMsg": "ab not enough for new order", "result": {}, "retExtInfo": {}, "time": 1},
     "INSUFFICIENT_MARGIN", TRANSIENT),
]


def okx_order_failed(code: str, msg: str) -> dict:
    return {"code": "1", "data": [{"clOrdId": "ks1", "ordId": "", "sCode": code, "sMsg": msg, "tag": "", "ts": "1"}],
            "inTime": "1", "msg": "All operations failed", "outTime": "1"}


OKX = [
    (okx_order_failed("51169", "Order failed because you don't have any positions in this direction for this "
                               "contract to reduce or close."), "REDUCE_ONLY_REJECTED", PERMANENT),
    (okx_order_failed("51170", "Failed to place order. A reduce-only order can't be the same direction as your "
                               "existing positions."), "REDUCE_ONLY_REJECTED", PERMANENT),
    (okx_order_failed("51000", "Parameter posSide error"), "POSITION_MODE_MISMATCH", MODE),
    (okx_order_failed("51000", "Parameter sz error"), "INVALID_ORDER", PERMANENT),
    (okx_order_failed("51008", "Order failed. Insufficient USDT margin in account"), "INSUFFICIENT_MARGIN", TRANSIENT),
]


def hyperliquid_status(error: str) -> dict:
    return {"status": "ok", "response": {"type": "order", "data": {"statuses": [{"error": error}]}}}


HYPERLIQUID = [
    (hyperliquid_status("Reduce only order would increase position. asset=0"), "REDUCE_ONLY_REJECTED", PERMANENT),
    (hyperliquid_status("Insufficient margin to place order. asset=4"), "INSUFFICIENT_MARGIN", TRANSIENT),
    (hyperliquid_status("Order could not immediately match against any resting orders. asset=0"), "INVALID_ORDER",
     TRANSIENT),
]


def bitget_body(code: str, msg: str) -> dict:
    return {"code": code, "msg": msg, "requestTime": 1758709764409, "data": None}


# every code of Bitget's table, each with the reason and retry kind it maps to
BITGET = [
    (bitget_body("40774", "The order type for unilateral position must also be the unilateral position type."),
     "POSITION_MODE_MISMATCH", MODE),
    (bitget_body("40017", "Parameter verification failed, the position direction cannot be empty"),
     "POSITION_MODE_MISMATCH", MODE),
    (bitget_body("40017", "Parameter verification failed,Number of ordersRange error"), "INVALID_ORDER", PERMANENT),
    (bitget_body("40757", "Not enough position is available."), "REDUCE_ONLY_REJECTED", PERMANENT),
    (bitget_body("45006", "Insufficient position"), "REDUCE_ONLY_REJECTED", PERMANENT),
    (bitget_body("22002", "No position to close"), "REDUCE_ONLY_REJECTED", PERMANENT),
    (bitget_body("40891", "Insufficient position, can not set profit or stop loss"), "REDUCE_ONLY_REJECTED",
     PERMANENT),
    (bitget_body("40762", "The order amount exceeds the balance"), "INSUFFICIENT_MARGIN", TRANSIENT),
    (bitget_body("43012", "Insufficient balance"), "INSUFFICIENT_MARGIN", TRANSIENT),
    (bitget_body("40754", "balance not enough"), "INSUFFICIENT_MARGIN", TRANSIENT),
    (bitget_body("45110", "less than the minimum amount 5 USDT"), "INVALID_ORDER", PERMANENT),
    (bitget_body("43006", "The order amount is less than the minimum transaction volume"), "INVALID_ORDER",
     PERMANENT),
    (bitget_body("40808", "Parameter verification exception size checkBDScale error value=2293.577 checkScale=2"),
     "INVALID_ORDER", PERMANENT),
    (bitget_body("41103", "param price scale error error"), "INVALID_ORDER", PERMANENT),
    (bitget_body("40786", "Duplicate clientOid"), "INVALID_ORDER", PERMANENT),
    (bitget_body("40917", "Stop price for long positions please < mark price 106.86"), "INVALID_ORDER", TRANSIENT),
    (bitget_body("45122", "Short position stop loss price please > mark price 106.86"), "INVALID_ORDER", TRANSIENT),
    (bitget_body("40034", "Parameter symbol does not exist"), "UNKNOWN_SYMBOL", PERMANENT),
    (bitget_body("40309", "The contract has been removed"), "UNKNOWN_SYMBOL", PERMANENT),
    (bitget_body("40015", "System is abnormal, please try again later"), "EXCHANGE_UNAVAILABLE", TRANSIENT),
    (bitget_body("40999", "A refusal no table lists."), "VENUE_REFUSED", PERMANENT),
]
# codes ccxt raises as a network error (DDoSProtection, OnMaintenance): the adapter keeps ccxt's
# reason and reads an order's outcome as unknown; the table maps them where a body is read directly
BITGET_NETWORK = [
    (bitget_body("429", "Too Many Requests"), "RATE_LIMITED", TRANSIENT, Reason.RATE_LIMITED),
    (bitget_body("40200", "Server upgrade, please try again later"), "EXCHANGE_UNAVAILABLE", TRANSIENT,
     Reason.EXCHANGE_UNAVAILABLE),
    (bitget_body("41114", "The current trading pair is under maintenance, please refer to the official "
                          "announcement for the opening time"), "EXCHANGE_UNAVAILABLE", TRANSIENT,
     Reason.EXCHANGE_UNAVAILABLE),
]


def venue_error(venue: str, body: dict, status: int = 400) -> BaseException:
    """The exception ccxt's client of ``venue`` raises for ``body`` (its own handle_errors)."""
    ex = getattr(ccxt_async, venue)({"apiKey": "k", "secret": "s", "password": "p"})
    text = json.dumps(body)
    try:
        ex.handle_errors(status, "Bad Request", "https://venue/order", "POST", {}, text, body, {}, None)
        ex.handle_http_status_code(status, "Bad Request", "https://venue/order", "POST", text)
    except Exception as e:  # noqa: BLE001 - what ccxt raised is the case
        return e
    raise AssertionError(f"ccxt's {venue} raised nothing for {text}")


def adapter_error(venue: str, exc: BaseException) -> AdapterError:
    calls = Calls(None, venue=venue, budget=OrderBudget(10.0), timeout=1.0, max_retries=0, backoff_s=0.0,
                  max_backoff_s=0.0, secrets=lambda: ["s"], refusal=dialect_for(venue).venue_refusal)
    return calls.error(exc, "create_order")


@pytest.mark.parametrize("venue,cases", [("binanceusdm", BINANCE), ("bybit", BYBIT), ("okx", OKX),
                                         ("hyperliquid", HYPERLIQUID), ("bitget", BITGET)])
def test_each_venues_documented_refusal_is_mapped_by_its_table_and_kept_verbatim(venue, cases):
    for body, reason, kind in cases:
        err = adapter_error(venue, venue_error(venue, body))
        r = err.refusal
        assert r is not None, (venue, body)
        assert (r.reason, r.kind) == (reason, kind), (venue, body, r)
        # the venue's own code and message, as it sent them, never UNKNOWN
        if venue == "okx":
            expected_code, expected_msg = body["data"][0]["sCode"], body["data"][0]["sMsg"]
        elif venue == "bybit":
            expected_code, expected_msg = str(body["retCode"]), body["retMsg"]
        elif venue == "bitget":
            expected_code, expected_msg = body["code"], body["msg"]
        elif venue == "hyperliquid":
            text = body["response"]["data"]["statuses"][0]["error"]
            expected_code, expected_msg = text.split(".")[0], text
        else:
            expected_code, expected_msg = str(body["code"]), body["msg"]
        assert (r.code, r.message) == (expected_code, expected_msg)
        assert err.reason is not Reason.UNKNOWN
        assert err.reason.value == reason or reason not in Reason.__members__, (err.reason, reason)


def test_the_finding_refusal_reads_as_the_venue_said_it():
    err = adapter_error("binanceusdm", venue_error("binanceusdm", BINANCE[0][0]))
    assert err.reason is Reason.POSITION_MODE_MISMATCH  # ccxt's own reading of -1106 is a BadRequest: UNKNOWN
    assert err.refusal.text() == "-1106 Parameter 'reduceOnly' sent when not required."


def test_bitgets_table_is_tested_code_by_code():
    """Every code the table maps has its case above (a rule added without one fails here)."""
    from adapters.venues.bitget.dialect import REFUSALS

    assert {r.code for r in REFUSALS} <= {body["code"] for body, _, _ in BITGET} | {
        body["code"] for body, *_ in BITGET_NETWORK}


@pytest.mark.parametrize("body,reason,kind,ccxt_reason", BITGET_NETWORK)
def test_bitgets_network_class_codes_keep_ccxts_reason_and_the_table_maps_their_body(body, reason, kind, ccxt_reason):
    err = adapter_error("bitget", venue_error("bitget", body, status=429 if body["code"] == "429" else 400))
    assert err.reason is ccxt_reason and err.refusal is None  # a network-class failure: its outcome unknown
    r = dialect_for("bitget").venue_refusal("bitget " + json.dumps(body))
    assert (r.code, r.message, r.reason, r.kind) == (body["code"], body["msg"], reason, kind)


def test_bitgets_refusal_for_the_mode_is_rebuilt_not_resent_and_an_unknown_code_is_verbatim():
    err = adapter_error("bitget", venue_error("bitget", BITGET[0][0]))
    assert err.reason is Reason.POSITION_MODE_MISMATCH and err.refusal.kind == MODE  # never re-sent as it was
    assert err.refusal.text() == ("40774 The order type for unilateral position must also be the unilateral "
                                  "position type.")
    unknown = adapter_error("bitget", venue_error("bitget", bitget_body("40999", "A refusal no table lists.")))
    assert unknown.reason is Reason.VENUE_REFUSED
    assert unknown.refusal.text() == "40999 A refusal no table lists."


def test_bitgets_batch_refusal_is_read_from_its_failure_list_and_a_success_is_none():
    g = dialect_for("bitget")
    body = {"code": "00000", "msg": "success", "requestTime": 1, "data": {"successList": [], "failureList": [
        {"orderId": "1", "clientOid": "ks1", "errorMsg": "Not enough position is available.", "errorCode": "40757"}]}}
    r = g.venue_refusal("bitget " + json.dumps(body))
    assert (r.code, r.message, r.reason) == ("40757", "Not enough position is available.", "REDUCE_ONLY_REJECTED")
    assert g.venue_refusal('bitget {"code": "00000", "msg": "success", "data": {"orderId": "1"}}') is None


def test_an_unknown_code_is_venue_refused_with_its_code_and_message():
    err = adapter_error("binanceusdm", venue_error("binanceusdm", {"code": -4999, "msg": "A refusal no table lists."}))
    assert err.refusal.reason == "VENUE_REFUSED" and err.refusal.text() == "-4999 A refusal no table lists."


def test_a_network_failure_keeps_its_reason_and_carries_no_refusal():
    import ccxt

    err = adapter_error("binanceusdm", ccxt.RequestTimeout('binanceusdm {"code": -2022, "msg": "x"}'))
    assert err.reason is Reason.TIMEOUT and err.refusal is None


def test_a_generic_venue_reads_the_common_shapes():
    g = dialect_for("gate")
    r = g.venue_refusal('gate {"error": ["EOrder:Insufficient funds"]}')
    assert (r.code, r.message, r.reason) == ("EOrder:Insufficient", "EOrder:Insufficient funds", "VENUE_REFUSED")
    assert g.venue_refusal("no body at all") is None


def test_a_body_cut_short_is_not_read_as_another():
    assert body_of('binanceusdm {"code": -2022, "msg": "Reduce') is None


def test_every_table_names_reasons_the_adapter_knows_and_kinds_it_handles():
    for d in DIALECTS.values():
        for rule in d.refusal_rules:
            assert rule.reason in Reason.__members__, (d.id, rule)
            assert rule.kind in (PERMANENT, TRANSIENT, MODE), (d.id, rule)
