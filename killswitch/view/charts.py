"""What a scope's chart shows, as values: its samples, the policy's thresholds, its stage entries.

What it owns: which signals a policy's charts draw (:data:`CHARTED_KINDS`: the drawdown signals,
equity drawdown and equity change, beside the instance's equity), the sample a tick's
evaluation gives of one policy instance (:func:`sample_of`), the threshold lines read from the
compiled triggers (:func:`thresholds_of`: ``dd_15m >= 10%`` of trigger ``hard``, which enters
stage 3 ``flatten``; a threshold computed from signals, ``dd_15m >= max(4.5%, 3 * vol_1h)``, is
a moving line: its value as the engine recorded it at each tick, stored in the sample beside the
signal under :func:`threshold_key`), the stage transitions read from the audit trail's ``stage_transition``
rows (:func:`marks_of`), the spells without samples (:func:`gaps_of`: the runner was down, or
did not lead), and the whole :class:`ScopeChart` a renderer draws (:func:`build_chart`), thinned
to a bounded number of points per series that keeps every extreme (:func:`thin`).

Every value comes from a stored fact: samples the leader stored at its ticks, thresholds from
the graph running, entries from the audit trail. Pure: no I/O, no clock, no markup (the
renderer, :mod:`killswitch.face.console.chart_svg`, escapes what it draws). Must not invent a
sample: a tick without one is a gap, a value the evaluation did not have stays None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

CHARTED_KINDS = ("equity_drawdown", "equity_change")
EQUITY = "equity"  # the instance's equity, in every sample beside the signals
GAP_TICKS = 3  # samples further apart than this many ticks (and GAP_MIN_MS) leave a gap
GAP_MIN_MS = 30_000
MAX_POINTS = 600  # per series, after thinning (two per bucket: its lowest and its highest)

Point = tuple[int, Optional[float]]  # (ts_ms, value or None: unknown at that tick)


@dataclass(frozen=True)
class Threshold:
    """What a trigger compares a charted signal with: ``signal op value`` (``text`` as
    written), and the stages the trigger enters (``"3 flatten"``). A computed threshold
    (``text`` its expression) moves: ``points`` are its values at the samples, ``value`` the
    latest known one (None: none known in the window)."""

    trigger: str
    op: str
    value: Optional[float]
    text: str
    stages: tuple[str, ...]
    points: tuple[Point, ...] = ()

    @property
    def moving(self) -> bool:
        return bool(self.points)

    def at(self, ts_ms: int) -> Optional[float]:
        """The threshold at the sample ``ts_ms`` (a fixed one: its value at every time)."""
        if not self.points:
            return self.value
        return next((v for t, v in self.points if t == ts_ms), None)


@dataclass(frozen=True)
class StageMark:
    """A stage transition of the instance, as the audit trail recorded it."""

    ts_ms: int
    from_level: int
    to_level: int
    stage: Optional[str]  # the stage entered (None: a reset or a cooldown's exit)
    entered: bool
    reason: str


@dataclass(frozen=True)
class Panel:
    """One series: the equity (``unit`` "amount") or a charted signal (``unit`` "ratio"), with
    its thresholds and what the last evaluation said of it (``note``: why it has no value)."""

    name: str
    kind: str
    unit: str
    points: tuple[Point, ...]
    thresholds: tuple[Threshold, ...] = ()
    note: Optional[str] = None  # e.g. "INSUFFICIENT_HISTORY: coverage=40% min=80%"
    ready_ms: Optional[int] = None  # when it has a value again if every tick reads


@dataclass(frozen=True)
class ScopeChart:
    policy: str
    scope: str
    since_ms: int  # the axis: from here ...
    until_ms: int  # ... to the runner's time of the read
    panels: tuple[Panel, ...]
    marks: tuple[StageMark, ...]
    gaps: tuple[tuple[int, int], ...]  # (last sample before, first sample after) of each spell without one
    samples: int  # stored samples read in the window (before thinning)
    first_ms: Optional[int]  # the oldest of them
    last_ms: Optional[int]  # the newest of them
    stage: int  # the instance's stage now
    coverage: Optional[str] = None  # "blind: INSUFFICIENT_HISTORY ..." when it is blind now
    blind_until_ms: Optional[int] = None


def charted(policy: Any) -> tuple[Any, ...]:
    """The signals of a compiled policy its charts draw, in the policy's order."""
    return tuple(s for s in policy.signals if s.kind in CHARTED_KINDS)


THRESHOLD_KEY = "threshold:"  # a computed threshold's value in a sample: "threshold:<trigger>:<comparison>"


def threshold_key(trigger: str, signal: str, op: str, expression: str) -> str:
    """Where a sample keeps a computed threshold's value at its tick."""
    return f"{THRESHOLD_KEY}{trigger}:{signal} {op} {expression}"


def thresholds_of(policy: Any, signal: str, rows: Sequence[Any] = (), since_ms: int = 0,
                  until_ms: int = 0) -> tuple[Threshold, ...]:
    """Every ``signal op literal`` of the policy's triggers, trigger by trigger as written, and
    every ``signal op expression`` with its values at the samples ``rows`` (thinned as a series)."""
    out = []
    for t in policy.triggers:
        stages = tuple(f"{st.level} {st.name}" for st in policy.stages if t.name in st.on)
        for c in dict.fromkeys(t.comparisons):
            if c.signal != signal:
                continue
            if c.threshold is not None and math.isfinite(c.threshold):
                out.append(Threshold(t.name, c.op, float(c.threshold), c.text, stages))
            elif c.computed:
                points = thin(_series(rows, threshold_key(t.name, c.signal, c.op, c.text)), since_ms, until_ms)
                latest = next((v for _, v in reversed(points) if v is not None), None)
                out.append(Threshold(t.name, c.op, latest, c.text, stages, points))
    return tuple(out)


def _finite(v: Optional[float]) -> Optional[float]:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def sample_of(scope_eval: Any, policy: Any) -> dict[str, Optional[float]]:
    """One tick's sample of a policy instance: its equity, each charted signal's value, and
    each threshold computed for a charted signal at that tick."""
    names = {s.name for s in charted(policy)}
    out: dict[str, Optional[float]] = {EQUITY: _finite(scope_eval.equity)}
    for v in scope_eval.signals:
        if v.name in names:
            out[v.name] = _finite(v.value)
    for r in scope_eval.triggers:  # the thresholds computed at this tick, as the engine recorded them
        for x in r.thresholds:
            if x.signal in names:
                out[threshold_key(r.name, x.signal, x.op, x.expression)] = _finite(x.value)
    return out


def marks_of(rows: Iterable[Any], policy: str, scope: str) -> tuple[StageMark, ...]:
    """The instance's ``stage_transition`` audit rows (any others are passed over), in order."""
    out = []
    for r in rows:
        p = r.payload
        if r.kind != "stage_transition" or p.get("policy") != policy or p.get("scope") != scope:
            continue
        frm, to = int(p.get("from") or 0), int(p.get("to") or 0)
        entered = p.get("decision_id") is not None and to > 0
        out.append(StageMark(int(r.ts_ms), frm, to, None, entered, str(p.get("reason") or "")))
    return tuple(out)


def gap_ms(interval_s: float) -> int:
    """Samples further apart than this are a gap: the runner did not sample in between."""
    return max(GAP_MIN_MS, int(GAP_TICKS * interval_s * 1000))


def gaps_of(times: Sequence[int], gap: int) -> tuple[tuple[int, int], ...]:
    return tuple((a, b) for a, b in zip(times, times[1:]) if b - a > gap)


def thin(points: Sequence[Point], since_ms: int, until_ms: int, max_points: int = MAX_POINTS) -> tuple[Point, ...]:
    """At most about ``max_points`` points: the span cut into buckets, each keeping its lowest
    and highest value (so a spike or a crash stays drawn) and its first unknown (so a spell
    without a value stays a break), in time order."""
    if len(points) <= max_points:
        return tuple(points)
    buckets = max(1, max_points // 2)
    width = max(1, (until_ms - since_ms) / buckets)
    out: list[Point] = []
    current: list[Point] = []
    index = None
    for p in points:
        i = int((p[0] - since_ms) // width)
        if index is not None and i != index:
            out += _bucket(current)
            current = []
        index = i
        current.append(p)
    out += _bucket(current)
    return tuple(out)


def _bucket(points: list[Point]) -> list[Point]:
    known = [p for p in points if p[1] is not None]
    keep = {}
    if known:
        lo = min(known, key=lambda p: p[1])  # type: ignore[arg-type,return-value]
        hi = max(known, key=lambda p: p[1])  # type: ignore[arg-type,return-value]
        keep[lo[0]], keep[hi[0]] = lo, hi
    unknown = next((p for p in points if p[1] is None), None)
    if unknown is not None:
        keep[unknown[0]] = unknown
    return [keep[t] for t in sorted(keep)]


def build_chart(policy: Any, scope: str, rows: Sequence[Any], audit_rows: Iterable[Any], *, now_ms: int,
                window_ms: int, stage: int, latest: Optional[Any] = None, coverage: Optional[Any] = None
                ) -> ScopeChart:
    """The chart of one policy instance over the last ``window_ms`` before ``now_ms``: ``rows``
    its stored samples (``ts_ms``, ``values``) in time order, ``audit_rows`` the audit trail's
    rows over the window, ``latest`` the instance's last evaluation (its signals' reasons), and
    ``coverage`` its coverage row now. The axis begins at the older of the first sample and the
    first stage transition (a fresh history is not squeezed to the right edge), at most
    ``window_ms`` back."""
    start = now_ms - window_ms
    rows = [r for r in rows if start <= r.ts_ms <= now_ms]
    marks = tuple(m for m in marks_of(audit_rows, policy.name, scope) if start <= m.ts_ms <= now_ms)
    by_level = {s.level: s.name for s in policy.stages}
    marks = tuple(StageMark(m.ts_ms, m.from_level, m.to_level, by_level.get(m.to_level) if m.entered else None,
                            m.entered, m.reason) for m in marks)
    times = [r.ts_ms for r in rows]
    firsts = [t for t in (times[0] if times else None, marks[0].ts_ms if marks else None) if t is not None]
    since = max(start, min(firsts) - max(1_000, (now_ms - min(firsts)) // 20)) if firsts else start
    reasons: Mapping[str, Any] = {v.name: v for v in latest.signals} if latest is not None else {}
    panels = [Panel(EQUITY, EQUITY, "amount", thin(_series(rows, EQUITY), since, now_ms))]
    for s in charted(policy):
        last = reasons.get(s.name)
        note, ready = (last.reason, last.ready_ms) if last is not None and last.value is None else (None, None)
        panels.append(Panel(s.name, s.kind, "ratio", thin(_series(rows, s.name), since, now_ms),
                            thresholds_of(policy, s.name, rows, since, now_ms), note, ready))
    blind = None
    until = None
    if coverage is not None and coverage.state == "blind":
        blind, until = f"blind: {coverage.detail}", coverage.until_ms
    return ScopeChart(policy.name, scope, since, now_ms, tuple(panels), marks,
                      gaps_of(times, gap_ms(policy.interval_s)), len(rows), times[0] if times else None,
                      times[-1] if times else None, stage, blind, until)


def _series(rows: Sequence[Any], name: str) -> list[Point]:
    return [(r.ts_ms, _finite(r.values.get(name))) for r in rows if name in r.values]
