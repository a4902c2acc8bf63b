"""The ``expected_shortfall`` signal: the mean of equity's returns beyond the value at risk.

``{expected_shortfall: {window: 1d, confidence: 97.5%}}``: the mean loss of equity, as a
fraction, of the worst ``1 - confidence`` of its ``horizon`` returns over the window (at least
one). Unknown until the returns cover ``min_coverage`` of the window.

The kind whole, in one module (its parameters and window are :mod:`._returns`', which it
shares with ``value_at_risk``): the evaluation and its catalogue entry. Its place in the
language's order is where it always was (the catalogue names it there).

Pure: no I/O, no clock.
"""

import math

from ..registry import Reading, SignalInputs, SignalKind
from ._returns import Returns, ReturnsParams, TailRisk, history_need, kept, sampled, tail_params, tail_quantile


def evaluate(params: ReturnsParams, inputs: SignalInputs, now: int, st: Returns) -> tuple[Reading, Returns]:
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
