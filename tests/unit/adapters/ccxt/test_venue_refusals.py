"""Each venue's refusal of an order, from its documented example error body, through ccxt's own
error handling (the exception ccxt raises for that body) to the adapter's error: the venue's
code and message kept verbatim, the reason code of the venue's table and how a retry fares.

The bodies, with the reason, kind, code and words each must give, are the venues' own: each
venue folder's ``contract.py`` ``REFUSALS`` (found by the registry), its documented shapes and
texts cited there; a venue whose refusals ccxt never raises says where they are read instead
(``REFUSALS_ELSEWHERE``), and one that gives neither fails, named."""

from __future__ import annotations

import json
from importlib import import_module

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import MODE, PERMANENT, TRANSIENT, AdapterError, Reason
from adapters.ccxt_exchange.budget import OrderBudget
from adapters.ccxt_exchange.calls import Calls
from adapters.ccxt_exchange.dialects import DIALECTS, dialect_for
from adapters.ccxt_exchange.dialects.refusals import body_of
from adapters.registry import PACKAGE, venues


def bitget_body(code: str, msg: str) -> dict:
    return {"code": code, "msg": msg, "requestTime": 1758709764409, "data": None}


def venue_refusals() -> list:
    """(ccxt id, its venue's REFUSALS) of every venue of the registry, by the id it answers as
    (its SIM_ID, else its first ccxt id)."""
    out = []
    for pkg in venues():
        venue = pkg.__name__.rsplit(".", 1)[1]
        contract = import_module(f"{pkg.__name__}.contract")
        cid = pkg.SIM_ID or pkg.CCXT_IDS[0]
        out.append(pytest.param(venue, cid, getattr(contract, "REFUSALS", None),
                                getattr(contract, "REFUSALS_ELSEWHERE", None), id=cid))
    return out


def refusals_of(venue: str) -> tuple:
    return import_module(f"{PACKAGE}.{venue}.contract").REFUSALS


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


@pytest.mark.parametrize("venue, cid, cases, elsewhere", venue_refusals())
def test_each_venues_documented_refusal_is_mapped_by_its_table_and_kept_verbatim(venue, cid, cases, elsewhere):
    where = f"adapters/venues/{venue}/contract.py"
    assert cases is not None, f"{where} has no REFUSALS: its documented refusals of an order (see binance's)"
    if not cases:
        assert elsewhere, f"{where}: REFUSALS is empty and REFUSALS_ELSEWHERE does not say where they are read"
        pytest.skip(f"{venue}: {elsewhere}")
    for body, reason, kind, code, words in cases:
        err = adapter_error(cid, venue_error(cid, body))
        r = err.refusal
        assert r is not None, (cid, body)
        assert (r.reason, r.kind) == (reason, kind), (cid, body, r)
        # the venue's own code and message, as it sent them, never UNKNOWN
        assert (r.code, r.message) == (code, words), (cid, body)
        assert err.reason is not Reason.UNKNOWN
        assert err.reason.value == reason or reason not in Reason.__members__, (err.reason, reason)


def test_the_finding_refusal_reads_as_the_venue_said_it():
    err = adapter_error("binanceusdm", venue_error("binanceusdm", refusals_of("binance")[0][0]))
    assert err.reason is Reason.POSITION_MODE_MISMATCH  # ccxt's own reading of -1106 is a BadRequest: UNKNOWN
    assert err.refusal.text() == "-1106 Parameter 'reduceOnly' sent when not required."


def test_bitgets_table_is_tested_code_by_code():
    """Every code the table maps has its case above (a rule added without one fails here)."""
    from adapters.venues.bitget.dialect import REFUSALS

    assert {r.code for r in REFUSALS} <= {body["code"] for body, *_ in refusals_of("bitget")} | {
        body["code"] for body, *_ in BITGET_NETWORK}


@pytest.mark.parametrize("body,reason,kind,ccxt_reason", BITGET_NETWORK)
def test_bitgets_network_class_codes_keep_ccxts_reason_and_the_table_maps_their_body(body, reason, kind, ccxt_reason):
    err = adapter_error("bitget", venue_error("bitget", body, status=429 if body["code"] == "429" else 400))
    assert err.reason is ccxt_reason and err.refusal is None  # a network-class failure: its outcome unknown
    r = dialect_for("bitget").venue_refusal("bitget " + json.dumps(body))
    assert (r.code, r.message, r.reason, r.kind) == (body["code"], body["msg"], reason, kind)


def test_bitgets_refusal_for_the_mode_is_rebuilt_not_resent_and_an_unknown_code_is_verbatim():
    err = adapter_error("bitget", venue_error("bitget", refusals_of("bitget")[0][0]))
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
