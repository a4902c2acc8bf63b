"""Which lock binds an incident's scope and where it comes from, in words, for its runbook.

What it owns: from the lock document a runbook stores (the merged lock of the scope and, from
runners that send them, its ``holds``, the strongest first), the words section 4 says —
``by`` (``operator alice``, ``policy quick-watch stage 1``, ``dead man's switch``), ``until``
(``until ksctl unlock``, ``until <ts>``, ``until the stage is reset``), ``own``
(whether the lock that binds is this incident's stage's own, so that its reset lifts it) and
``stage_lock`` (this stage's own lock when another one binds: ``reducing, ttl 10m``) and
``others``: every other hold that binds the scope, the strongest first, in the words of the reset
preview (:func:`~killswitch.holds.others_binding`). The words are the ones ``ksctl status`` uses
(:mod:`killswitch.render.locks`). ``as_of`` (when the runner read the lock book) and
``revokes`` (the bots' keys revoked on the scope's accounts) are the document's.

Pure, and idempotent: the view is worked out again from the holds each time a runbook is
rendered (a runbook stored before the holds were kept falls back to the merged lock).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping, Optional

from ..holds import DEAD_MANS_SWITCH, OPERATOR, LockHold, held_until, holder, others_binding
from ..render.times import duration_text


def hold_of(doc: Mapping[str, Any]) -> LockHold:
    """A hold of a stored lock document (or of its ``holds``) as the lock book's words read it."""
    return LockHold(mode=str(doc.get("mode")), policy=doc.get("policy"), stage=doc.get("stage"),
                    reason=str(doc.get("reason") or ""), manual=bool(doc.get("manual")),
                    created_ts=doc.get("created_ts"), expires_ts=doc.get("expires_ts"),
                    details=dict(doc.get("details") or {}))


def _utc(text: str) -> _dt.datetime:
    """A hold's ISO time (``…Z``) as an aware datetime; ValueError for anything else."""
    t = _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if t.tzinfo is None:
        raise ValueError(f"time without a zone: {text!r}")
    return t


def _ttl(h: LockHold) -> Optional[str]:
    if h.manual or not h.expires_ts or not h.created_ts:
        return None
    try:
        return duration_text((_utc(h.expires_ts) - _utc(h.created_ts)).total_seconds())
    except ValueError:
        return None


def own_text(h: LockHold) -> str:
    """A stage's own hold: ``reducing, ttl 10m, until <ts>``, or ``halted, held until a manual reset``."""
    ttl = _ttl(h)
    return f"{h.mode}, ttl {ttl}, {held_until(h)}" if ttl else f"{h.mode}, {held_until(h)}"


def lock_view(lock: Mapping[str, Any], policy: str, level: Optional[int], scope: Optional[str] = None) -> dict:
    """``lock`` with ``by``, ``until``, ``own``, ``stage_lock`` and ``others`` (see the module)
    of the incident of ``policy``'s stage ``level`` on ``scope``."""
    out = dict(lock)
    holds = [h for h in lock.get("holds") or () if isinstance(h, Mapping)]
    out["others"] = others_binding(holds, str(scope or lock.get("scope")), policy)
    out.setdefault("as_of", None)
    out.setdefault("revokes", [])
    out.setdefault("refreshed", False)  # read again after the entry (by the runner, while it was open)
    if not lock.get("locked"):
        return out | {"by": None, "until": None, "own": False, "stage_lock": None}
    binding = hold_of(holds[0]) if holds else hold_of({
        **lock, "manual": bool(lock.get("manual")) and lock.get("policy") not in (OPERATOR, DEAD_MANS_SWITCH)})

    def mine(h: LockHold) -> bool:
        return h.policy == policy and (level is None or h.stage in (None, level))

    own = mine(binding)
    stage = next((hold_of(d) for d in holds[1:] if mine(hold_of(d))), None) if not own else None
    until = "until the stage is reset" if own and binding.manual else held_until(binding)
    return out | {"by": holder(binding), "until": until, "own": own,
                  "stage_lock": own_text(stage) if stage is not None else None}


__all__ = ["hold_of", "lock_view", "own_text"]
