"""Sliding windows over time, updated incrementally: never a rescan of the history.

- :class:`MaxWindow`: the maximum of a series over the last ``window`` (monotonic deque,
  amortized O(1) per sample), with the sample times for coverage kept as runs of evenly spaced
  times (a tick every interval is one run, whatever the window's length).
- :class:`SumWindow`: running sums (and sums of squares) over the last ``window``, O(1).
- :class:`SortedWindow`: samples kept sorted for quantiles, O(log n) search and O(n) memmove
  per sample, n being the samples inside the window (small: one per tick or per horizon).

Times are integer milliseconds. Every window serializes to plain JSON lists so that state can
be persisted and reloaded with nothing lost. The states the windowed kinds keep over them
(:mod:`.kinds`: equity drawdown's :class:`EquityWindow`, sampled :class:`Returns`, the API calls'
:class:`ApiStats`) are here too, saved in the form the engine always saved them in; a kind
imports this module on a signal's first tick (:func:`.kinds._windowed.windows`), so ``ksctl
validate``, which evaluates nothing, never compiles it.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any, Optional, cast


class MaxWindow:
    __slots__ = ("window", "peaks", "runs")

    def __init__(self, window_ms: int):
        self.window = window_ms
        self.peaks: deque[tuple[int, float]] = deque()  # (ts, value), values strictly decreasing
        # the times of every sample inside the window (for coverage), oldest first, as runs
        # [first ts, step, count]: samples at first, first + step, … (count of them)
        self.runs: deque[list[int]] = deque()

    def push(self, ts: int, value: float) -> None:
        peaks = self.peaks
        while peaks and peaks[-1][1] <= value:
            peaks.pop()
        peaks.append((ts, value))
        self._time(ts)
        self.expire(ts)

    def expire(self, now: int) -> None:
        cutoff = now - self.window
        peaks, runs = self.peaks, self.runs
        while peaks and peaks[0][0] < cutoff:
            peaks.popleft()
        while runs:
            first, step, count = runs[0]
            if first >= cutoff:
                break
            if first + step * (count - 1) < cutoff:
                runs.popleft()
                continue
            k = -((first - cutoff) // step)  # samples before the cutoff (step > 0 here)
            runs[0] = [first + k * step, step, count - k]
            break

    def oldest(self) -> int | None:
        """The time of the oldest sample inside the window, if any."""
        return self.runs[0][0] if self.runs else None

    def max(self) -> float | None:
        return self.peaks[0][1] if self.peaks else None

    def coverage(self, now: int, unknown_ms: float = 0.0) -> float:
        """Fraction of the window covered: from the oldest sample in it to now, less the time
        during which the value was unknown (``unknown_ms``, summed by the caller)."""
        if self.window <= 0:
            return 1.0
        self.expire(now)
        if not self.runs:
            return 0.0
        return max(0.0, min(1.0, (now - self.runs[0][0] - unknown_ms) / self.window))

    def to_json(self) -> list[Any]:
        # [window, peaks, [oldest sample time], runs]: the third item keeps the shape of the
        # list of sample times saved before the runs, so that an older runner still loads it
        # (it then sees one sample, the oldest, and its coverage refills over a window)
        oldest = self.oldest()
        return [self.window, [list(p) for p in self.peaks], [] if oldest is None else [oldest],
                [list(r) for r in self.runs]]

    @classmethod
    def from_json(cls, data: list[Any]) -> "MaxWindow":
        w = cls(data[0])
        w.peaks.extend(tuple(p) for p in data[1])
        if len(data) > 3:
            w.runs.extend(list(r) for r in data[3])
        else:  # saved as a list of sample times
            for ts in data[2]:
                w._time(ts)
        return w

    def _time(self, ts: int) -> None:
        runs = self.runs
        last = runs[-1] if runs else None
        if last is not None and last[2] == 1 and ts >= last[0]:
            last[1], last[2] = ts - last[0], 2
        elif last is not None and ts == last[0] + last[1] * last[2]:
            last[2] += 1
        else:
            runs.append([ts, 0, 1])


class SumWindow:
    __slots__ = ("window", "items", "total", "total_sq")

    def __init__(self, window_ms: int):
        self.window = window_ms
        self.items: deque[tuple[int, float]] = deque()  # (ts, value)
        self.total = 0.0
        self.total_sq = 0.0

    def push(self, ts: int, value: float) -> None:
        self.items.append((ts, value))
        self.total += value
        self.total_sq += value * value
        self.expire(ts)

    def expire(self, now: int) -> None:
        cutoff = now - self.window
        items = self.items
        while items and items[0][0] < cutoff:
            _, v = items.popleft()
            self.total -= v
            self.total_sq -= v * v
        if not items:  # forget accumulated rounding when empty
            self.total = self.total_sq = 0.0

    def __len__(self) -> int:
        return len(self.items)

    def stdev(self) -> float | None:
        n = len(self.items)
        if n < 2:
            return None
        mean = self.total / n
        var = max(0.0, (self.total_sq - n * mean * mean) / (n - 1))
        return cast(float, var ** 0.5)  # var >= 0, so the power is real

    def to_json(self) -> list[Any]:
        # the running sums travel as they are: recomputing them would differ in the last bits
        return [self.window, [list(i) for i in self.items], self.total, self.total_sq]

    @classmethod
    def from_json(cls, data: list[Any]) -> "SumWindow":
        w = cls(data[0])
        w.items.extend((ts, v) for ts, v in data[1])
        w.total, w.total_sq = data[2], data[3]
        return w


class SortedWindow:
    __slots__ = ("window", "items", "ordered")

    def __init__(self, window_ms: int):
        self.window = window_ms
        self.items: deque[tuple[int, float]] = deque()  # (ts, value) in time order
        self.ordered: list[float] = []  # the same values, sorted

    def push(self, ts: int, value: float) -> None:
        self.items.append((ts, value))
        bisect.insort(self.ordered, value)
        self.expire(ts)

    def expire(self, now: int) -> None:
        cutoff = now - self.window
        items, ordered = self.items, self.ordered
        while items and items[0][0] < cutoff:
            _, v = items.popleft()
            del ordered[bisect.bisect_left(ordered, v)]

    def __len__(self) -> int:
        return len(self.items)

    def quantile(self, q: float) -> float | None:
        """The nearest-rank ``q`` quantile (0 < q ≤ 1)."""
        n = len(self.ordered)
        if n == 0:
            return None
        k = min(n - 1, max(0, math.ceil(q * n - 1e-9) - 1))  # nearest rank; 0.05 * 20 is rank 1, not 2
        return self.ordered[k]

    def to_json(self) -> list[Any]:
        return [self.window, [list(i) for i in self.items]]

    @classmethod
    def from_json(cls, data: list[Any]) -> "SortedWindow":
        w = cls(data[0])
        for ts, v in data[1]:
            w.items.append((ts, v))
        w.ordered = sorted(v for _, v in w.items)
        return w


class EquityWindow:
    """Rolling maximum of equity, and the time within the window when equity was unknown."""

    def __init__(self, window_ms: int):
        self.w = MaxWindow(window_ms)
        self.unknown = SumWindow(window_ms)
        self.last_ms: Optional[int] = None

    def tick(self, now: int, equity: Optional[float]) -> None:
        if equity is None:
            if self.last_ms is not None:
                self.unknown.push(now, now - self.last_ms)
            self.w.expire(now)
        else:
            self.w.push(now, equity)
        self.unknown.expire(now)
        self.last_ms = now

    def to_json(self) -> list[Any]:
        return [self.w.to_json(), self.unknown.to_json(), self.last_ms]

    @classmethod
    def from_json(cls, d: list[Any]) -> EquityWindow:
        s = cls.__new__(cls)
        s.w, s.unknown, s.last_ms = MaxWindow.from_json(d[0]), SumWindow.from_json(d[1]), d[2]
        return s


class Returns:
    """Equity sampled every ``sample_ms``; log returns kept over the window (sum or sorted)."""

    def __init__(self, window_ms: int, sample_ms: int, sorted_: bool):
        self.sample_ms = sample_ms
        self.last: Optional[list[float]] = None  # [ts, equity] of the last sample
        self.w: SortedWindow | SumWindow = SortedWindow(window_ms) if sorted_ else SumWindow(window_ms)

    def push(self, now: int, equity: float) -> None:
        if self.last is None:
            self.last = [now, equity]
            return
        if now - self.last[0] < self.sample_ms:
            self.w.expire(now)
            return
        prev = self.last[1]
        if prev > 0 and equity > 0:
            self.w.push(now, math.log(equity / prev))
        self.last = [now, equity]

    def to_json(self) -> list[Any]:
        return [self.sample_ms, self.last, isinstance(self.w, SortedWindow), self.w.to_json()]

    @classmethod
    def from_json(cls, d: list[Any]) -> Returns:
        s = cls.__new__(cls)
        s.sample_ms, s.last = d[0], d[1]
        s.w = SortedWindow.from_json(d[3]) if d[2] else SumWindow.from_json(d[3])
        return s


class ApiStats:
    """The exchange calls, the failed ones and the calls' latencies (s) over the window."""

    def __init__(self, window_ms: int):
        self.calls = SumWindow(window_ms)
        self.failed = SumWindow(window_ms)
        self.latency = SortedWindow(window_ms)

    def push(self, snapshots: Any, now: int) -> None:
        """This tick's calls of the scope's accounts (a snapshot is at least one round trip: a
        failed one counts as a failed call), and the windows expired to ``now``."""
        calls = failed = 0
        for s in snapshots:
            calls += max(s.fetch.calls, 1)
            failed += max(s.fetch.failed_calls, 0 if s.fetch.ok else 1)
            if s.fetch.latency_ms is not None:
                self.latency.push(now, s.fetch.latency_ms / 1000.0)
        if calls:
            self.calls.push(now, calls)
            self.failed.push(now, failed)
        self.calls.expire(now)
        self.failed.expire(now)
        self.latency.expire(now)

    def to_json(self) -> list[Any]:
        return [self.calls.to_json(), self.failed.to_json(), self.latency.to_json()]

    @classmethod
    def from_json(cls, d: list[Any]) -> ApiStats:
        s = cls.__new__(cls)
        s.calls, s.failed, s.latency = (SumWindow.from_json(d[0]), SumWindow.from_json(d[1]),
                                        SortedWindow.from_json(d[2]))
        return s
