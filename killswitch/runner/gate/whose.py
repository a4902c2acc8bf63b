"""Whose an order is, before the gate reads the lock: the strategy its client order id names.

A bot says which strategy it is (``strategy``), and its client order id says it too, by the
prefixes the Accounts document declares for the account — what the venue watch attributes an
order at the venue by (:func:`killswitch.attribution.strategy_of`). The gate reads both, the
same way: an order whose client id is a latched bot's is that bot's whether or not it says so
(without this, the gate let it through and the watch cancelled it at the venue). What owns
:func:`whose`: the order with its strategy filled in from its client id; ``STRATEGY_MISMATCH``
when the two disagree; ``UNKNOWN_STRATEGY`` (with close matches) for a strategy the runner knows
nowhere (neither the accounts the order may go to, where they declare any, nor a policy, a
heartbeat source or a snapshot: a typo); ``STRATEGY_AMBIGUOUS`` when its client id
names different strategies on the accounts a scope-wide order may go to. And what an order that
carries no strategy at all is told where a strategy-level policy's limits judge it as its
account's own book (:func:`strategy_missing`: ``STRATEGY_MISSING``, with what to send).

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Union

from ...attribution import strategy_of
from ..lock.lock import GLOBAL_SCOPE
from ..names import Catalog, near_hint
from .request import Decision, OrderRequest, deny


def whose(req: OrderRequest, cat: Catalog) -> Union[OrderRequest, Decision]:
    """``req`` with the strategy its client order id names (see the module doc), or a deny."""
    accounts = [req.account] if req.account is not None else sorted(cat.accounts_of(req.scope or GLOBAL_SCOPE))
    maps = [cat.prefixes.get(a) or {} for a in accounts]
    owners = sorted({o for o in (strategy_of(req.client_order_id, m) for m in maps) if o is not None})
    if len(owners) > 1:
        return deny(f"STRATEGY_AMBIGUOUS: client order id {req.client_order_id!r} names {', '.join(owners)} on the "
                    "accounts this order may go to; name the account")
    owner = owners[0] if owners else None
    if req.strategy is None:
        return replace(req, strategy=owner) if owner is not None else req
    if owner is not None and owner != req.strategy:
        return deny(f"STRATEGY_MISMATCH: client order id {req.client_order_id!r} is strategy {owner!r}'s (its declared "
                    f"prefix), not {req.strategy!r}'s as the order says")
    declared = {name for m in maps for name in m.values()}
    if declared and req.strategy not in declared and req.strategy not in cat.strategies:
        return deny(f"UNKNOWN_STRATEGY: {req.strategy!r} is no strategy of {', '.join(accounts[:3])}"
                    + (near_hint(req.strategy, declared | cat.strategies)
                       or f"; they declare {', '.join(sorted(declared)[:5])}"))
    return req


def strategy_missing(req: OrderRequest, account: str, cat: Optional[Catalog]) -> str:
    """``STRATEGY_MISSING: …`` of an order that carries no strategy (none said, and no client order
    id with a prefix ``account`` declares), which a strategy-level policy's limits judged as
    ``account``'s own book: the scope a refusal names and an override may name. Says what to
    send for it to be judged as its strategy's: ``strategy``, or a client order id with a declared
    prefix (the account's, else the strategies the runner knows)."""
    declared = (cat.prefixes.get(account) or {}) if cat is not None else {}
    names = sorted(set(declared.values())) or sorted(cat.strategies if cat is not None else ())
    cid = (f"its client order id {req.client_order_id!r} has no prefix {account} declares"
           if req.client_order_id else "no client_order_id")
    what = f'send "strategy" ({", ".join(names[:5])})' if names else 'send "strategy"'
    if declared:
        what += f" or a client_order_id beginning with a declared prefix ({', '.join(sorted(declared)[:5])})"
    return (f'STRATEGY_MISSING: the order carries no strategy (no "strategy", {cid}): per-strategy limits '
            f"judged it as {account}'s own book; {what}")


__all__ = ["strategy_missing", "whose"]
