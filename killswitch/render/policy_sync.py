"""Render a runner's policy sync (``policy_sync`` of the status) as ``ksctl status`` and the
console say it: one line of what runs against the files it was handed, one of the drift
checker's latest verdict.

Formats values only: it must not call the runner, print, or pick exit codes.
"""

from __future__ import annotations

from typing import Optional

from ..facts.drift import short as short_revision
from ..view.policy_sync import DriftVerdict, PolicySyncStatus
from .times import iso, seconds_text

VERDICT_WORDS = {"in_sync": "in sync", "behind": "BEHIND", "diverged": "DIVERGED",
                 "reload_failing": "RELOAD FAILING", "unknown": "UNKNOWN"}


def sync_line(ps: PolicySyncStatus) -> str:
    """``policies: rev 1a2b3c4d5e6f in sync with its files``, or since when it is not and why."""
    head = f"policies: rev {short_revision(ps.running.revision)}"
    if ps.in_sync_with_files:
        return f"{head} in sync with its files"
    since = f" at {iso(ps.since_ms)}" if ps.since_ms is not None else ""
    if ps.reload_error:
        return f"{head}: files changed{since}, not taken up: {ps.reload_error}"
    handed = f" (rev {short_revision(ps.handed.revision)})" if ps.handed is not None else ""
    return f"{head}: files changed{since}{handed}, reload pending"


def verdict_line(v: DriftVerdict, now_ms: Optional[int]) -> str:
    """``drift: BEHIND origin/main:policies/ (expects 1a2b3c4d5e6f): <detail>; checked 4m ago by ci``."""
    words = VERDICT_WORDS.get(v.state, v.state.upper())
    expects = f" (expects {short_revision(v.expected_revision)})" if v.expected_revision else ""
    docs = f" [{', '.join(v.documents[:5])}{', ...' if len(v.documents) > 5 else ''}]" if v.documents else ""
    ago = f"{seconds_text(max(0, now_ms - v.checked_ms) / 1000)} ago" if now_ms is not None else iso(v.checked_ms)
    detail = f": {v.detail}" if v.detail else ""
    posted = ""
    if v.posted_to is not None:  # taken up from the runner this one restarted or took over from
        when = (f"{seconds_text(max(0, now_ms - v.posted_ms) / 1000)} ago" if now_ms is not None and v.posted_ms
                is not None else iso(v.posted_ms) if v.posted_ms is not None else "before")
        posted = f" (posted to {v.posted_to} {when}, before this runner started or took over)"
    return f"drift: {words} against {v.against}{expects}{docs}{detail}; checked {ago} by {v.by}{posted}"


def policy_sync_lines(ps: Optional[PolicySyncStatus], now_ms: Optional[int]) -> list[str]:
    """The lines of ``ksctl status`` (none from an older runner, which does not say)."""
    if ps is None:
        return []
    lines = [sync_line(ps)]
    if ps.verdict is not None:
        lines.append(verdict_line(ps.verdict, now_ms))
    return lines
