"""The stream state of one account (adapters/ccxt_exchange/streamstate.py), pure: updates by key
and event time, what is dropped, the snapshot made from it, and a REST reconcile that wins."""

from __future__ import annotations

import pytest

from adapters.ccxt_exchange.streamstate import CHANGED, DUPLICATE, OUT_OF_ORDER, SAME, StreamState
from killswitch.snapshot import Balance, FetchStatus, Order, Position, Snapshot

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def position(symbol=BTC, side="long", contracts=0.5, mark=50000.0, entry=48000.0, liq=30000.0):
    sign = 1 if side == "long" else -1
    return Position(symbol=symbol, side=side, position_side="BOTH", contracts=contracts, notional=contracts * mark,
                    entry_price=entry, mark_price=mark, unrealized_pnl=(mark - entry) * contracts * sign,
                    liquidation_price=liq, leverage=10.0)


def order(oid="1", symbol=BTC):
    return Order(id=oid, symbol=symbol, side="sell", type="limit", amount=0.1, price=60000.0)


def rest(positions=(), orders=(), equity=None, wallet=1000.0):
    ps = list(positions)
    eq = wallet + sum(p.unrealized_pnl for p in ps) if equity is None else equity
    return Snapshot(venue="binanceusdm", account="main", market_type="futures", ts_event=1, ts_observed=1,
                    equity=eq, balances=[Balance(asset="USDT", free=900.0, total=wallet)], positions=ps,
                    orders=list(orders), fetch=FetchStatus(ok=True, calls=3))


def seeded(*positions, orders=()) -> StreamState:
    s = StreamState("USDT")
    s.reconcile(rest(positions, orders), 100, lambda _: 1.0)
    return s


def test_an_update_newer_than_the_one_held_is_applied_and_the_same_again_is_a_duplicate():
    s = StreamState("USDT")
    assert s.apply_mark(BTC, 50000.0, 10) == CHANGED
    assert s.apply_mark(BTC, 50000.0, 10) == DUPLICATE
    assert s.apply_mark(BTC, 50000.0, 11) == SAME
    assert s.marks[BTC] == 50000.0
    assert s.dropped == {}  # not counted here: the stream counts frames (a mark comes by two subscriptions)


def test_an_update_older_than_the_one_held_for_its_key_is_dropped_as_out_of_order():
    s = StreamState("USDT")
    s.apply_position(BTC, "BOTH", "long", 0.5, 48000.0, 20)
    assert s.apply_position(BTC, "BOTH", "long", 0.9, 48000.0, 19) == OUT_OF_ORDER
    assert s.positions[(BTC, "BOTH")].contracts == 0.5
    # another key has its own clock
    assert s.apply_position(ETH, "BOTH", "short", 2.0, 3000.0, 5) == CHANGED
    assert s.dropped == {}


def test_a_late_update_of_a_closed_position_does_not_bring_it_back():
    s = StreamState("USDT")
    s.apply_position(BTC, "BOTH", "long", 0.5, 48000.0, 20)
    assert s.apply_position(BTC, "BOTH", None, 0.0, None, 30) == CHANGED
    assert (BTC, "BOTH") not in s.positions
    assert s.apply_position(BTC, "BOTH", "long", 0.5, 48000.0, 25) == OUT_OF_ORDER
    assert (BTC, "BOTH") not in s.positions


def test_an_order_no_longer_open_leaves_the_open_orders():
    s = StreamState("USDT")
    s.apply_order("7", order("7"), 1)
    assert s.apply_order("7", None, 2) == CHANGED
    assert s.orders == {}


def test_no_snapshot_before_rest_gave_the_base():
    assert StreamState("USDT").snapshot(1, 1, lambda _: 1.0) is None


def test_snapshot_values_positions_at_the_streams_marks_and_equity_is_wallet_plus_their_pnl():
    s = seeded(position(contracts=0.5, mark=50000.0, entry=48000.0, liq=30000.0))
    s.apply_mark(BTC, 52000.0, 200)
    s.apply_wallet("USDT", 1500.0, 200)
    snap = s.snapshot(300, 200, lambda _: 1.0)
    (p,) = snap.positions
    assert (p.mark_price, p.notional, p.unrealized_pnl) == (52000.0, 26000.0, 2000.0)
    assert p.liquidation_price == 30000.0  # the last REST read's
    assert snap.equity == 1500.0 + 2000.0
    assert snap.balances[0].total == 1500.0 and snap.balances[0].free == 900.0
    assert snap.fetch.calls == 0 and snap.ts_event == 200 and snap.ts_observed == 300


def test_snapshot_values_a_short_and_a_position_rest_has_not_seen():
    s = seeded()
    s.apply_position(ETH, "BOTH", "short", 2.0, 3000.0, 10)
    s.apply_mark(ETH, 2900.0, 11)
    (p,) = s.snapshot(20, 11, lambda _: 1.0).positions
    assert (p.side, p.unrealized_pnl, p.liquidation_price) == ("short", 200.0, None)


def test_reconcile_finds_the_positions_orders_and_equity_the_stream_has_wrong_and_rest_wins():
    s = seeded(position(contracts=0.5), orders=[order("1")])
    s.apply_position(BTC, "BOTH", "long", 0.7, 48000.0, 50)  # the stream says 0.7
    s.apply_order("2", order("2"), 50)
    s.apply_wallet("USDT", 5000.0, 50)
    truth = rest([position(contracts=0.5)], [order("1")])
    found = {d.kind: d.detail for d in s.reconcile(truth, 400, lambda _: 1.0)}
    assert set(found) == {"positions", "orders", "equity"}
    assert "stream=0.7 rest=0.5" in found["positions"]
    assert "stream only: ['2']" in found["orders"]
    assert s.positions[(BTC, "BOTH")].contracts == 0.5 and set(s.orders) == {"1"}
    assert s.snapshot(500, 400, lambda _: 1.0).equity == pytest.approx(truth.equity)


def test_reconcile_of_a_stream_that_agrees_finds_nothing():
    s = seeded(position(contracts=0.5), orders=[order("1")])
    s.apply_mark(BTC, 50010.0, 60)  # a mark a little apart: within the equity tolerance
    assert s.reconcile(rest([position(contracts=0.5)], [order("1")]), 400, lambda _: 1.0) == []


def test_reconcile_keeps_the_event_times_so_a_delayed_update_is_still_dropped():
    s = seeded()
    s.apply_position(BTC, "BOTH", "long", 0.5, 48000.0, 100)
    s.reconcile(rest([position(contracts=0.4)]), 500, lambda _: 1.0)
    assert s.apply_position(BTC, "BOTH", "long", 0.9, 48000.0, 90) == OUT_OF_ORDER
    assert s.positions[(BTC, "BOTH")].contracts == 0.4
