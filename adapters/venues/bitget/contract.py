"""Bitget's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields: see
adapters/venues/binance/contract.py).

Hedge mode: ccxt turns the sell round (Bitget closes the long leg with side buy, tradeSide close)
when told ``hedged`` and ``reduceOnly``; no countdown on the classic account. Plain data.
"""

ROWS = (
    {"id": "bitget", "market_id": "BTCUSDT", "one_way_close": {"clientOid": "ks1", "reduceOnly": True},
     "hedge_close": {"clientOid": "ks1", "hedged": True, "reduceOnly": True},
     "lookup": ("fetch_order", {"clientOid": "ks1"}), "short_leg_info": {"holdSide": "short", "posMode": "hedge_mode"},
     "max_client_id_length": 36, "countdown": None, "order_rate": 8.0},
)
