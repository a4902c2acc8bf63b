"""A halt's closes never call one OKX endpoint past its limit. OKX limits each private endpoint per
UID (GET /api/v5/account/positions: 10 requests per 2 s, 50011 past it); a halt cancels the
account's orders, and each close after it reads its symbol's position afresh (the cancel made the
known one stale: :meth:`~adapters.ccxt_exchange.known.KnownPositions._released`). ccxt's cost of
that read (2 at its 110 ms) and the request pacer's burst of 200 let a hundred of them go at once,
the order budget (20 a second, a burst of 20) twenty: the eleventh close was refused. The real
ccxt okx client, its HTTP ``fetch`` answering as OKX does and refusing past the limit; each
venue's worst case against its limit (Bitget and MEXC kept to theirs, Bybit under its own); the
real Bitget and MEXC clients' positions reads kept to their windows."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs, urlsplit

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from adapters.base import CancelSelector
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.budget import EndpointWindows
from adapters.venues.bitget.dialect import BITGET
from adapters.venues.bybit.dialect import BYBIT
from adapters.venues.mexc.dialect import MEXC
from adapters.venues.okx.dialect import OKX
from tests.unit.adapters.ccxt.fake import account, intent, market
from tests.venue_fixtures import fixture

POSITION = json.loads(fixture("okx-positions-isolated.json").read_text())["response"]["data"][0]
LIMIT, WINDOW_S = 10, 2.0  # GET /api/v5/account/positions, per UID
SYMBOLS = [f"C{i}/USDT:USDT" for i in range(LIMIT + 2)]  # a position and a resting order on each


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    for k, v in (("KS_TEST_KEY", "k"), ("KS_TEST_SECRET", "s"), ("KS_TEST_PASS", "p")):
        monkeypatch.setenv(k, v)


def most_in_a_window(times: list[float], window_s: float) -> int:
    return max((sum(1 for t in times if s <= t < s + window_s) for s in times), default=0)


def positions_endpoint(dialect) -> str:
    """The endpoint a futures close reads its position from ("GET /api/v5/account/positions")."""
    (positions, _), = {e for k, e in dialect.read_endpoints.items() if k in ("*", "futures")}
    return positions


def positions_windows(dialect) -> set[tuple[float, float]]:
    """The windows the dialect keeps that endpoint to, keyed as ccxt sends it."""
    positions = positions_endpoint(dialect)
    return {limit for (_, _, path), limit in dialect.limits.windows().items() if positions.endswith("/" + path)}


def okx_halt(windows: bool) -> tuple[list[float], list[str]]:
    """Cancel every order, then close every position one after the other (as an account's send
    lane does): the positions reads' times, and each close's outcome."""
    ex = ccxt_async.okx({"apiKey": "k", "secret": "s", "password": "p"})
    ex.set_markets([market(s, s.split("/")[0] + "-USDT-SWAP") for s in SYMBOLS])
    reads: list[float] = []

    async def fetch(url, method="GET", headers=None, body=None):
        path, query = urlsplit(url).path, parse_qs(urlsplit(url).query)
        if path == "/api/v5/account/positions":
            now = time.monotonic()
            if sum(1 for t in reads if t > now - WINDOW_S) >= LIMIT:
                raise ccxt.RateLimitExceeded('okx {"code":"50011","msg":"Too Many Requests","data":[]}')
            reads.append(now)
            return {"code": "0", "msg": "", "data": [{**POSITION, "instId": i} for i in query["instId"][0].split(",")]}
        if path == "/api/v5/trade/orders-pending":
            return {"code": "0", "msg": "", "data": [
                {"instId": m["id"], "instType": "SWAP", "ordId": str(100 + n), "clOrdId": f"ks{n}", "ordType": "limit",
                 "side": "sell", "posSide": "net", "sz": "0.1", "px": "60000", "state": "live", "reduceOnly": "true",
                 "accFillSz": "0", "cTime": "1700000000000", "uTime": "1700000000000"}
                for n, m in enumerate(ex.markets[s] for s in SYMBOLS)]}
        if path == "/api/v5/trade/orders-algo-pending":
            return {"code": "0", "msg": "", "data": []}
        if path in ("/api/v5/trade/cancel-order", "/api/v5/trade/cancel-batch-orders"):  # (one a symbol)
            got = json.loads(body)
            return {"code": "0", "msg": "", "data": [{"ordId": o["ordId"], "clOrdId": "", "sCode": "0", "sMsg": ""}
                                                     for o in (got if isinstance(got, list) else [got])]}
        if path in ("/api/v5/trade/order", "/api/v5/trade/batch-orders"):
            got = json.loads(body)
            return {"code": "0", "msg": "", "data": [{"clOrdId": o.get("clOrdId"), "ordId": "9", "sCode": "0",
                                                      "sMsg": ""} for o in (got if isinstance(got, list) else [got])]}
        raise AssertionError(f"unexpected request {method} {path}")

    ex.fetch = fetch
    a = CcxtAdapter(account("okx"), exchange_factory=lambda cfg: ex)
    if not windows:  # the request pacing before: the pacer's burst alone
        ex.endpoint_windows = EndpointWindows({})
    outcomes: list[str] = []

    async def go() -> None:
        res = await a.cancel_orders(CancelSelector("all", ()))
        assert len(res.canceled) == len(SYMBOLS), res
        for n, s in enumerate(SYMBOLS):
            try:
                r = await a.submit(intent(symbol=s, amount=0.5, cid=f"ks{n:030d}"))
                outcomes.append(r.status)
            except Exception as e:  # noqa: BLE001 - the outcome is what is looked at
                outcomes.append(getattr(getattr(e, "reason", None), "value", repr(e)))
        await a.close()

    asyncio.run(go())
    return reads, outcomes, a.weight()[0].endpoint_waits()


def test_a_halts_closes_read_the_positions_within_okxs_limit_of_the_endpoint():
    reads, outcomes, waits = okx_halt(windows=True)
    assert len(reads) == len(SYMBOLS) and most_in_a_window(reads, WINDOW_S) <= LIMIT
    assert "RATE_LIMITED" not in outcomes and len(outcomes) == len(SYMBOLS), outcomes
    # the closes past the window's ten waited, and the account's weight says so, by endpoint
    waited, seconds = waits["GET account/positions"]
    assert waited >= len(SYMBOLS) - LIMIT and seconds > 0, waits


def test_without_the_endpoints_window_the_pacers_burst_sends_them_past_it():
    reads, outcomes, _ = okx_halt(windows=False)
    assert outcomes.count("RATE_LIMITED") == len(SYMBOLS) - LIMIT, outcomes


@pytest.mark.parametrize("dialect", [OKX, BITGET, BYBIT, MEXC], ids=lambda d: d.id)
def test_a_halts_positions_reads_stay_within_each_venues_limit_of_the_endpoint(dialect):
    """The most positions reads a halt's closes make in the endpoint's window: one a close, each
    before its order, the closes at the order budget's pace (its burst of a second, then its
    rate). Past the venue's limit of the endpoint the dialect keeps to it at run time (OKX 60
    against 10 per 2 s, Bitget 16 against 5 a second, MEXC 24 against 20 per 2 s); Bybit's
    20 stays under its 50 a second."""
    requests, window_s = dialect.weight_limit.endpoint_limits[positions_endpoint(dialect)]
    worst = max(1.0, dialect.limits.orders) + dialect.limits.orders * window_s
    kept = positions_windows(dialect)
    assert worst <= requests or kept == {(requests, window_s)}, (worst, requests, kept)
    assert (worst > requests) == bool(kept)  # (Bybit: nothing paced it needs not)


def test_a_venues_endpoint_windows_are_keyed_as_ccxt_sends_them_and_one_outside_its_prefix_is_refused():
    """The limits name an endpoint as the venue's documentation does; ccxt's key drops the prefix
    its api adds. An endpoint under no such prefix fails where the venue declares it."""
    from adapters.ccxt_exchange.dialects.limits import Limits

    limits = Limits(2.0, endpoints={"GET /api/v5/account/positions": (10, 2.0)}, ccxt_api=("private", "/api/v5/"))
    assert limits.windows() == {("private", "GET", "account/positions"): (10, 2.0)}
    with pytest.raises(ValueError, match="GET /v5/position/list: not under /api/v5/"):
        Limits(2.0, endpoints={"GET /v5/position/list": (50, 1.0)}, ccxt_api=("private", "/api/v5/"))


@pytest.mark.parametrize("dialect,read", [
    (BITGET, "privateMixGetV2MixPositionAllPosition"), (MEXC, "contractPrivateGetPositionOpenPositions")],
    ids=["bitget", "mexc"])
def test_the_real_ccxt_clients_positions_read_is_kept_to_the_venues_window(dialect, read):
    """The windows are keyed as the real ccxt client sends the request: one more positions read than
    the venue's limit, all at once, and the last goes a window after the first's answer."""
    from adapters.ccxt_exchange.client import configure_client

    (requests, window_s), = positions_windows(dialect)
    ex = getattr(ccxt_async, dialect.id)({"apiKey": "k", "secret": "s", "password": "p"})
    configure_client(ex, dialect, market_type="futures", sandbox=False, urls=None, secrets=[])
    sent: list[float] = []

    async def fetch(url, method="GET", headers=None, body=None):
        sent.append(time.monotonic())
        return {"code": "00000", "success": True, "data": []}

    ex.fetch = fetch

    async def go() -> None:
        await asyncio.gather(*(getattr(ex, read)({}) for _ in range(int(requests) + 1)))
        await ex.close()

    asyncio.run(go())
    assert len(sent) == requests + 1 and most_in_a_window(sent, window_s) <= requests
    assert sent[-1] - sent[0] >= window_s
