"""What an override request names, resolved against the running policies' limits: the scope
instance, the policies whose limits bind it, the limit, its value, and the bounds those policies
set on an override (``limits.override``: the longest expiry, the approvals).

What it owns: :class:`Bound` (what a request may ask of one scope instance) and
:func:`bound_of`, which answers it or why not: a scope the runner does not know
(``UNKNOWN_SCOPE``, with close matches), one no policy's limits bind (``UNKNOWN_SCOPE``, with the
scope instances limits bind), a limit name no policy has (``UNKNOWN_LIMIT``, with close matches)
or one none of those policies sets (``UNKNOWN_LIMIT``, with those they set).

Must not: read the clock or the store, or change anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ...overrides import LIMIT_NAMES
from ..lock.lock import GLOBAL_SCOPE
from ..names import Catalog, near_hint

DEFAULT_MAX_MS = 3_600_000
DEFAULT_APPROVALS = 2


@dataclass(frozen=True)
class Bound:
    """The policies whose limits bind a scope instance, the bounds they set on an override, and
    (for a limit) its value in force (the scope's default; None: set per symbol only)."""

    scope: str
    policies: tuple[str, ...]
    max_ms: int
    approvals: int
    value: Optional[float] = None


def limit_value(limits: Any, name: str) -> tuple[bool, Optional[float]]:
    """Whether ``limits`` (a :class:`~killswitch.compile.limits_node.LimitsNode`) sets the limit
    ``name``, and its default value (None when only some symbols set it)."""
    if name in ("max_open_orders", "max_gross_notional"):
        v = getattr(limits, name)
        return v is not None, v
    if name == "message_rate":
        return limits.message_rate is not None, limits.message_rate
    key = "max_open_orders" if name == "max_open_orders_per_symbol" else name
    default = getattr(limits.default, key)
    return default is not None or any(getattr(s, key) is not None for s in limits.symbols.values()), default


def binds(node: Any, tables: Any, catalog: Catalog, scope: str) -> bool:
    """Whether ``node``'s limits bind the scope instance ``scope``."""
    if (node.name, scope) in tables.scopes:
        return True
    level = node.scope.get("level", "account")
    mine = [a for a, routes in tables.routes.items() if any(r.policy is node for r in routes)]
    if level == "global":
        return scope == GLOBAL_SCOPE
    if level == "venue":
        return any(a.split("/", 1)[0] == scope for a in mine)
    if level == "strategy":  # a strategy, or an account: the book of its orders naming none
        listed = node.scope.get("strategies")
        return (scope in listed if listed else scope in catalog.strategies) or scope in mine
    if level == "symbol":
        listed = node.scope.get("symbols")
        return scope in listed if listed else scope in catalog.all_symbols
    return scope in mine


def instances(graph: Any, tables: Any) -> set[str]:
    """The scope instances the policies' limits bind now (those holding something, each account
    of an account-level policy, and of a strategy-level one: the book of its orders naming no
    strategy; each venue of a venue-level one, ``global``)."""
    out = {s for _, s in tables.scopes}
    for node in graph.policies:
        if node.limits is None:
            continue
        level = node.scope.get("level", "account")
        mine = [a for a, routes in tables.routes.items() if any(r.policy is node for r in routes)]
        if level == "global":
            out.add(GLOBAL_SCOPE)
        elif level == "venue":
            out |= {a.split("/", 1)[0] for a in mine}
        elif level == "account":
            out |= set(mine)
        else:
            out |= set(node.scope.get("strategies" if level == "strategy" else "symbols") or ())
            if level == "strategy":
                out |= set(mine)
    return out


def bound_of(graph: Any, tables: Any, catalog: Catalog, scope: str, limit: Optional[str]
             ) -> tuple[Optional[Bound], Optional[str]]:
    """What an override of ``limit`` (None: an order's release) on ``scope`` may ask, or why it
    cannot be asked (its reason code first)."""
    unknown = catalog.resolve_scope(scope)
    known = instances(graph, tables)
    if unknown is not None and scope not in known:
        return None, unknown.reason
    nodes = [n for n in graph.policies if n.limits is not None and binds(n, tables, catalog, scope)]
    if not nodes:
        return None, (f"UNKNOWN_SCOPE: no running policy's limits bind {scope!r}{near_hint(scope, known)} "
                      f"(limits bind: {', '.join(sorted(known)[:10]) or 'nothing: no policy sets limits'})")
    value = None
    if limit is not None:
        if limit not in LIMIT_NAMES:
            return None, (f"UNKNOWN_LIMIT: {limit!r} is not a limit{near_hint(limit, LIMIT_NAMES)} "
                          f"(limits: {', '.join(LIMIT_NAMES)})")
        read = [(n, limit_value(n.limits, limit)) for n in nodes]
        setting = [(n, v) for n, (sets, v) in read if sets]
        if not setting:
            said = sorted({k for n in nodes for k in LIMIT_NAMES if limit_value(n.limits, k)[0]})
            return None, (f"UNKNOWN_LIMIT: no policy whose limits bind {scope} sets {limit} "
                          f"({', '.join(n.name for n in nodes)} set: {', '.join(said) or 'nothing'})")
        nodes = [n for n, _ in setting]
        values = [v for _, v in setting if v is not None]
        value = min(values) if values else None
    return Bound(scope, tuple(n.name for n in nodes), min(_bounds(nodes, "override_max_ms", DEFAULT_MAX_MS)),
                 max(_bounds(nodes, "override_approvals", DEFAULT_APPROVALS)), value), None


def _bounds(nodes: Sequence[Any], key: str, default: int) -> list[int]:
    return [getattr(n.limits, key, default) for n in nodes] or [default]


__all__ = ["Bound", "binds", "bound_of", "instances", "limit_value"]
