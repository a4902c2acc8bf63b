"""Render a plan (:class:`killswitch.preview.plan.PlanResult`), Terraform-style: text, markdown (a pull
request comment) or JSON (``format_version`` 1).

Every format says first which accounts the plan evaluated and which it could not read (reason
code and message), and an incomplete plan says so in its last line: it never reads "no changes"
when an account was not seen, because what the policies would do there is unknown.

JSON: ``{"format_version": 1, "graph": {digest, revision}, "source": {"kind": "live"|"file", ...},
"mode": "dry-run"|"live", "complete": bool, "accounts": [{"account", "venue", "name", "status":
"evaluated"|"partly_read"|"not_read", "snapshots", "read", "failed", "reason", "reasons", "message",
"first_failed", "last_failed"}], "changes": [{"time", "policy", "scope", "from", "to", "stage",
"reason", "decision_id", "orders": [...], "cancels": [...], "directives": [...], "hedges": [...],
"skipped": [...], "attribution", "scores"}], "summary": {"changes", "orders", "cancels", "notional",
"net_notional", "positions_closed", "overlaps", "complete", "evaluated", "unread", "text"}}`` and,
when a policy sets pre-trade limits, ``"limit_breaches": [{"policy", "scope", "account",
"order_id", "code", "value", "usage", "unit", "symbol", "reason"}]`` (what the book breaks now) —
``evaluated`` and ``unread`` list ``venue/account`` keys; every order and cancel has its
``send_seq``; ``notional`` is the gross total, ``net_notional`` counts each position once
(attribution, scores, send numbers and overlaps: :mod:`.decisions`).

Formats values only: it must not fetch, evaluate or decide exit codes.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Optional

from ..compile.windows import window_rows
from ..engine.limit_tables import BookBreach
from ..preview.plan import NOT_READ, PlanResult, StageChange
from ..sources import revision_text
from .coverage import (
    account_json,
    account_lines,
    blind_json,
    blind_lines,
    blind_summary,
    incomplete_line,
    incomplete_phrase,
    unread_detail,
)
from .decisions import (
    ActionWords,
    action_lines,
    attribution_json,
    attribution_line,
    cancels_json,
    orders_json,
    overlap_lines,
    scores_json,
    threshold_lines,
    totals_json,
    trigger_json,
)
from .evaluation import iso
from .locks import window_lines

FORMAT_VERSION = 1


def change_json(c: StageChange) -> dict:
    t, p = c.transition, c.plan
    return {
        "time": iso(c.now_ms), "policy": c.policy, "scope": c.scope, "from": t.from_level,
        "to": t.to_level, "stage": t.stage, "reason": t.reason, "decision_id": t.decision_id,
        "orders": orders_json(p, c.send) if p else [],
        "cancels": cancels_json(p, c.send) if p else [],
        "directives": [dataclasses.asdict(d) for d in p.directives] if p else [],
        "hedges": [dataclasses.asdict(h) for h in p.hedges] if p else [],
        "skipped": list(p.skipped) if p else [],
        "attribution": attribution_json(p.attribution) if p else None,
        "scores": scores_json(p.scores) if p else None,
        **({"thresholds": [{"trigger": r.name, **x} for r in c.triggers
                           for x in trigger_json(r).get("thresholds", ())]}
           if any(r.thresholds for r in c.triggers) else {}),
    }


def _counts(result: PlanResult) -> tuple[int, int, int, float]:
    """Stage changes, orders, cancelled orders and the orders' notional."""
    orders = [o for c in result.changes if c.plan for o in c.plan.orders]
    cancels = sum(len(x.order_ids) for c in result.changes if c.plan for x in c.plan.cancels)
    return len(result.changes), len(orders), cancels, round(sum(o.notional for o in orders), 2)


def summary(result: PlanResult) -> dict:
    changes, orders, cancels, notional = _counts(result)
    totals = totals_json(result.totals())
    return {"changes": changes, "orders": orders, "cancels": cancels, "notional": notional,
            "net_notional": totals["net"], "positions_closed": totals["positions"], "overlaps": totals["overlaps"],
            "complete": result.complete,
            "evaluated": [a.key for a in result.evaluated], "unread": [a.key for a in result.unread],
            "text": " ".join(summary_lines(result))}


def summary_lines(result: PlanResult) -> list[str]:
    """The last lines of every format: the totals, and for an incomplete plan what it did not see."""
    s = _totals(result)
    if result.complete:
        if not result.changes:
            return ["No changes. The policies would do nothing."]
        return [f"Plan: {s}. Nothing was sent."]
    if result.read_all:  # every account read, but some trigger could not be evaluated
        head = blind_summary(result.gaps, "plan")
        if result.changes:
            return [head, f"Plan, with what could not be evaluated as unknown: {s}. Nothing was sent."]
        return [head, "No stage change where the policies could evaluate their triggers; what they would do "
                      "where they could not is unknown. Nothing was sent."]
    unread, seen = result.unread, [a for a in result.accounts if a.status != NOT_READ]
    head = incomplete_line(result.accounts, "plan")
    if result.changes:
        return [head, f"Plan, with what was not read as missing data: {s}. Nothing was sent."]
    if not seen:
        return [head, "Nothing was evaluated against an account: what the policies would do is unknown. "
                      "Nothing was sent."]
    where = (f"on {', '.join(a.key for a in unread)}" if all(a.status == NOT_READ for a in unread)
             else "with the snapshots not read")
    return [head, f"No stage change on what was read ({', '.join(a.key for a in seen)}); what the policies would "
                  f"do {where} is unknown. Nothing was sent."]


def _totals(result: PlanResult) -> str:
    changes, orders, cancels, notional = _counts(result)
    net = result.totals().net
    counted = f"≈{notional:,.0f} notional" + (f", ≈{net:,.0f} net of overlaps" if round(net) != round(notional) else "")
    return f"{changes} stage change(s), {orders} order(s) ({counted}), {cancels} cancel(s)"


def plan_json(result: PlanResult, graph, source: dict, mode: str) -> str:
    doc = {"format_version": FORMAT_VERSION, "graph": {"digest": graph.digest, "revision": graph.revision},
           "source": source, "mode": mode, "complete": result.complete,
           "accounts": [account_json(a) for a in result.accounts],
           "blind": [blind_json(b) for b in result.blind], "scopes": scopes_json(result.last),
           "changes": [change_json(c) for c in result.changes], "summary": summary(result)}
    if result.limits_set:
        doc["limit_breaches"] = [breach_json(b) for b in result.limit_breaches]
    if result.watch is not None:  # live, with the stored state: what the locks in force would do at the venue
        doc["venue_watch"] = watch_json(result.watch)
    if result.last is not None and (rows := window_rows(graph, result.last.now_ms)):
        doc["windows"] = rows  # each trading window at the plan's last tick, and its next change
    return json.dumps(doc, indent=1, ensure_ascii=False)


def breach_json(b: BookBreach) -> dict:
    return {"policy": b.policy, "scope": b.scope, "account": b.account, "order_id": b.order_id,
            **b.breach.to_json(), "reason": b.breach.reason}


def breach_lines(result: PlanResult) -> list[str]:
    """What the book breaks of the pre-trade limits now (nothing when no policy sets limits)."""
    if not result.limits_set:
        return []
    if not result.limit_breaches:
        return ["Limits: the book breaks none of the policies' pre-trade limits.", ""]
    out = [f"Limits the book breaks now ({len(result.limit_breaches)}):"]
    for b in result.limit_breaches:
        where = f"{b.policy} {b.scope}" + (f" {b.account}" if b.account and b.account != b.scope else "")
        order = f" order {b.order_id}" if b.order_id else ""
        out.append(f"  ! {where}{order}: {b.breach.reason}")
    return out + [""]


def scopes_json(ev) -> list[dict]:
    """Every policy scope of the last tick: its coverage, signal values (or why unknown) and
    triggers (the raw condition: true, false or null for unknown)."""
    if ev is None:
        return []
    return [{"policy": se.policy, "scope": se.scope, "coverage": se.coverage.state, "reason": se.coverage.reason,
             "signals": {v.name: {"value": v.value, "reason": v.reason} for v in se.signals},
             "triggers": {t.name: trigger_json(t, pending=False) for t in se.triggers}, "stage": se.stage_after}
            for se in ev.scopes]


def _where(source: dict) -> str:
    return source.get("path") or "one live snapshot per account"


def plan_text(result: PlanResult, graph, source: dict, mode: str) -> str:
    lines = [f"ksctl plan: graph {graph.short_digest} (revision {revision_text(graph.revision)}) against "
             f"{_where(source)}; mode {mode}", *account_lines(result.accounts, "plan"),
             *blind_lines(result.blind, "plan"), ""]
    if result.last is not None and (rows := window_rows(graph, result.last.now_ms)):
        lines += ["Trading windows at " + iso(result.last.now_ms) + ":", *window_lines(rows), ""]
    for c in result.changes:
        t, p = c.transition, c.plan
        head = f"  # {c.policy} {c.scope}: stage {t.from_level} → {t.to_level}"
        lines.append(head + (f" {t.stage}" if t.stage else "") + f"   at {iso(c.now_ms)}")
        lines.append(f"    reason: {t.reason}")
        lines += [f"    threshold {x}" for x in threshold_lines(c.triggers, _kinds(graph, c.policy))]
        if p and (p.orders or p.residuals or p.skipped):
            lines.append(f"    {attribution_line(p.attribution)}")
        lines += [f"  {x}" for x in action_lines(p, _DIFF_WORDS, c.send)] if p else []
        lines.append("")
    overlaps = overlap_lines(result.totals())
    watch = watch_lines(result.watch)
    lines += (overlaps + [""] if overlaps else []) + (watch + [""] if watch else []) + breach_lines(result)
    return "\n".join(lines + summary_lines(result))



def watch_lines(w: Any) -> list[str]:
    """What the locks in force would make hold at the venue now (the runner's venue watch over
    the same snapshots): the orders it would cancel and the growth it would revert."""
    if w is None or not w.violations:
        return []
    lines = [f"  # venue watch: {sum(v.action == 'cancel' for v in w.violations)} order(s) to cancel, "
             f"{len(w.reverts)} position(s) to bring back (locks in force)"]
    for v in w.violations:
        value = f"notional {v.notional:,.2f}" if v.notional is not None else "notional unknown"
        if v.action == "cancel":
            lines.append(f"  ~ cancel {v.account} {v.symbol} {v.side} {v.amount:g} ({value}) order {v.order_id} "
                         f"client id {v.client_order_id or '-'} strategy {v.strategy}: {v.reason}")
        else:
            lines.append(f"  - revert {v.account} {v.symbol} from {v.contracts:g} to {v.baseline:g} ({value}) "
                         f"strategy {v.strategy}: {v.reason}")
    lines += [f"  ! {n}" for n in w.notes]
    return lines


def watch_json(w: Any) -> Optional[dict]:
    if w is None:
        return None
    return {"violations": [v.to_json() for v in w.violations], "notes": list(w.notes),
            "reverts": [{"client_order_id": o.client_order_id, "account": f"{o.venue}/{o.account}", "symbol": o.symbol,
                         "side": o.side, "position_side": o.position_side, "amount": o.amount, "reduce_only": True}
                        for p in w.reverts for o in p.orders]}


def _kinds(graph, policy: str) -> dict:
    """The unit of each signal of ``policy`` (``ratio``, ``duration`` ...), to show its thresholds in."""
    node = next((p for p in graph.policies if p.name == policy), None)
    return {s.name: s.type.value for s in node.signals} if node is not None else {}


def _order_line(mark: str, o, leg: str, kind: str) -> str:
    chunk = f" [{o.chunk}/{o.chunks}]" if o.chunks > 1 else ""
    return (f"- {mark}{o.side:<4} {o.amount:g} {o.symbol}{leg} on {o.venue}/{o.account}{chunk}"
            f"  ≈{o.notional:,.0f}  {kind}  {o.reason}")


# the plan's lines in a diff block: ~ a cancel, - an order, + a directive, ? a hedge, ! skipped
_DIFF_WORDS = ActionWords(
    cancel=lambda mark, x: f"~ {mark}cancel {x.venue}/{x.account} {x.which}: {len(x.order_ids)} order(s)",
    order=_order_line, directive="+ ", hedge=lambda h: f"? suggest {h.side} {h.base} ≈{h.notional:,.0f} (never sent)",
    skipped="! ", score="  ")


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")


def md(text: str) -> str:
    """``text`` as literal markdown inline text: one line, every markup character escaped (a
    venue's error message must not become a link, a table cell break or HTML in a comment)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def plan_markdown(result: PlanResult, graph, source: dict, mode: str) -> str:
    state = ("complete" if result.complete else f"INCOMPLETE, {incomplete_phrase(result.accounts)}"
             if not result.read_all else f"INCOMPLETE, {len(result.gaps)} policy scope(s) not evaluated")
    lines = [f"### ksctl plan ({state})", "",
             f"Graph `{graph.short_digest}` (revision `{revision_text(graph.revision)}`) against "
             f"{md(_where(source))}; mode {mode}.", ""]
    if result.accounts:
        lines += ["| account | status | snapshots read | reason | message |", "|---|---|---|---|---|"]
        for a in result.accounts:
            status = a.status.replace("_", " ")
            lines.append(f"| {md(a.key)} | {status if a.failed == 0 else f'**{status}**'} | "
                         f"{a.read} of {a.snapshots} | {md(unread_detail(a)) if a.failed else ''} | "
                         f"{md(a.message) if a.message else ''} |")
    else:
        lines.append("No account snapshot in the source.")
    lines.append("")
    blind = blind_lines(result.blind, "plan")
    if blind:
        lines += [md(blind[0]) if not blind[0].startswith("  ") else "- " + md(blind[0].strip()), "",
                  *("- " + md(x.strip()) for x in blind[1:]), ""]
    if result.last is not None and (rows := window_rows(graph, result.last.now_ms)):
        lines += [f"Trading windows at {iso(result.last.now_ms)}:", "",
                  *(f"- {md(r['policy'])}: {md(r['text'])}" for r in rows), ""]
    for c in result.changes:
        t = c.transition
        lines += [f"#### {md(c.policy)} {md(c.scope)}: stage {t.from_level} → {t.to_level}"
                  + (f" {md(t.stage)}" if t.stage else "") + f" at {iso(c.now_ms)}", "",
                  f"reason: `{t.reason.replace('`', '')}`", ""]
        lines += [f"- threshold {md(x)}" for x in threshold_lines(c.triggers, _kinds(graph, c.policy))]
        lines += [""] if any(r.thresholds for r in c.triggers) else []
        if c.plan:
            lines += ["```diff", *action_lines(c.plan, _DIFF_WORDS, c.send), "```", ""]
    overlaps = overlap_lines(result.totals())
    if overlaps:
        lines += [md(overlaps[0]), "", *(("  - " if x.startswith("      ") else "- ") + md(x.strip().lstrip("! "))
                                         for x in overlaps[1:]), ""]
    breaches = breach_lines(result)
    if breaches:
        lines += [md(breaches[0]), "", *("- " + md(x.strip().lstrip("! ")) for x in breaches[1:] if x.strip()), ""]
    last = [md(x) for x in summary_lines(result)]
    return "\n".join(lines + ([f"**{last[0]}**", *last[1:]] if not result.complete else last))
