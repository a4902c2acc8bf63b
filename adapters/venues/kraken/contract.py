"""Kraken spot's row of the adapter contract (tests/contract/test_dialect_rows.py; the fields: see
adapters/venues/binance/contract.py).

The row drives the generic contract client, whose account is a futures one: a close carries the
client id in ccxt's ``clientOrderId`` (Kraken's ``cl_ord_id``; "ks1" is a free text the venue
takes as it is) and ccxt's ``reduceOnly``; an order is looked up by its ``cl_ord_id`` in
``OpenOrders`` first, then ``ClosedOrders`` (its answer: ``raw_answers``); the countdown is
``CancelAllOrdersAfter`` in whole seconds. Plain data.
"""

CLOSED = {"id": "OGMZCL-KC6MC-ZRBGM6", "clientOrderId": "ks1", "symbol": "BTC/USDT:USDT", "side": "sell",
          "type": "market", "amount": 0.5, "filled": 0.5, "status": "closed", "average": 60_000.0,
          "info": {"cl_ord_id": "ks1", "status": "closed"}}

# a row of OpenPositions (ccxt's recorded fetchPositions): a margin position, one net per pair
SHORT_MARGIN_ROW = {"pair": "ADAUSDT", "positions": "1", "type": "sell", "vol": "10.00000000",
                    "vol_closed": "0.00000000"}

ROWS = (
    {"id": "kraken", "market_id": "XBTUSDT", "one_way_close": {"clientOrderId": "ks1", "reduceOnly": True},
     "hedge_close": None, "lookup": ("fetch_open_orders", {"clientOrderId": "ks1"}), "short_leg_info": SHORT_MARGIN_ROW,
     "max_client_id_length": 32,
     "countdown": ("privatePostCancelAllOrdersAfter", {"timeout": 60}),
     "raw_answers": {
         "privatePostCancelAllOrdersAfter": {"error": [], "result": {"currentTime": "2023-03-24T17:41:56Z",
                                                                     "triggerTime": "2023-03-24T17:42:56Z"}},
         "fetch_closed_orders": [CLOSED]},
     "order_rate": 2.0},
)


# Where its face differs (test_adapter_contract.py: Terms): everywhere the contract asks of a futures
# account. Kraken spot holds no position to reduce, no reduce-only flag, no hedge leg; its resting
# and conditional orders (the engine's spot desk) and their cancels are proven apart
# (tests/integration/test_simulated_kraken.py), and so is its demo (tests/cli/test_demo.py).
FACE_TERMS = {"spot_only": "a spot venue: no position, reduce-only close or hedge leg; its face (resting and "
                           "conditional spot orders, their cancels) is proven by "
                           "tests/integration/test_simulated_kraken.py"}
