"""Coverage of a policy's rules by its PolicyTests (``ksctl test --coverage``).

While the PolicyTests run (:mod:`.policytest`), :meth:`RuleCoverage.observe` reads each tick's
:class:`~killswitch.engine.evaluate.Evaluation` of the policy under test — what the engine did,
never what a test's text says — and marks the rules it reached. A rule is one of:

- ``trigger``: covered once it FIRED at some tick (evaluated and never firing is uncovered);
- ``branch``: each operand of a ``||`` or ``&&`` of a trigger's ``when`` (at any depth): covered
  once its own value, from the signal values the engine computed at that tick, was true at some
  tick and false at some other (unknown counts as neither). Each operand is judged on its own,
  not short-circuited: it says whether the tests hold the data on both sides of that comparison;
- ``stage``: covered once ENTERED (or entered again after its cooldown);
- ``action``: covered once an entry of its stage made it produce something (SENT: an order, a
  cancel, a directive, a hedge suggestion) or the planner REFUSED it with a reason code naming
  it (``ATTRIBUTION_UNKNOWN: close_side skipped``); an entered stage whose action did nothing
  (a close with no position, a cancel with no open order) leaves it uncovered. Two actions of one
  kind on one stage are told apart by their parameters for directives only: orders, cancels and
  hedges name the kind alone, so they cover every action of that kind on the stage;
- ``limit``: each pre-trade limit of ``spec.limits``. The pre-trade gate answers them (``POST
  /v1/check-order``), never a tick, so a PolicyTest cannot reach them: they are listed as not
  testable and are in no total;
- ``override``: ``spec.limits.override``, how the limits may be overridden — no limit itself,
  listed apart from them: people ask for an override and approve it, never a tick, so it is not
  testable either and in no total. ``during`` / ``outside`` and ``mark_max_age`` are the limits'
  settings, no rule.

A policy no PolicyTest runs against is 0 %, its rules all uncovered. Values only: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..compile.compiler import CompileResult
from ..compile.graph import PolicyNode
from ..engine.evaluate import Evaluation, ScopeEvaluation
from ..policy.diagnostics import Position as SrcPos
from ..policy.documents import LoadedDoc
from ..policy.expr import And, Node, Not, Or, canonical, children
from ..policy.expr.eval import Predicate, compile_predicate
from ..policy.limits import LIMIT_SETTINGS
from ..policy.policy_doc import Policy

__all__ = ["CoverageReport", "PolicyCoverage", "Rule", "RuleCoverage"]

NOT_TESTABLE = "not testable by PolicyTest: the pre-trade gate answers it (POST /v1/check-order), not a tick"
OVERRIDE_NOT_TESTABLE = ("not testable by PolicyTest: people ask for an override of the limits and approve it "
                         "(ksctl override), not a tick")


@dataclass(frozen=True)
class Rule:
    """One rule of a policy and whether the tests reached it (``covered`` None: not testable)."""

    kind: str  # trigger | branch | stage | action | limit | override
    name: str
    file: str
    line: int
    col: int
    covered: Optional[bool]
    what: str  # what was reached, or what was missing

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class PolicyCoverage:
    name: str
    file: str
    line: int
    col: int
    tested: bool  # some PolicyTest ran against it
    rules: tuple[Rule, ...]

    @property
    def covered(self) -> int:
        return sum(1 for r in self.rules if r.covered)

    @property
    def total(self) -> int:
        return sum(1 for r in self.rules if r.covered is not None)

    @property
    def percent(self) -> float:
        return percent(self.covered, self.total)

    @property
    def uncovered(self) -> list[Rule]:
        return [r for r in self.rules if r.covered is False]

    @property
    def not_testable(self) -> list[Rule]:
        return [r for r in self.rules if r.covered is None]


@dataclass(frozen=True)
class CoverageReport:
    policies: tuple[PolicyCoverage, ...]

    @property
    def covered(self) -> int:
        return sum(p.covered for p in self.policies)

    @property
    def total(self) -> int:
        return sum(p.total for p in self.policies)

    @property
    def percent(self) -> float:
        return percent(self.covered, self.total)


def percent(covered: int, total: int) -> float:
    """``covered`` of ``total`` in percent, rounded down to a tenth (99.96 % is not 100 %); 0 of 0
    is 0: nothing was shown to be tested."""
    return (covered * 1000 // total) / 10 if total else 0.0


# --- what a policy's rules are, and what the tests reached of them -------------------------------


@dataclass
class _Branch:
    trigger: str
    text: str
    pos: SrcPos
    predicate: Predicate
    true: int = 0
    false: int = 0
    unknown: int = 0


@dataclass
class _Action:
    kind: str
    written: dict[str, Any]
    pos: SrcPos
    alike: bool  # another action of its kind on its stage
    sent: int = 0
    refused: set[str] = field(default_factory=set)


@dataclass
class _Stage:
    level: int
    name: str
    pos: SrcPos
    actions: list[_Action]
    entered: int = 0


@dataclass
class _Policy:
    node: PolicyNode
    doc: Optional[LoadedDoc]
    triggers: dict[str, SrcPos]
    branches: list[_Branch]
    stages: dict[int, _Stage]
    limits: list[tuple[str, SrcPos]]
    override: Optional[SrcPos] = None  # spec.limits.override, where written
    tested: bool = False
    evaluated: set[str] = field(default_factory=set)
    fired: set[str] = field(default_factory=set)
    open_branches: list[_Branch] = field(default_factory=list)  # not yet seen both true and false


class RuleCoverage:
    """The rules of every policy of a compile result, marked as the PolicyTests' ticks reach them."""

    def __init__(self, result: CompileResult):
        docs = {d.name: d for d in result.docs if isinstance(d.model, Policy)}
        graph = result.graph
        self._policies: dict[str, _Policy] = {}
        for p in graph.policies if graph is not None else ():
            self._policies[p.name] = _rules(p, docs.get(p.name))

    def ran(self, policy: str) -> None:
        """A PolicyTest case runs against ``policy`` (it is tested, whatever it reaches)."""
        self._policies[policy].tested = True

    def observe(self, policy: str, ev: Evaluation) -> None:
        """Mark what the engine did at one tick of a test of ``policy``."""
        pc = self._policies[policy]
        for s in ev.scopes:
            if s.policy == policy:
                _observe_scope(pc, s)

    def report(self) -> CoverageReport:
        return CoverageReport(tuple(_report(pc) for _, pc in sorted(self._policies.items())))


def _observe_scope(pc: _Policy, s: ScopeEvaluation) -> None:
    for t in s.triggers:
        pc.evaluated.add(t.name)
        if t.firing:
            pc.fired.add(t.name)
    if pc.open_branches:
        values = {v.name: v.value for v in s.signals}
        still = []
        for b in pc.open_branches:
            x = b.predicate(values)
            if x is True:
                b.true += 1
            elif x is False:
                b.false += 1
            else:
                b.unknown += 1
            if not (b.true and b.false):
                still.append(b)
        pc.open_branches = still
    tr = s.transition
    if tr is not None and tr.kind in ("entered", "reentered") and tr.to_level in pc.stages:
        pc.stages[tr.to_level].entered += 1
    if s.plan is not None and s.plan.stage in pc.stages:
        _observe_plan(pc.stages[s.plan.stage], s)


def _observe_plan(stage: _Stage, s: ScopeEvaluation) -> None:
    p = s.plan
    assert p is not None
    kinds = {o.action for o in p.orders} | set(p.cancelled_by)
    if p.hedges:
        kinds.add("suggest_hedge")
    directed = [(d.kind, d.params) for d in p.directives]
    refusals: dict[str, set[str]] = {}
    for reason in p.skipped:  # "CODE: <action kind> ..." names the action it refused
        code, _, rest = reason.partition(": ")
        if rest:
            refusals.setdefault(rest.split(" ", 1)[0], set()).add(code)
    for a in stage.actions:
        if a.kind in kinds or any(k == a.kind and (not a.alike or w == a.written) for k, w in directed):
            a.sent += 1
        a.refused |= refusals.get(a.kind, set())


def _rules(p: PolicyNode, doc: Optional[LoadedDoc]) -> _Policy:
    """The rules of policy ``p`` with their positions in ``doc`` (its Policy document; without one,
    every rule is placed at the policy's own position)."""
    here = SrcPos(p.source.line, p.source.col)

    def key(path: tuple) -> SrcPos:
        return doc.srcmap.key(path) if doc is not None else here

    def value(path: tuple) -> SrcPos:
        return doc.srcmap.value(path) if doc is not None else here

    triggers = {t.name: key(("spec", "triggers", t.name)) for t in p.triggers}
    branches: list[_Branch] = []
    for t in p.triggers:
        path = ("spec", "triggers", t.name, "when")
        text = _when_text(doc, t.name)
        for item, end in _branches(t.ast, len(text) if text is not None else 0):
            pos = doc.srcmap.inside(path, _start(item), text) if doc is not None else here
            shown = _written(text, _start(item), end) if text is not None else canonical(item)
            branches.append(_Branch(t.name, shown or canonical(item), pos, compile_predicate(item)))
    stages: dict[int, _Stage] = {}
    levels = [s.level for s in doc.model.spec.stages] if doc is not None else []  # type: ignore[union-attr]
    for st in p.stages:
        i = levels.index(st.level) if st.level in levels else None
        spos = value(doc.stage_path(i)) if doc is not None and i is not None else here
        actions = []
        for j, a in enumerate(st.actions):
            apos = value(doc.action_path(i, j)) if doc is not None and i is not None else spos
            alike = sum(1 for b in st.actions if b.kind == a.kind) > 1
            actions.append(_Action(a.kind, dict(a.written), apos, alike))
        stages[st.level] = _Stage(st.level, st.name, spos, actions)
    limits = _limits(doc) if p.limits is not None and doc is not None else []
    written = doc.raw.get("spec", {}).get("limits") if doc is not None else None
    override = key(("spec", "limits", "override")) if isinstance(written, dict) and "override" in written else None
    return _Policy(p, doc, triggers, branches, stages, limits, override, open_branches=list(branches))


def _when_text(doc: Optional[LoadedDoc], trigger: str) -> Optional[str]:
    try:
        text = doc.raw["spec"]["triggers"][trigger]["when"]  # type: ignore[union-attr]
    except (KeyError, TypeError, AttributeError):
        return None
    return text if isinstance(text, str) else None


def _branches(node: Node, end: int) -> list[tuple[Node, int]]:
    """Every operand of every ``||`` and ``&&`` of a condition, outermost first, in source order,
    each with where its text ends at the latest (the next operand's start, or its junction's end)."""
    out: list[tuple[Node, int]] = []

    def walk(n: Node, stop: int) -> None:
        if isinstance(n, (Or, And)):
            for k, x in enumerate(n.items):
                until = _start(n.items[k + 1]) if k + 1 < len(n.items) else stop
                out.append((x, until))
                walk(x, until)
        elif isinstance(n, Not):
            walk(n.item, stop)

    walk(node, end)
    return out


def _written(text: str, start: int, end: int) -> str:
    """An operand's text as written: ``text[start:end]`` without the operator after it and the
    parentheses that are not its own."""
    s = text[start:end]
    while True:
        s = s.rstrip()
        if s.endswith(("||", "&&")):
            s = s[:-2]
        elif s.endswith("(") and s.count("(") > s.count(")"):
            s = s[:-1]
        elif s.endswith(")") and s.count(")") > s.count("("):
            s = s[:-1]
        else:
            return s


def _start(node: Node) -> int:
    """Where a sub-condition's text starts: its leftmost offset (a comparison's own is its operator's)."""
    return min([node.offset] + [_start(x) for x in children(node)])


def _limits(doc: LoadedDoc) -> list[tuple[str, SrcPos]]:
    """Each limit written under ``spec.limits``, in the order written, with its key's position."""
    raw = doc.raw.get("spec", {}).get("limits")
    if not isinstance(raw, dict):
        return []
    out = [(k, doc.srcmap.key(("spec", "limits", k))) for k in raw if k not in LIMIT_SETTINGS]
    symbols = raw.get("symbols")
    if isinstance(symbols, dict):
        for sym, lims in symbols.items():
            if isinstance(lims, dict):
                out += [(f"symbols.{sym}.{k}", doc.srcmap.key(("spec", "limits", "symbols", sym, k)))
                        for k in lims if k not in LIMIT_SETTINGS]
    return out


def _report(pc: _Policy) -> PolicyCoverage:
    file = pc.doc.file if pc.doc is not None else pc.node.source.file
    untested = "no PolicyTest runs against this policy"
    rules: list[Rule] = []

    def add(kind: str, name: str, pos: SrcPos, covered: Optional[bool], what: str) -> None:
        rules.append(Rule(kind, name, file, pos.line, pos.col, covered, what))

    for t, pos in pc.triggers.items():
        if t in pc.fired:
            add("trigger", t, pos, True, "fired")
        else:
            add("trigger", t, pos, False, "evaluated, never fired" if t in pc.evaluated
                else (untested if not pc.tested else "never evaluated"))
        for b in (b for b in pc.branches if b.trigger == t):
            add("branch", f"{t}: {b.text}", b.pos, bool(b.true and b.false), _branch_what(b, pc.tested))
    for st in pc.stages.values():
        name = f"{st.level} {st.name}"
        add("stage", name, st.pos, st.entered > 0,
            "entered" if st.entered else (untested if not pc.tested else "never entered"))
        for a in st.actions:
            if a.sent:
                add("action", f"{a.kind} (stage {name})", a.pos, True, "sent")
            elif a.refused:
                add("action", f"{a.kind} (stage {name})", a.pos, True, "refused: " + ", ".join(sorted(a.refused)))
            else:
                missing = ("stage entered, never sent" if st.entered
                           else (untested if not pc.tested else "stage never entered"))
                add("action", f"{a.kind} (stage {name})", a.pos, False, missing)
    for name, pos in pc.limits:
        add("limit", name, pos, None, NOT_TESTABLE)
    if pc.override is not None:  # how the limits may be overridden: no limit, listed apart
        add("override", "spec.limits.override", pc.override, None, OVERRIDE_NOT_TESTABLE)
    src = pc.node.source
    return PolicyCoverage(pc.node.name, file, src.line, src.col, pc.tested, tuple(rules))


def _branch_what(b: _Branch, tested: bool) -> str:
    if not tested:
        return "no PolicyTest runs against this policy"
    if b.true and b.false:
        return "true and false"
    if not b.true and not b.false:
        return "always unknown (its signals had no value)" if b.unknown else "never evaluated"
    return "never false" if b.true else "never true"
