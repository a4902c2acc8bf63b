"""What a windowed signal remembers between ticks, per scope: the state objects and their JSON.

What it owns: the state classes of the signals that keep one (equity drawdown's rolling maximum,
sampled returns, API call statistics), the holder of the state a kind of a module of its own
keeps (:class:`Kept`: a JSON value, such as the consecutive-loss book or a heartbeat's wait) and
reading them back from a saved state document (:func:`signal_state_from_json`). The engine state (:mod:`.state`) stores
and loads them; the signals (:mod:`.signals`) push samples into them and read them.

Must not: import the engine state or the signals (they import this module), or know what a
condition is. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Optional, Union

from .windows import MaxWindow, SortedWindow, SumWindow


class EquityWindow:
    """Rolling maximum of equity, and the time within the window when equity was unknown."""

    kind = "equity_drawdown"

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

    def to_json(self) -> list[Any]:
        return [self.w.to_json(), self.unknown.to_json(), self.last_ms]

    @classmethod
    def from_json(cls, d: list[Any]) -> EquityWindow:
        s = cls.__new__(cls)
        s.w, s.unknown, s.last_ms = MaxWindow.from_json(d[0]), SumWindow.from_json(d[1]), d[2]
        return s


class Returns:
    """Equity sampled every ``sample_ms``; log returns kept over the window (sum or sorted)."""

    kind = "returns"

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

    def to_json(self) -> list[Any]:
        return [self.sample_ms, self.last, isinstance(self.w, SortedWindow), self.w.to_json()]

    @classmethod
    def from_json(cls, d: list[Any]) -> Returns:
        s = cls.__new__(cls)
        s.sample_ms, s.last = d[0], d[1]
        s.w = SortedWindow.from_json(d[3]) if d[2] else SumWindow.from_json(d[3])
        return s


class ApiStats:
    kind = "api"

    def __init__(self, window_ms: int):
        self.calls = SumWindow(window_ms)
        self.failed = SumWindow(window_ms)
        self.latency = SortedWindow(window_ms)

    def to_json(self) -> list[Any]:
        return [self.calls.to_json(), self.failed.to_json(), self.latency.to_json()]

    @classmethod
    def from_json(cls, d: list[Any]) -> ApiStats:
        s = cls.__new__(cls)
        s.calls, s.failed, s.latency = (SumWindow.from_json(d[0]), SumWindow.from_json(d[1]),
                                        SortedWindow.from_json(d[2]))
        return s


class Kept:
    """The state of a signal of a kind of a module of its own
    (:class:`~killswitch.policy.registry.KeptState`): the JSON value its evaluation gave, saved
    as it is."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def to_json(self) -> Any:
        return self.value

    @classmethod
    def from_json(cls, d: Any) -> Kept:
        return cls(d)


SignalState = Union[EquityWindow, Returns, ApiStats, Kept]

_STATE_CLASSES: dict[str, type[SignalState]] = {c.kind: c for c in (EquityWindow, Returns, ApiStats)}
# the names the engine's own states are saved under: no kind of a module of its own may take one
ENGINE_STATES = frozenset(_STATE_CLASSES)


def signal_state_from_json(kind: str, data: Any) -> SignalState:
    """A signal's state as saved (``kind`` as ``ScopeState.signal_kinds`` names it): one of the
    engine's own by its name's family, else a kind's kept state, as it was saved (the engine
    hands it to a signal only when the signal's state key is that name)."""
    cls = _STATE_CLASSES.get(kind.split(":", 1)[0], Kept)
    return cls.from_json(data)


def check_kept_states(kinds: Iterable[tuple[str, str]]) -> None:
    """Refuses kinds' kept states (``(kind, state name)``) that two kinds share or that take
    the name of one of the engine's own states: a saved state would be read back by the wrong
    evaluation."""
    owner: dict[str, str] = {}
    for kind, state in kinds:
        if state.split(":", 1)[0] in ENGINE_STATES or ":" in state:
            raise ValueError(f"signal kind {kind!r}: its kept state's name {state!r} is the engine's own "
                             f"(or holds a ':'); the engine keeps {', '.join(sorted(ENGINE_STATES))}")
        if state in owner:
            raise ValueError(f"signal kinds {owner[state]!r} and {kind!r} keep their states under one name, "
                             f"{state!r}")
        owner[state] = kind
