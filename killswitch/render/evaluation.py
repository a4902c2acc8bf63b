"""Render evaluations: the replay report as text, and as JSON (``format_version`` 1).

JSON shape (documented in docs/engine.md):
``{"format_version": 1, "graph": {"digest", "revision"}, "ticks": [{"now_ms", "time", "scopes": [
{"policy", "scope", "stage_before", "stage_after", "signals": {name: {"value", "reason"}},
"triggers": {name: {"condition", "firing", "pending", "reason", "thresholds"?}}, "transition", "refusals",
"plan"}]}],
"summary": {"ticks", "transitions", "orders", "notional", "net_notional", "positions_closed", "overlaps",
"final_stages", "complete", "evaluated", "unread", "incomplete"}, "complete", "accounts": [...]}`` —
``accounts`` as in ``ksctl plan -o json``: which accounts the recording's snapshots were read for,
and those that failed (reason code, message). A ``plan`` carries its ``attribution``, ``scores``
and each cancel's and order's ``send_seq`` (:mod:`.decisions`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable

from ..engine.evaluate import Evaluation, ScopeEvaluation
from ..engine.plans import Plan
from ..preview.coverage import complete
from ..preview.overlaps import Decided, close_totals
from ..preview.replay import shown_value
from .coverage import account_json, incomplete_line
from .decisions import (
    NO_SEQ,
    ActionWords,
    action_lines,
    attribution_line,
    overlap_lines,
    plan_json,
    threshold_lines,
    totals_json,
    trigger_json,
)
from .times import iso

FORMAT_VERSION = 1


def decided(ev: Evaluation) -> list[Decided]:
    """The tick's plans, for the gross and net totals (:mod:`killswitch.preview.overlaps`)."""
    return [Decided(ev.now_ms, s.policy, s.scope, s.stage_after, s.plan.decision_id, s.plan.orders)
            for s in ev.scopes if s.plan is not None]


def scope_json(s: ScopeEvaluation, send: tuple[tuple[int, ...], tuple[int, ...]] = NO_SEQ) -> dict:
    return {
        "policy": s.policy,
        "scope": s.scope,
        "stage_before": s.stage_before,
        "stage_after": s.stage_after,
        "signals": {v.name: {"value": v.value, "reason": v.reason} for v in s.signals},
        "triggers": {t.name: trigger_json(t) for t in s.triggers},
        "transition": dataclasses.asdict(s.transition) if s.transition else None,
        "refusals": list(s.refusals),
        "plan": plan_json(s.plan, send) if s.plan else None,
    }


def replay_json(evaluations: Iterable[Evaluation], digest: str, revision, accounts=None) -> str:
    """``accounts``: the coverage of the recording's snapshots (:mod:`killswitch.preview.coverage`), once
    ``evaluations`` is consumed; with it the body says which accounts were read and if all were."""
    ticks = []
    transitions = orders = 0
    final: dict[str, int] = {}
    plans: list[Decided] = []
    for ev in evaluations:
        plans += decided(ev)
        ticks.append({"now_ms": ev.now_ms, "time": iso(ev.now_ms),
                      "scopes": [scope_json(s, send) for s, send in zip(ev.scopes, ev.sends())]})
        for s in ev.scopes:
            final[f"{s.policy}|{s.scope}"] = s.stage_after
            if s.transition:
                transitions += 1
            if s.plan:
                orders += len(s.plan.orders)
    body: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "graph": {"digest": digest, "revision": revision},
        "ticks": ticks,
        "summary": {"ticks": len(ticks), "transitions": transitions, "orders": orders,
                    **_totals(plans), "final_stages": dict(sorted(final.items()))},
    }
    if accounts is not None:
        done = complete(accounts)
        body = {**body, "complete": done, "accounts": [account_json(a) for a in accounts]}
        body["summary"] = {**body["summary"], "complete": done,
                           "evaluated": [a.key for a in accounts if a.failed == 0],
                           "unread": [a.key for a in accounts if a.failed],
                           "incomplete": None if done else incomplete_line(accounts, "replay")}
    return json.dumps(body, indent=1, sort_keys=False)


def _totals(plans: list[Decided]) -> dict:
    t = totals_json(close_totals(plans))
    return {"notional": t["gross"], "net_notional": t["net"], "positions_closed": t["positions"],
            "overlaps": t["overlaps"]}


def plan_lines(plan: Plan, send: tuple[tuple[int, ...], tuple[int, ...]] = NO_SEQ) -> list[str]:
    """A plan's lines; cancels and orders numbered in the order their tick sends them."""
    base = _base(plan)

    def order(mark: str, o, leg: str, kind: str) -> str:
        chunk = f" chunk {o.chunk}/{o.chunks}" if o.chunks > 1 else ""
        return (f"    order   {mark}{o.venue}/{o.account} {o.symbol}{leg} {o.side} {o.amount:g} {kind}"
                f"{chunk} ≈{o.notional:,.0f} at +{(o.not_before_ms - base) / 1000:g}s  {o.reason}  "
                f"id={o.client_order_id}")

    words = ActionWords(
        cancel=lambda mark, c: (f"    cancel  {mark}{c.venue}/{c.account} {c.which}: {len(c.order_ids)} order(s)  "
                                f"{c.reason}"),
        order=order, directive="    ",
        hedge=lambda h: f"    suggest hedge: {h.side} {h.base} ≈{h.notional:,.0f} (not sent)  {h.reason}",
        skipped="    skipped ", score="    ")
    return [f"    {attribution_line(plan.attribution)}", *action_lines(plan, words, send)]


def _base(plan: Plan) -> int:
    return min((o.not_before_ms for o in plan.orders), default=0)


def replay_text(evaluations: Iterable[Evaluation], graph_kinds: dict, verbose: bool = False) -> Iterable[str]:
    """Lines of the replay report: every stage transition with its reasons and plan."""
    last_refusal: dict[str, tuple] = {}
    ticks = transitions = orders = 0
    final: dict[str, tuple[int, str]] = {}
    plans: list[Decided] = []
    for ev in evaluations:
        ticks += 1
        plans += decided(ev)
        for s, send in zip(ev.scopes, ev.sends()):
            key = f"{s.policy} {s.scope}"
            final[key] = (s.stage_after, iso(ev.now_ms))
            kinds = graph_kinds.get(s.policy, {})
            sigs = " ".join(f"{v.name}={shown_value(v.name, v.value, kinds)}" for v in s.signals)
            if s.transition:
                transitions += 1
                t = s.transition
                head = (f"{iso(ev.now_ms)}  {key}  stage {t.from_level} → {t.to_level}"
                        + (f" {t.stage}" if t.stage else "") + f"  {t.reason}")
                yield head
                yield f"    signals {sigs}"
                firing = [tr.name for tr in s.triggers if tr.firing]
                if firing:
                    yield f"    firing  {', '.join(firing)}"
                for line in threshold_lines(s.triggers, kinds):
                    yield f"    threshold {line}"
                if t.decision_id:
                    yield f"    decision {t.decision_id}"
                if s.plan:
                    orders += len(s.plan.orders)
                    yield from plan_lines(s.plan, send)
            elif verbose:
                pend = ", ".join(f"{tr.name} {tr.pending}" for tr in s.triggers if tr.pending)
                line = f"{iso(ev.now_ms)}  {key}  stage {s.stage_after}  {sigs}"
                computed = "; ".join(threshold_lines(s.triggers, kinds))
                yield line + (f"  thresholds: {computed}" if computed else "") + (f"  pending: {pend}" if pend else "")
            refs = tuple(r.split(":", 1)[0] for r in s.refusals)
            if verbose and refs and last_refusal.get(key) != refs:
                yield f"    {'; '.join(s.refusals)}"
            last_refusal[key] = refs
    totals = close_totals(plans)
    yield from overlap_lines(totals)
    counted = f"≈{totals.gross:,.0f} notional" + (f", ≈{totals.net:,.0f} net of overlaps"
                                                    if round(totals.net) != round(totals.gross) else "")
    yield f"replayed {ticks} tick(s): {transitions} transition(s), {orders} order(s) planned ({counted})"
    for key, (level, _) in sorted(final.items()):
        yield f"  {key}: stage {level}"
