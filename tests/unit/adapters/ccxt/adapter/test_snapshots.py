"""A snapshot of an account from ccxt's structures: equity and legs per venue, spot holdings
valued, failures named, and when the open orders are listed again."""

from __future__ import annotations

import contextlib
import logging
import time

import ccxt
import pytest

from adapters.base import CancelSelector

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
    run,
)

# --- snapshot parsing --------------------------------------------------------------------------------


def test_futures_snapshot_from_ccxt_structures():
    fake = FakeExchange()
    fake.positions = [
        ccxt_position(BTC, "long", 0.5, mark=50000, entry=48000, upnl=1000, info={"positionSide": "LONG"},
                      hedged=True, liquidationPrice=30000),
        ccxt_position(ETH, "short", 3.0, mark=3000, entry=2900, upnl=-300, info={"positionSide": "SHORT"},
                      hedged=True, notional=-9000.0, liquidationPrice=0, initialMargin=None, collateral=900.0),
        ccxt_position(BTC, "short", 0.0, info={"positionSide": "SHORT"}),  # flat leg: skipped
    ]
    fake.orders = [
        ccxt_order("1", BTC, "buy", "limit", 0.1, 0.02, 40000, client_id="alpha-17", info={"positionSide": "LONG"}),
        {**ccxt_order("2", ETH, "buy", "take_profit_market", 3.0, price=None, reduce_only=True, client_id="x-other"),
         "triggerPrice": 2500.0},
    ]
    fake.balance = ccxt_balance({"USDT": 10500.0, "BNB": 0.0}, info={"totalMarginBalance": "11200.5"})
    a, _ = make(fake, acct=account(hedge_mode=True))
    s = run(a.snapshot())
    assert s.fetch.ok and s.fetch.error_code is None and s.fetch.calls == 5 and s.fetch.failed_calls == 0
    assert s.equity == 11200.5 and s.ts_event == 1700000000123 and s.ts_observed >= s.ts_event
    assert (s.venue, s.account, s.market_type, s.labels, s.initial_capital) == \
        ("binanceusdm", "main", "futures", {"desk": "a"}, 10000.0)
    btc, eth = s.positions
    assert (btc.symbol, btc.side, btc.position_side, btc.contracts, btc.notional) == (BTC, "long", "LONG", 0.5, 25000)
    assert (btc.entry_price, btc.mark_price, btc.unrealized_pnl, btc.liquidation_price, btc.margin, btc.leverage) == \
        (48000, 50000, 1000, 30000, 2500, 10)
    assert (eth.side, eth.position_side, eth.notional, eth.liquidation_price, eth.margin) == \
        ("short", "SHORT", 9000, None, 900)
    o1, o2 = s.orders
    assert (o1.id, o1.client_id, o1.strategy, o1.reduce_only, o1.amount, o1.filled, o1.price, o1.position_side) == \
        ("1", "alpha-17", "alpha", False, 0.1, 0.02, 40000, "LONG")
    assert (o2.type, o2.kind, o2.trigger_price, o2.reduce_only, o2.strategy, o2.price) == \
        ("take_profit_market", "conditional", 2500.0, True, None, None)
    assert [b.asset for b in s.balances] == ["USDT"] and s.balances[0].total == 10500
    assert set(s.markets) == {BTC, ETH} and s.markets[BTC].amount_step == 0.001


@pytest.mark.parametrize("venue,info,pos_info,expected_side", [
    ("bybit", {"retCode": 0, "result": {"list": [{"totalEquity": "2048.25", "coin": []}]}},
     {"positionIdx": 2, "size": "0.5"}, "SHORT"),
    ("okx", {"code": "0", "data": [{"totalEq": "777.7", "details": []}]}, {"posSide": "short", "pos": "0.5"}, "SHORT"),
    ("bybit", {"retCode": 0, "result": {"list": [{"totalEquity": "1"}]}}, {"positionIdx": 0, "size": "0.5"}, "BOTH"),
    ("okx", {"code": "0", "data": [{"totalEq": "1"}]}, {"posSide": "net", "pos": "-0.5"}, "BOTH"),
])
def test_equity_and_leg_per_venue(venue, info, pos_info, expected_side):
    fake = FakeExchange(venue)
    fake.balance = ccxt_balance({"USDT": 5.0}, info=info)
    fake.positions = [ccxt_position(side="short", info=pos_info)]
    a, _ = make(fake)
    s = run(a.snapshot())
    total_eq = info.get("result", {}).get("list", [{}])[0].get("totalEquity") or info["data"][0]["totalEq"]
    assert s.equity == float(total_eq)
    assert s.positions[0].position_side == expected_side


def test_equity_falls_back_to_unified_quote_total():
    fake = FakeExchange("somevenue")
    fake.balance = ccxt_balance({"USDT": 321.0})
    a, _ = make(fake)
    assert run(a.snapshot()).equity == 321.0


def test_missing_mark_is_derived_from_notional_and_missing_pnl_from_entry():
    fake = FakeExchange()
    fake.positions = [ccxt_position(contracts=2.0, mark=None, notional=-100000.0, upnl=None, entry=48000)]
    a, _ = make(fake)
    [p] = run(a.snapshot()).positions
    assert p.mark_price == 50000 and p.unrealized_pnl == 4000 and p.notional == 100000


def test_unusable_position_fails_the_snapshot_as_bad_response():
    fake = FakeExchange()
    fake.positions = [ccxt_position(mark=None, notional=None)]
    a, _ = make(fake)
    s = run(a.snapshot())
    assert not s.fetch.ok and s.fetch.error_code == "BAD_RESPONSE" and s.equity is None and s.positions == []


def test_spot_snapshot_values_holdings_at_last_price():
    fake = FakeExchange(markets=SPOT_MARKETS)
    fake.balance = ccxt_balance({"USDT": 1000.0, "BTC": 0.1, "ETH": 2.0, "USDC": 50.0, "DUST": 7.0})
    fake.script["fetch_tickers"] = [{"BTC/USDT": {"symbol": "BTC/USDT", "last": 60000.0},
                                     "ETH/USDT": {"symbol": "ETH/USDT", "last": None, "bid": 2999, "ask": 3001}}]
    a, _ = make(fake, acct=account(market_type="spot"))
    s = run(a.snapshot())
    assert s.fetch.ok and s.positions == [] and fake.options["defaultType"] == "spot"
    assert ("fetch_tickers", (["BTC/USDT", "ETH/USDT"],)) in fake.calls
    assert "fetch_positions" not in fake.names()
    prices = {b.asset: b.price for b in s.balances}
    assert prices == {"BTC": 60000.0, "ETH": 3000.0, "USDC": 1.0, "USDT": 1.0, "DUST": None}
    assert s.equity == pytest.approx(1000 + 0.1 * 60000 + 2 * 3000 + 50)
    assert set(s.markets) == {"BTC/USDT", "ETH/USDT"}


@pytest.mark.parametrize("method,exc,code", [
    ("load_markets", ccxt.ExchangeNotAvailable("down"), "EXCHANGE_UNAVAILABLE"),
    ("fetch_balance", ccxt.AuthenticationError("bad key"), "AUTH"),
    ("fetch_positions", ccxt.DDoSProtection("418"), "RATE_LIMITED"),
    ("fetch_open_orders", ccxt.BadResponse("html"), "BAD_RESPONSE"),
    ("fetch_open_orders", RuntimeError("boom"), "UNKNOWN"),
])
def test_snapshot_failure_is_a_snapshot(method, exc, code):
    a, fake = make(max_retries=0)
    fake.script[method] = [exc]
    s = run(a.snapshot())
    assert (s.fetch.ok, s.fetch.error_code, s.equity) == (False, code, None)
    assert s.fetch.failed_calls >= 1 and s.fetch.calls >= 1 and s.fetch.latency_ms is not None
    assert (s.venue, s.account, s.initial_capital) == ("binanceusdm", "main", 10000.0)


def test_markets_are_loaded_once():
    a, fake = make()
    run(a.snapshot())
    run(a.snapshot())
    assert fake.names().count("load_markets") == 1


def test_snapshot_keeps_a_young_open_order_list_where_listing_them_all_is_heavy():
    """Binance weighs the list of every open order 40 of a snapshot's 50: a snapshot younger than
    the dialect's age keeps the last list; our own orders and cancels make the next one list again."""
    a, fake = make()
    assert a.open_orders_max_age_s == 9.0
    fake.orders = [ccxt_order("11", client_id="alpha-1")]
    fake.positions = [ccxt_position(contracts=0.5)]
    first = run(a.snapshot())
    fake.orders = [ccxt_order("11", client_id="alpha-1"), ccxt_order("12", symbol=ETH, client_id="beta-1")]
    kept = run(a.snapshot())
    assert fake.listings() == 1
    assert [o.id for o in kept.orders] == [o.id for o in first.orders] == ["11"]
    assert (first.fetch.calls, kept.fetch.calls) == (5, 2)  # markets, balance, positions, orders, algo orders; then two
    run(a.submit(intent(amount=0.2)))
    after_order = run(a.snapshot())
    assert [o.id for o in after_order.orders] == ["11", "12"]
    run(a.cancel_orders(CancelSelector(order_ids=("12",))))
    run(a.snapshot())
    assert fake.listings() == 3


def test_snapshot_lists_the_open_orders_at_once_when_the_runner_starts_watching_entries():
    """A lock that cancels entries placed since the last list: the first snapshot after the runner
    asks the adapter to watch them lists every open order whatever the list's age (the list kept
    was read before the lock), and the next keeps it while it is younger than the watched age."""
    a, fake = make()
    fake.orders = [ccxt_order("11", client_id="alpha-1")]
    fake.positions = [ccxt_position(contracts=0.5)]
    run(a.snapshot())
    fake.orders = [ccxt_order("11", client_id="alpha-1"), ccxt_order("12", symbol=ETH, client_id="rogue-1")]
    a.wake_on_entries(True)
    watched = run(a.snapshot())
    assert [o.id for o in watched.orders] == ["11", "12"] and fake.listings() == 2
    a.wake_on_entries(True)  # (told again: nothing changed)
    run(a.snapshot())
    assert fake.listings() == 2  # younger than WATCHED_ORDERS_MAX_AGE_S: kept


@contextlib.contextmanager
def caplog_of(name: str):
    """The messages logged under ``name`` while the block runs."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler, logger = Keep(), logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def test_a_watched_list_waits_for_the_weight_to_spare_and_is_said_once():
    """The sooner lists of a watch come out of the weight the pacer has to spare: with its bucket
    in debt the snapshot keeps the list it has (at the dialect's age, as with no lock), counts
    and says the deferral once; once the bucket can pay a whole snapshot, it lists at once."""
    from adapters.ccxt_exchange.budget import RequestPacer

    now = [0.0]
    a, fake = make()
    fake.throttle = pacer = RequestPacer(20.0, capacity=200, clock=lambda: now[0])
    run(a.snapshot())
    assert fake.listings() == 1
    pacer.tokens = -40.0  # a heavy read just went: two seconds of debt at 20 a second
    fake.orders = [ccxt_order("12", symbol=ETH, client_id="rogue-1")]
    a.wake_on_entries(True)
    with caplog_of("adapters.ccxt_exchange") as said:
        kept = run(a.snapshot())
        run(a.snapshot())
    assert fake.listings() == 1 and [o.id for o in kept.orders] == []
    assert a.watch_lists_deferred == 2
    assert sum("WATCH_LIST_DEFERRED" in m for m in said) == 1
    now[0] += 10.0  # refilled: a whole snapshot (account, positions, both lists: 90) can be paid
    watched = run(a.snapshot())
    assert fake.listings() == 2 and [o.id for o in watched.orders] == ["12"]


def test_snapshot_lists_the_open_orders_again_once_its_list_is_old():
    a, fake = make(open_orders_max_age_s=0.05)
    run(a.snapshot())
    time.sleep(0.06)
    run(a.snapshot())
    assert fake.listings() == 2


@pytest.mark.parametrize("venue,options", [("okx", {}), ("binanceusdm", {"open_orders_max_age_s": 0})])
def test_snapshot_lists_the_open_orders_every_time_where_that_is_cheap(venue, options):
    a, fake = make(FakeExchange(venue), **options)
    for _ in range(3):
        run(a.snapshot())
    assert fake.listings() == 3
