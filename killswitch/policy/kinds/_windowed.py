"""What the kinds that keep a window of samples share (equity drawdown, returns, API calls).

``on_ticks``: the first tick at or after a span (what a signal's history need counts in);
``window_key``: the form their states were always saved under (the window, and the parameters as
written): kept, or every saved window starts over after an upgrade; ``short``: the reading of a
window that holds too little history yet, with when it will hold enough.

Pure: no I/O, no clock.
"""

import math
from typing import Any, Mapping

from ..registry import Reading
from ..units import Duration


def on_ticks(ms: float, interval_ms: int) -> int:
    """The first tick at or after ``ms`` from the first one (ticks every ``interval_ms``)."""
    if interval_ms <= 0:
        return math.ceil(ms)
    return math.ceil(ms / interval_ms - 1e-9) * interval_ms


def window_key(window: Duration, written: Mapping[str, Any]) -> str:
    """What a windowed state is kept under after its name: the window's seconds and the
    parameters as written (a change of either starts the state anew)."""
    return f"{window.seconds}:{sorted(written.items())}"


def short(cov: float, need: float, window_ms: int, now: int) -> Reading:
    """The reading of a window covering ``cov`` of the ``need`` its signal asks for."""
    return None, f"INSUFFICIENT_HISTORY: coverage={cov:.0%} min={need:.0%}", now + math.ceil((need - cov) * window_ms)
