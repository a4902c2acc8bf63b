"""A running runner says what it cannot see: blind while its windows fill (status, /metrics, one
log line each way, the lock of ``while_blind``), unmatched when its scope selects nothing, and
never blind again after a restart that kept its history.
"""

from __future__ import annotations

import asyncio
import logging

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_text
from tests.integration.test_runner import POLICY, T0, TICK_MS, drive, setup


def graph_of(text: str):
    res = compile_documents(load_text(text, "p.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    return res.graph


def lines(caplog, code: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(code + ":")]


def armed_metric(text: str) -> list[str]:
    return sorted(x for x in text.splitlines() if x.startswith("killswitch_policy_armed{"))


def test_blind_while_the_window_fills_then_armed_said_once_each_way(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner")
    runner, engine, clock, store, _ = setup(tmp_path)  # dd: 10m window, min_coverage 5%: 30 s

    async def go():
        await runner.start()
        await drive(runner, clock, 1)
        first = runner.status()
        metrics = runner.metrics_text()
        await drive(runner, clock, 10)
        return first, metrics, runner.status(), runner.metrics_text()

    first, m1, later, m2 = asyncio.run(go())
    (row,) = first.coverage
    assert (row.policy, row.scope, row.state, row.reason) == (
        "crash-ladder", "simulated/sim-main", "blind", "INSUFFICIENT_HISTORY")
    assert {t.trigger for t in row.triggers} == {"soft", "harder", "hard"}
    assert row.since_ms == T0 + TICK_MS and row.until_ms == T0 + TICK_MS + 30_000
    assert row.while_blind is None
    assert armed_metric(m1) == [
        'killswitch_policy_armed{policy="crash-ladder",scope="simulated/sim-main",reason="INSUFFICIENT_HISTORY"} 0']
    assert 'killswitch_policy_blind_until_seconds{policy="crash-ladder",scope="simulated/sim-main"} 30' in m1
    assert "killswitch_policies_blind 1" in m1
    (row,) = later.coverage
    assert row.state == "armed" and row.since_ms == T0 + 7 * TICK_MS
    assert armed_metric(m2) == [
        'killswitch_policy_armed{policy="crash-ladder",scope="simulated/sim-main",reason="ok"} 1']
    assert "killswitch_policies_blind 0" in m2 and "killswitch_policy_blind_until_seconds{" not in m2
    (blind,) = lines(caplog, "SCOPE_BLIND")
    assert "crash-ladder simulated/sim-main cannot act: INSUFFICIENT_HISTORY" in blind and "armed again at" in blind
    assert lines(caplog, "SCOPE_ARMED") == [
        "SCOPE_ARMED: crash-ladder simulated/sim-main: every trigger can be evaluated again (blind for 30s)"]


def test_a_restarted_runner_continues_its_windows_and_is_never_blind(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner")
    runner, engine, clock, store, _ = setup(tmp_path)

    async def first_run():
        await runner.start()
        await drive(runner, clock, 20)
        await runner.aclose()

    asyncio.run(first_run())
    store.close()
    caplog.clear()
    clock.advance(20_000)  # down for 20 s
    again, *_ = setup(tmp_path, engine=engine, clock=clock)

    async def second_run():
        await again.start()
        await drive(again, clock, 1)
        return again.status()

    st = asyncio.run(second_run())
    (row,) = st.coverage
    assert row.state == "armed" and row.since_ms == T0 + 7 * TICK_MS  # armed since the first run
    assert lines(caplog, "SCOPE_BLIND") == [] and lines(caplog, "SCOPE_ARMED") == []


def test_a_runner_restarted_while_blind_or_unmatched_says_so_in_its_fresh_log(tmp_path, caplog):
    """The coverage comes back from the store, so nothing *changes* at the restart's first tick;
    one tailing the new process's log is told all the same what it cannot see, once."""
    caplog.set_level(logging.INFO, logger="killswitch.runner")
    for policies, code, text in (
            (None, "SCOPE_BLIND", "crash-ladder simulated/sim-main cannot act (blind since "),
            (graph_of(POLICY.replace("match_labels: {book: futures}", "match_labels: {book: futurs}")),
             "POLICY_UNMATCHED", "crash-ladder: its scope (labels{book=futurs}) selects no account (since ")):
        root = tmp_path / code
        root.mkdir()
        kw = {} if policies is None else {"policies": policies}
        runner, engine, clock, store, _ = setup(root, **kw)

        async def first_run():
            await runner.start()
            await drive(runner, clock, 2)  # 10 s: still blind (30 s to fill), or unmatched
            await runner.aclose()

        asyncio.run(first_run())
        store.close()
        caplog.clear()
        again, *_ = setup(root, engine=engine, clock=clock, **kw)

        async def second_run():
            await again.start()
            await drive(again, clock, 3)
            await again.aclose()

        asyncio.run(second_run())
        (line,) = lines(caplog, code)  # said once, not every tick
        assert text in line, line


def test_a_scope_that_selects_nothing_is_unmatched_loudly(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner")
    typo = graph_of(POLICY.replace("match_labels: {book: futures}", "match_labels: {book: futurs}"))
    runner, engine, clock, store, _ = setup(tmp_path, policies=typo)

    async def go():
        await runner.start()
        reports = await drive(runner, clock, 7)  # 35 s
        return reports, runner.status(), runner.metrics_text()

    reports, st, metrics = asyncio.run(go())
    (row,) = st.coverage
    assert (row.policy, row.scope, row.state, row.reason) == ("crash-ladder", "(none)", "unmatched", "UNMATCHED")
    assert row.detail == "the scope (labels{book=futurs}) selects no account" and row.since_ms == T0 + TICK_MS
    assert armed_metric(metrics) == [
        'killswitch_policy_armed{policy="crash-ladder",scope="(none)",reason="UNMATCHED"} 0']
    assert lines(caplog, "POLICY_UNMATCHED") == [
        "POLICY_UNMATCHED: crash-ladder: its scope (labels{book=futurs}) selects no account: the policy cannot act"]
    # reported at once, then every 30 s while it lasts: the routes keep it active, and resolve it when gone
    ticks = [i for i, r in enumerate(reports) if any(e.kind == "policy_unmatched" for e in r.events)]
    assert ticks == [0, 6]


def test_while_blind_holds_the_scope_at_its_mode_and_lets_go_when_armed(tmp_path):
    text = POLICY.replace("  unwind: {chunk_notional: 200k}\n",
                          "  unwind: {chunk_notional: 200k}\n  while_blind: {lock_trading: reducing}\n")
    assert "while_blind" in text
    runner, engine, clock, store, _ = setup(tmp_path, policies=graph_of(text))
    order = {"account": "simulated/sim-main", "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.01,
             "reduce_only": False}

    async def go():
        await runner.start()
        await drive(runner, clock, 1)
        blind = runner.check_order(order), runner.status(), runner.lock_document("simulated/sim-main")
        await drive(runner, clock, 10)
        return blind, runner.check_order(order), runner.lock_document("simulated/sim-main")

    (blind_decision, st, lock), armed_decision, lock_after = asyncio.run(go())
    (row,) = st.coverage
    assert row.state == "blind" and row.while_blind == "lock_trading: reducing"
    assert not blind_decision.allow and lock["mode"] == "reducing", (blind_decision, lock)
    assert "WHILE_BLIND: policy=crash-ladder INSUFFICIENT_HISTORY" in lock["reason"]
    assert armed_decision.allow and lock_after["mode"] == "active", (armed_decision, lock_after)
