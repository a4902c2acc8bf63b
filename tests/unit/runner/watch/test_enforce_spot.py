"""The venue watch over a spot account (killswitch/runner/watch/enforce/): its held base assets
are long legs (``ASSET/QUOTE``, the asset's total; the quote currency and the stablecoins are
not), held to their size at a halt as positions are: growth sold back (at most what is held,
rounded down to the step, not reduce-only, as a ``close_all`` sells), below the venue's minimum
said and left, a reduction under the halt a candidate violation, the baselines saved and kept."""

from __future__ import annotations

import json
from typing import Optional

import pytest

from killswitch.runner.lock.lock import OPERATOR, LockBook
from killswitch.runner.watch.enforce import REDUCED, SizesMemo, leg_sizes, watch
from killswitch.runner.watch.enforcement import closing_legs
from killswitch.snapshot import Balance, FetchStatus, MarketRules, Snapshot, spot_holdings

ACCT = "mexc/main"
MX, ETH = "MX/USDT", "ETH/USDT"
T = 1_000_000


def bal(asset: str, total: float, price: Optional[float] = None, free: Optional[float] = None) -> Balance:
    return Balance(asset=asset, free=total if free is None else free, total=total, price=price)


def spot(*balances: Balance, step: float = 0.01, min_amount: float = 0.0, min_notional: float = 0.0) -> Snapshot:
    rules = MarketRules(amount_step=step, min_amount=min_amount, min_notional=min_notional)
    return Snapshot(venue="mexc", account="main", market_type="spot", ts_event=T, quote_currency="USDT",
                    balances=list(balances), fetch=FetchStatus(ok=True), markets={MX: rules, ETH: rules})


def held(mx: float = 1_000.0, *, usdt: float = 50_000.0, usdc: float = 200.0, eth: float = 0.0, **kw) -> Snapshot:
    out = [bal("USDT", usdt, 1.0), bal("USDC", usdc, 1.0), bal("MX", mx, 2.0)]
    if eth:
        out.append(bal("ETH", eth, 3_000.0))
    return spot(*out, **kw)


def halted() -> LockBook:
    return LockBook().apply(ACCT, "halted", now_ms=T - 10_000, policy=OPERATOR)


def test_a_spot_accounts_held_base_assets_are_its_legs_and_the_quote_and_stablecoins_are_not():
    s = held(eth=0.5)
    assert [sym for sym, _ in spot_holdings(s)] == [MX, ETH]
    assert leg_sizes(s) == {f"{ETH}|long": 0.5, f"{MX}|long": 1_000.0}
    w = watch(halted(), [s], (), {}, T)
    assert w.baselines == {ACCT: {"since": T, "legs": {f"{ETH}|long": 0.5, f"{MX}|long": 1_000.0}}}
    # a futures account's balances are no legs
    assert spot_holdings(s.model_copy(update={"market_type": "futures"})) == []


@pytest.mark.parametrize("what, now, want_amount", [
    ("a market buy of 250", held(1_250.0), 250.0),
    ("growth rounded down to the step", held(1_250.257), 250.25),
])
def test_growth_of_a_holding_under_a_halt_is_one_sale_of_the_excess(what, now, want_amount):
    base = watch(halted(), [held()], (), {}, T).baselines
    w = watch(halted(), [now], (), base, T + 5_000)
    (plan,) = w.reverts
    (o,) = plan.orders
    assert (o.symbol, o.side, o.position_side, o.amount, o.reduce_only) == (MX, "sell", None, want_amount, False), what
    assert o.limit_price == pytest.approx(2.0 * 0.98)  # 2 % under the price (the mark)
    assert o.notional == pytest.approx(want_amount * 2.0) and o.action == "revert_growth"
    (v,) = w.violations
    assert (v.action, v.symbol, v.side, v.baseline, v.revert_id) == ("revert", MX, "buy", 1_000.0, o.client_order_id)
    assert v.amount == pytest.approx(now.balances[2].total - 1_000.0)
    assert w.baselines[ACCT]["legs"] == {f"{MX}|long": 1_000.0}  # kept at the size at the lock


def test_a_sale_is_never_above_the_holding():
    """A holding the lock found at 0 (bought under the halt): its whole total, never more."""
    base = watch(halted(), [held(0.0)], (), {}, T).baselines
    assert base[ACCT]["legs"] == {}
    (plan,) = watch(halted(), [held(37.5)], (), base, T + 1).reverts
    assert plan.orders[0].amount == 37.5
    # a baseline above what is held now (it shrank) sells nothing: the baseline is lowered
    w = watch(halted(), [held(900.0)], (), watch(halted(), [held()], (), {}, T).baselines, T + 1)
    assert not w.reverts and w.baselines[ACCT]["legs"] == {f"{MX}|long": 900.0}


@pytest.mark.parametrize("rules, grown", [
    ({"min_amount": 10.0}, 1_005.0),  # below the minimum amount
    ({"step": 1.0}, 1_000.5),  # rounds to 0
    ({"min_notional": 5.0}, 1_002.0),  # 2 MX at 2: below the minimum notional a sale must meet
])
def test_growth_below_what_the_venue_takes_is_reported_and_left(rules, grown):
    base = watch(halted(), [held(**rules)], (), {}, T).baselines
    w = watch(halted(), [held(grown, **rules)], (), base, T + 1)
    assert not w.reverts
    (v,) = w.violations
    assert v.action == "revert" and v.revert_id is None
    (note,) = w.notes
    assert note.startswith(f"REVERT_BELOW_MINIMUM: {ACCT} {MX} long"), note


def test_growth_of_the_quote_currency_or_a_stablecoin_is_nothing():
    base = watch(halted(), [held()], (), {}, T).baselines
    w = watch(halted(), [held(usdt=90_000.0, usdc=5_000.0)], (), base, T + 1)
    assert not w.reverts and not w.violations and not w.reduced and not w.notes


def test_a_holding_sold_under_the_halt_is_a_reduction_with_nothing_sent_back():
    base = watch(halted(), [held()], (), {}, T).baselines
    w = watch(halted(), [held(600.0)], (), base, T + 1)
    assert not w.reverts and not w.violations
    (v,) = w.reduced
    assert (v.action, v.symbol, v.side, v.amount, v.baseline, v.contracts) == (REDUCED, MX, "sell", 400.0, 1_000.0,
                                                                                600.0)
    assert v.notional == pytest.approx(800.0)
    # sold whole: still a reduction, valued by nothing
    (gone,) = watch(halted(), [held(0.0)], (), base, T + 1).reduced
    assert gone.amount == 1_000.0 and gone.notional is None


def test_a_restart_keeps_the_baseline_and_reverts_growth_made_across_it():
    """The baselines as the state document saves them (JSON), read by a runner with a new memo:
    the growth since the lock is still sold back to the size at the lock, not taken as a new baseline."""
    memo = SizesMemo()
    base = watch(halted(), [held()], (), {}, T, memo=memo).baselines
    saved = json.loads(json.dumps(base))
    w = watch(halted(), [held(1_300.0)], (), saved, T + 60_000, memo=SizesMemo())
    (plan,) = w.reverts
    assert plan.orders[0].amount == 300.0 and w.baselines[ACCT] == {"since": T, "legs": {f"{MX}|long": 1_000.0}}


def test_the_read_before_the_lock_is_the_baseline_so_a_buy_between_is_growth():
    before = {ACCT: held()}
    w = watch(halted(), [held(1_100.0)], (), {}, T, before=before)
    (plan,) = w.reverts
    assert plan.orders[0].amount == 100.0


def test_a_holding_a_plan_of_the_tick_sells_is_not_reverted_and_a_spot_sale_names_its_leg():
    base = watch(halted(), [held()], (), {}, T).baselines
    grown = held(1_100.0)
    (plan,) = watch(halted(), [grown], (), base, T + 1).reverts
    closing = closing_legs([plan], [grown])
    assert closing == {(ACCT, MX, "long")}
    assert not watch(halted(), [grown], (), base, T + 1, closing=closing).reverts
    # a futures account's sale that is not reduce-only closes nothing (none is ever sent)
    assert closing_legs([plan], [grown.model_copy(update={"market_type": "futures"})]) == set()


def test_a_holding_with_no_price_is_reported_and_nothing_is_sent():
    base = watch(halted(), [held()], (), {}, T).baselines
    unpriced = spot(bal("USDT", 50_000.0, 1.0), bal("MX", 1_200.0, None))
    w = watch(halted(), [unpriced], (), base, T + 1)
    assert not w.reverts
    (v,) = w.violations
    assert v.revert_id is None and v.notional is None
    assert w.notes[0].startswith(f"REVERT_NO_PRICE: {ACCT} {MX} long")


def test_a_spot_sale_resting_under_a_reducing_lock_is_judged_as_before_by_the_positions_alone():
    """Holdings change no order's cancel: the gate and the stream's fast path read positions only."""
    from killswitch.snapshot import Order

    sell = Order(id="9", client_id="bot-9", symbol=MX, side="sell", type="limit", amount=10.0, price=2.5)
    s = held().model_copy(update={"orders": [sell]})
    book = LockBook().apply(ACCT, "reducing", now_ms=T - 10_000, policy=OPERATOR)
    (c,) = watch(book, [s], (), {}, T).cancels
    assert c.order_ids == ("9",)
