"""What the API kinds share (``api_error_rate``, ``api_latency``): the calls, failures and
latencies over a window, saved as ``api`` in one form. Pure: no I/O, no clock.
"""

from typing import Any

from ...records import record
from ..registry import KeptState
from ..units import Duration
from ._windowed import kept as kept_window, window_key, windows


@record
class ApiParams:
    """An API kind, compiled."""

    window_ms: int
    key: str
    quantile: float = 0.0


def api_params(window: Duration, written: dict[str, Any], quantile: float = 0.0) -> ApiParams:
    return ApiParams(window.ms, window_key(window, written), quantile)


def kept(evaluate: Any) -> KeptState:
    return kept_window("api", lambda p: windows().ApiStats(p.window_ms), _load, evaluate)


def _load(d: Any) -> Any:  # one saved form for the two kinds
    return windows().ApiStats.from_json(d)
