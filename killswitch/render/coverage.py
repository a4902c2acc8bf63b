"""Render which accounts a preview read (:mod:`killswitch.coverage`): the lines every text
output shows, the JSON of an account, and the phrases an incomplete result's summary is made of.

Formats values only: it must not fetch, evaluate or decide exit codes.
"""

from __future__ import annotations

from typing import Sequence

from ..coverage import NOT_READ, AccountCoverage
from .times import iso


def plural(n: int, one: str) -> str:
    return f"{n} {one}" if n == 1 else f"{n} {one}s"


def unread_detail(a: AccountCoverage) -> str:
    """``AUTH`` (one snapshot), or ``AUTH, TIMEOUT on 3 of 100 snapshots, <first> to <last>``."""
    codes = ", ".join(a.reasons)
    first, last = a.first_failed_ms, a.last_failed_ms
    if a.snapshots <= 1 or first is None or last is None:  # the times are there once one failed
        return codes
    span = iso(first) if a.failed == 1 else f"{iso(first)} to {iso(last)}"
    return f"{codes} on {a.failed} of {plural(a.snapshots, 'snapshot')}, {span}"


def incomplete_phrase(accounts: Sequence[AccountCoverage]) -> str:
    """``1 of 2 accounts not read``, ``… not read on every snapshot`` or ``none of the 2 accounts could be read``."""
    unread, total = [a for a in accounts if a.failed], plural(len(accounts), "account")
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
    seen = [a.key if a.failed == 0 else f"{a.key} ({a.read} of {plural(a.snapshots, 'snapshot')})"
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
