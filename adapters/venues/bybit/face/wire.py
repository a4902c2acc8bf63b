"""What a Bybit v5 answer of the simulated exchange is made of: its envelope, its codes, its fields.

What it owns
    the envelope (:func:`envelope`: ``retCode``, ``retMsg``, ``result``, ``retExtInfo``,
    ``time``), a refusal (:class:`BybitFail`: its HTTP status, retCode, message and headers),
    Bybit's codes and the engine's (Binance) codes as Bybit's (:data:`RET_CODES`), the tables of
    statuses, times in force and position indexes between the engine and Bybit, and numbers as
    Bybit writes them: strings (:func:`_f`, :func:`_money`, :func:`_digits`). The names with an
    underscore are the venue folder's own: its REST face (:mod:`..face` and the modules of its
    request view) and its websocket face share them.

What it must not do
    read the engine, or answer a request (:mod:`..face` does).
"""

from __future__ import annotations

from typing import Any, Optional

from ....simulated.engine import NO_SUCH_ORDER, UNKNOWN_ORDER
from ....simulated.faces.shared import VenueFail, engine_codes
from ....simulated.numbers import digits as _digits, money_text as _money, plain as _f  # noqa: F401

# Bybit's codes
OK = 0
PARAMS = 10001
TIMESTAMP = 10002
BAD_KEY = 10003
BAD_SIGN = 10004
# a read-only key (update-sub-api readOnly 1) on a trade endpoint; a frozen sub-member's orders
PERMISSION_DENIED = (10005, "Permission denied, please check your API key permissions.")
TRADING_BANNED = (10027, "Transactions are banned.")
TOO_MANY_VISITS = 10006
ORDER_NOT_FOUND = 110001
NOT_ENOUGH_MARGIN = 110007
REDUCE_ONLY = 110017
POSITION_MODE_UNCHANGED = 110025
DUPLICATE_LINK_ID = 110072
NOTIONAL_TOO_SMALL = 110094
TOO_MANY_STOPS = 110009
NO_ORDER = (ORDER_NOT_FOUND, "order not exists or too late to cancel")
RISING_TRIGGER = 110092  # a rising trigger at or below the price: it would trigger at once
FALLING_TRIGGER = 110093

# the engine's (Binance) code → Bybit's code and message; any other is 10001 with the engine's message
# (the notional floor alone: a filter's floor or a precision past the market's is 10001 as well)
RET_CODES: dict[int, tuple[int, Optional[str]]] = engine_codes(
    duplicate_id=(DUPLICATE_LINK_ID, "OrderLinkedID is duplicate"),
    no_margin=(NOT_ENOUGH_MARGIN, "ab not enough for new order"),
    unknown_symbol=(PARAMS, "params error: symbol invalid"),
    no_position=(REDUCE_ONLY, "Reduce-only rule not satisfied"),
    wrong_mode=(PARAMS, "position idx not match position mode"),
    more={UNKNOWN_ORDER: NO_ORDER, NO_SUCH_ORDER: NO_ORDER,
          -4164: (NOTIONAL_TOO_SMALL, "Order does not meet minimum order value"),
          -4045: (TOO_MANY_STOPS, "The number of stop orders exceeds maximum limit allowed"),
          -4059: (POSITION_MODE_UNCHANGED, "Position mode is not modified"), -2015: (BAD_KEY, "API key is invalid.")},
)

ORDER_STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled"}
ALGO_STATUS = {"NEW": "Untriggered", "TRIGGERED": "Triggered", "CANCELED": "Deactivated",
               "EXPIRED": "Deactivated", "REJECTED": "Rejected"}
TIF_IN = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "POSTONLY": "GTX"}
TIF_OUT = {"GTC": "GTC", "IOC": "IOC", "FOK": "FOK", "GTX": "PostOnly"}
LEG_OF_IDX = {0: "BOTH", 1: "LONG", 2: "SHORT"}
IDX_OF_LEG = {v: k for k, v in LEG_OF_IDX.items()}
ORDER_FILTERS = ("Order", "StopOrder", "tpslOrder")


class BybitFail(VenueFail):
    """A Bybit answer other than success: its HTTP status, retCode and message (the envelope,
    which carries the time, is written as it goes out)."""

    def __init__(self, code: int, msg: str, status: int = 200, headers: Optional[dict] = None):
        super().__init__(status, None, headers)
        self.code, self.msg = code, msg


def _params(msg: str) -> BybitFail:
    return BybitFail(PARAMS, msg)


def envelope(result: Any, now: int, code: int = OK, msg: str = "OK") -> dict:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now}
