"""``ksctl status --firm`` as text: the firm document of ``GET /v1/firm`` (runner/firm.py).

One line per shard (leader, standbys, accounts, armed, the lag of its facts, and NOT PUBLISHING
with why when the firm lease holder could not read it), the firm lease holder, then one line per
firm-wide policy scope (its stage, armed or BLIND and the accounts it did not see).

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
