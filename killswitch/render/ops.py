"""Render what a running runner answers the operator commands (``ksctl status``, ``dms status``,
``close``, ``lock``, ``unlock``, ``reset``, ``heartbeat``): text for people; JSON as the API wrote it.

The values are the typed answers of :class:`killswitch.client.RunnerClient`; a refusal is its
:class:`~killswitch.client.RunnerError`, shown with the runner's own words.

Formats values only: it must not call the runner, print, or pick exit codes.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Optional, Sequence

from ..client import ORIGIN_DMS, ORIGIN_OPERATOR, CloseProgress, DmsStatus, LockDocument, LockHold, RunnerError, \
    RunnerUnreachable, dms_of
from ..runner.view import ActionPreview, ChangeResult, CloseResult, PlannedOrder, RunnerStatus
from ..figures import figure, step_of
from ..sources import revision_text
from .times import iso


def _age(seconds: Optional[float]) -> str:
    return "-" if seconds is None else f"{seconds:g}s"


def _json(value: Any) -> str:
    # the API writes a value field by field in declaration order, as asdict does: the same document
    plain = dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value
    return json.dumps(plain, indent=1)


# --- status -------------------------------------------------------------------------------------------


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
            f" ({f.failures} failed rounds)" if f.failures > 1 else "") for f in st.pages_failing)
        lines.append(f"Pages are failing since {_time_of_day(since, st.last_tick_ms)}: {receivers}")
    return lines


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
        reconciled = f", last reconcile {'never' if last is None else _age(last) + ' ago'}"
        if s.get("reconcile_every_s"):
            reconciled += f" (every {_age(s['reconcile_every_s'])})"
        if s.get("reconcile_failures"):
            reconciled += (f", {s['reconcile_failures']} failed since ("
                           f"{s.get('reconcile_failure_reason') or 'unknown'})")
    return (f"{head} (last message {'never' if age is None else _age(age) + ' ago'}{reconciled}, "
            f"{s.get('reconnects', 0)} reconnect(s), {s.get('disagreements', 0)} disagreement(s), "
            f"{dropped} dropped)")


def status_text(st: RunnerStatus, locks: LockDocument) -> str:
    """Mode, leadership, graph; the runner's own failures (reload, pages); stages per scope;
    data ages with each account's fetch error; the trading locks (mode, origin, reason,
    expiry); the pre-trade limits' usage; resumptions and their limits; residuals; the dead man's switch."""
    shard = f"shard {st.shard}  " if st.shard else ""
    lines = [f"{shard}mode {st.mode}  {'leader' if st.leader else 'standby'} (fence {st.fence})  "
             f"graph {st.graph_digest[:19]}  revision {revision_text(st.graph_revision)}  "
             f"last tick {_when(st.last_tick_ms)}"]
    if not st.leader:
        lines.append(standby_line(st))
    if st.policy_error:
        lines.append(f"POLICY RELOAD FAILED (last good graph running): {st.policy_error}")
    lines += failure_lines(st)
    for s in st.scopes:
        extra = f"  since {iso(s.entered_ms)}" if s.stage and s.entered_ms is not None else ""
        if s.manual and s.stage:
            extra += f"  LATCHED: reset needs {s.approvals_needed} approver(s), have {len(s.approvals)}" + (
                f" ({', '.join(s.approvals)})" if s.approvals else "")
        have = s.acks or ((s.ack,) if s.ack is not None else ())
        if have:  # who has the scope's incident (ksctl ack): everyone who said so, each with their note
            extra += "  ACKNOWLEDGED by " + "; ".join(
                f"{a.author} at {iso(a.ts_ms)}" + (f": {a.comment}" if a.comment else "") for a in have)
        lines.append(f"  {s.policy:<20} {s.scope:<40} stage {s.stage} {s.stage_name or ''}{extra}")
    lines += coverage_lines(st)
    lines += [f"SILENCE {flag}" for flag in st.silences_idle]
    for acct in sorted(set(st.data_age_s) | set(st.fetch_errors) | set(st.streams)):
        age = st.data_age_s.get(acct)
        error = st.fetch_errors.get(acct)
        stream = st.streams.get(acct)
        lines.append(f"  data age {acct}: {_age(age)}" + (f"  {_fetch_error(error, st.last_tick_ms)}" if error else "")
                     + (f"  {stream_text(stream)}" if stream else ""))
    lines += mode_lines(st)
    lines += rejection_lines(st)
    lines += weight_lines(st)
    lines += lock_lines(locks)
    lines += limit_lines(locks)
    for r in st.resuming:
        limits = ", ".join(x for x in (
            f"max {r.max_positions} position(s)" if r.max_positions is not None else "",
            f"gross exposure {figure(r.max_gross_exposure)}" if r.max_gross_exposure is not None else "") if x)
        step = f"; steps up at {iso(r.until_ms)}" if r.until_ms is not None else ""
        lines.append(f"  RESUMING {r.policy} {r.scope}: {step_of(r.day, r.days, r.step_ms)} since {iso(r.since_ms)}, "
                     f"{r.fraction * 100:g}% of normal limits ({limits or 'no limit set'}){step}")
    for x in st.residuals:  # what closes left open and the runner stopped closing
        leg = f" {x.position_side}" if x.position_side else ""
        lines.append(f"  RESIDUAL {x.account} {x.symbol} {x.side}{leg} {figure(x.amount)}: {x.why} ({x.detail}); "
                     f"incident {x.incident}")
    lines += trading_lines(st)
    lines += violation_lines(st.lock_violations)
    lines += dms_lines(dms_of(st))
    return "\n".join(lines)


def trading_lines(st: RunnerStatus) -> list[str]:
    """Each account whose bots' keys are revoked at the venue, being revoked or restored, or
    failing to be: what the venue confirmed (revoked only then), who holds it, what is owed."""
    lines = []
    for account, t in sorted(st.trading.items()):
        holds = "; ".join(
            f"{h['policy']} {h['scope']}" + (f" stage {h['stage']}" if h.get("stage") else "")
            + (f" by {h['by']}" if h.get("by") else "")
            + f" (restore needs {h['approvals_needed']} approver(s), have {len(h.get('approvals') or ())})"
            for h in t.get("holds") or ())
        keys = ", ".join(f"{k}={v}" for k, v in sorted((t.get("keys") or {}).items()))
        owed = t.get("owed") or {}
        retry = f"; next try {owed['next_ts']}" if owed.get("failure") else ""
        lines.append(f"  TRADING {account}: {t.get('shown')}" + (f"; keys {keys}" if keys else "")
                     + (f"; held by {holds}" if holds else "") + retry)
    return lines


def violation_lines(doc: dict, latest: int = 10) -> list[str]:
    """What broke a lock at the venue (the venue watch): the count, and the latest, newest first."""
    total = int((doc or {}).get("total") or 0)
    if not total:
        return []
    lines = [f"  LOCK VIOLATIONS: {total} since this runner started (the latest first)"]
    for v in list(doc.get("recent") or ())[:latest]:
        notional = v.get("notional")
        value = f"notional {notional:,.2f}" if isinstance(notional, (int, float)) else "notional unknown"
        who = v.get("client_order_id") or v.get("revert_client_order_id") or "-"
        outcome = v.get("outcome") or ("dry run" if v.get("dry_run") else "pending")
        lines.append(f"    {_when(v.get('ts_ms'))} {v.get('action', '?'):<6} {v.get('account')} {v.get('symbol')} "
                     f"{v.get('side')} {figure(v.get('amount', 0))} ({value}) strategy {v.get('strategy')} "
                     f"order {who} under {v.get('mode')} {v.get('scope')}: {outcome}")
    return lines


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


def rejection_lines(st: RunnerStatus) -> list[str]:
    """The legs whose closes the venue refused: CLOSE_REJECTED (not sent again) or still tried."""
    lines = []
    for r in st.close_rejections:
        what = (f"CLOSE_REJECTED {r['account']} {r['symbol']} {r['leg']}: {r['tries']} of {r['bound']} closes "
                f"rejected by the venue: {r['venue_said']} ({r['reason']}); not sent again for incident "
                f"{r['incident']}") if r["state"] == "CLOSE_REJECTED" else (
            f"CLOSE REFUSED {r['account']} {r['symbol']} {r['leg']}: {r['tries']} of {r['bound']} tries "
            f"({r['kind']}): {r['venue_said']} ({r['reason']})"
            + (f"; tried again at {iso(r['next_ms'])}" if r.get("next_ms") else ""))
        lines.append(f"  {what}")
    return lines


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


def standby_line(st: RunnerStatus) -> str:
    """What a standby says of who leads: the lease holder as the lease stores it."""
    me = f" ({st.holder})" if st.holder else ""
    if st.lease_holder and st.lease_holder != st.holder:
        return (f"STANDBY: this runner{me} does not act; the leader is {st.lease_holder} (the lease holder): "
                "send changes there")
    return f"STANDBY: this runner{me} does not act; no runner holds the lease right now"


def coverage_lines(st: RunnerStatus) -> list[str]:
    """Armed, or what the kill switch cannot see: a count, then one line per blind or unmatched
    policy × scope with why and until when (armed scopes are counted, not listed)."""
    rows = st.coverage
    if not rows:
        return ["  coverage: not evaluated yet (no tick under this graph)"]
    off = [r for r in rows if r.state != "armed"]
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
        lines.append(f"  BLIND {r.policy} {r.scope}: {r.reason}{when}; armed again at {until}; while blind: {doing}")
        if r.partly:
            lines.append(f"      {r.partly}")
        for t in r.triggers:
            still = f"; can still fire on {', '.join(t.fires_on)}" if t.fires_on else ""
            lines.append(f"      trigger {t.trigger}: {t.detail}{still}")
        if not r.triggers:
            lines.append(f"      {r.detail}")
    return lines


def _held_until(h: LockHold) -> str:
    if h.manual:
        return "held until a manual reset (ksctl reset)"
    if h.expires_ts is not None:
        return f"until {h.expires_ts}"
    if h.origin == ORIGIN_OPERATOR:
        return "until ksctl unlock"
    if h.origin == ORIGIN_DMS:
        return "until the source is armed again or ksctl unlock"
    if h.details.get("while_blind"):
        return "until the scope is armed again (spec.while_blind)"
    return "until its stage resets"


def _holder(h: LockHold) -> str:
    if h.origin == ORIGIN_OPERATOR:  # who, when the runner recorded it (the caller's identity)
        return h.origin + (f" {h.details['by']}" if isinstance(h.details.get("by"), str) else "")
    if h.origin == ORIGIN_DMS:
        return h.origin
    if h.details.get("while_blind"):
        return f"policy {h.policy} while blind"
    return f"policy {h.policy}" + (f" stage {h.stage}" if h.stage is not None else "")


def lock_downgrade_text(p: ActionPreview, mode: str, replaced: Sequence[LockHold]) -> str:
    """A lock that weakens what binds its scope, before it is sent: before -> after, the
    operator's holds it replaces (who set them, why), and the runner's preview of the change."""
    before, after = p.lock_before or "active", p.lock_after or "active"
    if before != after:
        lines = [f"lock {p.scope}: {before} -> {after} (WEAKER: orders refused now will pass)"]
    else:
        lines = [f"lock {p.scope}: the operator's lock becomes {mode}; {p.scope} stays {after} while another "
                 f"lock binds it, and is {mode} once that one is lifted"]
    for h in replaced:
        who = f" by {h.details['by']}" if isinstance(h.details.get("by"), str) else ""
        lines.append(f"  replaces the operator's {h.mode} lock{who} set {h.created_ts or '-'}: {h.reason}")
    lines += [f"  {e}" for e in p.effects if not e.startswith("replaces the operator's")]
    return "\n".join(lines)


def lock_lines(locks: LockDocument) -> list[str]:
    """One line per hold of every locked scope: the mode, who holds it (a policy's stage, an
    operator, the dead man's switch), since when, until when and why; or that nothing is locked."""
    if not locks.scopes:
        return ["  trading locks: none (every scope active)"]
    lines = []
    for scope, entry in sorted(locks.scopes.items()):
        holds = entry.holds or ()
        for h in holds:
            lines.append(f"  LOCK {scope}: {h.mode} by {_holder(h)} since {h.created_ts or '-'}, {_held_until(h)}; "
                         f"reason: {h.reason}")
        if not holds:  # a runner that sends no holds: the merged entry is what there is
            lines.append(f"  LOCK {scope}: {entry.mode}; reason: {entry.reason}")
    return lines


def limit_lines(locks: LockDocument) -> list[str]:
    """One line per pre-trade limit of each scope: its usage against its value (unknown when an
    account of the scope was not read); OVER when the book breaks it already."""
    lines = []
    for p in locks.limits:
        for u in p.usage:
            of = f" {u.symbol}" if u.symbol else ""
            if u.usage is None:
                used = "usage unknown (an account not read)"
            else:
                share = f" ({u.usage / u.value:.0%})" if u.value else ""
                used = f"{figure(u.usage)} of {figure(u.value)}{share}" + ("  OVER" if u.usage > u.value else "")
            lines.append(f"  LIMIT {p.policy} {u.scope} {u.limit}{of}: {used}")
    return lines


def status_json(st: RunnerStatus, locks: LockDocument) -> str:
    """The status document as the API wrote it, with the lock document (``GET /v1/lock``) as ``lock``
    (``limits`` in it when a policy sets some, as the runner writes it)."""
    lock = dataclasses.asdict(locks)
    if not lock["limits"]:
        del lock["limits"]
    return _json({**dataclasses.asdict(st), "lock": lock})


# --- the dead man's switch ----------------------------------------------------------------------------


def dms_lines(d: DmsStatus) -> list[str]:
    """One line per heartbeat source, then one per venue countdown."""
    lines = []
    for name, s in sorted(d.sources.items()):
        if s.fired:
            state = "FIRED" + (f" (trading halted for {name})" if s.locked else "")
        elif s.armed:
            state = f"armed, fires in {_age(s.fires_in_s)}"
        else:
            state = "disarmed" + (f" (trading halted for {name})" if s.locked else "")
        lines.append(f"  dms {name}: {state}; last beat {_age(s.last_beat_age_s)} ago, timeout {_age(s.timeout_s)}")
    for name, by in sorted(d.watched.items()):
        if name not in d.sources:  # watched, never heard: the bot to look at
            lines.append(f"  heartbeat {name}: NEVER HEARD; watched by {', '.join(by)}")
    for acct, n in sorted(d.native.items()):
        extra = "  LAPSED" if n.lapsed else ""
        extra += f"  refresh failing: {n.error}" if n.error else ""
        lines.append(f"  venue cancel-all-after {acct}: {n.countdown_s:g}s countdown, refreshed "
                     f"{_age(n.last_refresh_age_s)} ago, cancels in {_age(n.cancels_in_s)} without a "
                     f"refresh{extra}")
    for name, r in sorted(d.refused.items(), key=lambda kv: kv[1].last_refused_age_s):
        lines.append(f"  REFUSED heartbeat {name}: {r.count} beat(s), the last {_age(r.last_refused_age_s)} ago; "
                     f"{r.reason}")
    return lines


def dms_text(d: DmsStatus) -> str:
    lines = [] if d.sources or d.native or d.refused or d.watched else ["no source armed, no venue countdown"]
    return "\n".join(lines + dms_lines(d))


def dms_json(d: DmsStatus) -> str:
    return _json(d)


# --- a close: its preview, and following it ----------------------------------------------------------


def _n(x: float) -> str:
    return figure(x)


def planned_order_line(o: PlannedOrder) -> str:
    leg = f" {o.position_side}" if o.position_side else ""
    price = f"  limit {figure(o.limit_price, o.price_tick)}" if o.limit_price is not None else ""
    chunk = f"  chunk {o.chunk}/{o.chunks}" if o.chunks > 1 else ""
    return (f"  {o.side} {_n(o.amount)} {o.symbol}{leg} on {o.account}  ≈{_n(o.notional)}{price}"
            f"{'  reduce-only' if o.reduce_only else ''}{chunk}")


def close_plan_text(scope: str, r: CloseResult, live: bool) -> str:
    """What a close would send (the preview) or was queued with (``live``): on a dry-run runner
    first of all that nothing will be sent; every order as planned from the runner's last
    snapshots, their total notional, how old those snapshots are, the fills taken off them, the
    preview's id and the maximum notional the close is held to; and the runner's words when it
    refused."""
    what = "queued with" if live else "would send"
    target = f"{r.symbol} in {scope}" if r.symbol else scope
    lines = []
    if r.mode == "dry-run":
        lines.append("DRY RUN: this runner sends nothing to any venue: nothing will be sent; the orders are only "
                     "planned and audited")
    if not r.accepted:
        lines.append(f"close {target}: {r.reason}")
    elif r.orders == 0:
        lines.append(f"close {target}: nothing to send: no position to close in the runner's last snapshots")
    else:
        lines.append(f"close {target}: {what} {r.orders} order(s), as planned from the runner's last snapshots "
                     "(planned again at the close's tick):")
    lines += [planned_order_line(o) for o in r.plan]
    if r.orders and not r.plan:
        lines.append(f"  ({r.orders} order(s); this runner does not list them)")
    facts = []
    if r.notional is not None and r.orders:
        facts.append(f"total notional ≈{_n(r.notional)}")
    if r.as_of_ms is not None:
        age = f", {r.age_s:.0f}s old" if r.age_s is not None else ""
        facts.append(f"positions as of {iso(r.as_of_ms)}{age}")
    if facts:
        lines.append("  " + "; ".join(facts))
    lines += [f"  fill since the snapshot, taken off: {n}" for n in r.notes]
    if r.preview_id and r.max_notional is not None:
        lines.append(f"  preview {r.preview_id}; a close of it is held to a notional of at most {_n(r.max_notional)}")
    return "\n".join(lines)


def close_json(preview: Optional[CloseResult], sent: Optional[CloseResult], settled: Optional[CloseProgress] = None,
               refused: Optional[str] = None) -> str:
    """``ksctl close -o json``: the preview, what was sent (null: nothing), how it settled (with
    --wait), and why nothing was sent when the command refused to send it."""
    plain = {"format_version": 1, "preview": dataclasses.asdict(preview) if preview else None,
             "sent": dataclasses.asdict(sent) if sent else None,
             "settled": dataclasses.asdict(settled) if settled else None, "refused": refused}
    return json.dumps(plain, indent=1)


# --- a close being followed ---------------------------------------------------------------------------


def _target(p: CloseProgress) -> str:
    return f"{p.symbol} in {p.scope}" if p.symbol else p.scope


def close_progress_line(p: CloseProgress) -> str:
    if p.state == "queued":
        return f"close {_target(p)}: queued for the next tick ({p.orders} order(s) planned now)"
    return f"close {_target(p)}: {p.settled}/{p.orders} order(s) settled, {p.filled} filled, {p.open} open"


def close_still_working(close_id: str, timeout_s: float, p: CloseProgress) -> str:
    return f"ksctl close: {close_id} still working after {timeout_s:g}s: {close_progress_line(p)}"


def close_outcome(p: CloseProgress) -> str:
    """What a close that reached a final state came to."""
    if p.state == "unplanned":
        return f"ksctl close: {p.scope} was not in the runner's snapshots at its tick; nothing was sent"
    if p.state == "expired":
        return (f"ksctl close: the close of {p.scope} was asked for before its runner stopped and no tick planned it; "
                "too old to carry out now, nothing was sent: ask again")
    if p.state == "dry_run":
        return f"ksctl close: the runner is in dry run: {p.orders} order(s) planned and audited, none sent"
    if p.state == "refused":
        return f"ksctl close: the close of {_target(p)} was refused at its tick; nothing was sent: {p.reason}"
    statuses = ", ".join(f"{k} {v}" for k, v in p.statuses.items()) or "no orders"
    refused = sum(n for k, n in p.statuses.items() if k in ("rejected", "failed"))
    if refused:  # never "settled" alone when the venue refused: what it said, in its words
        said = "; ".join(p.venue_said) or "no reason given"
        verdict = "FAILED" if refused == sum(p.statuses.values()) else "partly failed"
        return (f"close {_target(p)} {verdict}: {refused} of {sum(p.statuses.values())} order(s) rejected by the "
                f"venue: {said}")
    return f"close {_target(p)} settled: {statuses}"


# --- the order journal (ksctl history) ----------------------------------------------------------------


def _planned_line(row: Any) -> str:
    o = row.payload
    leg = f" {o['position_side']}" if o.get("position_side") else ""
    return (f"{iso(row.ts_ms)}  {o.get('client_order_id')}  {o.get('venue')}/{o.get('account')} {o.get('symbol')} "
            f"{o.get('side')}{leg} {o.get('amount'):g}  planned, not sent (dry run)  {o.get('decision_id')}")


def _journal_line(r: Any) -> str:
    """One journaled order: when, its id, where, what (the hedge leg it closes, when it names
    one), how it ended (and the venue's or the runner's reason code), and why it was sent (the
    decision: a policy's stage entry, or an operator's close)."""
    leg = f" {r.position_side}" if (r.position_side or "").upper() in ("LONG", "SHORT") else ""  # as --planned says
    why = (f"  {r.reason_code}" if r.reason_code else "") + refused_text(r)  # and what the venue said
    return (f"{iso(r.created_ms)}  {r.client_order_id}  {r.venue}/{r.account} {r.symbol} {r.side}{leg} "
            f"{r.amount:g}  {r.status or 'pending'}{why}  by {r.decision_id}")


def history_text(rows: list, verification: Any, planned: Optional[list] = None, planned_total: int = 0) -> str:
    """One line per journaled order, newest last (its time in ISO-8601 UTC), then what verifying
    the audit chain found. ``planned`` (``--planned``): the dry run's planned orders instead, from
    the audit trail; ``planned_total``: how many the trail holds, said when the journal is empty."""
    if planned is not None:
        lines = [_planned_line(r) for r in planned]
        lines.append(f"{planned_total} planned order(s) in the audit trail (dry run: none was sent)"
                     + (f"; the latest {len(planned)} are listed" if len(planned) < planned_total else ""))
    else:
        lines = [_journal_line(r) for r in rows]
        if not rows and planned_total:
            lines.append(f"dry run: nothing journaled; {planned_total} planned order(s) are in the audit trail "
                         "(ksctl history --planned lists them)")
        elif not rows:
            lines.append("no order journaled")
    return "\n".join(lines + [verification.describe(lead="audit chain: ")])


def refused_text(r: Any) -> str:
    """``: -1106 Parameter 'reduceOnly' sent when not required.`` of a journaled order the venue
    (or the adapter) refused: what it said, as stored with the result; nothing otherwise."""
    detail = getattr(r, "detail", None)
    return f": {detail}" if detail and r.status in ("rejected", "failed") else ""


def history_json(rows: list, verification: Any, planned: Optional[list] = None, planned_total: int = 0) -> str:
    """The journal as stored (``created_ms`` / ``updated_ms``), each time also as ``created_ts`` /
    ``updated_ts`` (ISO-8601 UTC), and the verification (``audit_ok``: what exit 0 means);
    ``planned_total``, the dry run's planned orders in the audit trail, and with ``--planned``
    ``planned``: those listed (each its audit row's ``seq``, ``ts``, and the intent as audited)."""
    journal = [{**r.__dict__, "created_ts": iso(r.created_ms),
                "updated_ts": iso(r.updated_ms) if r.updated_ms is not None else None} for r in rows]
    doc: dict = {"format_version": 3, "audit_ok": verification.passed, "audit_first_bad_row":
                 verification.first_bad_seq, "audit": verification.to_json(), "journal": journal,
                 "planned_total": planned_total}
    if planned is not None:
        doc["planned"] = [{"seq": r.seq, "ts_ms": r.ts_ms, "ts": iso(r.ts_ms), **r.payload} for r in planned]
    # 2: audit_ok (and audit.intact) no longer true for a chain whose MACs went unchecked
    # 3: audit_ok false for a chain checked against neither the key nor an anchor (consistent_unverified)
    return json.dumps(doc, indent=1, default=str)


# --- refusals -----------------------------------------------------------------------------------------


def refusal_text(e: RunnerError) -> str:
    """A refused change as the runner put it: its ``reason`` (the whole body when it is not an
    object; nothing when it has none)."""
    said = e.body.get("reason") if isinstance(e.body, dict) else e.body
    return "" if said is None else str(said)


def failure_line(command: str, e: RunnerError) -> str:
    """``ksctl status: refused (HTTP 401): AUTH_REQUIRED: ...``: the command, the status and the
    runner's reason in its own words (``-o json`` shows the answer as it came)."""
    return f"ksctl {command}: refused (HTTP {e.status}): {e.reason}"


def auth_hint(command: str, token_env: str, token_set: bool, role: str = "viewer") -> str:
    """What to do when a call is refused for want of a valid token (a 401): a read needs the
    ``viewer`` role (or any), a change the ``operator`` role, a reset the ``approver`` role."""
    what = f"the token in {token_env} is not one this runner knows" if token_set else f"{token_env} is not set"
    if role == "viewer":
        return (f"ksctl {command}: {what}: this runner shows its status, runbooks and closes only to a token with "
                f"the viewer, operator or approver role (or to anyone with ksctl run --console-public); set "
                f"{token_env} to a token with the viewer role (ksctl token new --identity NAME --roles viewer)")
    return (f"ksctl {command}: {what}: set {token_env} to a token with the {role} role "
            f"(ksctl token new --identity NAME --roles {role})")


def change_json(result: Any) -> str:
    """A change's answer (a ``ChangeResult``, ``ResetResult``...) as the API wrote it."""
    return _json(result)


def heartbeat_done(source: str) -> ChangeResult:
    """What ``ksctl heartbeat`` did, said as every change says it (the API answers a beat with
    no body: 204)."""
    return ChangeResult(True, f"HEARTBEAT_RECORDED: source={source}")


def answer_json(e: RunnerError) -> str:
    """The answer of a refused read, as it came (``-o json``)."""
    return json.dumps(e.body, indent=1)


def unreachable_line(e: RunnerUnreachable) -> str:
    return f"ksctl: {e.reason}"


def follow_failure_line(close_id: str, e: RunnerError) -> str:
    return f"ksctl close: cannot follow {close_id}: HTTP {e.status}: {e.reason}"
