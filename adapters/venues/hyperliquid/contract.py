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
