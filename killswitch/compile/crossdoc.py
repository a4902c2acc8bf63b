"""Checks across documents: names declared twice, and the documents that only refer to others
(notification routes, policy tests). Policies selecting the same accounts are not checked
against each other: each keeps its own stage machines (KS206, retired: see :mod:`.compiler`).

What it owns: :class:`Context` (every loaded document by kind, which policies failed, which
files could not be read) and the checks of NotificationRoutes and PolicyTest documents. The
per-policy pass is :mod:`.compiler`, which builds the context and calls these.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence, cast

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account, Accounts
from ..policy.diagnostics import Diagnostic, Position
from ..policy.documents import LoadedDoc
from ..policy.policy_doc import Policy
from ..policy.policytest_doc import Expectation, PolicyTestCase
from ..policy.routes_doc import Route
from ..policy.series import parse_series
from .interval_check import check_time_intervals

# Codes after which nothing (or nothing more) of a file is read.
_UNREADABLE = {d.KS001.code, d.KS002.code, d.KS008.code, d.KS009.code, d.KS010.code}


class Context:
    """Every loaded document by kind, and what the checks across documents need of them.

    ``accounts``: the accounts the caller runs with (``ksctl run --accounts``, ``ksctl plan
    --accounts``); they stand for the declared accounts when the documents hold no Accounts
    document, so that a policy directory deployed apart from its accounts is still checked, and
    a scope may name them beside those the documents declare (a reload narrowing a policy to an
    account the runner runs is not refused for the policy directory's own Accounts document)."""

    def __init__(self, docs: list[LoadedDoc], found: Iterable[Diagnostic] = (),
                 accounts: Optional[Sequence[Account]] = None):
        self.docs = docs
        self.given_accounts = list(accounts) if accounts is not None else None
        self.by_kind: dict[str, list[LoadedDoc]] = {}
        for doc in docs:
            self.by_kind.setdefault(doc.kind, []).append(doc)
        self.failed: set[str] = {doc.name for doc in self.by_kind.get("Policy", []) if doc.name and doc.model is None}
        # files of which nothing (or nothing more) could be read: a test naming an unknown policy
        # says that such a file may declare it
        self.unreadable = sorted({x.file for x in found if x.code in _UNREADABLE})

    def unreadable_hint(self) -> Optional[str]:
        if not self.unreadable:
            return None
        files = ", ".join(self.unreadable[:3]) + (", ..." if len(self.unreadable) > 3 else "")
        return f"{files} could not be read (see the error there), and may declare it"

    def failed_policy(self, name: str) -> Optional[LoadedDoc]:
        """The document of policy ``name`` when it has errors (found by the loader or the compiler)."""
        if name not in self.failed:
            return None
        return next((x for x in self.by_kind.get("Policy", []) if x.name == name), None)

    def names(self, kind: str) -> set[str]:
        return {doc.name for doc in self.by_kind.get(kind, []) if doc.name}

    def loaded(self, kind: str) -> bool:
        return bool(self.by_kind.get(kind))

    def policy(self, name: str) -> Optional[LoadedDoc]:
        return next((x for x in self.by_kind.get("Policy", []) if x.name == name and x.model), None)

    def declared_names(self) -> Optional[set[str]]:
        """The account names a scope may use, each also as ``venue/name``: every Accounts
        document's (with the names of accounts dropped for errors: declared, but broken) and the
        given accounts'. None when that cannot be told: no accounts at all, or an Accounts
        document that could not be read (it may declare any name)."""
        docs = self.by_kind.get("Accounts", [])
        given = _name_forms(self.given_accounts or ())
        if not docs:
            return given if self.given_accounts is not None else None
        if any(doc.model is None for doc in docs):
            return None
        declared = _name_forms(a for doc in docs if isinstance(doc.model, Accounts) for a in doc.model.spec.accounts)
        return declared | given | {n for doc in docs for n in doc.poisoned_names("accounts")}

    def accounts_checked(self) -> str:
        """Where the names :meth:`declared_names` knows come from, as a hint says it."""
        files = sorted({doc.file for doc in self.by_kind.get("Accounts", [])})
        where = [f"the Accounts document{'s' if len(files) > 1 else ''} {', '.join(files)}"] if files else []
        if self.given_accounts is not None:
            where.append("the accounts this runs with (--accounts)")
        return " and ".join(where) or "no Accounts document"

    def selectable_accounts(self) -> Optional[list[Account]]:
        """The accounts a scope must select one of (KS218): :meth:`declared_accounts` and the
        given accounts beside them. None when unknown."""
        declared = self.declared_accounts()
        if declared is None or self.given_accounts is None or declared is self.given_accounts:
            return declared
        seen = {(a.venue, a.name) for a in declared}
        return declared + [a for a in self.given_accounts if (a.venue, a.name) not in seen]

    def declared_accounts(self) -> Optional[list[Account]]:
        """The declared accounts when they are known whole: every Accounts document read without
        an error (a broken account's labels or venue are unknown, and any file that could not be
        read may be an Accounts document), else the given accounts. None when unknown."""
        docs = self.by_kind.get("Accounts", [])
        if not docs:
            return self.given_accounts
        if self.unreadable or any(not isinstance(doc.model, Accounts) or not doc.complete for doc in docs):
            return None
        return [a for doc in docs for a in cast(Accounts, doc.model).spec.accounts]

    def check_names(self) -> list[Diagnostic]:
        out = []
        for kind, docs in self.by_kind.items():
            first: dict[str, LoadedDoc] = {}
            for doc in docs:
                if not doc.name:
                    continue
                if doc.name in first:
                    prev = first[doc.name]
                    out.append(Diagnostic.make(
                        d.KS105, doc.file, doc.srcmap.value(("metadata", "name")),
                        f'{kind} "{doc.name}" is declared twice',
                        f"the other one is at {prev.file}:{pos_text(prev.srcmap.value(('metadata', 'name')))}; "
                        "give each a unique metadata.name",
                    ))
                else:
                    first[doc.name] = doc
        seen: dict[str, tuple[LoadedDoc, int]] = {}
        for doc in self.by_kind.get("Accounts", []):
            if not isinstance(doc.model, Accounts):
                continue
            for i, acc in enumerate(doc.model.spec.accounts):
                if acc.name in seen:
                    odoc, oi = seen[acc.name]
                    out.append(Diagnostic.make(
                        d.KS105, doc.file, doc.srcmap.value(doc.item_path("accounts", i) + ("name",)),
                        f'account "{acc.name}" is declared twice',
                        "the other one is at "
                        f"{odoc.file}:{pos_text(odoc.srcmap.value(odoc.item_path('accounts', oi) + ('name',)))}",
                    ))
                else:
                    seen[acc.name] = (doc, i)
        return out


def pos_text(p: Position) -> str:
    return f"{p.line}:{p.col}"


def check_routes(doc: LoadedDoc, diags: list[Diagnostic],
                 zone_known: Optional[Callable[[str], bool]] = None) -> None:
    spec = doc.model.spec  # type: ignore[union-attr]
    sm = doc.srcmap
    names: set[str] = set()
    for i, r in enumerate(spec.receivers):
        if r.name in names:
            diags.append(Diagnostic.make(d.KS105, doc.file, sm.value(doc.item_path("receivers", i) + ("name",)),
                                         f'receiver "{r.name}" is declared twice',
                                         "give each receiver its own name; a receiver may list several apprise "
                                         "targets"))
        names.add(r.name)
    names |= doc.poisoned_names("receivers")  # declared but broken: reported already
    if spec.route.receiver is None:
        diags.append(Diagnostic.make(d.KS102, doc.file, sm.key(("spec", "route")),
                                     "the root route needs a receiver", "it catches what no child route matches"))

    def walk(route: Route, path: tuple[Any, ...]) -> None:

        if route.receiver is not None and route.receiver not in names:
            diags.append(Diagnostic.make(
                d.KS104, doc.file, sm.value(path + ("receiver",)), f'route uses unknown receiver "{route.receiver}"',
                d.suggestion_hint(route.receiver, names, "receivers are declared under spec.receivers")))
        for k, child in enumerate(route.routes):
            walk(child, path + ("routes", k))

    walk(spec.route, ("spec", "route"))
    check_time_intervals(doc, diags, zone_known)
    if spec.fallback_receiver is not None and spec.fallback_receiver not in names:
        diags.append(Diagnostic.make(
            d.KS104, doc.file, sm.value(("spec", "fallback_receiver")),
            f'unknown fallback receiver "{spec.fallback_receiver}"',
            d.suggestion_hint(spec.fallback_receiver, names, "receivers are declared under spec.receivers")))


def check_test(doc: LoadedDoc, ctx: Context, diags: list[Diagnostic]) -> None:
    """The policy a test names exists and has the stages and triggers it expects. A test of a policy
    with errors says so once; what it expects is checked against what could be read of the policy
    (never against a stage or trigger that salvage had to drop)."""
    spec = doc.model.spec  # type: ignore[union-attr]
    sm = doc.srcmap
    where = sm.value(("spec", "policy"))
    broken = ctx.failed_policy(spec.policy)
    if broken is not None:
        diags.append(Diagnostic.make(d.KS130, doc.file, where,
                                     f'policy "{spec.policy}" has errors, so this test cannot run',
                                     f"fix the errors reported in {broken.file} first"))
    target = ctx.policy(spec.policy)
    if target is None:
        if broken is not None:
            return
        unread = ctx.unreadable_hint()
        if not ctx.loaded("Policy"):
            diags.append(Diagnostic.make(d.KS130, doc.file, where, f'policy "{spec.policy}" cannot be checked',
                                         unread or "no policy was loaded with this test; pass the policy "
                                                   "directory too"))
            return
        names = ctx.names("Policy")
        if spec.policy not in names:
            hint = d.suggestion_hint(spec.policy, names, "policies are named by metadata.name")
            diags.append(Diagnostic.make(d.KS104, doc.file, where, f'test names unknown policy "{spec.policy}"',
                                         f"{hint}; {unread}" if unread else hint))
        return
    policy: Policy = target.model  # type: ignore[assignment]
    levels = {s.level for s in policy.spec.stages}
    triggers = set(policy.spec.triggers)
    declared = triggers | target.poisoned_names("triggers")  # a broken trigger is still declared
    stages_hint = "levels declared: " + ", ".join(map(str, sorted(levels)))

    def unknown(at: tuple[Any, ...], message: str, hint: str) -> None:
        diags.append(Diagnostic.make(d.KS104, doc.file, sm.value(at), message, hint))

    for i, case in enumerate(spec.tests):
        path = doc.item_path("tests", i)
        if case.stages is not None and not target.dropped_stages:
            wrong = sorted({int(float(v)) for v in parse_series(case.stages) if v is not None} - levels - {0})
            if wrong:
                unknown(path + ("stages",), f'policy "{spec.policy}" has no stage at level {wrong[0]}', stages_hint)
        for j, exp in enumerate(case.expect):
            ep = path + ("expect", j)
            if exp.stage and exp.stage not in levels and not target.dropped_stages:
                unknown(ep + ("stage",), f'policy "{spec.policy}" has no stage at level {exp.stage}', stages_hint)
            for key in ("firing", "not_firing"):
                for k, t in enumerate(getattr(exp, key) or ()):
                    if t not in declared:
                        unknown(ep + (key, k), f'policy "{spec.policy}" has no trigger "{t}"',
                                d.suggestion_hint(t, triggers, "triggers of the policy under test"))
            _check_sends(case, ep, exp, unknown)


def _check_sends(case: PolicyTestCase, ep: tuple[Any, ...], exp: Expectation,
                 unknown: Callable[[tuple[Any, ...], str, str], None]) -> None:
    """An expected order names a symbol of the test's input, an expected cancel the ids of its open
    orders: else the expectation could never be met, or would be met by something else (KS104 at
    the name, through ``unknown``)."""
    symbols = case.input.symbols()
    ids = case.input.order_ids()
    for k, o in enumerate(exp.orders or ()):
        if o.symbol not in symbols:
            unknown(ep + ("orders", k, "symbol"),
                    f'expected order names symbol "{o.symbol}", which is not in this test\'s input',
                    d.suggestion_hint(o.symbol, symbols, "symbols of the input's positions, open orders and balances"))
    for k, c in enumerate(exp.cancels or ()):
        for n, oid in enumerate(c.orders or ()):
            if oid not in ids:
                unknown(ep + ("cancels", k, "orders", n),
                        f'expected cancel names order "{oid}", which is not an open order of this test',
                        d.suggestion_hint(oid, ids, "ids of input.open_orders (o1, o2, ... unless given)"))


def _name_forms(accounts: Iterable[Account]) -> set[str]:
    """Each account's name, and its ``venue/name`` (the form the CLI names it by)."""
    return {form for a in accounts for form in (a.name, f"{a.venue}/{a.name}")}
