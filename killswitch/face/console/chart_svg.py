"""A scope's chart as SVG: values in, one self-contained ``<svg>`` document out.

What it owns: drawing a :class:`~killswitch.view.charts.ScopeChart` — one panel per
series (the equity, then each charted signal) on one time axis in UTC, each signal's threshold
lines as the triggers write them (``hard >= 10% → 3 flatten``; a threshold computed from signals,
``max(4.5%, 3 * vol_1h)``, as a moving line through its value at each sample), a vertical marker at every
stage entry (and a lighter one at every exit), a hatched band over every spell without samples
(the runner was down or did not lead), breaks where a value was unknown, and a text the
screen reader reads (``<title>`` and ``<desc>``: the latest values, the peaks against the
thresholds, the entries). A chart without samples says so, and until when the scope is blind,
instead of drawing an empty line.

Every name in it (policy, scope, signal, trigger, stage) is escaped: the document carries no
script, no style element, no link and no reference outside itself, so the console may place it
in its page as it is. Colours are presentation attributes (no inline ``style``: the console's
Content-Security-Policy refuses them); text and axes take ``currentColor``, so a dark page
draws them light.

Pure: no I/O, no clock (the chart carries the runner's time of the read).
"""

from __future__ import annotations

import hashlib
import math
from html import escape
from typing import Optional, Sequence

from ...figures import iso_ms
from ...view.charts import Panel, Point, ScopeChart, Threshold

WIDTH = 760
LEFT = 78  # room for the value labels
RIGHT = 16
TITLE_H = 30
MARK_H = 28  # the band under the title where stage transitions are named, two rows
PANEL_H = {"amount": 110, "ratio": 140}
PANEL_GAP = 34  # between panels: the next panel's caption
AXIS_H = 40
SERIES = {"amount": "#1a73e8", "ratio": "#b3261e"}
THRESHOLD = "#e8710a"
ENTRY = "#7b1fa2"
EXIT = "#5f6368"
GAP_FILL = "#9aa0a6"
TIME_STEPS_S = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200)
MAX_TIME_TICKS = 7
OPS = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "!=": "≠"}


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(x: float) -> str:
    """A coordinate: short, and never ``nan``."""
    return f"{x:.1f}" if math.isfinite(x) else "0"


def clock(ms: int, seconds: bool = False) -> str:
    return iso_ms(ms)[11:19 if seconds else 16]


def day(ms: int) -> str:
    return iso_ms(ms)[:10]


def value_label(v: float, unit: str) -> str:
    """``5%``, ``-2.5%`` for a ratio; ``1.02M``, ``998k``, ``12.5`` for an amount."""
    if unit == "ratio":
        return f"{v * 100:.3g}%"
    a = abs(v)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= size:
            return f"{v / size:.4g}{suffix}"
    return f"{v:.4g}"


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round values spanning [lo, hi] (1, 2, 2.5, 5 × a power of ten apart)."""
    span = hi - lo
    if span <= 0 or not math.isfinite(span):
        return [lo]
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + step * 1e-9:
        out.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return out


def time_ticks(since_ms: int, until_ms: int) -> list[int]:
    """Whole minutes or hours of UTC across the axis, at most :data:`MAX_TIME_TICKS`."""
    span_s = max(1, (until_ms - since_ms) / 1000)
    step_s = next((s for s in TIME_STEPS_S if span_s / s <= MAX_TIME_TICKS), TIME_STEPS_S[-1])
    step = step_s * 1000
    t = -(-since_ms // step) * step
    out = []
    while t <= until_ms:
        out.append(t)
        t += step
    return out


def _range(panel: Panel) -> tuple[float, float]:
    values = [v for _, v in panel.points if v is not None]
    if panel.unit == "ratio":
        values += [v for t in panel.thresholds for v in ([t.value] if not t.moving else
                                                        [x for _, x in t.points]) if v is not None] + [0.0]
    if not values:
        return (0.0, 1.0)
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        pad = abs(hi) * 0.01 or (0.01 if panel.unit == "ratio" else 1.0)
        return (lo - pad, hi + pad)
    pad = (hi - lo) * 0.08
    return (lo - pad if lo < 0 or panel.unit != "ratio" else lo, hi + pad)


class _Frame:
    """Maps time and a panel's values to coordinates."""

    def __init__(self, since: int, until: int, top: float, height: float, lo: float, hi: float):
        self.since, self.until = since, max(until, since + 1)
        self.top, self.height, self.lo, self.hi = top, height, lo, hi

    def x(self, ts: int) -> float:
        return LEFT + (ts - self.since) / (self.until - self.since) * (WIDTH - LEFT - RIGHT)

    def y(self, v: float) -> float:
        return self.top + self.height - (v - self.lo) / (self.hi - self.lo) * self.height


def _paths(points: Sequence[Point], gaps: Sequence[tuple[int, int]], f: _Frame) -> list[str]:
    """The line as runs of known values, broken at an unknown value and across every gap."""
    runs: list[list[tuple[int, float]]] = []
    run: list[tuple[int, float]] = []
    prev: Optional[int] = None
    for ts, v in points:
        broken = v is None or (prev is not None and any(prev <= a and b <= ts for a, b in gaps))
        if broken and run:
            runs.append(run)
            run = []
        if v is not None:
            run.append((ts, v))
        prev = ts
    if run:
        runs.append(run)
    out = []
    for r in runs:
        if len(r) == 1:  # a lone sample: a dot, not an invisible line
            ts, v = r[0]
            out.append(f'<circle cx="{_n(f.x(ts))}" cy="{_n(f.y(v))}" r="2" fill="currentColor"/>')
            continue
        d = " ".join(f"{'M' if i == 0 else 'L'}{_n(f.x(ts))},{_n(f.y(v))}" for i, (ts, v) in enumerate(r))
        out.append(f'<path d="{d}"/>')
    return out


def _threshold_text(t: Threshold, signal: str) -> str:
    to = f" → stage {', '.join(t.stages)}" if t.stages else ""
    now = f" (now {value_label(t.value, 'ratio')})" if t.moving and t.value is not None else ""
    return f"{t.trigger}: {signal} {OPS.get(t.op, t.op)} {t.text}{now}{to}"


def _panel(chart: ScopeChart, p: Panel, top: float, uid: str) -> list[str]:
    lo, hi = _range(p)
    height = PANEL_H[p.unit]
    f = _Frame(chart.since_ms, chart.until_ms, top, height, lo, hi)
    right = WIDTH - RIGHT
    caption = "equity" if p.name == "equity" else f"{p.name} ({p.kind})"
    last = next((v for _, v in reversed(p.points) if v is not None), None)
    now_text = f"now {value_label(last, p.unit)}" if last is not None and p.points[-1][1] is not None else \
        f"no value now: {p.note}" if p.note else "no value at the last sample"
    out = [f'<g class="panel" data-series="{_e(p.name)}">',
           f'<text x="{LEFT}" y="{_n(top - 8)}" font-size="12" font-weight="bold" fill="currentColor">'
           f'{_e(caption)}<tspan font-weight="normal"> — {_e(now_text)}</tspan></text>',
           f'<rect x="{LEFT}" y="{_n(top)}" width="{right - LEFT}" height="{height}" fill="none" '
           f'stroke="currentColor" stroke-opacity="0.35"/>']
    for v in nice_ticks(lo, hi):
        y = f.y(v)
        out.append(f'<line x1="{LEFT}" x2="{right}" y1="{_n(y)}" y2="{_n(y)}" stroke="currentColor" '
                   f'stroke-opacity="0.12"/>')
        out.append(f'<text x="{LEFT - 6}" y="{_n(y + 4)}" font-size="11" text-anchor="end" fill="currentColor">'
                   f'{_e(value_label(v, p.unit))}</text>')
    for a, b in chart.gaps:
        x1, x2 = max(LEFT, f.x(a)), min(right, f.x(b))
        if x2 > x1:
            out.append(f'<rect class="gap" x="{_n(x1)}" y="{_n(top)}" width="{_n(x2 - x1)}" height="{height}" '
                       f'fill="url(#{uid}-gap)"><title>no samples from {clock(a, True)} to {clock(b, True)} UTC'
                       f'</title></rect>')
    for i, t in enumerate(p.thresholds):
        if t.moving:  # computed at every tick: a line through its values, broken where it had none
            out += _moving(chart, t, p.name, f, i)
            continue
        if t.value is None:
            continue
        y = f.y(t.value)
        out.append(f'<g class="threshold" data-trigger="{_e(t.trigger)}"><line x1="{LEFT}" x2="{right}" '
                   f'y1="{_n(y)}" y2="{_n(y)}" stroke="{THRESHOLD}" stroke-width="1.5" stroke-dasharray="6 4"/>'
                   f'<text x="{LEFT + 4}" y="{_n(y - 4 - 12 * (i % 2))}" font-size="11" '
                   f'fill="{THRESHOLD}">{_e(_threshold_text(t, p.name))}</text></g>')
    out.append(f'<g class="series" fill="none" stroke="{SERIES[p.unit]}" stroke-width="1.8" '
               f'stroke-linejoin="round" color="{SERIES[p.unit]}">')
    out += _paths(p.points, chart.gaps, f)
    out.append("</g>")
    if not any(v is not None for _, v in p.points):
        why = f": {p.note}" if p.note else ""
        until = f"; a value from {clock(p.ready_ms)} UTC if every tick reads" if p.ready_ms else ""
        out.append(f'<text x="{_n((LEFT + right) / 2)}" y="{_n(top + height / 2)}" font-size="12" '
                   f'text-anchor="middle" fill="currentColor">{_e(f"no value in this window{why}{until}")}</text>')
    out.append("</g>")
    return out


def _moving(chart: ScopeChart, t: Threshold, signal: str, f: _Frame, i: int) -> list[str]:
    """A computed threshold: its value at each sample as a dashed line, labelled at its last value."""
    out = [f'<g class="threshold moving" data-trigger="{_e(t.trigger)}" fill="none" stroke="{THRESHOLD}" '
           f'stroke-width="1.5" stroke-dasharray="6 4" color="{THRESHOLD}">']
    out += _paths(t.points, chart.gaps, f)
    out.append("</g>")
    last = next(((ts, v) for ts, v in reversed(t.points) if v is not None), None)
    if last is not None:
        out.append(f'<text class="threshold-label" x="{LEFT + 4}" y="{_n(f.y(last[1]) - 4 - 12 * (i % 2))}" '
                   f'font-size="11" fill="{THRESHOLD}">{_e(_threshold_text(t, signal))}</text>')
    return out


def _marks(chart: ScopeChart, band: float, top: float, bottom: float) -> list[str]:
    """A line through every panel at each transition, named in the band above them (``band``:
    its top), alternating between its two rows so that close transitions stay readable."""
    f = _Frame(chart.since_ms, chart.until_ms, top, 1, 0, 1)
    out = ['<g class="marks">']
    for i, m in enumerate(chart.marks):
        x = f.x(m.ts_ms)
        colour = ENTRY if m.entered else EXIT
        dash = "" if m.entered else ' stroke-dasharray="2 3"'
        label = (f"stage {m.to_level} {m.stage or ''}".rstrip() + " entered") if m.entered \
            else f"stage {m.from_level} → {m.to_level}"
        anchor = "end" if x > WIDTH - 180 else "start"
        dx = -4 if anchor == "end" else 4
        out.append(f'<g class="mark {"entry" if m.entered else "exit"}" data-level="{m.to_level}">'
                   f'<title>{_e(label)} at {clock(m.ts_ms, True)} UTC: {_e(m.reason)}</title>'
                   f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{_n(band + 14 * (i % 2) + 2)}" y2="{_n(bottom)}" '
                   f'stroke="{colour}" '
                   f'stroke-width="{2 if m.entered else 1}"{dash}/>'
                   f'<text x="{_n(x + dx)}" y="{_n(band + 11 + 14 * (i % 2))}" font-size="11" text-anchor="{anchor}" '
                   f'fill="{colour}">{_e(label)} {clock(m.ts_ms, True)}</text></g>')
    out.append("</g>")
    return out


def _axis(chart: ScopeChart, y: float) -> list[str]:
    f = _Frame(chart.since_ms, chart.until_ms, 0, 1, 0, 1)
    ticks = time_ticks(chart.since_ms, chart.until_ms)
    out = ['<g class="axis">']
    days = {day(chart.since_ms), day(chart.until_ms)}
    for t in ticks:
        x = f.x(t)
        seconds = len(ticks) > 1 and (ticks[1] - ticks[0]) < 60_000
        label = clock(t, seconds) if len(days) == 1 and t % 86_400_000 else f"{day(t)[5:]} {clock(t, seconds)}"
        edge = "end" if x > WIDTH - RIGHT - 28 else "middle"  # the last label stays inside the drawing
        out.append(f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{_n(y)}" y2="{_n(y + 5)}" stroke="currentColor"/>'
                   f'<text x="{_n(x)}" y="{_n(y + 17)}" font-size="11" text-anchor="{edge}" '
                   f'fill="currentColor">{label}</text>')
    out.append(f'<text x="{WIDTH - RIGHT}" y="{_n(y + 33)}" font-size="11" text-anchor="end" fill="currentColor">'
               f'time (UTC), {day(chart.since_ms)} {clock(chart.since_ms)} to {day(chart.until_ms)} '
               f'{clock(chart.until_ms, True)}</text></g>')
    return out


def describe(chart: ScopeChart) -> str:
    """What the chart shows, in words (its ``<desc>``): a screen reader's and a test's view."""
    parts = []
    if not chart.samples:
        parts.append(_empty_text(chart))
    else:
        parts.append(f"{chart.samples} samples from {clock(chart.first_ms or 0, True)} to "
                     f"{clock(chart.last_ms or 0, True)} UTC")
    for p in chart.panels:
        known = [(ts, v) for ts, v in p.points if v is not None]
        if not known:
            continue
        ts, worst = _worst(p, known)
        crossed = [t for t in p.thresholds if _holds(t, worst, ts)]
        parts.append(f"{p.name} {'latest' if p.unit == 'amount' else 'worst'} {value_label(worst, p.unit)} at "
                     f"{clock(ts, True)} UTC"
                     + (f", beyond {', '.join(_threshold_text(t, p.name) for t in crossed)}" if crossed else ""))
    for m in chart.marks:
        if m.entered:
            parts.append(f"stage {m.to_level} {m.stage or ''} entered at {clock(m.ts_ms, True)} UTC".replace("  ", " "))
    if chart.gaps:
        parts.append(f"{len(chart.gaps)} spell(s) without samples")
    return "; ".join(parts) + "."


def _worst(p: Panel, known: list[tuple[int, float]]) -> tuple[int, float]:
    """The equity's latest value; a signal's value furthest towards its thresholds (the
    highest when they say "above", the lowest when they say "below": a drawdown, a loss)."""
    if p.unit == "amount":
        return known[-1]
    below = p.thresholds and all(t.op in ("<=", "<") for t in p.thresholds) or (
        not p.thresholds and p.kind == "equity_change")
    return min(known, key=lambda tv: tv[1]) if below else max(known, key=lambda tv: tv[1])


def _holds(t: Threshold, v: float, ts_ms: int) -> bool:
    """Whether ``v`` at the sample ``ts_ms`` is beyond ``t`` (a computed one: as it was then)."""
    x = t.at(ts_ms)
    if x is None:
        return False
    return {">=": v >= x, ">": v > x, "<=": v <= x, "<": v < x}.get(t.op, False)


def _empty_text(chart: ScopeChart) -> str:
    text = "No samples yet in this window: the leader stores one per tick"
    if chart.coverage:
        until = f" until {clock(chart.blind_until_ms)} UTC" if chart.blind_until_ms else ", until not known"
        text += f"; {chart.coverage}{until}"
    return text


def render_svg(chart: ScopeChart) -> str:
    """The chart as an SVG document (UTF-8 text)."""
    panels = chart.panels if chart.samples else ()
    marks_h = MARK_H if panels and chart.marks else 0
    height = TITLE_H + marks_h + sum(PANEL_H[p.unit] + PANEL_GAP for p in panels) + \
        (AXIS_H if panels else 50) + 8
    series = ", ".join(p.name for p in chart.panels[1:])
    title = f"{chart.policy} on {chart.scope}: equity{f' and {series}' if series else ''}, stage {chart.stage} now"
    # ids unique to the instance: several charts share one page
    uid = "ks-" + hashlib.sha256(f"{chart.policy}|{chart.scope}".encode()).hexdigest()[:12]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" role="img" aria-labelledby="{uid}-t {uid}-d" class="ks-chart" '
           f'font-family="system-ui, sans-serif" data-samples="{chart.samples}">',
           f'<title id="{uid}-t">{_e(title)}</title>',
           f'<desc id="{uid}-d">{_e(describe(chart))}</desc>',
           f'<defs><pattern id="{uid}-gap" width="6" height="6" patternUnits="userSpaceOnUse" '
           'patternTransform="rotate(45)"><rect width="6" height="6" fill="none"/>'
           f'<line x1="0" y1="0" x2="0" y2="6" stroke="{GAP_FILL}" stroke-width="2"/></pattern></defs>',
           f'<text x="{LEFT}" y="18" font-size="13" fill="currentColor">{_e(title)}</text>']
    if not panels:
        out.append(f'<text class="empty" x="{LEFT}" y="{TITLE_H + 22}" font-size="13" fill="currentColor">'
                   f'{_e(_empty_text(chart))}.</text>')
        out.append("</svg>")
        return "".join(out)
    band = TITLE_H
    top = TITLE_H + marks_h + PANEL_GAP - 10
    first = top
    for p in panels:
        out += _panel(chart, p, top, uid)
        top += PANEL_H[p.unit] + PANEL_GAP
    bottom = top - PANEL_GAP
    out += _marks(chart, band, first, bottom)
    out += _axis(chart, bottom)
    out.append("</svg>")
    return "".join(out)
