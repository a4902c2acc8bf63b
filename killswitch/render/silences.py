"""Silences as ``ksctl silence list`` prints them: one line each, in force first, with who made
it, why, and when it ends (``ends in 1h59m``), or when and by whom it was expired.

Values in, text out: nothing here reads the clock (each silence carries the time its state is
as of) or talks to the runner.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Sequence

from ..silences import INCIDENT_ENDED
from ..view import SilenceStatus
from ..view.silence_preview import SilencePreview
from .ops import api_json
from .times import iso


def span(ms: int) -> str:
    """``1h59m``, ``3m10s``, ``2d4h``: a duration to the two largest units."""
    s = max(0, ms) // 1000
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3_600)
    m, s = divmod(s, 60)
    parts = [f"{v}{u}" for v, u in ((d, "d"), (h, "h"), (m, "m"), (s, "s")) if v]
    return "".join(parts[:2]) or "0s"


def silence_when(s: SilenceStatus) -> str:
    tie = f" or when {s.incident} ends" if s.ends_with_incident and s.incident else ""
    if s.state == "active":
        return f"ends in {span(s.ends_ms - s.as_of_ms)} ({iso(s.ends_ms)}){tie}"
    if s.expired_by == INCIDENT_ENDED:  # its real end, as the runner recorded it
        return f"ended with its incident {s.incident} {span(s.as_of_ms - s.ends_ms)} ago ({iso(s.ends_ms)})"
    if s.state == "pending":
        return f"starts in {span(s.starts_ms - s.as_of_ms)} ({iso(s.starts_ms)})"
    by = f" by {s.expired_by}" if s.expired_by else ""
    return f"expired{by} {span(s.as_of_ms - s.ends_ms)} ago ({iso(s.ends_ms)})"


def silence_line(s: SilenceStatus) -> str:
    return (f"{s.id}  {s.state.upper():<8} {', '.join(s.matchers)}  by {s.author}  {silence_when(s)}  "
            f"comment: {s.comment}" + (f"\n    {s.idle}" if s.idle else ""))


def preview_text(p: SilencePreview) -> str:
    """What a silence would hold back now: the summary, then each incident and page."""
    if not p.ok:
        return p.reason
    lines = [f"{', '.join(p.matchers)}: {p.summary}"]
    if p.past_text:
        lines.append(f"  {p.past_text}")
    if p.every_scope:
        lines.append("  made only when its author confirms that it spans every scope (--every-scope)")
    lines += [f"  incident {i}" for i in p.incidents]
    lines += [f"  already held back: {x}" for x in p.already]
    lines += [(f"  page {h.severity} {h.event} {h.policy or ''} {h.scope or ''} to {h.receiver}".replace("  ", " ")
               + (" (failed: not retried under the silence)" if h.failed else " (sent)" if h.sent else ""))
              for h in p.pages]
    return "\n".join(lines)


preview_json = api_json  # a silence's preview as the API wrote it


def silences_text(silences: Sequence[SilenceStatus]) -> str:
    if not silences:
        return "no silences (ksctl silence add --match policy=NAME --duration 2h --reason WHY)"
    order = {"active": 0, "pending": 1, "expired": 2}
    return "\n".join(silence_line(s) for s in sorted(silences, key=lambda s: (order.get(s.state, 3), s.ends_ms)))


def silences_json(silences: Sequence[SilenceStatus]) -> str:
    return json.dumps({"silences": [dataclasses.asdict(s) for s in silences]}, indent=1)
