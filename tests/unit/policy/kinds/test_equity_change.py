"""The ``equity_change`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/equity_change.py): it keeps its place in the language and its firm
flag, its node holds its frozen parameters and evaluation, and it reads each account's first and
day-open equity from what the engine hands it — the engine's state, so a restart keeps the
references the state saved. (Its readings against each reference: test_engine_signals.py.)"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

import pytest

from killswitch.compile.nodes import SignalNode
from killswitch.policy.kinds import equity_change
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import DAY, MIN, State, run, signal, single_signal_graph, snap


def test_it_keeps_its_place_in_the_language_and_its_firm_flag():
    kinds = list(SIGNALS)
    assert kinds[:3] == ["equity_drawdown", "equity_change", "position_loss"]
    assert (SIGNALS["equity_change"].reads_book, SIGNALS["equity_change"].firm) == (True, True)


def test_its_node_holds_its_frozen_parameters_and_evaluation():
    [node] = single_signal_graph("{equity_change: {against: day_open}}", "s <= -3%").policies[0].signals
    assert isinstance(node, SignalNode) and node.evaluate is equity_change.evaluate
    assert node.params == equity_change.EquityChangeParams(against="day_open", baseline=None)


def test_a_restart_keeps_the_first_equity_the_saved_state_holds():
    g = single_signal_graph("{equity_change: {against: initial_capital}}", "s <= -5%")
    _, state = run(g, [(0, [snap(10_000, 0)])])
    restored = State.from_json(json.loads(json.dumps(state.to_json())))  # saved, then loaded by the next runner
    evs, _ = run(g, [(MIN, [snap(9_000, MIN)])], restored)
    assert signal(evs[0]).value == pytest.approx(-0.1)  # against the 10k seen before the restart, not 9k


def test_the_day_open_is_the_first_equity_of_the_utc_day():
    g = single_signal_graph("{equity_change: {against: day_open}}", "s <= -5%")
    evs, _ = run(g, [(DAY - MIN, [snap(8_000, DAY - MIN)]), (DAY, [snap(10_000, DAY)]),
                     (DAY + MIN, [snap(9_700, DAY + MIN)])])
    assert [signal(ev).value for ev in evs] == [0.0, 0.0, pytest.approx(-0.03)]


@dataclass
class Account:
    venue: str = "simulated"
    account: str = "a"
    initial_capital: Optional[float] = None


@dataclass
class Inputs:
    """A scope's inputs, written by hand: what the engine's KindInputs would give."""

    snapshots: list[Account]
    equity: Optional[float] = 9_000.0
    first: dict[str, float] = field(default_factory=dict)
    day_open: dict[str, float] = field(default_factory=dict)

    def first_equity(self, s: Account) -> Optional[float]:
        return self.first.get(s.account)

    def day_open_equity(self, s: Account) -> Optional[float]:
        return self.day_open.get(s.account)


def reading(against: str, inputs: Inputs, baseline: Optional[float] = None):
    return equity_change.evaluate(equity_change.EquityChangeParams(against, baseline), inputs, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("against, inputs, want", [
    pytest.param("initial_capital", Inputs([Account(initial_capital=10_000.0)]), (-0.1, None),
                 id="declared_capital_before_the_first_equity"),
    pytest.param("initial_capital", Inputs([Account()], first={"a": 12_000.0}), (-0.25, None),
                 id="first_equity_stands_in_for_undeclared_capital"),
    pytest.param("day_open", Inputs([Account(), Account(account="b")], day_open={"a": 5_000.0, "b": 5_000.0}),
                 (-0.1, None), id="day_opens_of_the_scope_summed"),
    pytest.param("day_open", Inputs([Account(), Account(account="b")], day_open={"a": 5_000.0}),
                 (None, "NO_DATA: no day_open for simulated/b"), id="an_account_without_a_day_open_is_no_data"),
    pytest.param("initial_capital", Inputs([Account(initial_capital=0.0)]),
                 (None, "NO_DATA: initial_capital is not positive"), id="capital_of_zero_is_no_data"),
    pytest.param("day_open", Inputs([Account()], equity=None, day_open={"a": 5_000.0}),
                 (None, "NO_DATA: equity unknown"), id="equity_unknown_is_no_data"),
])
def test_the_reference_is_the_sum_of_the_scope_accounts(against, inputs, want):
    value, reason = want
    assert reading(against, inputs) == (value if value is None else pytest.approx(value), reason)


def test_a_baseline_needs_no_account():
    assert reading("baseline", Inputs([], equity=52_500.0), 50_000.0) == (pytest.approx(0.05), None)
