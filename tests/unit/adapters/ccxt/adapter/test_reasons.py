"""What a ccxt exception means (its reason code), reduce-only refusals told from other words,
and no secret in an adapter error, a failed snapshot or a log."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback

import ccxt
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange import is_reduce_only_rejection, reason_for, scrub

from ..fake import (
    API_KEY,
    API_SECRET,
    ccxt_position,
    intent,
    make,
    run,
)

# --- exception → reason ------------------------------------------------------------------------------


@pytest.mark.parametrize("exc,reason", [
    (ccxt.AuthenticationError("bad key"), Reason.AUTH),
    (ccxt.PermissionDenied("ip not allowed"), Reason.AUTH),
    (ccxt.AccountSuspended("suspended"), Reason.AUTH),
    (ccxt.AccountNotEnabled("not enabled"), Reason.AUTH),
    (ccxt.InsufficientFunds("margin is insufficient"), Reason.INSUFFICIENT_MARGIN),
    (ccxt.RateLimitExceeded("429"), Reason.RATE_LIMITED),
    (ccxt.DDoSProtection("418"), Reason.RATE_LIMITED),
    (ccxt.OrderNotFound("unknown order"), Reason.ORDER_NOT_FOUND),
    (ccxt.BadSymbol("no market"), Reason.UNKNOWN_SYMBOL),
    (ccxt.InvalidOrder("precision is over the maximum"), Reason.INVALID_ORDER),
    (ccxt.DuplicateOrderId("dup"), Reason.INVALID_ORDER),
    (ccxt.ExchangeNotAvailable("502"), Reason.EXCHANGE_UNAVAILABLE),
    (ccxt.OnMaintenance("maintenance"), Reason.EXCHANGE_UNAVAILABLE),
    (ccxt.NetworkError("connection reset"), Reason.EXCHANGE_UNAVAILABLE),
    (ccxt.InvalidNonce("nonce"), Reason.EXCHANGE_UNAVAILABLE),
    (ccxt.RequestTimeout("timed out"), Reason.TIMEOUT),
    (asyncio.TimeoutError(), Reason.TIMEOUT),
    (TimeoutError(), Reason.TIMEOUT),
    (ccxt.BadResponse("not json"), Reason.BAD_RESPONSE),
    (ccxt.NullResponse("empty"), Reason.BAD_RESPONSE),
    (json.JSONDecodeError("Expecting value", "<html>", 0), Reason.BAD_RESPONSE),
    (ccxt.NotSupported("no such method"), Reason.UNSUPPORTED),
    (ccxt.ExchangeError("something else"), Reason.UNKNOWN),
    (ccxt.BaseError("base"), Reason.UNKNOWN),
    (ccxt.OperationRejected("rejected"), Reason.UNKNOWN),
    (ValueError("x"), Reason.UNKNOWN),
    (ConnectionResetError("reset"), Reason.EXCHANGE_UNAVAILABLE),
    (AdapterError(Reason.INSUFFICIENT_MARGIN, "kept"), Reason.INSUFFICIENT_MARGIN),
])
def test_reason_for_every_exception(exc, reason):
    assert reason_for(exc) is reason


@pytest.mark.parametrize("exc", [
    ccxt.InvalidOrder('binanceusdm {"code":-2022,"msg":"ReduceOnly Order is rejected."}'),
    ccxt.OperationRejected('binanceusdm {"code":-4112,"msg":"ReduceOnly Order Failed. '
                           'Please check your existing position and open orders."}'),
    ccxt.OperationRejected('binanceusdm {"code":-4118,"msg":"REDUCE_ONLY_MARGIN_CHECK_FAILED"}'),
    ccxt.InvalidOrder('bybit {"retCode":110017,"retMsg":"Reduce-only rule not satisfied","result":{},"time":1}'),
    ccxt.InvalidOrder('bybit {"retCode":"140017","retMsg":"..."}'),
    ccxt.ExchangeError('okx {"code":"1","data":[{"clOrdId":"ks1","ordId":"","sCode":"51169",'
                       '"sMsg":"Order failed"}],"msg":""}'),
    ccxt.ExchangeError('okx {"code":"51170","data":[],"msg":"Failed to place order. '
                       'A reduce-only order can\'t be the same trade side as your open position."}'),
    ccxt.ExchangeError("somevenue: reduce-only rule not satisfied"),
])
def test_reduce_only_rejections_are_recognised(exc):
    assert reason_for(exc) is Reason.REDUCE_ONLY_REJECTED


@pytest.mark.parametrize("exc,reason", [
    # "unless you choose reduce only": a notional floor, not a reduce-only refusal
    (ccxt.InvalidOrder('binanceusdm {"code":-4164,"msg":"Order\'s notional must be no smaller than 20 '
                       '(unless you choose reduce only)."}'),
     Reason.INVALID_ORDER),
    (ccxt.PermissionDenied('binanceusdm {"code":-4087,"msg":"User can only place reduce only order."}'), Reason.AUTH),
    (ccxt.BadRequest('binanceusdm {"code":-1106,"msg":"Parameter \'reduceOnly\' sent when not required."}'),
     Reason.UNKNOWN),
    (ccxt.InvalidOrder('binanceusdm {"code":-2026,"msg":"This OrderType is not supported when reduceOnly."}'),
     Reason.INVALID_ORDER),
])
def test_reduce_only_words_that_are_not_a_rejection(exc, reason):
    assert reason_for(exc) is reason


def test_is_reduce_only_rejection_on_plain_text():
    assert is_reduce_only_rejection("ReduceOnly Order is rejected.")
    assert not is_reduce_only_rejection("Order would immediately trigger.")


# --- secrets -------------------------------------------------------------------------------------------


def _leaky(cls=ccxt.ExchangeError):
    return cls(f"binanceusdm POST https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT&timestamp=1&"
               f"signature=0a1b2c3d4e5f60718293a4b5c6d7e8f9 apiKey={API_KEY} headers X-MBX-APIKEY: {API_KEY} "
               f"secret {API_SECRET} body")


def _assert_clean(text):
    assert API_KEY not in text and API_SECRET not in text and "0a1b2c3d4e5f60718293a4b5c6d7e8f9" not in text


@pytest.mark.parametrize("cls", [ccxt.ExchangeError, ccxt.AuthenticationError, ccxt.InvalidOrder, ccxt.NetworkError])
def test_no_secret_in_adapter_error(cls):
    a, fake = make(max_retries=0)
    fake.positions = [ccxt_position()]
    fake.script["create_order"] = [_leaky(cls)]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent()))
    err = ei.value
    for text in (str(err), repr(err), err.message, repr(err.args),
                 "".join(traceback.format_exception(type(err), err, err.__traceback__))):
        _assert_clean(text)
    assert err.__cause__ is None and err.__context__ is None
    assert err.reason is reason_for(cls("x"))


def test_no_secret_in_failed_snapshot(caplog):
    caplog.set_level(logging.DEBUG)
    a, fake = make(max_retries=1)
    fake.script["fetch_balance"] = [_leaky(ccxt.NetworkError)]
    snap = run(a.snapshot())
    assert not snap.fetch.ok and snap.fetch.error_code == "EXCHANGE_UNAVAILABLE"
    _assert_clean(snap.model_dump_json())
    _assert_clean(caplog.text)
    assert "signature=****" in snap.fetch.error


def test_scrub_helper():
    text = scrub(f"a {API_KEY} b sign=abc123&x=1 'passphrase': 'pp12345' Secret={API_SECRET}", [API_KEY, API_SECRET])
    _assert_clean(text)
    assert "sign=****" in text and "pp12345" not in text and "x=1" in text
    assert len(scrub("x" * 5000)) < 700
