"""Overrides as ``ksctl override list`` prints them: one line each, with what it overrides, who
asked and approved it, and until when (or how it ended). Values in, text out."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Sequence

from ..view import OverrideStatus
from .times import iso


def overrides_text(rows: Sequence[OverrideStatus]) -> str:
    """One line per override: id, state, what, scope, who, until (or how it ended)."""
    if not rows:
        return "no overrides"
    out = []
    for o in rows:
        who = f"requested by {o.requester}, approvals {o.approvals}/{o.needed}" + (
            f" ({', '.join(o.approvers)})" if o.approvers else "")
        tail = f"until {iso(o.expires_ms)}" if o.state != "ended" else \
            f"ended {iso(o.ended_ms or o.expires_ms)} ({o.end_reason}{', by ' + o.ended_by if o.ended_by else ''})"
        strategy = f" strategy {o.strategy}" if o.strategy else ""
        out.append(f"{o.id} {o.state.upper()} {o.what} on {o.scope}{strategy}; {o.reason_code}: {o.reason}; "
                   f"{who}; {tail}")
    return "\n".join(out)


def overrides_json(rows: Sequence[OverrideStatus]) -> str:
    return json.dumps({"overrides": [asdict(o) for o in rows]}, indent=2)
