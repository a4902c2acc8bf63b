"""The process's named tasks under one supervisor (killswitch/process/tasks.py): a failing task is said
by name and counted; one whose failure stops the process stops it (the daemon's stop) and is
named as the reason; one that restarts is started again after a pause that doubles; a cancel
or a return is no failure."""

from __future__ import annotations

import asyncio

import pytest

from killswitch.metrics import Registry
from killswitch.process.tasks import EXIT, RESTART, Supervisor, Task


def _supervisor(said: list[str], stops: list[int]) -> Supervisor:
    return Supervisor(said.append, lambda: stops.append(1), restart_after_s=0.001, max_restart_after_s=0.004)


def test_a_task_whose_failure_stops_the_process_is_said_by_name_and_stops_it():
    said: list[str] = []
    stops: list[int] = []

    async def watchdog() -> None:
        raise RuntimeError("the watchdog broke")

    async def go() -> Supervisor:
        sup = _supervisor(said, stops)
        sup.start(Task("show-life", watchdog, EXIT, "the lease is no longer renewed"))
        await asyncio.wait_for(sup.wait("show-life"), 5)
        return sup

    sup = asyncio.run(go())
    assert stops == [1] and sup.failed == "show-life" and sup.failures == {"show-life": 1}
    (line,) = said
    assert line.startswith("ksctl run: TASK_FAILED: task show-life failed: RuntimeError: the watchdog broke; the "
                           "lease is no longer renewed; the process stops (exit 3) to be started again\n"), line
    assert "Traceback" in line and "in watchdog" in line  # where it failed, for the bug report


def test_a_task_that_restarts_is_started_again_after_a_doubling_pause_and_the_process_goes_on():
    said: list[str] = []
    stops: list[int] = []
    runs: list[float] = []

    async def flaky() -> None:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) <= 3:
            raise ConnectionError(f"refused {len(runs)}")

    async def go() -> Supervisor:
        sup = _supervisor(said, stops)
        sup.start(Task("metrics-push", flaky, RESTART, "the OTLP metrics are not pushed meanwhile"))
        await asyncio.wait_for(sup.wait("metrics-push"), 5)
        return sup

    sup = asyncio.run(go())
    assert len(runs) == 4 and stops == [] and sup.failed is None
    assert sup.failures == {"metrics-push": 3} and sup.restarts == {"metrics-push": 3}
    assert [line.split("\n")[0] for line in said] == [
        f"ksctl run: TASK_FAILED: task metrics-push failed: ConnectionError: refused {n}; the OTLP metrics are not "
        f"pushed meanwhile; started again in {pause:g}s" for n, pause in ((1, 0.001), (2, 0.002), (3, 0.004))]
    registry = Registry()
    sup.collect_metrics(registry)
    text = registry.render()
    assert 'killswitch_task_failures_total{task="metrics-push"} 3' in text
    assert 'killswitch_task_restarts_total{task="metrics-push"} 3' in text


def test_a_cancel_and_a_return_are_no_failure_and_a_task_has_one_name_and_a_known_policy():
    said: list[str] = []
    stops: list[int] = []

    async def forever() -> None:
        await asyncio.sleep(3600)

    async def done() -> None:
        return None

    async def go() -> Supervisor:
        sup = _supervisor(said, stops)
        sup.start(Task("pod-label", forever, RESTART), Task("tick", done, EXIT))
        with pytest.raises(ValueError, match="task tick is running already"):
            sup.start(Task("tick", done, EXIT))
        with pytest.raises(ValueError, match="on_failure is 'exit' or 'restart', not 'retry'"):
            sup.start(Task("other", done, "retry"))
        await sup.wait("tick")
        await sup.cancel("pod-label")
        await sup.cancel("never-started")
        return sup

    sup = asyncio.run(go())
    assert said == [] and stops == [] and sup.failed is None and sup.failures == {"pod-label": 0, "tick": 0}
