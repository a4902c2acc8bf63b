"""Whose an order is: the strategy its client order id names, by the prefixes an account declares.

What it owns: :func:`strategy_of`, the one rule that the adapters (an order or a fill as the
venue lists it), the venue watch (whose bot broke a lock) and the pre-trade gate (whose order
asks to go) attribute a client order id by, so that the gate never lets through what the watch
would cancel as a latched bot's.

Pure: no I/O; imports nothing of the project.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Optional, Union

SEPARATORS = "-_:."  # what may follow a strategy written as its name alone: ``alpha-17``, ``alpha_17``


def strategy_of(client_id: Optional[str], strategies: Union[Iterable[str], Mapping[str, str]]) -> Optional[str]:
    """The strategy a client order id belongs to, the longest prefix first: ``strategies`` is
    the account's names (``alpha-17`` → ``alpha``: the name, then one of :data:`SEPARATORS`, or
    the name alone) or its prefix map (prefix → strategy,
    :meth:`~killswitch.policy.accounts_doc.Account.client_id_prefixes`: a declared prefix
    matches as written; a bare name, mapped to itself, as a name does)."""
    if not client_id:
        return None
    pairs = strategies.items() if isinstance(strategies, Mapping) else ((s, s) for s in strategies)
    for prefix, name in sorted(pairs, key=lambda kv: len(kv[0]), reverse=True):
        if not client_id.startswith(prefix):
            continue
        if prefix != name or len(client_id) == len(prefix) or client_id[len(prefix)] in SEPARATORS:
            return name
    return None


__all__ = ["SEPARATORS", "strategy_of"]
