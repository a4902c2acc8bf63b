"""Named time intervals built from their documents: each period parsed by :mod:`.syntax`'s
parsers, its ``location`` turned into a ``tzinfo`` by the zone lookup handed in
(:func:`killswitch.zones.zone` where the zone database is read: the notification sink, the
compiler's callers); UTC if left out. What an interval means at an instant is :mod:`.periods`'.

Pure: the zone database is read only through the lookup handed in.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Callable, Optional, Sequence

from .model import TimeInterval, TimeSpec
from .periods import NamedInterval, Period
from .syntax import parse_days_of_month, parse_months, parse_times, parse_weekdays, parse_years

ZoneLookup = Callable[[Optional[str]], tzinfo]  # a location (None: UTC) → its zone; ValueError if unknown


def known_by(zone: ZoneLookup) -> Callable[[str], bool]:
    """Whether ``zone`` knows a location name (looks it up without a ValueError)."""

    def known(name: str) -> bool:
        try:
            zone(name)
        except ValueError:
            return False
        return True

    return known


def period(spec: TimeSpec, zone: ZoneLookup) -> Period:
    return Period(zone(spec.location), tuple(parse_times(r.start_time, r.end_time) for r in spec.times),
                  tuple(map(parse_weekdays, spec.weekdays)), tuple(map(parse_days_of_month, spec.days_of_month)),
                  tuple(map(parse_months, spec.months)), tuple(map(parse_years, spec.years)))


def compile_intervals(docs: Sequence[TimeInterval], zone: ZoneLookup) -> dict[str, NamedInterval]:
    """Every named interval of a document by name, its periods' zones looked up once, here."""
    return {d.name: NamedInterval(d.name, tuple(period(p, zone) for p in d.time_intervals)) for d in docs}
