"""What a plan says of the policies' pre-trade limits: what the book breaks already, and the
``symbols:`` entries no venue lists (KS267).

What it owns: :func:`limit_breaches` (the positions, the scopes' gross and open orders, and each
open order that breaks a limit now, over the plan's snapshots) and :func:`unlisted_limit_symbols`
(KS267, judged only where every account a policy selects has its symbol list read: ``ksctl plan``
over live accounts hands the lists its adapters read).

Values only: no I/O, no clock (the time and the symbol lists are handed in).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

from ..compile.graph import DecisionGraph
from ..compile.limits_node import unlisted_symbols
from ..engine.limit_tables import BookBreach, book_breaches, limit_tables
from ..engine.scope import account_key, selects
from ..policy.diagnostics import Diagnostic
from ..snapshot import Snapshot


def sets_limits(graph: DecisionGraph) -> bool:
    return any(p.limits is not None for p in graph.policies)


def limit_breaches(graph: DecisionGraph, snapshots: Iterable[Snapshot], now_ms: int) -> tuple[BookBreach, ...]:
    """What the positions and open orders of ``snapshots`` break of the policies' limits at ``now_ms``."""
    if not sets_limits(graph):
        return ()
    snaps = list(snapshots)
    return tuple(book_breaches(limit_tables(graph, snaps), snaps, now_ms))


def unlisted_limit_symbols(graph: DecisionGraph, snapshots: Iterable[Snapshot],
                           listed: Mapping[str, Optional[frozenset[str]]]) -> list[Diagnostic]:
    """KS267 for each policy's ``limits.symbols`` entry that no account it selects lists; a policy
    with an account whose list is not known (None, or not handed in) is not judged."""
    snaps = list(snapshots)
    out: list[Diagnostic] = []
    for node in graph.policies:
        if node.limits is None or not node.limits.symbols:
            continue
        lists = [listed.get(account_key(s)) for s in snaps if selects(node, s)]
        if not lists or any(x is None for x in lists):
            continue
        out += unlisted_symbols(node.name, node.limits, (x for x in lists if x is not None))
    return out


__all__ = ["limit_breaches", "sets_limits", "unlisted_limit_symbols"]
