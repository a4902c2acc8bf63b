"""Kraken spot's row of the adapter contract (tests/contract/test_dialect_rows.py; the fields: see
adapters/venues/binance/contract.py).

The row drives the generic contract client, whose account is a futures one: a close carries the
client id in ccxt's ``clientOrderId`` (Kraken's ``cl_ord_id``; "ks1" is a free text the venue
takes as it is) and ccxt's ``reduceOnly``; an order is looked up by its ``cl_ord_id`` in
``OpenOrders`` first, then ``ClosedOrders`` (its answer: ``raw_answers``); the countdown is
``CancelAllOrdersAfter`` in whole seconds. Data, and its cancel answers' builders.
"""

import json
from pathlib import Path

from .dialect import LIMITS

CLOSED = {"id": "OGMZCL-KC6MC-ZRBGM6", "clientOrderId": "ks1", "symbol": "BTC/USDT:USDT", "side": "sell",
          "type": "market", "amount": 0.5, "filled": 0.5, "status": "closed", "average": 60_000.0,
          "info": {"cl_ord_id": "ks1", "status": "closed"}}

# a row of OpenPositions (ccxt's recorded fetchPositions): a margin position, one net per pair
SHORT_MARGIN_ROW = {"pair": "ADAUSDT", "positions": "1", "type": "sell", "vol": "10.00000000",
                    "vol_closed": "0.00000000"}

ROWS = (
    {"id": "kraken", "market_id": "XBTUSDT", "one_way_close": {"clientOrderId": "ks1", "reduceOnly": True},
     "hedge_close": None, "lookup": ("fetch_closed_orders", {"clientOrderId": "ks1"}),
     "short_leg_info": SHORT_MARGIN_ROW,
     "max_client_id_length": 32,
     "countdown": ("privatePostCancelAllOrdersAfter", {"timeout": 60}),
     "raw_answers": {
         "privatePostCancelAllOrdersAfter": {"error": [], "result": {"currentTime": "2023-03-24T17:41:56Z",
                                                                     "triggerTime": "2023-03-24T17:42:56Z"}},
         "fetch_closed_orders": [CLOSED]},
     "limits": LIMITS},
)


# Where its face differs (test_adapter_contract.py: Terms): everywhere the contract asks of a futures
# account. Kraken spot holds no position to reduce, no reduce-only flag, no hedge leg; its resting
# and conditional orders (the engine's spot desk) and their cancels are proven apart
# (tests/integration/simulator/test_kraken.py), and so is its demo (tests/cli/test_demo.py).
FACE_TERMS = {"spot_only": "a spot venue: no position, reduce-only close or hedge leg; its face (resting and "
                           "conditional spot orders, their cancels) is proven by "
                           "tests/integration/simulator/test_kraken.py"}


# Its answers to a cancel (tests/unit/adapters/ccxt/test_cancel_property.py; the fields: see
# binance/contract.py): CancelOrder of one order (fixtures/spot-documented.json's CancelOrder:
# result.count; a refusal in the error list of an HTTP 200 answer, EOrder:Unknown order among
# them); a count of 0 names none.
EVERY_KIND = ("regular", "conditional", "tpsl", "oco", "trailing")


def _one(f) -> tuple:
    [o] = f.sent
    if o.id in f.refused:
        return {"error": [f.refused[o.id].code], "result": {}}, set()
    cases = json.loads((Path(__file__).parent / "fixtures" / "spot-documented.json").read_text())["cases"]
    body = cases["CancelOrder"]["body"]
    body["result"]["count"] = 1 if f.done else 0
    return body, set(f.done)


CANCEL_ANSWERS = (
    {"how": "batch", "endpoint": "POST /0/private/CancelOrder (one order a request)", "build": _one,
     "kinds": EVERY_KIND, "fates": ("done", "refused", "unnamed"),
     "novel": r"E(Order|General|Service):[A-Z][a-z]{3,12}( [a-z]{2,9}){0,2}"},
)
CANCEL_NOT_SENT = {"one": "every kind one order a batch (cancels_itself)",
                   "symbol": "CancelAll is the account's: never sent (cancels_itself)"}


# Its documented refusals of an order (the fields: see binance/contract.py):
# Kraken spot's error list (fixtures/spot-documented.json, AddOrder insufficient funds; the
# documented error strings of https://docs.kraken.com/api/docs/guides/spot-errors).
REFUSALS = (
    ({"error": ["EOrder:Insufficient funds"], "result": {}}, "INSUFFICIENT_MARGIN", "transient",
     "EOrder:Insufficient funds", "EOrder:Insufficient funds"),
    ({"error": ["EGeneral:Invalid arguments:volume"], "result": {}}, "INVALID_ORDER", "permanent",
     "EGeneral:Invalid arguments", "EGeneral:Invalid arguments:volume"),
)


# Its stream face's private subscriptions (see binance/contract.py).
STREAM_TOPICS = {"executions", "balances"}

# No STREAM_BENCH: the futures runs of the streamed reaction and rogue benches (bench/stream.py,
# bench/rogue.py) measure a futures book (a mark crossing a threshold closes positions), which a
# spot account does not hold; their spot runs (--market spot) hold its base assets and read the
# terms below. Its stream is proven by tests/integration/stream/test_kraken_spot.py.

# The streamed reaction bench's terms of its spot account (bench/stream.py --market spot,
# bench/stream_spot.py): what the real venue's ticker adds to the reaction (the simulator pushes a
# set price at once).
SPOT_STREAM_BENCH = {"cadence": "nothing of a cadence: Kraken pushes a pair's ticker at each trade (v2's "
                                "event_trigger, trades by default)"}
