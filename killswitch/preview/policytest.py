"""Policy unit tests (``kind: PolicyTest``), in the spirit of ``promtool test rules``.

Input series (``10000-100x9``, ``_`` for a missing sample, ``stale`` for a failed fetch) are
expanded into one snapshot per interval (:mod:`killswitch.preview.policytest_input`) and replayed
through the policy under test with fresh in-memory state, as ``ksctl replay`` replays a
recording. At each ``at:`` the expectation is compared with what happened
(:mod:`killswitch.preview.policytest_expect` for the matching rules):

- ``stage``: the scope's stage after that tick (0: nothing entered);
- ``actions``: the action kinds that produced something at that tick (an order, a cancel, a
  directive, a hedge suggestion) — empty when nothing was done;
- ``firing``: exactly the triggers firing at that tick, when written (``[]``: none fires);
  ``not_firing``: triggers that must not fire;
- ``orders`` and ``cancels``: what the tick sends, in send order, when written (``[]``: nothing).

An expectation with only ``at`` asserts that nothing happens: stage 0 and no actions. A test's
``stages`` series is the stage after every tick, checked tick by tick (one check).

Pure: takes compiled documents, returns results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from ..compile.compiler import CompileResult
from ..compile.graph import DecisionGraph
from ..engine.evaluate import Evaluation
from ..policy.diagnostics import Position as SrcPos
from ..policy.load import LoadedDoc
from ..policy.policytest_doc import Expectation, PolicyTest, PolicyTestCase
from ..policy.series import parse_series
from ..policy.units import Duration
from .policytest_expect import cancels_first, compare_cancels, compare_orders, compare_triggers, sent
from .policytest_input import T0, CaseInput, identity
from .replay import replay, shown_value

if TYPE_CHECKING:
    from .rule_coverage import RuleCoverage

__all__ = ["T0", "Failure", "TestReport", "run_case", "run_tests"]

MAX_STAGE_LINES = 5  # a stages series that differs at many ticks shows the first few
# What a test's ``actions`` call the entry orders a close cancels when no action of the stage
# asked for a cancel that holds them (those an action asked for are named by it: a plan's
# ``cancelled_by``): the language's word for cancelling, as every test has written it.
CLOSE_CANCELS = "cancel_orders"


@dataclass(frozen=True)
class Failure:
    file: str
    pos: Optional[SrcPos]
    test: str
    message: str
    ran: bool = True  # False: the test could not run (its policy is not loaded)


@dataclass
class TestReport:
    """What a run found. Every expectation is a check: passed, failed, or not run (its policy was
    not loaded), so ``passed + failed + not_run == checks``. A test's ``stages`` series is one check."""

    __test__ = False

    files: int = 0  # files holding PolicyTest documents
    cases: int = 0
    checks: int = 0
    failures: list[Failure] = field(default_factory=list)
    failed: int = 0  # checks that failed
    not_run: int = 0  # checks of tests that could not run

    @property
    def passed(self) -> int:
        return self.checks - self.failed - self.not_run

    def fail(self, failure: Failure) -> None:
        self.failed += 1
        self.failures.append(failure)


def run_case(graph: DecisionGraph, doc: LoadedDoc, index: int, case: PolicyTestCase, interval_ms: int,
             report: TestReport, coverage: Optional[RuleCoverage] = None) -> None:
    """Run one test case, its checks counted in ``report``; ``coverage``: mark the rules its
    ticks reach (``ksctl test --coverage``)."""
    spec = doc.model.spec  # type: ignore[union-attr]
    policy = graph.policy(spec.policy)
    sub = DecisionGraph((policy,), graph.digest, graph.revision)
    step = case.interval.ms if case.interval else interval_ms
    path = doc.item_path("tests", index)
    expects: dict[int, list[tuple[int, Expectation]]] = {}  # tick index -> (index in expect, expectation)
    for j, e in enumerate(case.expect):
        if e.at.ms % step:
            report.checks += 1
            report.fail(Failure(doc.file, doc.srcmap.value(path + ("expect", j, "at")), case.name,
                                f"at {e.at} is not a multiple of the interval {step // 1000}s"))
            continue
        expects.setdefault(e.at.ms // step, []).append((j, e))
    stages = parse_series(case.stages) if case.stages is not None else []
    count = max(max(expects, default=-1) + 1, len(stages))
    inp = CaseInput(case, identity(case, policy.scope))
    for k, held in enumerate(case.input.positions):
        if held.account is not None and held.account != inp.ident.account:
            report.checks += 1  # one account per test: a position elsewhere would be misplaced, not run
            report.fail(Failure(doc.file, doc.srcmap.value(path + ("input", "positions", k, "account")), case.name,
                                f'positions[{k}] is in account "{held.account}", but the test account is '
                                f'"{inp.ident.account}": a test has one account (set input.account), so it did '
                                "not run"))
            return
    kinds = {s.name: s.type.value for s in policy.signals}
    wrong_stages: list[str] = []
    if coverage is not None:
        coverage.ran(policy.name)
    for i, (_, ev, _) in enumerate(replay(sub, inp.ticks(step, count), inp.state())):
        if coverage is not None:
            coverage.observe(policy.name, ev)
        if i < len(stages) and stages[i] is not None:
            got = max((s.stage_after for s in ev.scopes), default=0)
            if got != int(float(stages[i])):  # type: ignore[arg-type]
                wrong_stages.append(f"at {Duration(i * step)}: expected {int(float(stages[i])):d}, "  # type: ignore[arg-type]
                                    f"got {got}")
        for j, e in expects.get(i, ()):
            report.checks += 1
            problems = _compare(doc, path + ("expect", j), inp, i, e, ev)
            if problems:
                pos = doc.srcmap.key(path + ("expect", j))
                report.fail(Failure(doc.file, pos, case.name,
                                    f"at {e.at}: " + "\n    ".join(problems) + _why(ev, kinds)))
    if case.stages is not None:
        report.checks += 1
        if wrong_stages:
            more = len(wrong_stages) - MAX_STAGE_LINES
            report.fail(Failure(doc.file, doc.srcmap.value(path + ("stages",)), case.name,
                                "stages: " + "\n    stages: ".join(wrong_stages[:MAX_STAGE_LINES])
                                + (f"\n    ... and {more} more tick(s)" if more > 0 else "")))


def _compare(doc: LoadedDoc, at: tuple, inp: CaseInput, i: int, e: Expectation, ev: Evaluation) -> list[str]:
    """Every difference between expectation ``e`` and tick ``i``'s evaluation, one line each."""
    scopes = ev.scopes
    stage = max((s.stage_after for s in scopes), default=0)
    actions: set[str] = set()
    firing: set[str] = set()
    for s in scopes:
        firing |= {t.name for t in s.triggers if t.firing}
        if s.plan:
            p = s.plan
            if p.cancels:  # named by the actions that asked for them; else a close's entries, cancel_orders'
                actions |= set(p.cancelled_by) or {CLOSE_CANCELS}
            actions |= {o.action for o in p.orders}
            actions |= {d.kind for d in p.directives}
            if p.hedges:
                actions.add("suggest_hedge")
    problems = []
    if stage != e.stage:
        problems.append(f"stage: expected {e.stage}, got {stage}")
    if actions != set(e.actions):
        problems.append(f"actions: expected [{', '.join(sorted(e.actions))}], got [{', '.join(sorted(actions))}]")
    problems += compare_triggers(e.firing, e.not_firing, firing)
    if e.orders is None and e.cancels is None:
        return problems
    cancels, orders = sent(ev)
    sends = []
    if e.orders is not None:
        sends += compare_orders(e.orders, orders, lambda sym, side, leg: inp.position_size(i, sym, side, leg),
                                lambda k: doc.srcmap.key(at + ("orders", k)))
    if e.cancels is not None:
        sends += compare_cancels(e.cancels, cancels, lambda k: doc.srcmap.key(at + ("cancels", k)))
    sends += cancels_first(cancels, orders)
    if sends:
        shown = [c.describe() for c in cancels] + [o.describe() for o in orders]
        sends.append("sent: " + ("; ".join(shown) if shown else "nothing"))
    return problems + sends


def _why(ev: Evaluation, kinds: dict) -> str:
    """The tick's signal values and refusals, to read a failure by."""
    why = []
    for s in ev.scopes:
        why += [f"{v.name}={shown_value(v.name, v.value, kinds)}" + (f" ({v.reason})" if v.reason else "")
                for v in s.signals]
        why += list(s.refusals)
    return "\n    " + ", ".join(why) if why else ""


def run_tests(result: CompileResult, coverage: Optional[RuleCoverage] = None) -> TestReport:
    """Run every PolicyTest document of a compile result against its policy in the graph;
    ``coverage``: mark the rules the tests reach."""
    report = TestReport()
    if result.graph is None:
        return report
    files: set[str] = set()
    for doc in result.docs:
        if not isinstance(doc.model, PolicyTest):
            continue
        files.add(doc.file)
        spec = doc.model.spec
        if spec.policy not in {p.name for p in result.graph.policies}:
            checks = sum(len(case.expect) + (case.stages is not None) for case in spec.tests)
            report.cases += len(spec.tests)
            report.checks += checks
            report.not_run += checks
            report.failures.append(Failure(doc.file, doc.srcmap.value(("spec", "policy")), "-",
                                           f'policy "{spec.policy}" is not loaded: pass its file or directory '
                                           "too (ksctl test policies/)", ran=False))
            continue
        for i, case in enumerate(spec.tests):
            report.cases += 1
            run_case(result.graph, doc, i, case, spec.interval.ms, report, coverage)
    report.files = len(files)
    return report
