"""Reader processes (``ksctl run --readers``, adapters/remote/) against the simulated exchange
run as its own process (:class:`~tests.integration.test_processes.Sim`).

1. ``ksctl run --readers 1`` leading: its reader SIGKILLed. The account's snapshots fail with
   ``READER_DOWN`` (blind, never calm) until the reader is started again (``READER_UP``, one
   restart counted), then they go through again, and the crash that follows is flattened with no
   order sent twice and the journal agreeing with the venue.
2. A reader wedged (SIGSTOP) under a pool of this process with a short ``stall_s``: declared
   down after it, the call in flight failed with ``READER_DOWN`` rather than left to its own
   timeout, the calls after it refused at once, the process killed and started again.
3. A frame lost on the link (the frames after it arrive one further in sequence than the decider
   expects) just as a snapshot's change crosses: the mirror holds nothing to apply it to, and
   the snapshot is read whole, as the venue holds the account.
4. The send gate: with the lease term the decider publishes in the past, a gated order is
   withheld in the reader (its own look at the term just before the request leaves) and the
   venue never sees it; with the term ahead, it goes.
5. ``ksctl run --readers 1``'s reader SIGKILLed while the venue holds an order it executed but
   has not answered: the order's fate is unknown (``READER_DOWN`` in flight), settled by asking
   the venue once the reader answers again, never journaled as refused.

Everything listens on 127.0.0.1; every process started here is ended in ``finally`` by its own id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sqlite3
import time
import urllib.request
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any, Optional

import pytest

import adapters.remote.link as link_module
from adapters.base import AdapterError, Reason, SendWithheld, send_gate
from adapters.remote import ReaderPool, deal
from adapters.remote.wire import read_frame
from killswitch.process.bootstrap import ccxt_adapters, read_accounts, reader_adapters
from tests.procs import accounts_file, free_port, until, wait_port

from .sim_helpers import BTC_U, intent, run
from .test_processes import (
    ENV,
    Sim,
    assert_no_repeat_no_loss,
    diagnose,
    positions,
    saved,
    start_runner,
    stop,
    wait_for,
    wait_settled,
    write_inputs,
)

KEY = "binanceusdm/sim-main"
CASE_S = 120.0  # a bound on an in-process case that only a hang reaches


# --- helpers -------------------------------------------------------------------------------------------


def reader_pids(runner_pid: int) -> list[int]:
    """The reader processes among the runner's children (multiprocessing's spawned interpreters;
    not its resource tracker)."""
    out = []
    for children in Path(f"/proc/{runner_pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"spawn_main" in cmdline:
                out.append(int(pid))
    return sorted(out)


def metric(port: int, name: str, **labels: str) -> Optional[float]:
    """The sample of ``name`` whose labels include ``labels`` on the runner's ``/metrics`` (None: none)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    for m in re.finditer(rf"^{name}(?:\{{(.*?)\}})? (\S+)$", text, re.M):
        said = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(said.get(k) == v for k, v in labels.items()):
            return float(m.group(2))
    return None


def runner_said(tmp: Path) -> str:
    """What the runner started by ``start_runner(..., "runner")`` logged so far (stdout and stderr)."""
    return "".join((tmp / f"runner.{out}").read_text() for out in ("out", "err"))


def orders_at_venue(sim: Sim) -> list[dict]:
    return list(sim.state()["accounts"]["sim-main"]["orders"])


def venue_legs(sim: Sim) -> dict[str, float]:
    """The account's positions at the venue (its one-way legs, ``BTCUSDT/BOTH``) as signed sizes,
    by ccxt symbol."""
    return {f"{leg.split('/')[0][:-4]}/USDT:USDT": amount for leg, amount in positions(sim.state()).items()}


def snapshot_legs(snap: Any) -> dict[str, float]:
    return {p.symbol: p.contracts * (1 if p.side == "long" else -1) for p in snap.positions}


@pytest.fixture
def calm(tmp_path, monkeypatch):
    """The simulated exchange (calm, its marks moving) and the Accounts spec of its sim-main
    account, whose keys the reader processes read from the environment they inherit."""
    for name in ("KS_T_KEY", "KS_T_SECRET"):
        monkeypatch.setenv(name, ENV[name])
    sim = Sim(tmp_path, scenario="calm")
    try:
        yield sim, read_accounts(str(accounts_file(tmp_path, sim.port, dry_run="false", paced=True)))
    finally:
        sim.close()


def pool_of(accounts: Any, stall_s: float) -> ReaderPool:
    """One reader of these accounts, built as ``reader_adapters`` builds them, with ``stall_s``."""
    by_key = {f"{a.venue}/{a.name}": a for a in accounts}
    [keys] = deal(((k, a.venue) for k, a in by_key.items()), 1)
    return ReaderPool([(keys, partial(ccxt_adapters, [by_key[k] for k in keys]))], stall_s=stall_s)


# --- 1. ksctl run --readers 1: a reader SIGKILLed -----------------------------------------------------


def test_a_reader_killed_while_the_runner_leads_blinds_its_account_until_it_answers_again(tmp_path, monkeypatch):
    monkeypatch.setitem(ENV, "KS_READERS", "1")  # (the runners' environment)
    sim = Sim(tmp_path, hold=True)
    url = f"sqlite://{tmp_path / 'state.db'}"
    api = free_port()
    runner = None

    def said() -> str:
        return runner_said(tmp_path)

    try:
        start = positions(sim.state())
        pol, acc = write_inputs(tmp_path, sim.port)
        runner = start_runner(tmp_path, pol, acc, url, "readers", "runner", api_port=api)
        wait_for(lambda: saved(url), 60, "the runner's first tick")
        wait_port(api)
        [reader] = wait_for(lambda: reader_pids(runner.pid), 10, "the reader process")
        assert metric(api, "killswitch_account_fetch_ok", account=KEY) == 1
        os.kill(reader, signal.SIGKILL)

        wait_for(lambda: (metric(api, "killswitch_snapshot_failures_total", reason="READER_DOWN") or 0) > 0, 30,
                 "a snapshot of the account failed with READER_DOWN")
        assert f"FETCH_FAILING: {KEY}: READER_DOWN" in said()
        wait_for(lambda: "READER_UP" in said(), 60, "the reader started again")
        assert "READER_DOWN: reader 0" in said()
        assert metric(api, "killswitch_reader_restarts_total", reader="0") == 1
        assert metric(api, "killswitch_reader_up", reader="0") == 1
        [again] = reader_pids(runner.pid)
        assert again != reader
        wait_for(lambda: f"FETCH_RECOVERED: {KEY}" in said(), 30, "the account's snapshots fetched again")
        assert metric(api, "killswitch_account_fetch_ok", account=KEY) == 1

        sim.go()  # the crash: the runner flattens through its new reader
        ok, how_long = wait_settled(sim, url)
        if not ok:
            pytest.fail(f"not settled: {how_long}\n{diagnose(sim, url)}")
        stop(runner)
        assert_no_repeat_no_loss(sim, url, start)
        assert "Traceback" not in said()
    finally:
        stop(runner)
        sim.close()


# --- 2. a wedged reader -------------------------------------------------------------------------------

STALL_S = 3.0  # the pool's stall bound here (the beat is every 0.25 s)
CALL_TIMEOUT_S = 60.0  # the call's own bound: a call left to wait on a wedged reader reaches it


def test_a_wedged_reader_is_declared_down_after_stall_s_and_started_again(calm, caplog):
    sim, spec = calm
    caplog.set_level(logging.INFO, logger="killswitch.runner.readers")

    async def case() -> None:
        pool = pool_of(spec.accounts, STALL_S)
        wedged: Optional[int] = None
        try:
            remote = (await pool.start())[KEY]
            await remote.load_symbols()
            assert (await remote.snapshot()).fetch.ok
            link = pool.links[0]
            [wedged] = pool.pids()
            os.kill(wedged, signal.SIGSTOP)

            async def bounded() -> Any:
                async with asyncio.timeout(CALL_TIMEOUT_S):
                    return await remote.snapshot()

            in_flight = asyncio.create_task(bounded())
            with pytest.raises(AdapterError) as failed:
                await in_flight
            assert failed.value.reason is Reason.READER_DOWN and "in flight" in failed.value.message, failed.value
            assert link.down_reason() is not None and "stalled" in str(link.down_reason())
            # every call now fails before it leaves, until the reader answers again
            for call in (remote.snapshot(), remote.open_orders(), remote.fetch_order(BTC_U, "ks-x")):
                with pytest.raises(AdapterError) as refused:
                    await call
                assert refused.value.reason is Reason.READER_DOWN and "in flight" not in refused.value.message

            await until(lambda: link.down_reason() is None, "the reader started again", CASE_S)
            assert link.restarts == 1 and wedged not in pool.pids()
            assert not os.path.exists(f"/proc/{wedged}"), "the wedged reader was ended"
            wedged = None
            snap = await remote.snapshot()
            assert snap.fetch.ok and snapshot_legs(snap) == venue_legs(sim)
        finally:
            if wedged is not None and os.path.exists(f"/proc/{wedged}"):
                os.kill(wedged, signal.SIGCONT)
            await pool.close()

    run(case(), CASE_S)
    lines = [r.getMessage() for r in caplog.records if r.name == "killswitch.runner.readers"]
    assert any(line.startswith("READER_DOWN: reader 0") and "stalled" in line for line in lines), lines
    assert any(line.startswith("READER_UP: reader 0") for line in lines), lines


# --- 3. a frame lost as a snapshot's change crosses ----------------------------------------------------


class OneFrameLost:
    """The link's frames as read, one further in sequence from the reply that follows :meth:`lose`
    on (a frame lost just before it); the snapshots each reply carried: (its number, its base)."""

    def __init__(self) -> None:
        self._lose = False
        self._offset = 0
        self.crossed: list[tuple[int, Optional[int]]] = []

    def lose(self) -> None:
        self._lose = True

    async def __call__(self, stream: asyncio.StreamReader) -> Optional[tuple]:
        message = await read_frame(stream)
        if message is None:
            return None
        if message[1] == "reply":
            if self._lose:
                self._lose, self._offset = False, self._offset + 1
            value = message[4]
            if message[3] and isinstance(value, tuple) and len(value) == 5 and isinstance(value[2], dict):
                self.crossed.append((value[0], value[1]))
        return (message[0] + self._offset, *message[1:])


def test_a_frame_lost_as_a_snapshots_change_crosses_reads_the_next_whole(calm, monkeypatch, caplog):
    sim, spec = calm
    frames = OneFrameLost()
    monkeypatch.setattr(link_module, "read_frame", frames)
    caplog.set_level(logging.WARNING, logger="killswitch.runner.readers")

    async def case() -> None:
        built, pool = await reader_adapters(spec.accounts, 1)
        try:
            remote = built.by_key[KEY]
            link = pool.links[0]
            await remote.load_symbols()
            first = await remote.snapshot()
            # the venue moves: a part of a position closed, which the next change carries
            res = await remote.submit(intent(BTC_U, "sell", 1.0, cid="ks-gap-1", venue="binanceusdm"))
            assert res.status == "filled"
            frames.lose()
            after = await remote.snapshot()
            assert link.gaps == 1
            held, change, whole = frames.crossed[-3:]
            assert change[1] == held[0], "the change of the snapshot the mirror held crossed"
            assert whole[1] is None, "then the snapshot was asked for and read whole"
            assert after.fetch.ok and snapshot_legs(after) == venue_legs(sim) != snapshot_legs(first)
            # and the changes go on from the whole one
            again = await remote.snapshot()
            assert frames.crossed[-1][1] == whole[0] and snapshot_legs(again) == snapshot_legs(after)
        finally:
            await pool.close()

    run(case(), CASE_S)
    assert any(r.getMessage().startswith("READER_GAP: reader 0") for r in caplog.records)


# --- 4. the send gate ----------------------------------------------------------------------------------


def test_a_gated_order_is_withheld_in_the_reader_once_the_published_term_has_passed(calm):
    sim, spec = calm

    def sent(cid: str) -> bool:
        return any(o.get("client_order_id") == cid for o in orders_at_venue(sim))

    async def case() -> None:
        built, pool = await reader_adapters(spec.accounts, 1)
        term = [0.0]  # the lease's term as the decider's leadership says it: none held
        try:
            remote = built.by_key[KEY]
            await remote.load_symbols()
            pool.follow_term(lambda: term[0])
            assert pool.term.value == 0.0
            with send_gate(lambda: True):  # the caller's own look passes: the reader's withholds it
                with pytest.raises(SendWithheld) as withheld:
                    await remote.submit(intent(BTC_U, "sell", 0.5, cid="ks-gate-1", venue="binanceusdm"))
            assert "held back before it was sent" in str(withheld.value)
            assert not sent("ks-gate-1")

            term[0] = time.monotonic() + CASE_S
            await until(lambda: pool.term.value == term[0], "the term published to the readers", 10)
            with send_gate(lambda: True):
                res = await remote.submit(intent(BTC_U, "sell", 0.5, cid="ks-gate-2", venue="binanceusdm"))
            assert res.status == "filled" and sent("ks-gate-2")

            # the caller's gate closed: withheld before the call leaves for the reader at all
            with send_gate(lambda: False):
                with pytest.raises(SendWithheld):
                    await remote.submit(intent(BTC_U, "sell", 0.5, cid="ks-gate-3", venue="binanceusdm"))
            assert not sent("ks-gate-3") and not sent("ks-gate-1")
        finally:
            await pool.close()

    run(case(), CASE_S)


def test_a_reader_killed_with_an_order_in_flight_leaves_its_fate_to_the_reconciliation(tmp_path, monkeypatch):
    monkeypatch.setitem(ENV, "KS_READERS", "1")  # (the runners' environment)
    # the venue executes the first order and never answers it: the reader waits on it when it is killed
    sim = Sim(tmp_path, hold=True, faults=[{"op": "place_order", "kind": "timeout", "applied": True, "times": 1}])
    url = f"sqlite://{tmp_path / 'state.db'}"
    runner = None
    try:
        start = positions(sim.state())
        pol, acc = write_inputs(tmp_path, sim.port)
        runner = start_runner(tmp_path, pol, acc, url, "readers", "runner")
        wait_for(lambda: saved(url), 60, "the runner's first tick")
        [reader] = wait_for(lambda: reader_pids(runner.pid), 10, "the reader process")
        sim.go()
        [first] = wait_for(lambda: orders_at_venue(sim), 60, "the first order executed at the venue")
        os.kill(reader, signal.SIGKILL)
        wait_for(lambda: "READER_UP" in runner_said(tmp_path), 60, "the reader started again")
        ok, how_long = wait_settled(sim, url)
        if not ok:
            pytest.fail(f"not settled: {how_long}\n{diagnose(sim, url)}")
        stop(runner)
        journal = assert_no_repeat_no_loss(sim, url, start)
        # journaled as the venue holds it: unknown when its reader ended, then settled by asking,
        # never as refused
        [entry] = [e for e in journal if e.client_order_id == first["client_order_id"]]
        assert entry.status == "filled", entry
        with closing(sqlite3.connect(tmp_path / "state.db")) as db:
            results = db.execute("SELECT status, reason_code FROM order_result WHERE client_order_id = ? ORDER BY seq",
                                 (entry.client_order_id,)).fetchall()
        assert results == [("unknown", "READER_DOWN"), ("filled", None)], results
        assert "order rejected" not in runner_said(tmp_path)
    finally:
        stop(runner)
        sim.close()


def test_the_markets_a_snapshot_loads_in_the_reader_are_listed_to_the_decider(calm):
    """The first snapshot loads the account's markets in the reader (no ``load_symbols`` asked):
    its symbols reach the decider with that call's answer, as they would from an adapter of its
    own process. Listed from the snapshot alone, a symbol the account no longer holds would be
    refused by the gate as UNKNOWN_SYMBOL."""
    sim, spec = calm

    async def case() -> None:
        built, pool = await reader_adapters(spec.accounts, 1)
        try:
            remote = built.by_key[KEY]
            assert remote.symbols() is None  # nothing loaded yet
            snap = await remote.snapshot()
            assert snap.fetch.ok, snap.fetch
            listed = remote.symbols()
            assert listed is not None and BTC_U in listed and {p.symbol for p in snap.positions} <= listed
        finally:
            await pool.close()

    run(case(), CASE_S)
