"""The pre-trade limits at the venue: an order that never asked the gate and breaks a policy's
limit is cancelled by the venue watch (``LIMIT_VIOLATION``), with no lock in force, on the
simulated exchange's Binance USDⓈ-M face through the real ccxt adapter.

The same order asked at ``POST /v1/check-order`` is refused with the same code: the watch and the
gate read one set of limits. An order inside the limits, a reduce-only exit beyond the collar and
a second tick (nothing new reported) are checked beside it.
"""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from killswitch.events import LIMIT_VIOLATION, LOCK_VIOLATION
from tests.integration.enforcement import rig as te
from tests.integration.runner.rig import parts_of
from tests.unit.engine_helpers import compile_graph

pytest.importorskip("ccxt")

LIMITED = te.QUIET.replace("  stages:\n", "  limits:\n    price_collar: 5%\n    max_order_notional: 100k\n  stages:\n")


def test_an_order_that_never_asked_and_breaks_a_limit_is_cancelled_without_a_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(te, "graph", partial(compile_graph, LIMITED, "limited.yaml"))
    seen: dict = {}

    async def scenario(runner, desk, eng, clock, store, key):
        await runner.start()
        await te.tick(runner, clock)
        far = "alp-far-1"  # 50,000 against a mark of 60,000: beyond the 5 % collar
        big = "beta-big-1"  # 2 BTC at 59,800: a notional of 119,600 over 100k
        fine = "alp-fine-1"  # 0.5 BTC at 59,500: inside both
        tp = "alp-tp-1"  # a reduce-only exit at 70,000: beyond the collar, but it can only reduce
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=50_000.0, time_in_force="GTC",
                        client_order_id=far)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 2.0, price=59_800.0, time_in_force="GTC",
                        client_order_id=big)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=59_500.0, time_in_force="GTC",
                        client_order_id=fine)
        eng.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 1.0, price=70_000.0, time_in_force="GTC",
                        reduce_only=True, client_order_id=tp)
        report = await te.tick(runner, clock)
        seen["events"] = [e for e in report.events if e.kind in (LIMIT_VIOLATION, LOCK_VIOLATION)]
        seen["open"] = te.open_ids(eng)
        seen["rows"] = [r.payload for r in store.audit_rows(None, ("lock_violation",), 100)]
        seen["gate"] = desk.check_order({"account": key, "symbol": te.BTC, "side": "buy", "amount": 0.5,
                                           "price": 50_000.0, "strategy": "alpha"})
        later = await te.tick(runner, clock)
        seen["later"] = [e for e in later.events if e.kind in (LIMIT_VIOLATION, LOCK_VIOLATION)]
        seen["ids"] = (far, big, fine, tp)
        # counted for venue_violations (engine/tally.py), as was the gate's refusal for gate_refusals
        seen["counted"] = parts_of(runner).book.state.tally.totals(60_000, clock())

    asyncio.run(asyncio.wait_for(te.with_runner(tmp_path, "binanceusdm", scenario), 90))
    far, big, fine, tp = seen["ids"]
    assert far not in seen["open"] and big not in seen["open"], seen["open"]
    assert fine in seen["open"] and tp in seen["open"], seen["open"]
    assert sorted(e.kind for e in seen["events"]) == [LIMIT_VIOLATION, LIMIT_VIOLATION]
    reasons = {r["client_order_id"]: r["reason"] for r in seen["rows"]}
    assert set(reasons) == {far, big}
    assert reasons[far].startswith("PRICE_COLLAR") and reasons[big].startswith("LIMIT_ORDER_NOTIONAL"), reasons
    assert all(r["kind"] == "LIMIT_VIOLATION" and r["action"] == "cancel" for r in seen["rows"])
    assert {r["strategy"] for r in seen["rows"]} == {"alpha", "beta"}
    # the gate answers the same order with the same limit
    assert not seen["gate"].allow and seen["gate"].reason.startswith("PRICE_COLLAR"), seen["gate"]
    assert seen["later"] == []  # the orders are gone: nothing reported again
    assert seen["counted"] == {("venue", "binanceusdm/sim-main", "alpha", te.BTC, "LIMIT_VIOLATION"): 1,
                               ("venue", "binanceusdm/sim-main", "beta", te.BTC, "LIMIT_VIOLATION"): 1,
                               ("gate", "binanceusdm/sim-main", "alpha", te.BTC, "PRICE_COLLAR"): 1}, seen["counted"]


# each watched limit alone: (its limits: block, a rogue order that breaks it, what the reason names)
# sim-main holds 5 BTC long at 60,000 (300k), 100 ETH long (300k) and 1,000 SOL short (140k): 740k gross
LIMIT_TABLE = {
    "PRICE_COLLAR": ("price_collar: 5%", (0.5, 50_000.0)),  # 50,000 is 16.7 % under the mark
    "LIMIT_ORDER_QUANTITY": ("max_order_quantity: 1", (2.0, 59_800.0)),
    "LIMIT_ORDER_NOTIONAL": ("max_order_notional: 100k", (2.0, 59_800.0)),  # 119,600
    "POSITION_LIMIT": ("max_position_notional: 350k", (1.0, 59_800.0)),  # 300k + 59,800
    "GROSS_LIMIT": ("max_gross_notional: 800k", (1.5, 59_800.0)),  # 740k + 89,700
}
FINE = (0.1, 59_900.0)  # inside every limit of the table


@pytest.mark.parametrize("code", LIMIT_TABLE)
def test_each_watched_limit_refuses_at_the_gate_and_cancels_at_the_venue(tmp_path, monkeypatch, code):
    block, (amount, price) = LIMIT_TABLE[code]
    text = te.QUIET.replace("  stages:\n", f"  limits:\n    {block}\n  stages:\n")
    monkeypatch.setattr(te, "graph", partial(compile_graph, text, "limited.yaml"))
    seen: dict = {}

    def ask(desk, key, size, at):
        return desk.check_order({"account": key, "symbol": te.BTC, "side": "buy", "amount": size, "price": at,
                                   "strategy": "alpha"})

    async def scenario(runner, desk, eng, clock, store, key):
        await runner.start()
        await te.tick(runner, clock)
        seen["gate"], seen["gate_fine"] = ask(desk, key, amount, price), ask(desk, key, *FINE)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", amount, price=price, time_in_force="GTC",
                        client_order_id="alp-rogue-1")
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", FINE[0], price=FINE[1], time_in_force="GTC",
                        client_order_id="alp-fine-1")
        report = await te.tick(runner, clock)
        seen["events"] = [e for e in report.events if e.kind in (LIMIT_VIOLATION, LOCK_VIOLATION)]
        seen["open"] = te.open_ids(eng)
        seen["rows"] = [r.payload for r in store.audit_rows(None, ("lock_violation",), 100)]

    asyncio.run(asyncio.wait_for(te.with_runner(tmp_path, "binanceusdm", scenario), 90))
    gate = seen["gate"]
    assert not gate.allow and gate.reason.startswith(code), gate  # refused at the gate, by this limit
    assert seen["gate_fine"].allow, seen["gate_fine"]
    assert "alp-rogue-1" not in seen["open"] and "alp-fine-1" in seen["open"], seen["open"]
    [row] = seen["rows"]  # cancelled at the venue, by the same limit
    assert (row["kind"], row["action"], row["client_order_id"], row["strategy"]) == (
        "LIMIT_VIOLATION", "cancel", "alp-rogue-1", "alpha")
    assert row["reason"].startswith(code) and "[policy=quiet scope=binanceusdm/sim-main]" in row["reason"], row
    assert [e.kind for e in seen["events"]] == [LIMIT_VIOLATION]


def test_resting_orders_that_together_pass_a_limit_lose_the_ones_past_it(tmp_path, monkeypatch):
    """Three entries that never asked the gate, each within the position limit alone, together
    past it: the one that takes the position past the limit in the venue's order is cancelled,
    the others (one after it that still fits) and a reduce-only exit stay; the gate answers the
    cancelled one the same way while the others rest."""
    text = te.QUIET.replace("  stages:\n", "  limits:\n    max_position_notional: 350k\n  stages:\n")
    monkeypatch.setattr(te, "graph", partial(compile_graph, text, "limited.yaml"))
    seen: dict = {}

    async def scenario(runner, desk, eng, clock, store, key):
        await runner.start()
        await te.tick(runner, clock)
        # BTC long 5 at 60,000 (300k): 0.4 more fits (≈324k), then 0.6 does not (≈360k), then 0.3 does (≈342k)
        for cid, size, at in (("alp-a-1", 0.4, 59_800.0), ("alp-b-1", 0.6, 59_800.0), ("alp-c-1", 0.3, 59_700.0)):
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", size, price=at, time_in_force="GTC",
                            client_order_id=cid)
        eng.place_order("sim-main", "BTCUSDT", "SELL", "LIMIT", 5.0, price=65_000.0, time_in_force="GTC",
                        reduce_only=True, client_order_id="alp-tp-1")
        report = await te.tick(runner, clock)
        seen["events"] = [e for e in report.events if e.kind == LIMIT_VIOLATION]
        seen["open"] = te.open_ids(eng)
        seen["rows"] = [r.payload for r in store.audit_rows(None, ("lock_violation",), 100)]
        await te.tick(runner, clock)  # the book without the cancelled order
        seen["gate"] = desk.check_order({"account": key, "symbol": te.BTC, "side": "buy", "amount": 0.6,
                                           "price": 59_800.0, "strategy": "alpha"})

    asyncio.run(asyncio.wait_for(te.with_runner(tmp_path, "binanceusdm", scenario), 90))
    assert "alp-b-1" not in seen["open"], seen["open"]
    assert {"alp-a-1", "alp-c-1", "alp-tp-1"} <= set(seen["open"]), seen["open"]
    [row] = seen["rows"]
    assert row["client_order_id"] == "alp-b-1" and row["reason"].startswith("POSITION_LIMIT"), row
    assert "resting orders 23,920.00 + resting order 35,880.00" in row["reason"], row
    assert [e.kind for e in seen["events"]] == [LIMIT_VIOLATION]
    gate = seen["gate"]  # ≈300k + 23,920 + 17,910 resting + 35,880 > 350k
    assert not gate.allow and gate.limit["code"] == "POSITION_LIMIT", gate
    assert gate.limit["exposure"]["resting"] == 23_920.0 + 17_910.0, gate
