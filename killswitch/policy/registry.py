"""What a signal kind or an action kind is: the entry every layer reads, and the base of its parameters.

What it owns: :class:`SignalKind` and :class:`ActionKind`, one entry per kind of the policy
language (its name, its parameters' model, its documentation, what the layers above need to
know of it), :class:`KeptState` (the slot of a signal kind that keeps a state between ticks),
:class:`HistoryNeed`, :class:`Strict` (the base of every model of the language) and
:class:`SignalParams` (the base of a signal kind's parameters). The catalogue itself — every
entry, in the order the language lists them — is :data:`killswitch.policy.signals.SIGNALS` and
:data:`killswitch.policy.actions.ACTIONS`: the kinds :mod:`killswitch.policy.kinds` finds, one
module each (a module there exposing its entry as ``KIND``), in the order the language always
had.

The entries sit at the bottom of the layers (policy → compile → engine …) so that every layer
may read them: the models build the ``Signal`` and ``Action`` documents and the JSON schema from
them; the compiler builds a kind's node with the entry's ``build``; the engine evaluates a kind
with its ``evaluate`` and plans an action with its ``plan``; coverage, runbooks and policy tests
read its flags. A kind module is pure and imports nothing above :mod:`killswitch.policy`: a
signal's evaluation reads the scope through :class:`SignalInputs`, which the engine hands it
from its scope view and state, and an action's planning asks for closes, cancels and locks
through :class:`ActionPlanning`, which the engine's planner hands it, so the kind needs no
engine type.

Pure: no I/O. (No ``from __future__ import annotations``: pydantic reads the annotations of
:class:`Strict` as the classes are made, as in :mod:`.model`.)
"""

from typing import Any, Callable, ClassVar, Collection, Iterable, Mapping, Optional, Protocol, Sequence, Union

from pydantic import BaseModel, ConfigDict

from ..records import record
from .expr import ValueType
from .positions import PositionCondition


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SignalParams(Strict):
    """The parameters of one signal kind, as a policy writes them."""

    value_type: ClassVar[ValueType] = ValueType.RATIO
    # Bounds of what the signal can report, for static threshold checks (None: unbounded).
    bounds: ClassVar[tuple[Optional[float], Optional[float]]] = (0.0, 1.0)
    window_field: ClassVar[Optional[str]] = None
    # the fields the checks read: the period a return is sampled over, a position condition
    sample_field: ClassVar[Optional[str]] = None
    condition_field: ClassVar[Optional[str]] = None


# What of the scope's position aggregates a signal reads (SignalKind.aggregates): the engine's
# pass computes only what some signal of the scope reads.
GROSS = "gross"  # gross: the notionals summed
NET = "net"  # net: the signed notionals summed
LOSSES = "losses"  # max_loss, sum_loss: the losing positions' losses
MARGIN_LOSSES = "margin_losses"  # max_margin_loss, sum_margin_loss: their losses over their margins
NOTIONAL_LOSSES = "notional_losses"  # max_notional_loss, sum_notional_loss, sum_entry_notional, no_entry_price
LIQUIDATION = "liquidation"  # min_liq
GROUPS = "groups"  # by_symbol, by_base: the notionals summed per symbol and per base asset
AGGREGATES = frozenset((GROSS, NET, LOSSES, MARGIN_LOSSES, NOTIONAL_LOSSES, LIQUIDATION, GROUPS))


@record
class PositionAggregates:
    """The sums and extremes over one scope instance's positions at one tick, from the engine's one
    pass over them, shared by every signal of the scope that reads them. Only what the scope's
    signals read is computed (the others keep these defaults): see :data:`AGGREGATES`.

    ``gross``: the notionals summed; ``net``: the signed notionals (short negative) summed;
    ``max_loss`` / ``sum_loss``: the worst losing position's loss and the losses summed (0 without
    one); ``max_margin_loss`` / ``sum_margin_loss``: the same of each losing position's loss over
    its margin, those reporting a margin (None: none does); ``max_notional_loss`` /
    ``sum_notional_loss`` / ``sum_entry_notional``: the worst loss over entry notional, and the
    losses and entry notionals of the losing positions summed, those reporting an entry price,
    ``no_entry_price`` the symbols of the losing positions that report none (in their order);
    ``min_liq``: the smallest distance from mark to liquidation price over the mark (None: no
    position reports one); ``by_symbol`` / ``by_base``: the notionals summed per symbol and per
    base asset (``BTC/USDT:USDT`` → ``BTC``)."""

    gross: float = 0.0
    net: float = 0.0
    max_loss: float = 0.0
    sum_loss: float = 0.0
    max_margin_loss: Optional[float] = None
    sum_margin_loss: float = 0.0
    max_notional_loss: float = 0.0
    sum_notional_loss: float = 0.0
    sum_entry_notional: float = 0.0
    no_entry_price: tuple[str, ...] = ()
    min_liq: Optional[float] = None
    by_symbol: Optional[Mapping[str, float]] = None
    by_base: Optional[Mapping[str, float]] = None


class SignalInputs(Protocol):
    """What a kind's ``evaluate`` may read of one scope instance at one tick (the engine hands
    it, from its scope view and its state): its accounts' snapshots
    (:class:`killswitch.snapshot.Snapshot`; typed Any here, as the snapshot sits above this
    layer), the scope's equity, whether its positions and orders are known (every account
    fetched), which open orders it owns (a strategy- or symbol-scoped instance owns those of its
    strategy or symbols), how old an account's data is at ``now`` in ms (since its newest
    good snapshot, or, for a frozen feed, since its content first arrived; None: no good snapshot
    yet), an account's references for a change of equity: the first equity the engine saw of
    it and its equity at the open of the UTC day (None: not seen yet), and when a heartbeat
    source last beat, in ms (None: never heard from). A position condition's verdict on one of
    the scope's positions comes from it too (``holds``, and ``unknown_facts`` for the reason of
    an unknown verdict): the engine computes a position's facts, as for a close by condition.
    The scope's position aggregates (``position_aggregates``) come from the engine's one pass over
    its positions, made once a tick on the first signal that asks, computing what every signal
    of the scope reads (their kinds' ``aggregates``)."""

    @property
    def snapshots(self) -> Sequence[Any]: ...

    @property
    def equity(self) -> Optional[float]: ...

    @property
    def positions_known(self) -> bool: ...

    def owns_order(self, o: Any) -> bool: ...

    def data_age_ms(self, snapshot: Any, now: int) -> Optional[int]: ...

    def first_equity(self, snapshot: Any) -> Optional[float]: ...

    def day_open_equity(self, snapshot: Any) -> Optional[float]: ...

    def heartbeat_ms(self, source: str) -> Optional[int]: ...

    def violations(self, source: str, window_ms: int, codes: Optional[Collection[str]], now: int
                   ) -> tuple[Optional[float], Optional[str]]:
        """How many violations ``source`` saw (``gate``: the gate's refusals; ``venue``: the
        venue watch's) of the scope instance's accounts, strategies and symbols, with a code among
        ``codes`` (None: any), in the ``window_ms`` up to ``now``; None and why when the count
        cannot be told (counting began after the window's start, or a count was dropped)."""
        ...

    def positions(self) -> Iterable[tuple[Any, Any]]:
        """The scope instance's positions as ``(snapshot, position)``, those it owns only (a
        strategy- or symbol-scoped instance: those of its strategy or symbols); the position has
        ``symbol``, ``side``, ``contracts``, ``notional``, ``mark_price``, ``unrealized_pnl``."""
        ...

    def holds(self, where: PositionCondition, position: Any) -> Optional[bool]:
        """Whether ``where`` holds for one of the scope's positions: True, False, or None when a
        fact it reads is unknown for it."""
        ...

    def unknown_facts(self, where: PositionCondition, position: Any) -> list[str]:
        """The facts ``where`` reads that are unknown for the position."""
        ...

    def position_aggregates(self) -> PositionAggregates:
        """The sums and extremes over the scope's positions that its signals read (the others at
        their defaults); read them only while the positions are known."""
        ...

    def position_column(self, name: str) -> Sequence[Any]:
        """The values of one field of the scope instance's positions (those it owns), in their
        order, from the engine's columns: ``name`` is a field the snapshot's ``Position`` declares
        a column (``liquidation_price``), so a kind reads a field no other kind reads without a
        model read per position or a sum added to the engine's pass. Read-only (shared); read it
        only while the positions are known."""
        ...

    def position_key(self, snapshot: Any, position: Any) -> str:
        """The name the engine gives a position from one tick to the next (its account, symbol and
        position side): what a kind keeping a state per position keys it by."""
        ...


# A signal's value at one tick: (value, None), or (None, reason code) when it is unknown, and
# for too little history when the window will hold enough if every tick reads (ms). A value may
# carry a note for its readers (heartbeat_age's NEVER_HEARD); the engine compares the value alone.
Reading = Union[tuple[Optional[float], Optional[str]], tuple[Optional[float], Optional[str], Optional[int]]]


@record
class HistoryNeed:
    """How long after its first tick a signal first has a value, at the earliest (every tick on
    time, equity known throughout): ``ms``, on the policy's ticks, or None when it never has one
    (its window cannot hold the history its coverage counts); ``what`` says what it waits for, as
    the policy wrote it (``80% of 1h``)."""

    ms: Optional[int]
    what: str


@record
class KeptState:
    """What a signal kind keeps from one tick to the next, per scope instance and signal, and
    its evaluation over it: the slot of a kind that needs a history (a streak, a window).

    ``initial(params)`` is the state of the signal's first tick (and of the first after the
    policy changed the signal's parameters); ``evaluate(params, inputs, now, state)`` gives the
    reading and the state of the next tick (the state it was given, updated in place, or a new
    one). The engine keeps the state with its own and saves it with it: the state is a JSON value
    (booleans, numbers, strings, lists, dicts with string keys), saved and restored as it is, so
    ``evaluate`` reads a restored state as the one it returned (a tuple comes back a list). None
    is no state: given None back, the engine keeps and saves nothing new for the signal (a kind
    that needs a state only at times, such as a wait, keeps none the rest of the time).

    ``name`` is what the state is saved under (with the parameters as written, when the signal
    has some: a change of them starts the state anew; or, with ``key``, with what ``key`` makes
    of the built parameters, when only some of them make another state). A saved state is read
    back by that name: it must not change once a release saved it (or every saved state of the
    kind restarts), and two kinds may not share it, nor take one of the engine's own (the engine
    refuses both at import), unless they save it in one form (one ``load``). A state that is not
    a JSON value (a window) gives ``save`` (to JSON) and ``load`` (from it, after a restart)."""

    name: str
    initial: Callable[[Any], Any]
    evaluate: Callable[[Any, SignalInputs, int, Any], tuple[Reading, Any]]
    key: Optional[Callable[[Any], str]] = None
    save: Optional[Callable[[Any], Any]] = None
    load: Optional[Callable[[Any], Any]] = None


def no_parameters(p: Any) -> None:
    """The ``build`` of a kind that keeps no parameters (its graph node holds None)."""
    return None


@record
class SignalKind:
    """One signal kind of the language.

    Every kind is a module of :mod:`killswitch.policy.kinds` and gives ``build`` and
    ``evaluate``: ``build`` turns the validated parameters into the frozen value the graph keeps
    (so that nothing after the compiler reads the pydantic model), ``evaluate(params, inputs,
    now)`` gives its reading. A kind that keeps a state between ticks (a streak, a window of
    samples) gives ``state`` (:class:`KeptState`: the state's name, its first value and the
    evaluation over it) instead of ``evaluate``, and a kind that waits for its window's coverage
    its ``history_need``. The compiler and the engine never ask which kind a signal is. A kind
    that reads the scope's position aggregates (``position_aggregate``) says which with
    ``aggregates(params)``: the names of :data:`AGGREGATES` a signal of it reads, given its built
    parameters (the engine's pass computes those its scope's signals read)."""

    name: str
    model: type[SignalParams]
    # its value comes from the accounts' books: a stale or frozen feed makes it judge old data
    # (coverage calls a trigger reading it blind); False for what measures the feed or the bots
    reads_book: bool = True
    # the holder of the firm lease can evaluate it from the facts each shard publishes (equity,
    # data age; no positions or orders): a firm-wide policy may read it (compile.shards)
    firm: bool = False
    # a kind read from the engine's shared pass over the scope's positions (exposure, losses,
    # liquidation distance), against the scope's equity: unknown while either is unknown
    position_aggregate: bool = False
    build: Optional[Callable[[Any], Any]] = None
    evaluate: Optional[Callable[[Any, SignalInputs, int], Reading]] = None
    state: Optional[KeptState] = None
    aggregates: Optional[Callable[[Any], Collection[str]]] = None
    # a kind waiting for its window's coverage: when a signal first has a value (params, tick ms)
    history_need: Optional[Callable[[Any, int], Optional[HistoryNeed]]] = None
    # the heartbeat source a signal of it listens to (its params): what the runner watches
    listens: Optional[Callable[[Any], str]] = None

    def __post_init__(self) -> None:
        if self.evaluate is not None and self.state is not None:
            raise ValueError(f"signal kind {self.name!r}: give evaluate, or state (a kept state and its "
                             f"evaluation), not both")
        if self.build is None or (self.evaluate is None and self.state is None):
            raise ValueError(f"signal kind {self.name!r}: a kind gives build and evaluate (or state); no kind "
                             f"is built in")
        if self.position_aggregate != (self.aggregates is not None):
            raise ValueError(f"signal kind {self.name!r}: a kind reading the position aggregates says so "
                             f"(position_aggregate) and says which it reads (aggregates), or neither")

    @property
    def doc(self) -> str:
        """What the kind measures, for people: its model's docstring (the schema's description)."""
        return " ".join((self.model.__doc__ or "").split())


class ActionPlanning(Protocol):
    """What a kind's ``plan`` may read and ask of one stage entry over one scope instance (the
    engine's planner hands it): the scope's equity, whether its positions are known, the side
    the planner's attribution names as losing (``LONG``, ``SHORT``, ``MIXED``: both declined,
    ``UNKNOWN``: nothing declined over the reference window), its open positions as a close
    reads them (``(snapshot, position)``: the position has ``symbol``, ``side``, ``contracts``,
    ``notional``, ``mark_price``, ``unrealized_pnl``; typed Any here, as the snapshot sits above
    this layer), what the stage's closes ask of a position so far (``closing``: its contracts, as
    asked, before the planner rounds them; 0: none), a symbol's base asset as the engine reads it
    (``BTC/USDT:USDT`` → ``BTC``), and three requests. ``close`` asks for a reduce-only close
    of ``fraction`` of a position (1 or more: the whole of it); the planner does what it does for
    every close: the amount rounded down to the market's step, never above the position, a part
    below the venue's minimum skipped and a whole position below it a residual, the entry orders
    of its symbol cancelled first, the larger of two requests for one position kept, chunks and
    order rates as the policy's unwind says. ``skip`` records a reason code of what was not done.
    ``suggest_hedge`` reports a hedge (``buy`` or ``sell`` of ``notional`` in ``base``): the
    plan shows it, nothing sends it.

    Two more requests carry out what is not a close. ``cancel`` asks to cancel the scope
    instance's open orders (only those it owns: its strategy's, its symbols'): ``which``
    ``entries``, those that could add to a position (a reduce-only order — a take-profit, a stop
    — is kept), or ``all``, every one (the conditional orders too); ``symbols``: of these
    symbols only (empty: every symbol). The planner sends one cancel per account, before any
    close, holding with them the entries it cancels for the closes; several requests add up
    (``all`` wins). ``lock`` asks the runner to lock the bots' trading on the scope (the
    pre-trade gate): ``mode`` ``reducing`` (only orders that reduce exposure) or ``halted``
    (none), for ``ttl_ms`` (None: until the stage resets; a ``reset: manual`` stage holds it until
    then, whatever the ttl), and what the runner makes hold at the venue on the orders and
    positions of bots that never ask: ``cancel`` the open orders adding exposure,
    ``revert_growth`` bring a position that grew back to its size at the lock. The plan shows
    the lock as the action's directive (its parameters as written); the runner puts it on the
    scope when it applies the entry. Cancels and locks leave with an entry's first wave (a
    ``close_all``'s first leg, sent before the rest is planned): the planner plans every kind of
    the stage for it, keeping only its cancels and lock, every position read as closed in full
    (``closing``) as the close_all closes it, so they are the whole plan's.

    The planner ranks three closes by what it alone holds: ``close_all`` (and the spot
    holdings), ``close_top_risk`` (risk scores, attribution), ``close_selected`` (groups,
    ``where``, ``count`` by ``rank_by``). Four ask the runner and the sinks, each shown as the
    action's directive: ``arm_countdown`` (the venues' switch), ``revoke`` (the bots' keys),
    ``notify``, ``runbook``; what reads a stage unplanned reads them through :mod:`.asked`."""

    @property
    def equity(self) -> Optional[float]: ...

    @property
    def positions_known(self) -> bool: ...

    @property
    def attribution(self) -> str: ...

    def positions(self) -> Iterable[tuple[Any, Any]]: ...

    def closing(self, snapshot: Any, position: Any) -> float: ...

    def base_asset(self, symbol: str) -> str: ...

    def close(self, snapshot: Any, position: Any, fraction: float, reason: str) -> None: ...

    def skip(self, reason: str) -> None: ...

    def suggest_hedge(self, base: str, side: str, notional: float, reason: str) -> None: ...

    def cancel(self, which: str, symbols: Collection[str] = ()) -> None: ...

    def lock(self, mode: str, ttl_ms: Optional[int], cancel: bool, revert_growth: bool) -> None: ...

    def close_all(self) -> None: ...

    def close_top_risk(self, count: int, fraction: float, side: str, close_within_liquidation: Optional[float],
                       on_unknown_side: str) -> None: ...

    def close_selected(self, symbols: tuple[str, ...], side: str, min_loss: Optional[float],
                       correlation_group: Optional[str], where: Optional[PositionCondition], count: Optional[int],
                       rank_by: Optional[str]) -> None: ...

    def arm_countdown(self, after_ms: int) -> None: ...

    def revoke(self) -> None: ...

    def notify(self, route: str, severity: str) -> None: ...

    def runbook(self, template: str) -> None: ...


@record
class ActionKind:
    """One action kind of the language: ``short`` is the field its scalar short form sets
    (``{close_side: losing}`` is ``{close_side: {side: losing}}``; None: only a mapping or the
    bare name); ``closes``: it closes positions (a runbook shows the orders of a closing stage).

    Every kind is a module of :mod:`killswitch.policy.kinds` and gives ``build`` and ``plan``:
    ``build`` turns the validated parameters into the frozen value the graph keeps,
    ``plan(params, planning)`` says on a stage entry what the action does through
    :class:`ActionPlanning` (the closes it asks for, what it skipped, the hedges it suggests,
    what the runner carries out); what reads a stage without planning it reads the same
    requests (:mod:`.asked`). No layer asks which kind an action is. ``after_closes``: its ``plan`` reads what the
    stage's closes leave open, so the planner calls it once every other action of the stage
    asked for its closes, and once a stage (the last of the kind's actions there). A kind that
    cancels orders or locks trading asks for it the same way (``cancel``, ``lock``: as
    ``cancel_orders.py``, ``lock_trading.py``), and so does one the runner carries out
    (``arm_exchange_dms.py``, ``revoke_trading.py``, ``notify.py``, ``runbook.py``)."""

    name: str
    model: type[Strict]
    short: Optional[str] = None
    closes: bool = False
    # a firm-wide policy may use it: every shard carries the firm directive out on its own
    # accounts (killswitch.firm.directives: a lock, a cancel or a close; notify and runbook render)
    firm: bool = False
    after_closes: bool = False
    # it closes every position of the scope whole: a stage whose first closing kind it is may be
    # planned as the leg it sends first (the planner's first wave)
    closes_all: bool = False
    build: Optional[Callable[[Any], Any]] = None
    plan: Optional[Callable[[Any, ActionPlanning], None]] = None

    def __post_init__(self) -> None:
        if self.build is None or self.plan is None:
            raise ValueError(f"action kind {self.name!r}: a kind gives build and plan; no kind is built in")

    @property
    def doc(self) -> str:
        return " ".join((self.model.__doc__ or "").split())


__all__ = ["Strict", "SignalParams", "GROSS", "NET", "LOSSES", "MARGIN_LOSSES", "NOTIONAL_LOSSES", "LIQUIDATION",
           "GROUPS", "AGGREGATES", "PositionAggregates", "SignalInputs", "Reading", "HistoryNeed", "KeptState",
           "SignalKind", "ActionPlanning", "ActionKind"]
