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


# Where its face differs (test_adapter_contract.py: Terms): an order's answer carries no fill; no
# countdown or position margin; plan orders typed by planType (a closing trailing stop a
# moving_plan, a hedge-mode one a track_plan; a close-position TP a pos_profit, a position TP/SL).
FACE_TERMS = {
    "reads_back": True, "cancel_all_after": False, "maintenance_margin": False,
    "stops": (("entry-stop", ("conditional", "normal_plan", "buy", 3_500.0, None, False, 1.0)),
              ("entry-stop-limit", ("conditional", "normal_plan", "sell", 2_400.0, 2_390.0, False, 1.0)),
              ("sl", ("conditional", "normal_plan", "sell", 2_500.0, None, True, 10.0)),
              ("close-tp", ("tpsl", "pos_profit", "sell", 4_000.0, None, True, 0.0)),
              ("trail", ("trailing", "moving_plan", "sell", 3_000.0, None, True, 5.0))),
    "hedge_stops": (("trail", ("trailing", "track_plan", "sell", 3_000.0, None, True, 5.0)),),
}
