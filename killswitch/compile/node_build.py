"""Typed nodes from validated models: each signal's and action's parameters resolved once.

What it owns: :func:`signal_node` and :func:`action_node`, which turn a signal or action of a
validated Policy into its frozen node of :mod:`.nodes` — durations in ms, ratios as fractions,
position conditions parsed — plus the policy's own text (``written``) for display and the state
key a windowed signal keeps its history under (the saved form, so saved state survives).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..policy.expr import ValueType
from ..policy.actions import ACTIONS, Action, ClosePositions, ReduceTopRisk
from ..policy.signals import SIGNALS, EquityDrawdown, RealizedVolatility, Signal, TailRisk
from ..policy.registry import ActionKind, KeptState
from ..policy.positions import compile_condition
from ..policy.units import Duration
from . import nodes as n


def signal_node(name: str, sig: Signal) -> n.SignalNode:
    """The typed node of one signal: its parameters resolved once (durations in ms, ratios as
    fractions), and as written (canonical text) for display. A kind of a module of its own
    (its catalogue entry has ``build``, and ``evaluate`` or a kept ``state``) is a
    :class:`~.nodes.KindSignal` holding what its ``build`` made; a built-in kind has its own node
    class, made below."""
    kind, p = sig.kind, sig.params
    entry = SIGNALS[kind]
    written = p.model_dump(mode="json", exclude_none=True)
    if entry.build is not None:
        kept, params = entry.state, entry.build(p)
        return n.KindSignal(name=name, kind=kind, type=entry.model.value_type, written=written,
                            params=params, evaluate=entry.evaluate, reads_book=entry.reads_book,
                            state=kept, state_key=_kept_key(kept, params, written) if kept is not None else None)
    return SIGNAL_NODES[kind](name, kind, entry.model.value_type, written, p)


def _equity_drawdown(name: str, kind: str, vt: ValueType, written: dict[str, Any], p: EquityDrawdown
                     ) -> n.SignalNode:
    return n.EquityDrawdownSignal(name=name, type=vt, written=written, window_ms=p.window.ms,
                                  state_key=_state_key("equity_drawdown", p.window, written),
                                  min_coverage=p.min_coverage.fraction)


def _realized_volatility(name: str, kind: str, vt: ValueType, written: dict[str, Any], p: RealizedVolatility
                         ) -> n.SignalNode:
    # annualizing reads the same returns: it is not part of the state's key
    returns = {k: v for k, v in written.items() if k != "annualize"}
    return n.RealizedVolatilitySignal(name=name, type=vt, written=written, window_ms=p.window.ms,
                                      state_key=_state_key("returns", p.window, returns),
                                      sample_ms=p.sample.ms, min_coverage=p.min_coverage.fraction,
                                      periods_per_year=YEAR_MS / p.sample.ms if p.annualize else None)


def _tail_risk(name: str, kind: str, vt: ValueType, written: dict[str, Any], p: TailRisk) -> n.SignalNode:
    return n.TailRiskSignal(name=name, kind=kind, type=vt, written=written, window_ms=p.window.ms,
                            state_key=_state_key("returns", p.window, written),
                            confidence=p.confidence.fraction, horizon_ms=p.horizon.ms,
                            min_coverage=p.min_coverage.fraction)


# name, kind, value type, parameters as written, validated parameters → the node of a built-in kind
_SignalBuilder = Callable[[str, str, ValueType, dict[str, Any], Any], n.SignalNode]
SIGNAL_NODES: dict[str, _SignalBuilder] = {
    "equity_drawdown": _equity_drawdown,
    "realized_volatility": _realized_volatility,
    "value_at_risk": _tail_risk,
    "expected_shortfall": _tail_risk,
    "api_error_rate": lambda name, kind, vt, w, p: n.ApiErrorRateSignal(
        name=name, type=vt, written=w, window_ms=p.window.ms, state_key=_state_key("api", p.window, w)),
    "api_latency": lambda name, kind, vt, w, p: n.ApiLatencySignal(
        name=name, type=vt, written=w, window_ms=p.window.ms, state_key=_state_key("api", p.window, w),
        quantile=p.quantile.fraction),
}


# A year of returns for realized_volatility {annualize: true}: crypto trades every day of 365.
YEAR_MS = 365 * 86_400_000


def _position_condition(text: Optional[str]) -> Optional[n.PositionCondition]:
    """A ``where:`` compiled (None: none written)."""
    return compile_condition(text) if text is not None else None


def _state_key(family: str, window: Duration, written: dict[str, Any]) -> str:
    # the form the engine has always saved its signal states under: kept, or saved states restart
    return f"{family}:{window.seconds}:{sorted(written.items())}"


def _kept_state_key(state_name: str, written: dict[str, Any], key: Optional[str] = None) -> str:
    # the state's name alone for a signal without parameters (consecutive_losses' "losses", the
    # name its state was always saved under), else with the parameters as written, or with the
    # key the kind makes of its parameters (heartbeat_age's "listening:<source>")
    if key is not None:
        return f"{state_name}:{key}"
    return f"{state_name}:{sorted(written.items())}" if written else state_name


def _kept_key(kept: KeptState, params: Any, written: dict[str, Any]) -> str:
    return _kept_state_key(kept.name, written, kept.key(params) if kept.key is not None else None)


def action_node(action: Action) -> n.ActionNode:
    """The typed node of one action: its parameters resolved once, and as written for display."""
    p = action.params
    return ACTION_NODES[action.kind](p.model_dump(mode="json", exclude_none=True), p)


def _reduce_top_risk(w: dict[str, Any], p: ReduceTopRisk) -> n.ActionNode:
    within = p.close_within_liquidation
    return n.ReduceTopRiskAction(written=w, count=p.count, fraction=p.fraction.fraction, side=p.side,
                                 close_within_liquidation=within.fraction if within is not None else None,
                                 on_unknown_side=p.on_unknown_side)


def _close_positions(w: dict[str, Any], p: ClosePositions) -> n.ActionNode:
    return n.ClosePositionsAction(written=w, symbols=tuple(p.symbols), side=p.side,
                                  min_loss=p.min_loss.fraction if p.min_loss is not None else None,
                                  correlation_group=p.correlation_group, where=_position_condition(p.where),
                                  count=p.count, rank_by=(p.rank_by or "risk_score") if p.count is not None else None)


def _own_action(entry: ActionKind) -> Callable[[dict[str, Any], Any], n.ActionNode]:
    """The node builder of a kind of its own module: a :class:`~.nodes.KindAction` holding what
    its entry's ``build`` made, planned by its ``plan``."""
    build, plan = entry.build, entry.plan
    assert build is not None and plan is not None
    return lambda w, p: n.KindAction(kind=entry.name, written=w, params=build(p), plan=plan, closes=entry.closes,
                                     after_closes=entry.after_closes)


# parameters as written, validated parameters → the node of an action kind: a built-in kind's
# here (the planner and the runner carry it out), then one for every kind of its own module (its
# catalogue entry has ``build`` and ``plan``; the planner hands its ``plan`` the stage entry)
ACTION_NODES: dict[str, Callable[[dict[str, Any], Any], n.ActionNode]] = {
    "reduce_top_risk": _reduce_top_risk,
    "close_positions": _close_positions,
    "close_all": lambda w, p: n.CloseAllAction(written=w),
    "arm_exchange_dms": lambda w, p: n.ArmExchangeDmsAction(written=w, after_ms=p.after.ms),
    "revoke_trading": lambda w, p: n.RevokeTradingAction(written=w),
    "notify": lambda w, p: n.NotifyAction(written=w, route=p.route, severity=p.severity),
    "runbook": lambda w, p: n.RunbookAction(written=w, template=p.template),
    **{name: _own_action(k) for name, k in ACTIONS.items() if k.build is not None and k.plan is not None},
}
