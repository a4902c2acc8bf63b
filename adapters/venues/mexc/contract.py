"""MEXC's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields: see
adapters/venues/binance/contract.py).

A one-way close is ccxt's reduce-only sell (ccxt writes it side 4, close long); a hedge-mode close
names the leg's close code itself (side 4 closes the long leg) with positionMode 1 and no
reduceOnly; an order is looked up by its externalOid on order/external/{symbol}/{external_oid}
(its answer: the venue's row, in ``raw_answers`` beside the stop list's); no countdown. Plain data.
"""

ROWS = (
    {"id": "mexc", "market_id": "BTC_USDT", "one_way_close": {"externalOid": "ks1", "reduceOnly": True},
     "hedge_close": {"externalOid": "ks1", "side": 4, "positionMode": 1},
     "lookup": ("contractPrivateGetOrderExternalSymbolExternalOid", {"symbol": "BTC_USDT", "external_oid": "ks1"}),
     "raw_answers": {"contractPrivateGetStoporderListOrders": {"success": True, "code": 0, "data": []},
                     "contractPrivateGetOrderExternalSymbolExternalOid": {"success": True, "code": 0, "data": {
         "orderId": "264995729269765120", "symbol": "BTC_USDT", "positionId": "0", "price": "0", "vol": "0.5",
         "leverage": "20", "side": "4", "category": "1", "orderType": "5", "dealAvgPrice": "60000",
         "dealVol": "0.5", "orderMargin": "0", "takerFee": "0", "makerFee": "0", "profit": "0",
         "feeCurrency": "USDT", "openType": "2", "state": "3", "externalOid": "ks1", "errorCode": "0",
         "usedMargin": "0", "createTime": "1648850305236", "updateTime": "1648850305245", "positionMode": "2"}}},
     "short_leg_info": {"positionType": 2, "holdVol": "1.0"},
     "max_client_id_length": 32, "countdown": None, "order_rate": 8.0},
)




# Where its face differs (test_adapter_contract.py: Terms): an order's answer carries its id alone
# (read back by externalOid); no countdown; the position rows say no maintenance margin; a
# close-position take-profit is a Stop-Limit order of the position (tpsl, its size the
# position's: 0 here); no trailing stop (MEXC's track orders are a service the dialect does not
# read); its trigger and stop orders carry no client id (their lists have no externalOid).
FACE_TERMS = {
    "reads_back": True, "cancel_all_after": False, "maintenance_margin": False, "no_stops": ("trail",),
    "conditional_client_ids": False,
    "stops": (("close-tp", ("tpsl", "market", "sell", 4_000.0, None, True, 0.0)),),
}
