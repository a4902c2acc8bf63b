"""Hyperliquid's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields:
see adapters/venues/binance/contract.py).

One-way only (no hedge close); the engine's id travels as a cloid (``0x00`` and its 30 hex
digits: :data:`CID`, the planner's id of a decision, as :data:`CLOID`); no market order: the
close is a limit IOC at ``close_price``; ``scheduleCancel`` is armed for now + the milliseconds;
the create answer carries no client id. Plain data.
"""

CID = "ks0a051cc19d378a4bae94fc46b1824a"  # client_order_id("decision-1", "hyperliquid/main/BTC/USDT:USDT/long#1")
CLOID = "0x00" + CID[2:]

ROWS = (
    {"id": "hyperliquid", "market_id": "BTC",
     "one_way_close": {"clientOrderId": CLOID, "reduceOnly": True, "timeInForce": "IOC"}, "hedge_close": None,
     "lookup": ("fetch_order", {"clientOrderId": CLOID}),
     "short_leg_info": {"position": {"coin": "BTC", "szi": "-1.0"}, "type": "oneWay"},
     "max_client_id_length": 32, "countdown": ("cancel_all_orders_after", 60000),
     "cid": CID, "close_price": 59_000.0, "create_answer_has_id": False, "order_rate": 5.0},
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
