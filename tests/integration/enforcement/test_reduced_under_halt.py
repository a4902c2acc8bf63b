"""A bot's order that fills under a halt is a lock violation even when it shrinks a position: no
order may pass a halt. The walk sent a market sell of 0.4 BTC with the bot's key under a halt;
the long went 5 → 4.6 and nothing said so (no row, no page, not in status, the console or the
report). Now it is one ``lock_violation`` row and event (action ``none``: nothing is sent back),
named by the bot's fill; the runner's own close under the halt is none."""

from __future__ import annotations

import asyncio

import pytest

from killswitch.events import LOCK_VIOLATION
from killswitch.face.console.model import page_model
from killswitch.facts.violations import violation_lines
from killswitch.state.store import IntentRow
from tests.integration.enforcement.rig import long_btc, tick, violations, with_runner

pytest.importorskip("ccxt")

BTC = "BTC/USDT:USDT"
REDUCED_OUTCOME = "filled under the halt; it reduced the position: nothing sent back"


def test_a_bots_fill_that_shrinks_a_position_under_a_halt_is_a_violation_and_the_runners_close_is_not(tmp_path):
    seen: dict = {}

    async def scenario(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        await tick(runner, clock)  # the baseline: 5 BTC long
        eng.place_order("sim-main", "BTCUSDT", "SELL", "MARKET", 0.4, client_order_id="alp-mkt-11")
        seen["bot"] = str(eng.order_by_client_id("sim-main", "alp-mkt-11").order_id)
        report = await tick(runner, clock)
        seen["events"] = [e for e in report.events if e.kind == LOCK_VIOLATION]
        seen["rows"] = violations(store)
        seen["long"] = long_btc(eng)
        seen["status"] = desk.status().lock_violations
        seen["model"] = page_model(desk.status(), (True, "LEADER"), desk.lock_document(), desk.dms_status(), (),
                                   await desk.incidents())
        # the runner's own reduce-only close of 1 under the same halt (journaled first, as every close)
        own = "ks" + "1" * 30
        store.journal_intents(runner_fence(runner), [IntentRow(own, "d-own", "binanceusdm", "sim-main", BTC, "sell",
                                                               None, 1.0, True, "{}")], ts_ms=clock())
        eng.place_order("sim-main", "BTCUSDT", "SELL", "MARKET", 1.0, reduce_only=True, client_order_id=own)
        later = [await tick(runner, clock) for _ in range(2)]
        seen["later_events"] = [e for r in later for e in r.events if e.kind == LOCK_VIOLATION]
        seen["later_rows"] = violations(store)
        seen["after_close"] = long_btc(eng)

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", scenario), 90))
    assert seen["long"] == pytest.approx(4.6)  # nothing sent back: it reduced
    (row,) = seen["rows"]
    assert (row["action"], row["side"], row["symbol"]) == ("none", "sell", BTC)
    assert row["amount"] == pytest.approx(0.4) and (row["baseline"], row["contracts"]) == (5.0, pytest.approx(4.6))
    assert (row["client_order_id"], row["order_id"], row["strategy"]) == ("alp-mkt-11", seen["bot"], "alpha")
    assert row["mode"] == "halted" and "revert_client_order_id" not in row
    (event,) = seen["events"]
    assert event.labels["strategy"] == "alpha"
    (shown,) = seen["status"]["recent"]
    assert shown["outcome"] == REDUCED_OUTCOME
    (line,) = violation_lines(seen["status"])[1:]
    assert "alp-mkt-11" in line and line.endswith(REDUCED_OUTCOME), line
    (console,) = seen["model"]["violations"]["rows"]
    assert console["outcome"] == REDUCED_OUTCOME and console["order"].startswith("alp-mkt-11"), console
    # the runner's own close shrank the long again: no violation of it
    assert seen["after_close"] == pytest.approx(3.6)
    assert seen["later_events"] == [] and len(seen["later_rows"]) == 1


def runner_fence(runner) -> int:
    from tests.integration.runner.rig import parts_of

    return parts_of(runner).lead.fence
