"""MEXC's row of the adapter contract (tests/contract/test_adapter_contract.py; the fields: see
adapters/venues/binance/contract.py).

A one-way close is ccxt's reduce-only sell (ccxt writes it side 4, close long); a hedge-mode close
names the leg's close code itself (side 4 closes the long leg) with positionMode 1 and no
reduceOnly; an order is looked up by its externalOid on order/external/{symbol}/{external_oid}
(its answer: the venue's row, in ``raw_answers`` beside the stop list's); no countdown. Data, and its
cancel answers' builders.
"""

import json
from pathlib import Path

from .dialect import LIMITS

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
     "max_client_id_length": 32, "countdown": None, "limits": LIMITS},
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


# Its answers to a cancel (tests/unit/adapters/ccxt/test_cancel_property.py; the fields: see
# binance/contract.py): the documented order/cancel answer (fixtures/contract-docs.json,
# order_cancel: a row per id, errorCode 0 done, any other refused with its errorMsg), read raw or
# through ccxt's parse (the rows its info); planorder/cancel, stoporder/cancel, order/cancel_all
# and planorder/cancel_all: success true naming none (ccxt's [] for a symbol's). Spot
# (fixtures/spot-docs.json): DELETE /api/v3/order answers the order's row, done when its status is
# CANCELED (another status, or another order's row, names it neither way), a refusal {"code",
# "msg"} (-2011 among them; HTTP 200 or not); DELETE /api/v3/openOrders a row per order cancelled
# (status CANCELED), those not cancelled absent or of another status.
EVERY_FATE = ("done", "refused", "unnamed")
NUMERIC = r"[1-9][0-9]{2,4}"
DONE = {"success": True, "code": 0}


def _rows(f) -> list:
    rows = [{"orderId": int(i), "errorCode": 0, "errorMsg": "success"} for i in f.done + f.strangers]
    rows += [{"orderId": int(i), "errorCode": int(r.code), "errorMsg": r.words} for i, r in f.refused.items()]
    return f.shuffled(rows)


def _one(f) -> tuple:
    body = {**DONE, "data": _rows(f)}
    return (body if f.flip() else {"id": None, "info": body["data"]}), set(f.done + f.strangers)


def _plan_one(f) -> tuple:
    [o] = f.sent
    return f.parsed(o.id, dict(DONE)), {o.id}


def _all(f) -> tuple:
    return [], set()


def _stops(f) -> tuple:
    return dict(DONE), {o.id for o in f.sent}


def _stop_by_ccxt(how: str):
    """A Stop-Limit order's answer through ccxt's cancels, which never reach its endpoint: done never."""
    def build(f) -> tuple:
        return ([] if how == "symbol" else f.parsed(f.sent[0].id, dict(DONE))), set()
    return build


def _spot_row(oid: str, status: str) -> dict:
    cases = json.loads((Path(__file__).parent / "fixtures" / "spot-docs.json").read_text())["cases"]
    return dict(cases["order cancel"]["body"], orderId=int(oid), status=status)


def _spot_one(f) -> tuple:
    [o] = f.sent
    if o.id in f.refused:
        return {"code": int(f.refused[o.id].code), "msg": f.refused[o.id].words}, set()
    if f.done:
        return _spot_row(o.id, "CANCELED"), {o.id}
    if f.flip():  # the order's row, not cancelled (filled meanwhile)
        return _spot_row(o.id, f.pick(["FILLED", "PARTIALLY_FILLED", "NEW"])), set()
    return _spot_row(f.strangers[0], "CANCELED"), set(f.strangers[:1])


def _spot_all(f) -> tuple:
    rows = [_spot_row(i, "CANCELED") for i in f.done + f.strangers]
    rows += [_spot_row(i, "FILLED") for i in f.unnamed if f.flip()]
    return f.shuffled(rows), set(f.done + f.strangers)


CANCEL_ANSWERS = (
    {"how": "one", "endpoint": "POST /api/v1/private/order/cancel", "build": _one, "fates": EVERY_FATE,
     "strangers": True, "novel": NUMERIC},
    {"how": "one", "endpoint": "POST /api/v1/private/planorder/cancel", "build": _plan_one, "kinds": ("conditional",)},
    {"how": "symbol", "endpoint": "POST /api/v1/private/order/cancel_all, planorder/cancel_all", "build": _all,
     "kinds": ("regular", "conditional"), "most": 20, "fates": ("unnamed",), "whole": True},
    {"how": "batch", "endpoint": "POST /api/v1/private/stoporder/cancel", "build": _stops, "kinds": ("tpsl",),
     "most": 50},
    {"how": "one", "endpoint": "a Stop-Limit order by ccxt's cancel_order", "build": _stop_by_ccxt("one"),
     "kinds": ("tpsl",), "fates": ("unnamed",)},
    {"how": "symbol", "endpoint": "a Stop-Limit order by ccxt's cancel_all_orders", "build": _stop_by_ccxt("symbol"),
     "kinds": ("tpsl",), "most": 20, "fates": ("unnamed",)},
    {"how": "one", "endpoint": "DELETE /api/v3/order (spot)", "build": _spot_one, "fates": EVERY_FATE,
     "symbol": "BTC/USDT", "novel": NUMERIC, "not_novel": ("200",)},  # (200: MEXC's word for success)
    {"how": "symbol", "endpoint": "DELETE /api/v3/openOrders (spot)", "build": _spot_all, "most": 20,
     "fates": ("done", "unnamed"), "strangers": True, "symbol": "BTC/USDT"},
)
CANCEL_NOT_SENT: dict = {}


# Its documented refusals of an order (the fields: see binance/contract.py):
# MEXC's contract API (fixtures/contract-docs.json, ccxt_comments.position_not_exist; the codes of
# its table in dialect.py).
REFUSALS = (
    ({"success": False, "code": 2009, "message": "Position is not exists or closed."}, "REDUCE_ONLY_REJECTED",
     "permanent", "2009", "Position is not exists or closed."),
    ({"success": False, "code": 2005, "message": "Insufficient balance"}, "INSUFFICIENT_MARGIN", "transient", "2005",
     "Insufficient balance"),
    ({"success": False, "code": 8817, "message": "risk limit upgraded"}, "VENUE_REFUSED", "permanent", "8817",
     "risk limit upgraded"),
)


# Its stream face's private subscriptions (see binance/contract.py). They, STREAM_BENCH below and
# the streamed runner and enforcement tests are the venue's own face's: the contract API's. A spot
# account streams from the spot websocket (face/spot_stream.py), a face of its own beside, whose
# book holds no position and no conditional order, the shapes those tests and benches measure:
# its stream is proven in tests/integration/stream/test_mexc_spot.py (a rogue spot entry cancelled
# at its push under a halt, and a halt's sales reading the trades once a symbol, then from the
# deals push, among them), not in their venue lists.
STREAM_TOPICS = {"positions", "account", "orders"}

# The streamed reaction bench's terms of it (see binance/contract.py).
STREAM_BENCH = {"name": "simulated MEXC contract API", "crossed": '"fairPrice":80',
                "cadence": "up to 1 s more to both (MEXC pushes a contract's ticker once a second while it "
                           "trades; the simulator pushes a set mark at once, then every 300 ms while it moves)"}

# The streamed reaction bench's terms of its spot account (bench/stream.py --market spot,
# bench/stream_spot.py): what the real venue's mini ticker adds to the reaction.
SPOT_STREAM_BENCH = {"cadence": "up to 3 s more (MEXC pushes a pair's mini ticker every 3 s)"}

# How its adapter reads a hedge-mode account's mode (see binance/contract.py).
POSITION_MODE_READ = {"source": "GET /api/v1/private/position/position_mode data=1", "leg_field": "side",
                      "without": ("reduceOnly",)}  # the leg's close code names the leg

# How a bot places, and cancels, a reduce-only stop-market sell on its face (see binance/contract.py).
BOT_STOP = {"engine": True}
