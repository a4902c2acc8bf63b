"""Each dialect's read of an account's position mode, from the venue's documented answer: Binance
``GET /fapi/v1/positionSide/dual`` (``{"dualSidePosition": true}``), OKX ``GET
/api/v5/account/config`` (``posMode``, ``acctLv``), Bybit's positions' ``positionIdx``,
Hyperliquid (one-way, no request), any other id (not read, said so). An answer it cannot read is
BAD_RESPONSE naming the endpoint and the field; a read that fails is said, never the declaration."""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.ccxt_exchange.dialects.base import Reads
from adapters.ccxt_exchange.modes import AccountMode

# OKX's documented answer of GET /api/v5/account/config (the fields read, as the example shows them)
OKX_CONFIG = {"code": "0", "msg": "", "data": [{
    "acctLv": "2", "autoLoan": False, "ctIsoMode": "automatic", "greeksType": "PA", "level": "Lv1",
    "levelTmp": "", "mgnIsoMode": "automatic", "posMode": "long_short_mode", "uid": "44705892343619584"}]}


def reads(answers: dict, market_type: str = "futures") -> tuple[Reads, list]:
    asked: list = []

    async def call(method, *args):
        asked.append(method)
        out = answers[method]
        if isinstance(out, BaseException):
            raise out
        return out

    return Reads(call=call, has_method=lambda name: name in answers, symbol_of=lambda m: m,
                 market_type=market_type), asked


def read(venue: str, answers: dict):
    r, asked = reads(answers)
    return asyncio.run(dialect_for(venue).read_position_mode(r)), asked


@pytest.mark.parametrize("answer,hedge", [({"dualSidePosition": True}, True), ({"dualSidePosition": False}, False)])
def test_binance_reads_dual_side_position(answer, hedge):
    got, asked = read("binanceusdm", {"fapiPrivateGetPositionSideDual": answer})
    assert (got.hedge, got.source, asked) == (hedge, "GET /fapi/v1/positionSide/dual",
                                              ["fapiPrivateGetPositionSideDual"])


def test_binance_coinm_reads_its_own_endpoint():
    got, asked = read("binancecoinm", {"dapiPrivateGetPositionSideDual": {"dualSidePosition": True}})
    assert (got.hedge, got.source) == (True, "GET /dapi/v1/positionSide/dual")


@pytest.mark.parametrize("answer,field", [({}, "dualSidePosition"), ({"dualSidePosition": "yes"}, "dualSidePosition")])
def test_binance_answer_it_cannot_read_is_bad_response_naming_the_field(answer, field):
    with pytest.raises(AdapterError) as ei:
        read("binanceusdm", {"fapiPrivateGetPositionSideDual": answer})
    assert ei.value.reason is Reason.BAD_RESPONSE
    assert f"GET /fapi/v1/positionSide/dual: field {field}" in ei.value.message


def test_okx_reads_pos_mode_and_the_account_level():
    got, _ = read("okx", {"privateGetAccountConfig": OKX_CONFIG})
    assert (got.hedge, got.margin) == (True, "acctLv 2 (futures mode (single-currency margin))")
    assert got.source == "GET /api/v5/account/config posMode=long_short_mode"
    net = {**OKX_CONFIG, "data": [{**OKX_CONFIG["data"][0], "posMode": "net_mode"}]}
    assert read("okx", {"privateGetAccountConfig": net})[0].hedge is False


def test_okx_unknown_pos_mode_is_bad_response_naming_it():
    odd = {**OKX_CONFIG, "data": [{**OKX_CONFIG["data"][0], "posMode": "dual"}]}
    with pytest.raises(AdapterError) as ei:
        read("okx", {"privateGetAccountConfig": odd})
    assert "GET /api/v5/account/config: field posMode: unknown value 'dual'" in ei.value.message


def test_bybit_reads_the_positions_position_idx():
    bybit = dialect_for("bybit")
    rows = lambda *idx: [{"info": {"positionIdx": i}} for i in idx]  # noqa: E731
    assert bybit.mode_from_positions(rows(1, 2)).hedge is True
    assert bybit.mode_from_positions(rows(0, 0)).hedge is False
    flat = bybit.mode_from_positions([])
    assert flat.hedge is None and flat.error.startswith("POSITION_MODE_UNREAD: no position row says it")
    mixed = bybit.mode_from_positions(rows(0, 1))
    assert mixed.hedge is None and "differ by symbol" in mixed.error


def test_hyperliquid_is_one_way_without_a_request():
    got, asked = read("hyperliquid", {})
    assert got.hedge is False and asked == []


def test_a_venue_without_a_read_says_so():
    got, asked = read("gate", {})
    assert got.hedge is None and asked == []
    assert got.error == ("POSITION_MODE_UNREAD: the gate dialect has no read of the position mode; closes follow "
                         "the positions' legs")


def test_a_failed_read_is_said_and_the_close_follows_the_legs_not_the_declaration():
    mode = AccountMode(dialect_for("binanceusdm"), True, venue="binanceusdm", account="a")
    r, _ = reads({"fapiPrivateGetPositionSideDual": AdapterError(Reason.EXCHANGE_UNAVAILABLE, "502")})
    asyncio.run(mode.read_now(r))
    v = mode.value()
    assert (v.declared_hedge, v.hedge, v.mismatch) == (True, None, False)
    assert v.error == "POSITION_MODE_UNREAD: EXCHANGE_UNAVAILABLE: GET /fapi/v1/positionSide/dual: 502"
    assert (mode.hedge_for(None), mode.hedge_for("BOTH"), mode.hedge_for("LONG")) == (False, False, True)


def test_a_mode_read_once_is_read_again_after_a_refusal_and_at_its_period():
    now = [0.0]
    okx = AccountMode(dialect_for("okx"), False, venue="okx", account="a", monotonic=lambda: now[0])
    r, asked = reads({"privateGetAccountConfig": OKX_CONFIG})
    assert okx.due()
    asyncio.run(okx.read_now(r))
    assert not okx.due() and okx.value().mismatch_reason() == (
        "POSITION_MODE_MISMATCH: declared one-way, the venue reads hedge "
        "(GET /api/v5/account/config posMode=long_short_mode)")
    okx.distrust()
    assert okx.due()
    asyncio.run(okx.read_now(r))
    now[0] = 299.0
    assert not okx.due()
    now[0] = 300.0
    assert okx.due()
    binance = AccountMode(dialect_for("binanceusdm"), False, venue="b", account="a", monotonic=lambda: now[0])
    asyncio.run(binance.read_now(reads({"fapiPrivateGetPositionSideDual": {"dualSidePosition": True}})[0]))
    now[0] = 10**9
    assert not binance.due()  # (its positions say it: read at start and after a refusal only)
