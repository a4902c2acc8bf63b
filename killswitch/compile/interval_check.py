"""The compiler's checks of named time intervals: a document's list (a routes document's or a
policy's: :func:`check_interval_list`), and a NotificationRoutes document's routes that use them
(each item's syntax is the models', by :mod:`killswitch.policy.time_intervals`; a policy's
windows that name them are :mod:`.windows`').

What it owns: unique interval names; time zones the zone database knows (through the lookup the
caller hands over, once, as Alertmanager checks them at load; without one, zones are not judged
here); routes
naming only declared intervals, never on the root route; and a warning (KS131) where a route
that can carry critical pages (a halt, a flatten) may be silenced by them.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ..policy import diagnostics as d
from ..policy.diagnostics import Diagnostic
from ..policy.documents import LoadedDoc
from ..policy.patterns import PatternError, compile_label_pattern
from ..policy.routes_doc import Route
from ..policy.time_intervals.model import TimeInterval


def _can_carry_critical(route: Route) -> bool:
    """Whether a route's own matchers let a ``severity: critical`` page through (a child sees
    only what its parents matched, but a parent without a severity matcher passes everything)."""
    if "severity" in route.match and route.match["severity"] != "critical":
        return False
    if "severity" in route.match_re:
        try:
            if not compile_label_pattern(route.match_re["severity"]).matches("critical"):
                return False
        except PatternError:  # reported where it is written (KS114); it lets nothing through
            return False
    if not route.matchers:
        return True
    from ..policy.matchers import parse_matchers  # (its parser and RE2: only where matchers are written)

    critical = {"severity": "critical"}
    return all(m.matches(critical) for line in route.matchers for m in parse_matchers(line, max_value=None)
               if m.name == "severity")


def check_interval_list(doc: LoadedDoc, intervals: Sequence[TimeInterval], diags: list[Diagnostic],
                        zone_known: Optional[Callable[[str], bool]] = None) -> set[str]:
    """A document's ``spec.time_intervals`` (a routes document's or a policy's): unique names
    (KS105) and zones ``zone_known`` knows (KS103). Returns the names declared."""
    sm = doc.srcmap
    declared: set[str] = set()
    for i, iv in enumerate(intervals):
        ipath = doc.item_path("time_intervals", i)
        if iv.name in declared:
            diags.append(Diagnostic.make(d.KS105, doc.file, sm.value(ipath + ("name",)),
                                         f'time interval "{iv.name}" is declared twice',
                                         "give each time interval its own name; one interval may list several "
                                         "periods"))
        declared.add(iv.name)
        for j, period in enumerate(iv.time_intervals):
            if period.location is None or period.location == "UTC" or zone_known is None:
                continue
            if not zone_known(period.location):
                diags.append(Diagnostic.make(
                    d.KS103, doc.file, sm.value(ipath + ("time_intervals", j, "location")),
                    f'time zone "{period.location}" is not in the time zone database',
                    'write an IANA name such as "Europe/London" or "America/New_York"'))
    return declared


def check_time_intervals(doc: LoadedDoc, diags: list[Diagnostic],
                          zone_known: Optional[Callable[[str], bool]] = None) -> None:
    """Named time intervals: unique names, zones ``zone_known`` knows (the zone database, handed
    over by the caller), routes naming only declared intervals, never the root; and a
    warning where a route that can carry critical pages may be silenced by them (KS131)."""
    spec = doc.model.spec  # type: ignore[union-attr]
    sm = doc.srcmap
    declared = check_interval_list(doc, spec.time_intervals, diags, zone_known)
    declared |= doc.poisoned_names("time_intervals")  # declared but broken: reported already

    def walk(route: Route, path: tuple[Any, ...], carries_critical: bool) -> None:
        carries_critical = carries_critical and _can_carry_critical(route)
        for key in ("mute_time_intervals", "active_time_intervals"):
            names = getattr(route, key)
            if names and not path[2:]:
                diags.append(Diagnostic.make(d.KS103, doc.file, sm.key(path + (key,)),
                                             f"the root route cannot have {key}",
                                             "it catches what no other route matches; put them on a child route"))
                continue
            for k, name in enumerate(names):
                if name not in declared:
                    diags.append(Diagnostic.make(
                        d.KS104, doc.file, sm.value(path + (key, k)), f'route uses unknown time interval "{name}"',
                        d.suggestion_hint(name, declared, "time intervals are declared under spec.time_intervals")))
            if names and carries_critical:
                diags.append(Diagnostic.make(
                    d.KS131, doc.file, sm.key(path + (key,)),
                    f"{key} can hold back critical pages (a halt, a flatten) on this route",
                    'match severities below critical here (match: {severity: warning}) and page critical '
                    "on a route without time intervals"))
        for k, child in enumerate(route.routes):
            walk(child, path + ("routes", k), carries_critical)

    walk(spec.route, ("spec", "route"), True)
