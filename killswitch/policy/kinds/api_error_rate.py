"""The ``api_error_rate`` signal: the fraction of exchange calls that failed within a window.

``{api_error_rate: {window: 5m}}``: the failed calls over the calls of the scope's accounts in
the window (a snapshot is at least one call; a failed snapshot one failed call). It measures the
feed, not the books (``reads_book`` false); unknown while the window holds no call.

The kind whole, in one module (its window is :mod:`._api_calls`', which ``api_latency`` shares):
the parameters' model (its docstring is the schema's description), the frozen parameters the
graph keeps, the evaluation and its catalogue entry. Its place in the language's order is where
it always was (the catalogue names it there).

Pure: no I/O, no clock.
"""

from typing import ClassVar, Optional

from ..registry import Reading, SignalInputs, SignalKind, SignalParams
from ..units import DurationField
from ._api_calls import ApiParams, ApiStats, api_params, kept


class ApiErrorRate(SignalParams):
    """Fraction of exchange calls that failed within ``window``."""

    window: DurationField
    window_field: ClassVar[Optional[str]] = "window"


def build(p: ApiErrorRate) -> ApiParams:
    return api_params(p.window, p.model_dump(mode="json", exclude_none=True))


def evaluate(params: ApiParams, inputs: SignalInputs, now: int, st: ApiStats) -> tuple[Reading, ApiStats]:
    st.push(inputs, now)
    if st.calls.total <= 0:
        return (None, "NO_DATA: no exchange calls in the window"), st
    return (min(1.0, st.failed.total / st.calls.total), None), st


KIND = SignalKind("api_error_rate", ApiErrorRate, reads_book=False, build=build, state=kept(evaluate))
