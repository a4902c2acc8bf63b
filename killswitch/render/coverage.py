"""Render which accounts a preview read (:mod:`killswitch.preview.coverage`): the lines every text
output shows, the JSON of an account, and the phrases an incomplete result's summary is made of.

Formats values only: it must not fetch, evaluate or decide exit codes.
"""

from __future__ import annotations

from typing import Sequence

from ..facts import counted
from ..preview.coverage import NOT_READ, UNMATCHED_ALLOWED, AccountCoverage, BlindSpell
from .times import iso


def unread_detail(a: AccountCoverage) -> str:
    """``AUTH`` (one snapshot), or ``AUTH, TIMEOUT on 3 of 100 snapshots, <first> to <last>``."""
    codes = ", ".join(a.reasons)
    first, last = a.first_failed_ms, a.last_failed_ms
    if a.snapshots <= 1 or first is None or last is None:  # the times are there once one failed
        return codes
    span = iso(first) if a.failed == 1 else f"{iso(first)} to {iso(last)}"
    return f"{codes} on {a.failed} of {counted(a.snapshots, 'snapshot')}, {span}"


def incomplete_phrase(accounts: Sequence[AccountCoverage]) -> str:
    """``1 of 2 accounts not read``, ``… not read on every snapshot`` or ``none of the 2 accounts could be read``."""
    unread, total = [a for a in accounts if a.failed], counted(len(accounts), "account")
    if all(a.status == NOT_READ for a in accounts):
        return f"none of the {total} could be read"
    every = "" if all(a.status == NOT_READ for a in unread) else " on every snapshot"
    return f"{len(unread)} of {total} not read{every}"


def incomplete_line(accounts: Sequence[AccountCoverage], what: str) -> str:
    """``Incomplete plan: 1 of 2 accounts not read: binanceusdm/sim-main (AUTH).``"""
    keys = ", ".join(f"{a.key} ({unread_detail(a)})" for a in accounts if a.failed)
    return f"Incomplete {what}: {incomplete_phrase(accounts)}: {keys}."


def account_lines(accounts: Sequence[AccountCoverage], what: str) -> list[str]:
    """``Accounts evaluated: …`` and, when some snapshot was not read, one ``!`` line per account
    (``what``: the plan, the replay — what does not cover them)."""
    if not accounts:
        return ["Accounts evaluated: none (the source holds no account snapshot)"]
    seen = [a.key if a.failed == 0 else f"{a.key} ({a.read} of {counted(a.snapshots, 'snapshot')})"
            for a in accounts if a.status != NOT_READ]
    lines = [f"Accounts evaluated: {', '.join(seen) if seen else 'none'}"]
    unread = [a for a in accounts if a.failed]
    if unread:
        head = "Accounts" if all(a.status == NOT_READ for a in unread) else "Snapshots"
        lines.append(f"{head} NOT read (the {what} does not cover them):")
        for a in unread:
            lines.append(f"  ! {a.key}  {unread_detail(a)}" + (f": {a.message}" if a.message else ""))
    return lines


def account_json(a: AccountCoverage) -> dict:
    return {"account": a.key, "venue": a.venue, "name": a.account, "status": a.status, "snapshots": a.snapshots,
            "read": a.read, "failed": a.failed, "reason": a.reason, "reasons": list(a.reasons), "message": a.message,
            "first_failed": iso(a.first_failed_ms) if a.first_failed_ms is not None else None,
            "last_failed": iso(a.last_failed_ms) if a.last_failed_ms is not None else None}


def _minutes(ms: int) -> str:
    m = ms / 60_000
    return f"{m:.0f} min" if m >= 1 else f"{ms / 1000:.0f} s"


def blind_lines(spells: Sequence[BlindSpell], what: str) -> list[str]:
    """One ``!`` line per policy scope the preview could not evaluate, a ``~`` line per
    recording warm-up, and the policies with no account in the source."""
    gaps = [b for b in spells if b.gap and b.state == "blind"]
    lines = []
    if gaps:
        lines.append(f"Policy scopes NOT evaluated (the {what} does not know what they would do):")
    for b in gaps:
        when = iso(b.first_ms) if b.ticks == 1 else f"{b.ticks} ticks, {iso(b.first_ms)} to {iso(b.last_ms)}"
        until = "" if b.until_ms is None else f"; armed at {iso(b.until_ms)} if every tick reads"
        if b.acts_from_ms is not None and b.acts_from_ms != b.until_ms:  # a trigger can fire sooner
            until = f"; a trigger can fire again at {iso(b.acts_from_ms)}" + (until or "")
        lines.append(f"  ! {b.policy} {b.scope}: {b.reason}: triggers {', '.join(b.triggers)} cannot be evaluated "
                     f"({when}){until}")
        lines.append(f"      {b.detail}")
    for b in spells:
        if b.warmup:
            span = (b.ended_ms if b.ended_ms is not None else b.last_ms) - b.first_ms
            lines.append(f"  ~ {b.policy} {b.scope}: warm-up: triggers {', '.join(b.triggers)} could not be evaluated "
                         f"for the first {_minutes(span)} of the recording ({b.reason}); a stage change that "
                         f"needed them there is not in this {what}")
    off = [b for b in spells if b.state == "unmatched" and b.reason != UNMATCHED_ALLOWED]
    if any(b.gap for b in off):
        lines.append(f"Policies that select none of the accounts read (the {what} does not know what they "
                     "would do; a runner on these accounts pages them UNMATCHED): "
                     + ", ".join(f"{b.policy} ({b.detail})" for b in off))
    elif off:
        lines.append("Policies with no account in the source: "
                     + ", ".join(f"{b.policy} ({b.detail})" for b in off))
    ahead = [b for b in spells if b.state == "unmatched" and b.reason == UNMATCHED_ALLOWED]
    if ahead:
        lines.append("Policies that select no account, as allow_empty: true allows (prepared ahead of their "
                     "accounts): " + ", ".join(f"{b.policy} ({b.detail})" for b in ahead))
    return lines


def blind_summary(gaps: Sequence[BlindSpell], what: str) -> str:
    """``Incomplete plan: 2 policy scopes could not be evaluated: futures-book … (INSUFFICIENT_HISTORY).``"""
    keys = ", ".join(f"{b.policy}" + ("" if b.state == "unmatched" else f" {b.scope}") + f" ({b.reason})" for b in gaps)
    return f"Incomplete {what}: {counted(len(gaps), 'policy scope')} could not be evaluated: {keys}."


def blind_json(b: BlindSpell) -> dict:
    return {"policy": b.policy, "scope": b.scope, "state": b.state, "reason": b.reason, "detail": b.detail,
            "triggers": list(b.triggers), "first": iso(b.first_ms), "last": iso(b.last_ms), "ticks": b.ticks,
            "armed_at": iso(b.until_ms) if b.until_ms is not None else None,
            "can_fire_at": iso(b.acts_from_ms) if b.acts_from_ms is not None else None, "warmup": b.warmup,
            "gap": b.gap}
