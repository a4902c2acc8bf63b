"""The planner, action by action, and attribution at its boundaries.

Plans are built with :func:`killswitch.engine.planner.plan` for a one-stage policy whose stage
holds the actions under test. Attribution reads a PnL history with one sample a reference
window ago (the ``ref`` PnL of each position; ``None``: opened inside the window) and one now.
Expected values are worked out by hand from the rules in planner.py's docstring.
"""

from __future__ import annotations

import math
import re
import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from adapters.ccxt_exchange.dialects import order_rate
from killswitch.engine.planner import PnlHistory, client_order_id, history_for, plan, update_history
from killswitch.engine.positions import smallest
from killswitch.engine.scope import instances
from killswitch.policy.units import parse_duration
from tests.unit.engine_helpers import HOUR, Balance, MarketRules, order, policy_graph, pos, snap

T = 10 * HOUR
EQUITY = 100_000.0
DECISION = "p/simulated/a/L1/e1"


def planner_policy(actions: str, *, threshold="65%", missing="since_open", extra="", scope="{level: account}"):
    return policy_graph(
        "s: {equity_change: {against: baseline, baseline: 10k}}",
        't: {when: "s <= -5%", on_missing_data: hold}',
        f"- {{level: 1, name: act, on: [t], actions: {actions}}}",
        scope=scope,
        extra=f"attribution: {{reference_window: 1h, source_threshold: {threshold}, missing_reference: {missing}}}\n"
              + textwrap.dedent(extra).strip("\n"),
    ).policy("p")


def leg(symbol, side, contracts=100.0, mark=100.0, pnl=0.0, ref=0.0, **kw):
    """A position now, and its PnL one reference window ago (None: it did not exist then)."""
    return pos(symbol, side, contracts, mark, pnl, **kw), ref


def book(legs, equity=EQUITY, **kw):
    """(snapshot now, snapshot one window ago) of one account."""
    now = snap(equity, T, positions=[p for p, _ in legs], **kw)
    then_positions = [p.model_copy(update={"unrealized_pnl": r}) for p, r in legs if r is not None]
    then = snap(equity, T - HOUR, positions=then_positions,
                **{k: v for k, v in kw.items() if k not in ("orders", "balances")})
    return now, then


def make_plan(policy, snaps_now, snaps_then=(), decision=DECISION, now=T, rates=None):
    window, step = history_for(policy)
    hist = PnlHistory(window, step)
    if snaps_then:
        update_history(hist, list(snaps_then), now - window)
    update_history(hist, list(snaps_now), now)
    views = instances(policy, list(snaps_now))
    assert len(views) == 1
    if rates is None:  # the rates a replay gives the planner: each venue's dialect's, by name
        rates = {s.venue: order_rate(s.venue) for s in snaps_now}
    return plan(policy, policy.stage(1), views[0], decision, now, hist, rates=rates)


def plan_for(actions, legs, *, policy_kw=None, rates=None, **snap_kw):
    p = planner_policy(actions, **(policy_kw or {}))
    now, then = book(legs, **snap_kw)
    return make_plan(p, [now], [then], rates=rates)


def closed(pl):
    """symbol → (side of the order, total amount)."""
    out = {}
    for o in pl.orders:
        side, amt = out.get(o.symbol, (o.side, 0.0))
        assert side == o.side
        out[o.symbol] = (side, amt + o.amount)
    return out


def has_skip(pl, code):
    return any(s.startswith(code) for s in pl.skipped)


# --- cancel_orders ----------------------------------------------------------------------------------------------

ORDERS = [
    order("o1", "BTC/USDT:USDT", "buy"),  # entry
    order("o2", "BTC/USDT:USDT", "sell", reduce_only=True, type="take_profit_market"),
    order("o3", "ETH/USDT:USDT", "buy", reduce_only=True, type="stop_market"),
    order("o4", "ETH/USDT:USDT", "sell"),  # entry
]


@pytest.mark.parametrize(
    "action, ids, which",
    [
        pytest.param("{cancel_orders: entries}", ("o1", "o4"), "entries", id="entries_keep_reduce_only_tp_and_sl"),
        pytest.param("{cancel_orders: all}", ("o1", "o2", "o3", "o4"), "all", id="all_cancels_tp_and_sl_too"),
        pytest.param("{cancel_orders: {which: entries, symbols: [ETH/USDT:USDT]}}", ("o4",), "entries",
                     id="entries_of_listed_symbols"),
        pytest.param("{cancel_orders: {which: all, symbols: [ETH/USDT:USDT]}}", ("o3", "o4"), "all",
                     id="all_of_listed_symbols"),
    ],
)
def test_cancel_orders(action, ids, which):
    pl = plan_for(f"[{action}]", [], orders=ORDERS)
    assert len(pl.cancels) == 1
    c = pl.cancels[0]
    assert (c.venue, c.account, c.which) == ("simulated", "a", which)
    assert sorted(c.order_ids) == sorted(ids)
    assert c.reason.startswith(f"CANCEL_{which.upper()}")
    assert pl.orders == ()


@pytest.mark.parametrize(
    "actions, ids",
    [
        pytest.param("[{close_positions: {symbols: [BTC/USDT:USDT]}}]", ("o1",),
                     id="closing_btc_cancels_its_entry_only_keeps_tp"),
        pytest.param("[close_all]", ("o1", "o4"), id="close_all_cancels_entries_of_every_symbol_closed_keeps_tp_sl"),
        pytest.param("[{close_positions: {symbols: [SOL/USDT:USDT]}}]", (),
                     id="no_position_closed_no_implicit_cancel"),
    ],
)
def test_implicit_cancel_of_entries_on_symbols_being_closed(actions, ids):
    legs = [leg("BTC/USDT:USDT", "long"), leg("ETH/USDT:USDT", "short")]
    pl = plan_for(actions, legs, orders=ORDERS)
    got = sorted(i for c in pl.cancels for i in c.order_ids)
    assert got == sorted(ids)
    for c in pl.cancels:
        assert c.which == "entries" and "entries of symbols being closed" in c.reason


def test_cancel_orders_respects_a_symbol_scope():
    """A policy scoped to one symbol cancels that symbol's entry orders, not the whole account's."""
    p = planner_policy("[{cancel_orders: entries}]", scope="{level: symbol, symbols: [BTC/USDT:USDT]}")
    now, then = book([leg("BTC/USDT:USDT", "long"), leg("ETH/USDT:USDT", "short")], orders=ORDERS)
    views = [v for v in instances(p, [now]) if v.key == "BTC/USDT:USDT"]
    assert len(views) == 1
    window, step = history_for(p)
    pl = plan(p, p.stage(1), views[0], "p/BTC/USDT:USDT/L1/e1", T, PnlHistory(window, step))
    got = sorted(i for c in pl.cancels for i in c.order_ids)
    assert got == ["o1"], "ETH's entry order o4 is outside the policy's scope"


# --- reduce_top_risk -------------------------------------------------------------------------------------------

LONGS_BLEED = [  # long decline 400, short decline 50: LONG (89 %)
    leg("BTC/USDT:USDT", "long", pnl=-300), leg("ETH/USDT:USDT", "long", pnl=-100),
    leg("SOL/USDT:USDT", "short", pnl=-50), leg("XRP/USDT:USDT", "short", pnl=200),
]
SHORTS_BLEED = [  # short decline 400, long decline 50: SHORT
    leg("BTC/USDT:USDT", "short", pnl=-300), leg("ETH/USDT:USDT", "short", pnl=-100),
    leg("SOL/USDT:USDT", "long", pnl=-50), leg("XRP/USDT:USDT", "long", pnl=200),
]
MIXED_BLEED = [  # long 300, short 250: 55 % / 45 %: MIXED
    leg("BTC/USDT:USDT", "long", pnl=-300), leg("ETH/USDT:USDT", "long", pnl=100),
    leg("SOL/USDT:USDT", "short", pnl=-250), leg("XRP/USDT:USDT", "short", pnl=200),
]
ALL_IMPROVING = [  # every position gained over the window: UNKNOWN
    leg("BTC/USDT:USDT", "long", pnl=-300, ref=-500), leg("ETH/USDT:USDT", "short", pnl=100, ref=50),
]


@pytest.mark.parametrize(
    "legs, action, attribution, expected",
    [
        pytest.param(LONGS_BLEED, "{count: 1, fraction: 50%}", "LONG", {"BTC/USDT:USDT": ("sell", 50)},
                     id="long_side_bleeds_cut_the_worst_long"),
        pytest.param(LONGS_BLEED, "{count: 5, fraction: 50%}", "LONG",
                     {"BTC/USDT:USDT": ("sell", 50), "ETH/USDT:USDT": ("sell", 50)},
                     id="long_side_bleeds_never_touch_shorts_even_declining_ones"),
        pytest.param(SHORTS_BLEED, "{count: 1, fraction: 25%}", "SHORT", {"BTC/USDT:USDT": ("buy", 25)},
                     id="short_side_bleeds_cut_the_worst_short"),
        pytest.param(MIXED_BLEED, "{count: 10, fraction: 50%}", "MIXED",
                     {"BTC/USDT:USDT": ("sell", 50), "SOL/USDT:USDT": ("buy", 50)},
                     id="mixed_cuts_only_positions_that_declined"),
        pytest.param(ALL_IMPROVING, "{count: 10, fraction: 50%}", "UNKNOWN", {},
                     id="unknown_skips_by_default"),
        pytest.param(LONGS_BLEED, "{count: 10, fraction: 50%, side: short}", "LONG",
                     {"SOL/USDT:USDT": ("buy", 50), "XRP/USDT:USDT": ("buy", 50)},
                     id="explicit_side_short_overrides_attribution"),
        pytest.param(LONGS_BLEED, "{count: 1, fraction: 100%}", "LONG", {"BTC/USDT:USDT": ("sell", 100)},
                     id="fraction_100pct_closes_fully"),
    ],
)
def test_reduce_top_risk_on_the_losing_side(legs, action, attribution, expected):
    pl = plan_for(f"[{{reduce_top_risk: {action}}}]", legs)
    assert pl.attribution.side == attribution
    assert closed(pl) == expected
    for o in pl.orders:
        assert o.reduce_only and o.action == "reduce_top_risk" and o.reason.startswith("TOP_RISK")
    if attribution == "UNKNOWN":
        assert has_skip(pl, "ATTRIBUTION_UNKNOWN")


def test_reduce_top_risk_ranks_by_risk_score():
    # Same decline; ETH is 4x larger and nearer liquidation, so it ranks first.
    legs = [leg("BTC/USDT:USDT", "long", 100, 100, pnl=-200),
            leg("ETH/USDT:USDT", "long", 400, 100, pnl=-200, liq=95)]
    pl = plan_for("[{reduce_top_risk: {count: 1, fraction: 50%}}]", legs)
    assert closed(pl) == {"ETH/USDT:USDT": ("sell", 200)}


def test_on_unknown_side_any_is_the_policys_permission_to_cut_any_position():
    """Nothing declined, so attribution is UNKNOWN. `on_unknown_side: any` is the policy saying
    that every position may then be ranked: B (in profit, but large and near liquidation)
    outranks A and is cut. The default (`skip`) cuts nothing: see the next test."""
    legs = [
        leg("BTC/USDT:USDT", "long", 10, 100, pnl=-500, ref=-800),
        leg("ETH/USDT:USDT", "long", 100, 1_000, pnl=1_000, ref=200, liq=990),
    ]
    pl = plan_for("[{reduce_top_risk: {count: 1, fraction: 50%, on_unknown_side: any}}]", legs)
    assert pl.attribution.side == "UNKNOWN"
    assert closed(pl) == {"ETH/USDT:USDT": ("sell", 50)}


def test_unknown_attribution_with_skip_cuts_nothing():
    legs = [leg("BTC/USDT:USDT", "long", 10, 100, pnl=-500, ref=-800)]
    pl = plan_for("[{reduce_top_risk: {count: 3, fraction: 50%}}]", legs)
    assert pl.orders == () and has_skip(pl, "ATTRIBUTION_UNKNOWN")


@pytest.mark.parametrize(
    "liq_btc, liq_eth, expected",
    [
        pytest.param(96, 105, {"BTC/USDT:USDT": ("sell", 100), "ETH/USDT:USDT": ("buy", 100)},
                     id="4pct_and_exactly_5pct_from_liquidation_close_fully"),
        pytest.param(94, 106, {}, id="6pct_away_is_left_alone"),
    ],
)
def test_close_within_liquidation_closes_fully(liq_btc, liq_eth, expected):
    # Both positions are in profit and attribution is UNKNOWN: only liquidation distance acts.
    legs = [leg("BTC/USDT:USDT", "long", pnl=50, ref=0, liq=liq_btc),
            leg("ETH/USDT:USDT", "short", pnl=20, ref=0, liq=liq_eth)]
    pl = plan_for("[{reduce_top_risk: {count: 1, fraction: 10%, close_within_liquidation: 5%}}]", legs)
    assert closed(pl) == expected
    for o in pl.orders:
        assert o.reason.startswith("LIQUIDATION_NEAR") and o.chunks == 1


def test_close_within_liquidation_wins_over_a_partial_cut_of_the_same_position():
    legs = [leg("BTC/USDT:USDT", "long", pnl=-300, liq=97), leg("ETH/USDT:USDT", "short", pnl=-10)]
    pl = plan_for("[{reduce_top_risk: {count: 2, fraction: 10%, close_within_liquidation: 5%}}]", legs)
    assert closed(pl)["BTC/USDT:USDT"] == ("sell", 100)


# --- close_side, close_positions, close_all ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "legs, action, expected, skip",
    [
        pytest.param(SHORTS_BLEED, "{close_side: losing}",
                     {"BTC/USDT:USDT": ("buy", 100), "ETH/USDT:USDT": ("buy", 100)}, None,
                     id="losing_is_short_closes_every_short_fully"),
        pytest.param(LONGS_BLEED, "{close_side: losing}",
                     {"BTC/USDT:USDT": ("sell", 100), "ETH/USDT:USDT": ("sell", 100)}, None,
                     id="losing_is_long_closes_every_long_fully"),
        pytest.param(ALL_IMPROVING, "{close_side: long}", {"BTC/USDT:USDT": ("sell", 100)}, None,
                     id="explicit_long_ignores_attribution"),
        pytest.param(MIXED_BLEED, "{close_side: losing}", {}, "ATTRIBUTION_MIXED", id="mixed_skips"),
        pytest.param(MIXED_BLEED, "{close_side: {side: losing, on_unknown_side: both}}",
                     {"BTC/USDT:USDT": ("sell", 100), "ETH/USDT:USDT": ("sell", 100),
                      "SOL/USDT:USDT": ("buy", 100), "XRP/USDT:USDT": ("buy", 100)}, None,
                     id="mixed_with_both_closes_both_sides"),
        pytest.param(ALL_IMPROVING, "{close_side: losing}", {}, "ATTRIBUTION_UNKNOWN", id="unknown_skips"),
        pytest.param(ALL_IMPROVING, "{close_side: {side: losing, on_unknown_side: both}}",
                     {"BTC/USDT:USDT": ("sell", 100), "ETH/USDT:USDT": ("buy", 100)}, None,
                     id="unknown_with_both_closes_everything"),
    ],
)
def test_close_side(legs, action, expected, skip):
    pl = plan_for(f"[{action}]", legs)
    assert closed(pl) == expected
    if skip:
        assert has_skip(pl, skip)
    for o in pl.orders:
        assert o.action == "close_side" and o.reason.startswith("CLOSE_SIDE")


BOOK = [
    leg("BTC/USDT:USDT", "long", pnl=-2_000), leg("ETH/USDT:USDT", "short", pnl=-1_999),
    leg("SOL/USDT:USDT", "short", pnl=500), leg("XRP/USDT:USDT", "long", pnl=-100),
]


@pytest.mark.parametrize(
    "action, expected",
    [
        pytest.param("{symbols: [BTC/USDT:USDT]}", {"BTC/USDT:USDT": ("sell", 100)}, id="by_symbol"),
        pytest.param("{side: short}", {"ETH/USDT:USDT": ("buy", 100), "SOL/USDT:USDT": ("buy", 100)}, id="by_side"),
        pytest.param("{min_loss: 2%}", {"BTC/USDT:USDT": ("sell", 100)},
                     id="min_loss_2pct_of_100k_is_inclusive_1999_is_not_enough"),
        pytest.param("{correlation_group: majors}", {"BTC/USDT:USDT": ("sell", 100), "ETH/USDT:USDT": ("buy", 100)},
                     id="correlation_group"),
        pytest.param("{symbols: [BTC/USDT:USDT, ETH/USDT:USDT], side: long}", {"BTC/USDT:USDT": ("sell", 100)},
                     id="symbols_and_side_together"),
        pytest.param("{side: long, min_loss: 1%}", {"BTC/USDT:USDT": ("sell", 100)}, id="side_and_min_loss_together"),
    ],
)
def test_close_positions(action, expected):
    pl = plan_for(f"[{{close_positions: {action}}}]", BOOK,
                  policy_kw={"extra": "correlation_groups: [{name: majors, symbols: [BTC/USDT:USDT, ETH/USDT:USDT]}]"})
    assert closed(pl) == expected
    for o in pl.orders:
        assert o.action == "close_positions" and o.reduce_only


# "four longs each down at least 10 % on margin: close the three worst" (deltas = PnL: ref 0)
DESK = [
    leg("A/USDT:USDT", "long", 1, 100, pnl=-15, margin=100),   # 15 % on margin
    leg("B/USDT:USDT", "long", 1, 100, pnl=-30, margin=100),   # 30 %
    leg("C/USDT:USDT", "long", 1, 100, pnl=-12, margin=100),   # 12 %
    leg("D/USDT:USDT", "long", 1, 100, pnl=-40, margin=200),   # 20 %, the largest loss
    leg("E/USDT:USDT", "long", 1, 100, pnl=-9, margin=100),    # 9 %: not matching
    leg("F/USDT:USDT", "short", 1, 100, pnl=-50, margin=100),  # 50 %, a short
]
WORST = '{side: long, where: "loss_on_margin >= 10%", count: 3, rank_by: loss_on_margin}'


def test_close_positions_closes_the_three_worst_matching_longs_by_loss_on_margin():
    pl = plan_for(f"[{{close_positions: {WORST}}}]", DESK)
    assert closed(pl) == {"B/USDT:USDT": ("sell", 1), "D/USDT:USDT": ("sell", 1), "A/USDT:USDT": ("sell", 1)}
    reasons = sorted(o.reason for o in pl.orders)
    assert reasons == ["SELECTED: symbol=A/USDT:USDT side=long rank=3 loss_on_margin=15.00%",
                       "SELECTED: symbol=B/USDT:USDT side=long rank=1 loss_on_margin=30.00%",
                       "SELECTED: symbol=D/USDT:USDT side=long rank=2 loss_on_margin=20.00%"]
    assert all(o.reduce_only and o.action == "close_positions" for o in pl.orders)


@pytest.mark.parametrize(
    "action, expected",
    [
        # risk scores by hand (default weights, deltas = PnL, notional share 100/100k):
        # D .4*1 + .25*1 + .1*.001 + .05*.2 = .6601; B .4*.75 + .25*.75 + .0001 + .05*.3 = .5026
        pytest.param('{side: long, where: "loss_on_margin >= 10%", count: 1}', {"D/USDT:USDT"},
                     id="count_ranks_by_risk_score_by_default_d_has_the_largest_loss"),
        pytest.param('{side: long, where: "loss_on_margin >= 10%", count: 1, rank_by: loss_on_margin}',
                     {"B/USDT:USDT"}, id="rank_by_loss_on_margin_b_is_down_30pct"),
        pytest.param('{side: long, where: "loss_on_margin >= 10%", count: 10}',
                     {"A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT", "D/USDT:USDT"},
                     id="count_above_the_matches_closes_every_match_and_no_more"),
        pytest.param('{side: long, where: "loss_on_margin >= 10%"}',
                     {"A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT", "D/USDT:USDT"}, id="where_without_count"),
        pytest.param('{where: "loss_on_margin >= 25%"}', {"B/USDT:USDT", "F/USDT:USDT"}, id="where_alone_any_side"),
        pytest.param("{count: 2, rank_by: loss_on_equity}", {"F/USDT:USDT", "D/USDT:USDT"},
                     id="count_alone_the_two_largest_losses"),
    ],
)
def test_close_positions_where_count_rank_by(action, expected):
    pl = plan_for(f"[{{close_positions: {action}}}]", DESK)
    assert set(closed(pl)) == expected
    assert all(o.amount == 1 and o.reduce_only for o in pl.orders)  # the whole position, never more


def test_close_positions_leaves_a_position_it_cannot_judge_open_and_says_so():
    legs = DESK + [leg("G/USDT:USDT", "long", 1, 100, pnl=-80)]  # the worst loser, but no margin reported
    pl = plan_for(f"[{{close_positions: {WORST}}}]", legs)
    assert set(closed(pl)) == {"B/USDT:USDT", "D/USDT:USDT", "A/USDT:USDT"}
    assert [x for x in pl.skipped if x.startswith("CONDITION_UNKNOWN")] == [
        "CONDITION_UNKNOWN: close_positions left simulated/a/G/USDT:USDT/long open; loss_on_margin unknown for "
        "where loss_on_margin >= 10%"]


def test_close_positions_ranks_nearest_liquidation_first_and_unknown_distance_last():
    legs = [leg("A/USDT:USDT", "long", 1, 100, pnl=-1, liq=80),   # 20 % away
            leg("B/USDT:USDT", "long", 1, 100, pnl=-1, liq=95),   # 5 % away
            leg("C/USDT:USDT", "long", 5, 100, pnl=-1),           # no liquidation price
            leg("D/USDT:USDT", "short", 1, 100, pnl=-1, liq=110)]  # 10 % away
    order_of = {}
    for n in (1, 2, 3, 4):
        pl = plan_for(f"[{{close_positions: {{count: {n}, rank_by: liquidation_distance}}}}]", legs)
        order_of[n] = set(closed(pl))
    assert order_of == {1: {"B/USDT:USDT"}, 2: {"B/USDT:USDT", "D/USDT:USDT"},
                        3: {"A/USDT:USDT", "B/USDT:USDT", "D/USDT:USDT"},
                        4: {"A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT", "D/USDT:USDT"}}


def test_close_all_futures_closes_every_position_exactly():
    legs = [leg("BTC/USDT:USDT", "long", 0.37, 30_000, pnl=5), leg("ETH/USDT:USDT", "short", 2.5, 2_000, pnl=-7)]
    pl = plan_for("[close_all]", legs, markets={"BTC/USDT:USDT": MarketRules(amount_step=0.1, min_amount=0.2)})
    assert closed(pl) == {"BTC/USDT:USDT": ("sell", 0.37), "ETH/USDT:USDT": ("buy", 2.5)}
    assert pl.residuals == ()
    assert all(o.reduce_only and o.action == "close_all" and o.reason == "CLOSE_ALL" for o in pl.orders)
    limits = {o.symbol: o.limit_price for o in pl.orders}  # worst accepted price: 2 % default slippage
    assert limits == {"BTC/USDT:USDT": pytest.approx(30_000 * 0.98), "ETH/USDT:USDT": pytest.approx(2_000 * 1.02)}


@pytest.mark.parametrize("contracts, rules, why", [
    (0.0004, MarketRules(amount_step=0.001, min_amount=0.001), "amount=0.0004 step=0.001 min_amount=0.001"),
    (2.5, MarketRules(amount_step=1, min_amount=3), "amount=2.5 step=1 min_amount=3"),
    (0.37, MarketRules(amount_step=0.1, min_amount=1), "amount=0.37 step=0.1 min_amount=1"),
], ids=["below_one_step", "below_min_amount", "below_min_amount_after_rounding"])
def test_a_position_below_the_venue_minimum_is_a_residual_not_an_order(contracts, rules, why):
    legs = [leg("BTC/USDT:USDT", "long", contracts, 30_000, pnl=5), leg("ETH/USDT:USDT", "short", 2.5, 2_000, pnl=-7)]
    pl = plan_for("[close_all]", legs, markets={"BTC/USDT:USDT": rules})
    assert closed(pl) == {"ETH/USDT:USDT": ("buy", 2.5)}  # the rest of the book is closed as ever
    (r,) = pl.residuals
    assert (r.symbol, r.side, r.amount, r.reason) == ("BTC/USDT:USDT", "long", contracts, f"BELOW_MINIMUM: {why}")
    assert any(s.startswith("BELOW_MINIMUM:") and "BTC/USDT:USDT" in s for s in pl.skipped)


def test_reduce_only_closes_are_not_held_to_the_minimum_notional():
    # Binance (and the simulator) take a reduce-only close below the minimum notional
    legs = [leg("BTC/USDT:USDT", "long", 0.001, 30_000, pnl=5)]
    pl = plan_for("[close_all]", legs, markets={"BTC/USDT:USDT": MarketRules(amount_step=0.001, min_amount=0.001,
                                                                             min_notional=100)})
    assert closed(pl) == {"BTC/USDT:USDT": ("sell", 0.001)} and pl.residuals == ()


def spot_snap(balances, venue="binance", markets=None, orders=()):
    return snap(50_000, T, venue=venue, market_type="spot", balances=balances, markets=markets or {}, orders=orders)


def test_close_all_on_spot_sells_everything_but_stablecoins():
    bal = [
        Balance(asset="BTC", free=0.5, total=0.5, price=40_000),
        Balance(asset="ETH", free=2, total=2, price=2_000),
        Balance(asset="USDT", free=1_000, total=1_000, price=1),
        Balance(asset="USDC", free=500, total=500, price=1),
        Balance(asset="DOGE", free=0, total=0, price=0.1),
        Balance(asset="SHIB", free=100, total=100, price=None),
    ]
    p = planner_policy("[close_all]")
    pl = make_plan(p, [spot_snap(bal)])
    got = {(o.symbol, o.side, o.amount) for o in pl.orders}
    assert got == {("BTC/USDT", "sell", 0.5), ("ETH/USDT", "sell", 2.0)}
    for o in pl.orders:
        assert not o.reduce_only and o.action == "close_all" and o.reason.startswith("SELL_TO_STABLE")
        assert o.limit_price == pytest.approx({"BTC/USDT": 40_000, "ETH/USDT": 2_000}[o.symbol] * 0.98)
    assert has_skip(pl, "NO_PRICE")


def test_close_all_on_spot_rounds_down_and_respects_minimums():
    bal = [Balance(asset="BTC", free=0.123456, total=0.123456, price=40_000),
           Balance(asset="ETH", free=0.004, total=0.004, price=2_000)]
    markets = {"BTC/USDT": MarketRules(amount_step=0.001), "ETH/USDT": MarketRules(amount_step=0.001, min_notional=10)}
    pl = make_plan(planner_policy("[close_all]"), [spot_snap(bal, markets=markets)])
    assert [(o.symbol, o.amount) for o in pl.orders] == [("BTC/USDT", 0.123)]
    assert has_skip(pl, "BELOW_MINIMUM")


def test_close_all_on_spot_also_sells_what_the_cancelled_orders_held():
    """cancel_orders: all frees the 1 BTC locked in an open sell order; flattening must sell it too."""
    bal = [Balance(asset="BTC", free=0.5, used=1.0, total=1.5, price=40_000)]
    orders = [order("o1", "BTC/USDT", "sell", amount=1.0, price=45_000)]
    pl = make_plan(planner_policy("[{cancel_orders: all}, close_all]"), [spot_snap(bal, orders=orders)])
    assert [c.order_ids for c in pl.cancels] == [("o1",)]
    assert sum(o.amount for o in pl.orders if o.symbol == "BTC/USDT") == pytest.approx(1.5)


def test_close_all_on_spot_is_chunked_by_chunk_notional():
    bal = [Balance(asset="BTC", free=2, total=2, price=40_000)]  # 80k to sell, 20k per order
    pl = make_plan(planner_policy("[close_all]", extra="unwind: {chunk_notional: 20k}"), [spot_snap(bal)])
    assert len(pl.orders) == 4
    assert all(o.notional <= 20_000 + 1e-9 for o in pl.orders)
    assert math.fsum(o.amount for o in pl.orders) == pytest.approx(2.0)


def test_close_all_on_spot_is_spaced_to_the_venue_budget():
    bal = [Balance(asset=a, free=1, total=1, price=10) for a in ("AAA", "BBB", "CCC")]
    pl = make_plan(planner_policy("[close_all]"), [spot_snap(bal, venue="kraken")])  # kraken: 2 orders/s
    assert sorted(o.not_before_ms - T for o in pl.orders) == [0, 500, 1_000]


# --- ordering, groups, chunks, rounding ------------------------------------------------------------------------


def test_correlated_positions_close_together_biggest_group_first():
    legs = [
        leg("BTC/USDT:USDT", "long", 3, 10_000),   # majors 40k
        leg("ETH/USDT:USDT", "long", 5, 2_000),
        leg("SOL/USDT:USDT", "short", 350, 100),   # alts 55k
        leg("AVAX/USDT:USDT", "short", 1_000, 20),
        leg("XRP/USDT:USDT", "long", 50_000, 1),   # alone 50k
    ]
    pl = plan_for("[close_all]", legs, policy_kw={"extra": """
        correlation_groups:
          - {name: majors, symbols: [BTC/USDT:USDT, ETH/USDT:USDT]}
          - {name: alts, symbols: [SOL/USDT:USDT, AVAX/USDT:USDT]}
        unwind: {orders_per_second: 100}
    """})
    assert [(o.symbol, o.group) for o in pl.orders] == [
        ("SOL/USDT:USDT", "alts"), ("AVAX/USDT:USDT", "alts"), ("XRP/USDT:USDT", None),
        ("BTC/USDT:USDT", "majors"), ("ETH/USDT:USDT", "majors"),
    ]
    assert [o.not_before_ms - T for o in pl.orders] == [0, 10, 20, 30, 40]


@pytest.mark.parametrize(
    "contracts, mark, step, chunk, n",
    [
        pytest.param(10, 10_000, 0.0, "30k", 4, id="100k_in_30k_chunks_no_step"),
        pytest.param(0.7, 100_000, 0.001, "30k", 3, id="70k_in_30k_chunks_step_0_001"),
        pytest.param(1.0, 100_000, 0.001, "25k", 4, id="100k_in_25k_chunks_exact"),
        pytest.param(10, 10_000, 1.0, "30k", 4, id="100k_in_30k_chunks_whole_contracts"),
        pytest.param(0.3, 100_000, 0.1, "10k", 3, id="30k_in_10k_chunks_of_0_1_contract"),
        pytest.param(0.6, 100_000, 0.1, "20k", 3, id="60k_in_20k_chunks_of_0_2_contract"),
        pytest.param(1, 100, 0.0, "30k", 1, id="small_close_is_one_order"),
    ],
)
def test_chunking_by_notional(contracts, mark, step, chunk, n):
    markets = {"BTC/USDT:USDT": MarketRules(amount_step=step)} if step else {}
    pl = plan_for("[close_all]", [leg("BTC/USDT:USDT", "long", contracts, mark)],
                  policy_kw={"extra": f"unwind: {{chunk_notional: {chunk}}}"}, markets=markets)
    amounts = [o.amount for o in pl.orders]
    limit = float(chunk.rstrip("k")) * 1_000
    assert len(amounts) == n, amounts
    assert math.fsum(amounts) == pytest.approx(contracts, abs=1e-12), amounts  # the chunks sum to the amount
    assert [o.chunk for o in pl.orders] == list(range(1, n + 1)) and {o.chunks for o in pl.orders} == {n}
    for o in pl.orders:
        assert o.notional <= limit + 1e-6, f"chunk {o.chunk} of {o.notional:g} exceeds chunk_notional {limit:g}"
        assert o.amount > 0
        if step:
            assert abs(o.amount / step - round(o.amount / step)) < 1e-9, "chunk not on the amount step"
    assert len({o.client_order_id for o in pl.orders}) == n


@pytest.mark.parametrize(
    "contracts, fraction, step, min_amount, expected",
    [
        pytest.param(0.37, "50%", 0.01, 0.0, 0.18, id="half_of_0_37_rounds_down_to_0_18"),
        pytest.param(7, "50%", 1.0, 0.0, 3, id="half_of_7_whole_contracts_is_3"),
        pytest.param(0.7, "10%", 0.01, 0.0, 0.07, id="ten_pct_of_0_7_is_0_07_already_on_step"),
        pytest.param(0.37, "100%", 0.01, 0.0, 0.37, id="full_reduce_is_the_whole_position"),
        pytest.param(0.03, "50%", 0.01, 0.02, None, id="below_min_amount_is_skipped"),
        pytest.param(1.0, "33%", 0.0, 0.0, 0.33, id="no_step_no_rounding"),
    ],
)
def test_rounding_down_to_amount_step(contracts, fraction, step, min_amount, expected):
    markets = {"BTC/USDT:USDT": MarketRules(amount_step=step, min_amount=min_amount)}
    pl = plan_for(f"[{{reduce_top_risk: {{count: 1, fraction: {fraction}, side: any}}}}]",
                  [leg("BTC/USDT:USDT", "long", contracts, 100, pnl=-10)], markets=markets)
    if expected is None:
        assert pl.orders == () and has_skip(pl, "BELOW_MINIMUM")
        return
    assert len(pl.orders) == 1
    o = pl.orders[0]
    assert o.amount == pytest.approx(expected, abs=1e-12)
    assert o.amount <= contracts


def test_full_close_below_min_amount_is_a_residual_the_venue_would_refuse_the_order():
    # both adapters refuse (and the venue rejects, LOT_SIZE) an order below the minimum amount,
    # even reduce-only: planning one would only be refused and retried until the budget ran out
    markets = {"BTC/USDT:USDT": MarketRules(amount_step=0.001, min_amount=0.02)}
    pl = plan_for("[close_all]", [leg("BTC/USDT:USDT", "long", 0.015, 100)], markets=markets)
    assert pl.orders == () and [(r.symbol, r.amount) for r in pl.residuals] == [("BTC/USDT:USDT", 0.015)]


@pytest.mark.parametrize(
    "position_side, expected",
    [pytest.param(("LONG", "SHORT"), ("LONG", "SHORT"), id="hedge_mode_legs_carry_position_side"),
     pytest.param(("BOTH", "BOTH"), (None, None), id="one_way_mode_has_none")],
)
def test_hedge_mode_legs(position_side, expected):
    legs = [leg("BTC/USDT:USDT", "long", 2, 100, position_side=position_side[0]),
            leg("ETH/USDT:USDT" if position_side[0] == "BOTH" else "BTC/USDT:USDT", "short", 1, 100,
                position_side=position_side[1])]
    pl = plan_for("[close_all]", legs)
    got = sorted((o.side, o.amount, o.position_side) for o in pl.orders)
    assert got == [("buy", 1, expected[1]), ("sell", 2, expected[0])]


# --- order schedule --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "venue, rate, offsets",
    [
        pytest.param("binanceusdm", "exchange", [0, 50, 100], id="binanceusdm_20_per_s"),
        pytest.param("kraken", "exchange", [0, 500, 1_000], id="kraken_2_per_s"),
        pytest.param("somewhere", "exchange", [0, 200, 400], id="unknown_venue_default_5_per_s"),
        pytest.param("binanceusdm", "2", [0, 500, 1_000], id="explicit_2_per_s"),
    ],
)
def test_order_schedule_spacing(venue, rate, offsets):
    legs = [leg(s, "long", 1, 100 * (3 - i)) for i, s in enumerate(["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"])]
    pl = plan_for("[close_all]", legs, venue=venue, policy_kw={"extra": f"unwind: {{orders_per_second: {rate}}}"})
    assert [o.not_before_ms - T for o in pl.orders] == offsets


@pytest.mark.parametrize(
    "rates, rate, offsets",
    [
        pytest.param({"simulated": 4.0}, "exchange", [0, 250, 500], id="the_rate_given_for_the_venue"),
        pytest.param({"elsewhere": 100.0}, "exchange", [0, 200, 400], id="a_venue_given_no_rate_gets_the_default"),
        pytest.param({}, "exchange", [0, 200, 400], id="no_rates_at_all_the_default"),
        pytest.param({"simulated": 4.0}, "10", [0, 100, 200], id="the_policy_rate_overrides_the_venue_rate"),
    ],
)
def test_order_schedule_follows_the_rates_it_is_given(rates, rate, offsets):
    """Order rates are an input of the planner (the runner's adapters give them), not its own table."""
    legs = [leg(s, "long", 1, 100 * (3 - i)) for i, s in enumerate(["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"])]
    pl = plan_for("[close_all]", legs, rates=rates, policy_kw={"extra": f"unwind: {{orders_per_second: {rate}}}"})
    assert [o.not_before_ms - T for o in pl.orders] == offsets


def test_order_schedule_is_per_venue_and_counts_chunks():
    p = planner_policy("[close_all]", scope="{level: global}", extra="unwind: {chunk_notional: 1k}")
    a = snap(EQUITY, T, venue="binanceusdm", account="a", positions=[pos("BTC/USDT:USDT", "long", 30, 100)])
    b = snap(EQUITY, T, venue="kraken", account="b", positions=[pos("BTC/USD:USD", "short", 2, 100)])
    pl = make_plan(p, [a, b])
    by_venue = {}
    for o in pl.orders:
        by_venue.setdefault(o.venue, []).append(o.not_before_ms - T)
    assert by_venue == {"binanceusdm": [0, 50, 100], "kraken": [0]}


# --- suggest_hedge, client order ids, directives ----------------------------------------------------------------

HEDGE_BOOK = [leg("BTC/USDT:USDT", "long", 6, 10_000), leg("BTC/USDC:USDC", "short", 1, 10_000),
              leg("ETH/USDT:USDT", "long", 10, 2_000)]


@pytest.mark.parametrize(
    "actions, legs, expected",
    [
        pytest.param("[{suggest_hedge: {threshold: 25k}}]", HEDGE_BOOK, [("BTC", "sell", 50_000)],
                     id="net_long_btc_50k_above_25k"),
        pytest.param("[{suggest_hedge: {threshold: 15k}}]", HEDGE_BOOK,
                     [("BTC", "sell", 50_000), ("ETH", "sell", 20_000)], id="eth_20k_above_15k_too"),
        pytest.param("[{close_positions: {symbols: [ETH/USDT:USDT]}}, {suggest_hedge: {threshold: 15k}}]",
                     HEDGE_BOOK, [("BTC", "sell", 50_000)], id="after_planned_closes"),
        pytest.param("[{suggest_hedge: {threshold: 10k}}]",
                     [leg("BTC/USDT:USDT", "short", 4, 10_000), leg("BTC/USDT:USDT", "long", 1, 10_000,
                                                                    position_side="LONG")],
                     [("BTC", "buy", 30_000)], id="net_short_suggests_a_buy"),
    ],
)
def test_suggest_hedge_net_exposure(actions, legs, expected):
    pl = plan_for(actions, legs)
    assert [(h.base, h.side, h.notional) for h in pl.hedges] == [(b, s, pytest.approx(n)) for b, s, n in expected]
    assert all(h.reason.startswith("NET_EXPOSURE") for h in pl.hedges)
    assert all(o.action != "suggest_hedge" for o in pl.orders)  # reported, never sent


def test_client_order_ids_are_deterministic_and_unique():
    legs = [leg("BTC/USDT:USDT", "long", 10, 10_000), leg("ETH/USDT:USDT", "short", 3, 2_000)]
    kw = dict(policy_kw={"extra": "unwind: {chunk_notional: 30k}"})
    a = plan_for("[close_all]", legs, **kw)
    b = plan_for("[close_all]", legs, **kw)
    ids = [o.client_order_id for o in a.orders]
    assert ids == [o.client_order_id for o in b.orders]
    assert len(set(ids)) == len(ids) == len(a.orders) > 2
    assert all(re.fullmatch(r"ks[0-9a-f]{30}", i) for i in ids)
    p = planner_policy("[close_all]", extra="unwind: {chunk_notional: 30k}")
    now, then = book(legs)
    other = make_plan(p, [now], [then], decision="p/simulated/a/L1/e2")
    assert not set(ids) & {o.client_order_id for o in other.orders}
    assert client_order_id("d", "x") == client_order_id("d", "x") != client_order_id("d", "y")


def test_directives():
    actions = ("[{lock_trading: {mode: halted, ttl: 1h}}, {arm_exchange_dms: {after: 60s}}, "
               "{notify: {route: desk, severity: warning}}, {runbook: {template: flatten.md}}, lock_trading]")
    pl = plan_for(actions, [leg("BTC/USDT:USDT", "long")])
    kinds = [d.kind for d in pl.directives]
    assert kinds == ["lock_trading", "arm_exchange_dms", "notify", "runbook", "lock_trading"]
    d = {x.kind: x.params for x in pl.directives[:4]}
    assert d["lock_trading"]["mode"] == "halted" and parse_duration(d["lock_trading"]["ttl"]).ms == HOUR
    assert parse_duration(d["arm_exchange_dms"]["after"]).ms == 60_000
    assert d["notify"] == {"route": "desk", "severity": "warning"}
    assert d["runbook"] == {"template": "flatten.md"}
    assert pl.directives[4].params == {"mode": "halted"}  # the default mode
    assert all(x.scope == "simulated/a" for x in pl.directives)
    assert pl.orders == () and pl.cancels == ()


# --- attribution boundaries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "legs, threshold, side, long_share",
    [
        pytest.param([leg("BTC/USDT:USDT", "long", pnl=-65), leg("ETH/USDT:USDT", "short", pnl=-35)], "65%",
                     "LONG", 0.65, id="long_share_exactly_at_threshold_is_long"),
        pytest.param([leg("BTC/USDT:USDT", "long", pnl=-35), leg("ETH/USDT:USDT", "short", pnl=-65)], "65%",
                     "SHORT", 0.35, id="short_share_exactly_at_threshold_is_short"),
        pytest.param([leg("BTC/USDT:USDT", "long", pnl=-64.99), leg("ETH/USDT:USDT", "short", pnl=-35.01)], "65%",
                     "MIXED", 0.6499, id="just_below_threshold_is_mixed"),
        pytest.param([leg("BTC/USDT:USDT", "long", pnl=-100), leg("ETH/USDT:USDT", "short", pnl=500)], "65%",
                     "LONG", 1.0, id="gains_do_not_count_as_decline"),
        pytest.param([leg("BTC/USDT:USDT", "long", pnl=-50), leg("ETH/USDT:USDT", "short", pnl=-50)], "50%",
                     "MIXED", 0.5, id="even_split_at_50pct_threshold_is_mixed_not_one_side"),
        pytest.param(ALL_IMPROVING, "65%", "UNKNOWN", None, id="all_positions_improving_is_unknown"),
        pytest.param([], "65%", "UNKNOWN", None, id="no_positions_is_unknown"),
    ],
)
def test_attribution_boundaries(legs, threshold, side, long_share):
    pl = plan_for("[{lock_trading: {mode: reducing}}]", legs, policy_kw={"threshold": threshold})
    att = pl.attribution
    assert att.side == side
    if long_share is None:
        assert att.long_share is None and att.short_share is None
        assert att.long_decline == 0 and att.short_decline == 0
    else:
        assert att.long_share == pytest.approx(long_share)
        assert att.long_share + att.short_share == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize(
    "missing, side, excluded, long_decline, short_decline",
    [
        pytest.param("since_open", "SHORT", 0, 100, 400, id="since_open_counts_whole_pnl_of_new_position"),
        pytest.param("exclude", "LONG", 1, 100, 0, id="exclude_leaves_new_position_out"),
    ],
)
def test_attribution_side_missing_from_reference_window(missing, side, excluded, long_decline, short_decline):
    legs = [leg("BTC/USDT:USDT", "long", pnl=-100, ref=0), leg("ETH/USDT:USDT", "short", pnl=-400, ref=None)]
    pl = plan_for("[{lock_trading: {mode: reducing}}]", legs, policy_kw={"missing": missing})
    att = pl.attribution
    assert (att.side, att.excluded) == (side, excluded)
    assert (att.long_decline, att.short_decline) == (long_decline, short_decline)


def test_attribution_excluded_side_is_not_closed_as_losing():
    legs = [leg("BTC/USDT:USDT", "long", pnl=-100, ref=0), leg("ETH/USDT:USDT", "short", pnl=-400, ref=None)]
    pl = plan_for("[{close_side: losing}]", legs, policy_kw={"missing": "exclude"})
    assert closed(pl) == {"BTC/USDT:USDT": ("sell", 100)}


# --- what an action may touch: its scope, and positions it cannot see ------------------------------------------


@pytest.mark.parametrize(
    "strategy_a_positions, expected_orders",
    [
        pytest.param([], [], id="strategy_a_flat_closes_nothing"),
        pytest.param([pos("BTC/USDT:USDT", "short", 1, 30_000, 0, strategy="strategy-a")],
                     [("binance-futures-main", "BTC/USDT:USDT", 1.0)], id="strategy_a_closes_only_its_own_position"),
    ],
)
def test_silent_strategy_does_not_touch_other_strategies_or_the_spot_book(strategy_a_positions, expected_orders):
    """The example dead-man's switch (scope: strategy-a) fires for a bot never heard from once its
    grace (10m from the first tick) has passed. Strategy-b's position, its entry and take-profit
    orders, and the spot book are not strategy-a's."""
    from killswitch.engine.evaluate import evaluate
    from tests.conftest import POLICIES
    from tests.unit.engine_helpers import compile_graph

    g = compile_graph((POLICIES / "dead-mans-switch.yaml").read_text())
    fut = snap(1_000_000, T, venue="binanceusdm", account="binance-futures-main",
               positions=[pos("ETH/USDT:USDT", "long", 10, 2_000, 50, strategy="strategy-b")] + strategy_a_positions,
               orders=[order("b-entry", "ETH/USDT:USDT", "buy"),
                       order("b-tp", "ETH/USDT:USDT", "sell", reduce_only=True)])
    spot = snap(250_000, T, venue="binance", account="binance-spot", market_type="spot",
                balances=[Balance(asset="BTC", free=2, total=2, price=40_000)],
                orders=[order("s-1", "BTC/USDT", "sell", price=45_000)])
    ev, state = evaluate(g, [fut, spot], None, T)
    assert [s.stage_after for s in ev.scopes if s.scope == "strategy-a"] == [0], "a fresh start has its grace"
    ev, _ = evaluate(g, [fut, spot], state, T + 600_000)
    sc = [s for s in ev.scopes if s.scope == "strategy-a"]
    assert len(sc) == 1 and sc[0].stage_after == 1, "a never-heard bot counts as silent past its grace"
    pl = sc[0].plan
    assert [(o.account, o.symbol, o.amount) for o in pl.orders] == expected_orders
    cancelled = [i for c in pl.cancels for i in c.order_ids]
    assert cancelled == [], "strategy-b's entry/take-profit and the spot book's order are not strategy-a's"


def test_flatten_decided_while_positions_are_unknown_still_closes_them():
    """A fail-closed trigger flattens during an outage, when no position can be seen. When the
    data comes back the open position must still be closed (or the plan must say it could not be)."""
    from tests.unit.engine_helpers import MIN, compile_graph, failed, policy_text, run

    g = compile_graph(policy_text(
        "age: data_age",
        't: {when: "age >= 2m", on_missing_data: fire}',
        "- {level: 1, name: flatten, on: [t], reset: manual, actions: [close_all]}",
    ))
    btc = [pos("BTC/USDT:USDT", "long", 1, 30_000, -500)]
    ticks = [(0, [snap(EQUITY, 0, positions=btc)])]
    ticks += [(i * MIN, [failed(i * MIN)]) for i in (1, 2, 3)]  # outage: stage entered at 2 min
    ticks += [(i * MIN, [snap(EQUITY, i * MIN, positions=btc)]) for i in (4, 5, 6)]  # back, BTC still open
    evs, _ = run(g, ticks)
    plans = [s.plan for ev in evs for s in ev.scopes if s.plan is not None]
    assert plans, "the stage should have been entered"
    closes = [o for pl in plans for o in pl.orders if o.symbol == "BTC/USDT:USDT"]
    said_why = [x for pl in plans for x in pl.skipped]
    assert closes or said_why, (
        "close_all planned during the outage closed nothing, said nothing, and the latched stage never plans again")
    assert closes, "the open BTC position is never closed"


# --- ranking without a full sort -------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.sampled_from([-1.0, -2.0]),
                          st.text("ab", max_size=3)), max_size=40),
       st.one_of(st.none(), st.integers(0, 45)))
def test_smallest_is_the_head_of_the_full_sort_ties_included(items, count):
    """Heavy ties on the primary key (few distinct values): the heap's pick plus the ties at its
    boundary must give exactly what sorting everything by (primary, tiebreak) gives."""
    primary, tiebreak = (lambda x: (x[0], x[1])), (lambda x: x[2])
    want = sorted(items, key=lambda x: (primary(x), tiebreak(x)))
    assert smallest(items, count, primary, tiebreak) == (want if count is None else want[:count])


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 5_000), st.sampled_from([0.001, 0.01, 0.1, 1.0, 0.003, 0.0007]),
       st.integers(0, 40), st.floats(0.0, 2.5))
def test_a_full_close_is_residual_exactly_when_rounding_down_leaves_less_than_the_minimum(units, step, min_steps,
                                                                                           fraction):
    """The shortcut for a position well above the minimum agrees with the full computation:
    round the size down to the step, compare with the minimum amount."""
    from killswitch.engine.planner import _below_minimum, _floor_step

    contracts = units * step * fraction + step * fraction / 3  # on the grid or off it
    if contracts <= 0:
        return
    rules = MarketRules(amount_step=step, min_amount=min_steps * step)
    s = snap(positions=[pos("S/USDT:USDT", contracts=contracts)], markets={"S/USDT:USDT": rules})
    sendable = _floor_step(contracts, step)
    residual = sendable <= 0 or sendable < rules.min_amount * (1 - 1e-9)
    assert (_below_minimum(s.positions[0], rules) is not None) == residual
