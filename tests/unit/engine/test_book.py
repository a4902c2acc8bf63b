"""Order-book-aware unwinding in the engine (killswitch/engine/depth.py and the planner).

Books are written by hand: bids best first. Expected children are worked out from the rules in
depth.py's docstring: capacity = what the levels within max_impact of the best bid and
max_slippage of the mark hold; the fewest equal children no larger than the capacity; each
priced at the last level it reaches.
"""

from __future__ import annotations

import functools
import math

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.compile.nodes import UnwindNode
from killswitch.engine import depth
from killswitch.engine.evaluate import book_requests, evaluate, replan
from killswitch.snapshot import OrderBook
from tests.unit.engine_helpers import MarketRules, compile_graph, pos, snap

from .test_planner import T, book, leg, make_plan, planner_policy

SYM = "BTC/USDT:USDT"
LADDER = tuple((100.0 - 0.1 * i, 2.0) for i in range(20))  # 100.0, 99.9, ... each 2 contracts
ASKS = tuple((100.1 + 0.1 * i, 2.0) for i in range(20))


def with_book(s, bids=LADDER, asks=ASKS, symbol=SYM):
    return s.model_copy(update={"books": {symbol: OrderBook(bids=bids, asks=asks)}})


@functools.lru_cache(maxsize=64)
def close_all_policy(unwind):
    return planner_policy("[close_all]", extra=f"unwind: {unwind}")


def book_plan(unwind, legs, bids=LADDER, asks=ASKS, step=0.001, books=True):
    p = close_all_policy(unwind)
    now, then = book(legs, markets={SYM: MarketRules(amount_step=step)})
    if books:
        now = with_book(now, bids, asks)
    return make_plan(p, [now], [then])


# --- sizing ----------------------------------------------------------------------------------


def test_a_long_is_split_into_equal_children_within_the_impact_cap_each_priced_at_its_last_level():
    # 0.5% from the best bid (100): 100.0 .. 99.5, 6 levels, 12 contracts; 37 → 4 children of 9.25
    pl = book_plan("{max_impact: 0.5%, max_slippage: 1%}", [leg(SYM, "long", 37, 100)])
    assert [o.amount for o in pl.orders] == [9.25] * 4
    assert [o.limit_price for o in pl.orders] == pytest.approx([99.6] * len(pl.orders))  # 9.25 reaches the 5th level
    assert all(o.reduce_only and o.side == "sell" for o in pl.orders)
    assert [o.chunk for o in pl.orders] == [1, 2, 3, 4] and {o.chunks for o in pl.orders} == {4}
    assert len({o.client_order_id for o in pl.orders}) == 4
    assert pl.skipped == ()


def test_a_short_walks_the_asks():
    pl = book_plan("{max_impact: 0.2%, max_slippage: 1%}", [leg(SYM, "short", 10, 100)])
    # asks 100.1 .. 100.3 are within 0.2% of 100.1: 3 levels, 6 contracts → 2 children of 5
    assert [(o.side, o.amount) for o in pl.orders] == [("buy", 5.0), ("buy", 5.0)]
    assert [o.limit_price for o in pl.orders] == pytest.approx([100.3] * len(pl.orders))


def test_the_slippage_cap_binds_before_the_impact_cap():
    # max_slippage 0.15% of mark 100: bids down to 99.85 → 100.0, 99.9 (2 levels, 4 contracts)
    pl = book_plan("{max_impact: 10%, max_slippage: 0.15%}", [leg(SYM, "long", 8, 100)])
    assert [o.amount for o in pl.orders] == [4.0, 4.0]
    assert all(o.limit_price >= 100 * (1 - 0.0015) for o in pl.orders)


def test_chunk_notional_still_caps_each_child():
    pl = book_plan("{max_impact: 10%, max_slippage: 10%, chunk_notional: 300}", [leg(SYM, "long", 12, 100)])
    assert all(o.notional <= 300 + 1e-9 for o in pl.orders) and math.fsum(o.amount for o in pl.orders) == 12


def test_a_position_the_book_takes_at_once_is_one_order_at_the_level_it_reaches():
    pl = book_plan("{max_impact: 1%}", [leg(SYM, "long", 3, 100)])
    assert [(o.amount, o.limit_price) for o in pl.orders] == [(3.0, pytest.approx(99.9))]


def test_book_depth_alone_prices_from_the_book_within_the_default_slippage_cap():
    pl = book_plan("{book_depth: 20}", [leg(SYM, "long", 3, 100)])
    assert [(o.amount, o.limit_price) for o in pl.orders] == [(3.0, pytest.approx(99.9))]


# --- failing safe ------------------------------------------------------------------------------


def test_missing_book_falls_back_to_chunk_notional_at_the_slippage_cap_and_says_so():
    pl = book_plan("{max_impact: 0.5%, max_slippage: 1%, chunk_notional: 2k}", [leg(SYM, "long", 37, 100)],
                   books=False)
    assert [o.limit_price for o in pl.orders] == [pytest.approx(99.0)] * len(pl.orders)
    assert all(o.notional <= 2_000 + 1e-9 for o in pl.orders) and math.fsum(o.amount for o in pl.orders) == 37
    assert any(s.startswith("BOOK_MISSING") and "split by chunk_notional" in s for s in pl.skipped), pl.skipped


@pytest.mark.parametrize("bids, code", [
    pytest.param((), "BOOK_EMPTY", id="no_bids"),
    pytest.param(((0.0, 1.0),), "BOOK_INVALID", id="zero_price"),
    pytest.param(((99.0, 1.0), (100.0, 1.0)), "BOOK_INVALID", id="bids_out_of_order"),
    pytest.param(((100.0, -1.0),), "BOOK_INVALID", id="negative_amount"),
    pytest.param(((100.0, float("nan")),), "BOOK_INVALID", id="nan_amount"),
    pytest.param(((98.0, 50.0),), "BOOK_OUTSIDE_CAP", id="best_bid_past_the_slippage_cap"),
    pytest.param(((100.0, 0.0005),), "BOOK_OUTSIDE_CAP", id="thin_book_less_than_one_step"),
])
def test_an_unusable_book_falls_back_with_its_reason_code(bids, code):
    pl = book_plan("{max_impact: 0.5%, max_slippage: 1%}", [leg(SYM, "long", 5, 100)], bids=bids)
    assert [(o.amount, o.limit_price) for o in pl.orders] == [(5.0, pytest.approx(99.0))]
    assert any(s.startswith(code) for s in pl.skipped), pl.skipped


def test_a_thin_book_makes_many_small_children_each_within_the_caps():
    thin = tuple((100.0 - 0.1 * i, 0.01) for i in range(20))  # 0.01 a level
    pl = book_plan("{max_impact: 0.3%, max_slippage: 1%}", [leg(SYM, "long", 0.4, 100)], bids=thin)
    assert len(pl.orders) == 10 and math.fsum(o.amount for o in pl.orders) == pytest.approx(0.4)
    assert all(o.amount <= 0.04 + 1e-12 and o.limit_price >= 99.7 - 1e-9 for o in pl.orders)


def test_a_book_too_thin_for_the_position_gets_at_most_max_children_each_priced_within_the_caps():
    dust = tuple((100.0 - 0.1 * i, 0.001) for i in range(5))  # 0.005 within the caps
    pl = book_plan("{max_impact: 0.5%, max_slippage: 1%}", [leg(SYM, "long", 37, 100)], bids=dust)
    assert len(pl.orders) == depth.MAX_CHILDREN
    assert math.fsum(o.amount for o in pl.orders) == pytest.approx(37)
    assert all(o.limit_price == pytest.approx(99.6) for o in pl.orders)
    assert "BOOK_THIN" in pl.orders[0].reason


def test_chunk_notional_holds_even_when_the_book_is_too_thin_for_max_children():
    dust = tuple((100.0 - 0.1 * i, 0.001) for i in range(5))
    pl = book_plan("{max_impact: 0.5%, max_slippage: 1%, chunk_notional: 20}", [leg(SYM, "long", 37, 100)],
                   bids=dust)
    assert len(pl.orders) == 185 and all(o.notional <= 20 + 1e-9 for o in pl.orders)  # 0.2 each, not 0.37
    assert math.fsum(o.amount for o in pl.orders) == pytest.approx(37)


def test_without_book_keys_nothing_changes():
    with_keys = book_plan("{chunk_notional: 1k}", [leg(SYM, "long", 37, 100)])
    without = book_plan("{chunk_notional: 1k}", [leg(SYM, "long", 37, 100)], books=False)
    assert with_keys.orders == without.orders and with_keys.skipped == without.skipped == ()


def test_spot_sales_are_not_sized_by_the_book():
    from tests.unit.engine_helpers import Balance

    from .test_planner import spot_snap
    p = planner_policy("[close_all]", extra="unwind: {max_impact: 0.5%}")
    pl = make_plan(p, [spot_snap([Balance(asset="BTC", free=2, total=2, price=40_000)])])
    assert len(pl.orders) == 1 and not pl.orders[0].reduce_only and "BOOK" not in pl.orders[0].reason


# --- properties -----------------------------------------------------------------------------------

levels = st.lists(st.tuples(st.floats(0.001, 5.0), st.floats(0.0, 50.0)), min_size=0, max_size=30)


@settings(max_examples=200, deadline=None)
@given(contracts=st.floats(0.001, 500.0), mark=st.floats(1.0, 1000.0), gaps=levels,
       side=st.sampled_from(["long", "short"]), step=st.sampled_from([0.0, 0.001, 0.1, 1.0]),
       impact=st.sampled_from(["0.1%", "1%", "10%"]),
       slip=st.sampled_from(["0.2%", "0.5%", "2%"]), chunk=st.sampled_from(["", ", chunk_notional: 5k"]))
def test_children_are_reduce_only_sum_to_at_most_the_position_and_stay_within_the_slippage_cap(
        contracts, mark, gaps, side, step, impact, slip, chunk):
    if step:
        contracts = max(step, math.floor(contracts / step) * step)
    # a monotone book from random gaps (in bp of the mark) and sizes
    px, out = mark * (1 - 0.0001) if side == "long" else mark * (1 + 0.0001), []
    for gap, size in gaps:
        out.append((px, size))
        px = px * (1 - gap / 1e4) if side == "long" else px * (1 + gap / 1e4)
    bids, asks = (tuple(out), ()) if side == "long" else ((), tuple(out))
    pl = book_plan(f"{{max_impact: {impact}, max_slippage: {slip}{chunk}}}", [leg(SYM, side, contracts, mark)],
                   bids=bids, asks=asks, step=step)
    cap = float(slip.rstrip("%")) / 100
    assert pl.orders, pl.skipped
    assert math.fsum(o.amount for o in pl.orders) <= contracts * (1 + 1e-9) + 1e-12
    assert math.fsum(o.amount for o in pl.orders) == pytest.approx(contracts, rel=1e-9, abs=1e-9)
    sized = not any(x.startswith("BOOK_") for x in pl.skipped)
    best = next((p for p, a in out if a > 0), None)  # the best level that holds something
    for o in pl.orders:
        assert o.reduce_only and o.amount > 0
        assert o.side == ("sell" if side == "long" else "buy")
        if sized:  # priced from the book: within max_impact of the best price too
            assert ("BOOK: " in o.reason) and abs(o.limit_price - best) / best <= float(impact.rstrip("%")) / 100 + 1e-9
        if o.side == "sell":
            assert o.limit_price >= mark * (1 - cap) * (1 - 1e-9)
        else:
            assert o.limit_price <= mark * (1 + cap) * (1 + 1e-9)


@settings(max_examples=200, deadline=None)
@given(amount=st.floats(0.001, 1e4), most=st.floats(0.001, 1e3), step=st.sampled_from([0.0, 0.001, 0.01, 1.0]))
def test_split_steps_adds_up_and_stays_under_the_most_but_for_dust(amount, most, step):
    most = max(most, amount / 2000)  # (the planner asks for at most MAX_CHILDREN pieces)
    if step:
        amount = max(step, round(math.floor(amount / step) * step, 9))
    pieces = depth.split_steps(amount, most, step)
    assert math.fsum(pieces) == pytest.approx(amount, rel=1e-9, abs=1e-9)
    assert all(p > 0 for p in pieces)
    if len(pieces) > 1:
        assert all(p <= max(most, step) + (step or 0) + 1e-9 for p in pieces)


# --- two passes: only the books a close needs, then planned again -------------------------------------

TWO_PASS = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: p}
spec:
  scope: {level: account}
  interval: 5s
  signals:
    n: {position_count: {side: any}}
  triggers:
    t: {when: "n >= 1", on_missing_data: hold}
  stages:
    - {level: 1, name: flatten, on: [t], actions: [{close_positions: {symbols: [BTC/USDT:USDT]}}]}
  unwind: {max_impact: 0.5%, max_slippage: 1%, book_depth: 50}
"""


def test_book_requests_name_only_the_symbols_being_closed_and_replan_uses_their_books():
    graph = compile_graph(TWO_PASS)
    s = snap(100_000, T, positions=[pos(SYM, "long", 37, 100), pos("ETH/USDT:USDT", "long", 5, 100)],
             markets={SYM: MarketRules(amount_step=0.001)})
    ev, state = evaluate(graph, [s], None, T)
    assert book_requests(graph, ev, [s]) == {"simulated/a": {SYM: 50}}  # not ETH: no close planned for it
    first = ev.plans[0]
    assert any(x.startswith("BOOK_MISSING") for x in first.skipped)
    again = replan(graph, ev, [with_book(s)], state)
    p = again.plans[0]
    assert [o.amount for o in p.orders] == [9.25] * 4 and not any(x.startswith("BOOK_") for x in p.skipped)
    assert (p.decision_id, p.stage, p.directives, p.cancels) == (first.decision_id, first.stage, first.directives,
                                                                  first.cancels)
    assert book_requests(graph, again, [with_book(s)]) == {}


def test_no_books_are_requested_without_book_keys_or_without_a_close():
    graph = compile_graph(TWO_PASS.replace("  unwind: {max_impact: 0.5%, max_slippage: 1%, book_depth: 50}\n", ""))
    s = snap(100_000, T, positions=[pos(SYM, "long", 37, 100)])
    ev, _ = evaluate(graph, [s], None, T)
    assert ev.plans and book_requests(graph, ev, [s]) == {}
    graph = compile_graph(TWO_PASS)
    ev, _ = evaluate(graph, [snap(100_000, T, positions=[])], None, T)
    assert book_requests(graph, ev, [snap(100_000, T)]) == {}


def test_walk_and_caps_by_hand():
    assert depth.walk(LADDER, 3.0)[0] == pytest.approx(99.9)
    assert depth.walk(LADDER, 4.0)[:2] == (pytest.approx(99.9), pytest.approx(99.95))
    assert len(depth.within_caps(LADDER, "sell", 100.0, 0.003, 0.02)) == 4
    assert depth.within_caps(LADDER, "sell", 100.0, None, 0.001) == LADDER[:2]
    kids, note = depth.children(5.0, "sell", 100.0, 100.0, 1.0, OrderBook(bids=LADDER), UnwindNode(max_impact=0.001))
    # both children at the level the larger (3) reaches, not the smaller's own (100.0)
    assert kids == [(3.0, pytest.approx(99.9)), (2.0, pytest.approx(99.9))] and note.startswith("BOOK: 2 child")


# --- the policy keys ------------------------------------------------------------------------------


def test_the_keys_compile_to_fractions_and_levels_and_only_their_use_changes_the_digest():
    base = compile_graph(TWO_PASS.replace("  unwind: {max_impact: 0.5%, max_slippage: 1%, book_depth: 50}\n",
                                          "  unwind: {max_slippage: 1%}\n"))
    keyed = compile_graph(TWO_PASS)
    impact_only = compile_graph(TWO_PASS.replace(", book_depth: 50", ""))
    u = keyed.policy("p").unwind
    assert (u.max_impact, u.book_depth, u.depth, u.uses_book) == (0.005, 50, 50, True)
    assert (impact_only.policy("p").unwind.depth, base.policy("p").unwind.uses_book) == (20, False)
    assert len({base.digest, keyed.digest, impact_only.digest}) == 3
    assert "max_impact" not in str(base.policy("p").canonical) and "book_depth" not in str(base.policy("p").canonical)


def test_children_go_out_in_rounds_so_a_book_refills_between_two_children_of_its_close():
    eth = "ETH/USDT:USDT"
    p = close_all_policy("{max_impact: 0.5%, max_slippage: 1%}")
    now, then = book([leg(SYM, "long", 37, 100), leg(eth, "long", 20, 100)],
                     markets={SYM: MarketRules(amount_step=0.001)})
    now = now.model_copy(update={"books": {SYM: OrderBook(bids=LADDER), eth: OrderBook(bids=LADDER)}})
    pl = make_plan(p, [now], [then])
    # BTC (the larger) 4 children, ETH 2: first children of both, then second ones, then BTC's last two
    assert [(o.symbol, o.chunk) for o in pl.orders] == [(SYM, 1), (eth, 1), (SYM, 2), (eth, 2), (SYM, 3), (SYM, 4)]
    assert [o.not_before_ms for o in pl.orders] == sorted(o.not_before_ms for o in pl.orders)
