"""The stream state of one account (adapters/ccxt_exchange/streamstate.py), pure: updates by key
and event time, what is dropped, the snapshot made from it, and a REST reconcile that wins."""

from __future__ import annotations

import pytest

from adapters.ccxt_exchange.streaming.state import CHANGED, DUPLICATE, OUT_OF_ORDER, SAME, StreamState
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


def test_reconcile_without_the_open_orders_read_neither_compares_nor_takes_them():
    """REST's open orders an earlier read's (the adapter lists them on its own cadence): the
    stream's newer ones are kept and no disagreement is made of them; positions still are."""
    s = seeded(position(contracts=0.5), orders=[order("1")])
    s.apply_order("2", order("2"), 50)
    s.apply_position(BTC, "BOTH", "long", 0.7, 48000.0, 50)
    found = s.reconcile(rest([position(contracts=0.5)], [order("1")]), 400, lambda _: 1.0, orders=False)
    assert "orders" not in [d.kind for d in found] and "positions" in [d.kind for d in found]
    assert set(s.orders) == {"1", "2"} and s.positions[(BTC, "BOTH")].contracts == 0.5


def test_reconcile_not_compared_takes_rest_and_finds_nothing():
    s = seeded(position(contracts=0.5), orders=[order("1")])
    s.apply_position(BTC, "BOTH", "long", 0.7, 48000.0, 50)
    assert s.reconcile(rest([position(contracts=0.5)], []), 400, lambda _: 1.0, compare=False) == []
    assert s.positions[(BTC, "BOTH")].contracts == 0.5 and s.orders == {}


def test_reconcile_keeps_the_event_times_so_a_delayed_update_is_still_dropped():
    s = seeded()
    s.apply_position(BTC, "BOTH", "long", 0.5, 48000.0, 100)
    s.reconcile(rest([position(contracts=0.4)]), 500, lambda _: 1.0)
    assert s.apply_position(BTC, "BOTH", "long", 0.9, 48000.0, 90) == OUT_OF_ORDER
    assert s.positions[(BTC, "BOTH")].contracts == 0.4


# --- the snapshot made incrementally is the snapshot made from scratch --------------------------------------

SYMBOLS = [f"C{i}/USDT:USDT" for i in range(6)]


def from_scratch(s: StreamState, now: int, contract_size, rules) -> Snapshot:
    """The stream's snapshot as its contract says, every position made anew (what the stream
    made every tick before it kept the positions no update touched)."""
    from adapters.ccxt_exchange.streaming.book import leg_of
    from killswitch.snapshot import PositionList, with_positions

    base = s.base
    rest_legs = {(p.symbol, leg_of(p)): p for p in base.positions}
    positions = []
    for (symbol, leg), sp in sorted(s.positions.items()):
        known = rest_legs.get((symbol, leg))
        mark = s.marks.get(symbol) or (known.mark_price if known else None) or sp.entry_price
        if not mark or mark <= 0:
            continue
        size = known.contract_size if known else contract_size(symbol)
        sign = 1.0 if sp.side == "long" else -1.0
        pnl = (mark - sp.entry_price) * sp.contracts * size * sign if sp.entry_price else 0.0
        kept = {k: getattr(known, k) for k in ("liquidation_price", "margin", "leverage", "strategy")} \
            if known else {}
        positions.append(Position(symbol=symbol, side=sp.side, position_side=leg, contracts=sp.contracts,
                                  contract_size=size, notional=sp.contracts * size * mark,
                                  entry_price=sp.entry_price, mark_price=mark, unrealized_pnl=pnl, **kept))
    wallet = s.wallet.get(s.quote)
    equity = None if wallet is None else wallet + sum(p.unrealized_pnl for p in positions)
    balances = [b.model_copy(update={"total": s.wallet[b.asset], "free": min(b.free, s.wallet[b.asset])})
                if b.asset in s.wallet else b for b in base.balances]
    seen = {b.asset for b in balances}
    balances += [Balance(asset=a, free=0.0, total=v) for a, v in sorted(s.wallet.items()) if a not in seen]
    orders = list(s.orders.values())
    markets = dict(base.markets)
    for symbol in sorted({p.symbol for p in positions} | {o.symbol for o in orders}):
        if (r := rules(symbol)) is not None:
            markets[symbol] = r
    return with_positions(base.model_copy(update={
        "ts_event": now, "ts_observed": now, "equity": equity, "balances": balances, "orders": orders,
        "fetch": FetchStatus(ok=True, latency_ms=0.0, calls=0, failed_calls=0)}), PositionList.of(positions), markets)


def _columns(snap: Snapshot) -> tuple:
    from killswitch.snapshot import COLUMN_FIELDS

    c = snap.positions.columns
    return (c.side_keys, *(c.column(f) for f in COLUMN_FIELDS))  # every column the declaration marks


def _check_incremental(steps) -> None:
    from killswitch.snapshot import MarketRules

    def rules(symbol):  # every other symbol has rules
        return MarketRules(amount_step=0.001) if int(symbol[1]) % 2 == 0 else None

    def size(symbol):
        return 1.0 + int(symbol[1]) / 10

    rest_positions = [position(SYMBOLS[0], contracts=0.5, mark=100.0, entry=90.0),
                      position(SYMBOLS[1], side="short", contracts=2.0, mark=50.0, entry=55.0)]
    s = StreamState("USDT")
    s.reconcile(rest(rest_positions), 1, size)
    t = 1
    previous = None
    for kind, i, leg, x in steps:
        t += 1
        symbol = SYMBOLS[i]
        if kind == "position":
            side = "long" if leg == "LONG" else "short" if leg == "SHORT" else ("long" if x > 0 else "short")
            s.apply_position(symbol, leg, side, abs(x), 10.0 + i, t)
        elif kind == "mark":
            s.apply_mark(symbol, abs(x) or 1.0, t)
        elif kind == "wallet":
            s.apply_wallet("USDT", 1000.0 + x, t)
        elif kind == "order":
            s.apply_order(str(i), order(str(i), symbol) if x > 0 else None, t)
        elif kind == "reconcile":
            s.reconcile(rest(rest_positions[: i % 3]), t, size)
            if leg == "LONG":  # as the stream does after a reconcile: the legs made there
                s.prepare(size, rules)
        mine = s.snapshot(t, t, size, rules)
        theirs = from_scratch(s, t, size, rules)
        assert mine == theirs
        assert mine.model_dump() == theirs.model_dump()
        assert list(mine.markets) == list(theirs.markets)
        assert _columns(mine) == _columns(theirs)
        if previous is not None:  # the last snapshot's positions were not changed under it
            assert previous[0] == previous[1]
        previous = (mine.model_dump(), from_scratch(s, t, size, rules).model_dump())


def test_the_snapshot_made_incrementally_equals_the_one_made_from_scratch_over_random_updates():
    from hypothesis import given, settings, strategies as st

    step = st.tuples(st.sampled_from(["position", "position", "mark", "mark", "mark", "wallet", "order",
                                      "reconcile", "snapshot"]),
                     st.integers(0, len(SYMBOLS) - 1), st.sampled_from(["BOTH", "LONG", "SHORT"]),
                     st.sampled_from([0.0, 1.0, -1.0, 2.5, -3.0, 80.0, 120.0]))

    @settings(max_examples=300, deadline=None)
    @given(st.lists(step, max_size=40))
    def check(steps):
        _check_incremental(steps)

    check()


def test_a_mark_changes_only_its_symbols_positions_the_others_are_the_same_models():
    ps = [position(SYMBOLS[i], mark=100.0, entry=90.0) for i in range(3)]
    s = StreamState("USDT")
    s.reconcile(rest(ps), 1, lambda _: 1.0)
    first = s.snapshot(2, 2, lambda _: 1.0)
    assert s.apply_mark(SYMBOLS[1], 80.0, 3) == CHANGED
    second = s.snapshot(3, 3, lambda _: 1.0)
    assert [a is b for a, b in zip(first.positions, second.positions)] == [True, False, True]
    assert second.positions[1].mark_price == 80.0 and first.positions[1].mark_price == 100.0
    assert second.positions.columns.marks == [100.0, 80.0, 100.0]
    assert first.positions.columns.marks == [100.0, 100.0, 100.0]  # the last snapshot's columns untouched


def test_prepared_after_a_reconcile_the_next_snapshot_remakes_only_what_updates_touched():
    ps = [position(SYMBOLS[i], mark=100.0, entry=90.0) for i in range(3)]
    s = StreamState("USDT")
    asked: list[str] = []

    def rules(symbol):
        asked.append(symbol)
        return None

    s.reconcile(rest(ps), 1, lambda _: 1.0)
    s.prepare(lambda _: 1.0, rules)
    assert sorted(asked) == SYMBOLS[:3]  # every leg and its rules made here, where REST was read
    asked.clear()
    assert s.apply_mark(SYMBOLS[1], 80.0, 3) == CHANGED
    snap = s.snapshot(3, 3, lambda _: 1.0, rules)
    assert asked == []  # the rules were not read again: the legs were not made anew
    assert snap == from_scratch(s, 3, lambda _: 1.0, rules)
    assert snap.positions.columns.marks == [100.0, 80.0, 100.0]


def test_legs_made_a_slice_at_a_time_free_the_loop_and_end_as_made_at_once_with_what_came_meanwhile():
    import asyncio

    from adapters.ccxt_exchange.streaming.state import prepare_stepwise

    ps = [position(SYMBOLS[i], mark=100.0, entry=90.0) for i in range(6)]
    s = StreamState("USDT")
    s.reconcile(rest(ps), 1, lambda _: 1.0)
    s.prepare(lambda _: 1.0)
    s.reconcile(rest(ps), 2, lambda _: 1.0)  # the cadence's reconcile beside the ticks: legs to make
    ran: list[int] = []

    async def other():  # what else the loop runs: a mark and a fill land while the legs are made
        ran.append(1)
        s.apply_mark(SYMBOLS[0], 80.0, 3)  # a leg already made
        s.apply_position(SYMBOLS[5], "BOTH", "long", 0.9, 90.0, 3)  # a leg not made yet
        s.apply_position("NEW/USDT:USDT", "BOTH", "short", 0.2, 95.0, 3)  # a new leg

    async def go():
        await asyncio.gather(prepare_stepwise(s, lambda _: 1.0, every=2), other())

    asyncio.run(go())
    assert ran and s._legs is not None and s._legs.base is s.base  # made, and the loop ran between slices
    assert s.snapshot(4, 4, lambda _: 1.0) == from_scratch(s, 4, lambda _: 1.0, lambda _: None)


def test_legs_made_a_slice_at_a_time_are_dropped_when_a_snapshot_made_them_meanwhile():
    import asyncio

    from adapters.ccxt_exchange.streaming.state import prepare_stepwise

    ps = [position(SYMBOLS[i], mark=100.0, entry=90.0) for i in range(6)]
    s = StreamState("USDT")
    s.reconcile(rest(ps), 1, lambda _: 1.0)
    seen: list = []

    async def go():
        async def tick():
            seen.append(s.snapshot(2, 2, lambda _: 1.0))  # a tick's snapshot makes every leg itself
            s.apply_mark(SYMBOLS[2], 70.0, 3)

        await asyncio.gather(prepare_stepwise(s, lambda _: 1.0, every=2), tick())

    asyncio.run(go())
    made = s._legs
    assert seen[0] is not None and made is not None
    assert s.snapshot(4, 4, lambda _: 1.0) == from_scratch(s, 4, lambda _: 1.0, lambda _: None)


def test_prepare_before_any_rest_snapshot_makes_nothing():
    s = StreamState("USDT")
    s.prepare(lambda _: 1.0)
    assert s.snapshot(1, 1, lambda _: 1.0) is None


def test_an_order_the_stream_saw_while_a_rest_read_was_under_way_is_news_not_a_disagreement():
    # a bot sends an order every 100 ms: REST's list, read before the latest ones, must not make
    # every reconcile disagree (each would send the snapshots to REST, and the open-order list
    # there is paced: the venue watch would see a rogue's orders seconds late)
    s = seeded(position(contracts=0.5), orders=[order("1")])
    mark = s.order_mark()  # the REST read begins
    assert s.apply_order("2", order("2"), 300) == CHANGED  # placed while it is under way
    assert s.apply_order("1", None, 301) == CHANGED  # and the old one cancelled meanwhile
    found = s.reconcile(rest([position(contracts=0.5)], [order("1")]), 400, lambda _: 1.0, orders_since=mark)
    assert found == []
    assert set(s.orders) == {"2"}  # the stream's newer word on both is kept over the read's
    # an order the stream held before the read and REST does not list: the stream missed its end
    mark = s.order_mark()
    found = s.reconcile(rest([position(contracts=0.5)], []), 500, lambda _: 1.0, orders_since=mark)
    assert [d.kind for d in found] == ["orders"] and s.orders == {}  # REST wins


def test_a_position_the_stream_changed_while_a_rest_read_was_under_way_is_news_not_a_disagreement():
    # a bot's fill lands between the REST read and its reconcile: REST's older size must not make
    # the reconcile disagree (every snapshot would then read REST, at 10,000 positions for seconds)
    s = seeded(position(contracts=0.5))
    mark = s.order_mark()  # the REST read begins
    entry = (0.5 * 48_000.0 + 0.2 * 50_000.0) / 0.7  # bought 0.2 at the mark: the equity is the same
    assert s.apply_position(BTC, "BOTH", "long", 0.7, entry, 300) == CHANGED
    found = s.reconcile(rest([position(contracts=0.5)], []), 400, lambda _: 1.0, orders_since=mark)
    assert found == []
    assert s.positions[(BTC, "BOTH")].contracts == 0.7  # the stream's newer word is kept
    # a size the stream held before the read and REST says otherwise: the stream missed a fill
    mark = s.order_mark()
    found = s.reconcile(rest([position(contracts=0.9)], []), 500, lambda _: 1.0, orders_since=mark)
    assert "positions" in [d.kind for d in found] and s.positions[(BTC, "BOTH")].contracts == 0.9


def test_without_a_mark_every_order_is_compared_as_before():
    s = seeded(position(contracts=0.5), orders=[order("1")])
    s.apply_order("2", order("2"), 300)
    found = s.reconcile(rest([position(contracts=0.5)], [order("1")]), 400, lambda _: 1.0)
    assert [d.kind for d in found] == ["orders"] and set(s.orders) == {"1"}


# --- a spot account: its book is its assets ---------------------------------------------------------------


def spot_rest(held: dict, prices: dict) -> Snapshot:
    """A REST spot snapshot: each asset held (``held``: asset → total) priced in USDT (``prices``:
    asset → price, the quote 1), its equity their value, no position."""
    balances = [Balance(asset=a, free=q, total=q, price=1.0 if a == "USDT" else prices.get(a))
                for a, q in sorted(held.items())]
    return Snapshot(venue="mexc", account="main", market_type="spot", ts_event=1, ts_observed=1,
                    equity=sum(b.total * (b.price or 0.0) for b in balances), balances=balances,
                    fetch=FetchStatus(ok=True, calls=3))


def test_a_spot_book_is_each_assets_wallet_at_its_pairs_mark_as_rest_values_it():
    s = StreamState("USDT", spot=True)
    base = spot_rest({"USDT": 1000.0, "BTC": 0.5}, {"BTC": 60000.0})
    assert s.reconcile(base, 100, lambda _: 1.0) == [] and s.held() == {"BTC/USDT"}
    snap = s.snapshot(200, 200, lambda _: 1.0)
    assert snap is not None and snap.equity == pytest.approx(base.equity) and not snap.positions
    assert s.apply_mark("BTC/USDT", 50000.0, 10) == CHANGED  # the pair's price from the stream
    assert s.apply_wallet("ETH", 2.0, 11) == CHANGED  # an asset REST did not list, bought since
    assert s.held() == {"BTC/USDT", "ETH/USDT"}
    assert s.snapshot(200, 200, lambda _: 1.0) is None  # ETH has no price yet: REST answers (and names it)
    s.apply_mark("ETH/USDT", 3000.0, 12)
    snap = s.snapshot(200, 200, lambda _: 1.0)
    assert snap is not None
    assert {b.asset: (b.total, b.price) for b in snap.balances} == {
        "USDT": (1000.0, 1.0), "BTC": (0.5, 50000.0), "ETH": (2.0, 3000.0)}
    assert snap.equity == pytest.approx(1000.0 + 0.5 * 50000.0 + 2.0 * 3000.0)
    s.apply_wallet("BTC", 0.0, 13)  # sold: no longer held, nor valued
    assert s.held() == {"ETH/USDT"}
    snap = s.snapshot(200, 200, lambda _: 1.0)
    assert snap is not None and "BTC" not in {b.asset for b in snap.balances}


def test_a_spot_reconcile_compares_the_valued_book_and_rest_wins():
    s = StreamState("USDT", spot=True)
    s.reconcile(spot_rest({"USDT": 1000.0, "BTC": 0.5}, {"BTC": 60000.0}), 100, lambda _: 1.0)
    s.apply_wallet("BTC", 0.4, 10)  # the stream missed a buy REST sees
    found = s.reconcile(spot_rest({"USDT": 1000.0, "BTC": 0.5}, {"BTC": 60000.0}), 200, lambda _: 1.0)
    assert [d.kind for d in found] == ["equity"]
    assert s.wallet == {"USDT": 1000.0, "BTC": 0.5}  # REST's in its place
    assert s.reconcile(spot_rest({"USDT": 1000.0, "BTC": 0.5}, {"BTC": 60000.0}), 300, lambda _: 1.0) == []
