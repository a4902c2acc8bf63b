"""A stage entry planned as its first wave alone (``plan(first_wave=True)``).

The runner sends a close_all's first leg before it plans the others; what it sends must be
exactly what the whole plan sends first: the same cancels, directives and first orders (ids,
amounts, prices, schedule), so that a crash, a preview or a replay sees one plan. Checked
against the whole plan on hand-made books (ties of exposure, keys that sort differently from
their symbols, dust at the top, correlation groups, chunks, hedge mode) and on generated ones.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.engine import planner
from killswitch.engine.planner import NOT_ATTRIBUTED, PnlHistory, complete, history_for, plan, update_history
from killswitch.engine.scope import instances
from tests.unit.engine_helpers import MarketRules, order, pos, snap

from .test_planner import T, planner_policy

DECISION = "p/simulated/a/L1/e1"


def both(actions, snaps, extra=""):
    """(the first wave, the whole plan) of one entry over ``snaps``."""
    policy = planner_policy(actions, extra=extra, scope="{level: global}")
    window, step = history_for(policy)
    hist = PnlHistory(window, step)
    update_history(hist, list(snaps), T)
    (view,) = instances(policy, list(snaps))
    first = plan(policy, policy.stage(1), view, DECISION, T, hist, rates={"simulated": 10.0}, first_wave=True)
    (view,) = instances(policy, list(snaps))
    whole = plan(policy, policy.stage(1), view, DECISION, T, hist, rates={"simulated": 10.0})
    return first, whole


def assert_prefix(first, whole):
    assert first.rest is not None, "a first wave was expected"
    n = len(first.orders)
    assert n >= 1 and first.orders == whole.orders[:n]
    assert first.cancels == whole.cancels and first.directives == whole.directives
    assert first.decision_id == whole.decision_id and first.attribution is NOT_ATTRIBUTED
    assert complete(first) == whole and complete(whole) is whole
    # the first wave is one leg whole: every chunk of its position, nothing of another
    assert len({(o.symbol, o.position_side or o.side) for o in first.orders}) == 1
    assert all(o.chunks == n for o in first.orders)


def test_the_first_wave_is_the_most_exposed_position_and_the_plan_is_unchanged():
    snaps = [snap(1e6, T, positions=[pos("A/USDT:USDT", "long", 1, 100), pos("B/USDT:USDT", "short", 3, 100),
                                     pos("C/USDT:USDT", "long", 2, 100)],
                  orders=[order("o1", "B/USDT:USDT"), order("o2", "C/USDT:USDT", reduce_only=True)])]
    first, whole = both("[close_all, {lock_trading: {mode: halted}}]", snaps)
    assert_prefix(first, whole)
    assert [o.symbol for o in first.orders] == ["B/USDT:USDT"] and first.orders[0].not_before_ms == T
    assert [c.order_ids for c in first.cancels] == [("o1",)]  # the entry orders of what closes: sent first
    assert [d.kind for d in first.directives] == ["lock_trading"]  # the lock applies with the first wave
    assert len(whole.orders) == 3


def test_ties_of_exposure_go_to_the_least_key_not_the_least_symbol():
    # "A-X" sorts after "A" as a symbol, but ".../A-X/long" sorts before ".../A/long" as a key
    snaps = [snap(1e6, T, positions=[pos("A", "long", 1, 100), pos("A-X", "long", 1, 100), pos("B", "long", 1, 100),
                                     pos("A", "short", 1, 100, position_side="SHORT")])]
    first, whole = both("[close_all]", snaps)
    assert_prefix(first, whole)
    assert first.orders[0].symbol == "A-X"


def test_a_most_exposed_position_below_the_minimum_leaves_the_entry_planned_whole():
    snaps = [snap(1e6, T, positions=[pos("A", "long", 0.5, 1000), pos("B", "long", 1, 100)],
                  markets={"A": MarketRules(amount_step=1, min_amount=1)})]
    first, whole = both("[close_all]", snaps)
    assert first.rest is None and first == whole  # not guessed: the whole plan, in one pass
    assert [r.symbol for r in whole.residuals] == ["A"]


def test_a_correlation_group_more_exposed_than_any_position_goes_first_with_its_biggest_member():
    snaps = [snap(1e6, T, positions=[pos("A", "long", 1, 100), pos("B", "long", 1, 100), pos("C", "long", 1.5, 100),
                                     pos("D", "long", 1, 300)])]
    first, whole = both("[close_all]", snaps, extra="correlation_groups: [{name: ab, symbols: [A, C]}]")
    assert_prefix(first, whole)
    assert first.orders[0].symbol == "D"  # 300 alone beats the group's 250
    first, whole = both("[close_all]", snaps[:1] and [snap(1e6, T, positions=[pos("A", "long", 1, 100),
                                                                            pos("C", "long", 1.5, 100),
                                                                            pos("D", "long", 1, 200)])],
                        extra="correlation_groups: [{name: ab, symbols: [A, C]}]")
    assert_prefix(first, whole)
    assert (first.orders[0].symbol, first.orders[0].group) == ("C", "ab")


def test_a_big_position_split_in_chunks_goes_whole_in_the_first_wave():
    snaps = [snap(1e6, T, positions=[pos("A", "long", 10, 100), pos("B", "long", 1, 100)],
                  markets={"A": MarketRules(amount_step=1, min_amount=1)})]
    first, whole = both("[close_all]", snaps, extra="unwind: {chunk_notional: 300}")
    assert_prefix(first, whole)
    assert [o.amount for o in first.orders] == [3.0, 3.0, 2.0, 2.0]
    assert [o.not_before_ms - T for o in first.orders] == [0, 100, 200, 300]


@pytest.mark.parametrize("actions, snaps", [
    ("[{reduce_top_risk: {count: 1, fraction: 100%}}, close_all]",
     [snap(1e6, T, positions=[pos("A", "long", 1, 100), pos("B", "long", 2, 100)])]),
    ("[{close_side: {side: long}}]", [snap(1e6, T, positions=[pos("A", "long", 1, 100), pos("B", "long", 2, 100)])]),
    ("[close_all]", [snap(1e6, T, positions=[pos("A", "long", 1, 100)])]),
    ("[close_all]", [snap(1e6, T, positions=[pos("A", "long", 1, 100), pos("B", "long", 2, 100)]),
                     snap(1e6, T, account="s", market_type="spot")]),
    ("[{lock_trading: {mode: halted}}]",
     [snap(1e6, T, positions=[pos("A", "long", 1, 100), pos("B", "long", 2, 100)])]),
], ids=["another_close_first", "close_side", "one_position", "spot_account", "no_close"])
def test_entries_a_first_wave_cannot_be_told_for_are_planned_whole(actions, snaps):
    first, whole = both(actions, snaps)
    assert first.rest is None and first == whole


SYMBOLS = ["A", "A-", "A/B", "AB", "B", "B:C", "C", "CC"]


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(["long", "short"]), st.sampled_from([0.4, 1, 2, 7]),
                          st.sampled_from([50.0, 100.0, 200.0]), st.booleans(), st.sampled_from(["a", "b"])),
                min_size=2, max_size=12),
       st.sampled_from(["", "correlation_groups: [{name: g, symbols: [A, B]}]",
                        "correlation_groups: [{name: g, symbols: [A-, CC]}, {name: h, symbols: [C, A/B]}]",
                        "unwind: {chunk_notional: 250}"]))
def test_the_first_wave_is_always_what_the_whole_plan_sends_first(rows, extra):
    by_account: dict[str, dict] = {}
    for symbol, side, contracts, mark, hedge, account in rows:
        p = pos(symbol, side, contracts, mark, position_side=side.upper() if hedge else None)
        by_account.setdefault(account, {})[(symbol, p.position_side or side)] = p
    rules = {"A": MarketRules(amount_step=1, min_amount=1), "C": MarketRules(amount_step=0.5, min_amount=1)}
    snaps = [snap(1e6, T, account=a, positions=list(ps.values()), markets=rules)
             for a, ps in sorted(by_account.items())]
    first, whole = both("[close_all]", snaps, extra=extra)
    if first.rest is None:
        assert first == whole
    else:
        assert_prefix(first, whole)
        assert replace(first, rest=None) != whole or len(whole.orders) == len(first.orders)


# --- a whole plan of many orders: each account's first leg goes first ---------------------------------

CLOSE_EVERY = ("[{close_positions: {side: long}}, {close_positions: {side: short}}, "
               "{cancel_orders: entries}, {lock_trading: {mode: reducing}}]")


def book_of(accounts, per):
    """``per`` positions in each of ``accounts``, of three sizes (the largest, the most exposed,
    closed first), with an entry order to cancel in each."""
    return [snap(1e6, T, account=a, positions=[pos(f"S{i}", "long" if i % 2 else "short", 1 + i % 3, 100)
                                               for i in range(per)], orders=[order(f"{a}-o1", "S1")])
            for a in accounts]


def assert_first_legs(first, whole):
    """``first`` is the runner's first wave of ``whole``: its cancels and directives, and each
    account's first leg (all its chunks: the account's first orders in the plan), nothing else."""
    assert first.rest is not None and complete(first) == whole
    assert (first.decision_id, first.stage, first.attribution) == (whole.decision_id, whole.stage, whole.attribution)
    assert first.cancels == whole.cancels and first.directives == whole.directives
    assert first.residuals == () and first.hedges == ()  # recorded once, with the whole plan
    accounts = {o.account for o in whole.orders}
    assert {o.account for o in first.orders} == accounts
    for a in accounts:
        mine = [o for o in whole.orders if o.account == a]
        head = [o for o in first.orders if o.account == a]
        assert head == mine[:len(head)] and len(head) == mine[0].chunks
        assert len({(o.symbol, o.position_side or o.side) for o in head}) == 1
    assert [o for o in whole.orders if o in first.orders] == list(first.orders)  # in plan order


def test_a_plan_of_many_orders_goes_out_each_accounts_first_leg_first():
    first, whole = both(CLOSE_EVERY, book_of(["a", "b"], 20))
    assert len(whole.orders) == 40 >= planner._WAVE_FROM
    assert_first_legs(first, whole)
    assert len(first.orders) == 2 and all(o.chunks == 1 for o in first.orders)
    assert [c.order_ids for c in first.cancels] == [("a-o1",), ("b-o1",)]


def test_a_first_leg_in_chunks_goes_whole():
    first, whole = both(CLOSE_EVERY, book_of(["a"], 40), extra="unwind: {chunk_notional: 150}")
    assert_first_legs(first, whole)
    # the most exposed (3 contracts: S2, S5, ...), ties to the least key
    assert [o.amount for o in first.orders] == [1.5, 1.5] and first.orders[0].symbol == "S11"


def test_a_plan_of_fewer_orders_or_sized_by_the_book_is_sent_whole():
    few = planner._WAVE_FROM - 1
    first, whole = both(CLOSE_EVERY, book_of(["a"], few))
    assert len(whole.orders) == few and first.rest is None and first == whole
    first, whole = both(CLOSE_EVERY, book_of(["a"], 40), extra="unwind: {max_impact: 1%}")
    assert len(whole.orders) >= planner._WAVE_FROM and first.rest is None and first == whole
