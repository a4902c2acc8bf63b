"""The runner against the simulated exchange's Binance USDⓈ-M face (and Bitget's v2 face for the
position mode; a real ccxt client, polled), where the venue's answer rules over configuration.

- A hedge-mode account declared one-way (``hedge_mode`` left false): on the old code every close
  was refused by the venue (-1106 ``Parameter 'reduceOnly' sent when not required.``) and sent
  again every tick while the book stayed open. Now the venue's mode is read, the book is closed
  (each leg with its ``positionSide``), and the mismatch is loud: a WARNING
  ``POSITION_MODE_MISMATCH``, the status's ``position_modes``, ``ksctl status``'s line, the metric
  ``killswitch_position_mode_mismatch`` and one ``position_mode_mismatch`` event, not one a tick.
- A close the venue keeps refusing (-2022, a refusal a retry cannot mend) is sent twice per leg
  and then stops: ``CLOSE_REJECTED`` in the status, a residual with the venue's own code and
  message, the page, ``ksctl history``, the console's journal, the runbook's "Positions left"
  and the closure report; ``killswitch_close_rejected_total{code="-2022"}`` counts them. Nothing
  reads ``UNKNOWN``.
- A refusal that may pass (-2019 margin) waits 1 s, 2 s, 4 s … between tries (the runner's
  clock), never once a tick.
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.venues import sim_account
from killswitch.client import LockDocument
from killswitch.events import CLOSE_RESIDUAL, ORDER_FAILED, POSITION_MODE_MISMATCH
from killswitch.face.console.model import page_model
from killswitch.metrics import parse_families
from killswitch.notify.alerts import Alert
from killswitch.notify.message import headline
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.render.history import history_text
from killswitch.render.report import report_markdown
from killswitch.render.status import status_text
from killswitch.runbooks.report import closure_report
from killswitch.state import open_store
from tests.integration.sim_helpers import engine
from tests.unit.engine_helpers import compile_graph, loss_policy

TICK_MS = 1_000

POLICY = loss_policy("leg-guard", scope="{level: account, accounts: {match_labels: {book: hedge}}}",
                     unwind="{chunk_notional: 10m}")


class Recorder:
    """A sink that keeps every event."""

    name = "recorder"

    def __init__(self):
        self.events: list = []

    def on_tick(self, report, ctx):
        pass

    def on_event(self, event, ctx):
        self.events.append(event)

    async def aclose(self):
        pass


def graph():
    return compile_graph(POLICY, "leg-guard.yaml")


def run_case(tmp_path, account: str, scenario, *, fault=None, venue: str = "binanceusdm"):
    """``scenario(runner, desk, server, clock, recorder)`` with a runner (and its desk) over
    ``account`` on ``venue``'s face, declared one-way with label book=hedge, on a fresh server; the
    runner's clock is the engine's."""
    eng, clock = engine()

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock)
        await srv.start()
        if fault is not None:
            fault(srv)
        acct = sim_account(srv, account, venue, hedge_mode=False, labels={"book": "hedge"})
        adapter = CcxtAdapter(acct, urls=srv.base_url, timeout=5.0, ccxt_rate_limit=False, position_max_age_s=0.0)
        store = open_store(f"sqlite://{tmp_path / 'state.db'}")
        rec = Recorder()
        runner, desk, parts = build_runner_and_desk(
            graph(), {f"{venue}/{account}": adapter}, store, lock_path=tmp_path / "lock.json",
            dry_run=False, clock=clock, confirm_gap_ms=TICK_MS, sinks=[rec])
        try:
            await runner.start()
            return await scenario(runner, desk, srv, clock, rec)
        finally:
            await runner.aclose()
            await adapter.close()
            store.close()
            await srv.stop()

    return asyncio.run(asyncio.wait_for(go(), 120))


async def ticks(runner, clock, n: int) -> None:
    for _ in range(n):
        clock.advance(TICK_MS)
        await runner.tick()


NO_LOCKS = LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False)


def metric(text: str, name: str, **labels) -> float:
    """The value of ``name{labels}`` in exposition ``text``."""
    for line in parse_families(text)[name]["samples"]:
        head, _, value = line.rpartition(" ")
        got = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if head.split("{")[0] == name and got == labels:
            return float(value)
    raise AssertionError(f"no sample {name}{labels} in {parse_families(text)[name]['samples']}")


@pytest.mark.parametrize("venue", ["binanceusdm", "bitget"])
def test_a_hedge_account_declared_one_way_is_closed_leg_by_leg_and_the_mismatch_is_loud(tmp_path, caplog, venue):
    caplog.set_level(logging.INFO)

    async def scenario(runner, desk, srv, clock, rec):
        await ticks(runner, clock, 2)
        srv.engine.set_mark("SOLUSDT", 160.0)  # the 1,500 SOL short loses 14 % of its notional
        for _ in range(30):
            await ticks(runner, clock, 1)
            if not srv.engine.positions("sim-hedge"):
                break
        await ticks(runner, clock, 3)
        return desk.status(), desk.metrics_text(), runner.store.journal(limit=100)

    status, metrics, journal = run_case(tmp_path, "sim-hedge", scenario, venue=venue)
    # the book closed: every leg, each with its own positionSide, none refused
    assert journal and all(e.status == "filled" for e in journal), [(e.status, e.reason_code, e.detail)
                                                                    for e in journal]
    assert {e.position_side for e in journal} == {"LONG", "SHORT"}
    mode = status.position_modes[f"{venue}/sim-hedge"]
    assert (mode["read"], mode["declared"], mode["mismatch"]) == ("hedge", "one-way", True)
    assert mode["reason"].startswith("POSITION_MODE_MISMATCH: declared one-way, the venue reads hedge")
    assert "POSITION_MODE_MISMATCH: declared one-way, the venue reads hedge" in status_text(status, NO_LOCKS)
    assert metric(metrics, "killswitch_position_mode_mismatch", venue=venue, account="sim-hedge") == 1
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("POSITION_MODE_MISMATCH")]
    assert len(said) == 1 and f"{venue}/sim-hedge" in said[0], said


def test_the_mismatch_is_one_event_and_its_page_says_what_the_venue_reads(tmp_path):
    async def scenario(runner, desk, srv, clock, rec):
        await ticks(runner, clock, 5)
        return rec.events

    events = run_case(tmp_path, "sim-hedge", scenario)
    mismatches = [e for e in events if e.kind == POSITION_MODE_MISMATCH]
    assert len(mismatches) == 1, [e.kind for e in events]
    page = headline(Alert("fp", dict(mismatches[0].labels), mismatches[0], 0, 0, False))
    # in the words of the standing fact, as ksctl status says it (killswitch/facts/modes.py)
    assert page.startswith("POSITION_MODE_MISMATCH: declared one-way, the venue reads hedge")
    assert page.endswith(": binanceusdm/sim-hedge: closes are sent as the venue's mode")


def test_a_close_the_venue_keeps_refusing_stops_after_its_bound_and_every_view_says_what_it_said(tmp_path):
    async def scenario(runner, desk, srv, clock, rec):
        await ticks(runner, clock, 2)
        srv.engine.set_mark("BTCUSDT", 50_000.0)  # the 5 BTC long loses 16.7 % of its notional
        await ticks(runner, clock, 30)
        console = page_model(desk.status(), (True, "LEADER"), desk.lock_document(), desk.dms_status(), (),
                             await desk.incidents())
        return (desk.status(), desk.metrics_text(), runner.store.journal(limit=1000), rec.events,
                closure_report(runner.store, 0, clock() + 1, clock()), console)

    status, metrics, journal, events, report, console = run_case(
        tmp_path, "sim-main", scenario, fault=lambda srv: srv.faults.add("place_order", "reject_reduce_only"))
    said = "-2022 ReduceOnly Order is rejected."
    # two tries per leg (a refusal a retry cannot mend), then no more: not one a tick for 30 ticks
    per_leg: dict = {}
    for e in journal:
        per_leg[(e.symbol, e.side)] = per_leg.get((e.symbol, e.side), 0) + 1
    assert per_leg and all(n == 2 for n in per_leg.values()), per_leg
    assert all(e.status == "rejected" and e.reason_code == "REDUCE_ONLY_REJECTED" and e.detail == said
               for e in journal), [(e.status, e.reason_code, e.detail) for e in journal]
    # status: CLOSE_REJECTED with the venue's code and message, and a residual per leg
    rejected = [r for r in status.close_rejections if r["state"] == "CLOSE_REJECTED"]
    assert {(r["symbol"], r["tries"], r["bound"], r["venue_said"]) for r in rejected} == \
        {(s, 2, 2, said) for s, _ in per_leg}
    assert {(r.symbol, r.why) for r in status.residuals} == {(s, "CLOSE_REJECTED") for s, _ in per_leg}
    assert all(r.detail == f"2 of 2 orders rejected by the venue: {said}" for r in status.residuals)
    text = status_text(status, NO_LOCKS)
    assert (f"CLOSE_REJECTED binanceusdm/sim-main BTC/USDT:USDT long: 2 orders refused by the venue (given up after "
            f"2 tries): {said}") in text, text
    # the page: each refusal with the venue's words, and the residual
    failed = [e for e in events if e.kind == ORDER_FAILED]
    assert failed and all(e.data["detail"] == said for e in failed)
    assert headline(Alert("fp", dict(failed[0].labels), failed[0], 0, 0, False)).endswith(
        f"REDUCE_ONLY_REJECTED: {said}")
    residual = next(e for e in events if e.kind == CLOSE_RESIDUAL)
    page = headline(Alert("fp", dict(residual.labels), residual, 0, 0, False))
    assert page.startswith("RESIDUAL ") and f": CLOSE_REJECTED (2 of 2 orders rejected by the venue: {said}); " in page
    assert page.strip() in {line.strip() for line in text.splitlines()}, page  # as status says it
    # the metric by the venue's code; the history; the console's journal and banner; the report
    assert metric(metrics, "killswitch_close_rejected_total", venue="binanceusdm", account="sim-main",
                  code="-2022") == len(journal)
    assert f"rejected  REDUCE_ONLY_REJECTED: {said}" in history_text(journal, _Verified())
    assert console["close_rejected"] and console["close_rejected"][0]["venue_said"] == said
    orders = [o for i in console["incidents"] for o in i["orders"]]
    assert orders and all(o["reason"].endswith(f"REDUCE_ONLY_REJECTED: {said}") for o in orders), orders[0]["reason"]
    md = report_markdown(report)
    assert f"- rejected by the venue: {len(journal)} × `{said}`" in md, md
    assert "UNKNOWN" not in md and "UNKNOWN" not in text


def test_a_refusal_that_may_pass_waits_out_a_doubling_backoff(tmp_path):
    async def scenario(runner, desk, srv, clock, rec):
        await ticks(runner, clock, 2)
        srv.engine.set_mark("BTCUSDT", 50_000.0)
        sent_at = []
        for _ in range(20):
            before = len(runner.store.journal(limit=1000))
            await ticks(runner, clock, 1)
            if len(runner.store.journal(limit=1000)) > before:
                sent_at.append(clock())
        return sent_at, desk.status()

    def margin(srv):  # every order refused -2019, as a venue short of margin refuses
        from adapters.simulated.rules import MARGIN_INSUFFICIENT, SimError

        def refuse(*a, **k):
            raise SimError(MARGIN_INSUFFICIENT, "Margin is insufficient.")

        srv.engine.place_order = refuse

    sent_at, status = run_case(tmp_path, "sim-main", scenario, fault=margin)
    gaps = [b - a for a, b in zip(sent_at, sent_at[1:])]
    assert gaps[:4] == [1_000, 2_000, 4_000, 8_000], (sent_at, gaps)  # (the runner's clock; a tick is 1 s)
    r = next(r for r in status.close_rejections if r["symbol"] == "BTC/USDT:USDT")
    assert r["kind"] == "transient" and r["state"] == "retrying" and r["venue_said"] == "-2019 Margin is insufficient."


def test_a_leg_rejected_before_a_restart_stays_stopped_and_one_refused_once_gets_only_the_rest_of_its_bound(
        tmp_path):
    """The counts are saved with the state, as the CLOSE_REJECTED residual is: a runner that stops
    after a leg's first refusal sends it once more (the rest of its bound, not the bound again);
    one that stops after the leg was rejected sends nothing more for it."""
    eng, clock = engine()
    sent: list[int] = []

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock)
        await srv.start()
        srv.faults.add("place_order", "reject_reduce_only")
        acct = sim_account(srv, "sim-main", "binanceusdm", hedge_mode=False, labels={"book": "hedge"})

        async def leg(ticks_n: int, setup=None) -> None:
            adapter = CcxtAdapter(acct, urls=srv.base_url, timeout=5.0, ccxt_rate_limit=False,
                                  position_max_age_s=0.0)
            store = open_store(f"sqlite://{tmp_path / 'state.db'}")
            runner, _, parts = build_runner_and_desk(graph(), {"binanceusdm/sim-main": adapter}, store,
                                                 lock_path=tmp_path / "lock.json", dry_run=False, clock=clock,
                                                 confirm_gap_ms=TICK_MS)
            try:
                await runner.start()
                if setup is not None:
                    await ticks(runner, clock, 1)
                    setup()
                await ticks(runner, clock, ticks_n)
                sent.append(len([e for e in store.journal(limit=1000) if e.symbol == "BTC/USDT:USDT"]))
            finally:
                await runner.aclose()  # (the process stops: what it kept in memory is gone)
                await adapter.close()
                store.close()

        try:
            await leg(1, setup=lambda: eng.set_mark("BTCUSDT", 50_000.0))  # entered, the BTC close refused once
            await leg(20)  # a new process: the rest of its bound (one more), then CLOSE_REJECTED
            await leg(20)  # and another: the residual stands, nothing is sent
        finally:
            await srv.stop()

    asyncio.run(asyncio.wait_for(go(), 120))
    assert sent == [1, 2, 2], sent  # once; once more (its bound of two, counted across the restart); nothing


class _Verified:
    passed = True

    def describe(self, lead: str = "") -> str:
        return lead + "ok"
