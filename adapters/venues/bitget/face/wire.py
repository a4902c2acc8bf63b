"""What a Bitget v2 answer of the simulated exchange is made of: its codes, its numbers, its sides.

What it owns
    the futures product the face serves (:data:`PRODUCT`), the plan types, Bitget's refusals it
    names (:data:`NO_POSITION`, :data:`UNILATERAL`, :data:`NOT_FOUND`, :data:`CANCEL_NOT_FOUND`,
    :data:`NO_ORDER_ID`) and the engine's (Binance) error codes as Bitget's (:data:`_CODES`), numbers as Bitget
    writes them: strings (:func:`_f`, :func:`_money`, :func:`_px`, :func:`_sz`), an engine
    market as its symbol (:func:`symbol_id`), and an order's side, leg and trade side as Bitget
    writes them (:func:`_sides`). The names with an underscore are the venue folder's own: its
    REST face (:mod:`..face` and the modules of its request view) and its websocket face share
    them; the envelope is the request view's (:class:`.params.BitgetParams`), since it
    carries the engine's time.

What it must not do
    read the engine, or answer a request (:mod:`..face` does).
"""

from __future__ import annotations

from ....simulated.conditional import CANCEL_REFUSED
from ....simulated.engine import MarketSpec
from ....simulated.faces.shared import engine_codes
from ....simulated.numbers import money_text as _money, plain as _f, price_text as _px, size_text as _sz  # noqa: F401

PRODUCT = "USDT-FUTURES"
PLAN_TYPES = ("normal_plan", "track_plan", "profit_plan", "loss_plan", "pos_profit", "pos_loss", "moving_plan")
PROFIT_LOSS = ("profit_plan", "loss_plan", "pos_profit", "pos_loss", "moving_plan")
CLOSING_PLANS = PROFIT_LOSS

NO_POSITION = ("40757", "Not enough position is available.")
UNILATERAL = ("40774", "The order type for unilateral position must also be the unilateral position type.")
NOT_FOUND = ("40109", "The data of the order cannot be found, please confirm the order number")
CANCEL_NOT_FOUND = ("40768", "Order does not exist")
NO_ORDER_ID = ("40019", "Parameter orderId cannot be empty")  # neither orderId nor clientOid
# a cancel the venue refuses for its own reasons (the engine's fault): Bitget's error code table
PLAN_CANCEL_REFUSED = ("40725", "service return an error")

# the engine's (Binance) codes → Bitget's
_CODES: dict[int, tuple[str, str]] = engine_codes(
    duplicate_id=("40786", "Duplicate clientOid"),
    no_margin=("40762", "The order amount exceeds the balance"),
    unknown_symbol=("40034", "Parameter symbol does not exist"),
    too_small=("45110", "less than the minimum amount 5 USDT"),
    precision=("40808", "Parameter verification exception size checkBDScale error"),
    no_position=NO_POSITION,
    wrong_mode=UNILATERAL,
    more={CANCEL_REFUSED: PLAN_CANCEL_REFUSED},
)


def symbol_id(m: MarketSpec) -> str:
    """Bitget's id of a USDT-M perpetual is the engine's: BTCUSDT."""
    return m.symbol


def _sides(side: str, leg: str, closes: bool) -> tuple[str, str, str]:
    """(side, posSide, tradeSide) as Bitget writes an order of the engine's ``side`` on ``leg``."""
    if leg == "BOTH":
        return side.lower(), "net", ("reduce_" if closes else "") + side.lower() + "_single"
    return ("buy" if leg == "LONG" else "sell"), leg.lower(), "close" if closes else "open"
