"""Attribution and risk scores: which side of a scope is bleeding, and how much each position
weighs in it. The planner reads them when a stage is entered (:mod:`.planner`).

**Attribution** answers "which side is bleeding?" over the policy's reference window: per
position, delta = current unrealized PnL − its PnL at the start of the window. Negative deltas
are summed per side; SHORT or LONG when one side's share of the decline reaches the threshold,
MIXED otherwise, UNKNOWN when nothing declined. A position opened inside the window has no
reference: ``missing_reference: since_open`` counts its whole PnL, ``exclude`` leaves it out.
The history it reads is sampled here too (:func:`update_history`, every tick; its window and
step: :func:`history_for`).

**Risk score** per position: the policy's weights over five components in [0, 1] — decline
(|negative delta| / the largest in scope), current loss (/ the largest), liquidation proximity
(1 at the liquidation price, 0 from 25 % away), notional share of equity, loss on margin.

:func:`risk_components` gives the same scores with their components, and :func:`score_table`
ranks and lists them for a plan's reader; a tick never calls them (only ``ksctl plan``,
``replay`` and ``diff`` ask, through ``evaluate(..., scores=...)``).

Everything here reads the scope's positions as columns (:mod:`.columns`) and returns lists in
the order of ``view.positions``: one pass over 10,000 positions, no key built per position. The
scores of :data:`ARRAYS_FROM` positions or more are computed over whole columns with numpy
(:func:`scores_by_arrays`, a third of the loop's time at 4,000: the entry tick of a crash scores
that many), giving the loop's floats bit for bit; numpy is imported when a runner is made
(:func:`~.columns.load_arrays`), never by ``ksctl validate``, which reads this module but scores nothing.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, count
from operator import itemgetter, sub
from typing import Any, Callable, Collection, NamedTuple, Optional, Sequence, TypeVar

from ..compile.graph import PolicyNode
from ..snapshot import Snapshot
from .columns import ARRAYS_FROM, Columns, Tables
from .scope import ScopeView, account_key, position_key
from .state import PnlHistory

LIQ_PROXIMITY_SPAN = 0.25  # proximity 0 at 25 % or more from the liquidation price
_ZERO_GT = (0.0).__gt__  # x < 0, as a C call
X = TypeVar("X")


@dataclass(frozen=True)
class Attribution:
    side: str  # LONG | SHORT | MIXED | UNKNOWN: the side whose PnL declined
    long_decline: float  # sum of negative deltas of long positions, as a positive number
    short_decline: float
    long_share: Optional[float]  # None when nothing declined
    short_share: Optional[float]
    excluded: int = 0  # positions left out for lack of a reference


def update_history(hist: PnlHistory, snapshots: list[Snapshot], now: int, tables: Optional[Tables] = None) -> None:
    """Sample every open position's unrealized PnL once per step; keep just over one window.

    One sample per account and step: a tick costs one pass over the positions only when a step
    boundary passes (over their columns, from ``tables`` when given), and trimming is a popleft
    per account.
    """
    if hist.next_sample_ms is not None and now < hist.next_sample_ms:
        return
    hist.next_sample_ms = now + hist.step_ms
    cutoff = now - hist.window_ms
    for s in snapshots:
        if not s.fetch.ok:
            continue  # positions unknown: the history keeps what it had
        c = tables.of(s.positions) if tables is not None else Columns(s.positions)
        q = hist.sample(account_key(s), now, c.symbols, c.side_keys, c.upnl)
        while len(q) > 1 and q[1][0] <= cutoff:
            q.popleft()


def history_for(policy: PolicyNode) -> tuple[int, int]:
    """(window, step) of the PnL history a policy's attribution reads: 60 samples per window."""
    window_ms = policy.attribution.reference_window_ms
    return window_ms, max(1000, window_ms // 60)


def deltas(policy: PolicyNode, view: ScopeView, hist: Optional[PnlHistory], now: int) -> list[Optional[float]]:
    """PnL change of every position over the reference window, in the order of
    ``view.positions`` (None: no reference, excluded). One reference lookup per account."""
    attr = policy.attribution
    window_ms = attr.reference_window_ms
    since_open = attr.missing_reference == "since_open"
    out: list[Optional[float]] = []
    for (s, _), c in zip(view.groups, view.columns):
        q = hist.accounts.get(account_key(s)) if hist else None
        # the oldest sample is the reference if it is old enough to stand for the window's start
        old_enough = q and q[0][0] <= now - window_ms + hist.step_ms  # type: ignore[union-attr]
        if not old_enough:
            out += c.upnl if since_open else [None] * len(c)
            continue
        aligned = hist.aligned(account_key(s), q[0], c.symbols, c.side_keys)  # type: ignore[union-attr,index]
        if aligned is not None:  # the same positions in the same order: u - b index by index
            out += map(sub, c.upnl, aligned)
            continue
        ref = PnlHistory.reference(q[0])  # type: ignore[index]
        get = ref.get
        if since_open:
            out += [u - b if (b := get(k)) is not None else u for k, u in zip(c.keys, c.upnl)]
        else:
            out += [u - b if (b := get(k)) is not None else None for k, u in zip(c.keys, c.upnl)]
    return out


class Declines(NamedTuple):
    """The positions whose PnL declined over the reference window (a delta below 0), by side:
    indexes into ``view.positions``, in its order. What ``reduce_top_risk`` ranks."""

    long: list[int]
    short: list[int]


def attribute(policy: PolicyNode, view: ScopeView, d: list[Optional[float]]) -> tuple[Attribution, Declines]:
    """Which side's PnL declined over the reference window (``d``: the deltas), and the
    declining positions it summed, from one pass over the scope (the planner ranks them: a
    second pass over 10,000 positions cost as much as this one)."""
    threshold = policy.attribution.source_threshold
    long_dec = short_dec = 0.0
    excluded = 0
    longs: list[int] = []
    shorts: list[int] = []
    to_longs, to_shorts = longs.append, shorts.append
    for i, side, delta in zip(count(), column(view.columns, lambda c: c.sides), d):
        if delta is None:
            excluded += 1
        elif delta < 0:
            if side == "long":
                long_dec -= delta
                to_longs(i)
            else:
                short_dec -= delta
                to_shorts(i)
    declines = Declines(longs, shorts)
    total = long_dec + short_dec
    if total <= 0:
        return Attribution("UNKNOWN", long_dec, short_dec, None, None, excluded), declines
    ls, ss = long_dec / total, short_dec / total
    if ss >= threshold and ls >= threshold:  # an even split at a 50% threshold: no single side
        side = "MIXED"
    else:
        side = "SHORT" if ss >= threshold else "LONG" if ls >= threshold else "MIXED"
    return Attribution(side, long_dec, short_dec, ls, ss, excluded), declines


class _Inputs(NamedTuple):
    weights: tuple[float, float, float, float, float]
    equity: float
    max_decline: float
    max_loss: float
    upnl: list[float]
    liqs: list[Optional[float]]
    marks: list[float]
    notionals: list[float]
    margins: list[Optional[float]]


def _score_inputs(policy: PolicyNode, view: ScopeView, d: list[Optional[float]]) -> _Inputs:
    """What every position's score reads of its scope, taken once per scope: the weights, the
    equity, the largest decline and loss, and the columns."""
    w = policy.risk_weights
    cols = view.columns
    upnl = column(cols, lambda c: c.upnl)
    # the most negative delta (C passes: ``filter(None, ...)`` drops None and zeros, then x < 0)
    max_decline = -min(filter(_ZERO_GT, filter(None, d)), default=0.0)
    max_loss = max(0.0, -min(upnl, default=0.0))
    return _Inputs((w.pnl_delta, w.current_loss, w.liq_proximity, w.notional_share, w.margin_loss),
                   view.equity or 0.0, max_decline, max_loss, upnl, column(cols, lambda c: c.liq),
                   column(cols, lambda c: c.marks), column(cols, lambda c: c.notional),
                   column(cols, lambda c: c.margin))


def risk_scores(policy: PolicyNode, view: ScopeView, d: list[Optional[float]],
                only: Optional[list[int]] = None) -> list[float]:
    """Every position's risk score, in the order of ``view.positions`` (see the module doc);
    with ``only`` (indexes into it), the scores of those positions alone, in that order: each
    the same number as in the full list (the largest decline and loss are still the scope's)."""
    weights, equity, max_decline, max_loss, upnl, liqs, marks, notionals, margins = _score_inputs(policy, view, d)
    cols: tuple[Sequence[Any], ...] = (upnl, d, liqs, marks, notionals, margins)
    if only is not None:  # the rows asked for, picked in C (an itemgetter of one index gives the value)
        cols = tuple(map(itemgetter(*only), cols)) if len(only) > 1 else tuple([c[i] for i in only] for c in cols)
    scores = scores_by_arrays if len(cols[0]) >= ARRAYS_FROM else scores_by_loop
    return scores(weights, equity, max_decline, max_loss, cols)


Weights = tuple[float, float, float, float, float]


def scores_by_loop(weights: Weights, equity: float, max_decline: float, max_loss: float,
                   cols: tuple[Sequence[Any], ...]) -> list[float]:
    """The scores of the rows of ``cols`` (upnl, delta, liquidation price, mark, notional,
    margin), one position at a time: the module doc's formula as written."""
    w_delta, w_loss, w_liq, w_share, w_margin = weights
    out: list[float] = []
    append = out.append
    # the same arithmetic, term by term and in the same order, as the module doc's formula and
    # as risk_components: a score is compared with others, so it must not move with how it is
    # computed (tests/unit/preview/test_decisions.py holds the two together)
    for u, delta, liq, mark, notional, m in zip(*cols):
        loss = -u if u < 0 else 0.0
        score = w_delta * (-delta / max_decline) if max_decline and delta is not None and delta < 0 else 0.0
        score += w_loss * (loss / max_loss if max_loss else 0.0)
        if liq:  # max(0, ...) and min(1, ...) below, as comparisons: no call per position
            prox = 1.0 - abs(mark - liq) / mark / LIQ_PROXIMITY_SPAN
            score += w_liq * (prox if prox > 0.0 else 0.0)
        if equity > 0:
            share = notional / equity
            score += w_share * (share if share < 1.0 else 1.0)
        if m:
            r = loss / m
            score += w_margin * (r if r < 1.0 else 1.0)
        append(score)
    return out


def scores_by_arrays(weights: Weights, equity: float, max_decline: float, max_loss: float,
                     cols: tuple[Sequence[Any], ...]) -> list[float]:
    """:func:`scores_by_loop`'s floats, computed over whole columns with numpy: each operation of
    the loop, in its order, as one operation over the column (IEEE double arithmetic rounds each
    the same), a term added only where the loop adds it (``where=``), each ``x if c else y`` a
    ``where(c, x, y)``. Every comparison with NaN is false in both."""
    import numpy as np  # imported when a runner is made (columns.load_arrays), never by validate

    w_delta, w_loss, w_liq, w_share, w_margin = weights
    upnl, d, liqs, marks, notionals, margins = cols
    u = np.array(upnl, dtype=float)
    delta = np.array(d, dtype=float)  # a None becomes NaN: not < 0, so no decline, as in the loop
    liq = _truthy(np, liqs)
    m = _truthy(np, margins)
    mark = np.array(marks, dtype=float)
    with np.errstate(all="ignore"):  # a division the loop would not make (masked out below) may be by 0
        loss = np.where(u < 0, -u, 0.0)
        if max_decline:
            score = np.where(delta < 0, w_delta * (-delta / max_decline), 0.0)
        else:
            score = np.zeros(len(u))
        score += w_loss * (loss / max_loss) if max_loss else w_loss * 0.0
        prox = 1.0 - np.abs(mark - liq) / mark / LIQ_PROXIMITY_SPAN
        np.add(score, w_liq * np.where(prox > 0.0, prox, 0.0), out=score, where=liq != 0)
        if equity > 0:
            share = np.array(notionals, dtype=float) / equity
            score += w_share * np.where(share < 1.0, share, 1.0)
        r = loss / m
        np.add(score, w_margin * np.where(r < 1.0, r, 1.0), out=score, where=m != 0)
    out: list[float] = score.tolist()
    return out


def _truthy(np: Any, xs: Sequence[Optional[float]]) -> Any:
    """``xs`` as an array whose nonzero entries are those the loop's ``if x:`` takes: a None is
    0.0 (falsy), a NaN stays NaN (truthy, as in Python). numpy makes both NaN; the NaNs are told
    apart one by one, only where there are any."""
    a = np.array(xs, dtype=float)
    nan = np.isnan(a)
    if nan.any():
        for i in np.flatnonzero(nan).tolist():
            if xs[i] is None:
                a[i] = 0.0
    return a


@dataclass(frozen=True)
class ScoreParts:
    """One position's risk score and its components (in the order of :data:`COMPONENTS`): each
    component's value in [0, 1] and its contribution (weight × value); ``score`` is their sum,
    added in the order ``risk_scores`` adds them, so it equals that position's score exactly."""

    score: float
    values: tuple[float, ...]
    weighted: tuple[float, ...]


def risk_components(policy: PolicyNode, view: ScopeView, d: list[Optional[float]]) -> list[ScoreParts]:
    """Every position's score with its components, in the order of ``view.positions``. For
    explaining a plan only (``ksctl plan``, ``replay``, ``diff``): a tick never calls it."""
    weights, equity, max_decline, max_loss, upnl, liqs, marks, notionals, margins = _score_inputs(policy, view, d)
    w_delta, w_loss, w_liq, w_share, w_margin = weights
    out: list[ScoreParts] = []
    for u, delta, liq, mark, notional, m in zip(upnl, d, liqs, marks, notionals, margins):
        loss = -u if u < 0 else 0.0
        v_delta = -delta / max_decline if max_decline and delta is not None and delta < 0 else 0.0
        v_loss = loss / max_loss if max_loss else 0.0
        v_liq = v_share = v_margin = 0.0
        if liq:
            prox = 1.0 - abs(mark - liq) / mark / LIQ_PROXIMITY_SPAN
            v_liq = prox if prox > 0.0 else 0.0
        if equity > 0:
            share = notional / equity
            v_share = share if share < 1.0 else 1.0
        if m:
            r = loss / m
            v_margin = r if r < 1.0 else 1.0
        weighted = (w_delta * v_delta, w_loss * v_loss, w_liq * v_liq, w_share * v_share,
                    w_margin * v_margin)
        score = weighted[0]
        score += weighted[1]
        if liq:  # a term risk_scores does not add is not added here either
            score += weighted[2]
        if equity > 0:
            score += weighted[3]
        if m:
            score += weighted[4]
        out.append(ScoreParts(score, (v_delta, v_loss, v_liq, v_share, v_margin), weighted))
    return out


@dataclass(frozen=True)
class PositionScore:
    """One listed position of a :class:`ScoreTable`."""

    position: str  # venue/account/symbol/side (the position key)
    symbol: str
    side: str  # long | short
    rank: int  # 1: the highest score of the scope (ties: the larger notional, then the key)
    score: float
    values: tuple[float, ...]  # in the order of COMPONENTS, each in [0, 1]
    weighted: tuple[float, ...]  # weight × value; they add up to ``score``
    closed: bool  # the plan closes some or all of it
    selected: bool  # a ranking by risk score chose it (reduce_top_risk, close_positions rank_by risk_score)


@dataclass(frozen=True)
class ScoreTable:
    """The risk scores of a planning scope's positions, for explaining the plan. ``listing``:
    ``top`` lists the :data:`TOP_SCORES` highest and every position a ranking chose, ``all``
    every position; ``positions`` counts them all."""

    listing: str
    positions: int
    weights: tuple[float, ...]  # in the order of COMPONENTS
    equity: Optional[float]
    max_decline: float  # the largest decline in the scope: pnl_delta is a share of it
    max_loss: float  # the largest current loss: current_loss is a share of it
    entries: tuple[PositionScore, ...]


COMPONENTS = ("pnl_delta", "current_loss", "liq_proximity", "notional_share", "margin_loss")
SCORE_LISTINGS = ("none", "top", "all")
TOP_SCORES = 10


def score_table(policy: PolicyNode, view: ScopeView, d: list[Optional[float]], listing: str,
                closed: Collection[str], selected: Collection[int]) -> ScoreTable:
    """The scope's positions ranked by risk score, with their components; ``closed``: position keys
    the plan closes, ``selected``: indexes a ranking by risk score chose."""
    parts = risk_components(policy, view, d)
    notional = column(view.columns, lambda c: c.notional)
    keys = [position_key(s, p) for s, p in view.positions]
    order = sorted(range(len(parts)), key=lambda i: (-parts[i].score, -notional[i], keys[i]))
    rank = {i: r for r, i in enumerate(order, 1)}
    listed = order if listing == "all" else sorted(set(order[:TOP_SCORES]) | set(selected), key=rank.__getitem__)
    inputs = _score_inputs(policy, view, d)
    entries = []
    for i in listed:
        s, p = view.pair(i)
        x = parts[i]
        entries.append(PositionScore(keys[i], p.symbol, p.side, rank[i], x.score, x.values, x.weighted,
                                     keys[i] in closed, i in selected))
    return ScoreTable(listing, len(parts), inputs.weights, view.equity, inputs.max_decline, inputs.max_loss,
                      tuple(entries))


def column(cols: list[Columns], get: Callable[[Columns], list[X]]) -> list[X]:
    """One column over every group, in the order of ``view.positions``."""
    if len(cols) == 1:
        return get(cols[0])
    return list(chain.from_iterable(map(get, cols)))


__all__ = ["Attribution", "COMPONENTS", "Declines", "LIQ_PROXIMITY_SPAN", "PositionScore", "SCORE_LISTINGS",
           "ScoreParts", "ScoreTable", "TOP_SCORES", "attribute", "column", "deltas", "risk_components", "risk_scores",
           "score_table", "scores_by_arrays", "scores_by_loop", "update_history", "history_for"]
