"""The policies' pre-trade limits (``spec.limits``) an order must pass once its lock allows it.

Owns :func:`within_limits`: the limits that bind the order are checked through
:func:`killswitch.engine.limits.breaches_in` over the tables of the last snapshots; a breach is
denied with its code (``NO_MARK``, ``PRICE_COLLAR``, ``LIMIT_ORDER_QUANTITY``,
``LIMIT_ORDER_NOTIONAL``, ``OPEN_ORDERS_LIMIT``, ``POSITION_LIMIT``, ``GROSS_LIMIT``,
``MESSAGE_RATE``) and the answer's ``limit`` carries the limit's value and the usage the order
would bring it to; an account of which the runner has no snapshot yet cannot be placed under
its limits (``LIMITS_UNKNOWN``). A policy's limits written ``during:`` / ``outside:`` a window
bind only while it is open. An allowed order takes one message from each of its strategy's
buckets (handed in: :mod:`.limits_state`).

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

from typing import Optional, Sequence

from ...engine.limits import MESSAGE_RATE, Breach, LimitOrder, breaches_in
from ..lock.lock import GLOBAL_SCOPE
from .limits_state import BucketKey, GateLimits
from .placement import Placement
from .request import Decision, OrderRequest


def within_limits(req: OrderRequest, limits: GateLimits, placement: Optional[Placement],
                  now_ms: int) -> Optional[Decision]:
    """A deny naming the first limit the order breaks (its code, value and usage in ``limit``),
    else None, and then one message taken from each of the strategy's buckets. The order is
    checked for every account it may go to: the one it names, else every account of its scope."""
    tables = limits.tables
    if req.account is not None:
        accounts = [req.account]
    elif placement is not None:
        accounts = sorted(placement.catalog.accounts_of(req.scope or GLOBAL_SCOPE))
    else:
        accounts = sorted(tables.routes)
    with limits.buckets.lock:  # the buckets read and spent as one step, whichever thread checks
        return _within(req, limits, accounts, now_ms)


def _within(req: OrderRequest, limits: GateLimits, accounts: Sequence[str], now_ms: int) -> Optional[Decision]:
    tables = limits.tables
    strategy = req.strategy or "-"
    spend: list[tuple[BucketKey, float, int]] = []
    for account in accounts:
        if account not in tables.accounts:  # no snapshot yet (a runner just started, a standby)
            return Decision(False, f"LIMITS_UNKNOWN: no snapshot of {account} yet; which policies' limits bind it "
                                   "and what its book holds cannot be told")
        order = LimitOrder(req.symbol, req.side, req.amount, req.price, bool(req.reduce_only), req.position_side,
                           account, req.strategy)
        marks = tables.marks_of(account)
        for sl in tables.binding(account, req.strategy, req.symbol, now_ms):
            lim = sl.limits
            tokens = None
            if lim.message_rate is not None and lim.message_burst is not None:
                key = (sl.policy, sl.scope, strategy)
                tokens = limits.buckets.level(key, lim.message_rate, lim.message_burst, now_ms)
                if tokens is None:
                    return _limit_deny(sl.policy, sl.scope, Breach(
                        MESSAGE_RATE, lim.message_rate, None, "messages",
                        f"the gate's message buckets are full ({len(limits.buckets)}); strategy {strategy} "
                        "cannot be counted", req.symbol))
                spend.append((key, lim.message_rate, lim.message_burst))
            found = breaches_in(lim, order, sl.usage, marks, now_ms, tokens=tokens)
            if found:
                return _limit_deny(sl.policy, sl.scope, found)
    for key, rate, burst in spend:
        limits.buckets.take(key, rate, burst, now_ms)
    return None


def _limit_deny(policy: str, scope: str, found: Breach | list[Breach]) -> Decision:
    """The deny of every breach found, each named (the first is ``limit``; with more, ``breaches``
    lists them all): a bot's author fixes all of them at once, not one per retry."""
    breaches = found if isinstance(found, list) else [found]
    first = breaches[0]
    said = "; ".join(b.reason for b in breaches)
    limit = {**first.to_json(), "policy": policy, "scope": scope}
    if len(breaches) > 1:
        limit["breaches"] = [b.to_json() for b in breaches]
    return Decision(False, f"{said} [policy={policy} scope={scope}]", limit)
