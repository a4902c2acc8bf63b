"""The catalog of names built from the runner's parts, and what the pre-trade gate places orders with.

What it owns: building the :class:`~killswitch.runner.names.Catalog` — accounts, strategies,
symbols and policy scope instances — from the adapters, the graph, the engine state, the dead
man's switch and the last snapshots, and caching it until one of them changes; what the
pre-trade gate places an order with (the catalog, the last mark of every symbol held, each account's equity);
and reading the markets a standby needs to answer the gate.

Must not: accept a name by guessing (see :mod:`.names`: no wildcards, no case folding).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Callable, Optional

from adapters.base import ExchangeAdapter

from ..compile.nodes import KindSignal
from ..policy.kinds.heartbeat_age import HeartbeatAgeParams
from .book_view import BookView
from .gate_placement import Placement
from .names import Catalog


class Known:
    def __init__(self, book: BookView, adapters: dict[str, ExchangeAdapter], clock: Callable[[], int]):
        self.book = book
        self.adapters = adapters
        self.clock = clock
        self._catalog: Optional[tuple] = None  # (snapshots, state, armed sources, graph, Catalog)
        self._placement: Optional[tuple] = None  # (snapshots, unit prices, equity)

    def catalog(self, now: Optional[int] = None) -> Catalog:
        """The names a human or a bot may use here, with the scopes held at ``now``."""
        now = self.clock() if now is None else now
        book = self.book
        # a heartbeat is taken only from a source something here names already (beat_sources.py):
        # the beats, which change the switch many times a second, do not make the catalog anew
        snaps, state, armed, graph = book.snapshots, book.state, book.dms.armed, book.graph
        cached = self._catalog
        if cached is None or cached[0] is not snaps or cached[1] is not state or cached[2] != armed \
                or cached[3] is not graph:
            strategies = set(armed)
            for adapter in self.adapters.values():
                strategies |= adapter.strategy_names()
            for node in graph.policies:
                strategies |= set(node.scope.get("strategies") or ())
                strategies |= {sig.params.source for sig in node.signals
                               if isinstance(sig, KindSignal) and isinstance(sig.params, HeartbeatAgeParams)}
            for snap in snaps.values():
                if snap.fetch.ok:
                    strategies |= {p.strategy for p in snap.positions if p.strategy}
                    strategies |= {o.strategy for o in snap.orders if o.strategy}
            policy_scopes: dict[str, set[str]] = {node.name: set() for node in graph.policies}
            for key in state.scopes:
                policy, _, scope = key.partition("|")
                if policy in policy_scopes:
                    policy_scopes[policy].add(scope)
                    if next(n for n in graph.policies if n.name == policy).scope.get("level") == "strategy":
                        strategies.add(scope)
            cat = Catalog(accounts=frozenset(self.adapters), strategies=frozenset(strategies),
                          symbols={k: self._symbols_of(k, a) for k, a in self.adapters.items()},
                          policy_scopes={p: frozenset(v) for p, v in policy_scopes.items()})
            cached = self._catalog = (snaps, state, armed, graph, cat)
        held = frozenset(h.scope for h in book.lock_book.in_force(now))
        return replace(cached[4], held=held)

    def _symbols_of(self, key: str, adapter: ExchangeAdapter) -> Optional[frozenset[str]]:
        listed = adapter.symbols()
        snap = self.book.snapshots.get(key)
        seen: Optional[frozenset[str]] = None
        if snap is not None and snap.fetch.ok:
            seen = frozenset(snap.markets) | {p.symbol for p in snap.positions} | {o.symbol for o in snap.orders}
        if listed is None:
            return seen
        return listed | seen if seen else listed

    def placement(self, now: Optional[int] = None) -> Placement:
        """What the pre-trade gate places an order with: the catalog, the last mark of every symbol
        held, and each account's equity from its last good snapshot."""
        now = self.clock() if now is None else now
        snaps = self.book.snapshots
        cached = self._placement
        if cached is None or cached[0] is not snaps:
            units: dict[str, float] = {}
            for snap in snaps.values():
                if snap.fetch.ok:
                    for p in snap.positions:
                        if p.symbol not in units and p.mark_price > 0:
                            units[p.symbol] = p.mark_price * p.contract_size
            equity = {k: (s.equity if s.fetch.ok else None) for k, s in snaps.items()}
            cached = self._placement = (snaps, units, equity)
        return Placement(self.catalog(now), cached[1], cached[2])

    async def learn_symbols(self) -> None:
        """Read the markets of every account whose symbols are not known yet (a standby takes no
        snapshots; the pre-trade gate needs them). A failure is retried at the next call."""
        missing = [a for a in self.adapters.values() if a.symbols() is None]
        if missing:
            await asyncio.gather(*(a.load_symbols() for a in missing), return_exceptions=True)
            self._catalog = None
