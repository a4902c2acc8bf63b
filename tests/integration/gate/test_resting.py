"""Position and gross limits counting resting orders, answered by ``POST /v1/check-order`` of a
runner over the simulated exchange: a one-way account (``sim-main``) and a hedge-mode one
(``sim-hedge``), each under a policy of its own. Resting entry orders at the venue count toward
the limits; reduce-only orders and orders that only reduce do not; the answer and the lock
document say what the positions hold and what the resting orders add."""

from __future__ import annotations

import asyncio
import json
import textwrap

import aiohttp

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.integration.runner.rig import T0, TICK_MS, api_served
from tests.unit.engine_helpers import compile_graph

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MAIN, HEDGE = "simulated/sim-main", "simulated/sim-hedge"
TOKEN = "t0ken-for-tests-only"


def policy(name: str, book: str, limits: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: killswitch/v1
        kind: Policy
        metadata: {{name: {name}}}
        spec:
          scope: {{level: account, accounts: {{match_labels: {{book: {book}}}}}}}
          signals: {{dd: {{equity_drawdown: {{window: 10m, min_coverage: 5%}}}}}}
          triggers: {{hard: {{when: "dd >= 40%", on_missing_data: hold}}}}
          stages: [{{level: 1, name: flatten, on: [hard], reset: manual, actions: [close_all]}}]
          limits: {limits}
        """)


# sim-main (one-way): BTC long 5 (≈300k), ETH long 100 (≈300k), SOL short 1000 (≈140k): gross ≈740k
# sim-hedge: BTC LONG 2 (≈120k) and SHORT 4 (≈240k), ETH LONG 30 and SHORT 80, SOL SHORT 1500
DOCS = (policy("one-way", "futures", "{max_position_notional: 400k, max_gross_notional: 820k}") + "---\n"
        + policy("hedged", "hedge", "{max_position_notional: 400k}"))


def _runner(tmp_path):
    clock = ManualClock(T0)
    engine = build("calm", clock)
    graph = compile_graph(DOCS, "p.yaml")
    adapters = {MAIN: SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}),
                HEDGE: SimulatedAdapter(engine, "sim-hedge", venue="simulated", labels={"book": "hedge"})}
    built = build_runner_and_desk(graph, adapters, open_store(f"sqlite://{tmp_path / 'state.db'}"),
                                  lock_path=tmp_path / "lock.json", dry_run=False, clock=clock,
                                  confirm_gap_ms=TICK_MS)
    return built[0], built[1], engine, clock


def test_check_order_counts_resting_opening_orders_one_way_and_hedged(tmp_path):
    runner, desk, engine, clock = _runner(tmp_path)
    seen: dict = {}

    async def go():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()
        site, url = await start_api(make_app(desk, token=TOKEN))
        try:
            async with aiohttp.ClientSession() as http:
                async def check(**order):
                    async with http.post(url + "/v1/check-order", json=order) as r:
                        assert r.status == 200
                        return await r.json()

                buy_btc = {"account": MAIN, "symbol": BTC, "side": "buy", "amount": 1, "price": 60_000}
                buy_eth = {"account": MAIN, "symbol": ETH, "side": "buy", "amount": 10, "price": 3_000}
                long_leg = {"account": HEDGE, "symbol": BTC, "side": "buy", "amount": 2, "price": 60_000,
                            "position_side": "LONG"}
                seen["before"] = [await check(**o) for o in (buy_btc, buy_eth, long_leg)]
                # resting at the venue: an entry (counted), a take-profit reduce-only and a sell that
                # only reduces the long (neither counted); on the hedge account an entry on each leg
                # and a close of the LONG leg (not counted)
                engine.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 1.0, 59_000.0, time_in_force="GTC")
                engine.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 2.0, 61_000.0, time_in_force="GTC",
                                   reduce_only=True)
                engine.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 3.0, 61_500.0, time_in_force="GTC")
                engine.place_order("sim-hedge", "BTCUSDT", "BUY", "LIMIT", 3.0, 59_000.0, time_in_force="GTC",
                                   position_side="LONG")
                engine.place_order("sim-hedge", "BTCUSDT", "SELL", "LIMIT", 2.0, 61_000.0, time_in_force="GTC",
                                   position_side="SHORT")
                engine.place_order("sim-hedge", "BTCUSDT", "SELL", "LIMIT", 2.0, 61_000.0, time_in_force="GTC",
                                   position_side="LONG")
                clock.advance(TICK_MS)
                await runner.tick()
                seen["btc"] = await check(**buy_btc)
                seen["eth"] = await check(**buy_eth)
                seen["close"] = await check(**{**buy_btc, "side": "sell", "amount": 2})
                seen["long"] = await check(**long_leg)
                seen["long_close"] = await check(**{**long_leg, "side": "sell"})
                seen["short"] = await check(**{**long_leg, "side": "sell", "amount": 1, "position_side": "SHORT"})
                seen["lock"] = await (await http.get(url + "/v1/lock")).json()
        finally:
            await stop_api(site)

    asyncio.run(asyncio.wait_for(go(), 60))
    assert [d["allow"] for d in seen["before"]] == [True, True, True], seen["before"]
    # one-way: BTC 5 (≈300k) + the resting buy 59k + this order 60k ≈ 419k > 400k
    btc = seen["btc"]
    assert btc["allow"] is False and btc["limit"]["code"] == "POSITION_LIMIT", btc
    parts = btc["limit"]["exposure"]
    assert 290_000 < parts["positions"] < 310_000 and parts["resting"] == 59_000 and parts["order"] == 60_000, parts
    assert btc["limit"]["usage"] == sum(parts.values())
    assert "+ resting orders 59,000.00 + this order 60,000.00) > limit 400,000.00" in btc["reason"], btc
    # gross: ≈740k + 59k resting + 30k > 820k; the ETH position itself stays within its limit
    eth = seen["eth"]
    assert eth["limit"]["code"] == "GROSS_LIMIT" and eth["limit"]["exposure"]["resting"] == 59_000, eth
    assert seen["close"]["allow"] is True, seen["close"]  # a sell that only reduces
    # hedge: the LONG leg 2 (≈120k) + its resting buy 177k + 120k ≈ 417k; the LONG close is not counted
    long = seen["long"]
    assert long["limit"]["code"] == "POSITION_LIMIT" and long["limit"]["exposure"]["resting"] == 177_000, long
    assert "(LONG)" in long["reason"]
    assert seen["long_close"]["allow"] is True, seen["long_close"]
    # the SHORT leg 4 (≈240k) + its resting sell 122k + 60k ≈ 422k
    assert seen["short"]["limit"]["code"] == "POSITION_LIMIT", seen["short"]
    assert seen["short"]["limit"]["exposure"]["resting"] == 122_000
    rows = {(p["policy"], r["limit"]): r for p in seen["lock"]["limits"] for r in p["usage"]}
    gross = rows[("one-way", "max_gross_notional")]
    assert gross["resting"] == 59_000 and gross["usage"] == gross["positions"] + 59_000, gross
    hedged = rows[("hedged", "max_position_notional")]
    assert hedged["symbol"] == BTC and hedged["resting"] in (122_000, 177_000), hedged


def test_ksctl_check_order_and_status_say_what_the_resting_orders_add(tmp_path):
    from click.testing import CliRunner

    from killswitch.cli.main import cli

    runner, desk, engine, clock = _runner(tmp_path)

    async def first():
        await runner.start()
        engine.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 1.0, 59_000.0, time_in_force="GTC")
        clock.advance(TICK_MS)
        await runner.tick()

    with api_served(lambda: make_app(desk, token=TOKEN), first) as url:
        ask = ["check-order", "--api", url, "--account", MAIN, "--symbol", BTC, "--side", "buy",
               "--price", "60000", "--strategy", "s1"]
        r = CliRunner().invoke(cli, [*ask, "--amount", "1"])
        assert r.exit_code == 1, r.output  # denied
        assert r.output.startswith("DENY: POSITION_LIMIT: position in BTC/USDT:USDT could reach "), r.output
        assert "+ resting orders 59,000 + this order 60,000)" in r.output.splitlines()[1], r.output
        r = CliRunner().invoke(cli, [*ask, "--amount", "1", "-o", "json"])
        assert r.exit_code == 1 and json.loads(r.output)["limit"]["exposure"]["resting"] == 59_000, r.output
        r = CliRunner().invoke(cli, [*ask, "--amount", "0.1"])
        assert (r.exit_code, r.output.strip()) == (0, "ALLOW: ACTIVE"), r.output
        r = CliRunner().invoke(cli, ["check-order", "--api", url, "--symbol", BTC, "--side", "buy",
                                     "--amount", "1"])
        assert r.exit_code == 2 and "--account or --scope" in r.output, r.output
        r = CliRunner(env={"KS_API_TOKEN": TOKEN}).invoke(cli, ["status", "--api", url])
        assert r.exit_code == 0, r.output
        row = "LIMIT one-way simulated/sim-main max_gross_notional"
        [gross] = [line for line in r.output.splitlines() if row in line]
        assert gross.endswith("+ resting orders 59,000)"), gross
