"""OKX's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields: see
adapters/venues/binance/contract.py). Plain data."""

ROWS = (
    {"id": "okx", "market_id": "BTC-USDT-SWAP", "one_way_close": {"clientOrderId": "ks1", "reduceOnly": True},
     "hedge_close": {"clientOrderId": "ks1", "posSide": "long"},
     "lookup": ("fetch_order", {"clOrdId": "ks1"}), "short_leg_info": {"posSide": "short"},
     "max_client_id_length": 32, "countdown": ("privatePostTradeCancelAllAfter", {"timeOut": "60"}),
     "order_rate": 20.0},
)


# Where its face differs (test_adapter_contract.py: Terms): an order's answer carries no fill;
# conditional orders are TP/SL and trailing algo orders (ccxt's type their ordType; a closing TP/SL
# a position TP/SL; a trailing stop's trigger the one reached; a TP/SL's limit price not read).
FACE_TERMS = {
    "reads_back": True,
    "stops": (("entry-stop", ("conditional", "conditional", "buy", 3_500.0, None, False, 1.0)),
              ("entry-stop-limit", ("conditional", "conditional", "sell", 2_400.0, None, False, 1.0)),
              ("sl", ("tpsl", "conditional", "sell", 2_500.0, None, True, 10.0)),
              ("close-tp", ("tpsl", "conditional", "sell", 4_000.0, None, True, 0.0)),
              ("trail", ("trailing", "move_order_stop", "sell", 2_970.0, None, True, 5.0))),
}


# Its master endpoints' switch (see binance/contract.py): ip and label not sent (kept).
SWITCH_TERMS = {
    "sub_account": "sub-main", "path": "/api/v5/users/subaccount/modify-apikey",
    "revoke_sent": {"subAcct": "sub-main", "apiKey": "{key}", "perm": "read_only"},
    "refused_order": "50120",
    "not_master": ("59500", "Only the APIKey of the main account has permission for this operation."),
}
