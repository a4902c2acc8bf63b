"""What people did during a period, from the audit trail: the closure report's operator actions.

What it owns: one row per audited operator action — a lock, an unlock, a manual close, a silence
added, changed (extended, its comment edited) or expired, an acknowledgement, a dead man's switch
armed or disarmed, a revoke of the bots' keys and each approval of its restore, a reset approval
withdrawn, an override of a pre-trade limit requested, approved, ended or refused, a firm-wide
kill and each approval of its release, an operator's write the API refused before any command
(``api_write_refused``: no role, a refused token, a bad body) — with its
author (the authenticated identity the runner audited, ``by``), its reason or comment, its time, what
became of it (done, or the refusal's reason code) and how long it lasted, derived from later
rows of the same trail and the journal:

- a lock: until the operator's unlock of that scope, the operator's next lock of it (which
  replaces it), or its ttl, whichever came first; still in force at the period's end otherwise;
- a silence: from its start to its end (as its last extension set it), the moment it was
  expired, or the end of the incident it was made from (unless an extension untied it);
- an acknowledgement: until someone else acknowledged the incident, or the incident ended;
- a manual close: until the last of its orders had its final result (settled);
- an armed dead man's switch: until it was disarmed or armed again;
- an operator's revoke of the bots' keys: until the restore approval that made the number of
  approvers it asked for, or the next revoke of its scope;
- a firm-wide kill carried out on this shard (its ``firm_lock`` row, naming the directive every
  shard's row names): until its release lifted it here.

Pure: rows in, plain values out (times in ms and ISO text; the renderer formats durations).
Must not read the store itself (:mod:`.report` hands the rows in) or call an action done that
its row says was refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

from ..holds import unreached_text
from .incident import iso

if TYPE_CHECKING:
    from ..state.store import AuditRow

# audit kind -> the action as the report names it
ACTION_KINDS = {"manual_lock": "lock", "manual_unlock": "unlock", "manual_close_requested": "close",
                "manual_close_refused": "close",
                "silence_added": "silence", "silence_expired": "silence expired",
                "silence_changed": "silence changed", "incident_acknowledged": "ack",
                "dms_armed": "dms arm", "dms_disarmed": "dms disarm",
                "trading_revoke_requested": "revoke", "trading_revoke_dry_run": "revoke (dry run)",
                "trading_restore_approval": "restore approval", "close_rejection_accepted": "close accept",
                "reset_approval_withdrawn": "reset approval withdrawn",
                "override_requested": "override request", "override_approved": "override approval",
                "override_ended": "override end", "override_refused": "override (refused)",
                # the firm-wide kill carried out on this shard, lifted by its release, and each approval
                # of that release sent to this shard (a firm policy's firm_lock is no person's action)
                "firm_lock": "firm kill", "firm_unlock": "firm kill released",
                "firm_kill_release_approval": "kill release approval",
                # an operator's write the API refused before any command (no role, a refused token, ...)
                "api_write_refused": "write"}
OVERRIDE_KINDS = ("override_requested", "override_approved", "override_ended", "override_refused")


def _person(r: Any) -> bool:
    """Whether audit row ``r`` is an operator's action: a firm lock or unlock only when a kill's."""
    return r.kind in ACTION_KINDS and (r.kind not in ("firm_lock", "firm_unlock") or bool(r.payload.get("kill")))


def _target(kind: str, p: Mapping[str, Any]) -> str:
    if kind in OVERRIDE_KINDS:  # an override of a pre-trade limit: its id, what it does, where
        what = p.get("what") or _override_what(p)
        return " ".join(str(x) for x in (p.get("id"), what, "on" if p.get("scope") else None, p.get("scope")) if x)
    if kind in ("silence_added", "silence_expired", "silence_changed"):
        matchers = [str(m) for m in p.get("matchers") or []]
        if p.get("incident") and not any(m.startswith("incident=") for m in matchers):  # as typed, refused
            matchers.append(f"incident={p['incident']}")
        said = ", ".join(matchers)
        return f"{p['id']}: {said}" if p.get("id") else said or "-"
    if kind == "incident_acknowledged":
        return str(p.get("incident") or " ".join(str(x) for x in (p.get("policy"), p.get("scope")) if x) or "-")
    if kind in ("dms_armed", "dms_disarmed"):
        return str(p.get("source") or "-")
    if kind == "firm_lock":  # the directive every shard's row names: one trail across shards
        return f"directive {p.get('directive')}: {p.get('scope') or '-'}"
    if kind == "firm_unlock":
        return f"directive {p.get('kill')} released by directive {p.get('directive')}: {p.get('scope') or '-'}"
    if kind == "firm_kill_release_approval":
        return f"directive {p.get('directive')}" if p.get("directive") else "the kill in force"
    if kind == "close_rejection_accepted":  # the refused legs a person accepted (a refusal: what was named)
        return ", ".join(f"{x.get('symbol')} {x.get('leg')} on {x.get('account')}" for x in p.get("legs") or ()) or \
            " ".join(str(p[k]) for k in ("symbol", "leg", "account") if p.get(k)) or "-"
    if kind == "api_write_refused":  # refused before any command: what the body named, and the route
        route = str(p.get("route") or "-")
        return f"{p['target']} ({route})" if p.get("target") else route
    if kind == "reset_approval_withdrawn":  # the approval taken back: of which policy's reset, where
        return f"{p.get('policy') or '-'} {p.get('scope') or '-'}"
    return str(p.get("scope") or "-")


def _override_what(p: Mapping[str, Any]) -> str:
    kind = p.get("kind")
    if kind == "order":
        return f"release order {p.get('order')}"
    if kind == "waive":
        return f"waive {p.get('limit')}"
    return f"raise {p.get('limit')} to {p.get('raise_to')}" if kind == "raise" else ""


def _override_reason(kind: str, p: Mapping[str, Any]) -> str:
    if kind == "override_requested":
        until = f", until {iso(p['expires_ms'])}" if isinstance(p.get("expires_ms"), int) else ""
        return f"{p.get('reason_code') or ''}: {p.get('reason') or ''}{until}"
    if kind == "override_approved":
        force = f"; in force until {iso(p['expires_ms'])}" if p.get("in_force") and isinstance(
            p.get("expires_ms"), int) else ""
        return f"approval {p.get('approvals')} of {p.get('needed')}{force}"
    if kind == "override_ended":
        return f"{p.get('why') or ''} (requested by {p.get('requester') or '?'}, approved by " \
               f"{', '.join(p.get('approvers') or ()) or '-'})"
    return f"{p.get('command') or ''}: {p.get('reason_code') or ''} {p.get('reason') or ''}".strip()


def _reason(kind: str, p: Mapping[str, Any]) -> str:
    if kind == "api_write_refused":  # the same caller's and action's refusals in the window since, counted
        folded = int(p.get("folded_since_last_row") or 0) + int(p.get("folded_other") or 0)
        return f"refused by the API before any command; {folded} more since its last row" if folded else \
            "refused by the API before any command"
    if kind in OVERRIDE_KINDS:
        return _override_reason(kind, p)
    if kind in ("silence_expired", "silence_changed") and p.get("refused"):
        return ""  # (no silence of that id to describe: the outcome says why)
    if kind == "silence_expired":
        return f"silence by {p.get('author') or '?'}: {p.get('comment') or ''}".rstrip(": ")
    if kind in ("silence_added", "incident_acknowledged"):
        return str(p.get("comment") or "")
    if kind == "manual_lock":
        mode = f"{p.get('mode') or 'halted'}"
        ttl = f", ttl {p['ttl_s']:g}s" if isinstance(p.get("ttl_s"), (int, float)) else ""
        stored = f" (stored at {p['stored_at']} while no runner led, request {p.get('request')})" \
            if p.get("stored_at") else ""
        return f"{mode}{ttl}: {p.get('reason') or ''}{stored}"
    if kind == "dms_armed":
        return f"timeout {p.get('timeout_s')}s"
    if kind == "manual_close_requested":
        return f"{p.get('reason') or ''} ({p.get('orders', 0)} order(s) planned)"
    if kind == "silence_changed":
        return "; ".join(_changed(p))
    if kind in ("trading_revoke_requested", "trading_revoke_dry_run"):
        # the accounts it revoked apart from those its scope reached without a switch (never revoked)
        unreached = [str(a) for a in p.get("out_of_reach") or ()]
        reached = ", ".join(str(a) for a in p.get("accounts") or () if str(a) not in unreached)
        said = [f"accounts {reached}" if reached else ""] if not unreached else \
            [f"revoked {reached or 'no account'}", *(unreached_text(a) for a in unreached)]
        needs = p.get("approvals")
        return (f"{p.get('reason') or ''}" + (f" ({'; '.join(said)})" if any(said) else "")
                + (f"; its restore needs {needs} approver(s)" if needs else ""))
    return str(p.get("reason") or "")


def _changed(p: Mapping[str, Any]) -> list[str]:
    """A silence's change in words: its new end (and that it no longer ends with its incident), its comment."""
    out = []
    ends, tied, comment = p.get("ends_ms") or {}, p.get("ends_with_incident") or {}, p.get("comment") or {}
    if isinstance(ends, Mapping) and ends.get("after") != ends.get("before") and isinstance(ends.get("after"), int):
        was = f" (was {iso(ends['before'])})" if isinstance(ends.get("before"), int) else ""
        out.append(f"until {iso(ends['after'])}{was}")
    if isinstance(tied, Mapping) and tied.get("before") and not tied.get("after"):
        out.append("no longer ends with its incident")
    if isinstance(comment, Mapping) and comment.get("after") != comment.get("before"):
        out.append(f"comment: {comment.get('after') or ''}")
    return out or ["unchanged"]


def operator_actions(rows: Sequence[Any], until_ms: int, proven: Callable[[int], bool],
                     settled: Mapping[str, int], incident_ends: Mapping[str, int],
                     results: Optional[Mapping[str, Sequence[tuple[Optional[str], Optional[str]]]]] = None
                     ) -> list[dict]:
    """The actions among ``rows`` (audit rows, chain order), each with how long it lasted.
    ``settled``: a manual close's id -> when its last order became final; ``incident_ends``: an
    incident -> when it ended (reset, escalation, re-entry) within the period; ``results``: a
    manual close's id -> each of its orders' (status, what the venue said where it refused): a
    close whose orders the venue refused is ``failed``, never ``done``."""
    mine = [r for r in rows if _person(r)]
    out = []
    for i, r in enumerate(mine):
        p = r.payload
        refused = p.get("refused")
        end, how = (None, None) if refused else _end(r, mine[i + 1:], settled, incident_ends)
        ongoing = not refused and r.kind in ("manual_lock", "silence_added", "incident_acknowledged", "dms_armed",
                                             "firm_lock", "trading_revoke_requested") \
            and (end is None or end > until_ms)  # a silence or a ttl that ends after the period: not over yet
        if ongoing:
            end, how = until_ms, "in force at the period's end"
        api = r.kind == "api_write_refused"
        out.append({"at": iso(r.ts_ms), "ts_ms": r.ts_ms, "action": p.get("action") if api else ACTION_KINDS[r.kind],
                    "kind": r.kind, "target": _target(r.kind, p),
                    "by": p.get("by") or (f"no identity ({p.get('source')})" if api else None) or p.get("approver")
                    or p.get("requester") or p.get("actor"),
                    "reason": _reason(r.kind, p),
                    "outcome": f"refused: {str(refused).split(':', 1)[0]}" if refused else
                    f"done: approval {p['approval']}" if r.kind == "trading_restore_approval" and p.get("approval") else
                    _close_outcome((results or {}).get(str(p.get("id")), ())) if r.kind == "manual_close_requested"
                    else "done",
                    "refusal": refused, "duration_ms": None if end is None else max(0, end - _start(r)),
                    "ended": how, "verified": proven(r.seq)})
    return out


def _close_outcome(orders: Sequence[tuple[Optional[str], Optional[str]]]) -> str:
    """``done``, or ``failed: 2 of 2 orders rejected by the venue: -1106 Parameter 'reduceOnly' sent
    when not required.`` (``partly failed`` where some filled), from a manual close's orders."""
    refused = [said or "" for status, said in orders if status in ("rejected", "failed")]
    if not refused:
        return "done"
    words = sorted(set(s for s in refused if s))
    verdict = "failed" if len(refused) == len(orders) else "partly failed"
    return (f"{verdict}: {len(refused)} of {len(orders)} orders rejected by the venue"
            + (f": {'; '.join(words)}" if words else ""))


def _start(r: AuditRow) -> int:
    starts = r.payload.get("starts_ms")
    return int(starts) if r.kind == "silence_added" and isinstance(starts, int) else r.ts_ms


def _end(r: AuditRow, later: Sequence[AuditRow], settled: Mapping[str, int], incident_ends: Mapping[str, int]
         ) -> tuple[Optional[int], Optional[str]]:
    """When the action ``r`` stopped holding and how, from the rows after it; (None, None) when
    it has no duration (an unlock, a disarm, an expiry) or it did not end in the period."""
    p = r.payload
    done = [x for x in later if not x.payload.get("refused")]
    if r.kind == "manual_lock":
        ends = []
        if isinstance(p.get("ttl_s"), (int, float)):
            ends.append((r.ts_ms + int(round(p["ttl_s"] * 1000)), "its ttl ran out"))
        for x in done:
            same = x.payload.get("scope") == p.get("scope")
            if same and x.kind == "manual_lock":
                ends.append((x.ts_ms, f"replaced by {x.payload.get('by') or 'another'}'s lock"))
                break
            if same and x.kind == "manual_unlock" and "operator" in (x.payload.get("lifted") or ["operator"]):
                ends.append((x.ts_ms, f"unlocked by {x.payload.get('by') or '?'}"))
                break
        return min(ends, key=lambda e: e[0]) if ends else (None, None)
    if r.kind == "firm_lock":  # a kill's: until its release lifted it here
        lifted = next((x for x in done if x.kind == "firm_unlock" and x.payload.get("kill") == p.get("directive")
                       and x.payload.get("scope") == p.get("scope")), None)
        if lifted is None:
            return None, None
        return lifted.ts_ms, f"released by {', '.join(str(a) for a in lifted.payload.get('approvers') or ()) or '?'}"
    if r.kind == "silence_added":
        return _silence_end(p, done, incident_ends)
    if r.kind == "trading_revoke_requested":
        return _revoke_end(p, done)
    if r.kind == "incident_acknowledged":  # until the incident ended: another's acknowledgement shares it
        ended = incident_ends.get(str(p.get("incident")))
        return (ended, "the incident ended") if ended is not None else (None, None)
    if r.kind == "manual_close_requested":
        at = settled.get(str(p.get("id")))
        return (at, "its orders settled") if at is not None else (None, None)
    if r.kind == "dms_armed":
        nxt = next((x for x in done if x.kind in ("dms_armed", "dms_disarmed")
                    and x.payload.get("source") == p.get("source")), None)
        if nxt is None:
            return None, None
        return nxt.ts_ms, f"disarmed by {nxt.payload.get('by') or '?'}" if nxt.kind == "dms_disarmed" else "armed again"
    return None, None


def _revoke_end(p: Mapping[str, Any], done: Sequence[AuditRow]) -> tuple[Optional[int], Optional[str]]:
    """When an operator's revoke was lifted: at the restore approval that made the number it
    asked for (distinct approvers, given after it), or at the next revoke of its scope (which
    sets the hold again and asks for its approvals anew)."""
    asked = p.get("approvals")
    needed = asked if isinstance(asked, int) else 1
    approvers: list[str] = []
    for x in done:
        if x.payload.get("scope") != p.get("scope"):
            continue
        if x.kind == "trading_revoke_requested":
            return x.ts_ms, f"revoked again by {x.payload.get('by') or '?'}"
        if x.kind == "trading_restore_approval" and not x.payload.get("orphaned"):
            who = str(x.payload.get("approver") or "?")
            if who not in approvers:
                approvers.append(who)
            if len(approvers) >= needed:
                return x.ts_ms, f"restored with the approval of {', '.join(approvers)}"
    return None, None


def _silence_end(p: Mapping[str, Any], done: Sequence[AuditRow], incident_ends: Mapping[str, int]
                 ) -> tuple[Optional[int], Optional[str]]:
    """When a silence ended: expired, at its end as its last extension set it, or with the
    incident it was made from (unless an extension untied it from that incident first)."""
    sid = p.get("id")
    expired = next((x for x in done if x.kind == "silence_expired" and x.payload.get("id") == sid), None)
    ends_ms = p.get("ends_ms") if isinstance(p.get("ends_ms"), int) else None
    untied_ms = None
    for x in done:  # its extensions, in order: each one made before its end moves it
        if x.kind != "silence_changed" or x.payload.get("id") != sid or ends_ms is not None and x.ts_ms >= ends_ms:
            continue
        after = (x.payload.get("ends_ms") or {}).get("after")
        if isinstance(after, int):
            ends_ms = after
        if not (x.payload.get("ends_with_incident") or {}).get("after", True) and untied_ms is None:
            untied_ms = x.ts_ms
    ends = [(expired.ts_ms, f"expired by {expired.payload.get('by') or '?'}")] if expired is not None else []
    if ends_ms is not None:
        ends.append((ends_ms, "ran its course"))
    incident = p.get("incident")
    gone = incident_ends.get(str(incident)) if incident else None
    if gone is not None and (untied_ms is None or gone < untied_ms):
        ends.append((gone, f"ended with its incident {incident}"))
    return min(ends, key=lambda e: e[0]) if ends else (None, None)
