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


def facts(st: Any) -> Iterator[Fact]:
    for account, t in sorted(st.trading.items()):
        holds = "; ".join(
            hold_text(h) + f" (restore needs {h['approvals_needed']} approver(s), have {len(h.get('approvals') or ())})"
            for h in t.get("holds") or ())
        keys = ", ".join(f"{k}={v}" for k, v in sorted((t.get("keys") or {}).items()))
        owed = t.get("owed") or {}
        retry = f"; next try {owed['next_ts']}" if owed.get("failure") else ""
        mine = sorted({str(h["scope"]) for h in t.get("holds") or () if h.get("policy") == OPERATOR})
        yield Fact(KIND, "error", account, None, "its revoke is restored, by its approvers (a stage's by its reset)",
                   f"TRADING {account}: {t.get('shown')}" + (f"; keys {keys}" if keys else "")
                   + (f"; held by {holds}" if holds else "") + retry,
                   hint=f"ksctl revoke --scope {mine[0]} --restore --reason R" if mine else "",
                   label=f"{title_of(t).lower()} on {account}")
    # the accounts a revoke's scope reached without a switch: never revoked, said as long as it holds
    unreached = out_of_reach(h for t in st.trading.values() for h in t.get("holds") or ())
    for account, asked in unreached.items():
        if account not in st.trading:
            yield Fact(KIND, "error", account, None, "the revoke that asked is restored",
                       f"TRADING {unreached_text(account)}; asked by {'; '.join(asked)}",
                       label=unreached_text(account), data={"out_of_reach": True})


def shown(facts: Sequence[Fact], when: When) -> Optional[Line]:
    reached = [f.label for f in facts if not f.data.get("out_of_reach")]
    return Line("TRADING PERMISSION AT THE VENUE", "; ".join(
        ([names(reached)] if reached else []) + [f.label for f in facts if f.data.get("out_of_reach")]))
