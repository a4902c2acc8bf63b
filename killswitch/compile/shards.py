"""Shards: which runner holds which accounts, and which policies are whose.

What it owns, for the ``shards`` of an Accounts document (``spec.shards``: a name and the account
selector a policy's scope uses):

* :func:`assign` — each shard's accounts, as its selector selects them (document order);
* :func:`check_shards` — the findings on it: KS240 an account two shards select (at the account,
  naming both selectors), KS241 an account no shard selects (at the account, listing the
  selectors), KS242 a shard name given twice (at the second);
* :func:`split` — the policies of a compiled graph by who evaluates them: a policy whose scope
  selects accounts of one shard is that shard's (its runner's graph holds it, as today); one whose
  scope selects accounts of more than one shard (``global``, a venue, a label spanning shards)
  is firm-wide, evaluated by the holder of the firm lease over the facts the shards publish; one
  that selects no declared account (``allow_empty``) is nobody's;
* :func:`accounts_digest` — the digest of a shard's account set, by which the replicas of one
  shard are told from a runner started with another file (``SHARD_MISMATCH`` at ``ksctl run``);
* the firm's cadence: :func:`pace_s`, how often a shard ticks and publishes its facts (its local
  policies' shortest interval and the firm-wide policies', whichever is shorter: a shard with no
  local policy keeps the firm's), and :func:`firm_interval_refusals`, a firm-wide policy whose
  interval is under :data:`FIRM_MIN_INTERVAL_MS`, which no shard can publish for (KS244; refused
  at ``ksctl run --shard`` and at a reload, ``FIRM_INTERVAL_TOO_SHORT``).

Where a shard's state lives (its PostgreSQL schema, the firm's) is :mod:`killswitch.state.firm`.

Accounts are named by their ``name`` (unique in an Accounts document, KS105).

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import field
from typing import Any, Mapping, Optional, Sequence

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account, Accounts, Shard
from ..policy.actions import ACTIONS
from ..policy.diagnostics import Diagnostic, Position
from ..policy.documents import LoadedDoc
from ..policy.scope import AccountSelector, names_select
from ..policy.signals import SIGNALS
from ..records import record
from .graph import DecisionGraph, PolicyNode


def selects(selector: AccountSelector, account: Account) -> bool:
    """Whether a shard's ``selector`` selects ``account``: every part given must hold (an empty
    part selects everything), as a policy scope's ``accounts`` selector does."""
    if not names_select(selector.names, account.venue, account.name):
        return False
    return all(account.labels.get(k) == v for k, v in selector.match_labels.items())


def written(selector: AccountSelector) -> str:
    """A shard's selector as the Accounts document writes it (YAML flow style)."""
    parts = []
    if selector.names:
        parts.append(f"names: [{', '.join(selector.names)}]")
    if selector.match_labels:
        parts.append("match_labels: {" + ", ".join(f"{k}: {v}" for k, v in selector.match_labels.items()) + "}")
    return "{" + ", ".join(parts) + "}"


def assign(accounts: Sequence[Account], shards: Sequence[Shard]) -> dict[str, list[str]]:
    """Each shard's accounts (names, in the document's order) as its selector selects them. An
    account two shards select is in both lists, one no shard selects in none: :func:`check_shards`
    says so. A shard name given twice keeps the accounts of both selectors."""
    out: dict[str, list[str]] = {}
    for shard in shards:
        got = out.setdefault(shard.name, [])
        got += [a.name for a in accounts if selects(shard.accounts, a) and a.name not in got]
    return out


def accounts_digest(accounts: Sequence[Account]) -> str:
    """sha256 of a shard's account set (``venue/name`` of each, sorted): the same for every
    replica started with the same accounts, whatever their order in the file."""
    keys = sorted(f"{a.venue}/{a.name}" for a in accounts)
    return hashlib.sha256(json.dumps(keys, separators=(",", ":")).encode()).hexdigest()


def shard_accounts(accounts: Sequence[Account], shards: Sequence[Shard], name: str) -> list[Account]:
    """The accounts of shard ``name`` (none when no shard has that name)."""
    names = set(assign(accounts, shards).get(name, ()))
    return [a for a in accounts if a.name in names]


# --- findings ------------------------------------------------------------------------------------


def check_shards(doc: LoadedDoc) -> list[Diagnostic]:
    """KS240 / KS241 / KS242 on an Accounts document's shards (none when it declares none)."""
    model = doc.model
    if not isinstance(model, Accounts) or not model.spec.shards:
        return []
    spec = model.spec
    out = []
    seen: set[str] = set()
    for i, shard in enumerate(spec.shards):
        if shard.name in seen:
            first = next(j for j, s in enumerate(spec.shards) if s.name == shard.name)
            out.append(Diagnostic.make(
                d.KS242, doc.file, doc.srcmap.value(doc.item_path("shards", i) + ("name",)),
                f'shard "{shard.name}" is declared twice (also shard {first + 1} of the list)',
                "each shard is one replica set with its own lease and schema: rename one, or merge "
                "their selectors into one shard"))
        seen.add(shard.name)
    listed = "; ".join(f"{s.name}: {written(s.accounts)}" for s in spec.shards)
    for i, acc in enumerate(spec.accounts):
        where = doc.srcmap.value(doc.item_path("accounts", i) + ("name",))
        holders = [s for s in spec.shards if selects(s.accounts, acc)]
        if len({s.name for s in holders}) > 1:
            both = " and ".join(f'"{s.name}" ({written(s.accounts)})' for s in holders)
            out.append(Diagnostic.make(
                d.KS240, doc.file, where, f'account "{acc.name}" is in {len(holders)} shards: {both}',
                "an account is guarded by one shard's runners only: narrow the selectors (match_labels "
                "or names) so that exactly one of them selects it"))
        elif not holders:
            out.append(Diagnostic.make(
                d.KS241, doc.file, where,
                f'account "{acc.name}" is in no shard: no runner would guard it '
                f"(labels {_labels(acc.labels)}; the shards select {listed})",
                "give the account a label one shard selects, name it in a shard's names, or add a shard for it"))
    return out


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in labels.items()) + "}"


# --- which policies are whose --------------------------------------------------------------------


@record
class Split:
    """The policies of a graph by who evaluates them (names, sorted): ``local`` per shard (every
    shard listed, an empty list when it has none), ``firm`` the firm-wide ones, ``unmatched``
    those whose scope selects no declared account (no runner evaluates them)."""

    local: dict[str, list[str]] = field(default_factory=dict)
    firm: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    # policy → the shards whose accounts it selects (firm-wide ones: two or more)
    spans: dict[str, list[str]] = field(default_factory=dict)


def policy_selects(policy: PolicyNode, account: Account) -> bool:
    """Whether ``policy``'s scope selects ``account`` (venues, names, labels), as the engine
    selects an account's snapshots (:func:`killswitch.engine.scope.selects`)."""
    sc: Mapping[str, Any] = policy.scope
    if sc.get("venues") and account.venue not in sc["venues"]:
        return False
    sel = sc.get("accounts") or {}
    if not names_select(sel.get("names") or (), account.venue, account.name):
        return False
    return all(account.labels.get(k) == v for k, v in (sel.get("match_labels") or {}).items())


def split(graph: DecisionGraph, accounts: Sequence[Account], assignment: Mapping[str, Sequence[str]]) -> Split:
    """Which policies of ``graph`` each shard of ``assignment`` (:func:`assign`) evaluates, and
    which are firm-wide. ``accounts``: the Accounts document's (their venues and labels)."""
    shard_of: dict[str, list[str]] = {}
    for shard, names in assignment.items():
        for name in names:
            shard_of.setdefault(name, []).append(shard)
    out = Split(local={s: [] for s in assignment})
    for policy in graph.policies:
        spans = sorted({s for a in accounts if policy_selects(policy, a) for s in shard_of.get(a.name, ())})
        out.spans[policy.name] = spans
        if not spans:
            out.unmatched.append(policy.name)
        elif len(spans) == 1:
            out.local[spans[0]].append(policy.name)
        else:
            out.firm.append(policy.name)
    return out


# What the holder of the firm lease can evaluate: the facts carry equity and data age, not
# positions or orders, and a shard carries out locks, cancels and closes of its own accounts.
# The catalogue says which kinds (its entries' ``firm``), in its order.
FIRM_SIGNALS = tuple(name for name, k in SIGNALS.items() if k.firm)
FIRM_ACTIONS = tuple(name for name, k in ACTIONS.items() if k.firm)
FIRM_LEVELS = ("global", "venue", "account")


def firm_refusals(graph: DecisionGraph, firm: Sequence[str]) -> list[tuple[PolicyNode, str]]:
    """The firm-wide policies ``firm`` of ``graph`` that read or do what facts do not allow, each
    with why (KS243 at ``ksctl validate`` and ``ksctl shards``; refused at ``ksctl run --shard``)."""
    out = []
    names = set(firm)
    for p in graph.policies:
        if p.name not in names:
            continue
        for s in p.signals:
            if s.kind not in FIRM_SIGNALS:
                out.append((p, f'signal "{s.name}" is {s.kind}: the firm lease holder reads each account\'s '
                               f"published facts (equity, data age), not its positions or orders; a firm-wide "
                               f"policy reads {', '.join(FIRM_SIGNALS)}"))
        for st in p.stages:
            for a in st.actions:
                if a.kind not in FIRM_ACTIONS:
                    out.append((p, f'stage "{st.name}" action {a.kind}: every shard carries out a firm '
                                   f"directive on its own accounts by lock, cancel or close; a firm-wide policy's "
                                   f"actions are {', '.join(FIRM_ACTIONS)}"))
        level = p.scope.get("level")
        if level not in FIRM_LEVELS or p.scope.get("strategies") or p.scope.get("symbols"):
            out.append((p, f"scope level {level} (or strategies/symbols): its instances group positions, which "
                           f"facts do not carry; a firm-wide policy's level is {', '.join(FIRM_LEVELS)}"))
    return out


# --- the firm's cadence ---------------------------------------------------------------------------

# A fact is read while it is younger than this many of the firm-wide policies' shortest interval
# (:func:`killswitch.firm.facts.stale_after_ms`): a shard publishes once an interval; the rest is
# the margin for one tick's facts coming later than the last one's.
STALE_FACTOR = 1.5
# The least margin a shard needs. A shard's ticks start one interval apart and it publishes at
# the end of each, after reading every one of its accounts over the venues' REST APIs (a round
# trip each, paced by the venue's rate budget, a failed read retried) and saving its state; the
# firm lease holder reads the facts at a tick of its own. One tick's facts come later than the
# last one's by however much longer its reads and writes took. On the shared 2-core machine of
# the benches, at 10 accounts a shard with no local policy, 3 to 5 ticks in 50 of each leader
# took over 0.5 s and 2 over 1 s, and at a 1 s interval 1 to 3 publishes a leader already came
# past the 1.5 s (docs/benchmark-history.md, "2026-11-26, hold the line"). Under 500 ms of margin the
# firm lease holder finds a shard's facts too old as often as a tick is slow: a breaker blind
# by the arithmetic of its own interval.
FIRM_MARGIN_MIN_MS = 500
# The shortest interval a firm-wide policy may have: its margin (STALE_FACTOR - 1 intervals) at
# least FIRM_MARGIN_MIN_MS, i.e. 1 s.
FIRM_MIN_INTERVAL_MS = round(FIRM_MARGIN_MIN_MS / (STALE_FACTOR - 1))
FIRM_INTERVAL_TOO_SHORT = "FIRM_INTERVAL_TOO_SHORT"


def pace_s(graph: DecisionGraph, local: Sequence[str], firm: Sequence[str]) -> float:
    """How often a shard ticks, and so publishes its facts: the shortest interval of its
    ``local`` policies and of the ``firm``-wide ones of ``graph`` (every shard publishes at the
    firm's pace, whatever its own policies, none included: the firm lease holder reads every
    shard's facts against the firm-wide policies' shortest interval); 5 s with neither."""
    names = set(local) | set(firm)
    return min((p.interval_s for p in graph.policies if p.name in names), default=5.0)


def firm_interval_refusals(graph: DecisionGraph, firm: Sequence[str]) -> list[tuple[PolicyNode, str]]:
    """The firm-wide policies ``firm`` of ``graph`` whose interval is under
    :data:`FIRM_MIN_INTERVAL_MS`, each with why (KS244 at ``ksctl validate`` and ``ksctl shards``;
    ``FIRM_INTERVAL_TOO_SHORT`` at ``ksctl run --shard`` and at a reload)."""
    names = set(firm)
    margin = STALE_FACTOR - 1
    return [(p, f"interval {_secs(p.interval_s)} is under the firm-wide floor of {FIRM_MIN_INTERVAL_MS / 1000:g}s: "
                f"the firm lease holder reads a shard's facts while they are younger than {STALE_FACTOR:g} "
                f"intervals ({_secs(p.interval_s * STALE_FACTOR)}), which leaves each shard "
                f"{_secs(p.interval_s * margin)} over its interval for its tick's reads of every account and its "
                f"writes, under the least margin of {FIRM_MARGIN_MIN_MS} ms: its facts would be read too old "
                f"whenever a tick is slow, and the policy blind")
            for p in graph.policies if p.name in names and p.interval_s * 1000 < FIRM_MIN_INTERVAL_MS]


def _secs(s: float) -> str:
    return f"{s * 1000:g}ms" if s < 1 else f"{s:g}s"


def firm_diagnostics(graph: DecisionGraph, docs: Sequence[LoadedDoc]) -> list[Diagnostic]:
    """KS243 at each firm-wide policy of ``graph`` that :func:`firm_refusals` refuses and KS244
    at the interval of each that :func:`firm_interval_refusals` refuses, when ``docs`` hold an
    Accounts document with shards (none otherwise: nothing is firm-wide)."""
    found = [d for d in docs if isinstance(d.model, Accounts) and d.model.spec.shards]
    if len(found) != 1:
        return []
    spec = found[0].model.spec  # type: ignore[union-attr]
    got = split(graph, spec.accounts, assign(spec.accounts, spec.shards))
    out = [Diagnostic.make(d.KS243, p.source.file, Position(p.source.line, p.source.col),
                           f"firm-wide policy {p.name} (its scope spans shards {', '.join(got.spans[p.name])}): "
                           f"{why}",
                           "narrow its scope to one shard's accounts (its runner then evaluates it with the "
                           "books), or keep to what the facts carry")
           for p, why in firm_refusals(graph, got.firm)]
    for p, why in firm_interval_refusals(graph, got.firm):
        out.append(Diagnostic.make(
            d.KS244, p.source.file, _interval_at(p, docs),
            f"firm-wide policy {p.name} (its scope spans shards {', '.join(got.spans[p.name])}): {why}",
            f"give it an interval of {FIRM_MIN_INTERVAL_MS / 1000:g}s or more (every shard then ticks and "
            "publishes at it), or narrow its scope to one shard's accounts: its runner then evaluates it with "
            "the books at any interval"))
    return out


def _interval_at(policy: PolicyNode, docs: Sequence[LoadedDoc]) -> Position:
    """Where ``policy``'s ``spec.interval`` is written (the policy's start, when it is not found)."""
    for doc in docs:
        if doc.file == policy.source.file and doc.kind == "Policy" and doc.name == policy.name:
            return doc.srcmap.value(("spec", "interval"))
    return Position(policy.source.line, policy.source.col)


def local_graph(graph: DecisionGraph, names: Sequence[str]) -> DecisionGraph:
    """``graph`` with only the policies ``names`` (a shard's local ones), its revision kept: the
    graph a shard's runner evaluates (its digest is of those policies)."""
    keep = set(names)
    return DecisionGraph.build([p for p in graph.policies if p.name in keep], graph.revision)


def nearest_shard(name: str, shards: Sequence[Shard]) -> Optional[str]:
    """The declared shard name closest to ``name`` (a typo at ``--shard``), if any is close."""
    import difflib

    found = difflib.get_close_matches(name, [s.name for s in shards], n=1)
    return found[0] if found else None
