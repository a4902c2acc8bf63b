"""The ``value_at_risk`` signal: the historical value at risk of equity's returns (:mod:`._returns`)."""

from typing import TYPE_CHECKING

from ..registry import Reading, SignalInputs, SignalKind
from ._returns import ReturnsParams, TailRisk, history_need, kept, sampled, tail_params, tail_quantile

if TYPE_CHECKING:
    from ..windows import Returns


def evaluate(params: ReturnsParams, inputs: SignalInputs, now: int, st: "Returns") -> tuple[Reading, "Returns"]:
    unread = sampled(params, st, inputs, now)
    if unread is not None:
        return unread, st
    q = tail_quantile(params, st)
    if q is None:
        return (None, "INSUFFICIENT_HISTORY: no returns"), st
    return (max(0.0, -q), None), st


KIND = SignalKind("value_at_risk", TailRisk, build=tail_params, state=kept(evaluate, True), history_need=history_need)
