"""What an OKX v5 answer of the simulated exchange is made of: its envelope, its codes, its numbers.

What it owns
    the envelope (:func:`_ok`, and :func:`_batch` for an order operation's rows, each with its
    ``sCode``), a refusal (:class:`_Fail`: its HTTP status and OKX body), the engine's (Binance)
    error codes as OKX's (:func:`_okx_error`), and numbers as OKX writes them: strings
    (:func:`_f`, :func:`_px`, :func:`_sz`, :func:`_money`), an engine market as its instrument id
    (:func:`inst_id`). The names with an underscore are the venue folder's own: its REST face
    (:mod:`..face` and the modules of its request view) and its websocket face share them.

What it must not do
    read the engine, or answer a request (:mod:`..face` does).
"""

from __future__ import annotations

from typing import Optional

from ....simulated.faces.shared import VenueFail, engine_codes
from ....simulated.numbers import money_text as _money, plain as _f, price_text as _px, size_text as _sz  # noqa: F401
from ....simulated.rules import (
    NO_SUCH_ORDER,
    QTY_NOT_POSITIVE,
    QTY_TOO_LARGE,
    TOO_MANY_ORDERS,
    TOO_MANY_REQUESTS,
    UNKNOWN_ORDER,
    MarketSpec,
    SimError,
)

RATE_LIMITED = ("50011", "Too Many Requests")
BAD_KEY = ("50111", "Invalid OK-ACCESS-KEY.")  # a key nobody has
BAD_SIGN = ("50113", "Invalid Sign.")
NO_POSITION_TO_REDUCE = ("51169", "Order failed because you don't have any positions in this direction for this "
                         "contract to reduce or close.")
SAME_DIRECTION = ("51170", "Failed to place order. A reduce-only order can't be the same direction as your existing "
                  "positions.")

# the engine's (Binance) codes → OKX's
_CODES: dict[int, tuple[str, str]] = engine_codes(
    duplicate_id=("51016", "Duplicated clOrdId"),
    no_margin=("51008", "Order failed. Insufficient USDT margin in account"),
    no_balance=("51008", "Order failed. Insufficient USDT balance in account"),
    unknown_symbol=("51001", "Instrument ID does not exist"),
    too_small=("51020", "Your order should meet or exceed the minimum order amount."),
    precision=("51121", "Order quantity must be a multiple of the lot size."),
    wrong_mode=("51000", "Parameter posSide error"),
    more={
        TOO_MANY_REQUESTS: RATE_LIMITED, TOO_MANY_ORDERS: RATE_LIMITED,
        QTY_NOT_POSITIVE: ("51000", "Parameter sz error"),
        QTY_TOO_LARGE: ("51202", "Market order amount exceeds the maximum amount."),
        -4014: ("51000", "Parameter px error"),  # price off the tick
        -2021: ("51000", "Parameter triggerPx error"),  # would trigger at once
        -4045: ("51174", "The number of pending algo orders reached the upper limit"),
        -2025: ("51174", "The number of pending orders reached the upper limit"),
        -5022: ("51019", "Order failed. The post-only order could not be executed as maker."),
        -4067: ("59000", "Settings failed. Cancel all open orders before switching the position mode."),
        -4068: ("59000", "Settings failed. Close all positions before switching the position mode."),
        -4028: ("51000", "Parameter lever error"),
    },
)


class _Fail(VenueFail):
    """An answer other than success: its HTTP status and OKX body (``code``, ``msg``, ``data``)."""

    def __init__(self, code: str, msg: str, status: int = 400, data: Optional[list] = None):
        super().__init__(status, {"code": code, "msg": msg, "data": data or []})
        self.code, self.msg = code, msg


# a read_only key (modify-apikey perm read_only) on a trade endpoint
NO_PERMISSION = ("50120", "API key doesn't have permission.")


def _bad(name: str) -> _Fail:
    return _Fail("51000", f"Parameter {name} error")


def _empty(name: str) -> _Fail:
    return _Fail("50014", f"Parameter {name} can not be empty.")


NO_ORDER = ("51603", "Order does not exist")
CANCEL_NO_ORDER = ("51400", "Order cancellation failed as the order has been filled, canceled or does not exist.")


def _okx_error(e: SimError, *, cancel: bool = False) -> tuple[str, str]:
    if e.code in (UNKNOWN_ORDER, NO_SUCH_ORDER):
        return CANCEL_NO_ORDER if cancel else NO_ORDER
    got = _CODES.get(e.code)
    return got if got is not None else ("51000", f"Parameter error: {e.msg}")


# --- numbers as OKX writes them: strings -----------------------------------------------------------------


def inst_id(m: MarketSpec) -> str:
    """The OKX instrument id of an engine market: BTCUSDT → BTC-USDT-SWAP."""
    return f"{m.base}-{m.quote}-SWAP"


def _ok(data: list) -> dict:
    return {"code": "0", "msg": "", "data": data}


def _batch(rows: list[dict]) -> dict:
    """An order operation's answer: code 0 when every row succeeded, 1 when none did, 2 between."""
    failed = sum(1 for r in rows if r.get("sCode") != "0")
    if not failed:
        return _ok(rows)
    if failed == len(rows):
        return {"code": "1", "msg": "All operations failed", "data": rows}
    return {"code": "2", "msg": "Batch operation partially succeeded", "data": rows}
