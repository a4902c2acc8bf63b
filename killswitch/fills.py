"""A fill of an account's order as its venue reports it: what attributes a position's growth.

A position names no strategy: the venue keeps one per leg, whoever's orders built it. What grew
it is in the account's trades (ccxt ``fetchMyTrades``, a stream's fills): each carries the id of
the order it filled and, on most venues, that order's client order id, whose declared prefix (the
Accounts document's ``strategies``) names the bot. :class:`Fill` is one such trade, read by an
adapter (``ExchangeAdapter.fills``), with the strategy the adapter read off its client order id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Fill:
    """One trade of the account: the order it filled (the venue's id and the client order id,
    looked up by the adapter where the trade does not carry it), its side, amount in contracts,
    price, leg (hedge mode) and time, and the strategy of its client order id (None: no declared
    prefix matches, or no client order id)."""

    id: str
    order_id: Optional[str]
    client_id: Optional[str]
    symbol: str
    side: str  # buy | sell
    amount: float  # contracts
    price: Optional[float]
    ts_ms: int
    position_side: Optional[str] = None  # LONG | SHORT in hedge mode
    strategy: Optional[str] = None


__all__ = ["Fill"]
