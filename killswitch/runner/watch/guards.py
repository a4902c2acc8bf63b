"""The accounts of this runner no running policy guards (engine/guarded.py), as every view reads them.

What it owns: the list, worked out again only when the running graph (or a shard's firm-wide
one) or the declared accounts change (compared by the graphs' identity and the accounts' tuple:
a few objects a read, never a walk of the positions), and one log line when an account becomes
unguarded (``UNGUARDED``, a warning) and when it is guarded again (``GUARDED``). A reload and a
start ask it at once (:meth:`Guards.now`), so the log says it when the graph changes, not at the
next read.

Must not: change the book.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Sequence

from ...engine.guarded import unguarded, unguarded_text
from ...engine.removed import Declared
from ..book.view import BookView

log = logging.getLogger("killswitch.runner")


class Guards:
    """See the module doc. ``declared()``: the accounts as a policy's scope selects them."""

    def __init__(self, book: BookView, declared: Callable[[], Sequence[Declared]]):
        self.book = book
        self.declared = declared
        self._key: Optional[tuple[Any, Any, tuple[Declared, ...]]] = None
        self._unguarded: tuple[str, ...] = ()

    def now(self) -> tuple[str, ...]:
        """The accounts no policy's scope selects, sorted (logged when that changes)."""
        graph, firm, accounts = self.book.graph, self.book.firm_graph, tuple(self.declared())
        key = (graph, firm, accounts)
        if self._key is None or self._key[0] is not graph or self._key[1] is not firm or self._key[2] != accounts:
            found = unguarded(graph, accounts, firm)
            for account in found:
                if account not in self._unguarded:
                    log.warning("%s (graph %s)", unguarded_text(account), graph.digest)
            for account in self._unguarded:
                if account not in found:
                    log.info("GUARDED: %s: a policy's scope selects it again (graph %s)", account, graph.digest)
            self._key, self._unguarded = key, found
        return self._unguarded

    def collect_metrics(self, registry: Any) -> None:
        """``killswitch_accounts_unguarded``: the accounts no policy's scope selects (0 when every
        account is guarded)."""
        fam = registry.sampled("killswitch_accounts_unguarded", "gauge",
                               "Accounts of this runner that no running policy's scope selects (UNGUARDED).", ())
        fam.add(len(self.now()))


__all__ = ["Guards"]
