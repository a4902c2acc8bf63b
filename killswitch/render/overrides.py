"""Overrides as ``ksctl override list`` prints them: one line each, with what it overrides, who
asked and approved it, and until when (or how it ended). Values in, text out."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Sequence

from ..facts import stamp
from ..view import OverrideStatus


def override_line(o: OverrideStatus, reason: str) -> str:
    """An override in one line, as ``ksctl override list`` and ``ksctl status`` say it: id,
    state, what, scope, ``reason`` (each its own words of it), who asked and approved it, until
    when (or how it ended)."""
    who = f"requested by {o.requester}, approvals {o.approvals}/{o.needed}" + (
        f" ({', '.join(o.approvers)})" if o.approvers else "")
    tail = f"until {stamp(o.expires_ms)}" if o.state != "ended" else \
        f"ended {stamp(o.ended_ms or o.expires_ms)} ({o.end_reason}{', by ' + o.ended_by if o.ended_by else ''})"
    strategy = f" strategy {o.strategy}" if o.strategy else ""
    return f"{o.id} {o.state.upper()} {o.what} on {o.scope}{strategy}{reason}; {who}; {tail}"


def overrides_text(rows: Sequence[OverrideStatus]) -> str:
    """One line per override (:func:`override_line`), its reason code and its reason."""
    if not rows:
        return "no overrides"
    return "\n".join(override_line(o, f"; {o.reason_code}: {o.reason}") for o in rows)


def overrides_json(rows: Sequence[OverrideStatus]) -> str:
    return json.dumps({"overrides": [asdict(o) for o in rows]}, indent=2)
