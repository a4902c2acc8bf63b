"""Signals: from one tick's scope view (and what the windows remember) to numbers.

Every signal returns a :class:`SignalValue`: a value in the unit the condition language uses
(ratios as fractions, durations in seconds, plain numbers), or ``None`` with the reason the
value is unknown (``NO_DATA``, ``INSUFFICIENT_HISTORY: coverage=40% min=80%``, …). Too little
history is never reported as zero drawdown.

Every kind evaluates itself (:mod:`killswitch.policy.kinds`): through :class:`KindInputs`, from
its evaluation or over the state it keeps per scope and signal (:func:`_kept`: a windowed kind's
window pushes one sample a tick and expires old ones, amortized O(1), so a tick costs the same
after a week as after a minute); nothing here asks which kind a signal is. Position aggregates
(exposure, losses, liquidation distance) take one pass over the scope's positions, computed
once a tick on the first signal that reads them, and only what the scope's signals read.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from array import array
from dataclasses import dataclass
from itertools import chain
from typing import Any, Callable, Collection, Iterable, Optional

from ..compile.nodes import SignalNode
from ..policy.positions import PositionCondition
from ..policy.registry import (
    GROSS,
    GROUPS,
    LIQUIDATION,
    LOSSES,
    MARGIN_LOSSES,
    NET,
    NOTIONAL_LOSSES,
    PositionAggregates,
    Reading,
)
from ..policy.signals import SIGNALS
from ..snapshot import Position, Snapshot, base_asset
from . import positions as facts
from .columns import Columns, Tables
from .scope import ScopeView, account_key, fresh, position_key
from .signal_state import Kept, check_kept_states
from .state import AccountState, ScopeState, State


@dataclass(frozen=True)
class SignalValue:
    name: str
    value: Optional[float]
    reason: Optional[str] = None  # why the value is unknown, as a reason code (or a known value's note)
    # unknown for too little history: when the window will hold enough if every tick from now
    # on reads (None: not a matter of history, or not known)
    ready_ms: Optional[int] = None


# a kind's kept state is saved under its name: two kinds sharing one in two forms would read each
# other's saved states (refused here, where all are known)
check_kept_states((name, k.state) for name, k in SIGNALS.items() if k.state is not None)


# --- position aggregates -------------------------------------------------------------------------


def _margin_losses(cols: list[Columns]) -> tuple[Optional[float], float]:
    """(the largest, the sum) of the losing positions' losses over their margins."""
    sum_mloss = 0.0
    max_mloss: Optional[float] = None
    for c in cols:
        ratios = [-u / m for u, m in zip(c.upnl, c.margin) if u < 0 and m]
        if ratios:
            sum_mloss = sum(ratios, sum_mloss)
            top = max(ratios)
            if max_mloss is None or top > max_mloss:
                max_mloss = top
    return max_mloss, sum_mloss


def _min_liquidation(cols: list[Columns]) -> Optional[float]:
    """The nearest liquidation over the groups (a NaN liquidation price makes its group's minimum NaN)."""
    min_liq: Optional[float] = None
    for c in cols:
        nearest = _nearest_liquidation(c.marks, c.liq)
        if nearest is not None and (min_liq is None or nearest < min_liq):
            min_liq = nearest
    return min_liq


def position_agg(view: ScopeView, needs: frozenset[str]) -> PositionAggregates:
    """The sums and extremes over the view's positions that signals reading ``needs`` read (the
    names of :data:`~killswitch.policy.registry.AGGREGATES`; the others stay at their defaults),
    from their columns: each reduction adds in the positions' order, as a loop over them would. A
    sum runs over every group's column in one pass (one C loop for a scope of 100 accounts as for
    one of a single account), which adds in the same order as a sum per group carried over."""
    need_groups = GROUPS in needs
    cols = [c for c in view.columns if len(c)]
    flat = chain.from_iterable
    out: dict[str, Any] = {}
    if need_groups or GROSS in needs:
        out["gross"] = sum(flat(c.notional for c in cols), 0.0)
    if NET in needs:
        out["net"] = sum(flat(c.signed_notional for c in cols), 0.0)
    if LOSSES in needs:
        # every u < 0, in order (C loops: no Python frame per position); the losses are their
        # negations, and a sum or an extreme of negated floats is exactly the negated one
        under = list(filter(_ZERO_GT, flat(c.upnl for c in cols)))
        if under:
            out["sum_loss"] = -sum(under, -0.0)
            out["max_loss"] = max(0.0, -min(under))
    if MARGIN_LOSSES in needs:
        out["max_margin_loss"], out["sum_margin_loss"] = _margin_losses(cols)
    if NOTIONAL_LOSSES in needs:
        _notional_losses(view, out)
    if LIQUIDATION in needs:
        out["min_liq"] = _min_liquidation(cols)
    if need_groups:
        by_symbol: dict[str, float] = {}
        by_base: dict[str, float] = {}
        for c in cols:
            for sym, n in zip(c.symbols, c.notional):
                by_symbol[sym] = by_symbol.get(sym, 0.0) + n
                b = base_asset(sym)
                by_base[b] = by_base.get(b, 0.0) + n
        out["by_symbol"], out["by_base"] = by_symbol, by_base
    return PositionAggregates(**out)


def _notional_losses(view: ScopeView, out: dict[str, Any]) -> None:
    """Loss over entry notional: the worst losing position's, and the losing positions' losses
    and entry notionals summed, those with an entry price; the symbols of those without one."""
    worst = loss_sum = base_sum = 0.0
    missing: list[str] = []
    for _, p in view.positions:
        if p.unrealized_pnl >= 0:
            continue
        loss, base = -p.unrealized_pnl, facts.entry_notional(p)
        if not base:
            missing.append(p.symbol)
            continue
        worst = max(worst, loss / base)
        loss_sum += loss
        base_sum += base
    out.update(max_notional_loss=worst, sum_notional_loss=loss_sum, sum_entry_notional=base_sum,
               no_entry_price=tuple(missing))


_ZERO_GT = (0.0).__gt__  # u < 0, as a C call


def _nearest_liquidation(marks: list[float], liqs: list[Optional[float]]) -> Optional[float]:
    """The smallest ``|mark - liq| / mark`` of the positions that report a liquidation price
    (None when none does)."""
    dists = [abs(mk - lq) / mk for mk, lq in zip(marks, liqs) if lq]
    return min(dists) if dists else None


def _agg_needs(signals: tuple[SignalNode, ...]) -> frozenset[str]:
    """What :func:`position_agg` must compute for ``signals``: what each of them reads (its
    kind's ``aggregates`` of its parameters)."""
    needs: set[str] = set()
    for s in signals:
        reads = SIGNALS[s.kind].aggregates
        if reads is not None:
            needs.update(reads(s.params))
    return frozenset(needs)


# --- computing one tick ------------------------------------------------------------------------------


def compute(
    signals: tuple[SignalNode, ...],
    view: ScopeView,
    scope_state: ScopeState,
    state: State,
    now: int,
    interval_ms: int,
) -> dict[str, SignalValue]:
    out: dict[str, SignalValue] = {}
    inputs = KindInputs(view, state, signals)
    for node in signals:  # every kind evaluates itself: its evaluation, or over its kept state
        name = node.name
        if node.state is not None:
            out[name] = SignalValue(name, *_kept(node, scope_state, inputs, now))
        else:
            assert node.evaluate is not None  # the compiler gives one or the other
            out[name] = SignalValue(name, *node.evaluate(node.params, inputs, now))
    return out


class KindInputs:
    """What a kind of a module of its own reads of one scope instance at one tick
    (:class:`~killswitch.policy.registry.SignalInputs`): the scope view's snapshots, equity,
    knowledge of positions and ownership of orders, each account's data age
    (:meth:`AccountState.data_age_ms`) and first and day-open equity, and the heartbeats, from
    the engine's state, and a position condition's verdict on a position from the facts
    :mod:`.positions` computes (as the planner's closes by condition read them). The scope's
    position aggregates are made once, on the first signal that reads them: one pass computing
    what every signal of ``signals`` reads (:func:`position_agg`), shared by all of them; a
    column of its positions is the scope view's (:meth:`position_column`: no model read)."""

    __slots__ = ("_view", "_state", "_signals", "_agg", "owns_order")

    def __init__(self, view: ScopeView, state: State, signals: tuple[SignalNode, ...] = ()):
        self._view = view
        self._state = state
        self._signals = signals
        self._agg: Optional[PositionAggregates] = None
        self.owns_order: Callable[[Any], bool] = view.owns_order  # the view's own: no call in between

    @property
    def snapshots(self) -> list[Snapshot]:
        return self._view.snapshots

    @property
    def equity(self) -> Optional[float]:
        return self._view.equity

    @property
    def positions_known(self) -> bool:
        return self._view.positions_known

    def data_age_ms(self, snapshot: Snapshot, now: int) -> Optional[int]:
        acc = self._state.accounts.get(account_key(snapshot))
        return acc.data_age_ms(now) if acc is not None else None

    def first_equity(self, snapshot: Snapshot) -> Optional[float]:
        acc = self._state.accounts.get(account_key(snapshot))
        return acc.first_equity if acc is not None else None

    def day_open_equity(self, snapshot: Snapshot) -> Optional[float]:
        acc = self._state.accounts.get(account_key(snapshot))
        return acc.day_open_equity if acc is not None else None

    def heartbeat_ms(self, source: str) -> Optional[int]:
        return self._state.heartbeats.get(source)

    def violations(self, source: str, window_ms: int, codes: Optional[Collection[str]], now: int
                   ) -> tuple[Optional[float], Optional[str]]:
        return self._state.tally.count(source, window_ms, now, self._view.owns_violation, codes)

    def positions(self) -> list[tuple[Snapshot, Position]]:
        return self._view.positions

    def holds(self, where: PositionCondition, position: Position) -> Optional[bool]:
        return facts.holds(where, position, self._view.equity)

    def unknown_facts(self, where: PositionCondition, position: Position) -> list[str]:
        return facts.unknown_facts(where, position, self._view.equity)

    def position_aggregates(self) -> PositionAggregates:
        agg = self._agg
        if agg is None:
            agg = self._agg = position_agg(self._view, _agg_needs(self._signals))
        return agg

    def position_column(self, name: str) -> list[Any]:
        columns = self._view.columns
        if len(columns) == 1:
            return columns[0].column(name)
        return list(chain.from_iterable(c.column(name) for c in columns))

    @staticmethod
    def position_key(snapshot: Snapshot, position: Position) -> str:
        return position_key(snapshot, position)


def _kept(node: SignalNode, scope_state: ScopeState, inputs: KindInputs, now: int) -> Reading:
    """The reading of a kind that keeps a state: its evaluation over the state the signal kept
    (its kind's first state on its first tick, or when the policy changed the signal: its
    ``state_key`` differs from the one the state was kept under), which keeps what it gives back.
    Given None back (no state), it keeps nothing and leaves what the signal held as it was: a
    kind that waits keeps its wait only while it waits, as heartbeat_age's grace always did."""
    kept, key = node.state, node.state_key
    assert kept is not None and key is not None  # the compiler gives both
    name = node.name
    held = scope_state.signals.get(name)
    if held is None or scope_state.signal_kinds.get(name) != key:
        held = None
    elif held.save is None and kept.save is not None:  # as saved: made the kind's state again
        held.load(kept)
    reading, value = kept.evaluate(node.params, inputs, now, kept.initial(node.params) if held is None else held.value)
    if value is not None:
        if held is None:
            scope_state.signals[name] = Kept(value, kept.save)
            scope_state.signal_kinds[name] = key
        else:
            held.value = value
    return reading


def content_fingerprint(s: Snapshot, cols: Optional[Columns] = None,
                        account: Optional[AccountState] = None) -> Optional[str]:
    """What must move in a live answer, as a checksum: equity, and every position's size and
    mark, and every priced spot holding outside the stablecoins. None for a quiet book (no
    position, no priced holding): a flat account legitimately repeats itself, so its content
    proves nothing. Open orders are left out: an order feed can be live while the risk data is
    frozen.

    A CRC-32 (``c`` and 8 hex digits): it only tells whether an answer repeats the one before
    exactly, a change is missed with odds of 2^-32, and a feed counts as frozen only when every
    answer for FROZEN_AFTER_MS repeats the first. Stable across processes (it is persisted):
    bytes, never Python's ``hash``. ``cols``: the snapshot's positions as columns, when the
    caller has them. ``account``: the account's state, which keeps the checksum of its last
    symbols and sides (:func:`_names_crc`); the result is the same either way."""
    priced = _priced(s)
    ps = s.positions
    if not ps and not priced:
        return None
    crc = 0
    if ps:
        c = cols if cols is not None and cols.positions is ps else Columns(ps)
        crc = zlib.crc32(_doubles(c.marks), zlib.crc32(_doubles(c.contracts), _names_crc(c, account)))
    return f"c{zlib.crc32(repr((s.equity, priced)).encode(), crc):08x}"


def _priced(s: Snapshot) -> list[tuple[str, float, float]]:
    stable = s.stablecoins
    return [(b.asset, b.total, b.price) for b in s.balances
            if b.price is not None and b.total and b.asset != s.quote_currency and b.asset not in stable]


def saved_by_earlier_release(content: Optional[str]) -> bool:
    """A fingerprint saved before the CRC: a blake2b digest (24 hex digits; a CRC is 9 characters)."""
    return content is not None and len(content) == 24


def earlier_fingerprint(s: Snapshot, cols: Optional[Columns] = None) -> Optional[str]:
    """The fingerprint as releases before the CRC computed it (blake2b of the same content). Read
    only to compare an answer with a fingerprint such a release saved, once per account after an
    upgrade: a feed frozen across the upgrade keeps its age."""
    priced = _priced(s)
    ps = s.positions
    if not ps and not priced:
        return None
    h = hashlib.blake2b(repr((s.equity, priced)).encode(), digest_size=12)
    if ps:
        c = cols if cols is not None and cols.positions is ps else Columns(ps)
        h.update("\0".join(c.symbols).encode())
        h.update("\0".join(c.side_keys).encode())
        h.update(_doubles(c.contracts))
        h.update(_doubles(c.marks))
    return h.hexdigest()


_PACKERS: dict[int, struct.Struct] = {}


def _doubles(xs: list[float]) -> bytes:
    """The numbers as native doubles: the bytes of ``array("d", xs)``, packed two to three times
    faster (a compiled format per length, a few kept)."""
    packer = _PACKERS.get(len(xs))
    if packer is None:
        if len(_PACKERS) >= 64:
            _PACKERS.clear()
        packer = _PACKERS[len(xs)] = struct.Struct(f"{len(xs)}d")
    try:
        return packer.pack(*xs)
    except struct.error:
        return array("d", xs).tobytes()  # what is not a number is refused as it always was


def _names_crc(c: Columns, account: Optional[AccountState]) -> int:
    """The CRC-32 of the positions' symbols and sides (each list joined by NUL, encoded): from
    ``account``'s last one when both lists are equal to those it read then (compared element by
    element; the same symbol objects an adapter hands over each tick compare by identity), else
    computed now and kept there (with copies of the lists: a caller may reuse and change them)."""
    seen = account.names if account is not None else None
    if seen is not None and seen[0] == c.symbols and seen[1] == c.side_keys:
        return seen[2]
    crc = zlib.crc32("\0".join(c.side_keys).encode(), zlib.crc32("\0".join(c.symbols).encode() + b"\0\0"))
    if account is not None:
        account.names = (list(c.symbols), list(c.side_keys), crc)
    return crc


def update_accounts(state: State, snapshots: Iterable[Snapshot], now: int, tables: Optional[Tables] = None) -> None:
    """Per-account bookkeeping every tick: freshness (see :class:`AccountState`), first equity,
    UTC day open.

    Freshness of a well-formed answer (fetch ok, equity known): its time is ``ts_event``, never
    later than ``ts_observed`` (data cannot be newer than its arrival). It advances
    ``last_good_ms``; its content fingerprint, when it differs from the last one, sets
    ``changed_ms`` to that time. Only answers move the bookkeeping, never ``now``."""
    day_ms = 86_400_000
    for s in snapshots:
        key = account_key(s)
        acc = state.accounts.get(key)
        if acc is None:
            acc = state.accounts[key] = AccountState()
        if not fresh(s):
            continue
        ts = s.ts_event if s.ts_observed is None else min(s.ts_event, s.ts_observed)
        if acc.last_good_ms is None or ts > acc.last_good_ms:
            acc.last_good_ms = ts
        cols = tables.of(s.positions) if tables is not None and s.positions else None
        content = content_fingerprint(s, cols, acc)
        if content != acc.content and saved_by_earlier_release(acc.content):
            # saved by a release before the CRC: the same content keeps its time
            if earlier_fingerprint(s, cols) == acc.content:
                acc.content = content
        if content is None or content != acc.content or acc.changed_ms is None:
            acc.content, acc.changed_ms = content, ts
        if acc.first_equity is None:
            acc.first_equity = s.equity
        day = s.ts_event // day_ms
        if acc.day != day:
            acc.day = day
            acc.day_open_equity = s.equity
