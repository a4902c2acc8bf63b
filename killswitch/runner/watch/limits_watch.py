"""The pre-trade limits applied at the venue to orders that never asked the gate.

What it owns: :class:`LimitWatch`, an extra per-order check of the venue watch
(:data:`~killswitch.runner.watch.enforce.OrderCheck`): an open order that is not this runner's and not
reduce-only, which the policies' limits binding it would have refused at ``POST
/v1/check-order``, is a ``LIMIT_VIOLATION`` — cancelled, audited, paged and counted by the
watch (:mod:`.enforcement`), with or without a lock. The limits are those the gate answers with,
over the same tables (:class:`~killswitch.runner.gate.limits_state.LimitsState`, made once per set of
snapshots), the order read as resting (its unfilled part, not counted again among the open
orders).

What an order breaks by itself is watched: its price beyond the collar, its quantity or notional
over the symbol's limit, and the position or the scope's gross notional it would bring over
their limits were it filled. Not watched, and said so in the docs: a scope's count of open
orders (which order to cancel to meet it is no rule of the order's), the message rate (the
venue's orders carry no request time of ours) and a missing mark (``NO_MARK`` refuses a new
order at the gate; an order already resting is not cancelled for data the runner lacks: a
symbol the account holds no position in has no mark to read), nor a position or gross limit
that cannot be valued or told (a resting order with no price, mark or trigger price; a leg
that cannot be told).

The position and gross limits count the scope's resting orders that open further
(:mod:`killswitch.engine.exposure`), each order at its turn: the orders listed before it by
the venue, those the limits would have refused left out (:meth:`~killswitch.engine.limits.Usage.before`).
Of many resting orders that together pass a limit, the ones past it are cancelled, not all.

An override in force (:mod:`killswitch.overrides`) lifts at the venue what it lifts at the gate: a
raised or waived limit of its scope instance is not enforced on the orders it covers, and an order
released by its client order id is left resting.

Must not: send anything (the watch cancels), or read the store.
"""

from __future__ import annotations

from typing import Callable, Optional

from ...engine.limits import GROSS, ORDER_NOTIONAL, ORDER_QUANTITY, POSITION, PRICE_COLLAR, LimitOrder, breaches_in
from ...engine.scope import account_key
from ...snapshot import Order, Snapshot
from ..book.view import BookView
from ..gate.limits_state import LimitsState
from .enforce import Flag

LIMIT_VIOLATION = "LIMIT_VIOLATION"
# the breaches an order makes by itself (see the module doc for those left to the gate)
WATCHED = frozenset({PRICE_COLLAR, ORDER_QUANTITY, ORDER_NOTIONAL, POSITION, GROSS})


class LimitWatch:
    """``watch(snapshot, order)``: the first watched limit the order breaks, as a :class:`Flag`
    naming the policy and scope instance whose limit it is; None when it breaks none (or no
    policy sets limits, or the instance's book is not known)."""

    def __init__(self, limits: LimitsState, book: BookView, clock: Callable[[], int]):
        self.limits, self.book, self.clock = limits, book, clock

    def active(self) -> bool:
        """Whether a policy of the running graph sets limits (else the watch skips this check)."""
        return any(p.limits is not None for p in self.book.graph.policies)

    def __call__(self, snap: Snapshot, order: Order) -> Optional[Flag]:
        gate = self.limits.for_gate(self.book.graph, self.book.snapshots)
        if gate is None or order.reduce_only:
            return None
        account = account_key(snap)
        resting = LimitOrder.resting(order, account)
        if resting.amount <= 0:
            return None
        now = self.clock()
        if order.client_id is not None and order.client_id in self.limits.released:
            return None  # released by an override: the venue holds what a person let through
        for bound in gate.tables.binding(account, order.strategy, order.symbol, now):
            if not bound.usage.known:
                continue
            found = breaches_in(bound.limits, resting, bound.usage, gate.tables.marks_of(account), now, resting=True)
            if found and gate.overrides:  # what an override in force lets through at the gate rests
                found, _ = gate.overrides.lift(bound.scope, order.strategy, None, found, now, {})
            for b in found:
                if b.code in WATCHED and not (b.code in (POSITION, GROSS) and b.usage is None):
                    return Flag(LIMIT_VIOLATION, f"{b.reason} [policy={bound.policy} scope={bound.scope}]",
                                bound.scope)
        return None


__all__ = ["LIMIT_VIOLATION", "LimitWatch", "WATCHED"]
