"""Directives: what a firm-wide decision asks every shard to do to its own accounts.

What it owns:

* :class:`Directive` — one row of ``ks_firm.directive``: ``lock`` (a scope at a mode; ``source``
  ``policy``: held by the firm policy's stage until its reset, ``operator``: an operator's lock,
  lifted by an operator's unlock), ``unlock`` (the firm policy's reset, or an operator's unlock),
  ``cancel_orders`` (``which``: all or entries; ``symbols``: those, all when empty) or
  ``close_all``; the scope as the firm writes it and the accounts (``venue/name``) it spans;
  ``reset``: an operator's approval of a firm policy's manual reset, which the firm lease holder
  applies to the firm's stage (its reset then writes the ``unlock``);
* :func:`directives_of` — the directives of one firm evaluation: the locks and cancels a stage
  entry's actions ask for (``lock_trading``, ``cancel_orders``: what their kinds' ``plan`` asks,
  :func:`killswitch.policy.asked.asked`) and its ``close_all`` (its cancels before its close,
  as a runner sends a plan's cancels before its orders), a reset's unlock;
* :func:`targets` — what one shard acts on for a directive: the scope itself when the shard's
  part of it is the whole of what that name means at the shard (``global``, a venue all of whose
  accounts there are in the directive), else each of its accounts the directive spans; nothing
  when it spans none of them;
* :func:`firm_scope` — whether a scope an operator names is firm-wide, and the accounts it spans:
  ``global``, or a venue whose accounts are in more than one shard;
* :func:`locks_in_force` and :func:`inherited` — what a shard running for the first time takes
  up of the directives written before it: the locks still in force (a firm policy's lock not
  lifted by that policy's unlock of its scope, an operator's lock not lifted by an unlock of its
  scope, neither past its TTL; a firm-wide kill not released), spanning the accounts their
  scope spans now; never a close or a cancel (an old one is not the firm's present will: a
  firm policy still in breach closes again through its stage).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..compile.graph import DecisionGraph, PolicyNode
from ..compile.shards import policy_selects
from ..policy.accounts_doc import Account

LOCK, UNLOCK, CANCEL_ORDERS, CLOSE_ALL = "lock", "unlock", "cancel_orders", "close_all"
RESET = "reset"  # an approval of a firm policy's manual reset, for the firm lease holder (no shard acts on it)
# the firm-wide kill (``ksctl kill --firm``) and its release by two approvers (killswitch/firm/kill.py)
KILL, KILL_RELEASE = "kill", "kill_release"
KINDS = (LOCK, UNLOCK, CANCEL_ORDERS, CLOSE_ALL, RESET, KILL, KILL_RELEASE)
# a shard carries these out on each of its accounts the directive spans (a lock, on the scope)
PER_ACCOUNT = (CANCEL_ORDERS, CLOSE_ALL)
FIRM_HOLD_PREFIX = "firm:"  # a shard's lock held for a firm policy: policy "firm:<name>" in its lock book


@dataclass(frozen=True)
class Directive:
    """A directive (``id`` None until written). ``payload``: ``accounts`` (the keys it spans),
    ``reason``, and per kind ``mode``, ``manual``, ``source``, ``policy``, ``stage``, ``which``,
    ``symbols``."""

    kind: str
    scope: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    decision_id: str | None = None
    actor: str = "firm"
    id: int | None = None
    created_ms: int = 0

    @property
    def accounts(self) -> list[str]:
        return list(self.payload.get("accounts") or ())


def scope_accounts(policy: PolicyNode, scope: str, accounts: Sequence[Account]) -> list[str]:
    """The accounts (``venue/name``) of ``policy``'s scope instance ``scope``: all it selects for
    ``global``, those of the venue for a venue's, the one account for an account's."""
    keys = [f"{a.venue}/{a.name}" for a in accounts if policy_selects(policy, a)]
    if scope == "global":
        return keys
    if scope in keys:
        return [scope]
    return [k for k in keys if k.split("/", 1)[0] == scope]


def directives_of(evaluation: Any, graph: DecisionGraph, accounts: Sequence[Account]) -> list[Directive]:
    """The directives of a firm evaluation (see the module doc), in the evaluation's order."""
    out: list[Directive] = []
    for se in evaluation.scopes:
        tr = se.transition
        if tr is None:
            continue
        policy = graph.policy(se.policy)
        spans = scope_accounts(policy, se.scope, accounts)
        base = {"accounts": spans, "policy": se.policy, "source": "policy"}
        if tr.kind == "reset":
            out.append(Directive(UNLOCK, se.scope, {**base, "reason": f"FIRM_RESET: policy={se.policy} "
                                                                    f"{tr.reason}"}, tr.decision_id))
            continue
        stage = policy.stage(tr.to_level)
        why = f"FIRM_STAGE: stage={stage.level} ({stage.name}) policy={se.policy} {tr.reason}"
        entry: list[Directive] = []
        for action in stage.actions:
            got = action.asks
            for lock in got.locks:
                entry.append(Directive(LOCK, se.scope, {**base, "reason": why, "mode": lock.mode,
                                                        "manual": stage.manual, "stage": stage.level,
                                                        "ttl_ms": lock.ttl_ms}, tr.decision_id))
            for c in got.cancels:
                cancel = Directive(CANCEL_ORDERS, se.scope, {**base, "reason": why, "stage": stage.level,
                                                             "which": c.which, "symbols": list(c.symbols)},
                                   tr.decision_id)
                # before the entry's close, whatever the order of its actions: an entry order left
                # resting while its position is closed would open it again
                at = next((i for i, d in enumerate(entry) if d.kind == CLOSE_ALL), len(entry))
                entry.insert(at, cancel)
            if got.closes_all:
                entry.append(Directive(CLOSE_ALL, se.scope, {**base, "reason": why, "stage": stage.level},
                                       tr.decision_id))
        out += entry
    return out


def targets(directive: Directive, mine: Iterable[str]) -> list[str]:
    """The scope names shard with accounts ``mine`` acts on for ``directive`` (see the module doc)."""
    if directive.kind == RESET:
        return []
    own = sorted(set(mine))
    spans = [k for k in directive.accounts if k in own]
    if not spans:
        return []
    if directive.scope == "global" and len(spans) == len(own):
        return ["global"]
    venue = directive.scope
    at_venue = [k for k in own if k.split("/", 1)[0] == venue]
    if at_venue and set(at_venue) <= set(spans) and "/" not in venue and venue != "global":
        return [venue]
    return spans


def firm_scope(scope: str, assignment: dict[str, list[str]], accounts: Sequence[Account]) -> Optional[list[str]]:
    """The accounts (``venue/name``) of a firm-wide ``scope``, or None when it is not one (see the
    module doc)."""
    keys = {a.name: f"{a.venue}/{a.name}" for a in accounts}
    if scope == "global":
        return sorted(keys.values())
    at_venue = [a.name for a in accounts if a.venue == scope]
    shards = {s for s, names in assignment.items() if set(names) & set(at_venue)}
    return sorted(keys[n] for n in at_venue) if len(shards) > 1 else None


def _hold(d: Directive) -> tuple[str, ...]:
    if d.kind in (KILL, KILL_RELEASE):  # a kill holds until its release (two approvers)
        return ("kill", str(d.payload.get("kill") or d.id) if d.kind == KILL_RELEASE else str(d.id))
    # what lifts a lock: a firm policy's unlock of that policy's lock of the scope (its reset); an
    # operator's unlock of the scope (as a shard's unlock_scope lifts the operator's lock of exactly it)
    if d.payload.get("source") == "policy":
        return ("policy", str(d.payload.get("policy")), d.scope)
    return ("operator", d.scope)


def _expires_ms(d: Directive) -> int | None:
    ttl_ms = d.payload.get("ttl_ms")
    if ttl_ms is None and d.payload.get("ttl_s") is not None:
        ttl_ms = float(d.payload["ttl_s"]) * 1000
    return None if ttl_ms is None else d.created_ms + int(ttl_ms)


def locks_in_force(directives: Iterable[Directive], now_ms: int) -> list[Directive]:
    """The lock directives of ``directives`` still in force at ``now_ms`` (see the module doc),
    the latest of each hold, in id order."""
    held: dict[tuple[str, ...], Directive] = {}
    for d in sorted(directives, key=lambda x: x.id or 0):
        if d.kind in (LOCK, KILL):
            held[_hold(d)] = d  # a later lock of the same hold replaces it (a deeper stage, a new mode)
        elif d.kind in (UNLOCK, KILL_RELEASE):
            held.pop(_hold(d), None)
    return sorted((d for d in held.values() if (_expires_ms(d) or now_ms + 1) > now_ms), key=lambda x: x.id or 0)


def inherited(d: Directive, now_ms: int, spans_now: Sequence[str]) -> Directive | None:
    """Lock ``d`` as a shard starting at ``now_ms`` applies it: its TTL what remains of it (None
    when lapsed), its accounts those it spanned and those its scope spans now (``spans_now``: a
    shard new to the firm has accounts the lock's writer did not know)."""
    expires = _expires_ms(d)
    if expires is not None and expires <= now_ms:
        return None
    payload = dict(d.payload)
    payload["accounts"] = sorted(set(d.accounts) | set(spans_now))
    if expires is not None:
        if "ttl_ms" in payload and payload["ttl_ms"] is not None:
            payload["ttl_ms"] = expires - now_ms
        else:
            payload["ttl_s"] = (expires - now_ms) / 1000
    return Directive(d.kind, d.scope, payload, d.decision_id, d.actor, d.id, d.created_ms)
