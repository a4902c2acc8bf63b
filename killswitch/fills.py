"""A fill of an account's order as its venue reports it: what attributes a position's growth.

A position names no strategy: the venue keeps one per leg, whoever's orders built it. What grew
it is in the account's trades (ccxt ``fetchMyTrades``, a stream's fills): each carries the id of
the order it filled and, on most venues, that order's client order id, whose declared prefix (the
Accounts document's ``strategies``) names the bot. :class:`Fill` is one such trade, read by an
adapter (``ExchangeAdapter.fills``), with the strategy the adapter read off its client order id.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from .records import record


@record
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


def orders_text(orders: Sequence[Mapping[str, Any]]) -> str:
    """The bots' orders whose fills grew a reverted leg (a violation's ``orders``), each with its
    own client order id, strategy, venue id and amount: ``bot-a-0001 (bot-a, id 46) 0.5,
    x-rogue-1 (unknown, id 47) 0.3``; the one text of status, the report and the runbook."""
    out = []
    for o in orders:
        said = [str(o.get("strategy") or "unknown")] + ([f"id {o['order_id']}"] if o.get("order_id") else [])
        amount = o.get("amount")
        out.append(f"{o.get('client_order_id') or '(no client order id)'} ({', '.join(said)})"
                   + (f" {amount:g}" if isinstance(amount, (int, float)) else ""))
    return ", ".join(out)


def bot_side(payload: Mapping[str, Any]) -> str:
    """The side a violation names, said whose: a revert's and a reduction's is the bots' fills'
    (``bot buy``), never to be read as the runner's revert, which goes the other way
    (:func:`revert_side`); a cancel's is its order's."""
    side = str(payload.get("side") or "?")
    return f"bot {side}" if payload.get("action") in ("revert", "none") else side


def revert_side(payload: Mapping[str, Any]) -> str:
    """The side of the runner's own revert of a violation's growth: against the bots' fills."""
    return "sell" if payload.get("side") == "buy" else "buy"


__all__ = ["Fill", "bot_side", "orders_text", "revert_side"]
