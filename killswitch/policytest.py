"""Policy unit tests (``kind: PolicyTest``), in the spirit of ``promtool test rules``.

Input series (``10000-100x9``, ``_`` for a missing sample, ``stale`` for a failed fetch) are
expanded into one snapshot per interval; the policy under test is evaluated tick by tick with
fresh in-memory state; at each ``at:`` the expectation is compared with what happened:

- ``stage``: the scope's stage after that tick (0: nothing entered);
- ``actions``: the action kinds that produced something at that tick (an order, a cancel, a
  directive, a hedge suggestion) — empty when nothing was done;
- ``firing``: the triggers firing at that tick (checked when given).

An expectation with only ``at`` asserts that nothing fires: stage 0 and no actions.

Pure except for nothing: takes compiled documents, returns results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .compile.compiler import CompileResult
from .compile.graph import DecisionGraph
from .engine.evaluate import Evaluation, evaluate
from .engine.state import State, record_heartbeat
from .policy.diagnostics import Position as SrcPos
from .policy.load import LoadedDoc
from .policy.model import Expectation, PolicyTest, PolicyTestCase
from .policy.series import STALE, parse_series
from .snapshot import FetchStatus, Position, Snapshot

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z: tests start on a UTC day boundary


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
    not loaded), so ``passed + failed + not_run == checks``."""

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


def _sample(series: list, i: int):
    return series[i] if i < len(series) else series[-1] if series else None


def _identity(case: PolicyTestCase, scope: dict) -> tuple[str, str, dict]:
    """Venue, account and labels of the test account: as written, else what the policy selects."""
    inp = case.input
    venue = inp.venue or (scope["venues"][0] if scope["venues"] else "simulated")
    names = scope["accounts"]["names"]
    account = inp.account or (names[0] if names else "test")
    labels = dict(scope["accounts"]["match_labels"])
    labels.update(inp.labels)
    return venue, account, labels


def _snapshots(case: PolicyTestCase, i: int, now: int, ident: tuple[str, str, dict]) -> list[Snapshot]:
    inp = case.input
    eq = _sample(parse_series(inp.equity), i)
    if eq is None:
        return []  # no snapshot at all this tick
    failed = eq == STALE
    positions = []
    for p in inp.positions:
        mark = _sample(parse_series(p.mark), i)
        if mark is None or mark == STALE:
            failed = True
            continue
        entry = p.entry if p.entry is not None else _sample(parse_series(p.mark), 0)
        if p.pnl is not None:
            pnl = _sample(parse_series(p.pnl), i)
            pnl = 0.0 if pnl in (None, STALE) else pnl
        else:
            pnl = p.contracts * (mark - entry) * (1 if p.side == "long" else -1)
        liq = _sample(parse_series(p.liquidation), i) if p.liquidation else None
        positions.append(Position(
            symbol=p.symbol, side=p.side, contracts=p.contracts, notional=abs(p.contracts * mark),
            entry_price=entry, mark_price=mark, unrealized_pnl=pnl,
            liquidation_price=None if liq in (None, STALE) else liq, strategy=p.strategy,
        ))
    err = _sample(parse_series(inp.api_errors), i) if inp.api_errors else 0.0
    err = 1.0 if err == STALE else (err or 0.0)
    fetch = FetchStatus(ok=not failed, error_code="EXCHANGE_UNAVAILABLE" if failed else None,
                        calls=100, failed_calls=int(round(min(1.0, max(0.0, err)) * 100)))
    venue, account, labels = ident
    return [Snapshot(venue=venue, account=account, market_type="futures", ts_event=now,
                     equity=None if failed else float(eq), positions=positions if not failed else [],
                     fetch=fetch, labels=labels)]


def run_case(graph: DecisionGraph, doc: LoadedDoc, index: int, case: PolicyTestCase, interval_ms: int,
             report: TestReport) -> None:
    spec = doc.model.spec  # type: ignore[union-attr]
    policy = graph.policy(spec.policy)
    sub = DecisionGraph((policy,), graph.digest, graph.revision)
    step = case.interval.ms if case.interval else interval_ms
    expects: dict[int, list[tuple[int, Expectation]]] = {}  # tick index -> (index in expect, expectation)
    for j, e in enumerate(case.expect):
        if e.at.ms % step:
            report.checks += 1
            report.failed += 1
            report.failures.append(Failure(doc.file,
                                           doc.srcmap.value(doc.item_path("tests", index) + ("expect", j, "at")),
                                           case.name, f"at {e.at} is not a multiple of the interval {step // 1000}s"))
            continue
        expects.setdefault(e.at.ms // step, []).append((j, e))
    last = max(expects, default=-1)
    ident = _identity(case, policy.scope)
    kinds = {s.name: s.type.value for s in policy.signals}
    state = State()
    for i in range(last + 1):
        now = T0 + i * step
        for source, series in case.input.heartbeats.items():
            age = _sample(parse_series(series), i)
            if age not in (None, STALE):
                record_heartbeat(state, source, now - int(float(age) * 1000))
        ev, state = evaluate(sub, _snapshots(case, i, now, ident), state, now)
        for j, e in expects.get(i, ()):
            report.checks += 1
            _compare(doc, index, case, j, e, ev, report, kinds)


def _compare(doc: LoadedDoc, index: int, case: PolicyTestCase, j: int, e, ev: Evaluation, report: TestReport,
             kinds: dict) -> None:
    scopes = ev.scopes
    stage = max((s.stage_after for s in scopes), default=0)
    actions: set[str] = set()
    firing: set[str] = set()
    for s in scopes:
        firing |= {t.name for t in s.triggers if t.firing}
        if s.plan:
            p = s.plan
            if p.cancels:
                actions.add("cancel_orders")
            actions |= {o.action for o in p.orders}
            actions |= {d.kind for d in p.directives}
            if p.hedges:
                actions.add("suggest_hedge")
    problems = []
    if stage != e.stage:
        problems.append(f"stage: expected {e.stage}, got {stage}")
    if actions != set(e.actions):
        problems.append(f"actions: expected [{', '.join(sorted(e.actions))}], got [{', '.join(sorted(actions))}]")
    if e.firing and firing != set(e.firing):
        problems.append(f"firing: expected [{', '.join(sorted(e.firing))}], got [{', '.join(sorted(firing))}]")
    if problems:
        from .render.evaluation import _fmt_value

        why = []
        for s in scopes:
            why += [f"{v.name}={_fmt_value(v.name, v.value, kinds)}" + (f" ({v.reason})" if v.reason else "")
                    for v in s.signals]
            why += list(s.refusals)
        pos = doc.srcmap.key(doc.item_path("tests", index) + ("expect", j))
        report.failed += 1
        report.failures.append(Failure(doc.file, pos, case.name,
                                       f"at {e.at}: " + "; ".join(problems)
                                       + ("\n    " + ", ".join(why) if why else "")))


def run_tests(result: CompileResult) -> TestReport:
    """Run every PolicyTest document of a compile result against its policy in the graph."""
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
            checks = sum(len(case.expect) for case in spec.tests)
            report.cases += len(spec.tests)
            report.checks += checks
            report.not_run += checks
            report.failures.append(Failure(doc.file, doc.srcmap.value(("spec", "policy")), "-",
                                           f'policy "{spec.policy}" is not loaded: pass its file or directory '
                                           "too (ksctl test policies/)", ran=False))
            continue
        for i, case in enumerate(spec.tests):
            report.cases += 1
            run_case(result.graph, doc, i, case, spec.interval.ms, report)
    report.files = len(files)
    return report
