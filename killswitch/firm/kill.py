"""The firm-wide kill: what ``ksctl kill --firm`` previews, what each shard reports of it, and
what its release needs.

What it owns:

* the kill's words: :data:`KILL_HOLD` (the hold every shard's lock book keeps the kill under, a
  firm hold: an operator's unlock of it is refused, :func:`unlock_refused`), :data:`APPROVALS_NEEDED`
  (two distinct approvers release it), the states of an account's report (:data:`LOCKED`,
  :data:`NOTHING_RESTING`, :data:`REVOKED`, :data:`OUT_OF_REACH`) and the reason codes of a refusal;
* :class:`KillReport` — one account's row of ``ks_firm.kill_report``, written by its shard's
  leader as it carries the kill out (fenced by the shard's token): when it was locked, when the
  shard found nothing resting, when its bots' keys were confirmed revoked or that they are out
  of reach (the Accounts document has no ``revoke:`` block, or the venue no switch), when the
  release lifted it;
* :func:`kill_preview` — what a kill would do now, per shard, from the firm board (every shard's
  last word: heard or not, its accounts' resting orders, said with their age when older than
  the shard's interval) and the Accounts document (whose ``revoke:`` block says which keys can be
  revoked): what each shard locks, cancels and revokes, and the shards not heard, whose accounts
  the kill reaches only when they are heard again;
* :func:`kill_progress` — a kill's progress per shard and account (the reports against every
  account of the firm; a shard that reported nothing is named with why, from the board), and
  the times from the kill to every account locked, nothing resting and every key in reach
  revoked, once they are reached; :func:`progress_lines`, that progress as ``ksctl status --firm``
  and the console's firm strip show it;
* :func:`kill_preview_id` and :func:`preview_refused` — the id a preview gives the kill it
  shows, and why a kill is refused against its preview (a shard's, or a runner's of no shard).

Pure: no I/O, no clock — ``now`` and every row are arguments.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from ..figures import as_read
from ..holds import KILL_HOLD as KILL_HOLD, KILL_RELEASE
from ..policy.accounts_doc import Account

APPROVALS_NEEDED = 2
LOCKED, NOTHING_RESTING, REVOKED, OUT_OF_REACH = "locked", "nothing resting", "revoked", "out of reach"
KILL_IN_FORCE = "KILL_IN_FORCE"  # a kill is in force already: release it before another
NO_KILL = "NO_KILL"  # no kill is in force (a release of nothing)
DUPLICATE_APPROVER = "DUPLICATE_APPROVER"


def unlock_refused(scope: str, kill: str = "") -> str:
    """Why an operator's unlock of ``scope`` is refused while a firm-wide kill holds it (``kill``:
    which, e.g. ``12 by alice``): ``ksctl unlock`` never ends a kill, its release does."""
    which = f"firm-wide kill {kill}" if kill else "the firm-wide kill"
    return (f"{KILL_IN_FORCE}: {scope} is halted by {which} ({KILL_HOLD}); ksctl unlock does not end a firm kill: "
            f"{KILL_RELEASE} --reason R ends it once {APPROVALS_NEEDED} distinct approvers (each with their own "
            "token) approved; nothing was unlocked")


@dataclass(frozen=True)
class KillReport:
    """One account's progress under kill ``directive_id`` (each ``*_ms`` None until reached;
    ``resting`` and ``revoke`` the shard's words for what it found)."""

    directive_id: int
    shard: str
    account: str
    locked_ms: Optional[int] = None
    resting_ms: Optional[int] = None
    revoked_ms: Optional[int] = None
    resting: str = ""
    revoke: str = ""
    out_of_reach: bool = False
    released_ms: Optional[int] = None
    ts_ms: int = 0

    @property
    def done(self) -> bool:
        """Locked, nothing resting, and its keys revoked or out of reach."""
        return self.locked_ms is not None and self.resting_ms is not None and (
            self.revoked_ms is not None or self.out_of_reach)

    def states(self) -> list[str]:
        return [s for s, on in ((LOCKED, self.locked_ms is not None), (NOTHING_RESTING, self.resting_ms is not None),
                                (REVOKED, self.revoked_ms is not None), (OUT_OF_REACH, self.out_of_reach)) if on]


def in_reach(account: Account) -> bool:
    """Whether the Accounts document lets the kill revoke ``account``'s bots' keys (its
    ``revoke:`` block; the shard then confirms the venue has the switch)."""
    return account.revoke is not None


def kill_preview(assignment: Mapping[str, Sequence[str]], board: Mapping[str, Any], declared: Sequence[Account],
                 in_force: Optional[Mapping[str, Any]] = None) -> dict:
    """What a firm-wide kill would do now (see the module doc). ``board``: the firm board
    (:func:`killswitch.firm.board.firm_board`); ``in_force``: the kill in force, if any (a
    second is refused until it is released)."""
    keys = {a.name: a for a in declared}
    rows = {r["shard"]: r for r in board.get("shards") or ()}
    shards: list[dict[str, Any]] = []
    lines: list[str] = []
    for shard, names in sorted(assignment.items()):
        row = rows.get(shard) or {}
        accounts = [f"{keys[n].venue}/{n}" for n in names if n in keys]
        reach = [f"{keys[n].venue}/{n}" for n in names if n in keys and in_reach(keys[n])]
        resting = row.get("resting") or {}
        heard = bool(row.get("reachable"))
        known = [k for k in accounts if k in resting]
        shards.append({"shard": shard, "heard": heard, "why": row.get("why") or "", "accounts": accounts,
                       "lock": "global" if accounts else None, "resting": {k: int(resting[k]) for k in known},
                       "revoke": reach, "out_of_reach": [k for k in accounts if k not in reach]})
        count = sum(int(resting[k]) for k in known)
        # how old its count is, when older than the interval the shard reads at (a shard late or not heard)
        stale = as_read(row.get("resting_ms"), int(board.get("now_ms") or 0), row.get("interval_s")) \
            if board.get("now_ms") is not None else None
        said = f"{count} resting non-reduce-only order(s) as it last said" + (f" ({stale})" if stale else "") \
            if known else "its resting non-reduce-only orders (none said yet)"
        far = [k for k in accounts if k not in reach]
        lines.append(f"shard {shard} ({len(accounts)} account(s)){'' if heard else ' NOT HEARD'}: locks halted "
                     f"{'global' if accounts else 'nothing'}; cancels {said}; revokes the keys of {len(reach)} "
                     f"account(s)" + (f"; OUT OF REACH (no revoke: block): {', '.join(far)}" if far else ""))
        if not heard:
            lines.append(f"  shard {shard} is NOT HEARD ({row.get('why') or 'no board'}): it carries the kill out "
                         f"when it is heard again; until then these accounts are NOT REACHED: "
                         f"{', '.join(accounts) or '-'}")
    total = sum(len(s["accounts"]) for s in shards)
    unheard = [s["shard"] for s in shards if not s["heard"]]
    refused = None
    if in_force:
        refused = (f"{KILL_IN_FORCE}: kill {in_force.get('id')} by {in_force.get('actor')} is in force; release it "
                   "(ksctl kill --firm --release) before another")
    head = (f"PREVIEW: firm-wide kill of {total} account(s) on {len(shards)} shard(s)"
            + (f"; {len(unheard)} NOT HEARD ({', '.join(unheard)})" if unheard else "; every shard heard"))
    return {"allowed": refused is None, "reason": refused or head, "shards": shards, "lines": lines,
            "accounts": total, "unheard": unheard,
            "release": f"released only by {APPROVALS_NEEDED} distinct approvers: ksctl kill --firm --release"}


def _ms(values: Sequence[Optional[int]], start: int) -> Optional[int]:
    if not values or any(v is None for v in values):
        return None
    return max(int(v) for v in values if v is not None) - start


def kill_progress(kill: Mapping[str, Any], reports: Sequence[KillReport], assignment: Mapping[str, Sequence[str]],
                  declared: Sequence[Account], board: Optional[Mapping[str, Any]] = None,
                  approvals: Sequence[Mapping[str, Any]] = (), released: Optional[Mapping[str, Any]] = None) -> dict:
    """The progress of ``kill`` (its directive: ``id``, ``created_ms``, ``actor``, ``reason``)
    per shard and account (see the module doc)."""
    keys = {a.name: a for a in declared}
    by_account = {r.account: r for r in reports}
    rows = {r["shard"]: r for r in (board or {}).get("shards") or ()}
    start = int(kill.get("created_ms") or 0)
    shards: list[dict[str, Any]] = []
    every: list[Optional[KillReport]] = []
    for shard, names in sorted(assignment.items()):
        accounts = [f"{keys[n].venue}/{n}" for n in names if n in keys]
        out: list[dict[str, Any]] = []
        for k in accounts:
            r = by_account.get(k)
            every.append(r)
            if r is None:
                out.append({"account": k, "states": ["NOT REACHED"], "resting": "", "revoke": ""})
            else:
                out.append({"account": k, "states": r.states() + (["released"] if r.released_ms else []),
                            "resting": r.resting, "revoke": r.revoke, "done": r.done})
        reported = [by_account[k] for k in accounts if k in by_account]
        row = rows.get(shard) or {}
        state = "done" if reported and len(reported) == len(accounts) and all(r.done for r in reported) else \
            "working" if reported else "NOT REACHED"
        shards.append({"shard": shard, "state": state, "heard": row.get("reachable"), "why": row.get("why") or "",
                       "accounts": out})
    got = [r for r in every if r is not None]
    locked = _ms([r.locked_ms if r else None for r in every], start)
    resting = _ms([r.resting_ms if r else None for r in every], start)
    reach = [r for r in got if not r.out_of_reach]
    revoked = _ms([r.revoked_ms for r in reach], start) if len(got) == len(every) else None
    return {"kill": dict(kill), "shards": shards,
            "summary": {"accounts": len(every), "locked": sum(1 for r in got if r.locked_ms is not None),
                        "nothing_resting": sum(1 for r in got if r.resting_ms is not None),
                        "revoked": sum(1 for r in reach if r.revoked_ms is not None), "in_reach": len(reach),
                        "out_of_reach": sorted(r.account for r in got if r.out_of_reach),
                        "not_reached": sorted(s["shard"] for s in shards if s["state"] == "NOT REACHED"),
                        "all_locked_ms": locked, "nothing_resting_ms": resting, "all_revoked_ms": revoked},
            "approvals": [dict(a) for a in approvals], "needed": APPROVALS_NEEDED,
            "released": dict(released) if released else None}


def _s(ms: Optional[int]) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f}s"


def progress_lines(doc: Mapping[str, Any]) -> list[str]:
    """A kill's progress (:func:`kill_progress`) as lines: ``ksctl status --firm`` and the
    console's firm strip show these."""
    kill = doc.get("kill")
    if not kill:
        return ["FIRM KILL: none sent"]
    s = doc.get("summary") or {}
    released = doc.get("released")
    head = (f"FIRM KILL {kill.get('id')} by {kill.get('actor')}: {kill.get('reason')} — "
            + (f"RELEASED by {', '.join(released.get('approvers') or ())}" if released else "IN FORCE"))
    lines = [head,
             f"  locked {s.get('locked')}/{s.get('accounts')} (all in {_s(s.get('all_locked_ms'))}); nothing resting "
             f"{s.get('nothing_resting')}/{s.get('accounts')} (in {_s(s.get('nothing_resting_ms'))}); revoked "
             f"{s.get('revoked')}/{s.get('in_reach')} in reach (in {_s(s.get('all_revoked_ms'))})"]
    if s.get("out_of_reach"):
        lines.append(f"  OUT OF REACH (keys not revoked): {', '.join(s['out_of_reach'])}")
    if s.get("not_reached"):
        lines.append("  NOT REACHED (the shard has not taken it up; it does when heard): "
                     + ", ".join(s["not_reached"]))
    if not released:
        approvals = [a.get("approver") for a in doc.get("approvals") or ()]
        lines.append(f"  release: {len(approvals)}/{doc.get('needed')} approvals"
                     + (f" ({', '.join(str(a) for a in approvals)})" if approvals else "")
                     + "; ksctl kill --firm --release --reason R, each approver with their own token")
    for shard in doc.get("shards") or ():
        heard = "" if shard.get("heard") in (True, None) else f" (NOT HEARD: {shard.get('why')})"
        lines.append(f"  shard {shard['shard']}: {shard['state']}{heard}")
        for a in shard.get("accounts") or ():
            extra = [x for x in (a.get("resting") if "nothing resting" not in a.get("states", ()) else "",
                                 a.get("revoke") if "revoked" not in a.get("states", ()) else "") if x]
            lines.append(f"    {a['account']}: {', '.join(a.get('states') or ())}"
                         + (f" ({'; '.join(extra)})" if extra else ""))
    return lines


def kill_preview_id(preview: dict) -> str:
    """The id of a kill's preview: the accounts per shard. Not whether each is heard: a shard that
    comes and goes between the preview and the kill must not hold the kill back, and it does the
    same either way (at once, or when it is heard again)."""
    text = "|".join(f"{s['shard']}:{','.join(s['accounts'])}" for s in preview["shards"])
    return "kill-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def preview_refused(preview: dict, preview_id: Optional[str], changed: str, done: str) -> Optional[str]:
    """Why a kill is refused against ``preview`` (a shard's or a runner's of no shard), or None:
    the preview refuses it, the kill carries no preview's id, or ``changed`` (what the id is of)
    changed since; "nothing was ``done``"."""
    if not preview["allowed"]:
        return str(preview["reason"])
    if preview_id is None:
        return ("PREVIEW_REQUIRED: a kill carries the id of its preview (ksctl kill --firm previews it first); "
                f"nothing was {done}")
    if preview_id != preview["preview_id"]:
        return f"PREVIEW_MISMATCH: {changed} changed since the preview; preview again; nothing was {done}"
    return None
