"""What the kinds reading equity's sampled returns share (``realized_volatility``,
``value_at_risk``, ``expected_shortfall``): the returns window they keep between ticks, saved in
one form under one name (``returns``, as the engine always saved it), the parameters of the two
tail kinds (:class:`TailRisk`), their compiled parameters, their coverage and their history need.

Equity is sampled every ``sample`` (a tail kind's ``horizon``): the first sample is a price,
each later one, at the first tick a sample after the one before, a log return; the coverage
counts returns × sample over the window.

Pure: no I/O, no clock.
"""

import math
from decimal import Decimal
from typing import Any, ClassVar, Optional

from ...records import record
from ..registry import HistoryNeed, KeptState, Reading, SignalInputs, SignalParams
from ..units import Duration, DurationField, Ratio, RatioField
from ..windows import SortedWindow, SumWindow
from ._windowed import on_ticks, short, window_key


class TailRisk(SignalParams):
    """Historical value-at-risk / expected shortfall of equity returns, as a fraction of equity."""

    window: DurationField
    confidence: RatioField = Ratio(Decimal("0.99"))
    horizon: DurationField = Duration(60_000)
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    window_field: ClassVar[Optional[str]] = "window"
    sample_field: ClassVar[Optional[str]] = "horizon"


@record
class ReturnsParams:
    """A returns kind, compiled: the window, the sample (a tail kind's horizon), the coverage it
    needs and the fewest returns its statistic reads, the key its state is kept under, what a
    history need says it waits for (``80% of 1h in 5m returns``); the returns per year a
    volatility is annualized over (None: per sample), a tail kind's confidence."""

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
    """The compiled parameters of a returns kind (``keyed``: the parameters as written its
    state's key reads)."""
    what = f"{written.get('min_coverage')} of {written.get('window')} in {written.get(sample_field)} returns"
    return ReturnsParams(window.ms, sample.ms, min_coverage.fraction, least, window_key(window, keyed), what, **kind)


class Returns:
    """Equity sampled every ``sample_ms``; log returns kept over the window (sum or sorted)."""

    def __init__(self, window_ms: int, sample_ms: int, sorted_: bool):
        self.sample_ms = sample_ms
        self.last: Optional[list[float]] = None  # [ts, equity] of the last sample
        self.w: SortedWindow | SumWindow = SortedWindow(window_ms) if sorted_ else SumWindow(window_ms)

    def push(self, now: int, equity: float) -> None:
        if self.last is None:
            self.last = [now, equity]
            return
        if now - self.last[0] < self.sample_ms:
            self.w.expire(now)
            return
        prev = self.last[1]
        if prev > 0 and equity > 0:
            self.w.push(now, math.log(equity / prev))
        self.last = [now, equity]


def save(s: Returns) -> list[Any]:
    return [s.sample_ms, s.last, isinstance(s.w, SortedWindow), s.w.to_json()]


def load(d: list[Any]) -> Returns:
    s = Returns.__new__(Returns)
    s.sample_ms, s.last = d[0], d[1]
    s.w = SortedWindow.from_json(d[3]) if d[2] else SumWindow.from_json(d[3])
    return s


def sampled(params: ReturnsParams, st: Returns, inputs: SignalInputs, now: int) -> Optional[Reading]:
    """Equity of this tick sampled into ``st``; the reading when the window cannot be read yet
    (equity unknown, too little coverage), else None."""
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
    """A tail kind's compiled parameters (its sample is its horizon; a quantile reads one return)."""
    written = p.model_dump(mode="json", exclude_none=True)
    return returns_params(p.window, p.horizon, p.min_coverage, 1, written, "horizon", written,
                          confidence=p.confidence.fraction)


def tail_quantile(params: ReturnsParams, st: Returns) -> Optional[float]:
    """The return at the tail's edge (1 - confidence) of the sorted window; None without returns."""
    conf = params.confidence
    return st.w.quantile(1.0 - conf) if 1.0 - conf > 0 else st.w.ordered[0]  # type: ignore[union-attr]


def history_need(params: ReturnsParams, interval_ms: int) -> Optional[HistoryNeed]:
    """Sampled returns: the first sample is a price, each later one (at the first tick ``sample``
    after the one before) a return; the coverage counts returns × sample over the window, and the
    statistic needs at least ``least`` returns."""
    window_ms, sample_ms = params.window_ms, params.sample_ms
    if sample_ms <= 0 or window_ms <= 0:
        return None
    count = max(math.ceil(params.min_coverage * window_ms / sample_ms - 1e-9), params.least)
    step = on_ticks(sample_ms, interval_ms)
    if count > window_ms // step + 1:  # more returns than the window keeps, a step apart
        return HistoryNeed(None, params.what)
    return HistoryNeed(count * step, params.what)


def kept(evaluate: Any, sorted_: bool) -> KeptState:
    """The state of a returns kind: its window of returns (sorted for a tail kind's quantiles),
    saved as ``returns``."""
    return KeptState("returns", lambda p: Returns(p.window_ms, p.sample_ms, sorted_), evaluate,
                     key=lambda p: p.key, save=save, load=load)
