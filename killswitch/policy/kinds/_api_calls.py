"""What the kinds reading the exchange calls share (``api_error_rate``, ``api_latency``): the
calls, failures and latencies they keep over a window between ticks, saved in one form under
one name (``api``, as the engine always saved it), and their compiled parameters.

A snapshot is at least one round trip: a failed one counts as a failed call.

Pure: no I/O, no clock.
"""

from typing import Any

from ...records import record
from ..registry import KeptState, SignalInputs
from ..units import Duration
from ..windows import SortedWindow, SumWindow
from ._windowed import window_key


@record
class ApiParams:
    """An API kind, compiled: the window, the key its state is kept under, a latency's quantile."""

    window_ms: int
    key: str
    quantile: float = 0.0


def api_params(window: Duration, written: dict[str, Any], quantile: float = 0.0) -> ApiParams:
    return ApiParams(window.ms, window_key(window, written), quantile)


class ApiStats:
    """The exchange calls, the failed ones and the calls' latencies (s) over the window."""

    def __init__(self, window_ms: int):
        self.calls = SumWindow(window_ms)
        self.failed = SumWindow(window_ms)
        self.latency = SortedWindow(window_ms)

    def push(self, inputs: SignalInputs, now: int) -> None:
        """This tick's calls of every account of the scope, and the windows expired to ``now``."""
        calls = failed = 0
        for s in inputs.snapshots:
            calls += max(s.fetch.calls, 1)
            failed += max(s.fetch.failed_calls, 0 if s.fetch.ok else 1)
            if s.fetch.latency_ms is not None:
                self.latency.push(now, s.fetch.latency_ms / 1000.0)
        if calls:
            self.calls.push(now, calls)
            self.failed.push(now, failed)
        self.calls.expire(now)
        self.failed.expire(now)
        self.latency.expire(now)


def save(s: ApiStats) -> list[Any]:
    return [s.calls.to_json(), s.failed.to_json(), s.latency.to_json()]


def load(d: list[Any]) -> ApiStats:
    s = ApiStats.__new__(ApiStats)
    s.calls, s.failed, s.latency = SumWindow.from_json(d[0]), SumWindow.from_json(d[1]), SortedWindow.from_json(d[2])
    return s


def kept(evaluate: Any) -> KeptState:
    """The state of an API kind, saved as ``api``."""
    return KeptState("api", lambda p: ApiStats(p.window_ms), evaluate, key=lambda p: p.key, save=save, load=load)
