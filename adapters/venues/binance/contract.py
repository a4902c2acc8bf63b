"""Binance's rows of the adapter contract (tests/contract/test_adapter_contract.py), one per ccxt id.

Each row says what the production adapter must send to, and read from, the id: the market id of
BTC/USDT:USDT, a one-way close's and a hedge-mode close's ``create_order`` params, the first call
of a lookup by client order id, the raw info of a SHORT leg, the client id's longest length, the
countdown's call and the id's limits (the dialect's ``LIMITS``, read, never restated); below them
the builders of its answers to a cancel (CANCEL_ANSWERS). Data and test builders: nothing here is
imported by the adapter.
"""

from .dialect import LIMITS
from .face.master import BinanceMaster


def _row(ccxt_id: str, market_id: str, countdown: str) -> dict:
    """One id's row: the three ids share Binance's forms; their market id, the countdown's
    endpoint (USDⓈ-M ``fapi``, COIN-M ``dapi``) and the limits differ."""
    return {"id": ccxt_id, "market_id": market_id, "one_way_close": {"newClientOrderId": "ks1", "reduceOnly": True},
            "hedge_close": {"newClientOrderId": "ks1", "positionSide": "LONG"},
            "lookup": ("fetch_order", {"origClientOrderId": "ks1"}), "short_leg_info": {"positionSide": "SHORT"},
            "max_client_id_length": 36, "countdown": (countdown, {"symbol": market_id, "countdownTime": 60000}),
            "limits": LIMITS[ccxt_id]}


ROWS = (
    _row("binance", "BTCUSDT", "fapiPrivatePostCountdownCancelAll"),
    _row("binanceusdm", "BTCUSDT", "fapiPrivatePostCountdownCancelAll"),
    _row("binancecoinm", "BTCUSD_PERP", "dapiPrivatePostCountdownCancelAll"),
)


# Where its face differs from the contract's plain case (test_adapter_contract.py: Terms): nowhere.
FACE_TERMS: dict = {}


# Its master endpoint's switch (tests/integration/simulator/test_revoke.py): the sub-account, the path, what a revoke
# sends (``signed``: fields the signature adds), a revoked key's order's code, a non-master's refusal.
SWITCH_TERMS = {
    "sub_account": BinanceMaster.SUB_ACCOUNT, "path": "/sapi/v1/sub-account/subAccountApiPermission",
    "revoke_sent": {"email": "bot@example.com", "subAccountApiKey": "{key}", "canTrade": "false",
                    "canFuturesTrade": "false"}, "signed": ("timestamp", "recvWindow"),
    "refused_order": "-2015", "not_master": ("-1002", "You are not authorized to execute this request."),
}


# Its answers to a cancel (tests/unit/adapters/ccxt/test_cancel_property.py: each shape its dialect
# reads, built from the fates the test draws for the orders sent; the fields: see
# adapters/venues/binance/contract.py's CANCEL_ANSWERS). The generic reading: DELETE
# /fapi/v1/order answers the order cancelled (a refusal raises: -2011 Unknown order sent.);
# DELETE /fapi/v1/allOpenOrders names none (the documented answer,
# tests/unit/adapters/ccxt/test_cancel_answers.py's BINANCE_ALL).
#
# A shape: ``how`` the dialect reads it (``one``, ``symbol``, ``batch``), the venue's
# ``endpoint``, its ``build(f)`` (``f``: the orders ``sent``, the ids the answer names ``done``,
# ``refused`` (id → code and words), leaves ``unnamed``, and ids never sent it names done
# (``strangers``); ``f.client(id)``, the client id; ``f.flip()``, ``f.pick(values)`` and
# ``f.shuffled(rows)``, drawn; ``f.ccxt(id)``, a ccxt client for its parsers; ``f.parsed(id,
# info)``, ccxt's parsed cancelled order) returning the answer, the ids it names cancelled and,
# where it lacks what the venue documents, True (BAD_RESPONSE); the ``kinds`` of the orders it is
# for (regular alone where left out), the ``most`` orders one answer is for (1), the ``fates`` it
# gives an order sent (``done``, ``refused``, ``unnamed``; done alone), whether it is the venue's
# acknowledged "all of them" (``whole``, docs/exchanges.md), whether it can name orders never
# sent (``strangers``), the form of the venue's refusal codes not in its table (``novel``, a
# regex; ``not_novel``: codes that are not refusals) and the orders' ``symbol``.
# CANCEL_NOT_SENT: how → why the dialect is never handed that answer (the test checks the claim).
EVERY_KIND = ("regular", "conditional", "tpsl", "oco", "trailing")
BINANCE_ALL = {"code": 200, "msg": "The operation of cancel all open order is done."}


def _one(f) -> tuple:
    [o] = f.sent
    row = {"orderId": int(o.id), "symbol": "BTCUSDT", "status": "CANCELED", "clientOrderId": f.client(o.id)}
    return f.parsed(o.id, row), {o.id}


def _all(f) -> tuple:
    return [f.ccxt("binanceusdm").safe_order({"info": BINANCE_ALL})], set()


CANCEL_ANSWERS = (
    {"how": "one", "endpoint": "DELETE /fapi/v1/order", "build": _one, "kinds": EVERY_KIND},
    {"how": "symbol", "endpoint": "DELETE /fapi/v1/allOpenOrders", "build": _all, "kinds": EVERY_KIND, "most": 20,
     "fates": ("unnamed",), "whole": True},
)
CANCEL_NOT_SENT = {"batch": "no batch"}


# Its documented refusals of an order (tests/unit/adapters/ccxt/test_venue_refusals.py): the body
# ccxt's client of its SIM_ID raises for (ccxt's own handle_errors), the reason and retry kind its
# table maps it to, and the code and words the refusal keeps: (body, reason, kind, code, words).
# Binance's error codes page.
REFUSALS = (
    ({"code": -1106, "msg": "Parameter 'reduceOnly' sent when not required."}, "POSITION_MODE_MISMATCH", "mode",
     "-1106", "Parameter 'reduceOnly' sent when not required."),
    ({"code": -1106, "msg": "Parameter 'price' sent when not required."}, "INVALID_ORDER", "permanent", "-1106",
     "Parameter 'price' sent when not required."),
    ({"code": -4061, "msg": "Order's position side does not match user's setting."}, "POSITION_MODE_MISMATCH",
     "mode", "-4061", "Order's position side does not match user's setting."),
    ({"code": -2022, "msg": "ReduceOnly Order is rejected."}, "REDUCE_ONLY_REJECTED", "permanent", "-2022",
     "ReduceOnly Order is rejected."),
    ({"code": -2019, "msg": "Margin is insufficient."}, "INSUFFICIENT_MARGIN", "transient", "-2019",
     "Margin is insufficient."),
    ({"code": -4164, "msg": "Order's notional must be no smaller than 5 (unless you choose reduce only)."},
     "INVALID_ORDER", "permanent", "-4164",
     "Order's notional must be no smaller than 5 (unless you choose reduce only)."),
    ({"code": -1013, "msg": "Filter failure: LOT_SIZE"}, "INVALID_ORDER", "permanent", "-1013",
     "Filter failure: LOT_SIZE"),
    ({"code": -4999, "msg": "A refusal no table lists."}, "VENUE_REFUSED", "permanent", "-4999",
     "A refusal no table lists."),
)


# What its stream face's private subscriptions are named, for the adapter's three watches
# (positions, balance, orders), each subscribed apart (tests/integration/stream/test_runner.py
# waits for all of them before a scenario starts); None here: none apart, the listen key's socket
# carries the account's positions, balance and orders at once.
STREAM_TOPICS = None

# The streamed reaction bench's terms of it (bench/stream.py --venue): its name there, the text a
# pushed frame carrying the crossed mark (80) holds, what the real venue's mark stream adds to the
# reaction (the simulator pushes a set mark at once) and its stream face's options there.
STREAM_BENCH = {"name": "simulated Binance USDⓈ-M", "crossed": '"p":"80.',
                "cadence": "up to 1 s more to both (@1s; 3 s with @markPrice)"}

# How its adapter reads a hedge-mode account's mode, and what names the leg in a close built for it
# (tests/integration/venue/test_position_mode.py: a hedge account declared one-way is read as hedge
# and its close fills): the mode's source as the adapter says it, the close's leg field and the
# fields a close for a leg must not carry.
POSITION_MODE_READ = {"source": "GET /fapi/v3/positionRisk positionSide", "leg_field": "positionSide",
                      "without": ("reduceOnly",)}  # Binance refuses reduceOnly beside a leg (-1106)

# How a bot places, and cancels, a reduce-only stop-market sell on its face
# (tests/integration/stream/test_conditional.py): ccxt's order type and params, and the cancel's
# params; ``engine``: the face serves no place of a plan order, the test places it at the engine.
BOT_STOP = {"type": "STOP_MARKET", "params": {}, "cancel": {"trigger": True}}  # the algo service's id
