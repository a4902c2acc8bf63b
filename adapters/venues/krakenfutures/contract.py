"""Kraken Futures' row of the adapter contract (tests/contract/test_adapter_contract.py; the
fields: see adapters/venues/binance/contract.py).

One-way only (the venue keeps one net position a contract); the close's client id in
``cliOrdId``, looked up through ``orders/status`` by ``cliOrdIds``; an order's answer is the
venue's ``sendStatus`` (placed); the positions are valued with the marks of the public
``tickers``, read raw; the dead man's switch ``cancelallordersafter``, its answer's
``status.triggerTime`` read back. Plain data.
"""

# the documented answers (fixtures/documented.json): a placed order, the switch armed
PLACED = {"order_id": "1", "status": "placed", "receivedTime": "2022-02-28T19:32:17.122Z", "orderEvents": []}
ARMED = {"result": "success", "status": {"currentTime": "2018-06-19T16:51:23.839Z",
                                         "triggerTime": "2018-06-19T16:52:23.839Z"},
         "serverTime": "2018-06-19T16:51:23.839Z"}
TICKERS = {"result": "success", "tickers": [{"symbol": "PF_XBTUSD", "markPrice": 60000.0, "tag": "perpetual"}],
           "serverTime": "2022-06-17T11:00:31.335Z"}

# a row of openpositions (the recorded one's fields) holding a short
SHORT_ROW = {"side": "short", "symbol": "PF_XBTUSD", "price": "60000", "fillTime": "2024-02-06T22:24:34.849Z",
             "size": "1.0", "unrealizedFunding": "0"}

ROWS = (
    {"id": "krakenfutures", "market_id": "PF_XBTUSD", "one_way_close": {"cliOrdId": "ks1", "reduceOnly": True},
     "hedge_close": None, "lookup": ("fetch_orders", {"cliOrdIds": "ks1"}), "short_leg_info": SHORT_ROW,
     "max_client_id_length": 100, "countdown": ("privatePostCancelallordersafter", {"timeout": 60}),
     "order_rate": 4.0, "order_info": PLACED,
     "raw_answers": {"publicGetTickers": TICKERS, "privatePostCancelallordersafter": ARMED}},
)


# Where its face differs (test_adapter_contract.py: Terms): USD multi-collateral perpetuals; no
# hedge mode, close-position trigger or position maintenance margin (openpositions says none);
# no minimum size in ccxt's market (instruments give the size's precision alone).
FACE_TERMS = {
    "quote": "USD", "maintenance_margin": False, "min_amount": 0.0, "hedge": False, "no_stops": ("close-tp",),
}
