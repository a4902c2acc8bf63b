"""The ``value_at_risk`` signal: the historical value at risk of equity's returns.

``{value_at_risk: {window: 1d, confidence: 99%}}``: the loss of equity, as a fraction, that the
worst ``1 - confidence`` of its ``horizon`` returns over the window reach (a quantile of the
returns kept sorted). Unknown until the returns cover ``min_coverage`` of the window.

The kind whole, in one module (its parameters and window are :mod:`._returns`', which it
shares with ``expected_shortfall``): the frozen parameters the graph keeps, the evaluation and
its catalogue entry. Its place in the language's order is where it always was (the catalogue
names it there).

Pure: no I/O, no clock.
"""

from ..registry import Reading, SignalInputs, SignalKind
from ._returns import Returns, ReturnsParams, TailRisk, history_need, kept, sampled, tail_params, tail_quantile


def evaluate(params: ReturnsParams, inputs: SignalInputs, now: int, st: Returns) -> tuple[Reading, Returns]:
    unread = sampled(params, st, inputs, now)
    if unread is not None:
        return unread, st
    q = tail_quantile(params, st)
    if q is None:
        return (None, "INSUFFICIENT_HISTORY: no returns"), st
    return (max(0.0, -q), None), st


KIND = SignalKind("value_at_risk", TailRisk, build=tail_params, state=kept(evaluate, True), history_need=history_need)
