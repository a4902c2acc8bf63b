"""The console's policy sync badges, beside the graph's digest and revision: whether the runner
runs the newest sources it was handed (in sync / FILES NOT TAKEN UP with the reload's error /
FILES CHANGED while a reload compiles), and the drift checker's latest verdict (in sync with
``origin/main:policies/`` checked N min ago / BEHIND rev X / DIVERGED: documents / ...; one taken
up from the runner this one restarted or took over from says so: posted to it, N min ago).

What it owns: :func:`policy_badges` (the template's two badges from the status's
``policy_sync``; the standing problem when the verdict is not in sync, and the verdict's
words, are :mod:`killswitch.facts.drift`'s). Also the badge of a shard in the firm strip from
what its board carries (:func:`shard_badge`, from :meth:`~killswitch.runner.sync.tracker.PolicySync.summary`) and the
strip's warning when the shards run different revisions (:func:`revisions_differ`).

Pure: no I/O, no clock, no HTML. Must not say anything the status did not.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ...facts.drift import short, verdict_words
from ...view.policy_sync import PolicySyncStatus

TONES = {"in_sync": "ok", "behind": "warn", "diverged": "bad", "reload_failing": "bad", "unknown": "warn"}


def policy_badges(ps: Optional[PolicySyncStatus], when: Callable[[Optional[int]], Optional[dict]]) -> Optional[dict]:
    """The two badges (None from a runner that does not report its policy sync)."""
    if ps is None:
        return None
    files: dict[str, Any]
    if ps.in_sync_with_files:
        files = {"tone": "ok", "words": "in sync with its files", "detail": None}
    elif ps.reload_error:
        files = {"tone": "bad", "words": "FILES NOT TAKEN UP", "detail": ps.reload_error}
    else:
        files = {"tone": "warn", "words": "FILES CHANGED, RELOAD PENDING", "detail": None}
    files["since"] = when(ps.since_ms)
    files["handed"] = short(ps.handed.revision) if ps.handed is not None else None
    verdict = None
    v = ps.verdict
    if v is not None:
        verdict = {"state": v.state, "tone": TONES.get(v.state, "warn"),
                   "words": verdict_words(v.state, v.expected_revision, v.documents, v.against),
                   "detail": v.detail, "documents": list(v.documents), "by": v.by, "checked": when(v.checked_ms),
                   "against": v.against, "posted_to": v.posted_to,
                   "posted": when(v.posted_ms) if v.posted_to is not None else None}
    return {"files": files, "verdict": verdict, "documents": len(ps.running.documents)}


def shard_badge(policy: Optional[dict]) -> Optional[dict]:
    """A shard's badge in the firm strip from its board's summary (None: it published none)."""
    if not isinstance(policy, dict):
        return None
    state = policy.get("verdict")
    if not policy.get("in_sync_with_files"):
        tone, words = "bad", "FILES NOT TAKEN UP"
    elif state not in (None, "in_sync"):
        tone, words = TONES.get(str(state), "warn"), str(state).replace("_", " ").upper()
    else:
        tone, words = "ok", "in sync" if state == "in_sync" else "files in sync"
    return {"tone": tone, "words": words, "revision": short(policy.get("revision"))}


def revisions_differ(shards: Any) -> Optional[str]:
    """The firm strip's warning when the shards run different revisions (None: they agree)."""
    seen: dict[str, list[str]] = {}
    for s in shards:
        badge = s.get("policy")
        if badge is not None:
            seen.setdefault(badge["revision"], []).append(s["shard"])
    if len(seen) < 2:
        return None
    return "the shards run different policy revisions: " + "; ".join(
        f"{rev} on {', '.join(names)}" for rev, names in sorted(seen.items()))
