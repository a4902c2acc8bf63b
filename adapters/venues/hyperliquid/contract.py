"""Hyperliquid's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields:
see adapters/venues/binance/contract.py).

One-way only (no hedge close); the engine's id travels as a cloid (``0x00`` and its 30 hex
digits: :data:`CID`, the planner's id of a decision, as :data:`CLOID`); no market order: the
close is a limit IOC at ``close_price``; ``scheduleCancel`` is armed for now + the milliseconds;
the create answer carries no client id. Data, and its cancel answers' builders.
"""

from .dialect import LIMITS

CID = "ks0a051cc19d378a4bae94fc46b1824a"  # client_order_id("decision-1", "hyperliquid/main/BTC/USDT:USDT/long#1")
CLOID = "0x00" + CID[2:]

ROWS = (
    {"id": "hyperliquid", "market_id": "BTC",
     "one_way_close": {"clientOrderId": CLOID, "reduceOnly": True, "timeInForce": "IOC"}, "hedge_close": None,
     "lookup": ("fetch_order", {"clientOrderId": CLOID}),
     "short_leg_info": {"position": {"coin": "BTC", "szi": "-1.0"}, "type": "oneWay"},
     "max_client_id_length": 32, "countdown": ("cancel_all_orders_after", 60000),
     "cid": CID, "close_price": 59_000.0, "create_answer_has_id": False, "limits": LIMITS},
)


# Where its face differs from the contract's plain case (test_adapter_contract.py: Terms): USDC
# perpetuals; engine-form client ids (a conditional order's listed as its cloid); balance and
# positions one read; no market order, hedge mode, trailing stop, minimum size or position margin;
# a trigger order rests with its limitPx (ccxt's price); a close-position TP is a position TP/SL.
FACE_TERMS = {
    "quote": "USDC", "engine_client_ids": True, "cloid_prefix": "0x00", "reads": (("positions", "account"),),
    "close_limits": (58_800.0, 61_200.0), "maintenance_margin": False, "min_amount": 0.0, "hedge": False,
    "one_way_leg": None, "no_stops": ("trail",),
    "stops": (("entry-stop", ("conditional", "market", "buy", 3_500.0, 3_500.0, False, 1.0)),
              ("sl", ("conditional", "market", "sell", 2_500.0, 2_500.0, True, 10.0)),
              ("close-tp", ("tpsl", "take profit market", "sell", 4_000.0, 4_000.0, True, 0.0))),
}


# Its answers to a cancel (tests/unit/adapters/ccxt/test_cancel_property.py; the fields: see
# binance/contract.py): a cancel action's statuses, one per oid in the order sent, "success" or
# {"error": text} (its first sentence the code), the documented shape of test_cancel_answers.py;
# as the raw body (ccxt raised: cancel_batch hands the body on) or ccxt's list of parsed orders.
EVERY_KIND = ("regular", "conditional", "tpsl", "oco", "trailing")


def _one(f) -> tuple:
    [o] = f.sent
    return {"id": None, "info": "success"}, {o.id}


def _batch(f) -> tuple:
    statuses: list = []
    for o in f.sent:
        if o.id in f.refused:
            r = f.refused[o.id]
            statuses.append({"error": f"{r.code}.{r.words}"})
        elif o.id in f.done:
            statuses.append("success")
        # an unnamed order: no status for it, the statuses fewer than the oids sent
    body = {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}
    answer = body if f.flip() else [{"id": None, "info": s} for s in statuses]
    return answer, set(f.done), bool(f.unnamed)


CANCEL_ANSWERS = (
    {"how": "one", "endpoint": "POST /exchange cancel (one oid)", "build": _one, "kinds": EVERY_KIND},
    {"how": "batch", "endpoint": "POST /exchange cancel", "build": _batch, "kinds": EVERY_KIND, "most": 40,
     "fates": ("done", "refused", "unnamed"), "novel": r"[A-Z][a-z]{2,9}( [a-z$0-9]{1,8}){0,4}"},
)
CANCEL_NOT_SENT = {"symbol": "no cancel-all"}


# Its documented refusals of an order (the fields: see binance/contract.py):
# Hyperliquid's action statuses ({"error": ...}, no code: the first sentence is the code).


def _status(error: str) -> dict:
    return {"status": "ok", "response": {"type": "order", "data": {"statuses": [{"error": error}]}}}


REFUSALS = (
    (_status("Reduce only order would increase position. asset=0"), "REDUCE_ONLY_REJECTED", "permanent",
     "Reduce only order would increase position", "Reduce only order would increase position. asset=0"),
    (_status("Insufficient margin to place order. asset=4"), "INSUFFICIENT_MARGIN", "transient",
     "Insufficient margin to place order", "Insufficient margin to place order. asset=4"),
    (_status("Order could not immediately match against any resting orders. asset=0"), "INVALID_ORDER", "transient",
     "Order could not immediately match against any resting orders",
     "Order could not immediately match against any resting orders. asset=0"),
)

# The streamed reaction bench's terms of it (see binance/contract.py).
# Its stream is the clearinghouseState channel (a set mark revalues the held position, and the face
# pushes the account's state at the end of its next 50 ms block); the face's cadence push of the
# whole book (10,000 rows) once a minute, not a second: the venue lists ~200 coins, not 10,000.
STREAM_BENCH = {"name": "simulated Hyperliquid", "crossed": '"markPx":"80',
                "cadence": "its block cadence, which its documentation does not say (the simulator pushes the "
                           "account's state at the end of its next 50 ms block)",
                "options": {"state_every_ms": 60_000}}
