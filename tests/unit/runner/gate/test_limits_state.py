"""The gate's message buckets (killswitch.runner.gate.limits_state): a token bucket per policy, scope and
strategy, refilled on the time handed in, bounded in number without forgetting one that holds a
strategy back; and the limit tables made once per graph and set of snapshots."""

from __future__ import annotations

import pytest

from killswitch.runner.gate.gate import check_order
from killswitch.runner.gate.limits_state import LimitsState, MessageBuckets
from killswitch.runner.lock.lock import LockBook
from killswitch.snapshot import Position, Snapshot
from tests.unit.engine_helpers import compile_graph

T0 = 1_700_000_000_000
KEY = ("p", "binance/a", "bot-1")


def test_a_bucket_starts_full_and_refills_at_its_rate_up_to_its_burst():
    b = MessageBuckets()
    assert b.level(KEY, 2.0, 3, T0) == 3.0
    for _ in range(3):
        b.take(KEY, 2.0, 3, T0)
    assert b.level(KEY, 2.0, 3, T0) == 0.0
    assert b.level(KEY, 2.0, 3, T0 + 499) == pytest.approx(0.998)  # 2 a second: one token every 500 ms
    assert b.level(KEY, 2.0, 3, T0 + 500) == pytest.approx(1.0)
    assert b.level(KEY, 2.0, 3, T0 + 60_000) == 3.0  # never above the burst


def test_a_clock_that_goes_back_refills_nothing():
    b = MessageBuckets()
    b.take(KEY, 1.0, 1, T0)
    assert b.level(KEY, 1.0, 1, T0 - 10_000) == 0.0


def test_buckets_are_bounded_letting_go_of_full_ones_first():
    b = MessageBuckets(max_buckets=2)
    b.take(("p", "s", "a"), 1.0, 5, T0)
    b.take(("p", "s", "b"), 1.0, 5, T0)
    # both still refilling: a third strategy cannot be counted, and is refused (None), not let in
    assert b.level(("p", "s", "c"), 1.0, 5, T0 + 100) is None
    assert len(b) == 2
    # 1 s later both are full again: forgetting them changes nothing, so there is room
    assert b.level(("p", "s", "c"), 1.0, 5, T0 + 1_000) == 5.0
    b.take(("p", "s", "c"), 1.0, 5, T0 + 1_000)
    assert len(b) == 1


POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: lim}
spec:
  scope: {level: account}
  signals: {dd: {equity_drawdown: {window: 15m}}}
  triggers: {hard: {when: "dd >= 10%", on_missing_data: hold}}
  stages: [{level: 1, name: flatten, on: [hard], actions: [close_all]}]
  limits: {message_rate: {per_second: 1, burst: 2}, max_order_notional: 1M}
"""


def snap(ts=T0):
    return Snapshot(venue="binance", account="a", market_type="futures", ts_event=ts, equity=1e6,
                    positions=[Position(symbol="BTC/USDT:USDT", side="long", contracts=1, notional=100, mark_price=100,
                                        unrealized_pnl=0)])


def test_the_gate_spends_a_token_only_on_an_allowed_order_and_refills_on_the_time_given():
    graph = compile_graph(POLICY, "p.yaml")
    state = LimitsState()
    snaps = {"binance/a": snap()}
    order = {"account": "binance/a", "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 1, "price": 100,
             "strategy": "bot-1"}

    def ask(now, **change):
        return check_order(LockBook(), {**order, **change}, None, now, limits=state.for_gate(graph, snaps))

    assert ask(T0).allow and ask(T0).allow
    assert ask(T0).reason.startswith("MESSAGE_RATE: strategy bot-1 used its burst of 2")
    assert ask(T0, amount=100_000).reason.startswith("LIMIT_ORDER_NOTIONAL")  # a refusal takes no token ...
    assert ask(T0 + 999).allow is False
    assert ask(T0 + 1_000).allow is True  # ... and one second gives one back
    assert ask(T0 + 1_000).allow is False
    assert ask(T0 + 1_000, strategy="bot-2").allow is True


def test_the_tables_are_made_once_per_graph_and_snapshots():
    graph = compile_graph(POLICY, "p.yaml")
    state = LimitsState()
    snaps = {"binance/a": snap()}
    first = state.tables(graph, snaps)
    assert state.tables(graph, snaps) is first
    assert state.tables(graph, {"binance/a": snap(T0 + 5_000)}) is not first


def test_a_graph_without_limits_hands_the_gate_nothing():
    text = POLICY.replace("  limits: {message_rate: {per_second: 1, burst: 2}, max_order_notional: 1M}\n", "")
    graph = compile_graph(text, "p.yaml")
    assert LimitsState().for_gate(graph, {}) is None


def test_an_account_without_a_snapshot_is_refused_not_let_through_unlimited():
    """A runner that just started, or a standby that takes no snapshots, cannot tell which limits
    bind the account nor what it holds: it says no."""
    graph = compile_graph(POLICY, "p.yaml")
    order = {"account": "binance/a", "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 1, "price": 100}
    d = check_order(LockBook(), order, None, T0, limits=LimitsState().for_gate(graph, {}))
    assert d.allow is False and d.reason.startswith("LIMITS_UNKNOWN: no snapshot of binance/a yet")
