"""``ksctl status --firm`` as text: the firm document of ``GET /v1/firm`` (firmlink/firm.py).

One line per shard (leader, standbys, accounts, armed, the lag of its facts, and NOT PUBLISHING
with why when the firm lease holder could not read it), the firm lease holder, then one line per
firm-wide policy scope (its stage, armed or BLIND and the accounts it did not see); then every
shard's board (``GET /v1/firm/shards``: heard or not, its incidents, lock and console URL).

Pure: formats a value.
"""

from __future__ import annotations

from typing import Any, Mapping


def firm_text(doc: Mapping[str, Any]) -> str:
    if "error" in doc:
        return f"{doc['error']}: this runner runs no shard (ksctl run --shard NAME); no firm to show"
    lease = doc.get("firm_lease") or {}
    lines = [f"firm lease: {lease.get('holder') or 'NOBODY (no firm-wide policy is evaluated)'} "
             f"(token {lease.get('token')}); asked shard {doc.get('shard')}"
             + (f"; firm view {doc['view_age_s']:.1f}s old" if doc.get("view_age_s") is not None else "")]
    lines.append("")
    lines.append(f"{'SHARD':<14} {'LEADER':<16} {'STANDBY':<16} {'ACCOUNTS':>8} {'ARMED':<6} {'FACTS AGE':>9}")
    for s in doc.get("shards", []):
        age = "-" if s.get("facts_age_s") is None else f"{s['facts_age_s']:.1f}s"
        lines.append(f"{s['shard']:<14} {s.get('leader') or 'NONE':<16} {', '.join(s.get('standby') or []) or '-':<16} "
                     f"{len(s.get('accounts') or []):>8} {'yes' if s.get('armed') else 'NO':<6} {age:>9}")
        if s.get("not_publishing"):
            lines.append(f"  NOT PUBLISHING: {s['not_publishing']}")
    policies = doc.get("policies") or []
    lines.append("")
    if not policies:
        lines.append("firm-wide policies: none evaluated yet")
    for p in policies:
        state = "armed" if p.get("armed") else f"BLIND ({p.get('coverage')})"
        lines.append(f"{p['policy']} {p['scope']}: stage {p['stage']}, {state}")
        if p.get("blind_accounts"):
            lines.append(f"  not seen: {', '.join(p['blind_accounts'])}")
        if not p.get("armed") and p.get("detail"):
            lines.append(f"  {p['detail']}")
    facts = doc.get("facts") or {}
    last = facts.get("last_publish") or {}
    lines.append("")
    lines.append(f"facts: refused {facts.get('refused', 0)} (stale token), ignored {facts.get('ignored', 0)}, "
                 f"late {facts.get('late', 0)} (FIRM_FACTS_LATE); this shard's last publish {last.get('rows', 0)} "
                 f"row(s) in {last.get('ms', 0):.1f} ms")
    return "\n".join(lines)


def board_text(doc: Mapping[str, Any]) -> str:
    """``GET /v1/firm/shards`` as text: one line per shard (heard or not and why, its leader, how
    long since it was heard, its open incidents and lock, its console), each open incident under
    it, then the firm-wide breaker and the summary line."""
    if "error" in doc:
        return doc.get("reason") or doc["error"]
    lines = [f"{'SHARD':<14} {'STATE':<10} {'LEADER':<16} {'HEARD':>7} {'INCIDENTS':>9} {'LOCK':<24} CONSOLE"]
    for s in doc.get("shards", []):
        heard = "never" if s.get("heard_age_s") is None else f"{s['heard_age_s']:.1f}s"
        count = len(s.get("incidents") or []) + int(s.get("more_incidents") or 0)
        lock = s.get("lock")
        lock_text = f"{lock['mode']} on {lock['scope']}" if lock else "-"
        state = "live" if s.get("reachable") else "NOT HEARD"
        lines.append(f"{s['shard'] + (' *' if s.get('this') else ''):<14} {state:<10} {s.get('leader') or 'NONE':<16} "
                     f"{heard:>7} {str(count) + ('' if s.get('reachable') else '?'):>9} {lock_text:<24} "
                     f"{s.get('console_url') or '-'}")
        if not s.get("reachable"):
            lines.append(f"  {s['state']}: {s['why']}; its incidents and lock as of when it was last heard")
        for i in s.get("incidents") or []:
            acked = f", acknowledged by {', '.join(i['acked_by'])}" if i.get("acked_by") else ", not acknowledged"
            lines.append(f"  {i['policy']} stage {i['level']} {i['stage']} on {i['scope']}{acked}")
        if s.get("more_incidents"):
            lines.append(f"  and {s['more_incidents']} more")
    firm = doc.get("firm") or {}
    lines.append("")
    lines.append(f"firm breaker: {firm.get('state')}" + (f": {firm['why']}" if firm.get("why") else "")
                 + (f" (held by {firm['holder']})" if firm.get("holder") and not firm.get("why") else ""))
    for p in firm.get("policies") or []:
        lines.append(f"  {p['policy']} {p['scope']}: stage {p['stage']}, "
                     + ("armed" if p.get("armed") else f"BLIND ({p.get('coverage')})"))
    lines.append("")
    lines.append((doc.get("summary") or {}).get("line", "") + " (* this shard)")
    return "\n".join(lines)
