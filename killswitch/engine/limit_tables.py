"""The pre-trade limits of every scope instance, over one set of snapshots: made once when the
snapshots change, read by every check-order request until the next ones.

What it owns: :class:`LimitTables` (which policies' limits bind an order of an account, strategy
and symbol; each scope instance's usage; the marks of each venue), :func:`limit_tables` that
makes it, the usage of each limit as rows (:func:`usage_rows`: the console and ``ksctl status``)
and what the book already breaks (:func:`book_breaches`: ``ksctl plan``).

A policy's limits bind an order when its scope selects the order's account (by venue, name and
labels, as the engine's scope instances do) and, when the scope lists symbols or strategies,
the order's symbol and strategy (an order naming no strategy is held by a strategy-filtered
policy: the check does not guess whose it is). The instance is the order's account, venue,
strategy or symbol, or ``global``, by the scope's level; of a strategy-level policy, an order or
position naming no strategy is its account's (``venue/account``): a scope a refusal names and an
override may name, as no catch-all ``-`` is.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

from ..compile.graph import DecisionGraph, PolicyNode
from ..compile.limits_node import LimitsNode
from ..figures import money
from ..snapshot import Snapshot
from .limits import GROSS, OPEN_ORDERS, POSITION, Breach, LimitOrder, Mark, Usage, breaches_in
from .scope import account_key, selects


@dataclass(frozen=True)
class ScopeLimits:
    """The limits of one policy over one scope instance, and what the instance holds."""

    policy: str
    scope: str
    limits: LimitsNode
    usage: Usage
    level: str = "account"  # the policy scope's level (strategy: ``scope`` may be an account's unattributed book)


@dataclass(frozen=True)
class _Route:
    policy: PolicyNode
    limits: LimitsNode
    level: str
    strategies: frozenset[str]
    symbols: frozenset[str]


@dataclass
class LimitTables:
    """See the module doc. ``routes``: by account, the policies whose limits may bind its orders."""

    scopes: dict[tuple[str, str], ScopeLimits] = field(default_factory=dict)
    routes: dict[str, list[_Route]] = field(default_factory=dict)
    marks: dict[str, dict[str, Mark]] = field(default_factory=dict)  # venue → symbol → mark
    known: dict[str, bool] = field(default_factory=dict)  # policy → every account it selects was read
    accounts: set[str] = field(default_factory=set)  # the accounts with a snapshot (read or not)

    @property
    def empty(self) -> bool:
        return not self.routes

    def binding(self, account: str, strategy: Optional[str], symbol: str, now_ms: Optional[int] = None
                ) -> list[ScopeLimits]:
        """The limits that bind an order of ``account`` (``venue/account``), ``strategy`` and
        ``symbol``, each with its instance's usage (an instance that holds nothing yet: empty,
        known when every account of the policy was read); with ``now_ms``, only limits in force
        then (a policy's limits ``during:`` / ``outside:`` a window bind only while it is open)."""
        out = []
        for r in self.routes.get(account, ()):
            if now_ms is not None and not r.limits.in_force(now_ms):
                continue
            if r.symbols and symbol not in r.symbols:
                continue
            if r.strategies and strategy is not None and strategy not in r.strategies:
                continue
            key = _instance(r.level, account, strategy, symbol)
            found = self.scopes.get((r.policy.name, key))
            if found is None:
                found = ScopeLimits(r.policy.name, key, r.limits, Usage(known=self.known.get(r.policy.name, False)),
                                    r.level)
            out.append(found)
        return out

    def marks_of(self, account: str) -> Mapping[str, Mark]:
        return self.marks.get(account.split("/", 1)[0], {})


def _instance(level: str, account: str, strategy: Optional[str], symbol: str) -> str:
    if level == "global":
        return "global"
    if level == "venue":
        return account.split("/", 1)[0]
    if level == "strategy":
        return strategy or account  # what names no strategy: its account's, never one "-" of every account
    if level == "symbol":
        return symbol
    return account


def limit_tables(graph: DecisionGraph, snapshots: Iterable[Snapshot]) -> LimitTables:
    """The tables of every policy of ``graph`` that sets limits, over ``snapshots`` (one per
    account; a snapshot not read leaves its instances' usage unknown)."""
    snaps = list(snapshots)
    tables = LimitTables(accounts={account_key(s) for s in snaps})
    for s in snaps:
        if not s.fetch.ok:
            continue
        venue = tables.marks.setdefault(s.venue, {})
        for p in s.positions:
            if p.mark_price > 0:
                old = venue.get(p.symbol)
                if old is None or old.ts_ms < s.ts_event:
                    venue[p.symbol] = Mark(p.mark_price, p.contract_size, s.ts_event)
    for node in graph.policies:
        if node.limits is not None:
            _add_policy(tables, node, node.limits, snaps)
    return tables


def _add_policy(tables: LimitTables, node: PolicyNode, limits: LimitsNode, snaps: list[Snapshot]) -> None:
    sc = node.scope
    level = sc.get("level", "account")
    strategies, symbols = frozenset(sc.get("strategies") or ()), frozenset(sc.get("symbols") or ())
    route = _Route(node, limits, level, strategies, symbols)
    chosen = [s for s in snaps if selects(node, s)]
    tables.known[node.name] = all(s.fetch.ok for s in chosen)
    whole = level in ("global", "venue", "account")
    opening = limits.needs_positions  # resting orders summed on their legs only for a position or gross limit

    def scope(key: str) -> ScopeLimits:
        found = tables.scopes.get((node.name, key))
        if found is None:
            found = tables.scopes[(node.name, key)] = ScopeLimits(node.name, key, limits, Usage(), level)
        return found

    for s in chosen:
        account = account_key(s)
        tables.routes.setdefault(account, []).append(route)
        if whole:
            usage = scope(_instance(level, account, None, "")).usage
            usage.known = usage.known and s.fetch.ok
        if not s.fetch.ok:
            continue
        for p in s.positions:
            if (strategies and p.strategy not in strategies) or (symbols and p.symbol not in symbols):
                continue
            scope(_instance(level, account, p.strategy, p.symbol)).usage.add_position(p, account)
        marks = tables.marks.get(s.venue, {})
        for o in s.orders:
            if (strategies and o.strategy not in strategies) or (symbols and o.symbol not in symbols):
                continue
            scope(_instance(level, account, o.strategy, o.symbol)).usage.add_order(o, account, marks, opening)
    if not whole and not tables.known[node.name]:
        for (policy, _), found in tables.scopes.items():
            if policy == node.name:
                found.usage.known = False


# --- usage and what the book breaks already ---------------------------------------------------------


@dataclass(frozen=True)
class LimitUsage:
    """One limit of one scope instance and how much of it is used (``usage`` None: not known).
    ``symbol``: the symbol a per-symbol limit is nearest its value in. Of an exposure limit,
    ``positions`` and ``resting``: what the positions hold and what the resting orders that
    open further add (``usage`` is their sum)."""

    policy: str
    scope: str
    limit: str
    value: float
    usage: Optional[float]
    unit: str
    symbol: Optional[str] = None
    positions: Optional[float] = None
    resting: Optional[float] = None

    @property
    def ratio(self) -> Optional[float]:
        return None if self.usage is None or not self.value else self.usage / self.value


def usage_rows(tables: LimitTables) -> list[LimitUsage]:
    """Each scope-wide limit of each instance with its usage, and each per-symbol limit by the
    symbol nearest it: the small table the console and ``ksctl status`` show."""
    out = []
    for (policy, scope), sl in sorted(tables.scopes.items()):
        lim, u = sl.limits, sl.usage
        if lim.max_gross_notional is not None:
            resting = u.resting if u.known else None
            out.append(LimitUsage(policy, scope, "max_gross_notional", lim.max_gross_notional,
                                  None if resting is None else u.gross + resting, "quote", None,
                                  u.gross if u.known else None, resting))
        if lim.max_open_orders is not None:
            out.append(LimitUsage(policy, scope, "max_open_orders", lim.max_open_orders,
                                  u.open_orders if u.known else None, "orders"))
        worst: Optional[LimitUsage] = None
        for (_, symbol, side), leg in u.legs.items():
            cap = lim.for_symbol(symbol).max_position_notional
            if cap is not None:
                reach = None if leg.unpriced else leg.reach(side)
                row = LimitUsage(policy, scope, "max_position_notional", cap, reach, "quote", symbol, leg.notional,
                                 None if reach is None else reach - leg.notional)
                if worst is None or worst.usage is not None and (row.usage is None or
                                                                 (row.ratio or 0) > (worst.ratio or 0)):
                    worst = row  # a leg that cannot be valued is shown first: unknown, never as 0
        if worst is None and lim.needs_positions and lim.default.max_position_notional is not None:
            worst = LimitUsage(policy, scope, "max_position_notional", lim.default.max_position_notional,
                               0.0 if u.known else None, "quote", None, 0.0 if u.known else None,
                               0.0 if u.known else None)
        if worst is not None:
            out.append(worst if u.known else LimitUsage(policy, scope, worst.limit, worst.value, None, "quote"))
        busiest: Optional[LimitUsage] = None
        for symbol, n in u.open_by_symbol.items():
            cap_n = lim.for_symbol(symbol).max_open_orders
            if cap_n is not None:
                row = LimitUsage(policy, scope, "max_open_orders_per_symbol", cap_n, n, "orders", symbol)
                if busiest is None or (row.ratio or 0) > (busiest.ratio or 0):
                    busiest = row
        if busiest is not None:
            out.append(busiest)
    return out


@dataclass(frozen=True)
class BookBreach:
    """A limit the book already breaks: a position, the scope's gross or open orders, or an open
    order (``order_id``) that breaks it were it sent now."""

    policy: str
    scope: str
    account: Optional[str]
    breach: Breach
    order_id: Optional[str] = None


def book_breaches(tables: LimitTables, snapshots: Iterable[Snapshot], now_ms: int) -> list[BookBreach]:
    """What the current positions and open orders break already, per policy and instance."""
    out: list[BookBreach] = []
    for (policy, scope), sl in sorted(tables.scopes.items()):
        if sl.usage.known and sl.limits.in_force(now_ms):
            out += [BookBreach(policy, scope, account, b) for account, b in _scope_breaches(sl.limits, sl.usage)]
    for s in snapshots:
        if s.fetch.ok:
            out += _resting_breaches(tables, s, now_ms)
    return out


def _scope_breaches(lim: LimitsNode, u: Usage) -> list[tuple[Optional[str], Breach]]:
    """What a scope's usage breaks: its gross, its open orders (in all and per symbol), and each
    position (with the account that holds it), each with its resting orders that open further."""
    out: list[tuple[Optional[str], Breach]] = []
    resting = u.resting
    gross = u.gross + (resting or 0.0)
    if lim.max_gross_notional is not None and gross > lim.max_gross_notional * (1 + 1e-9):
        parts = (u.gross, resting or 0.0, 0.0)
        out.append((None, Breach(
            GROSS, lim.max_gross_notional, gross, "quote",
            f"gross notional of the scope {_reaches(parts)} > limit {money(lim.max_gross_notional)}", None, parts)))
    if lim.max_open_orders is not None and u.open_orders > lim.max_open_orders:
        out.append((None, Breach(
            OPEN_ORDERS, lim.max_open_orders, u.open_orders, "orders",
            f"open orders of the scope are {u.open_orders} > limit {lim.max_open_orders}")))
    for symbol, n in sorted(u.open_by_symbol.items()):
        cap_n = lim.for_symbol(symbol).max_open_orders
        if cap_n is not None and n > cap_n:
            out.append((None, Breach(
                OPEN_ORDERS, cap_n, n, "orders", f"open orders of {symbol} are {n} > limit {cap_n}", symbol)))
    for (account, symbol, leg), held in sorted(u.legs.items(), key=lambda kv: tuple(map(str, kv[0]))):
        cap = lim.for_symbol(symbol).max_position_notional
        reach = held.notional if held.unpriced else held.reach(leg)
        if cap is not None and reach > cap * (1 + 1e-9):
            side = "" if leg == "BOTH" else f" ({leg})"
            parts = (held.notional, reach - held.notional, 0.0)
            out.append((account, Breach(
                POSITION, cap, reach, "quote", f"position in {symbol}{side} {_reaches(parts)} > limit {money(cap)}",
                symbol, parts)))
    return out


def _reaches(parts: tuple[float, float, float]) -> str:
    held, resting, _ = parts
    if not resting:
        return f"is {money(held)}"
    return f"can reach {money(held + resting)} (positions {money(held)} + resting orders {money(resting)})"


def _resting_breaches(tables: LimitTables, s: Snapshot, now_ms: int) -> list[BookBreach]:
    """What each open order of a snapshot would break were it sent now, in every scope that binds it."""
    out: list[BookBreach] = []
    account = account_key(s)
    for o in s.orders:
        order = LimitOrder.resting(o, account)
        for sl in tables.binding(account, o.strategy, o.symbol, now_ms):
            if not sl.usage.known:
                continue
            for b in breaches_in(sl.limits, order, sl.usage, tables.marks_of(account), now_ms, resting=True):
                if b.code == OPEN_ORDERS:
                    continue  # the scope's counts are said once above, not once per order
                out.append(BookBreach(sl.policy, sl.scope, account, b, o.id))
    return out


__all__ = ["BookBreach", "LimitTables", "LimitUsage", "ScopeLimits", "book_breaches", "limit_tables", "usage_rows"]
