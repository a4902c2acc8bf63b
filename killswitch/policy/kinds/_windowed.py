"""What the windowed kinds share: their states' module, imported on a signal's first tick
(:func:`windows`), the ticks a history need counts in, the key their states were always saved
under, and a reading short of history. Pure: no I/O, no clock.
"""

import math
from types import ModuleType
from typing import Any, Callable, Mapping

from ..registry import KeptState, Reading
from ..units import Duration


def windows() -> ModuleType:
    """:mod:`killswitch.policy.windows`, imported when a signal first keeps a window: ``ksctl
    validate`` evaluates nothing and never compiles it."""
    from .. import windows as module

    return module


def kept(name: str, make: Callable[[Any], Any], load: Callable[[Any], Any], evaluate: Any) -> KeptState:
    """A windowed kind's state: made by ``make``, kept under ``name`` and its ``key``, saved as
    its JSON, read back by ``load``."""
    return KeptState(name, make, evaluate, key=lambda p: p.key, save=lambda s: s.to_json(), load=load)


def on_ticks(ms: float, interval_ms: int) -> int:
    """The first tick at or after ``ms`` from the first one (ticks every ``interval_ms``)."""
    if interval_ms <= 0:
        return math.ceil(ms)
    return math.ceil(ms / interval_ms - 1e-9) * interval_ms


def window_key(window: Duration, written: Mapping[str, Any]) -> str:
    """A windowed state's key after its name (a change of it starts the state anew)."""
    return f"{window.seconds}:{sorted(written.items())}"


def short(cov: float, need: float, window_ms: int, now: int) -> Reading:
    """The reading of a window covering ``cov`` of the ``need`` its signal asks for."""
    return None, f"INSUFFICIENT_HISTORY: coverage={cov:.0%} min={need:.0%}", now + math.ceil((need - cov) * window_ms)
