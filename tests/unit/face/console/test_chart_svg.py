"""The chart renderer, values in and SVG out (:mod:`killswitch.face.console.chart_svg`), and the
values it draws (:mod:`killswitch.view.charts`): coordinates of a known value, the UTC time
axis, threshold lines from the compiled triggers, stage-entry markers, breaks at gaps and unknown
values, thinning that keeps a crash, a chart without samples, and names escaped."""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from killswitch.face.console import chart_svg
from killswitch.face.console.chart_svg import render_svg, time_ticks
from killswitch.state import SignalSampleRow
from killswitch.view.charts import (
    EQUITY,
    Panel,
    ScopeChart,
    StageMark,
    Threshold,
    build_chart,
    gaps_of,
    marks_of,
    thin,
    thresholds_of,
)
from tests.unit.engine_helpers import compile_graph

SVG = "{http://www.w3.org/2000/svg}"
T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
POLICY = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: futures-book}
    spec:
      scope: {level: account}
      interval: 5s
      signals:
        dd_15m: {equity_drawdown: {window: 15m, min_coverage: 80%}}
        vs_capital: {equity_change: {against: initial_capital}}
        stale: data_age
      triggers:
        soft: {when: "dd_15m >= 4.5% || stale > 60s", for: 3 ticks, on_missing_data: hold}
        hard: {when: "dd_15m >= 10% || vs_capital <= -5%", on_missing_data: hold}
      stages:
        - {level: 1, name: reduce-top-risk, on: [soft], cooldown: 30m,
           actions: [{reduce_top_risk: {count: 1, fraction: 50%}}]}
        - {level: 3, name: flatten, on: [hard], reset: manual, actions: [close_all]}
    """
)


def policy():
    return compile_graph(POLICY, "p.yaml").policies[0]


def chart(points, *, thresholds=(), marks=(), gaps=(), since=T0, until=T0 + 600_000, name="dd", **kw):
    eq = tuple((ts, 1_000_000.0 * (1 - (v or 0))) for ts, v in points)
    return ScopeChart("p", "venue/acct", since, until,
                      (Panel(EQUITY, EQUITY, "amount", eq), Panel(name, "equity_drawdown", "ratio", tuple(points),
                                                                  tuple(thresholds))),
                      tuple(marks), tuple(gaps), len(points), points[0][0] if points else None,
                      points[-1][0] if points else None, kw.pop("stage", 0), **kw)


def parse(text):
    return ET.fromstring(text)


def path_points(d):
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]([\d.]+),([\d.]+)", d)]


def test_thresholds_and_stages_come_from_the_compiled_triggers():
    p = policy()
    assert thresholds_of(p, "dd_15m") == (Threshold("soft", ">=", 0.045, "4.5%", ("1 reduce-top-risk",)),
                                          Threshold("hard", ">=", 0.10, "10%", ("3 flatten",)))
    assert thresholds_of(p, "vs_capital") == (Threshold("hard", "<=", -0.05, "-5%", ("3 flatten",)),)
    # a data age is not charted: the panels are the equity and the drawdown signals
    rows = [SignalSampleRow("futures-book", "v/a", T0 + i * 5_000, {"equity": 100.0, "dd_15m": 0.01 * i,
                                                                    "vs_capital": -0.01 * i}) for i in range(4)]
    c = build_chart(p, "v/a", rows, [], now_ms=T0 + 20_000, window_ms=3_600_000, stage=0)
    assert [x.name for x in c.panels] == ["equity", "dd_15m", "vs_capital"]
    assert c.panels[1].points == tuple((T0 + i * 5_000, 0.01 * i) for i in range(4))
    assert c.since_ms < T0 and c.since_ms > T0 - 60_000  # a fresh history is not squeezed to the right


def test_stage_marks_are_the_instances_transitions_of_the_audit_trail():
    row = lambda kind, ts, **p: SimpleNamespace(kind=kind, ts_ms=ts, payload=p)  # noqa: E731
    rows = [row("stage_transition", 1, policy="p", scope="s", **{"from": 0, "to": 1}, reason="soft", decision_id="d1"),
            row("stage_transition", 2, policy="p", scope="other", **{"from": 0, "to": 1}, reason="x", decision_id="d"),
            row("reset_approval", 3, policy="p", scope="s"),
            row("stage_transition", 4, policy="p", scope="s", **{"from": 1, "to": 0}, reason="cooldown",
                decision_id=None)]
    assert marks_of(rows, "p", "s") == (StageMark(1, 0, 1, None, True, "soft"), StageMark(4, 1, 0, None, False,
                                                                                          "cooldown"))


def test_a_known_value_lands_where_the_axis_says():
    pts = [(T0 + i * 60_000, 0.0) for i in range(10)] + [(T0 + 600_000, 0.10)]
    root = parse(render_svg(chart(pts, thresholds=[Threshold("hard", ">=", 0.10, "10%", ("3 flatten",))])))
    dd = root.find(f".//{SVG}g[@data-series='dd']")
    line = dd.find(f"{SVG}g[@class='series']/{SVG}path")
    xy = path_points(line.get("d"))
    assert len(xy) == 11
    assert xy[0][0] == pytest.approx(chart_svg.LEFT, abs=0.1)
    assert xy[-1][0] == pytest.approx(chart_svg.WIDTH - chart_svg.RIGHT, abs=0.1)
    threshold = dd.find(f"{SVG}g[@class='threshold']/{SVG}line")
    assert float(threshold.get("y1")) == pytest.approx(xy[-1][1], abs=0.1)  # 10% is on the 10% line
    labels = [t.text for t in dd.findall(f".//{SVG}text")]
    assert "0%" in labels and "10%" in labels
    assert "hard: dd ≥ 10% → stage 3 flatten" in "".join(t.text or "" for t in dd.iter(f"{SVG}text"))


def test_the_time_axis_is_utc_and_says_the_date_across_midnight():
    assert [chart_svg.clock(t) for t in time_ticks(T0, T0 + 3 * 3_600_000)] == \
        ["13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00"]
    late = T0 + 11 * 3_600_000 - 3_600_000  # 23:00 UTC
    root = parse(render_svg(chart([(late, 0.0), (late + 7_200_000, 0.01)], since=late, until=late + 7_200_000)))
    axis = [t.text for t in root.find(f".//{SVG}g[@class='axis']").iter(f"{SVG}text")]
    assert "03-03 00:00" in axis and "03-02 23:00" in axis
    assert axis[-1] == "time (UTC), 2026-03-02 23:00 to 2026-03-03 01:00:00"


def test_a_stage_entry_is_a_marker_at_its_time():
    pts = [(T0 + i * 60_000, 0.02 * i) for i in range(11)]
    marks = [StageMark(T0 + 300_000, 0, 3, "flatten", True, "hard"),
             StageMark(T0 + 540_000, 3, 0, None, False, "reset")]
    root = parse(render_svg(chart(pts, marks=marks, stage=3)))
    entry = root.find(f".//{SVG}g[@class='mark entry']")
    x = float(entry.find(f"{SVG}line").get("x1"))
    assert x == pytest.approx(chart_svg.LEFT + (chart_svg.WIDTH - chart_svg.LEFT - chart_svg.RIGHT) / 2, abs=0.1)
    assert entry.get("data-level") == "3" and entry.find(f"{SVG}text").text == "stage 3 flatten entered 13:05:00"
    assert root.find(f".//{SVG}g[@class='mark exit']") is not None
    assert "stage 3 flatten entered at 13:05:00 UTC" in root.find(f"{SVG}desc").text


def test_a_gap_and_an_unknown_value_break_the_line():
    pts = [(T0, 0.01), (T0 + 5_000, 0.01), (T0 + 300_000, 0.02), (T0 + 305_000, None), (T0 + 310_000, 0.03),
           (T0 + 315_000, 0.03)]
    gaps = gaps_of([t for t, _ in pts], 30_000)
    assert gaps == ((T0 + 5_000, T0 + 300_000),)
    root = parse(render_svg(chart(pts, gaps=gaps)))
    dd = root.find(f".//{SVG}g[@data-series='dd']")
    runs = [path_points(p.get("d")) for p in dd.iter(f"{SVG}path")]
    dots = list(dd.iter(f"{SVG}circle"))
    assert [len(r) for r in runs] == [2, 2] and len(dots) == 1  # before the gap; the lone sample; after the unknown
    hatched = dd.find(f"{SVG}rect[@class='gap']")
    assert hatched is not None and "no samples from 13:00:05 to 13:05:00 UTC" in hatched.find(f"{SVG}title").text


def test_thinning_keeps_the_crash_and_the_unknowns():
    pts = [(T0 + i * 1_000, 0.01) for i in range(5_000)]
    pts[3_333] = (pts[3_333][0], 0.30)
    pts[4_000] = (pts[4_000][0], None)
    out = thin(pts, T0, T0 + 5_000_000, 100)
    assert len(out) <= 150 and (pts[3_333][0], 0.30) in out and (pts[4_000][0], None) in out
    assert [t for t, _ in out] == sorted(t for t, _ in out)


def test_without_samples_it_says_so_and_until_when_it_is_blind():
    c = chart([], coverage="blind: dd_15m: INSUFFICIENT_HISTORY: coverage=0% min=80%", blind_until_ms=T0 + 720_000)
    root = parse(render_svg(c))
    assert root.find(f".//{SVG}path") is None and root.get("data-samples") == "0"
    text = root.find(f".//{SVG}text[@class='empty']").text
    assert text == ("No samples yet in this window: the leader stores one per tick; blind: dd_15m: "
                    "INSUFFICIENT_HISTORY: coverage=0% min=80% until 13:12 UTC.")


def test_names_are_escaped():
    evil = '<script>alert("x")</script>&'
    c = ScopeChart(evil, evil, T0, T0 + 60_000,
                   (Panel(EQUITY, EQUITY, "amount", ((T0, 1.0), (T0 + 5_000, 2.0))),
                    Panel(evil, "equity_drawdown", "ratio", ((T0, 0.1),), (Threshold(evil, ">=", 0.05, evil, (evil,)),),
                          note=evil)),
                   (StageMark(T0 + 1_000, 0, 1, evil, True, evil),), (), 2, T0, T0 + 5_000, 1)
    text = render_svg(c)
    root = parse(text)  # well-formed
    assert "<script" not in text and "&lt;script&gt;" in text
    assert not [e for e in root.iter() if e.tag.split("}")[-1] in ("script", "style", "a", "foreignObject")]
    assert not any(a.startswith("on") for e in root.iter() for a in e.attrib)
    assert root.find(f".//{SVG}g[@class='threshold']").get("data-trigger") == evil
