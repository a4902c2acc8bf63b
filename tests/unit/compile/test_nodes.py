"""The typed nodes the compiler builds: one class per signal and action kind, every parameter
resolved once (durations in ms, ratios as fractions, amounts as numbers), the policy-wide settings
on the policy node, and the policy as written kept for display only."""

from __future__ import annotations

import dataclasses

import pytest

from killswitch.compile import nodes as n
from killswitch.policy.actions import ACTIONS
from killswitch.policy.kinds import (
    cancel_orders,
    close_positions,
    close_side,
    concentration,
    consecutive_losses,
    data_age,
    equity_change,
    equity_drawdown,
    gross_exposure,
    heartbeat_age,
    leverage,
    liquidation_distance,
    lock_trading,
    net_exposure,
    notify,
    position_count,
    position_loss,
    reduce_top_risk,
    suggest_hedge,
)
from killswitch.policy.kinds._api_calls import ApiParams
from killswitch.policy.kinds._returns import ReturnsParams
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import policy_graph


def one_signal(signal_yaml: str) -> n.SignalNode:
    # the trigger reads another signal: s is only compiled (a KS211 warning, no error)
    g = policy_graph(f"s: {signal_yaml}\nage: data_age", 't: {when: "age >= 1m", on_missing_data: ignore}',
                     "- {level: 1, name: one, on: [t], actions: [close_all]}")
    return g.policy("p").signal("s")


def one_action(action_yaml: str, extra: str = "") -> n.ActionNode:
    g = policy_graph("s: {equity_change: {against: initial_capital}}", 't: {when: "s <= -5%", on_missing_data: hold}',
                     f"- {{level: 1, name: one, on: [t], actions: [{action_yaml}]}}", extra=extra)
    [action] = g.policy("p").stage(1).actions
    return action


def fields(node) -> dict:
    return {f.name: getattr(node, f.name) for f in dataclasses.fields(node)
            if f.name not in ("written", "type", "need", "listens")}


def own(kind, params) -> dict:
    """An action's node: its kind's build and plan, and the flags of its entry."""
    entry = ACTIONS[kind]
    return dict(kind=kind, params=params, plan=entry.plan, closes=entry.closes, after_closes=entry.after_closes,
                closes_all=entry.closes_all)


def windowed(kind, state_key: str, params, reads_book: bool = True) -> dict:
    """A windowed kind's node: no evaluation of its own, its window kept under ``state_key``."""
    entry = SIGNALS[kind]
    return dict(name="s", kind=kind, params=params, evaluate=None, reads_book=reads_book, state=entry.state,
                state_key=state_key)


RV = "[('min_coverage', '50%'), ('sample', '5m'), ('window', '1h')]"
ES = "[('confidence', '97.5%'), ('horizon', '1m'), ('min_coverage', '80%'), ('window', '1d')]"


@pytest.mark.parametrize("yaml, cls, want", [
    # a windowed kind (killswitch/policy/kinds/equity_drawdown.py): its window is kept under the
    # key the engine always saved it under
    pytest.param("{equity_drawdown: {window: 15m}}", n.SignalNode,
                 windowed("equity_drawdown", "equity_drawdown:900.0:[('min_coverage', '80%'), ('window', '15m')]",
                          equity_drawdown.EquityDrawdownParams(
                              900_000, 0.8, "900.0:[('min_coverage', '80%'), ('window', '15m')]", "80% of 15m")),
                 id="equity_drawdown_defaults"),
    # a kind of its own module (killswitch/policy/kinds/equity_change.py): its frozen parameters
    pytest.param("{equity_change: {against: baseline, baseline: 50k}}", n.SignalNode,
                 dict(name="s", kind="equity_change", params=equity_change.EquityChangeParams("baseline", 50_000.0),
                      evaluate=equity_change.evaluate, reads_book=True, state=None, state_key=None),
                 id="equity_change"),
    # a kind of its own module (killswitch/policy/kinds/position_loss.py): its frozen parameters
    pytest.param("{position_loss: {of: margin, aggregate: sum}}", n.SignalNode,
                 dict(name="s", kind="position_loss", params=position_loss.PositionLossParams("margin", "sum"),
                      evaluate=position_loss.evaluate, reads_book=True, state=None, state_key=None),
                 id="position_loss"),
    # a kind of its own module (killswitch/policy/kinds/liquidation_distance.py): no parameters
    pytest.param("liquidation_distance", n.SignalNode,
                 dict(name="s", kind="liquidation_distance", params=None, evaluate=liquidation_distance.evaluate,
                      reads_book=True, state=None, state_key=None),
                 id="liquidation_distance"),
    # a kind of its own module (killswitch/policy/kinds/gross_exposure.py): no parameters
    pytest.param("gross_exposure", n.SignalNode,
                 dict(name="s", kind="gross_exposure", params=None, evaluate=gross_exposure.KIND.evaluate,
                      reads_book=True, state=None, state_key=None),
                 id="gross_exposure"),
    # a kind of its own module (killswitch/policy/kinds/net_exposure.py): no parameters
    pytest.param("net_exposure", n.SignalNode,
                 dict(name="s", kind="net_exposure", params=None, evaluate=net_exposure.KIND.evaluate,
                      reads_book=True, state=None, state_key=None),
                 id="net_exposure"),
    # a kind of its own module (killswitch/policy/kinds/leverage.py): no parameters
    pytest.param("leverage", n.SignalNode,
                 dict(name="s", kind="leverage", params=None, evaluate=leverage.KIND.evaluate,
                      reads_book=True, state=None, state_key=None),
                 id="leverage"),
    # a kind of its own module (killswitch/policy/kinds/concentration.py): its frozen parameters
    pytest.param("{concentration: {by: symbol}}", n.SignalNode,
                 dict(name="s", kind="concentration", params=concentration.ConcentrationParams("symbol"),
                      evaluate=concentration.evaluate, reads_book=True, state=None, state_key=None),
                 id="concentration"),
    pytest.param("{realized_volatility: {window: 1h, sample: 5m, min_coverage: 50%}}", n.SignalNode,
                 windowed("realized_volatility", f"returns:3600.0:{RV}", ReturnsParams(
                     3_600_000, 300_000, 0.5, 2, f"3600.0:{RV}", "50% of 1h in 5m returns", None)),
                 id="realized_volatility"),
    # 365 days of 5-minute returns: 105,120 periods; the state key is the one without annualize,
    # so turning it on keeps the returns already gathered
    pytest.param("{realized_volatility: {window: 1h, sample: 5m, min_coverage: 50%, annualize: true}}",
                 n.SignalNode,
                 windowed("realized_volatility", f"returns:3600.0:{RV}", ReturnsParams(
                     3_600_000, 300_000, 0.5, 2, f"3600.0:{RV}", "50% of 1h in 5m returns", 105_120.0)),
                 id="realized_volatility_annualized"),
    pytest.param("{realized_volatility: {window: 1d, annualize: false}}", n.SignalNode,
                 windowed("realized_volatility",
                          "returns:86400.0:[('min_coverage', '80%'), ('sample', '1m'), ('window', '1d')]",
                          ReturnsParams(86_400_000, 60_000, 0.8, 2,
                                        "86400.0:[('min_coverage', '80%'), ('sample', '1m'), ('window', '1d')]",
                                        "80% of 1d in 1m returns", None)),
                 id="realized_volatility_annualize_false_is_the_default"),
    pytest.param("{position_loss: {of: notional}}", n.SignalNode,
                 dict(name="s", kind="position_loss", params=position_loss.PositionLossParams("notional", "max"),
                      evaluate=position_loss.evaluate, reads_book=True, state=None, state_key=None),
                 id="position_loss_of_notional"),
    # a kind of its own module (killswitch/policy/kinds/position_count.py): its condition compiled
    pytest.param('{position_count: {side: long, where: "loss_on_margin>=10%  &&  liquidation_distance < 5%"}}',
                 n.SignalNode,
                 dict(name="s", kind="position_count", evaluate=position_count.evaluate, reads_book=True, state=None,
                      state_key=None, params=position_count.PositionCountParams(
                          side="long", where=n.PositionCondition(
                              text="loss_on_margin >= 10% && liquidation_distance < 5%",
                              reads=("loss_on_margin", "liquidation_distance"), predicate=lambda v: None))),
                 id="position_count_condition_in_canonical_text"),
    pytest.param("position_count", n.SignalNode,
                 dict(name="s", kind="position_count", evaluate=position_count.evaluate, reads_book=True, state=None,
                      state_key=None, params=position_count.PositionCountParams(side="any", where=None)),
                 id="position_count_bare_counts_all"),
    pytest.param("{expected_shortfall: {window: 1d, confidence: 97.5%}}", n.SignalNode,
                 windowed("expected_shortfall", f"returns:86400.0:{ES}", ReturnsParams(
                     86_400_000, 60_000, 0.8, 1, f"86400.0:{ES}", "80% of 1d in 1m returns", confidence=0.975)),
                 id="expected_shortfall_defaults"),
    # a kind of its own module that keeps a state (killswitch/policy/kinds/consecutive_losses.py):
    # no parameters, so its state is kept under its name alone, the one it was always saved under
    pytest.param("consecutive_losses", n.SignalNode,
                 dict(name="s", kind="consecutive_losses", params=None, evaluate=None, reads_book=True,
                      state=consecutive_losses.KIND.state, state_key="losses"),
                 id="consecutive_losses"),
    # a kind of its own module (killswitch/policy/kinds/data_age.py): no parameters, its evaluation
    pytest.param("data_age", n.SignalNode,
                 dict(name="s", kind="data_age", params=None, evaluate=data_age.evaluate, reads_book=False,
                      state=None, state_key=None),
                 id="data_age"),
    pytest.param("{api_error_rate: {window: 5m}}", n.SignalNode,
                 windowed("api_error_rate", "api:300.0:[('window', '5m')]",
                          ApiParams(300_000, "300.0:[('window', '5m')]"), reads_book=False),
                 id="api_error_rate"),
    pytest.param("{api_latency: {window: 90s, quantile: 99%}}", n.SignalNode,
                 windowed("api_latency", "api:90.0:[('quantile', '99%'), ('window', '1m30s')]",
                          ApiParams(90_000, "90.0:[('quantile', '99%'), ('window', '1m30s')]", 0.99), reads_book=False),
                 id="api_latency"),
    # a kind of its own module that keeps a state (killswitch/policy/kinds/heartbeat_age.py): its
    # wait is kept under "listening:<source>" whatever the grace, the key it was always saved under
    pytest.param("{heartbeat_age: {source: bot-a}}", n.SignalNode,
                 dict(name="s", kind="heartbeat_age", params=heartbeat_age.HeartbeatAgeParams("bot-a", None),
                      evaluate=None, reads_book=False, state=heartbeat_age.KIND.state, state_key="listening:bot-a"),
                 id="heartbeat_age"),
    pytest.param("{heartbeat_age: {source: bot-a, grace: 90s}}", n.SignalNode,
                 dict(name="s", kind="heartbeat_age", params=heartbeat_age.HeartbeatAgeParams("bot-a", 90_000),
                      evaluate=None, reads_book=False, state=heartbeat_age.KIND.state, state_key="listening:bot-a"),
                 id="heartbeat_age_grace"),
])
def test_signal_nodes_hold_resolved_parameters(yaml, cls, want):
    """The state key is the form saved states were always kept under: it must not change, or every
    saved window would start over after an upgrade."""
    node = one_signal(yaml)
    assert type(node) is cls
    assert fields(node) == want


@pytest.mark.parametrize("yaml, cls, want", [
    # a kind of its own module (killswitch/policy/kinds/cancel_orders.py): its frozen parameters
    pytest.param("{cancel_orders: {which: all, symbols: [BTC/USDT:USDT]}}", n.ActionNode,
                 own("cancel_orders", cancel_orders.CancelOrdersParams("all", ("BTC/USDT:USDT",))), id="cancel_orders"),
    pytest.param("{cancel_orders: entries}", n.ActionNode,
                 own("cancel_orders", cancel_orders.CancelOrdersParams("entries", ())), id="cancel_orders_short_form"),
    pytest.param("{reduce_top_risk: {count: 3, fraction: 50%, close_within_liquidation: 2.5%}}",
                 n.ActionNode,
                 own("reduce_top_risk", reduce_top_risk.ReduceTopRiskParams(3, 0.5, "losing", 0.025, "skip")),
                 id="reduce_top_risk"),
    # a kind of its own module (killswitch/policy/kinds/close_side.py): its frozen parameters
    pytest.param("{close_side: long}", n.ActionNode,
                 own("close_side", close_side.CloseSideParams("long", "skip")), id="close_side"),
    pytest.param("{close_positions: {min_loss: 1%, side: short}}", n.ActionNode,
                 own("close_positions", close_positions.ClosePositionsParams(
                     symbols=(), side="short", min_loss=0.01, correlation_group=None, where=None, count=None,
                     rank_by=None)),
                 id="close_positions"),
    pytest.param('{close_positions: {side: long, where: "loss_on_margin >= 10%", count: 3, rank_by: loss_on_margin}}',
                 n.ActionNode,
                 own("close_positions", close_positions.ClosePositionsParams(
                     symbols=(), side="long", min_loss=None, correlation_group=None,
                     where=n.PositionCondition(text="loss_on_margin >= 10%", reads=("loss_on_margin",),
                                               predicate=lambda v: None),
                     count=3, rank_by="loss_on_margin")),
                 id="close_positions_the_three_worst_matching"),
    pytest.param("{close_positions: {side: long, count: 2}}", n.ActionNode,
                 own("close_positions", close_positions.ClosePositionsParams(
                     symbols=(), side="long", min_loss=None, correlation_group=None, where=None, count=2,
                     rank_by="risk_score")),
                 id="close_positions_count_ranks_by_risk_score_by_default"),
    pytest.param("close_all", n.ActionNode, own("close_all", None), id="close_all"),
    # a kind of its own module (killswitch/policy/kinds/lock_trading.py): its frozen parameters
    pytest.param("{lock_trading: {mode: reducing, ttl: 1h30m}}", n.ActionNode,
                 own("lock_trading", lock_trading.LockTradingParams("reducing", 5_400_000, True, False)),
                 id="lock_trading"),
    # the venue watch's defaults: a halt cancels entries and reverts growth, reducing cancels only
    pytest.param("lock_trading", n.ActionNode,
                 own("lock_trading", lock_trading.LockTradingParams("halted", None, True, True)),
                 id="lock_trading_defaults"),
    pytest.param("{lock_trading: {mode: halted, enforce: {cancel: false, revert_growth: false}}}", n.ActionNode,
                 own("lock_trading", lock_trading.LockTradingParams("halted", None, False, False)),
                 id="lock_trading_enforce"),
    pytest.param("{arm_exchange_dms: 45s}", n.ActionNode, own("arm_exchange_dms", 45_000), id="arm_exchange_dms"),
    # a kind of its own module (killswitch/policy/kinds/suggest_hedge.py), planned after the closes
    pytest.param("{suggest_hedge: {threshold: 25k}}", n.ActionNode,
                 own("suggest_hedge", suggest_hedge.SuggestHedgeParams(25_000.0)), id="suggest_hedge"),
    pytest.param("{runbook: flatten.md}", n.ActionNode, own("runbook", "flatten.md"), id="runbook"),
    pytest.param("{notify: {route: oncall, severity: warning}}", n.ActionNode,
                 own("notify", notify.NotifyParams("oncall", "warning")), id="notify"),
])
def test_action_nodes_hold_resolved_parameters(yaml, cls, want):
    """Every action kind is a module's: its node holds what its build made, planned by its plan."""
    node = one_action(yaml)
    assert type(node) is cls
    assert fields(node) == want


def test_position_condition_predicate_is_three_valued_over_the_facts_it_reads():
    where = one_signal('{position_count: {where: "loss_on_margin >= 10% || notional >= 50000"}}').params.where
    assert where is not None
    assert where.predicate({"loss_on_margin": 0.10, "notional": 1.0}) is True  # inclusive, as in triggers
    assert where.predicate({"loss_on_margin": 0.0999, "notional": 49_999.0}) is False
    assert where.predicate({"loss_on_margin": None, "notional": 1.0}) is None  # margin unknown: undecided
    assert where.predicate({"loss_on_margin": None, "notional": 60_000.0}) is True  # true || unknown


def test_written_keeps_the_parameters_as_the_policy_wrote_them():
    """What runbooks, rendered graphs and a plan's directives show: the canonical text."""
    assert one_signal("{equity_drawdown: {window: 90m}}").written == {"window": "1h30m", "min_coverage": "80%"}
    assert one_action("{lock_trading: {mode: reducing, ttl: 60m}}").written == {"mode": "reducing", "ttl": "1h"}
    assert one_action("close_all").written == {}


def test_policy_wide_settings_are_compiled_onto_the_policy_node():
    g = policy_graph(
        "s: {equity_change: {against: initial_capital}}", 't: {when: "s <= -5%", on_missing_data: hold}',
        "- {level: 1, name: one, on: [t], actions: [close_all]}",
        extra="""
            attribution: {reference_window: 30m, source_threshold: 70%, missing_reference: exclude}
            risk_score: {weights: {pnl_delta: 0.5, current_loss: 0.15}}
            correlation_groups: [{name: majors, symbols: [BTC/USDT:USDT, ETH/USDT:USDT]}]
            unwind: {max_slippage: 1.5%, chunk_notional: 50k, orders_per_second: 8, max_retries: 5}
        """)
    p = g.policy("p")
    assert p.attribution == n.AttributionNode(1_800_000, 0.7, "exclude")
    assert p.risk_weights == n.RiskWeightsNode(0.5, 0.15, 0.20, 0.10, 0.05)
    assert p.correlation_groups == (n.CorrelationGroupNode("majors", ("BTC/USDT:USDT", "ETH/USDT:USDT")),)
    assert p.unwind == n.UnwindNode(0.015, 50_000.0, 8.0, 5)


def test_policy_node_defaults_are_the_policy_languages():
    """A policy that sets none of them compiles to the nodes' own defaults (one set of defaults)."""
    text_policy = policy_graph(
        "s: {equity_change: {against: initial_capital}}", 't: {when: "s <= -5%", on_missing_data: hold}',
        "- {level: 1, name: one, on: [t], actions: [close_all]}").policy("p")
    assert text_policy.attribution == n.AttributionNode()
    assert text_policy.risk_weights == n.RiskWeightsNode()
    assert text_policy.unwind == n.UnwindNode()  # orders_per_second None: the venue's rate
    assert text_policy.correlation_groups == ()


def test_metadata_is_compiled_onto_the_policy_node():
    text = """\
        apiVersion: killswitch/v1
        kind: Policy
        metadata: {name: p, owner: risk-desk, description: the desk's book, labels: {desk: crypto}}
        spec:
          signals: {s: data_age}
          triggers: {t: {when: "s >= 1m", on_missing_data: fire}}
          stages: [{level: 1, name: one, on: [t], actions: [close_all]}]
    """
    from tests.unit.engine_helpers import compile_graph

    p = compile_graph(text).policy("p")
    assert (p.owner, p.description, dict(p.labels)) == ("risk-desk", "the desk's book", {"desk": "crypto"})
    assert not hasattr(p, "model"), "nothing after the compiler reads the pydantic policy"


def test_every_kind_of_the_catalogue_is_a_module_s():
    """No kind is built in: each gives its node's build and its evaluation (or kept state) or
    planning, so no layer above asks which kind a node is."""
    assert all(k.build is not None and (k.evaluate or k.state) for k in SIGNALS.values())
    assert all(k.build is not None and k.plan is not None for k in ACTIONS.values())
