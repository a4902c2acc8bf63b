"""The ``expected_shortfall`` signal: the mean of the returns beyond the value at risk (:mod:`._returns`)."""

import math
from typing import TYPE_CHECKING

from ..registry import Reading, SignalInputs, SignalKind
from ._returns import ReturnsParams, TailRisk, history_need, kept, sampled, tail_params, tail_quantile

if TYPE_CHECKING:
    from ..windows import Returns


def evaluate(params: ReturnsParams, inputs: SignalInputs, now: int, st: "Returns") -> tuple[Reading, "Returns"]:
    unread = sampled(params, st, inputs, now)
    if unread is not None:
        return unread, st
    if tail_quantile(params, st) is None:
        return (None, "INSUFFICIENT_HISTORY: no returns"), st
    ordered = st.w.ordered  # type: ignore[union-attr]
    tail = ordered[: max(1, math.ceil((1.0 - params.confidence) * len(ordered) - 1e-9))]
    return (max(0.0, -sum(tail) / len(tail)), None), st


KIND = SignalKind("expected_shortfall", TailRisk, build=tail_params, state=kept(evaluate, True),
                  history_need=history_need)
