"""KS218: a policy's scope selector that selects no declared account.

What it owns: :func:`selects_account` — the compile-time form of the engine's runtime rule
(:func:`killswitch.engine.scope.selects`: a snapshot carries its account's venue, name and
labels, so the two must agree on every account; ``tests/unit/compile/scope/test_unmatched.py`` holds
them to it) — and :func:`unmatched`, the finding with a hint a person can act on: the labels
(or venues) that exist, which accounts carry them, and the closest one to what was written.
For the actions that act on accounts whole (``revoke_trading``, ``arm_exchange_dms``), it finds
the accounts their scope selects that they cannot reach (:func:`reach_findings`, for KS261 and
KS262 with their reasons).

It judges only the parts of a scope that select accounts (``venues``, ``accounts.names``,
``accounts.match_labels``); strategies and symbols split positions inside the accounts chosen.
The caller decides whether the declared accounts are known whole (every Accounts document read
without errors): an unreadable one may declare anything, and then nothing is reported.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Optional, Sequence

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account
from ..policy.diagnostics import Diagnostic, Position
from ..policy.scope import Scope, names_select
from ..records import record


def selects_account(scope: Scope, venue: str, name: str, labels: Mapping[str, str]) -> bool:
    """Whether ``scope`` selects the account ``venue``/``name`` with ``labels``: every part given
    must hold (an empty part selects everything), as the engine selects snapshots."""
    if scope.venues and venue not in scope.venues:
        return False
    sel = scope.accounts
    if not names_select(sel.names, venue, name):
        return False
    return all(labels.get(k) == v for k, v in sel.match_labels.items())


def written(scope: Scope) -> str:
    """The account-selecting parts of ``scope`` as a policy writes them (YAML flow style)."""
    parts = []
    if scope.venues:
        parts.append(f"venues: [{', '.join(scope.venues)}]")
    if scope.accounts.names:
        parts.append(f"accounts.names: [{', '.join(scope.accounts.names)}]")
    if scope.accounts.match_labels:
        pairs = ", ".join(f"{k}: {v}" for k, v in scope.accounts.match_labels.items())
        parts.append(f"accounts.match_labels: {{{pairs}}}")
    return " and ".join(parts)


@record
class ActionUse:
    """One action that acts on accounts whole (``revoke_trading``, ``arm_exchange_dms``) as the
    compiler meets it: where it is written and the scope (its policy's, or the action's own)
    whose accounts it acts on."""

    file: str
    pos: Optional[Position]
    scope: Scope
    policy: str = ""


def reach_findings(code: d.Code, accounts: Sequence[Account], uses: Iterable[ActionUse],
                   why_not: Callable[[Account], Optional[str]], fails: str, then: str, hint: str) -> list[Diagnostic]:
    """``code`` for each use whose scope selects an account the action cannot reach (``why_not``
    says why, or None where it reaches it): one finding a use, "``fails`` N account(s) its scope
    selects", naming every such account and why, then ``then``. ``accounts``: every declared
    account (the caller knows them whole, or passes none: then nothing is said)."""
    out: list[Diagnostic] = []
    for use in uses:
        bad = [(a.name, why) for a in accounts
               if selects_account(use.scope, a.venue, a.name, a.labels) and (why := why_not(a))]
        if not bad:
            continue
        named = "; ".join(f'"{name}": {why}' for name, why in bad[:5]) + (
            f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        of = f'policy "{use.policy}": ' if use.policy else ""
        sel = written(use.scope) or "every account"
        out.append(Diagnostic.make(code, use.file, use.pos,
                                   f"{of}{fails} {len(bad)} account(s) its scope ({sel}) selects: {named}{then}", hint))
    return out


@record
class Unmatched:
    """What :func:`unmatched` found: the message, the hint, and which part of the scope to point
    at (``venues``, ``names`` or ``match_labels``, with the label key or list index, or None for
    the selector as a whole: only the combination of parts selects nothing)."""

    message: str
    hint: str
    part: Optional[str]
    item: Optional[object] = None


def unmatched(scope: Scope, accounts: Sequence[Account]) -> Optional[Unmatched]:
    """KS218 for ``scope`` against the declared ``accounts``, or None when it selects one of
    them, says ``allow_empty: true``, or selects by nothing (every account). An account name
    that is not declared is KS104's to report (the caller does not ask then)."""
    if scope.allow_empty or not (scope.venues or scope.accounts.names or scope.accounts.match_labels):
        return None
    if any(selects_account(scope, a.venue, a.name, a.labels) for a in accounts):
        return None
    message = f"scope selects no declared account: {written(scope)}"
    notes: list[str] = []
    part: Optional[str] = None
    item: Optional[object] = None
    venues = _carriers((a.venue, a.name) for a in accounts)
    for i, v in enumerate(scope.venues):
        if v not in venues:
            notes.append(_nearest(f'venue "{v}" is the venue of no declared account', v, venues))
            if part is None:
                part, item = "venues", i
    pairs = _carriers((f"{k}={v}", a.name) for a in accounts for k, v in a.labels.items())
    for k, v in scope.accounts.match_labels.items():
        pair = f"{k}={v}"
        if pair not in pairs:
            notes.append(_nearest(f"no declared account carries {pair}", pair, pairs))
            if part is None:
                part, item = "match_labels", k
    if not notes:
        notes.append(f"each alone: {_each_alone(scope, accounts)}; no declared account has all of them")
    if scope.accounts.match_labels or not scope.venues:
        keys = {f"{k}=" for k in scope.accounts.match_labels}  # the keys written first: the likely typo's
        notes.append("labels of the declared accounts: " + (_listing(pairs, keys) or "none"))
    if scope.venues:
        notes.append("venues of the declared accounts: " + (_listing(venues) or "none"))
    notes.append("a policy prepared ahead of its account says allow_empty: true in its scope")
    hint = notes[0]
    for note in notes[1:]:
        hint += (" " if hint.endswith("?") else "; ") + note
    return Unmatched(message, hint, part, item)


def _carriers(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """value → the accounts that have it, in declaration order."""
    out: dict[str, list[str]] = {}
    for value, account in items:
        names = out.setdefault(value, [])
        if account not in names:
            names.append(account)
    return out


def _nearest(what: str, word: str, known: Mapping[str, list[str]]) -> str:
    best = d.did_you_mean(word, known)
    return f'{what}: did you mean "{best}"?' if best is not None else what


def _listing(known: Mapping[str, list[str]], first: Iterable[str] = (), most: int = 12) -> str:
    """``value (accounts), ...``: the values starting with one of ``first`` before the others."""
    lead = tuple(first)
    order = sorted(known.items(), key=lambda kv: (not kv[0].startswith(lead) if lead else False, kv[0]))
    shown = [f"{value} ({_accounts(names)})" for value, names in order[:most]]
    return ", ".join(shown) + (", ..." if len(known) > most else "")


def _accounts(names: list[str], most: int = 3) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _each_alone(scope: Scope, accounts: Sequence[Account]) -> str:
    """What each part of a selector selects on its own (when every part names something declared)."""
    out = []
    if scope.venues:
        chosen = [a.name for a in accounts if a.venue in scope.venues]
        out.append(f"venues [{', '.join(scope.venues)}] select {_accounts(chosen)}")
    if scope.accounts.names:
        out.append(f"accounts.names select {_accounts(list(scope.accounts.names))}")
    for k, v in scope.accounts.match_labels.items():
        out.append(f"{k}={v} selects {_accounts([a.name for a in accounts if a.labels.get(k) == v])}")
    return "; ".join(out)
