"""The rig of the Kraken spot tests: the real ccxt client and the adapter, answered with what
ccxt recorded from the venue (adapters/venues/kraken/fixtures/ccxt-static-kraken.json, verbatim,
naming its commits: open conditional and trailing orders, a ticker, an order's answer, and the
requests of a sell, a cancel and the dead man's switch) and, where nothing was recorded, Kraken's
documented answers (fixtures/spot-documented.json, each case saying whether it is printed so or
built on the documented fields). Every answer passes ccxt's own error check of a body
(``handle_errors``), as the venue's would: a non-empty ``error`` list inside HTTP 200 is a refusal."""

from __future__ import annotations

import copy
import json
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

import ccxt.async_support as ccxt_async

from adapters.ccxt_exchange import CcxtAdapter
from adapters.venues.kraken.dialect_rows import to_cl_ord_id
from killswitch.orders import OrderIntent
from killswitch.policy.accounts_doc import Account
from tests.unit.adapters.ccxt.fake import market, run
from tests.venue_fixtures import recorded

RECORDED = json.loads(recorded("kraken").read_text())
DOCS = json.loads((recorded("kraken").parent / "spot-documented.json").read_text())["cases"]

BTC, LTC, XRP = "BTC/USD", "LTC/USDT", "XRP/USD"
ENGINE_ID = "ks" + "0123456789abcdef0123456789abcd"


def documented(name: str) -> dict:
    return copy.deepcopy(DOCS[name]["body"])


def case(name: str) -> dict:
    return copy.deepcopy(RECORDED["cases"][name])


def recorded_rows(*names: str) -> dict:
    """OpenOrders' answer holding the recorded open rows of ``names`` (each case's one row)."""
    rows: dict = {}
    for n in names:
        rows.update(case(n)["httpResponse"]["result"]["open"])
    return {"error": [], "result": {"open": rows}}


def ticker(pair: str, last: str) -> dict:
    """GET /0/public/Ticker: the recorded ticker's row (ccxt's fetchTicker of XBTUSDT) under
    ``pair``, its last trade ``last``."""
    row = case("fetchTicker")["httpResponse"]["result"]["XBTUSDT"]
    row["c"] = [last, "0.00160710"]
    return {"error": [], "result": {pair: row}}


class KrakenVenue:
    """Answers ccxt's kraken by path: the recorded bodies where ccxt recorded them, the documented
    ones elsewhere; ``answers`` overrides a path's body (a list: one body a call, in turn)."""

    def __init__(self, ex=None, **answers):
        self.ex = ex
        self.answers = {
            "/0/private/BalanceEx": documented("BalanceEx"),
            "/0/public/Ticker": ticker("XXBTZUSD", "73380.60000"),
            "/0/private/OpenOrders": {"error": [], "result": {"open": {}}},
            "/0/private/ClosedOrders": {"error": [], "result": {"closed": {}, "count": 0}},
            "/0/private/AddOrder": case("createOrder")["httpResponse"],
            "/0/private/CancelOrder": documented("CancelOrder"),
            "/0/private/CancelAllOrdersAfter": documented("CancelAllOrdersAfter"),
            **{f"/0/{k.replace('_', '/')}": v for k, v in answers.items()},
        }
        self.requests: list[tuple[str, str, dict]] = []

    def sent(self, path: str) -> list[dict]:
        return [params for _, p, params in self.requests if p == path]

    async def fetch(self, url, method="GET", headers=None, body=None, **kw):
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query))
        params.update(dict(parse_qsl(body or "")))
        self.requests.append((method, parts.path, params))
        answer = self.answers.get(parts.path)
        if answer is None:
            raise AssertionError(f"unexpected request {method} {parts.path}")
        if isinstance(answer, list):
            answer = answer.pop(0)
        text = json.dumps(answer)
        self.ex.handle_errors(200, "OK", url, method, {}, text, answer, headers, body)  # ccxt's own check
        return answer


def kraken_markets() -> list:
    out = [market(BTC, "XXBTZUSD", amount_step=0.00000001, price_step=0.1, min_amount=0.0001, min_cost=0.5, spot=True),
           market(LTC, "LTCUSDT", amount_step=0.00000001, price_step=0.01, min_amount=0.05, min_cost=0.5, spot=True),
           market(XRP, "XRPUSD", amount_step=0.00000001, price_step=0.00001, min_amount=10, min_cost=0.5, spot=True)]
    for m, alt in zip(out, ("XBTUSD", "LTCUSDT", "XRPUSD")):
        m["info"] = {"altname": alt, "wsname": m["symbol"]}
        m["altname"] = alt
    return out


def kraken_account(**extra) -> Account:
    return Account.model_validate({
        "name": "main", "venue": "kraken", "market_type": "spot", "quote_currency": "USD",
        "credentials": {"api_key": {"env": "KS_TEST_KEY"}, "secret": {"env": "KS_TEST_SECRET"}}, **extra})


def kraken_adapter(venue: KrakenVenue, acc: Optional[Account] = None, **kw) -> CcxtAdapter:
    def build(config: dict):
        ex = ccxt_async.kraken(config)
        ex.set_markets(kraken_markets())
        ex.options["marketsByAltname"] = {m["altname"]: m for m in ex.markets.values()}  # as fetch_markets
        ex.fetch = venue.fetch
        venue.ex = ex
        return ex

    return CcxtAdapter(acc or kraken_account(), exchange_factory=build, **kw)



def using(venue: KrakenVenue, work, acc: Optional[Account] = None):
    async def body():
        a = kraken_adapter(venue, acc)
        try:
            return await work(a)
        finally:
            await a.close()

    return run(body())


def snapshot(venue: KrakenVenue):
    return using(venue, lambda a: a.snapshot())


def close(amount: float, cid: str = ENGINE_ID, symbol: str = BTC) -> OrderIntent:
    return OrderIntent(decision_id="d1", client_order_id=cid, venue="kraken", account="main", symbol=symbol,
                       side="sell", position_side=None, amount=amount, reduce_only=False, limit_price=None,
                       notional=amount * 73380.6, chunk=1, chunks=1, not_before_ms=0, action="close_all",
                       reason="test")


def open_two() -> dict:
    return recorded_rows("fetchOpenOrders take-profit", "fetchOpenOrders trailing-stop")


def closed_by_engine_id() -> dict:
    """ClosedOrders' answer holding the recorded closed market order, under the engine's client id."""
    closed = case("fetchOrder closed market")["httpResponse"]["result"]
    closed["OGMZCL-KC6MC-ZRBGM6"]["cl_ord_id"] = to_cl_ord_id(ENGINE_ID)
    return {"error": [], "result": {"closed": closed, "count": 1}}
