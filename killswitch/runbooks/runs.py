"""Was it guarded the whole time? The runner's starts, stops and changes of leader in a period,
the gaps between them, and the reloads that removed an incident's policy instance.

Compliance asks whether a runner led (watched the books and could act) throughout the period.
The audit trail says when a runner process started and stopped (``runner_started``,
``runner_stopped``: :mod:`killswitch.runner.lease.runs`) and when a runner took the lease or lost
it (``lease_taken``, ``lease_lost``: :class:`~killswitch.runner.lease.leadership.Leadership`).
:func:`runner_runs` lists them in order and works out the gaps: from a leader's stop or its loss
of the lease to the next runner taking it (or to the period's end, when none did). A leader
whose end no row says (killed, crashed, the store unreachable at its stop) is named when the next
one takes over, with its gap not known from the trail.

:func:`removals` finds the reloads that removed an incident's policy instance (a
``policy_reloaded`` row, or ``policy_instances_removed`` at a start, whose ``removed`` keeps the
instance at its stage until reset: :mod:`killswitch.engine.removed`) and writes them into the
incident.

Pure: reads the rows given, writes nothing.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from ..sources import revision_text
from .incident import duration_text, iso

RUNNER_KINDS = ("runner_started", "runner_stopped", "lease_taken", "lease_lost")
REMOVAL_KINDS = ("policy_reloaded", "policy_instances_removed")
# listed among the runner's events, changing no leadership: a reload of the policies, with the
# graph it swapped in, its git revision (who changed them: the commit) and what it removed
LISTED_KINDS = RUNNER_KINDS + ("policy_reloaded",)


def runner_runs(rows: Sequence[Any], until_ms: int, proven: Callable[[int], bool]) -> dict:
    """``{"events": [...], "gaps": [...], "gap_s": total}`` from the period's ``rows``: each start,
    stop and change of the lease, each reload of the policies, and each time no runner led
    between two of them."""
    events: list[dict] = []
    gaps: list[dict] = []
    leader: Optional[str] = None
    ended: Optional[tuple[int, str]] = None  # when the last leader's term ended, and how
    for r in rows:
        if r.kind not in LISTED_KINDS:
            continue
        p = r.payload or {}
        holder = p.get("holder")
        events.append({"at": iso(r.ts_ms), "event": r.kind, "holder": holder, "detail": _detail(r.kind, p),
                       "verified": proven(r.seq)})
        if r.kind == "lease_taken":
            taken = p.get("taken_ms")
            at: int = taken if isinstance(taken, int) else r.ts_ms  # (its first tick audits it)
            if ended is not None and at > ended[0]:  # (taken before the loss was said: no gap)
                gaps.append(_gap(ended[0], at, ended[1], f"{holder} took the lease"))
            elif leader is not None and leader != holder:
                gaps.append({"from": None, "to": iso(at), "seconds": None,
                             "after": f"the end of {leader}'s term is not audited (stopped without a row: killed, "
                                      "crashed, or the store unreachable)", "until": f"{holder} took the lease"})
            leader, ended = holder, None
        elif r.kind in ("lease_lost", "runner_stopped") and holder is not None and holder == leader:
            how = f"{holder} lost the lease ({p.get('reason')})" if r.kind == "lease_lost" else f"{holder} stopped"
            leader, ended = None, (r.ts_ms, how)
    if ended is not None:
        gaps.append({**_gap(ended[0], until_ms, ended[1], "no runner took the lease by the period's end"),
                     "to": None})
    total = sum(g["seconds"] for g in gaps if g["seconds"] is not None)
    return {"events": events, "gaps": gaps, "gap_s": round(total, 3)}


def _gap(from_ms: int, to_ms: int, after: str, until: str) -> dict:
    return {"from": iso(from_ms), "to": iso(to_ms), "seconds": round((to_ms - from_ms) / 1000, 3), "after": after,
            "until": until, "lasted": duration_text((to_ms - from_ms) / 1000)}


def _detail(kind: str, p: dict) -> str:
    if kind == "policy_reloaded":
        removed = "; ".join(f"{x.get('policy')} {x.get('scope')}" + (
            "" if x.get("dropped") else f" (at stage {x.get('stage')}, kept until reset)")
            for x in p.get("removed") or ())
        return (f"graph {p.get('from')} → {p.get('to')}, revision {revision_text(p.get('revision'))}"
                + (f"; removed {removed}" if removed else ""))
    if kind == "lease_taken":
        return f"fence {p.get('fence')}" + (f", taken at {iso(p['taken_ms'])}" if p.get("taken_ms") else "") \
            + (f", after {p['previous']}" if p.get("previous") else "")
    if kind == "lease_lost":
        return f"fence {p.get('fence')}: {p.get('reason')}"
    role = "as leader" if p.get("leader") else "as a standby"
    return f"{role}, graph {p.get('graph')}"


def removals(rows: Sequence[Any], incidents: dict[str, dict], proven: Callable[[int], bool]) -> None:
    """Writes ``removed_by_reload`` into each incident whose policy instance a reload (or a start)
    removed, the first that did: when, the graph from → to, and that it was kept until reset."""
    for r in rows:
        if r.kind not in REMOVAL_KINDS:
            continue
        p = r.payload or {}
        for x in p.get("removed") or ():
            mine = [i for i in incidents.values() if (i["policy"], i["scope"]) == (x.get("policy"), x.get("scope"))
                    and i["ts_ms"] <= r.ts_ms]
            if not mine or x.get("dropped"):
                continue
            latest = max(mine, key=lambda i: (i["ts_ms"], i["incident"]))
            if latest.get("removed_by_reload"):  # (a later start that finds it kept says nothing new)
                continue
            latest["removed_by_reload"] = {
                "at": iso(r.ts_ms), "by": "reload" if r.kind == "policy_reloaded" else "start",
                "from": p.get("from"), "to": p.get("to") or p.get("graph"), "stage": x.get("stage"),
                "kept": "kept until reset", "verified": proven(r.seq)}


__all__ = ["LISTED_KINDS", "REMOVAL_KINDS", "RUNNER_KINDS", "removals", "runner_runs"]
