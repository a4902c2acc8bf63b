"""Order intents: what the kill switch means to send, as values every layer may hold.

What it owns: :class:`OrderIntent` (one order: its client order id, derived from the decision
and the leg, its side, amount, protected price and schedule), :class:`CancelIntent`, the
statuses the journal records an order in (:data:`ORDER_STATUSES`), and the form a dry run's
planned orders take in the audit trail (:func:`planned_payloads`, read back by
:func:`planned_intents`: the executor writes it; the console, ``ksctl history --planned`` and
the incident report read it). The
planner makes them; the executor journals and sends them; the adapters turn them into venue
requests; runbooks and reports show them. They sit beside the snapshot types, at the bottom of
the import graph, so that an adapter never imports the planner.

Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, Iterable, Mapping, Optional, Protocol, Sequence

# What the journal accepts as an order's status: in a module of their own (killswitch/order_statuses.py),
# so that a runbook's sample incident, which ksctl validate renders, counts them without importing
# the intents below or the state store.
from .order_statuses import (
    FINAL_STATUSES as FINAL_STATUSES,
    OPEN_STATUSES as OPEN_STATUSES,
    ORDER_STATUSES as ORDER_STATUSES,
)


@dataclass(frozen=True)
class OrderIntent:
    """One order the kill switch means to send, journaled before it is sent (see the module)."""

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
    """A cancel of open orders the kill switch means to send (see the module)."""

    venue: str
    account: str
    which: str  # entries | all
    order_ids: tuple[str, ...]
    reason: str
    # with no ``order_ids``: every open order of these symbols (all when empty) the venue lists now,
    # ``which`` of them (a firm directive's cancel, whose shard's last snapshot may be a tick old)
    symbols: tuple[str, ...] = ()


class Intents(Protocol):
    """What the executor sends of a plan: its cancels and its orders."""

    @property
    def cancels(self) -> tuple[CancelIntent, ...]: ...

    @property
    def orders(self) -> tuple[OrderIntent, ...]: ...


def send_order(plans: Iterable[Intents]) -> tuple[list[CancelIntent], dict[str, list[OrderIntent]]]:
    """The order in which the executor sends one tick's plans: every cancel first, in plan
    order (each account's one after another, the accounts at once); then the orders of each
    account (``venue/account``) in plan order, the accounts at once. The executor sends by
    this; previews number their intents by it."""
    plans = list(plans)
    cancels = [c for p in plans for c in p.cancels]
    per_account: dict[str, list[OrderIntent]] = {}
    for p in plans:
        for o in p.orders:
            per_account.setdefault(f"{o.venue}/{o.account}", []).append(o)
    return cancels, per_account


Sends = tuple[tuple[int, ...], tuple[int, ...]]  # the send numbers of a plan's cancels and of its orders
NO_SENDS: Sends = ((), ())


def send_sequence(plans: Iterable[Intents]) -> list[Sends]:
    """For each of one tick's plans, the send numbers of its cancels and of its orders, as
    :func:`send_order` sends them: cancels 1..C across the tick in plan order (those of
    different accounts go at once), then each account's orders from C+1 on, once every cancel
    is done. Two orders of different accounts may share a number: they go at once."""
    plans = list(plans)
    n_cancels = sum(len(p.cancels) for p in plans)
    next_cancel = 1
    next_order: dict[str, int] = {}
    out = []
    for p in plans:
        cs = tuple(range(next_cancel, next_cancel + len(p.cancels)))
        next_cancel += len(p.cancels)
        os = []
        for o in p.orders:
            key = f"{o.venue}/{o.account}"
            n = next_order.get(key, n_cancels + 1)
            next_order[key] = n + 1
            os.append(n)
        out.append((cs, tuple(os)))
    return out


def position_of(o: OrderIntent) -> str:
    """The position an order closes, as ``venue/account/symbol/leg``: the hedge-mode leg it names,
    else the side a sell (long) or a buy (short) closes; a spot sale is the holding (``spot``)."""
    if not o.reduce_only:
        leg = "spot"
    elif o.position_side in ("LONG", "SHORT"):
        leg = o.position_side
    else:
        leg = "long" if o.side == "sell" else "short"
    return f"{o.venue}/{o.account}/{o.symbol}/{leg}"


# --- a dry run's planned orders in the audit trail ----------------------------------------------------------

PLANNED_KIND = "orders_planned_dry_run"
"""The audit row of the orders a dry run planned and did not send: a table of up to
:data:`PLANNED_PER_ROW` intents, ``{"fields": [the intent's field names], "orders": [[each
intent's values in that order], ...]}``, in plan order. One row per planned order cost more than
the planning itself at a crash's entry (its own JSON with sorted keys, hash and insert: ~6 µs
each, 25 ms for 4,000 closes); the table says the same facts once, and its size is bounded."""
PLANNED_ONE_KIND = "order_planned_dry_run"
"""One planned intent a row (its fields as the payload): what a dry run audited before
:data:`PLANNED_KIND`; still read, so a trail written by an earlier version counts the same."""
PLANNED_KINDS = (PLANNED_KIND, PLANNED_ONE_KIND)
PLANNED_PER_ROW = 1000  # intents per audit row: ~400 KB of JSON at most
INTENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(OrderIntent))
_values = attrgetter(*INTENT_FIELDS)  # an intent's values in the fields' order, read in C


def planned_payloads(orders: Sequence[OrderIntent]) -> list[dict[str, Any]]:
    """The :data:`PLANNED_KIND` payloads that audit ``orders``, in their order."""
    head = list(INTENT_FIELDS)
    return [{"fields": head, "orders": list(map(_values, orders[i:i + PLANNED_PER_ROW]))}
            for i in range(0, len(orders), PLANNED_PER_ROW)]


def planned_intents(kind: str, payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The planned intents one audit row holds, each as a dict of its fields: a
    :data:`PLANNED_KIND` table's rows, or the intent of a :data:`PLANNED_ONE_KIND` row; none for a
    row of another kind. A table entry that is not a list of values reads as an intent with no
    field (counted, shown empty: never dropped, never guessed)."""
    if kind == PLANNED_ONE_KIND:
        return [dict(payload)]
    if kind != PLANNED_KIND:
        return []
    head, orders = payload.get("fields"), payload.get("orders")
    if not isinstance(orders, list):
        return []
    names = [str(x) for x in head] if isinstance(head, (list, tuple)) else []
    return [dict(zip(names, values)) if isinstance(values, (list, tuple)) else {} for values in orders]


def planned_count(kind: str, payload: Mapping[str, Any]) -> int:
    """How many planned intents one audit row holds (:func:`planned_intents`, without making them)."""
    if kind == PLANNED_ONE_KIND:
        return 1
    orders = payload.get("orders") if kind == PLANNED_KIND else None
    return len(orders) if isinstance(orders, list) else 0


# --- what a close came to: its fee and its realized PnL -------------------------------------------------

Fees = tuple[tuple[float, Optional[str]], ...]
"""The fee a venue charged on an order, as its answer reported it: ``(cost, currency)`` per
currency (ccxt's unified ``fees``; the currency None where the venue named none). Empty: the
answer carried no fee (not reported); None where a fee is asked for: not known."""


def realized_pnl(side: str, reduce_only: bool, entry_price: Optional[float], contract_size: Optional[float],
                 filled: Optional[float], avg_price: Optional[float]) -> Optional[float]:
    """The PnL a close realized: (average fill price − the position's entry price) × filled ×
    contract size, + for a long (closed by a sell), − for a short (closed by a buy), in the
    contract's quote. None for an order that is no close of a position (a spot sale), that
    filled nothing (a result the runner wrote with a fill of 0 may not know what filled: an
    unclear answer), or whose entry price or average price is not known."""
    if not reduce_only or entry_price is None or not filled or avg_price is None:
        return None
    sign = 1.0 if side == "sell" else -1.0
    return (avg_price - entry_price) * abs(filled) * (contract_size or 1.0) * sign
