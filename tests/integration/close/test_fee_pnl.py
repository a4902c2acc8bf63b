"""What a close came to, end to end (issue 81): a live runner over the simulated venue closes a
long and a short opened at known entry prices, and its journal keeps, with each fill, the taker
fee the venue charged (in the quote) and the PnL the close realized against the entry price of
the position it was planned from: the same figures the venue's own ledger holds."""

from __future__ import annotations

import asyncio
import textwrap

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, RateLimits, SimExchange
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.unit.engine_helpers import compile_graph

T0 = 1_772_456_400_000
ACCOUNT = "sim-main"


def _policy():
    text = textwrap.dedent("""\
        apiVersion: killswitch/v1
        kind: Policy
        metadata: {name: flatten}
        spec:
          scope: {level: account, accounts: {match_labels: {book: futures}}}
          interval: 5s
          signals:
            n: {position_count: {side: any}}
          triggers:
            open: {when: "n >= 1", on_missing_data: hold}
          stages:
            - {level: 1, name: flatten, on: [open], reset: manual, actions: [close_all]}
          unwind: {max_slippage: 5%}
        """)
    return compile_graph(text, "flatten.yaml")


def test_a_close_journals_the_venues_fee_and_the_pnl_it_realized(tmp_path):
    clock = ManualClock(T0)
    eng = SimExchange(clock, markets=[MarketSpec("BTCUSDT", "BTC", min_notional=5.0),
                                      MarketSpec("ETHUSDT", "ETH", amount_step=0.01, price_tick=0.01,
                                                 min_amount=0.01, contract_size=10.0)],
                      accounts=[AccountSpec(ACCOUNT, "k", "s", wallet=10_000_000.0)],
                      rate_limits=RateLimits(orders_per_second=100, weight_per_minute=1_000_000))
    eng.set_mark("BTCUSDT", 50_000.0)
    eng.set_mark("ETHUSDT", 3_000.0)
    eng.open_position(ACCOUNT, "BTCUSDT", "long", 2.0, 50_000.0)
    eng.open_position(ACCOUNT, "ETHUSDT", "short", 3.0, 3_000.0)
    eng.set_mark("BTCUSDT", 49_000.0)  # the long closes at a loss
    eng.set_mark("ETHUSDT", 2_900.0)  # the short at a gain
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    adapter = SimulatedAdapter(eng, ACCOUNT, venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    runner = build_runner_and_desk(_policy(), {f"simulated/{ACCOUNT}": adapter}, store,
                                   lock_path=tmp_path / "lock.json", dry_run=False, clock=clock).runner

    async def drive():
        await runner.start()
        try:
            clock.advance(5_000)
            await runner.tick()
        finally:
            await runner.aclose()

    try:
        asyncio.run(asyncio.wait_for(drive(), 60))
        closes = {e.symbol: e for e in store.journal() if e.decision_id.startswith("flatten/")}
    finally:
        store.close()
    assert set(closes) == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    for e in closes.values():
        o = eng.order_by_client_id(ACCOUNT, e.client_order_id)
        assert e.status == "filled" and e.filled == o.executed_qty > 0
        assert e.fees == ((pytest.approx(o.fee), "USDT"),) and o.fee > 0  # the taker fee the venue charged
        assert e.realized_pnl == pytest.approx(o.realized_pnl)  # what the venue's ledger realized
    btc, eth = closes["BTC/USDT:USDT"], closes["ETH/USDT:USDT"]
    assert (btc.entry_price, btc.contract_size, eth.entry_price, eth.contract_size) == (50_000.0, 1.0, 3_000.0, 10.0)
    assert btc.realized_pnl == pytest.approx((btc.avg_price - 50_000.0) * 2.0) and btc.realized_pnl < 0
    assert eth.realized_pnl == pytest.approx((3_000.0 - eth.avg_price) * 3.0 * 10.0) and eth.realized_pnl > 0
    assert 2_900.0 * 1.0005 > eth.avg_price > 2_900.0  # a price, not a price x contract size
