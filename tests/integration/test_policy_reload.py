"""A policy reload compiles on a worker thread: the API answers and the ticks go on with the last
good graph while it runs; the new graph is swapped in between two ticks; a compile that crashes
is a failed reload, not the end of the runner.

The runner runs in-process (``Daemon.run``) against the simulated exchange served on 127.0.0.1;
the compile is held by a fake until the test releases it, so "during the compile" is a fact of
the test's construction, not a race against a clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import threading
import urllib.request

import pytest

from killswitch.process import reloads
from killswitch.process.daemon import Daemon
from killswitch.process.options import RunOptions
from tests.conftest import POLICIES
from tests.procs import Receiver, accounts_file, free_port, paced_by_the_simulator, simulated_exchange, until

DEADLINE_S = 60.0  # generous: a bound on waits for events, never a measured duration


@pytest.fixture
def exchange():
    with simulated_exchange() as port:
        yield port


@pytest.fixture
def receiver():
    rcv = Receiver()
    try:
        yield rcv
    finally:
        rcv.close()


def _routes(pol, receiver: Receiver) -> None:
    """The example routes, their fallback receiver taking every page (the example's is a closed
    port: its pages were still being retried when the runner stopped, and the stop waited 5 s)."""
    routes = (POLICIES / "routes.yaml").read_text()
    assert "json://127.0.0.1:9099/killswitch" in routes
    (pol / "routes.yaml").write_text(routes.replace("127.0.0.1:9099", f"127.0.0.1:{receiver.port}"))


def _get_status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/status", timeout=DEADLINE_S / 2) as r:
        return json.loads(r.read())


def test_the_api_answers_and_ticks_go_on_while_a_reload_compiles(tmp_path, exchange, receiver, monkeypatch):
    pol = tmp_path / "policies"
    pol.mkdir()
    book = (POLICIES / "futures-book.yaml").read_text().replace("interval: 5s", "interval: 200ms")
    assert "interval: 200ms" in book and "dd_15m >= 10%" in book
    (pol / "futures-book.yaml").write_text(book)
    _routes(pol, receiver)
    paced_by_the_simulator(monkeypatch)
    monkeypatch.setenv("KS_T_KEY", "sim-main-key")
    monkeypatch.setenv("KS_T_SECRET", "sim-main-secret")
    monkeypatch.delenv("KS_API_TOKEN", raising=False)
    api_port = free_port()
    opts = RunOptions((str(pol),), str(accounts_file(tmp_path, exchange)), f"sqlite://{tmp_path / 'state.db'}",
                      str(tmp_path / "lock.json"), api_port=api_port,
                      console_public=True)  # no token here: the status is read without one
    said: list[str] = []
    daemon = Daemon(opts, said.append, said.append)

    real = reloads._compile_for_reload
    started, release = threading.Event(), threading.Event()

    def held_compile(paths, max_file_bytes, accounts=None, on_read=None):  # on the worker thread: reads, waits

        def read_then_hold(files, revision):  # the sources read and handed; their compile held
            if on_read is not None:
                on_read(files, revision)
            started.set()
            assert release.wait(DEADLINE_S), "the test never released the compile"

        return real(paths, max_file_bytes, accounts, read_then_hold)

    def crashing_compile(paths, max_file_bytes, accounts=None, on_read=None):  # what the worker thread calls
        raise RuntimeError("a compiler bug")

    async def scenario() -> int:
        run = asyncio.create_task(daemon.run())
        await until(lambda: daemon.runner is not None and daemon.parts.counters["ticks"] >= 1, "a first tick")
        parts = daemon.parts
        first = parts.book.graph.digest
        assert (await asyncio.to_thread(_get_status, api_port))["graph_digest"] == first

        # a slow compile: the change is read, then held on the worker thread until released
        monkeypatch.setattr(reloads, "_compile_for_reload", held_compile)
        (pol / "futures-book.yaml").write_text(book.replace("dd_15m >= 10%", "dd_15m >= 9%"))
        daemon.reload.set()  # what SIGHUP does
        assert await asyncio.to_thread(started.wait, DEADLINE_S), "the reload never started compiling"
        ticks = parts.counters["ticks"]
        status = await asyncio.to_thread(_get_status, api_port)  # answered while the compile is held
        assert not release.is_set()
        assert status["graph_digest"] == first and status["policy_error"] is None
        # the edited file is read and handed, not taken up yet: not in sync with the files, no error
        sync = status["policy_sync"]
        edited = hashlib.sha256((pol / "futures-book.yaml").read_bytes()).hexdigest()
        assert not sync["in_sync_with_files"] and sync["reload_error"] is None and sync["since_ms"] is not None
        assert {"path": "futures-book.yaml", "sha256": edited} in sync["handed"]["documents"]
        assert {"path": "futures-book.yaml", "sha256": hashlib.sha256(book.encode()).hexdigest()} \
            in sync["running"]["documents"]
        assert [d["path"] for d in sync["running"]["documents"]] == ["futures-book.yaml", "routes.yaml"]
        await until(lambda: parts.counters["ticks"] >= ticks + 2, "ticks while the compile is held")
        assert parts.book.graph.digest == first, "the last good graph runs until the new one is compiled"

        release.set()
        await until(lambda: parts.book.graph.digest != first, "the new graph swapped in")
        second = parts.book.graph.digest
        assert parts.reloads.error is None
        status = await asyncio.to_thread(_get_status, api_port)
        assert status["graph_digest"] == second and status["policy_sync"]["in_sync_with_files"]
        assert status["policy_sync"]["handed"] is None and status["policy_sync"]["running"]["digest"] == second
        assert {"path": "futures-book.yaml", "sha256": edited} in status["policy_sync"]["running"]["documents"]

        # a compiler crash on the worker thread: a failed reload, said loudly; the runner goes on
        monkeypatch.setattr(reloads, "_compile_for_reload", real)
        monkeypatch.setattr(reloads, "compile_policy_sources", crashing_compile)
        daemon.reload.set()
        await until(lambda: parts.reloads.error is not None, "the failed reload reported")
        assert "internal error while compiling the policies: RuntimeError" in parts.reloads.error
        assert "a compiler bug" not in parts.reloads.error  # a crash's text could quote a document
        assert parts.book.graph.digest == second and not run.done()
        ticks = parts.counters["ticks"]
        await until(lambda: parts.counters["ticks"] > ticks, "a tick after the failed reload")
        status = await asyncio.to_thread(_get_status, api_port)
        assert status["graph_digest"] == second and "internal error" in status["policy_error"]
        assert not status["policy_sync"]["in_sync_with_files"]
        assert status["policy_sync"]["reload_error"] == status["policy_error"]

        daemon.stop.set()
        return await run

    try:
        assert asyncio.run(scenario()) == 0
    finally:
        release.set()
    assert any("POLICY RELOAD FAILED, the last good graph" in line for line in said), said
    assert any("policies reloaded:" in line for line in said), said
    assert not any("sim-main-secret" in line for line in said)
    import sqlite3

    with sqlite3.connect(tmp_path / "state.db") as db:
        kinds = [k for (k,) in db.execute("SELECT kind FROM audit_log ORDER BY seq")]
    assert kinds.count("policy_reloaded") == 1 and kinds.count("policy_reload_failed") == 1, kinds
    assert os.path.exists(tmp_path / "lock.json")


def test_a_reload_whose_scope_selects_no_account_keeps_the_last_good_graph_and_says_so(tmp_path, exchange,
                                                                                       receiver, monkeypatch):
    """A typo'd label (book: futurs) would turn the drawdown ladder off: the reload is refused
    (KS218, checked against the accounts the runner runs with, the policy directory holding none),
    the last good graph keeps running, and the log and the status say so until a good reload."""
    pol = tmp_path / "policies"
    pol.mkdir()
    book = (POLICIES / "futures-book.yaml").read_text().replace("interval: 5s", "interval: 200ms")
    assert "match_labels: {book: futures}" in book
    (pol / "futures-book.yaml").write_text(book)
    _routes(pol, receiver)
    paced_by_the_simulator(monkeypatch)
    monkeypatch.setenv("KS_T_KEY", "sim-main-key")
    monkeypatch.setenv("KS_T_SECRET", "sim-main-secret")
    monkeypatch.delenv("KS_API_TOKEN", raising=False)
    api_port = free_port()
    opts = RunOptions((str(pol),), str(accounts_file(tmp_path, exchange)), f"sqlite://{tmp_path / 'state.db'}",
                      str(tmp_path / "lock.json"), api_port=api_port, console_public=True)
    said: list[str] = []
    daemon = Daemon(opts, said.append, said.append)

    async def scenario() -> int:
        run = asyncio.create_task(daemon.run())
        await until(lambda: daemon.runner is not None and daemon.parts.counters["ticks"] >= 1, "a first tick")
        parts = daemon.parts
        first = parts.book.graph.digest
        assert [p.name for p in parts.book.graph.policies] == ["futures-book"]

        (pol / "futures-book.yaml").write_text(book.replace("{book: futures}", "{book: futurs}"))
        daemon.reload.set()  # what SIGHUP does
        await until(lambda: parts.reloads.error is not None, "the refused reload reported")
        assert "error[KS218]" in parts.reloads.error and "{book: futurs}" in parts.reloads.error
        assert parts.book.graph.digest == first and not run.done(), "the ladder must stay armed"
        ticks = parts.counters["ticks"]
        await until(lambda: parts.counters["ticks"] > ticks, "a tick with the last good graph")
        status = await asyncio.to_thread(_get_status, api_port)
        assert status["graph_digest"] == first and "KS218" in status["policy_error"]

        fixed = book.replace("    level: account\n", "    level: account\n    venues: [binanceusdm]\n")
        assert fixed != book
        (pol / "futures-book.yaml").write_text(fixed)  # the label right, on the account's venue: a new graph
        daemon.reload.set()
        await until(lambda: parts.reloads.error is None, "a good reload")
        assert parts.book.graph.digest != first
        daemon.stop.set()
        return await run

    assert asyncio.run(scenario()) == 0
    refused = [line for line in said if "POLICY RELOAD FAILED, the last good graph" in line]
    assert len(refused) == 1 and "error[KS218]" in refused[0] and "futures-book.yaml" in refused[0], said
    assert any("policies reloaded:" in line for line in said), said


def test_a_start_whose_scope_selects_no_account_runs_nothing_new(tmp_path, monkeypatch):
    """At start, with no last good policies in the state: nothing starts, and the log says why."""
    pol = tmp_path / "policies"
    pol.mkdir()
    book = (POLICIES / "futures-book.yaml").read_text().replace("{book: futures}", "{book: futurs}")
    (pol / "futures-book.yaml").write_text(book)
    shutil.copy(POLICIES / "routes.yaml", pol / "routes.yaml")
    monkeypatch.setenv("KS_T_KEY", "sim-main-key")
    monkeypatch.setenv("KS_T_SECRET", "sim-main-secret")
    opts = RunOptions((str(pol),), str(accounts_file(tmp_path, free_port())), f"sqlite://{tmp_path / 'state.db'}",
                      str(tmp_path / "lock.json"), api_port=None)
    said: list[str] = []
    assert asyncio.run(Daemon(opts, said.append, said.append).run()) == 1
    assert any("futures-book.yaml:15:37: error[KS218]: scope selects no declared account: "
               "accounts.match_labels: {book: futurs}" in line for line in said), said
    assert any("the policies have errors and the state holds no last good policies; nothing started" in line
               for line in said), said


def test_with_strict_a_reload_adding_a_policy_for_none_of_this_runners_accounts_is_refused(tmp_path, exchange,
                                                                                          receiver, monkeypatch):
    """The policies declare the firm's accounts (policies/accounts.yaml: spot-book's binance-spot
    among them, so it compiles), but this runner runs one futures account: with --strict, a
    reload that adds spot-book would run a policy that protects nothing here. It is refused, the
    last good graph keeps running, and the status says why; without --strict it runs, reported
    unmatched by the coverage."""
    pol = tmp_path / "policies"
    pol.mkdir()
    book = (POLICIES / "futures-book.yaml").read_text().replace("interval: 5s", "interval: 200ms")
    assert "interval: 200ms" in book  # a reload is taken up between two ticks
    (pol / "futures-book.yaml").write_text(book)
    shutil.copy(POLICIES / "accounts.yaml", pol / "accounts.yaml")
    _routes(pol, receiver)
    paced_by_the_simulator(monkeypatch)
    monkeypatch.setenv("KS_T_KEY", "sim-main-key")
    monkeypatch.setenv("KS_T_SECRET", "sim-main-secret")
    monkeypatch.delenv("KS_API_TOKEN", raising=False)
    runner_accounts = tmp_path / "runner"
    runner_accounts.mkdir()
    opts = RunOptions((str(pol),), str(accounts_file(runner_accounts, exchange)), f"sqlite://{tmp_path / 'state.db'}",
                      str(tmp_path / "lock.json"), api_port=None, strict=True)
    said: list[str] = []
    daemon = Daemon(opts, said.append, said.append)

    async def scenario() -> int:
        run = asyncio.create_task(daemon.run())
        await until(lambda: daemon.runner is not None and daemon.parts.counters["ticks"] >= 1, "a first tick")
        parts = daemon.parts
        first = parts.book.graph.digest
        shutil.copy(POLICIES / "spot-book.yaml", pol / "spot-book.yaml")
        daemon.reload.set()
        await until(lambda: parts.reloads.error is not None, "the refused reload reported")
        assert "POLICY_UNMATCHED: policy spot-book" in parts.reloads.error and "(--strict)" in parts.reloads.error
        assert parts.book.graph.digest == first and [p.name for p in parts.book.graph.policies] == ["futures-book"]
        daemon.stop.set()
        return await run

    assert asyncio.run(scenario()) == 0
    refused = [line for line in said if "POLICY RELOAD FAILED, the last good graph" in line]
    assert len(refused) == 1 and "selects none of this runner's 1 account(s)" in refused[0], said
