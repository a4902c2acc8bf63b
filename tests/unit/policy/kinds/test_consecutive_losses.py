"""The ``consecutive_losses`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/consecutive_losses.py) that keeps a state between ticks through the
kinds' state slot (:class:`~killswitch.policy.registry.KeptState`): it keeps its place in the
language, its node holds its kept state, the engine keeps the state across ticks and saves it
with its own, in the form the built-in kind saved it — a state saved before the move carries on,
and one saved now is what the previous release reads. (Its counting: test_engine_signals.py.)"""

from __future__ import annotations

import json

import pytest

from killswitch.compile.node_build import _kept_state_key
from killswitch.compile.nodes import SignalNode
from killswitch.engine.signal_state import Kept, check_kept_states
from killswitch.engine.state import State
from killswitch.policy.kinds import consecutive_losses
from killswitch.policy.registry import KeptState, SignalKind, no_parameters
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import MIN, failed, only, pos, run, signal, single_signal_graph, snap

A, B, C = (pos("A/USDT:USDT", "long", pnl=-10), pos("B/USDT:USDT", "short", pnl=5),
           pos("C/USDT:USDT", "long", pnl=-3))
KEY_A, KEY_B, KEY_C = "simulated/a/A/USDT:USDT/long", "simulated/a/B/USDT:USDT/short", "simulated/a/C/USDT:USDT/long"


def graph():
    return single_signal_graph("consecutive_losses", "s >= 2")


def book_tick(i: int, *positions):
    return (i * MIN, [snap(10_000, i * MIN, positions=positions)])


def saved_signals(state: State) -> dict:
    [scope] = json.loads(json.dumps(state.to_json()))["scopes"].values()
    return scope["signals"]


def test_it_keeps_its_place_in_the_language():
    kinds = list(SIGNALS)
    assert kinds[kinds.index("position_count") + 1:kinds.index("data_age")] == ["consecutive_losses"]
    assert SIGNALS["consecutive_losses"].state is consecutive_losses.KIND.state


def test_its_node_holds_its_kept_state_under_the_name_it_was_always_saved_under():
    [node] = graph().policies[0].signals
    assert isinstance(node, SignalNode) and node.evaluate is None
    assert (node.state.name, node.state_key, node.params) == ("losses", "losses", None)


def test_the_state_carries_the_streak_from_tick_to_tick_and_is_saved_as_the_built_in_kind_saved_it():
    evs, state = run(graph(), [book_tick(0, A, B, C), book_tick(1, B, C)])
    assert [signal(ev).value for ev in evs] == [0.0, 1.0]
    # [kind key, [streak, {position key: last PnL}]]: LossBook.to_json's form, which the previous
    # release reads back (LossBook.from_json: d[0], dict(d[1]))
    assert saved_signals(state) == {"s": ["losses", [1, {KEY_B: 5.0, KEY_C: -3.0}]]}


def test_a_restart_carries_on_the_streak_from_the_saved_state():
    _, state = run(graph(), [book_tick(0, A, B, C), book_tick(1, B, C)])
    restored = State.from_json(json.loads(json.dumps(state.to_json())))  # saved, then loaded by the next runner
    evs, _ = run(graph(), [book_tick(2, B)], restored)  # C closed at -3: the second loss in a row
    assert signal(evs[0]).value == 2.0 and only(evs[0]).stage_after == 1


def test_a_state_saved_by_the_built_in_kind_carries_on_after_the_move():
    _, state = run(graph(), [book_tick(0)])
    doc = state.to_json()
    [scope] = doc["scopes"]
    # as the previous release saved it: LossBook.to_json under "losses", one loss in a row, C open
    doc["scopes"][scope]["signals"] = {"s": ["losses", [1, {KEY_C: -3.0}]]}
    restored = State.from_json(doc)
    assert isinstance(restored.scopes[scope].signals["s"], Kept)
    evs, state = run(graph(), [book_tick(1)], restored)
    assert signal(evs[0]).value == 2.0 and only(evs[0]).stage_after == 1
    assert saved_signals(state) == {"s": ["losses", [2, {}]]}


def test_unknown_positions_leave_the_state_as_it_was():
    evs, state = run(graph(), [book_tick(0, A, B), (MIN, [failed(MIN)]), book_tick(2, B)])
    assert [(signal(ev).value, signal(ev).reason) for ev in evs] == [
        (0.0, None), (None, "NO_DATA: positions unknown"), (1.0, None)]


def test_a_signal_that_kept_another_state_starts_its_own_anew():
    _, state = run(single_signal_graph("{api_error_rate: {window: 5m}}", "s >= 50%"), [book_tick(0)])
    evs, state = run(graph(), [book_tick(1, A), book_tick(2)], state)
    assert [signal(ev).value for ev in evs] == [0.0, 1.0]
    assert saved_signals(state)["s"][0] == "losses"


def test_a_kept_state_is_keyed_by_its_name_and_the_parameters_as_written():
    assert _kept_state_key("losses", {}) == "losses"
    assert _kept_state_key("streak", {"of": "margin", "min": "5%"}) == "streak:[('min', '5%'), ('of', 'margin')]"


def _kept(name, load=None):
    return KeptState(name, lambda p: None, lambda p, i, n, s: ((None, None), s), save=load and (lambda s: s),
                     load=load)


def _load(d):
    return d


@pytest.mark.parametrize("kinds, message", [
    ([("mine", _kept("losses:x"))], "holds a ':'"),
    ([("one", _kept("streak")), ("two", _kept("streak"))],
     "signal kinds 'one' and 'two' keep their states under one name"),
    # one name in two saved forms: a window read back by the other's load
    ([("one", _kept("window", _load)), ("two", _kept("window", lambda d: d))],
     "signal kinds 'one' and 'two' keep their states under one name"),
])
def test_the_engine_refuses_a_kept_state_name_it_could_read_back_wrongly(kinds, message):
    with pytest.raises(ValueError, match=message):
        check_kept_states(kinds)


def test_kinds_of_one_family_share_a_name_in_one_form():
    """The returns kinds keep their windows under ``returns``, the API kinds under ``api`` (the
    names the engine always saved them under), each family with one load."""
    check_kept_states([("one", _kept("window", _load)), ("two", _kept("window", _load))])
    families = {}
    for k in SIGNALS.values():
        if k.state is not None:
            families.setdefault(k.state.name, set()).add(k.name)
    assert families["returns"] == {"realized_volatility", "value_at_risk", "expected_shortfall"}
    assert families["api"] == {"api_error_rate", "api_latency"}


def test_the_catalogue_kept_states_are_the_kinds_own():
    check_kept_states((k.name, k.state) for k in SIGNALS.values() if k.state is not None)
    # the streak is a JSON value, saved as it is (no save, no load of the kind's own)
    assert (consecutive_losses.KIND.state.save, consecutive_losses.KIND.state.load) == (None, None)


def test_a_kind_gives_evaluate_or_a_kept_state_not_both():
    kept = consecutive_losses.KIND.state
    with pytest.raises(ValueError, match="give evaluate, or state"):
        SignalKind("both", consecutive_losses.ConsecutiveLosses, build=no_parameters,
                   evaluate=lambda p, i, n: (0.0, None), state=kept)
    with pytest.raises(ValueError, match="gives build and evaluate"):
        SignalKind("half", consecutive_losses.ConsecutiveLosses, build=no_parameters)
    assert isinstance(kept, KeptState)
