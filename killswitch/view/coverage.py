"""Armed coverage as every view reads it: what the engine says it cannot see, said alike everywhere.

The engine states, for every policy × scope instance, ``armed``, ``blind`` or ``unmatched``
(:mod:`killswitch.engine.coverage`). This module turns that one fact into the rows and the
gauges each reader shows, so that they all agree (what the sinks and the log are told of it is
the runner's: :mod:`killswitch.runner.sinks.coverage`):

- :func:`coverage_rows`: the rows of ``ksctl status``, ``/v1/status`` and the console — from the
  last evaluation (the leader), or from the coverage the leader saved with the state (a standby,
  a runner that has not ticked yet: state, reason, since and until, without the trigger details);
  ``book``: the runner's book as its read-only face shows it (``graph``, ``state``,
  ``evaluation``, ``node(policy)``).
- :class:`CoverageMetrics`: ``killswitch_policy_armed{policy,scope,reason}``,
  ``killswitch_policy_blind_until_seconds{policy,scope}`` and ``killswitch_policies_blind``.

Pure: no I/O; the clock is handed in.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

from ..engine import coverage as cv
from .status import BlindTrigger, CoverageStatus


def while_blind_text(node: Any) -> Optional[str]:
    mode = getattr(node, "while_blind_lock", None) if node is not None else None
    return f"lock_trading: {mode}" if mode else None


def coverage_rows(book: Any) -> tuple[CoverageStatus, ...]:
    """Every policy × scope instance's coverage, policies in graph order, then scope."""
    ev = book.evaluation
    rows: list[CoverageStatus] = []
    if ev is not None and ev.digest == book.graph.digest:
        for se in ev.scopes:
            c = se.coverage
            rows.append(CoverageStatus(
                se.policy, se.scope, c.state, c.reason, c.detail, c.since_ms, c.until_ms,
                while_blind_text(book.node(se.policy)),
                tuple(BlindTrigger(t.trigger, t.reason, t.detail, t.until_ms, t.fires_on, t.fires_from_ms)
                      for t in c.triggers),
                c.partly, c.acts_from_ms, c.acts_first))
        rows += [_unmatched_row(book, u.policy, u.since_ms) for u in ev.unmatched]
    else:  # a standby, or no tick yet under this graph: what the leader saved
        names = {p.name for p in book.graph.policies}
        for key, ss in sorted(book.state.scopes.items()):
            policy, _, scope = key.partition("|")
            if policy not in names or ss.coverage is None or ss.removed is not None:  # (removed: guards nothing)
                continue
            state, since, reason, until = ss.coverage
            detail = ("every trigger can be evaluated" if state == cv.ARMED
                      else f"{reason}: as the leader last saved it (the trigger details are on the leader)")
            rows.append(CoverageStatus(policy, scope, state, reason, detail, since, until,
                                       while_blind_text(book.node(policy))))
        rows += [_unmatched_row(book, p, since) for p, since in sorted(book.state.unmatched.items()) if p in names]
    order = {p.name: i for i, p in enumerate(book.graph.policies)}
    return tuple(sorted(rows, key=lambda r: (order.get(r.policy, len(order)), r.scope)))


def _unmatched_row(book: Any, policy: str, since: Optional[int]) -> CoverageStatus:
    node = book.node(policy)
    selector = cv.selector_text(node) if node is not None else "?"
    if node is not None and cv.allowed_empty(node):
        return CoverageStatus(policy, cv.NO_SCOPE, cv.UNMATCHED, cv.UNMATCHED_ALLOWED,
                              f"the scope ({selector}) selects no account (allowed: allow_empty: true)", since, None,
                              while_blind_text(node))
    return CoverageStatus(policy, cv.NO_SCOPE, cv.UNMATCHED, cv.UNMATCHED_REASON,
                          f"the scope ({selector}) selects no account", since, None, while_blind_text(node))


def alarming(row: CoverageStatus) -> bool:
    """A row that is not armed and not expected to be: blind, or unmatched without allow_empty."""
    return row.state != cv.ARMED and not row.allowed



class CoverageMetrics:
    """The coverage families of ``/metrics`` (a collector of the readout's registry)."""

    def __init__(self, rows: Callable[[], tuple[CoverageStatus, ...]], clock: Callable[[], int]):
        self.rows, self.clock = rows, clock

    def collect_metrics(self, reg: Any) -> None:
        rows, now = self.rows(), self.clock()
        armed = reg.sampled("killswitch_policy_armed", "gauge",
                            "1 when every trigger of the policy's scope instance can be evaluated; 0 when it is "
                            "blind or its scope selects no account (reason says why).", ("policy", "scope", "reason"))
        until = reg.sampled("killswitch_policy_blind_until_seconds", "gauge",
                            "Seconds until a blind scope is armed again if nothing else fails (+Inf: unknown).",
                            ("policy", "scope"))
        for r in rows:
            armed.add(int(r.state == cv.ARMED), policy=r.policy, scope=r.scope, reason=r.reason or "ok")
            if r.state != cv.ARMED:
                until.add(math.inf if r.until_ms is None else max(0.0, (r.until_ms - now) / 1000),
                          policy=r.policy, scope=r.scope)
        reg.sampled("killswitch_policies_blind", "gauge",
                    "Policy × scope instances that are blind or unmatched (not counting a scope that "
                    "allow_empty lets select nothing).").add(sum(1 for r in rows if alarming(r)))
