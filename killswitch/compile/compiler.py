"""The compiler: validated documents → :class:`DecisionGraph`, plus every static finding.

Resolves references (stages → triggers, conditions → signals, actions → routes and groups,
tests → policies), applies defaults, and runs the static safety checks, each with its own
code so that CI logs and reviews can grep for them:

========  ===========================================================================
KS104     a reference that resolves to nothing (with did-you-mean)
KS105     two things with one name (policies, stages, receivers, groups, accounts)
KS120-122 a condition that does not parse, mixes types, or reads an unknown signal
KS124-127 a condition's arithmetic: units that do not combine, a division by a constant 0,
          an unknown function (with did-you-mean), a function given the wrong count of values
KS201     two stages at one level
KS202     stages not listed from the lowest level up
KS203     a manual-reset stage that can be left without a reset (a reset_after on it, or
          an automatically resetting stage above it whose reset would drop the latch)
KS204     a stage no trigger can reach (none declared, or every trigger of it also
          reaches a higher stage, and the highest triggered stage wins)
KS205     a trigger no stage uses (warning)
KS206     two policies claiming one scope with different stages at one level
KS207     a higher stage whose thresholds fire before a lower stage's (warning)
KS208     a trigger that does not say what missing data means
KS211     a signal no trigger reads (warning)
KS212     a threshold a signal can never reach, or always exceeds
KS213     approvals on a stage that resets by itself
KS214     a policy whose stages do nothing (warning)
KS215     a symbol in two correlation groups
KS216     risk-score weights that do not sum to 1
KS217     returns sampled more often than the policy ticks (a sample or horizon shorter than
          the interval: the signal would never have enough returns)
KS218     a scope selector that selects no declared account (:mod:`.scope_check`), unless the
          scope says allow_empty: true; checked only against accounts known whole
KS219     a hold trigger blind after a deployment for longer than the interval times its
          confirmations: a windowed signal it reads has no value yet (warning, :mod:`.blind`)
KS220     an account's settle_coins entry its venue does not read (:mod:`.settle_check`)
KS221     an account's venue that is no exchange ccxt knows (:mod:`.venue_check`)
KS222     an account's venue without a dialect of the adapter's own: ccxt's unified calls read
          it, and a book can read short (warning, :mod:`.venue_check`)
KS223     an account's credentials of a kind its venue does not sign with, or without the
          password or uid it requires (:mod:`.venue_check`)
KS224     an account with paced_by_venue (ccxt's request throttle off) and no api_url of a
          venue that paces requests itself (:mod:`.pacing_check`)
KS230     the accounts' polling over a venue's per-IP REST weight limit at the interval the
          runner ticks at, with the arithmetic and what streams save; or an endpoint called
          faster than its per-UID limit (:mod:`.weight_check`; ``ksctl validate`` and
          ``plan`` hand in the dialects' costs)
KS231     the same above 80 % of the limit (warning)
KS240     an account two shards of the Accounts document select (:mod:`.shards`)
KS241     an account no shard selects, when the Accounts document declares shards
KS242     a shard name given twice
KS243     a firm-wide policy (its scope spans shards) reading or doing what the shards'
          facts do not carry
KS244     a firm-wide policy whose interval is under the firm's floor (1 s): a shard's facts,
          read for 1.5 intervals, would leave it too little margin for a slow tick
KS250     a revoke_trading action on a stage that resets by itself (only a reset restores it)
KS260     an account's revoke: block its venue cannot serve: no endpoint that removes its
          keys' trading permission, or a method it has not (:mod:`.revoke_check`)
KS261     a revoke_trading action whose scope selects an account it cannot reach (a venue
          without the switch, no revoke: block): :func:`.revoke_check.revoke_findings`
KS265-266 a pre-trade limit whose unit does not fit, or out of range (:mod:`killswitch.policy.limits`)
KS267     a limit on a symbol no venue the policy selects lists (:mod:`.limits_node`; said by
          ``ksctl plan`` over live accounts, where the symbol lists are read)
KS249     a client order id prefix two strategies of one account claim (:mod:`.strategy_check`)
KS131     a route that can carry critical pages with mute_time_intervals or
          active_time_intervals (warning); an unknown interval name is KS104, a time zone
          the zone database lacks KS103 (looked up through the ``zone_known`` handed in)
KS150     a runbook template that does not parse (KS104 when it does not exist)
KS151     a runbook template that fails on a sample incident of the stage it serves
          (an undefined variable, an attribute the sandbox refuses, a type error)
KS152     a runbook template named without a runbooks/ directory to check it in (warning)
========  ===========================================================================

Runbook templates are checked only when the caller hands a :class:`TemplateChecker` over
(``ksctl validate`` does); the checker does the reading and rendering, so this module stays pure.

Semantics it relies on (and the engine implements): stage machines are kept per policy and
scope instance; the highest triggered stage wins; stages never de-escalate; a manual-reset
stage is latched until reset. Two policies with the *same* scope selector share stage
levels in ``ksctl status`` and ``ksctl reset``, so one level must mean one stage there.

Size: about 790 lines, most of it the per-policy pass (see :class:`_PolicyCompiler`); the typed
nodes are built from the models in :mod:`.node_build`, the cross-document checks (names, scopes,
routes and policy tests) are :mod:`.crossdoc` and :mod:`.time_intervals`, a scope judged against
the declared accounts :mod:`.scope_check`, a trigger's blind time :mod:`.blind`. The graph's node
types are :mod:`.graph` and :mod:`.nodes`.

Pure: no clock, no I/O. The revision is given by the caller, and so are the lookups that read
outside the documents: runbook templates (``templates``) and the time zone database
(``zone_known``), each checked only when handed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Protocol, Sequence

from ..policy import diagnostics as d
from ..policy import expr as ex
from ..policy.expr_check import type_errors
from ..policy.expr_eval import compile_predicate
from ..policy import model as m
from ..policy.diagnostics import Diagnostic, Position
from ..policy.load import LoadedDoc, LoadResult
from ..policy.kinds import position_count
from ..policy.positions import POSITION_FIELDS, parse_condition
from ..policy.model import (
    SIGNAL_KINDS,
    Accounts,
    NotificationRoutes,
    Policy,
    PolicyTest,
)
from ..policy.units import Duration
from . import nodes as n
from .blind import blind_triggers
from .crossdoc import Context, check_routes, check_test
from .graph import (
    DecisionGraph,
    PolicyNode,
    ResumeNode,
    Source,
    StageNode,
    TriggerNode,
)
from .limits_node import limits_node
from .node_build import action_node, signal_node
from .pacing_check import check_pacing
from .scope_check import unmatched
from .settle_check import check_settle_coins
from .shards import check_shards, firm_diagnostics
from .revoke_check import RevokeUse, check_revoke_blocks, revoke_findings
from .strategy_check import check_strategy_prefixes
from .venue_check import check_venues


@dataclass
class CompileResult:
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


@dataclass(frozen=True)
class TemplateProblem:
    """What a :class:`TemplateChecker` found: ``kind`` is ``unknown``, ``syntax``, ``render`` or
    ``unchecked``; ``file`` and ``line`` say where in the template, when known."""

    kind: str
    message: str
    hint: Optional[str] = None
    file: Optional[str] = None
    line: Optional[int] = None


class TemplateChecker(Protocol):
    def check(self, name: Optional[str], policy: Optional[PolicyNode], level: Optional[int]
              ) -> list[TemplateProblem]:
        """Problems of the runbook template ``name`` (None: the default one) serving stage
        ``level`` of ``policy`` (None when the policy has other errors: no rendering then)."""


_TEMPLATE_CODES = {"unknown": d.KS104, "syntax": d.KS150, "render": d.KS151, "unchecked": d.KS152}


def compile_documents(loaded: LoadResult, revision: Optional[str] = None,
                      templates: Optional[TemplateChecker] = None,
                      zone_known: Optional[Callable[[str], bool]] = None,
                      accounts: Optional[Sequence[m.Account]] = None) -> CompileResult:
    """Compile every document of ``loaded``. The graph is built only when nothing is an error.
    With ``templates``, the runbook templates each policy uses are checked too; with
    ``zone_known`` (:func:`killswitch.zones.zone_known`: the zone database), the time zones of
    notification time intervals; with ``accounts`` (what a runner or a live plan runs with),
    scopes are checked against them when ``loaded`` holds no Accounts document."""
    diags: list[Diagnostic] = list(loaded.diagnostics)
    ctx = Context(loaded.docs, loaded.diagnostics, accounts)
    diags.extend(ctx.check_names())
    nodes: list[PolicyNode] = []
    blind: list[Diagnostic] = []  # KS219: said only of a graph that can be deployed
    for doc in loaded.docs:
        if doc.model is None:
            continue
        if isinstance(doc.model, Policy):
            pc = _PolicyCompiler(doc, ctx, diags, templates)
            node = pc.run()
            blind += pc.blind_found
            if node is not None:
                nodes.append(node)
            else:
                ctx.failed.add(doc.name or "")
        elif isinstance(doc.model, NotificationRoutes):
            check_routes(doc, diags, zone_known)
        elif isinstance(doc.model, Accounts):
            diags.extend(check_settle_coins(doc))
            diags.extend(check_venues(doc))
            diags.extend(check_revoke_blocks(doc))
            diags.extend(check_shards(doc))
            diags.extend(check_strategy_prefixes(doc))
            diags.extend(check_pacing(doc))
    for doc in loaded.docs:  # after every policy: a test of a policy with errors says so
        if isinstance(doc.model, PolicyTest):
            check_test(doc, ctx, diags)
    diags.extend(ctx.check_scope_conflicts())
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


class _PolicyCompiler:
    """One policy document → its :class:`PolicyNode`, and every finding on it.

    Size: about 540 lines, one method per static check of the table in the module doc, each
    reading the same document, source map and nodes and adding to the same findings; a check
    split into a class of its own would take all of them as arguments."""

    def __init__(self, doc: LoadedDoc, ctx: Context, diags: list[Diagnostic],
                 templates: Optional[TemplateChecker] = None):
        self.doc = doc
        self.ctx = ctx
        self.diags = diags
        self.policy: Policy = doc.model  # type: ignore[assignment]
        self.spec = self.policy.spec
        self.sm = doc.srcmap
        self.bad_signals = doc.poisoned_names("signals")
        self.bad_triggers = doc.poisoned_names("triggers")
        self.errors_before = sum(1 for x in diags if x.is_error)
        self.templates = templates
        self.constant: set[str] = set()  # triggers with a comparison that can never (or always) hold
        self.blind_found: list[Diagnostic] = []  # KS219, kept apart: given only when nothing is an error

    def add(self, code: d.Code, pos: Position, message: str, hint: Optional[str] = None) -> None:
        if not self.doc.complete and not code.severity == d.Severity.ERROR:
            return  # warnings about a salvaged policy would be noise: parts of it are missing
        self.diags.append(Diagnostic.make(code, self.doc.file, pos, message, hint))

    def run(self) -> Optional[PolicyNode]:
        signals = self.signals()
        self.signal_checks()
        types = {s.name: s.type for s in signals}
        triggers = self.triggers(types, {s.name: s for s in signals})
        stages = self.stages(set(triggers))
        self.usage(signals, triggers, stages)
        self.thresholds_order(triggers, stages)
        self.actions(stages)
        self.groups_and_weights()
        self.scope_refs()
        self.resume_ref(stages)
        failed = sum(1 for x in self.diags if x.is_error) > self.errors_before
        if failed or not self.doc.complete:
            self.runbooks(None)
            return None
        trig_nodes = tuple(triggers[name] for name in self.spec.triggers)
        meta, spec = self.policy.metadata, self.spec
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
            limits=limits_node(spec.limits, self.sm, self.doc.file),
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
        self.runbooks(node)
        self.blind(signals, triggers)  # last: only a policy without errors (templates' included) is judged
        return node

    # signals -------------------------------------------------------------------------------

    def signals(self) -> list[n.SignalNode]:
        return [signal_node(name, sig) for name, sig in self.spec.signals.items()]

    # triggers ------------------------------------------------------------------------------

    def triggers(self, types: dict[str, ex.ValueType], signals: dict[str, n.SignalNode]) -> dict[str, TriggerNode]:
        out: dict[str, TriggerNode] = {}
        for name, trig in self.spec.triggers.items():
            path = ("spec", "triggers", name)
            wpath = path + ("when",)
            ok = True
            try:
                ast = ex.parse(trig.when)
            except ex.ExprError as e:
                hint = e.hint
                if e.related is not None:
                    at = self.sm.inside(wpath, e.related, trig.when)
                    hint = f'the "(" at {at.line}:{at.col} is not closed'
                code = d.KS120
                if e.kind == "limit":
                    code, hint = d.KS123, f"{hint}; split the condition into several triggers: a stage enters on any " \
                                          "trigger of its on:"
                self.add(code, self.sm.inside(wpath, e.offset, trig.when), f'trigger "{name}": {e.message}', hint)
                continue
            refs = ex.refs(ast)
            # Broken signals are declared (no "unknown signal" for them) but typeless.
            known: dict[str, Optional[ex.ValueType]] = {**types, **{n: None for n in self.bad_signals}}
            reads_broken = any(r.name in self.bad_signals for r in refs)
            for te in type_errors(ast, known):  # every mistake of the condition, in one pass
                ok = False
                if te.kind == "unknown":
                    ref = te.message.split('"')[1]
                    hint = d.suggestion_hint(ref, known, "signals are declared under spec.signals")
                    self.add(d.KS122, self.sm.inside(wpath, te.offset, trig.when),
                             f'trigger "{name}" reads unknown signal "{ref}"', hint)
                else:
                    self.add(CONDITION_CODES[te.kind], self.sm.inside(wpath, te.offset, trig.when),
                             f'trigger "{name}": {te.message}', te.hint)
            if reads_broken:
                ok = False  # no node can be built on a broken signal
            elif ok:
                self.ranges(name, wpath, trig.when, ast, signals)
            if trig.on_missing_data is None:
                ok = False
                self.add(d.KS208, self.sm.key(path), f'trigger "{name}" does not say what missing or stale data means',
                         "add on_missing_data: fire (fail closed), hold (keep the last result) or ignore")
            if not ok or trig.on_missing_data is None:  # the second holds: no on_missing_data is not ok
                continue
            confirm = trig.for_
            out[name] = TriggerNode(
                name=name,
                when=ex.canonical(ast),
                reads=tuple(dict.fromkeys(r.name for r in refs)),
                confirm_ticks=confirm.ticks if confirm else None,
                confirm_s=confirm.duration.seconds if confirm and confirm.duration else None,
                keep_firing_for_s=trig.keep_firing_for.seconds if trig.keep_firing_for else None,
                on_missing_data=trig.on_missing_data.value,
                ast=ast,
                predicate=compile_predicate(ast),
            )
        return out

    def ranges(self, name: str, wpath: tuple[Any, ...], when: str, ast: ex.Node,
               signals: dict[str, n.SignalNode]) -> None:
        """A threshold outside what the signal can report makes the comparison constant."""
        for sig, op, lit in _comparisons(ast):
            node = signals.get(sig)
            if node is None:
                continue
            lo, hi = SIGNAL_KINDS[node.kind].bounds
            verdict = _range_verdict(op, lit.value, lo, hi)
            if verdict:
                self.constant.add(name)
                span = _span(node.type, lo, hi)
                self.add(d.KS212, self.sm.inside(wpath, lit.offset, when),
                         f'trigger "{name}": {sig} {op} {lit.text} {verdict}; {sig} ({node.kind}) reports {span}',
                         "drawdowns and losses are positive fractions: write dd >= 5%, not dd <= -5%"
                         if lo == 0 else f"pick a threshold inside what {sig} reports, or the trigger is constant")

    # signal- and action-specific checks ------------------------------------------------------

    def signal_checks(self) -> None:
        """What a signal's own parameters can get wrong: a position condition's thresholds (KS212),
        and returns sampled more often than the policy ticks (KS217)."""
        for name, sig in self.spec.signals.items():
            p = sig.params
            if isinstance(p, position_count.PositionCount):
                self.position_condition(f'signal "{name}"', ("spec", "signals", name, sig.kind, "where"), p.where)
            self.sampling(name, sig)

    def sampling(self, name: str, sig: m.Signal) -> None:
        """KS217: a return is taken at most once a tick, so with a sample (or horizon) shorter
        than the interval each return spans an interval: the window never holds the returns its
        coverage counts (the signal stays unknown), and an annualized volatility would be scaled
        for the wrong period."""
        interval = self.spec.interval
        p = sig.params
        field = "sample" if isinstance(p, m.RealizedVolatility) else "horizon" if isinstance(p, m.TailRisk) else None
        if field is not None:
            period: Duration = getattr(p, field)
            if period.ms < interval.ms:
                path = ("spec", "signals", name, sig.kind, field)
                written = isinstance(_raw_at(self.doc.raw, path), str)
                self.add(d.KS217, self.sm.value(path) if written else self.sm.key(("spec", "signals", name)),
                         f'signal "{name}": {field} {period} is shorter than the policy\'s interval {interval}, '
                         "so the signal would never have enough returns",
                         f"a return is taken at most once a tick; set {field} to {interval} or a multiple of it")

    def position_condition(self, what: str, path: tuple[Any, ...], text: Optional[str]) -> None:
        """KS212 inside a position condition (``where:``): a threshold a position fact can never
        reach, or always exceeds, makes the comparison constant."""
        if text is None:
            return
        raw = _raw_at(self.doc.raw, path)
        written = raw if isinstance(raw, str) else text  # offsets into the text as written
        try:
            ast = parse_condition(written)
        except ValueError:  # pragma: no cover - the model accepted it
            return
        for fact, op, lit in _comparisons(ast):
            f = POSITION_FIELDS[fact]
            lo, hi = f.bounds
            verdict = _range_verdict(op, lit.value, lo, hi)
            if verdict:
                self.add(d.KS212, self.sm.inside(path, lit.offset, written),
                         f"{what}: {fact} {op} {lit.text} {verdict}; {fact} takes {_span(f.type, lo, hi)}",
                         "losses are positive fractions: write loss_on_margin >= 10%, not <= -10%"
                         if fact.startswith("loss_") else f"{fact} is never below 0; a threshold of 0 or less "
                         "makes the comparison the same for every position")

    # stages --------------------------------------------------------------------------------

    def stages(self, good_triggers: set[str]) -> dict[int, StageNode]:
        out: dict[int, StageNode] = {}
        by_level: dict[int, int] = {}
        by_name: dict[str, int] = {}
        prev_level = None
        declared = set(self.spec.triggers)
        for i, st in enumerate(self.spec.stages):
            sp = self.doc.stage_path(i)
            if st.level in by_level:
                other = self.spec.stages[by_level[st.level]]
                opos = self.sm.value(self.doc.stage_path(by_level[st.level]) + ("level",))
                self.add(d.KS201, self.sm.value(sp + ("level",)),
                         f'stage "{st.name}" repeats level {st.level} of stage "{other.name}" (line {opos.line})',
                         "each stage needs its own level; higher levels act harder")
            elif prev_level is not None and st.level < prev_level:
                self.add(d.KS202, self.sm.value(sp + ("level",)),
                         f'stage "{st.name}" (level {st.level}) is listed after level {prev_level}',
                         "list stages from the lowest level up, so the file reads in order of escalation")
            by_level.setdefault(st.level, i)
            prev_level = st.level if prev_level is None else max(prev_level, st.level)
            unsure = self.doc.stage_uncertain  # a field salvage dropped: its default is not the author's
            if unsure(i, "name"):
                pass  # its name is reported already, and is not one
            elif st.name in by_name:
                self.add(d.KS105, self.sm.value(sp + ("name",)), f'stage name "{st.name}" is used twice',
                         "stage names appear in status, reset and runbooks; make them unique")
            else:
                by_name[st.name] = i
            for j, tname in enumerate(st.on):
                if tname not in declared and tname not in self.bad_triggers:
                    self.add(d.KS104, self.sm.value(sp + ("on", j)),
                             f'stage "{st.name}" uses unknown trigger "{tname}"',
                             d.suggestion_hint(tname, declared, "triggers are declared under spec.triggers"))
            if not st.on and not unsure(i, "on"):
                self.add(d.KS204, self.sm.key(sp + ("on",)) if "on" in self._raw_stage(i) else self.sm.value(sp),
                         f'stage "{st.name}" has no trigger, so nothing can reach it',
                         "list the triggers that enter it under on:")
            if st.reset == "manual" and st.reset_after is not None and not unsure(i, "reset", "reset_after"):
                self.add(d.KS203, self.sm.key(sp + ("reset_after",)),
                         f'manual-reset stage "{st.name}" has reset_after, which would leave it without a reset',
                         "remove reset_after, or make the stage reset: auto")
            if any(a.kind == "revoke_trading" for a in st.actions) and st.reset == "auto" and not unsure(i, "reset"):
                raw = self._raw_stage(i).get("actions")
                at = next((j for j, a in enumerate(raw) if a == "revoke_trading" or (
                    isinstance(a, dict) and "revoke_trading" in a)), None) if isinstance(raw, list) else None
                self.add(d.KS250, self.sm.value(sp + ("actions", at)) if at is not None else self.sm.value(sp),
                         f'stage "{st.name}" revokes trading at the venue but resets by itself; the keys would '
                         "stay read-only with no reset to restore them",
                         "set reset: manual (with approvals: 2 for a second approver of the restore)")
            if any(a.kind == "revoke_trading" for a in st.actions):
                self.revoke_reach(i, sp)
            if st.reset == "auto" and st.approvals > 1 and not unsure(i, "reset", "approvals"):
                self.add(d.KS213, self.sm.key(sp + ("approvals",)),
                         f'stage "{st.name}" resets by itself, so its {st.approvals} approvals would never be asked',
                         "set reset: manual to require approvals")
            out.setdefault(st.level, StageNode(
                level=st.level,
                name=st.name,
                on=tuple(t for t in st.on if t in good_triggers or t in declared),
                cooldown_s=st.cooldown.seconds if st.cooldown else None,
                reset=st.reset,
                reset_after_s=_seconds(st.reset_after or st.cooldown) if st.reset == "auto" else None,
                approvals=st.approvals,
                actions=tuple(action_node(a) for a in st.actions),
            ))
        self.latch_and_reach(out)
        return out

    def _raw_stage(self, i: int) -> dict[str, Any]:
        stages = self.doc.raw.get("spec", {}).get("stages", [])
        idx = self.doc.stage_path(i)[2]
        return stages[idx] if isinstance(stages, list) and idx < len(stages) and isinstance(stages[idx], dict) else {}

    def _stage_pos(self, level: int, key: str) -> Position:
        for i, st in enumerate(self.spec.stages):
            if st.level == level:
                sp = self.doc.stage_path(i)
                return self.sm.key(sp + (key,)) if key in self._raw_stage(i) else self.sm.value(sp)
        return self.sm.doc

    def _unsure_levels(self, *fields: str) -> set[int]:
        """Levels of the stages salvage kept without one of ``fields`` as written."""
        return {st.level for i, st in enumerate(self.spec.stages) if self.doc.stage_uncertain(i, *fields)}

    def latch_and_reach(self, stages: dict[int, StageNode]) -> None:
        ordered = sorted(stages.values(), key=lambda s: s.level)
        unsure_reset, unsure_on = self._unsure_levels("reset"), self._unsure_levels("on")
        latch = None
        for st in ordered:
            if latch is not None and not st.manual and st.level not in unsure_reset:
                self.add(d.KS203, self._stage_pos(st.level, "reset"),
                         f'stage "{st.name}" (level {st.level}) resets automatically above manual-reset stage '
                         f'"{latch.name}" (level {latch.level}); its reset would release the latched stage',
                         f'make "{st.name}" reset: manual too')
            if st.manual and latch is None:
                latch = st
        for k, low in enumerate(ordered):
            mine = set(low.on) - self.bad_triggers
            if not mine or set(low.on) & self.bad_triggers or low.level in unsure_on:
                continue
            for high in ordered[k + 1:]:
                if mine <= set(high.on):
                    self.add(d.KS204, self._stage_pos(low.level, "on"),
                             f'stage "{low.name}" (level {low.level}) can never be entered: every trigger of it also '
                             f'enters "{high.name}" (level {high.level}), and the highest triggered stage wins',
                             f'give "{low.name}" a trigger of its own')
                    break

    # usage ---------------------------------------------------------------------------------

    def usage(self, signals: list[n.SignalNode], triggers: dict[str, TriggerNode],
              stages: dict[int, StageNode]) -> None:
        used_triggers = {t for st in self.spec.stages for t in st.on}
        for name in self.spec.triggers:
            if name not in used_triggers:
                self.add(d.KS205, self.sm.key(("spec", "triggers", name)), f'trigger "{name}" is not used by any stage',
                         "list it under a stage's on:, or remove it")
        read: set[str] = set()
        for name, trig in self.spec.triggers.items():
            if name in triggers:  # its node names what it reads
                read.update(triggers[name].reads)
                continue
            try:
                read.update(r.name for r in ex.refs(ex.parse(trig.when)))
            except ex.ExprError:
                return  # cannot tell what a broken condition reads
        for s in signals:
            if s.name not in read:
                self.add(d.KS211, self.sm.key(("spec", "signals", s.name)),
                         f'signal "{s.name}" is not read by any trigger',
                         "use it in a trigger's when:, or remove it")
        if self.spec.stages and not any(st.actions for st in self.spec.stages):
            self.add(d.KS214, self.sm.key(("spec", "stages")), "no stage of this policy has actions",
                     "a stage without actions only notifies through the policy's route")

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

    def thresholds_order(self, triggers: dict[str, TriggerNode], stages: dict[int, StageNode]) -> None:
        """Warn when a higher stage fires at a smaller excursion of a signal than a lower stage."""

        def edges(stage: StageNode) -> dict[tuple[str, str], tuple[float, str, str]]:
            out: dict[tuple[str, str], tuple[float, str, str]] = {}
            for tname in stage.on:
                trig = triggers.get(tname)
                if trig is None or tname in self.constant:
                    continue  # a constant comparison is reported (KS212); its order means nothing
                for th in ex.disjunct_thresholds(trig.ast):
                    direction = "up" if th.op in (">=", ">") else "down" if th.op in ("<=", "<") else None
                    if direction is None:
                        continue
                    key = (th.signal, direction)
                    cur = out.get(key)
                    earlier = cur is None or (th.value < cur[0] if direction == "up" else th.value > cur[0])
                    if earlier:
                        out[key] = (th.value, f"{th.signal} {th.op} {th.text}", tname)
            return out

        ordered = sorted(stages.values(), key=lambda s: s.level)
        table = {s.level: edges(s) for s in ordered}
        for i, low in enumerate(ordered):
            for high in ordered[i + 1:]:
                for key, (hv, htext, htrig) in table[high.level].items():
                    if key not in table[low.level]:
                        continue
                    lv, ltext, _ = table[low.level][key]
                    if (key[1] == "up" and hv < lv) or (key[1] == "down" and hv > lv):
                        self.add(d.KS207, self.sm.value(("spec", "triggers", htrig, "when")),
                                 f'stage "{high.name}" (level {high.level}) fires at {htext}, before stage '
                                 f'"{low.name}" (level {low.level}) at {ltext}',
                                 "higher stages should need a larger move; check the thresholds")

    # actions, groups, weights, scope -----------------------------------------------------------

    def actions(self, stages: dict[int, StageNode]) -> None:
        groups = {g.name for g in self.spec.correlation_groups}
        if self.spec.notify is not None:
            self.route_ref(self.spec.notify.route, ("spec", "notify", "route"))
        for i, st in enumerate(self.spec.stages):
            for j, act in enumerate(st.actions):
                ap = self.doc.action_path(i, j)
                p = act.params  # the parameters of the one kind that is set
                if isinstance(p, m.NotifyAction):
                    self.route_ref(p.route, ap + ("notify", "route"))
                elif isinstance(p, m.ClosePositions) and p.correlation_group:
                    g = p.correlation_group
                    if g not in groups and not self.doc.spec_uncertain("correlation_groups"):
                        self.add(d.KS104, self.sm.value(ap + ("close_positions", "correlation_group")),
                                 f'stage "{st.name}" closes unknown correlation group "{g}"',
                                 d.suggestion_hint(g, groups, "groups are declared under spec.correlation_groups"))
                if isinstance(p, m.ClosePositions):
                    self.position_condition(f'stage "{st.name}" close_positions',
                                            ap + ("close_positions", "where"), p.where)

    def route_ref(self, route: str, path: tuple[Any, ...]) -> None:
        if not self.ctx.loaded("NotificationRoutes"):
            self.add(d.KS130, self.sm.value(path), f'notification route "{route}" cannot be checked',
                     "no NotificationRoutes document was loaded with this policy; validate the whole policy directory")
            return
        names = self.ctx.names("NotificationRoutes")
        if route not in names:
            self.add(d.KS104, self.sm.value(path), f'unknown notification route "{route}"',
                     d.suggestion_hint(route, names, "routes are NotificationRoutes documents (metadata.name)"))

    def groups_and_weights(self) -> None:
        owner: dict[str, str] = {}
        names: set[str] = set()
        for i, g in enumerate(self.spec.correlation_groups):
            gp = ("spec", "correlation_groups", i)
            if g.name in names:
                self.add(d.KS105, self.sm.value(gp + ("name",)), f'correlation group "{g.name}" is declared twice',
                         "give each group its own name, or merge their symbols into one group")
            names.add(g.name)
            for j, sym in enumerate(g.symbols):
                if sym in owner and owner[sym] != g.name:
                    self.add(d.KS215, self.sm.value(gp + ("symbols", j)),
                             f'symbol "{sym}" is in correlation groups "{owner[sym]}" and "{g.name}"',
                             "a symbol belongs to at most one group, so its close is scheduled once")
                owner.setdefault(sym, g.name)
        w = self.spec.risk_score.weights
        total = w.pnl_delta + w.current_loss + w.liq_proximity + w.notional_share + w.margin_loss
        if abs(total - 1.0) > 1e-9 and not self.doc.spec_uncertain("risk_score"):
            self.add(d.KS216, self.sm.key(("spec", "risk_score", "weights")),
                     f"risk-score weights sum to {total:g}, not 1",
                     "weights are shares of the score; unlisted weights keep their defaults "
                     "(pnl_delta 0.40, current_loss 0.25, liq_proximity 0.20, notional_share 0.10, margin_loss 0.05)")

    def scope_refs(self) -> None:
        """KS104: a scope naming an account nobody declares; KS218: a scope that selects no
        declared account. Only against accounts the context knows (see :class:`.crossdoc.Context`)."""
        known = self.ctx.declared_names()
        if known is None or self.doc.spec_uncertain("scope"):
            return
        unknown = False
        for i, name in enumerate(self.spec.scope.accounts.names):
            if name not in known:
                unknown = True
                self.add(d.KS104, self.sm.value(("spec", "scope", "accounts", "names", i)),
                         f'scope names unknown account "{name}"',
                         d.suggestion_hint(name, known, "accounts are declared in the Accounts document"))
        accounts = self.ctx.declared_accounts()
        found = unmatched(self.spec.scope, accounts) if accounts is not None and not unknown else None
        if found is not None:
            path: tuple[Any, ...] = ("spec", "scope")
            if found.part == "venues":
                path += ("venues", found.item)
            elif found.part == "match_labels":
                path += ("accounts", "match_labels", found.item)
            self.add(d.KS218, self.sm.value(path) if found.part else self.sm.key(path), found.message, found.hint)

    def revoke_reach(self, i: int, sp: tuple[Any, ...]) -> None:
        """KS261: a stage's revoke_trading whose scope selects an account the venue's switch
        cannot reach (checked against the declared accounts when they are known whole)."""
        accounts = self.ctx.declared_accounts()
        if accounts is None:
            return
        raw = self._raw_stage(i).get("actions")
        at = next((j for j, a in enumerate(raw) if a == "revoke_trading" or (
            isinstance(a, dict) and "revoke_trading" in a)), None) if isinstance(raw, list) else None
        pos = self.sm.value(sp + ("actions", at)) if at is not None else self.sm.value(sp)
        self.diags.extend(revoke_findings(accounts, [RevokeUse(self.doc.file, pos, self.spec.scope,
                                                               self.policy.metadata.name)]))

    # resumption after a reset -----------------------------------------------------------------

    def resume_ref(self, stages: dict[int, StageNode]) -> None:
        r = self.spec.resume
        if r is None or r.from_level is None or not stages or r.from_level in stages:
            return
        if self.doc.dropped_stages:
            return  # a stage whose level could not be read may be the one it names
        levels = ", ".join(str(level) for level in sorted(stages))
        self.add(d.KS104, self.sm.value(("spec", "resume", "from_level")),
                 f"resume.from_level {r.from_level} is not a stage level of this policy",
                 f"stage levels are {levels}")

    def resume_node(self) -> Optional[ResumeNode]:
        r = self.spec.resume
        if r is None:
            return None
        return ResumeNode(start_fraction=r.start.fraction, step_factor=float(r.step), step_ms=r.every.ms,
                          from_level=r.from_level or 1, max_positions=r.max_positions,
                          max_gross_exposure=r.max_gross_exposure.value if r.max_gross_exposure else None)

    # runbook templates ---------------------------------------------------------------------------

    def runbooks(self, node: Optional[PolicyNode]) -> None:
        """Every template this policy's runbooks use exists, parses and renders a sample incident
        of each stage it serves. A problem is reported at the line that names the template; a
        problem of the default template (no line names it) at its place in the template."""
        if self.templates is None:
            return
        uses: list[tuple[Optional[str], Optional[tuple[Any, ...]], list[int]]] = []
        own: set[int] = set()
        for i, st in enumerate(self.spec.stages):
            for j, act in enumerate(st.actions):
                params = act.params
                if isinstance(params, m.RunbookAction):
                    own.add(st.level)
                    template_path = self.doc.action_path(i, j) + ("runbook", "template")
                    uses.append((params.template, template_path, [st.level]))
        rest = [st.level for st in self.spec.stages if st.level not in own]
        if self.spec.runbook is not None:
            uses.insert(0, (self.spec.runbook, ("spec", "runbook"), rest or [st.level for st in self.spec.stages]))
        elif rest:
            uses.insert(0, (None, None, rest))
        for name, path, levels in uses:
            seen: set[tuple[Any, ...]] = set()
            for level in levels if node is not None else [None]:
                for p in self.templates.check(name, node, level):
                    key = (p.kind, p.file, p.line, p.message)
                    if key in seen:
                        continue
                    seen.add(key)
                    if path is not None:
                        where = f"{p.file}:{p.line}: " if p.file and p.line else ""
                        self.add(_TEMPLATE_CODES[p.kind], self.sm.value(path),
                                 f'runbook template "{name}": {where}{p.message}', p.hint)
                    elif p.file:  # the default template: no policy line names it, its own line says where
                        self.diags.append(Diagnostic.make(
                            _TEMPLATE_CODES[p.kind], p.file, Position(p.line or 1, 1),
                            f"default runbook template (used when a policy names none): {p.message}", p.hint))

    # canonical form --------------------------------------------------------------------------

    def canonical(self, triggers: dict[str, TriggerNode]) -> dict[str, Any]:
        body = self.policy.model_dump(
            mode="json", by_alias=True, exclude_none=True,
            exclude={"metadata": {"description"}},
        )
        spec = body["spec"]
        for name, trig in spec["triggers"].items():
            trig.pop("description", None)
            trig["when"] = triggers[name].when
        for st in spec["stages"]:
            st.pop("description", None)
        spec["stages"].sort(key=lambda s: s["level"])
        return body


# the code of each kind of mistake the type check finds (killswitch.policy.expr_check)
CONDITION_CODES = {"type": d.KS121, "unit": d.KS124, "zero": d.KS125, "function": d.KS126, "arity": d.KS127}


def _seconds(duration: Optional[Duration]) -> Optional[float]:
    return duration.seconds if duration else None


def _comparisons(ast: ex.Node) -> list[tuple[str, str, ex.Literal]]:
    """Every ``name op literal`` comparison of a condition, the name on the left."""
    out: list[tuple[str, str, ex.Literal]] = []

    def walk(n: ex.Node) -> None:
        if isinstance(n, ex.Compare):
            if isinstance(n.left, ex.Ref) and isinstance(n.right, ex.Literal):
                out.append((n.left.name, n.op, n.right))
            elif isinstance(n.right, ex.Ref) and isinstance(n.left, ex.Literal):
                out.append((n.right.name, ex.mirrored(n.op), n.left))
        elif isinstance(n, ex.Not):
            walk(n.item)
        elif isinstance(n, (ex.And, ex.Or)):
            for x in n.items:
                walk(x)

    walk(ast)
    return out


def _range_verdict(op: str, v: float, lo: Optional[float], hi: Optional[float]) -> Optional[str]:
    """Whether ``x op v`` is constant for every x in [lo, hi]: "always holds", "can never hold" or None."""
    if op in (">=", ">"):
        if lo is not None and (v < lo or (v == lo and op == ">=")):
            return "always holds"
        if hi is not None and (v > hi or (v == hi and op == ">")):
            return "can never hold"
    elif op in ("<=", "<"):
        if hi is not None and (v > hi or (v == hi and op == "<=")):
            return "always holds"
        if lo is not None and (v < lo or (v == lo and op == "<")):
            return "can never hold"
    return None


def _raw_at(raw: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        if isinstance(raw, dict) and key in raw:
            raw = raw[key]
        elif isinstance(raw, list) and isinstance(key, int) and 0 <= key < len(raw):
            raw = raw[key]
        else:
            return None
    return raw


def _span(vt: ex.ValueType, lo: Optional[float], hi: Optional[float]) -> str:
    def fmt(v: Optional[float]) -> Optional[str]:
        if v is None:
            return None
        return f"{v * 100:g}%" if vt is ex.ValueType.RATIO else f"{v:g}"

    lo_s, hi_s = fmt(lo), fmt(hi)
    if lo_s is not None and hi_s is not None:
        return f"values from {lo_s} to {hi_s}"
    if lo_s is not None:
        return f"values of at least {lo_s}"
    return f"values of at most {hi_s}"


def compile_all(results: Iterable[LoadResult], revision: Optional[str] = None,
                templates: Optional[TemplateChecker] = None,
                zone_known: Optional[Callable[[str], bool]] = None) -> CompileResult:
    merged = LoadResult()
    for r in results:
        merged.extend(r)
    return compile_documents(merged, revision, templates, zone_known)
