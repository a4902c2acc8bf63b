"""Trigger timing: confirmations in ticks and durations, keep_firing_for, inclusive thresholds,
and what each on_missing_data rule does when the signal goes missing mid-confirmation.

The signal is ``equity_change`` against a 10k baseline, so each tick's condition is set by the
equity the test writes: ``T`` (9 000, -10 %), ``F`` (10 000, 0 %) or ``M`` (a failed fetch: the
value is unknown).
"""

from __future__ import annotations

import pytest

from tests.unit.engine_helpers import MIN, SEC, failed, policy_graph, pos, run, single_signal_graph, snap, trig

EQ = {"T": 9_000.0, "F": 10_000.0}


def graph(extra: str = "", on_missing: str = "ignore"):
    return policy_graph(
        "s: {equity_change: {against: baseline, baseline: 10k}}",
        f't: {{when: "s <= -5%", on_missing_data: {on_missing}{extra}}}',
        "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}",
    )


def drive(g, pattern: str, step_ms: int = MIN):
    ticks = []
    for i, c in enumerate(pattern):
        t = i * step_ms
        ticks.append((t, [failed(t) if c == "M" else snap(EQ[c], t)]))
    evs, _ = run(g, ticks)
    return [trig(ev) for ev in evs]


def firing(results) -> str:
    return "".join("1" if r.firing else "0" for r in results)


# --- for: N ticks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "confirm, pattern, expected",
    [
        pytest.param("", "TFT", "101", id="no_for_fires_on_the_first_true_tick"),
        pytest.param(", for: 1 tick", "TFT", "101", id="1_tick_fires_on_the_first_true_tick"),
        pytest.param(", for: 3 ticks", "TTTT", "0011", id="3_ticks_fires_on_the_third"),
        pytest.param(", for: 3 ticks", "TTFTTT", "000001", id="3_ticks_a_false_tick_resets_the_count"),
        pytest.param(", for: 3 ticks", "TTTFTT", "001000", id="3_ticks_stops_firing_on_false_and_must_reconfirm"),
        pytest.param(", for: 2 ticks", "FTFTFT", "000000", id="2_ticks_alternating_never_fires"),
    ],
)
def test_for_ticks(confirm, pattern, expected):
    assert firing(drive(graph(confirm), pattern)) == expected


def drive_at(g, marks: list[tuple[int, str]]):
    """Ticks at the given times (ms), each ``T``, ``F`` or ``M`` as in :func:`drive`."""
    evs, _ = run(g, [(t, [failed(t) if c == "M" else snap(EQ[c], t)]) for t, c in marks])
    return [trig(ev) for ev in evs]


# A stream wakes the runner between interval ticks (interval 1m here): those ticks must not
# confirm "for: 3 ticks" three times faster than the policy says.
def test_for_ticks_woken_ticks_within_an_interval_count_once():
    res = drive_at(graph(", for: 3 ticks"), [(0, "T"), (1 * SEC, "T"), (2 * SEC, "T"), (3 * SEC, "T")])
    assert firing(res) == "0000"
    assert [r.pending for r in res] == ["1/3 ticks"] * 4


def test_for_ticks_fires_after_three_intervals_with_wakes_between():
    marks = [(0, "T"), (5 * SEC, "T"), (MIN, "T"), (MIN + 5 * SEC, "T"), (2 * MIN, "T")]
    assert firing(drive_at(graph(", for: 3 ticks"), marks)) == "00001"


def test_for_ticks_a_false_woken_tick_still_resets_the_count():
    marks = [(0, "T"), (MIN, "T"), (MIN + 5 * SEC, "F"), (2 * MIN, "T"), (3 * MIN, "T")]
    assert [r.pending for r in drive_at(graph(", for: 3 ticks"), marks)] == [
        "1/3 ticks", "2/3 ticks", None, "1/3 ticks", "2/3 ticks"]


def test_for_ticks_a_tick_a_little_early_still_counts():
    # 0.9 of an interval: a runner's clock jitter must not stretch the confirmation by a tick
    marks = [(0, "T"), (MIN - 5 * SEC, "T"), (2 * MIN - 10 * SEC, "T")]
    assert firing(drive_at(graph(", for: 3 ticks"), marks)) == "001"


def test_for_duration_is_time_whatever_the_ticks():
    marks = [(0, "T"), (10 * SEC, "T"), (20 * SEC, "T"), (2 * MIN, "T")]
    assert firing(drive_at(graph(", for: 2m"), marks)) == "0001"


def test_for_ticks_reports_pending_count():
    res = drive(graph(", for: 3 ticks"), "TTT")
    assert [r.pending for r in res] == ["1/3 ticks", "2/3 ticks", None]
    assert [r.condition for r in res] == [True, True, True]


# --- for: <duration> ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern, expected",
    [
        # ticks every 30 s; for: 2m is measured from the first true tick
        pytest.param("TTTTT", "00001", id="fires_when_2m_have_passed_since_the_first_true_tick"),
        pytest.param("TTTFTTTTT", "000000001", id="a_false_tick_restarts_the_clock"),
        pytest.param("TTTT", "0000", id="90s_of_true_is_not_enough"),
    ],
)
def test_for_duration(pattern, expected):
    assert firing(drive(graph(", for: 2m"), pattern, step_ms=30 * SEC)) == expected


def test_for_duration_is_time_not_tick_count():
    g = graph(", for: 2m")
    # two true ticks 2 minutes apart confirm a 2-minute condition (no tick in between was false)
    ticks = [(0, [snap(9_000, 0)]), (2 * MIN, [snap(9_000, 2 * MIN)])]
    evs, _ = run(g, ticks)
    assert [trig(ev).firing for ev in evs] == [False, True]
    assert trig(evs[0]).pending == "0s/120s"


# --- keep_firing_for ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "confirm, pattern, expected",
    [
        pytest.param(", keep_firing_for: 2m", "TFFFF", "11100", id="keeps_firing_2m_after_the_last_true_tick"),
        pytest.param(", keep_firing_for: 2m", "TFTFFF", "111110", id="a_new_true_tick_extends_the_hold"),
        pytest.param(", for: 2 ticks, keep_firing_for: 1m", "TFFF", "0000",
                     id="unconfirmed_condition_is_not_kept"),
        pytest.param(", for: 2 ticks, keep_firing_for: 1m", "TTFFF", "01100", id="kept_after_confirmation_only"),
    ],
)
def test_keep_firing_for(confirm, pattern, expected):
    assert firing(drive(graph(confirm), pattern)) == expected


# --- thresholds are inclusive ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sig, when, loss_or_equity, expected",
    [
        pytest.param("{position_loss: {of: equity}}", "s >= 5%", 500, True, id="loss_exactly_5pct_fires_ge_5pct"),
        pytest.param("{position_loss: {of: equity}}", "s >= 5%", 499, False, id="loss_just_below_5pct_does_not"),
        pytest.param("{position_loss: {of: equity}}", "s > 5%", 500, False, id="strict_gt_at_equality_does_not"),
        pytest.param("{equity_change: {against: baseline, baseline: 10k}}", "s <= -5%", 9_500, True,
                     id="change_exactly_minus_5pct_fires_le_minus_5pct"),
        pytest.param("{equity_change: {against: baseline, baseline: 10k}}", "s <= -5%", 9_501, False,
                     id="change_minus_4_99pct_does_not"),
        pytest.param("{equity_change: {against: baseline, baseline: 10k}}", "s <= -4.5%", 9_550, True,
                     id="change_exactly_minus_4_5pct_fires"),
        pytest.param("leverage", "s >= 3", 3, True, id="leverage_exactly_3_fires_ge_3"),
    ],
)
def test_thresholds_inclusive(sig, when, loss_or_equity, expected):
    g = single_signal_graph(sig, when)
    if sig.startswith("{position_loss"):
        s = snap(10_000, 0, positions=[pos(pnl=-loss_or_equity)])
    elif sig == "leverage":
        s = snap(10_000, 0, positions=[pos(contracts=loss_or_equity, mark=10_000)])
    else:
        s = snap(loss_or_equity, 0)
    evs, _ = run(g, [(0, [s])])
    assert trig(evs[0]).firing is expected


@pytest.mark.parametrize("when, expected", [("s >= 60s", True), ("s > 60s", False)])
def test_duration_threshold_inclusive(when, expected):
    g = single_signal_graph("data_age", when, on_missing="fire")
    evs, _ = run(g, [(0, [snap(10_000, 0)]), (60 * SEC, [failed(60 * SEC)])])
    assert trig(evs[-1]).firing is expected


@pytest.mark.parametrize(
    "dd_path, expected",
    [pytest.param([10_000] * 8 + [9_500], True, id="drawdown_exactly_5pct_fires"),
     pytest.param([10_000] * 8 + [9_501], False, id="drawdown_4_99pct_does_not")],
)
def test_drawdown_threshold_inclusive(dd_path, expected):
    g = single_signal_graph("{equity_drawdown: {window: 10m}}", "s >= 5%")
    evs, _ = run(g, [(i * MIN, [snap(e, i * MIN)]) for i, e in enumerate(dd_path)])
    assert trig(evs[-1]).firing is expected


# --- on_missing_data --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule, pattern, expected",
    [
        pytest.param("fire", "TMT", "001", id="fire_missing_counts_as_true_mid_confirmation"),
        pytest.param("fire", "MMM", "001", id="fire_only_missing_still_needs_confirmation"),
        pytest.param("fire", "TTTM", "0011", id="fire_missing_keeps_firing"),
        pytest.param("hold", "TMTT", "0001", id="hold_missing_neither_grows_nor_resets_the_count"),
        pytest.param("hold", "TTMT", "0001", id="hold_missing_before_the_last_tick"),
        pytest.param("hold", "TTTM", "0011", id="hold_keeps_a_firing_trigger_firing"),
        pytest.param("hold", "TTTFM", "00100", id="hold_keeps_a_quiet_trigger_quiet"),
        pytest.param("hold", "MMMM", "0000", id="hold_with_nothing_known_never_fires"),
        pytest.param("ignore", "TMTT", "0000", id="ignore_missing_counts_as_false_and_resets"),
        pytest.param("ignore", "TMTTT", "00001", id="ignore_reconfirms_after_the_gap"),
        pytest.param("ignore", "TTTM", "0010", id="ignore_stops_a_firing_trigger"),
    ],
)
def test_on_missing_data_mid_confirmation(rule, pattern, expected):
    res = drive(graph(", for: 3 ticks", on_missing=rule), pattern)
    assert firing(res) == expected
    for c, r in zip(pattern, res):
        if c == "M":
            assert r.condition is None
            assert r.reason == f"MISSING_DATA: rule={rule}"
        else:
            assert r.reason is None


def test_hold_reports_the_count_it_keeps():
    res = drive(graph(", for: 3 ticks", on_missing="hold"), "TTM")
    assert res[2].pending == "2/3 ticks" and not res[2].firing
