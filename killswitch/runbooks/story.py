"""What became of an incident after its stage entry, from the audit trail: its runbook's ``story``.

What it owns: the part of a runbook that the stage entry could not know, read from the audit
rows from the entry on, so that every rendering (the runner's stored runbook, ``ksctl runbook
render`` after a restart) says the same thing:

- ``ended``: how the incident ended — reset (by its approvers), released (the stage reset by
  itself), escalated, stepped down or entered again — from the next stage transition of its
  policy and scope; None while it holds;
- ``removed``: the reload (or start) that removed its policy instance while the stage held
  (``policy_reloaded`` / ``policy_instances_removed`` rows: kept until reset); None otherwise;
- ``pages``: where its pages went — the receivers that took one, those that failed for good,
  those a silence held back — as the closure report counts them (:mod:`.report`), the silences
  that held them back (id, author, comment, end, from the store's silences; ``held``: which
  pages each held, receiver, event and time, and ``held_text`` saying so, with whether the
  incident's first page had gone out before: a silence made after the entry page holds back
  only what came later), ``first_out``: the incident's first page delivered, and ``handed``: each
  receiver's first page of it, how long after its event (``after``, from the receipt's
  ``latency_ms``) and who stamped the event (``source``: venue, runner);
- ``halt_breaks``: the lock violations on its scope while it was open (its own, and those under
  another's lock, each naming it) and the changes of the bots' trading permission it asked for or
  that were made on an account of its scope while it was open (an operator's revoke, its
  restore and the restore's approvals) (:func:`.halt_breaks.halt_breaks`, the report's section,
  kept to this incident).

Pure but for :func:`read_story`, which reads the rows, the silences and the journal.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..engine.guarded import within
from ..events import every_audit_row
from ..silences import INCIDENT_ENDED
from .halt_breaks import KINDS as HALT_BREAK_KINDS, halt_breaks
from .incident import iso
from .report import NOTIFICATION_KINDS, _count_receipts, _Trail

REMOVAL_KINDS = {"policy_reloaded": "reload", "policy_instances_removed": "start"}
KINDS = ("stage_transition", "reset_approval") + tuple(REMOVAL_KINDS) + NOTIFICATION_KINDS + HALT_BREAK_KINDS + (
    "trading_revoke_requested", "trading_restore_approval")
_APPROVERS = re.compile(r"approvers=([^\s;]+)")
PAGE = 5_000
HELD_SHOWN = 4  # the pages a silence held that its banner names


def ended_by(p: Mapping[str, Any], ts_ms: int, level: int) -> dict:
    """How the next transition of the incident's scope (its ``to``, ``reason``, ``decision_id``)
    ended it: a reset by its approvers (``MANUAL_RESET: … approvers=alice,bob``), a release, an
    escalation, a step down or an entry again."""
    to, reason = int(p.get("to") or 0), str(p.get("reason") or "")
    at = iso(ts_ms)
    if reason.startswith("MANUAL_RESET"):
        m = _APPROVERS.search(reason)
        by = m.group(1).split(",") if m else []
        return {"how": "reset", "at": at, "by": by, "to": to, "reason": reason,
                "text": f"reset by {', '.join(by) or 'its approvers'} at {at}"}
    if to == 0:
        how, text = "released", f"released at {at}: the stage reset by itself (`{reason}`)"
    elif to > level:
        how, text = "escalated", f"escalated to stage {to} at {at} (`{p.get('decision_id')}`)"
    elif to == level:
        how, text = "re-entered", f"entered again at {at} (`{p.get('decision_id')}`)"
    else:
        how, text = "stepped down", f"stepped down to stage {to} at {at} (`{reason}`)"
    return {"how": how, "at": at, "by": [], "to": to, "reason": reason, "text": text}


def _silence_doc(s: Any, now_ms: int, incident: str, ended_ms: Optional[int]) -> dict:
    """A silence as a runbook names it: its real end, not its planned one, when it ended with
    ``incident`` (recorded by the runner, or ``ended_ms``: when the story says the incident ended)."""
    end, by = s.ends_ms, s.expired_by
    if getattr(s, "ended_ms", None) is not None:
        end = s.ended_ms
    elif getattr(s, "tied", False) and getattr(s, "incident", None) == incident and ended_ms is not None \
            and ended_ms < s.ends_ms:
        end, by = ended_ms, INCIDENT_ENDED
    return {"id": s.id, "by": s.author, "comment": s.comment, "ends": iso(end), "over": end <= now_ms,
            "expired_by": by}


def _held_text(held: list[dict], first_out: Optional[dict]) -> str:
    """Which pages a silence held (receiver, event, when: the first :data:`HELD_SHOWN`), and that
    the incident's first page had gone out before it, when it had."""
    said = [f"{h['receiver']}'s {'/'.join(h['events']) + ' ' if h['events'] else ''}page at {h['at']}"
            for h in held[:HELD_SHOWN]]
    if len(held) > HELD_SHOWN:
        said.append(f"{len(held) - HELD_SHOWN} more")
    text = ", ".join(said)
    if first_out is not None and held and first_out["n"] < held[0]["n"]:
        text += (f"; this incident's first page had gone out at {first_out['at']} (to {first_out['receiver']}), "
                 "before the silence held any")
    return text


def incident_story(data: Mapping[str, Any], rows: Sequence[Any], silences: Iterable[Any],
                   statuses: Mapping[str, str], now_ms: int) -> dict:
    """The story of ``data`` (an incident as rendered) from ``rows`` (audit rows of
    :data:`KINDS` from its entry on, chain order), ``silences`` (the store's) and ``statuses``
    (a journaled client order id -> its status: a revert's outcome)."""
    incident, policy, scope = data["incident"], data["policy"]["name"], data["scope"]
    level = int((data.get("stage") or {}).get("level") or 0)
    created = int(data["created_ms"])
    ended: Optional[dict] = None
    end_ms = now_ms
    removed: Optional[dict] = None
    for r in rows:
        p = r.payload
        if r.kind == "stage_transition" and (p.get("policy"), p.get("scope")) == (policy, scope):
            if p.get("decision_id") != incident and r.ts_ms >= created and ended is None:
                ended, end_ms = ended_by(p, r.ts_ms, level), r.ts_ms
        elif r.kind == "reset_approval" and (p.get("policy"), p.get("scope")) == (policy, scope) \
                and str(p.get("result") or "").startswith("MANUAL_RESET") and r.ts_ms >= created and ended is None:
            ended, end_ms = ended_by({"to": 0, "reason": p.get("result")}, r.ts_ms, level), r.ts_ms
        elif r.kind in REMOVAL_KINDS and removed is None and ended is None:
            if any((x.get("policy"), x.get("scope")) == (policy, scope) and not x.get("dropped")
                   for x in p.get("removed") or ()):
                removed = {"at": iso(r.ts_ms), "by": REMOVAL_KINDS[r.kind]}
    trail = _Trail(lambda _seq: True)
    for r in rows:
        if r.kind in NOTIFICATION_KINDS and r.ts_ms <= end_ms:
            trail.read(r)
    mine: dict[str, dict] = {incident: {"notifications": {"delivered": [], "failed": [], "silenced": []}}}
    _count_receipts(trail.receipts, mine)
    counted = mine[incident]["notifications"]
    handed = counted.pop("handed", {})  # receiver → its first page's latency, from the receipt
    ids = list(dict.fromkeys(i for rec in trail.receipts if incident in rec["incidents"]
                             and rec["kind"] == "notification_silenced" for i in rec["silences"]))
    known = {s.id: s for s in silences}
    pages = {k: list(dict.fromkeys(v)) for k, v in counted.items()}
    # a receiver that failed and then took a later page of the incident did get it
    pages["failed"] = [x for x in pages["failed"] if x not in pages["delivered"]]
    pages["handed"] = [{"receiver": r, "after": f"{h['latency_ms'] / 1000:.1f} s", "after_ms": h["latency_ms"],
                        "source": h.get("cause_source") or "runner"} for r, h in handed.items()]
    # the receipts in chain order: an earlier index is an earlier page
    first = next(((n, rec) for n, rec in enumerate(trail.receipts) if incident in rec["incidents"]
                  and rec["kind"] == "notification_delivered"), None)
    first_out = None if first is None else {"receiver": first[1]["receiver"], "at": first[1]["at"], "n": first[0]}
    silenced: list[dict] = []
    for i in ids:
        doc = _silence_doc(known[i], now_ms, incident, end_ms if ended is not None else None) if i in known else \
            {"id": i, "by": None, "comment": None, "ends": None, "over": None, "expired_by": None}
        held = [{"receiver": rec["receiver"], "at": rec["at"], "n": n, "events": rec["events"]}
                for n, rec in enumerate(trail.receipts) if incident in rec["incidents"]
                and rec["kind"] == "notification_silenced" and i in rec["silences"]]
        silenced.append({**doc, "held": held, "held_text": _held_text(held, first_out)})
    pages_doc: dict[str, Any] = {**pages, "first_out": first_out, "silences": silenced}
    window = [{"incident": incident, "policy": policy, "scope": scope, "ts_ms": created, "end_ms": end_ms}]
    broke = halt_breaks(rows, statuses, window, lambda _seq: True)
    return {
        "ended": ended, "removed": removed, "pages": pages_doc,
        # its own, and those under another's lock on its scope while it was open (each names its lock)
        "halt_breaks": {"violations": [v for v in broke["violations"] if incident in (v["incident"], v["during"])],
                        # those it asked for, and any other on an account of its scope while it was
                        # open: an operator's revoke and its restore, with who, keys and approvals
                        "trading": [t for t in broke["trading"] if t["incident"] == incident
                                    or (created <= t["at_ms"] <= end_ms and within(scope, [t["account"]]))]},
    }


def read_story(store: Any, data: Mapping[str, Any], now_ms: int) -> dict:
    """:func:`incident_story` of ``data`` from ``store`` (a state store, or what a sink reads of it)."""
    created = int(data["created_ms"])
    rows = list(every_audit_row(store, created, KINDS, PAGE))
    statuses = {e.client_order_id: e.status or "pending" for e in store.journal(limit=PAGE, since=created)}
    return incident_story(data, rows, store.silences(ending_after_ms=created), statuses, now_ms)


def with_story(data: Mapping[str, Any], store: Any, now_ms: int) -> dict:
    """``data`` with its ``story`` read from ``store`` now."""
    return {**data, "story": read_story(store, data, now_ms)}


__all__ = ["KINDS", "ended_by", "incident_story", "read_story", "with_story"]
