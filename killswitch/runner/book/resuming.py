"""Resumption after a reset: reduced trading limits that step up to normal on a schedule.

What it owns: the resumptions in force (``Book.resume_starts``: "policy|scope" → reset time;
the book changes them at this part's word: ``resumption_started``, ``resumptions_ended``).
After a stage at the policy's ``resume.from_level`` or above is reset, the pre-trade gate holds
the scope's orders at the policy's reduced limits, stepping up on its schedule until normal; a
new stage entry ends it, as does a reload that drops the policy's resume plan. What is in
force is shown in status and in the lock document.

Must not: change a stage or a lock. The limits themselves are computed by
:class:`killswitch.runner.gate.resume_plan.Resumption`; this module only says which are in force.
"""

from __future__ import annotations

from typing import Callable, Collection, Optional

from ...engine.evaluate import Evaluation
from ...view import ResumeStatus
from ..gate.resume_plan import ResumePlan, Resumption
from ..lock.lock import iso_ms
from .book import Book


class Resumptions:
    def __init__(self, book: Book, clock: Callable[[], int]):
        self.book = book
        self.clock = clock

    def start(self, policy: str, scope: str, from_level: int, now: int) -> Optional[tuple[str, dict]]:
        """A reset of ``from_level``: start the policy's resumption if it has one from that
        level. Returns its audit row."""
        node = self.book.node(policy)
        if node is None or node.resume is None or from_level < node.resume.from_level:
            return None
        if f"{policy}|{scope}" not in self.book.state.scopes:  # an instance its reset ended (engine/removed.py)
            return None
        self.book.resumption_started(f"{policy}|{scope}", now)
        return "resumption_started", {"policy": policy, "scope": scope, "from_level": from_level,
                                      "start": node.resume.start_fraction, "step": node.resume.step_factor,
                                      "every_ms": node.resume.step_ms}

    def track(self, ev: Evaluation, now: int) -> list[tuple[str, dict]]:
        """Start a resumption at a reset, end it at a new stage entry or when its limits are
        normal again (or its policy no longer has a resume plan). Returns the audit rows."""
        rows = []
        for s in ev.transitions:
            t = s.transition
            if t is None:  # (a scope in ``transitions`` always has one)
                continue
            key = f"{s.policy}|{s.scope}"
            if t.kind == "reset":
                row = self.start(s.policy, s.scope, t.from_level, now)
                if row:
                    rows.append(row)
            elif key in self.book.resume_starts:
                self.book.resumptions_ended([key])
                rows.append(("resumption_ended", {"policy": s.policy, "scope": s.scope, "why": "STAGE_ENTERED"}))
        ended = []
        for key, since in sorted(self.book.resume_starts.items()):
            r = self._resumption(key, since)
            if r is None or r.limits(now).done:
                ended.append(key)
                policy, _, scope = key.partition("|")
                rows.append(("resumption_ended", {"policy": policy, "scope": scope,
                                                  "why": "NO_RESUME_PLAN" if r is None else "NORMAL_LIMITS"}))
        if ended:
            self.book.resumptions_ended(ended)
        return rows

    def _resumption(self, key: str, since: int) -> Optional[Resumption]:
        policy, _, scope = key.partition("|")
        node = self.book.node(policy)
        if node is None or node.resume is None:
            return None
        r = node.resume
        plan = ResumePlan(max_positions=r.max_positions, max_gross_exposure=r.max_gross_exposure,
                          start_fraction=r.start_fraction, step_factor=r.step_factor, step_ms=r.step_ms)
        return Resumption(plan, since, scope)

    def in_force(self, now: int) -> list[tuple[str, Resumption]]:
        """(policy, resumption) of every resumption in force at ``now``."""
        return [(key.partition("|")[0], r) for key, since in sorted(self.book.resume_starts.items())
                if (r := self._resumption(key, since)) is not None and not r.limits(now).done]

    def status(self, now: int) -> tuple[ResumeStatus, ...]:
        return tuple(ResumeStatus(policy, r.scope or "", r.reset_ms, lim.day, lim.days, round(lim.fraction, 6),
                                  lim.max_positions, lim.max_gross_exposure, lim.until_ms, lim.step_ms)
                     for policy, r in self.in_force(now) for lim in (r.limits(now),))

    def doc(self, now: int, scope: Optional[str] = None, binding: Optional[Collection[str]] = None) -> dict:
        """The limits in force, by scope, as the lock document shows them (for one scope: the
        resumptions of the scopes that bind its orders, ``binding`` — that scope, ``global`` and,
        for an account, its venue — by default that scope and ``global``)."""
        keys = set(binding) if binding is not None else {scope, "global"}
        return {st.scope: {"policy": st.policy, "since_ts": iso_ms(st.since_ms), "day": st.day, "days": st.days,
                           "fraction": st.fraction, "max_positions": st.max_positions,
                           "max_gross_exposure": st.max_gross_exposure,
                           "steps_up_ts": iso_ms(st.until_ms) if st.until_ms is not None else None}
                for st in self.status(now) if scope is None or st.scope in keys}
