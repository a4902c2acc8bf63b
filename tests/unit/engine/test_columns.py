"""Positions as columns: what an adapter hands over equals what the engine reads field by field.

- ``PositionList.of`` gives the lists ``[p.field for p in positions]`` would, one
  for every field ``Position`` declares a column; nothing changes the list (its columns always
  describe the positions it holds);
- the engine gives the same evaluation (signals, triggers, rankings, risk scores, plans) and the
  same state from snapshots that carry columns as from plain ones, over random books;
- the simulated adapter's snapshots carry columns equal to their positions' fields;
- the entry tick's shortcuts (the top of a ranking bounded by its count-th score, PnL deltas
  taken index by index from an aligned reference sample) give what the general paths give.
"""

from __future__ import annotations

import asyncio
import copy
import pickle

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.simulated.adapter import SimulatedAdapter
from killswitch.engine import positions as facts
from killswitch.engine.attribution import deltas
from killswitch.engine.columns import Columns, Tables
from killswitch.engine.evaluate import evaluate
from killswitch.engine.planner import update_history
from killswitch.engine.scope import instances
from killswitch.engine.signals import _nearest_liquidation
from killswitch.engine.state import PnlHistory, State
from killswitch.snapshot import (
    COLUMN_FIELDS,
    COLUMNS,
    PositionColumns,
    PositionList,
    Snapshot,
    columns_of,
    with_positions,
)
from tests.unit.adapters.simulated.test_snapshot import exchange
from tests.unit.engine_helpers import MIN, compile_graph, policy_text, pos, snap

from .test_properties import account, draw_positions, draw_snapshots

ATTRS = {attr: field for field, attr in COLUMNS.items()}  # every column the declaration marks


def read_fields(positions) -> dict[str, list]:
    out = {name: [getattr(p, f) for p in positions] for name, f in ATTRS.items()}
    out["side_keys"] = [p.position_side or p.side for p in positions]
    return out


def given_fields(cols: PositionColumns) -> dict[str, list]:
    return {name: getattr(cols, name) for name in [*ATTRS, "side_keys"]}


def book():
    return [pos("BTC/USDT:USDT", "long", 2.0, 100.0, -5.0, liq=70.0, margin=20.0),
            pos("ETH/USDT:USDT", "short", 1.5, 10.0, 3.0, position_side="SHORT"),
            pos("ETH/USDT:USDT", "long", 1.0, 10.0, -1.0, position_side="LONG", liq=0.0, margin=0.0)]


def test_columns_of_a_list_equal_its_fields_read_one_by_one():
    ps = book()
    made = PositionList.of(ps)
    assert made == ps and columns_of(made) is made.columns
    assert given_fields(made.columns) == read_fields(ps)
    engine = Columns(made)
    assert engine.symbols is made.columns.symbols  # taken as given, not read again
    assert [getattr(engine, n) for n in ATTRS] == [getattr(Columns(list(ps)), n) for n in ATTRS]
    one_way = PositionList.of([pos("A/USDT:USDT"), pos("B/USDT:USDT", "short")])
    assert one_way.columns.side_keys == ["long", "short"]
    assert columns_of(PositionList.of([])) is not None and columns_of(list(ps)) is None


@pytest.mark.parametrize("change", [
    lambda ps: ps.append(pos("X/USDT:USDT")), lambda ps: ps.extend([pos("X/USDT:USDT")]),
    lambda ps: ps.insert(0, pos("X/USDT:USDT")), lambda ps: ps.pop(), lambda ps: ps.remove(ps[0]),
    lambda ps: ps.clear(), lambda ps: ps.sort(key=lambda p: p.symbol), lambda ps: ps.reverse(),
    lambda ps: ps.__setitem__(0, pos("X/USDT:USDT")), lambda ps: ps.__delitem__(0),
    lambda ps: ps.__iadd__([pos("X/USDT:USDT")]), lambda ps: ps.__imul__(2),
    lambda ps: ps.__setitem__(slice(0, 1), [pos("X/USDT:USDT")]),
])
def test_a_position_list_cannot_be_changed_so_its_columns_always_hold(change):
    ps = PositionList.of(book())
    with pytest.raises((AttributeError, TypeError)):
        change(ps)
    assert ps == book() and given_fields(columns_of(ps)) == read_fields(book())
    grown = list(ps) + [pos("X/USDT:USDT")]  # another list is the caller's own, read field by field
    assert columns_of(grown) is None and Columns(grown).symbols == [p.symbol for p in grown]


def test_a_position_list_reads_as_the_list_of_its_positions():
    ps = book()
    held = PositionList.of(ps)
    assert len(held) == 3 and list(held) == ps and held[1] is ps[1] and held[-1] is ps[-1] and held[:2] == ps[:2]
    assert list(reversed(held)) == ps[::-1] and ps[2] in held and held.index(ps[2]) == 2 and held.count(ps[0]) == 1
    assert held == ps and ps == held and held == PositionList(ps) and held != ps[:2] and repr(held) == repr(ps)
    with pytest.raises(IndexError):
        held[3]
    with pytest.raises(TypeError):
        hash(held)


def test_columns_of_another_length_are_refused():
    ps = book()
    assert PositionList(ps, PositionList.of(ps[:2]).columns).columns is None


def test_a_snapshot_holding_a_position_list_is_the_same_snapshot():
    ps = book()
    plain = snap(10_000.0, 0, positions=ps)
    carried = with_positions(snap(10_000.0, 0), PositionList.of(ps))
    assert carried == plain and carried.model_dump_json() == plain.model_dump_json()
    assert columns_of(carried.positions) is not None
    again = Snapshot.model_validate_json(carried.model_dump_json())
    assert again == plain and columns_of(again.positions) is None  # a replay's snapshot: read field by field
    for copied in (copy.deepcopy(carried), pickle.loads(pickle.dumps(carried))):
        assert copied == plain
        cols = columns_of(copied.positions)
        assert cols is None or given_fields(cols) == read_fields(copied.positions)


def test_nearest_liquidation():
    marks, liqs = [100.0, 3.0, 7.5, 1e-3], [70.0, 3.3, 7.49, 2e-3]
    loop = min(abs(m - q) / m for m, q in zip(marks, liqs))
    assert _nearest_liquidation(marks, liqs) == loop
    assert _nearest_liquidation(marks, [None, 3.3, 0.0, None]) == abs(3.0 - 3.3) / 3.0
    assert _nearest_liquidation(marks, [None, None, 0.0, None]) is None
    assert _nearest_liquidation([], []) is None


def agg_by_loop(groups) -> dict:
    """The position aggregates by a loop over every position of every group, in order."""
    gross = net = max_loss = sum_loss = sum_m = 0.0
    max_m = min_liq = None
    for ps in groups:
        for p in ps:
            gross += p.notional
            net += p.notional if p.side == "long" else -p.notional
            u = p.unrealized_pnl
            if u < 0:
                sum_loss += -u
                max_loss = max(max_loss, -u)
                if p.margin:
                    sum_m += -u / p.margin
                    max_m = -u / p.margin if max_m is None else max(max_m, -u / p.margin)
            if p.liquidation_price:
                d = abs(p.mark_price - p.liquidation_price) / p.mark_price
                min_liq = d if min_liq is None else min(min_liq, d)
    return {"gross": gross, "net": net, "max_loss": max_loss, "sum_loss": sum_loss, "sum_margin_loss": sum_m,
            "max_margin_loss": max_m, "min_liq": min_liq}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_position_aggregates_over_many_accounts_equal_a_loop_over_every_position(data):
    """A scope over several accounts sums over all their columns in one pass: the same figures,
    to the last bit, as adding position by position, account after account."""
    from killswitch.engine.scope import ScopeView
    from killswitch.engine.signals import position_agg
    from killswitch.policy.registry import AGGREGATES

    groups = []
    for i in range(data.draw(st.integers(0, 4), label="accounts")):
        a = data.draw(account(f"a{i}"), label=f"account {i}")
        positions = draw_positions(data, a, data.draw(st.floats(5_000, 500_000), label="equity"))
        groups.append(PositionList.of(positions) if data.draw(st.booleans(), label="columns?") else positions)
    view = ScopeView("global", groups=[(snap(1.0, 0), ps) for ps in groups])
    agg = position_agg(view, AGGREGATES)
    assert {k: getattr(agg, k) for k in agg_by_loop(groups)} == agg_by_loop(groups)


GRAPH = compile_graph(policy_text(
    signals="""
        dd: {equity_drawdown: {window: 5m, min_coverage: 40%}}
        loss_eq: {position_loss: {of: equity, aggregate: sum}}
        loss_max: {position_loss: {of: equity}}
        loss_m: {position_loss: {of: margin}}
        loss_ms: {position_loss: {of: margin, aggregate: sum}}
        loss_n: {position_loss: {of: notional}}
        liq: liquidation_distance
        gross: gross_exposure
        net: net_exposure
        lev: leverage
        conc: {concentration: {by: symbol}}
        conc_b: {concentration: {by: base_asset}}
        losers: {position_count: {where: "loss_on_equity >= 0.5%"}}
    """,
    triggers="""
        t1: {when: "dd >= 1% || loss_eq >= 1% || loss_m >= 20% || net >= 300%", on_missing_data: hold}
        t2: {when: "dd >= 4% || loss_max >= 2% || liq <= 1% || conc >= 95% && gross >= 400%",
             on_missing_data: hold}
    """,
    stages="""
        - {level: 1, name: trim, on: [t1], cooldown: 2m,
           actions: [{reduce_top_risk: {count: 3, fraction: 50%, on_unknown_side: any}}]}
        - {level: 2, name: shed, on: [t2], cooldown: 2m,
           actions: [{reduce_top_risk: {count: 2, fraction: 100%, side: any}},
                     {close_positions: {where: "loss_on_margin >= 5%", count: 2, rank_by: loss_on_notional}}]}
    """,
    extra="""
        attribution: {reference_window: 3m, source_threshold: 60%}
    """,
))


def carrying(s: Snapshot) -> Snapshot:
    return with_positions(s, PositionList.of(s.positions)) if s.fetch.ok else s


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_evaluation_from_columns_equals_evaluation_from_fields(data):
    """Signals, triggers, attribution, every position's risk score and rank, and the plans are
    the same whether the snapshots carry their columns or the engine reads every field."""
    accounts = [data.draw(account("a"), label="account a")]
    if data.draw(st.booleans(), label="second account"):
        accounts.append(data.draw(account("b"), label="account b"))
    equity = {a["name"]: data.draw(st.floats(5_000, 500_000), label="equity0") for a in accounts}
    plain_state, col_state = State(), State()
    for i in range(data.draw(st.integers(3, 12), label="ticks")):
        now = i * MIN
        snaps = draw_snapshots(data, accounts, equity, now, 0.1, (-0.05, 0.04))
        carried = [carrying(s) for s in snaps]
        assert all(columns_of(s.positions) is not None for s in carried if s.fetch.ok)
        ev_plain, plain_state = evaluate(GRAPH, snaps, plain_state, now, scores="all")
        ev_cols, col_state = evaluate(GRAPH, carried, col_state, now, scores="all")
        assert ev_cols == ev_plain
        assert col_state.to_json() == plain_state.to_json()


@pytest.mark.parametrize("hedge", [False, True])
def test_the_simulated_adapter_hands_over_columns_equal_to_its_positions(hedge):
    ex, clock = exchange(hedge)
    ad = SimulatedAdapter(ex, "a")
    first = asyncio.run(ad.snapshot())
    assert len(first.positions) >= 5
    cols = columns_of(first.positions)
    assert cols is not None and given_fields(cols) == read_fields(first.positions)
    again = asyncio.run(ad.snapshot())  # nothing moved: the same positions and columns, a list of its own
    assert again.positions is not first.positions and again.positions == first.positions
    assert columns_of(again.positions) is cols
    clock.advance(61_000)  # marks drift: every position and column anew
    moved = asyncio.run(ad.snapshot())
    assert moved.positions != first.positions
    assert given_fields(columns_of(moved.positions)) == read_fields(moved.positions)


# --- the column paths of the entry tick against the loops they stand for ------------------------------

@settings(max_examples=300, deadline=None)
@given(scores=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.5]) | st.floats(0, 5, allow_nan=False), min_size=1,
                       max_size=60),
       data=st.data())
def test_highest_is_the_head_of_the_full_ranking(scores, data):
    n = len(scores)
    then = data.draw(st.lists(st.sampled_from([1.0, 2.0, 3.0]), min_size=n, max_size=n), label="notional")
    items = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1), label="items")) \
        if data.draw(st.booleans(), label="subset") else list(range(n))
    count = data.draw(st.integers(0, n + 1), label="count")
    names = [f"k{data.draw(st.integers(0, 4), label='key')}-{i}" for i in range(n)]
    full = sorted(items, key=lambda i: (-scores[i], -then[i], names[i]))[:count]
    assert facts.highest(items, count, scores, then, names.__getitem__) == full
    assert facts.smallest(items, count, lambda i: (-scores[i], -then[i]), names.__getitem__) == full


def test_highest_with_a_nan_score_ranks_as_before():
    scores, then = [1.0, float("nan"), 3.0, 2.0], [1.0, 1.0, 1.0, 1.0]
    items = [0, 1, 2, 3]
    assert facts.highest(items, 2, scores, then, str) == \
        facts.smallest(items, 2, lambda i: (-scores[i], -then[i]), str)


def test_deltas_from_aligned_samples_equal_deltas_by_key():
    """The reference PnL taken index by index (the positions those of the reference sample, in
    order) equals the one looked up by (symbol, side); a book that changed is looked up by key."""
    policy = GRAPH.policy("p")
    ps = [pos(f"S{i}/USDT:USDT", "long" if i % 3 else "short", 1.0, 100.0, float(i % 7 - 3),
              position_side=None if i % 2 else "BOTH") for i in range(12)]
    hist = PnlHistory(3 * MIN, 3_000)
    first = snap(10_000.0, 0, positions=PositionList.of(ps))
    update_history(hist, [first], 0, Tables())
    later = [pos(p.symbol, p.side, 1.0, 101.0, p.unrealized_pnl * 1.5 - 1, position_side=p.position_side)
             for p in ps]
    for positions, aligned in ((PositionList.of(later), True), (later, True),
                               (PositionList.of(later[::-1]), False), (PositionList.of(later[1:]), False)):
        s = snap(10_000.0, 3 * MIN, positions=positions)
        q = hist.accounts["simulated/a"]
        c = Tables().of(s.positions)
        assert (hist.aligned("simulated/a", q[0], c.symbols, c.side_keys) is not None) == aligned
        view = instances(policy, [s], Tables())[0]
        ref = PnlHistory.reference(q[0])
        by_key = [u - ref[k] for k, u in zip(c.keys, c.upnl)]
        assert deltas(policy, view, hist, 3 * MIN) == by_key


@settings(max_examples=200, deadline=None)
@given(sides=st.lists(st.sampled_from(["long", "short"]), max_size=40), data=st.data())
def test_the_declines_summed_by_the_attribution_are_the_declining_positions_of_each_side(sides, data):
    """``reduce_top_risk`` ranks the positions the attribution's one pass found declining: on
    each side, every position whose delta is known and below 0, in the view's order."""
    from killswitch.engine.attribution import attribute

    policy = GRAPH.policy("p")
    d = [data.draw(st.none() | st.sampled_from([0.0, -0.0, -1.5, 2.0]) | st.floats(-50, 50), label=f"delta {i}")
         for i in range(len(sides))]
    ps = [pos(f"S{i}/USDT:USDT", side, 1.0, 100.0, 0.0) for i, side in enumerate(sides)]
    view = instances(policy, [snap(10_000.0, 0, positions=PositionList.of(ps))], Tables())[0]
    att, declines = attribute(policy, view, d)
    for side, got in (("long", declines.long), ("short", declines.short)):
        assert got == [i for i, (x, sd) in enumerate(zip(d, sides)) if x is not None and x < 0 and sd == side]
    assert att.long_decline == -sum(d[i] for i in declines.long)  # (0.0 when none declined)
    assert att.excluded == d.count(None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_position_keys_and_pairs_by_index_equal_those_of_the_models(data):
    """The entry reads a position's key from the columns (a tiebreak over thousands of tied
    scores) and finds its model by bisection: the same key and the same model as the pairs list,
    over several accounts, some without positions, hedge legs among them."""
    from killswitch.engine.scope import ScopeView, position_key

    groups = []
    for i in range(data.draw(st.integers(1, 4), label="accounts")):
        a = data.draw(account(f"a{i}"), label=f"account {i}")
        positions = draw_positions(data, a, data.draw(st.floats(5_000, 500_000), label="equity"))
        if data.draw(st.booleans(), label="empty?"):
            positions = []
        groups.append((snap(1.0, 0, account=f"a{i}"),
                       PositionList.of(positions) if data.draw(st.booleans(), label="columns?") else positions))
    pairs = [(s, p) for s, ps in groups for p in ps]
    view = ScopeView("global", groups=groups)
    key = view.key_function()
    for i, (s, p) in enumerate(pairs):
        assert view.pair(i) == (s, p)
        assert view.key_at(i) == key(i) == position_key(s, p)
    with pytest.raises(IndexError):
        view.pair(len(pairs))
    with pytest.raises(IndexError):
        view.key_at(len(pairs))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_risk_scores_of_some_positions_equal_their_scores_among_all(data):
    """A ranking of the declining side computes the scores of those positions alone: each is the
    number the full list holds for it, to the last bit (the largest decline and loss being the
    scope's, not those of the positions asked for)."""
    from killswitch.engine.attribution import risk_scores
    from killswitch.engine.scope import ScopeView

    a = data.draw(account("a0"), label="account")
    equity = data.draw(st.floats(5_000, 500_000), label="equity")
    positions = draw_positions(data, a, equity)
    view = ScopeView("a0", snapshots=[snap(equity, 0)], groups=[(snap(equity, 0), positions)])
    d = [data.draw(st.none() | st.floats(-500, 500), label="delta") for _ in positions]
    policy = GRAPH.policies[0]
    full = risk_scores(policy, view, d)
    only = sorted(data.draw(st.sets(st.integers(0, max(0, len(positions) - 1)), max_size=len(positions)),
                            label="only")) if positions else []
    assert risk_scores(policy, view, d, only) == [full[i] for i in only]


def test_highest_over_many_ties_with_a_nan_notional_ranks_as_before():
    scores, then = [2.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 3.0, float("nan"), 3.0, 2.0, 3.0]
    names = ["f", "e", "d", "c", "b", "a"]
    items = list(range(6))
    assert facts.highest(items, 3, scores, then, names.__getitem__) == \
        facts.smallest(items, 3, lambda i: (-scores[i], -then[i]), names.__getitem__) == [0, 5, 3]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_rows_read_from_the_columns_are_the_positions_as_a_close_reads_them(data):
    """A close of positions made on reading reads each from the columns (no model made): its
    symbol, side, contracts, notional, mark, unrealized PnL (what an action kind's ``plan`` reads of
    it), its key and the leg it sends are the model's, hedge
    legs and ``BOTH`` among them; a list of models hands the model itself. The keys made at once
    (``keys_at``, ``keys``) are the keys made one by one."""
    from killswitch.engine.scope import ScopeView, position_key
    from killswitch.snapshot import PositionsOnReading

    groups, models = [], []
    made: list[int] = []
    for i in range(data.draw(st.integers(1, 3), label="accounts")):
        a = data.draw(account(f"a{i}"), label=f"account {i}")
        ps = draw_positions(data, a, data.draw(st.floats(5_000, 500_000), label="equity"))
        rows = [tuple(getattr(p, f) for f in COLUMN_FIELDS) for p in ps]
        on_reading = data.draw(st.booleans(), label="made on reading?")
        held = PositionsOnReading(PositionColumns(rows), lambda j, ps=ps: made.append(j) or ps[j]) if on_reading \
            else PositionList.of(ps)
        groups.append((snap(1.0, 0, account=f"a{i}"), held))
        models += [(on_reading, p) for p in ps]
    view = ScopeView("global", groups=groups)
    for i, (on_reading, p) in enumerate(models):
        s, row = view.row(i)
        if not on_reading:
            assert row is p
            continue
        assert (row.symbol, row.side, row.contracts, row.notional, row.mark_price, row.unrealized_pnl) == \
            (p.symbol, p.side, p.contracts, p.notional, p.mark_price, p.unrealized_pnl)
        assert (row.position_side or row.side) == (p.position_side or p.side)
        sent = [x.position_side if x.position_side in ("LONG", "SHORT") else None for x in (row, p)]
        assert sent[0] == sent[1]
        assert position_key(s, row) == position_key(s, p) == view.key_at(i)
    fields = ("symbol", "side", "position_side", "contracts", "notional", "mark_price", "unrealized_pnl")
    every = list(view.rows())  # a close_all's walk: the same, in the same order
    assert len(every) == len(models)
    for i, (s, x) in enumerate(every):
        s_i, y = view.row(i)
        assert s is s_i and [getattr(x, f) for f in fields] == [getattr(y, f) for f in fields]
    picked = data.draw(st.lists(st.integers(0, len(models) - 1), max_size=12), label="rows picked") if models else []
    for (s, x), i in zip(view.rows_at(picked), picked, strict=True):  # the liquidation pass's read, in one pass
        s_i, y = view.row(i)
        assert s is s_i and [getattr(x, f) for f in fields] == [getattr(y, f) for f in fields]
    assert view.keys_at(picked) == [view.key_at(i) for i in picked]  # the liquidation pass's keys, at once
    assert view.keys() == [position_key(s, p) for s, p in every]  # a close_all's keys, at once
    for bad in ([len(models)], [-1]):
        with pytest.raises(IndexError):
            list(view.rows_at(bad))
        with pytest.raises(IndexError):
            view.keys_at(bad)
    assert made == []


def test_a_kind_reads_any_declared_column_of_the_positions_its_scope_owns():
    """``SignalInputs.position_column``: the engine's column of a declared field, over every
    account of the scope in order (columns given or read from the models alike), and only the
    positions a strategy-scoped instance owns."""
    from killswitch.engine.signals import KindInputs

    ps = [pos("A/USDT:USDT", liq=80.0, strategy="alpha"), pos("B/USDT:USDT", strategy="beta"),
          pos("C/USDT:USDT", liq=120.0, strategy="alpha")]
    graph = compile_graph(policy_text("s: {open_orders: {}}", 't: {when: "s >= 3", on_missing_data: ignore}',
                                      "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}",
                                      scope="{level: global}"))
    snaps = [with_positions(snap(10_000.0, 0, account="a"), PositionList.of(ps[:2])),
             snap(10_000.0, 0, account="b", positions=ps[2:])]
    [view] = instances(graph.policy("p"), snaps, Tables())
    inputs = KindInputs(view, State())
    assert inputs.position_column("liquidation_price") == [80.0, None, 120.0]
    assert inputs.position_column("symbol") == ["A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT"]
    graph = compile_graph(policy_text("s: {open_orders: {}}", 't: {when: "s >= 3", on_missing_data: ignore}',
                                      "- {level: 1, name: one, on: [t], actions: [{lock_trading: {mode: reducing}}]}",
                                      scope="{level: strategy, strategies: [alpha, beta]}"))
    views = {v.key: v for v in instances(graph.policy("p"), snaps[:1], Tables())}
    assert KindInputs(views["alpha"], State()).position_column("liquidation_price") == [80.0]
    assert KindInputs(views["beta"], State()).position_column("symbol") == ["B/USDT:USDT"]
