"""OKX's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields: see
adapters/venues/binance/contract.py). Plain data."""

ROWS = (
    {"id": "okx", "market_id": "BTC-USDT-SWAP", "one_way_close": {"clientOrderId": "ks1", "reduceOnly": True},
     "hedge_close": {"clientOrderId": "ks1", "posSide": "long"},
     "lookup": ("fetch_order", {"clOrdId": "ks1"}), "short_leg_info": {"posSide": "short"},
     "max_client_id_length": 32, "countdown": ("privatePostTradeCancelAllAfter", {"timeOut": "60"}),
     "order_rate": 20.0},
)
