"""Order intents: what the kill switch means to send, as values every layer may hold.

What it owns: :class:`OrderIntent` (one order: its client order id, derived from the decision
and the leg, its side, amount, protected price and schedule), :class:`CancelIntent`, and the
statuses the journal records an order in (:data:`ORDER_STATUSES`). The
planner makes them; the executor journals and sends them; the adapters turn them into venue
requests; runbooks and reports show them. They sit beside the snapshot types, at the bottom of
the import graph, so that an adapter never imports the planner.

Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# What the journal accepts as an order's status. The exchange's own vocabulary (adapters'
# OrderResult) plus ``sent`` (handed to the adapter, no answer yet), ``unknown`` (the answer was
# lost: a timeout) and ``failed`` (refused before it reached the venue). Here rather than with the
# journal (killswitch/state/store.py) so that a runbook's sample incident, which ksctl validate
# renders, counts them without importing the state store.
FINAL_STATUSES = frozenset({"filled", "canceled", "rejected", "expired", "failed"})
OPEN_STATUSES = frozenset({"sent", "open", "partially_filled", "unknown"})
ORDER_STATUSES = FINAL_STATUSES | OPEN_STATUSES


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
