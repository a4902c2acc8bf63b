"""A scope listing strategies selects only the accounts that declare one of them: a strategy the
Accounts document declares on no account of this runner has no book here, so its policy is
unmatched (``POLICY_UNMATCHED``), not armed, and never enters a stage over a book it does not hold.
"""

from __future__ import annotations

from killswitch.engine import coverage as cv
from killswitch.engine.evaluate import evaluate
from killswitch.engine.removed import SCOPE_REMOVED, Declared, producible, prune
from killswitch.engine.state import State
from tests.unit.engine.coverage.test_armed import example_graph
from tests.unit.engine_helpers import MIN, SEC, compile_graph, run, snap

DEAD = "dead-mans-switch"  # policies/: scope {level: strategy, strategies: [strategy-a]}


def walk_accounts(ts: int, hedge_strategies=(), main_strategies=("bot-a",)):
    """The console walk-through's two accounts: sim-main declares bot-a, sim-hedge nothing."""
    return [snap(1e6, ts, venue="binanceusdm", account="sim-main", labels={"book": "futures"}).model_copy(
                update={"strategies": tuple(main_strategies)}),
            snap(5e5, ts, venue="binanceusdm", account="sim-hedge").model_copy(
                update={"strategies": tuple(hedge_strategies)})]


def test_the_example_dead_mans_switch_is_unmatched_when_no_running_account_declares_strategy_a():
    g = example_graph()
    ticks = [(t, walk_accounts(t)) for t in range(0, 12 * MIN, 30 * SEC)]
    evs, state = run(g, ticks)
    for ev in evs:
        assert not [s for s in ev.scopes if s.policy == DEAD]  # no instance: nothing armed, nothing entered
    (u,) = [u for u in evs[0].unmatched if u.policy == DEAD]
    assert u.reason == cv.UNMATCHED_REASON and u.changed
    assert u.selector == "strategies=strategy-a (declared on the account)"
    assert not [k for k in state.scopes if k.startswith(DEAD + "|")]


def test_an_account_that_declares_the_strategy_arms_it_and_the_silent_bot_is_flattened():
    g = example_graph()
    ev, _ = evaluate(g, walk_accounts(0, hedge_strategies=("strategy-a",)), State(), 0)
    (se,) = [s for s in ev.scopes if s.policy == DEAD]
    assert se.scope == "strategy-a" and se.coverage.armed
    assert not [u for u in ev.unmatched if u.policy == DEAD]
    evs, _ = run(g, [(t, walk_accounts(t, hedge_strategies=("strategy-a",))) for t in range(0, 11 * MIN, 30 * SEC)])
    assert [s.transition.to_level for e in evs for s in e.scopes if s.policy == DEAD and s.transition] == [1]


def test_snapshots_that_do_not_say_what_they_declare_keep_the_strategy_scope():
    # a recording or a policy test's snapshot has no declared strategies: taken as every one
    g = example_graph()
    ev, _ = evaluate(g, [snap(1e6, 0, venue="binanceusdm", account="sim-main")], State(), 0)
    assert [s.scope for s in ev.scopes if s.policy == DEAD] == ["strategy-a"]


def test_only_the_listed_strategies_an_account_declares_are_instances():
    g = compile_graph("""
        apiVersion: killswitch/v1
        kind: Policy
        metadata: {name: bots, owner: t}
        spec:
          scope: {level: strategy, strategies: [bot-a, strategy-a]}
          interval: 5s
          signals:
            beat: {heartbeat_age: {source: bot-a, grace: 10m}}
          triggers:
            silent: {when: "beat > 10m", on_missing_data: fire}
          stages:
            - {level: 1, name: halt, on: [silent], reset: manual, actions: [{lock_trading: {mode: halted}}]}
        """)
    ev, _ = evaluate(g, walk_accounts(0), State(), 0)
    assert [s.scope for s in ev.scopes] == ["bot-a"] and not ev.unmatched
    node = g.policy("bots")
    main = Declared("binanceusdm", "sim-main", {"book": "futures"}, frozenset({"bot-a"}))
    hedge = Declared("binanceusdm", "sim-hedge", {}, frozenset())
    assert producible(node, [main, hedge]) == frozenset({"bot-a"})
    assert producible(node, [hedge]) == frozenset()
    assert producible(node, [Declared("binanceusdm", "sim-hedge")]) == frozenset({"bot-a", "strategy-a"})


def test_a_latched_instance_of_a_strategy_no_running_account_declares_is_kept_removed_until_its_reset():
    g = example_graph()
    # as it was before: latched at stage 1 on strategy-a (snapshots that did not say what they declare)
    evs, state = run(g, [(t, [snap(1e6, t, venue="binanceusdm", account="sim-main")])
                         for t in range(0, 11 * MIN, 30 * SEC)])
    assert state.scopes[f"{DEAD}|strategy-a"].stage.level == 1
    accounts = [Declared("binanceusdm", "sim-main", {"book": "futures"}, frozenset({"bot-a"})),
                Declared("binanceusdm", "sim-hedge", {}, frozenset())]
    pruned = prune(g, state, accounts, 11 * MIN)
    assert pruned.kept == ((f"{DEAD}|strategy-a", 1),)
    assert state.scopes[f"{DEAD}|strategy-a"].removed.code == SCOPE_REMOVED
