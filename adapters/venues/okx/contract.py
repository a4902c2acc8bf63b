"""OKX's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields: see
adapters/venues/binance/contract.py). Data, and its cancel answers' builders."""

from .dialect import LIMITS
from .face.master import OkxMaster

ROWS = (
    {"id": "okx", "market_id": "BTC-USDT-SWAP", "one_way_close": {"clientOrderId": "ks1", "reduceOnly": True},
     "hedge_close": {"clientOrderId": "ks1", "posSide": "long"},
     "lookup": ("fetch_order", {"clOrdId": "ks1"}), "short_leg_info": {"posSide": "short"},
     "max_client_id_length": 32, "countdown": ("privatePostTradeCancelAllAfter", {"timeOut": "60"}),
     "limits": LIMITS},
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
    "sub_account": OkxMaster.SUB_ACCOUNT, "path": "/api/v5/users/subaccount/modify-apikey",
    "revoke_sent": {"subAcct": "sub-main", "apiKey": "{key}", "perm": "read_only"},
    "refused_order": "50120",
    "not_master": ("59500", "Only the APIKey of the main account has permission for this operation."),
}


# Its answers to a cancel (tests/unit/adapters/ccxt/test_cancel_property.py; the fields: see
# binance/contract.py): cancel-order's row (ccxt raises on a refusal); cancel-batch-orders and
# cancel-algos: a row per order, sCode "0" done, any other refused with its sMsg, the envelope's
# code "2" when some were refused (the documented shape of test_cancel_answers.py and
# test_okx_algo_orders.py).
EVERY_KIND = ("regular", "conditional", "tpsl", "oco", "trailing")
NUMERIC = r"[1-9][0-9]{2,4}"


def _one(f) -> tuple:
    [o] = f.sent
    return f.parsed(o.id, {"clOrdId": "", "ordId": o.id, "sCode": "0", "sMsg": ""}), {o.id}


def _batch(id_field: str):
    def build(f) -> tuple:
        def row(oid: str, code: str, words: str) -> dict:
            return {"clOrdId": "", "ordId": "", "algoId": "", id_field: oid, "sCode": code, "sMsg": words}

        rows = [row(i, "0", "") for i in f.done + f.strangers]
        rows += [row(i, r.code, r.words) for i, r in f.refused.items()]
        code = "2" if f.refused and f.done else ("1" if f.refused else "0")
        return {"code": code, "msg": "", "data": f.shuffled(rows)}, set(f.done + f.strangers)
    return build


CANCEL_ANSWERS = (
    {"how": "one", "endpoint": "POST /api/v5/trade/cancel-order", "build": _one, "kinds": EVERY_KIND},
    {"how": "batch", "endpoint": "POST /api/v5/trade/cancel-batch-orders", "build": _batch("ordId"), "most": 20,
     "fates": ("done", "refused", "unnamed"), "strangers": True, "novel": NUMERIC},
    {"how": "batch", "endpoint": "POST /api/v5/trade/cancel-algos", "build": _batch("algoId"),
     "kinds": EVERY_KIND[1:], "most": 10, "fates": ("done", "refused", "unnamed"), "strangers": True,
     "novel": NUMERIC},
)
CANCEL_NOT_SENT = {"symbol": "no cancel-all"}


# Its documented refusals of an order (the fields: see binance/contract.py):
# OKX v5's: an order's own sCode / sMsg under code "1".


def _order_failed(code: str, words: str) -> tuple:
    body = {"code": "1", "data": [{"clOrdId": "ks1", "ordId": "", "sCode": code, "sMsg": words, "tag": "", "ts": "1"}],
            "inTime": "1", "msg": "All operations failed", "outTime": "1"}
    return body, code, words


REFUSALS = tuple((body, reason, kind, code, words) for (body, code, words), reason, kind in (
    (_order_failed("51169", "Order failed because you don't have any positions in this direction for this "
                            "contract to reduce or close."), "REDUCE_ONLY_REJECTED", "permanent"),
    (_order_failed("51170", "Failed to place order. A reduce-only order can't be the same direction as your "
                            "existing positions."), "REDUCE_ONLY_REJECTED", "permanent"),
    (_order_failed("51000", "Parameter posSide error"), "POSITION_MODE_MISMATCH", "mode"),
    (_order_failed("51000", "Parameter sz error"), "INVALID_ORDER", "permanent"),
    (_order_failed("51008", "Order failed. Insufficient USDT margin in account"), "INSUFFICIENT_MARGIN", "transient"),
))


# Its stream face's private subscriptions (see binance/contract.py).
STREAM_TOPICS = {"positions", "account", "orders"}

# The streamed reaction bench's terms of it (see binance/contract.py).
STREAM_BENCH = {"name": "simulated OKX v5", "crossed": '"markPx":"80',
                "cadence": "up to 200 ms more to both (mark-price's cadence while the mark moves)"}

# How its adapter reads a hedge-mode account's mode (see binance/contract.py).
POSITION_MODE_READ = {"source": "GET /api/v5/account/config posMode=long_short_mode", "leg_field": "posSide"}

# How a bot places, and cancels, a reduce-only stop-market sell on its face (see binance/contract.py).
BOT_STOP = {"type": "market", "params": {}, "cancel": {"trigger": True}}  # a trigger order of its algo service
