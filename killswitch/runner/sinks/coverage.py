"""Armed coverage told to the sinks and the log: what the engine says it cannot see, as it changes.

The engine states, for every policy × scope instance, ``armed``, ``blind`` or ``unmatched``
(:mod:`killswitch.engine.coverage`; the rows and gauges the views show of it are
:mod:`killswitch.view.coverage`'s). Here, at each tick:

- :class:`BlindReports`: a ``scope_blind`` event per blind scope and a ``policy_unmatched`` per
  unmatched policy, when it starts and every 30 s while it lasts, and once when it ends: a
  ``scope_armed`` when a blind scope is armed again, a ``policy_matched`` when the policy selects
  accounts again. The notification routes group the first and resolve them by the second: one
  page per spell, grouped, with its resolution sent at the tick that armed the scope. (What ends
  unsaid — a scope that disappears with its account — resolves when no longer reported.)
- :func:`log_changes`: one log line when a scope turns blind (WARNING ``SCOPE_BLIND``: "cannot
  act", or what it can still fire on when it is partly blind), armed
  again (INFO ``SCOPE_ARMED``, with how long it was blind), and when a policy's scope selects
  nothing (ERROR ``POLICY_UNMATCHED``; INFO ``POLICY_UNMATCHED_ALLOWED`` when its scope says
  ``allow_empty: true``: expected, so never paged, and its reason ``UNMATCHED_ALLOWED`` keeps
  it out of the alert rules) or something again (INFO ``POLICY_MATCHED``).
"""

from __future__ import annotations

import logging
from typing import Optional

from ...engine import coverage as cv
from ...engine.evaluate import Evaluation
from ...events import POLICY_MATCHED, POLICY_UNMATCHED, SCOPE_ARMED, SCOPE_BLIND, Event
from ..lock.lock import iso_ms

log = logging.getLogger("killswitch.runner")


# A blind or unmatched scope is reported to the sinks when it becomes so (or its reason
# changes), then again every REFRESH_MS while it lasts: often enough for the routes to keep the
# alert active (their resolve timeout is minutes) and to show fresh figures in a reminder, without
# a hundred events a tick when a venue is down.
REFRESH_MS = 30_000


class BlindReports:
    """The ``scope_blind`` and ``policy_unmatched`` events of each tick (see REFRESH_MS), and the
    ``scope_armed`` and ``policy_matched`` that end them. The ends are read from the evaluation's
    changes, which the state carries across a restart or a takeover: a runner that takes over a
    blind scope still says when it is armed again."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, Optional[str]]] = {}  # key → (reported at, reason)

    def _due(self, key: str, reason: Optional[str], now: int, seen: set[str]) -> bool:
        seen.add(key)
        last = self._last.get(key)
        if last is not None and last[1] == reason and now - last[0] < REFRESH_MS:
            return False
        self._last[key] = (now, reason)
        return True

    def events(self, ev: Evaluation, now: int) -> list[Event]:
        out: list[Event] = []
        seen: set[str] = set()
        for se in ev.scopes:
            c = se.coverage
            if c.armed:
                if c.changed and c.left_since_ms is not None:  # armed again: once
                    out.append(Event.make(SCOPE_ARMED, now, {
                        "blind_since": iso_ms(c.left_since_ms),
                        "why": f"blind for {(now - c.left_since_ms) / 1000:.0f}s"},
                        policy=se.policy, scope=se.scope))
            elif self._due(f"{se.policy}|{se.scope}", c.reason, now, seen):
                out.append(Event.make(SCOPE_BLIND, now, {
                    "triggers": ", ".join(t.trigger for t in c.triggers), "detail": c.detail,
                    "blind_since": iso_ms(c.since_ms) if c.since_ms is not None else "?",
                    "armed_again_at": iso_ms(c.until_ms) if c.until_ms is not None else "unknown (waiting for data)",
                    **({"partly": c.partly} if c.partly else {
                        "can_fire_again_at": iso_ms(c.acts_from_ms) if c.acts_from_ms is not None else "unknown"})},
                    policy=se.policy, scope=se.scope, reason=c.reason))
        for u in ev.unmatched:
            if u.allowed:
                continue  # expected (allow_empty: true): said once in the log, never paged
            if self._due(f"unmatched|{u.policy}", cv.UNMATCHED_REASON, now, seen):
                out.append(Event.make(POLICY_UNMATCHED, now, {
                    "selector": u.selector, "since": iso_ms(u.since_ms) if u.since_ms is not None else "?"},
                    policy=u.policy, scope=cv.NO_SCOPE, reason=cv.UNMATCHED_REASON))
        for policy in ev.rematched:
            out.append(Event.make(POLICY_MATCHED, now, {}, policy=policy, scope=cv.NO_SCOPE))
        for key in [k for k in self._last if k not in seen]:
            del self._last[key]  # armed again: a new spell is reported at once
        return out


def log_changes(ev: Evaluation, everything: bool = False) -> None:
    """One line per change of coverage this tick (the evaluation says what changed and since when);
    ``everything``: also every scope still blind or unmatched (a process's first evaluation: a
    restarted runner reads its coverage back from the store, and one tailing its fresh log must be
    told what it cannot see, not only what changes from now on)."""
    for se in ev.scopes:
        c = se.coverage
        if not (c.changed or (everything and not c.armed)):
            continue
        if not c.armed:
            until = "unknown (waiting for data)" if c.until_ms is None else iso_ms(c.until_ms)
            since = "" if c.changed or c.since_ms is None else f" (blind since {iso_ms(c.since_ms)})"
            acts = "" if c.partly else (
                f"; can fire again at {iso_ms(c.acts_from_ms)} ({', '.join(c.acts_first)})"
                if c.acts_from_ms is not None else "; can fire again: unknown")
            log.warning("SCOPE_BLIND: %s %s %s%s: %s: %s%s; armed again at %s", se.policy, se.scope,
                        c.partly or "cannot act", since, c.reason, c.detail, acts, until)
        elif c.left_since_ms is not None:
            log.info("SCOPE_ARMED: %s %s: every trigger can be evaluated again (blind for %.0fs)",
                     se.policy, se.scope, (ev.now_ms - c.left_since_ms) / 1000)
    for u in ev.unmatched:
        if u.allowed and (u.changed or everything):
            log.info("POLICY_UNMATCHED_ALLOWED: %s: its scope (%s) selects no account, as allow_empty: true allows; "
                     "the policy acts once an account matches", u.policy, u.selector)
        elif u.changed or everything:
            since = "" if u.changed or u.since_ms is None else f" (since {iso_ms(u.since_ms)})"
            log.error("POLICY_UNMATCHED: %s: its scope (%s) selects no account%s: the policy cannot act",
                      u.policy, u.selector, since)
    for policy in ev.rematched:
        log.info("POLICY_MATCHED: %s: its scope selects accounts again", policy)
