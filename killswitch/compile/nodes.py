"""The typed nodes of the decision graph: a signal (:class:`SignalNode`) and an action
(:class:`ActionNode`) of any kind, and the policy-wide settings the planner reads (attribution,
risk weights, groups, unwind).

Each node holds what its kind's ``build`` made of the parameters (:mod:`killswitch.policy.kinds`)
and its kind's evaluation or planning, so no code asks which kind a node is. The compiler
resolves every parameter once, so nothing after it parses a policy's text again:

* durations are whole milliseconds, in fields ending ``_ms`` (as
  :class:`~killswitch.policy.units.Duration` holds them);
* ratios and percentages are fractions (``4.5%`` is ``0.045``);
* amounts are numbers in the account's quote currency (``50k`` is ``50000.0``);
* lists are tuples.

``kind`` is the policy language's name of the kind (``equity_drawdown``, ``close_all``), for
people and the journal. ``written`` keeps the parameters as the policy wrote them, in canonical text
(``{"window": "15m", "min_coverage": "80%"}``), for what people read: rendered graphs, runbooks,
the directives of a plan. It is never read for a decision.

The graph's digest is not computed from these nodes but from the policy's canonical form
(:mod:`.graph`), so adding a field here never changes a digest.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import field
from functools import cached_property
from typing import Any, Callable, Mapping, Optional

from ..policy.asked import Asked, asked
from ..policy.expr import ValueType
from ..policy.positions import PositionCondition  # compiled where: (position_count, close_positions)
from ..policy.registry import ActionPlanning, HistoryNeed, KeptState, Reading, SignalInputs
from ..records import record

# --- signals -------------------------------------------------------------------------------------


@record(kw_only=True)
class SignalNode:
    """A signal of a kind (each a module of :mod:`killswitch.policy.kinds`): ``params`` is what
    its entry's ``build`` made of the validated parameters (frozen), ``evaluate(params, inputs,
    now)`` its reading each tick (``reads_book``, ``need``: its ``history_need``, ``listens``: as
    its entry). A kind that keeps a state between ticks has ``state`` instead (its entry's
    :class:`~killswitch.policy.registry.KeptState`) and ``state_key``, the name the engine keeps
    and saves the state under: the state's name, and the parameters as written when there are
    some (a change of them starts the state anew)."""

    name: str
    kind: str
    type: ValueType
    written: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    params: Any
    evaluate: Optional[Callable[[Any, SignalInputs, int], Reading]] = field(compare=False, repr=False)
    reads_book: bool = True
    state: Optional[KeptState] = field(default=None, compare=False, repr=False)
    state_key: Optional[str] = None
    need: Optional[Callable[[Any, int], Optional[HistoryNeed]]] = field(default=None, compare=False, repr=False)
    listens: Optional[Callable[[Any], str]] = field(default=None, compare=False, repr=False)

    @property
    def heartbeat_source(self) -> Optional[str]:
        """The heartbeat source the signal listens to (its kind's ``listens``), or None."""
        return self.listens(self.params) if self.listens is not None else None

    def history_need(self, interval_ms: int) -> Optional[HistoryNeed]:
        """How long after its first tick the signal first has a value, for a kind that waits for
        its window's coverage (None: from the first tick on)."""
        return self.need(self.params, interval_ms) if self.need is not None else None


# --- actions -------------------------------------------------------------------------------------


@record(kw_only=True)
class ActionNode:
    """An action of a kind (each a module of :mod:`killswitch.policy.kinds`): ``params`` is what
    its entry's ``build`` made of the validated parameters (frozen), and ``plan(params,
    planning)`` says on a stage entry what it does — the closes, cancels and lock it asks for,
    what the runner carries out (``closes``, ``after_closes``, ``closes_all``: as its entry);
    :meth:`asks` is the same read without a scope."""

    kind: str
    written: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    params: Any
    plan: Callable[[Any, ActionPlanning], None] = field(compare=False, repr=False)
    closes: bool = False
    after_closes: bool = False
    closes_all: bool = False

    @cached_property
    def asks(self) -> Asked:
        """What the action asks for, reading nothing of a scope (:func:`~killswitch.policy.asked.asked`):
        what the runner, the sinks and the runbooks carry out, read without asking its kind."""
        return asked(self.plan, self.params)


# --- policy-wide settings ------------------------------------------------------------------------
# The defaults are the policy language's (policy/policy_doc.py); the compiler always sets every field.


@record
class AttributionNode:
    """Which side is bleeding: PnL change over ``reference_window_ms``, a side named when its
    share of the decline reaches ``source_threshold``."""

    reference_window_ms: int = 3_600_000
    source_threshold: float = 0.65
    missing_reference: str = "since_open"  # since_open | exclude


@record
class RiskWeightsNode:
    """The weights of the five components of a position's risk score (they sum to 1)."""

    pnl_delta: float = 0.40
    current_loss: float = 0.25
    liq_proximity: float = 0.20
    notional_share: float = 0.10
    margin_loss: float = 0.05


@record
class CorrelationGroupNode:
    """A correlation group: symbols unwound together."""

    name: str
    symbols: tuple[str, ...]


@record
class UnwindNode:
    """How closes are sent: the slippage cap of their limit price, chunks by notional, the
    order rate (None: the venue's, given to the planner with the snapshots), and the book:
    the impact cap per child order and how many levels of the book to read."""

    max_slippage: float = 0.02
    chunk_notional: Optional[float] = None
    orders_per_second: Optional[float] = None
    max_retries: int = 3
    max_impact: Optional[float] = None  # a fraction; with book_depth, order-book-aware unwinding
    book_depth: Optional[int] = None  # levels per side of the book a close is sized against

    @property
    def uses_book(self) -> bool:
        """Closes are sized and priced against the venue's book (max_impact or book_depth set)."""
        return self.max_impact is not None or self.book_depth is not None

    @property
    def depth(self) -> int:
        """Levels per side to fetch: book_depth, else :data:`DEFAULT_BOOK_DEPTH`."""
        return self.book_depth or DEFAULT_BOOK_DEPTH


DEFAULT_BOOK_DEPTH = 20


__all__ = [
    "HistoryNeed", "SignalNode", "PositionCondition", "ActionNode",
    "AttributionNode", "RiskWeightsNode", "CorrelationGroupNode", "UnwindNode", "DEFAULT_BOOK_DEPTH",
]
