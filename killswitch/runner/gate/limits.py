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

Overrides (:mod:`killswitch.overrides`): the refusals of a scope instance's limits that an
override in force for it (and the order's strategy) lifts are let through, and the answer says so:
``OVERRIDDEN: <the refusal> [policy scope]; by override <id> (<what>) requested by <who>, approved
by <who>, until <when>``, its ``limit`` with the override. A refusal no override lifts is answered
as before; an order refused by a limit is remembered by its ``client_order_id`` (what an override
may release it by), and an order released passes once.

An order that carries no strategy is judged by a strategy-level policy's limits as its account's
own book (the instance ``venue/account``, :mod:`killswitch.engine.limit_tables`): a refusal
there leads with ``STRATEGY_MISSING`` and what to send (:func:`~.whose.strategy_missing`), names
``scope=venue/account``, and an override of that scope lifts it.

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ...engine.limits import MESSAGE_RATE, Breach, LimitOrder, breaches_in
from ...overrides import ORDER, Lifted, iso
from ..lock.lock import GLOBAL_SCOPE
from ..names import Catalog
from .limits_state import BucketKey, GateLimits
from .placement import Placement
from .request import Decision, OrderRequest
from .whose import strategy_missing


def within_limits(req: OrderRequest, limits: GateLimits, placement: Optional[Placement],
                  now_ms: int, *, also: bool = False) -> Optional[Decision]:
    """A deny naming the first limit the order breaks (its code, value and usage in ``limit``),
    else None, and then one message taken from each of the strategy's buckets. The order is
    checked for every account it may go to: the one it names, else every account of its scope.
    ``also``: the order is refused already (by its lock): only what it also breaks is told
    (``limit.breaches`` always, ``limit.also``), nothing is spent or remembered, and an account
    without a snapshot tells nothing."""
    tables = limits.tables
    if req.account is not None:
        accounts = [req.account]
    elif placement is not None:
        accounts = sorted(placement.catalog.accounts_of(req.scope or GLOBAL_SCOPE))
    else:
        accounts = sorted(tables.routes)
    with limits.buckets.lock:  # the buckets read and spent as one step, whichever thread checks
        return _within(req, limits, accounts, now_ms, also, placement.catalog if placement is not None else None)


def _within(req: OrderRequest, limits: GateLimits, accounts: Sequence[str], now_ms: int,
            also: bool, catalog: Optional[Catalog] = None) -> Optional[Decision]:
    tables = limits.tables
    strategy = req.strategy or "-"
    spend: list[tuple[BucketKey, float, int]] = []
    overridden: list[tuple[str, str, Lifted]] = []
    for account in accounts:
        if account not in tables.accounts:  # no snapshot yet (a runner just started, a standby)
            if also:
                return None
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
                        "cannot be counted", req.symbol), also)
                spend.append((key, lim.message_rate, lim.message_burst))
            found = breaches_in(lim, order, sl.usage, marks, now_ms, tokens=tokens)
            if found and limits.overrides:
                used = limits.refusals.used if limits.refusals is not None else {}
                found, lifted = limits.overrides.lift(sl.scope, req.strategy, req.client_order_id, found, now_ms, used)
                overridden += [(sl.policy, sl.scope, x) for x in lifted]
            if found:
                if req.client_order_id is not None and limits.refusals is not None and not also:
                    limits.refusals.refuse(req.client_order_id, [sl.scope], now_ms)
                denied = _limit_deny(sl.policy, sl.scope, found, also)
                if req.strategy is None and sl.level == "strategy":  # judged as the account's own book
                    # (its breaches listed: the refusal is counted under their codes, not this lead's)
                    listed = [b.to_json() for b in (found if isinstance(found, list) else [found])]
                    return Decision(False, f"{strategy_missing(req, account, catalog)}; {denied.reason}",
                                    {"breaches": listed, **(denied.limit or {}), "strategy_missing": True})
                return denied
    return None if also else _passed(limits, spend, overridden, now_ms)


def _passed(limits: GateLimits, spend: list[tuple[BucketKey, float, int]],
            overridden: list[tuple[str, str, Lifted]], now_ms: int) -> Optional[Decision]:
    """An order within its limits (those overrides lifted aside): its messages spent, and the
    answer telling the overrides that let it through (None: no override needed)."""
    for key, rate, burst in spend:
        limits.buckets.take(key, rate, burst, now_ms)
    if overridden:
        if limits.refusals is not None:  # an order's release passes once
            for _, _, x in overridden:
                if x.override.kind == ORDER:
                    limits.refusals.used.setdefault(x.override.id, now_ms)
        return _overridden(overridden)
    return None


def _overridden(lifted: list[tuple[str, str, Lifted]]) -> Decision:
    """The answer to an order let through by overrides: each refusal lifted, and by whom."""
    said, shown = [], []
    for policy, scope, x in lifted:
        o = x.override
        reasons = "; ".join(f"{b['code']}" + (f" {b['usage']:g} > {b['value']:g}" if isinstance(b.get("usage"),
                                                                                          (int, float)) else "")
                            for b in x.breaches)
        who = f"requested by {o.requester}, approved by {', '.join(o.approvers) or '-'}"
        said.append(f"{reasons} [policy={policy} scope={scope}]; by override {o.id} ({o.what}) {who}, "
                    f"until {iso(o.expires_ms)}")
        shown.append(_shown(o, policy, scope, x))
    first = dict(shown[0])
    if len(shown) > 1:
        first["overrides"] = shown
    return Decision(True, "OVERRIDDEN: " + " | ".join(said), first)


def _shown(o: Any, policy: str, scope: str, x: Lifted) -> dict[str, Any]:
    first = x.breaches[0] if x.breaches else {}
    return {**first, "policy": policy, "scope": scope,
            "override": {"id": o.id, "kind": o.kind, "limit": o.limit, "raise_to": o.raise_to, "order": o.order,
                         "requester": o.requester, "approvers": list(o.approvers), "until_ms": o.expires_ms,
                         "until": iso(o.expires_ms), "reason_code": o.reason_code}}


def _limit_deny(policy: str, scope: str, found: Breach | list[Breach], also: bool = False) -> Decision:
    """The deny of every breach found, each named (the first is ``limit``; with more, ``breaches``
    lists them all): a bot's author fixes all of them at once, not one per retry. ``also``:
    breaches beside a refusal already made (``breaches`` always, ``also: true``)."""
    breaches = found if isinstance(found, list) else [found]
    first = breaches[0]
    said = "; ".join(b.reason for b in breaches)
    limit = {**first.to_json(), "policy": policy, "scope": scope}
    if len(breaches) > 1 or also:
        limit["breaches"] = [b.to_json() for b in breaches]
    if also:
        limit["also"] = True
    return Decision(False, f"{said} [policy={policy} scope={scope}]", limit)
