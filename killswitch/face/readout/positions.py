"""Positions as an operator reads them: every account's positions from the runner's last
snapshots, with their age, risk scores and the orders resting on them (``GET /v1/positions``,
the console's positions table).

What it owns: :class:`PositionsReadout` — per account (the snapshot's age and fetch status, its
positions, the largest by notional first, at most :data:`MAX_ROWS`), per position its size,
notional, unrealised PnL, liquidation distance (``|mark - liquidation| / mark``), its risk
score, the open orders of its symbol (its leg, in hedge mode) by kind, and the policy instances
that hold it (the scopes a close of it may name, the account's own first); and how many
positions each policy instance holds (a scope that holds none has nothing to close).

A position's risk score is the engine's (:func:`~killswitch.engine.attribution.risk_scores`)
under each policy instance that holds it, from the same snapshots and PnL history a tick reads;
the table shows the highest and whose it is. The scores are worked out once per set of
snapshots (a tick's), not at every read.

Must not: change anything, fetch anything (a standby, which takes no snapshot, lists none), or
show a position of a failed fetch as if it were known.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Optional

from ...engine.attribution import deltas, risk_scores
from ...engine.scope import account_key, instances, position_key
from ...runner.book.view import BookView
from ...snapshot import Position, Snapshot
from ...view import AccountPositions, PositionRow, PositionsStatus

MAX_ROWS = 200  # positions listed per account (the largest by notional); the count says how many there are


def liquidation_distance(p: Position) -> Optional[float]:
    if not p.liquidation_price or p.mark_price <= 0:
        return None
    return abs(p.mark_price - p.liquidation_price) / p.mark_price


class PositionsReadout:
    """See the module doc. ``leader()``: whether this runner leads (takes snapshots)."""

    def __init__(self, book: BookView, clock: Callable[[], int], leader: Callable[[], bool], max_rows: int = MAX_ROWS):
        self.book = book
        self.clock = clock
        self.leader = leader
        self.max_rows = max_rows
        self._scored: tuple[Any, dict[str, tuple[float, str, str]], dict[str, list[str]]] = (None, {}, {})

    def _scores(self) -> tuple[dict[str, tuple[float, str, str]], dict[str, list[str]]]:
        """Per position key: the highest risk score (score, policy, scope) and the instances that
        hold it; worked out again only when the snapshots or the graph change."""
        book = self.book
        key = (id(book.snapshots), book.state.last_tick_ms, book.graph.digest)
        if self._scored[0] == key:
            return self._scored[1], self._scored[2]
        snaps = list(book.snapshots.values())
        best: dict[str, tuple[float, str, str]] = {}
        holders: dict[str, list[str]] = {}
        now = book.state.last_tick_ms if book.state.last_tick_ms is not None else self.clock()
        for node in book.graph.policies:
            for view in instances(node, snaps):
                hist = book.state.pnl.get(node.attribution.reference_window_ms)
                scores = risk_scores(node, view, deltas(node, view, hist, now))
                for (s, p), score in zip(view.positions, scores):
                    k = position_key(s, p)
                    if k not in best or score > best[k][0]:
                        best[k] = (score, node.name, view.key)
                    if view.key not in holders.setdefault(k, []):
                        holders[k].append(view.key)
        self._scored = (key, best, holders)
        return best, holders

    def status(self) -> PositionsStatus:
        now = self.clock()
        best, holders = self._scores()
        accounts = tuple(self._account(s, now, best, holders)
                         for _, s in sorted(self.book.snapshots.items()))
        holding: dict[str, int] = {}
        for scopes in holders.values():
            for scope in scopes:
                holding[scope] = holding.get(scope, 0) + 1
        return PositionsStatus(now, self.leader(), self.max_rows, accounts, dict(sorted(holding.items())))

    def _account(self, s: Snapshot, now: int, best: dict, holders: dict) -> AccountPositions:
        observed = s.ts_observed if s.ts_observed is not None else s.ts_event
        age = max(0.0, (now - observed) / 1000)
        acct = account_key(s)
        if not s.fetch.ok:
            return AccountPositions(acct, False, s.fetch.error_code, observed, age, None, s.quote_currency, 0)
        largest = sorted(s.positions, key=lambda p: (-p.notional, p.symbol))[: self.max_rows]
        rows = []
        for p in largest:
            k = position_key(s, p)
            leg = p.position_side if p.position_side in ("LONG", "SHORT") else None
            resting = [o for o in s.orders if o.symbol == p.symbol
                       and (leg is None or o.position_side in (None, "BOTH", leg))]
            score = best.get(k)
            scopes = sorted(holders.get(k, []), key=lambda sc: (sc != acct, sc))
            rows.append(PositionRow(p.symbol, p.side, p.position_side, p.contracts, p.notional, p.mark_price,
                                    p.unrealized_pnl, p.liquidation_price, liquidation_distance(p),
                                    score[0] if score else None, score[1] if score else None,
                                    score[2] if score else None, len(resting),
                                    dict(sorted(Counter(o.kind for o in resting).items())),
                                    sum(1 for o in resting if o.reduce_only), tuple(scopes)))
        return AccountPositions(acct, True, None, observed, age, s.equity, s.quote_currency, len(s.positions),
                                tuple(rows))
