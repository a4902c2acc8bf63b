"""The policy diff (killswitch/preview/diff.py): two replays of the same ticks → differences as values.

A small ladder over a scripted slide of equity, 1% a minute: a revision that is the same decides
the same; a tighter threshold enters earlier; an extra stage is reached by one revision only;
a changed action plans other orders. The summary line is checked here too; the full text and
JSON outputs are golden (tests/cli/test_diff.py).
"""

from __future__ import annotations

import pytest

from killswitch.preview.diff import NOTHING, Change, Difference, DiffResult, Milestone, compare, replay_pair
from killswitch.preview.replay import Tick
from killswitch.render.diff import summary_line
from tests.unit.engine_helpers import MIN, policy_graph, pos, snap

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

SIGNALS = "s: {equity_change: {against: baseline, baseline: 10k}}"
TRIGGERS = """
    t1: {{when: "s <= {t1}", on_missing_data: hold}}
    t2: {{when: "s <= -5%", on_missing_data: hold}}
    t3: {{when: "s <= -6.5%", on_missing_data: hold}}
"""
CUT = "[{reduce_top_risk: {count: 1, fraction: 50%, side: any}}]"
STAGES = """
    - {{level: 1, name: cut, on: [t1], cooldown: 30m, actions: {l1}}}
    - {{level: 2, name: flatten, on: [t2], reset: manual, approvals: 1, actions: [close_all]}}
"""
HALT = ("    - {level: 3, name: halt, on: [t3], reset: manual, approvals: 1,\n"
        "       actions: [{lock_trading: {mode: halted}}]}\n")


def graph(t1: str = "-3%", l1: str = CUT, extra_stage: str = "", name: str = "p"):
    return policy_graph(SIGNALS, TRIGGERS.format(t1=t1), STAGES.format(l1=l1) + extra_stage, name=name,
                        interval="1m")


def slide(minutes: int = 8) -> list[Tick]:
    """Equity 10k, then 1% less every minute; one long BTC position of 10 contracts at 1,000."""
    return [Tick(T0 + i * MIN, [snap(10_000 * (1 - 0.01 * i), T0 + i * MIN,
                                     positions=[pos("BTC/USDT:USDT", "long", 10, 1_000.0, -100.0 * i)])])
            for i in range(minutes)]


def diff(old, new, ticks=None, policy=None) -> DiffResult:
    return compare(*replay_pair(old, new, ticks or slide()), policy=policy)


def at(minute: int) -> int:
    return T0 + minute * MIN


def test_identical_revisions_have_no_difference():
    result = diff(graph(), graph())
    assert result.differences == ()
    assert result.milestones == ()
    assert not result.differs
    assert result.ticks == 8 and result.first_ms is None
    assert summary_line(result) == "No difference: OLD and NEW decide the same on all 8 ticks."


def test_tighter_threshold_enters_earlier():
    result = diff(graph("-3%"), graph("-1%"))
    # NEW enters at minute 1; OLD waits for -3% at minute 3; between them only the refusals differ
    assert [(d.kind, d.start_ms, d.ticks) for d in result.differences] == [
        ("decision", at(1), 1), ("refusals", at(2), 1), ("decision", at(3), 1)]
    first, span, late = result.differences
    assert first.old.transition is None and first.new.transition.to_level == 1
    assert first.changes[0] == Change("transition", None, first.new.transition)
    assert [c.aspect for c in first.changes] == ["transition", "order"]
    assert span.changes == (Change("refusals", (), ("COOLDOWN_ACTIVE",)),)
    assert late.old.transition.to_level == 1 and late.new.transition is None
    assert late.changes[-1] == Change("refusals", (), ("COOLDOWN_ACTIVE",))
    # stage 2 is entered at minute 5 by both, with the same closes: no difference there
    assert result.milestones == (Milestone("p", "simulated/a", 1, "cut", at(3), at(1)),)
    assert result.decisions == 2 and result.refusal_ticks == 1 and result.first_ms == at(1)


def test_refusals_that_differ_on_consecutive_ticks_are_one_span():
    result = diff(graph("-4%"), graph("-1%"))
    spans = [d for d in result.differences if d.kind == "refusals"]
    assert [(d.start_ms, d.end_ms, d.ticks) for d in spans] == [(at(2), at(3), 2)]
    assert summary_line(result) == (
        "2 decisions differ and refusals differ on 2 ticks: first at 2026-01-01T00:01:00Z; "
        "OLD reaches stage 1 at 2026-01-01T00:04:00Z, NEW at 2026-01-01T00:01:00Z")


def test_extra_stage_is_reached_by_one_revision_only():
    result = diff(graph(), graph(extra_stage=HALT))
    assert [(d.kind, d.start_ms) for d in result.differences] == [("decision", at(7))]
    (d,) = result.differences
    assert d.old.transition is None and (d.new.transition.from_level, d.new.transition.to_level) == (2, 3)
    assert Change("directive", None, "lock_trading mode=halted") in d.changes
    assert result.milestones == (Milestone("p", "simulated/a", 3, "halt", None, at(7)),)
    assert summary_line(result).endswith("OLD never reaches stage 3, NEW at 2026-01-01T00:07:00Z")


def test_changed_action_plans_other_orders_on_the_same_transition():
    result = diff(graph(l1=CUT), graph(l1="[close_all]"))
    (d,) = result.differences
    assert d.start_ms == at(3) and d.kind == "decision"
    assert d.old.transition == d.new.transition  # same stage entry, same time
    orders = [c for c in d.changes if c.aspect == "order"]
    assert len(orders) == 1
    old, new = orders[0].old, orders[0].new
    assert (old.symbol, old.side, old.position_side) == (new.symbol, new.side, new.position_side) == (
        "BTC/USDT:USDT", "sell", None)
    assert (old.amount, new.amount) == (5, 10)
    assert new.notional == pytest.approx(2 * old.notional)
    assert result.milestones == ()


def test_scopes_of_a_renamed_policy_are_listed_as_evaluated_by_one_side():
    result = diff(graph(name="p"), graph(name="q"))
    assert result.only_old == (("p", "simulated/a"),) and result.only_new == (("q", "simulated/a"),)
    assert result.differs
    # compared against a scope that decides nothing, each side's entries are differences
    assert result.differences[0].new is None and result.differences[0].old.transition.to_level == 1


def test_policy_option_compares_one_policy_only():
    from tests.unit.engine_helpers import compile_graph, policy_text

    def two(t1: str):
        return compile_graph(policy_text(SIGNALS, TRIGGERS.format(t1=t1), STAGES.format(l1=CUT), name="p") + "---\n"
                             + policy_text(SIGNALS, TRIGGERS.format(t1="-3%"), STAGES.format(l1=CUT), name="q"))

    old, new = two("-3%"), two("-1%")
    assert {d.policy for d in diff(old, new).differences} == {"p"}
    assert diff(old, new, policy="q").differences == ()
    assert diff(old, new, policy="p").decisions == 2


def test_same_orders_under_other_order_ids_are_no_difference():
    # OLD passes through stage 1 first, so its flatten is its second entry and its order ids differ
    # from NEW's, whose stage 1 never fires: the flatten itself (minute 5) is the same decision.
    old, new = graph("-3%"), graph("-50%")
    evs_old, evs_new = replay_pair(old, new, slide())
    ids = [{o.client_order_id for s in e[5].scopes for o in s.plan.orders} for e in (evs_old, evs_new)]
    assert ids[0] and ids[1] and ids[0].isdisjoint(ids[1])
    result = compare(evs_old, evs_new)
    assert [(d.kind, d.start_ms) for d in result.differences] == [("decision", at(3)), ("refusals", at(4))]


def test_replays_of_different_ticks_are_refused():
    old, new = replay_pair(graph(), graph(), slide())
    with pytest.raises(ValueError, match="same ticks"):
        compare(old, new[:-1])


@pytest.mark.parametrize("result, expected", [
    pytest.param(DiffResult(3, 0, 2, (Difference("decision", "p", "s", 60_000, 60_000, 1, NOTHING, NOTHING, ()),),
                            (Milestone("p", "s", 1, "x", 60_000, None), Milestone("q", "t", 1, "y", None, 60_000)),
                            (), ()),
                 "1 decision differs: first at 1970-01-01T00:01:00Z; p s: OLD reaches stage 1 at "
                 "1970-01-01T00:01:00Z, NEW never; q t: OLD never reaches stage 1, NEW at 1970-01-01T00:01:00Z",
                 id="several_scopes_name_their_scope"),
    pytest.param(DiffResult(3, 0, 2, (), (), (("p", "s"),), ()),
                 "no decision differs; 1 scope evaluated by one revision only", id="scope_only_in_old"),
])
def test_summary_line(result, expected):
    assert summary_line(result) == expected
