"""The simulated venue's rules, shared by the engine and its conditional orders: Binance's error
codes and :class:`SimError`, the arithmetic of steps and ticks, a market's spec and a regular
order (:class:`SimOrder`).

What it must not do: hold state, read a clock, or know about HTTP (see :mod:`.engine`).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Optional


class SimError(Exception):
    """A venue error: Binance's code and message, the HTTP status it comes with."""

    def __init__(self, code: int, msg: str, http_status: int = 400, retry_after_s: Optional[float] = None):
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.retry_after_s = retry_after_s

    def to_json(self) -> dict:
        return {"code": self.code, "msg": self.msg}


# Binance error codes the engine produces (USDⓈ-M futures)
TOO_MANY_REQUESTS = -1003
TOO_MANY_ORDERS = -1015
ILLEGAL_CHARS = -1100
MANDATORY_PARAM = -1102
PARAM_NOT_REQUIRED = -1106
PRECISION = -1111
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
INVALID_SYMBOL = -1121
INVALID_PARAM = -1130
INSUFFICIENT_BALANCE = -2010
UNKNOWN_ORDER = -2011
NO_SUCH_ORDER = -2013
MARGIN_INSUFFICIENT = -2019
REDUCE_ONLY_REJECTED = -2022
MAX_OPEN_ORDERS = -2025
QTY_NOT_POSITIVE = -4003
QTY_TOO_LARGE = -4005
PRICE_TOO_LOW = -4013
TICK_SIZE = -4014
LEVERAGE_INVALID = -4028
NO_NEED_TO_CHANGE_SIDE = -4059
POSITION_SIDE_MISMATCH = -4061
SIDE_CHANGE_OPEN_ORDERS = -4067
SIDE_CHANGE_POSITIONS = -4068
DUPLICATE_CLIENT_ID = -4116
NOTIONAL_TOO_SMALL = -4164
POST_ONLY_REJECTED = -5022
ALGO_ONLY_TYPE = -4120  # a conditional type sent to the regular order endpoint

# the types Binance USDⓈ-M keeps in its algo service (:mod:`.conditional`), not in the order book
ALGO_ONLY_TYPES = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")

CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
EPS = 1e-9
CLOSING_SIDES = (("LONG", "SELL"), ("SHORT", "BUY"))  # (hedge-mode leg, the order side that closes it)
MAX_OPEN_ORDERS_PER_SYMBOL = 200


@functools.lru_cache(maxsize=256)
def decimals(step: float) -> int:
    """Decimals of a step: 0.001 → 3, 1 → 0, 0.5 → 1."""
    exp = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -int(exp))


def on_grid(x: float, step: float) -> bool:
    if step <= 0:
        return True
    n = x / step
    return abs(n - round(n)) < 1e-6


def floor_step(x: float, step: float) -> float:
    if step <= 0:
        return x
    return round(math.floor(x / step + EPS) * step, decimals(step))


def _round_px(x: float, tick: float, up: bool) -> float:
    n = x / tick
    n = math.ceil(n - EPS) if up else math.floor(n + EPS)
    return round(n * tick, decimals(tick))


def _clean(x: float) -> float:
    return round(x, 12) + 0.0


# --- specs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketSpec:
    """One USDⓈ-M perpetual. ``symbol`` is the venue id (BTCUSDT)."""

    symbol: str
    base: str
    quote: str = "USDT"
    amount_step: float = 0.001
    price_tick: float = 0.1
    min_amount: float = 0.001
    max_amount: float = 1_000_000.0
    min_notional: float = 5.0
    contract_size: float = 1.0
    max_leverage: int = 125
    maint_margin_rate: float = 0.004

    @property
    def unified(self) -> str:
        return f"{self.base}/{self.quote}:{self.quote}"

    @property
    def spot_unified(self) -> str:
        return f"{self.base}/{self.quote}"

    @property
    def price_decimals(self) -> int:
        return decimals(self.price_tick)

    @property
    def amount_decimals(self) -> int:
        return decimals(self.amount_step)

    def order_quantity(self, qty: float) -> float:
        """An order's quantity on the step, within the market's minimum and maximum; else the
        venue's refusal."""
        if qty <= 0:
            raise SimError(QTY_NOT_POSITIVE, "Quantity less than or equal to zero.")
        if not on_grid(qty, self.amount_step):
            raise SimError(PRECISION, "Precision is over the maximum defined for this asset.")
        qty = round(round(qty / self.amount_step) * self.amount_step, self.amount_decimals)
        if qty < self.min_amount - EPS:
            raise SimError(-1013, "Filter failure: LOT_SIZE")
        if qty > self.max_amount + EPS:
            raise SimError(QTY_TOO_LARGE, "Quantity greater than max quantity.")
        return qty

    def order_price(self, px: float, code: int = PRICE_TOO_LOW, msg: str = "Price less than min price.") -> float:
        """A price on the tick; else the venue's refusal (``code`` and ``msg`` when not positive)."""
        if px <= 0:
            raise SimError(code, msg)
        if not on_grid(px, self.price_tick):
            raise SimError(TICK_SIZE, "Price not increased by tick size.")
        return round(round(px / self.price_tick) * self.price_tick, self.price_decimals)


def order_leg(hedge_mode: bool, position_side: Optional[str], reduce_only: Optional[bool]) -> str:
    """An order's leg: LONG or SHORT in hedge mode (where reduceOnly is not taken), BOTH in
    one-way mode; else the venue's refusal."""
    ps = (position_side or "BOTH").upper()
    if hedge_mode:
        if reduce_only is not None:
            raise SimError(PARAM_NOT_REQUIRED, "Parameter 'reduceOnly' sent when not required.")
        if ps not in ("LONG", "SHORT"):
            raise SimError(POSITION_SIDE_MISMATCH, "Order's position side does not match user's setting.")
    elif ps != "BOTH":
        raise SimError(POSITION_SIDE_MISMATCH, "Order's position side does not match user's setting.")
    return ps


@dataclass
class SimOrder:
    order_id: int
    client_order_id: str
    account: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT
    time_in_force: str  # GTC | IOC | FOK | GTX
    quantity: float
    price: float  # 0 for market orders
    reduce_only: bool
    position_side: str  # BOTH | LONG | SHORT
    time: int
    update_time: int
    status: str = "NEW"  # NEW | PARTIALLY_FILLED | FILLED | CANCELED | EXPIRED
    executed_qty: float = 0.0
    cum_quote: float = 0.0
    fee: float = 0.0
    realized_pnl: float = 0.0
    spot: bool = False
    contract_size: float = 1.0  # its market's: cum_quote is contracts x size x price

    @property
    def remaining(self) -> float:
        return _clean(self.quantity - self.executed_qty)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def avg_price(self) -> float:
        return self.cum_quote / (self.executed_qty * self.contract_size) if self.executed_qty > 0 else 0.0

    @property
    def closes(self) -> bool:
        """Reduces a position: reduce-only, or the opposite side on a hedge-mode leg."""
        return self.reduce_only or (self.position_side, self.side) in CLOSING_SIDES

    def record_fill(self, qty: float, notional: float, fee: float, now: int) -> None:
        """A fill of ``qty`` worth ``notional`` (its fee ``fee``) at ``now``: the order filled once
        nothing of it remains, partly filled till then."""
        self.executed_qty = _clean(self.executed_qty + qty)
        self.cum_quote += notional
        self.fee += fee
        self.update_time = now
        self.status = "FILLED" if self.remaining <= EPS else "PARTIALLY_FILLED"

    def copy(self) -> "SimOrder":
        return replace(self)
