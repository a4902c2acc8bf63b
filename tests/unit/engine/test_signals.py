"""Every signal kind of the catalogue, against values computed by hand.

Each test drives a fake clock (integer ms) through a one-signal policy and reads the signal's
value (or, when the value is unknown, its reason code) from the evaluation.
"""

from __future__ import annotations

import math

import pytest

from killswitch.engine.state import State, record_heartbeat
from tests.unit.engine_helpers import DAY, MIN, SEC, failed, pos, run, signal, single_signal_graph, snap, trig


def equity_ticks(path, step_ms=MIN, **kw):
    """(minute index, equity or None) → one snapshot per tick; None is a failed fetch."""
    out = []
    for i, eq in path:
        t = i * step_ms
        out.append((t, [failed(t, **kw) if eq is None else snap(eq, t, **kw)]))
    return out


def last_value(graph, ticks, name="s", state=None):
    evs, _ = run(graph, ticks, state)
    return signal(evs[-1], name)


def assert_value(sv, expected):
    if expected is None:
        assert sv.value is None, sv
    else:
        assert sv.value is not None, sv
        assert sv.value == pytest.approx(expected, rel=1e-12, abs=1e-15), sv


# --- equity_drawdown -------------------------------------------------------------------------------

DD = "{equity_drawdown: {window: 10m, min_coverage: 80%}}"


@pytest.mark.parametrize(
    "path, expected, reason",
    [
        pytest.param([(i, 10_000) for i in range(8)], None, "INSUFFICIENT_HISTORY: coverage=70% min=80%",
                     id="7min_of_10min_window_is_insufficient_history"),
        pytest.param([(0, 10_000), (1, 5_000)], None, "INSUFFICIENT_HISTORY: coverage=10% min=80%",
                     id="halving_with_too_little_history_is_unknown_never_zero"),
        pytest.param([(i, 10_000) for i in range(9)], 0.0, None, id="flat_equity_at_exactly_80pct_coverage_is_zero"),
        pytest.param([(0, 10_000), (1, 10_000), (2, 10_500)] + [(i, 10_200) for i in range(3, 8)] + [(8, 9_975)],
                     525 / 10_500, None, id="drop_from_peak_10500_to_9975_is_5pct"),
        pytest.param([(0, 12_000)] + [(i, 10_000) for i in range(1, 11)], 2_000 / 12_000, None,
                     id="peak_exactly_window_old_still_counts"),
        pytest.param([(0, 12_000)] + [(i, 10_000) for i in range(1, 12)], 0.0, None,
                     id="peak_older_than_window_expires"),
        pytest.param([(i, None if i in (2, 3) else 10_000) for i in range(10)], None,
                     "INSUFFICIENT_HISTORY: coverage=70% min=80%", id="two_failed_minutes_cut_coverage_to_70pct"),
        pytest.param([(i, None if i in (2, 3) else 10_000) for i in range(10)] + [(10, 9_000)], 0.1, None,
                     id="after_failures_coverage_back_to_80pct"),
        pytest.param([(i, 10_000) for i in range(9)] + [(9, None)], None, "NO_DATA",
                     id="failed_fetch_tick_is_no_data"),
    ],
)
def test_equity_drawdown(path, expected, reason):
    g = single_signal_graph(DD, "s >= 5%")
    sv = last_value(g, equity_ticks(path))
    assert_value(sv, expected)
    if reason is None:
        assert sv.reason is None
    else:
        assert sv.reason is not None and sv.reason.startswith(reason), sv
        assert sv.value != 0.0


def test_equity_drawdown_min_coverage_parameter_is_honoured():
    g = single_signal_graph("{equity_drawdown: {window: 10m, min_coverage: 50%}}", "s >= 5%")
    path = [(0, 10_000), (1, 10_000), (2, 10_000), (3, 10_000), (4, 9_800)]
    assert signal(run(g, equity_ticks(path))[0][-1]).value is None  # 40 %
    path.append((5, 9_500))
    assert_value(last_value(g, equity_ticks(path)), 0.05)  # 50 % covered, 500/10000


# --- equity_change ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "against, ticks, expected",
    [
        pytest.param("{against: initial_capital}", [(0, [snap(97_000, 0, initial_capital=100_000)])], -0.03,
                     id="initial_capital_declared_100k_equity_97k"),
        pytest.param("{against: initial_capital}", [(0, [snap(10_000, 0)]), (MIN, [snap(9_500, MIN)])], -0.05,
                     id="initial_capital_falls_back_to_first_equity_seen"),
        pytest.param("{against: initial_capital}",
                     [(0, [failed(0)]), (MIN, [snap(10_000, MIN)]), (2 * MIN, [snap(9_000, 2 * MIN)])], -0.1,
                     id="first_equity_is_first_good_fetch_not_the_failed_one"),
        pytest.param("{against: baseline, baseline: 50k}", [(0, [snap(52_500, 0)])], 0.05,
                     id="baseline_50k_equity_52500_is_plus_5pct"),
        pytest.param("{against: day_open}",
                     [(DAY - 2 * MIN, [snap(10_000, DAY - 2 * MIN)]), (DAY - MIN, [snap(9_000, DAY - MIN)])], -0.1,
                     id="day_open_same_utc_day"),
        pytest.param("{against: day_open}",
                     [(DAY - 2 * MIN, [snap(10_000, DAY - 2 * MIN)]), (DAY - MIN, [snap(9_000, DAY - MIN)]),
                      (DAY + MIN, [snap(9_000, DAY + MIN)])], 0.0,
                     id="day_open_rolls_over_at_utc_midnight"),
        pytest.param("{against: day_open}",
                     [(DAY - MIN, [snap(10_000, DAY - MIN)]), (DAY + MIN, [snap(9_000, DAY + MIN)]),
                      (DAY + 2 * MIN, [snap(9_450, DAY + 2 * MIN)])], 0.05,
                     id="day_open_new_day_9000_then_9450"),
        pytest.param("{against: day_open}",
                     [(DAY - MIN, [snap(10_000, DAY - MIN)]), (DAY + MIN, [failed(DAY + MIN)]),
                      (DAY + 2 * MIN, [snap(9_500, DAY + 2 * MIN)]), (DAY + 3 * MIN, [snap(9_025, DAY + 3 * MIN)])],
                     -0.05, id="day_open_is_first_good_fetch_of_the_day"),
        pytest.param("{against: baseline, baseline: 10k}", [(0, [failed(0)])], None, id="equity_unknown_is_no_data"),
    ],
)
def test_equity_change(against, ticks, expected):
    g = single_signal_graph(f"{{equity_change: {against}}}", "s <= -5%")
    sv = last_value(g, ticks)
    assert_value(sv, expected)
    if expected is None:
        assert sv.reason.startswith("NO_DATA")


@pytest.mark.parametrize(
    "b_ok, expected",
    [pytest.param(True, (135_000 - 150_000) / 150_000, id="two_accounts_sum_equity_and_capital"),
     pytest.param(False, None, id="one_account_failing_makes_scope_equity_unknown_not_a_loss")],
)
def test_equity_change_global_scope_sums_accounts(b_ok, expected):
    g = single_signal_graph("{equity_change: {against: initial_capital}}", "s <= -5%", scope="{level: global}")
    a = snap(90_000, 0, account="a", initial_capital=100_000)
    b = snap(45_000, 0, account="b", initial_capital=50_000) if b_ok else failed(0, account="b",
                                                                             initial_capital=50_000)
    sv = last_value(g, [(0, [a, b])])
    assert_value(sv, expected)


# --- position signals --------------------------------------------------------------------------------

BOOK = [
    # long BTC 20k, loses 300 on 1000 margin, liquidation 20 % away
    pos("BTC/USDT:USDT", "long", 1, 20_000, -300, margin=1_000, liq=16_000),
    # short ETH 5k, loses 200 on 400 margin, liquidation 10 % away
    pos("ETH/USDT:USDT", "short", 2, 2_500, -200, margin=400, liq=2_750),
    # long ETH (USDC margined) 3k, wins 500, no liquidation price
    pos("ETH/USDC:USDC", "long", 1, 3_000, 500, margin=1_000),
]
CONC_BOOK = [
    pos("BTC/USDT:USDT", "long", 1, 10_000, 0),
    pos("BTC/USDC:USDC", "short", 1, 8_000, 0),
    pos("ETH/USDT:USDT", "long", 4, 3_000, 0),
]


@pytest.mark.parametrize(
    "sig, when, positions, expected",
    [
        pytest.param("{position_loss: {of: equity, aggregate: max}}", "s >= 5%", BOOK, 300 / 10_000,
                     id="loss_of_equity_max"),
        pytest.param("{position_loss: {of: equity, aggregate: sum}}", "s >= 5%", BOOK, 500 / 10_000,
                     id="loss_of_equity_sum"),
        pytest.param("{position_loss: {of: margin, aggregate: max}}", "s >= 50%", BOOK, 0.5,
                     id="loss_of_margin_max"),
        pytest.param("{position_loss: {of: margin, aggregate: sum}}", "s >= 50%", BOOK, 0.3 + 0.5,
                     id="loss_of_margin_sum"),
        pytest.param("{position_loss: {of: equity}}", "s >= 5%", [BOOK[2]], 0.0, id="loss_of_equity_no_loser_is_zero"),
        pytest.param("{position_loss: {of: margin}}", "s >= 5%", [BOOK[2]], 0.0, id="loss_of_margin_no_loser_is_zero"),
        pytest.param("liquidation_distance", "s <= 5%", BOOK, 0.1, id="liquidation_distance_is_the_nearest"),
        pytest.param("liquidation_distance", "s <= 5%", [BOOK[2]], None,
                     id="liquidation_distance_without_prices_is_no_data"),
        pytest.param("gross_exposure", "s >= 300%", BOOK, 28_000 / 10_000, id="gross_exposure"),
        pytest.param("net_exposure", "s >= 300%", BOOK, 18_000 / 10_000, id="net_exposure_long_minus_short"),
        pytest.param("net_exposure", "s >= 300%",
                     [pos("BTC/USDT:USDT", "short", 1, 10_000, 0), pos("ETH/USDT:USDT", "long", 1, 4_000, 0)],
                     0.6, id="net_exposure_short_heavy_is_absolute"),
        pytest.param("leverage", "s >= 3", BOOK, 2.8, id="leverage_gross_over_equity"),
        pytest.param("leverage", "s >= 3", [], 0.0, id="leverage_flat_book_is_zero"),
        pytest.param("{concentration: {by: symbol}}", "s >= 50%", CONC_BOOK, 12_000 / 30_000,
                     id="concentration_by_symbol"),
        pytest.param("{concentration: {by: base_asset}}", "s >= 50%", CONC_BOOK, 18_000 / 30_000,
                     id="concentration_by_base_asset_merges_usdt_and_usdc_btc"),
        pytest.param("concentration", "s >= 50%", [], 0.0, id="concentration_flat_book_is_zero"),
    ],
)
def test_position_signals(sig, when, positions, expected):
    g = single_signal_graph(sig, when)
    sv = last_value(g, [(0, [snap(10_000, 0, positions=positions)])])
    assert_value(sv, expected)
    if expected is None:
        assert sv.reason.startswith("NO_DATA")


@pytest.mark.parametrize(
    "sig, when",
    [("{position_loss: {of: equity}}", "s >= 5%"), ("liquidation_distance", "s <= 5%"),
     ("gross_exposure", "s >= 300%"), ("net_exposure", "s >= 300%"), ("leverage", "s >= 3"),
     ("concentration", "s >= 50%")],
)
def test_position_signals_unknown_when_fetch_failed(sig, when):
    g = single_signal_graph(sig, when)
    sv = last_value(g, [(0, [failed(0)])])
    assert sv.value is None and sv.reason.startswith("NO_DATA")


# --- position_loss {of: notional} -----------------------------------------------------------------------------

NOTIONAL_BOOK = [
    # long BTC bought at 20,000, marked at 18,000: loses 2,000 on an entry notional of 20,000
    pos("BTC/USDT:USDT", "long", 1, 18_000, -2_000, entry=20_000),
    # short 2 ETH sold at 2,500, marked at 3,000: loses 1,000 on an entry notional of 5,000
    pos("ETH/USDT:USDT", "short", 2, 3_000, -1_000, entry=2_500),
    # a winning long that reports no entry price: a loss of 0 needs none
    pos("SOL/USDT:USDT", "long", 10, 110, 100),
]


@pytest.mark.parametrize(
    "sig, positions, expected, reason",
    [
        pytest.param("{position_loss: {of: notional}}", NOTIONAL_BOOK, 1_000 / 5_000, None,
                     id="max_is_the_worst_position_20pct_not_the_largest_loss"),
        pytest.param("{position_loss: {of: notional, aggregate: sum}}", NOTIONAL_BOOK, 3_000 / 25_000, None,
                     id="sum_is_losses_over_the_losing_positions_entry_notionals"),
        pytest.param("{position_loss: {of: notional}}", [pos("BTC/USDT:USDT", "short", 1, 250, -150, entry=100)],
                     1.5, None, id="a_short_can_lose_more_than_its_notional"),
        pytest.param("{position_loss: {of: notional}}", [NOTIONAL_BOOK[2]], 0.0, None, id="no_loser_is_zero"),
        pytest.param("{position_loss: {of: notional}}", [], 0.0, None, id="flat_book_is_zero"),
        pytest.param("{position_loss: {of: notional}}",
                     NOTIONAL_BOOK + [pos("XRP/USDT:USDT", "long", 1000, 0.5, -100)], None,
                     "NO_DATA: 1 losing position(s) report no entry price (XRP/USDT:USDT)",
                     id="a_losing_position_without_entry_price_makes_it_unknown"),
    ],
)
def test_position_loss_of_notional(sig, positions, expected, reason):
    sv = last_value(single_signal_graph(sig, "s >= 10%"), [(0, [snap(10_000, 0, positions=positions)])])
    assert_value(sv, expected)
    assert sv.reason == reason


def test_position_loss_of_notional_unknown_when_fetch_failed():
    sv = last_value(single_signal_graph("{position_loss: {of: notional}}", "s >= 10%"), [(0, [failed(0)])])
    assert sv.value is None and sv.reason.startswith("NO_DATA")


# --- position_count ---------------------------------------------------------------------------------------------

COUNT_BOOK = [
    pos("A/USDT:USDT", "long", 1, 100, -15, margin=100, liq=90),     # 15 % on margin, liquidation 10 % away
    pos("B/USDT:USDT", "long", 1, 100, -10, margin=100, liq=96),     # exactly 10 %: counts (inclusive)
    pos("C/USDT:USDT", "long", 1, 100, -9.99, margin=100, liq=80),   # just under 10 %
    pos("D/USDT:USDT", "short", 1, 100, -50, margin=100, liq=120),   # 50 %, but a short
    pos("E/USDT:USDT", "long", 600, 100, 5),                         # winning long, no margin reported: 0 %
]
NO_MARGIN_LOSER = pos("F/USDT:USDT", "long", 1, 100, -20)  # losing, no margin: its loss on margin is unknown


@pytest.mark.parametrize(
    "sig, positions, expected, reason",
    [
        pytest.param('{side: long, where: "loss_on_margin >= 10%"}', COUNT_BOOK, 2, None,
                     id="longs_down_10pct_on_margin_inclusive"),
        pytest.param('{where: "loss_on_margin >= 10%"}', COUNT_BOOK, 3, None, id="side_any_counts_the_short_too"),
        pytest.param("{side: short}", COUNT_BOOK, 1, None, id="without_where_every_position_on_the_side"),
        pytest.param("{}", COUNT_BOOK, 5, None, id="bare_counts_every_position"),
        pytest.param('{side: long, where: "loss_on_margin >= 10%"}', [], 0, None, id="flat_book_is_zero"),
        pytest.param('{side: long, where: "loss_on_margin >= 10%"}', COUNT_BOOK + [NO_MARGIN_LOSER], None,
                     "NO_DATA: 1 position(s) cannot be judged (F/USDT:USDT long: loss_on_margin unknown)",
                     id="a_losing_long_without_margin_makes_the_count_unknown"),
        pytest.param('{side: short, where: "loss_on_margin >= 10%"}', COUNT_BOOK + [NO_MARGIN_LOSER], 1, None,
                     id="an_undecidable_position_on_the_other_side_does_not_matter"),
        pytest.param('{side: long, where: "loss_on_margin >= 10% || notional >= 50000"}',
                     COUNT_BOOK + [pos("G/USDT:USDT", "long", 600, 100, -20)], 4, None,
                     id="unknown_or_true_is_true_a_60k_loser_without_margin_counts"),
        pytest.param('{side: long, where: "loss_on_margin >= 10% || notional >= 50000"}',
                     COUNT_BOOK + [NO_MARGIN_LOSER], None, "NO_DATA: 1 position(s) cannot be judged",
                     id="unknown_or_false_stays_unknown"),
        pytest.param('{side: long, where: "loss_on_margin >= 10% || notional >= 50000"}', COUNT_BOOK, 3, None,
                     id="or_counts_the_60k_winner_by_its_notional"),
        pytest.param('{where: "loss_on_equity >= 0.1%"}', COUNT_BOOK, 3, None,
                     id="loss_on_equity_10_of_10k_counts_15_10_and_50"),
        pytest.param('{side: long, where: "loss_on_margin >= 10% && liquidation_distance <= 5%"}', COUNT_BOOK, 1,
                     None, id="and_of_two_facts_only_b_is_4pct_from_liquidation"),
        pytest.param('{where: "liquidation_distance <= 5%"}', COUNT_BOOK, None,
                     "NO_DATA: 1 position(s) cannot be judged (E/USDT:USDT long: liquidation_distance unknown)",
                     id="a_position_without_liquidation_price_is_undecided"),
        pytest.param('{side: long, where: "loss_on_notional >= 10%"}',
                     # B: 9.5 of an entry notional of 100 is 9.5 % (over its notional at the mark, 10.5 %)
                     [pos("A/USDT:USDT", "long", 1, 90, -10, entry=100),
                      pos("B/USDT:USDT", "long", 1, 90.5, -9.5, entry=100)], 1, None,
                     id="loss_on_notional_is_against_the_entry_notional_not_the_mark"),
    ],
)
def test_position_count(sig, positions, expected, reason):
    sv = last_value(single_signal_graph(f"{{position_count: {sig}}}", "s >= 4"),
                    [(0, [snap(10_000, 0, positions=positions)])])
    assert_value(sv, expected)
    if reason is None:
        assert sv.reason is None
    else:
        assert sv.reason.startswith(reason), sv


def test_position_count_unknown_when_fetch_failed():
    sv = last_value(single_signal_graph('{position_count: {side: long, where: "loss_on_margin >= 10%"}}', "s >= 4"),
                    [(0, [failed(0)])])
    assert sv.value is None and sv.reason == "NO_DATA: positions unknown"


@pytest.mark.parametrize("on_missing, firing", [("fire", True), ("ignore", False)])
def test_undecidable_position_count_goes_to_the_triggers_missing_data_rule(on_missing, firing):
    g = single_signal_graph('{position_count: {side: long, where: "loss_on_margin >= 10%"}}', "s >= 1",
                            on_missing=on_missing)
    evs, _ = run(g, [(0, [snap(10_000, 0, positions=[NO_MARGIN_LOSER])])])
    assert signal(evs[0]).value is None
    assert trig(evs[0]).firing is firing


def test_position_count_at_symbol_scope_counts_each_instance_apart():
    g = single_signal_graph('{position_count: {where: "loss_on_margin >= 10%"}}', "s >= 1",
                            scope="{level: symbol}")
    book = [pos("A/USDT:USDT", "long", 1, 100, -15, margin=100), pos("A/USDT:USDT", "short", 1, 100, -1, margin=100),
            pos("B/USDT:USDT", "long", 1, 100, -20, margin=100), pos("B/USDT:USDT", "short", 1, 100, -30, margin=100)]
    ev = run(g, [(0, [snap(10_000, 0, positions=book)])])[0][0]
    counts = {s.scope: signal(ev, scope=s.scope).value for s in ev.scopes}
    assert sorted(counts.values()) == [1.0, 2.0]
    assert [v for k, v in counts.items() if k.endswith("A/USDT:USDT")] == [1.0]


# --- realized volatility, value at risk, expected shortfall ------------------------------------------------

A = math.log(1.01)


@pytest.mark.parametrize(
    "sig, path, expected",
    [
        pytest.param("{realized_volatility: {window: 10m, sample: 1m}}",
                     [(i, 10_000 if i % 2 == 0 else 10_100) for i in range(9)], A * math.sqrt(8 / 7),
                     id="alternating_1pct_returns_8_samples"),
        pytest.param("{realized_volatility: {window: 10m, sample: 1m}}",
                     [(i, 10_000 if i % 2 == 0 else 10_100) for i in range(8)], None,
                     id="7_returns_of_10_is_insufficient_history"),
        pytest.param("{realized_volatility: {window: 10m, sample: 1m}}", [(i, 10_000) for i in range(9)], 0.0,
                     id="flat_equity_zero_volatility"),
        pytest.param("{realized_volatility: {window: 10m, sample: 2m}}",
                     [(i, 20_000 if i % 2 else (10_000 if i % 4 == 0 else 10_100)) for i in range(9)],
                     A * math.sqrt(4 / 3), id="sample_2m_ignores_ticks_in_between"),
        # annualized: √(365 d / sample) periods a year, 525,600 one-minute returns
        pytest.param("{realized_volatility: {window: 10m, sample: 1m, annualize: true}}",
                     [(i, 10_000 if i % 2 == 0 else 10_100) for i in range(9)],
                     A * math.sqrt(8 / 7) * math.sqrt(525_600), id="annualized_1m_sample_scales_by_sqrt_525600"),
        pytest.param("{realized_volatility: {window: 10m, sample: 2m, annualize: true}}",
                     [(i, 20_000 if i % 2 else (10_000 if i % 4 == 0 else 10_100)) for i in range(9)],
                     A * math.sqrt(4 / 3) * math.sqrt(262_800), id="annualized_2m_sample_scales_by_sqrt_262800"),
        pytest.param("{realized_volatility: {window: 10m, sample: 1m, annualize: true}}",
                     [(i, 10_000 if i % 2 == 0 else 10_100) for i in range(8)], None,
                     id="annualized_with_too_little_history_is_still_unknown"),
        pytest.param("{realized_volatility: {window: 10m, sample: 1m, annualize: true}}",
                     [(i, 10_000) for i in range(9)], 0.0, id="annualized_flat_equity_is_zero"),
    ],
)
def test_realized_volatility(sig, path, expected):
    g = single_signal_graph(sig, "s >= 5%")
    sv = last_value(g, equity_ticks(path))
    assert_value(sv, expected)
    if expected is None:
        assert sv.reason.startswith("INSUFFICIENT_HISTORY")


def tail_path(n=20):
    """Equity each minute: +0.1 % per minute except -3 % at minute 5 and -1 % at minute 12."""
    eq, out = 10_000.0, [(0, 10_000.0)]
    for i in range(1, n + 1):
        eq *= 0.97 if i == 5 else 0.99 if i == 12 else 1.001
        out.append((i, eq))
    return out


W3, W1 = -math.log(0.97), -math.log(0.99)  # the two losses, as positive numbers


@pytest.mark.parametrize(
    "kind, confidence, expected",
    [
        # 20 returns. Nearest rank of the (1 - c) quantile: ceil((1 - c) * 20).
        pytest.param("value_at_risk", "99%", W3, id="var_99pct_20_returns_is_worst"),
        pytest.param("value_at_risk", "95%", W3, id="var_95pct_20_returns_rank_1_is_worst"),
        pytest.param("value_at_risk", "90%", W1, id="var_90pct_20_returns_rank_2_is_second_worst"),
        pytest.param("expected_shortfall", "99%", W3, id="es_99pct_tail_of_1"),
        pytest.param("expected_shortfall", "95%", W3, id="es_95pct_tail_of_1"),
        pytest.param("expected_shortfall", "90%", (W3 + W1) / 2, id="es_90pct_tail_of_2"),
    ],
)
def test_tail_risk(kind, confidence, expected):
    g = single_signal_graph(f"{{{kind}: {{window: 20m, confidence: {confidence}, horizon: 1m}}}}", "s >= 5%")
    sv = last_value(g, equity_ticks(tail_path()))
    assert_value(sv, expected)


@pytest.mark.parametrize("kind", ["value_at_risk", "expected_shortfall"])
def test_tail_risk_insufficient_history_and_gains_only(kind):
    g = single_signal_graph(f"{{{kind}: {{window: 20m, confidence: 95%, horizon: 1m}}}}", "s >= 5%")
    sv = last_value(g, equity_ticks(tail_path(15)))  # 15 returns of 20: 75 % < 80 %
    assert sv.value is None and sv.reason.startswith("INSUFFICIENT_HISTORY")
    gains = [(i, 10_000 * 1.001 ** i) for i in range(21)]
    assert_value(last_value(g, equity_ticks(gains)), 0.0)  # no losing return: no tail risk, never negative


# --- consecutive losses --------------------------------------------------------------------------------


def test_consecutive_losses_counts_losing_closes_in_a_row():
    g = single_signal_graph("consecutive_losses", "s >= 3")
    a, b, c, d = (pos("A/USDT:USDT", "long", pnl=-10), pos("B/USDT:USDT", "short", pnl=5),
                  pos("C/USDT:USDT", "long", pnl=-3), pos("D/USDT:USDT", "short", pnl=-1))
    steps = [
        ([a, b, c], 0.0),   # all open
        ([b, c], 1.0),      # A closed at -10
        (None, None),       # failed fetch: unknown, and nothing counts as closed
        ([b, c], 1.0),      # B and C are still there
        ([b], 2.0),         # C closed at -3
        ([], 0.0),          # B closed at +5: the run is broken
        ([d], 0.0),
        ([], 1.0),          # D closed at -1
    ]
    ticks = [(i * MIN, [failed(i * MIN) if p is None else snap(10_000, i * MIN, positions=p)])
             for i, (p, _) in enumerate(steps)]
    evs, _ = run(g, ticks)
    got = [signal(ev).value for ev in evs]
    assert got == [e for _, e in steps]


# --- data age -------------------------------------------------------------------------------------------


def test_data_age_grows_through_failed_fetches():
    g = single_signal_graph("data_age", "s >= 60s", on_missing="fire")
    ticks = [(0, [snap(10_000, 0)]), (60 * SEC, [failed(60 * SEC)]), (120 * SEC, [failed(120 * SEC)]),
             (180 * SEC, [snap(10_000, 175 * SEC)])]
    evs, _ = run(g, ticks)
    assert [signal(ev).value for ev in evs] == [0.0, 60.0, 120.0, 5.0]


def test_data_age_never_seen_account_is_unknown():
    g = single_signal_graph("data_age", "s >= 60s", on_missing="fire")
    evs, _ = run(g, [(0, [failed(0)]), (MIN, [failed(MIN)])])
    for ev in evs:
        sv = signal(ev)
        assert sv.value is None and sv.reason.startswith("NO_DATA")


@pytest.mark.parametrize(
    "b_history, expected",
    [pytest.param([True, False, False], 120.0, id="oldest_account_sets_the_age"),
     pytest.param([False, False, False], None, id="an_account_never_seen_makes_it_unknown")],
)
def test_data_age_global_scope(b_history, expected):
    g = single_signal_graph("data_age", "s >= 60s", on_missing="fire", scope="{level: global}")
    ticks = []
    for i, b_ok in enumerate(b_history):
        t = i * MIN
        b = snap(5_000, t, account="b") if b_ok else failed(t, account="b")
        ticks.append((t, [snap(10_000, t, account="a"), b]))
    assert_value(last_value(g, ticks), expected)


# --- api error rate and latency ---------------------------------------------------------------------------


def test_api_error_rate_over_a_sliding_window():
    g = single_signal_graph("{api_error_rate: {window: 1m}}", "s >= 50%", on_missing="fire")
    ticks = [
        (0, [snap(10_000, 0, calls=4, failed_calls=1)]),
        (10 * SEC, [snap(10_000, 10 * SEC, calls=4)]),
        (20 * SEC, [failed(20 * SEC)]),  # a failed fetch is one failed call even when it reports none
        (80 * SEC, [snap(10_000, 80 * SEC)]),  # window [20 s, 80 s]; an ok fetch is at least one call
        (141 * SEC, [snap(10_000, 141 * SEC, calls=2)]),
    ]
    evs, _ = run(g, ticks)
    got = [signal(ev).value for ev in evs]
    assert got == pytest.approx([1 / 4, 1 / 8, 2 / 9, 1 / 2, 0.0])


@pytest.mark.parametrize(
    "quantile, expected_at_30s, expected_at_75s",
    [pytest.param("50%", 0.2, 0.2, id="median"), pytest.param("95%", 0.4, 0.4, id="p95"),
     pytest.param("25%", 0.1, 0.05, id="p25")],
)
def test_api_latency_quantile(quantile, expected_at_30s, expected_at_75s):
    g = single_signal_graph(f"{{api_latency: {{window: 1m, quantile: {quantile}}}}}", "s >= 1s", on_missing="fire")
    lat = {0: 100, 10: 300, 20: 200, 30: 400, 75: 50}
    ticks = [(t * SEC, [snap(10_000, t * SEC, latency_ms=ms)]) for t, ms in lat.items()]
    evs, st = run(g, ticks)
    assert signal(evs[3]).value == pytest.approx(expected_at_30s)  # samples 0.1 0.2 0.3 0.4 s
    assert signal(evs[4]).value == pytest.approx(expected_at_75s)  # 0 s and 10 s expired: 0.05 0.2 0.4 s
    evs, _ = run(g, [(200 * SEC, [snap(10_000, 200 * SEC)])], st)  # every sample expired
    sv = signal(evs[0])
    assert sv.value is None and sv.reason.startswith("NO_DATA")


# --- heartbeat age ------------------------------------------------------------------------------------------


def test_heartbeat_age():
    g = single_signal_graph("{heartbeat_age: {source: bot-a}}", "s > 300s", on_missing="fire")
    state = State()
    evs, state = run(g, [(0, [snap(10_000, 0)])], state)
    sv = signal(evs[0])
    assert sv.value is None and sv.reason.startswith("NO_HEARTBEAT")
    record_heartbeat(state, "bot-a", 1_000)
    evs, state = run(g, [(31_000, [snap(10_000, 31_000)])], state)
    assert signal(evs[0]).value == 30.0
    record_heartbeat(state, "bot-a", 500)  # an older beat never moves it back
    evs, state = run(g, [(31_000, [snap(10_000, 31_000)])], state)
    assert signal(evs[0]).value == 30.0
    record_heartbeat(state, "bot-a", 21_000)
    record_heartbeat(state, "bot-b", 31_000)  # another source does not count
    evs, state = run(g, [(31_000, [snap(10_000, 31_000)])], state)
    assert signal(evs[0]).value == 10.0
    record_heartbeat(state, "bot-a", 40_000)  # a beat from a clock ahead of ours: age 0, never negative
    evs, state = run(g, [(35_000, [snap(10_000, 35_000)])], state)
    assert signal(evs[0]).value == 0.0
