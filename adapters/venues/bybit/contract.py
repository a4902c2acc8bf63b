"""Bybit's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields: see
adapters/venues/binance/contract.py). Its countdown (DCP) needs the adapter's option
``bybit_dcp_websocket``. Data, and its cancel answers' builders."""

from .dialect import LIMITS
from .face.master import BybitMaster

ROWS = (
    {"id": "bybit", "market_id": "BTCUSDT", "one_way_close": {"clientOrderId": "ks1", "reduceOnly": True},
     "hedge_close": {"clientOrderId": "ks1", "positionIdx": 1, "reduceOnly": True},
     "lookup": ("fetch_open_orders", {"orderLinkId": "ks1"}), "short_leg_info": {"positionIdx": 2},
     "max_client_id_length": 36,
     "countdown": ("privatePostV5OrderDisconnectedCancelAll", {"product": "DERIVATIVES", "timeWindow": 60}),
     "options": (("bybit_dcp_websocket", True),), "limits": LIMITS},
)


# Where its face differs (test_adapter_contract.py: Terms): order/create answers ids only; a
# trailing stop shows its trigger now; its DCP needs a private websocket the adapter does not keep.
FACE_TERMS = {
    "reads_back": True, "cancel_all_after": False,
    "stops": (("trail", ("trailing", "market", "sell", 2_970.0, None, True, 5.0)),),
}


# Its master endpoints' switch (see binance/contract.py): permissions not sent, ips as the key has.
SWITCH_TERMS = {
    "sub_account": BybitMaster.SUB_ACCOUNT, "path": "/v5/user/update-sub-api",
    "revoke_sent": {"apikey": "{key}", "readOnly": 1, "ips": "*"},
    "refused_order": "10005", "not_master": ("10005", "Permission denied, please check your API key permissions."),
}


# Its answers to a cancel (tests/unit/adapters/ccxt/test_cancel_property.py; the fields: see
# binance/contract.py): /v5/order/cancel's result {orderId, orderLinkId} (ccxt's parse, the result
# in info); /v5/order/cancel-all's result.list (linear) or result.success "1" (spot): the
# documented bodies of test_cancel_answers.py, through ccxt's bybit as its cancel_all_orders hands
# them on.
EVERY_KIND = ("regular", "conditional", "tpsl", "oco", "trailing")
SPOT_ALL = {"retCode": 0, "retMsg": "OK", "result": {"success": "1"}, "retExtInfo": {}, "time": 1676962409398}


def _one(f) -> tuple:
    [o] = f.sent
    named = o.id if f.done else f.strangers[0]  # an answer naming another order leaves ours unnamed
    return f.ccxt("bybit").parse_order({"orderId": named, "orderLinkId": f.client(named)}), {named}


def _all(f) -> tuple:
    named = f.done + f.strangers
    rows = f.shuffled([{"orderId": i, "orderLinkId": f.client(i)} for i in named])
    return f.ccxt("bybit").parse_orders(rows), set(named)  # cancel-all's result.list, as ccxt hands it on


def _spot_all(f) -> tuple:
    return [f.ccxt("bybit").safe_order({"info": SPOT_ALL})], set()


CANCEL_ANSWERS = (
    {"how": "one", "endpoint": "POST /v5/order/cancel", "build": _one, "kinds": EVERY_KIND,
     "fates": ("done", "unnamed"), "strangers": True},
    {"how": "symbol", "endpoint": "POST /v5/order/cancel-all result.list", "build": _all, "kinds": EVERY_KIND,
     "most": 20, "fates": ("done", "unnamed"), "strangers": True},
    {"how": "symbol", "endpoint": "POST /v5/order/cancel-all result.success (spot)", "build": _spot_all, "most": 20,
     "fates": ("unnamed",), "whole": True},
)
CANCEL_NOT_SENT = {"batch": "no batch"}


# Its documented refusals of an order (the fields: see binance/contract.py):
# Bybit v5's retCode / retMsg.


def _refused(code: int, words: str) -> dict:
    return {"retCode": code, "retMsg": words, "result": {}, "retExtInfo": {}, "time": 1}


REFUSALS = (
    (_refused(110017, "Reduce-only rule not satisfied"), "REDUCE_ONLY_REJECTED", "permanent", "110017",
     "Reduce-only rule not satisfied"),
    (_refused(10001, "position idx not match position mode"), "POSITION_MODE_MISMATCH", "mode", "10001",
     "position idx not match position mode"),
    (_refused(10001, "params error: qty invalid"), "INVALID_ORDER", "permanent", "10001", "params error: qty invalid"),
    (_refused(110007, "ab not enough for new order"), "INSUFFICIENT_MARGIN", "transient", "110007",
     "ab not enough for new order"),
)


# Its stream face's private subscriptions (see binance/contract.py).
STREAM_TOPICS = {"position", "wallet", "order"}

# The streamed reaction bench's terms of it (see binance/contract.py).
STREAM_BENCH = {"name": "simulated Bybit v5", "crossed": '"markPrice":"80',
                "cadence": "up to 100 ms more to both (the tickers' cadence)"}

# How its adapter reads a hedge-mode account's mode (see binance/contract.py).
POSITION_MODE_READ = {"source": "GET /v5/position/list positionIdx", "leg_field": "positionIdx"}

# How a bot places, and cancels, a reduce-only stop-market sell on its face (see binance/contract.py).
BOT_STOP = {"type": "market", "params": {"triggerDirection": "descending"}, "cancel": {}}  # a conditional order
