"""The simulated exchange's views and the snapshot its in-process face makes of them.

The engine prices an account's legs from a book it keeps between calls and hands out the same
views while no mark, leg or time they show moved; the adapter builds positions without
validation and reuses them while the views are the same. These tests hold both to what a
venue answering one leg at a time would say: the views to the formula written out here, the
positions to the models pydantic validates, and a change of any input to fresh numbers.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, RateLimits, SimExchange, decimals
from adapters.simulated.numbers import money_text
from adapters.simulated.paths import Drift, Flat, Piecewise, Prices
from adapters.simulated.views import Pricing, money, moneys, on_the_grid, tick_units
from killswitch.snapshot import Position, Snapshot
from tests.integration.sim_helpers import intent

T0 = 1_772_456_400_000


def exchange(hedge: bool = False) -> tuple[SimExchange, ManualClock]:
    """Six markets (an integer contract size, a coarse tick, an integer tick, a leverage cap),
    marks drifting, held and piecewise, legs long and short, an entry at an integer price."""
    clock = ManualClock(T0)
    markets = [MarketSpec("BTCUSDT", "BTC"), MarketSpec("ETHUSDT", "ETH", price_tick=0.01, maint_margin_rate=0.005),
               MarketSpec("XUSDT", "X", price_tick=0.0001, amount_step=1, min_amount=1, contract_size=10),
               MarketSpec("YUSDT", "Y", price_tick=0.5, amount_step=0.1, max_leverage=5),
               MarketSpec("ZUSDT", "Z", price_tick=0.01),
               MarketSpec("WUSDT", "W", price_tick=1, amount_step=1, min_amount=1)]  # integer marks
    ex = SimExchange(clock, markets=markets, accounts=[AccountSpec("a", "k", "s", wallet=50_000.0, hedge_mode=hedge)],
                     rate_limits=RateLimits(orders_per_second=1000, weight_per_minute=10 ** 9))
    ex.set_price_path("BTCUSDT", Drift(60_123.37, -0.5))
    ex.set_price_path("ETHUSDT", Drift(3_003.3, 0.8))
    ex.set_price_path("XUSDT", Piecewise(((0, 0.123456), (600_000, 0.2))))
    ex.set_mark("YUSDT", 33.3)
    ex.set_mark("ZUSDT", 12.0)
    ex.set_mark("WUSDT", 7)
    ex.set_leverage("a", "ETHUSDT", 3)
    # YUSDT: the account's default leverage of 10, capped at the market's 5
    ex.open_position("a", "BTCUSDT", "long", 0.05, 60_000.0)
    ex.open_position("a", "ETHUSDT", "short", 2.5, 3_050.0)
    ex.open_position("a", "XUSDT", "short", 10_000, 0.13)
    ex.open_position("a", "YUSDT", "long", 12.3, 40.0)
    ex.open_position("a", "WUSDT", "long", 3, 6)
    ex.open_position("a", "WUSDT", "short", 5, 8)  # through zero: the entry is the price given
    if hedge:
        ex.open_position("a", "BTCUSDT", "short", 0.02, 61_000.0)
    return ex, clock


def one_leg_at_a_time(ex: SimExchange, account: str, at: int) -> list[tuple]:
    """The views as a venue's position endpoint computes them, leg by leg: the reference."""
    a = ex.accounts[account]
    rows, total_im = [], 0.0
    for (symbol, ps), leg in sorted(a.legs.items()):
        if abs(leg.amount) <= 1e-9:
            continue
        m = ex.markets[symbol]
        mark = ex.mark(symbol, at)
        lev = min(a.leverage.get(symbol, a.spec.leverage), m.max_leverage)
        notional = leg.amount * mark * m.contract_size
        im = abs(notional) / lev
        total_im += im
        rows.append((symbol, ps, leg, m, mark, lev, notional, im))
    out = []
    for symbol, ps, leg, m, mark, lev, notional, im in rows:
        q = abs(leg.amount) * m.contract_size
        alloc = a.wallet * (im / total_im) if total_im > 0 else a.wallet
        mmr = m.maint_margin_rate
        if leg.amount > 0:
            liq = (leg.entry * q - alloc) / (q * (1 - mmr))
        else:
            liq = (leg.entry * q + alloc) / (q * (1 + mmr))
        out.append((account, symbol, ps, leg.amount, leg.entry, mark, leg.amount * (mark - leg.entry) * m.contract_size,
                    notional, lev, im, abs(notional) * mmr, max(0.0, liq), min(leg.update_time, at)))
    return out


def snapshot(adapter: SimulatedAdapter) -> Snapshot:
    return asyncio.run(asyncio.wait_for(adapter.snapshot(), 20))


@pytest.mark.parametrize("hedge", [False, True])
def test_views_are_the_one_leg_at_a_time_formula_exactly(hedge):
    ex, clock = exchange(hedge)
    for step in (0, 1_000, 1_000, 59_000, 600_000):
        clock.advance(step)
        views = [tuple(v) for v in ex.positions("a")]
        assert views == one_leg_at_a_time(ex, "a", clock.now)  # ==, not approx: the same floats
        acct = ex.account_state("a")
        assert acct.unrealized_pnl == sum(v[6] for v in views)
        assert acct.initial_margin == sum(v[9] for v in views)
        assert acct.maint_margin == sum(v[10] for v in views)
    # a read in the past (a stale feed) is stamped with its own time, and back again
    past = clock.now - 700_000
    assert [tuple(v) for v in ex.positions("a", at=past)] == one_leg_at_a_time(ex, "a", past)
    assert [tuple(v) for v in ex.positions("a")] == one_leg_at_a_time(ex, "a", clock.now)


def test_views_follow_every_change_of_what_they_show():
    ex, clock = exchange()
    ex.set_mark("BTCUSDT", 60_000.0)
    ex.set_mark("ETHUSDT", 3_000.0)
    ex.set_mark("XUSDT", 0.125)
    before = ex.positions("a")
    clock.advance(1_000)
    assert ex.positions("a") == before  # every mark held: the same views
    changes = [lambda: ex.set_mark("ZUSDT", 12.5),  # a market without a leg moves nothing
               lambda: ex.set_mark("BTCUSDT", 59_000.0),
               lambda: ex.set_leverage("a", "BTCUSDT", 2),
               lambda: ex.place_order("a", "ETHUSDT", "BUY", "MARKET", 0.5, reduce_only=True),
               lambda: ex.open_position("a", "ZUSDT", "long", 3.0, 12.0),
               lambda: ex.add_market(MarketSpec("XUSDT", "X", price_tick=0.0001, amount_step=1, min_amount=1,
                                                contract_size=10, maint_margin_rate=0.02))]
    for change in changes:
        change()
        clock.advance(1_000)
        assert [tuple(v) for v in ex.positions("a")] == one_leg_at_a_time(ex, "a", clock.now)


def test_a_held_book_hands_out_the_same_views():
    ex, clock = exchange()
    for symbol in ("BTCUSDT", "ETHUSDT", "XUSDT"):
        ex.set_mark(symbol, ex.mark(symbol))
    views = ex.positions("a")
    clock.advance(60_000)
    assert all(v is w for v, w in zip(ex.positions("a"), views, strict=True))
    ex.set_mark("BTCUSDT", 50_000.0)  # one mark moves every leg's liquidation price
    clock.advance(1_000)
    moved = ex.positions("a")
    assert [v.liquidation_price for v in moved] != [v.liquidation_price for v in views]
    assert not any(v is w for v, w in zip(moved, views))


def test_a_held_book_hands_out_the_same_positions():
    ex, clock = exchange()
    for symbol in ("BTCUSDT", "ETHUSDT", "XUSDT"):
        ex.set_mark(symbol, ex.mark(symbol))
    adapter = SimulatedAdapter(ex, "a")
    first = snapshot(adapter)
    clock.advance(60_000)
    second = snapshot(adapter)
    assert all(p is q for p, q in zip(second.positions, first.positions, strict=True))
    assert second.positions is not first.positions  # each snapshot its own list
    ex.set_mark("BTCUSDT", 50_000.0)  # one mark moves every leg's liquidation price
    clock.advance(1_000)
    third = snapshot(adapter)
    assert [p.liquidation_price for p in third.positions] != [p.liquidation_price for p in second.positions]
    assert not any(p is q for p, q in zip(third.positions, second.positions))


@pytest.mark.parametrize("hedge", [False, True])
def test_positions_built_without_validation_are_the_validated_models(hedge):
    ex, clock = exchange(hedge)
    adapter = SimulatedAdapter(ex, "a")
    for _ in range(3):
        clock.advance(61_000)
        snap = snapshot(adapter)
        assert snap.positions
        for p in snap.positions:
            validated = Position(**{k: getattr(p, k) for k in p.model_fields_set})
            assert p == validated
            assert repr(p) == repr(validated)
            assert p.model_fields_set == validated.model_fields_set
            assert [type(getattr(p, k)) for k in Position.model_fields] == [
                type(getattr(validated, k)) for k in Position.model_fields]
        assert Snapshot.model_validate_json(snap.model_dump_json()) == snap
        assert {p.contract_size for p in snap.positions if p.symbol.startswith("X/")} == {10.0}


def test_a_copy_with_changes_leaves_the_other_positions_as_they_were():
    ex, _ = exchange()
    snap = snapshot(SimulatedAdapter(ex, "a"))
    first, second = snap.positions[0], snap.positions[1]
    changed = first.model_copy(update={"strategy": "bot"})
    assert "strategy" in changed.model_fields_set
    assert "strategy" not in first.model_fields_set and "strategy" not in second.model_fields_set


def test_a_close_after_a_reused_snapshot_checks_the_contracts_it_showed():
    ex, clock = exchange()
    for symbol in ("BTCUSDT", "ETHUSDT", "XUSDT"):
        ex.set_mark(symbol, ex.mark(symbol))
    adapter = SimulatedAdapter(ex, "a")
    snapshot(adapter)
    clock.advance(1_000)
    snap = snapshot(adapter)  # the same positions
    (eth,) = [p for p in snap.positions if p.symbol == "ETH/USDT:USDT"]
    res = asyncio.run(adapter.submit(intent("ETH/USDT:USDT", "buy", 1.0, cid="c1", account="a")))
    assert res.filled == 1.0
    # what the adapter knows is the snapshot's contracts less its own fill: a close of the rest
    # passes, one larger than it is refused before it is sent
    assert asyncio.run(adapter._position_contracts("ETH/USDT:USDT", "short")) == eth.contracts - 1.0


def test_pricing_keeps_the_mark_while_the_path_stays_within_a_tick():
    path = Drift(100.0, 0.01)
    pricing = Pricing(path, 0.01, 2, 0)
    for t in range(0, 3_600_000, 7_919):
        assert pricing(t) == max(0.01, round(round(path(t) / 0.01) * 0.01, 2))


# --- random books: the columns against one leg at a time ------------------------------------------

TICKS = [0.01, 0.1, 0.5, 0.0001, 0.001, 5.0, 1, 0.25]  # 1: an integer tick makes integer marks
SIZES = [1.0, 10, 0.1, 1, 100.0]


@st.composite
def random_book(draw) -> tuple[SimExchange, ManualClock, list[str]]:
    """An engine with one account of random legs on markets of random ticks, contract sizes,
    margin rates and leverage caps, whose marks drift (most of them from one start, so that the
    drifts are priced together), are held, follow a piecewise path or fall below one tick."""
    clock = ManualClock(T0)
    n = draw(st.integers(1, 12), label="markets")
    hedge = draw(st.booleans(), label="hedge")
    markets = [MarketSpec(f"M{i}USDT", f"M{i}", price_tick=draw(st.sampled_from(TICKS)), amount_step=0.001,
                          min_notional=0.0, contract_size=draw(st.sampled_from(SIZES)),
                          max_leverage=draw(st.sampled_from([5, 20, 125])),
                          maint_margin_rate=draw(st.sampled_from([0.004, 0.005, 0.0125, 0.05])))
               for i in range(n)]
    ex = SimExchange(clock, markets=markets,
                     accounts=[AccountSpec("a", "k", "s", wallet=draw(st.floats(0.0, 1e7), label="wallet"),
                                           hedge_mode=hedge, leverage=draw(st.integers(1, 50), label="leverage"))],
                     rate_limits=RateLimits(orders_per_second=1000, weight_per_minute=10 ** 9))
    mixed = draw(st.booleans(), label="mixed paths")
    for m in markets:
        price = draw(st.floats(0.0001, 100_000.0), label="price")
        kind = draw(st.sampled_from(["drift", "flat", "piecewise", "late drift", "below a tick"]) if mixed
                    else st.just("drift"), label="path")
        rate = draw(st.floats(-0.9, 5.0), label="rate per hour")
        if kind == "drift":
            ex.set_price_path(m.symbol, Drift(price, rate))
        elif kind == "late drift":
            ex.set_price_path(m.symbol, Drift(price, rate, start_ms=draw(st.integers(0, 120_000))))
        elif kind == "flat":
            ex.set_mark(m.symbol, price)
        elif kind == "piecewise":
            ex.set_price_path(m.symbol, Piecewise(((0, price), (90_000, price * (1 + rate / 10)))))
        else:
            ex.set_price_path(m.symbol, Drift(m.price_tick * 0.3, rate))
        if draw(st.booleans(), label="own leverage"):
            ex.set_leverage("a", m.symbol, draw(st.integers(1, m.max_leverage), label="symbol leverage"))
        sides = ["long", "short"] if hedge else [draw(st.sampled_from(["long", "short"]), label="side")]
        for side in sides:
            if draw(st.integers(0, 4), label="leg?") == 0:
                continue
            amount = draw(st.sampled_from([0.001, 0.5, 1, 3.0, 12.3, 10_000.0]), label="amount")
            ex.open_position("a", m.symbol, side, amount, draw(st.floats(0.01, 100_000.0), label="entry"))
            clock.advance(draw(st.integers(0, 5_000), label="between legs"))
    return ex, clock, [m.symbol for m in markets]


def typed(rows) -> list[tuple]:
    """Rows with each value's type: 7 == 7.0, but a venue's JSON tells them apart."""
    return [tuple((type(x).__name__, x) for x in row) for row in rows]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=random_book(), steps=st.lists(st.integers(-200_000, 120_000), min_size=1, max_size=8))
def test_the_columns_price_random_books_as_one_leg_at_a_time(book, steps):
    ex, clock, _ = book
    for step in steps:
        if step >= 0:
            clock.advance(step)
            at = clock.now
        else:  # a read in the past: a stale feed
            at = max(T0, clock.now + step)
        views = ex.positions("a", at=at)
        assert typed(views) == typed(one_leg_at_a_time(ex, "a", at))  # the same floats, of the same types
        acct = ex.account_state("a", at=at)
        assert (acct.unrealized_pnl, acct.initial_margin, acct.maint_margin) == (
            sum(v[6] for v in views), sum(v[9] for v in views), sum(v[10] for v in views))
        assert ex.positions("a", at=at) == views


@settings(max_examples=200, deadline=None)
@given(prices=st.lists(st.one_of(st.floats(0.0, 1e6), st.integers(1, 10 ** 6)), min_size=1, max_size=20),
       rates=st.lists(st.floats(-1.5, 10.0), min_size=20, max_size=20),
       start=st.integers(0, 10 ** 6), times=st.lists(st.integers(-10 ** 6, 10 ** 9), min_size=1, max_size=5))
def test_drifts_priced_together_are_each_drift(prices, rates, start, times):
    paths = [Drift(p, r, start) for p, r in zip(prices, rates)]
    together = Prices(paths)
    for t in times:
        try:
            one = [float(path(t)) for path in paths]
        except ValueError:  # a rate of -100 % or less: log1p has no value, together or alone
            with pytest.raises(ValueError):
                together(t)
            continue
        assert typed([together(t)]) == typed([one])


def test_paths_of_other_shapes_are_priced_one_by_one():
    paths = [Drift(100.0, 0.5), Flat(7), Piecewise(((0, 1.0), (1_000, 2.0))), Drift(3.0, 0.1, start_ms=500)]
    assert Prices(paths)(750) == [float(p(750)) for p in paths]
    assert type(Prices(paths)(750)[1]) is float  # a flat integer price, as the engine reads it


GRID_TICKS = TICKS + [0.3, 2.5e-05, 1e-08, 10.0, 0.05, 0.0005, 1e-05, 0.123, 7.0, 1e-22, 1e-30, 2, 0.1 + 0.2]


@settings(max_examples=600, deadline=None)
@given(tick=st.sampled_from(GRID_TICKS),
       ticks=st.one_of(st.integers(-10 ** 6, 10 ** 9), st.integers(-2 ** 60, 2 ** 60)))
def test_a_mark_on_the_grid_is_the_rounded_product(tick, ticks):
    d = decimals(tick)
    expected = max(tick, round(ticks * tick, d))
    got = on_the_grid(ticks, tick, d, tick_units(tick, d))
    assert (type(got), got) == (type(expected), expected)


def test_ticks_that_are_not_a_decimal_fraction_are_rounded_as_they_are():
    assert tick_units(1, 0) is None  # an integer tick: integer marks
    assert tick_units(1e-30, 30) is None  # 10 ** 30 is no exact float
    assert tick_units(0.01, 2) == (1, 100.0)
    assert on_the_grid(3, 0.1, 1, tick_units(0.1, 1)) == 0.3 != 3 * 0.1


@settings(max_examples=1500, deadline=None)
@given(x=st.one_of(st.floats(-2.0 ** 24, 2.0 ** 24, allow_nan=False),  # amounts to 16 million
                   st.integers(-10 ** 15, 10 ** 15).map(lambda k: (k + 0.5) / 1e8),  # halves of the 8th decimal
                   st.integers(-10 ** 15, 10 ** 15).map(lambda k: k / 1e8)))
def test_a_money_amount_is_on_the_8_decimal_grid_within_one_unit_of_round_and_both_faces_write_it(x):
    m = money(x)
    assert type(m) is float and float("%.8f" % m) == m  # an 8-decimal amount, written exactly
    units, round_units = round(m * 1e8), round(round(x, 8) * 1e8)  # whole units of the 8th decimal
    assert abs(units - round_units) <= 1  # round() itself, or its neighbour at a tie
    assert abs(units - x * 1e8) <= 0.5 + abs(x) * 1e8 * 2 ** -52
    assert float(money_text(x)) == m  # the HTTP face writes what the in-process columns hold
    assert moneys([x, -x]) == [m, money(-x)]


def test_money_is_round_except_at_a_tie_of_the_product():
    assert money(1.234567895) == round(1.234567895, 8)  # not a tie as floats go
    assert money(0.1 + 0.2) == 0.3 == round(0.1 + 0.2, 8)
    assert money(-3e-9) == 0.0 and money(2.5e-8) == 2e-8  # ties to even, of the product 2.5
    ties = [x for x in (k / 1e8 + 0.5e-8 for k in range(10_000)) if money(x) != round(x, 8)]
    assert ties and all(abs(round(money(x) * 1e8) - round(round(x, 8) * 1e8)) == 1 for x in ties)


def test_a_path_of_any_callable_is_read_as_a_float_and_a_nan_fails_as_one_leg_would():
    ex, clock = exchange()
    ex.set_price_path("ETHUSDT", lambda t: 3_000 + t // 60_000)  # integers: read as floats, as Pricing reads them
    clock.advance(120_000)
    assert typed(ex.positions("a")) == typed(one_leg_at_a_time(ex, "a", clock.now))
    ex.set_price_path("BTCUSDT", lambda t: float("nan"))
    with pytest.raises(ValueError):
        ex.mark("BTCUSDT")
    with pytest.raises(ValueError):  # no view priced from a mark that is no number
        ex.positions("a")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=random_book(), data=st.data())
def test_a_book_priced_again_after_a_path_changes_is_the_one_leg_at_a_time_formula(book, data):
    """A mark held at a new price or a new path keeps the book's legs and prices its markets
    again (only the legs whose mark moved are computed anew): the same floats as one leg at a
    time, change after change, and the adapter's positions the same as a fresh adapter's."""
    ex, clock, symbols = book
    adapter = SimulatedAdapter(ex, "a")
    for _ in range(data.draw(st.integers(1, 6), label="changes")):
        symbol = data.draw(st.sampled_from(symbols), label="symbol")
        kind = data.draw(st.sampled_from(["mark", "same mark", "drift", "piecewise"]), label="change")
        price = data.draw(st.floats(0.0001, 100_000.0), label="price")
        if kind == "mark":
            ex.set_mark(symbol, price)
        elif kind == "same mark":
            ex.set_mark(symbol, ex.mark(symbol))
        elif kind == "drift":
            ex.set_price_path(symbol, Drift(price, data.draw(st.floats(-0.9, 5.0), label="rate")))
        else:
            ex.set_price_path(symbol, Piecewise(((0, price), (clock.now - T0 + 60_000, price * 1.1))))
        clock.advance(data.draw(st.integers(0, 30_000), label="step"))
        views = ex.positions("a")
        assert typed(views) == typed(one_leg_at_a_time(ex, "a", clock.now))
        mine = snapshot(adapter).positions
        assert typed([tuple(p.model_dump().values()) for p in mine]) == typed(
            [tuple(p.model_dump().values()) for p in snapshot(SimulatedAdapter(ex, "a")).positions])
