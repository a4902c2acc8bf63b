"""The ``api_latency`` signal: a quantile of the exchange calls' round-trip latency in a window.

``{api_latency: {window: 5m, quantile: 99%}}``, in seconds, from the latencies the scope's
accounts' snapshots report, kept sorted over the window. It measures the feed, not the books
(``reads_book`` false); unknown while the window holds no latency.

The kind whole, in one module (its window is :mod:`._api_calls`', which ``api_error_rate``
shares): the parameters' model (its docstring is the schema's description), the frozen
parameters the graph keeps, the evaluation and its catalogue entry. Its place in the language's
order is where it always was (the catalogue names it there).

Pure: no I/O, no clock.
"""

from decimal import Decimal
from typing import ClassVar, Optional

from ..expr import ValueType
from ..registry import Reading, SignalInputs, SignalKind, SignalParams
from ..units import DurationField, Ratio, RatioField
from ._api_calls import ApiParams, ApiStats, api_params, kept


class ApiLatency(SignalParams):
    """A quantile of exchange round-trip latency within ``window``."""

    window: DurationField
    quantile: RatioField = Ratio(Decimal("0.95"))
    value_type: ClassVar[ValueType] = ValueType.DURATION
    bounds: ClassVar = (0.0, None)
    window_field: ClassVar[Optional[str]] = "window"


def build(p: ApiLatency) -> ApiParams:
    return api_params(p.window, p.model_dump(mode="json", exclude_none=True), p.quantile.fraction)


def evaluate(params: ApiParams, inputs: SignalInputs, now: int, st: ApiStats) -> tuple[Reading, ApiStats]:
    st.push(inputs, now)
    q = st.latency.quantile(params.quantile)
    if q is None:
        return (None, "NO_DATA: no latency samples in the window"), st
    return (q, None), st


KIND = SignalKind("api_latency", ApiLatency, reads_book=False, build=build, state=kept(evaluate))
