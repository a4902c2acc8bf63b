"""What the kinds read from the scope's position aggregates share (not a kind: its name starts with ``_``).

``position_loss``, ``liquidation_distance``, ``gross_exposure``, ``net_exposure``, ``leverage``
and ``concentration`` read the sums and extremes the engine takes in one pass over the scope's
positions (:class:`~killswitch.policy.registry.PositionAggregates`), against the scope's equity:
each is unknown, for the one same reason, while the positions are unknown (an account's fetch
failed) or the equity is unknown or not positive (:func:`equity_over`). ``gross_exposure`` and
``net_exposure`` are one kind of figure (:func:`exposure_kind`): they share one parameters' model,
:class:`Exposure` (one definition in the schema, as it always was), and keep none.
"""

from typing import Callable, ClassVar, Optional

from ..registry import PositionAggregates, Reading, SignalInputs, SignalKind, SignalParams, no_parameters

UNKNOWN = "NO_DATA: positions or equity unknown"


def equity_over(inputs: SignalInputs) -> Optional[float]:
    """The scope's equity, when its positions are known and it is positive: what the aggregates are
    read against (None otherwise: the reading is :data:`UNKNOWN`)."""
    equity = inputs.equity
    if not inputs.positions_known or equity is None or equity <= 0:
        return None
    return equity


class Exposure(SignalParams):
    """Exposure (sum of notionals, or their signed sum) as a fraction of equity."""

    bounds: ClassVar = (0.0, None)


def over_equity(figure: Callable[[PositionAggregates], float]) -> Callable[[None, SignalInputs, int], Reading]:
    """The ``evaluate`` of a kind that reads one figure of the aggregates over the equity
    (:data:`UNKNOWN` when the equity cannot be read against)."""

    def evaluate(params: None, inputs: SignalInputs, now: int) -> Reading:
        equity = equity_over(inputs)
        if equity is None:
            return None, UNKNOWN
        return figure(inputs.position_aggregates()) / equity, None

    return evaluate


def exposure_kind(name: str, aggregate: str, figure: Callable[[PositionAggregates], float]) -> SignalKind:
    """The kind ``name`` that reads ``figure`` of the aggregates (taken as ``aggregate``) over the
    equity: :class:`Exposure` its parameters' model, none kept (``build`` gives None)."""
    return SignalKind(name, Exposure, position_aggregate=True, build=no_parameters, evaluate=over_equity(figure),
                      aggregates=lambda params: (aggregate,))
