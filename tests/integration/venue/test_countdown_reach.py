"""A stage's venue countdown against the simulated exchange's Binance USDⓈ-M face (a real ccxt
client): armed only on the account the stage acts on, and turned off by a deliberate stop.

The walk that found it: a latched flatten's ``arm_exchange_dms`` on one Binance account armed the
venue's ``countdownCancelAll`` on every capable account of the runner; after a clean stop the
venue cancelled another book's reduce-only take-profits. Here the runner holds two accounts of
the same venue; the policy acts on ``sim-main`` alone, and ``sim-hedge`` rests two take-profits.
"""

from __future__ import annotations

import asyncio

from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.venues import sim_account
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.integration.sim_helpers import BTC, ETH, engine
from tests.unit.engine_helpers import compile_graph, loss_policy

TICK_MS = 1_000
MAIN, OTHER = "binanceusdm/sim-main", "binanceusdm/sim-hedge"

POLICY = loss_policy("main-guard", actions=("{cancel_orders: all}", "close_all", "{arm_exchange_dms: {after: 60s}}"),
                     unwind="{chunk_notional: 10m}")


def test_a_flattens_countdown_is_armed_on_its_account_alone_and_a_stop_turns_it_off(tmp_path):
    eng, clock = engine()
    eng.set_mark(BTC, 48_000.0)  # sim-main's BTC long down 20 %: the flatten is entered at the first tick
    take_profits = [eng.place_order("sim-hedge", sym, "SELL", "LIMIT", qty, price, time_in_force="GTC",
                                    position_side="LONG", client_order_id=f"bot-tp-{i}")
                    for i, (sym, qty, price) in enumerate(((BTC, 2.0, 70_000.0), (ETH, 30.0, 3_500.0)))]

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock)
        await srv.start()
        adapters = {
            MAIN: CcxtAdapter(sim_account(srv, "sim-main", "binanceusdm", labels={"book": "futures"}),
                              urls=srv.base_url, timeout=5.0, ccxt_rate_limit=False, position_max_age_s=0.0),
            OTHER: CcxtAdapter(sim_account(srv, "sim-hedge", "binanceusdm", hedge_mode=True,
                                           labels={"book": "hedges"}),
                               urls=srv.base_url, timeout=5.0, ccxt_rate_limit=False, position_max_age_s=0.0)}
        store = open_store(f"sqlite://{tmp_path / 'state.db'}")
        runner, desk, parts = build_runner_and_desk(compile_graph(POLICY, "main-guard.yaml"), adapters, store,
                                                    lock_path=tmp_path / "lock.json", dry_run=False, clock=clock,
                                                    confirm_gap_ms=TICK_MS)
        try:
            await runner.start()
            for _ in range(25):  # the entry, its closes, and the countdown refreshed past a third of it
                clock.advance(TICK_MS)
                await runner.tick()
            assert parts.book.state.scopes[f"main-guard|{MAIN}"].stage.level == 1
            native = desk.dms_status()["native"]
            assert set(native) == {MAIN}, "the countdown is kept on the account the stage acts on alone"
            assert eng.countdowns("sim-hedge") == {}, "the other book's account is never armed at the venue"
            said = native[MAIN]["at_venue"]
            assert said.startswith(("armed, 60s on ", "not armed: no open order or position")), said
            await runner.aclose()  # a clean stop (SIGTERM)
            assert eng.countdowns("sim-main") == {}, "a deliberate stop turns the countdown off at the venue"
        finally:
            for a in adapters.values():
                await a.close()
            store.close()
            await srv.stop()

    asyncio.run(asyncio.wait_for(go(), 120))
    clock.advance(120_000)  # twice the countdown with no runner: nothing of either account is cancelled
    still = {o.client_order_id for o in eng.open_orders("sim-hedge")}
    assert still == {o.client_order_id for o in take_profits}
