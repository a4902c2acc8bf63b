"""What a preview shows of a decision: risk scores with their components (equal to the scores the
planner ranks by), the score listing's bounds, the order the runner sends intents in, and the
positions several decisions close (gross and net totals). Hand-worked numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.engine.attribution import COMPONENTS, TOP_SCORES, Attribution, risk_components, risk_scores
from killswitch.engine.planner import Plan, PnlHistory, history_for, plan, update_history
from killswitch.engine.scope import instances
from killswitch.orders import CancelIntent, OrderIntent, position_of, send_order, send_sequence
from killswitch.preview.overlaps import Decided, close_totals
from tests.unit.engine.test_planner import EQUITY, T, book, leg, planner_policy
from tests.unit.engine_helpers import pos, snap

WEIGHTS = [
    None,  # the defaults: 0.40 / 0.25 / 0.20 / 0.10 / 0.05
    "risk_score: {weights: {pnl_delta: 0.1, current_loss: 0.2, liq_proximity: 0.3, notional_share: 0.3, "
    "margin_loss: 0.1}}",
    "risk_score: {weights: {pnl_delta: 0, current_loss: 0, liq_proximity: 1, notional_share: 0, margin_loss: 0}}",
]


def _plan(policy, legs, scores="top", equity=EQUITY):
    now, then = book(legs, equity=equity)
    window, step = history_for(policy)
    hist = PnlHistory(window, step)
    update_history(hist, [then], T - window)
    update_history(hist, [now], T)
    view = instances(policy, [now])[0]
    return plan(policy, policy.stage(1), view, "p/simulated/a/L1/e1", T, hist, scores=scores)


# --- risk components ---------------------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
position = st.builds(
    lambda side, contracts, mark, pnl, liq_off, margin: pos(
        "BTC/USDT:USDT", side, contracts, mark, pnl,
        liq=None if liq_off is None else mark * (1 + liq_off), margin=margin),
    st.sampled_from(["long", "short"]), st.floats(0.001, 1e4), st.floats(0.01, 1e5), finite,
    st.one_of(st.none(), st.floats(-0.9, 0.9)), st.one_of(st.none(), st.floats(0.01, 1e6)))


@settings(max_examples=200, deadline=None)
@given(groups=st.lists(st.lists(position, max_size=8), min_size=1, max_size=3),
       deltas=st.lists(st.one_of(st.none(), finite), min_size=24, max_size=24),
       equity=st.one_of(st.none(), st.floats(0.0, 1e7)), weights=st.sampled_from(WEIGHTS))
def test_a_score_is_the_sum_of_its_weighted_components_exactly_as_risk_scores_computes_it(
        groups, deltas, equity, weights):
    policy = planner_policy("[{close_all: {}}]", extra=weights or "")
    snaps = [snap(equity, T, account=f"a{i}", positions=ps) for i, ps in enumerate(groups)]
    for v in instances(policy, snaps):  # one scope per account, each of its own columns
        d = deltas[:v.position_count]
        scores = risk_scores(policy, v, d)
        parts = risk_components(policy, v, d)
        assert [p.score for p in parts] == scores  # equal, not close: the planner ranks by them
        w = policy.risk_weights
        ws = (w.pnl_delta, w.current_loss, w.liq_proximity, w.notional_share, w.margin_loss)
        for p in parts:
            assert all(0.0 <= x <= 1.0 for x in p.values)
            assert p.weighted == tuple(wi * x for wi, x in zip(ws, p.values))
            assert sum(p.weighted) == pytest.approx(p.score, abs=1e-12)


def test_components_by_hand():
    # Both longs lost 200 over the window (the largest decline and the largest loss): pnl_delta
    # and current_loss are 1. ETH is 5 % from its liquidation price: proximity 1 - 0.05/0.25 =
    # 0.8; its notional is 40 % of equity, BTC's 10 %. No margin: no margin_loss.
    legs = [leg("BTC/USDT:USDT", "long", 100, 100, pnl=-200),
            leg("ETH/USDT:USDT", "long", 400, 100, pnl=-200, liq=95)]
    pl = _plan(planner_policy("[{reduce_top_risk: {count: 1, fraction: 50%}}]"), legs)
    t = pl.scores
    assert t is not None and t.listing == "top" and t.positions == 2
    assert t.max_decline == 200 and t.max_loss == 200 and t.equity == EQUITY
    eth, btc = t.entries
    assert (eth.symbol, eth.rank, eth.selected, eth.closed) == ("ETH/USDT:USDT", 1, True, True)
    assert (btc.symbol, btc.rank, btc.selected, btc.closed) == ("BTC/USDT:USDT", 2, False, False)
    assert eth.values == pytest.approx((1.0, 1.0, 0.8, 0.4, 0.0))
    assert eth.weighted == pytest.approx((0.40, 0.25, 0.16, 0.04, 0.0))
    assert eth.score == pytest.approx(0.85)
    assert btc.values == pytest.approx((1.0, 1.0, 0.0, 0.1, 0.0)) and btc.score == pytest.approx(0.66)
    assert len(COMPONENTS) == len(eth.values)


def test_the_top_listing_is_bounded_and_keeps_what_a_ranking_chose():
    # 14 longs bleed (they rank 1..14); a cut of the short side picks the two shorts, ranked last
    legs = [leg(f"L{i}/USDT:USDT", "long", 100, 100, pnl=-100 - 10 * i) for i in range(14)]
    legs += [leg("S1/USDT:USDT", "short", 10, 100, pnl=-1), leg("S2/USDT:USDT", "short", 10, 100, pnl=-2)]
    policy = planner_policy("[{reduce_top_risk: {count: 2, fraction: 50%, side: short}}]")
    top = _plan(policy, legs).scores
    assert top is not None and top.positions == 16
    assert len(top.entries) == TOP_SCORES + 2
    assert [e.rank for e in top.entries] == list(range(1, TOP_SCORES + 1)) + [15, 16]
    assert {e.symbol for e in top.entries if e.selected} == {"S1/USDT:USDT", "S2/USDT:USDT"}
    every = _plan(policy, legs, scores="all").scores
    assert every is not None and [e.rank for e in every.entries] == list(range(1, 17))
    assert _plan(policy, legs, scores="none").scores is None


def test_a_stage_that_closes_nothing_lists_no_scores():
    pl = _plan(planner_policy("[{lock_trading: {mode: reducing}}]"), [leg("BTC/USDT:USDT", "long", pnl=-5)])
    assert pl.scores is None and pl.attribution.side == "LONG"


# --- the order the runner sends in -------------------------------------------------------------------------


def _order(account, n):
    return OrderIntent("d", f"id-{account}-{n}", "v", account, "BTC/USDT:USDT", "sell", None, 1.0, True, None,
                       1.0, 1, 1, 0, "close_all", "CLOSE_ALL")


def _cancel(account):
    return CancelIntent("v", account, "entries", ("o1",), "CANCEL_ENTRIES")


def test_cancels_go_first_then_each_account_in_plan_order():
    none = Attribution("UNKNOWN", 0.0, 0.0, None, None)
    a = Plan("A", 1, none, cancels=(_cancel("x"),), orders=(_order("x", 1), _order("x", 2), _order("y", 1)))
    b = Plan("B", 1, none, cancels=(_cancel("x"), _cancel("y")), orders=(_order("y", 2), _order("x", 3)))
    cancels, per_account = send_order([a, b])
    assert cancels == [a.cancels[0], b.cancels[0], b.cancels[1]]
    assert per_account == {"v/x": [a.orders[0], a.orders[1], b.orders[1]], "v/y": [a.orders[2], b.orders[0]]}
    # three cancels (x's two one after another, y's beside them); then x's orders 4, 5, 6 and
    # y's 4, 5 (y's go beside x's)
    assert send_sequence([a, b]) == [((1,), (4, 5, 4)), ((2, 3), (5, 6))]
    assert send_sequence([]) == []


# --- overlapping closes ------------------------------------------------------------------------------------


def _close(symbol, amount, notional, side="sell", position_side=None, reduce_only=True):
    return OrderIntent("d", "c", "v", "a", symbol, side, position_side, amount, reduce_only, None, notional, 1, 1, 0,
                       "close_all", "CLOSE_ALL")


def test_a_position_closed_twice_is_counted_once_at_its_largest_close():
    btc = "BTC/USDT:USDT"
    d1 = Decided(1, "P", "v/a", 2, "P/L2",
                 (_close(btc, 2.5, 100), _close(btc, 2.5, 100), _close("ETH/USDT:USDT", 10, 50)))
    d2 = Decided(2, "Q", "global", 1, "Q/L1", (_close(btc, 5, 210),))
    d3 = Decided(3, "P", "v/a", 3, "P/L3", (_close(btc, 2.5, 90),))
    t = close_totals([d1, d2, d3])
    assert t.gross == 550 and t.net == 210 + 50 and t.positions == 2
    (o,) = t.overlaps
    assert o.position == "v/a/BTC/USDT:USDT/long" and o.policies == ("P", "Q")
    assert (o.net_amount, o.net_notional, o.gross_notional) == (5, 210, 500)
    assert [(c.decision_id, c.amount, c.notional) for c in o.closes] == [("P/L2", 5, 200), ("Q/L1", 5, 210),
                                                                         ("P/L3", 2.5, 90)]


def test_no_overlap_when_every_position_is_closed_once():
    t = close_totals([Decided(1, "P", "s", 1, "P/L1", (_close("BTC/USDT:USDT", 1, 10),)),
                      Decided(1, "Q", "s", 1, "Q/L1", (_close("BTC/USDT:USDT", 1, 10, side="buy"),))])
    assert t.overlaps == () and t.gross == t.net == 20 and t.positions == 2  # a long and a short


@pytest.mark.parametrize("order, key", [
    (_close("BTC/USDT:USDT", 1, 1), "v/a/BTC/USDT:USDT/long"),
    (_close("BTC/USDT:USDT", 1, 1, side="buy"), "v/a/BTC/USDT:USDT/short"),
    (_close("BTC/USDT:USDT", 1, 1, side="buy", position_side="LONG"), "v/a/BTC/USDT:USDT/LONG"),
    (_close("BTC/USDT", 1, 1, reduce_only=False), "v/a/BTC/USDT/spot"),
])
def test_the_position_an_order_closes(order, key):
    assert position_of(order) == key
