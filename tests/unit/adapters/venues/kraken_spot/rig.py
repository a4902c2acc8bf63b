"""The rig of the Kraken spot tests: the real ccxt client and the adapter, answered with what
ccxt recorded from the venue (adapters/venues/kraken/fixtures/ccxt-static-kraken.json, verbatim,
naming its commits: open conditional and trailing orders, a ticker, an order's answer, and the
requests of a sell, a cancel and the dead man's switch) and, where nothing was recorded, Kraken's
documented answers (fixtures/spot-documented.json, each case saying whether it is printed so or
built on the documented fields). Every answer passes ccxt's own error check of a body
(tests/unit/adapters/venues/answered.py), as the venue's would: a non-empty ``error`` list inside
HTTP 200 is a refusal."""

from __future__ import annotations

import copy
import json
from typing import Optional
from urllib.parse import parse_qsl

import ccxt.async_support as ccxt_async

from adapters.ccxt_exchange import CcxtAdapter
from adapters.venues.kraken.dialect.rows import to_cl_ord_id
from killswitch.orders import OrderIntent
from killswitch.policy.accounts_doc import Account
from tests.unit.adapters.ccxt.fake import market
from tests.unit.adapters.venues import answered
from tests.unit.adapters.venues.answered import ENGINE_ID, PathVenue, answered_adapter, sale
from tests.venue_fixtures import recorded

RECORDED = json.loads(recorded("kraken").read_text())
DOCS = json.loads((recorded("kraken").parent / "spot-documented.json").read_text())["cases"]

BTC, LTC, XRP = "BTC/USD", "LTC/USDT", "XRP/USD"


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


class KrakenVenue(PathVenue):
    """Answers ccxt's kraken by path: the recorded bodies where ccxt recorded them, the documented
    ones elsewhere; ``answers`` overrides a path's body (``private_OpenOrders``: /0/private/OpenOrders;
    a tuple: one body a call, in turn). A request sends its query and its form body."""

    def __init__(self, **answers):
        super().__init__({
            "/0/private/BalanceEx": documented("BalanceEx"),
            "/0/public/Ticker": ticker("XXBTZUSD", "73380.60000"),
            "/0/private/OpenOrders": {"error": [], "result": {"open": {}}},
            "/0/private/ClosedOrders": {"error": [], "result": {"closed": {}, "count": 0}},
            "/0/private/AddOrder": case("createOrder")["httpResponse"],
            "/0/private/CancelOrder": documented("CancelOrder"),
            "/0/private/CancelAllOrdersAfter": documented("CancelAllOrdersAfter"),
            **{f"/0/{k.replace('_', '/')}": v for k, v in answers.items()},
        })

    def params(self, url: str, body: Optional[str]) -> dict:
        return super().params(url, body) | dict(parse_qsl(body or ""))


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


def kraken_client(config: dict):
    ex = ccxt_async.kraken(config)
    ex.set_markets(kraken_markets())
    ex.options["marketsByAltname"] = {m["altname"]: m for m in ex.markets.values()}  # as fetch_markets
    return ex


def kraken_adapter(venue: KrakenVenue, acc: Optional[Account] = None, **kw) -> CcxtAdapter:
    return answered_adapter(venue, kraken_client, acc or kraken_account(), **kw)


def using(venue: KrakenVenue, work, acc: Optional[Account] = None):
    return answered.using(lambda: kraken_adapter(venue, acc), work)


def snapshot(venue: KrakenVenue):
    return using(venue, lambda a: a.snapshot())


def close(amount: float, cid: str = ENGINE_ID, symbol: str = BTC) -> OrderIntent:
    return sale("kraken", amount, 73380.6, cid, symbol)


def open_two() -> dict:
    return recorded_rows("fetchOpenOrders take-profit", "fetchOpenOrders trailing-stop")


def closed_by_engine_id() -> dict:
    """ClosedOrders' answer holding the recorded closed market order, under the engine's client id."""
    closed = case("fetchOrder closed market")["httpResponse"]["result"]
    closed["OGMZCL-KC6MC-ZRBGM6"]["cl_ord_id"] = to_cl_ord_id(ENGINE_ID)
    return {"error": [], "result": {"closed": closed, "count": 1}}
