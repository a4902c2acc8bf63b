"""Render ``ksctl status``: the runner's status document as text for people, or as the API
wrote it (JSON, with the lock document beside it).

Owns the status page and its sections: mode and leadership, the runner's own failures, what it
runs against its files and the drift verdict (:mod:`.policy_sync`), stages
per scope, coverage, data ages and streams, position modes, refused closes, REST weight,
resumptions, residuals, revoked trading keys and lock violations; the locks and limits come
from :mod:`.locks`, the dead man's switch from :mod:`.dms`.

Formats values only: it must not call the runner, print, or pick exit codes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

from ..client import LockDocument, dms_of
from ..engine.guarded import unguarded_text
from ..figures import figure, shortfall_text, step_of
from ..fills import bot_side, orders_text, revert_side
from ..relatch import relatched_text
from ..runner.book.rejections import accepted_text
from ..runner.book.revoke_state import hold_text, out_of_reach, unreached_text
from ..runner.view import CoverageStatus, RunnerStatus
from ..runner.watch.shown import counted_text
from ..sources import revision_text
from .accepts import accept_command
from .dms import dms_lines
from .locks import limit_lines, lock_lines, window_lines
from .ops import api_json
from .policy_sync import policy_sync_lines
from .times import duration_text, iso, seconds_text


def _when(ms: Optional[int]) -> str:
    return "-" if ms is None else iso(ms)


def _time_of_day(ms: Optional[int], ref_ms: Optional[int]) -> str:
    """``13:00:05Z`` on the day of ``ref_ms`` (the last tick), the whole UTC time on another day."""
    if ms is None:
        return "-"
    full = iso(ms)
    return full[11:] if ref_ms is not None and iso(ref_ms)[:10] == full[:10] else full


def failure_lines(st: RunnerStatus) -> list[str]:
    """The runner's own failures, loudest first: a reload that failed, pages that reach no one."""
    lines = []
    if not st.reload_ok:
        lines.append(f"policies: reload FAILED at {_when(st.reload_failed_ms)}, running the graph loaded at "
                     f"{_when(st.last_good_reload_ms)}")
    if st.pages_failing:
        since = st.pages_failing_since_ms if st.pages_failing_since_ms is not None else \
            min(f.since_ms for f in st.pages_failing)
        receivers = "; ".join(f"{f.document}/{f.receiver}: {f.cause}" + (
            f" ({f.failures} failed rounds)" if f.failures > 1 else "") + _fallback_heard(f, st.last_tick_ms)
            for f in st.pages_failing)
        lines.append(f"Pages are failing since {_time_of_day(since, st.last_tick_ms)}: {receivers}")
    return lines


def _fallback_heard(f: Any, ref_ms: Optional[int]) -> str:
    """Whether a failing receiver's pages reach anyone: the fallback that delivered the latest, or none."""
    if f.fallback:
        return f", its failed pages go to the fallback {f.document}/{f.fallback}" + (
            f" (the latest at {_time_of_day(f.fallback_ms, ref_ms)})" if f.fallback_ms is not None else "")
    return ", no fallback receiver has delivered its pages" if f.failures else ""


def _fetch_error(e: dict, ref_ms: Optional[int]) -> str:
    return (f"FETCH FAILING since {_time_of_day(e.get('since_ms'), ref_ms)} ({e.get('failures')} in a row): "
            f"{e.get('code')}: {e.get('message') or '-'}")


def stream_text(s: dict) -> str:
    """An account's private stream as ``ksctl status`` shows it beside its data age: its state,
    its last message, its last good REST reconcile and the failed ones since (a runner that does
    not report reconciles shows none)."""
    if s.get("state") == "off":
        return f"stream off, polls ({s.get('reason') or 'STREAM_UNSUPPORTED'})"
    age = s.get("last_message_age_s")
    why = s.get("reason") or ("RECONCILE_OVERDUE" if s.get("reconcile_overdue") else str(s.get("state")).upper())
    head = f"STREAM DEGRADED, polls over REST: {why}" if s.get("degraded") else f"stream {s.get('state')}"
    dropped = sum((s.get("dropped") or {}).values())
    reconciled = ""
    if "last_reconcile_age_s" in s:
        last = s.get("last_reconcile_age_s")
        reconciled = f", last reconcile {'never' if last is None else seconds_text(last) + ' ago'}"
        if s.get("reconcile_every_s"):
            reconciled += f" (every {seconds_text(s['reconcile_every_s'])})"
        if s.get("reconcile_failures"):
            reconciled += (f", {s['reconcile_failures']} failed since ("
                           f"{s.get('reconcile_failure_reason') or 'unknown'})")
    return (f"{head} (last message {'never' if age is None else seconds_text(age) + ' ago'}{reconciled}, "
            f"{s.get('reconnects', 0)} reconnect(s), {s.get('disagreements', 0)} disagreement(s), "
            f"{dropped} dropped)")


def leaves_text(leaves_ms: int, quiet_s: Optional[float], now_ms: Optional[int], firing: bool = False) -> str:
    """When a stage that needs no approval leaves, if its triggers stay quiet: ``LEAVES BY ITSELF
    at 06:11:00Z if its triggers stay quiet (10m of quiet, in 8m12s)``; while a trigger still
    fires, no time (the console's words: when they have been quiet for 10m); once that time is
    past, at the next tick."""
    quiet_for = duration_text(quiet_s) if quiet_s else None
    if firing:
        return ("LEAVES BY ITSELF when its triggers have been quiet for " + quiet_for if quiet_for
                else "LEAVES BY ITSELF once its triggers are quiet") + " (a trigger fires now)"
    if now_ms is not None and leaves_ms <= now_ms:
        return "LEAVES BY ITSELF at the next tick (its triggers have been quiet long enough)"
    quiet = f"{duration_text(quiet_s)} of quiet" if quiet_s else "its cooldown"
    left = f", in {duration_text(max(1, (leaves_ms - now_ms) // 1000))}" if now_ms is not None else ""
    return f"LEAVES BY ITSELF at {iso(leaves_ms)} if its triggers stay quiet ({quiet}{left})"


def status_text(st: RunnerStatus, locks: LockDocument) -> str:
    """Mode, leadership, graph; what can lose money (:func:`risk_lines`); the runner's own
    failures (reload, pages); stages per scope;
    data ages with each account's fetch error; the trading locks (mode, origin, reason,
    expiry); the pre-trade limits' usage; resumptions and their limits; residuals; the dead man's switch."""
    shard = f"shard {st.shard}  " if st.shard else ""
    lines = [f"{shard}mode {st.mode}  {'leader' if st.leader else 'standby'} (fence {st.fence})  "
             f"graph {st.graph_digest[:19]}  revision {revision_text(st.graph_revision)}  "
             f"last tick {_when(st.last_tick_ms)}"]
    if not st.leader:
        lines.append(standby_line(st))
    lines += risk_lines(st)  # what can lose money first: before the configuration's problems
    if st.policy_error:
        lines.append(f"POLICY RELOAD FAILED (last good graph running): {st.policy_error}")
    lines += failure_lines(st)
    lines += policy_sync_lines(st.policy_sync, st.last_tick_ms)
    for s in st.scopes:
        extra = f"  since {iso(s.entered_ms)}" if s.stage and s.entered_ms is not None else ""
        if s.manual and s.stage:
            extra += f"  LATCHED: reset needs {s.approvals_needed} approver(s), have {len(s.approvals)}" + (
                f" ({', '.join(s.approvals)})" if s.approvals else "")
        elif s.stage and s.leaves_ms is not None:  # a stage that leaves by itself: when
            extra += "  " + leaves_text(s.leaves_ms, s.quiet_s, st.last_tick_ms, s.firing)
        if s.stage and s.own_lock_ended:  # a ttl'd lock that ended while the stage holds on
            extra += f"  {s.own_lock_ended}"
        have = s.acks or ((s.ack,) if s.ack is not None else ())
        if have:  # who has the scope's incident (ksctl ack): everyone who said so, each with their note
            extra += "  ACKNOWLEDGED by " + "; ".join(
                f"{a.author} at {iso(a.ts_ms)}" + (f": {a.comment}" if a.comment else "") for a in have)
        lines.append(f"  {s.policy:<20} {s.scope:<40} stage {s.stage} {s.stage_name or ''}{extra}")
        if s.removed:  # kept while latched, guarding nothing (engine/removed.py)
            lines.append(f"    {s.removed}")
        if s.stage and s.continues is not None:  # entered again at the first tick after a reset
            lines.append(f"    RELATCHED {relatched_text(dataclasses.asdict(s.continues))}")
    lines += coverage_lines(st)
    lines += [f"SILENCE {flag}" for flag in st.silences_idle]
    for acct in sorted(set(st.data_age_s) | set(st.fetch_errors) | set(st.streams)):
        age = st.data_age_s.get(acct)
        error = st.fetch_errors.get(acct)
        stream = st.streams.get(acct)
        lines.append(f"  data age {acct}: {seconds_text(age)}"
                     + (f"  {_fetch_error(error, st.last_tick_ms)}" if error else "")
                     + (f"  {stream_text(stream)}" if stream else ""))
    lines += mode_lines(st)
    lines += weight_lines(st)
    lines += lock_lines(locks)
    lines += limit_lines(locks)
    lines += window_lines(st.windows)
    lines += override_lines(st)
    for r in st.resuming:
        limits = ", ".join(x for x in (
            f"max {r.max_positions} position(s)" if r.max_positions is not None else "",
            f"gross exposure {figure(r.max_gross_exposure)}" if r.max_gross_exposure is not None else "") if x)
        step = f"; steps up at {iso(r.until_ms)}" if r.until_ms is not None else ""
        lines.append(f"  RESUMING {r.policy} {r.scope}: {step_of(r.day, r.days, r.step_ms)} since {iso(r.since_ms)}, "
                     f"{r.fraction * 100:g}% of normal limits ({limits or 'no limit set'}){step}")
    lines += audit_sink_lines(st.audit_sinks, st.last_tick_ms)
    lines += count_lines(st.violation_counts)
    lines += dms_lines(dms_of(st))
    return "\n".join(lines)


def risk_lines(st: RunnerStatus) -> list[str]:
    """What can lose money, the first lines after the header: an operator's lock not in force
    yet, the closes the venue refused, the positions closes left open, the orders a cancel did
    not take, trading permission at the venue and lock violations."""
    lines = []
    for w in st.locks_stored:  # an operator's lock sent while no runner led: not in force yet
        who = f" by {w['by']}" if w.get("by") else ""
        lines.append(f"  LOCK STORED {w['scope']} {w['mode']}{who} at {iso(w['stored_ms'])} (request {w['request']}): "
                     "not in force until a runner leads; the leader applies it the moment it acts")
    lines += rejection_lines(st)
    lines += residual_lines(st.residuals)  # what closes left open and the runner stopped closing
    for o in st.still_open:  # what cancels meant to take that the venue still lists: never shown cancelled
        of = f"incident {o.incident}" if o.incident else o.cause
        lines.append(f"  STILL OPEN {o.account} {o.symbol} {o.side} {figure(o.amount)} order {o.order_id}: {o.said}; "
                     f"{of}")
    lines += trading_lines(st)
    lines += violation_lines(st.lock_violations)
    return lines


def residual_lines(residuals: Sequence[Any]) -> list[str]:
    """One RESIDUAL line per open leg at the venue, naming every incident whose close of it left
    it open (two incidents that failed to close the same 30 ETH long hold 30 ETH, not 60)."""
    legs: dict[tuple[str, str, str], list[Any]] = {}
    for x in residuals:
        legs.setdefault((x.account, x.symbol, (x.position_side or x.side).casefold()), []).append(x)
    lines = []
    for same in legs.values():
        x = same[-1]
        leg = f" {x.position_side}" if x.position_side else ""
        why = "; ".join(dict.fromkeys(f"{r.why} ({r.detail})" for r in same))
        whose = f"incident {x.incident}{accepted_note(x.accepted)}" if len(same) == 1 else \
            "incidents " + ", ".join(f"{r.incident}{accepted_note(r.accepted)}" for r in same)
        short = shortfall_text(x.amount, getattr(x, "shortfall", None))  # a partial reduction's, beside the leg
        lines.append(f"  RESIDUAL {x.account} {x.symbol} {x.side}{leg} {figure(x.amount)}"
                     + (f" ({short})" if short else "") + f": {why}; {whose}")
    return lines


def accepted_note(accepted: Optional[dict]) -> str:
    """``; accepted by alice at …Z: <reason>`` for a residual whose refused close a person
    accepted (``ksctl close-accept``); empty for one nobody has."""
    return f"; {accepted_text(accepted)}" if accepted else ""


def override_lines(st: RunnerStatus) -> list[str]:
    """One line per override of the limits: its state, what it does where, who asked and approved,
    until when (or how it ended)."""
    lines = []
    for o in st.overrides:
        who = f"requested by {o.requester}, approvals {o.approvals}/{o.needed}" + (
            f" ({', '.join(o.approvers)})" if o.approvers else "")
        strategy = f" strategy {o.strategy}" if o.strategy else ""
        tail = f"until {_when(o.expires_ms)}" if o.state != "ended" else \
            f"ended {_when(o.ended_ms or o.expires_ms)} ({o.end_reason}{', by ' + o.ended_by if o.ended_by else ''})"
        lines.append(f"  OVERRIDE {o.id} {o.state.upper()} {o.what} on {o.scope}{strategy}: {o.reason_code}; "
                     f"{who}; {tail}")
    return lines


def trading_lines(st: RunnerStatus) -> list[str]:
    """Each account whose bots' keys are revoked at the venue, being revoked or restored, or
    failing to be: what the venue confirmed (revoked only then), who holds it, what is owed."""
    lines = []
    for account, t in sorted(st.trading.items()):
        holds = "; ".join(
            hold_text(h) + f" (restore needs {h['approvals_needed']} approver(s), have {len(h.get('approvals') or ())})"
            for h in t.get("holds") or ())
        keys = ", ".join(f"{k}={v}" for k, v in sorted((t.get("keys") or {}).items()))
        owed = t.get("owed") or {}
        retry = f"; next try {owed['next_ts']}" if owed.get("failure") else ""
        lines.append(f"  TRADING {account}: {t.get('shown')}" + (f"; keys {keys}" if keys else "")
                     + (f"; held by {holds}" if holds else "") + retry)
    # the accounts a revoke's scope reached without a switch: never revoked, said as long as it holds
    unreached = out_of_reach(h for t in st.trading.values() for h in t.get("holds") or ())
    for account, asked in unreached.items():
        if account not in st.trading:
            lines.append(f"  TRADING {unreached_text(account)}; asked by {'; '.join(asked)}")
    return lines


def violation_lines(doc: dict, latest: int = 10) -> list[str]:
    """What broke a lock at the venue (the venue watch): the count, and the latest, newest first."""
    total = int((doc or {}).get("total") or 0)
    if not total:
        return []
    title, count = counted_text(doc)
    lines = [f"  {title}: {count}{_counted(doc, total)} (the latest first)"]
    for v in list(doc.get("recent") or ())[:latest]:
        notional = v.get("notional")
        value = f"notional {notional:,.2f}" if isinstance(notional, (int, float)) else "notional unknown"
        who = _bot_order(v)
        outcome = v.get("outcome") or ("dry run" if v.get("dry_run") else "pending")
        if v.get("action") == "revert":  # the runner's own order, named apart from the bot's
            outcome = f"the runner's own revert {revert_side(v)} {v.get('revert_client_order_id') or '-'}: {outcome}"
        # a limit's breach under an active lock says which limit, not "under active"
        broke = (f"breaking {v.get('reason')}" if v.get("kind") == "LIMIT_VIOLATION" and v.get("reason")
                 else f"under {v.get('mode')} {v.get('scope')}")
        lines.append(f"    {_when(v.get('ts_ms'))} {v.get('action', '?'):<6} {v.get('account')} {v.get('symbol')} "
                     f"{bot_side(v)} {figure(v.get('amount', 0), v.get('amount_step'))} ({value}) {_strategies(v)} "
                     f"{'orders' if len(v.get('orders') or ()) > 1 else 'order'} {who} {broke}: {outcome}")
    return lines


def _counted(doc: dict, total: int) -> str:
    """Over what the violations are counted, and when the first was: a start (or a takeover)
    reads the 24 h before it back, whose start is no violation's time. The count runs from
    there on: "in the last 24 h" would hold only at the start."""
    since, recent = doc.get("since_ms"), list(doc.get("recent") or ())
    stamps = [v["ts_ms"] for v in recent if isinstance(v.get("ts_ms"), int)]
    first = (f", the first at {_when(min(stamps))}" if len(stamps) >= total else
             f", the oldest shown at {_when(min(stamps))}") if stamps else ""
    if not since:
        return f" since this runner started{first}"
    if doc.get("read_back"):
        return f" since {_when(since)} (24 h before this runner started){first}"
    return f" since this runner started at {_when(since)}{first}"


def count_lines(doc: dict) -> list[str]:
    """The gate's refusals and the venue's violations counted (what ``gate_refusals`` and
    ``venue_violations`` read): blind when the counts cannot be told, else the most counted."""
    if not doc:
        return []
    lines = []
    blind = doc.get("blind")
    if blind:  # "UNCOUNTED: violations counted since …" says it once; another reason is named
        since = doc.get("since_ms")
        said = blind if str(blind).startswith("UNCOUNTED:") else \
            f"UNCOUNTED: {blind} (counting since {_when(since) if since else 'the next tick'})"
        lines.append(f"  VIOLATIONS {said}; a policy reading them sees them unknown")
    for c in doc.get("counts") or ():
        what = "refused" if c.get("source") == "gate" else "broke at the venue"
        where = f"{c.get('account') or '(no account named)'} {c.get('symbol') or '-'}"
        lines.append(f"  VIOLATIONS {c.get('code')} {what}: {c.get('last_1m', 0)} in 1m, {c.get('last_5m', 0)} in 5m "
                     f"strategy {c.get('strategy')} {where}")
    return lines


def _bot_order(v: dict) -> str:
    """The bot's order that broke the lock: its client order id and the venue's order id; a
    revert's, every bot's order whose fills grew the leg, each with its own strategy."""
    if v.get("orders"):
        return orders_text(v["orders"])
    cid, oid = v.get("client_order_id"), v.get("order_id")
    if cid and oid:
        return f"{cid} (id {oid})"
    return str(cid or (f"id {oid}" if oid else "-"))


def _strategies(v: dict) -> str:
    """``strategy alpha``, ``strategies alpha, beta``, and why a revert's is unknown."""
    names = [str(n) for n in v.get("strategies") or ()] or [str(v.get("strategy"))]
    said = ("strategy " if len(names) == 1 else "strategies ") + ", ".join(names)
    why = v.get("attribution")
    if isinstance(why, str) and why.startswith("unknown"):
        said = ("strategy " if len(names) == 1 else "strategies ") + ", ".join(
            why if n == "unknown" else n for n in names)
    return said


def mode_lines(st: RunnerStatus) -> list[str]:
    """Each account's position mode as its venue reads it: a mismatch with the declaration, or a
    mode not read, loud; an agreeing one on a quiet line."""
    lines = []
    for acct, m in sorted(st.position_modes.items()):
        margin = f", margin {m['margin']}" if m.get("margin") else ""
        if m.get("mismatch"):
            lines.append(f"  {m.get('reason')}: {acct}: closes are sent as the venue's mode")
        elif m.get("read") == "unread":
            lines.append(f"  position mode {acct}: unread ({m.get('reason') or 'no read'}); closes follow the "
                         f"positions' own legs, declared {m.get('declared')}")
        else:
            source = m.get("source") or "the venue"
            lines.append(f"  position mode {acct}: {m.get('read')}{margin} (read from {source})")
    return lines


def _refusals(n: int) -> str:
    return f"{n} order{'' if n == 1 else 's'} refused"


def _tries(r: dict) -> str:
    """The tries of a leg's close apart from its orders: ``2 tries``, or for a close sent in
    chunks ``1 try of 2 chunks`` (one planning of the close, several orders)."""
    orders = int(r.get("tries") or 0)
    if not r.get("rounds"):  # a runner that did not count them: the bound (never "5 tries of 2")
        n = min(orders, int(r.get("bound") or orders))
        return "1 try" if n == 1 else f"{n} tries"
    n = int(r["rounds"])
    said = "1 try" if n == 1 else f"{n} tries"
    if orders <= n:
        return said
    return f"{said} of {orders} chunks" if n == 1 else f"{said}, {orders} chunks in all"


def _tried_up_to(n: int) -> str:
    return "tried at most once" if n == 1 else f"tried up to {n} times"


def rejection_lines(st: RunnerStatus) -> list[str]:
    """The legs whose closes the venue refused: CLOSE_REJECTED (not sent again) or still tried."""
    lines = []
    stopped: dict[tuple[str, str, str], list[dict]] = {}  # one CLOSE_REJECTED line per leg, every incident named
    for r in st.close_rejections:
        if r["state"] == "CLOSE_REJECTED":
            stopped.setdefault((r["account"], r["symbol"], str(r["leg"]).casefold()), []).append(r)
    for r in st.close_rejections:
        same = stopped.get((r["account"], r["symbol"], str(r["leg"]).casefold()), [])
        if len(same) > 1:
            if r is same[0]:
                lines.append(f"  {_rejected_leg(same)}")
            continue
        since = f" since {iso(r['first_ms'])}" if r.get("first_ms") else ""
        # tries: the venue's refusals of the leg's closes (a chunked close counts each order); rounds:
        # the tries (one planning of the close, its chunks together: "1 try of 2 chunks" is not
        # "2 tries"); bound: the orders refused before it is given up (never "5 of 2")
        what = (f"CLOSE_REJECTED {r['account']} {r['symbol']} {r['leg']}: {_refusals(r['tries'])} by the venue "
                f"(given up after {_tries(r)}): {r['venue_said']} ({r['reason']}); not sent again for "
                f"incident {r['incident']}{since}") if r["state"] == "CLOSE_REJECTED" else (
            f"CLOSE REFUSED {r['account']} {r['symbol']} {r['leg']}: {_refusals(r['tries'])} in {_tries(r)} "
            f"({r['kind']}), "
            f"{_tried_up_to(r['bound'])}: {r['venue_said']} ({r['reason']}); incident {r['incident']}"
            + (f"; tried again at {iso(r['next_ms'])}" if r.get("next_ms") else ""))
        lines.append(f"  {what}")
    if any(r["state"] == "CLOSE_REJECTED" for r in st.close_rejections):
        lines.append("  (each stands until its position is closed, a later close fills, or "
                     f"{accept_command('A', reason='R')}; --symbol S --leg L: that leg alone)")
    return lines


def _rejected_leg(same: Sequence[dict]) -> str:
    """A leg whose closes the venue refused for several incidents: once, each incident named."""
    r = same[0]
    said = "; ".join(dict.fromkeys(f"{x['venue_said']} ({x['reason']})" for x in same))
    each = ", ".join(f"{x['incident']} ({_refusals(x['tries'])}, given up after {_tries(x)}"
                     + (f", since {iso(x['first_ms'])}" if x.get("first_ms") else "") + ")" for x in same)
    return (f"CLOSE_REJECTED {r['account']} {r['symbol']} {r['leg']}: {said}; not sent again for "
            f"incidents {each}")


def weight_lines(st: RunnerStatus) -> list[str]:
    """Each venue's REST weight of the last minute against its per-IP limit, and whose count it is."""
    lines = []
    for venue, w in sorted(st.venue_weight.items()):
        used, limit = w.get("used_per_minute") or 0.0, w.get("limit_per_minute")
        whose = "the venue's count" if w.get("source") == "venue" else "counted by this runner"
        if limit:
            text = f"{used:,.0f} of {limit:,.0f} {w.get('unit')} a minute per IP ({used / limit:.0%}, {whose})"
        else:
            text = f"{used:,.0f} {w.get('unit')} a minute ({whose}; no per-IP limit: the venue counts per UID)"
        lines.append(f"  REST weight {venue}: {text}, {w.get('accounts')} account(s)")
    return lines


def audit_sink_lines(doc: dict, ref_ms: Optional[int]) -> list[str]:
    """One line per SIEM sink of the audit chain (``audit_sinks``): its URL, whether it takes
    rows, the rows not acknowledged yet, and the last error since when."""
    lines = []
    for s in doc.get("sinks") or ():
        state = {"up": "takes rows", "down": "DOWN"}.get(s.get("state"), "not reached yet")
        cause = f", {s['cause']} since {_time_of_day(s.get('since_ms'), ref_ms)}" if s.get("cause") else ""
        required = "; required: writes that add risk wait for a sink" if s.get("required") else ""
        shipping = "" if s.get("shipping") else " (standby: the leader sends)"
        lines.append(f"  audit sink {s.get('name')} {s.get('url')}: {state}{cause}; lag {s.get('lag_rows', 0)} "
                     f"row(s), acknowledged seq {s.get('acknowledged_seq') or 0} of {s.get('head_seq', 0)}"
                     f"{shipping}{required}")
    return lines


def standby_line(st: RunnerStatus) -> str:
    """What a standby says of who leads: the lease holder as the lease stores it."""
    me = f" ({st.holder})" if st.holder else ""
    if st.lease_holder and st.lease_holder != st.holder:
        return (f"STANDBY: this runner{me} does not act; the leader is {st.lease_holder} (the lease holder): "
                "send changes there")
    return f"STANDBY: this runner{me} does not act; no runner holds the lease right now"


def coverage_lines(st: RunnerStatus) -> list[str]:
    """Armed, or what the kill switch cannot see: a count, then one line per blind or unmatched
    policy × scope with why and until when (armed scopes are counted, not listed), then one line
    per account no policy's scope selects (``UNGUARDED``, engine/guarded.py)."""
    return _scope_coverage(st) + [f"  {unguarded_text(a)}" for a in st.unguarded]


def _scope_coverage(st: RunnerStatus) -> list[str]:
    rows = st.coverage
    if not rows:
        return ["  coverage: not evaluated yet (no tick under this graph)"]
    off = [r for r in rows if r.state != "armed"]
    if not off and st.unguarded:  # every scope armed, yet an account is outside every scope
        return [f"  COVERAGE: all {len(rows)} policy scope(s) armed, but {len(st.unguarded)} account(s) "
                "guarded by no policy"]
    if not off:
        return [f"  coverage: all {len(rows)} policy scope(s) armed"]
    alarming = [r for r in off if not r.allowed]
    if alarming:
        lines = [f"  COVERAGE: {len(alarming)} of {len(rows)} policy scope(s) NOT ARMED"]
    else:  # only policies prepared ahead of their accounts: expected, said calmly
        lines = [f"  coverage: {len(rows) - len(off)} of {len(rows)} policy scope(s) armed; "
                 f"{len(off)} select(s) no account, as allow_empty allows"]
    for r in off:
        when = f", since {iso(r.since_ms)}" if r.since_ms is not None else ""
        if r.allowed:
            lines.append(f"  unmatched (allowed) {r.policy}: {r.detail}{when}: it acts once an account matches")
            continue
        if r.state == "unmatched":
            lines.append(f"  UNMATCHED {r.policy}: {r.detail}{when}: the policy cannot act")
            continue
        until = "unknown (waiting for data)" if r.until_ms is None else iso(r.until_ms)
        doing = r.while_blind or "nothing (no while_blind)"
        partly = " (partly)" if r.partly else ""  # some trigger can still fire: said on the next line
        lines.append(f"  BLIND {r.policy} {r.scope}{partly}: {r.reason}{when}; {acts_text(r)}armed again at {until}; "
                     f"while blind: {doing}")
        if r.partly:
            lines.append(f"      {r.partly}")
        for t in r.triggers:
            still = (f"; can still fire on {', '.join(t.fires_on)}" if t.fires_on else
                     f"; can fire again at {iso(t.fires_from_ms)}" if t.fires_from_ms is not None else "")
            lines.append(f"      trigger {t.trigger}: {t.detail}{still}")
        if not r.triggers:
            lines.append(f"      {r.detail}")
    return lines



def acts_text(r: CoverageStatus) -> str:
    """When a blind scope can act again, before it is armed again: ``can fire again at T (soft,
    hard); `` (:attr:`CoverageStatus.acts_from_ms`, the engine's one figure); nothing for a partly
    blind one, which can act now and says so, nor for one whose armed-again time alone is known
    (a standby's: it can fire by then); ``unknown`` only when neither is
    (:attr:`CoverageStatus.acts_unknown`)."""
    if r.acts_unknown:
        return "can fire again: unknown; "
    if r.partly or r.acts_from_ms is None:  # (no trigger's time: by when it is armed again, said next)
        return ""
    return f"can fire again at {iso(r.acts_from_ms)} ({', '.join(r.acts_first)}); "


def status_json(st: RunnerStatus, locks: LockDocument) -> str:
    """The status document as the API wrote it, with the lock document (``GET /v1/lock``) as ``lock``
    (``limits`` in it when a policy sets some, as the runner writes it)."""
    lock = dataclasses.asdict(locks)
    if not lock["limits"]:
        del lock["limits"]
    return api_json({**dataclasses.asdict(st), "lock": lock})
