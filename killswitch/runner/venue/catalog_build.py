"""The catalog of names built from the runner's parts, and what the pre-trade gate places orders with.

What it owns: building the :class:`~killswitch.runner.names.Catalog` — accounts, strategies,
symbols and policy scope instances — from the adapters, the graph, the engine state, the dead
man's switch and the last snapshots; what the pre-trade gate places an order with (the catalog,
the unit price of every symbol held, each account's equity); and reading the markets a standby
needs to answer the gate.

Work in proportion to what changed: a tick hands over new snapshots, so nothing here walks
them to publish the gate's view. The catalog is made again only when a name it holds changed
(the graph, the scopes, an armed switch, an account's declared strategies or listed markets, the
strategies its snapshot names); the strategies of an account's positions are read from the
snapshot's column of them (:class:`~killswitch.snapshot.PositionColumns`), compared in C with the
column before and read again only when it differs. The symbols a snapshot names
(:class:`SnapshotSymbols`) and the unit prices of the symbols held (:class:`UnitPrices`) are
worked out when a reader first asks for them, for the account or the symbol asked, on the
reader's thread: a publication costs a few objects per account, whatever the book's size, and
no position model is made for it.

Must not: accept a name by guessing (see :mod:`..names`: no wildcards, no case folding).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

from ...snapshot import Snapshot, columns_of
from ..book.view import BookView
from ..gate.gate import HeldByAccount
from ..gate.placement import Placement
from ..names import Catalog
from .port import Venues

_NONE: frozenset[str] = frozenset()


class _Seen:
    """The strategies one account's last snapshot names (on its positions and open orders), with
    the columns they were read from: read again only when a column differs from the one before
    (compared in C; a column of 10,000 positions no bot is named on is one ``None`` 10,000 times)."""

    __slots__ = ("ok", "of_positions", "of_orders", "strategies")

    def __init__(self) -> None:
        self.ok: Optional[bool] = None
        self.of_positions: Optional[Sequence[Optional[str]]] = None
        self.of_orders: Optional[list[Optional[str]]] = None
        self.strategies: frozenset[str] = _NONE

    def read(self, snap: Optional[Snapshot]) -> frozenset[str]:
        if snap is None or not snap.fetch.ok:
            self.ok, self.of_positions, self.of_orders, self.strategies = False, None, None, _NONE
            return _NONE
        positions = snap.positions
        cols = columns_of(positions)
        held = cols.column("strategy") if cols is not None else [p.strategy for p in positions]
        bots = [o.strategy for o in snap.orders]  # (a few orders beside the positions)
        if not (self.ok and _same(held, self.of_positions) and _same(bots, self.of_orders)):
            named = frozenset(filter(None, {*held, *bots}))  # (no None, no "")
            if named != self.strategies:
                self.strategies = named
        self.ok, self.of_positions, self.of_orders = True, held, bots
        return self.strategies


def _same(a: Optional[Sequence[Any]], b: Optional[Sequence[Any]]) -> bool:
    """The same list, or lists of equal items (compared in C: identical items at once)."""
    return a is b or (a is not None and b is not None and a == b)


class Known:
    def __init__(self, book: BookView, venues: Venues, clock: Callable[[], int]):
        self.book = book
        self.venues = venues
        self.clock = clock
        self._seen: dict[str, _Seen] = {}
        # (what it was made of but the snapshots, the catalog, the snapshots it reads its symbols from)
        self._catalog: Optional[tuple[tuple, Catalog, Mapping[str, Snapshot]]] = None
        self._placement: Optional[tuple[Mapping[str, Snapshot], UnitPrices, dict[str, Optional[float]]]] = None
        self._held: Optional[tuple[Mapping[str, Snapshot], HeldByAccount]] = None

    def catalog(self, now: Optional[int] = None) -> Catalog:
        """The names a human or a bot may use here, with the scopes held at ``now``."""
        now = self.clock() if now is None else now
        book = self.book
        snaps, state, armed, graph = book.snapshots, book.state, book.dms.armed, book.graph
        named = [self._seen.setdefault(key, _Seen()).read(snaps.get(key)) for key in self.venues]
        declared = tuple(p.strategy_names() for p in self.venues.values())
        prefixes = tuple(p.client_id_prefixes() for p in self.venues.values())
        listed = tuple(p.symbols() for p in self.venues.values())
        # a heartbeat is taken only from a source something here names already (beat_sources.py):
        # the beats, which change the switch many times a second, do not make the catalog anew
        made_of = (graph, armed, tuple(state.scopes), declared, tuple(named), listed, prefixes)
        cached = self._catalog
        if cached is None or cached[0] != made_of:
            cat = self._made(graph, state, armed, declared, named, SnapshotSymbols(dict(zip(self.venues, listed)),
                                                                                    snaps), prefixes)
            cached = self._catalog = (made_of, cat, snaps)
        elif cached[2] is not snaps:  # only the snapshots are new: their symbols read when asked
            symbols = SnapshotSymbols(dict(zip(self.venues, listed)), snaps)
            cached = self._catalog = (made_of, replace(cached[1], symbols=symbols), snaps)
        held = frozenset(h.scope for h in book.lock_book.in_force(now))
        return cached[1] if held == cached[1].held else replace(cached[1], held=held)

    def _made(self, graph: Any, state: Any, armed: Any, declared: Sequence[frozenset[str]],
              named: Sequence[frozenset[str]], symbols: "SnapshotSymbols",
              prefixes: Sequence[Mapping[str, str]] = ()) -> Catalog:
        strategies = set(armed).union(*declared, *named)
        for node in graph.policies:
            strategies |= set(node.scope.get("strategies") or ())
            strategies |= set(filter(None, (sig.heartbeat_source for sig in node.signals)))
        levels = {node.name: node.scope.get("level") for node in graph.policies}
        policy_scopes: dict[str, set[str]] = {name: set() for name in levels}
        for key, ss in state.scopes.items():
            policy, _, scope = key.partition("|")
            if policy in levels:
                policy_scopes[policy].add(scope)
                if levels[policy] == "strategy":
                    strategies.add(scope)
            elif ss.removed is not None:  # a policy gone, its stage latched: named until its reset
                policy_scopes.setdefault(policy, set()).add(scope)
        return Catalog(accounts=frozenset(self.venues), strategies=frozenset(strategies),
                       symbols=symbols,
                       policy_scopes={p: frozenset(v) for p, v in policy_scopes.items()},
                       account_strategies={a: d | n for a, d, n in zip(self.venues, declared, named)},
                       prefixes=dict(zip(self.venues, prefixes)))

    def placement(self, now: Optional[int] = None) -> Placement:
        """What the pre-trade gate places an order with (see the module doc); equity from each
        account's last good snapshot."""
        now = self.clock() if now is None else now
        snaps = self.book.snapshots
        cached = self._placement
        if cached is None or cached[0] is not snaps:
            equity = {k: (s.equity if s.fetch.ok else None) for k, s in snaps.items()}
            cached = self._placement = (snaps, UnitPrices(snaps), equity)
        return Placement(self.catalog(now), cached[1], cached[2])

    def held(self) -> HeldByAccount:
        """The last snapshots' positions as the gate's checks read them, the same object while
        the snapshots are (what a check learns of an account, the next check reuses)."""
        snaps = self.book.snapshots
        cached = self._held
        if cached is None or cached[0] is not snaps:
            cached = self._held = (snaps, HeldByAccount(snaps))
        return cached[1]

    async def learn_symbols(self) -> None:
        """Read the markets of every account whose symbols are not known yet (a standby takes no
        snapshots; the pre-trade gate needs them). A failure is retried at the next call."""
        missing = [p for p in self.venues.values() if p.symbols() is None]
        if missing:
            await asyncio.gather(*(p.load_symbols() for p in missing), return_exceptions=True)
            self._catalog = None


class SnapshotSymbols(Mapping[str, Optional[frozenset[str]]]):
    """Account → the symbols a bot may name there: what its venue lists (``listed``, read from
    the adapters on the loop when the catalog was made: a reader on another thread never calls
    an adapter), with what its last good snapshot names (its markets, positions and open orders);
    None while neither is known (the markets not read yet). Worked out for an account when first
    asked, on whichever thread asks (the API's, for a check): a tick's publication reads no
    symbol. What it learns it keeps (two threads may learn the same set: the same value is
    stored)."""

    def __init__(self, listed: Mapping[str, Optional[frozenset[str]]], snapshots: Mapping[str, Snapshot]):
        self._listed = listed
        self._snaps = snapshots
        self._known: dict[str, Optional[frozenset[str]]] = {}

    def __getitem__(self, account: str) -> Optional[frozenset[str]]:
        known = self._known
        if account in known:
            return known[account]
        listed = self._listed[account]  # KeyError for an account that is not one
        snap = self._snaps.get(account)
        seen: Optional[frozenset[str]] = None
        if snap is not None and snap.fetch.ok:
            seen = frozenset(snap.markets).union(_symbols(snap), [o.symbol for o in snap.orders])
        out = seen if listed is None else listed if not seen or seen <= listed else listed | seen
        known[account] = out
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(self._listed)

    def __len__(self) -> int:
        return len(self._listed)


class UnitPrices(Mapping[str, float]):
    """Symbol → its unit price (mark × contract size) in the first good snapshot that holds it,
    worked out when first asked, on whichever thread asks (the API's): publishing a view costs
    nothing here. A snapshot's symbols are looked up in its column of symbols (in C); only the
    position asked for is read as a model. Read-only to its readers; what it learns it keeps
    (several threads may learn the same price: the same value is stored)."""

    def __init__(self, snapshots: Mapping[str, Snapshot]):
        self._snaps = tuple(s for s in snapshots.values() if s.fetch.ok and len(s.positions))
        self._known: dict[str, Optional[float]] = {}

    def get(self, symbol: str, default: Any = None) -> Any:
        known = self._known
        if symbol in known:
            price = known[symbol]
        else:
            price = known[symbol] = self._find(symbol)
        return default if price is None else price

    def _find(self, symbol: str) -> Optional[float]:
        for snap in self._snaps:
            try:
                i = _symbols(snap).index(symbol)
            except ValueError:
                continue
            p = snap.positions[i]
            if p.mark_price > 0:
                return float(p.mark_price * p.contract_size)
        return None

    def __getitem__(self, symbol: str) -> float:
        price = self.get(symbol)
        if price is None:
            raise KeyError(symbol)
        return float(price)

    def __iter__(self) -> Iterator[str]:  # every symbol held: for a reader that lists them (tests, tools)
        return iter(dict.fromkeys(s for snap in self._snaps for s in _symbols(snap) if self.get(s) is not None))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _symbols(snap: Snapshot) -> Sequence[str]:
    cols = columns_of(snap.positions)
    return cols.symbols if cols is not None else [p.symbol for p in snap.positions]
