"""What the returns kinds share (``realized_volatility``, ``value_at_risk``,
``expected_shortfall``): their window, saved as ``returns`` in one form, the tail kinds'
parameters, their coverage and history need. Pure: no I/O, no clock.
"""

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ...records import record
from ..registry import HistoryNeed, KeptState, Reading, SignalInputs, SignalParams
from ..units import Duration, DurationField, Ratio, RatioField
from ._windowed import kept as kept_window, on_ticks, short, window_key, windows

if TYPE_CHECKING:
    from ..windows import Returns


class ReturnsWindow(SignalParams):
    """The parameters every returns kind has: its ``window`` of returns, each one its
    ``sample_field`` long (``sample``, ``horizon``)."""

    window_field: ClassVar[Optional[str]] = "window"

    @field_validator("*")
    @classmethod
    def _period_positive(cls, v: Any, info: ValidationInfo) -> Any:
        """A return's period is longer than 0s: a return over no time is none, and the coverage,
        the history need and an annualized scale all divide by it."""
        if info.field_name == cls.sample_field and v.ms <= 0:
            raise PydanticCustomError("ks_value", f"{info.field_name} must be longer than 0s")
        return v


class TailRisk(ReturnsWindow):
    """Historical value-at-risk / expected shortfall of equity returns, as a fraction of equity."""

    window: DurationField
    confidence: RatioField = Ratio(Decimal("0.99"))
    horizon: DurationField = Duration(60_000)
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    sample_field: ClassVar[Optional[str]] = "horizon"


@record
class ReturnsParams:
    """A returns kind, compiled (``sample_ms``: a tail kind's horizon; ``least``: the returns its
    statistic needs; ``what``: what its history need waits for, ``80% of 1h in 5m returns``)."""

    window_ms: int
    sample_ms: int
    min_coverage: float
    least: int
    key: str
    what: str
    periods_per_year: Optional[float] = None
    confidence: float = 0.0


def returns_params(window: Duration, sample: Duration, min_coverage: Ratio, least: int, written: dict[str, Any],
                   sample_field: str, keyed: dict[str, Any], **kind: Any) -> ReturnsParams:
    what = f"{written.get('min_coverage')} of {written.get('window')} in {written.get(sample_field)} returns"
    return ReturnsParams(window.ms, sample.ms, min_coverage.fraction, least, window_key(window, keyed), what, **kind)


def sampled(params: ReturnsParams, st: "Returns", inputs: SignalInputs, now: int) -> Optional[Reading]:
    """Equity sampled into ``st``; the reading while the window cannot be read, else None."""
    equity = inputs.equity
    if equity is None:
        st.w.expire(now)
        return None, "NO_DATA: equity unknown"
    st.push(now, equity)
    window_ms = params.window_ms
    cov = min(1.0, len(st.w) * st.sample_ms / window_ms) if window_ms else 1.0
    need = params.min_coverage
    if cov + 1e-12 < need:
        return short(cov, need, window_ms, now)
    return None


def tail_params(p: TailRisk) -> ReturnsParams:
    written = p.model_dump(mode="json", exclude_none=True)
    return returns_params(p.window, p.horizon, p.min_coverage, 1, written, "horizon", written,
                          confidence=p.confidence.fraction)


def tail_quantile(params: ReturnsParams, st: "Returns") -> Optional[float]:
    conf = params.confidence
    return st.w.quantile(1.0 - conf) if 1.0 - conf > 0 else st.w.ordered[0]  # type: ignore[union-attr]


def history_need(params: ReturnsParams, interval_ms: int) -> Optional[HistoryNeed]:
    """The first sample is a price, each later one (``sample`` after the one before, on ticks) a
    return; the coverage counts returns × sample over the window."""
    window_ms, sample_ms = params.window_ms, params.sample_ms
    if sample_ms <= 0 or window_ms <= 0:
        return None
    count = max(math.ceil(params.min_coverage * window_ms / sample_ms - 1e-9), params.least)
    step = on_ticks(sample_ms, interval_ms)
    if count > window_ms // step + 1:  # more returns than the window keeps, a step apart
        return HistoryNeed(None, params.what)
    return HistoryNeed(count * step, params.what)


def kept(evaluate: Any, sorted_: bool) -> KeptState:
    return kept_window("returns", lambda p: windows().Returns(p.window_ms, p.sample_ms, sorted_), _load, evaluate)


def _load(d: Any) -> Any:  # (one saved form for the three kinds)
    return windows().Returns.from_json(d)
