"""What broke the halt over a period, from the audit trail: the closure report's own section.

What it owns: one row per violation the venue watch audited (a ``lock_violation`` row of kind
``LOCK_VIOLATION``: an order or a position that broke a lock; of kind ``LIMIT_VIOLATION``: an
order that never asked and broke a pre-trade limit) — its kind, account, symbol, side, amount,
notional, client order id, the strategy it belongs to, what the watch did (cancel, revert) and
what that came to:

- a cancel: the venue's answer as the runner audited it after the cancel
  (``violation_cancel_result``: ``canceled``, or the venue's refusal; a later answer for the
  same order wins, as a cancel refused is tried again at the next tick); ``dry run: not sent``
  in a dry run; ``no result recorded`` when no answer was audited (a stop right after the
  cancel left, or a stage's own cancel of the same order);
- a revert: its reduce-only order's status in the journal (``revert filled``, ``revert
  pending`` …), or ``not journaled`` (a dry run, an order of ours still open on that leg);

and one row per change of the bots' trading permission at a venue (``trading_revoked``,
``trading_restored``, ``trading_permission_failed``: the account, its keys, whether the venue's
read-back confirmed it, the venue's code and message of a refusal, the holds that asked and, in
words, who and why: an operator's revoke by its author and reason, a restore by its approvers,
a policy's by its stage and its reset), and one ``out of reach`` row per account an operator's
revoke reached but could not revoke (``trading_revoke_requested``'s ``out_of_reach``).

Each names the incident it belongs to: a violation, the incident open then on the lock's scope
(or on the account it is) whose policy holds the lock it broke — one under an operator's lock or
the dead man's switch is that lock's (``lock``: who holds it), not an incident's; a revoke, the
latest incident begun by then whose policy and scope hold it; a restore or a refused restore
(after the reset that ended the incident: no hold left), the incident of the account's last
revoke; a refused revoke (which names no hold), the incident open then on the account.

Pure: rows and the journal's statuses in, plain values out. Must not read the store itself
(:mod:`.report` hands the rows in) or call a cancel done that no row says the venue answered.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

from ..facts.violations import violation_text
from ..fills import bot_side, orders_text, revert_side
from ..holds import OUT_OF_REACH, holder, unreached_text
from ..state.violations import CANCEL_RESULT_KIND, VIOLATION_KINDS, cancel_outcome, cancel_results
from .incident import iso
from .lock_view import hold_of

TRADING_KINDS = {"trading_revoked": "revoked", "trading_restored": "restored",
                 "trading_permission_failed": "failed"}
KINDS = VIOLATION_KINDS + (CANCEL_RESULT_KIND,) + tuple(TRADING_KINDS)


def _incident(incidents: Sequence[Mapping[str, Any]], ts_ms: int, match: Callable[[Mapping[str, Any]], bool],
              *, open_only: bool = True) -> Optional[str]:
    """The latest incident that ``match`` accepts and that began by ``ts_ms`` (each has
    ``ts_ms``, ``end_ms``): still open then, unless ``open_only`` is false."""
    found = [i for i in incidents if i["ts_ms"] <= ts_ms and (ts_ms < i["end_ms"] or not open_only) and match(i)]
    return max(found, key=lambda i: i["ts_ms"])["incident"] if found else None


def _revert_outcome(p: Mapping[str, Any], statuses: Mapping[str, str]) -> str:
    cid = p.get("revert_client_order_id")
    status = statuses.get(str(cid)) if cid else None
    if status is None:
        return "dry run: not sent" if p.get("dry_run") else "not journaled"
    return f"revert {status}"


def halt_breaks(rows: Sequence[Any], statuses: Mapping[str, str], incidents: Sequence[Mapping[str, Any]],
                proven: Callable[[int], bool]) -> dict:
    """``{"violations": [...], "trading": [...]}`` of ``rows`` (audit rows, chain order).
    ``statuses``: a journaled client order id -> its status; ``incidents``: each with
    ``incident``, ``policy``, ``scope``, ``ts_ms`` and ``end_ms`` (the period's end when open)."""
    results = cancel_results(rows)
    violations, trading = [], []
    revoked_in: dict[str, Optional[str]] = {}  # an account -> the incident of its latest revoke
    held_by: dict[str, list[str]] = {}  # an account -> the holds of its latest revoke
    asked: dict[str, str] = {}  # a scope -> who asked its operator's revoke, and why
    approved: dict[str, list[str]] = {}  # a hold -> the approvals of its restore, in order
    for r in rows:
        p = r.payload
        if r.kind == "trading_revoke_requested" and not p.get("refused"):
            asked[str(p.get("scope"))] = f"{p.get('by') or '?'}: {p.get('reason') or ''}".rstrip(": ")
            trading += _unreached(r, p, asked, incidents, proven)
        elif r.kind == "trading_restore_approval" and not p.get("refused"):
            approved.setdefault(str(p.get("holder")), []).append(
                f"{p.get('approver') or '?'}: {p.get('reason') or ''}".rstrip(": "))
        if r.kind in VIOLATION_KINDS:
            action = p.get("action")
            outcome = _revert_outcome(p, statuses) if action == "revert" else cancel_outcome(p, results)
            scope, account = p.get("scope"), p.get("account")
            violations.append({
                "at": iso(r.ts_ms), "kind": str(p.get("kind") or r.kind).upper(), "scope": scope,
                "mode": p.get("mode"), "account": account,
                "symbol": p.get("symbol"), "side": bot_side(p), "revert_side": revert_side(p),
                "amount": p.get("amount"),
                "amount_step": p.get("amount_step"),
                "notional": p.get("notional"), "client_order_id": p.get("client_order_id"),
                "order_id": p.get("order_id"), "strategy": p.get("strategy"), "action": action,
                "orders": list(p.get("orders") or ()), "orders_text": orders_text(p.get("orders") or ()),
                "strategies": list(p.get("strategies") or ()) or [p.get("strategy")],
                "attribution": p.get("attribution"), "revert_client_order_id": p.get("revert_client_order_id"),
                "outcome": outcome, "reason": p.get("reason"), "dry_run": bool(p.get("dry_run")),
                "text": violation_text({**p, "ts_ms": r.ts_ms, "outcome": outcome}),  # as ksctl status says it
                "lock": _lock_text(p.get("lock")),
                "incident": _incident(incidents, r.ts_ms, lambda i: i["scope"] in (scope, account)
                                      and _held_by(p.get("lock"), i)),
                # the incident open then on its scope, whoever's lock it broke (its runbook lists it)
                "during": _incident(incidents, r.ts_ms, lambda i: i["scope"] in (scope, account)),
                "verified": proven(r.seq)})
        elif r.kind in TRADING_KINDS:
            holds = [str(h) for h in p.get("holds") or []]
            keys = p.get("keys") or {}
            # a revoke a stage's hold asked for is that incident's; a restore (its holds released by
            # the reset that ended the incident) or a refused restore is the one of the account's
            # last revoke; a refused revoke names no hold: the incident open then on its account
            account = str(p.get("account"))
            event = TRADING_KINDS[r.kind]
            if holds:
                incident = _incident(incidents, r.ts_ms, lambda i: f"{i['policy']}|{i['scope']}" in holds,
                                     open_only=False)
            elif event == "restored" or (event == "failed" and p.get("want_text") == "restore"):
                incident = revoked_in.get(account)
            else:
                incident = _incident(incidents, r.ts_ms, lambda i: i["scope"] == account)
            if event == "revoked":
                revoked_in[account] = incident
                held_by[account] = holds
                for h in holds:  # a restore counts only the approvals given after the revoke it lifts
                    approved.pop(h, None)
            if event == "restored":
                why = "; ".join(_restored_by(h, approved) for h in held_by.get(account, []))
            else:
                why = "; ".join(_asked_by(h, asked) for h in holds)
            trading.append({
                "at": iso(r.ts_ms), "at_ms": r.ts_ms, "event": event, "account": account,
                "keys": sorted(keys) if isinstance(keys, Mapping) else list(keys),
                "read_back": p.get("read_back"), "want": p.get("want_text"), "code": p.get("code"),
                "message": p.get("message"), "attempts": p.get("attempts"), "holds": holds, "by": p.get("by"),
                "op": p.get("op"), "why": why or None,
                "incident": incident,
                "verified": proven(r.seq)})
    return {"violations": violations, "trading": trading}


def _unreached(r: Any, p: Mapping[str, Any], asked: Mapping[str, str], incidents: Sequence[Mapping[str, Any]],
               proven: Callable[[int], bool]) -> list[dict]:
    """An operator's revoke's accounts its scope reached but could not revoke (``out_of_reach``: no
    switch of their bots' keys): a row each, ``out of reach``, so the table does not read as if
    the revoke stopped every bot of its scope."""
    hold = f"operator|{p.get('scope')}"  # an operator revoke's hold (its policy: "operator")
    incident = _incident(incidents, r.ts_ms, lambda i: f"{i['policy']}|{i['scope']}" == hold, open_only=False)
    return [{"at": iso(r.ts_ms), "at_ms": r.ts_ms, "event": OUT_OF_REACH, "account": str(a), "keys": [],
             "read_back": None, "want": "revoke", "code": None, "message": unreached_text(str(a)),
             "attempts": None, "holds": [hold], "by": p.get("by"), "op": None, "why": _asked_by(hold, asked),
             "incident": incident, "verified": proven(r.seq)} for a in p.get("out_of_reach") or ()]


def _held_by(lock: Any, incident: Mapping[str, Any]) -> bool:
    """Whether the lock a violation broke is ``incident``'s policy's own (a row that does not say
    which lock it broke is the incident's open then on its scope)."""
    return not isinstance(lock, Mapping) or lock.get("policy") in (None, incident["policy"])


def _lock_text(lock: Any) -> Optional[str]:
    """The lock a violation broke, in the words status names a hold in (:func:`~killswitch.holds.holder`):
    ``operator alice``, ``policy quick-watch stage 1``."""
    if not isinstance(lock, Mapping) or not lock.get("policy"):
        return None
    by = {"by": lock["by"]} if lock.get("by") else {}
    return holder(hold_of({"policy": lock["policy"], "stage": lock.get("stage"), "details": by}))


def _asked_by(hold: str, asked: Mapping[str, str]) -> str:
    """Who wanted a hold (``operator|scope``, ``policy|scope``): the operator and their reason, or the policy."""
    policy, _, scope = hold.partition("|")
    if policy == "operator":
        return f"operator on {scope}, {asked.get(scope) or 'who: not in the period'}"
    return f"policy {policy} on {scope}"


def _restored_by(hold: str, approved: Mapping[str, Sequence[str]]) -> str:
    """Who lifted a hold: an operator's restore by its approvers, a policy's by its stage's reset."""
    policy, _, scope = hold.partition("|")
    if policy == "operator" or hold in approved:
        said = ", ".join(approved.get(hold) or ()) or "approvals not in the period"
        return f"restore of the operator's revoke on {scope} approved by {said}"
    return f"the reset of policy {policy} on {scope}"


__all__ = ["CANCEL_RESULT_KIND", "KINDS", "TRADING_KINDS", "VIOLATION_KINDS", "halt_breaks"]
