"""The console's page model: the runner's read answers, arranged as the page shows them.

What it owns: turning what the view answered — ``status()``, ``ready()``, ``lock_document()``,
``dms_status()``, ``triggers()``, ``incidents()`` — into plain values for the template: rows per
scope, lock and incident, times as ISO-8601 UTC with their age, origins of locks named for a
person (policy, operator, dead man's switch), and which actions a row offers. Every age is
taken against the runner's clock at the read (the lock document's ``written_ts``), never the
browser's, so a page agrees with the journal and the API.

Pure: no I/O, no clock, no HTML (the template escapes everything it is given). Must not invent
a value the view did not answer: a count or status shown is one of the view's, or counted from
the rows it answered.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Optional, Sequence

from ...sources import revision_text
from ..lock import DEAD_MANS_SWITCH, OPERATOR, iso_ms, parse_iso_ms
from ..view import IncidentStatus, RunnerStatus, TriggerStatus

FINAL_ORDER_STATUSES = ("filled", "canceled", "rejected", "expired", "failed")


def age_text(seconds: Optional[float]) -> str:
    """``45s``, ``3m 20s``, ``2h 5m``, ``1d 3h``; ``-`` for no value."""
    if seconds is None:
        return "-"
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 86_400:
        return f"{s // 3600}h {s % 3600 // 60}m" if s % 3600 // 60 else f"{s // 3600}h"
    return f"{s // 86_400}d {s % 86_400 // 3600}h" if s % 86_400 // 3600 else f"{s // 86_400}d"


def _when(ms: Optional[int], now: int) -> Optional[dict]:
    """A time as the page shows it: ISO-8601 UTC, and how long ago (or ``in`` how long)."""
    if ms is None:
        return None
    delta = (now - ms) / 1000
    return {"iso": iso_ms(ms), "ago": f"{age_text(delta)} ago" if delta >= 0 else f"in {age_text(-delta)}"}


def _when_iso(ts: Optional[str], now: int) -> Optional[dict]:
    return None if ts is None else _when(parse_iso_ms(ts), now)


def origin_of(policy: Optional[str], stage: Optional[int]) -> str:
    """Who placed a lock, for a person: the operator, the dead man's switch, or a policy's stage."""
    if policy == OPERATOR:
        return "operator"
    if policy == DEAD_MANS_SWITCH:
        return "dead man's switch"
    if stage == 0:  # spec.while_blind: held while the scope is blind
        return f"policy {policy} while blind"
    return f"policy {policy} stage {stage}" if stage is not None else f"policy {policy}"


def _number(x: Optional[float]) -> str:
    if x is None:
        return "-"
    return f"{x:,.8g}" if abs(x) < 1e15 else f"{x:.3e}"


def runbook_href(incident: str) -> str:
    return "/v1/runbooks/" + urllib.parse.quote(incident, safe="") + "?format=html"


def page_model(status: RunnerStatus, ready: tuple[Any, Any], lock: dict, dms: dict,
               triggers: Sequence[TriggerStatus], incidents: Sequence[IncidentStatus]) -> dict:
    """Everything the view template shows; see the module doc."""
    now = parse_iso_ms(lock["written_ts"])
    is_ready, why = ready
    role = "LEADER" if status.leader else "STANDBY"
    locks = _locks(lock, now)
    resuming = {(r.policy, r.scope): r for r in status.resuming}
    firing: dict[tuple[str, str], list[dict]] = {}
    for t in triggers:
        if t.firing:
            firing.setdefault((t.policy, t.scope), []).append(_trigger(t, now))
    by_incident = {(i.policy, i.scope): i for i in incidents if i.kind == "stage"}
    scopes = []
    for s in status.scopes:
        held = lock["scopes"].get(s.scope)
        inc = by_incident.get((s.policy, s.scope))
        r = resuming.get((s.policy, s.scope))
        scopes.append({
            "key": f"{s.policy}|{s.scope}", "policy": s.policy, "scope": s.scope, "level": s.stage,
            "stage": s.stage_name or ("armed" if s.stage == 0 else f"level {s.stage}"),
            "since": _when(s.entered_ms, now) if s.stage else None, "manual": s.manual,
            "firing": firing.get((s.policy, s.scope), []),
            "lock": None if held is None else {"mode": held["mode"], "origin": origin_of(held["policy"], held["stage"]),
                                               "reason": held["reason"],
                                               "expires": _when_iso(held["expires_ts"], now)},
            "resuming": None if r is None else _resume(r, now),
            "approvals": f"{len(inc.approvals)}/{inc.approvals_needed}" if inc is not None and inc.manual else None,
            "can_reset": bool(s.manual and s.stage > 0),
            "can_unlock": any(h["unlockable"] for h in locks if h["scope"] == s.scope),
        })
    pending = [i for i in incidents if i.kind == "stage" and i.manual and len(i.approvals) < i.approvals_needed]
    accounts = sorted(status.data_age_s)
    names = sorted({"global", *accounts, *(a.split("/", 1)[0] for a in accounts), *(s.scope for s in status.scopes),
                    *lock["scopes"]})
    return {
        "now": _when(now, now), "mode": status.mode, "dry_run": status.mode != "live",
        "role": role, "ready": is_ready is True, "ready_reason": str(why), "fence": status.fence,
        "digest": status.graph_digest[:12], "revision": revision_text(status.graph_revision),
        "policy_error": status.policy_error, "last_tick": _when(status.last_tick_ms, now),
        "summary": None if not lock["locked"] else {"mode": lock["mode"], "scope": lock["scope"]},
        "scopes": scopes, "triggers": [_trigger(t, now) for t in triggers], "locks": locks,
        "incidents": [_incident(i, now) for i in incidents if i.kind == "stage"],
        "closes": [_incident(i, now) for i in incidents if i.kind != "stage"],
        "pending": [_incident(i, now) for i in pending],
        "data_ages": [{"account": a, "venue": a.split("/", 1)[0], "age": age_text(status.data_age_s[a]),
                       "age_s": status.data_age_s[a]} for a in accounts],
        "resuming": [_resume(r, now) for r in status.resuming],
        "residuals": [_residual(r, now) for r in status.residuals],
        "dms": _dms(dms, now), "scope_names": names,
    }


def _trigger(t: TriggerStatus, now: int) -> dict:
    checks = [{"signal": c.signal, "op": c.op, "threshold": c.threshold, "value": c.value_text,
               "verdict": "breached" if c.breached else "not breached" if c.breached is False
               else f"unknown ({c.reason})" if c.reason else "unknown", "breached": c.breached is True}
              for c in t.checks]
    state = "firing" if t.firing else f"confirming {t.pending}" if t.pending else "quiet"
    return {"key": f"{t.policy}|{t.scope}|{t.name}", "policy": t.policy, "scope": t.scope, "name": t.name,
            "when": t.when, "firing": t.firing, "state": state, "since": _when(t.since_ms, now) if t.firing else None,
            "reason": t.reason, "checks": checks, "as_of": _when(t.as_of_ms, now)}


def _locks(lock: dict, now: int) -> list[dict]:
    out = []
    for scope, entry in sorted(lock["scopes"].items()):
        for h in entry["holds"]:
            out.append({"scope": scope, "mode": h["mode"], "origin": origin_of(h["policy"], h["stage"]),
                        "reason": h["reason"], "since": _when_iso(h["created_ts"], now),
                        "expires": _when_iso(h["expires_ts"], now), "manual": h["manual"],
                        "unlockable": h["policy"] in (OPERATOR, DEAD_MANS_SWITCH),
                        "binding": h["mode"] == entry["mode"]})
    return out


def _resume(r: Any, now: int) -> dict:
    return {"policy": r.policy, "scope": r.scope, "since": _when(r.since_ms, now), "day": r.day, "days": r.days,
            "fraction": f"{r.fraction:.0%}", "max_positions": "-" if r.max_positions is None else str(r.max_positions),
            "max_gross_exposure": _number(r.max_gross_exposure), "next": _when(r.until_ms, now)}


def _residual(r: Any, now: int) -> dict:
    return {"incident": r.incident, "account": r.account, "symbol": r.symbol, "side": r.side,
            "amount": _number(r.amount), "why": r.why, "detail": r.detail, "since": _when(r.since_ms, now)}


def _incident(i: IncidentStatus, now: int) -> dict:
    settled = sum(n for s, n in i.statuses.items() if s in FINAL_ORDER_STATUSES)
    counts = ", ".join(f"{n} {s}" for s, n in i.statuses.items())
    orders = [{"client_order_id": o.client_order_id, "account": o.account, "symbol": o.symbol, "side": o.side,
               "position_side": o.position_side or "", "amount": _number(o.amount), "reduce_only": o.reduce_only,
               "status": o.status, "filled": _number(o.filled), "avg_price": _number(o.avg_price),
               "reason": o.reason_code or "", "created": _when(o.created_ms, now),
               "updated": _when(o.updated_ms, now)} for o in i.orders]
    return {
        "key": i.incident, "id": i.incident, "kind": "stage entry" if i.kind == "stage" else "manual close",
        "policy": i.policy, "scope": i.scope, "level": i.level, "stage": i.stage_name, "since": _when(i.since_ms, now),
        "manual": i.manual, "needed": i.approvals_needed,
        "approvals": [{"approver": a.approver, "reason": a.reason, "at": _when(a.ts_ms, now)} for a in i.approvals],
        "runbook": runbook_href(i.incident) if i.runbook else None,
        "orders": orders, "orders_total": i.orders_total, "orders_shown": len(i.orders),
        "counts": counts or "no orders", "settled": settled, "open": i.orders_total - settled,
        "residuals": [_residual(r, now) for r in i.residuals],
    }


def _dms(dms: dict, now: int) -> dict:
    sources = [{"source": name, "armed": s.get("armed", False), "last_beat": age_text(s.get("last_beat_age_s")),
                "heard": s.get("last_beat_age_s") is not None,
                "timeout": age_text(s.get("timeout_s")) if s.get("timeout_s") is not None else "-",
                "fires_in": age_text(s.get("fires_in_s")) if s.get("fires_in_s") is not None else "-",
                "fired": s.get("fired", False), "locked": s.get("locked", False)}
               for name, s in sorted((dms.get("sources") or {}).items())]
    native = [{"account": k, "countdown": age_text(n.get("countdown_s")),
               "last_refresh": age_text(n.get("last_refresh_age_s")),
               "cancels_in": age_text(n.get("cancels_in_s")), "lapsed": n.get("lapsed", False),
               "supported": n.get("supported", True), "error": n.get("error") or ""}
              for k, n in sorted((dms.get("native") or {}).items())]
    listening = dms.get("listening_since_ts")
    return {"sources": sources, "native": native, "listening_since": _when_iso(listening, now)}

