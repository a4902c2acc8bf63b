"""The ``api_error_rate`` signal: the share of exchange calls that failed in a window (:mod:`._api_calls`)."""

from typing import TYPE_CHECKING, ClassVar, Optional

from ..registry import Reading, SignalInputs, SignalKind, SignalParams
from ..units import DurationField
from ._api_calls import ApiParams, api_params, kept

if TYPE_CHECKING:
    from ..windows import ApiStats


class ApiErrorRate(SignalParams):
    """Fraction of exchange calls that failed within ``window``."""

    window: DurationField
    window_field: ClassVar[Optional[str]] = "window"


def build(p: ApiErrorRate) -> ApiParams:
    return api_params(p.window, p.model_dump(mode="json", exclude_none=True))


def evaluate(params: ApiParams, inputs: SignalInputs, now: int, st: "ApiStats") -> tuple[Reading, "ApiStats"]:
    st.push(inputs.snapshots, now)
    if st.calls.total <= 0:
        return (None, "NO_DATA: no exchange calls in the window"), st
    return (min(1.0, st.failed.total / st.calls.total), None), st


KIND = SignalKind("api_error_rate", ApiErrorRate, reads_book=False, build=build, state=kept(evaluate))
