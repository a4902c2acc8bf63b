"""Which accounts and positions a policy watches, and how they split into scope instances.

A policy's ``scope.level`` says where it keeps a stage machine: one for everything it selects
(``global``), or one per venue, account, strategy or symbol. :func:`instances` groups one
tick's snapshots into :class:`ScopeView` values that the signals read.

Equity of an instance is the sum of its accounts' equity; if any of them has no fresh equity
this tick, the instance's equity is unknown (a partial sum would look like a loss or a gain).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import repeat
from typing import Callable, Iterable, Iterator, Optional, Sequence

from ..compile.graph import PolicyNode
from ..policy.scope import names_select
from ..snapshot import Order, Position, Snapshot
from .columns import Columns, Held, Tables


def account_key(s: Snapshot) -> str:
    return f"{s.venue}/{s.account}"


def position_key(s: Snapshot, p: Held) -> str:
    return f"{s.venue}/{s.account}/{p.symbol}/{p.position_side or p.side}"


def fresh(s: Snapshot) -> bool:
    return s.fetch.ok and s.equity is not None


@dataclass
class ScopeView:
    key: str
    snapshots: list[Snapshot] = field(default_factory=list)  # accounts of this instance
    # positions of this instance, grouped by the snapshot they come from (no per-position work
    # when a whole account belongs to the instance)
    groups: list[tuple[Snapshot, list[Position]]] = field(default_factory=list)
    strategy: Optional[str] = None
    # True when the instance owns its accounts whole (global, venue or account level, no
    # strategy or symbol filter): only then may it touch spot balances or any order of them.
    whole_accounts: bool = True
    symbols: Optional[frozenset[str]] = None  # orders it may cancel: these symbols only (None: any)
    strategies: Optional[frozenset[str]] = None  # orders it may cancel: placed by these strategies only
    # the accounts the policy selects for it ("venue/account"): whose violations it counts (a
    # strategy's instance holds the snapshots of the accounts it has positions in, counts in all)
    accounts: frozenset[str] = frozenset()
    _equity: Optional[float] = None
    _equity_known: Optional[bool] = None
    _pairs: Optional[list[tuple[Snapshot, Position]]] = None
    # where the columns of its groups come from: the evaluation's (shared with every policy and
    # the data-age fingerprint), or a view's own
    tables: Optional[Tables] = None
    _columns: Optional[list[Columns]] = None
    _starts: Optional[list[int]] = None  # index of each group's first position in ``positions``

    @property
    def columns(self) -> list[Columns]:
        """The columns of each group (same order as ``groups``), made on first use."""
        if self._columns is None:
            if self.tables is None:
                self.tables = Tables()
            of = self.tables.of
            self._columns = [of(ps) for _, ps in self.groups]
        return self._columns

    @property
    def positions(self) -> list[tuple[Snapshot, Position]]:
        """(snapshot, position) pairs, built on first use (planning, attribution)."""
        if self._pairs is None:
            self._pairs = [(s, p) for s, ps in self.groups for p in ps]
        return self._pairs

    def pair(self, i: int) -> tuple[Snapshot, Position]:
        """The ``i``-th of ``positions`` without building them all (the planner ranks by index)."""
        if self._pairs is not None:
            return self._pairs[i]
        if i >= 0:
            g, j = self._locate(i)
            s, ps = self.groups[g]
            return s, ps[j]
        for s, ps in self.groups:
            if i < len(ps):
                return s, ps[i]
            i -= len(ps)
        raise IndexError(i)

    def row(self, i: int) -> tuple[Snapshot, Held]:
        """The ``i``-th of ``positions`` as a close reads it (:meth:`Columns.row`): positions made
        on reading are read from the columns, no model made."""
        g, j = self._locate(i)
        return self.groups[g][0], self.columns[g].row(j)

    def rows_at(self, indexes: Sequence[int]) -> Iterator[tuple[Snapshot, Held]]:
        """:meth:`row` of each of ``indexes``, in their order: for a view of one account, the rows
        picked from its columns in one pass (:meth:`Columns.rows_at`)."""
        if len(self.groups) == 1:
            s = self.groups[0][0]
            n = len(self.groups[0][1])
            if indexes and not 0 <= min(indexes) <= max(indexes) < n:
                raise IndexError(max(indexes) if max(indexes) >= n else min(indexes))
            return zip(repeat(s), self.columns[0].rows_at(indexes))
        return map(self.row, indexes)

    def rows(self) -> Iterator[tuple[Snapshot, Held]]:
        """(snapshot, position) of every position as a close reads it (:meth:`row`), in the
        order of ``positions``: no model made for positions made on reading."""
        for (s, _), c in zip(self.groups, self.columns):
            for p in c.held():
                yield s, p

    def key_at(self, i: int) -> str:
        """The position key (:func:`position_key`) of the ``i``-th of ``positions``, read from
        the columns: no position model is made (a ranking breaks thousands of ties by it)."""
        g, j = self._locate(i)
        s = self.groups[g][0]
        c = self.columns[g]
        return f"{s.venue}/{s.account}/{c.symbols[j]}/{c.side_keys[j]}"

    def keys_at(self, indexes: Sequence[int]) -> list[str]:
        """:meth:`key_at` of each of ``indexes`` (non-negative), in their order, through
        :meth:`key_function` (whose one-account form reads the columns without a bound check)."""
        if indexes and len(self.groups) == 1 and not 0 <= min(indexes) <= max(indexes) < self.position_count:
            raise IndexError(max(indexes) if max(indexes) >= self.position_count else min(indexes))
        return list(map(self.key_function(), indexes))

    def keys(self) -> list[str]:
        """The position key of every position, in the order of ``positions``, read from the columns."""
        out: list[str] = []
        for (s, _), c in zip(self.groups, self.columns):
            head = f"{s.venue}/{s.account}/"
            out += [f"{head}{symbol}/{side}" for symbol, side in zip(c.symbols, c.side_keys)]
        return out

    def key_function(self) -> Callable[[int], str]:
        """:meth:`key_at` as a function; for a view of one account, one that reads its two
        columns directly (the account's part of the key made once)."""
        groups, columns = self.groups, self.columns
        if len(groups) == 1:
            s, c = groups[0][0], columns[0]
            head, symbols, side_keys = f"{s.venue}/{s.account}/", c.symbols, c.side_keys
            return lambda i: f"{head}{symbols[i]}/{side_keys[i]}"
        starts = self._group_starts()
        heads = [f"{s.venue}/{s.account}/" for s, _ in groups]
        symbol_columns = [c.symbols for c in columns]
        side_columns = [c.side_keys for c in columns]

        def key(i: int) -> str:
            if i < 0:
                raise IndexError(i)
            g = bisect_right(starts, i) - 1  # as in _locate; past the last position: IndexError below
            j = i - starts[g]
            return f"{heads[g]}{symbol_columns[g][j]}/{side_columns[g][j]}"

        return key

    def _group_starts(self) -> list[int]:
        starts = self._starts
        if starts is None:
            starts, at = [], 0
            for _, ps in self.groups:
                starts.append(at)
                at += len(ps)
            self._starts = starts
        return starts

    def _locate(self, i: int) -> tuple[int, int]:
        """(group, index in it) of the ``i``-th of ``positions`` (``i`` ≥ 0): a bisection."""
        groups = self.groups
        if len(groups) == 1:
            if i >= len(groups[0][1]):
                raise IndexError(i)
            return 0, i
        starts = self._group_starts()
        g = bisect_right(starts, i) - 1  # the last group starting at or before i: an empty one never is
        j = i - starts[g]
        if g < 0 or j >= len(groups[g][1]):
            raise IndexError(i)
        return g, j

    @property
    def position_count(self) -> int:
        return sum(len(ps) for _, ps in self.groups)

    def owns_order(self, o: Order) -> bool:
        """Whether an open order belongs to this instance (orders of unknown strategy never
        belong to a strategy-scoped instance: a kill switch does not guess whose order it is)."""
        if self.symbols is not None and o.symbol not in self.symbols:
            return False
        if self.strategies is not None and o.strategy not in self.strategies:
            return False
        return True

    def owns_violation(self, key: tuple[str, str, str, str, str]) -> bool:
        """Whether a counted violation (``engine/tally.py``'s key: source, account, strategy,
        symbol, code) is this instance's: of one of its accounts, strategies and symbols, as its
        orders are. One that named no account is a strategy's or a symbol's instance's only."""
        _, account, strategy, symbol, _ = key
        if account:
            if account not in self.accounts:
                return False
        elif self.whole_accounts:
            return False
        if self.symbols is not None and symbol not in self.symbols:
            return False
        return self.strategies is None or strategy in self.strategies

    @property
    def equity(self) -> Optional[float]:
        if self._equity_known is None:
            total, known = 0.0, bool(self.snapshots)
            for s in self.snapshots:
                if not fresh(s):
                    known = False
                    break
                total += s.equity  # type: ignore[operator]
            self._equity_known = known
            self._equity = total if known else None
        return self._equity

    @property
    def positions_known(self) -> bool:
        return bool(self.snapshots) and all(s.fetch.ok for s in self.snapshots)


def declares(strategies: Sequence[str], declared: Optional[Iterable[str]]) -> bool:
    """Whether an account declaring ``declared`` (None: not known) may hold a book of one of a
    scope's ``strategies`` (empty: the scope names none). A strategy the Accounts document declares
    on no account here has no book here: no position or order of the account carries it (the
    adapters read a strategy from its declared prefixes). Unknown declarations match (fail closed:
    the scope is kept, never dropped)."""
    if not strategies or declared is None:
        return True
    have = set(declared)
    return any(x in have for x in strategies)


def selects(policy: PolicyNode, s: Snapshot) -> bool:
    sc = policy.scope
    if not declares(sc["strategies"], s.strategies):
        return False
    if sc["venues"] and s.venue not in sc["venues"]:
        return False
    acc = sc["accounts"]
    if not names_select(acc["names"], s.venue, s.account):
        return False
    for k, v in acc["match_labels"].items():
        if s.labels.get(k) != v:
            return False
    return True


def instances(policy: PolicyNode, snapshots: list[Snapshot], tables: Optional[Tables] = None) -> list[ScopeView]:
    """Group the selected snapshots and positions into this policy's scope instances (their
    columns made from ``tables``, when given: an evaluation shares one among its policies)."""
    sc = policy.scope
    level = sc["level"]
    strategies = set(sc["strategies"])
    symbols = set(sc["symbols"])
    chosen = [s for s in snapshots if selects(policy, s)]

    def keep(p: Position) -> bool:
        return (not strategies or p.strategy in strategies) and (not symbols or p.symbol in symbols)

    views: dict[str, ScopeView] = {}

    def view(key: str) -> ScopeView:
        v = views.get(key)
        if v is None:
            v = views[key] = ScopeView(key, tables=tables)
        return v

    if level in ("global", "venue", "account"):
        for s in chosen:
            key = "global" if level == "global" else s.venue if level == "venue" else account_key(s)
            v = view(key)
            v.snapshots.append(s)
            v.groups.append((s, [p for p in s.positions if keep(p)] if strategies or symbols else s.positions))
        for v in views.values():
            v.accounts = frozenset(account_key(s) for s in v.snapshots)
            v.whole_accounts = not (strategies or symbols)
            v.symbols = frozenset(symbols) if symbols else None
            v.strategies = frozenset(strategies) if strategies else None
        return list(views.values())
    # strategy / symbol: positions split by their strategy or symbol; equity is their accounts'
    for name in _listed(level, sorted(strategies if level == "strategy" else symbols), chosen):
        view(name)  # a declared strategy exists even with no position (its heartbeat still counts)
    for s in chosen:
        split: dict[str, list[Position]] = {}
        for p in s.positions:
            if keep(p):
                split.setdefault((p.strategy or "-") if level == "strategy" else p.symbol, []).append(p)
        for key, ps in split.items():
            v = view(key)
            v.groups.append((s, ps))
            v.snapshots.append(s)
    selected = frozenset(account_key(s) for s in chosen)
    for key, v in views.items():
        v.accounts = selected
        v.whole_accounts = False
        if level == "strategy":
            v.strategy = key
            v.strategies = frozenset([key])
            v.symbols = frozenset(symbols) if symbols else None
        else:
            v.symbols = frozenset([key])
            v.strategies = frozenset(strategies) if strategies else None
        if not v.snapshots:
            # no position right now: the accounts that could hold them still define its equity
            # (signals), but it owns nothing in them (actions)
            v.snapshots = list(chosen)
    return list(views.values())


def accounts_acted_on(policy: PolicyNode, scope: str, snapshots: Sequence[Snapshot],
                      known: Iterable[str] = ()) -> frozenset[str]:
    """The accounts (``venue/account``) the instance ``scope`` of ``policy`` acts on: those of its
    view over ``snapshots``; an account-level instance no snapshot shows now names its own
    account, when ``known`` lists it. What a stage's account-wide effects (a revoke of the bots'
    keys, the venue's cancel-all-after countdown) reach, and nothing else."""
    view = next((v for v in instances(policy, list(snapshots)) if v.key == scope), None)
    accounts = frozenset(account_key(s) for s in view.snapshots) if view is not None else frozenset()
    if not accounts and scope in set(known):
        return frozenset([scope])
    return accounts


def _listed(level: str, names: list[str], chosen: list[Snapshot]) -> list[str]:
    """The instances a strategy or symbol level lists whatever the positions hold: every symbol;
    the strategies an account chosen declares (or does not say what it declares)."""
    if level != "strategy":
        return names
    return [n for n in names if any(declares((n,), s.strategies) for s in chosen)]
