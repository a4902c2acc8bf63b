"""A threshold computed from signals, through the engine and every view of it.

The crash recording (policies/recordings/futures-crash.jsonl) is replayed as the Bybit futures
book through policies/volatility-drawdown.yaml (``dd_15m >= max(4.5%, 5 * vol_1h)``, for 2
ticks). At every tick the threshold the engine recorded and its decision are checked against a
hand calculation from the tick's signal values; the ticks it fires at are pinned, and so are
those where a fixed 4.5 % fires instead.
"""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from killswitch.engine import triggers
from killswitch.engine.state import TriggerState
from killswitch.preview.plan import plan_ticks
from killswitch.preview.replay import read_ticks, replay
from killswitch.render.evaluation import replay_json, replay_text
from killswitch.render.plan import plan_json, plan_text
from killswitch.runbooks.sample import sample_incident
from killswitch.telemetry.thresholds import check, comparisons, describe
from killswitch.view.charts import sample_of, threshold_key, thresholds_of
from killswitch.view.triggers import _check
from tests.conftest import ROOT
from tests.unit.engine_helpers import compile_graph

POLICY = ROOT / "policies" / "volatility-drawdown.yaml"
RECORDING = ROOT / "policies" / "recordings" / "futures-crash.jsonl"
T0 = 1772456400000  # the recording's first tick
EXPR = "max(4.5%, 5 * vol_1h)"


def graph(text: str = POLICY.read_text()):
    return compile_graph(text, "volatility-drawdown.yaml")


def recording() -> str:
    """The crash recording, as the Bybit futures account the policy watches."""
    out = []
    for line in RECORDING.read_text().splitlines():
        tick = json.loads(line)
        for s in tick["snapshots"]:
            s["account"], s["venue"] = "bybit-futures", "bybit"
        out.append(json.dumps(tick))
    return "\n".join(out)


def run(g):
    return [(int((ev.now_ms - T0) // 60_000), ev) for _, ev, _ in replay(g, read_ticks(io.StringIO(recording())))]


@pytest.fixture(scope="module")
def ticks():
    return run(graph())


def test_the_threshold_and_the_decision_agree_with_a_hand_calculation_at_every_tick(ticks):
    assert len(ticks) == 100
    streak, firing, seen = 0, False, 0
    for minute, ev in ticks:
        [se] = ev.scopes
        values = {v.name: v.value for v in se.signals}
        dd, vol = values["dd_15m"], values["vol_1h"]
        adaptive = next(r for r in se.triggers if r.name == "adaptive")
        # by hand: max(4.5%, 5 × vol), unknown while vol is
        threshold = None if vol is None else max(0.045, 5 * vol)
        [at] = adaptive.thresholds
        assert (at.signal, at.op, at.expression) == ("dd_15m", ">=", EXPR)
        if threshold is None:
            assert at.value is None, minute
        else:
            assert at.value == pytest.approx(threshold, abs=1e-15), minute
            seen += 1
        condition = None if dd is None or threshold is None else dd >= threshold
        assert adaptive.condition is condition, minute
        # for: 2 ticks, on_missing_data: hold (an unknown tick changes nothing)
        if condition is not None:
            streak = streak + 1 if condition else 0
            firing = streak >= 2
        assert adaptive.firing is firing, minute
    assert seen == 50  # vol_1h has a value from 50m on: 48 minutes of 5-minute returns


def first_firing(ticks, trigger):
    return next(m for m, ev in ticks if any(r.name == trigger and r.firing for r in ev.scopes[0].triggers))


def test_it_fires_two_minutes_after_a_fixed_four_and_a_half_percent(ticks):
    fixed = run(graph(POLICY.read_text().replace(f"when: dd_15m >= {EXPR}", "when: dd_15m >= 4.5%")))
    assert first_firing(fixed, "adaptive") == 66  # 5.32% at 65m, 6.14% at 66m: two ticks past 4.5%
    assert first_firing(ticks, "adaptive") == 68  # the line moved to 6.27%, 6.51%: past it at 67m, 68m
    entries = [(m, se.transition.to_level) for m, ev in ticks for se in ev.scopes
               if se.transition is not None and se.transition.kind == "entered"]
    assert entries == [(68, 1), (72, 2)]  # the fixed 10% of the flatten does not move
    by_minute = dict(ticks)
    assert [r.thresholds[0].value for r in by_minute[64].scopes[0].triggers if r.name == "adaptive"] == [0.045]
    assert [round(r.thresholds[0].value, 5) for r in by_minute[70].scopes[0].triggers
            if r.name == "adaptive"] == [0.08157]
    assert all(not r.thresholds for r in by_minute[70].scopes[0].triggers if r.name == "crash")


def test_a_divisor_of_zero_at_run_time_is_unknown_and_the_missing_data_rule_decides():
    text = POLICY.read_text().replace(f"when: dd_15m >= {EXPR}", "when: dd_15m / vol_1h >= 3")
    for rule, expected in (("fire", True), ("ignore", False), ("hold", True)):
        node = graph(text.replace("on_missing_data: hold\n    crash", f"on_missing_data: {rule}\n    crash")) \
            .policies[0].trigger("adaptive")
        assert node.on_missing_data == rule
        st = TriggerState(streak=1, firing=True, last=True)  # it held at the tick before
        r = triggers.step(node, st, {"dd_15m": 0.05, "vol_1h": 0.0}, 60_000)
        assert r.condition is None and r.reason == f"MISSING_DATA: rule={rule}"
        assert r.firing is expected


def test_replay_shows_the_threshold_as_it_was_at_the_tick(ticks):
    g = graph()
    kinds = {p.name: {s.name: s.type.value for s in p.signals} for p in g.policies}
    lines = list(replay_text((ev for _, ev in ticks), kinds))
    entry = lines.index(next(x for x in lines if "stage 0 → 1" in x))
    assert "    threshold adaptive: dd_15m >= 6.512% = max(4.5%, 5 * vol_1h)" in lines[entry:entry + 5]
    verbose = list(replay_text((ev for m, ev in ticks if m == 65), kinds, verbose=True))
    assert "thresholds: adaptive: dd_15m >= 6.274% = max(4.5%, 5 * vol_1h)" in verbose[0]
    doc = json.loads(replay_json((ev for m, ev in ticks if m == 70), g.digest, None))
    [trig] = [s["triggers"]["adaptive"] for s in doc["ticks"][0]["scopes"]]
    assert trig["thresholds"] == [{"signal": "dd_15m", "op": ">=", "expression": EXPR,
                                   "value": pytest.approx(5 * 0.016314, rel=1e-3)}]
    assert "thresholds" not in doc["ticks"][0]["scopes"][0]["triggers"]["crash"]


def test_plan_shows_the_threshold_of_each_change():
    g = graph()
    result = plan_ticks(g, read_ticks(io.StringIO(recording())))
    text = plan_text(result, g, {"kind": "file", "path": "crash.jsonl"}, "dry-run")
    assert "    threshold adaptive: dd_15m >= 6.512% = max(4.5%, 5 * vol_1h)" in text
    [first, *_] = json.loads(plan_json(result, g, {"kind": "file"}, "dry-run"))["changes"]
    assert first["thresholds"][0]["trigger"] == "adaptive"
    assert first["thresholds"][0]["value"] == pytest.approx(0.065118, abs=1e-5)


def test_the_triggers_readout_and_the_decision_span_read_the_recorded_number(ticks):
    g = graph()
    node = g.policies[0]
    trig = node.trigger("adaptive")
    [se] = dict(ticks)[68].scopes
    values = {v.name: v.value for v in se.signals}
    reasons = {v.name: v.reason for v in se.signals}
    types = {s.name: s.type for s in node.signals}
    result = next(r for r in se.triggers if r.name == "adaptive")
    [c] = trig.comparisons
    checked = _check(c, values, reasons, types, True, result)
    assert (checked.threshold, checked.value_text, checked.breached) == ("6.512% = max(4.5%, 5 * vol_1h)", "7.727%",
                                                                         True)
    assert checked.threshold_value == pytest.approx(result.thresholds[0].value)
    # without the recorded result (another runner's tick) the number is not made up
    assert _check(c, values, reasons, types, True, None).threshold == "unknown = max(4.5%, 5 * vol_1h)"
    span = check(comparisons(node), values, reasons, se.triggers)
    adaptive = next(x for x in span if x.comparison.trigger == "adaptive")
    assert describe(adaptive) == "adaptive: dd_15m=7.727% >= 6.512% = max(4.5%, 5 * vol_1h) breached"


def test_a_chart_sample_keeps_the_threshold_and_the_chart_draws_it_moving(ticks):
    node = graph().policies[0]
    key = threshold_key("adaptive", "dd_15m", ">=", EXPR)
    rows = [SimpleNamespace(ts_ms=ev.now_ms, values=sample_of(ev.scopes[0], node)) for _, ev in ticks]
    assert rows[40].values[key] is None and rows[64].values[key] == 0.045
    assert rows[70].values[key] == pytest.approx(0.08157, abs=1e-5)
    fixed, moving = sorted(thresholds_of(node, "dd_15m", rows, T0, T0 + 100 * 60_000), key=lambda t: t.moving)
    assert (fixed.text, fixed.value, fixed.points) == ("10%", 0.1, ())
    assert moving.moving and moving.text == EXPR and moving.stages == ("1 reduce-top-risk",)
    assert len(moving.points) == 100 and moving.value == pytest.approx(rows[-1].values[key])
    assert moving.at(rows[68].ts_ms) == pytest.approx(0.065118, abs=1e-5)


def test_the_sample_runbook_puts_the_signal_just_past_its_computed_threshold():
    node = graph().policies[0]
    data = sample_incident(node, 1, digest="sha256:" + "0" * 64, revision=None)
    [fired] = data["fired"]
    [c] = fired["checks"]
    assert c["threshold"] == "5.00% = max(4.5%, 5 * vol_1h)" and c["breached"] is True
    assert c["threshold_value"] == pytest.approx(0.05)


def test_the_threshold_gauge_is_the_number_of_the_last_evaluation():
    from killswitch.face.readout.gauges import _triggers
    from killswitch.metrics import Registry

    g = graph()
    last = None
    for _, ev, state in replay(g, read_ticks(io.StringIO(recording()))):
        if int((ev.now_ms - T0) // 60_000) == 70:
            last = (ev, state)
            break
    assert last is not None
    ev, state = last
    reg = Registry()
    _triggers(reg, SimpleNamespace(graph=g, state=state, evaluation=ev))
    lines = [x for x in reg.render().splitlines() if x.startswith("killswitch_trigger_threshold{")]
    adaptive = [x for x in lines if 'trigger="adaptive"' in x]
    assert len(adaptive) == 1 and 'signal="dd_15m"' in adaptive[0] and 'op=">="' in adaptive[0]
    assert float(adaptive[0].rsplit(" ", 1)[1]) == pytest.approx(0.08157, abs=1e-5)
    assert any('trigger="crash"' in x and x.endswith(" 0.1") for x in lines)
    # a standby evaluates nothing: no number for the computed threshold, the literal stays
    reg = Registry()
    _triggers(reg, SimpleNamespace(graph=g, state=state, evaluation=None))
    lines = [x for x in reg.render().splitlines() if x.startswith("killswitch_trigger_threshold{")]
    assert not any('trigger="adaptive"' in x for x in lines) and any('trigger="crash"' in x for x in lines)
