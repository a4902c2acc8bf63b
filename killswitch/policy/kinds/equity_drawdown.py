"""The ``equity_drawdown`` signal: the fall of equity from its highest value within a window.

``{equity_drawdown: {window: 15m}}`` reads the scope's equity every tick into a rolling maximum
(a monotonic deque: amortized O(1) a tick, whatever the window), and the time equity was unknown
within the window; until the samples cover ``min_coverage`` of the window (80%) the signal is
unknown for too little history (``INSUFFICIENT_HISTORY``, with when it will be known), never a
zero drawdown. The holder of the firm lease evaluates it from the equity each shard publishes
(``firm``).

The kind whole, in one module: the parameters' model (its docstring is the schema's
description), the frozen parameters the graph keeps, the window it keeps between ticks (saved
under the name and form the engine always saved it under), the evaluation, and its catalogue
entry. Its place in the language's order is where it always was (the catalogue names it there).

Pure: no I/O, no clock.
"""

from decimal import Decimal
from typing import Any, ClassVar, Optional

from ...records import record
from ..registry import HistoryNeed, KeptState, Reading, SignalInputs, SignalKind, SignalParams
from ..units import DurationField, Ratio, RatioField
from ..windows import MaxWindow, SumWindow
from ._windowed import on_ticks, short, window_key


class EquityDrawdown(SignalParams):
    """Drop of equity from its highest value within ``window``, as a positive fraction."""

    window: DurationField
    min_coverage: RatioField = Ratio(Decimal("0.8"))
    window_field: ClassVar[Optional[str]] = "window"


@record
class EquityDrawdownParams:
    """equity_drawdown, compiled: the window, the coverage it needs, the key its state is kept
    under and what a history need says it waits for (``80% of 15m``)."""

    window_ms: int
    min_coverage: float
    key: str
    what: str


def build(p: EquityDrawdown) -> EquityDrawdownParams:
    written = p.model_dump(mode="json", exclude_none=True)
    return EquityDrawdownParams(p.window.ms, p.min_coverage.fraction, window_key(p.window, written),
                                f"{written.get('min_coverage')} of {written.get('window')}")


class EquityWindow:
    """Rolling maximum of equity, and the time within the window when equity was unknown."""

    def __init__(self, window_ms: int):
        self.w = MaxWindow(window_ms)
        self.unknown = SumWindow(window_ms)
        self.last_ms: Optional[int] = None

    def tick(self, now: int, equity: Optional[float]) -> None:
        if equity is None:
            if self.last_ms is not None:
                self.unknown.push(now, now - self.last_ms)
            self.w.expire(now)
        else:
            self.w.push(now, equity)
        self.unknown.expire(now)
        self.last_ms = now


def save(s: EquityWindow) -> list[Any]:
    return [s.w.to_json(), s.unknown.to_json(), s.last_ms]


def load(d: list[Any]) -> EquityWindow:
    s = EquityWindow.__new__(EquityWindow)
    s.w, s.unknown, s.last_ms = MaxWindow.from_json(d[0]), SumWindow.from_json(d[1]), d[2]
    return s


def evaluate(params: EquityDrawdownParams, inputs: SignalInputs, now: int, st: EquityWindow
             ) -> tuple[Reading, EquityWindow]:
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
    """Coverage is the time from the oldest sample in the window to now, over the window."""
    need = params.window_ms * params.min_coverage
    if need <= 0:
        return None
    return HistoryNeed(on_ticks(need, interval_ms), params.what)


KIND = SignalKind("equity_drawdown", EquityDrawdown, firm=True, build=build,
                  state=KeptState("equity_drawdown", lambda p: EquityWindow(p.window_ms), evaluate,
                                  key=lambda p: p.key, save=save, load=load),
                  history_need=history_need)
