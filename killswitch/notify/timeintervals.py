"""Named time intervals of a routes document, compiled to a question: does it contain this instant?

Semantics of Alertmanager's ``time_interval``: a named interval holds at an instant when one of
its periods does; a period holds when every field it gives holds, in its ``location`` (an IANA
zone through :mod:`zoneinfo`, UTC if left out): ``times`` (start inclusive, end exclusive),
``weekdays``, ``days_of_month`` (negative counts from the month's end), ``months``, ``years``;
a field left out holds always. A route with ``mute_time_intervals`` sends nothing while one of
them holds; one with ``active_time_intervals`` sends only while one of them holds; mute wins.
The syntax is parsed by :mod:`killswitch.policy.times`, so what validates is what runs.

Reads the zone database (:mod:`killswitch.zones`) when compiled; no other I/O, no clock.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Mapping, Sequence

from ..policy import times as syntax
from ..policy.model import TimeInterval, TimeSpec
from ..zones import zone


@dataclass(frozen=True)
class Period:
    zone: tzinfo
    times: tuple[tuple[int, int], ...]  # minutes of the day, [start, end)
    weekdays: tuple[tuple[int, int], ...]  # inclusive, Monday 0
    days_of_month: tuple[tuple[int, int], ...]  # inclusive, negative from the end
    months: tuple[tuple[int, int], ...]
    years: tuple[tuple[int, int], ...]

    def contains(self, ms: int) -> bool:
        t = datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(self.zone)
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


def _day(d: int, last: int) -> int:
    return min(d, last) if d > 0 else max(1, last + d + 1)


@dataclass(frozen=True)
class NamedInterval:
    name: str
    periods: tuple[Period, ...]

    def contains(self, ms: int) -> bool:
        return any(p.contains(ms) for p in self.periods)


def _period(spec: TimeSpec) -> Period:
    return Period(zone(spec.location), tuple(syntax.parse_times(r.start_time, r.end_time) for r in spec.times),
                  tuple(map(syntax.parse_weekdays, spec.weekdays)),
                  tuple(map(syntax.parse_days_of_month, spec.days_of_month)),
                  tuple(map(syntax.parse_months, spec.months)), tuple(map(syntax.parse_years, spec.years)))


def compile_intervals(docs: Sequence[TimeInterval]) -> dict[str, NamedInterval]:
    return {d.name: NamedInterval(d.name, tuple(_period(p) for p in d.time_intervals)) for d in docs}


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
