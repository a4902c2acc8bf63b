"""The console's page model: the runner's read answers, arranged as the page shows them.

What it owns: turning what the view answered — ``status()``, ``ready()``, ``lock_document()``,
``dms_status()``, ``triggers()``, ``incidents()`` — into plain values for the template: rows per
scope, lock, pre-trade limit (its usage, from the lock document) and incident, times as ISO-8601
UTC with their age, origins of locks named for a person (policy, operator, dead man's switch),
and which actions a row offers. Every age is taken against the runner's clock at the read (the
lock document's ``written_ts``), never the browser's, so a page agrees with the journal and the
API; each carries its absolute time (``ms``) too, so the page's script can keep it counting
between two reads and after the last.

What a row says of its lock is the lock :func:`~killswitch.runner.gate.gate.check_order` applies to
its orders (:func:`~killswitch.runner.gate.gate.binding_lock` on the lock book the document holds),
so a global or venue halt reads "halted, via global (...)" on every row it binds. What the page
says of the runner's own health comes from the status: coverage (armed, blind, unmatched),
failing pages, failing fetches, a failed reload, and a tick that is late
(:func:`stalled_after_s`).

Pure: no I/O, no clock, no HTML (the template escapes everything it is given). Must not invent
a value the view did not answer: a count or status shown is one of the view's, or counted from
the rows it answered.
"""

from __future__ import annotations

import dataclasses
import math
import urllib.parse
from typing import Any, Optional, Sequence

from ...facts import of as facts_of
from ...facts.residuals import accepted_text
from ...facts.violations import counted_text, outcome_text
from ...figures import figure, money, shortfall_text, step_of
from ...fills import bot_side, orders_text
from ...holds import KILL_HOLD, KILL_RELEASE, LockHold, holder
from ...order_statuses import FINAL_STATUSES
from ...policy.kinds.heartbeat_age import unheard
from ...relatch import relatched_text
from ...runner.book.dms_state import declared_only
from ...runner.gate.gate import binding_lock
from ...runner.lock.lock import DEAD_MANS_SWITCH, OPERATOR, LockBook, LockStatus, iso_ms, parse_iso_ms
from ...sources import revision_text
from ...view import CoverageStatus, IncidentStatus, RunnerStatus, ThresholdCheck, TriggerStatus
from .alerts import tab_alert
from .leader import leader_facts
from .limits_model import limit_rows, override_row
from .policy_badge import policy_badges
from .strip import entered_on, lock_problem, problems, refused_legs, strip_rows

# A tick later than this many tick intervals, and never less than STALLED_MIN_S, is "stalled"; an
# account's data that old is "stale". A tick may wait for a venue's timeout: a few intervals of slack.
STALLED_TICKS = 3
STALLED_MIN_S = 30.0
DEFAULT_TICK_S = 5.0


def _duration(s: int, units: tuple[str, str, str, str]) -> str:
    """``s`` seconds in its two largest units, as ``units`` (second, minute, hour, day) write them."""
    sec, mn, hr, day = units
    for size, big, small_size, small in ((86_400, day, 3600, hr), (3600, hr, 60, mn), (60, mn, 1, sec)):
        if s >= size:
            rest = s % size // small_size
            return f"{s // size}{big} {rest}{small}" if rest else f"{s // size}{big}"
    return f"{s}{sec}"


def age_text(seconds: Optional[float]) -> str:
    """``45s``, ``3m 20s``, ``2h 5m``, ``1d 3h``; ``-`` for no value."""
    if seconds is None:
        return "-"
    return _duration(max(0, int(round(seconds))), ("s", "m", "h", "d"))


def spelled(seconds: float) -> str:
    """A banner's age, read at a glance: ``42 s``, ``3 min 20 s``, ``2 h 5 min``, ``1 d 3 h``."""
    return _duration(max(0, int(seconds)), (" s", " min", " h", " d"))


def clock_text(ms: int, seconds: bool = True) -> str:
    """``23:51:18`` (or ``23:51``), UTC, as every time on the page."""
    return iso_ms(ms)[11:19 if seconds else 16]


def stalled_after_s(tick_interval_s: Optional[float]) -> float:
    """How old the last tick (or an account's data) may be before the page says it is late."""
    return max(STALLED_MIN_S, STALLED_TICKS * (tick_interval_s or DEFAULT_TICK_S))


def _when(ms: Optional[int], now: int) -> Optional[dict]:
    """A time as the page shows it: ISO-8601 UTC, how long ago (or ``in`` how long), and the
    time itself in milliseconds (for the script that keeps the age counting)."""
    if ms is None:
        return None
    delta = (now - ms) / 1000
    return {"iso": iso_ms(ms), "ms": ms, "clock": clock_text(ms),
            "ago": f"{age_text(delta)} ago" if delta >= 0 else f"in {age_text(-delta)}"}


def _at(seconds: Optional[float], now: int, sign: int) -> Optional[int]:
    """The absolute time an age (``sign`` -1: seconds ago) or a countdown (+1: seconds from now)
    stands for; None for no value or a non-finite one."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return now + sign * int(round(seconds * 1000))


def _when_iso(ts: Optional[str], now: int) -> Optional[dict]:
    return None if ts is None else _when(parse_iso_ms(ts), now)


def origin_of(policy: Optional[str], stage: Optional[int], by: Any = None, details: Optional[dict] = None) -> str:
    """Who placed a lock, for a person, in status's words (:func:`killswitch.holds.holder`): the
    operator (``by``: who, when the lock says it), the dead man's switch, a policy's stage, or
    what no stage holds (while the policy is blind, its trading window: ``details``)."""
    said = dict(details or {})
    if isinstance(by, str) and by:
        said["by"] = by
    if stage == 0:  # spec.while_blind: held while the scope is blind
        said.setdefault("while_blind", True)
    return holder(LockHold(mode="", policy=policy, stage=stage, reason="", manual=False, created_ts=None,
                           expires_ts=None, details=said))


def kept_locked(lock: dict, scope: str, account: bool) -> Optional[str]:
    """What a person's lock (an operator's, the dead man's switch's) on ``scope`` or ``global``
    keeps whatever the incident does: ``the account stays halted by alice's lock (ksctl
    unlock)``; None when no such lock holds it. A stage's reset never lifts it."""
    holds = [h for sc in (scope, "global") for h in (lock["scopes"].get(sc) or {}).get("holds", ())
             if h["policy"] in (OPERATOR, DEAD_MANS_SWITCH)]
    if not holds:
        return None
    h = max(holds, key=lambda x: x["mode"] == "halted")
    by = (h.get("details") or {}).get("by")
    who = ("the dead man's switch" if h["policy"] == DEAD_MANS_SWITCH
           else f"{by}'s lock" if isinstance(by, str) and by else "an operator's lock")
    until = f"until {h['expires_ts']}" if h.get("expires_ts") else "ksctl unlock"
    return f"the {'account' if account else 'scope'} stays {h['mode']} by {who} ({until})"


def lock_row(lock: LockStatus, scope: str, now: int) -> Optional[dict]:
    """What a row says of the lock that binds it (None: trading allowed); ``text`` reads as the
    cell does: ``halted by policy bot-guard stage 1``, ``halted, via global (portfolio-breaker stage 2)``."""
    if not lock.locked:
        return None
    via = lock.scope if lock.scope != scope else None
    by = lock.details.get("by")
    origin = origin_of(lock.policy, lock.stage, by, lock.details)
    origin = origin.removeprefix("policy ") if via else origin  # from another scope, shortly: ``bot-guard stage 2``
    return {"mode": lock.mode, "via": via, "origin": origin, "reason": lock.reason,
            "expires": _when(lock.expires_ms, now),
            "text": f"{lock.mode}, via {via} ({origin})" if via else f"{lock.mode} by {origin}"}


def runbook_href(incident: str) -> str:
    return "/v1/runbooks/" + urllib.parse.quote(incident, safe="") + "?format=html"


def page_model(status: RunnerStatus, ready: tuple[Any, Any], lock: dict, dms: dict,
               triggers: Sequence[TriggerStatus], incidents: Sequence[IncidentStatus]) -> dict:
    """Everything the view template shows; see the module doc."""
    now = parse_iso_ms(lock["written_ts"])
    is_ready, why = ready
    role = "LEADER" if status.leader else "STANDBY"
    standing = facts_of(status)  # the standing facts, as the status document carries them
    locks = _locks(lock, now)
    book = LockBook.from_doc(lock)  # the holds in force at ``now``, as the runner's book has them
    fetch_errors = dict(status.fetch_errors)
    known_accounts = set(status.data_age_s) | set(fetch_errors) | set(dms.get("native") or {})
    coverage = {(c.policy, c.scope): c for c in status.coverage}
    resuming = {(r.policy, r.scope): r for r in status.resuming}
    firing: dict[tuple[str, str], list[dict]] = {}
    for t in triggers:
        if t.firing:
            firing.setdefault((t.policy, t.scope), []).append(_trigger(t, now))
    by_incident = {(i.policy, i.scope): i for i in incidents if i.kind == "stage"}
    scopes = []
    for s in status.scopes:
        inc = by_incident.get((s.policy, s.scope))
        r = resuming.get((s.policy, s.scope))
        scopes.append({
            "key": f"{s.policy}|{s.scope}", "policy": s.policy, "scope": s.scope, "level": s.stage,
            "stage": s.stage_name or ("no stage" if s.stage == 0 else f"level {s.stage}"),
            "since": _when(s.entered_ms, now) if s.stage else None, "manual": s.manual,
            "firing": firing.get((s.policy, s.scope), []), "unmatched": False,
            "lock": lock_row(binding_lock(book, s.scope, now, account=s.scope in known_accounts), s.scope, now),
            "coverage": None if s.removed else _coverage(coverage.get((s.policy, s.scope)), now),
            "resuming": None if r is None else _resume(r, now),
            "approvals": f"{len(inc.approvals)}/{inc.approvals_needed}" if inc is not None and inc.manual else None,
            # an instance the graph no longer runs is never reset by its triggers: only by hand
            "can_reset": bool((s.manual or s.removed) and s.stage > 0), "removed": s.removed,
            "can_unlock": any(h["unlockable"] for h in locks if h["scope"] == s.scope),
        })
    for c in coverage.values():  # a policy whose scope selects nothing has no instance to show
        if c.state == "unmatched":
            scopes.append({"key": f"{c.policy}|{c.scope}", "policy": c.policy, "scope": c.scope, "level": 0,
                           "stage": "no instance", "since": None, "manual": False, "firing": [], "unmatched": True,
                           "lock": None, "coverage": _coverage(c, now), "resuming": None, "approvals": None,
                           "can_reset": False, "can_unlock": False, "removed": None})
    pending = [i for i in incidents if i.kind == "stage" and i.manual and len(i.approvals) < i.approvals_needed]
    accounts = sorted(set(status.data_age_s) | set(fetch_errors) | set(status.streams))
    # (an instance the graph no longer runs is not offered as a scope: its name stays if it names another)
    names = sorted({"global", *accounts, *(a.split("/", 1)[0] for a in accounts),
                    *(s.scope for s in status.scopes if not s.removed), *lock["scopes"]})
    # (the document names no scope when several are locked: here, every one in the binding mode)
    summary = None if not lock["locked"] else {"mode": lock["mode"], "scope": lock["scope"] or ", ".join(
        s for s, e in sorted(lock["scopes"].items()) if e["mode"] == lock["mode"])}
    # an instance a reload removed: its card says so first, in place of triggers that no longer run
    removed = {(s.policy, s.scope): {"at": _when(s.removed_ms, now)} for s in status.scopes if s.removed}
    stage_incidents = strip_rows([{**_incident(i, now), "on": entered_on(firing.get((i.policy or "", i.scope), ())),
                                   "removed": removed.get((i.policy or "", i.scope)),
                                   "kept_locked": kept_locked(lock, i.scope, i.scope in known_accounts),
                                   "refused": refused_legs(i.incident, status.close_rejections)}
                                  for i in incidents if i.kind == "stage"])
    model = {
        "now": _when(now, now), "mode": status.mode, "dry_run": status.mode != "live",
        "role": role, "ready": is_ready is True, "ready_reason": str(why), "fence": status.fence,
        "digest": status.graph_digest[:12], "revision": revision_text(status.graph_revision),
        "policy_error": status.policy_error, "last_tick": _when(status.last_tick_ms, now), "now_ms": now,
        # what runs against its files, and the drift checker's verdict (policy_badge.py)
        "sync": policy_badges(status.policy_sync, lambda ms: _when(ms, now)),
        **_health(status, now),
        "summary": summary, "alert": tab_alert(scopes, summary, stage_incidents),
        "scopes": scopes, "triggers": [_trigger(t, now) for t in triggers], "locks": locks,
        "incidents": stage_incidents,
        "closes": [_incident(i, now) for i in incidents if i.kind != "stage"],
        "pending": [_incident(i, now) for i in pending],
        "data_ages": [_data_age(a, status.data_age_s.get(a), fetch_errors.get(a), now,
                                stalled_after_s(status.tick_interval_s), status.streams.get(a)) for a in accounts],
        "resuming": [_resume(r, now) for r in status.resuming],
        "limits": limit_rows(lock.get("limits") or ()),
        # the gate's refusals and the venue's violations counted (status's ``violation_counts``)
        "counted": _counted(status.violation_counts, now),
        "overrides": [override_row(o) for o in status.overrides],
        "limit_names": sorted({str(r["limit"]) for r in limit_rows(lock.get("limits") or ())}),
        # each trading window and its next change, as status shows them (compile/windows.py)
        "windows": [{**w, "next": _when(w.get("next_change_ms"), now)} for w in status.windows],
        "residuals": [_residual(r, now) for r in status.residuals],
        "still_open": [_still_open(r, now) for r in status.still_open],
        # operator locks stored while no runner led, not in force until a leader applies them
        "locks_stored": [{**w, "stored": _when(w.get("stored_ms"), now)} for w in status.locks_stored],
        # each account's bots' keys at the venue, and those a revoke could not reach (facts/trading.py)
        "trading": [f.data for f in standing if f.kind == "trading"],
        # accounts whose venue reads another position mode than declared, or whose mode is unread
        "mode_mismatches": [f.data for f in standing if f.kind == "modes"],
        "violations": _violations(status.lock_violations, now),
        "dms": _dms(dms, now), "scope_names": names, **leader_facts(status),
    }
    # each standing problem by kind: the status's facts (killswitch/facts/), and the locks in force
    return {**model, "standing": problems(standing, lambda ms: _when(ms, now), lock_problem(summary, locks))}


def _counted(doc: dict, now: int) -> dict:
    """The refusals and violations counted, as the limits section shows them: blind (why, and
    since when counting began) or the most counted keys."""
    doc = doc or {}
    since = doc.get("since_ms")
    return {"blind": doc.get("blind"), "since": _when(since, now),
            "rows": [{**c, "what": "refused" if c.get("source") == "gate" else "at the venue"}
                     for c in doc.get("counts") or ()]}


def _health(status: RunnerStatus, now: int) -> dict:
    """The banners of the runner's own health: a late tick, blind and unmatched policies, pages
    that reach nobody, a failed reload; ``health`` (ok | stalled) names the worst for the tab."""
    late = stalled_after_s(status.tick_interval_s)
    tick_age = None if status.last_tick_ms is None else (now - status.last_tick_ms) / 1000
    stalled = tick_age is not None and tick_age > late
    cov = [_coverage(c, now) for c in status.coverage]
    failing = status.pages_failing
    # since the earliest receiver failing now: not the run's start, when a receiver since recovered
    since = min(r.since_ms for r in failing) if failing else None
    reload_ok = status.reload_ok and status.policy_error is None
    receivers = [{"document": r.document, "receiver": r.receiver, "cause": r.cause, "failures": r.failures,
                  "since": _when(r.since_ms, now), "fallback": r.fallback,
                  "fallback_at": _when(r.fallback_ms, now) if r.fallback else None} for r in failing]
    return {
        "health": "stalled" if stalled else "ok",
        "stalled": {"age": spelled(tick_age), "ms": status.last_tick_ms, "after": spelled(late)}
        if stalled and tick_age is not None else None,
        "blind": [c for c in cov if c and c["state"] == "blind"],
        # a scope that allow_empty lets select nothing is shown in its row, calmly, not as a banner
        "unmatched": [c for c in cov if c and c["state"] == "unmatched" and not c["allowed"]],
        # accounts no running policy's scope selects: watched and limited by nothing (engine/guarded.py)
        "unguarded": list(status.unguarded),
        "pages": None if not failing else {"since": _when(since, now), "receivers": receivers},
        "reload_ok": reload_ok,
        "last_good_reload": _when(status.last_good_reload_ms, now),
        # streams that do not deliver: not blind (REST polls at the policy interval), shown as degraded
        "streams_degraded": [_stream(a, st, now) for a, st in sorted(status.streams.items()) if st.get("degraded")],
        # legs the venue refused to close up to their bound (not sent again), with what it said
        # (stored: a restart or a takeover shows them too, until resolved or accepted by a person)
        "close_rejected": [{**r, "since": _when(r.get("first_ms"), now), "last": _when(r.get("last_ms"), now)}
                           for r in status.close_rejections if r.get("state") == "CLOSE_REJECTED"],
    }


def _coverage(c: Optional[CoverageStatus], now: int) -> Optional[dict]:
    """A policy instance's coverage as its cell and the banners show it (None: not reported)."""
    if c is None:
        return None
    until = _when(c.until_ms, now) if c.state == "blind" else None
    return {"policy": c.policy, "scope": c.scope, "state": c.state, "reason": c.reason, "detail": c.detail,
            "since": _when(c.since_ms, now), "until": until,
            "until_hm": clock_text(c.until_ms, seconds=False) if until is not None and c.until_ms is not None else None,
            # blind: when its first trigger can fire again (the engine's figure; before "armed again")
            "acts": _when(c.acts_from_ms, now) if c.state == "blind" and c.acts_from_ms is not None else None,
            "acts_hm": clock_text(c.acts_from_ms, seconds=False) if c.acts_from_ms is not None else None,
            "acts_first": ", ".join(c.acts_first),
            "acts_unknown": c.acts_unknown,  # "can fire again: not known" (as status says it), of nothing else
            "while_blind": c.while_blind, "allowed": c.allowed, "partly": c.partly,
            "can_act": c.partly.removeprefix("partly blind: ") if c.partly else None,
            "triggers": [{"trigger": t.trigger, "reason": t.reason, "detail": t.detail, "fires_on": list(t.fires_on),
                          "until": _when(t.until_ms, now)} for t in c.triggers]}


def _stream(account: str, s: dict, now: int) -> dict:
    """An account's private stream as its data-age row and the degraded banner show it; its
    REST reconciles (``reconcile``: None where the runner does not report them): the last good
    one's age, the cadence, the failed ones since and whether it is overdue."""
    age = s.get("last_message_age_s")
    overdue = bool(s.get("reconcile_overdue"))
    reconcile = None
    if "last_reconcile_age_s" in s:
        last = s.get("last_reconcile_age_s")
        every = s.get("reconcile_every_s")
        reconcile = {"last": age_text(last) if last is not None else "never",
                     "every": age_text(every) if every else None,
                     "failures": int(s.get("reconcile_failures") or 0),
                     "failure_reason": s.get("reconcile_failure_reason"), "overdue": overdue}
    return {"account": account, "state": str(s.get("state")),
            "reason": s.get("reason") or ("RECONCILE_OVERDUE" if overdue else None),
            "degraded": bool(s.get("degraded")), "since": _when(s.get("since_ms"), now),
            "last_message": age_text(age) if age is not None else "never",
            "reconnects": int(s.get("reconnects") or 0), "disagreements": int(s.get("disagreements") or 0),
            "dropped": sum((s.get("dropped") or {}).values()), "reconcile": reconcile}


def _data_age(account: str, age_s: Optional[float], error: Optional[dict], now: int, late_s: float,
              stream: Optional[dict] = None) -> dict:
    """An account's data age, its last fetch error (while its fetches fail), its private stream
    (None: its adapter does not stream) and how to show it."""
    known = age_s is not None and math.isfinite(age_s)
    state = "failing" if error else "stale" if not known or (age_s or 0) > late_s else "ok"
    err = None
    if error:
        err = {"code": str(error.get("code") or "FETCH_FAILED"), "message": str(error.get("message") or ""),
               "failures": error.get("failures"), "since": _when(error.get("since_ms"), now),
               "last": _when(error.get("last_ms"), now)}
    return {"account": account, "venue": account.split("/", 1)[0], "age": age_text(age_s) if known else "never read",
            "age_s": age_s, "ms": _at(age_s, now, -1) if known else None, "state": state, "error": err,
            "stream": None if stream is None else _stream(account, stream, now)}


def _verdict(c: ThresholdCheck) -> str:
    """``breached``, ``not breached`` or ``unknown``, with the check's reason when it has one (a
    source never heard says so beside its verdict)."""
    said = "breached" if c.breached else "not breached" if c.breached is False else "unknown"
    return f"{said} ({c.reason})" if c.reason else said


def _trigger(t: TriggerStatus, now: int) -> dict:
    checks = [{"signal": c.signal, "op": c.op, "threshold": c.threshold, "value": c.value_text,
               "verdict": _verdict(c), "breached": c.breached is True, "unheard": unheard(c.reason)}
              for c in t.checks]
    state = "firing" if t.firing else f"confirming {t.pending}" if t.pending else "quiet"
    return {"key": f"{t.policy}|{t.scope}|{t.name}", "policy": t.policy, "scope": t.scope, "name": t.name,
            "when": t.when, "firing": t.firing, "state": state, "since": _when(t.since_ms, now) if t.firing else None,
            "reason": t.reason, "checks": checks, "as_of": _when(t.as_of_ms, now)}


def _locks(lock: dict, now: int) -> list[dict]:
    out = []
    for scope, entry in sorted(lock["scopes"].items()):
        for h in entry["holds"]:
            out.append({"scope": scope, "mode": h["mode"],
                        "origin": origin_of(h["policy"], h["stage"], None, h.get("details") or {}),
                        "reason": h["reason"], "since": _when_iso(h["created_ts"], now),
                        "expires": _when_iso(h["expires_ts"], now),
                        "manual": h["manual"] and h["policy"] != KILL_HOLD,  # no stage's: its release ends it
                        "unlockable": h["policy"] in (OPERATOR, DEAD_MANS_SWITCH),
                        "release": h["policy"] == KILL_HOLD,  # Approve its release… (the firm-wide kill's dialog)
                        "not_unlockable": _not_unlockable(h["policy"], h.get("details") or {}),
                        "ends": f"when two approvers release it ({KILL_RELEASE})" if h["policy"] == KILL_HOLD
                        else "when the scope is armed again" if (h.get("details") or {}).get("while_blind")
                        else None,
                        "binding": h["mode"] == entry["mode"]})
    return out


def _not_unlockable(policy: Optional[str], details: dict) -> str:
    """Why a hold no person placed has no Unlock: the firm-wide kill's (two approvers release it),
    a stage's (its reset), or one no stage placed and that ends by itself (while the policy is
    blind, a trading window); an unlock of the scope still lifts the operator's own lock beside it."""
    if policy == KILL_HOLD:
        return "the firm-wide kill holds it: released only by two distinct approvers"
    if details.get("while_blind"):
        return "held while the policy is blind; ends when the scope is armed again"
    if details.get("window"):
        return "a trading window (spec.lock_trading) holds it"
    return "a policy's stage holds it"


def _resume(r: Any, now: int) -> dict:
    return {"policy": r.policy, "scope": r.scope, "since": _when(r.since_ms, now), "day": r.day, "days": r.days,
            "step": step_of(r.day, r.days, getattr(r, "step_ms", None)),
            "fraction": f"{r.fraction:.0%}", "max_positions": "-" if r.max_positions is None else str(r.max_positions),
            "max_gross_exposure": figure(r.max_gross_exposure), "next": _when(r.until_ms, now)}


def _residual(r: Any, now: int) -> dict:
    """A residual; ``accepted``: who accepted its refused close, when and why (None: nobody)."""
    accepted = getattr(r, "accepted", None)
    return {"incident": r.incident, "account": r.account, "symbol": r.symbol, "side": r.side,
            "leg": r.position_side or r.side, "amount": figure(r.amount), "why": r.why, "detail": r.detail,
            # the detail before "; accepted by …": the venue's words without their closing period
            # (``… is rejected; accepted by alice``, never ``rejected.;``)
            "detail_then": str(r.detail or "").rstrip().removesuffix("."),
            # a partial reduction's: what its refused close would have taken off (``shortfall 1 of 2``)
            "short": shortfall_text(r.amount, getattr(r, "shortfall", None)),
            "since": _when(r.since_ms, now), "accepted": accepted_text(accepted) if accepted else None,
            "accepted_by": (accepted.get("by") or "an unknown caller") if accepted else None}


def _still_open(r: Any, now: int) -> dict:
    """An order a cancel meant to take that the venue still lists: by name, with the venue's words."""
    return {"incident": r.incident, "cause": r.cause, "account": r.account, "symbol": r.symbol, "side": r.side,
            "amount": figure(r.amount), "order_id": r.order_id, "said": r.said, "since": _when(r.since_ms, now)}


def _violations(doc: dict, now: int) -> dict:
    """What broke a lock at the venue: the count and the latest (status's ``lock_violations``)."""
    rows = [{"when": _when(v.get("ts_ms"), now), "action": v.get("action"), "account": v.get("account"),
             "symbol": v.get("symbol"), "side": bot_side(v),
             "amount": figure(v.get("amount"), v.get("amount_step")),
             "notional": figure(v.get("notional")),
             "strategy": ", ".join(str(n) for n in v.get("strategies") or ()) or v.get("strategy"),
             "attribution": v.get("attribution") or "",
             # the bot's order that broke the lock (the runner's own revert is said in its outcome)
             # (a revert's: every bot's order whose fills grew the leg, each with its own strategy)
             "order": orders_text(v["orders"]) if v.get("orders") else v.get("client_order_id") or "",
             "order_id": "" if v.get("orders") else v.get("order_id") or "",
             "lock": f"{v.get('mode')} {v.get('scope')}", "outcome": outcome_text(v)}  # as status says it
            for v in list((doc or {}).get("recent") or ())[:20]]
    title, count = counted_text(doc or {})  # as ksctl status titles and counts them
    return {"total": int((doc or {}).get("total") or 0), "title": title, "count": count, "rows": rows}


def _order_reason(o: Any) -> str:
    """Why an order was sent (its intent's reason code: a policy's close said nothing here), then
    what came back (the venue's or the runner's code, with the venue's words of a refusal)."""
    answer = (o.reason_code or "") + (f": {o.detail}" if getattr(o, "detail", None) else "")
    return "; ".join(x for x in (getattr(o, "why", None) or "", answer) if x)


def _incident(i: IncidentStatus, now: int) -> dict:
    settled = sum(n for s, n in i.statuses.items() if s in FINAL_STATUSES)
    counts = ", ".join(f"{n} {s}" for s, n in i.statuses.items())
    orders = [{"client_order_id": o.client_order_id, "account": o.account, "symbol": o.symbol, "side": o.side,
               "position_side": o.position_side or "", "amount": figure(o.amount), "reduce_only": o.reduce_only,
               "status": o.status, "filled": figure(o.filled), "avg_price": figure(o.avg_price),
               "reason": _order_reason(o),
               "created": _when(o.created_ms, now),
               "updated": _when(o.updated_ms, now)} for o in i.orders]
    return {
        "key": i.incident, "id": i.incident, "kind": "stage entry" if i.kind == "stage" else "manual close",
        "policy": i.policy, "scope": i.scope, "level": i.level, "stage": i.stage_name, "since": _when(i.since_ms, now),
        "rerun": _when(i.rerun_ms, now),  # its latest cooldown re-run (the same stage, entered again)
        # entered at the first tick after a reset: the incident it continues, its orders, who had it
        "continues": relatched_text(dataclasses.asdict(i.continues)) if i.continues is not None else None,
        "manual": i.manual, "needed": i.approvals_needed, "by": i.requested_by,
        # a stage that leaves by itself: at what time if its triggers stay quiet, after how much quiet
        "leaves": _when(i.leaves_ms, now), "quiet": age_text(i.quiet_s) if i.quiet_s else None,
        "own_lock_ended": i.own_lock_ended,  # its own ttl'd lock ran out while it holds on
        "approvals": [{"approver": a.approver, "reason": a.reason, "at": _when(a.ts_ms, now)} for a in i.approvals],
        "runbook": runbook_href(i.incident) if i.runbook else None,
        "orders": orders, "orders_total": i.orders_total, "orders_shown": len(i.orders),
        "counts": counts or "no orders", "settled": settled, "open": i.orders_total - settled,
        "residuals": [_residual(r, now) for r in i.residuals],
        "still_open": [_still_open(r, now) for r in i.still_open],
        **_planned(i, now),
    }


def _planned(i: IncidentStatus, now: int) -> dict:
    """What a dry run planned for the incident instead of sending it (from its audit rows)."""
    rows = [{"client_order_id": o.client_order_id, "account": o.account, "symbol": o.symbol, "side": o.side,
             "position_side": o.position_side or "", "amount": figure(o.amount), "reduce_only": o.reduce_only,
             "limit_price": figure(o.limit_price), "notional": money(o.notional), "action": o.action,
             "planned": _when(o.planned_ms, now)} for o in i.planned]
    return {"planned": rows, "planned_total": i.planned_total, "planned_shown": len(rows)}


def _dms(dms: dict, now: int) -> dict:
    """The dead man's switch as the Heartbeats table shows it: every source heard or armed, and
    every source the runner watches (``watched``: what names it) before its first beat too."""
    watched = dms.get("watched") or {}
    known = dms.get("sources") or {}
    unheard: dict[str, dict] = {name: {} for name in watched if name not in known}
    sources = [{"source": name, "armed": s.get("armed", False), "last_beat": age_text(s.get("last_beat_age_s")),
                "heard": s.get("last_beat_age_s") is not None, "last_beat_ms": _at(s.get("last_beat_age_s"), now, -1),
                "timeout": age_text(s.get("timeout_s")) if s.get("timeout_s") is not None else "-",
                "fires_in": age_text(s.get("fires_in_s")) if s.get("fires_in_s") is not None else "-",
                "fires_ms": _at(s.get("fires_in_s"), now, 1),
                "fired": s.get("fired", False), "locked": s.get("locked", False),
                "named_by": ", ".join(watched.get(name) or ()) or ("an armed switch" if s.get("armed") else ""),
                # named by the Accounts document alone: nothing acts on its silence, so it is no warning
                "declared_only": not s.get("armed") and declared_only(watched.get(name) or ())}
               for name, s in sorted({**known, **unheard}.items())]
    native = [{"account": k, "countdown": age_text(n.get("countdown_s")),
               "last_refresh": age_text(n.get("last_refresh_age_s")),
               "last_refresh_ms": _at(n.get("last_refresh_age_s"), now, -1),
               "cancels_in": age_text(n.get("cancels_in_s")), "cancels_ms": _at(n.get("cancels_in_s"), now, 1),
               "lapsed": n.get("lapsed", False), "at_venue": n.get("at_venue") or "",
               "supported": n.get("supported", True), "error": n.get("error") or ""}
              for k, n in sorted((dms.get("native") or {}).items())]
    listening = dms.get("listening_since_ts")
    refused = [{"source": name, "reason": r.get("reason", ""), "count": r.get("count", 0),
                "last": age_text(r.get("last_refused_age_s")), "last_ms": _at(r.get("last_refused_age_s"), now, -1)}
               for name, r in sorted((dms.get("refused") or {}).items(),
                                     key=lambda kv: kv[1].get("last_refused_age_s") or 0)]
    return {"sources": sources, "native": native, "refused": refused, "listening_since": _when_iso(listening, now)}

