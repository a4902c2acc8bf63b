"""Typed nodes from validated models: each signal's and action's parameters resolved once.

What it owns: :func:`signal_node` and :func:`action_node`, which turn a signal or action of a
validated Policy into its frozen node of :mod:`.nodes` — durations in ms, ratios as fractions,
position conditions parsed — plus the policy's own text (``written``) for display and the state
key a windowed signal keeps its history under (the saved form, so saved state survives).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Optional

from ..policy import expr as ex
from ..policy import model as m
from ..policy.model import SIGNAL_KINDS
from ..policy.positions import parse_condition
from ..policy.units import Duration
from . import nodes as n


def signal_node(name: str, sig: m.Signal) -> n.SignalNode:
    """The typed node of one signal: its parameters resolved once (durations in ms, ratios as
    fractions), and as written (canonical text) for display."""
    kind, p = sig.kind, sig.params
    vt = SIGNAL_KINDS[kind].value_type
    written = p.model_dump(mode="json", exclude_none=True)
    if isinstance(p, m.EquityDrawdown):
        return n.EquityDrawdownSignal(name=name, type=vt, written=written, window_ms=p.window.ms,
                                      state_key=_state_key("equity_drawdown", p.window, written),
                                      min_coverage=p.min_coverage.fraction)
    if isinstance(p, m.EquityChange):
        return n.EquityChangeSignal(name=name, type=vt, written=written, against=p.against,
                                    baseline=p.baseline.value if p.baseline is not None else None)
    if isinstance(p, m.PositionLoss):
        return n.PositionLossSignal(name=name, type=vt, written=written, of=p.of, aggregate=p.aggregate)
    if isinstance(p, m.LiquidationDistance):
        return n.LiquidationDistanceSignal(name=name, type=vt, written=written)
    if isinstance(p, m.Exposure):
        return n.ExposureSignal(name=name, kind=kind, type=vt, written=written)
    if isinstance(p, m.Leverage):
        return n.LeverageSignal(name=name, type=vt, written=written)
    if isinstance(p, m.Concentration):
        return n.ConcentrationSignal(name=name, type=vt, written=written, by=p.by)
    if isinstance(p, m.RealizedVolatility):
        # annualizing reads the same returns: it is not part of the state's key
        returns = {k: v for k, v in written.items() if k != "annualize"}
        return n.RealizedVolatilitySignal(name=name, type=vt, written=written, window_ms=p.window.ms,
                                          state_key=_state_key("returns", p.window, returns),
                                          sample_ms=p.sample.ms, min_coverage=p.min_coverage.fraction,
                                          periods_per_year=YEAR_MS / p.sample.ms if p.annualize else None)
    if isinstance(p, m.TailRisk):
        return n.TailRiskSignal(name=name, kind=kind, type=vt, written=written, window_ms=p.window.ms,
                                state_key=_state_key("returns", p.window, written),
                                confidence=p.confidence.fraction, horizon_ms=p.horizon.ms,
                                min_coverage=p.min_coverage.fraction)
    if isinstance(p, m.PositionCount):
        return n.PositionCountSignal(name=name, type=vt, written=written, side=p.side,
                                     where=_position_condition(p.where))
    if isinstance(p, m.ConsecutiveLosses):
        return n.ConsecutiveLossesSignal(name=name, type=vt, written=written)
    if isinstance(p, m.DataAge):
        return n.DataAgeSignal(name=name, type=vt, written=written)
    if isinstance(p, m.ApiErrorRate):
        return n.ApiErrorRateSignal(name=name, type=vt, written=written, window_ms=p.window.ms,
                                    state_key=_state_key("api", p.window, written))
    if isinstance(p, m.ApiLatency):
        return n.ApiLatencySignal(name=name, type=vt, written=written, window_ms=p.window.ms,
                                  state_key=_state_key("api", p.window, written), quantile=p.quantile.fraction)
    if isinstance(p, m.HeartbeatAge):
        return n.HeartbeatAgeSignal(name=name, type=vt, written=written, source=p.source,
                                    grace_ms=p.grace.ms if p.grace is not None else None)
    raise AssertionError(f"signal kind without a node: {kind}")  # pragma: no cover - SIGNAL_KINDS is closed


# A year of returns for realized_volatility {annualize: true}: crypto trades every day of 365.
YEAR_MS = 365 * 86_400_000


def _position_condition(text: Optional[str]) -> Optional[n.PositionCondition]:
    """A ``where:`` compiled; the model has parsed and type-checked it already (it holds the
    canonical text), so this cannot fail."""
    if text is None:
        return None
    ast = parse_condition(text, canonical=True)
    return n.PositionCondition(text=text, reads=tuple(dict.fromkeys(r.name for r in ex.refs(ast))),
                               predicate=ex.compile_predicate(ast))


def _state_key(family: str, window: Duration, written: dict[str, Any]) -> str:
    # the form the engine has always saved its signal states under: kept, or saved states restart
    return f"{family}:{window.seconds}:{sorted(written.items())}"


def action_node(action: m.Action) -> n.ActionNode:
    """The typed node of one action: its parameters resolved once, and as written for display."""
    p = action.params
    written = p.model_dump(mode="json", exclude_none=True)
    if isinstance(p, m.CancelOrders):
        return n.CancelOrdersAction(written=written, which=p.which, symbols=tuple(p.symbols))
    if isinstance(p, m.ReduceTopRisk):
        within = p.close_within_liquidation
        return n.ReduceTopRiskAction(written=written, count=p.count, fraction=p.fraction.fraction, side=p.side,
                                     close_within_liquidation=within.fraction if within is not None else None,
                                     on_unknown_side=p.on_unknown_side)
    if isinstance(p, m.CloseSide):
        return n.CloseSideAction(written=written, side=p.side, on_unknown_side=p.on_unknown_side)
    if isinstance(p, m.ClosePositions):
        return n.ClosePositionsAction(written=written, symbols=tuple(p.symbols), side=p.side,
                                      min_loss=p.min_loss.fraction if p.min_loss is not None else None,
                                      correlation_group=p.correlation_group, where=_position_condition(p.where),
                                      count=p.count,
                                      rank_by=(p.rank_by or "risk_score") if p.count is not None else None)
    if isinstance(p, m.CloseAll):
        return n.CloseAllAction(written=written)
    if isinstance(p, m.LockTrading):
        return n.LockTradingAction(written=written, mode=p.mode, ttl_ms=p.ttl.ms if p.ttl is not None else None)
    if isinstance(p, m.ArmExchangeDms):
        return n.ArmExchangeDmsAction(written=written, after_ms=p.after.ms)
    if isinstance(p, m.NotifyAction):
        return n.NotifyAction(written=written, route=p.route, severity=p.severity)
    if isinstance(p, m.SuggestHedge):
        return n.SuggestHedgeAction(written=written, threshold=p.threshold.value)
    if isinstance(p, m.RunbookAction):
        return n.RunbookAction(written=written, template=p.template)
    raise AssertionError(f"action kind without a node: {action.kind}")  # pragma: no cover - ACTION_KINDS is closed
