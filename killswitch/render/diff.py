"""Render a policy diff (:class:`killswitch.preview.diff.DiffResult`) as text or JSON (``format_version`` 1).

Text reads like a unified diff of decisions: one block per tick (or span of ticks) where the
revisions differ, ``-`` lines for OLD, ``+`` lines for NEW, two-space lines for what both do;
then the stages each revision reaches at a different time, and a last line that sums it up::

    2 decisions differ: first at 2026-03-02T14:04:00Z; OLD reaches stage 1 at …, NEW at …

JSON: ``{"format_version": 1, "old": {"source", "digest", "revision"}, "new": {…},
"against": {"path", "ticks", "from", "to"}, "policy", "complete", "accounts": [{"account", "status",
"snapshots", "read", "failed", "reason", "reasons", "message", "first_failed", "last_failed", …}]
(as in ``ksctl plan -o json``: which accounts the recording's snapshots were read for),
"differences": [{"kind", "policy", "scope",
"start", "start_ms", "end", "end_ms", "ticks", "old": {"stage_before", "stage_after", "transition",
"plan"}, "new": {…}, "changes": [{"aspect", "old", "new"}]}], "milestones": [{"policy", "scope", "level",
"stage", "old", "old_ms", "new", "new_ms"}], "only_old": [{"policy", "scope"}], "only_new": […],
"summary": {"differs", "decisions", "refusal_ticks", "first", "text"}}``. A side's ``plan`` (null
when it plans nothing) is the plan as ``ksctl replay -o json`` prints it: its ``attribution``,
``scores`` and the ``send_seq`` of every cancel and order (:mod:`.decisions`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Optional, Sequence

from ..engine.stages import StageTransition
from ..facts import counted
from ..preview.coverage import AccountCoverage, complete
from ..preview.diff import Change, Decision, Difference, DiffResult, Leg, Milestone, PolicyRevision
from ..sources import revision_text
from .coverage import account_json, account_lines, incomplete_line
from .decisions import plan_json
from .evaluation import iso

FORMAT_VERSION = 1


def _duration(ms: int) -> str:
    s = abs(ms) // 1000
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{sec}s" if sec or not (h or m) else ""]
    return "".join(parts)


def _when(ms: Optional[int]) -> str:
    return iso(ms) if ms is not None else "never"


def _transition(t: StageTransition) -> str:
    name = f" {t.stage}" if t.stage else ""
    return f"stage {t.from_level} → {t.to_level}{name}  {t.reason}"


def _leg(x: Leg) -> str:
    leg = f" {x.position_side}" if x.position_side else ""
    flag = "reduce-only" if x.reduce_only else "spot"
    why = f"  {'; '.join(x.reasons)}" if x.reasons else ""
    return (f"order {x.side} {x.amount:g} {x.symbol}{leg} on {x.venue}/{x.account}  ≈{x.notional:,.0f} "
            f"in {counted(x.orders, 'order')}  {flag}{why}")


def _codes(codes: tuple[str, ...]) -> str:
    return ", ".join(codes) if codes else "none"


def _change_lines(c: Change, old: Optional[Decision], new: Optional[Decision]) -> list[str]:
    out = []
    for sign, value, d in (("-", c.old, old), ("+", c.new, new)):
        if d is None:
            if c.aspect in ("transition", "refusals"):
                out.append(f"  {sign} not evaluated by {'OLD' if sign == '-' else 'NEW'}")
        elif c.aspect == "transition":
            out.append(f"  {sign} " + (_transition(value) if value else f"no transition (stage {d.stage_after})"))
        elif c.aspect == "refusals":
            out.append(f"  {sign} stage {d.stage_after}, refusals: {_codes(value)}")
        elif value is None:
            continue
        elif c.aspect == "order":
            out.append(f"  {sign} {_leg(value)}")
        elif c.aspect == "cancel":
            out.append(f"  {sign} cancel {value}")
        elif c.aspect == "hedge":
            out.append(f"  {sign} suggest hedge {value} (never sent)")
        elif c.aspect == "skipped":
            out.append(f"  {sign} skipped {value}")
        else:
            out.append(f"  {sign} {value}")
    return out


def _difference_lines(d: Difference) -> list[str]:
    when = iso(d.start_ms) if d.ticks == 1 else f"{iso(d.start_ms)} … {iso(d.end_ms)} ({d.ticks} ticks)"
    lines = [f"@ {when}  {d.policy} {d.scope}"]
    moves = any(c.aspect in ("transition", "refusals") for c in d.changes)
    if d.old is None or d.new is None:
        if not moves:
            lines.append(f"    evaluated by {'NEW' if d.old is None else 'OLD'} only")
    elif not any(c.aspect == "transition" for c in d.changes):
        # the same transition (or none) on both sides: say which, as context for what differs
        t, a, b = d.old.transition, d.old.stage_after, d.new.stage_after
        if t is not None:
            lines.append(f"    {_transition(t)}")
        elif d.kind == "decision":
            lines.append(f"    stage {a}, no transition" if a == b
                         else f"    no transition (OLD stage {a}, NEW stage {b})")
    for c in d.changes:
        lines.extend(_change_lines(c, d.old, d.new))
    return lines


def _keyed(policy: str, scope: str, several: bool) -> str:
    return f"{policy} {scope}: " if several else ""


def _milestone_phrase(m: Milestone, several: bool) -> str:
    head = _keyed(m.policy, m.scope, several)
    old = f"never reaches stage {m.level}" if m.old_ms is None else f"reaches stage {m.level} at {iso(m.old_ms)}"
    new = "never" if m.new_ms is None else f"at {iso(m.new_ms)}"
    return f"{head}OLD {old}, NEW {new}"


def summary_line(result: DiffResult) -> str:
    """One line: how many decisions differ, the first, and when each revision reaches each stage."""
    if not result.differs:
        return f"No difference: OLD and NEW decide the same on all {counted(result.ticks, 'tick')}."
    counts = []
    if result.decisions:
        counts.append(f"{result.decisions} decision{' differs' if result.decisions == 1 else 's differ'}")
    if result.refusal_ticks:
        counts.append(f"refusals differ on {counted(result.refusal_ticks, 'tick')}")
    if not counts:
        counts.append("no decision differs")
    parts = [" and ".join(counts) + (f": first at {iso(result.first_ms)}" if result.first_ms is not None else "")]
    keys = {(m.policy, m.scope) for m in result.milestones}
    parts += [_milestone_phrase(m, len(keys) > 1) for m in result.milestones]
    only = len(result.only_old) + len(result.only_new)
    if only:
        parts.append(f"{counted(only, 'scope')} evaluated by one revision only")
    return "; ".join(parts)


def diff_text(result: DiffResult, old: PolicyRevision, new: PolicyRevision, against: str,
              accounts: Sequence[AccountCoverage] = ()) -> str:
    """``accounts``: the coverage of the recording's snapshots; when some could not be read, which
    accounts, and a last line that says the comparison is incomplete (both revisions saw the same
    gap, so neither decision there is known)."""
    lines = [f"ksctl diff: OLD {old.label} → NEW {new.label}"]
    for name, side in (("OLD", old), ("NEW", new)):
        lines.append(f"  {name} graph {side.digest} (revision {revision_text(side.revision)})")
    if old.digest == new.digest:
        lines.append("  the graphs are the same: the change does not alter behaviour")
    start, end = result.start_ms, result.end_ms  # both set once a tick was compared
    span = f", {iso(start)} to {iso(end)}" if start is not None and end is not None else ""
    lines += [f"  over {against}: {counted(result.ticks, 'tick')}{span}"]
    incomplete = not complete(accounts)
    if incomplete:
        lines += account_lines(accounts, "diff")
    lines.append("")
    for d in result.differences:
        lines += _difference_lines(d) + [""]
    for label, keys in (("OLD", result.only_old), ("NEW", result.only_new)):
        for policy, scope in keys:
            lines.append(f"! {policy} {scope}: evaluated by {label} only")
    if result.only_old or result.only_new:
        lines.append("")
    if result.milestones:
        lines.append("Stages reached at different times:")
        for m in result.milestones:
            delta = ""
            if m.old_ms is not None and m.new_ms is not None:
                delta = f"  (NEW {_duration(m.new_ms - m.old_ms)} {'earlier' if m.new_ms < m.old_ms else 'later'})"
            name = f" {m.stage}" if m.stage else ""
            lines.append(f"  {m.policy} {m.scope} stage {m.level}{name}: OLD {_when(m.old_ms)}, "
                         f"NEW {_when(m.new_ms)}{delta}")
        lines.append("")
    if not result.differs and old.digest != new.digest:
        lines.append("The graphs differ, but not in what they decide over this recording.")
    lines.append(summary_line(result))
    if incomplete:
        lines.append(incomplete_line(accounts, "diff"))
    return "\n".join(lines)


def _value(v: object) -> object:
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return dataclasses.asdict(v)
    if isinstance(v, tuple):
        return list(v)
    return v


def _side(d: Optional[Decision]) -> Optional[dict]:
    if d is None:
        return None
    return {"stage_before": d.stage_before, "stage_after": d.stage_after,
            "transition": _value(d.transition) if d.transition else None,
            "plan": plan_json(d.plan, d.send) if d.plan else None}


def diff_json(result: DiffResult, old: PolicyRevision, new: PolicyRevision, against: str,
              policy: Optional[str] = None, accounts: Sequence[AccountCoverage] = ()) -> str:
    body = {
        "format_version": FORMAT_VERSION,
        "old": {"source": old.label, "digest": old.digest, "revision": old.revision},
        "new": {"source": new.label, "digest": new.digest, "revision": new.revision},
        "against": {"path": against, "ticks": result.ticks,
                    "from": iso(result.start_ms) if result.start_ms is not None else None,
                    "to": iso(result.end_ms) if result.end_ms is not None else None},
        "policy": policy,
        "complete": complete(accounts),
        "accounts": [account_json(a) for a in accounts],
        "differences": [{
            "kind": d.kind, "policy": d.policy, "scope": d.scope,
            "start": iso(d.start_ms), "start_ms": d.start_ms, "end": iso(d.end_ms), "end_ms": d.end_ms,
            "ticks": d.ticks, "old": _side(d.old), "new": _side(d.new),
            "changes": [{"aspect": c.aspect, "old": _value(c.old), "new": _value(c.new)} for c in d.changes],
        } for d in result.differences],
        "milestones": [{
            "policy": m.policy, "scope": m.scope, "level": m.level, "stage": m.stage,
            "old": _when(m.old_ms) if m.old_ms is not None else None, "old_ms": m.old_ms,
            "new": _when(m.new_ms) if m.new_ms is not None else None, "new_ms": m.new_ms,
        } for m in result.milestones],
        "only_old": [{"policy": p, "scope": s} for p, s in result.only_old],
        "only_new": [{"policy": p, "scope": s} for p, s in result.only_new],
        "summary": {"differs": result.differs, "decisions": result.decisions, "refusal_ticks": result.refusal_ticks,
                    "first": iso(result.first_ms) if result.first_ms is not None else None,
                    "text": summary_line(result)},
    }
    return json.dumps(body, indent=1, ensure_ascii=False)
