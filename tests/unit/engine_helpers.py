"""Helpers for the engine tests: compile small inline policies, build snapshots, drive ticks.
:func:`guard_policy` is the one guard policy the runner's, the faces' and the CLI's tests run
(a stage entered when bot-x falls silent), :func:`loss_policy` the one that flattens on a
position's loss; each varied by what a test needs of it.

Time is integer milliseconds and always given by the test (a fake clock); nothing here reads
the wall clock.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence, Union

from killswitch.compile.compiler import compile_documents
from killswitch.compile.graph import DecisionGraph, PolicyNode
from killswitch.engine.evaluate import Evaluation, ScopeEvaluation, evaluate
from killswitch.engine.state import State
from killswitch.policy.load import load_sources, load_text
from killswitch.policy.registry import PositionAggregates
from killswitch.snapshot import Balance, FetchStatus, MarketRules, Order, Position, Snapshot

SEC = 1_000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR


def compile_graph(text: Union[str, Iterable[tuple[str, str]]], file: str = "inline.yaml",
                  revision: Optional[str] = None, *, clean: bool = False) -> DecisionGraph:
    """Compile one or more inline YAML documents, read as ``file`` (or several ``(file, text)``
    sources, as read), at ``revision``; fail the test on any error diagnostic (on any diagnostic
    at all, warnings too, if ``clean``)."""
    loaded = load_text(textwrap.dedent(text), file) if isinstance(text, str) else load_sources(text)
    result = compile_documents(loaded, revision)
    errors = [d for d in result.diagnostics if d.is_error or clean]
    assert not errors, errors
    assert result.graph is not None
    return result.graph


def policy_text(
    signals: str,
    triggers: str,
    stages: str,
    *,
    name: str = "p",
    scope: str = "{level: account}",
    interval: str = "1m",
    extra: str = "",
) -> str:
    """A Policy document from YAML fragments (each fragment indented as a block under its key)."""

    def block(s: str) -> str:
        return textwrap.indent(textwrap.dedent(s).strip("\n"), "    ")

    doc = (
        "apiVersion: killswitch/v1\n"
        "kind: Policy\n"
        f"metadata: {{name: {name}}}\n"
        "spec:\n"
        f"  scope: {scope}\n"
        f"  interval: {interval}\n"
        "  signals:\n" + block(signals) + "\n"
        "  triggers:\n" + block(triggers) + "\n"
        "  stages:\n" + block(stages) + "\n"
    )
    if extra:
        doc += textwrap.indent(textwrap.dedent(extra).strip("\n"), "  ") + "\n"
    return doc


def policy_graph(*args, **kwargs) -> DecisionGraph:
    return compile_graph(policy_text(*args, **kwargs))


def single_signal_graph(signal_yaml: str, when: str, on_missing: str = "ignore", scope: str = "{level: account}",
                        interval: str = "1m") -> DecisionGraph:
    """A policy with one signal ``s`` read by one trigger ``t`` that enters a one-stage ladder."""
    return policy_graph(
        f"s: {signal_yaml}",
        f't: {{when: "{when}", on_missing_data: {on_missing}}}',
        "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}",
        scope=scope,
        interval=interval,
    )


def pos(
    symbol: str = "BTC/USDT:USDT",
    side: str = "long",
    contracts: float = 1.0,
    mark: float = 100.0,
    pnl: float = 0.0,
    *,
    notional: Optional[float] = None,
    liq: Optional[float] = None,
    margin: Optional[float] = None,
    position_side: Optional[str] = None,
    strategy: Optional[str] = None,
    entry: Optional[float] = None,
) -> Position:
    return Position(
        symbol=symbol, side=side, contracts=contracts, mark_price=mark, unrealized_pnl=pnl,
        notional=contracts * mark if notional is None else notional, liquidation_price=liq, margin=margin,
        position_side=position_side, strategy=strategy, entry_price=entry,
    )


def order(oid: str, symbol: str = "BTC/USDT:USDT", side: str = "buy", *, reduce_only: bool = False,
          type: str = "limit", amount: float = 1.0, price: Optional[float] = 100.0) -> Order:
    return Order(id=oid, symbol=symbol, side=side, type=type, reduce_only=reduce_only, amount=amount, price=price)


def snap(
    equity: Optional[float] = 10_000.0,
    ts: int = 0,
    *,
    venue: str = "simulated",
    account: str = "a",
    market_type: str = "futures",
    positions: Sequence[Position] = (),
    orders: Sequence[Order] = (),
    balances: Sequence[Balance] = (),
    ok: bool = True,
    latency_ms: Optional[float] = None,
    calls: int = 0,
    failed_calls: int = 0,
    markets: Optional[dict] = None,
    initial_capital: Optional[float] = None,
    labels: Optional[dict] = None,
    quote: str = "USDT",
    strategies: Optional[Sequence[str]] = None,
) -> Snapshot:
    fetch = FetchStatus(ok=ok, error_code=None if ok else "EXCHANGE_UNAVAILABLE", latency_ms=latency_ms,
                        calls=calls, failed_calls=failed_calls)
    return Snapshot(
        venue=venue, account=account, market_type=market_type, ts_event=ts, ts_observed=ts,
        equity=equity if ok else None, quote_currency=quote, balances=list(balances), positions=list(positions),
        orders=list(orders), fetch=fetch, labels=labels or {}, markets=markets or {},
        initial_capital=initial_capital, strategies=None if strategies is None else tuple(strategies),
    )


def failed(ts: int, **kw) -> Snapshot:
    """A failed fetch: still a snapshot, with no equity and no positions."""
    return snap(None, ts, ok=False, **kw)


def run(graph: DecisionGraph, ticks: Iterable[tuple[int, Sequence[Snapshot]]], state: Optional[State] = None,
        ) -> tuple[list[Evaluation], State]:
    """Evaluate one tick per (now_ms, snapshots) pair, carrying the state along."""
    evs = []
    state = state or State()
    for now, snaps in ticks:
        ev, state = evaluate(graph, list(snaps), state, now)
        evs.append(ev)
    return evs, state


def only(ev: Evaluation, policy: Optional[str] = None, scope: Optional[str] = None) -> ScopeEvaluation:
    """The one scope evaluation of ``ev`` (optionally of a given policy and scope)."""
    found = [s for s in ev.scopes if (policy is None or s.policy == policy) and (scope is None or s.scope == scope)]
    assert len(found) == 1, [(s.policy, s.scope) for s in ev.scopes]
    return found[0]


def signal(ev: Evaluation, name: str = "s", scope: Optional[str] = None):
    return next(v for v in only(ev, scope=scope).signals if v.name == name)


def trig(ev: Evaluation, name: str = "t", scope: Optional[str] = None):
    return next(t for t in only(ev, scope=scope).triggers if t.name == name)


HALTED = "{lock_trading: {mode: halted}}"
BY_BOOK = "{level: account, accounts: {match_labels: {book: futures}}}"


def one_stage(stage: str, on: str, actions: Sequence[str], *, reset: str = "reset: manual",
              approvals: Optional[int] = None) -> str:
    """A ladder of one stage, ``stage`` (level 1), entered on the trigger ``on`` and taking
    ``actions``; ``reset`` says how it ends (``reset: manual``, ``cooldown: 10m``; "" for the
    default), with the ``approvals`` of that many people where given."""
    rule = ", ".join(part for part in (f"level: 1, name: {stage}, on: [{on}]", reset,
                                       f"approvals: {approvals}" if approvals is not None else "") if part)
    return f"- {{{rule},\n   actions: [{', '.join(actions)}]}}"


def guard_policy(name: str = "bot-guard", *, scope: str = BY_BOOK, stage: str = "halt",
                 reset: str = "reset: manual", approvals: Optional[int] = None,
                 actions: Sequence[str] = (HALTED,)) -> str:
    """The guard policy: ``name`` (every 5s, over ``scope``) enters its one stage (:func:`one_stage`)
    once bot-x's heartbeat is over a minute old (held while it is unknown)."""
    return policy_text("bot: {heartbeat_age: {source: bot-x}}", 'silent: {when: "bot > 60s", on_missing_data: hold}',
                       one_stage(stage, "silent", actions, reset=reset, approvals=approvals),
                       name=name, scope=scope, interval="5s")


def loss_policy(name: str, *, scope: str = BY_BOOK, interval: str = "1s", at: str = "10%",
                actions: Sequence[str] = ("close_all",), unwind: str = "") -> str:
    """The flattening policy: ``name`` (every ``interval``, over ``scope``) enters its one stage,
    ``flatten`` (a manual reset), taking ``actions`` once a position's loss on its notional
    reaches ``at`` (held while it is unknown); ``unwind``: the spec's unwind block, if any."""
    return policy_text("loss: {position_loss: {of: notional}}",
                       f'hard: {{when: "loss >= {at}", on_missing_data: hold}}', one_stage("flatten", "hard", actions),
                       name=name, scope=scope, interval=interval, extra=f"unwind: {unwind}" if unwind else "")


def policy_node(graph: DecisionGraph, name: str = "p") -> PolicyNode:
    return graph.policy(name)




def action_policy(action: str) -> str:
    """A policy whose one stage, entered when equity is 5% below 10k, holds ``action`` (a kind's tests)."""
    return policy_text("s: {equity_change: {against: baseline, baseline: 10k}}",
                       't: {when: "s <= -5%", on_missing_data: hold}',
                       f"- {{level: 1, name: cut, on: [t], actions: [{action}]}}")


def entry_plan(action: str, positions: list[Position], orders: list[Order], markets: dict[str, MarketRules]):
    """The plan of the tick that enters :func:`action_policy`'s stage over one account holding
    ``positions``, ``orders`` and ``markets``: equity at 10k, then 9k (-10%) a minute on."""
    graph = compile_documents(load_text(action_policy(action), "p.yaml")).graph
    ticks = [(0, [snap(10_000.0, 0, positions=positions, orders=orders, markets=markets)]),
             (MIN, [snap(9_000.0, MIN, positions=positions, orders=orders, markets=markets)])]
    evs, _ = run(graph, ticks)
    assert only(evs[0]).stage_after == 0
    se = only(evs[1])
    assert se.stage_after == 1 and se.plan is not None
    return se.plan


@dataclass
class AggregateInputs:
    """A scope's inputs to a kind that reads the position aggregates, written by hand: what the
    engine's KindInputs would give."""

    agg: PositionAggregates = field(default_factory=PositionAggregates)
    equity: Optional[float] = 10_000.0
    positions_known: bool = True

    def position_aggregates(self) -> PositionAggregates:
        return self.agg


__all__ = [
    "SEC", "MIN", "HOUR", "DAY", "compile_graph", "policy_text", "policy_graph", "single_signal_graph", "pos", "order",
    "snap", "failed", "run", "only", "signal", "trig", "policy_node", "Balance", "MarketRules", "Order", "Position",
    "Snapshot", "FetchStatus", "State", "action_policy", "entry_plan", "AggregateInputs", "HALTED", "BY_BOOK",
    "one_stage", "guard_policy", "loss_policy",
]
