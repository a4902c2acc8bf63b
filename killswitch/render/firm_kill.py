"""The firm-wide kill as text: its preview (what each shard locks, cancels and revokes, the
shards not heard) and its progress per shard and account (``ksctl kill --firm``, ``ksctl status
--firm``). Values in, text out."""

from __future__ import annotations

from typing import Any, Mapping, Optional


def preview_text(p: Mapping[str, Any]) -> str:
    lines = [str(p.get("reason") or "")]
    lines += [f"  {line}" for line in p.get("lines") or ()]
    if p.get("allowed"):
        lines.append(f"  {p.get('release')}")
    return "\n".join(lines)


def _s(ms: Optional[int]) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f}s"


def progress_text(doc: Mapping[str, Any]) -> str:
    kill = doc.get("kill")
    if not kill:
        return "FIRM KILL: none sent"
    s = doc.get("summary") or {}
    released = doc.get("released")
    head = (f"FIRM KILL {kill.get('id')} by {kill.get('actor')}: {kill.get('reason')} — "
            + (f"RELEASED by {', '.join(released.get('approvers') or ())}" if released else "IN FORCE"))
    lines = [head,
             f"  locked {s.get('locked')}/{s.get('accounts')} (all in {_s(s.get('all_locked_ms'))}); nothing resting "
             f"{s.get('nothing_resting')}/{s.get('accounts')} (in {_s(s.get('nothing_resting_ms'))}); revoked "
             f"{s.get('revoked')}/{s.get('in_reach')} in reach (in {_s(s.get('all_revoked_ms'))})"]
    if s.get("out_of_reach"):
        lines.append(f"  OUT OF REACH (keys not revoked): {', '.join(s['out_of_reach'])}")
    if s.get("not_reached"):
        lines.append("  NOT REACHED (the shard has not taken it up; it does when heard): "
                     + ", ".join(s["not_reached"]))
    if not released:
        approvals = [a.get("approver") for a in doc.get("approvals") or ()]
        lines.append(f"  release: {len(approvals)}/{doc.get('needed')} approvals"
                     + (f" ({', '.join(str(a) for a in approvals)})" if approvals else "")
                     + "; ksctl kill --firm --release --reason R, each approver with their own token")
    for shard in doc.get("shards") or ():
        heard = "" if shard.get("heard") in (True, None) else f" (NOT HEARD: {shard.get('why')})"
        lines.append(f"  shard {shard['shard']}: {shard['state']}{heard}")
        for a in shard.get("accounts") or ():
            extra = [x for x in (a.get("resting") if "nothing resting" not in a.get("states", ()) else "",
                                 a.get("revoke") if "revoked" not in a.get("states", ()) else "") if x]
            lines.append(f"    {a['account']}: {', '.join(a.get('states') or ())}"
                         + (f" ({'; '.join(extra)})" if extra else ""))
    return "\n".join(lines)
