"""The firm board: each shard's own summary, published by its leader beside its facts, and what
any shard's runner makes of every shard's — the on-call's one view over several runners.

What it owns:

* :class:`Board` — one shard's row of ``ks_firm.shard_board``, written by its leader every tick
  under its shard's token (as its facts are): its open incidents (policy, scope, stage, since,
  acknowledged by whom, approvals), the lock that binds most (mode, scope, who placed it, how
  many holds are in force), its tick interval, the console URL its runner knows of itself
  (``--external-url``) and its policy sync (revision, digest, whether it runs its files, the drift
  verdict's state);
* :func:`firm_board` — every shard of the assignment as ``GET /v1/firm/shards`` and the console's
  firm strip show it, read from the firm's tables only (never from the other runners' APIs):
  its leader and standbys, whether it is **reachable** — ``SHARD_LIVE``, or a reason code:
  ``SHARD_STALE`` (its board or its facts older than the firm's stale bound: the shard is not
  heard, what it last said is shown as of then and never as calm), ``SHARD_NO_LEADER`` (nobody
  holds its lease), ``SHARD_LEADER_CHANGED`` (its board was written under a token below its
  lease's: a new leader that has not published yet), ``SHARD_NEVER_PUBLISHED`` — its incidents,
  its lock, how long since it was last heard, and its console's URL (the Accounts document's
  ``spec.shards[].console`` first, else the one its runner published; a note when neither is
  known); then the firm-wide breaker (the firm lease holder's last view: each policy's stage and
  coverage, ``FIRM_VIEW_STALE`` when that view is older than the bound, ``FIRM_NOBODY`` when no
  runner holds the firm lease) and a summary line. The shards come worst first: those not heard,
  then by their highest open stage, then by name — what the on-call must look at is on top.

:func:`firm_view` — the firm lease holder's evaluation as it stores it for ``GET /v1/firm``:
each firm policy's stage, coverage and what a reset would run into, and the accounts read blind.

The stale bound is the firm's (:func:`killswitch.firm.facts.stale_after_ms` of the firm-wide
policies); without firm-wide policies, one and a half of the shard's own tick interval.

Pure: no I/O, no clock — ``now`` and every row are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from ..compile.shards import STALE_FACTOR
from .facts import Reading, ShardLease

SHARD_LIVE = "SHARD_LIVE"
SHARD_STALE = "SHARD_STALE"
SHARD_NO_LEADER = "SHARD_NO_LEADER"
SHARD_LEADER_CHANGED = "SHARD_LEADER_CHANGED"
SHARD_NEVER_PUBLISHED = "SHARD_NEVER_PUBLISHED"
FIRM_EVALUATING = "FIRM_EVALUATING"
FIRM_VIEW_STALE = "FIRM_VIEW_STALE"
FIRM_NOBODY = "FIRM_NOBODY"
INCIDENTS_SHOWN = 50  # a shard's board carries its highest incidents up to this many, and how many more


@dataclass(frozen=True)
class Board:
    """One shard's summary as its leader published it (``published_ms``: the runner's clock)."""

    shard: str
    holder: str
    fence: int
    published_ms: int
    interval_s: float
    incidents: tuple[dict, ...] = ()
    more_incidents: int = 0
    lock: Optional[dict] = None
    console: Optional[str] = None
    # its policy sync, small: revision, digest, in_sync_with_files, the drift verdict's state
    policy: Optional[dict] = None
    # each account's resting non-reduce-only orders in its last snapshot (what a firm kill cancels)
    resting: Optional[dict] = None
    # when the oldest of those snapshots was read (the runner's clock; None: none read, or not said)
    resting_ms: Optional[int] = None

    def doc(self) -> dict:
        """What the table's ``doc`` column holds (the rest are columns of their own)."""
        return {"interval_s": self.interval_s, "incidents": list(self.incidents), "more_incidents": self.more_incidents,
                "lock": self.lock, "console": self.console, "policy": self.policy, "resting": self.resting,
                "resting_ms": self.resting_ms}

    @staticmethod
    def of(shard: str, holder: str, fence: int, published_ms: int, doc: Mapping[str, Any]) -> "Board":
        policy = doc.get("policy")  # none from a runner that does not publish it
        resting, resting_ms = doc.get("resting"), doc.get("resting_ms")
        return Board(shard, holder, fence, published_ms, float(doc.get("interval_s") or 0.0),
                     tuple(doc.get("incidents") or ()), int(doc.get("more_incidents") or 0), doc.get("lock"),
                     doc.get("console"), policy if isinstance(policy, dict) else None,
                     resting if isinstance(resting, dict) else None,
                     resting_ms if isinstance(resting_ms, int) and not isinstance(resting_ms, bool) else None)


def ordered(incidents: Sequence[dict]) -> list[dict]:
    """The highest stage first, then the newest (as the incidents strip orders them)."""
    return sorted(incidents, key=lambda i: (-int(i.get("level") or 0), -int(i.get("since_ms") or 0),
                                            str(i.get("policy")), str(i.get("scope"))))


def web_url(url: Optional[str]) -> Optional[str]:
    """``url`` when it is a plain http(s) address a link may carry (no credentials in it), else None."""
    if not isinstance(url, str):
        return None
    head, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0]
    if not sep or head.lower() not in ("http", "https") or not host or "@" in host or any(c.isspace() for c in url):
        return None
    return url


def bound_ms(firm_stale_ms: Optional[int], board: Optional[Board]) -> int:
    """How old a shard's board and facts may be and the shard still be heard (see the module doc)."""
    if firm_stale_ms:
        return firm_stale_ms
    interval = board.interval_s if board is not None and board.interval_s > 0 else 5.0
    return int(interval * 1000 * STALE_FACTOR)


def _age_s(now: int, ms: Optional[int]) -> Optional[float]:
    return None if ms is None else round((now - ms) / 1000, 3)


@dataclass
class FirmInputs:
    """What the firm's tables say at one read (see :func:`firm_board`): ``runners`` are
    (shard, holder, leader, seen_ms) of the runners seen lately; ``facts`` (shard, token, newest
    ``published_ms``) of each shard's facts by the token they were written under; ``view`` the
    firm lease holder's last view and when it was saved."""

    boards: Sequence[Board] = ()
    leases: Mapping[str, ShardLease] = field(default_factory=dict)
    facts: Sequence[tuple[str, int, int]] = ()
    runners: Sequence[tuple[str, str, bool, int]] = ()
    firm_holder: Optional[str] = None
    firm_token: int = 0
    view: Optional[Mapping[str, Any]] = None
    view_saved_ms: Optional[int] = None


def _shard_row(name: str, accounts: Sequence[str], inputs: FirmInputs, board: Optional[Board], now: int,
               firm_stale_ms: Optional[int], console: Optional[str]) -> dict:
    lease = inputs.leases.get(name)
    leader = lease.holder if lease is not None and lease.held(now) else None
    limit = bound_ms(firm_stale_ms, board)
    newest_fact = max((ms for s, fence, ms in inputs.facts if s == name and (lease is None or fence >= lease.fence)),
                      default=None)
    heard = board.published_ms if board is not None else None
    if leader is None:
        state = SHARD_NO_LEADER
        lapsed = lease is not None and lease.expires_ms > 0
        why = f"nobody holds shard {name}'s lease" + (
            f" (it lapsed {(now - lease.expires_ms) / 1000:.1f}s ago)" if lease is not None and lapsed else "")
    elif board is None:
        state, why = SHARD_NEVER_PUBLISHED, f"shard {name}'s leader {leader} has published nothing yet"
    elif lease is not None and board.fence < lease.fence:
        state = SHARD_LEADER_CHANGED
        why = (f"shard {name}'s board was written by {board.holder} (token {board.fence}); its new leader {leader} "
               f"(token {lease.fence}) has not published yet")
    elif now - board.published_ms > limit:
        state = SHARD_STALE
        why = f"shard {name} was last heard {(now - board.published_ms) / 1000:.1f}s ago (bound {limit / 1000:g}s)"
    elif accounts and (newest_fact is None or now - newest_fact > limit):
        state = SHARD_STALE
        old = "missing" if newest_fact is None else f"{(now - newest_fact) / 1000:.1f}s old"
        why = f"shard {name}'s facts are {old} (bound {limit / 1000:g}s)"
    else:
        state, why = SHARD_LIVE, ""
    link = web_url(console) or web_url(board.console if board is not None else None)
    return {
        "shard": name, "state": state, "reachable": state == SHARD_LIVE, "why": why,
        "leader": leader, "token": lease.fence if lease is not None else None,
        "standby": sorted({h for s, h, _, _ in inputs.runners if s == name and h != leader}),
        "accounts": len(accounts), "bound_s": limit / 1000,
        "heard_ms": heard, "heard_age_s": _age_s(now, heard), "facts_age_s": _age_s(now, newest_fact),
        "incidents": ordered(board.incidents) if board is not None else [],
        "more_incidents": board.more_incidents if board is not None else 0,
        "level": max((int(i.get("level") or 0) for i in board.incidents), default=0) if board is not None else 0,
        "lock": board.lock if board is not None else None,
        "policy": board.policy if board is not None else None,  # its policy sync, as it last published it
        "resting": board.resting if board is not None else None,  # per account, as it last published it
        # when it read them (the oldest; else when it published them), and the interval it reads at
        "resting_ms": (board.resting_ms if board.resting_ms is not None else board.published_ms)
        if board is not None else None,
        "interval_s": board.interval_s if board is not None else None,
        "console_url": link,
        "console_note": None if link else (f"no console URL is known for shard {name}: set spec.shards[].console in "
                                           "the Accounts document, or --external-url on its runners"),
    }


def _breaker(inputs: FirmInputs, now: int, firm_stale_ms: Optional[int]) -> dict:
    view = inputs.view or {}
    age = _age_s(now, inputs.view_saved_ms)
    policies = [{"policy": p.get("policy"), "scope": p.get("scope"), "stage": int(p.get("stage") or 0),
                 "armed": bool(p.get("armed")), "coverage": p.get("coverage"),
                 "blind_accounts": list(p.get("blind_accounts") or [])} for p in view.get("policies") or []]
    limit = bound_ms(firm_stale_ms, None)
    if inputs.firm_holder is None:
        state, why = FIRM_NOBODY, "no runner holds the firm lease: no firm-wide policy is evaluated"
    elif inputs.view_saved_ms is None or now - inputs.view_saved_ms > limit:
        state = FIRM_VIEW_STALE
        why = (f"{inputs.firm_holder} holds the firm lease but has " + (
            "saved no evaluation yet" if inputs.view_saved_ms is None else
            f"not evaluated for {(now - inputs.view_saved_ms) / 1000:.1f}s (bound {limit / 1000:g}s)"))
    else:
        state, why = FIRM_EVALUATING, ""
    return {"state": state, "why": why, "holder": inputs.firm_holder, "token": inputs.firm_token,
            "view_age_s": age, "evaluated_by": view.get("holder"), "policies": policies,
            "level": max((p["stage"] for p in policies), default=0),
            "blind": sorted({p["policy"] for p in policies if not p["armed"]})}


def firm_board(assignment: Mapping[str, Sequence[str]], inputs: FirmInputs, now: int, *, asked: str,
               firm_stale_ms: Optional[int], consoles: Optional[Mapping[str, str]] = None) -> dict:
    """Every shard of ``assignment`` (shard → its account names) and the firm-wide breaker as the
    firm's tables say at ``now`` (see the module doc); ``asked``: the shard whose runner answers;
    ``consoles``: the Accounts document's console URL of each shard that declares one."""
    boards = {b.shard: b for b in inputs.boards}
    rows = [{**_shard_row(name, accounts, inputs, boards.get(name), now, firm_stale_ms, (consoles or {}).get(name)),
             "this": name == asked}
            for name, accounts in assignment.items()]
    rows.sort(key=lambda r: (r["reachable"], -r["level"], r["shard"]))  # not heard first, then the highest stage
    breaker = _breaker(inputs, now, firm_stale_ms)
    unreachable = [r["shard"] for r in rows if not r["reachable"]]
    return {"shard": asked, "now_ms": now, "shards": rows, "firm": breaker,
            "summary": {"shards": len(rows), "unreachable": unreachable,
                        "incidents": sum(len(r["incidents"]) + r["more_incidents"] for r in rows),
                        "level": max([r["level"] for r in rows] + [breaker["level"]]),
                        "locked": [r["shard"] for r in rows if r["lock"]],
                        "line": summary_line(rows, breaker)}}


def summary_line(rows: Sequence[dict], breaker: Mapping[str, Any]) -> str:
    """The firm in one line: ``2 shards: 1 UNREACHABLE (desk-b); 3 open incidents; firm breaker stage 0``."""
    down = [r["shard"] for r in rows if not r["reachable"]]
    count = sum(len(r["incidents"]) + r["more_incidents"] for r in rows)
    parts = [f"{len(rows)} shard{'' if len(rows) == 1 else 's'}: "
             + (f"{len(down)} UNREACHABLE ({', '.join(down)})" if down else "all heard")]
    parts.append(f"{count} open incident{'' if count == 1 else 's'}"
                 + (" known (an unreachable shard's are as of when it was last heard)" if down else ""))
    locked = [r["shard"] for r in rows if r["lock"]]
    if locked:
        parts.append(f"locked: {', '.join(locked)}")
    if breaker["state"] == FIRM_EVALUATING:
        parts.append(f"firm breaker stage {breaker['level']}" + (f", BLIND: {', '.join(breaker['blind'])}"
                                                                 if breaker["blind"] else ""))
    else:
        parts.append(f"firm breaker {breaker['state']}")
    return "; ".join(parts)


def firm_view(ev: Any, reading: Reading, holder: str, graph_digest: str, now: int,
              relatch: Mapping[tuple[str, str], tuple[str, ...]]) -> dict:
    """The holder's evaluation as ``GET /v1/firm`` shows it (its view, committed with the firm
    state); ``relatch``: what a reset of each policy instance would run into now."""
    return {"holder": holder, "now_ms": now, "graph": graph_digest,
            "policies": [{"policy": s.policy, "scope": s.scope, "stage": s.stage_after,
                          "relatch": list(relatch.get((s.policy, s.scope), ())),
                          "armed": s.coverage.armed, "coverage": s.coverage.reason,
                          "detail": s.coverage.detail,
                          "blind_accounts": [f"{x.venue}/{x.account}" for x in reading.snapshots
                                             if not x.fetch.ok and _in(x, s.scope)]}
                         for s in ev.scopes],
            "ages_ms": reading.ages_ms, "not_publishing": reading.not_publishing,
            "ignored_facts": reading.ignored}


def _in(snapshot: Any, scope: str) -> bool:
    return scope == "global" or scope == snapshot.venue or scope == f"{snapshot.venue}/{snapshot.account}"
