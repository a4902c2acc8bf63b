"""A close before it leaves: its amount rounded down on the market's step, its price put on the
tick towards protection, and the local check that no close exceeds or grows the position."""

from __future__ import annotations

import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter

from ..fake import (
    BTC,
    ETH,
    SPOT_MARKETS,
    FakeExchange,
    account,
    ccxt_balance,
    ccxt_order,
    ccxt_position,
    intent,
    make,
    market,
    real_binance,
    run,
)

# --- rounding ----------------------------------------------------------------------------------------


def test_amount_rounds_down_with_ccxt_truncate():
    ex = real_binance()
    a = CcxtAdapter(account(), exchange_factory=lambda cfg: ex)
    assert a.round_amount(BTC, 0.0129) == 0.012
    assert a.round_amount(BTC, 0.0999999) == 0.099
    assert a.round_amount(BTC, 0.0009) == 0.0  # below one step: nothing left
    rules = a.market_rules(BTC)
    assert (rules.amount_step, rules.min_amount, rules.min_notional, rules.base) == (0.001, 0.001, 5.0, "BTC")
    run(ex.close())


def test_decimal_places_precision_rounds_down_too():
    fake = FakeExchange(markets={BTC: market(amount_step=3, price_step=1)}, precision_mode=2)
    a, _ = make(fake)
    run(a._markets.ensure(_op()))
    assert a.round_amount(BTC, 0.0129) == 0.012
    assert a.market_rules(BTC).amount_step == pytest.approx(0.001)


def _op():
    from adapters.ccxt_exchange.calls import Op as _Op

    return _Op("t", float("inf"))


def test_submit_sends_the_rounded_down_amount_and_refuses_below_minimum():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.submit(intent(amount=0.2349)))
    [(_, args)] = [c for c in fake.calls if c[0] == "create_order"]
    assert args[3] == 0.234
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(amount=0.0004)))
    assert ei.value.reason is Reason.INVALID_ORDER
    assert fake.names().count("create_order") == 1


def test_limit_price_is_put_on_the_tick_towards_protection():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5), ccxt_position(ETH, "short", 3.0, mark=3000, entry=2900, upnl=-300)]
    run(a.submit(intent(side="sell", limit_price=49000.06)))
    run(a.submit(intent(ETH, side="buy", amount=1.0, limit_price=3060.019)))
    sell, buy = [c[1] for c in fake.calls if c[0] == "create_order"]
    assert sell[1:5] == ("limit", "sell", 0.2, pytest.approx(49000.1)) and sell[5]["timeInForce"] == "IOC"
    assert buy[1:5] == ("limit", "buy", 1.0, pytest.approx(3060.01)) and buy[5]["timeInForce"] == "IOC"


# --- the local close check ------------------------------------------------------------------------


def test_close_larger_than_position_is_refused_before_create_order():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.snapshot())
    fake.calls.clear()
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(amount=0.6)))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert "create_order" not in fake.names() and fake.names() == []  # known position: not even a fetch


def test_close_without_reduce_only_on_futures_is_refused():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5)]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(reduce_only=False)))
    assert ei.value.reason is Reason.NOT_REDUCE_ONLY
    assert "create_order" not in fake.names()


def test_unknown_position_is_fetched_then_refused_when_flat():
    a, fake = make()
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent()))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert ("fetch_positions", ([BTC],)) in fake.calls and "create_order" not in fake.names()


def test_closing_the_wrong_side_is_refused():
    a, fake = make()
    fake.positions = [ccxt_position(side="short", contracts=0.5)]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(side="sell")))  # sells close longs; there is none
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert "create_order" not in fake.names()


def test_hedge_leg_that_would_grow_is_refused():
    a, fake = make(acct=account(hedge_mode=True))
    fake.positions = [ccxt_position(info={"positionSide": "LONG"}, hedged=True)]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(side="buy", position_side="LONG")))
    assert ei.value.reason is Reason.NOT_REDUCE_ONLY
    assert "create_order" not in fake.names()


def test_chunks_never_add_up_beyond_the_position():
    a, fake = make()
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.snapshot())
    run(a.submit(intent(amount=0.3)))
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(amount=0.3)))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert fake.names().count("create_order") == 1


def test_stale_position_is_refetched():
    a, fake = make(position_max_age_s=0.0)
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.snapshot())
    fake.calls.clear()
    fake.positions = [ccxt_position(contracts=0.1)]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent(amount=0.2)))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert fake.names() == ["fetch_positions"]


def _three_symbols_cancelled(fake_kw=None):
    """An account long 1 of three symbols, each with a resting entry, whose entries a halt cancelled."""
    symbols = (BTC, ETH, "SOL/USDT:USDT")
    markets = {BTC: market(), ETH: market(ETH, "ETHUSDT"), symbols[2]: market(symbols[2], "SOLUSDT")}
    a, fake = make(FakeExchange(markets=markets, **(fake_kw or {})))
    fake.positions = [ccxt_position(sym, contracts=1.0) for sym in symbols]
    fake.orders = [ccxt_order(str(i), sym) for i, sym in enumerate(symbols)]
    run(a.snapshot())
    run(a.cancel_orders(CancelSelector(which="all", symbols=symbols)))
    fake.calls.clear()
    return a, fake, symbols


def test_a_halts_closes_over_many_symbols_read_every_position_once():
    """Cancels left three symbols' positions unknown (what rested may have filled): the first
    close reads every position in one request, and the two after it are checked against that
    read — not a request each, which the venue's limit of that endpoint would hold up (OKX: 10
    every 2 s). What the read says is what each close is checked against."""
    a, fake, symbols = _three_symbols_cancelled()
    fake.positions = [ccxt_position(sym, contracts=c) for sym, c in zip(symbols, (1.0, 0.4, 1.0))]
    for sym in (BTC, symbols[2]):
        run(a.submit(intent(symbol=sym, amount=1.0)))
    with pytest.raises(AdapterError) as ei:  # its fill while it rested: 0.4 left, read in the same answer
        run(a.submit(intent(symbol=ETH, amount=1.0)))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert [c for c in fake.calls if c[0] == "fetch_positions"] == [("fetch_positions", (None,))]
    assert fake.names().count("create_order") == 2


def test_a_read_of_every_position_that_could_not_finish_falls_back_to_the_symbols_own():
    a, fake, symbols = _three_symbols_cancelled()
    incomplete = AdapterError(Reason.LIST_INCOMPLETE, "a page of the list not read")
    fake.script["fetch_positions"] = [incomplete, lambda symbols=None: [ccxt_position(BTC, contracts=1.0)]]
    run(a.submit(intent(symbol=BTC, amount=1.0)))
    assert [c[1] for c in fake.calls if c[0] == "fetch_positions"] == [(None,), ([BTC],)]


def test_spot_sell_larger_than_holding_is_refused():
    fake = FakeExchange(markets=SPOT_MARKETS)
    fake.balance = ccxt_balance({"USDT": 100.0, "BTC": 0.01})
    a, _ = make(fake, acct=account(market_type="spot"))
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent("BTC/USDT", amount=0.02, reduce_only=False)))
    assert ei.value.reason is Reason.CLOSE_EXCEEDS_POSITION
    assert "create_order" not in fake.names()
    res = run(a.submit(intent("BTC/USDT", amount=0.01, reduce_only=False)))
    [(_, args)] = [c for c in fake.calls if c[0] == "create_order"]
    assert args[:4] == ("BTC/USDT", "market", "sell", 0.01)
    assert args[5] == {"newClientOrderId": intent().client_order_id}  # spot: no reduceOnly, no leg
    assert res.status == "filled"
