"""The dead man's switch as a value: who must keep beating, who has gone quiet, and when to re-arm
the venues' own countdowns (what the runner does about it, at each tick, is :mod:`..effects.countdowns`').

Owns two pure values and their JSON form, so the runner can persist them across restarts:

- per *source* (a bot, a strategy, a data feed, the runner itself): armed or not, its timeout,
  its last heartbeat. Heartbeats never move a source backwards (an older beat is ignored).
  :meth:`DeadMansSwitch.due` lists the armed sources whose timeout has passed; once fired
  (:meth:`DeadMansSwitch.fire_due`) a source fires no more until a newer heartbeat (or a new
  arming) re-arms it — one firing per silence, not one per tick.
- per *venue*: the native cancel-all-after countdown (Binance USD-M ``countdownCancelAll`` and
  the like), which the runner must refresh while it is alive so that the venue cancels every
  order if the runner dies. :meth:`DeadMansSwitch.native_plan` says which venues to refresh now:
  each one at a third of its countdown, so two missed refreshes still leave margin.

Must not: read the clock (times are arguments), send anything to a venue, or decide what a
firing does (the runner and the policy do).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Collection, Iterable, Mapping, Optional, Union

DECLARED = "the Accounts document"  # what names a heartbeat source the Accounts document declares


def declared_only(by: Iterable[str]) -> bool:
    """A heartbeat source only the Accounts document names (``beat_sources.named_by``): nothing
    acts on its silence, so never hearing from it is no warning."""
    by = tuple(by)
    return bool(by) and all(b == DECLARED for b in by)

DMS_FORMAT_VERSION = 1
REFRESH_FRACTION = 1 / 3  # of a venue's countdown: its refresh is due (two missed still leave margin)


@dataclass(frozen=True)
class SourceState:
    source: str
    armed: bool = False
    timeout_ms: Optional[int] = None
    last_beat_ms: Optional[int] = None
    fired_ms: Optional[int] = None  # when it fired; None while it has not (since its last arming)

    def deadline_ms(self) -> Optional[int]:
        if not self.armed or self.timeout_ms is None or self.last_beat_ms is None:
            return None
        return self.last_beat_ms + self.timeout_ms

    def overdue(self, now_ms: int, listening_since_ms: Optional[int] = None) -> bool:
        """Armed, not fired, and silent for its timeout — counted from ``listening_since_ms``
        at the earliest (a runner that was not running could not hear the source beat)."""
        d = self.deadline_ms()
        if d is None or self.fired_ms is not None:
            return False
        if listening_since_ms is not None:
            d = max(d, listening_since_ms + (self.timeout_ms or 0))
        return now_ms >= d


@dataclass(frozen=True)
class SourceStatus:
    armed: bool
    last_beat_age_s: Optional[float]  # None: never heard from
    fires_in_s: Optional[float]  # None when not armed or already fired; 0 when due
    fired: bool
    timeout_s: Optional[float] = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class NativeDms:
    """A venue's cancel-all-after countdown the runner keeps refreshed."""

    venue: str
    countdown_ms: int
    last_refresh_ms: Optional[int] = None


def _check_ms(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{name} must be whole milliseconds, not {v!r}")
    return v


def _check_source(source: Any) -> str:
    if not isinstance(source, str) or not source:
        raise ValueError("a source is a non-empty string")
    return source


def _seconds_to_ms(name: str, seconds: Any) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or seconds <= 0:
        raise ValueError(f"{name} must be a finite number of seconds above 0, not {seconds!r}")
    ms = int(round(seconds * 1000))
    if ms <= 0:
        raise ValueError(f"{name} is shorter than a millisecond")
    return ms


@dataclass(frozen=True)
class DeadMansSwitch:
    """The switch's whole state: a pure value; each change returns a new one."""

    sources: Mapping[str, SourceState] = field(default_factory=dict)
    native: Mapping[str, NativeDms] = field(default_factory=dict)

    @functools.cached_property
    def armed(self) -> frozenset[str]:
        """The sources armed (worked out once per value: a beat makes a new one, an arming too)."""
        return frozenset(name for name, st in self.sources.items() if st.armed)

    def _with(self, st: SourceState) -> "DeadMansSwitch":
        return replace(self, sources={**self.sources, st.source: st})

    # sources

    def arm(self, source: str, timeout_s: float, now_ms: int) -> "DeadMansSwitch":
        """Arm ``source``: it must beat within ``timeout_s`` of ``now_ms`` and of every beat after.
        Arming counts as a beat and clears an earlier firing."""
        _check_source(source)
        _check_ms("now_ms", now_ms)
        timeout_ms = _seconds_to_ms("timeout_s", timeout_s)
        old = self.sources.get(source) or SourceState(source)
        last = now_ms if old.last_beat_ms is None else max(old.last_beat_ms, now_ms)
        return self._with(SourceState(source, True, timeout_ms, last, None))

    def disarm(self, source: str) -> "DeadMansSwitch":
        """Stop watching ``source`` (its last heartbeat is kept for status)."""
        old = self.sources.get(source)
        if old is None or not old.armed:
            return self
        return self._with(replace(old, armed=False, fired_ms=None))

    def beat(self, source: str, now_ms: int) -> "DeadMansSwitch":
        """A heartbeat of ``source`` at ``now_ms``. An older beat than the last changes nothing;
        a beat after a firing re-arms the source. An unknown source is recorded, not armed."""
        _check_source(source)
        return self.beat_many((source,), now_ms)

    def beat_many(self, sources: Iterable[str], now_ms: int) -> "DeadMansSwitch":
        """:meth:`beat` of each of ``sources`` at ``now_ms``, the sources copied once."""
        _check_ms("now_ms", now_ms)
        changed: dict[str, SourceState] = {}
        for source in sources:
            _check_source(source)
            old = changed.get(source) or self.sources.get(source) or SourceState(source)
            if old.last_beat_ms is not None and now_ms <= old.last_beat_ms:
                continue
            fired = old.fired_ms if old.fired_ms is not None and now_ms <= old.fired_ms else None
            changed[source] = replace(old, last_beat_ms=now_ms, fired_ms=fired)
        return replace(self, sources={**self.sources, **changed}) if changed else self

    def keep_sources(self, named: Collection[str]) -> "DeadMansSwitch":
        """The switch without the sources not in ``named`` that are not armed (an armed source
        is kept whatever names it)."""
        return replace(self, sources={n: s for n, s in self.sources.items() if s.armed or n in named})

    def due(self, now_ms: int, listening_since_ms: Optional[int] = None) -> list[str]:
        """Armed sources whose timeout has passed (``now - last beat >= timeout``) and that have
        not fired since they were last armed or heard from. With ``listening_since_ms`` (when the
        runner started listening), a source is also given its whole timeout from then."""
        return sorted(s for s, st in self.sources.items() if st.overdue(now_ms, listening_since_ms))

    def fire_due(self, now_ms: int, listening_since_ms: Optional[int] = None) -> tuple[list[str], "DeadMansSwitch"]:
        """(the sources due now, the switch with them marked fired)."""
        names = self.due(now_ms, listening_since_ms)
        if not names:
            return [], self
        return names, replace(self, sources={**self.sources,
                                             **{n: replace(self.sources[n], fired_ms=now_ms) for n in names}})

    def status(self, now_ms: int) -> dict[str, SourceStatus]:
        out = {}
        for name in sorted(self.sources):
            st = self.sources[name]
            age = None if st.last_beat_ms is None else max(0, now_ms - st.last_beat_ms) / 1000
            d = st.deadline_ms()
            fires_in = None if d is None or st.fired_ms is not None else max(0, d - now_ms) / 1000
            out[name] = SourceStatus(st.armed, age, fires_in, st.fired_ms is not None,
                                     None if st.timeout_ms is None else st.timeout_ms / 1000)
        return out

    # native venue countdowns

    def arm_native(self, venue: str, countdown_s: float) -> "DeadMansSwitch":
        """Keep ``venue``'s cancel-all-after countdown of ``countdown_s`` armed from now on."""
        _check_source(venue)
        ms = _seconds_to_ms("countdown_s", countdown_s)
        old = self.native.get(venue)
        return replace(self, native={**self.native, venue: NativeDms(venue, ms, old.last_refresh_ms if old else None)})

    def disarm_native(self, venue: str) -> "DeadMansSwitch":
        if venue not in self.native:
            return self
        return replace(self, native={k: v for k, v in self.native.items() if k != venue})

    def refreshed(self, venue: str, now_ms: int) -> "DeadMansSwitch":
        """Record that ``venue``'s countdown was re-armed at ``now_ms`` (never backwards)."""
        _check_ms("now_ms", now_ms)
        old = self.native.get(venue)
        if old is None:
            raise KeyError(f"no native countdown armed for {venue}")
        last = now_ms if old.last_refresh_ms is None else max(old.last_refresh_ms, now_ms)
        return replace(self, native={**self.native, venue: replace(old, last_refresh_ms=last)})

    def stood_down(self, venue: str) -> "DeadMansSwitch":
        """``venue``'s countdown turned off at the venue while it stays wanted: never refreshed
        since (due now, not lapsed)."""
        old = self.native.get(venue)
        if old is None:
            return self
        return replace(self, native={**self.native, venue: replace(old, last_refresh_ms=None)})

    def native_plan(self, now_ms: int, supported: Mapping[str, bool]) -> "RefreshPlan":
        """Which venues' cancel-all-after countdowns to re-arm at ``now_ms`` (``supported``: venue
        → whether it has one, its capabilities' ``cancel_all_after``). A venue is due when it was
        never armed, when :data:`REFRESH_FRACTION` of its countdown has passed since the last
        refresh, or when the clock reads earlier than that refresh (a clock that went back:
        refreshing is harmless)."""
        refresh, unsupported, lapsed = [], [], []
        for venue, n in sorted(self.native.items()):
            if not supported.get(venue, False):
                unsupported.append(venue)
                continue
            last = n.last_refresh_ms
            if last is None or now_ms < last or now_ms - last >= max(1, int(n.countdown_ms * REFRESH_FRACTION)):
                refresh.append(venue)
                if last is not None and now_ms - last >= n.countdown_ms:
                    lapsed.append(venue)
        return RefreshPlan(tuple(refresh), tuple(unsupported), tuple(lapsed))

    # JSON

    def to_dict(self) -> dict:
        return {
            "format_version": DMS_FORMAT_VERSION,
            "sources": {n: {"armed": s.armed, "timeout_ms": s.timeout_ms, "last_beat_ms": s.last_beat_ms,
                            "fired_ms": s.fired_ms} for n, s in sorted(self.sources.items())},
            "native": {v: {"countdown_ms": n.countdown_ms, "last_refresh_ms": n.last_refresh_ms}
                       for v, n in sorted(self.native.items())},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @staticmethod
    def from_dict(doc: Any) -> "DeadMansSwitch":
        """Strict: raises ``ValueError`` on anything that is not a document :meth:`to_dict` wrote."""
        if not isinstance(doc, dict) or set(doc) != {"format_version", "sources", "native"}:
            raise ValueError('a dead man\'s switch is {"format_version", "sources", "native"}')
        if isinstance(doc["format_version"], bool) or doc["format_version"] != DMS_FORMAT_VERSION:
            raise ValueError(f"unsupported format_version {doc['format_version']!r}")
        if not isinstance(doc["sources"], dict) or not isinstance(doc["native"], dict):
            raise ValueError("sources and native must be objects")
        sources = {}
        for name, s in doc["sources"].items():
            _check_source(name)
            if not isinstance(s, dict) or set(s) != {"armed", "timeout_ms", "last_beat_ms", "fired_ms"}:
                raise ValueError(f"sources.{name} must have armed, timeout_ms, last_beat_ms, fired_ms")
            if not isinstance(s["armed"], bool):
                raise ValueError(f"sources.{name}.armed must be true or false")
            for k in ("timeout_ms", "last_beat_ms", "fired_ms"):
                if s[k] is not None:
                    _check_ms(f"sources.{name}.{k}", s[k])
            if s["armed"] and (s["timeout_ms"] is None or s["timeout_ms"] <= 0 or s["last_beat_ms"] is None):
                raise ValueError(f"sources.{name}: an armed source needs a positive timeout and a last beat")
            sources[name] = SourceState(name, s["armed"], s["timeout_ms"], s["last_beat_ms"], s["fired_ms"])
        native = {}
        for venue, n in doc["native"].items():
            _check_source(venue)
            if not isinstance(n, dict) or set(n) != {"countdown_ms", "last_refresh_ms"}:
                raise ValueError(f"native.{venue} must have countdown_ms and last_refresh_ms")
            if _check_ms(f"native.{venue}.countdown_ms", n["countdown_ms"]) <= 0:
                raise ValueError(f"native.{venue}.countdown_ms must be above 0")
            if n["last_refresh_ms"] is not None:
                _check_ms(f"native.{venue}.last_refresh_ms", n["last_refresh_ms"])
            native[venue] = NativeDms(venue, n["countdown_ms"], n["last_refresh_ms"])
        return DeadMansSwitch(sources, native)

    @staticmethod
    def from_json(text: Union[str, bytes]) -> "DeadMansSwitch":
        return DeadMansSwitch.from_dict(json.loads(text))


# --- native countdown refresh plan -------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshPlan:
    refresh: tuple[str, ...]  # venues whose countdown to re-arm now
    unsupported: tuple[str, ...]  # venues without a native countdown (the runner's own switch only)
    lapsed: tuple[str, ...]  # refreshed longer ago than the countdown: the venue may have cancelled


__all__ = ["DeadMansSwitch", "SourceState", "SourceStatus", "NativeDms", "RefreshPlan", "DMS_FORMAT_VERSION",
           "REFRESH_FRACTION"]
