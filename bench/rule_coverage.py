"""Benchmark: what ``ksctl test --coverage`` costs over ``ksctl test`` on the repository's policies.

1. As a user runs it: wall and CPU time of ``ksctl test policies/`` and of ``ksctl test policies/
   --coverage`` (a fresh process each time, the two interleaved so that a slow minute of a
   shared machine falls on both), p50 and p99 over the runs, and the ratio of the medians.
2. The work alone, in this process: the PolicyTests run (:func:`run_tests`) without and with a
   :class:`RuleCoverage` (made, marked at every tick, and reported), the policies compiled once;
   p50 and p99 of each, the ratio of the medians, and each in reference loops
   (:func:`bench.harness.reference_ms`), which a figure of another day can be compared with.

The goal is a ratio under 1.3. Prints the machine line first. Not a test: the machine is noisy.

    .venv/bin/python bench/rule_coverage.py [--runs 15] [--work-runs 40] [POLICIES]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import KSCTL, ROOT, machine, median, pct, reference_ms  # noqa: E402

GOAL = 1.3


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``cmd``; its exit code must be the tests' (0 or 1)."""
    before = _children_cpu()
    t = time.perf_counter()
    rc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode
    wall = time.perf_counter() - t
    if rc not in (0, 1):
        sys.exit(f"{' '.join(cmd)} exited {rc}")
    return wall, _children_cpu() - before


def _line(name: str, xs: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    return f"  {name:<28} p50 {median(xs) * scale:8.1f} {unit}   p99 {pct(xs, 99) * scale:8.1f} {unit}"


def processes(policies: str, runs: int) -> None:
    plain = [str(KSCTL), "test", policies]
    cov = plain + ["--coverage"]
    timed(plain), timed(cov)  # warm the page cache and the bytecode
    walls: dict[str, list[float]] = {"plain": [], "cov": []}
    cpus: dict[str, list[float]] = {"plain": [], "cov": []}
    for _ in range(runs):
        for key, cmd in (("plain", plain), ("cov", cov)):
            w, c = timed(cmd)
            walls[key].append(w)
            cpus[key].append(c)
    print(f"1. processes, {runs} runs each, interleaved")
    print(_line("ksctl test: wall", walls["plain"]))
    print(_line("ksctl test --coverage: wall", walls["cov"]))
    print(_line("ksctl test: CPU", cpus["plain"]))
    print(_line("ksctl test --coverage: CPU", cpus["cov"]))
    w = median(walls["cov"]) / median(walls["plain"])
    c = median(cpus["cov"]) / median(cpus["plain"])
    print(f"  ratio of the medians: wall {w:.3f}x, CPU {c:.3f}x (goal < {GOAL}x)")


def work(policies: str, runs: int) -> None:
    from killswitch.cli.common import compile_paths
    from killswitch.preview.policytest import run_tests
    from killswitch.preview.rule_coverage import RuleCoverage

    result, _ = compile_paths((policies,))
    if result.graph is None:
        sys.exit(f"{policies}: the policies have errors; run ksctl validate")

    def plain() -> None:
        run_tests(result)

    def cov() -> None:
        rules = RuleCoverage(result)
        run_tests(result, rules)
        rules.report()

    times: dict[str, list[float]] = {"plain": [], "cov": []}
    plain(), cov()  # warm
    for _ in range(runs):
        for key, fn in (("plain", plain), ("cov", cov)):
            t = time.process_time()
            fn()
            times[key].append(time.process_time() - t)
    ref = reference_ms() / 1000
    print(f"2. the work alone, in process, {runs} runs each (CPU)")
    print(_line("tests", times["plain"]) + f"   {median(times['plain']) / ref:6.1f} loops")
    print(_line("tests with coverage", times["cov"]) + f"   {median(times['cov']) / ref:6.1f} loops")
    print(f"  ratio of the medians: {median(times['cov']) / median(times['plain']):.3f}x (goal < {GOAL}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policies", nargs="?", default=str(ROOT / "policies"))
    ap.add_argument("--runs", type=int, default=15, help="process runs of each command")
    ap.add_argument("--work-runs", type=int, default=40, help="in-process runs of each")
    args = ap.parse_args()
    print(f"bench/rule_coverage.py  {Path(args.policies)}  {machine()}")
    processes(args.policies, args.runs)
    work(args.policies, args.work_runs)


if __name__ == "__main__":
    main()
