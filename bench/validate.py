"""Benchmark: wall time of `ksctl validate policies/` as a user runs it (a fresh process each time).

Prints the median of several runs, and the time of the imports alone, so a regression can be
told apart: parsing and compiling, or import weight. Not a test: the machine is noisy.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KSCTL = Path(sys.executable).with_name("ksctl")
RUNS = 15


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def median(cmd: list[str]) -> tuple[float, float, float]:
    wall(cmd)  # warm the page cache
    xs = sorted(wall(cmd) for _ in range(RUNS))
    return statistics.median(xs), xs[0], xs[-1]


def main() -> None:
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import compiler": [sys.executable, "-c", "import killswitch.compile.compiler, killswitch.sources"],
        "ksctl validate policies/": [str(KSCTL), "validate", str(ROOT / "policies")],
        "ksctl graph policies/": [str(KSCTL), "graph", str(ROOT / "policies")],
    }
    print(f"{'case':<28} {'median':>9} {'min':>9} {'max':>9}   ({RUNS} runs)")
    results = {}
    for name, cmd in cases.items():
        med, lo, hi = median(cmd)
        results[name] = med
        print(f"{name:<28} {med * 1000:8.1f}ms {lo * 1000:8.1f}ms {hi * 1000:8.1f}ms")
    target = 0.5
    v = results["ksctl validate policies/"]
    print(f"validate / target {target * 1000:.0f} ms = {v / target:.2f}")


if __name__ == "__main__":
    main()
