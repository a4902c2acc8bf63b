"""The dispatcher's alerts and aggregation groups, and their form saved with the runner's state.

What it owns: :class:`Alert` (one event's labels, as one alert however often it is reported)
and :class:`Group` (a route and its ``group_by`` values, the alerts in it, its timer and what it
last notified); their JSON form (:func:`saved_trees`, :func:`restored_tree`), the digest of the
routes document they were saved under (:func:`tree_digest`: restored only into the same
document), and the one regrouping of groups saved under an older form of group keys
(:func:`regroup`, :data:`GROUP_KEYS`). What a flush sends is :mod:`.dispatch`'s.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..events import (
    LIMIT_VIOLATION,
    LOCK_VIOLATION,
    POLICY_UNMATCHED,
    SCOPE_BLIND,
    SNAPSHOT_FAILED,
    STAGE_TRANSITION,
    STATE_KINDS,
    TRADING_RESTORED,
    TRADING_REVOKED,
    Event,
)
from .routes import RouteNode, RouteTree

# faults reported again and again while they last: resolved when no longer reported
RESOLVED_BY_EXPIRY = frozenset({SNAPSHOT_FAILED, SCOPE_BLIND, POLICY_UNMATCHED})
# The form of the group keys saved: 1, route ids built from the parent's key (two routes could
# share one, and so one group) and label values unquoted; 2, ids unique in the tree and values
# quoted. State saved in an older form is regrouped once as it is restored.
GROUP_KEYS = 2


def fingerprint(labels: Mapping[str, str], incident: Optional[str]) -> str:
    body = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(labels.items())) + "\x1d" + (incident or "")
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


# what tells one occurrence from another of the same labels, by kind (the event's data keys): a
# stage entry's incident (a re-entry is a new alert); a violation's key, the bot's order and the
# runner's revert (each order, each growth of a leg that broke a lock, even of the same size as
# one reverted before: a bot trading again after its key was restored is news, not the first
# violation refreshed); a revoke's or restore's op (a second revoke of an account is news)
_VIOLATION = ("key", "client_order_id", "order_id", "revert_client_order_id")
IDENTITY: Mapping[str, tuple[str, ...]] = {
    STAGE_TRANSITION: ("incident",), LOCK_VIOLATION: _VIOLATION, LIMIT_VIOLATION: _VIOLATION,
    TRADING_REVOKED: ("op",), TRADING_RESTORED: ("op",)}


def identity(event: Event) -> Optional[str]:
    """What, beside its labels, makes ``event`` an alert of its own (:data:`IDENTITY`); None:
    its labels alone (a fault reported every tick is one alert, refreshed)."""
    values = [str(event.data[k]) for k in IDENTITY.get(event.kind, ()) if event.data.get(k) is not None]
    return "|".join(values) if values else None


@dataclass
class Alert:
    fp: str
    labels: Mapping[str, str]
    event: Event
    first_ms: int
    last_ms: int
    latched: bool  # a stage entry: active until the scope leaves the stage
    released: bool = False  # the scope left the stage: no longer mutes anything, expires soon
    extra: Mapping[str, Any] = field(default_factory=dict)  # what the sink needs to write the message
    resolved_ms: Optional[int] = None  # the scope is back at level 0: no longer active
    resolved_why: Optional[str] = None  # what ended it, for the resolved message
    superseded: bool = False  # left for another stage: expires without a resolved message
    # what superseded it, said on the pages that still list it: ``escalated to stage 3 flatten``
    superseded_why: Optional[str] = None
    # the time of what caused the alert's news and who stamped it (:attr:`Event.cause` of the
    # event that made it firing: its first report, or the one that brought it back after it ended);
    # a page's latency counts from the oldest among the alerts it tells first (see .dispatch)
    cause: Optional[tuple[int, str]] = None

    def __post_init__(self) -> None:
        if self.cause is None:
            self.cause = self.event.cause

    def active(self, now: int, resolve_timeout_ms: int) -> bool:
        if self.resolved_ms is not None:
            return False
        return self.latched or now < self.last_ms + resolve_timeout_ms

    def resolved_at(self, now: int, resolve_timeout_ms: int) -> Optional[int]:
        """When the alert resolved, if it has (an expired fault counts from when it expired)."""
        if self.resolved_ms is not None:
            return self.resolved_ms
        if (not self.latched and not self.superseded and self.event.kind in RESOLVED_BY_EXPIRY
                and not self.active(now, resolve_timeout_ms)):
            return self.last_ms + resolve_timeout_ms
        return None

    @property
    def reminds(self) -> bool:
        """Whether the alert is a state that a ``repeat_interval`` reminder repeats (its event's
        kind decides: :data:`killswitch.events.STATE_KINDS`; a stage entry while it holds), or a
        one-off that pages once."""
        if self.event.kind == STAGE_TRANSITION:
            return self.latched
        return self.event.kind in STATE_KINDS

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "warning")


@dataclass
class Group:
    tree: str
    route: RouteNode
    key: str
    labels: Mapping[str, str]
    created_ms: int
    next_ms: int
    alerts: dict[str, Alert] = field(default_factory=dict)
    flushed: bool = False
    last_fps: Optional[frozenset] = None  # fingerprints of the last notification
    last_ms: Optional[int] = None
    failed_rounds: int = 0  # deliveries of this group that failed every attempt, in a row
    silenced_fps: frozenset = frozenset()  # the alerts silenced at the last flush
    silenced_ms: Optional[int] = None  # when silenced alerts of the group were last recorded as such
    # the alerts whose latest notification to the route's receiver failed every attempt (a copy to
    # the fallback receiver aside): not delivered to it, whatever ``last_fps`` holds
    failed_fps: frozenset = frozenset()


# --- saved with the runner's state ----------------------------------------------------------------


def saved_trees(trees: Mapping[str, RouteTree], groups: Mapping[str, Group],
                active: Mapping[str, Mapping[str, Alert]]) -> dict[str, Any]:
    """Alerts and groups as JSON, per routes document (with the document's digest)."""
    out: dict[str, Any] = {}
    for name, tree in sorted(trees.items()):
        mine = [g for g in groups.values() if g.tree == name]
        reg = active.get(name, {})
        if not reg and not mine:
            continue
        out[name] = {
            "digest": tree_digest(tree),
            "alerts": [alert_json(a) for _, a in sorted(reg.items())],
            "groups": [{"route": list(g.route.path), "key": g.key, "labels": dict(g.labels),
                        "created_ms": g.created_ms, "next_ms": g.next_ms, "alerts": sorted(g.alerts),
                        "flushed": g.flushed, "last_fps": sorted(g.last_fps) if g.last_fps is not None else None,
                        "last_ms": g.last_ms, "failed_rounds": g.failed_rounds,
                        "silenced_fps": sorted(g.silenced_fps), "silenced_ms": g.silenced_ms,
                        "failed_fps": sorted(g.failed_fps)}
                       for g in sorted(mine, key=lambda g: g.key)],
        }
    return out


def restored_tree(tree: RouteTree, saved: Mapping[str, Any]) -> tuple[dict[str, Alert], list[Group]]:
    """One document's saved alerts (by fingerprint) and groups (each on the route at its saved
    path, under its saved key), the document being the same as when they were saved."""
    reg: dict[str, Alert] = {}
    for a in saved["alerts"]:
        alert = alert_from_json(a)
        reg[alert.fp] = alert
    groups = []
    for g in saved["groups"]:
        route = tree.root
        for i in g["route"]:
            route = route.routes[i]
        last_fps = frozenset(g["last_fps"]) if g["last_fps"] is not None else None
        groups.append(Group(tree.name, route, g["key"], dict(g["labels"]), g["created_ms"], g["next_ms"],
                            {fp: reg[fp] for fp in g["alerts"] if fp in reg}, g["flushed"], last_fps, g["last_ms"],
                            int(g.get("failed_rounds", 0)), frozenset(g.get("silenced_fps") or ()),
                            g.get("silenced_ms"), frozenset(g.get("failed_fps") or ())))
    return reg, groups


def regroup(tree: RouteTree, groups: list[Group], reg: Mapping[str, Alert]) -> list[Group]:
    """Groups saved under an older form of group keys, under today's: each saved group keeps
    its route, timer and what it last notified, under its route's key now, and every alert is
    put again in the group of each route it matches, as :meth:`.dispatch.Dispatcher.insert`
    does. Where two routes shared a key (and so one group, which paged one receiver of the
    two), the other route gets a group of its own, due at once: its page goes out, once, at
    the next flush. Where two label sets shared a key (values unquoted), the one that gets a
    group of its own takes along what the shared group notified of it: nothing notified
    already is notified again."""
    by_key: dict[str, Group] = {}
    by_route: dict[tuple[int, ...], list[Group]] = {}
    for g in groups:
        g.key = g.route.group_key(tree.name, g.labels)
        g.alerts = {}
        by_key.setdefault(g.key, g)
        by_route.setdefault(g.route.path, []).append(g)
    made: set[str] = set()
    for fp, a in sorted(reg.items(), key=lambda kv: (kv[1].first_ms, kv[0])):
        for route in tree.match(a.labels):
            key = route.group_key(tree.name, a.labels)
            into = by_key.get(key)
            if into is None:
                into = by_key[key] = Group(tree.name, route, key, route.group_labels(a.labels), a.first_ms,
                                           a.first_ms + route.group_wait_ms)
                made.add(key)
            into.alerts[fp] = a
            was = next((g for g in by_route.get(route.path, ()) if g.last_fps and fp in g.last_fps), None)
            if key in made and was is not None:  # notified by the same route's shared group
                into.last_fps = (into.last_fps or frozenset()) | {fp}
                into.last_ms = min((t for t in (into.last_ms, was.last_ms) if t is not None), default=None)
                into.flushed = True
    return list(by_key.values())


# Keys added to the routes document after state was first saved, with the value that means
# "not used": left out of the digest at that value, so that upgrading does not regroup (and
# page again) every document that does not use them.
_LATER_KEYS = {"send_resolved": True, "mute_time_intervals": [], "active_time_intervals": [], "time_intervals": [],
               "matchers": [], "source_matchers": [], "target_matchers": [], "default": None}


def _without_later_defaults(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_later_defaults(v) for k, v in value.items()
                if not (k in _LATER_KEYS and v == _LATER_KEYS[k])}
    if isinstance(value, list):
        return [_without_later_defaults(v) for v in value]
    return value


def tree_digest(tree: RouteTree) -> str:
    """The routes document a tree was compiled from, as a digest: saved groups are restored
    only into the same document."""
    if tree.model is None:
        text = repr(tree)
    else:  # the form model_dump_json() gave before the later keys existed
        text = json.dumps(_without_later_defaults(tree.model.model_dump(mode="json")), ensure_ascii=False,
                          separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def alert_json(a: Alert) -> dict:
    return {"fp": a.fp, "labels": dict(a.labels), "first_ms": a.first_ms, "last_ms": a.last_ms,
            "latched": a.latched, "released": a.released, "extra": dict(a.extra),
            "resolved_ms": a.resolved_ms, "resolved_why": a.resolved_why, "superseded": a.superseded,
            "superseded_why": a.superseded_why,
            "cause": list(a.cause) if a.cause is not None else None,
            "event": {"kind": a.event.kind, "ts_ms": a.event.ts_ms, "labels": dict(a.event.labels),
                      "data": json.loads(json.dumps(a.event.data, default=str)), **a.event.cause_doc()}}


def alert_from_json(d: Mapping[str, Any]) -> Alert:
    e = d["event"]
    event = Event(e["kind"], e["ts_ms"], dict(e["labels"]), dict(e["data"])).caused_at(e.get("cause_ms"),
                                                                                       e.get("cause_source"))
    cause = d.get("cause")  # (saved before causes were kept: the event's)
    return Alert(d["fp"], dict(d["labels"]), event, d["first_ms"], d["last_ms"], d["latched"], d["released"],
                 dict(d["extra"]), d.get("resolved_ms"), d.get("resolved_why"), bool(d.get("superseded", False)),
                 d.get("superseded_why"),
                 (int(cause[0]), str(cause[1])) if isinstance(cause, list) and len(cause) == 2 else None)
