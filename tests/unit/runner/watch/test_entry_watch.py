"""The venue watch's fast path (killswitch/runner/watch/entry_watch.py) over the in-process simulated
adapter: an entry a stream hands over under a lock that cancels is reported and cancelled at
once, from the lock book and the order alone; the tick after neither audits nor cancels it again;
a stop between the row and the cancel, or after the cancel, is finished by the next runner with
no second row; what only reduces, a standby and a ``reducing`` lock's reducing order are left
alone. Also the baseline of growth under a lock: the account as read before the lock."""

from __future__ import annotations

import asyncio

from killswitch.runner.lock.lock import LockBook
from killswitch.runner.watch.enforce import entry
from killswitch.snapshot import Order
from tests.unit.runner.operator.rig import ACCOUNT, TICK_MS, make

SYMBOL = "BTC/USDT:USDT"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


class Cancels:
    """The adapter's cancels counted; ``then`` runs after each one the venue took (a stop)."""

    def __init__(self, w, then=None):
        self.inner = w.adapter.inner.cancel_orders
        self.then = then
        self.calls: list[tuple[str, ...]] = []
        w.adapter.cancel_orders = self

    async def __call__(self, selector):
        self.calls.append(tuple(selector.order_ids))
        res = await self.inner(selector)
        if self.then is not None:
            await self.then()
        return res


async def lock(w, mode: str = "halted") -> None:
    await w.runner.start()
    w.clock.advance(TICK_MS)
    await w.runner.tick()
    assert (await w.desk.lock_scope(ACCOUNT, mode, "desk halt", actor="op")).done
    w.clock.advance(TICK_MS)
    await w.runner.tick()


def rogue(w, cid: str = "bot-a-rogue-1", side: str = "BUY", amount: float = 0.5, price: float = 55_000.0) -> None:
    w.engine.place_order("sim-main", "BTCUSDT", side, "LIMIT", amount, price=price if side == "BUY" else 70_000.0,
                         time_in_force="GTC", client_order_id=cid)


async def streamed(w, cid: str = "bot-a-rogue-1") -> Order:
    """The order as a stream would hand it over (the adapter's own reading of it)."""
    snap = await w.adapter.snapshot()
    return next(o for o in snap.orders if o.client_id == cid)


def is_open(w, cid: str) -> bool:
    o = w.engine.order_by_client_id("sim-main", cid)
    return o is not None and o.is_open


def rows(w, kind: str = "lock_violation") -> list[dict]:
    return [r.payload for r in w.store.audit_rows(None, (kind,), 100)]


async def settled(w) -> None:
    await asyncio.gather(*list(w.parts.entry_watch._tasks))


def test_an_entry_on_the_stream_is_cancelled_before_any_tick_and_the_tick_after_does_neither_again(tmp_path):
    w = make(tmp_path)
    told: list = []
    w.parts.entry_watch.emit = told.append

    async def go():
        await lock(w)
        cancels = Cancels(w)
        rogue(w)
        order = await streamed(w)
        before = [await w.adapter.snapshot()]  # a tick's read from before the cancel: it still lists the order
        w.parts.entry_watch.on_entry(ACCOUNT, order)
        await settled(w)
        assert not is_open(w, "bot-a-rogue-1")  # no tick ran
        events: list = []
        await w.parts.enforcement.watch(before, [], w.clock(), events)  # that tick's watch
        w.clock.advance(TICK_MS)
        report = await w.runner.tick()  # and a whole tick after
        return cancels.calls, events, report, order

    calls, events, report, order = run(go())
    assert calls == [(order.id,)]  # one cancel
    assert events == [] and not [e for e in report.events if e.kind == "lock_violation"]
    (row,) = rows(w)  # one row
    assert (row["action"], row["order_id"], row["strategy"], row["key"]) == (
        "cancel", order.id, "bot-a", f"cancel|{ACCOUNT}|{order.id}")
    assert [e.kind for e in told] == ["lock_violation"] and told[0].labels["strategy"] == "bot-a"
    (result,) = rows(w, "violation_cancel_result")
    assert result["outcomes"] == {order.id: "canceled"}
    assert w.parts.enforcement.counts[(ACCOUNT, "bot-a", "cancel")] == 1


def test_a_tick_watching_while_the_fast_path_audits_neither_reports_nor_cancels_it_again(tmp_path):
    w = make(tmp_path)

    async def go():
        await lock(w)
        cancels = Cancels(w)
        rogue(w)
        order = await streamed(w)
        snaps = [await w.adapter.snapshot()]
        w.parts.entry_watch.on_entry(ACCOUNT, order)  # its task waits on the store meanwhile
        events: list = []
        await asyncio.gather(w.parts.enforcement.watch(snaps, [], w.clock(), events), settled(w))
        return cancels.calls, events

    calls, events = run(go())
    assert len(calls) == 1 and len(events) <= 1 and len(rows(w)) == 1
    assert not is_open(w, "bot-a-rogue-1")


def test_a_stop_between_the_row_and_the_cancel_is_cancelled_by_the_next_runner_without_a_second_row(tmp_path):
    w = make(tmp_path)

    async def go():
        await lock(w)

        stopped = asyncio.Event()

        async def dies(selector):  # the process stops as the cancel would leave
            stopped.set()
            await asyncio.Event().wait()

        w.adapter.cancel_orders = dies
        rogue(w)
        w.parts.entry_watch.on_entry(ACCOUNT, await streamed(w))
        await asyncio.wait_for(stopped.wait(), 60)  # the row written, the cancel never sent

    run(go())
    assert len(rows(w)) == 1 and is_open(w, "bot-a-rogue-1")
    again = make(tmp_path, engine=w.engine, clock=w.clock, holder="runner-2")

    async def carry_on():
        w.clock.advance(10_000)  # the first runner's lease runs out
        await again.runner.start()
        w.clock.advance(TICK_MS)
        return await again.runner.tick()

    report = run(carry_on())
    assert not is_open(w, "bot-a-rogue-1")  # cancelled again
    assert len(rows(w)) == 1 and not [e for e in report.events if e.kind == "lock_violation"]  # not reported again


def test_a_stop_after_the_cancel_leaves_nothing_to_do_again(tmp_path):
    w = make(tmp_path)

    async def go():
        await lock(w)

        stopped = asyncio.Event()

        async def die():  # the cancel taken by the venue, then the process stops
            stopped.set()
            await asyncio.Event().wait()

        Cancels(w, then=die)
        rogue(w)
        w.parts.entry_watch.on_entry(ACCOUNT, await streamed(w))
        await asyncio.wait_for(stopped.wait(), 60)

    run(go())
    assert not is_open(w, "bot-a-rogue-1") and len(rows(w)) == 1 and rows(w, "violation_cancel_result") == []
    again = make(tmp_path, engine=w.engine, clock=w.clock, holder="runner-2")
    cancels = Cancels(again)

    async def carry_on():
        w.clock.advance(10_000)
        await again.runner.start()
        w.clock.advance(TICK_MS)
        return await again.runner.tick()

    report = run(carry_on())
    assert cancels.calls == [] and len(rows(w)) == 1
    assert not [e for e in report.events if e.kind == "lock_violation"]


def test_what_only_reduces_and_the_runners_own_shape_are_left_alone(tmp_path):
    w = make(tmp_path)

    async def go():
        await lock(w)
        base = dict(symbol=SYMBOL, side="sell", type="limit", amount=0.5, price=70_000.0)
        for o in (Order(id="r1", client_id="bot-a-r", reduce_only=True, **base),
                  Order(id="t1", client_id="bot-a-t", kind="tpsl", trigger_price=65_000.0, **base),
                  Order(id="k1", client_id="ks" + "0" * 30, **base)):
            w.parts.entry_watch.on_entry(ACCOUNT, o)
        return list(w.parts.entry_watch._tasks)

    assert run(go()) == [] and rows(w) == []
    bot = Order(id="1", client_id="bot", symbol=SYMBOL, side="buy", type="limit", amount=1.0, price=1.0)
    assert entry(LockBook(), "simulated", ACCOUNT, bot, 0) is None  # no lock: nothing


def test_a_standby_does_not_cancel(tmp_path):
    w = make(tmp_path)
    standby = make(tmp_path, engine=w.engine, clock=w.clock, holder="runner-2")

    async def go():
        await lock(w)
        await standby.runner.start()
        w.clock.advance(1_000)
        await standby.runner.tick()  # it follows the leader's lock book
        assert standby.parts.book.lock_book.in_force(w.clock()) and not standby.parts.lead.leader
        rogue(w)
        standby.parts.entry_watch.on_entry(ACCOUNT, await streamed(w))
        return list(standby.parts.entry_watch._tasks)

    assert run(go()) == []
    assert is_open(w, "bot-a-rogue-1") and rows(w) == []


def test_reducing_cancels_an_entry_that_grows_and_leaves_one_that_reduces(tmp_path):
    w = make(tmp_path)

    async def go():
        await lock(w, "reducing")
        # the stream's positions of the symbol: the long of 5 BTC
        w.adapter.stream_legs = lambda symbol: {f"{symbol}|long": 5.0} if symbol == SYMBOL else {}
        rogue(w, "bot-a-sell", side="SELL", amount=1.0)  # faces the long: it reduces
        w.parts.entry_watch.on_entry(ACCOUNT, await streamed(w, "bot-a-sell"))
        left = list(w.parts.entry_watch._tasks)
        rogue(w, "bot-a-buy")  # grows the long
        w.parts.entry_watch.on_entry(ACCOUNT, await streamed(w, "bot-a-buy"))
        await settled(w)
        return left

    assert run(go()) == []
    assert is_open(w, "bot-a-sell") and not is_open(w, "bot-a-buy")
    (row,) = rows(w)
    assert row["mode"] == "reducing" and row["client_order_id"] == "bot-a-buy"


def test_reducing_without_the_streams_positions_is_left_to_the_tick(tmp_path):
    w = make(tmp_path)

    async def go():
        await lock(w, "reducing")
        rogue(w, "bot-a-buy")
        w.parts.entry_watch.on_entry(ACCOUNT, await streamed(w, "bot-a-buy"))
        return list(w.parts.entry_watch._tasks)

    assert run(go()) == [] and is_open(w, "bot-a-buy")


def test_a_dry_run_reports_and_sends_nothing(tmp_path):
    w = make(tmp_path, dry_run=True)

    async def go():
        await lock(w)
        rogue(w)
        w.parts.entry_watch.on_entry(ACCOUNT, await streamed(w))
        await settled(w)
        w.clock.advance(TICK_MS)
        return await w.runner.tick()

    report = run(go())
    assert is_open(w, "bot-a-rogue-1")
    (row,) = rows(w)
    assert row["dry_run"] is True and not [e for e in report.events if e.kind == "lock_violation"]


def test_an_unlock_applied_while_the_row_is_written_sends_no_cancel(tmp_path):
    w = make(tmp_path)

    async def go():
        await lock(w)
        cancels = Cancels(w)
        rogue(w)
        order = await streamed(w)
        w.parts.entry_watch.on_entry(ACCOUNT, order)
        # the operator's unlock, in the turn, lands while the task awaits its row
        w.parts.book.change_lock_and_dms(lambda book, dms: (book.release(ACCOUNT), dms))
        await settled(w)
        return cancels.calls

    assert run(go()) == [] and is_open(w, "bot-a-rogue-1") and len(rows(w)) == 1


def test_growth_between_the_lock_and_its_first_tick_is_brought_back_to_the_size_at_the_lock(tmp_path):
    w = make(tmp_path)

    async def go():
        await w.runner.start()
        w.clock.advance(TICK_MS)
        await w.runner.tick()  # BTC long 5, read before the lock
        assert (await w.desk.lock_scope(ACCOUNT, "halted", "desk halt", actor="op")).done
        w.engine.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.5, client_order_id="bot-a-mkt-1")
        w.clock.advance(TICK_MS)
        return await w.runner.tick()  # the first tick under the lock

    report = run(go())
    (v,) = [e for e in report.events if e.kind == "lock_violation"]
    assert (v.data["action"], v.data["baseline"], v.data["contracts"]) == ("revert", 5.0, 6.5)
    assert sum(p.amount for p in w.engine.positions("sim-main") if p.symbol == "BTCUSDT") == 5.0
    assert w.parts.book.baselines[ACCOUNT]["legs"][f"{SYMBOL}|long"] == 5.0
