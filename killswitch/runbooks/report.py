"""The closure report for compliance: what the kill switch did over a period, from the audit trail.

One plain value (``format_version`` 2), rendered by :mod:`killswitch.render.report` as markdown,
HTML or JSON. It lists every incident (a stage entry) with how it ended — escalated, reset
(with its approvers) or still active —, every stage transition, every order journaled for an
incident with its final status, every reset approval the store recorded and every reset attempt
audited (an attempt the runner refused, ``NOT_ENGAGED`` or ``DUPLICATE_APPROVER``, is an
attempt, never an approval), every notification receipt (delivered, failed, dropped, silenced:
held back by a silence), the runbooks stored, every operator action (lock, unlock, close,
silence, acknowledgement, dead man's switch change) with its author, reason, time, outcome and
duration (:mod:`.operator_actions`), the positions left open at the period's end (each residual
still standing, with who accepted it: :mod:`.residuals`), what broke the halt (the venue watch's
violations and what each came to, the changes of the bots' trading permission at the venues:
:mod:`.halt_breaks`), the other audited events by kind, and the result of verifying the whole
audit chain (:meth:`StateStore.audit_verification`: every row, the head, the HMACs when the store was
opened with the audit key, the exported anchors given): its verdict (``intact_and_anchored``,
``consistent_unanchored``, ``consistent_unverified``, ``not_verifiable_without_key``,
``tampered``), what was verified, whether it is anchored, and the first finding. A report over
a tampered trail says so on its first line, and every transition, approval and receipt read
from a row at or after the first row that does not check is marked ``verified: false``: it is
not proven.

Approvals are counted from the store's approvals (``record_approval``, which the runner writes
only after the attempt's audit row is stored). That table is not chained: an approval without
its ``reset_approval`` audit row is listed with ``audited: false`` and counts as unverified.

Reads the store only (:meth:`StateStore.audit_rows`, ``journal``, ``approvals_between``,
``runbooks``, ``audit_verification``); writes nothing. Must not call a chain intact unless its
MACs were checked with the key and nothing was found (``intact`` is that, since format 2).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Optional, Sequence

from ..events import every_audit_row, runbook_path
from ..holds import OUT_OF_REACH
from ..order_statuses import FINAL_STATUSES
from ..orders import PLANNED_KINDS, planned_intents
from ..state.audit_verify import INTACT
from ..state.store import AuditRow, JournalEntry, StateStore, StoreError
from .halt_breaks import KINDS as HALT_BREAK_KINDS, halt_breaks
from .incident import duration_text, iso
from .left_open import KINDS as LEFT_OPEN_KINDS, left_open
from .operator_actions import ACTION_KINDS, operator_actions
from .residuals import KINDS as RESIDUAL_KINDS, positions_left
from .runs import LISTED_KINDS, removals, runner_runs

# 2: audit.intact only when the MACs were checked; audit.verdict, audit.passed
# 3: audit.verdict consistent_unverified (neither key nor anchors given: audit.passed false)
# 4: runner (starts, stops, leader changes, gaps); an incident's removed_by_reload
FORMAT_VERSION = 4
PAGE = 5_000
MAX_ORDERS = 1_000_000

NOTIFICATION_KINDS = ("notification_delivered", "notification_failed", "notification_dropped",
                      "notification_receivers_unresolved", "notification_silenced")
# kinds the report shows in their own sections; every other kind is counted under "other events"
SECTION_KINDS = frozenset(("stage_transition", "reset_approval", "runbook_rendered") + NOTIFICATION_KINDS
                          + tuple(ACTION_KINDS) + HALT_BREAK_KINDS + LEFT_OPEN_KINDS + LISTED_KINDS)
_FAILED = FINAL_STATUSES - {"filled"}  # an order that ended without filling


def _incident_of(decision_id: str, incidents: dict) -> Optional[str]:
    """The incident an order's decision belongs to: itself, or its entry for a re-plan ("/r<n>")."""
    if decision_id in incidents:
        return decision_id
    base = decision_id.rsplit("/r", 1)[0]
    return base if base in incidents else None


def _recorded_approvals(store: StateStore, since_ms: int, until_ms: int, attempts: list) -> list[dict]:
    """The approvals the store recorded in the period, each with the incident it approves (the
    latched entry its key names, ``policy|scope|e<entry>``) and the audited attempt it came from
    (same policy, scope, level, approver and time; none: no audit row says it happened)."""
    out = []
    for a in store.approvals_between(since_ms, until_ms, MAX_ORDERS):
        policy, _, rest = a.scope_key.partition("|")
        scope, _, entry = rest.rpartition("|")
        row = next((t for t in attempts if (t["policy"], t["scope"], t["level"], t["approver"], t["ts_ms"])
                    == (policy, scope, a.level, a.approver, a.ts_ms)), None)
        out.append({"at": iso(a.ts_ms), "ts_ms": a.ts_ms, "policy": policy, "scope": scope, "level": a.level,
                    "incident": f"{policy}/{scope}/L{a.level}/{entry}" if entry.startswith("e") else None,
                    "approver": a.approver, "reason": a.reason, "result": row["result"] if row else None,
                    "audited": row is not None, "verified": bool(row and row["verified"])})
    return out


def closure_report(store: StateStore, since_ms: int, until_ms: int, now_ms: int, anchors: Sequence = ()) -> dict:
    """The report of [``since_ms``, ``until_ms``) as a plain value, the audit chain verified
    against ``anchors`` (exported ``AuditAnchor`` values) too."""
    checked = store.audit_verification(anchors)
    first_bad = checked.first_bad_seq

    def proven(seq: int) -> bool:  # a row before the first that does not check
        return first_bad is None or seq < first_bad

    rows = list(every_audit_row(store, since_ms, None, PAGE, until_ms=until_ms))
    trail = _Trail(proven)
    for r in rows:
        trail.read(r)
    incidents, transitions, resets, receipts = trail.incidents, trail.transitions, trail.resets, trail.receipts
    incident_ends = _ends(incidents, transitions, resets, until_ms)
    removals(rows, incidents, proven)  # the reloads that removed an incident's policy instance
    runs = runner_runs(rows, until_ms, proven)

    approvals = _recorded_approvals(store, since_ms, until_ms, resets)
    for a in approvals:
        if a["incident"] in incidents:
            incidents[a["incident"]]["approvals"].append(
                {k: a[k] for k in ("at", "approver", "reason", "result", "audited", "verified")})
    journal = _Journal(incidents)
    for e in store.journal(limit=MAX_ORDERS, since=since_ms):
        journal.read(e, until_ms)
    _count_receipts(receipts, incidents)
    _name_runbooks(store, since_ms, until_ms, incidents)

    closes = journal.closes
    settled = {cid: max(at for _, at in rows_) for cid, rows_ in closes.items()
               if all(final for final, _ in rows_) and all(at is not None for _, at in rows_)}
    actions = operator_actions(rows, until_ms, proven, settled, incident_ends, journal.results)
    windows = [{**{k: i[k] for k in ("incident", "policy", "scope", "ts_ms")},
                "end_ms": incident_ends.get(i["incident"], until_ms)} for i in incidents.values()]
    broke = halt_breaks(rows, journal.statuses, windows, proven)
    still_open = left_open(rows, proven)  # orders a cancel meant to take that the venue still listed
    # positions left open at the period's end: their residuals read from the start of the trail
    left = positions_left(list(every_audit_row(store, None, RESIDUAL_KINDS, PAGE, until_ms=until_ms)), proven)
    items = sorted(incidents.values(), key=lambda x: (x["ts_ms"], x["incident"]))
    orders = journal.orders
    return {
        "format_version": FORMAT_VERSION,
        "period": {"since": iso(since_ms), "until": iso(until_ms), "since_ms": since_ms, "until_ms": until_ms},
        "generated": iso(now_ms),
        "store": store.url,
        "audit": {"verdict": checked.verdict, "passed": checked.passed, "intact": checked.verdict == INTACT,
                  "consistent": checked.ok, "anchored": checked.anchored, "first_bad_row": first_bad,
                  "first_finding": None if checked.first is None else str(checked.first),
                  "findings": len(checked.findings) + checked.more_findings, "rows_in_period": len(rows),
                  "unverified_in_period": sum(1 for r in rows if not proven(r.seq)),
                  "covered": checked.covered(), "anchoring": checked.anchoring(), "key_id": checked.key_id,
                  "anchored_from": checked.anchored_from, "anchors": [str(a) for a in checked.anchors]},
        "summary": {
            "incidents": len(items), "active": sum(1 for i in items if i["ended"] is None),
            "transitions": len(transitions), "orders": len(orders),
            "orders_filled": sum(1 for o in orders if o["status"] == "filled"),
            "orders_failed": sum(1 for o in orders if o["status"] in _FAILED),
            "orders_open": sum(1 for o in orders if o["status"] not in FINAL_STATUSES),
            "reset_approvals": len(approvals), "reset_attempts": len(resets),
            "notifications_delivered": sum(1 for r in receipts if r["kind"] == "notification_delivered"),
            "notifications_failed": sum(1 for r in receipts if r["kind"] == "notification_failed" and r["final"]),
            "notifications_dropped": sum(int(r["dropped"] or 0) for r in receipts
                                         if r["kind"] == "notification_dropped"),
            "notifications_silenced": sum(1 for r in receipts if r["kind"] == "notification_silenced"),
            "dry_run_incidents": sum(1 for i in items if i["dry_run"]),
            "operator_actions": len(actions),
            "violations": len(broke["violations"]),
            "violations_uncancelled": sum(1 for v in broke["violations"] if v["action"] == "cancel"
                                          and v["outcome"] != "canceled" and not v["dry_run"]),
            "trading_changes": sum(1 for t in broke["trading"] if t["event"] != OUT_OF_REACH),
            "orders_still_open": len(still_open),
            "orders_still_open_at_end": sum(1 for o in still_open if o["ended"] is None),
            "positions_left_open": len(left),
            "positions_left_open_accepted": sum(1 for x in left if x["accepted"] is not None),
            "runner_starts": sum(1 for e in runs["events"] if e["event"] == "runner_started"),
            "runner_stops": sum(1 for e in runs["events"] if e["event"] == "runner_stopped"),
            "leader_changes": sum(1 for e in runs["events"] if e["event"] == "lease_taken"),
            "unguarded_gaps": len(runs["gaps"]), "unguarded_s": runs["gap_s"],
            "unguarded_lasted": duration_text(runs["gap_s"]),
        },
        "incidents": [{k: v for k, v in i.items() if k != "ts_ms"} for i in items],
        "transitions": [{k: v for k, v in t.items() if k not in ("ts_ms", "seq")} for t in transitions],
        "orders": orders,
        "approvals": [{k: v for k, v in a.items() if k != "ts_ms"} for a in approvals],
        "resets": [{k: v for k, v in r.items() if k != "ts_ms"} for r in resets],
        "notifications": receipts,
        "other_events": dict(sorted(trail.other.items())),
        "operator_actions": [{k: v for k, v in a.items() if k != "ts_ms"} for a in actions],
        "halt_breaks": broke,
        "still_open": still_open,
        "positions_left_open": left,
        "runner": runs,
    }


class _Trail:
    """The audit rows of the period read into the report's sections: the stage transitions (and
    the incidents they open), the reset attempts, the notification receipts, the dry-run orders
    planned per incident, and a count of every other kind."""

    def __init__(self, proven: Callable[[int], bool]) -> None:
        self.proven = proven
        self.transitions: list[dict] = []
        self.resets: list[dict] = []
        self.receipts: list[dict] = []
        self.other: Counter = Counter()
        self.incidents: dict[str, dict] = {}

    def read(self, r: AuditRow) -> None:
        p = r.payload
        if r.kind == "stage_transition":
            self._transition(r)
        elif r.kind == "reset_approval":
            self.resets.append({"at": iso(r.ts_ms), "ts_ms": r.ts_ms, "policy": p.get("policy"),
                                "scope": p.get("scope"), "level": p.get("level"), "approver": p.get("approver"),
                                "reason": p.get("reason"), "result": p.get("result"),
                                "verified": self.proven(r.seq)})
        elif r.kind in NOTIFICATION_KINDS:
            self.receipts.append({"at": iso(r.ts_ms), "kind": r.kind, "receiver": p.get("receiver"),
                                  "title": p.get("title"), "events": list(dict.fromkeys(p.get("event_kinds") or [])),
                                  "result": p.get("result"), "final": p.get("final", True),
                                  "attempt": p.get("attempt"), "incidents": list(p.get("incidents") or []),
                                  "fallback_for": p.get("fallback_for"), "dropped": p.get("dropped"),
                                  "latency_ms": p.get("latency_ms"), "cause_source": p.get("cause_source"),
                                  "silences": list(p.get("silences") or []), "verified": self.proven(r.seq)})
        elif r.kind in PLANNED_KINDS:
            for o in planned_intents(r.kind, p):
                inc = _incident_of(str(o.get("decision_id", "")), self.incidents)
                if inc is not None:
                    self.incidents[inc]["orders"]["planned_dry_run"] += 1
            self.other[r.kind] += 1
        elif r.kind not in SECTION_KINDS:
            self.other[r.kind] += 1

    def _transition(self, r: AuditRow) -> None:
        p = r.payload
        t: dict = {"at": iso(r.ts_ms), "ts_ms": r.ts_ms, "seq": r.seq, "policy": p.get("policy"),
                   "scope": p.get("scope"), "from": p.get("from"), "to": p.get("to"), "reason": p.get("reason"),
                   "decision_id": p.get("decision_id"),
                   "graph_digest": p.get("graph_digest"), "revision": p.get("revision"), "dry_run": p.get("dry_run"),
                   "verified": self.proven(r.seq)}
        self.transitions.append(t)
        if t["decision_id"] and (t["to"] or 0) > 0:
            self.incidents[t["decision_id"]] = {
                "incident": t["decision_id"], "policy": t["policy"], "scope": t["scope"], "level": t["to"],
                "from": t["from"], "at": t["at"], "ts_ms": r.ts_ms, "reason": t["reason"],
                "graph_digest": t["graph_digest"], "revision": t["revision"], "dry_run": bool(t["dry_run"]),
                "verified": t["verified"], "stage": None, "runbook": None, "ended": None, "approvals": [],
                "removed_by_reload": None,
                "orders": {"total": 0, "filled": 0, "failed": 0, "open": 0, "planned_dry_run": 0,
                           "refused": {}},  # what the venue said of refused orders → how many
                "notifications": {"delivered": [], "failed": [], "silenced": [], "handed": {}}}


def _ends(incidents: dict[str, dict], transitions: list[dict], resets: list[dict], until_ms: int) -> dict[str, int]:
    """How each incident ended, written into it: a manual reset (its approvers), or the next
    transition of its scope (an escalation, a re-entry after the cooldown, an automatic reset);
    else still active. Returns when each that ended did."""
    incident_ends: dict[str, int] = {}
    for entry in incidents.values():
        seq = next(t["seq"] for t in transitions if t["decision_id"] == entry["incident"])
        same = (entry["policy"], entry["scope"])
        nxt = next((t for t in transitions if t["seq"] > seq and (t["policy"], t["scope"]) == same), None)
        end_ms = nxt["ts_ms"] if nxt is not None else until_ms
        mine = [a for a in resets if (a["policy"], a["scope"]) == same and a["level"] == entry["level"]
                and entry["ts_ms"] <= a["ts_ms"] <= end_ms]
        released = next((a for a in mine if str(a["result"] or "").startswith("MANUAL_RESET")), None)
        if released is not None:
            entry["ended"] = {"how": "reset", "at": released["at"], "reason": released["result"], "to": 0}
            incident_ends[entry["incident"]] = released["ts_ms"]
        elif nxt is not None:
            incident_ends[entry["incident"]] = nxt["ts_ms"]
            how = "escalated" if (nxt["to"] or 0) > (entry["level"] or 0) else \
                "re-entered" if nxt["to"] == entry["level"] else "reset"
            entry["ended"] = {"how": how, "at": nxt["at"], "reason": nxt["reason"], "to": nxt["to"]}
    return incident_ends


class _Journal:
    """The journaled orders read into the report: each order of the period (counted under its
    incident), the manual closes' orders, and every journaled order's status."""

    def __init__(self, incidents: dict[str, dict]) -> None:
        self.incidents = incidents
        self.orders: list[dict] = []
        self.closes: dict[str, list] = {}  # a manual close's id -> the (final?, result time) of its orders
        self.results: dict[str, list] = {}  # a manual close's id -> the (status, what was said) of its orders
        self.statuses: dict[str, str] = {}  # a journaled client order id -> its status (a revert's outcome)

    def read(self, e: JournalEntry, until_ms: int) -> None:
        self.statuses[e.client_order_id] = e.status or "pending"
        if e.created_ms >= until_ms:
            return
        if e.decision_id.startswith("manual/"):
            self.closes.setdefault(e.decision_id.split("/r")[0], []).append((e.status in FINAL_STATUSES, e.updated_ms))
            self.results.setdefault(e.decision_id.split("/r")[0], []).append((e.status, _said(e)))
        inc = _incident_of(e.decision_id, self.incidents)
        self.orders.append({"at": iso(e.created_ms), "client_order_id": e.client_order_id,
                            "decision_id": e.decision_id, "incident": inc, "venue": e.venue, "account": e.account,
                            "symbol": e.symbol, "side": e.side, "amount": e.amount, "reduce_only": e.reduce_only,
                            "status": e.status or "pending", "filled": e.filled, "avg_price": e.avg_price,
                            "reason_code": e.reason_code, "detail": _said(e),
                            # the venue's fee per currency ([]: none reported; None: not known) and
                            # the PnL the close realized (None: not known)
                            "fees": [list(f) for f in e.fees] if e.fees is not None else None,
                            "realized_pnl": e.realized_pnl})
        if inc is not None:
            _count_order(self.incidents[inc]["orders"], e)


def _count_order(o: dict, e: JournalEntry) -> None:
    o["total"] += 1
    if e.status == "filled":
        o["filled"] += 1
    elif e.status in _FAILED:
        o["failed"] += 1
        if _said(e):
            o["refused"][_said(e)] = o["refused"].get(_said(e), 0) + 1
    else:
        o["open"] += 1


def _count_receipts(receipts: list[dict], incidents: dict[str, dict]) -> None:
    """Each incident's receivers: delivered, failed for good, silenced."""
    for rec in receipts:
        for i in rec["incidents"]:
            if i in incidents and rec["kind"] == "notification_silenced":
                incidents[i]["notifications"]["silenced"].append(rec["receiver"])
            elif i in incidents and rec["kind"] in ("notification_delivered", "notification_failed"):
                if rec["kind"] == "notification_delivered":
                    incidents[i]["notifications"]["delivered"].append(rec["receiver"])
                    if rec.get("latency_ms") is not None:  # the incident's first page to that receiver
                        incidents[i]["notifications"].setdefault("handed", {}).setdefault(
                            rec["receiver"], {"latency_ms": rec["latency_ms"], "cause_source": rec["cause_source"]})
                elif rec["final"]:
                    incidents[i]["notifications"]["failed"].append(rec["receiver"])


def _name_runbooks(store: StateStore, since_ms: int, until_ms: int, incidents: dict[str, dict]) -> None:
    try:
        stored = store.runbooks(since_ms=since_ms, until_ms=until_ms, limit=MAX_ORDERS)
    except StoreError:  # a store no runner of this version has migrated yet keeps no runbooks
        stored = []
    for rb in stored:
        if rb.incident in incidents:
            stage = (rb.data.get("stage") or {}) if rb.data_json else {}
            incidents[rb.incident]["stage"] = stage.get("name")
            incidents[rb.incident]["runbook"] = {"template": rb.template, "path": runbook_path(rb.incident)}


def _said(e: JournalEntry) -> Optional[str]:
    """What the venue (or the adapter) said of a refused order, as its result keeps it: its code
    and message (``-1106 Parameter 'reduceOnly' sent when not required.``); None otherwise."""
    return e.detail if e.status in ("rejected", "failed") and e.detail else None
