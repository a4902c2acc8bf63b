"""The ``equity_drawdown`` signal: the fall of equity from its peak in a window it keeps (pure)."""

from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, Optional

from ...records import record
from ..registry import HistoryNeed, Reading, SignalInputs, SignalKind, SignalParams
from ..units import DurationField, Ratio, RatioField
from ._windowed import kept, on_ticks, short, window_key, windows

if TYPE_CHECKING:
    from ..windows import EquityWindow


class EquityDrawdown(SignalParams):
    """Drop of equity from its highest value within ``window``, as a positive fraction."""

    window: DurationField
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    window_field: ClassVar[Optional[str]] = "window"


@record
class EquityDrawdownParams:
    """equity_drawdown, compiled (``what``: what its history need waits for, ``80% of 15m``)."""

    window_ms: int
    min_coverage: float
    key: str
    what: str


def build(p: EquityDrawdown) -> EquityDrawdownParams:
    written = p.model_dump(mode="json", exclude_none=True)
    return EquityDrawdownParams(p.window.ms, p.min_coverage.fraction, window_key(p.window, written),
                                f"{written.get('min_coverage')} of {written.get('window')}")


def evaluate(params: EquityDrawdownParams, inputs: SignalInputs, now: int, st: "EquityWindow"
             ) -> tuple[Reading, "EquityWindow"]:
    equity = inputs.equity
    st.tick(now, equity)
    if equity is None:
        return (None, "NO_DATA: equity unknown"), st
    cov = st.w.coverage(now, st.unknown.total)
    need = params.min_coverage
    if cov + 1e-12 < need:
        return short(cov, need, params.window_ms, now), st
    peak = st.w.max()
    if peak is None or peak <= 0:
        return (None, "NO_DATA: no positive equity in the window"), st
    return (max(0.0, (peak - equity) / peak), None), st


def history_need(params: EquityDrawdownParams, interval_ms: int) -> Optional[HistoryNeed]:
    need = params.window_ms * params.min_coverage
    if need <= 0:
        return None
    return HistoryNeed(on_ticks(need, interval_ms), params.what)


KIND = SignalKind("equity_drawdown", EquityDrawdown, firm=True, build=build, history_need=history_need,
                  state=kept("equity_drawdown", lambda p: windows().EquityWindow(p.window_ms),
                             lambda d: windows().EquityWindow.from_json(d), evaluate))
