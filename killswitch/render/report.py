"""Render the closure report (:func:`killswitch.runbooks.report.closure_report`): markdown, HTML
(the markdown through the safe converter of :mod:`.runbook`) or JSON (``format_version`` 1).

Pure: values in, text out. The first lines say what verifying the audit chain found, in its
own words, by its verdict: "intact and anchored" only when the HMACs were checked; "consistent,
UNANCHORED: truncation and wipes cannot be detected" for a chain never anchored checked against
exported anchors (never "intact": its structure cannot show rows cut off its end or a wipe);
"consistent, UNVERIFIED" when neither the key nor an anchor was given; "NOT VERIFIABLE without
the key" for an anchored chain whose MACs went unchecked; "TAMPERED" with the first finding
otherwise. What is read from rows that verification does not cover is marked *unverified*
where it is listed.
"""

from __future__ import annotations

import json
from typing import Optional

from ..facts.violations import outcome_text, strategies_of
from ..figures import fees_text, figure, money, pnl_text, shortfall_text
from ..holds import OUT_OF_REACH
from ..sources import revision_text
from .runbook import html_page, markdown_html
from .silences import span


def _c(value: object) -> str:
    if value is None or value == "":
        return "-"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _unverified(item: dict) -> str:
    """The mark of what was read from a row verification does not cover (absent: verified), or
    of an approval no audit row says happened."""
    if item.get("audited", True) is False:
        return " *unverified: no audit row*"
    return "" if item.get("verified", True) else " *unverified*"


def report_json(doc: dict) -> str:
    return json.dumps(doc, indent=1, sort_keys=False, allow_nan=False)


def report_markdown(doc: dict) -> str:
    p = doc["period"]
    out = [f"# Kill-switch closure report: {p['since']} to {p['until']}", ""]
    out += _audit_lines(doc)
    out += _summary_lines(doc)
    out += _incident_lines(doc["incidents"])
    out += _trail_lines(doc)
    out += _notification_lines(doc["notifications"])
    out += operator_action_lines(doc.get("operator_actions") or [])
    out += halt_break_lines(doc.get("halt_breaks") or {})
    out += still_open_lines(doc.get("still_open") or [])
    out += positions_left_lines(doc.get("positions_left_open") or [])
    out += runner_lines(doc.get("runner"))

    out += _table("Other audited events", None, ("event", "count"),
                  [f"| {k} | {v} |" for k, v in doc["other_events"].items()])
    out += ["---", f"killswitch closure report, format {doc['format_version']}", ""]
    return "\n".join(out)


def _audit_lines(doc: dict) -> list[str]:
    """The first lines: what verifying the audit chain found, in its own words, by its verdict."""
    audit = doc["audit"]
    checked = f"verified at {doc['generated']}: {audit['covered']} checked; {audit['anchoring']}"
    verdict = audit["verdict"]
    if verdict == "intact_and_anchored":
        return [f"> Audit chain **intact and anchored** ({checked}). {audit['rows_in_period']} rows in the period.", ""]
    if verdict == "consistent_unanchored":  # the anchoring says what else cannot be told
        return [f"> Audit chain **consistent, UNANCHORED: truncation and wipes cannot be detected** ({checked}). "
                f"{audit['rows_in_period']} rows in the period.", ""]
    if verdict == "consistent_unverified":  # nothing outside the table was given to check it against
        return [f"> Audit chain **consistent, UNVERIFIED: neither the audit key nor an exported anchor was given; a "
                f"wiped or wholly rewritten chain reads the same** ({checked}). Write the report with the audit key "
                f"(KS_AUDIT_KEY or --audit-key-file) or the runner's AUDIT_HEAD lines (--anchors-from). "
                f"{audit['rows_in_period']} rows in the period.", ""]
    if verdict == "not_verifiable_without_key":
        return [f"> Audit chain **NOT VERIFIABLE without the key** ({checked}). Write the report with the audit key "
                f"(KS_AUDIT_KEY or --audit-key-file). {audit['rows_in_period']} rows in the period.", ""]
    more = audit["findings"] - 1
    return [f"> **AUDIT CHAIN TAMPERED**: the first row that does not check is row {audit['first_bad_row']} "
            f"({_c(audit['first_finding'])}){f'; {more} more finding(s)' if more > 0 else ''}. What follows was "
            f"read from a trail that was changed after it was written: {audit['unverified_in_period']} of the "
            f"period's {audit['rows_in_period']} rows are from row {audit['first_bad_row']} on and are marked "
            f"*unverified* ({checked}).", ""]


def _summary_lines(doc: dict) -> list[str]:
    s = doc["summary"]
    p = doc["period"]
    return ["| | |", "|---|---|",
            f"| period (UTC) | {p['since']} to {p['until']} |",
            f"| generated (UTC) | {doc['generated']} |",
            f"| state store | `{_c(doc['store'])}` |",
            f"| incidents | {s['incidents']} ({s['active']} still active, {s['dry_run_incidents']} in dry run) |",
            f"| stage transitions | {s['transitions']} |",
            f"| orders | {s['orders']}: {s['orders_filled']} filled, {s['orders_failed']} failed, "
            f"{s['orders_open']} not settled |",
            f"| reset approvals | {s['reset_approvals']} recorded ({s['reset_attempts']} reset attempt(s) audited) |",
            f"| notifications | {s['notifications_delivered']} delivered, {s['notifications_failed']} failed, "
            f"{s['notifications_dropped']} dropped"
            + (f", {s['notifications_silenced']} silenced" if s.get("notifications_silenced") else "") + " |",
            f"| operator actions | {s.get('operator_actions', 0)} (table below) |",
            f"| what broke the halt | {s.get('violations', 0)} violation(s) at the venue"
            + (f", **{s['violations_uncancelled']} cancel(s) not confirmed**" if s.get("violations_uncancelled")
               else "")
            + f"; {s.get('trading_changes', 0)} change(s) of the bots' trading permission |",
            f"| orders still open after a cancel | {s.get('orders_still_open', 0)}"
            + (f", **{s['orders_still_open_at_end']} still listed at the end**" if s.get("orders_still_open_at_end")
               else "") + " |",
            f"| positions left open at the period's end | {s.get('positions_left_open', 0)}"
            + (f" ({s['positions_left_open_accepted']} accepted by a person)"
               if s.get("positions_left_open_accepted") else "") + " |"] + _runner_summary(s) + [""]


def _runner_summary(s: dict) -> list[str]:
    """The summary's row of the runner: its starts, stops, changes of leader and the time none led."""
    if "runner_starts" not in s:  # (a report of an older format)
        return []
    gaps = s["unguarded_gaps"]
    return [f"| runner | {s['runner_starts']} start(s), {s['runner_stops']} stop(s), {s['leader_changes']} "
            f"lease(s) taken; " + (f"**{gaps} gap(s) without a leader** ({s['unguarded_lasted']} known)"
                                   if gaps else "no gap without a leader audited") + " |"]


def runner_lines(runs: Optional[dict]) -> list[str]:
    """Was it guarded the whole time: the runner's starts, stops and changes of leader, then the
    gaps during which no runner led."""
    if runs is None:
        return []
    events = [f"| {e['at']}{_unverified(e)} | {e['event']} | {_c(e['holder'])} | {_c(e['detail'])} |"
              for e in runs["events"]]
    out = _table("Runner: starts, stops and leadership", "Was it guarded the whole time? Each start and stop of a "
                 "runner, each time one took or lost the lease, and each reload of the policies (its git revision "
                 "names who changed them; what it removed), as audited.", ("at", "event", "runner", "detail"),
                 events, "No start, stop, change of leader or reload was audited in the period.")
    if runs["gaps"]:
        out += ["Gaps without a leader (nothing watched the books or acted):", ""]
        out += [f"- **{g['lasted'] or 'not known'}**: from {g['from'] or 'an unaudited end'} ({_c(g['after'])}) to "
                f"{g['to'] or 'the period end'} ({_c(g['until'])})" for g in runs["gaps"]] + [""]
    elif runs["events"]:
        out += ["No gap without a leader between the events audited.", ""]
    return out


def _incident_lines(incidents: list[dict]) -> list[str]:
    out = ["## Incidents", ""]
    if not incidents:
        out += ["No stage was entered in the period.", ""]
    for i in incidents:
        out += _incident(i)
    return out


def _incident(i: dict) -> list[str]:
    """One incident: how it began, its orders, approvals, notifications, runbook and how it ended."""
    stage = f" ({i['stage']})" if i["stage"] else ""
    out = [f"### `{i['incident']}`", "",
           f"- entered {i['at']}{_unverified(i)}: `{i['policy']}` on `{i['scope']}`, stage {i['from']} → "
           f"{i['level']}{stage}" + (" — **dry run**, nothing sent" if i["dry_run"] else ""),
           f"- reason: `{i['reason']}`",
           f"- graph `{i['graph_digest']}`, revision `{_c(revision_text(i['revision']))}`"]
    o = i["orders"]
    line = f"- orders: {o['total']} journaled, {o['filled']} filled, {o['failed']} failed, {o['open']} not settled"
    if o["planned_dry_run"]:
        line += f"; {o['planned_dry_run']} planned in dry run"
    out.append(line)
    for said, n in sorted((o.get("refused") or {}).items()):  # in the venue's own words
        out.append(f"- rejected by the venue: {n} × `{_c(said)}`")
    for a in i["approvals"]:
        out.append(f"- reset approval {a['at']}{_unverified(a)} by **{_c(a['approver'])}**: {_c(a['reason'])} "
                   f"(`{_c(a['result'])}`)")
    sent = i["notifications"]
    handed = sent.get("handed") or {}  # receiver → its first page's latency receipt
    out.append("- notifications: delivered to "
               + (", ".join(f"{r} ({page_latency(handed[r])})" if r in handed else r
                            for r in sorted(set(sent["delivered"]))) or "none")
               + (f"; **failed** for {', '.join(sorted(set(sent['failed'])))}" if sent["failed"] else "")
               + (f"; silenced for {', '.join(sorted(set(sent['silenced'])))}" if sent.get("silenced") else ""))
    if i["runbook"]:
        out.append(f"- runbook: `{i['runbook']['path']}` (template {i['runbook']['template']})")
    else:
        out.append("- runbook: none stored")
    if r := i.get("removed_by_reload"):  # its policy instance left the running graph before it ended
        out.append(f"- removed from the running policies by the {r['by']} at {r['at']}{_unverified(r)}"
                   + (f" (graph `{r['from']}` → `{r['to']}`)" if r.get("from") else f" (graph `{r['to']}`)")
                   + f": {r['kept']} at stage {r['stage']}")
    e = i["ended"]
    out.append(f"- ended: {e['how']} at {e['at']} (`{_c(e['reason'])}`)" if e else "- ended: **still active**")
    out.append("")
    return out


def _trail_lines(doc: dict) -> list[str]:
    """The tables of the period's stage transitions, orders, reset approvals and reset attempts."""
    transitions = [f"| {t['at']}{_unverified(t)} | {_c(t['policy'])} | {_c(t['scope'])} | {t['from']} → {t['to']} | "
                   f"`{_c(t['reason'])}` | {_c(t['decision_id'])} |" for t in doc["transitions"]]
    # an order of no stage entry names its own decision (a manual close's, the venue watch's revert)
    orders = [f"| {o['at']} | `{o['client_order_id']}` | {_c(o['incident'] or o['decision_id'])} | "
              f"{o['venue']}/{o['account']} | "
              f"{_c(o['symbol'])} | {o['side']} | {o['amount']:g} | {o['status']}"
              + (f" `{o['reason_code']}`" if o["reason_code"] else "")
              + (f": {_c(o['detail'])}" if o.get("detail") else "") + f" | {_fill_cells(o)} |" for o in doc["orders"]]
    approvals = [f"| {a['at']}{_unverified(a)} | {_c(a['incident'])} | {_c(a['approver'])} | {_c(a['reason'])} | "
                 f"`{_c(a['result'])}` |" for a in doc["approvals"]]
    resets = [f"| {r['at']}{_unverified(r)} | {_c(r['policy'])} | {_c(r['scope'])} | {_c(r['level'])} | "
              f"{_c(r['approver'])} | {_c(r['reason'])} | `{_c(r['result'])}` |" for r in doc["resets"]]
    return (_table("Stage transitions", None, ("at", "policy", "scope", "from → to", "reason", "decision"), transitions)
            + _table("Orders", None, ("at", "client order id", "incident or decision", "account", "symbol", "side",
                                      "amount", "status", "filled", "avg price", "notional", "fee", "realized PnL"),
                     orders,
                     empty="None journaled.")
            + _table("Reset approvals", "Approvals the runner recorded toward a manual reset; a refused attempt is "
                     "not one.", ("at", "incident", "approver", "reason", "result"), approvals)
            + _table("Reset attempts", "Every reset asked for, as audited, with the runner's answer.",
                     ("at", "policy", "scope", "level", "approver", "reason", "result"), resets))


def _fill_cells(o: dict) -> str:
    """An order's filled amount, its average fill price and their notional (``-`` where unknown);
    of a fill, the venue's fee and the PnL the close realized (each ``not reported`` or ``not
    known`` where it is: a report of rows journaled before them says so, never 0)."""
    filled, price = o.get("filled"), o.get("avg_price")
    notional = abs(filled) * price if filled and price is not None else None
    came_to = f"{_c(fees_text(o.get('fees')))} | {pnl_text(o.get('realized_pnl'), o['symbol'])}" if filled else "- | -"
    return f"{figure(filled)} | {figure(price) if filled else '-'} | {money(notional)} | {came_to}"


def _table(title: str, intro: Optional[str], columns: tuple[str, ...], rows: list[str],
           empty: str = "None.") -> list[str]:
    """A section: its title, what it lists, and its table of ``rows`` (``empty`` when there is none)."""
    return [f"## {title}", "", *([intro, ""] if intro else []), *_rows(columns, rows, empty)]


def _rows(columns: tuple[str, ...], rows: list[str], empty: str) -> list[str]:
    """A table of ``rows`` under its ``columns``' heading, or ``empty`` when there is none."""
    if not rows:
        return [empty, ""]
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)] + rows + [""]


def _notification_lines(receipts: list[dict]) -> list[str]:
    rows = []
    for r in receipts:
        what = r["kind"].replace("notification_", "")
        if r["kind"] == "notification_failed" and not r["final"]:
            what += " (retried)"
        if r["fallback_for"]:
            what += f" (fallback for {r['fallback_for']})"
        if r["kind"] == "notification_dropped":
            what += f" ({r['dropped']})"
        if r["kind"] == "notification_silenced":
            what += f" (by {', '.join(r.get('silences') or []) or '?'})"
        rows.append(f"| {r['at']}{_unverified(r)} | {what} | {_c(r['receiver'])} | "
                    f"{_c(', '.join(r.get('events') or []) or '-')} | {_c(r.get('title') or '-')} | "
                    f"{_c(r['result'])} | {_c(r['attempt'])} | {page_latency(r)} | "
                    f"{_c(', '.join(r['incidents']))} |")
    return _table("Notifications", None, ("at", "receipt", "receiver", "event", "title", "result", "attempt", "latency",
                                          "incidents"), rows, "No receipt in the period.")


def page_latency(r: dict) -> str:
    """A delivered page's latency as its receipt records it: "handed after 3.2 s (venue)", from
    the time of what caused it (who stamped it in brackets); "-" for any other receipt."""
    ms = r.get("latency_ms")
    if not isinstance(ms, (int, float)) or isinstance(ms, bool):
        return "-"
    return f"handed after {ms / 1000:.1f} s ({r.get('cause_source') or 'runner'})"


def _lasted(a: dict) -> str:
    if a.get("duration_ms") is None:
        return "-"
    shown = span(a["duration_ms"])
    return f"{shown} so far (in force at the period's end)" if a["ended"] == "in force at the period's end" \
        else f"{shown} ({a['ended']})"


def operator_action_lines(actions: list) -> list[str]:
    """The operator actions as a table: who did what, why, when, what became of it, how long it held."""
    rows = [f"| {a['at']}{_unverified(a)} | {a['action']} | {_c(a['target'])} | {_c(a['by'])} | {_c(a['reason'])} | "
            f"{_c(a['outcome'])} | {_lasted(a)} |" for a in actions]
    return _table("Operator actions", "Locks, unlocks, closes, silences, acknowledgements, dead man's switch changes, "
                  "revokes of the bots' keys and the approvals of their restore, as audited with their author; how "
                  "long each held is read from the rows after it.",
                  ("at", "action", "target", "by", "reason / comment", "outcome", "duration"), rows)


def _amount(value: object) -> str:
    return f"{value:,.2f}" if isinstance(value, (int, float)) else "-"


def _figure(value: object, step: object = None) -> object:
    """A quantity as status shows it (float noise gone: ``0.05``, not ``0.04999999999999982``),
    to its market's amount ``step`` where the row says it."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    return figure(value, float(step) if isinstance(step, (int, float)) and not isinstance(step, bool) else None)


def halt_break_lines(broke: dict) -> list[str]:
    """What broke the halt: the venue watch's violations with what each came to, and the changes
    of the bots' trading permission at the venues."""
    violations = [f"| {v['at']}{_unverified(v)} | {v['kind']} | {_c(v['account'])} | {_c(v['symbol'])} | "
                  f"{_c(v['side'])} | {_c(_figure(v['amount'], v.get('amount_step')))} | {_amount(v['notional'])} | "
                  f"{_c(v.get('orders_text') or v['client_order_id'])} | {_c(', '.join(strategies_of(v)))} | "
                  f"{_c(v['action'])} | {_c(outcome_text(v))} | "
                  f"{_c(v.get('lock'))} | {_c(v['incident'])} |"
                  for v in broke.get("violations") or []]
    trading = []
    for t in broke.get("trading") or []:
        answer = f"`{_c(t['code'])}` {_c(t['message'])} ({_c(t['want'])}, attempt {_c(t['attempts'])})" \
            if t["event"] == "failed" else f"nothing sent: {_c(t['message'])}" \
            if t["event"] == OUT_OF_REACH else "confirmed"
        read = {True: "read back", False: "the venue offers no read"}.get(t["read_back"], "-")
        trading.append(f"| {t['at']}{_unverified(t)} | {_c(t['account'])} | {t['event']} | "
                       f"{_c(', '.join(t['keys']))} | {read} | {answer} | "
                       f"{_c(t.get('why') or ', '.join(t['holds']))} | {_c(t['incident'])} |")
    return (_table("What broke the halt", "Orders and positions of bots that never asked, caught at the venue under "
                   "a lock (`LOCK_VIOLATION`) or over a pre-trade limit (`LIMIT_VIOLATION`), with what the runner did "
                   "and what the venue answered.",
                   ("at", "kind", "account", "symbol", "side", "amount", "notional", "client order id", "strategy",
                    "action", "outcome", "lock it broke", "incident"), violations,
                   "No violation at the venue in the period.")
            + ["The bots' trading permission at the venues (`revoke_trading`, `ksctl revoke`), as the venue "
               "confirmed or refused it.", ""]
            + _rows(("at", "account", "event", "keys", "read back", "venue's answer", "who and why", "incident"),
                    trading, "No change of the bots' trading permission in the period."))


def still_open_lines(rows: list[dict]) -> list[str]:
    """The orders a cancel meant to take that the venue still listed after it, each by name with
    what the venue said, and when it ended (or that it was still open at the period's end)."""
    lines = [f"| {o['at']}{_unverified(o)} | {_c(o['account'])} | {_c(o['symbol'])} | {_c(o['side'])} | "
             f"{_c(o['amount'])} | `{_c(o['order_id'])}` | {_c(o['said'])} | {_c(o['incident'] or o['cause'])} | "
             + (f"{o['ended']} ({_c(o['ended_why'])})" if o["ended"] else "**still open**") + " |" for o in rows]
    return _table("Orders still open after a cancel",
                  "Orders a cancel meant to take that the venue still listed after it (`ORDER_STILL_OPEN`): never "
                  "counted cancelled. What the venue said is its reason code, then its own code and words.",
                  ("at", "account", "symbol", "side", "amount", "order id", "what the venue said",
                   "incident or cause", "ended"), lines, "No order was left open by a cancel in the period.")


def positions_left_lines(rows: list[dict]) -> list[str]:
    """The positions closes left open that still stood at the period's end, each with why and
    who accepted it (or nobody)."""
    def accepted(x: dict) -> str:
        a = x.get("accepted")
        return f"{_c(a['by'] or 'an unknown caller')} at {a['at']}: {_c(a['reason'])}" if a else "**nobody**"

    def amount(x: dict) -> str:  # a partial reduction's shortfall beside it, as status says it
        short = shortfall_text(x.get("amount"), x.get("shortfall"))
        return _c(x["amount"]) + (f" ({short})" if short else "")

    lines = [f"| {_c(x['account'])} | {_c(x['symbol'])} | {_c(x['leg'])} | {amount(x)} | "
             f"{_c(x['why'])}: {_c(x['detail'])} | {_c(', '.join(x.get('incidents') or [x['incident']]))} | "
             f"{accepted(x)}{_unverified(x)} |" for x in rows]
    return _table("Positions left open at the period's end",
                  "Residuals: positions a close left open and the runner stopped closing, still open at the "
                  "period's end (amount as recorded).",
                  ("account", "symbol", "leg", "amount", "why", "incidents", "accepted by"), lines,
                  "No position was left open by a close at the period's end.")


def report_html(doc: dict) -> str:
    p = doc["period"]
    return html_page(f"Kill-switch closure report {p['since']} to {p['until']}", markdown_html(report_markdown(doc)))
