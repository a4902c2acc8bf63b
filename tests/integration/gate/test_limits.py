"""The policies' pre-trade limits answered by ``POST /v1/check-order`` of a runner over the
simulated exchange: each limit refusing with its code, its value and the usage, the lock first,
the message bucket refilling on the runner's clock, and a stale mark refused."""

from __future__ import annotations

import asyncio

import aiohttp

from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.runner.gate.refusals import refusal_key
from tests.integration.runner.rig import POLICY, T0, TICK_MS, setup
from tests.unit.engine_helpers import compile_graph

# sim-main holds BTC long 5 (≈300k), ETH long 100 (≈300k), SOL short 1000 (≈140k): gross ≈740k
LIMITS = """\
  limits:
    max_order_notional: 100k
    max_order_quantity: 50
    price_collar: 5%
    max_position_notional: 400k
    max_gross_notional: 800k
    max_open_orders: 2
    message_rate: {per_second: 1, burst: 2}
    symbols:
      BTC/USDT:USDT: {max_order_notional: 200k}
"""
BTC = "BTC/USDT:USDT"
TOKEN = "t0ken-for-tests-only"


def test_each_limit_refuses_at_the_gate_with_its_value_and_usage(tmp_path):
    graph = compile_graph(POLICY + LIMITS, "p.yaml")
    runner, engine, clock, _, _, desk = _calm(tmp_path, graph)

    async def go():
        await runner.start()
        for _ in range(3):
            clock.advance(TICK_MS)
            await runner.tick()
        app = make_app(desk, token=TOKEN)
        site, url = await start_api(app)
        order = {"account": "simulated/sim-main", "symbol": BTC, "side": "buy", "amount": 0.5, "price": 60_000,
                 "strategy": "strategy-a"}
        try:
            async with aiohttp.ClientSession() as http:
                async def check(**change):
                    async with http.post(url + "/v1/check-order", json={**order, **change}) as r:
                        assert r.status == 200
                        return await r.json()

                d = await check()
                assert d == {"allow": True, "reason": "ACTIVE"}  # no "limit" on an allow: the answer as before
                d = await check(price=66_000)
                assert d["allow"] is False and d["reason"].startswith("PRICE_COLLAR: price 66000 is ")
                assert d["limit"]["code"] == "PRICE_COLLAR" and d["limit"]["value"] == 0.05
                assert 0.09 < d["limit"]["usage"] < 0.11 and d["limit"]["policy"] == "crash-ladder"
                assert d["limit"]["scope"] == "simulated/sim-main"
                d = await check(amount=4)  # 240k > BTC's own 200k
                assert d["reason"].startswith("LIMIT_ORDER_NOTIONAL: notional 240,000.00 > limit 200,000.00")
                assert d["limit"]["value"] == 200_000 and d["limit"]["usage"] == 240_000
                d = await check(symbol="ETH/USDT:USDT", amount=34, price=3_000)  # 102k > the default 100k
                assert d["limit"]["code"] == "LIMIT_ORDER_NOTIONAL" and d["limit"]["value"] == 100_000
                d = await check(amount=60)  # 60 > 50 contracts, 3.6M > 200k, 5 → 65 BTC: each named
                assert d["limit"]["code"] == "LIMIT_ORDER_QUANTITY"
                assert [b["code"] for b in d["limit"]["breaches"]] == ["LIMIT_ORDER_QUANTITY", "LIMIT_ORDER_NOTIONAL",
                                                                       "POSITION_LIMIT", "GROSS_LIMIT"], d
                assert d["reason"].startswith("LIMIT_ORDER_QUANTITY: amount 60 > limit 50 for BTC/USDT:USDT; "
                                              "LIMIT_ORDER_NOTIONAL: notional 3,600,000.00 > limit 200,000.00"), d
                assert "more)" not in d["reason"]
                d = await check(amount=2)  # BTC 5 → 7 at ≈60k: ≈420k > 400k
                assert d["limit"]["code"] == "POSITION_LIMIT" and 410_000 < d["limit"]["usage"] < 430_000
                d = await check(symbol="ETH/USDT:USDT", amount=25, price=3_000)  # gross ≈740k + 75k
                assert d["limit"]["code"] == "GROSS_LIMIT" and d["limit"]["value"] == 800_000
                # a reducing order is never held back by the position or gross limits
                d = await check(side="sell", amount=1, reduce_only=True)
                assert d["allow"] is True
                # nor by the collar when it is a market order (a bot closing into a crash)
                d = await check(side="sell", amount=1, reduce_only=True, price=None, strategy="strategy-d")
                assert d["allow"] is True, d
                # the burst of 2 is spent (the first order and the close): the third waits for a token
                d = await check()
                assert d["allow"] is False and d["limit"]["code"] == "MESSAGE_RATE", d
                assert "strategy-a" in d["reason"]
                d = await check(strategy="strategy-b")  # another strategy has its own bucket
                assert d["allow"] is True
                clock.advance(1_000)  # one second: one token back
                assert (await check())["allow"] is True
                assert (await check())["limit"]["code"] == "MESSAGE_RATE"
                clock.advance(31_000)  # the snapshot's marks are now older than 30s
                d = await check()
                assert d["allow"] is False and d["reason"].startswith("NO_MARK: the mark of BTC/USDT:USDT is 3")
                # two resting orders at the venue: the scope's third is refused
                engine.place_order("sim-main", "BTCUSDT", "buy", "limit", 0.01, 55_000.0, time_in_force="GTC")
                engine.place_order("sim-main", "BTCUSDT", "buy", "limit", 0.01, 55_500.0, time_in_force="GTC")
                clock.advance(TICK_MS)
                await runner.tick()
                d = await check(strategy="strategy-c")
                assert d["limit"]["code"] == "OPEN_ORDERS_LIMIT" and d["limit"]["usage"] == 3
                lock = await (await http.get(url + "/v1/lock")).json()
                [shown] = lock["limits"]
                assert shown["policy"] == "crash-ladder" and shown["limits"]["max_open_orders"] == 2
                rows = {r["limit"]: r for r in shown["usage"]}
                assert rows["max_open_orders"]["usage"] == 2 and rows["max_gross_notional"]["value"] == 800_000
        finally:
            await stop_api(site)

    asyncio.run(asyncio.wait_for(go(), 60))


def test_the_lock_is_answered_before_the_limits(tmp_path):
    """Under a reducing lock an order that grows the position is the lock's refusal, not a limit's,
    with the limits it also breaks beside it (counted once, as the lock's); an order the lock
    allows still meets the limits (a close beyond the collar); under a halt, the same."""
    graph = compile_graph(POLICY + LIMITS, "p.yaml")
    runner, _, clock, _, _, desk = _calm(tmp_path, graph)
    order = {"account": "simulated/sim-main", "symbol": BTC, "side": "buy", "amount": 60, "price": 90_000}

    async def go():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()
        assert desk.check_order(order).reason.startswith("PRICE_COLLAR")
        done = await desk.lock_scope("simulated/sim-main", "reducing", "drill", actor="alice")
        assert done.done, done
        grow = desk.check_order(order)
        close_far = desk.check_order({**order, "side": "sell", "amount": 1})
        close_near = desk.check_order({**order, "side": "sell", "amount": 1, "price": 60_000})
        small = desk.check_order({**order, "amount": 0.1, "price": 60_000})
        done = await desk.lock_scope("simulated/sim-main", "halted", "drill", actor="alice")
        assert done.done, done
        return grow, close_far, close_near, small, desk.check_order(order)

    grow, close_far, close_near, small, halted = asyncio.run(asyncio.wait_for(go(), 30))
    assert grow.allow is False and grow.reason.startswith("REDUCING: order would open or increase exposure")
    assert "; also: PRICE_COLLAR: price 90000 is " in grow.reason, grow
    assert grow.limit is not None and grow.limit["also"] is True and grow.limit["code"] == "PRICE_COLLAR"
    assert [b["code"] for b in grow.limit["breaches"]] == ["PRICE_COLLAR", "LIMIT_ORDER_QUANTITY",
                                                           "LIMIT_ORDER_NOTIONAL", "POSITION_LIMIT", "GROSS_LIMIT"]
    assert refusal_key(order, grow.reason, grow.limit)[-1] == "REDUCING"  # counted once, as the lock's
    assert small.allow is False and small.limit is None and "also" not in small.reason  # within every limit
    assert halted.allow is False and halted.reason.startswith("HALTED: ") and "; also: PRICE_COLLAR" in halted.reason
    assert halted.limit["breaches"] == grow.limit["breaches"], halted
    assert refusal_key(order, halted.reason, halted.limit)[-1] == "HALTED"
    assert close_far.allow is False and close_far.reason.startswith("PRICE_COLLAR")
    assert close_near.allow is True and close_near.reason.startswith("REDUCING: reduces the position")


def _calm(tmp_path, graph):
    clock = ManualClock(T0)
    return setup(tmp_path, policies=graph, engine=build("calm", clock), clock=clock)
