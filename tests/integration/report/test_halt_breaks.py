"""The closure report's "What broke the halt", from what a runner really wrote: a runner under an
operator's halt on the simulated exchange's Binance face (through the real ccxt adapter, as
tests/integration/enforcement/test_polled.py runs it), a bot that never asks placing an entry and a
market buy; the venue refuses the first cancel (503 twice, the adapter's retry included) and takes
the next tick's. ``ksctl report`` over the state store then lists each violation with its kind,
account, symbol, side, amount, notional, client order id, strategy, action and what it came to
(``canceled``, read from the cancel's audited answer; ``revert filled`` from the journal)."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner

from adapters.simulated.faults import FaultKind, FaultRule
from killswitch.cli.main import cli
from killswitch.runner.watch.enforcement import CANCEL_RESULT_KIND
from tests.integration.enforcement.rig import open_ids, tick, with_runner

pytest.importorskip("ccxt")

SINCE, UNTIL = "2026-03-02", "2026-03-03"  # the runner's manual clock starts 2026-03-02T13:00Z
ACCOUNT = "binanceusdm/sim-main"


def test_the_closure_report_shows_each_violation_and_what_it_came_to(tmp_path):
    seen: dict = {}

    async def scenario(runner, desk, eng, clock, store, key):
        await runner.start()
        await tick(runner, clock)
        assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
        await tick(runner, clock)
        eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=55_000.0, time_in_force="GTC",
                        client_order_id="alp-rogue-1")
        eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.0, client_order_id="beta-mkt-1")
        eng.faults.rules.append(FaultRule("cancel_order", FaultKind.HTTP_503, times=2))
        await tick(runner, clock)  # audited; the cancel refused (and retried by the adapter, refused again)
        seen["open_after_refusal"] = open_ids(eng)
        await tick(runner, clock)  # the next tick's cancel goes through
        seen["open"] = open_ids(eng)
        seen["results"] = [r.payload for r in store.audit_rows(None, (CANCEL_RESULT_KIND,), 100)]

    asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", scenario), 90))
    assert "alp-rogue-1" in seen["open_after_refusal"] and "alp-rogue-1" not in seen["open"]
    first, second = seen["results"]  # one row per cancel the runner sent, with the venue's answer
    assert first["account"] == ACCOUNT and second["account"] == ACCOUNT
    [(oid, refused)] = first["outcomes"].items()
    assert refused.startswith("EXCHANGE_UNAVAILABLE"), refused
    assert second["outcomes"] == {oid: "canceled"}

    state = ["--state", f"sqlite://{tmp_path / 'state.db'}", "--since", SINCE, "--until", UNTIL]
    r = CliRunner().invoke(cli, ["report", *state, "-o", "json"], catch_exceptions=False)
    assert r.exit_code == 4, r.output  # written, the chain consistent but not anchored (no key given)
    doc = json.loads(r.stdout)
    assert (doc["summary"]["violations"], doc["summary"]["violations_uncancelled"]) == (2, 0)
    assert "lock_violation" not in doc["other_events"] and CANCEL_RESULT_KIND not in doc["other_events"]
    broke = {v["action"]: v for v in doc["halt_breaks"]["violations"]}
    cancel, revert = broke["cancel"], broke["revert"]
    assert {k: cancel[k] for k in ("kind", "account", "symbol", "side", "amount", "client_order_id", "strategy",
                                   "outcome", "scope", "mode")} == {
        "kind": "LOCK_VIOLATION", "account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.5,
        "client_order_id": "alp-rogue-1", "strategy": "alpha", "outcome": "canceled", "scope": ACCOUNT,
        "mode": "halted"}
    assert cancel["notional"] == pytest.approx(27_500.0) and cancel["order_id"] == oid
    assert (revert["symbol"], revert["side"], revert["strategy"], revert["outcome"]) == (
        "BTC/USDT:USDT", "bot buy", "beta", "revert filled")  # the growth named by the fill that made it
    assert revert["client_order_id"] == "beta-mkt-1" and revert["revert_client_order_id"].startswith("ks")
    assert revert["amount"] == pytest.approx(1.0) and revert["notional"] == pytest.approx(60_000.0, rel=0.01)
    assert cancel["incident"] is None  # an operator's lock: no stage entered
    assert cancel["lock"] == "operator op"

    r = CliRunner().invoke(cli, ["report", *state], catch_exceptions=False)
    md = r.stdout
    assert "| what broke the halt | 2 violation(s) at the venue; 0 change(s) of the bots' trading permission |" in md
    section = md[md.index("## What broke the halt"):md.index("## Other audited events")]
    row = next(line for line in section.splitlines() if "alp-rogue-1" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:] == ["LOCK_VIOLATION", ACCOUNT, "BTC/USDT:USDT", "buy", "0.500", "27,500.00", "alp-rogue-1",
                         "alpha", "cancel", "canceled", "operator op", "-"], cells  # (BTC: amount step 0.001) op's lock
    # the bot's side and the runner's revert, each said whose
    assert f"| revert | the runner's own revert sell {revert['revert_client_order_id']}: revert filled |" in section
    assert "No change of the bots' trading permission in the period." in section
