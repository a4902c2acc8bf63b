"""The bots' keys revoked at the venue (or being revoked, restored, failing), and the accounts a
revoke's scope reached but could not revoke: what the venue confirmed (revoked only then), who
holds it so, what is owed.

Also how a hold of the keys is said everywhere (:func:`hold_text`, :func:`out_of_reach`).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

from ..holds import unreached_text
from . import Fact, Line, When, kind_of, names

RANK = 50
KIND = kind_of(__name__)
OPERATOR = "operator"  # the policy name of an operator's revoke ("operator|<scope>")


def hold_text(hold: Mapping[str, Any]) -> str:
    """What holds the keys revoked, as status and the console say it after "held by": an
    operator's revoke by its author (``alice's revoke of binanceusdm/sim-main``), a policy's
    stage by the policy (``bot-guard binanceusdm/sim-main stage 1``). ``hold``: ``Hold.to_json``."""
    if hold.get("policy") == OPERATOR:
        by = f"{hold['by']}'s" if hold.get("by") else "an operator's"
        return f"{by} revoke of {hold['scope']}"
    return f"{hold['policy']} {hold['scope']}" + (f" stage {hold['stage']}" if hold.get("stage") else "")


def out_of_reach(holds: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each account the holds' scopes reach but could not revoke -> the holds that asked
    (:func:`hold_text`), once each; ``holds``: ``Hold.to_json`` (or status's)."""
    out: dict[str, list[str]] = {}
    for h in holds:
        for account in h.get("out_of_reach") or ():
            said = out.setdefault(str(account), [])
            if hold_text(h) not in said:
                said.append(hold_text(h))
    return dict(sorted(out.items()))


def title_of(t: Mapping[str, Any]) -> str:
    """An account's keys in two words: "Trading revoked" once the venue confirmed it, else what
    is owed or failing (never called revoked before the venue says so)."""
    shown = str(t.get("shown") or "")
    return ("Trading revoked" if t.get("revoked") else "Trading revoke FAILED" if shown.startswith("REVOKE_FAILED")
            else "Trading being revoked" if shown.startswith("revoking") else "Trading being restored")


def _restore_needs(h: Mapping[str, Any]) -> str:
    """A hold's restore as the console says it: the approvals it needs, and who gave them so far."""
    need, have = h.get("approvals_needed"), list(h.get("approvals") or ())
    if not need:
        return ""
    lifts = "restore" if h.get("policy") == OPERATOR else "reset"
    return f" ({lifts} needs {need} approver(s), have {len(have)}" + (f": {', '.join(have)}" if have else "") + ")"


def facts(st: Any) -> Iterator[Fact]:
    """Each account's keys: ``data`` is its row of the console's table (``keys_text``, not
    ``keys``: a template's ``t.keys`` is the dict's method before its item)."""
    for account, t in sorted(st.trading.items()):
        held = t.get("holds") or ()
        holds = "; ".join(hold_text(h) + f" (restore needs {h['approvals_needed']} approver(s), have "
                          f"{len(h.get('approvals') or ())})" for h in held)
        keys = sorted((t.get("keys") or {}).items())
        owed = t.get("owed") or {}
        retry = f"; next try {owed['next_ts']}" if owed.get("failure") else ""
        # an operator's revoke is restored by its approvers (a stage's by its reset)
        mine = sorted({str(h["scope"]) for h in held if h.get("policy") == OPERATOR})
        shown = str(t.get("shown") or "")
        yield Fact(KIND, "error", account, None, "its revoke is restored, by its approvers (a stage's by its reset)",
                   f"TRADING {account}: {shown}" + (f"; keys {', '.join(f'{k}={v}' for k, v in keys)}" if keys else "")
                   + (f"; held by {holds}" if holds else "") + retry,
                   hint=f"ksctl revoke --scope {mine[0]} --restore --reason R" if mine else "",
                   label=f"{title_of(t).lower()} on {account}",
                   data={"account": account, "title": title_of(t), "shown": shown, "failing": "FAILED" in shown,
                         "holds": "; ".join(hold_text(h) + _restore_needs(h) for h in held),
                         "keys_text": ", ".join(f"{k} {v}" for k, v in keys), "restorable": mine})
    # the accounts a revoke's scope reached without a switch: never revoked, said as long as it holds
    unreached = out_of_reach(h for t in st.trading.values() for h in t.get("holds") or ())
    for account, asked in unreached.items():
        if account not in st.trading:
            said = unreached_text(account)
            yield Fact(KIND, "error", account, None, "the revoke that asked is restored",
                       f"TRADING {said}; asked by {'; '.join(asked)}", label=said,
                       data={"account": account, "title": "Trading NOT revoked", "out_of_reach": said,
                             "shown": said.removeprefix(f"{account}: ") + f"; asked by {'; '.join(asked)}",
                             "failing": True, "holds": "", "keys_text": "", "restorable": []})


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    reached = [f.label for f in facts if not f.data.get("out_of_reach")]
    return Line("TRADING PERMISSION AT THE VENUE", "; ".join(
        ([names(reached)] if reached else []) + [f.label for f in facts if f.data.get("out_of_reach")]))
