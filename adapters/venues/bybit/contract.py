"""Bybit's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields: see
adapters/venues/binance/contract.py). Its countdown (DCP) needs the adapter's option
``bybit_dcp_websocket``. Plain data."""

ROWS = (
    {"id": "bybit", "market_id": "BTCUSDT", "one_way_close": {"clientOrderId": "ks1", "reduceOnly": True},
     "hedge_close": {"clientOrderId": "ks1", "positionIdx": 1, "reduceOnly": True},
     "lookup": ("fetch_open_orders", {"orderLinkId": "ks1"}), "short_leg_info": {"positionIdx": 2},
     "max_client_id_length": 36,
     "countdown": ("privatePostV5OrderDisconnectedCancelAll", {"product": "DERIVATIVES", "timeWindow": 60}),
     "options": (("bybit_dcp_websocket", True),), "order_rate": 10.0},
)


# Where its face differs (test_adapter_contract.py: Terms): order/create answers ids only; a
# trailing stop shows its trigger now; its DCP needs a private websocket the adapter does not keep.
FACE_TERMS = {
    "reads_back": True, "cancel_all_after": False,
    "stops": (("trail", ("trailing", "market", "sell", 2_970.0, None, True, 5.0)),),
}


# Its master endpoints' switch (see binance/contract.py): permissions not sent, ips as the key has.
SWITCH_TERMS = {
    "sub_account": "53888001", "path": "/v5/user/update-sub-api",
    "revoke_sent": {"apikey": "{key}", "readOnly": 1, "ips": "*"},
    "refused_order": "10005", "not_master": ("10005", "Permission denied, please check your API key permissions."),
}
