"""The runner's sends beside its ticks (killswitch/runner/venue/lanes.py), end to end.

One account whose venue answers its orders slowly (a paced flatten: Bybit's ten orders a second
over fifty positions is five seconds) must not hold another account's close: the second close
leaves while the first account is still sending, and when the slow venue answers at last every
order of both went out once, and both accounts are flat."""

from __future__ import annotations

import asyncio
from collections import Counter

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import many_accounts
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.integration.runner.rig import T0, TICK_MS, graph


class Gated:
    """An adapter whose orders wait at a gate the test opens; every other call forwarded."""

    def __init__(self, target, sent: Counter):
        self._target, self.sent = target, sent
        self.gate = asyncio.Event()

    def __getattr__(self, name):
        return getattr(self._target, name)

    async def submit(self, intent):
        await self.gate.wait()
        self.sent[intent.client_order_id] += 1
        return await self._target.submit(intent)


class Counted:
    def __init__(self, target, sent: Counter):
        self._target, self.sent = target, sent

    def __getattr__(self, name):
        return getattr(self._target, name)

    async def submit(self, intent):
        self.sent[intent.client_order_id] += 1
        return await self._target.submit(intent)


def open_legs(engine, account: str) -> dict:
    return {p.symbol: abs(p.amount) for p in engine.positions(account) if abs(p.amount) > 0}


def test_one_accounts_slow_flatten_does_not_hold_another_accounts_close(tmp_path):
    clock = ManualClock(T0)
    engine = many_accounts(2, clock)
    sent: Counter = Counter()
    slow = Gated(SimulatedAdapter(engine, "sim-0", labels={"book": "futures"}, timeout_s=30.0), sent)
    fast = Counted(SimulatedAdapter(engine, "sim-1", labels={"book": "futures"}, timeout_s=30.0), sent)
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    runner, desk, _ = build_runner_and_desk(graph(), {"simulated/sim-0": slow, "simulated/sim-1": fast}, store,
                                            lock_path=tmp_path / "lock.json", dry_run=False, clock=clock,
                                            confirm_gap_ms=TICK_MS)

    async def close(scope: str):
        preview = await desk.close(scope, "by hand", dry_run=True)
        closed = await desk.close(scope, "by hand", dry_run=False, preview_id=preview.preview_id)
        assert closed.accepted, closed.reason
        return closed

    async def tick():
        clock.advance(TICK_MS)
        # a tick that waited for the gated account would never end: failed here, not hung
        async with asyncio.timeout(30):
            return await runner.tick()

    async def go():
        await runner.start()
        await tick()
        assert open_legs(engine, "sim-0") and open_legs(engine, "sim-1")
        await close("simulated/sim-0")
        first = await tick()  # sim-0's closes: journaled, their lane waiting at the venue
        assert first.execution.sent == 0 and not any(k.startswith("ks") for k in sent)
        await close("simulated/sim-1")
        second = await tick()
        # BTC and ETH in chunks of 200k, while sim-0 still waits
        assert {o.account for o in second.execution.orders} == {"sim-1"} and second.execution.filled >= 2
        assert open_legs(engine, "sim-1") == {} and len(open_legs(engine, "sim-0")) == 2
        slow.gate.set()
        for _ in range(20):
            report = await tick()
            if not open_legs(engine, "sim-0") and not store.pending_intents():
                break
        assert open_legs(engine, "sim-0") == {}
        return report

    try:
        asyncio.run(go())
        assert set(sent.values()) == {1}, sent  # every close once
        journaled = {e.client_order_id for e in store.journal(limit=100)}
        assert journaled == set(sent)  # none lost
        assert {e.status for e in store.journal(limit=100)} == {"filled"}
    finally:
        asyncio.run(runner.aclose())
        store.close()
