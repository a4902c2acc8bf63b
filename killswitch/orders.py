"""Order intents: what the kill switch means to send, as values every layer may hold.

What it owns: :class:`OrderIntent` (one order: its client order id, derived from the decision
and the leg, its side, amount, protected price and schedule) and :class:`CancelIntent`. The
planner makes them; the executor journals and sends them; the adapters turn them into venue
requests; runbooks and reports show them. They sit beside the snapshot types, at the bottom of
the import graph, so that an adapter never imports the planner.

Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class OrderIntent:
    decision_id: str
    client_order_id: str
    venue: str
    account: str
    symbol: str
    side: str  # buy | sell
    position_side: Optional[str]  # LONG | SHORT in hedge mode, else None
    amount: float
    reduce_only: bool
    limit_price: Optional[float]  # protected price: worst accepted with the slippage cap
    notional: float
    chunk: int  # 1-based
    chunks: int
    not_before_ms: int  # scheduled send time (venue order budget)
    action: str  # the policy action that asked for it
    reason: str
    group: Optional[str] = None  # correlation group


@dataclass(frozen=True)
class CancelIntent:
    venue: str
    account: str
    which: str  # entries | all
    order_ids: tuple[str, ...]
    reason: str
