"""The routes' named time intervals built from their document: each period parsed by the policy's
own parsers and its ``location`` read from the zone database (:mod:`killswitch.zones`; UTC if
left out). What an interval means at an instant is :mod:`killswitch.policy.time_intervals`'.

Reads the zone database when building; no other I/O, no clock.
"""

from __future__ import annotations

from typing import Sequence

from ..policy.routes_doc import TimeInterval, TimeSpec
from ..policy.time_intervals import (
    NamedInterval,
    Period,
    parse_days_of_month,
    parse_months,
    parse_times,
    parse_weekdays,
    parse_years,
)
from ..zones import zone


def _period(spec: TimeSpec) -> Period:
    return Period(zone(spec.location), tuple(parse_times(r.start_time, r.end_time) for r in spec.times),
                  tuple(map(parse_weekdays, spec.weekdays)), tuple(map(parse_days_of_month, spec.days_of_month)),
                  tuple(map(parse_months, spec.months)), tuple(map(parse_years, spec.years)))


def compile_intervals(docs: Sequence[TimeInterval]) -> dict[str, NamedInterval]:
    """Every named interval of the document by name, its periods' zones read once, here."""
    return {d.name: NamedInterval(d.name, tuple(_period(p) for p in d.time_intervals)) for d in docs}
