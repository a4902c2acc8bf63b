"""Accounts no running policy guards: the reverse of a policy whose scope selects no account.

An account of the runner (its Accounts document) that no policy's scope selects is watched by
nothing: no trigger reads it, no stage can lock it, and the pre-trade gate applies no policy's
limits to it. A reload that narrows a scope can leave one so (the instance it removed is reset,
and nothing else selects the account), and so can an account added to the Accounts document
before its policy. Every view says it (``UNGUARDED``): the status, the console's standing
problems, ``/metrics`` and the log.

Computed from the graph and the declared accounts alone (:func:`.removed.selected`: venues,
account names and labels, as :func:`.scope.selects` reads a snapshot; an account whose labels
are not known is taken as selected), so it changes only when one of them does. A policy at any
level guards the accounts its scope selects, a strategy or symbol level one included.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Optional, Sequence

from ..compile.graph import DecisionGraph
from .removed import Declared, selected

UNGUARDED = "UNGUARDED"


def unguarded(graph: DecisionGraph, accounts: Sequence[Declared],
              firm: Optional[DecisionGraph] = None) -> tuple[str, ...]:
    """The accounts (``venue/account``, sorted) no policy of ``graph`` selects, nor one of
    ``firm`` (a shard's firm-wide policies, which guard its accounts too)."""
    policies = [*graph.policies, *(firm.policies if firm is not None else ())]
    return tuple(sorted(f"{a.venue}/{a.account}" for a in accounts
                        if not any(selected(p, a) for p in policies)))


def unguarded_text(account: str) -> str:
    """What every view says of one: ``UNGUARDED: binanceusdm/sim-main: no policy's scope selects it``."""
    return f"{UNGUARDED}: {account}: no policy's scope selects it; nothing watches it or limits its orders"


def within(scope: str, accounts: Sequence[str]) -> tuple[str, ...]:
    """Those of ``accounts`` a policy instance's ``scope`` (``global``, a venue, ``venue/account``,
    or a strategy's or symbol's key below one) covers."""
    if scope == "global":
        return tuple(accounts)
    return tuple(a for a in accounts if scope == a or scope.startswith(a + "/") or a.startswith(scope + "/"))


__all__ = ["UNGUARDED", "unguarded", "unguarded_text", "within"]
