"""Which heartbeat sources the runner takes, and how many it holds.

A heartbeat names its source in its path (``POST /v1/heartbeat/{source}``). A source is taken only
when something the runner runs names it:

- a policy: a ``heartbeat_age`` signal's ``source``, or a strategy in a policy's scope;
- the Accounts document: an account's ``strategies``;
- the dead man's switch: an armed source (arming a source names it).

Anything else is refused ``UNKNOWN_SOURCE`` with the names it resembles: a typo'd source used to
be taken, and shown as a strategy, while the real bot's switch went on counting down and fired
minutes later. A standby knows what the leader armed from its next tick.

The sources held — each with a heartbeat age in the engine's state and an entry in the dead
man's switch — are at most :data:`MAX_SOURCES`: a new one past it is refused ``SOURCES_FULL``
(a source already held is always taken: an armed source is held from its arming). A source that
nothing names any more (a policy reloaded without it, a switch disarmed) is forgotten at the
leader's next tick, so the bound counts what is named. Each refusal is counted by reason, and
the latest refused sources (:data:`REFUSED_SHOWN` of them) are kept with their reason, count and
time for the status and the console, so that the on-call sees a bot beating the wrong name even
when the bot ignores its answers.

Close matches cost a comparison with every named source, so they are worked out from a short
list (the names sharing the most letter pairs with the one refused) and kept per refused name;
past :data:`HINTS_PER_CALL` new names in one batch the rest are refused without a hint (a storm
of junk names costs the loop little).

The sources named are listed with what names them (:func:`named_by`) in the dead man's switch's
status (``watched``), so the console's Heartbeats table shows a watched source before its first
beat — a bot that never beat is the one to look at.

Must not: read the clock (times are arguments) or take a beat itself (:mod:`.countdowns` does).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from typing import Any, Iterable, Mapping, Optional

from ..book.dms_state import DECLARED
from ..names import close_matches

MAX_SOURCES = 1024  # heartbeat sources held at most (each with an age and a dead man's switch entry)
REFUSED_SHOWN = 32  # the latest refused sources kept for the status and the console
HINTS_PER_CALL = 8  # refused names given close matches per batch (the rest: none, this time)
SHORTLIST = 16  # named sources a close match is looked for among (the most alike by letter pairs)
HINTS_KEPT = 1024  # refused names whose refusal (with its close matches) is kept

UNKNOWN_SOURCE = "UNKNOWN_SOURCE"
SOURCES_FULL = "SOURCES_FULL"
REASONS = (UNKNOWN_SOURCE, SOURCES_FULL)
NAMERS = "a policy (heartbeat_age source, scope strategies), an armed dead man's switch or the Accounts document"


def named_sources(graph: Any, account_strategies: Iterable[str], armed: Iterable[str]) -> frozenset[str]:
    """Every source the runner takes a heartbeat from: named by ``graph``'s policies (heartbeat
    ages, scope strategies), by the Accounts document (``account_strategies``) or armed."""
    return frozenset(named_by(graph, account_strategies, armed))


def named_by(graph: Any, account_strategies: Iterable[str], armed: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Every source the runner takes a heartbeat from, each with what names it, in words a
    person reads (``policy bot-guard``, ``the Accounts document``, ``the dead man's switch``):
    what the status and the console list as watched, before a first beat too."""
    out: dict[str, dict[str, None]] = {}  # source → what names it (each once, in the order found)
    for node in graph.policies:
        beats = filter(None, (sig.heartbeat_source for sig in node.signals))
        for source in (*(node.scope.get("strategies") or ()), *beats):
            out.setdefault(source, {})[f"policy {node.name}"] = None
    for by, sources in ((DECLARED, account_strategies), ("the dead man's switch", armed)):
        for source in sources:
            out.setdefault(source, {})[by] = None
    return {s: tuple(by) for s, by in sorted(out.items())}


def _pairs(name: str) -> frozenset[str]:
    s = name.casefold()
    return frozenset(s[i:i + 2] for i in range(len(s) - 1)) or frozenset((s,))


class SourceGate:
    """Which of a batch's sources are refused, and the refusals seen lately; see the module doc.
    ``limit``: the sources held at most."""

    def __init__(self, limit: Optional[int] = None):
        limit = MAX_SOURCES if limit is None else limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a whole number of at least 1")
        self.limit = limit
        self._named: Optional[frozenset[str]] = None
        self._named_from: Optional[tuple[Any, frozenset[str], frozenset[str]]] = None  # (graph, accounts', armed)
        self._index: dict[str, frozenset[str]] = {}  # named source → its letter pairs
        self._order: list[str] = []  # the named sources, sorted (ties in the short list go by name)
        self._said: OrderedDict[str, str] = OrderedDict()  # refused name → its UNKNOWN_SOURCE reason
        self.refused: OrderedDict[str, dict] = OrderedDict()  # latest last: reason, count, last_ms
        self.counts: dict[str, int] = {r: 0 for r in REASONS}

    def named(self, graph: Any, account_strategies: frozenset[str], armed: frozenset[str]) -> frozenset[str]:
        """:func:`named_sources`, the same value (and the refusals worked out for it) while its
        inputs stay the same."""
        key = self._named_from
        if key is None or key[0] is not graph or key[1] != account_strategies or key[2] != armed \
                or self._named is None:
            self._named_from = (graph, account_strategies, armed)
            self._named, self._said, self._index, self._order = (
                named_sources(graph, account_strategies, armed), OrderedDict(), {}, [])
        return self._named

    def refusals(self, sources: Iterable[str], named: frozenset[str], held: Mapping[str, Any] | frozenset[str],
                 now_ms: int) -> dict[str, str]:
        """The sources of a batch that are refused, each with its reason (``UNKNOWN_SOURCE`` or
        ``SOURCES_FULL``); ``named``: what :meth:`named` gave; ``held``: the sources held now
        (their count is bounded by ``limit``)."""
        if named is not self._named:  # (named elsewhere: nothing worked out for it is kept)
            self._named, self._named_from, self._said, self._index, self._order = named, None, OrderedDict(), {}, []
        out: dict[str, str] = {}
        count, hints = len(held), HINTS_PER_CALL
        for source in dict.fromkeys(sources):
            if source in named:
                if source in held:
                    continue
                if count >= self.limit:
                    out[source] = (f"{SOURCES_FULL}: {count} heartbeat sources are held (the bound is "
                                   f"{self.limit}); {source!r} is named but not taken: name fewer sources, or "
                                   "disarm one nothing else names")
                    continue
                count += 1  # (held from this batch on)
                continue
            reason = self._said.get(source)
            if reason is None:
                near = self._near(source) if hints > 0 else None
                hints -= 1
                reason = f"{UNKNOWN_SOURCE}: {source!r} is not named by {NAMERS}" + (
                    f"; did you mean {', '.join(repr(n) for n in near)}?" if near else
                    "" if near is not None else " (close matches not worked out: too many unknown sources at once)")
                if near is not None:
                    self._said[source] = reason
                    while len(self._said) > HINTS_KEPT:
                        self._said.popitem(last=False)
            out[source] = reason
        for source, reason in out.items():
            self._note(source, reason, now_ms)
        return out

    def _near(self, name: str) -> list[str]:
        named = self._named or frozenset()
        if len(named) <= SHORTLIST:
            return close_matches(name, named)
        if not self._index:
            self._index, self._order = {n: _pairs(n) for n in named}, sorted(named)
        mine = _pairs(name)
        short = heapq.nlargest(SHORTLIST, self._order,
                               key=lambda n: len(mine & self._index[n]) / len(mine | self._index[n]))
        same = [n for n in named if n.casefold() == name.strip().casefold()]  # another case always counts
        return close_matches(name, short + same)

    def _note(self, source: str, reason: str, now_ms: int) -> None:
        code = reason.split(":", 1)[0]
        self.counts[code] = self.counts.get(code, 0) + 1
        seen = self.refused.pop(source, None)
        self.refused[source] = {"reason": reason, "count": (seen["count"] if seen else 0) + 1, "last_ms": now_ms}
        while len(self.refused) > REFUSED_SHOWN:
            self.refused.popitem(last=False)

    def status(self, now_ms: int) -> dict[str, dict]:
        """The latest refused sources, oldest first: reason, how many beats, seconds since the last."""
        return {s: {"reason": r["reason"], "count": r["count"],
                    "last_refused_age_s": max(0, now_ms - r["last_ms"]) / 1000} for s, r in self.refused.items()}


__all__ = ["HINTS_PER_CALL", "MAX_SOURCES", "REASONS", "REFUSED_SHOWN", "SOURCES_FULL", "SourceGate",
           "UNKNOWN_SOURCE", "named_by", "named_sources"]
