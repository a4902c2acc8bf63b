"""The firm strip: the first thing a shard's console shows — every shard of the firm and the
firm-wide breaker, from ``GET /v1/firm/shards`` (:mod:`killswitch.firmlink.board`).

An on-call engineer in an incident on a sharded firm reads one page, not one console per shard:
one row per shard — its leader, heard or **NOT HEARD** (and why: its board or facts older than the
firm's stale bound, no leader, a new leader not yet published), how long since it was last heard,
its open incidents (stage, scope, since, acknowledged or not), its lock, its policy sync (a badge:
in sync, FILES NOT TAKEN UP, the drift verdict; a warning when the shards run different
revisions), and a link to its own console when the Accounts document (``spec.shards[].console``)
or its runner (``--external-url``) says where it is (a note when neither does). A shard not heard
is never shown calm: its row says so first, and what it last said is shown as of then ("0 known"),
never as "no incident". Then the firm-wide breaker (who holds the firm lease, each firm-wide
policy's stage and coverage; stale or unheld said so), and one summary line.

What it owns: :func:`firm_strip` (the template's rows from the board document) and
:func:`firm_alert` (the tab's alert when this runner's own book is calm but the firm is not).

Pure: no I/O, no clock, no HTML. Must not say anything the board document did not.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from .policy_badge import revisions_differ, shard_badge

# one name for a shard not heard, wherever it shows (its row, the strip's heading, the tab, the
# announcement, ksctl status --firm), with why after it
STATE_WORDS = {"SHARD_LIVE": "heard", "SHARD_STALE": "NOT HEARD (stale)", "SHARD_NO_LEADER": "NOT HEARD (no leader)",
               "SHARD_LEADER_CHANGED": "NOT HEARD (new leader, not published yet)",
               "SHARD_NEVER_PUBLISHED": "NOT HEARD (never published)"}
BREAKER_WORDS = {"FIRM_EVALUATING": "evaluating", "FIRM_VIEW_STALE": "NOT EVALUATING",
                 "FIRM_NOBODY": "NOBODY EVALUATES"}


def _lock_text(lock: Optional[dict]) -> Optional[str]:
    if not lock:
        return None
    more = int(lock.get("holds") or 1) - 1
    return f"{lock['mode']} on {lock['scope']}" + (f" (+{more} more)" if more > 0 else "")


def firm_strip(doc: dict, when: Callable[[Optional[int]], Optional[dict]]) -> dict:
    """The strip's model from the board document; ``when``: a time in milliseconds as the page
    shows it (the page model's, so that the ages keep counting)."""
    if "error" in doc:
        return {"error": doc.get("reason") or doc["error"], "shards": [], "firm": None, "line": ""}
    rows = []
    for s in doc["shards"]:
        incidents = [{**i, "since": when(i.get("since_ms")), "acked": bool(i.get("acked_by"))}
                     for i in s.get("incidents") or []]
        known = len(incidents) + int(s.get("more_incidents") or 0)
        rows.append({
            "shard": s["shard"], "this": bool(s.get("this")), "state": s["state"], "reachable": bool(s["reachable"]),
            "words": STATE_WORDS.get(s["state"], s["state"]), "why": s.get("why") or "",
            "leader": s.get("leader"), "standby": s.get("standby") or [], "heard": when(s.get("heard_ms")),
            "incidents": incidents, "more": int(s.get("more_incidents") or 0), "known": known,
            "level": int(s.get("level") or 0), "lock": _lock_text(s.get("lock")),
            "console_url": s.get("console_url"), "console_note": s.get("console_note"),
            "policy": shard_badge(s.get("policy")),  # its policy sync as its leader last published it
            "tone": "down" if not s["reachable"] else f"level-{min(int(s.get('level') or 0), 3)}"
            if s.get("level") else "ok" if not s.get("lock") else "locked",
        })
    firm = doc.get("firm") or {}
    breaker = {**firm, "words": BREAKER_WORDS.get(firm.get("state", ""), firm.get("state")),
               "ok": firm.get("state") == "FIRM_EVALUATING"}
    return {"error": None, "shards": rows, "firm": breaker, "line": (doc.get("summary") or {}).get("line", ""),
            "down": [r["shard"] for r in rows if not r["reachable"]], "revisions": revisions_differ(rows)}


def firm_alert(alert: dict, strip: dict) -> dict:
    """The tab's alert (:func:`.alerts.tab_alert`) when this runner's own book says nothing: a
    shard not heard (``SHARD desk-b NOT HEARD``), the firm unreadable, or another shard's stage."""
    if alert["state"] != "ok":
        return alert
    if strip.get("error"):
        return {**alert, "state": "stage", "level": "", "title": "FIRM UNREAD"}
    if strip["down"]:
        return {**alert, "state": "stage", "level": "",
                "title": f"SHARD{'S' if len(strip['down']) > 1 else ''} {', '.join(strip['down'])} NOT HEARD"}
    level = max((r["level"] for r in strip["shards"]), default=0)
    level = max(level, int((strip["firm"] or {}).get("level") or 0))
    if level:
        return {**alert, "state": "stage", "level": level, "title": f"FIRM STAGE {level}"}
    return alert


def kill_of(doc: Any) -> Optional[dict]:
    """The firm-wide kill's progress as the strip shows it (``GET /v1/firm/kill``), None when no
    kill was sent or it cannot be read; its lines are ``ksctl status --firm``'s."""
    if not isinstance(doc, dict) or not doc.get("kill"):
        return None
    from ...firm.kill import progress_lines

    head, *rest = progress_lines(doc)
    return {"head": head, "lines": [line.strip() for line in rest], "released": bool(doc.get("released"))}


def strip_of(doc: Any, when: Callable[[Optional[int]], Optional[dict]]) -> Optional[dict]:
    """The strip of a board document, None without one (a runner that is not a shard's)."""
    if not isinstance(doc, dict) or doc.get("error") == "FIRM_NOT_SHARDED":
        return None
    return firm_strip(doc, when)
