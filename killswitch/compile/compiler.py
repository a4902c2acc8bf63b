"""The compiler: validated documents → :class:`DecisionGraph`, plus every static finding.

Resolves references (stages → triggers, conditions → signals, actions → routes and groups,
tests → policies), applies defaults, and runs the static safety checks, each with its own
code so that CI logs and reviews can grep for them. The codes, and what each one says, are
the catalogue of :mod:`killswitch.policy.diagnostics`; the check that gives a code is named
below (and found by grepping the code).

Runbook templates are checked only when the caller hands a
:class:`~.runbook_check.TemplateChecker` over (``ksctl validate`` does); the checker does the
reading and rendering, so this module stays pure.

Semantics it relies on (and the engine implements): stage machines are kept per policy and
scope instance; the highest triggered stage wins; stages never de-escalate; a manual-reset
stage is latched until reset. Policies selecting the same accounts are independent: each
instance is ``policy|scope``, and ``ksctl status``, ``ksctl reset``, incidents and pages name
the policy, so one policy's stage 1 and another's on the same account never meet.

The per-policy pass (:class:`_PolicyCompiler`) runs the checks of :mod:`.condition_check`
(signals, triggers and their conditions), :mod:`.stage_check` (the stages),
:mod:`.reference_check` (what a policy names, and what nothing in it uses) and
:mod:`.runbook_check` (runbook templates) over one :class:`~.policy_pass.PolicyPass`, then builds
the policy's node; the typed nodes are built from the models in :mod:`.node_build`, the
cross-document checks (names, scopes, routes and policy tests) are :mod:`.crossdoc` and
:mod:`.interval_check`, a scope judged against the declared accounts :mod:`.scope_check`, a
trigger's blind time :mod:`.blind` (KS219), a policy's trading windows :mod:`.windows` (KS270),
its limits :mod:`.limits_node` (KS267). An Accounts document's shards are :mod:`.shards` (KS240-244),
each account's checks :mod:`.settle_check` (KS220), :mod:`.venue_check` (KS221-223),
:mod:`.pacing_check` (KS224), :mod:`.tier_check` (KS225, KS226), :mod:`.revoke_check` (KS260,
KS261), :mod:`.strategy_check` (KS249); :mod:`.dms_check` is KS262, :mod:`.weight_check` KS230 and
KS231 (``ksctl validate`` and ``plan`` hand in the dialects' costs). The graph's node types are
:mod:`.graph` and :mod:`.nodes`.

Pure: no clock, no I/O. The revision is given by the caller, and so are the lookups that read
outside the documents: runbook templates (``templates``) and the time zone database
(``zone_known``), each checked only when handed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Sequence

from ..policy import diagnostics as d
from ..policy.accounts_doc import Account, Accounts
from ..policy.diagnostics import Diagnostic
from ..policy.load import LoadedDoc, LoadResult
from ..policy.policy_doc import Policy
from ..policy.policytest_doc import PolicyTest
from ..policy.routes_doc import NotificationRoutes
from ..policy.time_intervals.build import ZoneLookup, known_by
from . import nodes as n
from .blind import blind_triggers
from .condition_check import check_signals, check_threshold_order, check_triggers
from .crossdoc import Context, check_routes, check_test
from .graph import (
    DecisionGraph,
    PolicyNode,
    ResumeNode,
    Source,
    TriggerNode,
)
from .limits_node import limits_node
from .node_build import signal_node
from .pacing_check import check_pacing
from .policy_pass import PolicyPass
from .reference_check import check_actions, check_groups_and_weights, check_resume_ref, check_scope_refs, check_usage
from .revoke_check import check_revoke_blocks
from .runbook_check import TemplateChecker, check_runbooks
from .settle_check import check_settle_coins
from .shards import check_shards, firm_diagnostics
from .stage_check import check_stages
from .strategy_check import check_strategy_prefixes
from .tier_check import check_rate_tier
from .venue_check import check_venues
from .windows import PolicyWindows, check_windows


@dataclass
class CompileResult:
    """A compile's graph (None when there are errors), its findings and the documents read."""

    graph: Optional[DecisionGraph]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    docs: list[LoadedDoc] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [x for x in self.diagnostics if x.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [x for x in self.diagnostics if not x.is_error]

    def counts(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for doc in self.docs:
            kinds[doc.kind] = kinds.get(doc.kind, 0) + 1
        return kinds


def compile_documents(loaded: LoadResult, revision: Optional[str] = None,
                      templates: Optional[TemplateChecker] = None,
                      zone_known: Optional[Callable[[str], bool]] = None,
                      accounts: Optional[Sequence[Account]] = None,
                      zones: Optional[ZoneLookup] = None) -> CompileResult:
    """Compile every document of ``loaded``. The graph is built only when nothing is an error.
    With ``templates``, the runbook templates each policy uses are checked too; with
    ``zone_known`` (:func:`killswitch.zones.zone_known`: the zone database), the time zones of
    notification time intervals; with ``accounts`` (what a runner or a live plan runs with),
    scopes are checked against them when ``loaded`` holds no Accounts document; with ``zones``
    (:func:`killswitch.zones.zone`), a policy's trading windows are built in their zones (without
    it, a window in a zone other than UTC is an error, KS103)."""
    if zone_known is None and zones is not None:
        zone_known = known_by(zones)
    diags: list[Diagnostic] = list(loaded.diagnostics)
    ctx = Context(loaded.docs, loaded.diagnostics, accounts)
    diags.extend(ctx.check_names())
    nodes: list[PolicyNode] = []
    blind: list[Diagnostic] = []  # KS219: said only of a graph that can be deployed
    for doc in loaded.docs:
        if doc.model is None:
            continue
        if isinstance(doc.model, Policy):
            pc = _PolicyCompiler(doc, ctx, diags, templates, zone_known, zones)
            node = pc.run()
            blind += pc.blind_found
            if node is not None:
                nodes.append(node)
            else:
                ctx.failed.add(doc.name or "")
        elif isinstance(doc.model, NotificationRoutes):
            check_routes(doc, diags, zone_known)
        elif isinstance(doc.model, Accounts):
            diags.extend(check_shards(doc))
            for i, acc in enumerate(doc.model.spec.accounts):
                for check in (check_settle_coins, check_venues, check_revoke_blocks, check_strategy_prefixes,
                              check_pacing, check_rate_tier):
                    diags.extend(check(doc, i, acc))
    for doc in loaded.docs:  # after every policy: a test of a policy with errors says so
        if isinstance(doc.model, PolicyTest):
            check_test(doc, ctx, diags)
    if not any(x.is_error for x in diags):
        diags.extend(blind)
    diags = sorted(set(diags), key=Diagnostic.sort_key)
    graph = None
    if not any(x.is_error for x in diags):
        graph = DecisionGraph.build(nodes, revision)
        firm = firm_diagnostics(graph, loaded.docs)  # KS243, KS244: a firm-wide policy facts cannot serve
        if firm:
            diags = sorted(set(diags + firm), key=Diagnostic.sort_key)
            graph = None
    return CompileResult(graph, diags, list(loaded.docs))


# --- one policy ----------------------------------------------------------------------------------


class _PolicyCompiler(PolicyPass):
    """One policy document → its :class:`PolicyNode`, and every finding on it: the checks of
    :mod:`.condition_check`, :mod:`.stage_check`, :mod:`.reference_check` and
    :mod:`.runbook_check` run in order over the pass's state, then the node is built."""

    def __init__(self, doc: LoadedDoc, ctx: Context, diags: list[Diagnostic],
                 templates: Optional[TemplateChecker] = None,
                 zone_known: Optional[Callable[[str], bool]] = None, zones: Optional[ZoneLookup] = None):
        super().__init__(doc, ctx, diags)
        self.templates = templates
        self.zone_known, self.zones = zone_known, zones
        self.blind_found: list[Diagnostic] = []  # KS219, kept apart: given only when nothing is an error

    def run(self) -> Optional[PolicyNode]:
        signals = self.signals()
        check_signals(self)
        types = {s.name: s.type for s in signals}
        triggers = check_triggers(self, types, {s.name: s for s in signals})
        stages = check_stages(self, set(triggers))
        check_usage(self, signals, triggers, stages)
        check_threshold_order(self, triggers, stages)
        check_actions(self, stages)
        check_groups_and_weights(self)
        check_scope_refs(self)
        check_resume_ref(self, stages)
        check_windows(self, self.zone_known, self.zones)
        failed = sum(1 for x in self.diags if x.is_error) > self.errors_before
        if failed or not self.doc.complete:
            check_runbooks(self, self.templates, None)
            return None
        trig_nodes = tuple(triggers[name] for name in self.spec.triggers)
        meta, spec = self.policy.metadata, self.spec
        wins = PolicyWindows(self, self.zones)
        by_level = {st.level: st for st in spec.stages}
        stages = {lvl: replace(node, window=wins.of(by_level.get(lvl))) for lvl, node in stages.items()}
        limits = limits_node(spec.limits, self.sm, self.doc.file)
        if limits is not None:
            limits = replace(limits, window=wins.of(spec.limits))
        node = PolicyNode(
            name=self.policy.metadata.name,
            source=Source(self.doc.file, self.sm.doc.line, self.sm.doc.col),
            canonical=self.canonical(triggers),
            interval_s=self.spec.interval.seconds,
            scope=self.spec.scope.model_dump(mode="json", exclude_none=True),  # allow_empty when said
            signals=tuple(signals),
            triggers=trig_nodes,
            stages=tuple(sorted(stages.values(), key=lambda s: s.level)),
            notify_route=self.spec.notify.route if self.spec.notify else None,
            runbook=self.spec.runbook,
            resume=self.resume_node(),
            while_blind_lock=spec.while_blind.lock_trading if spec.while_blind else None,
            limits=limits,
            window_lock=wins.lock(self),
            owner=meta.owner,
            labels=dict(meta.labels),
            description=meta.description,
            attribution=n.AttributionNode(
                reference_window_ms=spec.attribution.reference_window.ms,
                source_threshold=spec.attribution.source_threshold.fraction,
                missing_reference=spec.attribution.missing_reference),
            risk_weights=n.RiskWeightsNode(**spec.risk_score.weights.model_dump()),
            correlation_groups=tuple(n.CorrelationGroupNode(g.name, tuple(g.symbols))
                                     for g in spec.correlation_groups),
            unwind=n.UnwindNode(
                max_slippage=spec.unwind.max_slippage.fraction,
                chunk_notional=spec.unwind.chunk_notional.value if spec.unwind.chunk_notional else None,
                orders_per_second=(None if spec.unwind.orders_per_second == "exchange"
                                   else float(spec.unwind.orders_per_second)),
                max_retries=spec.unwind.max_retries,
                max_impact=spec.unwind.max_impact.fraction if spec.unwind.max_impact else None,
                book_depth=spec.unwind.book_depth),
        )
        check_runbooks(self, self.templates, node)
        self.blind(signals, triggers)  # last: only a policy without errors (templates' included) is judged
        return node

    def signals(self) -> list[n.SignalNode]:
        return [signal_node(name, sig) for name, sig in self.spec.signals.items()]

    def blind(self, signals: list[n.SignalNode], triggers: dict[str, TriggerNode]) -> None:
        """KS219, unless the policy says what it does while blind (``spec.while_blind``). Kept in
        ``blind_found``: :func:`compile_documents` gives them only when nothing is an error (a
        graph that cannot be deployed is not blind after a deployment, and errors come first)."""
        if getattr(self.spec, "while_blind", None) is not None or not self.doc.complete:
            return
        used = {t for st in self.spec.stages for t in st.on}
        for b in blind_triggers(triggers, {s.name: s for s in signals}, self.spec.interval.ms, used):
            at = self.sm.inside(("spec", "triggers", b.trigger, "when"), b.offset, self.spec.triggers[b.trigger].when)
            self.blind_found.append(Diagnostic.make(d.KS219, self.doc.file, at, b.message, b.hint))

    def resume_node(self) -> Optional[ResumeNode]:
        r = self.spec.resume
        if r is None:
            return None
        return ResumeNode(start_fraction=r.start.fraction, step_factor=float(r.step), step_ms=r.every.ms,
                          from_level=r.from_level or 1, max_positions=r.max_positions,
                          max_gross_exposure=r.max_gross_exposure.value if r.max_gross_exposure else None)

    def canonical(self, triggers: dict[str, TriggerNode]) -> dict[str, Any]:
        body = self.policy.model_dump(
            mode="json", by_alias=True, exclude_none=True,
            exclude={"metadata": {"description"}},
        )
        spec = body["spec"]
        if not spec.get("time_intervals"):  # none declared: the digest of a policy without windows is kept
            spec.pop("time_intervals", None)
        for name, trig in spec["triggers"].items():
            trig.pop("description", None)
            trig["when"] = triggers[name].when
        for st in spec["stages"]:
            st.pop("description", None)
        spec["stages"].sort(key=lambda s: s["level"])
        return body
