"""The ``api_latency`` signal: a quantile of the exchange calls' latency in a window (:mod:`._api_calls`)."""

from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, Optional

from ..expr import ValueType
from ..registry import Reading, SignalInputs, SignalKind, SignalParams
from ..units import DurationField, Ratio, RatioField
from ._api_calls import ApiParams, api_params, kept

if TYPE_CHECKING:
    from ..windows import ApiStats


class ApiLatency(SignalParams):
    """A quantile of exchange round-trip latency within ``window``."""

    window: DurationField
    quantile: RatioField = Ratio(Decimal("0.95"))
    value_type: ClassVar[ValueType] = ValueType.DURATION
    bounds: ClassVar = (0.0, None)
    window_field: ClassVar[Optional[str]] = "window"


def build(p: ApiLatency) -> ApiParams:
    return api_params(p.window, p.model_dump(mode="json", exclude_none=True), p.quantile.fraction)


def evaluate(params: ApiParams, inputs: SignalInputs, now: int, st: "ApiStats") -> tuple[Reading, "ApiStats"]:
    st.push(inputs.snapshots, now)
    q = st.latency.quantile(params.quantile)
    if q is None:
        return (None, "NO_DATA: no latency samples in the window"), st
    return (q, None), st


KIND = SignalKind("api_latency", ApiLatency, reads_book=False, build=build, state=kept(evaluate))
