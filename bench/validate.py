"""Benchmark: what reading policies costs.

1. Wall time of `ksctl validate policies/` as a user runs it (a fresh process each time), and of
   the imports alone, so a regression can be told apart: parsing and compiling, or import weight.
2. Hostile YAML: the time to load (and refuse, or accept) about 100 KB of each shape a file can
   take — nesting, aliases, many documents, the densest text the bounds let through — next to the
   real policies, in-process, as milliseconds per 100 KB. The loader refuses what crosses a bound
   at the token that crosses it (killswitch/policy/yamlbounds.py), so a refused shape costs its
   first few hundred bytes; what is let through costs ruamel's pure-Python rate per token.

Prints medians of several runs, with the machine and the date. Not a test: the machine is noisy.

    .venv/bin/python bench/validate.py            # both parts
    .venv/bin/python bench/validate.py --hostile  # the second part only
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KSCTL = Path(sys.executable).with_name("ksctl")
RUNS = 15
HOSTILE_RUNS = 5
SIZE = 100_000  # figures are per this many bytes of YAML


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def median(cmd: list[str]) -> tuple[float, float, float]:
    wall(cmd)  # warm the page cache
    xs = sorted(wall(cmd) for _ in range(RUNS))
    return statistics.median(xs), xs[0], xs[-1]


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import ruamel.yaml

    return (f"{os.cpu_count()} cores, {model}; Python {platform.python_version()}, ruamel.yaml "
            f"{ruamel.yaml.__version__} (pure Python); {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")


def cli() -> None:
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


# --- hostile YAML ---------------------------------------------------------------------------------


def _repeat(unit: str, size: int = SIZE) -> str:
    return unit * max(1, -(-size // len(unit)))


def _real_policies() -> str:
    texts = [p.read_text() for p in sorted((ROOT / "policies").rglob("*.yaml"))]
    return _repeat("\n---\n".join(texts) + "\n---\n")


def _alias_bomb() -> str:
    text = "a: &a [" + ", ".join(["lol"] * 9) + "]\n"
    i = 1
    while len(text) < SIZE:
        prev = "a" if i == 1 else f"a{i - 1}"
        text += f"a{i}: &a{i} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
        i += 1
    return text


def _deep_block(lines: int = 450) -> str:
    return "".join(" " * i + f"k{i}:\n" for i in range(lines))


def _deep_routes_flow() -> str:
    n = SIZE // 12 + 1
    return "spec: {route: " + "{routes: [" * n + "]}" * n + "}\n"


def _at_the_bound(depth: int = 63) -> str:
    lines, i = [], 0
    while sum(map(len, lines)) < SIZE:
        lines.append(f"k{i}: " + "[" * depth + "x" + "]" * depth + "\n")
        i += 1
    return "".join(lines)


SHAPES = [
    # (name, layout, text): refused at the bound first, then what the bounds let through
    ("deep flow sequences", "x: then 50,000 '[' and 50,000 ']' on one line",
     lambda: "x: " + "[" * 50_000 + "]" * 50_000),
    ("deep flow mappings", "'{a: ' 20,000 times, then the closing braces",
     lambda: "{a: " * 20_000 + "x" + "}" * 20_000),
    ("deep block mappings", "450 keys, each indented one space more", _deep_block),
    ("deep compact sequences", "'- ' 50,000 times on one line", lambda: "- " * 50_000 + "x"),
    ("deep routes (flow)", "a route tree 8,334 routes deep as '{routes: ['", _deep_routes_flow),
    ("alias bomb", "billion laughs: lists of 9 aliases of the list before", _alias_bomb),
    ("alias after 100 KB", "real policies, then one alias at the very end", lambda: _real_policies() + "x: *a\n"),
    ("many scalar documents", "'--- x' 16,667 times (each is KS004)", lambda: _repeat("--- x\n")),
    ("at the bound, repeated", "760 keys, each of 63 nested brackets (64 levels)", _at_the_bound),
    ("long flow sequence", "one list of 33,000 one-letter items", lambda: "a: [" + "x, " * 33_000 + "]\n"),
    ("many keys", "one mapping of 11,000 keys", lambda: "".join(f"k{i}: v\n" for i in range(11_000))),
    ("real policies", "policies/*.yaml as one multi-document stream", _real_policies),
]


def hostile(runs: int) -> None:
    from killswitch.compile.compiler import compile_documents
    from killswitch.policy.load import load_text

    print(f"hostile YAML: load_text per shape, median of {runs} runs, scaled to ms per {SIZE // 1000} KB")
    print(f"{'shape':<24} {'bytes':>8} {'median':>10} {'per 100KB':>10} {'min':>9} {'max':>9}  {'verdict':<14} layout")
    for name, layout, make in SHAPES:
        text = make()
        xs = []
        result = None
        for _ in range(runs):
            t = time.perf_counter()
            result = load_text(text, "hostile.yaml")
            xs.append(time.perf_counter() - t)
        codes = sorted({x.code for x in result.diagnostics})
        verdict = ("accepted" if not codes else ",".join(codes[:2])) \
            + (f" ({len(result.docs)} docs)" if result.docs else "")
        med = statistics.median(xs)
        print(f"{name:<24} {len(text):>8} {med * 1000:8.1f}ms {med * SIZE / len(text) * 1000:8.1f}ms "
              f"{min(xs) * 1000:7.1f}ms {max(xs) * 1000:7.1f}ms  {verdict:<14} {layout}")
    text = _real_policies()
    xs = []
    for _ in range(runs):
        t = time.perf_counter()
        compile_documents(load_text(text, "real.yaml"))
        xs.append(time.perf_counter() - t)
    med = statistics.median(xs)
    print(f"{'real policies, compiled':<24} {len(text):>8} {med * 1000:8.1f}ms {med * SIZE / len(text) * 1000:8.1f}ms "
          f"{min(xs) * 1000:7.1f}ms {max(xs) * 1000:7.1f}ms  {'load+compile':<14} the same stream, load and compile")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hostile", action="store_true", help="only the hostile-YAML figures")
    ap.add_argument("--runs", type=int, default=HOSTILE_RUNS, help="runs per hostile shape (median)")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    if not args.hostile:
        cli()
        print()
    hostile(args.runs)


if __name__ == "__main__":
    main()
