"""Markets load with a trade-only key: the real ccxt clients the adapter builds ask only the
venues' public market endpoints when loading markets — never a signed wallet endpoint (Bybit's
/v5/asset/coin/query-info, OKX's /api/v5/asset/currencies, Binance's /sapi/v1/capital/config/getall),
which a key without wallet permission is refused (issue "Venue truth", finding 6).

ccxt's HTTP ``fetch`` is replaced by :class:`TradeOnlyVenue`, which answers each public market
request from the venue's recorded answers (adapters/venues/<venue>/fixtures: the venues' documented response
shapes, one answer per request ccxt sends) and refuses everything else as a venue refuses a key
without the permission: a request to an endpoint outside :data:`ALLOWED`, one carrying a credential
header or a signature, or one whose answer is not recorded. The load must then run to its end with
nothing refused, so every request of the whole load is seen, not only those before a first failure.
A ccxt upgrade that asks something new fails here until its answer is recorded and judged public."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from adapters.base import AdapterError
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects import secret_headers
from tests.unit.adapters.ccxt.fake import account
from tests.venue_fixtures import fixture, recorded

ALLOWED = {  # what loading markets may ask, per venue: public instrument lists only
    "binanceusdm": {("GET", "/fapi/v1/exchangeInfo")},
    "bybit": {("GET", "/v5/market/instruments-info")},
    "okx": {("GET", "/api/v5/public/instruments")},
    "hyperliquid": {("POST", "/info")},  # of the body types below only: /info also serves the account
}
HYPERLIQUID_PUBLIC_INFO = {"metaAndAssetCtxs"}

# the account's credential query parameters: a signed request carries one
SIGNED_PARAMS = {"signature", "timestamp", "recvWindow"}


def recorded(name: str) -> list[dict]:
    return json.loads(fixture(name).read_text())["requests"]


def hyperliquid_answers() -> list[dict]:
    meta = json.loads(fixture("hyperliquid-meta-and-asset-ctxs.json").read_text())["response"]
    return [{"method": "POST", "path": "/info", "params": {}, "body": {"type": "metaAndAssetCtxs"}, "response": meta}]


ANSWERS = {
    "binanceusdm": recorded("binanceusdm-exchange-info.json"),
    "bybit": recorded("bybit-instruments-info.json"),
    "okx": recorded("okx-public-instruments.json"),
    "hyperliquid": hyperliquid_answers(),
}


class TradeOnlyVenue:
    """A venue seen with a trade-only key: its recorded public market answers, nothing else.
    Every request is kept as ``(METHOD, path, query, body)``; a refused one also in ``refused``."""

    def __init__(self, venue: str):
        self.venue = venue
        self.requests: list[tuple[str, str, dict, Optional[dict]]] = []
        self.refused: list[tuple[str, str, dict, Optional[dict], str]] = []

    async def fetch(self, url: str, method: str = "GET", headers: Optional[dict] = None, body: Any = None) -> Any:
        u = urlsplit(url)
        query = dict(parse_qsl(u.query))
        payload = json.loads(body) if body else None
        self.requests.append((method, u.path, query, payload))
        why = self.refusal(method, u.path, query, payload, headers or {})
        if why is not None:
            self.refused.append((method, u.path, query, payload, why))
            # what a venue answers a key without the permission: refused, the load fails
            raise ccxt.PermissionDenied(f"{self.venue} {method} {u.path}: {why}")
        return next(a["response"] for a in ANSWERS[self.venue]
                    if (a["method"], a["path"], a["params"], a.get("body")) == (method, u.path, query, payload))

    def refusal(self, method: str, path: str, query: dict, payload: Optional[dict], headers: dict) -> Optional[str]:
        if (method, path) not in ALLOWED[self.venue]:
            return "not a public market endpoint"
        if self.venue == "hyperliquid" and (payload or {}).get("type") not in HYPERLIQUID_PUBLIC_INFO:
            return "not a public market request"
        sent = {h.lower() for h in headers}
        if sent & set(secret_headers()) or SIGNED_PARAMS & set(query):
            return "signed"
        if not any((a["method"], a["path"], a["params"], a.get("body")) == (method, path, query, payload)
                   for a in ANSWERS[self.venue]):
            return "no recorded answer"
        return None


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    # the hyperliquid account signs with a wallet key: a well-formed one, as ccxt checks it
    for k, v in (("KS_TEST_KEY", "trade-only-key"), ("KS_TEST_SECRET", "0x" + "11" * 32),
                 ("KS_TEST_PASS", "trade-only-pass")):
        monkeypatch.setenv(k, v)


def load_markets(venue: str, plant=None) -> tuple[CcxtAdapter, TradeOnlyVenue, Optional[BaseException]]:
    """The adapter's own market load (``load_symbols``) against ``TradeOnlyVenue``; ``plant(client)``
    first changes the adapter's ccxt client. Returns what the load raised, if anything."""
    a = CcxtAdapter(account(venue), timeout=5)
    fake = TradeOnlyVenue(venue)
    a._ex.fetch = fake.fetch
    if plant is not None:
        plant(a._ex)

    async def go() -> Optional[BaseException]:
        try:
            await a.load_symbols()
        except AdapterError as e:
            return e
        finally:
            await a.close()
        return None

    return a, fake, asyncio.run(go())


# what each venue's load must give the adapter: a futures account's swaps (the inverse and dated
# ones too: the adapter lists swaps and futures), one market's step, minimum amount and notional
EXPECTED = {
    "binanceusdm": ({"BTC/USDT:USDT", "ETH/USDT:USDT", "BLZ/USDT:USDT"}, "BTC/USDT:USDT", (0.001, 0.001, 100.0)),
    "bybit": ({"BTC/USDT:USDT", "ETH/USDT:USDT", "BTC/USDC:USDC", "BTC/USD:BTC"}, "ETH/USDT:USDT",
              (0.01, 0.01, 5.0)),
    "okx": ({"BTC/USDT:USDT", "ETH/USDT:USDT", "BTC/USD:BTC-250328"}, "ETH/USDT:USDT",
            (0.01, 0.01, 0.0)),  # in contracts (of 0.1 ETH); OKX publishes no minimum notional
    "hyperliquid": ({"BTC/USDC:USDC", "ETH/USDC:USDC", "SOL/USDC:USDC"}, "ETH/USDC:USDC",
                    (0.0001, 0.0, 10.0)),  # szDecimals 4; the venue's minimum order value of 10 USDC
}


@pytest.mark.parametrize("venue", sorted(ALLOWED))
def test_markets_load_to_the_end_with_a_trade_only_key(venue):
    a, fake, raised = load_markets(venue)
    assert fake.refused == [], fake.refused
    assert raised is None, raised
    # every recorded public answer was asked for: the whole load ran, not its first request only
    assert sorted(map(json.dumps, fake.requests)) == sorted(
        json.dumps((r["method"], r["path"], r["params"], r.get("body"))) for r in ANSWERS[venue])
    swaps, symbol, (step, minimum, notional) = EXPECTED[venue]
    assert a.symbols() == frozenset(swaps)
    rules = a.market_rules(symbol)
    assert rules is not None
    assert (rules.amount_step, rules.min_amount, rules.min_notional) == pytest.approx((step, minimum, notional))


def _wallet_call_back_on(client: Any) -> None:
    # what the adapter turns off (client.configure_client), turned back on as ccxt ships it
    client.has = {**client.has, "fetchCurrencies": True}
    client.options["fetchCurrencies"] = True


@pytest.mark.parametrize(("venue", "wallet"), [
    ("binanceusdm", ("GET", "/sapi/v1/capital/config/getall", None)),  # signed
    ("bybit", ("GET", "/v5/asset/coin/query-info", None)),  # signed
    ("okx", ("GET", "/api/v5/asset/currencies", None)),  # signed
    ("hyperliquid", ("POST", "/info", {"type": "spotMeta"})),  # public, but not the perpetuals' markets
])
def test_a_wallet_call_planted_in_the_load_is_refused(venue, wallet):
    _, fake, raised = load_markets(venue, plant=_wallet_call_back_on)
    assert fake.refused, "the planted call went through"
    method, path, _, body, _ = fake.refused[0]
    assert (method, path, body) == wallet, fake.refused
    assert isinstance(raised, AdapterError), raised


def test_the_flag_is_turned_off_on_the_adapters_client_only():
    assert ccxt_async.bybit().has["fetchCurrencies"] is True and ccxt_async.okx().has["fetchCurrencies"] is True
    a = CcxtAdapter(account("bybit"), timeout=3)
    assert a._ex.has["fetchCurrencies"] is False
    assert ccxt_async.bybit().has["fetchCurrencies"] is True  # another client keeps its own flag
    asyncio.run(a.close())
