"""Benchmark: what counting the accounts a preview read costs ``ksctl plan`` / ``replay`` / ``diff``.

Every snapshot of a recording goes through :class:`killswitch.preview.coverage.CoverageTally` besides the
engine. Two figures per layout, each the median of RUNS runs over the same ticks (built before
timing, parsing is not measured):
- tally: the counting alone, per snapshot;
- replay: the engine over the same ticks (evaluate, with futures-book), per tick;
and the tally's share of the two. One account in ten has its snapshot failed on one tick in ten.

    .venv/bin/python bench/preview_coverage.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's code, whatever the venv installed

from killswitch.compile.compiler import compile_documents  # noqa: E402
from killswitch.policy.load import load_sources  # noqa: E402
from killswitch.preview.coverage import CoverageTally  # noqa: E402
from killswitch.preview.replay import Tick, replay  # noqa: E402
from killswitch.snapshot import FetchStatus, Snapshot  # noqa: E402
from killswitch.sources import read_sources  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5


from harness import machine  # noqa: E402  (the bench directory is the script's)


def ticks(n_ticks: int, n_accounts: int) -> list[Tick]:
    """The crash recording's first tick, its account copied ``n_accounts`` times, for ``n_ticks`` minutes."""
    first = json.loads((ROOT / "policies/recordings/futures-crash.jsonl").read_text().splitlines()[0])
    base = Snapshot.model_validate(first["snapshots"][0])
    out = []
    for t in range(n_ticks):
        now = first["now"] + t * 60_000
        snaps = []
        for a in range(n_accounts):
            s = base.model_copy(update={"account": f"acct-{a}", "ts_event": now})
            if a % 10 == 0 and t % 10 == 5:
                s = s.model_copy(update={"equity": None, "positions": [], "orders": [],
                                         "fetch": FetchStatus(ok=False, error_code="TIMEOUT", error="no answer")})
            snaps.append(s)
        out.append(Tick(now, snaps, dict(first.get("heartbeats") or {})))
    return out


def median_s(fn) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    graph = compile_documents(load_sources(read_sources([str(ROOT / "policies/futures-book.yaml")]).files),
                              revision=None).graph
    layouts = [(100, 10)] if quick else [(100, 10), (1_000, 10), (200, 100)]
    print(f"machine: {machine()}")
    print(f"median of {RUNS} runs; futures-book; 3 positions and 2 orders per account snapshot")
    print(f"{'ticks':>6} {'accounts':>8} {'tally/snapshot':>15} {'replay/tick':>12} {'tally share':>12}")
    for n_ticks, n_accounts in layouts:
        data = ticks(n_ticks, n_accounts)

        def tally():
            t = CoverageTally()
            for tick in data:
                for s in tick.snapshots:
                    t.saw(s, tick.now_ms)
            t.accounts()

        def engine():
            for _ in replay(graph, data):
                pass

        t_tally, t_replay = median_s(tally), median_s(engine)
        print(f"{n_ticks:>6,} {n_accounts:>8,} {t_tally / (n_ticks * n_accounts) * 1e6:>12.2f} µs "
              f"{t_replay / n_ticks * 1e3:>9.2f} ms {t_tally / t_replay:>11.2%}")


if __name__ == "__main__":
    main(sys.argv[1:])
