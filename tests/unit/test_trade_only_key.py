"""Markets load with a trade-only key: the real ccxt clients the adapter builds ask only the
venues' public market endpoints when loading markets — never a signed wallet endpoint (Bybit's
/v5/asset/coin/query-info, OKX's /api/v5/asset/currencies), which a key without wallet
permission is refused (issue "Venue truth", finding 6). ccxt's HTTP ``fetch`` is replaced by a
recorder that answers every request with a network error: no network, and every request seen."""

from __future__ import annotations

import asyncio

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from adapters.ccxt_exchange import CcxtAdapter
from tests.unit.test_ccxt_adapter import account

ALLOWED = {  # what loading markets may ask, per venue: public instrument lists only
    "bybit": {"/v5/market/instruments-info"},
    "okx": {"/api/v5/public/instruments"},
    "binanceusdm": {"/fapi/v1/exchangeInfo"},
    "hyperliquid": {"/info"},  # POST, of type metaAndAssetCtxs only (tests/unit/test_hyperliquid.py)
}


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    for k, v in (("KS_TEST_KEY", "trade-only-key"), ("KS_TEST_SECRET", "trade-only-secret"),
                 ("KS_TEST_PASS", "trade-only-pass")):
        monkeypatch.setenv(k, v)


def requests_of_load_markets(venue: str) -> list[str]:
    async def go() -> list[str]:
        a = CcxtAdapter(account(venue), timeout=3)
        seen: list[str] = []

        async def fetch(url, method="GET", headers=None, body=None):
            seen.append(url.split("?")[0].split("://", 1)[1].split("/", 1)[1])
            raise ccxt.NetworkError("no network in tests")

        a._ex.fetch = fetch
        with pytest.raises(ccxt.NetworkError):
            await a._ex.load_markets()
        await a.close()
        return ["/" + path for path in seen]

    return asyncio.run(go())


@pytest.mark.parametrize("venue", sorted(ALLOWED))
def test_loading_markets_asks_only_the_public_market_endpoints(venue):
    seen = requests_of_load_markets(venue)
    assert seen, "loading markets asked nothing"
    assert set(seen) <= ALLOWED[venue], seen


def test_the_flag_is_turned_off_on_the_adapters_client_only():
    assert ccxt_async.bybit().has["fetchCurrencies"] is True and ccxt_async.okx().has["fetchCurrencies"] is True
    a = CcxtAdapter(account("bybit"), timeout=3)
    assert a._ex.has["fetchCurrencies"] is False
    assert ccxt_async.bybit().has["fetchCurrencies"] is True  # another client keeps its own flag
    asyncio.run(a.close())
