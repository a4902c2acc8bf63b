"""Closes the venue refused are durable facts (issue 65, the High defect): the simulated
exchange's Binance USDⓈ-M face refuses every close of the hedge account (-2022), both legs of
each symbol (ETH: 30 long, 80 short), and each refused leg is its own fact — in ``/v1/status``'s
``close_rejections``, on the console's first screen, and paged on its own — that a restarted
runner (a fresh one on the same SQLite store) and a standby that takes over (PostgreSQL) show as
the first one did, until it is resolved: the leg closed, or a person accepted it. A runner that
stopped between the venue's refusal and the save finds the refusal in the journal.

On the old code the restarted runner and the standby answered ``close_rejections: []`` and the
console had no CLOSES REJECTED line: the refusals were the process's memory."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.venues import sim_account
from killswitch.events import CLOSE_RESIDUAL
from killswitch.face.console.model import page_model
from killswitch.notify.alerts import Alert, fingerprint
from killswitch.notify.message import headline
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.render.status import status_text
from killswitch.state import open_store
from tests.integration.sim_helpers import engine
from tests.integration.venue.test_truth_runner import NO_LOCKS, TICK_MS, Recorder, graph, ticks
from tests.unit.face.console.test_model import render, text_of

ACCOUNT = "binanceusdm/sim-hedge"
SAID = "-2022 ReduceOnly Order is rejected."
# the hedge account's book (adapters/simulated/scenarios.py BOOK_HEDGE): every leg a close_all refused
LEGS = {("BTC/USDT:USDT", "LONG"), ("BTC/USDT:USDT", "SHORT"), ("ETH/USDT:USDT", "LONG"), ("ETH/USDT:USDT", "SHORT"),
        ("SOL/USDT:USDT", "SHORT")}


class Venue:
    """The simulated exchange's Binance face over a manual clock, refusing every close -2022."""

    def __init__(self, tmp_path, url: str):
        self.tmp_path, self.url = tmp_path, url
        self.eng, self.clock = engine()
        self.srv = SimServer(self.eng, auth_clock=wall_clock)
        self.open: list = []

    async def __aenter__(self) -> "Venue":
        await self.srv.start()
        self.srv.faults.add("place_order", "reject_reduce_only")
        self.acct = sim_account(self.srv, "sim-hedge", "binanceusdm", hedge_mode=False, labels={"book": "hedge"})
        return self

    async def runner(self, holder: str = "runner", rec=None):
        """A runner (not started) on the venue and the store: (runner, desk, store)."""
        adapter = CcxtAdapter(self.acct, urls=self.srv.base_url, timeout=5.0, ccxt_rate_limit=False,
                              position_max_age_s=0.0)
        store = open_store(self.url)
        runner, desk, _ = build_runner_and_desk(graph(), {ACCOUNT: adapter}, store,
                                                lock_path=self.tmp_path / f"lock-{holder}.json", dry_run=False,
                                                clock=self.clock, confirm_gap_ms=TICK_MS, holder=holder,
                                                sinks=[rec] if rec is not None else [])
        self.open.append((runner, adapter, store))
        return runner, desk, store

    async def stop(self, runner) -> None:
        for r, adapter, store in [x for x in self.open if x[0] is runner]:
            await r.aclose()
            await adapter.close()
            store.close()
        self.open = [x for x in self.open if x[0] is not runner]

    async def refused(self, runner) -> None:
        """The SOL short loses 14 %: the policy closes the whole book, and the venue refuses it all."""
        await runner.start()
        await ticks(runner, self.clock, 2)
        self.eng.set_mark("SOLUSDT", 160.0)
        await ticks(runner, self.clock, 12)

    async def __aexit__(self, *exc) -> None:
        for runner, _, _ in list(self.open):
            await self.stop(runner)
        await self.srv.stop()


def go(coro_fn, tmp_path, url: str):
    async def main():
        async with Venue(tmp_path, url) as v:
            return await coro_fn(v)

    return asyncio.run(asyncio.wait_for(main(), 180))


def rejected(status) -> set:
    return {(r["symbol"], r["leg"]) for r in status.close_rejections if r["state"] == "CLOSE_REJECTED"}


async def first_screen(desk) -> dict:
    return page_model(desk.status(), (True, "LEADER"), desk.lock_document(), desk.dms_status(), (),
                      await desk.incidents())


def test_each_refused_leg_stands_after_a_restart_on_the_status_and_the_first_screen_and_is_paged(tmp_path):
    async def case(v: Venue):
        rec = Recorder()
        a, desk_a, store = await v.runner("a", rec)
        await v.refused(a)
        before = desk_a.status()
        sent = len(store.journal(limit=1000))
        await v.stop(a)  # a deploy, a crash, a node move: the process and its memory are gone
        v.clock.advance(6_000)  # (its lease ran out)
        b, desk_b, store_b = await v.runner("b")
        await b.start()
        at_start = desk_b.status()  # rebuilt from the store at start, before any tick
        await ticks(b, v.clock, 5)
        return before, at_start, desk_b.status(), await first_screen(desk_b), rec.events, sent, \
            len(store_b.journal(limit=1000))

    before, at_start, after, screen, events, sent, sent_after = go(case, tmp_path, f"sqlite://{tmp_path / 's.db'}")
    assert rejected(before) == LEGS, before.close_rejections
    assert after.leader and after.holder == "b"
    for status in (at_start, after):  # the same facts, the venue's words, tries and times
        assert rejected(status) == LEGS, status.close_rejections
        assert {(r["tries"], r["bound"], r["venue_said"], r["reason"]) for r in status.close_rejections} == \
            {(2, 2, SAID, "REDUCE_ONLY_REJECTED")}
        assert [(r["first_ms"], r["last_ms"]) for r in status.close_rejections] == \
            [(r["first_ms"], r["last_ms"]) for r in before.close_rejections]
    assert sent_after == sent  # nothing sent again for a leg stopped in its incident
    text = status_text(after, NO_LOCKS)
    assert ("CLOSE_REJECTED binanceusdm/sim-hedge ETH/USDT:USDT SHORT: 2 orders refused by the venue (given up after "
            "2 tries)") in text
    assert "since 2026-03-02T" in text and "or ksctl close-accept --account A" in text, text
    # the console's first screen: the standing problem, each leg with the venue's words
    assert {(r["symbol"], r["leg"]) for r in screen["close_rejected"]} == LEGS
    assert screen["standing"]["rejected"].line.startswith("not sent again: ")
    assert all(r["venue_said"] == SAID and r["since"] for r in screen["close_rejected"])
    # paged: each leg its own alert (the 80 ETH short as well as the 30 ETH long)
    pages = [e for e in events if e.kind == CLOSE_RESIDUAL]
    assert {(e.labels["symbol"], e.labels["leg"]) for e in pages} == LEGS
    eth = {e.labels["leg"]: e for e in pages if e.labels["symbol"] == "ETH/USDT:USDT"}
    assert fingerprint(eth["LONG"].labels, None) != fingerprint(eth["SHORT"].labels, None)
    words = {leg: headline(Alert("fp", dict(e.labels), e, 0, 0, False)) for leg, e in eth.items()}
    assert " ETH/USDT:USDT long LONG 30: CLOSE_REJECTED" in words["LONG"] and \
        " ETH/USDT:USDT short SHORT 80: CLOSE_REJECTED" in words["SHORT"], words  # as status says each leg


def test_a_standby_that_takes_over_on_postgresql_shows_the_refused_legs(tmp_path, pg_database):
    async def case(v: Venue):
        a, desk_a, store = await v.runner("a")
        b, desk_b, _ = await v.runner("b")
        await b.start()  # a standby: it follows what the leader saves
        await v.refused(a)
        v.clock.advance(TICK_MS)
        await b.tick()
        following = desk_b.status()
        sent = len(store.journal(limit=1000))
        # the leader dies (no clean stop): its lease runs out, the standby takes it
        v.clock.advance(6_000)
        await b.tick()
        await ticks(b, v.clock, 3)
        took = desk_b.status()
        return following, took, await first_screen(desk_b), sent, len(store.journal(limit=1000))

    following, took, screen, sent, sent_after = go(case, tmp_path, pg_database)
    assert not following.leader and rejected(following) == LEGS, following.close_rejections
    assert took.leader and took.holder == "b", (took.holder, took.lease_holder)
    assert rejected(took) == LEGS, took.close_rejections
    assert {(r["symbol"], r["leg"]) for r in screen["close_rejected"]} == LEGS
    assert sent_after == sent


def test_a_leg_closed_at_the_venue_ends_its_fact_and_a_person_accepts_another(tmp_path):
    async def case(v: Venue):
        a, desk, store = await v.runner("a")
        await v.refused(a)
        # the ETH long closed by hand at the venue: its fact ends with its position
        v.eng.place_order("sim-hedge", "ETHUSDT", "SELL", "MARKET", 30.0, position_side="LONG")
        await ticks(a, v.clock, 2)
        closed = desk.status()
        typo = await desk.accept_rejection("binanceusdm/sim-hedj", "handled by hand", actor="alice")
        accepted = await desk.accept_rejection(ACCOUNT, "kept open on purpose: the desk hedges it",
                                               symbol="ETH/USDT:USDT", leg="short", actor="alice")
        await ticks(a, v.clock, 2)
        after = desk.status()
        rows = [r.payload for r in store.audit_rows(kinds=["close_rejection_accepted"])]
        ended = [r.payload for r in store.audit_rows(kinds=["close_residual_ended"])]
        await v.stop(a)
        v.clock.advance(6_000)
        b, desk_b, _ = await v.runner("b")
        await b.start()
        await ticks(b, v.clock, 2)
        return closed, typo, accepted, after, rows, ended, desk_b.status(), await first_screen(desk_b)

    closed, typo, accepted, after, rows, ended, restarted, screen = go(case, tmp_path,
                                                                       f"sqlite://{tmp_path / 's.db'}")
    assert rejected(closed) == LEGS - {("ETH/USDT:USDT", "LONG")}, closed.close_rejections
    assert {(e["symbol"], e["why"]) for e in ended} >= {("ETH/USDT:USDT", "POSITION_CLOSED")}
    assert not typo.done and typo.reason.startswith("UNKNOWN_REJECTION: no rejected close of binanceusdm/sim-hedj")
    assert "did you mean binanceusdm/sim-hedge?" in typo.reason
    assert accepted.done and accepted.reason.startswith(
        "CLOSE_REJECTION_ACCEPTED: ETH/USDT:USDT SHORT on binanceusdm/sim-hedge by alice"), accepted.reason
    refused, row = rows  # the typo's refusal is audited too, with its author and what it named
    assert (refused["by"], refused["account"], refused["legs"]) == ("alice", "binanceusdm/sim-hedj", [])
    assert refused["refused"].startswith("UNKNOWN_REJECTION: ")
    assert (row["by"], row["reason"]) == ("alice", "kept open on purpose: the desk hedges it")
    assert [(x["symbol"], x["leg"], x["venue_said"]) for x in row["legs"]] == [("ETH/USDT:USDT", "SHORT", SAID)]
    rest = LEGS - {("ETH/USDT:USDT", "LONG"), ("ETH/USDT:USDT", "SHORT")}
    for status in (after, restarted):
        assert rejected(status) == rest, status.close_rejections
    assert {(r["symbol"], r["leg"]) for r in screen["close_rejected"]} == rest
    # accepted is not sent again: its residual (the position left) stands under Residuals
    assert ("ETH/USDT:USDT", "SHORT") in {(r.symbol, r.position_side) for r in restarted.residuals}


def _strip_refusals(db) -> None:
    """The state as saved before the venue's refusals were counted: no ledger, no residual of them."""
    con = sqlite3.connect(db)
    try:
        doc = json.loads(con.execute("SELECT doc FROM engine_state WHERE id = 1").fetchone()[0])
        doc.pop("rejections", None)
        doc["residuals"] = [r for r in doc.get("residuals") or [] if r["why"] != "CLOSE_REJECTED"]
        con.execute("UPDATE engine_state SET doc = ? WHERE id = 1", (json.dumps(doc),))
        con.commit()
    finally:
        con.close()


def test_a_runner_stopped_between_the_refusal_and_the_save_finds_the_refusals_in_the_journal(tmp_path):
    db = tmp_path / "s.db"

    async def case(v: Venue):
        a, _, store = await v.runner("a")
        await v.refused(a)
        sent = len(store.journal(limit=1000))
        await v.stop(a)
        _strip_refusals(db)  # the process died after the venue answered and the journal took it, before the save
        v.clock.advance(6_000)  # (its lease ran out)
        b, desk, store_b = await v.runner("b")
        await b.start()
        await ticks(b, v.clock, 3)
        return desk.status(), await first_screen(desk), sent, len(store_b.journal(limit=1000))

    status, screen, sent, sent_after = go(case, tmp_path, f"sqlite://{db}")
    assert status.leader
    assert rejected(status) == LEGS, status.close_rejections  # a visible rejection, never "no open incident"
    assert {(r["tries"], r["venue_said"]) for r in status.close_rejections} == {(2, SAID)}
    assert {(r.symbol, r.why) for r in status.residuals} == {(s, "CLOSE_REJECTED") for s, _ in LEGS}
    assert {(r["symbol"], r["leg"]) for r in screen["close_rejected"]} == LEGS
    assert sent_after == sent  # their bound was spent before the stop: nothing more is sent


@pytest.fixture
def pg_database(pg_database):  # (the session's server: a database of this test's own)
    open_store(pg_database).close()
    return pg_database


@pytest.mark.parametrize("lost", [False, True], ids=["saved", "lost-before-the-save"])
def test_a_refused_manual_close_of_both_hedge_legs_stands_on_the_first_screen_after_a_restart(tmp_path, lost):
    """The walk's case: no stage entered, an operator's close of ETH on the hedge account refused on
    both legs (-2022). After a restart the first screen said "No open incident"; it says the
    refused closes stand, whether the save took them or the runner stopped before it."""
    db = tmp_path / "s.db"

    async def case(v: Venue):
        a, desk, store = await v.runner("a")
        await a.start()
        await ticks(a, v.clock, 2)
        preview = await desk.close(ACCOUNT, "flatten ETH by hand", dry_run=True, symbol="ETH/USDT:USDT")
        closed = await desk.close(ACCOUNT, "flatten ETH by hand", dry_run=False, symbol="ETH/USDT:USDT",
                                  preview_id=preview.preview_id, actor="alice")
        assert closed.accepted, closed.reason
        await ticks(a, v.clock, 3)
        before = desk.status()
        await v.stop(a)
        if lost:
            _strip_refusals(db)
        v.clock.advance(6_000)
        b, desk_b, _ = await v.runner("b")
        await b.start()
        await ticks(b, v.clock, 2)
        screen = await first_screen(desk_b)
        return before, desk_b.status(), screen, text_of(render(screen))

    before, after, screen, html = go(case, tmp_path, f"sqlite://{db}")
    eth = {("ETH/USDT:USDT", "LONG"), ("ETH/USDT:USDT", "SHORT")}
    assert rejected(before) == eth, before.close_rejections
    assert after.leader and rejected(after) == eth, after.close_rejections
    assert all(r["incident"].startswith("manual/binanceusdm/sim-hedge/m") and (r["tries"], r["bound"]) == (1, 1)
               for r in after.close_rejections)
    assert not screen["incidents"] and {(r["symbol"], r["leg"]) for r in screen["close_rejected"]} == eth
    assert "No open incident" not in html
    assert "No stage entered (every scope is at stage 0), but 2 closes the venue rejected stand" in html
