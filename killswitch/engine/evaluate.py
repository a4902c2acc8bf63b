"""``evaluate(graph, snapshots, state, now) -> (Evaluation, state)``: one tick of the decision engine.

For every policy and every scope instance it selects: compute the signals, step the triggers,
step the stage machine and, on a stage entry, plan the stage's actions into intents. Nothing
here sends, reads a clock or writes a file: the runner does that with what this returns.
``rates`` (orders per second by venue) space the planned orders; the caller takes them from its
venue adapters (see :mod:`.planner`).

``state`` is taken over and returned updated (copy it first with ``State.copy()`` to keep the
old one). Given the same graph, snapshots, state and time, the result is the same.

A policy whose unwind reads the order book plans in two passes: :func:`book_requests` names the
books its plans need and the snapshots lack (only symbols a close is planned for); the caller
fetches them into the snapshots and :func:`replan` plans those scopes again with them.

Pure: no I/O, no clock, no globals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Iterator, Mapping, Optional, cast

from ..compile.graph import DecisionGraph, PolicyNode, StageNode
from ..orders import NO_SENDS, Sends, send_sequence
from ..snapshot import Snapshot
from . import signals as sig, stages, triggers
from .attribution import history_for, update_history
from .columns import Tables
from .coverage import Coverage, Unmatched, scope_coverage, unmatched, watched
from .planner import NO_RATES, plan
from .plans import Plan, complete
from .scope import ScopeView, instances, selects
from .signals import SignalValue
from .stages import StageTransition, decision_id
from .state import PnlHistory, State, TriggerState
from .triggers import TriggerResult


@dataclass(frozen=True)
class ScopeEvaluation:
    policy: str
    scope: str
    signals: tuple[SignalValue, ...]
    triggers: tuple[TriggerResult, ...]
    stage_before: int
    stage_after: int
    transition: Optional[StageTransition]
    refusals: tuple[str, ...]
    plan: Optional[Plan]
    coverage: Coverage = Coverage()  # armed or blind, and why (see .coverage)
    # the instance's equity as its signals read it this tick (None: some account's is unknown)
    equity: Optional[float] = None


@dataclass(frozen=True)
class Evaluation:
    now_ms: int
    digest: str
    revision: Optional[str]
    scopes: tuple[ScopeEvaluation, ...]
    unmatched: tuple[Unmatched, ...] = ()  # policies whose scope selected no account
    rematched: tuple[str, ...] = ()  # policies whose scope selects accounts again this tick

    @property
    def blind(self) -> list[ScopeEvaluation]:
        return [s for s in self.scopes if not s.coverage.armed]

    @property
    def transitions(self) -> list[ScopeEvaluation]:
        return [s for s in self.scopes if s.transition is not None]

    @property
    def plans(self) -> list[Plan]:
        return [s.plan for s in self.scopes if s.plan is not None]

    @property
    def partial(self) -> bool:
        """Some plan is a first wave alone (see :meth:`completed`)."""
        return any(s.plan is not None and s.plan.rest is not None for s in self.scopes)

    def completed(self) -> "Evaluation":
        """This evaluation with every first wave planned whole (:func:`.plans.complete`)."""
        if not self.partial:
            return self
        return replace(self, scopes=tuple(s if s.plan is None or s.plan.rest is None
                                          else replace(s, plan=complete(s.plan)) for s in self.scopes))

    def entries(self, graph: DecisionGraph) -> Iterator[tuple[ScopeEvaluation, Plan, PolicyNode, StageNode]]:
        """The scope instances whose stage entry has directives to carry out this tick (none: they
        went out before), each with its plan and its policy's node and stage in ``graph``."""
        for se in self.scopes:
            if se.plan is not None and se.plan.directives:
                node = graph.policy(se.policy)
                yield se, se.plan, node, node.stage(se.plan.stage)

    def sends(self) -> list[Sends]:
        """For every scope (aligned with ``scopes``), the send numbers of its plan's cancels and
        orders among everything this tick sends, in the runner's order (:func:`send_sequence`)."""
        seqs = iter(send_sequence(self.plans))
        return [next(seqs) if s.plan is not None else NO_SENDS for s in self.scopes]


def evaluate(graph: DecisionGraph, snapshots: Iterable[Snapshot], state: Optional[State], now_ms: int,
             rates: Mapping[str, float] = NO_RATES, scores: str = "none",
             first_wave: bool = False) -> tuple[Evaluation, State]:
    """One tick (see the module doc). ``scores`` (``none``, ``top``, ``all``): a preview's ask to
    list the risk scores, with their components, of every scope that plans closes (the runner
    never asks: it costs a pass over the scope's positions). ``first_wave``: a stage entry that
    allows it is planned as its first wave alone, the whole plan left to ``plan.rest`` (the
    runner sends the first close before planning thousands; see :func:`.planner.plan`)."""
    if state is None:
        state = State()
    snaps = list(snapshots)
    tables = Tables()  # every position's fields taken out once, for every policy that reads them
    sig.update_accounts(state, snaps, now_ms, tables)
    histories: dict[int, PnlHistory] = {}
    for policy in graph.policies:
        window, step = history_for(policy)
        if window not in histories:
            hist = state.pnl.get(window)
            if hist is None:
                hist = state.pnl[window] = PnlHistory(window, step)
            update_history(hist, snaps, now_ms, tables)
            histories[window] = hist
    out: list[ScopeEvaluation] = []
    off: list[Unmatched] = []
    back: list[str] = []
    for policy in graph.policies:
        interval_ms = int(policy.interval_s * 1000)
        hist = histories[history_for(policy)[0]]
        views = instances(policy, snaps, tables)
        watch = watched(policy)
        gone, again = unmatched(policy, state, any(selects(policy, s) for s in snaps), now_ms)
        if gone is not None:
            off.append(gone)
        if again:
            back.append(policy.name)
        for view in views:
            ss = state.scope(policy.name, view.key)
            values = sig.compute(policy.signals, view, ss, state, now_ms, interval_ms)
            raw = {k: v.value for k, v in values.items()}
            results = []
            for t in policy.triggers:
                tst = ss.triggers.get(t.name)
                if tst is None:
                    tst = ss.triggers[t.name] = TriggerState()
                results.append(triggers.step(t, tst, raw, now_ms, interval_ms))
            firing = {r.name for r in results if r.firing}
            before = ss.stage.level
            transition, refusals = stages.step(policy, view.key, ss.stage, firing, now_ms)
            p = None
            if transition is not None and transition.kind in ("entered", "reentered"):
                # an entry always names its decision (stages.step), so decision_id is set here
                p = plan(policy, policy.stage(transition.to_level), view, cast(str, transition.decision_id),
                         now_ms, hist, rates=rates, scores=scores, first_wave=first_wave)

                ss.stage.deferred = not view.positions_known
            elif ss.stage.deferred and ss.stage.level > 0 and view.positions_known:
                # entered blind: now that positions are known, plan the closes of that entry
                entry = decision_id(policy.name, view.key, ss.stage.level, ss.stage.entries)
                if ss.stage.retries:
                    entry = f"{entry}/r{ss.stage.retries}"
                p = plan(policy, policy.stage(ss.stage.level), view, entry, now_ms, hist, closes_only=True,
                         rates=rates, scores=scores, first_wave=first_wave)
                ss.stage.deferred = False
            cover = scope_coverage(policy, watch, view, values, state, ss, now_ms)
            out.append(ScopeEvaluation(policy.name, view.key, tuple(values.values()), tuple(results),
                                       before, ss.stage.level, transition, tuple(refusals), p, cover,
                                       view.equity))
    state.last_tick_ms = now_ms
    return Evaluation(now_ms, graph.digest, graph.revision, tuple(out), tuple(off), tuple(back)), state


def book_requests(graph: DecisionGraph, ev: Evaluation, snapshots: Iterable[Snapshot]) -> dict[str, dict[str, int]]:
    """The books this evaluation's plans need and ``snapshots`` lack: by account
    (``venue/account``), the symbols a reduce-only close is planned for by a policy whose unwind
    reads the book, each with the depth to fetch (the largest any such policy asks)."""
    have = {f"{s.venue}/{s.account}": s.books for s in snapshots}
    policies = {p.name: p for p in graph.policies}
    out: dict[str, dict[str, int]] = {}
    for se in ev.scopes:
        policy = policies.get(se.policy)
        if se.plan is None or policy is None or not policy.unwind.uses_book:
            continue
        for o in se.plan.orders:
            key = f"{o.venue}/{o.account}"
            if o.reduce_only and o.symbol not in have.get(key, {}):
                wants = out.setdefault(key, {})
                wants[o.symbol] = max(wants.get(o.symbol, 0), policy.unwind.depth)
    return out


def replan(graph: DecisionGraph, ev: Evaluation, snapshots: Iterable[Snapshot], state: State,
           rates: Mapping[str, float] = NO_RATES) -> Evaluation:
    """Plan again, with the books ``snapshots`` now carry, every plan of ``ev`` that closes a
    position for a policy whose unwind reads the book. The same decisions, stages, cancels and
    directives: only the orders (and what was skipped) change. ``state`` is the one ``evaluate``
    returned, unchanged since (read only: the PnL history the attribution reads)."""
    snaps = list(snapshots)
    tables = Tables()
    policies = {p.name: p for p in graph.policies}
    views: dict[str, dict[str, ScopeView]] = {}
    scopes = []
    for se in ev.scopes:
        policy = policies.get(se.policy)
        p = se.plan
        if p is None or policy is None or not policy.unwind.uses_book or not p.orders:
            scopes.append(se)
            continue
        if se.policy not in views:
            views[se.policy] = {v.key: v for v in instances(policy, snaps, tables)}
        view = views[se.policy].get(se.scope)
        hist = state.pnl.get(history_for(policy)[0])
        if view is None or hist is None:
            scopes.append(se)
            continue
        deferred = any(x.startswith("DEFERRED:") for x in p.skipped)
        again = plan(policy, policy.stage(p.stage), view, p.decision_id, ev.now_ms, hist, closes_only=deferred,
                     rates=rates)
        scopes.append(replace(se, plan=replace(p, orders=again.orders, skipped=again.skipped,
                                               residuals=again.residuals)))
    return replace(ev, scopes=tuple(scopes))
