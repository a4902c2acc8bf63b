"""Render ``ksctl drift`` (:class:`killswitch.drift.compare.Report`): text (a line per runner,
then the disagreements and a summary), JSON (``format_version`` 1) and markdown (a table for a
pull request or an issue). Formats values only: it must not read, compare or decide exit codes.
"""

from __future__ import annotations

import json
from typing import Optional, Sequence

from ..drift.compare import Report, Verdict, short
from ..drift.runners import Posted
from .times import iso

FORMAT_VERSION = 1
WORDS = {"in_sync": "IN SYNC", "behind": "BEHIND", "diverged": "DIVERGED", "reload_failing": "RELOAD FAILING",
         "not_heard": "NOT HEARD", "old_api": "OLD API"}


def _where(v: Verdict) -> str:
    parts = [f"shard {v.shard}" if v.shard else "", v.holder or ""]
    return " ".join(p for p in parts if p)


def summary_line(report: Report) -> str:
    """``drift: 2 of 16 runners (14 in sync, 1 behind, 1 not heard); 1 disagreement; against … at … (12 documents)``."""
    counts = report.counts()
    total = len(report.verdicts)
    said = ", ".join(f"{n} {WORDS[s].lower()}" for s, n in counts.items() if n)
    drifting = sum(1 for v in report.verdicts if v.drift)
    head = (f"drift: {drifting} of {total} runner{'' if total == 1 else 's'}" if report.drift
            else f"in sync: {total} runner{'' if total == 1 else 's'}")
    tail = [f"{len(report.disagreements)} disagreement{'' if len(report.disagreements) == 1 else 's'}"
            ] if report.disagreements else []
    tail += [f"{len(report.problems)} problem{'' if len(report.problems) == 1 else 's'}"] if report.problems else []
    where = f"against {report.against} at {short(report.expected_revision)} ({len(report.expected)} documents)"
    return "; ".join([f"{head} ({said})" if said else head, *tail, where])


def _posted_lines(posts: Optional[Sequence[Posted]], report: Report) -> list[str]:
    if posts is None:
        return []
    sent = {p.url for p in posts}
    lines = [f"posted to {p.url}: {p.reason}" if p.done else f"post REFUSED by {p.url}: {p.reason}" for p in posts]
    lines += [f"not posted to {v.url}: {WORDS[v.state].lower()}" for v in report.verdicts if v.url not in sent]
    return lines


def drift_text(report: Report, posts: Optional[Sequence[Posted]] = None) -> str:
    width = max((len(v.url) for v in report.verdicts), default=0)
    lines = []
    for v in report.verdicts:
        where = _where(v)
        lines.append(f"{WORDS[v.state]:<14} {v.url:<{width}}  {where + '  ' if where else ''}{v.detail}")
    lines += [f"DISAGREE       {d.detail}" for d in report.disagreements]
    lines += [f"PROBLEM        {p}" for p in report.problems]
    lines += _posted_lines(posts, report)
    lines.append(summary_line(report))
    return "\n".join(lines)


def _verdict_doc(v: Verdict) -> dict:
    return {"url": v.url, "state": v.state, "shard": v.shard, "holder": v.holder, "revision": v.revision,
            "digest": v.digest, "loaded_ms": v.loaded_ms, "behind_revision": v.behind_revision,
            "behind_commits": v.behind_commits, "since_ms": v.since_ms,
            "since_ts": iso(v.since_ms) if v.since_ms is not None else None,
            "documents": [{"path": c.path, "change": c.change} for c in v.documents],
            "reload_error": v.reload_error, "runs": v.runs, "code": v.code, "http_status": v.http,
            "detail": v.detail}


def drift_doc(report: Report, posts: Optional[Sequence[Posted]] = None) -> dict:
    return {"format_version": FORMAT_VERSION, "against": report.against,
            "expected": {"revision": report.expected_revision, "documents": [
                {"path": p, "sha256": s} for p, s in report.expected.items()]},
            "checked_ms": report.checked_ms, "history_searched": report.history_bound,
            "drift": report.drift, "counts": {s: n for s, n in report.counts().items()},
            "runners": [_verdict_doc(v) for v in report.verdicts],
            "disagreements": [{"kind": d.kind, "shard": d.shard, "values": [list(x) for x in d.values],
                               "detail": d.detail} for d in report.disagreements],
            "problems": list(report.problems),
            "posted": None if posts is None else [{"url": p.url, "done": p.done, "reason": p.reason} for p in posts],
            "summary": summary_line(report)}


def drift_json(report: Report, posts: Optional[Sequence[Posted]] = None) -> str:
    return json.dumps(drift_doc(report, posts), indent=2)


def drift_markdown(report: Report, posts: Optional[Sequence[Posted]] = None) -> str:
    from .plan import md  # the one escaping of text into markdown

    title = "drift" if report.drift else "in sync"
    lines = [f"### ksctl drift ({title})", "",
             f"Against {md(report.against)} at `{short(report.expected_revision)}` "
             f"({len(report.expected)} documents), checked {iso(report.checked_ms)}.", "",
             "| runner | shard | state | revision | since | detail |", "|---|---|---|---|---|---|"]
    for v in report.verdicts:
        state = WORDS[v.state] if not v.drift else f"**{WORDS[v.state]}**"
        lines.append(f"| {md(v.url)} | {md(v.shard or '')} | {state} | `{short(v.revision)}` | "
                     f"{iso(v.since_ms) if v.since_ms is not None else ''} | {md(v.detail)} |")
    lines.append("")
    lines += [f"- **disagree**: {md(d.detail)}" for d in report.disagreements]
    lines += [f"- **problem**: {md(p)}" for p in report.problems]
    lines += [f"- {md(x)}" for x in _posted_lines(posts, report)]
    lines += ["", md(summary_line(report))]
    return "\n".join(lines)

