"""A policy's trading windows, checked and compiled: its named time intervals
(``spec.time_intervals``, the routes' language) and what is in force only ``during:`` or
``outside:`` them — the policy's lock by the clock (``spec.lock_trading``), a stage's entry, the
pre-trade limits.

What it owns: the names a window uses, each declared (KS104, with the closest name), the list's
own checks (:func:`.interval_check.check_interval_list`: unique names, known zones), every
zone resolved through the lookup the caller hands over (a location the compile cannot resolve
is an error: a window in a zone nobody can read would open at the wrong hour), and the
compiled windows (:class:`~killswitch.policy.time_intervals.Window`) with the policy's
:class:`~.graph.WindowLockNode`. How a window written wrong (both ``during`` and ``outside``, an empty
list, a lock with neither) is refused is the model's (KS270).

Pure: the zone database is read only through the lookup handed in.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..policy import diagnostics as d
from ..policy.time_intervals import NamedInterval, Window
from ..policy.time_intervals.build import ZoneLookup, compile_intervals
from ..policy.time_intervals.model import Windowed
from .graph import WindowLockNode
from .interval_check import check_interval_list
from .policy_pass import PolicyPass


def _places(pp: PolicyPass) -> list[tuple[tuple[Any, ...], Windowed]]:
    """Every part of the policy that may carry a window, with its path in the file."""
    spec = pp.spec
    out: list[tuple[tuple[Any, ...], Windowed]] = []
    if spec.lock_trading is not None:
        out.append((("spec", "lock_trading"), spec.lock_trading))
    for i, st in enumerate(spec.stages):
        out.append((pp.doc.stage_path(i), st))
    if spec.limits is not None:
        out.append((("spec", "limits"), spec.limits))
    return out


def check_windows(pp: PolicyPass, zone_known: Optional[Callable[[str], bool]], zones: Optional[ZoneLookup]
                  ) -> None:
    """The policy's intervals and every name its windows use: KS105, KS103 (a zone unknown, or
    none can be read here), KS104 (an interval no ``spec.time_intervals`` declares)."""
    spec, sm = pp.spec, pp.sm
    declared = check_interval_list(pp.doc, spec.time_intervals, pp.diags, zone_known)
    if zones is None:
        for i, iv in enumerate(spec.time_intervals):
            for j, period in enumerate(iv.time_intervals):
                if period.location not in (None, "UTC"):
                    pp.add(d.KS103, sm.value(pp.doc.item_path("time_intervals", i) + ("time_intervals", j, "location")),
                           f'time zone "{period.location}" cannot be read: this compile has no time zone database',
                           "compile through ksctl (validate, plan, run), which reads the zone database")
    declared |= pp.doc.poisoned_names("time_intervals")  # declared but broken: reported already
    for path, part in _places(pp):
        w = part.window
        if w is None:
            continue
        kind, names = w
        for k, name in enumerate(names):
            if name not in declared:
                pp.add(d.KS104, sm.value(path + (kind, k)), f'{kind} names unknown time interval "{name}"',
                       d.suggestion_hint(name, declared, "time intervals are declared under spec.time_intervals"))


class PolicyWindows:
    """The compiled windows of one policy that passed :func:`check_windows`."""

    def __init__(self, pp: PolicyPass, zones: Optional[ZoneLookup]):
        lookup: ZoneLookup = zones if zones is not None else _utc_only
        self.intervals: dict[str, NamedInterval] = compile_intervals(pp.spec.time_intervals, lookup)

    def of(self, part: Optional[Windowed]) -> Optional[Window]:
        w = part.window if part is not None else None
        if w is None:
            return None
        kind, names = w
        return Window(kind, names, tuple(self.intervals[n] for n in names))

    def lock(self, pp: PolicyPass) -> Optional[WindowLockNode]:
        lt = pp.spec.lock_trading
        window = self.of(lt)
        if lt is None or window is None:
            return None
        e = lt.enforce
        return WindowLockNode(lt.mode, window, e.cancel if e is not None else True,
                              e.revert_growth if e is not None and e.revert_growth is not None
                              else lt.mode == "halted")


def _utc_only(location: Optional[str]) -> Any:
    from datetime import timezone

    if location not in (None, "UTC"):  # refused by check_windows first
        raise ValueError(f'time zone "{location}" cannot be read here')
    return timezone.utc


def _change(window: Window, now_ms: int, opened: str, closed: str) -> tuple[bool, Optional[int], str]:
    open_, edge = window.at(now_ms)
    if edge is None:
        return open_, None, f"{opened if open_ else closed}: no change within 400 days ({window.text})"
    verb = "until" if open_ else "from"
    return open_, edge, f"{opened if open_ else closed} {verb} {window.when(edge, now_ms)} ({window.text})"


def window_rows(graph: Any, now_ms: int) -> list[dict[str, Any]]:
    """Every window of ``graph``'s policies at ``now_ms`` and its next change, as status, the
    API and a plan show them: ``{"policy", "what" (lock | stage | limits), "level", "window",
    "open", "next_change_ms", "text"}``; the text is the line a person reads: ``reducing lock
    from Sat 00:00 UTC (during weekend, funding)``, ``limits in force until Fri 17:30 GMT
    (during desk-hours)``. Each window answers from its last answer until its edge."""
    out: list[dict[str, Any]] = []

    def row(policy: str, what: str, level: Optional[int], w: Window, opened: str, closed: str) -> None:
        open_, edge, text = _change(w, now_ms, opened, closed)
        out.append({"policy": policy, "what": what, "level": level, "window": w.text, "open": open_,
                    "next_change_ms": edge, "text": text})

    for p in graph.policies:
        wl = p.window_lock
        if wl is not None:
            row(p.name, "lock", None, wl.window, f"{wl.mode} lock", f"{wl.mode} lock")
        for st in p.stages:
            if st.window is not None:
                row(p.name, "stage", st.level, st.window, f"stage {st.level} ({st.name}) may be entered",
                    f"stage {st.level} ({st.name}) may be entered")
        if p.limits is not None and p.limits.window is not None:
            row(p.name, "limits", None, p.limits.window, "limits in force", "limits in force")
    return out


def next_edge_ms(graph: Any, now_ms: int) -> Optional[int]:
    """The first instant after ``now_ms`` at which one of ``graph``'s windows changes (None: none
    within the horizon, or no window): the runner ticks then, so a lock by the clock and a
    stage's window act at the edge rather than up to one interval after it."""
    edges = [e for p in graph.policies for w in _windows_of(p) if (e := w.at(now_ms)[1]) is not None]
    return min(edges, default=None)


def _windows_of(p: Any) -> list[Window]:
    out = [p.window_lock.window] if p.window_lock is not None else []
    out += [st.window for st in p.stages if st.window is not None]
    if p.limits is not None and p.limits.window is not None:
        out.append(p.limits.window)
    return out
