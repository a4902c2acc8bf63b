"""What the pre-trade gate's limits keep between requests: each strategy's message bucket, and the
limit tables of the last snapshots.

What it owns: :class:`MessageBuckets` (a token bucket per policy, scope and strategy, refilled
at the policy's rate up to its burst; bounded in number) and :class:`LimitsState`, which makes the
tables (:func:`killswitch.engine.limit_tables.limit_tables`) once per graph and set of snapshots
and hands them with the buckets to the gate (:class:`GateLimits`); the limits in force with their
usage as the lock document shows them (:func:`limits_doc`).

The bound: at most ``max_buckets`` buckets are kept. A bucket full again (idle for its burst's
worth of time) is the same as a new one, so those are let go first; when every bucket kept is
still refilling and a new strategy asks, it is refused (``MESSAGE_RATE: ... buckets full``)
rather than let a bucket that still holds back a strategy be forgotten.

Threads: the gate answers on the API's thread and on the runner's loop; a check reads the
buckets, then spends them, as one step under :attr:`MessageBuckets.lock` (held by the gate, see
:func:`killswitch.runner.gate.limits.within_limits`), so no token is spent twice or lost.

Must not: read the clock (the gate's ``now_ms`` is handed to every call), or do I/O.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional

from ...engine.limit_tables import LimitTables, LimitUsage, limit_tables, usage_rows
from ...overrides import Override, OverrideIndex

MAX_BUCKETS = 10_000
MAX_REFUSED = 10_000  # the refused orders remembered by client order id (the oldest let go first)
BucketKey = tuple[str, str, str]  # (policy, scope instance, strategy)


@dataclass
class _Bucket:
    tokens: float
    at_ms: int


class MessageBuckets:
    """Token buckets by (policy, scope, strategy). ``level`` reads one; ``take`` spends a token
    of each bucket of an allowed order. Times are the caller's (UTC ms). ``lock``: held by
    whoever reads and spends them as one step (the gate)."""

    def __init__(self, max_buckets: int = MAX_BUCKETS):
        self.max_buckets = max_buckets
        self.lock = threading.Lock()
        self._buckets: dict[BucketKey, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def level(self, key: BucketKey, rate: float, burst: int, now_ms: int) -> Optional[float]:
        """The tokens of ``key``'s bucket at ``now_ms`` (a bucket not kept is full); None when it
        is not kept and there is no room for it (every bucket kept still refilling)."""
        b = self._buckets.get(key)
        if b is None:
            return float(burst) if self._room(now_ms, rate, burst) else None
        elapsed = max(0, now_ms - b.at_ms)  # a clock that went back refills nothing
        return min(float(burst), b.tokens + elapsed * rate / 1000.0)

    def take(self, key: BucketKey, rate: float, burst: int, now_ms: int) -> None:
        tokens = self.level(key, rate, burst, now_ms)
        if tokens is None:
            return
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(float(burst), now_ms)
        b.tokens = max(0.0, tokens - 1.0)
        b.at_ms = max(b.at_ms, now_ms)

    def _room(self, now_ms: int, rate: float, burst: int) -> bool:
        if len(self._buckets) < self.max_buckets:
            return True
        # let go of the buckets full again: forgetting them changes nothing
        self._buckets = {k: b for k, b in self._buckets.items()
                         if b.tokens + max(0, now_ms - b.at_ms) * rate / 1000.0 < burst}
        return len(self._buckets) < self.max_buckets


class Refusals:
    """What the gate's limits refused and released, by client order id, kept between checks
    (read and written under the buckets' lock, the gate's one step): ``refused``, the scope
    instances whose limits refused an order (the latest :data:`MAX_REFUSED`), so that an override
    releases only an order that was refused; ``used``, the order releases spent (override id →
    when), so that one passes once, before the runner ends it at its next tick."""

    def __init__(self, max_refused: int = MAX_REFUSED):
        self.max_refused = max_refused
        self.refused: OrderedDict[str, tuple[frozenset[str], int]] = OrderedDict()
        self.used: dict[str, int] = {}

    def refuse(self, client_id: str, scopes: Iterable[str], now_ms: int) -> None:
        old = self.refused.pop(client_id, None)
        self.refused[client_id] = ((old[0] if old else frozenset()) | frozenset(scopes), now_ms)
        while len(self.refused) > self.max_refused:
            self.refused.popitem(last=False)


@dataclass
class GateLimits:
    """What the gate checks limits with: the tables of the last snapshots, the buckets, the
    overrides in force (by scope instance) and what was refused and released."""

    tables: LimitTables
    buckets: MessageBuckets
    overrides: OverrideIndex = field(default_factory=OverrideIndex)
    refusals: Optional[Refusals] = None


class LimitsState:
    """The limits part of the runner: the buckets (kept across graphs: a reload does not give a
    strategy a fresh burst) and the tables, made again when the graph or the snapshots change."""

    def __init__(self, max_buckets: int = MAX_BUCKETS):
        self.buckets = MessageBuckets(max_buckets)
        # the overrides in force, replaced whole by the runner's overrides part at each change
        self.overrides = OverrideIndex()
        self.refusals = Refusals()
        self.released: frozenset[str] = frozenset()  # client order ids an override released (the watch leaves them)
        self.listed: tuple[Override, ...] = ()  # every override the runner holds, oldest first (status, console)
        self._made: Optional[tuple[Any, Any, LimitTables]] = None
        self._sets: tuple[Any, bool] = (None, False)  # (graph, whether a policy of it sets limits)
        self._rows: Optional[tuple[LimitTables, list[LimitUsage]]] = None

    def tables(self, graph: Any, snapshots: Mapping[str, Any]) -> LimitTables:
        made = self._made
        if made is None or made[0] is not graph or made[1] is not snapshots:
            made = self._made = (graph, snapshots, limit_tables(graph, list(snapshots.values())))
        return made[2]

    def doc(self, graph: Any, snapshots: Mapping[str, Any], scope: Optional[str] = None) -> list[dict[str, Any]]:
        """:func:`limits_doc` of the tables of ``snapshots``, their usage rows made once (bots poll
        the lock document)."""
        tables = self.tables(graph, snapshots)
        if self._rows is None or self._rows[0] is not tables:
            self._rows = (tables, usage_rows(tables))
        return limits_doc(graph, tables, scope, self._rows[1])

    def for_gate(self, graph: Any, snapshots: Mapping[str, Any]) -> Optional[GateLimits]:
        """None when no policy of ``graph`` sets limits (the gate skips them)."""
        if self._sets[0] is not graph:
            self._sets = (graph, any(p.limits is not None for p in graph.policies))
        if not self._sets[1]:
            return None
        return GateLimits(self.tables(graph, snapshots), self.buckets, self.overrides, self.refusals)


def limits_doc(graph: Any, tables: LimitTables, scope: Optional[str] = None,
               rows: Optional[list[LimitUsage]] = None) -> list[dict[str, Any]]:
    """The limits in force, per policy, with each limit's usage by scope instance (``usage``
    None: an account not read): what the lock document and ``ksctl status`` show. ``scope``: only
    the policies whose limits bind it (an instance of theirs, or an account they select).
    ``rows``: :func:`usage_rows` of ``tables``, when made already."""
    rows = usage_rows(tables) if rows is None else rows
    out = []
    for node in graph.policies:
        if node.limits is None:
            continue
        mine = [r for r in rows if r.policy == node.name and (scope is None or r.scope == scope)]
        if scope is not None and not mine and not any(r.policy is node for r in tables.routes.get(scope, ())):
            continue
        out.append({"policy": node.name, "limits": node.limits.to_doc(),
                    "usage": [_row(r) for r in mine]})
    return out


def _row(r: LimitUsage) -> dict[str, Any]:
    row = {"scope": r.scope, "limit": r.limit, "value": r.value, "usage": r.usage, "unit": r.unit, "symbol": r.symbol}
    if r.limit in EXPOSURE_LIMITS:  # what the positions hold and what the resting orders add
        row["positions"], row["resting"] = (None if x is None else round(x, 8) for x in (r.positions, r.resting))
    return row


EXPOSURE_LIMITS = ("max_position_notional", "max_gross_notional")


__all__ = ["GateLimits", "LimitsState", "MAX_BUCKETS", "MessageBuckets", "Refusals", "limits_doc"]
