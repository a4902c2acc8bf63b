"""The stage machine, rule by rule, and the state's JSON round trip in the middle of a scenario.

Rules (killswitch/engine/stages.py): the highest triggered stage wins and escalation is always
allowed; the current stage is re-entered only after its cooldown (COOLDOWN_ACTIVE); never down
(NO_DEESCALATION); an auto stage re-arms only after the whole scope has been quiet for its
reset_after (AUTO_RESET); a manual stage is latched (LATCHED) until approve_reset has heard its
number of distinct approvers (MANUAL_RESET).
"""

from __future__ import annotations

import copy
import json
import math
import random

import pytest

from killswitch.engine import stages
from killswitch.engine.evaluate import evaluate
from killswitch.engine.state import StageState, State, record_heartbeat
from tests.unit.engine_helpers import MIN, SEC, failed, only, policy_graph, pos, run, snap

LADDER = dict(
    signals="s: {equity_change: {against: baseline, baseline: 10k}}",
    triggers="""
        t1: {when: "s <= -2%", on_missing_data: hold}
        t2: {when: "s <= -4%", on_missing_data: hold}
        t3: {when: "s <= -6%", on_missing_data: hold}
    """,
    stages="""
        - {level: 1, name: warn, on: [t1], cooldown: 10m, actions: [{lock_trading: {mode: reducing}}]}
        - {level: 2, name: cut, on: [t2], cooldown: 30m, reset_after: 20m,
           actions: [{reduce_top_risk: {count: 1, fraction: 50%, side: any}}]}
        - {level: 3, name: halt, on: [t3], reset: manual, approvals: 2, actions: [close_all]}
    """,
)


@pytest.fixture(scope="module")
def ladder():
    return policy_graph(**LADDER).policy("p")


def code(refusals):
    return refusals[0].split(":", 1)[0] if refusals else None


def drive_machine(policy, steps, st=None):
    """steps: (minute, firing triggers). Returns (level after, transition kind, refusal code) per step."""
    st = st or StageState()
    out = []
    for minute, firing in steps:
        tr, refusals = stages.step(policy, "scope", st, set(firing), minute * MIN)
        out.append((st.level, tr.kind if tr else None, code(refusals)))
    return out, st


@pytest.mark.parametrize(
    "steps, expected",
    [
        pytest.param([(0, "1"), (1, "12"), (2, "123")],
                     [(1, "entered", None), (2, "entered", None), (3, "entered", None)],
                     id="escalates_one_level_at_a_time"),
        pytest.param([(0, "123")], [(3, "entered", None)], id="skips_levels_straight_to_the_highest"),
        pytest.param([(0, "1"), (1, "13")], [(1, "entered", None), (3, "entered", None)],
                     id="escalation_skips_from_1_to_3"),
        pytest.param([(0, "12")], [(2, "entered", None)], id="highest_triggered_stage_wins"),
        pytest.param([(0, "1"), (5, "1"), (10, "1"), (15, "1"), (20, "1")],
                     [(1, "entered", None), (1, None, "COOLDOWN_ACTIVE"), (1, "reentered", None),
                      (1, None, "COOLDOWN_ACTIVE"), (1, "reentered", None)],
                     id="cooldown_refuses_then_reenters_when_elapsed"),
        pytest.param([(0, "1"), (1, "12"), (3, "12")],
                     [(1, "entered", None), (2, "entered", None), (2, None, "COOLDOWN_ACTIVE")],
                     id="cooldown_counts_from_the_entry_of_that_stage"),
        pytest.param([(0, "2"), (1, "1"), (2, "1")],
                     [(2, "entered", None), (2, None, "NO_DEESCALATION"), (2, None, "NO_DEESCALATION")],
                     id="lower_stage_firing_never_steps_down"),
        pytest.param([(0, "3"), (1, "1"), (2, "2")],
                     [(3, "entered", None), (3, None, "NO_DEESCALATION"), (3, None, "NO_DEESCALATION")],
                     id="no_deescalation_from_a_latched_stage"),
        pytest.param([(0, "1"), (1, ""), (9, ""), (10, "")],
                     [(1, "entered", None), (1, None, "RESET_PENDING"), (1, None, "RESET_PENDING"),
                      (0, "reset", None)],
                     id="auto_reset_after_default_reset_after_equal_to_cooldown"),
        pytest.param([(0, "2"), (1, ""), (20, ""), (29, ""), (30, "")],
                     [(2, "entered", None), (2, None, "RESET_PENDING"), (2, None, "RESET_PENDING"),
                      (2, None, "RESET_PENDING"), (0, "reset", None)],
                     id="auto_reset_after_a_short_reset_after_still_waits_for_the_cooldown"),
        pytest.param([(0, "2"), (5, "1"), (10, "1"), (11, ""), (29, ""), (30, "")],
                     [(2, "entered", None), (2, None, "NO_DEESCALATION"), (2, None, "NO_DEESCALATION"),
                      (2, None, "RESET_PENDING"), (2, None, "RESET_PENDING"), (0, "reset", None)],
                     id="auto_reset_waits_until_the_whole_scope_is_quiet"),
        pytest.param([(0, "2"), (19, "2"), (38, ""), (39, "")],
                     [(2, "entered", None), (2, None, "COOLDOWN_ACTIVE"), (2, None, "RESET_PENDING"),
                      (0, "reset", None)],
                     id="own_trigger_firing_also_delays_the_reset"),
        pytest.param([(0, "3"), (1, ""), (60 * 24 * 7, "")],
                     [(3, "entered", None), (3, None, "LATCHED"), (3, None, "LATCHED")],
                     id="manual_stage_stays_latched_for_a_week"),
        pytest.param([(0, "3"), (1, "3"), (500, "3")],
                     [(3, "entered", None), (3, None, "STAGE_ACTIVE"), (3, None, "STAGE_ACTIVE")],
                     id="stage_without_cooldown_runs_its_actions_once_per_entry"),
    ],
)
def test_stage_rules(ladder, steps, expected):
    steps = [(m, {f"t{c}" for c in f}) for m, f in steps]
    got, _ = drive_machine(ladder, steps)
    assert got == expected


def test_refusal_and_transition_reasons(ladder):
    st = StageState()
    tr, _ = stages.step(ladder, "scope", st, {"t1", "t3"}, 0)
    assert tr.reason == "ESCALATED: stage=0->3 triggers=t3" and tr.stage == "halt"
    assert (tr.from_level, tr.to_level) == (0, 3)
    _, refusals = stages.step(ladder, "scope", st, {"t1"}, MIN)
    assert refusals == ["NO_DEESCALATION: stage=3 triggered=1"]
    _, refusals = stages.step(ladder, "scope", st, set(), 2 * MIN)
    assert refusals == ["LATCHED: stage=3 needs a manual reset by 2 approver(s)"]
    st = StageState()
    stages.step(ladder, "scope", st, {"t1"}, 0)
    _, refusals = stages.step(ladder, "scope", st, {"t1"}, 5 * MIN)
    assert refusals == ["COOLDOWN_ACTIVE: stage=1 until=1970-01-01T00:10:00Z"]
    tr, _ = stages.step(ladder, "scope", st, set(), 20 * MIN + 1)
    assert tr.kind == "reset" and tr.reason.startswith("AUTO_RESET: stage=1") and tr.to_level == 0
    assert tr.decision_id is None and tr.stage is None


def test_stage_without_cooldown_or_reset_after_resets_on_first_quiet_tick():
    p = policy_graph(
        "s: {equity_change: {against: baseline, baseline: 10k}}",
        't1: {when: "s <= -2%", on_missing_data: hold}',
        "- {level: 1, name: warn, on: [t1], actions: [{lock_trading: {mode: reducing}}]}",
    ).policy("p")
    got, _ = drive_machine(p, [(0, {"t1"}), (0, set()), (1, set())])
    # the quiet tick at the very time of entry does not count; the next one re-arms
    assert got == [(1, "entered", None), (1, None, "RESET_PENDING"), (0, "reset", None)]


# --- manual reset and approvals -----------------------------------------------------------------------------


def test_manual_reset_needs_distinct_approvers(ladder):
    st = StageState()
    stages.step(ladder, "scope", st, {"t3"}, 0)
    tr, msg = stages.approve_reset(ladder, "scope", st, "alice", MIN)
    assert tr is None and msg.startswith("APPROVAL_RECORDED: 1/2") and st.level == 3
    tr, msg = stages.approve_reset(ladder, "scope", st, "alice", 2 * MIN)
    assert tr is None and msg.startswith("DUPLICATE_APPROVER: alice") and st.level == 3
    _, refusals = stages.step(ladder, "scope", st, set(), 3 * MIN)
    assert code(refusals) == "LATCHED"  # one distinct approver of two: still latched
    tr, msg = stages.approve_reset(ladder, "scope", st, "bob", 4 * MIN)
    assert tr is not None and tr.kind == "reset" and (tr.from_level, tr.to_level) == (3, 0)
    assert msg.startswith("MANUAL_RESET: stage=3 approvers=alice,bob") and tr.reason == msg
    assert st.level == 0 and st.approvals == []
    tr, msg = stages.approve_reset(ladder, "scope", st, "carol", 5 * MIN)
    assert tr is None and msg.startswith("NOT_ENGAGED")


def test_one_approval_is_enough_for_an_auto_stage(ladder):
    st = StageState()
    stages.step(ladder, "scope", st, {"t2"}, 0)
    tr, msg = stages.approve_reset(ladder, "scope", st, "alice", MIN)
    assert tr is not None and tr.kind == "reset" and st.level == 0


def test_approvals_do_not_survive_a_reentry_of_the_latch():
    """Approvals are for the entry they were given in: after a reset and a new entry they start over."""
    p = policy_graph(**LADDER).policy("p")
    st = StageState()
    stages.step(p, "scope", st, {"t3"}, 0)
    stages.approve_reset(p, "scope", st, "alice", MIN)
    stages.approve_reset(p, "scope", st, "bob", MIN)
    stages.step(p, "scope", st, {"t3"}, 2 * MIN)
    assert st.level == 3 and st.approvals == []
    tr, msg = stages.approve_reset(p, "scope", st, "alice", 3 * MIN)
    assert tr is None and msg.startswith("APPROVAL_RECORDED: 1/2")


# --- end to end: plans, decision ids, scopes ------------------------------------------------------------------


def ladder_graph():
    return policy_graph(**LADDER)


def eq_for(level_char):
    return {"0": 10_000, "1": 9_750, "2": 9_550, "3": 9_350}[level_char]


def test_evaluate_plans_only_on_entry_and_reentry():
    g = ladder_graph()
    book = [pos("BTC/USDT:USDT", "long", 1, 1_000, -100)]
    minutes_levels = [(0, "1"), (5, "1"), (10, "1"), (11, "2"), (12, "2")]
    ticks = [(m * MIN, [snap(eq_for(c), m * MIN, positions=book)]) for m, c in minutes_levels]
    evs, _ = run(g, ticks)
    sc = [only(ev) for ev in evs]
    assert [s.stage_after for s in sc] == [1, 1, 1, 2, 2]
    assert [s.transition.kind if s.transition else None for s in sc] == \
        ["entered", None, "reentered", "entered", None]
    assert [s.plan is not None for s in sc] == [True, False, True, True, False]
    assert code(sc[1].refusals) == "COOLDOWN_ACTIVE"
    assert code(sc[4].refusals) == "COOLDOWN_ACTIVE"
    assert [s.plan.decision_id for s in sc if s.plan] == \
        ["p/simulated/a/L1/e1", "p/simulated/a/L1/e2", "p/simulated/a/L2/e3"]
    assert sc[3].plan.stage == 2 and len(sc[3].plan.orders) == 1


def test_decision_ids_are_unique_per_entry():
    g = ladder_graph()
    pattern = "111111111110000000000001111222222222200000000000000000000000033333300"
    ticks = [(i * MIN, [snap(eq_for(c), i * MIN)]) for i, c in enumerate(pattern)]
    state = State()
    ids = []
    for now, snaps in ticks:
        ev, state = evaluate(g, snaps, state, now)
        s = only(ev)
        if s.transition and s.transition.kind in ("entered", "reentered"):
            ids.append(s.transition.decision_id)
            assert s.plan.decision_id == s.transition.decision_id
        if now == 64 * MIN:  # release the latch, then it fires again
            stages.approve_reset(g.policy("p"), "simulated/a", state.scope("p", "simulated/a").stage, "a", now)
            stages.approve_reset(g.policy("p"), "simulated/a", state.scope("p", "simulated/a").stage, "b", now)
    assert len(ids) >= 6
    assert len(set(ids)) == len(ids), ids
    assert [int(i.rsplit("/e", 1)[1]) for i in ids] == list(range(1, len(ids) + 1))


def test_each_account_has_its_own_stage_machine():
    g = ladder_graph()
    evs, _ = run(g, [(0, [snap(9_350, 0, account="a"), snap(10_000, 0, account="b")]),
                     (MIN, [snap(9_350, MIN, account="a"), snap(9_750, MIN, account="b")])])
    assert only(evs[1], scope="simulated/a").stage_after == 3
    b = only(evs[1], scope="simulated/b")
    assert b.stage_after == 1 and b.transition.decision_id == "p/simulated/b/L1/e1"


# --- state JSON round trip mid-scenario -------------------------------------------------------------------------

ROUND_TRIP_POLICY = dict(
    signals="""
        dd: {equity_drawdown: {window: 10m, min_coverage: 50%}}
        day: {equity_change: {against: day_open}}
        vol: {realized_volatility: {window: 10m, sample: 1m, min_coverage: 50%}}
        var: {value_at_risk: {window: 10m, confidence: 90%, horizon: 1m, min_coverage: 50%}}
        es: {expected_shortfall: {window: 10m, confidence: 90%, horizon: 1m, min_coverage: 50%}}
        errs: {api_error_rate: {window: 2m}}
        lat: {api_latency: {window: 2m, quantile: 90%}}
        age: data_age
        losses: consecutive_losses
        hb: {heartbeat_age: {source: bot}}
        loss: {position_loss: {of: equity, aggregate: sum}}
    """,
    triggers="""
        t1: {when: "dd >= 1% || vol >= 0.5% || losses >= 2", for: 2 ticks, on_missing_data: hold}
        t2: {when: "dd >= 3% || var >= 2% || es >= 3% || day <= -3%", for: 2m, on_missing_data: hold,
             keep_firing_for: 2m}
        t3: {when: "dd >= 6% || errs >= 60% || lat >= 3s || age >= 3m || hb >= 10m || loss >= 15%",
             on_missing_data: ignore}
    """,
    stages="""
        - {level: 1, name: warn, on: [t1], cooldown: 3m,
           actions: [{reduce_top_risk: {count: 2, fraction: 30%, close_within_liquidation: 3%}}]}
        - {level: 2, name: cut, on: [t2], cooldown: 5m, reset_after: 4m,
           actions: [{close_side: {side: losing, on_unknown_side: both}}, {suggest_hedge: {threshold: 1k}}]}
        - {level: 3, name: halt, on: [t3], reset: manual, actions: [{cancel_orders: entries}, close_all]}
    """,
    extra="""
        attribution: {reference_window: 5m}
        unwind: {chunk_notional: 3k, orders_per_second: 4}
    """,
)


def scenario(n=48, seed=7):
    rnd = random.Random(seed)
    eq = 10_000.0
    symbols = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
    open_pos = {}
    ticks = []
    for i in range(n):
        t = BASE + i * MIN  # crosses a UTC midnight
        if rnd.random() < 0.12:
            ticks.append((t, [failed(t, calls=2, failed_calls=2)]))
            continue
        eq *= math.exp(rnd.gauss(-0.002, 0.01))
        for sym in symbols:
            if sym in open_pos and rnd.random() < 0.15:
                del open_pos[sym]
            elif sym not in open_pos and rnd.random() < 0.4:
                open_pos[sym] = (rnd.choice(["long", "short"]), round(rnd.uniform(0.5, 5), 3))
        positions = []
        for sym, (side, contracts) in sorted(open_pos.items()):
            mark = rnd.uniform(900, 1_100)
            positions.append(pos(sym, side, contracts, mark, round(rnd.uniform(-400, 200), 2),
                                 liq=mark * (0.9 if side == "long" else 1.1), margin=300))
        ticks.append((t, [snap(eq, t, positions=positions, latency_ms=rnd.uniform(50, 1_500), calls=3,
                               failed_calls=rnd.choice([0, 0, 0, 1]),
                               orders=[], markets={})]))
    return ticks


BASE = 86_400_000 - 20 * MIN


def drive_with_heartbeats(g, ticks, state):
    """Heartbeats every 7 minutes, and an operator releasing the latch at minute 30."""
    evs = []
    for now, snaps in ticks:
        if (now // MIN) % 7 == 0:
            record_heartbeat(state, "bot", now - 30 * SEC)
        if now == BASE + 30 * MIN:
            stages.approve_reset(g.policy("p"), "simulated/a", state.scope("p", "simulated/a").stage, "ops", now)
        ev, state = evaluate(g, snaps, state, now)
        evs.append(ev)
    return evs, state


@pytest.mark.parametrize("split", [3, 11, 20, 33, 47])
def test_state_json_round_trip_mid_scenario(split):
    g = policy_graph(**ROUND_TRIP_POLICY)
    ticks = scenario()
    straight, final = drive_with_heartbeats(g, ticks, State())
    assert any(ev.transitions for ev in straight), "the scenario should move the stage machine"
    first, mid = drive_with_heartbeats(g, ticks[:split], State())
    reloaded = State.from_json(json.loads(json.dumps(mid.to_json())))
    assert reloaded.to_json() == mid.to_json()
    rest, final2 = drive_with_heartbeats(g, ticks[split:], reloaded)
    assert first + rest == straight
    assert final2.to_json() == final.to_json()


def decisions(ev):
    return [(s.policy, s.scope, s.stage_before, s.stage_after, s.transition, s.refusals, s.plan,
             [(t.name, t.condition, t.firing, t.pending) for t in s.triggers]) for s in ev.scopes]


@pytest.mark.parametrize("split", [3, 11, 20, 33, 47])
def test_state_json_round_trip_same_decisions_and_signals_within_float_noise(split):
    """The weaker form of the round trip: every decision is the same; values agree to 1e-12."""
    g = policy_graph(**ROUND_TRIP_POLICY)
    ticks = scenario()
    straight, _ = drive_with_heartbeats(g, ticks, State())
    first, mid = drive_with_heartbeats(g, ticks[:split], State())
    rest, _ = drive_with_heartbeats(g, ticks[split:], State.from_json(json.loads(json.dumps(mid.to_json()))))
    for a, b in zip(first + rest, straight):
        assert decisions(a) == decisions(b)
        for sa, sb in zip(a.scopes, b.scopes):
            for x, y in zip(sa.signals, sb.signals):
                assert x.name == y.name and x.reason == y.reason
                assert (x.value is None) == (y.value is None)
                if x.value is not None:
                    assert x.value == pytest.approx(y.value, rel=1e-12, abs=1e-15)


def test_state_copy_is_independent():
    g = ladder_graph()
    _, st = run(g, [(0, [snap(9_750, 0)])])
    kept = st.copy()
    before = copy.deepcopy(kept.to_json())
    run(g, [(MIN, [snap(9_350, MIN)])], st)
    assert kept.to_json() == before
    assert st.scope("p", "simulated/a").stage.level == 3
