"""Bitget's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields: see
adapters/venues/binance/contract.py).

Hedge mode: ccxt turns the sell round (Bitget closes the long leg with side buy, tradeSide close)
when told ``hedged`` and ``reduceOnly``; no countdown on the classic account. Data, and its cancel answers' builders.
"""

from .dialect import LIMITS

ROWS = (
    {"id": "bitget", "market_id": "BTCUSDT", "one_way_close": {"clientOid": "ks1", "reduceOnly": True},
     "hedge_close": {"clientOid": "ks1", "hedged": True, "reduceOnly": True},
     "lookup": ("fetch_order", {"clientOid": "ks1"}), "short_leg_info": {"holdSide": "short", "posMode": "hedge_mode"},
     "max_client_id_length": 36, "countdown": None, "limits": LIMITS},
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


# Its answers to a cancel (tests/unit/adapters/ccxt/test_cancel_property.py; the fields: see
# binance/contract.py): the recorded cancel-order answer (cancelOrder.linearByClientOid:
# data.orderId and clientOid) and cancel-plan-order's (cancelOrder.trailingByClientOid:
# successList, failureList; a failureList row is the documented orderId, clientOid, errorMsg,
# errorCode), read raw; spot's one cancel through ccxt (its parsed order, the data in info);
# batch-cancel-orders and a symbol's cancel-plan-order through ccxt's cancel_all_orders (its parse
# of successList then failureList); spot's cancel-symbol-order naming only the symbol.
EVERY_KIND = ("regular", "conditional", "tpsl", "oco", "trailing")
EVERY_FATE = ("done", "refused", "unnamed")
NUMERIC = r"[1-9][0-9]{2,4}"


def _envelope(data) -> dict:
    return {"code": "00000", "msg": "success", "requestTime": "1754866672623", "data": data}


def _one(spot: bool):
    def build(f) -> tuple:
        [o] = f.sent
        named = o.id if f.done else f.strangers[0]
        data = {"orderId": named, "clientOid": f.client(named)}
        return (f.parsed(named, data) if spot else _envelope(data)), {named}
    return build


def _rows(f) -> tuple:
    def row(oid: str) -> dict:
        by_client = oid in f.by_client
        return {"orderId": "" if by_client else oid, "clientOid": f.client(oid)}

    success = f.shuffled([row(i) for i in f.done + f.strangers])
    failure = f.shuffled([{**row(i), "errorMsg": r.words, "errorCode": r.code} for i, r in f.refused.items()])
    return success, failure


def _plan_one(f) -> tuple:
    success, failure = _rows(f)
    return _envelope({"successList": success, "failureList": failure}), set(f.done + f.strangers)


def _all(f) -> tuple:
    success, failure = _rows(f)
    # a row naming its order by clientOid alone: ccxt's parse keeps no list of it, BAD_RESPONSE
    bad = bool(f.by_client & {*f.done, *f.refused})
    return f.ccxt("bitget").parse_orders(success + failure), set(f.done + f.strangers), bad


def _spot_all(f) -> tuple:
    return [f.ccxt("bitget").safe_order({"info": _envelope({"symbol": "BTCUSDT"}), "symbol": "BTC/USDT"})], set()


CANCEL_ANSWERS = (
    {"how": "one", "endpoint": "POST /api/v2/mix/order/cancel-order", "build": _one(spot=False),
     "fates": ("done", "unnamed"), "strangers": True},
    {"how": "one", "endpoint": "spot cancel_order (ccxt)", "build": _one(spot=True), "fates": ("done", "unnamed"),
     "strangers": True},
    {"how": "one", "endpoint": "POST /api/v2/mix/order/cancel-plan-order", "build": _plan_one,
     "kinds": EVERY_KIND[1:], "fates": EVERY_FATE, "strangers": True, "novel": NUMERIC},
    {"how": "symbol", "endpoint": "POST /api/v2/mix/order/batch-cancel-orders, cancel-plan-order (ccxt)",
     "build": _all, "kinds": EVERY_KIND, "most": 20, "fates": EVERY_FATE, "strangers": True, "novel": NUMERIC},
    {"how": "symbol", "endpoint": "POST /api/v2/spot/trade/cancel-symbol-order", "build": _spot_all, "most": 20,
     "fates": ("unnamed",), "whole": True},
)
CANCEL_NOT_SENT = {"batch": "no batch"}


# Its documented refusals of an order (tests/unit/adapters/ccxt/test_venue_refusals.py; the fields:
# see binance/contract.py): Bitget v2's {"code", "msg", "requestTime", "data": null}, every code of its
# table (dialect.py: REFUSALS) but those ccxt raises as a network error (the test's BITGET_NETWORK).
# The bodies ccxt's bitget quotes in its exceptions map are verbatim — 40774, 40762, 43012, 45110,
# 40808, 41103, 40917, 45122 — the others carry the text Bitget's error code pages give the code.


def _body(code: str, words: str) -> dict:
    return {"code": code, "msg": words, "requestTime": 1758709764409, "data": None}


REFUSALS = tuple((body, reason, kind, body["code"], body["msg"]) for body, reason, kind in (
    (_body("40774", "The order type for unilateral position must also be the unilateral position type."),
     "POSITION_MODE_MISMATCH", "mode"),
    (_body("40017", "Parameter verification failed, the position direction cannot be empty"),
     "POSITION_MODE_MISMATCH", "mode"),
    (_body("40017", "Parameter verification failed,Number of ordersRange error"), "INVALID_ORDER", "permanent"),
    (_body("40757", "Not enough position is available."), "REDUCE_ONLY_REJECTED", "permanent"),
    (_body("45006", "Insufficient position"), "REDUCE_ONLY_REJECTED", "permanent"),
    (_body("22002", "No position to close"), "REDUCE_ONLY_REJECTED", "permanent"),
    (_body("40891", "Insufficient position, can not set profit or stop loss"), "REDUCE_ONLY_REJECTED", "permanent"),
    (_body("40762", "The order amount exceeds the balance"), "INSUFFICIENT_MARGIN", "transient"),
    (_body("43012", "Insufficient balance"), "INSUFFICIENT_MARGIN", "transient"),
    (_body("40754", "balance not enough"), "INSUFFICIENT_MARGIN", "transient"),
    (_body("45110", "less than the minimum amount 5 USDT"), "INVALID_ORDER", "permanent"),
    (_body("43006", "The order amount is less than the minimum transaction volume"), "INVALID_ORDER", "permanent"),
    (_body("40808", "Parameter verification exception size checkBDScale error value=2293.577 checkScale=2"),
     "INVALID_ORDER", "permanent"),
    (_body("41103", "param price scale error error"), "INVALID_ORDER", "permanent"),
    (_body("40786", "Duplicate clientOid"), "INVALID_ORDER", "permanent"),
    (_body("40917", "Stop price for long positions please < mark price 106.86"), "INVALID_ORDER", "transient"),
    (_body("45122", "Short position stop loss price please > mark price 106.86"), "INVALID_ORDER", "transient"),
    (_body("40034", "Parameter symbol does not exist"), "UNKNOWN_SYMBOL", "permanent"),
    (_body("40309", "The contract has been removed"), "UNKNOWN_SYMBOL", "permanent"),
    (_body("40015", "System is abnormal, please try again later"), "EXCHANGE_UNAVAILABLE", "transient"),
    (_body("40999", "A refusal no table lists."), "VENUE_REFUSED", "permanent"),
))


# Its stream face's private subscriptions (see binance/contract.py).
STREAM_TOPICS = {"positions", "account", "orders"}

# The streamed reaction bench's terms of it (see binance/contract.py).
STREAM_BENCH = {"name": "simulated Bitget v2", "crossed": '"markPrice":"80',
                "cadence": "what its ticker's cadence adds, which Bitget does not document (the simulator pushes "
                           "a set mark at once, then every 300 ms while it moves)"}

# How its adapter reads a hedge-mode account's mode (see binance/contract.py).
POSITION_MODE_READ = {"source": "GET /api/v2/mix/account/account posMode=hedge_mode", "leg_field": "hedged"}

# How a bot places, and cancels, a reduce-only stop-market sell on its face (see binance/contract.py).
BOT_STOP = {"engine": True}  # a normal_plan that closes, placed in the venue's book
