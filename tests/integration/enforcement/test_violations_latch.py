"""Repeated violations latch a strategy (RTS 6 Art. 15(3)): the gate's refusals counted per
strategy by a runner over the simulated exchange, across a restart from its store, fire a
manual-reset stage that locks the strategy halted until two people reset it."""

from __future__ import annotations

import asyncio

import aiohttp

from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.client import LockDocument
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.render.status import status_text
from killswitch.view import RunnerStatus
from killswitch.view.decode import decode
from tests.integration.runner.rig import T0, TICK_MS, parts_of, setup
from tests.unit.engine_helpers import compile_graph

LATCH = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: latch}
spec:
  scope: {level: strategy, accounts: {match_labels: {book: futures}}, strategies: [strategy-a, strategy-b]}
  interval: 5s
  signals:
    refused_1m: {gate_refusals: {window: 1m, codes: [PRICE_COLLAR]}}
  triggers:
    breaking: {when: "refused_1m >= 5", on_missing_data: hold}
  stages:
    - {level: 1, name: latch, on: [breaking], reset: manual, approvals: 2,
       actions: [{lock_trading: {mode: halted}}]}
  limits: {price_collar: 5%}
"""
BTC = "BTC/USDT:USDT"
ORDER = {"account": "simulated/sim-main", "symbol": BTC, "side": "buy", "amount": 0.01, "price": 60_000}
WIDE = {**ORDER, "price": 90_000}  # 50% from the mark: PRICE_COLLAR


def _runner(tmp_path, clock):
    return setup(tmp_path, policies=compile_graph(LATCH, "latch.yaml"), engine=build("calm", clock), clock=clock)


def _refused(desk, n, strategy="strategy-a"):
    for _ in range(n):  # as the API's thread answers it, from the view the runner published
        d = desk.check_order_now({**WIDE, "strategy": strategy})
        assert d.allow is False and d.reason.startswith("PRICE_COLLAR"), d


def _stage(desk_or_runner_book, scope):
    ss = desk_or_runner_book.state.scopes.get(f"latch|{scope}")
    return ss.stage.level if ss is not None else 0


async def _shown(desk):
    """The counts in the status (JSON and ``ksctl status``'s lines) and the console's limits section."""
    site, url = await start_api(make_app(desk, token="t0ken-for-tests-only"))
    try:
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer t0ken-for-tests-only"}) as http:
            async with http.get(url + "/v1/status") as r:
                doc = await r.json()
            async with http.get(url + "/console/view") as r:
                page = await r.text()
    finally:
        await stop_api(site)
    counted = doc["violation_counts"]
    # counted for two minutes since the first start: the last 5 minutes cannot be told whole
    assert counted["blind"].startswith("UNCOUNTED") and counted["since_ms"] == T0 + TICK_MS
    rows = {(c["strategy"], c["code"]): c for c in counted["counts"]}
    assert rows[("strategy-a", "PRICE_COLLAR")]["last_1m"] == 5 and rows[("strategy-b", "PRICE_COLLAR")]["last_5m"] == 5
    assert rows[("strategy-a", "PRICE_COLLAR")]["account"] == "simulated/sim-main"
    st = decode(RunnerStatus, doc)  # as ksctl status reads it
    text = status_text(st, LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False))
    assert ("VIOLATIONS PRICE_COLLAR refused: 5 in 1m, 5 in 5m strategy strategy-a simulated/sim-main "
            "BTC/USDT:USDT") in text, text
    assert "VIOLATIONS UNCOUNTED: violations counted since" in text and "UNCOUNTED: UNCOUNTED" not in text
    assert "Refusals and violations counted" in page and "<code>PRICE_COLLAR</code>" in page
    assert "Not counted: UNCOUNTED" in page


def test_refusals_counted_across_a_restart_latch_the_strategy_until_two_reset_it(tmp_path):
    clock = ManualClock(T0)
    runner, _, _, _, _, desk = _runner(tmp_path, clock)

    async def first():
        await runner.start()
        for _ in range(13):  # a minute counted: the 1m window is known from now on
            clock.advance(TICK_MS)
            await runner.tick()
        _refused(desk, 3)
        _refused(desk, 4, strategy="strategy-b")
        clock.advance(TICK_MS)
        await runner.tick()  # handed to the engine's tally and saved with its state
        book = parts_of(runner).book
        values = {s.scope: {v.name: v.value for v in s.signals} for s in book.evaluation.scopes}
        assert values["strategy-a"]["refused_1m"] == 3 and values["strategy-b"]["refused_1m"] == 4
        assert _stage(book, "strategy-a") == 0
        await runner.aclose()

    asyncio.run(asyncio.wait_for(first(), 60))

    # a new runner on the same store: the counts are the saved state's
    runner, _, _, _, _, desk = _runner(tmp_path, clock)

    async def second():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()
        book = parts_of(runner).book
        values = {s.scope: {v.name: v.value for v in s.signals} for s in book.evaluation.scopes}
        assert values["strategy-a"]["refused_1m"] == 3, values
        _refused(desk, 2)  # 3 before the restart + 2 = 5 in the minute
        desk.check_order({**WIDE, "strategy": "strategy-b"})  # the loop's own answer counts too: 5
        assert desk.check_order({**ORDER, "strategy": "strategy-a"}).allow is True
        clock.advance(TICK_MS)
        await runner.tick()
        assert _stage(book, "strategy-a") == 1 and _stage(book, "strategy-b") == 1
        await _shown(desk)
        a = desk.check_order({**ORDER, "strategy": "strategy-a"})
        assert a.allow is False and a.reason.startswith("HALTED") and "policy=latch" in a.reason, a
        # a minute on, the refusals are out of the window: the strategy stays latched
        for _ in range(13):
            clock.advance(TICK_MS)
            await runner.tick()
        values = {s.scope: {v.name: v.value for v in s.signals} for s in book.evaluation.scopes}
        assert values["strategy-a"]["refused_1m"] == 0, values  # the HALTED refusals are not PRICE_COLLAR
        assert _stage(book, "strategy-a") == 1
        assert desk.check_order({**ORDER, "strategy": "strategy-a"}).reason.startswith("HALTED")
        # the reset: two approvals by two people, never one twice
        one = await desk.reset("latch", "strategy-a", "alice", "the bot's collar bug is fixed")
        assert one.reason.startswith("APPROVAL_RECORDED: 1/2") and _stage(book, "strategy-a") == 1, one
        again = await desk.reset("latch", "strategy-a", "alice", "again")
        assert again.reason.startswith("DUPLICATE_APPROVER") and _stage(book, "strategy-a") == 1, again
        two = await desk.reset("latch", "strategy-a", "bob", "checked")
        assert two.done and two.reason.startswith("MANUAL_RESET") and _stage(book, "strategy-a") == 0, two
        clock.advance(TICK_MS)
        await runner.tick()
        assert desk.check_order({**ORDER, "strategy": "strategy-a"}).allow is True
        assert _stage(book, "strategy-b") == 1  # strategy-b's latch is its own
        await runner.aclose()

    asyncio.run(asyncio.wait_for(second(), 60))


def test_an_operators_check_order_is_answered_and_not_counted(tmp_path):
    """``ksctl check-order`` asks with ``?probe=true``: the same answer, and its refusal is not a
    bot's violation (neither in a policy's count nor in status's VIOLATIONS)."""
    clock = ManualClock(T0)
    runner, _, _, _, _, desk = _runner(tmp_path, clock)

    async def go():
        await runner.start()
        clock.advance(TICK_MS)
        await runner.tick()  # the gate's view published
        site, url = await start_api(make_app(desk, token="t0ken-for-tests-only"))
        try:
            async with aiohttp.ClientSession() as http:
                for probe in ("?probe=true", "?probe=true", ""):
                    async with http.post(url + "/v1/check-order" + probe, json={**WIDE, "strategy": "strategy-a"}) as r:
                        doc = await r.json()
                    assert doc["allow"] is False and doc["reason"].startswith("PRICE_COLLAR"), doc
        finally:
            await stop_api(site)
        assert desk.check_order({**WIDE, "strategy": "strategy-a"}, counted=False).allow is False  # the loop's
        counts, _ = desk.readout.counted.drain()
        assert sum(counts.values()) == 1, counts  # the bot's, not the two questions
        await runner.aclose()

    asyncio.run(asyncio.wait_for(go(), 60))
