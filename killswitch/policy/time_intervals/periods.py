"""What a named time interval means at an instant, and the next instant that changes.

Semantics (Alertmanager's): a named interval holds at an instant when one of its periods does; a
period holds when every field it gives holds, in its zone: ``times`` (start inclusive, end
exclusive), ``weekdays``, ``days_of_month`` (negative counts from the month's end), ``months``,
``years``; a field left out holds always. A route with ``mute_time_intervals`` sends nothing
while one of them holds; one with ``active_time_intervals`` sends only while one of them holds;
mute wins (:func:`silenced_by`). A policy's window (:class:`Window`: ``during:`` or ``outside:``
named intervals) is open while one of them holds, or while none does.

Edges: whether a period holds can change only where its zone's wall clock reaches one of its
boundaries (a ``times`` start or end, or midnight, where a day, month or year changes) or where
the zone's offset changes (daylight saving: the wall clock jumps, forward over a gap or back over
an hour it repeats). :func:`next_change` steps from one such instant to the next, so it visits a
few instants a day rather than every minute; a :class:`Window` keeps the answer until its edge,
so a tick asks the intervals again only once the window may have changed.

Pure: no I/O, no clock. A period's zone is handed in as a ``tzinfo``: the zone database is read
by whoever builds the periods (:mod:`.build`, handed the lookup).
"""

from __future__ import annotations

import calendar
from dataclasses import field
from datetime import datetime, timezone, tzinfo
from typing import Mapping, Optional, Sequence

from ...records import record

DAY_MS = 86_400_000
# how far ahead an edge is looked for; a window that does not change within it says so
HORIZON_MS = 400 * DAY_MS


def _local(ms: int, zone: tzinfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(zone)


@record
class Period:
    """One period of a named time interval, in its time zone: the ranges it holds (empty: any)."""

    zone: tzinfo
    times: tuple[tuple[int, int], ...]  # minutes of the day, [start, end)
    weekdays: tuple[tuple[int, int], ...]  # inclusive, Monday 0
    days_of_month: tuple[tuple[int, int], ...]  # inclusive, negative from the end
    months: tuple[tuple[int, int], ...]
    years: tuple[tuple[int, int], ...]

    def contains(self, ms: int) -> bool:
        t = _local(ms, self.zone)
        minute = t.hour * 60 + t.minute
        if self.times and not any(a <= minute < b for a, b in self.times):
            return False
        if self.weekdays and not any(a <= t.weekday() <= b for a, b in self.weekdays):
            return False
        if self.days_of_month:
            last = calendar.monthrange(t.year, t.month)[1]
            if not any(_day(a, last) <= t.day <= _day(b, last) for a, b in self.days_of_month):
                return False
        if self.months and not any(a <= t.month <= b for a, b in self.months):
            return False
        return not self.years or any(a <= t.year <= b for a, b in self.years)

    def offset_ms(self, ms: int) -> int:
        """The zone's offset from UTC at the instant ``ms``."""
        if self.zone is timezone.utc:
            return 0
        off = _local(ms, self.zone).utcoffset()
        return 0 if off is None else off.days * DAY_MS + off.seconds * 1000 + off.microseconds // 1000

    def next_candidate(self, ms: int) -> int:
        """The first instant after ``ms`` at which this period may start or stop holding: its next
        boundary on the zone's wall clock, or a change of the zone's offset before it."""
        off = self.offset_ms(ms)
        of_day = (ms + off) % DAY_MS
        bounds = sorted({0, *(m for r in self.times for m in r)})
        nxt = next((m * 60_000 for m in bounds if m * 60_000 > of_day), DAY_MS)
        cand = ms + nxt - of_day
        if self.offset_ms(cand) != off:  # the wall clock jumps before it: the jump is the candidate
            cand = self._offset_change(ms, cand, off)
        return cand

    def _offset_change(self, lo: int, hi: int, off: int) -> int:
        """The first whole second in (lo, hi] whose offset is not ``off`` (zones change on seconds)."""
        lo_s, hi_s = lo // 1000, -(-hi // 1000)
        while hi_s - lo_s > 1:
            mid = (lo_s + hi_s) // 2
            if self.offset_ms(mid * 1000) == off:
                lo_s = mid
            else:
                hi_s = mid
        return max(hi_s * 1000, lo + 1)


def _day(d: int, last: int) -> int:
    return min(d, last) if d > 0 else max(1, last + d + 1)


@record
class NamedInterval:
    """A named time interval: the union of its periods."""

    name: str
    periods: tuple[Period, ...]

    def contains(self, ms: int) -> bool:
        return any(p.contains(ms) for p in self.periods)


def holds_any(intervals: Sequence[NamedInterval], ms: int) -> bool:
    return any(iv.contains(ms) for iv in intervals)


def next_change(intervals: Sequence[NamedInterval], ms: int, horizon_ms: int = HORIZON_MS) -> Optional[int]:
    """The first instant after ``ms`` at which whether one of ``intervals`` holds changes; None
    when it does not change within ``horizon_ms``."""
    periods = [p for iv in intervals for p in iv.periods]
    if not periods:
        return None
    now = any(p.contains(ms) for p in periods)
    t, end = ms, ms + horizon_ms
    while True:
        t = min(p.next_candidate(t) for p in periods)
        if t > end:
            return None
        if any(p.contains(t) for p in periods) != now:
            return t


class _Memo:
    """A window's last answer, one tuple replaced whole (a reader on another thread sees the old
    answer or the new one, never half of each): (from, until, open, edge)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: tuple[int, int, bool, Optional[int]] = (0, 0, False, None)


@record
class Window:
    """``during:`` (open while one of the named intervals holds) or ``outside:`` (open while none
    does), compiled. :meth:`at` answers from the last answer until its edge, so a tick reads the
    intervals again only when the window may have changed."""

    kind: str  # during | outside
    names: tuple[str, ...]
    intervals: tuple[NamedInterval, ...]
    memo: _Memo = field(default_factory=_Memo, compare=False, repr=False)

    def at(self, ms: int) -> tuple[bool, Optional[int]]:
        """Whether the window is open at ``ms``, and the next instant that changes (None: not
        within :data:`HORIZON_MS`)."""
        lo, hi, open_, edge = self.memo.value
        if lo <= ms < hi:
            return open_, edge
        inside = holds_any(self.intervals, ms)
        open_ = inside if self.kind == "during" else not inside
        edge = next_change(self.intervals, ms)
        self.memo.value = (ms, edge if edge is not None else ms + HORIZON_MS, open_, edge)
        return open_, edge

    def is_open(self, ms: int) -> bool:
        return self.at(ms)[0]

    @property
    def text(self) -> str:
        """``during weekend, funding``: as the policy writes it."""
        return f"{self.kind} {', '.join(self.names)}"

    @property
    def zone(self) -> tzinfo:
        """The zone its times are shown in: its first interval's first period's."""
        return self.intervals[0].periods[0].zone

    def when(self, ms: int, now_ms: int) -> str:
        """An instant as a person reads it in the window's zone: ``Sat 00:00 UTC`` within the next
        six days, ``Sat 2026-12-05 00:00 UTC`` beyond."""
        t = _local(ms, self.zone)
        day = "%a" if ms - now_ms < 6 * DAY_MS else "%a %Y-%m-%d"
        return t.strftime(f"{day} %H:%M ") + (t.tzname() or "UTC")


def silenced_by(mute: Sequence[str], active: Sequence[str], intervals: Mapping[str, NamedInterval], ms: int
                ) -> str | None:
    """Why a route sends nothing at ``ms`` (``mute_time_intervals: nights``, ``outside
    active_time_intervals: desk-hours``), or None when it sends. An unknown name (reported by
    the compiler) neither mutes nor activates."""
    for name in mute:
        iv = intervals.get(name)
        if iv is not None and iv.contains(ms):
            return f"mute_time_intervals: {name}"
    known = [intervals[n] for n in active if n in intervals]
    if known and not any(iv.contains(ms) for iv in known):
        return "outside active_time_intervals: " + ", ".join(active)
    return None
