"""The typed nodes of the decision graph: one frozen dataclass per signal kind and per action kind,
and the policy-wide settings the planner reads (attribution, risk weights, groups, unwind).

The compiler resolves every parameter once, so nothing after it parses a policy's text again:

* durations are whole milliseconds, in fields ending ``_ms`` (as
  :class:`~killswitch.policy.units.Duration` holds them);
* ratios and percentages are fractions (``4.5%`` is ``0.045``);
* amounts are numbers in the account's quote currency (``50k`` is ``50000.0``);
* lists are tuples.

``kind`` is the policy language's name of the kind (``equity_drawdown``, ``close_all``), so code
can switch on it; a class serves one kind, except :class:`TailRiskSignal` (value at risk and
expected shortfall), and :class:`KindSignal` and :class:`KindAction`, which serve every kind of a
module of its own. ``written`` keeps the parameters as the policy wrote them, in canonical text
(``{"window": "15m", "min_coverage": "80%"}``), for what people read: rendered graphs, runbooks,
the directives of a plan. It is never read for a decision.

The graph's digest is not computed from these nodes but from the policy's canonical form
(:mod:`.graph`), so adding a field here never changes a digest.

Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import Any, Callable, Mapping, Optional

from ..policy.expr import ValueType
from ..policy.positions import PositionCondition  # compiled where: (position_count, close_positions)
from ..policy.registry import ActionPlanning, KeptState, Reading, SignalInputs
from ..records import record

# --- signals -------------------------------------------------------------------------------------


@record
class HistoryNeed:
    """How long after its first tick a signal first has a value, at the earliest (every tick on
    time, equity known throughout): ``ms``, on the policy's ticks, or None when it never has one
    (its window cannot hold the history its coverage counts); ``what`` says what it waits for, as
    the policy wrote it (``80% of 1h``)."""

    ms: Optional[int]
    what: str


def _on_ticks(ms: float, interval_ms: int) -> int:
    """The first tick at or after ``ms`` from the first one (ticks every ``interval_ms``)."""
    if interval_ms <= 0:
        return math.ceil(ms)
    return math.ceil(ms / interval_ms - 1e-9) * interval_ms


def _returns_need(window_ms: int, sample_ms: int, min_coverage: float, least: int, interval_ms: int,
                  written: Mapping[str, Any], sample_key: str) -> Optional[HistoryNeed]:
    """Sampled returns: the first sample is a price, each later one (at the first tick ``sample``
    after the one before) a return; the coverage counts returns × sample over the window, and the
    statistic needs at least ``least`` returns."""
    if sample_ms <= 0 or window_ms <= 0:
        return None
    count = max(math.ceil(min_coverage * window_ms / sample_ms - 1e-9), least)
    step = _on_ticks(sample_ms, interval_ms)
    what = f"{written.get('min_coverage', f'{min_coverage:.0%}')} of {written.get('window')} " \
           f"in {written.get(sample_key)} returns"
    if count > window_ms // step + 1:  # more returns than the window keeps, a step apart
        return HistoryNeed(None, what)
    return HistoryNeed(count * step, what)


@record(kw_only=True)
class SignalNode:
    """A signal of one kind; a subclass per kind holds its parameters."""

    name: str
    kind: str
    type: ValueType
    written: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def history_need(self, interval_ms: int) -> Optional[HistoryNeed]:
        """How long after its first tick the signal first has a value (None: from the first tick
        on). Only signals that wait for a window's coverage have a need; the API statistics have
        a value at the first tick (a snapshot is at least one call), a heartbeat's grace reads 0s."""
        return None


@record(kw_only=True)
class WindowedSignal(SignalNode):
    """A signal that keeps state over a window between ticks."""

    window_ms: int  # the longest history the signal reads, for bounding state
    # Names the state the signal keeps (its family, window and parameters): a change of any of
    # them starts the state anew. Saved with the state, so its form must not change.
    state_key: str


@record(kw_only=True)
class EquityDrawdownSignal(WindowedSignal):
    """equity_drawdown: the fall of equity from its peak in the window."""

    kind: str = "equity_drawdown"
    min_coverage: float

    def history_need(self, interval_ms: int) -> Optional[HistoryNeed]:
        """Coverage is the time from the oldest sample in the window to now, over the window."""
        need = self.window_ms * self.min_coverage
        if need <= 0:
            return None
        w = self.written
        return HistoryNeed(_on_ticks(need, interval_ms),
                           f"{w.get('min_coverage', f'{self.min_coverage:.0%}')} of {w.get('window')}")


@record(kw_only=True)
class RealizedVolatilitySignal(WindowedSignal):
    """realized_volatility: the standard deviation of equity log returns sampled in the window."""

    kind: str = "realized_volatility"
    sample_ms: int
    min_coverage: float
    # annualize: true → 365 days / sample (the stdev is scaled by its square root); None: per sample
    periods_per_year: Optional[float]

    def history_need(self, interval_ms: int) -> Optional[HistoryNeed]:
        # a standard deviation needs two returns, whatever the coverage asks
        return _returns_need(self.window_ms, self.sample_ms, self.min_coverage, 2, interval_ms, self.written, "sample")


@record(kw_only=True)
class TailRiskSignal(WindowedSignal):
    """``value_at_risk`` or ``expected_shortfall`` (``kind`` says which)."""

    confidence: float
    horizon_ms: int
    min_coverage: float

    def history_need(self, interval_ms: int) -> Optional[HistoryNeed]:
        # a quantile needs one return, whatever the coverage asks
        return _returns_need(self.window_ms, self.horizon_ms, self.min_coverage, 1, interval_ms, self.written,
                             "horizon")


@record(kw_only=True)
class ApiErrorRateSignal(WindowedSignal):
    """api_error_rate: the fraction of exchange calls that failed in the window."""

    kind: str = "api_error_rate"


@record(kw_only=True)
class ApiLatencySignal(WindowedSignal):
    """api_latency: a quantile of the exchange calls' latency in the window."""

    kind: str = "api_latency"
    quantile: float


@record(kw_only=True)
class KindSignal(SignalNode):
    """A signal of a kind that lives in a module of its own (:mod:`killswitch.policy.kinds`):
    ``params`` is what its entry's ``build`` made of the validated parameters (frozen), and
    ``evaluate(params, inputs, now)`` gives its reading each tick (``reads_book``: as its entry).
    A kind that keeps a state between ticks has ``state`` instead (its entry's
    :class:`~killswitch.policy.registry.KeptState`) and ``state_key``, the name the engine keeps
    and saves the state under: the state's name, and the parameters as written when there are
    some (a change of them starts the state anew)."""

    params: Any
    evaluate: Optional[Callable[[Any, SignalInputs, int], Reading]] = field(compare=False, repr=False)
    reads_book: bool = True
    state: Optional[KeptState] = field(default=None, compare=False, repr=False)
    state_key: Optional[str] = None


# --- actions -------------------------------------------------------------------------------------


@record(kw_only=True)
class ActionNode:
    """An action of a stage; a subclass per kind holds its parameters."""

    kind: str
    written: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@record(kw_only=True)
class ReduceTopRiskAction(ActionNode):
    """reduce_top_risk: part of the positions the risk score ranks first."""

    kind: str = "reduce_top_risk"
    count: int
    fraction: float  # of each chosen position, in (0, 1]
    side: str  # losing | long | short | any
    close_within_liquidation: Optional[float]  # close in full a position this close to liquidation
    on_unknown_side: str  # skip | any


@record(kw_only=True)
class ClosePositionsAction(ActionNode):
    """close_positions: in full, the positions that pass every selector given (the worst ``count`` of them)."""

    kind: str = "close_positions"
    symbols: tuple[str, ...]
    side: str  # long | short | any
    min_loss: Optional[float]  # a fraction of equity
    correlation_group: Optional[str]
    where: Optional[PositionCondition]
    count: Optional[int]  # close only the count worst of the selected positions
    rank_by: Optional[str]  # set with count: risk_score | loss_on_equity|margin|notional | liquidation_distance


@record(kw_only=True)
class CloseAllAction(ActionNode):
    """close_all: every position of the scope."""

    kind: str = "close_all"


@record(kw_only=True)
class ArmExchangeDmsAction(ActionNode):
    """arm_exchange_dms: the venue's own dead man's switch, armed to fire after ``after_ms``."""

    kind: str = "arm_exchange_dms"
    after_ms: int


@record(kw_only=True)
class RevokeTradingAction(ActionNode):
    """The bots' keys made read-only at the venue on every account the scope instance reaches;
    the runner carries it out (``runner/effects/revokes.py``), restored only by the stage's reset."""

    kind: str = "revoke_trading"


@record(kw_only=True)
class NotifyAction(ActionNode):
    """notify: a notification through a route, at a severity."""

    kind: str = "notify"
    route: str
    severity: str  # info | warning | critical


@record(kw_only=True)
class RunbookAction(ActionNode):
    """runbook: the template the stage's runbook is rendered from."""

    kind: str = "runbook"
    template: str


@record(kw_only=True)
class KindAction(ActionNode):
    """An action of a kind that lives in a module of its own (:mod:`killswitch.policy.kinds`):
    ``params`` is what its entry's ``build`` made of the validated parameters (frozen), and
    ``plan(params, planning)`` says on a stage entry what it does — the closes, cancels and lock
    it asks for (``closes``, ``after_closes``: as its entry)."""

    params: Any
    plan: Callable[[Any, ActionPlanning], None] = field(compare=False, repr=False)
    closes: bool = False
    after_closes: bool = False


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
    "SignalNode", "WindowedSignal", "EquityDrawdownSignal",
    "RealizedVolatilitySignal", "TailRiskSignal", "PositionCondition",
    "ApiErrorRateSignal",
    "ApiLatencySignal", "KindSignal",
    "ActionNode", "ReduceTopRiskAction", "ClosePositionsAction",
    "CloseAllAction", "ArmExchangeDmsAction", "RevokeTradingAction", "NotifyAction",
    "RunbookAction", "KindAction",
    "AttributionNode", "RiskWeightsNode", "CorrelationGroupNode", "UnwindNode", "DEFAULT_BOOK_DEPTH",
]
