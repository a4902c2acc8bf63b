"""Trading windows: a policy's named time intervals (the routes' language) gating a lock by the
clock (``spec.lock_trading``), a stage's entry and the pre-trade limits (``during:`` /
``outside:``): the compile errors, the edges (daylight saving included, against a minute-by-
minute scan), the engine and the lock book on a fake clock, the gate's answers, and the lines
status and plan show."""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.compile.compiler import compile_documents
from killswitch.compile.windows import next_edge_ms, window_rows
from killswitch.policy.load import load_text
from killswitch.policy.time_intervals import NamedInterval, Period, Window, next_change, periods
from killswitch.render.locks import window_lines
from killswitch.runner.gate.gate import check_order
from killswitch.runner.lock.evaluation import WINDOW_STAGE, apply_evaluation
from killswitch.runner.lock.lock import LockBook
from killswitch.zones import zone
from tests.unit.engine_helpers import MIN, pos, run, snap

ACCT = "simulated/a"
BTC = "BTC/USDT:USDT"


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


FRI_2359 = ms("2026-11-27T23:59:00+00:00")  # a Friday
SAT_0000 = ms("2026-11-28T00:00:00+00:00")
SUN_1200 = ms("2026-11-29T12:00:00+00:00")
MON_0000 = ms("2026-11-30T00:00:00+00:00")

POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: desk}
spec:
  interval: 5s
  time_intervals:
    - name: weekend
      time_intervals: [{weekdays: ["saturday:sunday"]}]
    - name: funding
      time_intervals:
        - times: [{start_time: "07:55", end_time: "08:05"}]
    - name: desk-hours
      time_intervals:
        - weekdays: ["monday:friday"]
          times: [{start_time: "09:00", end_time: "17:30"}]
          location: Europe/London
  lock_trading: {mode: reducing, during: [weekend, funding]}
  signals:
    s: {equity_change: {against: initial_capital}}
  triggers:
    t: {when: "s <= -5%", on_missing_data: ignore}
  stages:
    - {level: 1, name: cut, on: [t], RESET, STAGE_WIN, actions: [{lock_trading: {mode: halted}}]}
  limits:
    max_order_notional: 1k
    LIM_WIN
"""


def policy(stage_window: str = "outside: [desk-hours]", reset: str = "reset: manual",
           limits_window: str = "during: [desk-hours]", lock: str | None = None) -> str:
    text = POLICY.replace("STAGE_WIN", stage_window).replace("RESET", reset).replace("LIM_WIN", limits_window)
    if lock is not None:
        text = text.replace("  lock_trading: {mode: reducing, during: [weekend, funding]}\n", lock)
    return text


def compiled(text: str, zones=zone):
    return compile_documents(load_text(textwrap.dedent(text), "p.yaml"), zones=zones)


def graph(text: str | None = None):
    result = compiled(text or policy())
    assert not result.errors, result.errors
    return result.graph


def findings(text: str, zones=zone) -> list[tuple[str, str, str]]:
    return [(f"{x.pos.line}:{x.pos.col}" if x.pos else "", x.code, x.message + " | " + (x.hint or ""))
            for x in compiled(text, zones).errors]


# --- compile errors ----------------------------------------------------------------------------


def test_a_typo_in_an_interval_name_is_refused_where_it_is_written_with_the_closest_name():
    [(where, code, said)] = findings(policy().replace("during: [weekend, funding]", "during: [weekend, fundng]"))
    assert (where, code) == ("17:52", "KS104")
    assert 'unknown time interval "fundng"' in said and 'did you mean "funding"?' in said


def test_a_stage_naming_an_unknown_interval_is_refused_with_the_closest_name():
    [(where, code, said)] = findings(policy(stage_window="outside: [desk_hours]"))
    assert code == "KS104" and where.startswith("23:") and 'did you mean "desk-hours"?' in said


@pytest.mark.parametrize("text, place", [
    (policy(stage_window="during: [weekend], outside: [desk-hours]"), "stages[0].outside"),
    (policy(limits_window="during: []"), "limits.during"),
    (policy(stage_window="outside: []"), "stages[0].outside"),
    (policy(lock="  lock_trading: {mode: reducing}\n"), "lock_trading"),
])
def test_both_during_and_outside_an_empty_list_or_a_lock_without_a_window_are_refused(text, place):
    [(where, code, said)] = findings(text)
    assert code == "KS270" and where and said.startswith(place), said


def test_an_unknown_zone_is_refused_and_a_zone_without_a_zone_database_too():
    [(_, code, said)] = findings(policy().replace("Europe/London", "Europe/Lundon"))
    assert code == "KS103" and "Europe/Lundon" in said
    [(where, code, said)] = findings(policy(), zones=None)
    assert (where, code) == ("16:21", "KS103") and "no time zone database" in said


def test_a_policy_without_windows_keeps_its_digest_and_compiles_as_before():
    plain = policy().replace("  lock_trading: {mode: reducing, during: [weekend, funding]}\n", "") \
        .replace(", outside: [desk-hours]", "").replace("    during: [desk-hours]\n", "")
    g = graph(plain.replace(POLICY[POLICY.index("  time_intervals:"):POLICY.index("  lock_trading")], ""))
    assert "time_intervals" not in g.policies[0].canonical["spec"]  # the digest a policy had before windows
    assert g.policies[0].window_lock is None and g.policies[0].stages[0].window is None
    assert g.policies[0].limits.window is None and g.policies[0].limits.in_force(SAT_0000)


# --- edges --------------------------------------------------------------------------------------


def _scan(intervals, start: int, limit: int):
    """The first UTC minute after ``start`` at which the union changes, by brute force."""
    was = any(iv.contains(start) for iv in intervals)
    t = (start // MIN + 1) * MIN
    while t <= start + limit:
        if any(iv.contains(t) for iv in intervals) != was:
            return t
        t += MIN
    return None


def _iv(zone_name: str, times=(), weekdays=(), days=()) -> NamedInterval:
    return NamedInterval("x", (Period(zone(zone_name), tuple(times), tuple(weekdays), tuple(days), (), ()),))


ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"]
# around 2026's daylight-saving changes: Europe 03-29 and 10-25, the US 03-08 and 11-01, Lord Howe 04-05 and 10-04
STARTS = [ms(t) for t in ("2026-03-07T12:00:00+00:00", "2026-03-28T12:00:00+00:00", "2026-04-04T06:00:00+00:00",
                          "2026-10-03T06:00:00+00:00", "2026-10-24T12:00:00+00:00", "2026-10-31T12:00:00+00:00")]


@settings(max_examples=60, deadline=None)
@given(zone_name=st.sampled_from(ZONES), start=st.sampled_from(STARTS), shift=st.integers(0, 36 * 60),
       a=st.integers(0, 1439), length=st.integers(1, 1440), days=st.one_of(st.just(()), st.tuples(
           st.integers(0, 6), st.integers(0, 6)).map(lambda ab: (tuple(sorted(ab)),))))
def test_the_next_change_is_the_first_minute_a_scan_finds(zone_name, start, shift, a, length, days):
    b = min(1440, a + length)
    iv = _iv(zone_name, times=((a, b),), weekdays=days)
    t0 = start + shift * MIN + 17_000  # mid-minute, as a tick is
    assert next_change([iv], t0, horizon_ms=9 * 1440 * MIN) == _scan([iv], t0, 9 * 1440 * MIN)


def test_a_range_inside_the_spring_gap_opens_at_the_jump_and_closes_an_hour_of_wall_clock_later():
    # Europe/London, 2026-03-29: 01:00 GMT jumps to 02:00 BST; 01:30 … 02:30 local
    iv = _iv("Europe/London", times=((90, 150),))
    before = ms("2026-03-29T00:30:00+00:00")
    assert next_change([iv], before) == ms("2026-03-29T01:00:00+00:00")  # the jump lands inside
    assert next_change([iv], ms("2026-03-29T01:00:00+00:00")) == ms("2026-03-29T01:30:00+00:00")  # 02:30 BST


def test_desk_hours_follow_the_clock_change_in_their_zone():
    iv = _iv("Europe/London", times=((540, 1050),), weekdays=((0, 4),))
    # the Monday after the spring change opens at 09:00 BST, 08:00 UTC; the one before at 09:00 UTC
    assert next_change([iv], ms("2026-03-29T12:00:00+00:00")) == ms("2026-03-30T08:00:00+00:00")
    assert next_change([iv], ms("2026-03-22T12:00:00+00:00")) == ms("2026-03-23T09:00:00+00:00")
    # autumn: the Monday after 10-25 opens at 09:00 GMT again
    assert next_change([iv], ms("2026-10-25T12:00:00+00:00")) == ms("2026-10-26T09:00:00+00:00")


def test_an_interval_that_never_changes_again_says_so():
    iv = NamedInterval("y", (Period(timezone.utc, (), (), (), (), ((2020, 2021),)),))
    assert next_change([iv], SAT_0000) is None


def test_a_window_reads_its_intervals_again_only_at_its_edge(monkeypatch):
    w = Window("during", ("weekend",), (_iv("UTC", weekdays=((5, 6),)),))
    calls = []
    real = periods.next_change
    monkeypatch.setattr(periods, "next_change", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    assert w.at(FRI_2359) == (False, SAT_0000)
    for t in range(FRI_2359, SAT_0000, 5_000):  # a tick every 5 s up to the edge: answered from memory
        assert w.at(t) == (False, SAT_0000)
    assert w.at(SAT_0000) == (True, MON_0000) and w.at(SUN_1200) == (True, MON_0000)
    assert calls == [FRI_2359, SAT_0000]


# --- the engine: a stage's entry, never its latch -------------------------------------------------


def _tick(g, now, equity, state=None):
    evs, state = run(g, [(now, [snap(equity, now, initial_capital=10_000.0)])], state)
    return evs[0].scopes[0], state


def test_a_stage_outside_desk_hours_is_not_entered_inside_them_and_stays_latched_when_they_open():
    g = graph()
    tue_1000 = ms("2026-11-24T10:00:00+00:00")  # 10:00 GMT: desk hours
    se, state = _tick(g, tue_1000, 9_000.0)
    assert se.transition is None and se.stage_after == 0
    assert any(r.startswith("WINDOW_CLOSED: stage=1 outside desk-hours opens=2026-11-24T17:30:00Z")
               for r in se.refusals), se.refusals
    se, state = _tick(g, ms("2026-11-24T18:00:00+00:00"), 9_000.0, state)
    assert se.transition is not None and se.transition.kind == "entered"
    se, state = _tick(g, ms("2026-11-25T10:00:00+00:00"), 9_000.0, state)  # desk hours again: still entered
    assert se.stage_after == 1 and se.transition is None


def test_an_auto_stage_whose_trigger_still_fires_is_not_reset_because_its_window_closed():
    g = graph(policy(reset="reset: auto, reset_after: 1m"))
    se, state = _tick(g, ms("2026-11-24T18:00:00+00:00"), 9_000.0)
    assert se.stage_after == 1
    se, state = _tick(g, ms("2026-11-25T10:00:00+00:00"), 9_000.0, state)  # fires, window closed
    assert se.stage_after == 1 and se.transition is None
    se, state = _tick(g, ms("2026-11-25T10:05:00+00:00"), 10_000.0, state)  # quiet: it resets by its rule
    assert se.transition is not None and se.transition.kind == "reset"


# --- the lock by the clock, and the gate ----------------------------------------------------------


def _fold(g, book, now, state=None):
    evs, state = run(g, [(now, [snap(10_000.0, now, initial_capital=10_000.0)])], state)
    return apply_evaluation(book, evs[0], g), state


def _ask(book, now, **kw):
    request = {"account": ACCT, "symbol": BTC, "side": "buy", "amount": 1.0, **kw}
    return check_order(book, request, [pos(BTC, "long", 2.0)], now)


def test_a_weekend_lock_starts_and_ends_by_the_window_on_a_fake_clock():
    g = graph()
    book, state = _fold(g, LockBook(), FRI_2359)
    assert book.holds == () and _ask(book, FRI_2359).allow
    book, state = _fold(g, book, SAT_0000, state)
    (hold,) = book.holds
    assert (hold.stage, hold.mode, hold.expires_ms) == (WINDOW_STAGE, "reducing", MON_0000)
    assert hold.reason == "TRADING_WINDOW: policy=desk lock_trading reducing during weekend, funding"
    deny = _ask(book, SUN_1200)
    assert not deny.allow and deny.reason.startswith("REDUCING")
    assert _ask(book, SUN_1200, side="sell", amount=1.0).allow  # reduces the long: let through
    again, state = _fold(g, book, SUN_1200, state)
    assert again.holds == book.holds  # the same hold, not placed again each tick
    assert _ask(book, MON_0000).allow  # no tick at Monday 00:00: the hold ends at its edge by itself
    book, state = _fold(g, book, MON_0000 + 5_000, state)
    assert book.in_force(MON_0000 + 5_000) == ()


def test_a_policy_reloaded_without_its_window_lets_its_lock_go():
    book, state = _fold(graph(), LockBook(), SAT_0000)
    assert len(book.holds) == 1
    plain = graph(policy().replace("  lock_trading: {mode: reducing, during: [weekend, funding]}\n", ""))
    book, _ = _fold(plain, book, SUN_1200, state)
    assert book.holds == ()


def test_a_funding_window_locks_for_its_ten_minutes_on_a_weekday():
    g = graph()
    at = ms("2026-11-24T07:55:00+00:00")
    book, _ = _fold(g, LockBook(), at)
    (hold,) = book.holds
    assert hold.expires_ms == ms("2026-11-24T08:05:00+00:00")
    assert not _ask(book, at + 60_000).allow and _ask(book, hold.expires_ms).allow


def test_limits_during_desk_hours_bind_only_then():
    lim = graph().policies[0].limits
    assert lim.in_force(ms("2026-11-24T10:00:00+00:00")) and not lim.in_force(ms("2026-11-24T18:00:00+00:00"))
    assert not lim.in_force(SUN_1200)


# --- what status and plan say -------------------------------------------------------------------


def test_status_and_plan_lines_say_the_next_change_of_each_window():
    rows = window_rows(graph(), FRI_2359)
    assert [r["what"] for r in rows] == ["lock", "stage", "limits"]
    assert window_lines(rows) == [
        "  WINDOW desk: reducing lock from Sat 00:00 UTC (during weekend, funding)",
        "  WINDOW desk: stage 1 (cut) may be entered until Mon 09:00 GMT (outside desk-hours)",
        "  WINDOW desk: limits in force from Mon 09:00 GMT (during desk-hours)",
    ]
    assert rows[0]["next_change_ms"] == SAT_0000 and rows[0]["open"] is False
    sat = window_lines(window_rows(graph(), SAT_0000))
    assert sat[0] == "  WINDOW desk: reducing lock until Mon 00:00 UTC (during weekend, funding)"


def test_the_runner_is_told_the_next_edge_of_any_window_so_it_ticks_there():
    g = graph()
    assert next_edge_ms(g, FRI_2359) == SAT_0000  # the weekend lock opens first
    tue_1000 = ms("2026-11-24T10:00:00+00:00")
    assert next_edge_ms(g, tue_1000) == ms("2026-11-24T17:30:00+00:00")  # desk hours end (stage, limits)
    plain = graph(policy().replace("  lock_trading: {mode: reducing, during: [weekend, funding]}\n", "")
                  .replace(", outside: [desk-hours]", "").replace("    during: [desk-hours]\n", ""))
    assert next_edge_ms(plain, tue_1000) is None
