"""An OKX close carries the margin mode of the position it reduces (``tdMode``): ccxt sends
``cross`` unless told, so a close of an isolated position went out as cross (issue "Venue truth",
finding 5). The real ccxt okx client, its HTTP ``fetch`` answering from OKX's documented
positions answer (isolated) and recording the order it is sent."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import ccxt.async_support as ccxt_async
import pytest

from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.parsing import margin_modes
from tests.unit.adapters.ccxt.fake import BTC, account, intent, market, run
from tests.venue_fixtures import fixture

FIXTURE = fixture("okx-positions-isolated.json")


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    for k, v in (("KS_TEST_KEY", "k"), ("KS_TEST_SECRET", "s"), ("KS_TEST_PASS", "p")):
        monkeypatch.setenv(k, v)


def orders_sent(mode: str) -> list[dict]:
    doc = json.loads(FIXTURE.read_text())["response"]
    doc["data"][0]["mgnMode"] = mode
    ex = ccxt_async.okx({"apiKey": "k", "secret": "s", "password": "p"})
    ex.set_markets([market(BTC, "BTC-USDT-SWAP")])
    sent: list[dict] = []

    async def fetch(url, method="GET", headers=None, body=None):
        path = urlsplit(url).path
        if path == "/api/v5/account/positions":
            return doc
        if path in ("/api/v5/trade/order", "/api/v5/trade/batch-orders"):  # (ccxt sends one order as a batch)
            got = json.loads(body)
            orders = got if isinstance(got, list) else [got]
            sent.extend(orders)
            return {"code": "0", "msg": "", "data": [{"clOrdId": o.get("clOrdId"), "ordId": "312269865356374016",
                                                       "sCode": "0", "sMsg": "", "tag": ""} for o in orders]}
        raise AssertionError(f"unexpected request {method} {path}")

    ex.fetch = fetch
    a = CcxtAdapter(account("okx"), exchange_factory=lambda cfg: ex)
    run(a.submit(intent(side="sell", amount=0.2)))
    run(a.close())
    return sent


@pytest.mark.parametrize("mode", ["isolated", "cross"])
def test_a_close_is_sent_in_the_margin_mode_of_its_position(mode):
    (order,) = orders_sent(mode)
    assert order["tdMode"] == mode and order["side"] == "sell" and order["reduceOnly"] is True, order


def test_margin_modes_from_each_venues_fields():
    raw = [
        {"symbol": BTC, "side": "long", "marginMode": "isolated", "info": {}},
        {"symbol": "ETH/USDT:USDT", "side": "short", "info": {"mgnMode": "cross"}},
        {"symbol": "SOL/USDT:USDT", "side": "long", "info": {"marginType": "crossed"}},  # Binance's spelling
        {"symbol": "XRP/USDT:USDT", "side": "long", "info": {"tradeMode": 1}},  # Bybit: 1 isolated
        {"symbol": "ADA/USDT:USDT", "side": "long", "info": {}},  # says nothing: left out
        "not a position",
    ]
    assert margin_modes(raw) == {(BTC, "long"): "isolated", ("ETH/USDT:USDT", "short"): "cross",
                                 ("SOL/USDT:USDT", "long"): "cross", ("XRP/USDT:USDT", "long"): "isolated"}
