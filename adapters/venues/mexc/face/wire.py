"""What a MEXC contract answer of the simulated exchange is made of: its codes, ids and side codes.

What it owns
    MEXC's refusals the face names (the contract API's error code list: :data:`NO_POSITION`,
    :data:`NOT_FOUND`, :data:`CANNOT_CANCEL`, :data:`PARAMS`, ...), the engine's (Binance) error
    codes as MEXC's (:data:`CODES`), an engine market's contract id (``BTCUSDT`` → ``BTC_USDT``,
    :func:`contract_id`), and the side codes of an engine order (:func:`side_code`: 1 open long,
    2 close short, 3 open short, 4 close long) and back (:data:`SIDES`).

What it must not do
    read the engine, or answer a request (:mod:`..face` does).
"""

from __future__ import annotations

from typing import Optional

from ....simulated.engine import MarketSpec
from ....simulated.faces.shared import engine_codes

NO_POSITION = (2009, "Position is not exists or closed.")  # ccxt's mexc quotes this body
NOT_FOUND = (2040, "order not exist")  # order/cancel's documented row
CANNOT_CANCEL = (2041, "order state cannot be cancelled")
PARAMS = (600, "Param error!")
OVER_LIMIT = (2013, "Cancel orders over maximum limit")
NO_CONTRACT = (1001, "Contract does not exist")
TOO_LONG = (2030, "External order ID is too long (Max. 32 bits )")
SIGNATURE = (602, "Verify failed")
UNAUTHORIZED = (401, "Unauthorized")
STALE_REQUEST = (513, "Invalid request(for open api serves time more or less than 10s)")
NO_TRADE = (704, "Transaction information modify permission is required")
TOO_FREQUENT = (510, "Excessive frequency of requests")

# the engine's (Binance) codes → MEXC's
CODES: dict[int, tuple[int, str]] = engine_codes(
    duplicate_id=(603, "Repeated requests"),
    no_margin=(2005, "Balance insufficient"),
    unknown_symbol=NO_CONTRACT,
    too_small=(2011, "Order quantity error"),
    precision=(2015, "Price or quantity accuracy error"),
    no_position=NO_POSITION,
    wrong_mode=PARAMS,
)

# side code → (engine side, the leg it is on in hedge mode, whether it closes)
SIDES: dict[int, tuple[str, str, bool]] = {
    1: ("BUY", "LONG", False), 2: ("BUY", "SHORT", True), 3: ("SELL", "SHORT", False), 4: ("SELL", "LONG", True),
}


def contract_id(m: MarketSpec) -> str:
    """MEXC's id of the engine's USDT-M perpetual: BASE_QUOTE."""
    return f"{m.base}_{m.quote}"


def side_code(side: str, leg: str, closes: bool) -> int:
    """The side code of an engine order of ``side`` (BUY / SELL) on ``leg`` (BOTH, LONG, SHORT)."""
    buy = side.upper() == "BUY"
    if leg == "LONG":
        return 1 if buy else 4
    if leg == "SHORT":
        return 2 if buy else 3
    if closes:
        return 2 if buy else 4
    return 1 if buy else 3


def order_type_code(otype: str, tif: Optional[str]) -> int:
    """MEXC's ``orderType`` of an engine order: 5 market, 1 limit GTC, 2 post only, 3 IOC, 4 FOK."""
    if otype.upper() == "MARKET" or otype.upper().endswith("_MARKET"):
        return 5
    return {"GTX": 2, "IOC": 3, "FOK": 4}.get(tif or "GTC", 1)


__all__ = ["CANNOT_CANCEL", "CODES", "NOT_FOUND", "NO_CONTRACT", "NO_POSITION", "NO_TRADE", "OVER_LIMIT", "PARAMS",
           "SIDES", "SIGNATURE", "STALE_REQUEST", "TOO_FREQUENT", "TOO_LONG", "UNAUTHORIZED", "contract_id",
           "order_type_code", "side_code"]
