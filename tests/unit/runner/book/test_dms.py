"""The dead man's switch: arm, beat, due, fire once, disarm; heartbeats never move backwards;
the native countdown refresh plan; the JSON round trip.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.runner.book.dms_state import DeadMansSwitch, SourceStatus
from tests.unit.engine_helpers import SEC

T0 = 1_700_000_000_000


def armed(timeout_s: float = 30, source: str = "bot-a") -> DeadMansSwitch:
    return DeadMansSwitch().arm(source, timeout_s, T0)


# --- arm / beat / due ------------------------------------------------------------------------------


@pytest.mark.parametrize("beats, now, due", [
    pytest.param([], T0 + 29_999, [], id="just_before_timeout"),
    pytest.param([], T0 + 30_000, ["bot-a"], id="at_timeout_fires"),
    pytest.param([], T0 + 90_000, ["bot-a"], id="long_after_timeout"),
    pytest.param([T0 + 10_000], T0 + 30_000, [], id="beat_pushes_deadline"),
    pytest.param([T0 + 10_000], T0 + 40_000, ["bot-a"], id="deadline_from_last_beat"),
    pytest.param([T0 + 10_000, T0 + 5_000], T0 + 39_999, [], id="older_beat_ignored"),
])
def test_due(beats, now, due):
    d = armed()
    for b in beats:
        d = d.beat("bot-a", b)
    assert d.due(now) == due


def test_fires_once_per_silence():
    d = armed()
    fired, d = d.fire_due(T0 + 30 * SEC)
    assert fired == ["bot-a"]
    assert d.due(T0 + 31 * SEC) == []
    fired, d = d.fire_due(T0 + 100 * SEC)
    assert fired == []
    assert d.status(T0 + 100 * SEC)["bot-a"].fired


def test_beat_after_firing_rearms():
    _, d = armed().fire_due(T0 + 30 * SEC)
    d = d.beat("bot-a", T0 + 31 * SEC)
    assert not d.status(T0 + 31 * SEC)["bot-a"].fired
    assert d.due(T0 + 60 * SEC) == []
    assert d.due(T0 + 61 * SEC) == ["bot-a"]


def test_stale_beat_does_not_rearm_a_fired_source():
    d = armed().beat("bot-a", T0 + 10 * SEC)
    _, d = d.fire_due(T0 + 40 * SEC)
    # a beat stamped at the firing time (not after it) proves nothing about now
    d = d.beat("bot-a", T0 + 40 * SEC)
    assert d.status(T0 + 40 * SEC)["bot-a"].fired
    assert d.due(T0 + 100 * SEC) == []


def test_rearm_clears_firing():
    _, d = armed().fire_due(T0 + 30 * SEC)
    d = d.arm("bot-a", 30, T0 + 35 * SEC)
    assert d.due(T0 + 64_999) == [] and d.due(T0 + 65 * SEC) == ["bot-a"]


def test_arm_never_moves_last_beat_back():
    d = armed().beat("bot-a", T0 + 20 * SEC).arm("bot-a", 10, T0)
    assert d.due(T0 + 29_999) == [] and d.due(T0 + 30 * SEC) == ["bot-a"]


@pytest.mark.parametrize("listening_since, now, due", [
    pytest.param(None, T0 + 30 * SEC, ["bot-a"], id="no_listening_time"),
    pytest.param(T0 - 3600 * SEC, T0 + 30 * SEC, ["bot-a"], id="listening_before_the_beat"),
    pytest.param(T0 + 100 * SEC, T0 + 129_999, [], id="restarted_late_gets_a_whole_timeout"),
    pytest.param(T0 + 100 * SEC, T0 + 130 * SEC, ["bot-a"], id="then_fires"),
])
def test_silence_counts_from_when_the_runner_started_listening(listening_since, now, due):
    assert armed().due(now, listening_since) == due
    names, d = armed().fire_due(now, listening_since)
    assert names == due
    if due:
        assert d.due(now + 10 ** 6, listening_since) == []  # once fired, quiet until a beat or an arming


def test_disarm_stops_firing_and_keeps_last_beat():
    d = armed().beat("bot-a", T0 + 5 * SEC).disarm("bot-a")
    assert d.due(T0 + 1000 * SEC) == []
    s = d.status(T0 + 15 * SEC)["bot-a"]
    assert (s.armed, s.last_beat_age_s, s.fires_in_s, s.fired) == (False, 10.0, None, False)


def test_disarm_unknown_source_is_a_no_op():
    d = armed()
    assert d.disarm("nobody") == d


def test_beat_of_unknown_source_is_recorded_not_armed():
    d = DeadMansSwitch().beat("feed", T0)
    assert d.due(T0 + 10 ** 9) == []
    assert d.status(T0 + 2 * SEC)["feed"] == SourceStatus(False, 2.0, None, False, None)


def test_status_fields():
    d = armed(30).beat("bot-a", T0 + 10 * SEC)
    s = d.status(T0 + 25 * SEC)["bot-a"]
    assert s == SourceStatus(True, 15.0, 15.0, False, 30.0)
    assert d.status(T0 + 45 * SEC)["bot-a"].fires_in_s == 0.0
    assert d.status(T0)["bot-a"].last_beat_age_s == 0.0  # clock behind the beat: age 0, not negative
    assert json.dumps(s.to_json())


def test_values_are_not_mutated():
    d0 = DeadMansSwitch()
    d1 = d0.arm("a", 10, T0)
    d1.beat("a", T0 + SEC)
    d1.fire_due(T0 + 100 * SEC)
    assert d0.sources == {} and d1.sources["a"].last_beat_ms == T0 and d1.sources["a"].fired_ms is None


def test_several_sources_independent():
    d = DeadMansSwitch().arm("a", 10, T0).arm("b", 60, T0).beat("a", T0 + 5 * SEC)
    assert d.due(T0 + 15 * SEC) == ["a"]
    assert d.due(T0 + 60 * SEC) == ["a", "b"]


@pytest.mark.parametrize("source, timeout, now", [
    pytest.param("", 10, T0, id="empty_source"),
    pytest.param(None, 10, T0, id="no_source"),
    pytest.param("a", 0, T0, id="zero_timeout"),
    pytest.param("a", -1, T0, id="negative_timeout"),
    pytest.param("a", float("nan"), T0, id="nan_timeout"),
    pytest.param("a", float("inf"), T0, id="inf_timeout"),
    pytest.param("a", True, T0, id="bool_timeout"),
    pytest.param("a", 0.0001, T0, id="sub_ms_timeout"),
    pytest.param("a", 10, 1.5, id="float_now"),
])
def test_arm_rejects_bad_arguments(source, timeout, now):
    with pytest.raises(ValueError):
        DeadMansSwitch().arm(source, timeout, now)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["beat", "due", "arm"]), st.integers(0, 200_000)), max_size=30))
def test_last_beat_never_moves_backwards_and_fires_once_per_silence(ops):
    d = armed(30)
    last = T0
    fired_since_beat = False
    for op, t in ops:
        now = T0 + t
        if op == "beat":
            d = d.beat("bot-a", now)
            if now > last:
                if d.sources["bot-a"].fired_ms is None:
                    fired_since_beat = False
                last = now
        elif op == "arm":
            d = d.arm("bot-a", 30, now)
            last = max(last, now)
            fired_since_beat = False
        else:
            fired, d = d.fire_due(now)
            if fired:
                assert not fired_since_beat, "fired twice without a beat in between"
                assert now - last >= 30_000
                fired_since_beat = True
        assert d.sources["bot-a"].last_beat_ms == last


# --- native countdown refresh ------------------------------------------------------------------------------


CAPS = {"binanceusdm": True, "okx": True, "kraken": False}  # whether each venue has a cancel-all-after


def native(countdown_s: dict, last: dict) -> DeadMansSwitch:
    """A switch keeping each venue's countdown of ``countdown_s``, refreshed as ``last`` says."""
    d = DeadMansSwitch()
    for venue, seconds in countdown_s.items():
        d = d.arm_native(venue, seconds)
    for venue, at in last.items():
        d = d.refreshed(venue, at)
    return d


@pytest.mark.parametrize("last, now, refresh, lapsed", [
    pytest.param({}, T0, ("binanceusdm", "okx"), (), id="never_armed_refresh_all_supported"),
    pytest.param({"binanceusdm": T0, "okx": T0}, T0 + 19_999, (), (), id="before_a_third"),
    pytest.param({"binanceusdm": T0, "okx": T0}, T0 + 20_000, ("binanceusdm", "okx"), (), id="at_a_third"),
    pytest.param({"binanceusdm": T0, "okx": T0 + 10_000}, T0 + 20_000, ("binanceusdm",), (), id="per_venue"),
    pytest.param({"binanceusdm": T0, "okx": T0}, T0 + 60_000, ("binanceusdm", "okx"), ("binanceusdm", "okx"),
                 id="lapsed_countdown_reported"),
    pytest.param({"binanceusdm": T0 + 5_000, "okx": T0}, T0, ("binanceusdm",), (), id="clock_went_back_refreshes"),
])
def test_native_refresh_plan(last, now, refresh, lapsed):
    plan = native(dict.fromkeys(CAPS, 60), last).native_plan(now, CAPS)
    assert plan.refresh == refresh
    assert plan.lapsed == lapsed
    assert plan.unsupported == ("kraken",)


def test_native_refresh_per_venue_countdown():
    plan = native({"a": 30, "b": 120}, {"a": T0, "b": T0}).native_plan(T0 + 15_000, {"a": True, "b": True})
    assert plan.refresh == ("a",)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 600), st.lists(st.integers(1, 50_000), min_size=1, max_size=40))
def test_refreshing_when_told_never_lets_the_countdown_lapse(countdown_s, gaps):
    """A runner that polls the plan at least every third of the countdown and refreshes what it
    names never leaves a countdown armed longer ago than the countdown."""
    interval_ms = countdown_s * 1000 // 3
    d = DeadMansSwitch().arm_native("binanceusdm", countdown_s)
    now = T0
    for g in gaps:
        plan = d.native_plan(now, CAPS)
        assert plan.lapsed == ()
        for v in plan.refresh:
            d = d.refreshed(v, now)
        now += min(g, interval_ms)  # the runner's loop is at least that frequent
        last = d.native["binanceusdm"].last_refresh_ms
        assert now - last < countdown_s * 1000


def test_native_state_in_switch():
    d = DeadMansSwitch().arm_native("binanceusdm", 60).arm_native("kraken", 60)
    plan = d.native_plan(T0, CAPS)
    assert plan.refresh == ("binanceusdm",) and plan.unsupported == ("kraken",)
    d = d.refreshed("binanceusdm", T0).refreshed("binanceusdm", T0 - 5)  # never backwards
    assert d.native["binanceusdm"].last_refresh_ms == T0
    assert d.native_plan(T0 + 19_999, CAPS).refresh == ()
    assert "binanceusdm" not in d.disarm_native("binanceusdm").native
    with pytest.raises(KeyError):
        d.refreshed("okx", T0)


# --- JSON -----------------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["arm", "beat", "disarm", "fire", "native", "refresh"]),
                          st.sampled_from(["a", "b", "binanceusdm"]), st.integers(0, 10 ** 6),
                          st.integers(1, 3600)), max_size=20))
def test_json_round_trip(ops):
    d = DeadMansSwitch()
    for op, name, t, secs in ops:
        now = T0 + t
        if op == "arm":
            d = d.arm(name, secs, now)
        elif op == "beat":
            d = d.beat(name, now)
        elif op == "disarm":
            d = d.disarm(name)
        elif op == "fire":
            _, d = d.fire_due(now)
        elif op == "native":
            d = d.arm_native(name, secs)
        elif name in d.native:
            d = d.refreshed(name, now)
    assert DeadMansSwitch.from_json(d.to_json()) == d
    assert DeadMansSwitch.from_json(d.to_json()).to_json() == d.to_json()


def _doc() -> dict:
    return json.loads(armed().arm_native("binanceusdm", 60).to_json())


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda d: d.update(format_version=2), id="unknown_version"),
    pytest.param(lambda d: d.update(format_version=True), id="bool_version"),
    pytest.param(lambda d: d.update(extra=1), id="unknown_key"),
    pytest.param(lambda d: d["sources"]["bot-a"].update(armed="yes"), id="armed_not_bool"),
    pytest.param(lambda d: d["sources"]["bot-a"].update(timeout_ms=None), id="armed_without_timeout"),
    pytest.param(lambda d: d["sources"]["bot-a"].update(last_beat_ms=1.5), id="float_time"),
    pytest.param(lambda d: d["sources"]["bot-a"].pop("fired_ms"), id="missing_key"),
    pytest.param(lambda d: d["native"]["binanceusdm"].update(countdown_ms=0), id="zero_countdown"),
    pytest.param(lambda d: d["sources"].update({"": d["sources"]["bot-a"]}), id="empty_source_name"),
])
def test_from_json_rejects_bad_documents(mutate):
    doc = _doc()
    mutate(doc)
    with pytest.raises(ValueError):
        DeadMansSwitch.from_dict(doc)


def test_from_json_accepts_its_own_document():
    assert DeadMansSwitch.from_dict(_doc()) == armed().arm_native("binanceusdm", 60)
