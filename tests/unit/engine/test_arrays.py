"""Computations over a large scope's columns are made as arrays (numpy), over a small one by a
loop, and both give the same result, bit for bit, whatever the columns hold (NaN, infinities,
signed zeros, subnormals, missing values): the risk scores, which the planner ranks positions by
(a tie broken another way would close another position), and the positions near liquidation,
which a crash's entry closes in full. And numpy is imported when a runner is made, never inside
a tick (nor by validate: tests/cli/test_cli.py)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.engine.attribution import deltas, risk_components, risk_scores, scores_by_arrays, scores_by_loop
from killswitch.engine.columns import ARRAYS_FROM
from killswitch.engine.planner import PnlHistory, history_for, update_history
from killswitch.engine.positions import liquidation_distance, near_liquidation
from killswitch.engine.scope import instances
from tests.unit.engine_helpers import pos, snap

from .test_planner import T, planner_policy

ROOT = Path(__file__).resolve().parents[3]


def same(a: list[float], b: list[float]) -> bool:
    """Equal float for float, a zero's sign included; a NaN matches a NaN (its payload is not a
    figure: every comparison with it is false either way)."""
    return len(a) == len(b) and all(
        (math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1.0, x) == math.copysign(1.0, y))
        for x, y in zip(a, b))


# every float a column may hold: pydantic's float fields take NaN and infinities
anything = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
edges = st.sampled_from([0.0, -0.0, math.nan, math.inf, -math.inf, 5e-324, -5e-324, 1e308, -1e308, 1.0, -1.0])
value = st.one_of(edges, anything)
maybe = st.one_of(st.none(), value)
mark = st.one_of(st.floats(min_value=5e-324, allow_infinity=True), st.just(math.inf))  # Field(gt=0)
notional = st.one_of(st.floats(min_value=0.0, allow_infinity=True), st.just(math.inf))  # Field(ge=0)
weight = st.one_of(st.sampled_from([0.0, 1.0, 0.25]), st.floats(0.0, 1.0))  # Field(ge=0, le=1)
share_of = st.one_of(st.sampled_from([0.0, math.inf]), st.floats(min_value=0.0, allow_infinity=True))
# a liquidation price anywhere, or near the mark, where the proximity term is not clamped to 0: a
# function of the mark, so that one strategy serves every row (one built for each row, hypothesis
# set it up again at each draw)
liq_of_mark = st.one_of(maybe.map(lambda v: lambda m: v),
                        st.floats(-0.3, 0.3).map(lambda off: lambda m: m * (1.0 + off)))


@st.composite
def columns(draw: st.DrawFn) -> tuple[list, ...]:
    n = draw(st.integers(0, 40))
    marks = draw(st.lists(mark, min_size=n, max_size=n))
    liqs = [draw(liq_of_mark)(m) for m in marks]
    return (draw(st.lists(value, min_size=n, max_size=n)),  # upnl
            draw(st.lists(maybe, min_size=n, max_size=n)),  # delta (None: no reference)
            liqs, marks,
            draw(st.lists(notional, min_size=n, max_size=n)),
            draw(st.lists(maybe, min_size=n, max_size=n)))  # margin


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(cols=columns(), weights=st.tuples(weight, weight, weight, weight, weight),
       equity=st.one_of(edges, anything), max_decline=share_of, max_loss=share_of)
def test_the_arrays_give_the_loops_scores_bit_for_bit(cols, weights, equity, max_decline, max_loss):
    expected = scores_by_loop(weights, equity, max_decline, max_loss, cols)
    got = scores_by_arrays(weights, equity, max_decline, max_loss, cols)
    assert same(got, expected), (got, expected)
    assert all(type(x) is float for x in got)


W = (0.4, 0.25, 0.2, 0.1, 0.05)
ROWS = 3


def _cols(**changed: list) -> tuple[list, ...]:
    base = dict(upnl=[-50.0] * ROWS, d=[-10.0] * ROWS, liq=[90.0] * ROWS, mark=[100.0] * ROWS,
                notional=[1_000.0] * ROWS, margin=[100.0] * ROWS)
    base.update(changed)
    return tuple(base.values())


def test_a_missing_margin_adds_no_term_a_nan_margin_a_whole_one_and_a_zero_none():
    # the loop's `if m:` — None and 0.0 are false, NaN is true (and loss / NaN is not < 1, so 1.0);
    # numpy turns None into NaN too, so the two must be told apart
    cols = _cols(margin=[None, math.nan, 0.0])
    loop = scores_by_loop(W, 10_000.0, 10.0, 50.0, cols)
    assert same(scores_by_arrays(W, 10_000.0, 10.0, 50.0, cols), loop)
    assert loop[1] == loop[0] + 0.05 * 1.0 and loop[2] == loop[0]


def test_a_missing_liquidation_price_and_a_nan_one_add_nothing_and_a_far_one_adds_zero():
    cols = _cols(liq=[None, math.nan, 50.0, 0.0])
    cols = tuple(c + [c[0]] if len(c) == ROWS else c for c in cols)
    loop = scores_by_loop(W, 10_000.0, 10.0, 50.0, cols)
    assert same(scores_by_arrays(W, 10_000.0, 10.0, 50.0, cols), loop)
    assert len(set(loop)) == 1


def test_no_largest_decline_or_loss_and_no_equity_leave_those_terms_out_in_both():
    cols = _cols(d=[None, math.nan, -5.0])
    for equity, max_decline, max_loss in [(0.0, 0.0, 0.0), (math.nan, 0.0, 50.0), (-1.0, 10.0, 0.0),
                                          (math.inf, math.inf, math.inf)]:
        loop = scores_by_loop(W, equity, max_decline, max_loss, cols)
        assert same(scores_by_arrays(W, equity, max_decline, max_loss, cols), loop), (equity, max_decline, max_loss)


# --- the positions near liquidation -------------------------------------------------------------------


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(0, 40),
       limit=st.one_of(st.sampled_from([0.0, 0.03, 1.0, 2.0, math.inf, math.nan]), st.floats(0.0, 3.0)))
def test_the_positions_near_liquidation_are_the_loops_as_arrays_too(data, n, limit):
    marks = data.draw(st.lists(mark, min_size=n, max_size=n))
    near = st.floats(-0.1, 0.1)
    liqs = [data.draw(st.one_of(maybe, near.map(lambda off, m=m: m * (1.0 + off)))) for m in marks]

    def loop(liqs: list, marks: list) -> list[int]:  # the distance as liquidation_distance reads it
        return [i for i, (liq, m) in enumerate(zip(liqs, marks)) if liq and abs(m - liq) / m <= limit]

    if n < ARRAYS_FROM:
        assert near_liquidation(liqs, marks, limit) == loop(liqs, marks)
    # the same rows, enough of them to be computed as arrays
    times = -(-ARRAYS_FROM // n) if n else 0
    many_liqs, many_marks = liqs * times, marks * times
    assert len(many_marks) >= ARRAYS_FROM or n == 0
    assert near_liquidation(many_liqs, many_marks, limit) == loop(many_liqs, many_marks)


def test_near_liquidation_is_the_liquidation_distance_of_each_position_within_the_limit():
    ps = [pos(f"S{i}/USDT:USDT", "long", 1.0, 100.0, 0.0, liq=None if i % 5 == 0 else 97.0 - i % 7 + 0.5 * (i % 3))
          for i in range(2 * ARRAYS_FROM)]
    liqs, marks = [p.liquidation_price for p in ps], [p.mark_price for p in ps]
    expected = [i for i, p in enumerate(ps) if (d := liquidation_distance(p)) is not None and d <= 0.03]
    assert 0 < len(expected) < len(ps) - len(ps) // 5  # some near, some not, some without a price
    assert near_liquidation(liqs, marks, 0.03) == expected  # as arrays
    few = ARRAYS_FROM // 2
    assert near_liquidation(liqs[:few], marks[:few], 0.03) == [i for i in expected if i < few]  # by the loop


# --- a scope's scores -------------------------------------------------------------------------------------


def _scope(n: int):
    """One account's scope of ``n`` positions of every kind a score reads differently: losing and
    winning, with and without a liquidation price and a margin, some with no reference an hour ago."""
    policy = planner_policy("[{close_all: {}}]", missing="exclude")  # no reference: a None delta
    now, then = [], []
    for i in range(n):
        side = "long" if i % 5 < 2 else "short"
        pnl = float((i * 37) % 200 - 120)
        now.append(pos(f"S{i}/USDT:USDT", side, 1.0 + i % 7, 100.0, pnl,
                       liq=None if i % 4 == 0 else (90.0 if side == "long" else 110.0) + i % 9,
                       margin=None if i % 6 == 0 else 10.0 + i % 13))
        if i % 8:
            then.append(pos(f"S{i}/USDT:USDT", side, 1.0 + i % 7, 100.0, pnl + (i % 11) - 3))
    window, step = history_for(policy)
    hist = PnlHistory(window, step)
    update_history(hist, [snap(50_000.0, T - window, positions=then)], T - window)
    update_history(hist, [snap(50_000.0, T, positions=now)], T)
    view = instances(policy, [snap(50_000.0, T, positions=now)])[0]
    return policy, view, deltas(policy, view, hist, T)


def test_a_scope_scored_as_arrays_has_the_scores_its_components_add_up_to():
    # risk_components is the loop (what `ksctl plan` explains); a tick ranks by risk_scores
    policy, view, d = _scope(3 * ARRAYS_FROM)
    assert view.position_count >= ARRAYS_FROM and any(x is None for x in d)
    scores = risk_scores(policy, view, d)
    assert same(scores, [p.score for p in risk_components(policy, view, d)])
    assert len(set(scores)) > 10  # the book's positions score apart: the check above compares something


def test_the_scores_of_some_positions_are_theirs_in_the_whole_list_either_way():
    policy, view, d = _scope(3 * ARRAYS_FROM)
    whole = risk_scores(policy, view, d)
    many = list(range(0, view.position_count, 2))  # as arrays
    few = [1, 7, 100, view.position_count - 1]  # by the loop
    assert len(many) >= ARRAYS_FROM > len(few)
    for only in (many, few, [5]):
        assert same(risk_scores(policy, view, d, only), [whole[i] for i in only])


def test_a_runner_imports_numpy_when_it_is_made_not_in_the_tick_that_first_scores():
    # in a fresh interpreter: another test's import would hide the runner's
    code = textwrap.dedent("""
        import sys
        from killswitch.process.bootstrap import build_runner_and_desk
        from killswitch.state import open_store
        from tests.unit.engine_helpers import compile_graph, policy_text
        graph = compile_graph(policy_text("s: {equity_change: {against: baseline, baseline: 10k}}",
                                          't: {when: "s <= -5%", on_missing_data: hold}',
                                          "- {level: 1, name: act, on: [t], actions: [{close_all: {}}]}"))
        before = "numpy" in sys.modules
        build_runner_and_desk(graph, {}, open_store("sqlite://:memory:"))
        print(before, "numpy" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
