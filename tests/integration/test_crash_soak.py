"""The crash soak (``bench/crash_soak.py``) on PostgreSQL, small enough for every CI run.

The benchmark's own :func:`one_run`, asserted here rather than printed: 3 runs of 4 SIGKILLs of
a live ``ksctl run`` (``dry_run: false``) through the simulated exchange's flash crash, each
run on a database of its own on the session's PostgreSQL server, then a last start left to
settle. The runs share nothing (each its exchange, database, receiver and generator of kill
moments), so they run side by side: a run lasts as long as the crash that drives it, and three
in a row took a minute. Each starts once the one before has its pre-crash baseline (its first
runner's first saved tick), so that no two first starts meet. The crash is held until that
baseline (``serve --hold``): at a fixed scale, a start slowed by a loaded machine saw the crash
pass before its first tick and the run sent nothing (12 kills, 0 orders). The account says the
simulator paces requests itself (``paced_by_venue``): the runner ticks at the policy's 200 ms.
The venue answers every order 300 ms late, so that the kills aimed at an order in flight find
one. Judged from the venue's own record and the journal: nothing lost, nothing repeated, nothing
pending, the book flat, the journal in agreement with the venue. The SQLite
soak is ``tests/integration/test_processes.py``'s and the benchmark's default.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import bench_module
from tests.state.conftest import pg_server  # noqa: F401 - the session PostgreSQL fixture

soak = bench_module("crash_soak")

RUNS = 3
KILLS_PER_RUN = 4
SEED = 3


def test_sigkills_of_a_live_runner_on_postgresql_neither_lose_nor_repeat_an_order(tmp_path, pg_server):  # noqa: F811
    names = [f"ks_crash_soak_{r}" for r in range(RUNS)]
    urls = [pg_server.create_database(name) for name in names]

    baselines = [threading.Event() for _ in range(RUNS)]

    def run(r: int) -> tuple[soak.Outcome, Path]:
        try:
            if r:
                baselines[r - 1].wait(120)
            work = tmp_path / f"run-{r}"
            work.mkdir()
            return soak.one_run(work, SEED * 100_003 + r, 12.0, KILLS_PER_RUN, 60.0, random.Random(SEED + r),
                                urls[r], order_latency_ms=300, on_baseline=baselines[r].set, paced=True,
                                hold=True), work
        finally:
            baselines[r].set()  # (a run that failed to start holds no other back)

    try:
        with ThreadPoolExecutor(RUNS) as pool:
            outcomes = list(pool.map(run, range(RUNS)))
    finally:
        for name in names:
            pg_server.drop_database(name)
    totals = soak.Totals()
    for outcome, work in outcomes:
        totals.add(outcome, work)
    summary = (f"{totals.kills} kills ({dict(totals.kinds)}), {totals.in_flight} with orders in flight, "
               f"{totals.orders} orders; failed runs: {totals.failed_runs}")
    print(f"\n{summary}")
    assert totals.kills == RUNS * KILLS_PER_RUN, summary
    # the seeds draw each way of timing a kill (in flight, after new intents, anywhere) at least twice
    assert all(sum(n for kind, n in totals.kinds.items() if kind.startswith(way)) >= 2
               for way in ("in flight", "after new intents", "anywhere")), summary
    assert totals.in_flight >= 1, f"no kill found an order in flight: {summary}"
    assert totals.repeated == 0 and totals.lost == 0 and totals.disagreements == 0, summary
    assert totals.pending == 0 and totals.open_legs == 0 and totals.unsettled == 0, summary
    assert totals.runner_errors == 0 and totals.unjudged == 0, f"{summary}; tracebacks: {totals.tracebacks}"
