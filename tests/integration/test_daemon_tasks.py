"""``ksctl run``'s named tasks under its supervisor (killswitch/process/daemon.py, killswitch/process/tasks.py):
a task whose failure stops the process — the tick loop, the loop's half of the lease's watchdog —
is said by name, and the process stops as at SIGTERM (the lease given up, the store closed) and
exits 3 so that whatever runs it starts it again.

The runner runs in-process (``Daemon.run``) against the simulated exchange served on 127.0.0.1;
the failure is injected after the first tick."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from killswitch.process.daemon import Daemon
from killswitch.process.options import RunOptions
from killswitch.runner.lease import keeper as lease_keeper
from killswitch.runner.tick.loop import Runner
from killswitch.state import open_store
from tests.conftest import POLICIES
from tests.procs import accounts_file, free_port, simulated_exchange, until

DEADLINE_S = 60.0  # a bound on waits for events, never a measured duration


@pytest.fixture
def exchange():
    with simulated_exchange() as port:
        yield port


def _daemon(tmp_path, port: int, monkeypatch, said: list[str]) -> Daemon:
    pol = tmp_path / "policies"
    pol.mkdir()
    book = (POLICIES / "futures-book.yaml").read_text().replace("interval: 5s", "interval: 200ms")
    (pol / "futures-book.yaml").write_text(book)
    shutil.copy(POLICIES / "routes.yaml", pol / "routes.yaml")
    monkeypatch.setenv("KS_T_KEY", "sim-main-key")
    monkeypatch.setenv("KS_T_SECRET", "sim-main-secret")
    opts = RunOptions((str(pol),), str(accounts_file(tmp_path, port)), f"sqlite://{tmp_path / 'state.db'}",
                      str(tmp_path / "lock.json"), api_port=None, holder="runner-a")
    return Daemon(opts, said.append, said.append)


@pytest.mark.parametrize("task", ["show-life", "tick"])
def test_a_failing_named_task_is_said_by_name_and_the_process_stops_cleanly_with_exit_3(tmp_path, exchange,
                                                                                       monkeypatch, task):
    said: list[str] = []
    daemon = _daemon(tmp_path, exchange, monkeypatch, said)
    real_life, real_tick = lease_keeper.show_life, Runner.tick

    async def broken_life(keeper, io=None):
        life = asyncio.ensure_future(real_life(keeper, io))  # renewing, until it breaks after the first tick
        try:
            await until(lambda: daemon.ticks >= 1, "a first tick", DEADLINE_S)
            raise RuntimeError("the watchdog broke")
        finally:
            life.cancel()

    async def broken_tick(runner):
        if daemon.ticks >= 1:
            raise RuntimeError("the tick broke")
        return await real_tick(runner)

    if task == "show-life":
        monkeypatch.setattr(lease_keeper, "show_life", broken_life)
    else:
        monkeypatch.setattr(Runner, "tick", broken_tick)
    code = asyncio.run(asyncio.wait_for(daemon.run(), DEADLINE_S))

    assert code == 3, said
    failed = [line for line in said if "TASK_FAILED" in line]
    assert len(failed) == 1, said
    assert failed[0].startswith(f"ksctl run: TASK_FAILED: task {task} failed: RuntimeError: the "
                                f"{'watchdog' if task == 'show-life' else 'tick'} broke; "), failed
    assert "the process stops (exit 3) to be started again" in failed[0]
    assert daemon.supervisor.failed == task and daemon.ticks >= 1
    assert said[-1] == f"ksctl run: stopped after {daemon.ticks} tick(s)"  # the clean stop ran
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    try:
        assert store.lease().holder is None  # given up at the stop: a standby takes over at once
    finally:
        store.close()


def test_the_apis_loop_ending_under_it_is_said_as_the_api_task_and_the_runner_goes_on(tmp_path, exchange,
                                                                                     monkeypatch):
    from killswitch.face.api.thread import ApiThread

    said: list[str] = []
    daemon = _daemon(tmp_path, exchange, monkeypatch, said)
    daemon.opts.api_port = free_port()
    started: list[ApiThread] = []
    real_start = ApiThread.start

    async def start(self):
        started.append(self)
        return await real_start(self)

    monkeypatch.setattr(ApiThread, "start", start)

    async def go() -> int:
        run = asyncio.ensure_future(daemon.run())
        await until(lambda: daemon.ticks >= 1, "a first tick", DEADLINE_S)
        gate = started[0]._gate.loop  # the bots' loop ends as a thread that died would
        gate.call_soon_threadsafe(gate.stop)
        await until(lambda: any("TASK_FAILED: task api" in line for line in said), "the api task said", DEADLINE_S)
        ticks = daemon.ticks
        await until(lambda: daemon.ticks > ticks, "a tick after it", DEADLINE_S)
        daemon.stop.set()
        return await run

    code = asyncio.run(asyncio.wait_for(go(), DEADLINE_S * 2))

    assert code == 0, said
    failed = [line for line in said if "TASK_FAILED" in line]
    assert failed and all(line.startswith("ksctl run: TASK_FAILED: task api failed: ApiFailed: API_LOOP_ENDED: "
                                          "the API's thread killswitch-api-gate has ended") for line in failed), failed
    assert "the tick, the lock file and the lease go on); started again in 1s" in failed[0]
    assert daemon.supervisor.failed is None and daemon.supervisor.failures["api"] >= 1
    assert said[-1] == f"ksctl run: stopped after {daemon.ticks} tick(s)"


def test_readers_that_do_not_start_stop_the_start_in_one_line_and_nothing_runs(tmp_path, exchange, monkeypatch):
    """A reader process that never says it is ready (here: its pool cannot start) stops ``ksctl
    run`` before anything is built on it: exit 1, one READERS_FAILED line naming the way back
    (``--readers 0``), the store closed; no runner, no lease. The sinks, built while the readers
    start, are each closed."""
    import killswitch.process.bootstrap as bootstrap_module
    import killswitch.process.start as start_module

    async def refused(accounts, readers, **kw):
        raise RuntimeError("reader 0 ended before it was ready")

    built: list[str] = []
    closed: list[str] = []

    def sinks_that_say_their_close(*args, **kw):
        sinks = bootstrap_module.runner_sinks(*args, **kw)
        for sink in sinks:
            async def aclose(close=sink.aclose, name=sink.name):
                closed.append(name)
                await close()

            sink.aclose = aclose
            built.append(sink.name)
        return sinks

    monkeypatch.setattr(bootstrap_module, "reader_adapters", refused)
    monkeypatch.setattr(start_module, "runner_sinks", sinks_that_say_their_close)
    said: list[str] = []
    daemon = _daemon(tmp_path, exchange, monkeypatch, said)
    daemon.opts.readers = 1
    assert asyncio.run(daemon.run()) == 1
    failed = [line for line in said if "READERS_FAILED" in line]
    assert len(failed) == 1 and "reader 0 ended before it was ready" in failed[0] and "--readers 0" in failed[0]
    assert getattr(daemon, "runner", None) is None  # nothing built on the readers
    assert built == ["telemetry", "audit-anchor", "runbooks", "notify"] and closed == built, (built, closed)
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    try:
        assert store.lease().holder is None
    finally:
        store.close()
