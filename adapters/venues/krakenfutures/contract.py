"""Kraken Futures' row of the adapter contract (tests/contract/test_adapter_contract.py; the
fields: see adapters/venues/binance/contract.py).

One-way only (the venue keeps one net position a contract); the close's client id in
``cliOrdId``, looked up through ``orders/status`` by ``cliOrdIds``; an order's answer is the
venue's ``sendStatus`` (placed); the positions are valued with the marks of the public
``tickers``, read raw; the dead man's switch ``cancelallordersafter``, its answer's
``status.triggerTime`` read back. Data, and its cancel answers' builders.
"""

import json
from pathlib import Path

from .dialect import LIMITS

# the documented answers (fixtures/documented.json): a placed order, the switch armed
PLACED = {"order_id": "1", "status": "placed", "receivedTime": "2022-02-28T19:32:17.122Z", "orderEvents": []}
ARMED = {"result": "success", "status": {"currentTime": "2018-06-19T16:51:23.839Z",
                                         "triggerTime": "2018-06-19T16:52:23.839Z"},
         "serverTime": "2018-06-19T16:51:23.839Z"}
TICKERS = {"result": "success", "tickers": [{"symbol": "PF_XBTUSD", "markPrice": 60000.0, "tag": "perpetual"}],
           "serverTime": "2022-06-17T11:00:31.335Z"}

# a row of openpositions (the recorded one's fields) holding a short
SHORT_ROW = {"side": "short", "symbol": "PF_XBTUSD", "price": "60000", "fillTime": "2024-02-06T22:24:34.849Z",
             "size": "1.0", "unrealizedFunding": "0"}

ROWS = (
    {"id": "krakenfutures", "market_id": "PF_XBTUSD", "one_way_close": {"cliOrdId": "ks1", "reduceOnly": True},
     "hedge_close": None, "lookup": ("fetch_orders", {"cliOrdIds": "ks1"}), "short_leg_info": SHORT_ROW,
     "max_client_id_length": 100, "countdown": ("privatePostCancelallordersafter", {"timeout": 60}),
     "limits": LIMITS, "order_info": PLACED,
     "raw_answers": {"publicGetTickers": TICKERS, "privatePostCancelallordersafter": ARMED}},
)


# Where its face differs (test_adapter_contract.py: Terms): USD multi-collateral perpetuals; no
# hedge mode, close-position trigger or position maintenance margin (openpositions says none);
# no minimum size in ccxt's market (instruments give the size's precision alone).
FACE_TERMS = {
    "quote": "USD", "maintenance_margin": False, "min_amount": 0.0, "hedge": False, "no_stops": ("close-tp",),
}


# Its answers to a cancel (tests/unit/adapters/ccxt/test_cancel_property.py; the fields: see
# binance/contract.py): the documented bodies (fixtures/documented.json): cancelorder's
# cancelStatus (a refusal: its status, no events), cancelallorders' cancelledOrders (read raw),
# batchorder's batchStatus (its cancels of several orders, of any contracts, read raw).
EVERY_KIND = ("regular", "conditional", "tpsl", "oco", "trailing")
EVERY_FATE = ("done", "refused", "unnamed")
STATUS = r"[a-z][a-zA-Z]{3,15}"  # its refusals' form: a status word


def _doc(case: str) -> dict:
    return json.loads((Path(__file__).parent / "fixtures" / "documented.json").read_text())["cases"][case]["body"]


def _one(f) -> tuple:
    [o] = f.sent
    body = _doc("cancelorder")
    named: set = set()
    if o.id in f.refused:
        body["cancelStatus"] = {"status": f.refused[o.id].code, "receivedTime": "2020-07-22T13:26:20.806Z",
                                "orderEvents": []}
    else:
        named = {o.id if f.done else f.strangers[0]}
        body["cancelStatus"]["order_id"] = next(iter(named))
    # raw, or as ccxt's cancel_order hands it on: its info the cancelStatus alone
    return (body if f.flip() else {"id": None, "info": body["cancelStatus"]}), named


def _all(f) -> tuple:
    body = _doc("cancelallorders")
    named = f.done + f.strangers
    body["cancelStatus"]["cancelledOrders"] = f.shuffled([
        {"order_id": "other-" + i, "cliOrdId": f.client(i)} if i in f.by_client else {"order_id": i}
        for i in named])
    if not named and f.flip():
        body["cancelStatus"]["status"] = "noOrdersToCancel"
    return body, set(named)


def _batch(f) -> tuple:
    body = _doc("batchorder cancelled")
    [done] = body["batchStatus"]
    rows = [dict(done, order_id=i) for i in f.done + f.strangers]
    rows += [{"status": r.code, "order_id": i, "orderEvents": []} for i, r in f.refused.items()]
    body["batchStatus"] = f.shuffled(rows)
    return body, set(f.done + f.strangers)


CANCEL_ANSWERS = (
    {"how": "one", "endpoint": "POST /derivatives/api/v3/cancelorder", "build": _one, "kinds": EVERY_KIND,
     "fates": EVERY_FATE, "strangers": True, "novel": STATUS},
    {"how": "symbol", "endpoint": "POST /derivatives/api/v3/cancelallorders", "build": _all, "kinds": EVERY_KIND,
     "most": 20, "fates": ("done", "unnamed"), "strangers": True},
    {"how": "batch", "endpoint": "POST /derivatives/api/v3/batchorder", "build": _batch, "kinds": EVERY_KIND,
     "most": 20, "fates": EVERY_FATE, "strangers": True, "novel": STATUS},
)
CANCEL_NOT_SENT: dict = {}


# Its refusals of an order (tests/unit/adapters/ccxt/test_venue_refusals.py): none raised by ccxt.
REFUSALS: tuple = ()
REFUSALS_ELSEWHERE = ("Kraken Futures refuses an order inside a success answer (sendStatus), which ccxt does not "
                      "raise: tests/unit/adapters/venues/krakenfutures/test_recorded_payloads.py reads them")


# Its stream face's private subscriptions (see binance/contract.py).
STREAM_TOPICS = {"open_positions", "balances", "open_orders"}

# The streamed reaction bench's terms of it (see binance/contract.py).
STREAM_BENCH = {"name": "simulated Kraken Futures", "crossed": '"markPrice":80',
                "cadence": "what its ticker feed's cadence adds, which Kraken does not document (the simulator "
                           "pushes a set mark at once, then on its cadence while it moves)"}
