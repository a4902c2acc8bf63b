"""The decision graph: what the engine evaluates, frozen, with a digest.

A :class:`DecisionGraph` is built once by the compiler and never changes; a policy reload
builds a new one and swaps it in. It is fully compiled: every node is typed (signals and actions
one class per kind, :mod:`.nodes`, parameters resolved to numbers), and nothing after the
compiler reads the pydantic documents. Its digest is the sha256 of a canonical JSON form that
leaves out positions, comments, descriptions and key order, so reformatting a policy or
fixing a typo in a description keeps the digest, while any change in behaviour changes it.
Every decision, journal row, span and runbook names the digest and the git revision.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import field
from functools import cached_property
from typing import Any, Mapping, Optional, Sequence

from ..policy.expr import Node
from ..policy.expr.eval import Comparison, Predicate, comparisons
from ..policy.time_intervals import Window
from ..records import record
from .limits_node import LimitsNode
from .nodes import (
    ActionNode as ActionNode,
    AttributionNode,
    CorrelationGroupNode,
    RiskWeightsNode,
    SignalNode as SignalNode,
    UnwindNode,
)

FORMAT_VERSION = 1


@record
class Source:
    """Where a node was declared: its file, line and column (1-based)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@record
class TriggerNode:
    """A trigger, compiled: its canonical condition, what it reads, and when it fires and stops."""

    name: str
    when: str  # canonical condition text
    reads: tuple[str, ...]
    confirm_ticks: Optional[int]
    confirm_s: Optional[float]
    keep_firing_for_s: Optional[float]
    on_missing_data: str
    ast: Node = field(compare=False, repr=False)
    predicate: Predicate = field(compare=False, repr=False)

    @cached_property
    def comparisons(self) -> tuple[Comparison, ...]:
        """Every comparison of the condition (:func:`killswitch.policy.expr.eval.comparisons`), walked
        once: a runbook's incident and the readout ask for them again for every stage and view."""
        return tuple(comparisons(self.ast))

    @cached_property
    def computed(self) -> tuple[Comparison, ...]:
        """The comparisons whose threshold is computed at every tick (``max(4.5%, 3 * vol_1h)``),
        each once, in the order written: what the engine records the value of at every tick."""
        return tuple(dict.fromkeys(c for c in self.comparisons if c.computed))


@record
class StageNode:
    """A stage, compiled: its level, the triggers that enter it, how it resets, and its actions."""

    level: int
    name: str
    on: tuple[str, ...]
    cooldown_s: Optional[float]
    reset: str
    reset_after_s: Optional[float]
    approvals: int
    actions: tuple[ActionNode, ...]
    window: Optional[Window] = None  # during/outside: entered only while open (never reset by it)

    @property
    def manual(self) -> bool:
        return self.reset == "manual"


@record
class WindowLockNode:
    """``spec.lock_trading``, compiled (:mod:`.windows`): the mode it holds every scope instance at
    while its window is open, and what the lock makes hold at the venue (as a ``lock_trading``
    action's)."""

    mode: str  # reducing | halted
    window: Window
    cancel: bool
    revert_growth: bool


@record
class ResumeNode:
    """After a reset of a stage at ``from_level`` or above: limits at ``start_fraction`` of the
    normal ones, ×``step_factor`` every ``step_ms``, until normal (see the runner's gate)."""

    start_fraction: float
    step_factor: float
    step_ms: int
    from_level: int  # 1: any stage's reset
    max_positions: Optional[int]
    max_gross_exposure: Optional[float]


@record
class PolicyNode:
    """One policy, compiled. Durations of stages and triggers are float seconds (``*_s``), those
    of signal and action parameters and the policy-wide settings whole milliseconds (``*_ms``):
    each field's suffix says which."""

    name: str
    source: Source
    canonical: dict[str, Any] = field(repr=False)  # the behaviour-defining form, digested
    interval_s: float = 5.0
    scope: dict[str, Any] = field(default_factory=dict)
    signals: tuple[SignalNode, ...] = ()
    triggers: tuple[TriggerNode, ...] = ()
    stages: tuple[StageNode, ...] = ()  # ordered by level
    notify_route: Optional[str] = None
    runbook: Optional[str] = None
    resume: Optional[ResumeNode] = None  # trading limits after a reset (in the canonical form too)
    owner: Optional[str] = None  # metadata.owner
    labels: Mapping[str, str] = field(default_factory=dict)  # metadata.labels
    description: Optional[str] = field(default=None, compare=False)  # metadata.description (not digested)
    attribution: AttributionNode = AttributionNode()
    risk_weights: RiskWeightsNode = RiskWeightsNode()
    correlation_groups: tuple[CorrelationGroupNode, ...] = ()
    unwind: UnwindNode = UnwindNode()
    while_blind_lock: Optional[str] = None  # spec.while_blind.lock_trading: the mode a blind scope is held at
    limits: Optional[LimitsNode] = None  # spec.limits: the pre-trade limits of every scope instance
    window_lock: Optional[WindowLockNode] = None  # spec.lock_trading: a lock by the clock

    def signal(self, name: str) -> SignalNode:
        return next(s for s in self.signals if s.name == name)

    def trigger(self, name: str) -> TriggerNode:
        return next(t for t in self.triggers if t.name == name)

    def stage(self, level: int) -> StageNode:
        return next(s for s in self.stages if s.level == level)


@record
class DecisionGraph:
    """Every policy compiled, with the digest of their canonical form and their git revision."""

    policies: tuple[PolicyNode, ...]
    digest: str
    revision: Optional[str] = None

    @staticmethod
    def build(policies: list[PolicyNode], revision: Optional[str]) -> "DecisionGraph":
        ordered = tuple(sorted(policies, key=lambda p: p.name))
        return DecisionGraph(ordered, digest_of(ordered), revision)

    def policy(self, name: str) -> PolicyNode:
        return next(p for p in self.policies if p.name == name)

    def canonical(self) -> dict[str, Any]:

        return {"format_version": FORMAT_VERSION, "policies": [p.canonical for p in self.policies]}

    @property
    def short_digest(self) -> str:
        return self.digest[:12]


def tick_interval_s(graph: DecisionGraph, also: Sequence[float] = ()) -> float:
    """The pace a runner of ``graph`` ticks at: its most frequent policy's interval, or a shorter
    one of ``also`` (a shard's firm-wide policies': it publishes their facts every tick); 5 s with
    none. Here, beside the graph, so that a check of the pace (``ksctl validate``'s weight
    budget) reads it without loading the runner."""
    return min([p.interval_s for p in graph.policies] + list(also), default=5.0)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(policies: tuple[PolicyNode, ...]) -> str:
    body = canonical_json({"format_version": FORMAT_VERSION, "policies": [p.canonical for p in policies]})
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()
