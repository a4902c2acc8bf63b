"""The violations counted: the gate's refusals and the venue watch's violations, per account,
strategy, symbol and code, over a window; what ``gate_refusals`` and ``venue_violations`` read.

What it owns: :class:`Tally`, kept in the engine's state (saved with it at every tick, restored
at a start or a takeover: the counts are durable facts, not a cache), its keys
(:data:`GATE`, :data:`VENUE`: where a violation was seen), and :meth:`Tally.count`, a count over
a window for what one scope instance owns. The runner counts between two ticks in memory
(``killswitch/runner/gate/refusals.py``) and hands the counts in before the tick's evaluation
(:meth:`Tally.add`): one dict update a tick, no row per refusal.

Fail closed. A count is blind (None and a reason), never zero, when what it covers is not known:

- ``UNCOUNTED``: counting began (:attr:`Tally.since_ms`: the first tick that counted, kept across
  restarts) after the window's start — a first start, a state saved before the counts were kept;
- ``TALLY_FULL``: a key was dropped for want of room (:data:`MAX_KEYS`) within the window.

A count older than :data:`MAX_WINDOW_MS` is forgotten: no window may be longer. A count is kept
to the second, rounded up (:data:`BUCKET_MS`): a window holds what came in its length and at
most one second before, never less.

Pure: no I/O, no clock (``now`` is the tick's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping, Optional

from ..figures import iso

GATE = "gate"  # a refusal of POST /v1/check-order
VENUE = "venue"  # an order or a growth at the venue that broke a lock or a limit (the venue watch)
SOURCES = (GATE, VENUE)
MAX_WINDOW_MS = 3_600_000  # the longest window a count may be read over
MAX_KEYS = 4096  # distinct (source, account, strategy, symbol, code) kept
BUCKET_MS = 1_000  # counts are kept to the second, rounded up
SHOWN = 20  # the keys status shows, most counted first

# (source, account "venue/account" or "" when the refusal named none, strategy or "-", symbol, code);
# a refusal of several limits at once holds each one's code, joined: ``PRICE_COLLAR+POSITION_LIMIT``
Key = tuple[str, str, str, str, str]
CODES_JOINED = "+"


@dataclass
class Tally:
    """Counts by key, each as ``[[ts_ms, n], ...]`` oldest first; ``since_ms``: when counting
    began (None: not yet); ``full_ms``: the last time a key was dropped for want of room."""

    counts: dict[Key, list[list[int]]] = field(default_factory=dict)
    since_ms: Optional[int] = None
    full_ms: Optional[int] = None

    def add(self, counted: Mapping[Key, int], now: int, dropped: bool = False) -> None:
        """The counts of one tick (since the last), stamped ``now``; the counts older than the
        longest window forgotten. Counting begins at the first call, even an empty one.
        ``dropped``: the runner could not keep a count for want of room (blind as a full tally)."""
        if self.since_ms is None:
            self.since_ms = now
        if dropped:
            self.full_ms = now
        self.prune(now)
        for key, n in counted.items():
            if n <= 0:
                continue
            buckets = self.counts.get(key)
            if buckets is None:
                if len(self.counts) >= MAX_KEYS:
                    self.full_ms = now
                    continue
                buckets = self.counts[key] = []
            at = -(-now // BUCKET_MS) * BUCKET_MS  # to the second, rounded up
            if buckets and buckets[-1][0] >= at:
                buckets[-1][1] += int(n)
            else:
                buckets.append([at, int(n)])

    def prune(self, now: int) -> None:
        oldest = now - MAX_WINDOW_MS
        for key in list(self.counts):
            buckets = self.counts[key]
            cut = 0
            while cut < len(buckets) and buckets[cut][0] <= oldest:
                cut += 1
            if cut == len(buckets):
                del self.counts[key]
            elif cut:
                del buckets[:cut]

    def blind(self, window_ms: int, now: int) -> Optional[str]:
        """Why a count over ``window_ms`` up to ``now`` cannot be told, or None."""
        start = now - window_ms
        if self.since_ms is None or self.since_ms > start:
            since = "not yet" if self.since_ms is None else f"since {iso(self.since_ms)}"
            return (f"UNCOUNTED: violations counted {since}, after the window's start "
                    f"({window_ms // 1000}s before the tick)")
        if self.full_ms is not None and self.full_ms > start:
            return f"TALLY_FULL: more than {MAX_KEYS} keys counted; one was dropped within the window"
        return None

    def count(self, source: str, window_ms: int, now: int, owns: Callable[[Key], bool],
              codes: Optional[Collection[str]] = None) -> tuple[Optional[float], Optional[str]]:
        """How many of ``source``'s violations whose key ``owns`` and whose code is one of
        ``codes`` (None: any; a key of several codes counts once when one of them is) were counted
        in the ``window_ms`` up to ``now``; None and the reason when that cannot be told (see the
        module doc)."""
        why = self.blind(window_ms, now)
        if why is not None:
            return None, why
        wanted = None if codes is None else frozenset(codes)
        start = now - window_ms
        total = 0
        for key, buckets in self.counts.items():
            if key[0] != source or (wanted is not None and wanted.isdisjoint(key[4].split(CODES_JOINED))) \
                    or not owns(key):
                continue
            total += sum(n for ts, n in buckets if ts > start)
        return float(total), None

    def totals(self, window_ms: int, now: int) -> dict[Key, int]:
        """Every key's count over the ``window_ms`` up to ``now`` (those above 0)."""
        start = now - window_ms
        out = {}
        for key, buckets in self.counts.items():
            n = sum(c for ts, c in buckets if ts > start)
            if n:
                out[key] = n
        return out

    def shown(self, now: int, latest: int = SHOWN, *, read: bool = True) -> dict[str, Any]:
        """What status shows: when counting began, whether the last 5 minutes are blind (and why:
        only when a running policy reads the counts (``read``), else nothing is blind for it), and the
        ``latest`` keys with the most counted in them, with their count over the last minute and
        the last 5 (most first)."""
        five = self.totals(300_000, now)
        one = self.totals(60_000, now)
        rows = sorted(five.items(), key=lambda kv: (-kv[1], kv[0]))[:latest]
        return {"since_ms": self.since_ms, "blind": self.blind(300_000, now) if read else None,
                "keys": len(five),
                "counts": [{"source": k[0], "account": k[1], "strategy": k[2], "symbol": k[3], "code": k[4],
                            "last_1m": one.get(k, 0), "last_5m": n} for k, n in rows]}

    def to_json(self) -> dict[str, Any]:
        return {"since_ms": self.since_ms, "full_ms": self.full_ms,
                "counts": [[*key, [list(b) for b in buckets]] for key, buckets in sorted(self.counts.items())]}

    @classmethod
    def from_json(cls, d: Optional[Mapping[str, Any]]) -> "Tally":
        """The tally a state document holds; a document without one (saved before the counts
        were kept) gives an empty tally that has not begun counting."""
        if not d:
            return cls()
        counts: dict[Key, list[list[int]]] = {}
        for row in d.get("counts", []):
            key = (str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]))
            counts[key] = [[int(ts), int(n)] for ts, n in row[5]]
        return cls(counts, d.get("since_ms"), d.get("full_ms"))


__all__ = ["BUCKET_MS", "GATE", "Key", "MAX_KEYS", "MAX_WINDOW_MS", "SOURCES", "VENUE", "Tally"]
