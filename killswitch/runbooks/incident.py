"""Incident data: everything a runbook says, as one plain JSON value.

An incident is one stage entry of one policy in one scope, named by its decision id
(``futures-book/binanceusdm/main/L3/e1``). Its data is built when the stage is entered, from
the transition event, the tick's report and the runner (:func:`incident_from_event`), brought
up to date while its orders settle (:func:`follow_up`: orders, positions, lock; ``updated`` and
``settled`` say when and whether), and stored with the rendered runbook, so that ``ksctl
runbook render`` renders it again with later templates and says the same thing.
:func:`.sample.sample_incident` builds the same shape from a policy alone, with made-up values at its
thresholds: what ``ksctl validate`` renders templates against, and what the golden tests pin.

The data holds names, numbers, reason codes and commands. It never holds a credential, a
notification URL or an exchange's error text: nothing here reads the adapters, the Accounts
document or the environment. Values are pre-formatted (``10.4%``, ``15m``) so that templates
stay simple and a later rendering cannot disagree with the first.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import copy
import heapq
import json
import math
import shlex
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence
from urllib.parse import quote

from .. import figures
from ..compile.graph import PolicyNode, StageNode, TriggerNode
from ..facts.rejected import accept_command
from ..facts.residuals import accepted_text
from ..figures import shortfall_text
from ..order_statuses import FINAL_STATUSES, OPEN_STATUSES as JOURNAL_OPEN_STATUSES
from ..policy.expr import ValueType
from ..policy.kinds.heartbeat_age import never_heard, unheard
from ..relatch import relatched_text
from ..render.times import duration_text as duration_text
from .lock_view import lock_view

if TYPE_CHECKING:  # pragma: no cover
    from ..events import Event, SinkContext, TickFacts

FORMAT_VERSION = 1
DEFAULT_TEMPLATE = "default.md.j2"
DEFAULT_STATE_URL = "sqlite://./killswitch-state.db"
# the journal's order statuses, plus what a runbook says of an order the journal has no answer for yet
FAILED_STATUSES = FINAL_STATUSES - {"filled"}
OPEN_STATUSES = JOURNAL_OPEN_STATUSES | {"journaled", "scheduled", "held"}  # held: waits for an earlier order
# a runbook's tables list this many rows each: the orders in the order they were sent (the most
# urgent first), the positions left the largest first; the summary counts every order and every
# position, and each order is in the journal (``ksctl history``). A runbook over 10,000 positions
# reads as one over a hundred, and its rendering on the runner's loop does not grow with the book.
ROWS = 100


# --- formatting ------------------------------------------------------------------------------


def iso(ms: Optional[int]) -> Optional[str]:
    return None if ms is None else figures.iso(ms)


def age_text(seconds: Optional[float]) -> Optional[str]:
    """An age: never negative. A negative one means a clock ahead of ours (a venue's ``ts_event``
    or a bot's beat): it reads ``0s`` and says so, instead of ``-584ms``."""
    if seconds is None:
        return None
    if seconds < 0:
        return f"0s (clock skew: their clock is {duration_text(-seconds)} ahead of the runner's)"
    return duration_text(seconds)


def value_text(value: Optional[float], vtype: Optional[ValueType | str], reason: Optional[str] = None,
               on_missing_data: Optional[str] = None) -> str:
    """A value in its unit; unknown with its ``reason``; a source never heard within its grace
    (its 0s noted NEVER_HEARD) as never heard, with when the trigger (``on_missing_data``) fires;
    one never heard past it as ``bot-a never heard: grace 3m passed without a first beat``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return unheard(reason) or (f"unknown ({reason})" if reason else "unknown")
    in_grace = never_heard(reason, on_missing_data)
    if in_grace is not None:
        return f"never heard ({in_grace})"
    t = vtype.value if isinstance(vtype, ValueType) else vtype
    if t == "ratio":
        return f"{value * 100:.2f}%"
    if t == "duration":  # duration signals are ages and latencies: never below 0
        return age_text(value) or "0s"
    if t == "bool":
        return "true" if value else "false"
    return f"{value:.4g}"


def amount_text(x: Optional[float]) -> Optional[str]:
    if x is None:
        return None
    return f"{x:,.2f}" if abs(x) >= 1000 else f"{x:.6g}"


def _num(x: Any) -> Optional[float]:
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# --- what the policy says ------------------------------------------------------------------------


def template_for(node: PolicyNode, level: int) -> Optional[str]:
    """The template a stage's runbook uses: its own ``runbook`` action, else the policy's
    ``spec.runbook``; None means the default template."""
    stage = next((s for s in node.stages if s.level == level), None)
    if stage is not None:
        for a in stage.actions:
            for template in a.asks.runbooks:
                return template
    return node.runbook


def comparisons(trigger: TriggerNode) -> list[tuple[str, str, Optional[float], str]]:
    """Every ``signal op literal`` (or ``signal op signal``) of a condition, signal on the left:
    (signal, op, threshold value, threshold text); see :func:`killswitch.policy.expr.eval.comparisons`."""
    return [(c.signal, c.op, c.threshold, c.text) for c in trigger.comparisons]


def _confirm_text(t: TriggerNode) -> Optional[str]:
    if t.confirm_ticks is not None:
        return f"{t.confirm_ticks} tick{'s' if t.confirm_ticks != 1 else ''}"
    if t.confirm_s is not None:
        return duration_text(t.confirm_s)
    return None


def action_text(kind: str, params: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in params.items() if v not in (None, [], {})}
    if not shown:
        return kind
    return kind + " " + " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in shown.items())


def _stage_doc(stage: Optional[StageNode]) -> Optional[dict]:
    if stage is None:
        return None
    return {
        "level": stage.level, "name": stage.name, "on": list(stage.on), "reset": stage.reset,
        "manual": stage.manual, "approvals": stage.approvals if stage.manual else 0,
        "cooldown": duration_text(stage.cooldown_s), "reset_after": duration_text(stage.reset_after_s),
        "actions": [{"kind": a.kind, "params": dict(a.written), "text": action_text(a.kind, a.written)}
                    for a in stage.actions],
    }


def _triggers_doc(node: PolicyNode, names: Iterable[str], values: Mapping[str, Optional[float]],
                  results: Mapping[str, Mapping[str, Any]],
                  reasons: Optional[Mapping[str, Optional[str]]] = None) -> list[dict]:
    """The triggers ``names`` with their checks; a check's value says why it is unknown (its
    signal's reason), or that its source was never heard, as the incident card does."""
    reasons = reasons or {}
    types = {s.name: s.type for s in node.signals}
    out = []
    for name in names:
        t = next((x for x in node.triggers if x.name == name), None)
        if t is None:
            continue
        r = results.get(name, {})
        recorded = r.get("thresholds") or {}
        checks = []
        for c in t.comparisons:
            v = values.get(c.signal)
            text = c.text
            if c.computed:  # the number at the tick of the entry, then what it is computed from
                key = (c.signal, c.op, c.text)
                at = recorded[key] if key in recorded else c.threshold_at(values)
                other = _num(at)
                text = f"{value_text(other, types.get(c.signal))} = {c.text}"
            else:
                other = c.threshold_at(values)
            breached = c.holds(v, other)  # as the engine compares them
            checks.append({"signal": c.signal, "op": c.op, "threshold": text, "value": v,
                           "value_text": value_text(v, types.get(c.signal), reasons.get(c.signal),
                                                    t.on_missing_data), "breached": breached,
                           "threshold_value": other})
        out.append({
            "name": t.name, "when": t.when, "for": _confirm_text(t),
            "keep_firing_for": duration_text(t.keep_firing_for_s), "on_missing_data": t.on_missing_data,
            "firing": bool(r.get("firing", False)), "pending": r.get("pending"), "reason": r.get("reason"),
            "checks": checks,
        })
    return out


def _signals_doc(node: PolicyNode, values: Mapping[str, Optional[float]], reasons: Mapping[str, Optional[str]],
                 relevant: set[str]) -> list[dict]:
    thresholds: dict[str, list[dict]] = {}
    for t in node.triggers:
        for sig, op, _, text in comparisons(t):
            thresholds.setdefault(sig, []).append({"trigger": t.name, "op": op, "threshold": text})
    out = []
    for s in node.signals:
        v = values.get(s.name)
        params = {k: v2 for k, v2 in s.written.items()}
        out.append({
            "name": s.name, "kind": s.kind, "type": s.type.value, "value": v,
            "text": value_text(v, s.type, reasons.get(s.name)), "reason": reasons.get(s.name),
            "window": params.get("window"), "params": params, "thresholds": thresholds.get(s.name, []),
            "relevant": s.name in relevant,
        })
    return out


def _next_stage(node: PolicyNode, level: int, values: Mapping[str, Optional[float]],
                results: Mapping[str, Mapping[str, Any]],
                reasons: Optional[Mapping[str, Optional[str]]] = None) -> Optional[dict]:
    higher = [s for s in node.stages if s.level > level]
    if not higher:
        return None
    nxt = min(higher, key=lambda s: s.level)
    doc = _stage_doc(nxt)
    assert doc is not None
    doc["triggers"] = _triggers_doc(node, nxt.on, values, results, reasons)
    return doc


def _closes_losing_side(stage: Optional[StageNode]) -> bool:
    """Whether ``stage`` closes or cuts the side attribution names (``close_side: losing``,
    ``reduce_top_risk`` of the losing side): the only stages whose runbook names a losing side."""
    return any(getattr(a.params, "side", None) == "losing" for a in (stage.actions if stage else ()))


def _notify_doc(node: PolicyNode, stage: Optional[StageNode]) -> list[dict]:
    routes: dict[str, str] = {}
    if node.notify_route:
        routes[node.notify_route] = "policy route"
    for a in stage.actions if stage else ():
        for n in a.asks.notices:
            routes[n.route] = f"stage action, severity {n.severity}"
    return [{"route": r, "why": why} for r, why in routes.items()]


def _resume_doc(node: PolicyNode, level: int) -> Optional[dict]:
    r = getattr(node, "resume", None)
    if r is None or level < getattr(r, "from_level", 1):
        return None
    return {
        "start": f"{r.start_fraction * 100:g}%", "step": f"x{r.step_factor:g}",
        "every": duration_text(r.step_ms / 1000), "max_positions": r.max_positions,
        "max_gross_exposure": amount_text(r.max_gross_exposure),
    }


def commands(policy: str, scope: str, incident: str, stage: Optional[StageNode], state_url: str,
             created_ms: int) -> dict:
    """The exact commands to inspect and reset, quoted for a POSIX shell."""
    day = (iso(created_ms) or "")[:10]
    state = shlex.quote(state_url)
    # no --approver: the approver is the identity of the token that runs it
    reset = f"ksctl reset --policy {shlex.quote(policy)} --scope {shlex.quote(scope)} --reason \"<what was checked>\""
    return {
        "status": "ksctl status",
        "lock": f"curl -s \"${{KS_API_URL:-http://127.0.0.1:8080}}/v1/lock?scope={quote(scope, safe='')}\"",
        "history": f"ksctl history --state {state}",
        "audit_verify": f"ksctl audit verify --state {state}",
        "reset": reset,
        "reset_times": stage.approvals if stage is not None and stage.manual else 1,
        "close_preview": f"ksctl close --scope {shlex.quote(scope)} --reason \"<why>\" --dry-run",
        "close": f"ksctl close --scope {shlex.quote(scope)} --reason \"<why>\"",
        "runbook": f"ksctl runbook render --incident {shlex.quote(incident)} --state {state}",
        "report": f"ksctl report --since {day} --state {state}",
    }


# --- the shape of an incident ------------------------------------------------------------------


def assemble(*, node: PolicyNode, incident: str, scope: str, level: int, from_level: int, reason: str,
             created_ms: int, digest: str, revision: Optional[str], mode: str,
             values: Mapping[str, Optional[float]], reasons: Mapping[str, Optional[str]],
             results: Mapping[str, Mapping[str, Any]], orders: list[dict], cancels: list[dict],
             directives: list[dict], hedges: list[dict], skipped: list[str], attribution: Optional[dict],
             positions: list[dict], positions_note: str, accounts: list[dict], lock: dict, state_url: str,
             equity: Optional[float], residuals: Sequence[dict] = (), still_open: Sequence[dict] = (),
             summary: Optional[dict] = None, positions_total: Optional[int] = None,
             continues: Optional[Mapping[str, Any]] = None) -> dict:
    """One incident as a plain value. Every builder goes through here, so every template sees
    the same keys whatever made the incident. ``orders`` and ``positions`` are the rows shown
    (at most :data:`ROWS` each); ``summary`` counts every order (:func:`order_summary`, of
    ``orders`` when not given) and ``positions_total`` every position left; ``continues``: the
    reset a stage entered at the first tick after it relatched after (a transition's data)."""
    stage = next((s for s in node.stages if s.level == level), None)
    prev = next((s for s in node.stages if s.level == from_level), None)
    fired_names = [t for t in (stage.on if stage else ()) if results.get(t, {}).get("firing")]
    relevant = {sig for t in node.triggers if t.name in (stage.on if stage else ()) for sig, *_ in comparisons(t)}
    return {
        "format_version": FORMAT_VERSION,
        "incident": incident,
        "created_ms": created_ms,
        "created": iso(created_ms),
        "mode": mode,
        "dry_run": mode != "live",
        "template": template_for(node, level),
        "policy": {
            "name": node.name, "owner": node.owner, "description": node.description,
            "labels": dict(node.labels), "source": str(node.source),
            "interval": duration_text(node.interval_s), "scope_level": node.scope.get("level"),
        },
        "graph": {"digest": digest, "short_digest": digest.split(":")[-1][:12], "revision": revision},
        "scope": scope,
        "stage": _stage_doc(stage),
        "from_stage": {"level": from_level, "name": prev.name if prev else None},
        "reason": reason,
        # entered at the first tick after a manual reset: that reset, and the incident it ended (with
        # its orders and who had it), which this one continues; None: no such reset
        "continues": {**continues, "text": relatched_text(continues)} if continues else None,
        "fired": _triggers_doc(node, fired_names, values, results, reasons),
        "triggers": _triggers_doc(node, [t.name for t in node.triggers], values, results, reasons),
        "signals": _signals_doc(node, values, reasons, relevant),
        "equity": equity,
        "equity_text": amount_text(equity),
        "actions": {
            "orders": orders, "cancels": cancels, "directives": directives, "hedges": hedges, "skipped": skipped,
            # the losing side is said only where the stage acts on it (close_side: losing, ...)
            "attribution": attribution if _closes_losing_side(stage) else None,
            "summary": summary if summary is not None else order_summary(orders),
        },
        "positions": positions,
        # positions left beyond those listed (the largest are listed, :data:`ROWS` of them)
        "positions_more": max(0, (positions_total if positions_total is not None else len(positions))
                              - len(positions)),
        "positions_note": positions_note,
        # positions the runner stopped closing (below the venue's minimum, or out of retries)
        "residuals": list(residuals),
        # orders its cancels meant to take that the venue still lists (never shown cancelled)
        "still_open": list(still_open),
        "accounts": accounts,
        # the lock with which of its holds binds and where it comes from (lock_view.py)
        "lock": lock_view(lock, node.name, level, scope),
        "next_stage": _next_stage(node, level, values, results, reasons),
        "notify": _notify_doc(node, stage),
        "resume": _resume_doc(node, level),
        "commands": commands(node.name, scope, incident, stage, state_url, created_ms),
        # set when the runner brought the runbook up to date after the stage entry (as orders settle)
        "updated": None,
        "settled": None,
        "acknowledged": None,  # who has it (ksctl ack): {"by", "at", "comment"}, set by the runbook sink
        "acknowledgements": [],  # everyone who has it, each once, oldest first: [{"by", "at", "comment"}]
        # what became of it since its entry (story.py: ended, removed, pages, halt_breaks), read
        # from the audit trail when it is rendered again; None until then
        "story": None,
    }


def _order_doc(o: Any, outcome: Any, dry_run: bool) -> dict:
    detail = None
    if outcome is not None:
        status, filled, code = outcome.status, outcome.filled, outcome.code
        # what the venue said where it refused (its code and message), as the journal keeps it
        detail = getattr(outcome, "detail", None) if status in ("rejected", "failed") else None
    else:
        status, filled, code = _unsent(dry_run), 0.0, None
    return {
        "client_order_id": o.client_order_id, "venue": o.venue, "account": o.account, "symbol": o.symbol,
        "side": o.side, "position_side": o.position_side, "amount": o.amount, "notional": round(o.notional, 2),
        "notional_text": amount_text(o.notional), "reduce_only": o.reduce_only, "limit_price": o.limit_price,
        "chunk": f"{o.chunk}/{o.chunks}", "action": o.action, "reason": o.reason, "group": o.group,
        "status": status, "filled": filled, "code": code, "detail": detail,
    }


def _unsent(dry_run: bool) -> str:
    """The status of an order with no answer yet: planned in a dry run, journaled in a live one."""
    return "not sent (dry run)" if dry_run else "journaled"


def _order_gist(status: str, notional: float, o: Any) -> dict:
    """What :func:`order_summary` reads of an order: its status, notional and leg (``o``: an
    order intent or a journal entry, both naming venue, account, symbol, side and position side).
    Every order of an incident is counted, only :data:`ROWS` of them made into rows."""
    return {"status": status, "notional": notional, "venue": o.venue, "account": o.account, "symbol": o.symbol,
            "side": o.side, "position_side": o.position_side}


def _position_doc(account: str, p: Any, contracts: float) -> dict:
    share = contracts / p.contracts if p.contracts else 0.0
    return {
        "account": account, "symbol": p.symbol, "side": p.side, "position_side": p.position_side,
        "contracts": round(contracts, 12), "notional": round(p.notional * share, 2),
        "notional_text": amount_text(p.notional * share), "mark_price": p.mark_price,
        "unrealized_pnl": round(p.unrealized_pnl * share, 2), "strategy": p.strategy,
    }


# --- from a running runner -----------------------------------------------------------------------


def incident_from_event(event: "Event", ctx: "SinkContext", report: Optional["TickFacts"]) -> dict:
    """The incident of a stage-transition event, with what the tick that made it did.

    Residual positions are the scope's positions in the tick's snapshots less what this tick's
    closes filled (the next snapshot is a tick away): the runbook says so.
    """

    data = event.data
    incident = str(data["incident"])
    policy, scope = event.labels["policy"], event.labels["scope"]
    graph = ctx.graph_of(policy)
    node = next((p for p in graph.policies if p.name == policy), None)
    if node is None:
        raise LookupError(f"policy {policy!r} of incident {incident} is in no graph this runner runs")
    level, from_level = int(data["to"]), int(data["from"])
    ev = None
    if report is not None and report.evaluation is not None:
        ev = next((s for s in report.evaluation.scopes
                   if s.transition is not None and s.transition.decision_id == incident), None)
    if ev is not None:
        values = {v.name: _num(v.value) for v in ev.signals}
        reasons = {v.name: v.reason for v in ev.signals}
        results = {t.name: {"firing": t.firing, "pending": t.pending, "reason": t.reason,
                            "thresholds": {x.key: x.value for x in t.thresholds}} for t in ev.triggers}
    else:
        values = {s["name"]: _num(s.get("value")) for s in data.get("signals", [])}
        reasons = {s["name"]: s.get("reason") for s in data.get("signals", [])}
        results = {name: {"firing": True, "pending": None, "reason": None} for name in data.get("triggers", [])}
    plan = ev.plan if ev is not None else None
    # what the venue answered, and the closes held back for an earlier order still open on their position
    outcomes = {o.client_order_id: o for o in ((report.execution.orders + report.execution.held_orders)
                                               if report is not None else [])}
    planned = plan.orders if plan else ()
    orders = [_order_doc(o, outcomes.get(o.client_order_id), ctx.dry_run) for o in planned[:ROWS]]
    summary = order_summary([_order_gist(outcomes[o.client_order_id].status if o.client_order_id in outcomes
                                         else _unsent(ctx.dry_run), o.notional, o) for o in planned])
    cancels = [{"venue": c.venue, "account": c.account, "which": c.which, "count": len(c.order_ids),
                "reason": c.reason} for c in (plan.cancels if plan else ())]
    directives = [{"kind": d.kind, "params": dict(d.params), "text": action_text(d.kind, d.params)}
                  for d in (plan.directives if plan else ())]
    hedges = [{"base": h.base, "side": h.side, "notional": round(h.notional, 2),
               "notional_text": amount_text(h.notional), "reason": h.reason}
              for h in (plan.hedges if plan else ())]
    attribution = None
    if plan is not None:
        a = plan.attribution
        attribution = {"side": a.side, "long_share": a.long_share, "short_share": a.short_share,
                       "excluded": a.excluded}

    now = report.now_ms if report is not None else event.ts_ms
    fills = [(o, outcomes[o.client_order_id].filled) for o in (plan.orders if plan else ())
             if o.client_order_id in outcomes]
    positions, left, accounts, note, equity = _scope_now(node, ctx, scope, fills, now)
    lock = ctx.lock_doc(scope, now)
    return assemble(
        node=node, incident=incident, scope=scope, level=level, from_level=from_level, reason=str(data.get("reason")),
        created_ms=event.ts_ms, digest=str(data.get("graph_digest") or graph.digest),
        revision=data.get("revision", graph.revision), mode="dry-run" if ctx.dry_run else "live",
        values=values, reasons=reasons, results=results, orders=orders, cancels=cancels, directives=directives,
        hedges=hedges, skipped=list(plan.skipped) if plan else [], attribution=attribution,
        positions=positions, positions_note=note, accounts=accounts,
        lock=lock, state_url=str(getattr(ctx.store, "url", DEFAULT_STATE_URL)), equity=_num(equity),
        residuals=residual_docs(ctx, incident), still_open=still_open_docs(ctx, incident),
        summary=summary, positions_total=left, continues=data.get("continues"),
    )


def _scope_now(node: PolicyNode, ctx: "SinkContext", scope: str, fills: Iterable[tuple[Any, Optional[float]]],
               now: int) -> tuple[list[dict], int, list[dict], str, Optional[float]]:
    """The scope's residual positions (the :data:`ROWS` largest by notional) and how many are
    left in all, its accounts, a note on how the positions were read and its equity: the
    runner's snapshots of this tick less ``fills`` (``(order intent, filled)`` this tick, by
    account, symbol and leg: the next snapshot is a tick away). The positions are read as a close
    reads them (:meth:`~killswitch.engine.scope.ScopeView.rows_at`): a model made only of those
    listed."""
    from ..engine.scope import instances

    filled: dict[tuple, float] = {}
    for o, amount in fills:
        if amount:
            leg = o.position_side or ("long" if o.side == "sell" else "short")
            key = (f"{o.venue}/{o.account}", o.symbol, leg.lower())
            filled[key] = filled.get(key, 0.0) + float(amount)
    snaps = list(ctx.snapshots.values())
    view = next((v for v in instances(node, snaps) if v.key == scope), None)
    positions, accounts = [], []
    equity, total = None, 0
    if view is not None:
        equity = view.equity
        left: list[tuple[float, int, str, Any, float]] = []  # (notional left, index, account, row, contracts left)
        for i, (s, p) in enumerate(view.rows_at(range(view.position_count))):
            acct = f"{s.venue}/{s.account}"
            leg = (p.position_side if p.position_side in ("LONG", "SHORT") else p.side).lower()
            contracts = p.contracts - filled.get((acct, p.symbol, leg), 0.0) if filled else p.contracts
            if contracts > 0:
                left.append((abs(p.notional) * contracts / p.contracts if p.contracts else 0.0, i, acct, p, contracts))
        total = len(left)
        if total > ROWS:
            left = sorted(heapq.nlargest(ROWS, left, key=lambda x: x[0]), key=lambda x: x[1])  # in the book's order
        positions = [_position_doc(acct, view.pair(i)[1], contracts) for _, i, acct, _, contracts in left]
        for s in view.snapshots:
            acct = f"{s.venue}/{s.account}"
            a = ctx.account(acct)
            age = a.data_age_ms(now) if a is not None else None  # the engine's rule, as the triggers see it
            accounts.append({"account": acct, "fetch_ok": s.fetch.ok, "error_code": s.fetch.error_code,
                             "equity": _num(s.equity), "equity_text": amount_text(_num(s.equity)),
                             "data_age": age_text(age / 1000) if age is not None else None})
    known = view is not None and view.positions_known
    note = ("positions in this tick's snapshot less this tick's fills; confirm at the exchange"
            if known else "positions are unknown this tick (no good snapshot): check them at the exchange")
    return positions, total, sorted(accounts, key=lambda a: a["account"]), note, equity


def follow_up(data: dict, ctx: "SinkContext", report: "TickFacts", entries: Sequence[Any]) -> Optional[dict]:
    """``data``, an incident as rendered before, brought up to this tick: its orders as the
    journal has them now (``entries``: the journal entries of its decision and of its
    re-plans, oldest first; a re-planned order is added), the scope's positions in this tick's
    snapshot less this tick's fills of those orders, its accounts and its lock. None when its
    policy is no longer in the runner's graph. The caller sets ``updated`` and ``settled``."""
    from ..orders import OrderIntent

    policy, scope = data["policy"]["name"], data["scope"]
    node = next((p for p in ctx.graph_of(policy).policies if p.name == policy), None)
    if node is None:
        return None
    outcomes = {o.client_order_id: o for o in report.execution.orders}
    known = {o["client_order_id"]: o for o in data["actions"]["orders"]}
    orders: list[dict] = []
    gists: list[dict] = []
    fills: list[tuple[Any, Optional[float]]] = []
    for e in entries:
        payload = json.loads(e.payload_json)
        gists.append(_order_gist(e.status or "journaled", payload.get("notional") or 0.0, e))
        listed = len(orders) < ROWS or e.client_order_id in known
        if not listed and e.client_order_id not in outcomes:
            continue  # counted, not listed: in the journal (ksctl history)
        intent = OrderIntent(**payload)
        if e.client_order_id in outcomes:
            fills.append((intent, outcomes[e.client_order_id].filled))
        if not listed:
            continue
        doc = _order_doc(intent, SimpleNamespace(status=e.status or "journaled", filled=e.filled or 0.0,
                                                 code=e.reason_code, detail=e.detail), ctx.dry_run)
        if e.client_order_id in known:  # what the planner said about it at the time stays
            doc = {**known.pop(e.client_order_id), "status": doc["status"], "filled": doc["filled"],
                   "code": doc["code"], "detail": doc["detail"]}
        orders.append(doc)
    orders += known.values()  # planned, never journaled (none in a live run; kept rather than lost)
    gists += known.values()
    positions, left, accounts, note, _ = _scope_now(node, ctx, scope, fills, report.now_ms)
    out = copy.deepcopy(data)  # what fired, and the equity at entry, stay as they were
    out["actions"]["orders"] = orders
    out["actions"]["summary"] = order_summary(gists)
    out.update(positions=positions, positions_more=max(0, left - len(positions)), positions_note=note,
               accounts=accounts,
               residuals=residual_docs(ctx, data["incident"]), still_open=still_open_docs(ctx, data["incident"]),
               lock={**lock_view(ctx.lock_doc(scope, report.now_ms), policy, (data.get("stage") or {}).get("level"),
                                 scope), "refreshed": True})
    return out


def residual_doc(account: str, symbol: str, side: str, position_side: Optional[str], amount: float, why: str,
                 detail: Optional[str], since_ms: Optional[int], accepted: Optional[Mapping[str, Any]] = None,
                 shortfall: Optional[float] = None) -> dict:
    """A residual as a runbook shows it: its leg (``position_side`` in hedge mode, else the
    position's side) and, for a leg whose closes the venue refused (``CLOSE_REJECTED``: not sent
    again), the exact ``ksctl close-accept`` of that leg, or, once a person accepted it
    (``accepted``: ``{"by", "reason", "ms"}``), who, when and why (``accepted``) in its place;
    ``short``: a partial reduction's shortfall beside the leg (``shortfall 1 of 2``), else empty."""
    leg = position_side if position_side in ("LONG", "SHORT") else side
    said = accepted_text(accepted) if accepted else None
    return {"account": account, "symbol": symbol, "side": side, "position_side": position_side, "leg": leg,
            "amount": amount, "amount_text": amount_text(amount), "why": why, "detail": detail, "since": iso(since_ms),
            "accept": accept_command(account, symbol, leg) if why == "CLOSE_REJECTED" and not said else None,
            "accepted": said, "shortfall": shortfall, "short": shortfall_text(amount, shortfall)}


def residual_docs(ctx: "SinkContext", incident: str) -> list[dict]:
    """The residuals the runner holds for ``incident``: what its closes left open, why, and who
    accepted a refused one."""
    return [residual_doc(r.account, r.symbol, r.side, r.position_side, r.amount, r.why, r.detail, r.since_ms,
                         getattr(r, "accepted", None), getattr(r, "shortfall", None))
            for r in ctx.residuals_of(incident)]


def still_open_docs(ctx: "SinkContext", incident: str) -> list[dict]:
    """The orders the cancels of ``incident`` meant to take that the venue still lists, each by
    name with what the venue said of it."""
    return [{"account": r.account, "symbol": r.symbol, "side": r.side, "amount": r.left,
             "amount_text": amount_text(r.left), "order_id": r.order_id, "said": r.said, "cause": r.cause,
             "since": iso(r.since_ms)} for r in ctx.still_open_of(incident)]


def order_leg(o: Mapping[str, Any]) -> tuple[str, str, str]:
    """The position an order closes: (venue/account, symbol, leg), the leg as a residual names it."""
    leg = o.get("position_side") or ("long" if o.get("side") == "sell" else "short")
    return f"{o.get('venue')}/{o.get('account')}", str(o.get("symbol")), str(leg)


def order_summary(orders: Sequence[Mapping[str, Any]]) -> dict:
    """The orders counted by status, and ``legs_unfilled``: the positions (account, symbol, leg)
    with an order that failed or is not settled, each once (a leg's closes tried twice are one leg)."""
    statuses = [o["status"] for o in orders]
    unfilled = {order_leg(o) for o in orders if o["status"] in FAILED_STATUSES or o["status"] in OPEN_STATUSES}
    return {"orders": len(orders), "legs_unfilled": len(unfilled), "filled": sum(1 for s in statuses if s == "filled"),
            "failed": sum(1 for s in statuses if s in FAILED_STATUSES),
            "open": sum(1 for s in statuses if s in OPEN_STATUSES),
            "not_sent": sum(1 for s in statuses if s == "not sent (dry run)"),
            "notional": round(sum(o.get("notional") or 0.0 for o in orders), 2)}
