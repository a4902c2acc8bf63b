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
from typing import Optional

from .. import facts
from ..client import LockDocument, dms_of
from ..facts import stamp as _when
from ..figures import figure, step_of
from ..relatch import relatched_text
from ..sources import revision_text
from ..view import RunnerStatus
from .dms import dms_lines
from .locks import limit_lines, lock_lines, window_lines
from .ops import api_json
from .overrides import override_line
from .policy_sync import policy_sync_lines
from .times import duration_text, iso, seconds_text


def _fetch_error(e: dict, ref_ms: Optional[int]) -> str:
    return (f"FETCH FAILING since {facts.time_of_day(e.get('since_ms'), ref_ms)} ({e.get('failures')} in a row): "
            f"{e.get('code')}: {e.get('message') or '-'}")


def stream_text(s: dict) -> str:
    """An account's private stream as ``ksctl status`` shows it beside its data age: its state,
    its last message, its last good REST reconcile and the failed ones since (a runner that does
    not report reconciles shows none)."""
    if s.get("state") == "off":
        return f"stream off, polls ({s.get('reason') or 'STREAM_UNSUPPORTED'})"
    age = s.get("last_message_age_s")
    why = s.get("reason") or ("RECONCILE_OVERDUE" if s.get("reconcile_overdue") else str(s.get("state")).upper())
    unstreamed = list(s.get("unstreamed") or ())
    if unstreamed:  # (the held symbols whose marks the venue refused: valued from REST)
        why += f" ({', '.join(unstreamed[:5])}{f' +{len(unstreamed) - 5}' if len(unstreamed) > 5 else ''} from REST)"
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
    """Mode, leadership, graph; the standing facts, what can lose money first
    (:func:`killswitch.facts.status_lines`); stages per scope;
    data ages with each account's fetch error; the trading locks (mode, origin, reason,
    expiry); the pre-trade limits' usage; resumptions and their limits; residuals; the dead man's switch."""
    shard = f"shard {st.shard}  " if st.shard else ""
    lines = [f"{shard}mode {st.mode}  {'leader' if st.leader else 'standby'} (fence {st.fence})  "
             f"graph {st.graph_digest[:19]}  revision {revision_text(st.graph_revision)}  "
             f"last tick {_when(st.last_tick_ms)}"]
    if not st.leader:
        lines.append(standby_line(st))
    lines += facts.status_lines(facts.of(st))  # what can lose money first, the configuration's noise last
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
    lines += [f"  OVERRIDE {override_line(o, f': {o.reason_code}')}" for o in st.overrides]
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
        for endpoint, waited in sorted((w.get("endpoint_waits") or {}).items()):
            lines.append(f"  REST window {venue} {endpoint}: {waited.get('waits', 0)} request(s) waited for the "
                         f"venue's limit of the endpoint, {waited.get('seconds', 0.0):.1f} s in all")
    return lines


def audit_sink_lines(doc: dict, ref_ms: Optional[int]) -> list[str]:
    """One line per SIEM sink of the audit chain (``audit_sinks``): its URL, whether it takes
    rows, the rows not acknowledged yet, and the last error since when."""
    lines = []
    for s in doc.get("sinks") or ():
        state = {"up": "takes rows", "down": "DOWN"}.get(s.get("state"), "not reached yet")
        cause = f", {s['cause']} since {facts.time_of_day(s.get('since_ms'), ref_ms)}" if s.get("cause") else ""
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
    """Armed, or what the kill switch cannot see: a count (armed scopes are counted, not
    listed), then one calm line per policy its scope's ``allow_empty`` lets select nothing. The
    blind and unmatched scopes and the accounts no policy's scope selects (``UNGUARDED``) are
    standing facts, said with them."""
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
    return lines + [f"  unmatched (allowed) {r.policy}: {r.detail}" + (
        f", since {iso(r.since_ms)}" if r.since_ms is not None else "") + ": it acts once an account matches"
        for r in off if r.allowed]


def mode_lines(st: RunnerStatus) -> list[str]:
    """Each account's position mode its venue reads as declared, on a quiet line (one read apart
    from the declaration, or not read, is a standing fact)."""
    return [f"  position mode {acct}: {m.get('read')}" + (f", margin {m['margin']}" if m.get("margin") else "")
            + f" (read from {m.get('source') or 'the venue'})" for acct, m in sorted(st.position_modes.items())
            if not m.get("mismatch") and m.get("read") != "unread"]


def status_json(st: RunnerStatus, locks: LockDocument) -> str:
    """The status document as the API wrote it, with the lock document (``GET /v1/lock``) as ``lock``
    (``limits`` in it when a policy sets some, as the runner writes it)."""
    lock = dataclasses.asdict(locks)
    if not lock["limits"]:
        del lock["limits"]
    return api_json({**dataclasses.asdict(st), "lock": lock})
