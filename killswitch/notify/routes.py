"""The route tree of a ``NotificationRoutes`` document, compiled once and frozen.

Semantics follow Alertmanager's ``dispatch/route.go`` and inhibitor:

- A route matches a label set when every one of its matchers does: ``matchers:`` in
  Alertmanager's text (``severity="critical"``, ``venue!~"okx|bybit"``: ``=``, ``!=``, ``=~``,
  ``!~``, read by :func:`killswitch.silences.parse_matchers`), and the older ``match`` (equal)
  and ``match_re`` (a regular expression); every expression is anchored (``^(?:re)$``). A label
  the set lacks counts as the empty string, so ``match: {venue: ""}`` selects events without a
  venue and ``venue!="okx"`` matches them.
- Matching is depth-first, left to right. A matching route hands the labels to its children;
  the first child that matches stops the search among its siblings unless that child says
  ``continue: true``. A route none of whose children matched is itself the match. The root
  matches everything (its matchers are ignored, as the root catches what nothing else does).
- A child inherits its parent's receiver, ``group_by`` and timers unless it sets its own.
  ``group_by`` left out inherits; ``group_by: []`` groups everything of the route together;
  ``group_by: ['...']`` groups by every label (no aggregation).
- A route's ``key`` is Alertmanager's: its matchers and its parents', from the root down,
  which two routes can share. Its ``id`` is unique in the tree (as Alertmanager's since 0.27):
  its parent's id, its matchers and its position among its siblings
  (``{}/{severity="critical"}/1/{venue="okx"}/0``); matchers print sorted as Alertmanager sorts
  them (name, value, operator), values quoted, so two different routes never print alike.
- A group is one route plus the values of its ``group_by`` labels (labels the event lacks
  are left out of the key); its key is ``document:route id:{labels}``, each value quoted as
  Go's ``%q`` writes it (as Alertmanager's group keys), so that ``{a='x",b="y'}`` and
  ``{a=x, b=y}`` are two groups. Timers live in :mod:`killswitch.notify.dispatch`.
- An inhibit rule mutes a target (labels matching ``target_matchers`` / ``target_match``) while
  an active source (labels matching ``source_matchers`` / ``source_match``) has the same value
  for every ``equal`` label (both
  missing counts as equal). When a label set matches both sides, sources that also match the
  target side are not considered, so an alert never mutes itself or its own kind.

- ``mute_time_intervals`` / ``active_time_intervals`` name ``spec.time_intervals``
  (:mod:`killswitch.policy.time_intervals`); they are the route's own, not inherited by its
  children (as Alertmanager does), and the root has none (it catches everything, pages included).

Defaults for the root, chosen for a kill switch (a page within seconds, escalations within a
minute) rather than Alertmanager's 30s / 5m / 4h: ``group_wait`` 10s, ``group_interval`` 1m,
``repeat_interval`` 4h.

Pure but for reading the zone database: no clock, no apprise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Optional, Sequence

from ..policy.matchers import OP_ORDER, LabelMatcher, label_name_text, matcher_text, parse_matchers, quoted
from ..policy.patterns import LabelPattern, compile_label_pattern
from ..policy.routes_doc import InhibitRule as InhibitRuleDoc, NotificationRoutes, Route
from ..policy.time_intervals import NamedInterval, silenced_by
from ..policy.time_intervals.build import compile_intervals
from ..policy.units import Duration
from ..zones import zone

GROUP_WAIT_MS = 10_000
GROUP_INTERVAL_MS = 60_000
REPEAT_INTERVAL_MS = 4 * 3_600_000
GROUP_BY_ALL = "..."


def _label(labels: Mapping[str, str], name: str) -> str:
    return labels.get(name, "")


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    op: str = "="  # =, !=, =~, !~
    pattern: Optional[LabelPattern] = field(default=None, compare=False, repr=False)  # set by regexp()

    @staticmethod
    def equal(name: str, value: str, negate: bool = False) -> "Matcher":
        return Matcher(name, value, "!=" if negate else "=")

    @staticmethod
    def regexp(name: str, value: str, negate: bool = False) -> "Matcher":
        return Matcher(name, value, "!~" if negate else "=~", compile_label_pattern(value))

    @staticmethod
    def of(m: LabelMatcher) -> "Matcher":
        """A matcher read from Alertmanager's text (a ``matchers:`` line)."""
        if m.op in ("=~", "!~"):
            return Matcher.regexp(m.name, m.value, m.op == "!~")
        return Matcher.equal(m.name, m.value, m.op == "!=")

    @property
    def regex(self) -> bool:
        return self.op in ("=~", "!~")

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = _label(labels, self.name)
        hit = self.pattern.matches(got) if self.pattern is not None else got == self.value
        return hit if self.op in ("=", "=~") else not hit

    def __str__(self) -> str:
        return matcher_text(self.name, self.op, self.value)


def _matchers(match: Mapping[str, str], match_re: Mapping[str, str], lines: Sequence[str] = ()
              ) -> tuple[Matcher, ...]:
    out = [Matcher.equal(k, str(v)) for k, v in match.items()]
    out += [Matcher.regexp(k, str(v)) for k, v in match_re.items()]
    out += [Matcher.of(m) for line in lines for m in parse_matchers(line, max_value=None)]
    return tuple(sorted(out, key=lambda m: (m.name, m.value, OP_ORDER[m.op])))  # as Alertmanager sorts them


def matchers_text(matchers: Sequence[Matcher]) -> str:
    return "{" + ",".join(map(str, matchers)) + "}"


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True)
class RouteNode:
    """One node of a compiled route tree, with every inherited option resolved."""

    path: tuple[int, ...]  # () for the root, (0, 1) for route.routes[0].routes[1]
    receiver: str
    matchers: tuple[Matcher, ...]
    continue_: bool
    group_by: tuple[str, ...]  # sorted; ignored when group_by_all
    group_by_all: bool
    group_wait_ms: int
    group_interval_ms: int
    repeat_interval_ms: int
    routes: tuple["RouteNode", ...] = field(default=(), repr=False)
    parent_key: str = field(default="", compare=False, repr=False)
    parent_id: str = field(default="", compare=False, repr=False)
    mute_intervals: tuple[str, ...] = ()  # the route's own (not inherited, as in Alertmanager)
    active_intervals: tuple[str, ...] = ()

    @property
    def is_root(self) -> bool:
        return not self.path

    @property
    def name(self) -> str:
        """Where the route is in the document: ``route``, ``route.routes[0].routes[1]``."""
        return "route" + "".join(f".routes[{i}]" for i in self.path)

    @property
    def key(self) -> str:
        """Alertmanager's route key: the matchers of every route from the root down (two routes
        can share it)."""
        own = matchers_text(self.matchers)
        return f"{self.parent_key}/{own}" if self.path else own

    @property
    def id(self) -> str:
        """Unique within the tree: the parent's id, the route's matchers and its position among
        its siblings. Read from the left it gives back each step's matchers and position (a
        value is quoted, a name that is not an identifier too), so two routes never share it."""
        own = matchers_text(self.matchers)
        return f"{self.parent_id}/{own}/{self.path[-1]}" if self.path else own

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.is_root or matches_all(self.matchers, labels)

    def match(self, labels: Mapping[str, str]) -> list["RouteNode"]:
        """The routes a label set ends at (depth-first, left to right, honouring ``continue``)."""
        if not self.matches(labels):
            return []
        found: list[RouteNode] = []
        for child in self.routes:
            sub = child.match(labels)
            found += sub
            if sub and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        if self.group_by_all:
            return dict(sorted(labels.items()))
        return {k: labels[k] for k in self.group_by if k in labels}

    def group_key(self, tree: str, labels: Mapping[str, str]) -> str:
        """``tree:route id:{labels}``, each value quoted as Go's ``%q`` (Alertmanager's group keys)."""
        shown = ",".join(f"{label_name_text(k)}={quoted(v)}" for k, v in self.group_labels(labels).items())
        return f"{tree}:{self.id}:{{{shown}}}"

    def walk(self):
        yield self
        for child in self.routes:
            yield from child.walk()


@dataclass(frozen=True)
class InhibitRule:
    index: int
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    def mutes(self, target: Mapping[str, str], sources: Sequence[Mapping[str, str]]) -> Optional[Mapping[str, str]]:
        """The first active source label set that mutes ``target`` under this rule, if any."""
        if not matches_all(self.target, target):
            return None
        two_sided = matches_all(self.source, target)
        for src in sources:
            if src is target or not matches_all(self.source, src):
                continue
            if two_sided and matches_all(self.target, src):
                continue
            if all(_label(src, k) == _label(target, k) for k in self.equal):
                return src
        return None


@dataclass(frozen=True)
class RouteTree:
    """A compiled ``NotificationRoutes`` document: routes, inhibit rules, receivers' names."""

    name: str
    root: RouteNode
    inhibit_rules: tuple[InhibitRule, ...]
    receivers: tuple[str, ...]
    fallback_receiver: Optional[str]
    model: NotificationRoutes = field(compare=False, repr=False)
    send_resolved: frozenset[str] = frozenset()  # receivers told when what they were paged about is over
    intervals: tuple[NamedInterval, ...] = ()  # spec.time_intervals

    def silenced(self, route: RouteNode, ms: int) -> Optional[str]:
        """Why ``route`` sends nothing at ``ms`` (its mute or active time intervals), or None."""
        if not route.mute_intervals and not route.active_intervals:
            return None
        return silenced_by(route.mute_intervals, route.active_intervals, {i.name: i for i in self.intervals}, ms)

    def match(self, labels: Mapping[str, str]) -> list[RouteNode]:
        return self.root.match(labels)

    def inhibited_by(self, labels: Mapping[str, str], sources: Sequence[Mapping[str, str]]
                     ) -> Optional[tuple[InhibitRule, Mapping[str, str]]]:
        for rule in self.inhibit_rules:
            src = rule.mutes(labels, sources)
            if src is not None:
                return rule, src
        return None

    def routes(self) -> list[RouteNode]:
        return list(self.root.walk())


def _ms(d: Optional[Duration], inherited: int) -> int:
    return inherited if d is None else d.ms


def _node(route: Route, parent: Optional[RouteNode], path: tuple[int, ...]) -> RouteNode:
    group_by: tuple[str, ...]
    if parent is None:
        receiver, group_by, by_all = route.receiver or "", (), False
        wait, interval, repeat = GROUP_WAIT_MS, GROUP_INTERVAL_MS, REPEAT_INTERVAL_MS
    else:
        receiver, group_by, by_all = parent.receiver, parent.group_by, parent.group_by_all
        wait, interval, repeat = parent.group_wait_ms, parent.group_interval_ms, parent.repeat_interval_ms
    if route.receiver:
        receiver = route.receiver
    # "group_by left out" and "group_by: []" differ: the first inherits, the second groups all together.
    if "group_by" in route.model_fields_set:
        by_all = GROUP_BY_ALL in route.group_by
        group_by = () if by_all else tuple(sorted(set(route.group_by)))
    wait = _ms(route.group_wait, wait)
    interval = _ms(route.group_interval, interval)
    repeat = _ms(route.repeat_interval, repeat)
    node = RouteNode(path, receiver, _matchers(route.match, route.match_re, route.matchers), route.continue_,
                     group_by, by_all, wait, interval, repeat, (), parent.key if parent is not None else "",
                     parent.id if parent is not None else "",
                     tuple(route.mute_time_intervals), tuple(route.active_time_intervals))
    children = tuple(_node(c, node, path + (i,)) for i, c in enumerate(route.routes))
    return replace(node, routes=children)


def _rule(i: int, r: InhibitRuleDoc) -> InhibitRule:
    return InhibitRule(i, _matchers(r.source_match, {}, r.source_matchers),
                       _matchers(r.target_match, {}, r.target_matchers), tuple(r.equal))


def compile_routes(doc: NotificationRoutes) -> RouteTree:
    """Build the frozen tree of a validated document (the compiler has checked its receivers)."""
    spec = doc.spec
    return RouteTree(
        name=doc.metadata.name,
        root=_node(spec.route, None, ()),
        inhibit_rules=tuple(_rule(i, r) for i, r in enumerate(spec.inhibit_rules)),
        receivers=tuple(r.name for r in spec.receivers),
        fallback_receiver=spec.fallback_receiver,
        model=doc,
        send_resolved=frozenset(r.name for r in spec.receivers if r.send_resolved),
        intervals=tuple(compile_intervals(spec.time_intervals, zone).values()),
    )


def trees_of(docs) -> dict[str, RouteTree]:
    """Every NotificationRoutes model among ``docs`` (models or loaded documents), by name."""
    out: dict[str, RouteTree] = {}
    for d in docs:
        model = getattr(d, "model", d)
        if isinstance(model, NotificationRoutes):
            out[model.metadata.name] = compile_routes(model)
    return out
