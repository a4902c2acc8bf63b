"""A bot that breaks a halt again and again (issue 65, walk 8): each growth the runner reverts is
a violation of its own — an audit row, a page — though the bot's next order brings the leg back to
the same size step before any tick sees it at its size at the lock; and the growth is named by
the fills the tick's snapshot could hold, never by an order placed after it was read.

The walk found the second breach de-duplicated away (the same ``revert|…|5|5.5`` key) while its
revert still went out, and the one breach recorded named an order placed after the tick's read.
"""

from __future__ import annotations

import asyncio

import pytest

from killswitch.events import LOCK_VIOLATION
from killswitch.notify.dispatch import Dispatcher
from killswitch.notify.message import compose
from tests.integration.enforcement.rig import Crash, long_btc, tick, violations, with_runner
from tests.unit.notify.test_resolved_retry import by_receiver, put, tree as routes

pytest.importorskip("ccxt")


def test_the_same_size_step_broken_twice_seconds_apart_is_two_rows_and_two_pages(tmp_path):
    seen: dict = {"events": []}

    async def scenario(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        await tick(runner, clock)  # the baseline: 5 BTC long
        for n in (1, 2):  # the bot sends the same order again once its first was reverted
            eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 0.5, client_order_id=f"alp-mkt-{n}")
            report = await tick(runner, clock)
            seen["events"] += [e for e in report.events if e.kind == LOCK_VIOLATION]
            seen[f"long{n}"] = long_btc(eng)
        report = await tick(runner, clock)  # nothing new
        seen["events"] += [e for e in report.events if e.kind == LOCK_VIOLATION]
        seen["rows"] = violations(store)
        seen["recent"] = desk.status().lock_violations["recent"]
        seen["journal"] = {e.client_order_id: e.status for e in store.journal(limit=100)}

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", scenario), 90))
    assert seen["long1"] == seen["long2"] == pytest.approx(5.0)  # each reverted
    rows = seen["rows"]
    assert [r["client_order_id"] for r in rows] == ["alp-mkt-1", "alp-mkt-2"], rows
    assert rows[0]["key"].startswith("revert|binanceusdm/sim-main|BTC/USDT:USDT|long|5|5.5|")
    assert rows[0]["key"] != rows[1]["key"]
    reverts = [r["revert_client_order_id"] for r in rows]  # each row explains the revert sent for it
    assert len(set(reverts)) == 2 and all(seen["journal"][r] == "filled" for r in reverts)
    assert len(seen["recent"]) == 2
    events = seen["events"]
    assert [e.data["client_order_id"] for e in events] == ["alp-mkt-1", "alp-mkt-2"]
    d = Dispatcher({"desk": routes.__wrapped__()})
    put(d, events[0], 0)
    assert "alp-mkt-1" in compose(by_receiver(d.flush_due(10_000))["pager"]).body
    put(d, events[1], 40_000)
    assert "alp-mkt-2" in compose(by_receiver(d.flush_due(70_000))["pager"]).body


class FillsAfterTheRead:
    """The adapter; a bot's order with no declared prefix fills just after the tick read the
    account, before its trades are read (the walk's ``x-…`` order, 5 ms after the tick)."""

    def __init__(self, inner, eng, clock):
        self._inner, self._eng, self._clock, self.armed = inner, eng, clock, False

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def fills(self, symbol, since_ms):
        if self.armed:
            self.armed = False
            self._clock.advance(5)
            self._eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 0.5, client_order_id="x-cvBPrNm95f1e")
        return await self._inner.fills(symbol, since_ms)


def test_growth_is_named_by_the_fills_the_snapshot_could_hold_not_by_an_order_placed_after_it(tmp_path, monkeypatch):
    from tests.integration.enforcement.rig import engine

    eng, clock = engine()
    # the adapter stamps its read on the venue's clock (the simulator's), as a runner in step with it does
    monkeypatch.setattr("adapters.ccxt_exchange.snapshots.now_ms", clock)
    seen: dict = {}
    wrapped: list = []

    def wrap(adapter):
        wrapped.append(FillsAfterTheRead(adapter, eng, clock))
        return wrapped[0]

    async def scenario(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        await tick(runner, clock)  # the baseline: 5 BTC long
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 0.5, client_order_id="alp-0001")
        wrapped[0].armed = True
        await tick(runner, clock)  # sees 5.5 (alp-0001's); the x- order fills after the read
        await tick(runner, clock)  # sees the x- order's growth
        await tick(runner, clock)
        seen["rows"] = violations(store)

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", scenario, wrap=wrap, eng=(eng, clock)), 90))
    rows = seen["rows"]
    assert [(r["client_order_id"], r["strategy"]) for r in rows] == [
        ("alp-0001", "alpha"), ("x-cvBPrNm95f1e", "unknown")], rows
    assert rows[0]["attribution"] == "from fills: alp-0001 (alpha) 0.5"


class DiesOnSubmit:
    """The adapter; its first ``submit`` dies, as a process killed just before the revert left."""

    def __init__(self, inner):
        self._inner, self.died = inner, False

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def submit(self, intent):
        if not self.died:
            self.died = True
            raise Crash("killed before the revert left")
        return await self._inner.submit(intent)


def test_a_stop_between_the_growths_row_and_its_revert_reverts_it_without_a_second_row(tmp_path):
    """The key a breach is recorded under is read again the same by the next runner (the same
    fills), so the growth it finds still standing is the breach already recorded."""
    from killswitch.state import open_store
    from tests.integration.enforcement.rig import engine

    eng, clock = engine()
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    seen: dict = {}

    async def first(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        await tick(runner, clock)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 0.5, client_order_id="alp-mkt-1")
        with pytest.raises(Crash):
            await tick(runner, clock)
        seen["rows_at_crash"], seen["long_at_crash"] = violations(store), long_btc(eng)

    async def second(runner, desk, eng, clock, store, key):
        clock.advance(10_000)  # the dead runner's lease runs out
        await runner.start()
        report = await tick(runner, clock)
        seen["events"] = [e for e in report.events if e.kind == LOCK_VIOLATION]
        await tick(runner, clock)
        seen["long"], seen["rows"] = long_btc(eng), violations(store)

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", first, wrap=DiesOnSubmit, store=store,
                                             eng=(eng, clock)), 90))
    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", second, store=store, eng=(eng, clock)), 90))
    assert len(seen["rows_at_crash"]) == 1 and seen["long_at_crash"] == pytest.approx(5.5)  # audited, not reverted
    assert seen["long"] == pytest.approx(5.0)  # reverted by the next runner
    assert seen["events"] == [] and len(seen["rows"]) == 1  # no second row, no second page
