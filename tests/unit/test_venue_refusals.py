"""Each venue's refusal of an order, from its documented example error body, through ccxt's own
error handling (the exception ccxt raises for that body) to the adapter's error: the venue's
code and message kept verbatim, the reason code of the venue's table and how a retry fares.

The bodies are the venues' documented shapes and texts: Binance's error codes page
(``{"code": -1106, "msg": "Parameter 'reduceOnly' sent when not required."}``), Bybit v5's
(``retCode`` / ``retMsg``), OKX v5's (an order's own ``sCode`` / ``sMsg`` under ``code`` "1"),
Hyperliquid's action statuses (``{"error": "..."}``, no code)."""

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
                                         ("hyperliquid", HYPERLIQUID)])
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


def test_an_unknown_code_is_venue_refused_with_its_code_and_message():
    err = adapter_error("binanceusdm", venue_error("binanceusdm", {"code": -4999, "msg": "A refusal no table lists."}))
    assert err.refusal.reason == "VENUE_REFUSED" and err.refusal.text() == "-4999 A refusal no table lists."


def test_a_network_failure_keeps_its_reason_and_carries_no_refusal():
    import ccxt

    err = adapter_error("binanceusdm", ccxt.RequestTimeout('binanceusdm {"code": -2022, "msg": "x"}'))
    assert err.reason is Reason.TIMEOUT and err.refusal is None


def test_a_generic_venue_reads_the_common_shapes():
    g = dialect_for("kraken")
    r = g.venue_refusal('kraken {"error": ["EOrder:Insufficient funds"]}')
    assert (r.code, r.message, r.reason) == ("EOrder:Insufficient", "EOrder:Insufficient funds", "VENUE_REFUSED")
    assert g.venue_refusal("no body at all") is None


def test_a_body_cut_short_is_not_read_as_another():
    assert body_of('binanceusdm {"code": -2022, "msg": "Reduce') is None


def test_every_table_names_reasons_the_adapter_knows_and_kinds_it_handles():
    for d in DIALECTS.values():
        for rule in d.refusal_rules:
            assert rule.reason in Reason.__members__, (d.id, rule)
            assert rule.kind in (PERMANENT, TRANSIENT, MODE), (d.id, rule)
