"""Aggregation groups and their timers: which events are notified to whom, and when.

Pure state machine with an explicit ``now`` (milliseconds), modelled on Alertmanager's
dispatcher, aggregation groups and notification log:

- :func:`placements` says which routes documents an event goes to (the stage's ``notify``
  actions and the policy's ``spec.notify``; events without a policy, or of a policy that names
  no route, go to every document) and with which labels (a stage's ``notify`` action sets the
  severity of its transition; a return to level 0 is ``info``; an event of a loaded policy
  carries the labels its scope implies, :func:`killswitch.events.scope_labels`: a venue-level
  scope's page its ``venue``, whatever kind of event it is).
- :meth:`Dispatcher.insert` puts the event, as an *alert*, into the group of every route it
  matches. An alert is identified by its labels and, for some kinds, what tells one occurrence
  from another (:data:`.alerts.IDENTITY`: a stage entry's incident, a violation's key, a revoke's
  or restore's op), so a re-entry of a stage and each new violation are new alerts while a fault
  reported every tick is one alert, refreshed.
- A new group flushes ``group_wait`` after its first alert, then every ``group_interval``.
  A flush notifies when an alert is firing that the last notification of the group did not
  carry, or when ``repeat_interval`` has passed since that notification and a *state* still
  fires (:attr:`.alerts.Alert.reminds`, by the event's kind: a stage held, a scope blind, …):
  the reminder carries the states alone. A one-off event (an order failed, a manual close
  queued, a reset notice, a violation cancelled) pages once and is never a reminder.
  Muted alerts (inhibit rules, against every active alert of the document whose stage still
  holds) are left out.
- Alerts stay active ``resolve_timeout`` after they were last seen, except stage entries,
  which stay active while the scope stays in the stage (the scope's next transition, or a
  reset that releases it, ends them): a halt is repeated every ``repeat_interval`` until
  someone resets it. A group with no active alert left is deleted at its flush.

- An alert is *resolved* when the condition it reports is over: a stage entry whose scope is
  back at level 0 (a transition to level 0, or a reset that released the scope: the incident
  ended); a blind scope armed again or an unmatched policy that selects accounts again (the
  events of :data:`ENDS`: they resolve their fault's alert, are no alert themselves, and bring
  the flush of a group that notified it forward to now, so the resolution goes out at the tick
  that ended it — at most once per notification of the fault, which ``group_interval`` spaced);
  or a fault reported while it lasts (:data:`.alerts.RESOLVED_BY_EXPIRY`: a failed snapshot, and a
  blind or unmatched scope whose end was never reported: its scope gone, its runner gone)
  not reported for ``resolve_timeout``. A stage entry left for another stage (an escalation)
  is *superseded*, not resolved: the new entry is the news; the pages that still list it say
  what superseded it (``escalated to stage 3 flatten``) and never count it as firing. One-off
  events (an order failed, a reset approval, a reload failure) simply expire. At its next flush
  a group whose last notification carried an alert that has resolved since sends the
  resolutions to a receiver with ``send_resolved`` (the default; see :class:`Notification`
  ``resolved``), once; a receiver with ``send_resolved: false`` gets nothing for them. An alert resolved before it
  was ever notified is not notified (as Alertmanager).
- A delivery that failed every attempt is retried at the group's next flush
  (:meth:`Dispatcher.delivery_failed` takes its alerts back out of what the group last
  notified), ``retries`` times (the sink's ``group_retries``, 1 by default); after that the
  fallback receiver gets it. If none of its alerts still fires at that flush, nothing is sent
  again (there is nothing left to page about) and its failed receipts stay.

- Silences (:mod:`killswitch.silences`, handed to every flush) leave out of a notification the
  alerts, firing or resolved, that an active silence matches (their labels and ``receiver``,
  the route's receiver). They are never dropped unseen: a flush that would have told a silenced
  alert — first seen, or its ``repeat_interval`` since it was last recorded as silenced — hands
  them over in :attr:`Notification.silenced`, with the silences that matched, for the sink to
  record as silenced rather than send. A silenced alert is not counted as notified, so when its
  silence ends while it still fires it is news again at the group's next flush (as Alertmanager).
- A route's ``mute_time_intervals`` / ``active_time_intervals`` (:meth:`RouteTree.silenced`)
  hold a due notification back without recording it, so what still fires when the interval
  ends goes out at the group's first flush after it (as Alertmanager). A resolution due while
  muted is not told later.

Groups, alerts and what each group last notified are saved with the runner's state
(:meth:`Dispatcher.to_json`, every tick) and restored by the runner that loads it
(:meth:`Dispatcher.restore`): after a restart or a takeover a latched halt is still repeated
every ``repeat_interval``, and what was already notified is not notified again. Only the
groups of a routes document that is the same as when they were saved are restored (a changed
document regroups, as on a reload). Their saved form is :mod:`.alerts`'s; groups saved under an
older form of group keys are regrouped once as they are restored (a route that shared another's
group gets its own, and its page).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..events import (
    POLICY_MATCHED,
    POLICY_UNMATCHED,
    POSITION_MODE_MATCHED,
    POSITION_MODE_MISMATCH,
    RESET,
    SCOPE_ARMED,
    SCOPE_BLIND,
    STAGE_TRANSITION,
    Event,
    scope_labels,
)
from ..silences import Silence, silencing
from .alerts import GROUP_KEYS, Alert, Group, fingerprint, identity, regroup, restored_tree, saved_trees, tree_digest
from .outcomes import DeliveryOutcomes
from .routes import RouteNode, RouteTree

RESOLVE_TIMEOUT_MS = 5 * 60_000
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
# events that say a fault is over: kind → (the fault's kind, the labels that name the same fault, why)
ENDS: Mapping[str, tuple[str, tuple[str, ...], str]] = {
    SCOPE_ARMED: (SCOPE_BLIND, ("policy", "scope"), "armed again"),
    POLICY_MATCHED: (POLICY_UNMATCHED, ("policy",), "its scope selects accounts again"),
    POSITION_MODE_MATCHED: (POSITION_MODE_MISMATCH, ("venue", "account"), "the venue reads the declared mode"),
}


def superseded_text(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    """What ended a stage entry left for another stage (``new``, the transition's labels):
    ``escalated to stage 3 flatten``, or ``entered again (stage 2 reduce)`` at its own level."""
    stage = f"stage {new.get('level', '?')} {new.get('stage') or ''}".rstrip()
    frm, to = str(old.get("level", "")), str(new.get("level", ""))
    if frm.isdigit() and to.isdigit() and int(to) <= int(frm):
        return f"entered again ({stage})"
    return f"escalated to {stage}"


# --- which documents, with which labels --------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    tree: str
    labels: Mapping[str, str]
    why: str  # how the document was chosen, for ``ksctl routes test``


def placements(labels: Mapping[str, str], graph, trees: Iterable[str], *, keep_severity: bool = False
               ) -> list[Placement]:
    """The routes documents an event with ``labels`` goes to, given the running ``graph``.

    ``keep_severity``: a severity label that is given stays (a person asking ``ksctl routes test``
    with an explicit severity); without it, the stage's notify action sets it. Labels without an
    ``event`` but with a ``level`` are taken for a stage transition."""
    names = list(trees)
    kind = labels.get("event", STAGE_TRANSITION if "level" in labels else "")
    if kind == STAGE_TRANSITION and labels.get("level") == "0" and not (keep_severity and "severity" in labels):
        # a return to level 0 is the all clear: info, whichever document takes it (a policy that
        # names no route too: its transitions go to every document with their kind's critical)
        labels = {**labels, "severity": "info"}
    policy = labels.get("policy")
    node = None
    if policy and graph is not None:
        node = next((p for p in graph.policies if p.name == policy), None)
    if node is None:
        why = f'policy "{policy}" is not loaded' if policy else "no policy label"
        return [Placement(t, dict(labels), f"{why}: every routes document") for t in names]
    labels = {**scope_labels(node.scope.get("level"), labels.get("scope", "")), **labels}
    chosen: dict[str, tuple[Optional[str], str]] = {}  # tree -> (severity or None, why)
    stage = None
    level = labels.get("level")
    if level and level.isdigit():
        stage = next((s for s in node.stages if s.level == int(level)), None)
    if stage is not None:
        for n in (n for a in stage.actions for n in a.asks.notices):
            prev = chosen.get(n.route)
            if prev is None or SEVERITY_RANK.get(n.severity, 0) > SEVERITY_RANK.get(prev[0] or "", -1):
                chosen[n.route] = (n.severity if kind == STAGE_TRANSITION else None,
                                   f'stage "{stage.name}" notify action')
    if node.notify_route and node.notify_route not in chosen:
        chosen[node.notify_route] = (None, f'policy "{policy}" spec.notify')
    if not chosen:
        return [Placement(t, dict(labels), f'policy "{policy}" names no route: every routes document')
                for t in names]
    out = []
    for tree, (sev, why) in chosen.items():
        if tree not in names:
            continue  # the compiler reports unknown routes; a document removed by a reload is skipped
        lab = dict(labels)
        if (not keep_severity or "severity" not in labels) and sev is not None:
            lab["severity"] = sev
        out.append(Placement(tree, lab, why))
    return out


@dataclass(frozen=True)
class Notification:
    """One message to one receiver: the firing alerts of a group at a flush."""

    tree: str
    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    route: str  # route.routes[0]...
    alerts: tuple[Alert, ...]
    new: tuple[str, ...]  # fingerprints not carried by the previous notification
    muted: int  # alerts of the group left out by inhibit rules
    now_ms: int
    resolved: tuple[Alert, ...] = ()  # notified before, resolved since (only to a send_resolved receiver)
    round: int = 1  # 2 for the first retry of a delivery that failed every attempt, ...
    # alerts (firing, or resolved since notified) an active silence holds back: recorded, never sent
    silenced: tuple[Alert, ...] = ()
    silenced_by: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (fingerprint, the silences' ids) of each

    @property
    def sends(self) -> bool:
        """Whether there is anything to deliver (else it only records silenced alerts)."""
        return bool(self.alerts or self.resolved)

    @property
    def silence_ids(self) -> list[str]:
        return sorted({i for _, ids in self.silenced_by for i in ids})

    @property
    def repeat(self) -> bool:
        return not self.new and not self.resolved

    @property
    def dedup_key(self) -> str:
        """The same for the same notification sent again (a runner that carried on after a crash
        sends what its restored groups had not recorded as sent): a receiver that keys on it
        (PagerDuty's dedup_key, a chat bot) can tell a repeat from news."""
        parts = [self.tree, self.receiver, self.group_key, ",".join(sorted(a.fp for a in self.alerts)),
                 ",".join(sorted(self.new)), ",".join(sorted(a.fp for a in self.resolved))]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]

    @property
    def resolved_only(self) -> bool:
        return not self.alerts and bool(self.resolved)

    @property
    def severity(self) -> str:
        """The page's: info for a resolved notice, and for news that is only reset approvals
        withdrawn (it changes nothing in the book and asks nothing of anyone), whatever else the
        group carries; else the highest of its alerts (an approval recorded rides at its stage's:
        the next approver is asked to act), leaving out a stage entry its scope has left (escalated,
        reset: :attr:`.alerts.Alert.released`) while another alert is carried."""
        if self.resolved_only:
            return "info"
        news = [a for a in self.alerts if a.fp in self.new]
        if news and not self.repeat and all(a.event.kind == RESET and a.event.data.get("withdrawn") for a in news):
            return "info"
        held = [a for a in self.alerts if not a.released] or self.alerts
        return max((a.severity for a in held), key=lambda s: SEVERITY_RANK.get(s, 0), default="warning")

    @property
    def told(self) -> tuple[Alert, ...]:
        """The alerts this notification tells, as its receipt records them: its new ones (a
        reminder: the states it repeats) and its resolutions. The earlier alerts of the group it
        lists in one line each are not its news: they were told by the page that carried them."""
        carried = self.alerts if self.repeat else tuple(a for a in self.alerts if a.fp in self.new)
        return carried + self.resolved

    @property
    def cause(self) -> Optional[tuple[int, str]]:
        """When what this page tells happened, and who stamped it: the oldest cause
        (:attr:`.alerts.Alert.cause`) among the alerts it tells first (:attr:`new`), so a grouped
        page counts from its oldest event. None for a reminder or a resolved notice: no news,
        no page latency."""
        causes = [a.cause for a in self.alerts if a.fp in self.new and a.cause is not None]
        return min(causes) if causes else None

    @property
    def event_kinds(self) -> list[str]:
        return sorted({a.event.kind for a in self.told})

    @property
    def incidents(self) -> list[str]:
        return list(dict.fromkeys(a.event.data["incident"] for a in self.told if a.event.data.get("incident")))

    @property
    def silenced_severity(self) -> str:
        return max((a.severity for a in self.silenced), key=lambda s: SEVERITY_RANK.get(s, 0), default="warning")


@dataclass(frozen=True)
class Routed:
    """Where one placement ended: for ``ksctl routes test`` and for tests."""

    tree: str
    route: RouteNode
    group_key: str
    labels: Mapping[str, str]


class Dispatcher(DeliveryOutcomes):
    """Groups, timers and inhibition over every routes document."""

    def __init__(self, trees: Mapping[str, RouteTree], resolve_timeout_ms: int = RESOLVE_TIMEOUT_MS):
        self.trees = dict(trees)
        self.resolve_timeout_ms = resolve_timeout_ms
        self.groups: dict[str, Group] = {}
        self.active: dict[str, dict[str, Alert]] = {t: {} for t in self.trees}  # tree -> fp -> alert
        self.inhibited = 0  # alerts left out of notifications by inhibit rules, cumulative
        self.time_muted = 0  # notifications held back by a route's mute or active time intervals
        self.silenced = 0  # alerts recorded as silenced rather than notified, cumulative
        self.regrouped: list[str] = []  # documents whose saved groups the last restore regrouped

    def retree(self, trees: Mapping[str, RouteTree]) -> None:
        """New routes documents (a reload): groups and alerts of a document that did not change
        are kept; those of a changed or removed document are dropped (its next events regroup)."""
        for name, old in self.trees.items():
            if trees.get(name) != old:
                self.active.pop(name, None)
                for key in [k for k, g in self.groups.items() if g.tree == name]:
                    del self.groups[key]
        self.trees = dict(trees)
        for name in self.trees:
            self.active.setdefault(name, {})

    # --- intake ---------------------------------------------------------------------------------

    def insert(self, event: Event, placement: Placement, now: int, extra: Optional[Mapping[str, Any]] = None
               ) -> list[Routed]:
        tree = self.trees.get(placement.tree)
        if tree is None:
            return []
        labels = dict(placement.labels)
        if event.kind in ENDS:
            self._end(tree.name, event, labels, now)
            return []
        self._release(tree.name, event, labels, now)
        latched = event.kind == STAGE_TRANSITION and labels.get("level", "0") != "0"
        fp = fingerprint(labels, identity(event))
        reg = self.active[tree.name]
        alert = reg.get(fp)
        if alert is None:
            alert = reg[fp] = Alert(fp, labels, event, now, now, latched, extra=dict(extra or {}))
        else:
            if alert.resolved_ms is not None or alert.superseded or alert.released:
                alert.cause = event.cause  # it ended, and is news again: from this report
            alert.event, alert.last_ms, alert.extra = event, now, dict(extra or {})
            alert.latched, alert.released = alert.latched or latched, False
            alert.resolved_ms = alert.resolved_why = None
            alert.superseded = False
        out = []
        for route in tree.match(labels):
            key = route.group_key(tree.name, labels)
            g = self.groups.get(key)
            if g is None:
                g = self.groups[key] = Group(tree.name, route, key, route.group_labels(labels), now,
                                             now + route.group_wait_ms)
            g.alerts[fp] = alert
            out.append(Routed(tree.name, route, key, labels))
        return out

    def _release(self, tree: str, event: Event, labels: Mapping[str, str], now: int) -> None:
        releases = event.kind == STAGE_TRANSITION or (event.kind == RESET and event.data.get("released"))
        if not releases:
            return
        if event.kind == RESET:
            why = f"reset ({event.data.get('result') or 'approved'})"
        elif labels.get("level") == "0":
            why = f"back at level 0 ({event.data.get('reason') or 'transition'})"
        else:
            why = None
        policy, scope = labels.get("policy"), labels.get("scope")
        for a in self.active[tree].values():
            if a.latched and a.labels.get("policy") == policy and a.labels.get("scope") == scope:
                a.latched, a.released = False, True
                a.last_ms = now  # a superseded entry stays in its groups' next notification, then expires
                if why is None:
                    a.superseded, a.superseded_why = True, superseded_text(a.labels, labels)
                else:
                    a.resolved_ms, a.resolved_why = now, why

    def _end(self, tree: str, event: Event, labels: Mapping[str, str], now: int) -> None:
        kind, keys, why = ENDS[event.kind]
        detail = event.data.get("why")
        ended = set()
        for a in self.active[tree].values():
            if (a.event.kind == kind and a.resolved_ms is None
                    and all(a.labels.get(k) == labels.get(k) for k in keys)):
                a.resolved_ms, a.resolved_why = event.ts_ms, f"{why} ({detail})" if detail else why
                ended.add(a.fp)
        for g in self.groups.values():
            if g.tree == tree and g.last_fps and not ended.isdisjoint(g.last_fps):
                g.next_ms = min(g.next_ms, now)

    # --- timers -----------------------------------------------------------------------------------

    def next_due(self) -> Optional[int]:
        return min((g.next_ms for g in self.groups.values()), default=None)

    def flush_due(self, now: int, silences: Sequence[Silence] = ()) -> list[Notification]:
        """Flush every group whose timer has come; the notifications to hand to delivery (and
        the silenced alerts to record), given the ``silences`` in force."""
        return self._flush([g for g in self.groups.values() if g.next_ms <= now], now, silences)

    def flush_pending(self, now: int, silences: Sequence[Silence] = ()) -> list[Notification]:
        """Flush now every group holding an alert not notified yet (on shutdown: better early than never)."""
        pending = [g for g in self.groups.values()
                   if any(fp not in (g.last_fps or ()) for fp in g.alerts)]
        return self._flush(pending, now, silences)

    def _flush(self, groups: list[Group], now: int, silences: Sequence[Silence] = ()) -> list[Notification]:
        self._expire(now)
        out = []
        for g in sorted(groups, key=lambda g: (g.next_ms, g.key)):
            n = self._flush_group(g, now, silences)
            if n is not None:
                out.append(n)
        return out

    def _expire(self, now: int) -> None:
        for reg in self.active.values():
            for fp in [fp for fp, a in reg.items() if not a.active(now, self.resolve_timeout_ms)]:
                del reg[fp]

    def _flush_group(self, g: Group, now: int, silences: Sequence[Silence] = ()) -> Optional[Notification]:
        reg = self.active[g.tree]
        tree = self.trees[g.tree]
        notified = g.last_fps or frozenset()
        resolved = [a for fp, a in g.alerts.items()
                    if fp in notified and a.resolved_at(now, self.resolve_timeout_ms) is not None]
        for a in resolved:
            if a.resolved_why is None:
                a.resolved_ms, a.resolved_why = a.resolved_at(now, self.resolve_timeout_ms), "no longer reported"
        g.alerts = {fp: a for fp, a in g.alerts.items() if fp in reg}
        g.next_ms = now + g.route.group_interval_ms
        g.flushed = True
        # an alert gone (resolved, expired) leaves what the group last notified: a resolution is told
        # once, and the same fault coming back later is news again
        g.last_fps = frozenset(fp for fp in notified if fp in g.alerts) if g.last_fps is not None else None
        send_resolved = tuple(resolved) if resolved and g.route.receiver in tree.send_resolved else ()
        to = partial(Notification, g.tree, g.route.receiver, g.key, dict(g.labels), g.route.name)  # the group's page
        by: dict[str, tuple[str, ...]] = {}  # fingerprint -> the active silences that match it
        if silences:
            for a in list(g.alerts.values()) + list(send_resolved):
                ids = silencing({**a.labels, "receiver": g.route.receiver}, silences, now)
                if ids:
                    by[a.fp] = ids
        quiet_resolved = tuple(a for a in send_resolved if a.fp in by)
        send_resolved = tuple(a for a in send_resolved if a.fp not in by)
        if not g.alerts:
            del self.groups[g.key]
            if not send_resolved and not quiet_resolved:
                return None
            if tree.silenced(g.route, now) is not None:
                self.time_muted += 1
                return None
            return self._silenced(g, to((), (), 0, now, send_resolved, g.failed_rounds + 1), [], quiet_resolved,
                                  by, now)
        sources = [a.labels for a in reg.values() if not a.released]
        firing, muted, quiet = [], 0, []
        for a in sorted(g.alerts.values(), key=lambda a: (a.first_ms, a.fp)):
            if tree.inhibited_by(a.labels, sources) is not None:
                muted += 1
            elif a.fp in by:
                quiet.append(a)
            else:
                firing.append(a)
        self.inhibited += muted
        fps = frozenset(a.fp for a in firing)
        new = tuple(a.fp for a in firing if a.fp not in (g.last_fps or ()))
        # a reminder repeats the states still in force; a one-off event paged once is never one
        repeat_due = (any(a.reminds for a in firing) and g.last_ms is not None
                      and now >= g.last_ms + g.route.repeat_interval_ms)
        sends = bool(new or repeat_due or send_resolved)
        if not sends and not self._silence_due(g, quiet, quiet_resolved, now):
            g.silenced_fps = frozenset(a.fp for a in quiet)
            return None
        if tree.silenced(g.route, now) is not None:
            # nothing recorded: what is still firing when the interval ends is sent at that flush
            self.time_muted += 1
            return None
        if sends:
            g.last_fps, g.last_ms = fps, now
            told = firing if new or send_resolved else [a for a in firing if a.reminds]
            n = to(tuple(told), new, muted, now, send_resolved, g.failed_rounds + 1)
        else:
            n = to((), (), muted, now)
        return self._silenced(g, n, quiet, quiet_resolved, by, now)

    @staticmethod
    def _silence_due(g: Group, quiet: Sequence[Alert], quiet_resolved: Sequence[Alert], now: int) -> bool:
        return (any(a.fp not in g.silenced_fps for a in quiet) or bool(quiet_resolved)
                or (any(a.reminds for a in quiet) and g.silenced_ms is not None
                    and now >= g.silenced_ms + g.route.repeat_interval_ms))

    def _silenced(self, g: Group, n: Notification, quiet: list[Alert], quiet_resolved: tuple[Alert, ...],
                  by: Mapping[str, tuple[str, ...]], now: int) -> Optional[Notification]:
        """``n`` with the silenced alerts it must record: those silenced since the last flush, a
        resolution, or every one of them again once ``repeat_interval`` has passed since they were
        last recorded (a latched halt under a silence is recorded as often as it would be paged).
        None when it then neither sends nor records anything."""
        due = self._silence_due(g, quiet, quiet_resolved, now)
        news = quiet_resolved or any(a.fp not in g.silenced_fps for a in quiet)
        g.silenced_fps = frozenset(a.fp for a in quiet)
        if not due:
            return n if n.sends else None
        g.silenced_ms = now
        # recorded as it would have been paged: a repeat holds back the states alone
        held = (tuple(quiet) if news else tuple(a for a in quiet if a.reminds)) + quiet_resolved
        self.silenced += len(held)
        return replace(n, silenced=held, silenced_by=tuple((a.fp, by[a.fp]) for a in held))

    # --- persistence ----------------------------------------------------------------------------------

    def to_json(self) -> dict:
        """Alerts and groups as JSON, per routes document (with the document's digest)."""
        return {"trees": saved_trees(self.trees, self.groups, self.active), "inhibited": self.inhibited,
                "silenced": self.silenced, "group_keys": GROUP_KEYS}

    def restore(self, doc: Optional[Mapping[str, Any]]) -> list[str]:
        """Replace the alerts and groups with saved ones (:meth:`to_json`). A document whose
        routes changed since, or that is gone, is skipped: returns the names skipped. Groups
        saved under an older form of group keys are regrouped (:func:`.alerts.regroup`), once:
        ``regrouped`` names their documents."""
        self.groups = {}
        self.active = {t: {} for t in self.trees}
        self.regrouped = []
        if not doc:
            return []
        self.inhibited = int(doc.get("inhibited", 0))
        self.silenced = int(doc.get("silenced", 0))
        older = int(doc.get("group_keys", 1)) < GROUP_KEYS
        skipped: list[str] = []
        for name, saved in (doc.get("trees") or {}).items():
            tree = self.trees.get(name)
            if tree is None or saved.get("digest") != tree_digest(tree):
                skipped.append(name)
                continue
            reg, groups = restored_tree(tree, saved)
            if older:
                groups = regroup(tree, groups, reg)
                self.regrouped.append(name)
            self.active[name] = reg
            self.groups.update((g.key, g) for g in groups)
        return skipped

    def restore_notes(self, skipped: Sequence[str]) -> list[tuple[str, dict]]:
        """The audit rows saying what the last :meth:`restore` did not take up as it was saved."""
        notes: list[tuple[str, dict]] = []
        if skipped:
            notes.append(("notification_groups_not_restored", {
                "documents": list(skipped), "why": "the routes document changed or is gone since they were saved"}))
        if self.regrouped:
            notes.append(("notification_groups_regrouped", {
                "documents": list(self.regrouped), "why": "saved under an older form of group keys (route ids now "
                "unique in the tree, label values quoted): a route that shared another's group gets its own"}))
        return notes

    # --- questions ------------------------------------------------------------------------------------

    def route(self, placement: Placement) -> list[Routed]:
        """Where a placement would go, without inserting anything."""
        tree = self.trees.get(placement.tree)
        if tree is None:
            return []
        return [Routed(tree.name, r, r.group_key(tree.name, placement.labels), placement.labels)
                for r in tree.match(placement.labels)]
