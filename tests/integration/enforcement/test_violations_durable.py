"""Lock violations outlive the runner that caught them: a runner restarted on the same store shows
the last day's again, in status, ``ksctl status`` and the console (its standing problem and its
*Lock violations* table), with what each came to.

A walk found them gone after a restart while the halt they broke still held: the status had no
``LOCK VIOLATIONS`` line and the console no word of them; only the closure report, read from the
audit trail, still named them.
"""

from __future__ import annotations

import asyncio

import pytest

from killswitch.face.console.model import page_model
from killswitch.facts.violations import violation_lines
from killswitch.state import open_store
from tests.integration.enforcement.rig import engine, long_btc, open_ids, tick, violations, with_runner

pytest.importorskip("ccxt")

DAY_MS = 86_400_000  # how far back a start reads the violations (enforcement.RECALL_MS)


async def _screen(desk) -> dict:
    return page_model(desk.status(), (True, "LEADER"), desk.lock_document(), desk.dms_status(), (),
                      await desk.incidents())


def test_a_restarted_runner_shows_the_violations_the_last_one_caught(tmp_path):
    eng, clock = engine()
    url = f"sqlite://{tmp_path / 'state.db'}"
    seen: dict = {}

    async def first(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        await tick(runner, clock)  # the baseline: 5 BTC long
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                        client_order_id="alp-rogue-1")
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.5, client_order_id="beta-mkt-2")
        await tick(runner, clock)
        await tick(runner, clock)  # the revert followed to its fill
        seen["before"] = desk.status().lock_violations
        seen["open"], seen["long"] = open_ids(eng), long_btc(eng)
        await runner.aclose()
        store.close()

    async def second(runner, desk, eng, clock, store, key):
        clock.advance(10_000)  # the stopped runner's lease runs out
        await runner.start()
        seen["at_start"] = desk.status().lock_violations  # read back at the start, before any tick
        await tick(runner, clock)
        await tick(runner, clock)
        seen["after"] = desk.status().lock_violations
        seen["screen"] = await _screen(desk)
        seen["rows"] = violations(store)
        clock.advance(DAY_MS)  # a day on: a third runner shows none of them
        await runner.aclose()
        store.close()

    async def third(runner, desk, eng, clock, store, key):
        clock.advance(10_000)
        await runner.start()
        seen["a_day_on"] = desk.status().lock_violations
        await runner.aclose()
        store.close()

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", first, store=open_store(url),
                                             eng=(eng, clock)), 90))
    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", second, store=open_store(url),
                                             eng=(eng, clock)), 90))
    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", third, store=open_store(url),
                                             eng=(eng, clock)), 90))
    assert "alp-rogue-1" not in seen["open"] and seen["long"] == pytest.approx(5.0)
    outcomes = {(r["action"], r["client_order_id"]): r["outcome"] for r in seen["before"]["recent"]}
    assert outcomes == {("cancel", "alp-rogue-1"): "canceled", ("revert", "beta-mkt-2"): "revert filled 1.5"}
    for doc in (seen["at_start"], seen["after"]):  # the same violations, the same outcomes
        assert doc["total"] == 2, doc
        assert {(r["action"], r["client_order_id"]): r["outcome"] for r in doc["recent"]} == outcomes
        assert [r["ts_ms"] for r in doc["recent"]] == [r["ts_ms"] for r in seen["before"]["recent"]]
    assert len(seen["rows"]) == 2  # nothing audited again
    shown = violation_lines(seen["after"])  # ksctl status
    assert shown[0].startswith("  LOCK VIOLATIONS: 2 since ") and "(24 h before this runner started)" in shown[0], \
        shown
    assert any("cancel binanceusdm/sim-main" in x and x.endswith(": canceled") for x in shown), shown
    assert any("the runner's own revert sell ks" in x and x.endswith(": revert filled 1.5") for x in shown), shown
    model = seen["screen"]["violations"]  # the console's Lock violations table
    # (a revert's order names its fills: "beta-mkt-2 (beta, id …) 1.5")
    assert model["total"] == 2 and {r["order"].split(" ")[0] for r in model["rows"]} == {"alp-rogue-1", "beta-mkt-2"}
    assert seen["screen"]["standing"]["violations"].line.startswith("2 at the venue, the latest")
    assert seen["a_day_on"]["total"] == 0 and seen["a_day_on"]["recent"] == []
