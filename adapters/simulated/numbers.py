"""Numbers as the venues' faces write them: fixed decimals (Binance USDⓈ-M's :func:`fixed`; the
others' :func:`plain`, a price and an amount at a market's places), money amounts, and a
market's price and amount places. Shared by the REST faces and the websocket faces, which
render the same fields.

What it must not do: keep state (a cache of a market's places is all it holds)."""

from __future__ import annotations

import functools
import math

from .engine import MarketSpec, decimals
from .views import money


def fixed(x: float, d: int) -> str:
    s = "%.*f" % (d, x)
    return "0" if d == 0 and float(s) == 0 else s


def plain(x: float, d: int) -> str:
    """``x`` at ``d`` places, a zero as "0" at any places (as Bybit, OKX and Bitget write one)."""
    s = "%.*f" % (d, x)
    return "0" if float(s) == 0 else s


def log_places(step: float) -> int:
    """A step's places as a spot API writes a precision, by its power of ten (0.001 → 3; a step of
    none: 8): Kraken's ``pair_decimals`` and ``lot_decimals``, MEXC spot's precisions."""
    return max(0, round(-math.log10(step))) if step > 0 else 8


def price_text(m: MarketSpec, x: float) -> str:
    """A price at the market's places (:func:`plain`), none ("") for a zero."""
    return plain(x, decimals(m.price_tick)) if x else ""


def size_text(m: MarketSpec, x: float) -> str:
    return plain(x, decimals(m.amount_step))


def money_text(x: float) -> str:
    """A money amount as the venue writes it: the digits of :func:`money`, as the in-process
    adapter's columns hold it."""
    return "%.8f" % money(x)


@functools.lru_cache(maxsize=4096)
def places(price_tick: float, amount_step: float) -> tuple[int, int]:
    return decimals(price_tick), decimals(amount_step)


def digits(m: MarketSpec) -> tuple[int, int]:
    """A market's price and amount decimals (MarketSpec works them out anew at every read: a
    book of 10,000 positions read them 50,000 times an answer)."""
    return places(m.price_tick, m.amount_step)
