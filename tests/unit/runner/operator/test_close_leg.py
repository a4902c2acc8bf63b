"""A close of one hedge leg: a hedge-mode account holds a symbol in a long and a short leg, and a
close of that symbol closes both only when asked for both; one leg named closes that leg alone,
through the preview, the close, its tick, a recovery after a stop and the API."""

from __future__ import annotations

import asyncio

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.unit.engine_helpers import compile_graph

from .rig import GUARD, T0, TICK_MS

HEDGE = "simulated/sim-hedge"
BTC = "BTC/USDT:USDT"


def hedged(tmp_path, clock=None, engine=None):
    clock = clock or ManualClock(T0)
    if engine is None:
        engine = build("calm", clock)
        for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
            engine.set_mark(symbol, price)
    adapter = SimulatedAdapter(engine, "sim-hedge", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    runner, desk, parts = build_runner_and_desk(
        compile_graph(GUARD, "guard.yaml"), {HEDGE: adapter}, store, lock_path=tmp_path / "lock.json", clock=clock,
        dry_run=False)
    return runner, engine, clock, store, desk


def legs(engine) -> dict:
    """The simulated account's legs: (the venue's symbol, LONG | SHORT) → contracts."""
    return {(p.symbol, p.position_side): abs(p.amount) for p in engine.positions("sim-hedge") if abs(p.amount) > 0}


async def _tick(runner, desk, clock, n: int = 1) -> None:
    for _ in range(n):
        clock.advance(TICK_MS)
        await desk.heartbeat("bot-x")
        await runner.tick()


def test_one_leg_is_closed_alone_and_both_legs_only_when_asked(tmp_path):
    runner, engine, clock, store, desk = hedged(tmp_path)

    async def go():
        await runner.start()
        await _tick(runner, desk, clock)
        short = await desk.preview_close(HEDGE, BTC, "short")
        assert short.allowed and short.leg == "short"
        assert [(o.side, o.position_side, o.amount) for o in short.orders] == [("buy", "SHORT", 4.0)]
        assert "the short leg of BTC/USDT:USDT" in " ".join(short.effects)
        both = await desk.preview_close(HEDGE, BTC)
        assert sorted((o.position_side, o.amount) for o in both.orders) == [("LONG", 2.0), ("SHORT", 4.0)]
        assert "both legs of BTC/USDT:USDT" in " ".join(both.effects)
        # a preview of one leg does not stand for a close of both, nor the other way round
        refused = await desk.close(HEDGE, "cut", False, symbol=BTC, preview_id=short.preview_id)
        assert not refused.accepted and refused.reason.startswith("PREVIEW_MISMATCH: the preview was of "
                                                                   f"{HEDGE} symbol {BTC} (short leg)"), refused
        sent = await desk.close(HEDGE, "cut the short leg", False, symbol=BTC, leg="short",
                                  preview_id=short.preview_id, actor="alice")
        assert sent.accepted and sent.leg == "short", sent
        assert sent.reason.startswith(f"QUEUED: close of the short leg of {BTC} in {HEDGE}"), sent.reason
        await _tick(runner, desk, clock)
        await runner.aclose()

    asyncio.run(go())
    assert legs(engine) == {("BTCUSDT", "LONG"): 2.0, ("ETHUSDT", "LONG"): 30.0, ("ETHUSDT", "SHORT"): 80.0,
                            ("SOLUSDT", "SHORT"): 1500.0}, "the long leg of BTC is left"
    (row,) = [r for r in store.audit_rows(kinds=["manual_close_requested"])]
    assert row.payload["leg"] == "short" and row.payload["symbol"] == BTC
    store.close()


def test_a_leg_the_scope_does_not_hold_or_without_a_symbol_is_refused(tmp_path):
    runner, engine, clock, store, desk = hedged(tmp_path)

    async def go():
        await runner.start()
        await _tick(runner, desk, clock)
        sol = await desk.preview_close(HEDGE, "SOL/USDT:USDT", "long")
        assert not sol.allowed and sol.reason == (f"UNKNOWN_LEG: {HEDGE} holds no long leg of SOL/USDT:USDT in the "
                                                  "last snapshots (less the fills since); it holds: short; nothing "
                                                  "to close"), sol.reason
        alone = await desk.preview_close(HEDGE, None, "long")
        assert not alone.allowed and alone.reason.startswith("BAD_REQUEST: a leg is of one symbol"), alone.reason
        typo = await desk.close(HEDGE, "x", True, symbol=BTC, leg="longg")
        assert not typo.accepted and typo.reason.startswith("BAD_REQUEST: leg is long or short"), typo.reason
        await runner.aclose()

    asyncio.run(go())
    store.close()


def test_a_leg_close_asked_for_before_a_stop_is_carried_out_on_its_leg_after_it(tmp_path):
    clock = ManualClock(T0)
    runner, engine, _, store, desk = hedged(tmp_path, clock)

    async def before():
        await runner.start()
        await _tick(runner, desk, clock)
        p = await desk.preview_close(HEDGE, BTC, "long")
        sent = await desk.close(HEDGE, "cut the long leg", False, symbol=BTC, leg="long", preview_id=p.preview_id)
        assert sent.accepted
        await runner.aclose()  # stopped before the tick that plans it

    asyncio.run(before())
    store.close()
    again, _, _, store, again_desk = hedged(tmp_path, clock, engine)

    async def after():
        await again.start()
        await _tick(again, again_desk, clock, 2)
        await again.aclose()

    asyncio.run(after())
    assert ("BTCUSDT", "LONG") not in legs(engine) and legs(engine)[("BTCUSDT", "SHORT")] == 4.0
    store.close()
