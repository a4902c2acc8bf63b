"""The venue watch over a spot account, end to end: the real :class:`CcxtAdapter` of a spot account
(MEXC spot's face, Kraken spot's) polled by the runner under an operator's halt, the simulated
engine's scenario book (USDT 50,000, BTC 1.5, ETH 20, SOL 300). A bot's market buy of BTC grows the
holding; the runner sells the excess back (one sale, not reduce-only, of at most what is held,
journaled before it is sent) and reports it once; the quote currency is no leg; a runner started
anew under the halt keeps the baseline (docs/runner.md, *Enforcement*: a spot account's holdings
are legs).
"""

from __future__ import annotations

import asyncio

import pytest

from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.venues import sim_account
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.integration.enforcement.rig import STRATEGIES, TICK_MS, engine, graph, tick, unthrottled, violations
from tests.integration.runner.rig import BUILT, parts_of

pytest.importorskip("ccxt")

SPOT = ("mexc", "kraken")  # every simulated face that serves a spot account
BTC_SPOT = "BTC/USDT"


def btc(eng) -> float:
    return float(eng.accounts["sim-main"].spot.get("BTC", 0.0))


async def with_spot_runner(tmp_path, venue: str, scenario, *, store=None, eng=None):
    """``await scenario(runner, desk, engine, clock, store, key)`` with a runner over ``venue``'s
    spot account, polled."""
    eng, clock = eng or engine()
    store = store or open_store(f"sqlite://{tmp_path / 'state.db'}")
    async with SimServer(eng, auth_clock=wall_clock) as server:
        acc = sim_account(server, "sim-main", venue, market_type="spot", labels={"book": "futures"},
                          strategies=STRATEGIES)
        adapter = CcxtAdapter(acc, urls=acc.api_url, timeout=5.0, max_retries=1, backoff_s=0.05,
                              orders_per_second=1000, exchange_factory=unthrottled(venue), open_orders_max_age_s=0.0)
        key = f"{venue}/sim-main"
        runner, desk, parts = build_runner_and_desk(graph(), {key: adapter}, store, lock_path=tmp_path / "lock.json",
                                                    dry_run=False, clock=clock, confirm_gap_ms=TICK_MS,
                                                    snapshot_timeout_s=6.0)
        try:
            BUILT[runner] = parts
            return await scenario(runner, desk, eng, clock, store, key)
        finally:
            await adapter.close()


@pytest.mark.parametrize("venue", SPOT)
def test_a_holding_grown_under_a_halt_is_sold_back_to_its_size_at_the_lock(tmp_path, venue):
    seen: dict = {}

    async def scenario(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        await tick(runner, clock)  # the first snapshot under the lock: BTC 1.5 is the baseline
        seen["baselines"] = dict(parts_of(runner).book.baselines[key]["legs"])
        eng.place_spot_order("sim-main", "BTCUSDT", "BUY", 0.25, client_order_id="beta-mkt-1")
        seen["grown"] = btc(eng)
        await tick(runner, clock)
        seen["btc"] = btc(eng)
        seen["journal"] = [(e.symbol, e.side, e.amount, e.reduce_only, e.status)
                           for e in store.journal(limit=100) if e.decision_id.startswith("enforce/")]
        more = [await tick(runner, clock) for _ in range(2)]
        seen["later"] = [e for r in more for e in r.events if e.kind == "lock_violation"]
        seen["rows"] = violations(store)
        seen["after"] = btc(eng)

    asyncio.run(asyncio.wait_for(with_spot_runner(tmp_path, venue, scenario), 90))
    # the held base assets are the legs: never the quote currency (USDT)
    assert seen["baselines"] == {"BTC/USDT|long": 1.5, "ETH/USDT|long": 20.0, "SOL/USDT|long": 300.0}
    assert seen["grown"] == pytest.approx(1.75)
    assert seen["btc"] == pytest.approx(1.5) and seen["after"] == pytest.approx(1.5)  # back at its size at the lock
    (revert,) = seen["journal"]  # one sale of the excess, journaled, filled; a spot sale is not reduce-only
    assert revert == (BTC_SPOT, "sell", pytest.approx(0.25), False, "filled")
    (row,) = seen["rows"]  # reported once, not again at the later ticks
    assert (row["action"], row["symbol"], row["side"], row["baseline"]) == ("revert", BTC_SPOT, "buy", 1.5)
    assert row["amount"] == pytest.approx(0.25) and row["revert_client_order_id"]
    assert seen["later"] == []


def test_a_restart_under_the_halt_keeps_the_baseline_and_sells_growth_made_while_down(tmp_path):
    """The baselines saved with the state: a runner started anew on the same store holds the
    holding to its size at the lock, not to what it finds."""
    eng, clock = engine()
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    seen: dict = {}

    async def first(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        await tick(runner, clock)  # the baseline taken and saved; then the process ends
        eng.place_spot_order("sim-main", "BTCUSDT", "BUY", 0.5, client_order_id="alp-mkt-2")  # while it is down

    async def second(runner, desk, eng, clock, store, key):
        clock.advance(10_000)  # the dead runner's lease runs out (and its last read is no baseline of this one)
        await runner.start()
        await tick(runner, clock)
        seen["btc"] = btc(eng)
        seen["rows"] = violations(store)

    asyncio.run(asyncio.wait_for(with_spot_runner(tmp_path, "mexc", first, store=store, eng=(eng, clock)), 90))
    asyncio.run(asyncio.wait_for(with_spot_runner(tmp_path, "mexc", second, store=store, eng=(eng, clock)), 90))
    assert seen["btc"] == pytest.approx(1.5)
    (row,) = seen["rows"]
    assert (row["action"], row["symbol"], row["baseline"]) == ("revert", BTC_SPOT, 1.5)
    assert row["amount"] == pytest.approx(0.5)
