"""Render a plan: what the policies would do, Terraform-style, as text or JSON (``format_version`` 1).

JSON: ``{"format_version": 1, "graph": {digest, revision}, "source": {"kind": "live"|"file", ...},
"mode": "dry-run"|"live", "changes": [{"time", "policy", "scope", "from", "to", "stage", "reason",
"decision_id", "orders": [...], "cancels": [...], "directives": [...], "hedges": [...], "skipped": [...]}],
"summary": {"changes", "orders", "cancels", "notional"}}``.
"""

from __future__ import annotations

import dataclasses
import json

from .evaluation import iso


def changes_of(evaluations) -> list[dict]:
    out = []
    for ev in evaluations:
        for s in ev.scopes:
            if s.transition is None:
                continue
            t = s.transition
            p = s.plan
            out.append({
                "time": iso(ev.now_ms), "policy": s.policy, "scope": s.scope, "from": t.from_level,
                "to": t.to_level, "stage": t.stage, "reason": t.reason, "decision_id": t.decision_id,
                "orders": [dataclasses.asdict(o) for o in p.orders] if p else [],
                "cancels": [dataclasses.asdict(c) for c in p.cancels] if p else [],
                "directives": [dataclasses.asdict(d) for d in p.directives] if p else [],
                "hedges": [dataclasses.asdict(h) for h in p.hedges] if p else [],
                "skipped": list(p.skipped) if p else [],
            })
    return out


def summary(changes: list[dict]) -> dict:
    orders = [o for c in changes for o in c["orders"]]
    return {"changes": len(changes), "orders": len(orders),
            "cancels": sum(len(x["order_ids"]) for c in changes for x in c["cancels"]),
            "notional": round(sum(o["notional"] for o in orders), 2)}


def plan_json(changes: list[dict], graph, source: dict, mode: str) -> str:
    return json.dumps({"format_version": 1, "graph": {"digest": graph.digest, "revision": graph.revision},
                       "source": source, "mode": mode, "changes": changes, "summary": summary(changes)}, indent=1)


def plan_text(changes: list[dict], graph, source: dict, mode: str) -> str:
    where = source.get("path") or "one live snapshot per account"
    lines = [f"ksctl plan: graph {graph.short_digest} (revision {graph.revision or 'not in git'}) against {where}; "
             f"mode {mode}", ""]
    for c in changes:
        head = f"  # {c['policy']} {c['scope']}: stage {c['from']} → {c['to']}"
        lines.append(head + (f" {c['stage']}" if c["stage"] else "") + f"   at {c['time']}")
        lines.append(f"    reason: {c['reason']}")
        for x in c["cancels"]:
            lines.append(f"  ~ cancel {x['venue']}/{x['account']} {x['which']}: {len(x['order_ids'])} order(s)")
        for o in c["orders"]:
            leg = f" {o['position_side']}" if o["position_side"] else ""
            chunk = f" [{o['chunk']}/{o['chunks']}]" if o["chunks"] > 1 else ""
            flag = "reduce-only" if o["reduce_only"] else "spot"
            lines.append(f"  - {o['side']:<4} {o['amount']:g} {o['symbol']}{leg} on {o['venue']}/{o['account']}{chunk}"
                         f"  ≈{o['notional']:,.0f}  {flag}  {o['reason']}")
        for d in c["directives"]:
            params = " ".join(f"{k}={v}" for k, v in d["params"].items())
            lines.append(f"  + {d['kind']} {params}".rstrip())
        for h in c["hedges"]:
            lines.append(f"  ? suggest {h['side']} {h['base']} ≈{h['notional']:,.0f} (never sent)")
        for s in c["skipped"]:
            lines.append(f"  ! {s}")
        lines.append("")
    s = summary(changes)
    if not changes:
        lines.append("No changes. The policies would do nothing.")
    else:
        lines.append(f"Plan: {s['changes']} stage change(s), {s['orders']} order(s) (≈{s['notional']:,.0f} notional), "
                     f"{s['cancels']} cancel(s). Nothing was sent.")
    return "\n".join(lines)
