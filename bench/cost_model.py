"""The cost of an account per process, and how many accounts a runner holds on N cores.

Reads the output of ``bench/firm.py --readers 1`` at two or more layouts of the same positions
per account (``--layouts 50x50,200x50``, saved to files) and fits, by least squares over the
layouts, each process's CPU (of one core) as a fixed part and a part per account:

- a reader's, quiet (its accounts' streams, marks, pushes and reconciles);
- the deciding process's, quiet (the mirror, the ticks' evaluation, the sinks), and what 1,000
  check-orders a second add to it (the gate's phase less the quiet: the API's thread);
- what an incident adds to the deciding process.

Then a runner on ``C`` cores (one deciding process and ``C - 1`` readers, the accounts dealt
evenly: ``--readers auto``) holds as many accounts as keep every process under ``--bound`` of a
core in the incident (default 0.7: the rest is what a burst of frames or a flatten takes): the
deciding process's bound does not grow with the cores, the readers' does. The figures say which
process limits the ceiling at 2, 4 and 8 cores. A model of the CPU measured on this machine, not
a measurement of the bigger pods, and not the reaction goals: a layout within it can still answer
slower than its goal (docs/benchmarks.md says which).

``python bench/cost_model.py OUT_50x50.txt OUT_200x50.txt [--bound 0.7] [--cores 2,4,8]``.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import NamedTuple

LAYOUT = re.compile(r"^(\d+) accounts × (\d+) positions; readers (\d+)", re.M)
CPU = re.compile(r"deciding process ([\d.]+) / ([\d.]+) / ([\d.]+); readers \((\d+) reader process\S* and \d+ "
                 r"other child\S* of the runner\) ([\d.]+) / ([\d.]+) / ([\d.]+)")


class Run(NamedTuple):
    accounts: int
    positions: int
    readers: int
    deciding: tuple[float, float, float]  # quiet, under checks, in the incident (of one core)
    reading: tuple[float, float, float]  # every reader together, the same three


def parse(text: str) -> Run:
    """The layout and the CPU line of one ``bench/firm.py`` run's output."""
    layout, cpu = LAYOUT.search(text), CPU.search(text)
    if layout is None or cpu is None:
        raise ValueError("not the output of bench/firm.py (no layout line, or no CPU line)")
    n, m, r = (int(x) for x in layout.groups())
    d = tuple(float(x) for x in cpu.group(1, 2, 3))
    w = tuple(float(x) for x in cpu.group(5, 6, 7))
    return Run(n, m, r, d, w)  # type: ignore[arg-type]


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(fixed, per x) of the least-squares line through the points."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        raise ValueError("the layouts must differ in their accounts")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var
    return my - slope * mx, slope


class Model(NamedTuple):
    reader: tuple[float, float]  # (fixed, per account) of one reader, quiet
    deciding: tuple[float, float]  # the same of the deciding process, quiet
    gate: float  # what 1,000 check-orders a second add to the deciding process
    incident: float  # what an incident adds to it (the most over the layouts)


def model(runs: list[Run]) -> Model:
    if len({r.positions for r in runs}) != 1 or any(r.readers != 1 for r in runs):
        raise ValueError("every run must have one reader and the same positions per account")
    n = [float(r.accounts) for r in runs]
    return Model(fit(n, [r.reading[0] for r in runs]), fit(n, [r.deciding[0] for r in runs]),
                 sum(r.deciding[1] - r.deciding[0] for r in runs) / len(runs),
                 max(r.deciding[2] - r.deciding[1] for r in runs))


def ceiling(m: Model, cores: int, bound: float) -> tuple[int, str]:
    """The accounts a runner on ``cores`` holds under ``bound`` of a core a process, and which
    process limits it."""
    fixed, per = m.deciding
    deciding = (bound - fixed - m.gate - max(0.0, m.incident)) / per if per > 0 else float("inf")
    rfixed, rper = m.reader
    readers = max(1, cores - 1) * (bound - rfixed) / rper if rper > 0 else float("inf")
    whole = lambda x: int(max(0.0, x) + 1e-9)  # noqa: E731 - (a float's 174.99999 is 175 accounts)
    return (whole(deciding), "the deciding process") if deciding <= readers else \
        (whole(readers), f"{max(1, cores - 1)} reader(s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outputs", nargs="+", type=Path, help="bench/firm.py --readers 1 outputs, one layout each")
    ap.add_argument("--bound", type=float, default=0.7, help="of a core a process may use in the incident")
    ap.add_argument("--cores", default="2,4,8")
    args = ap.parse_args()
    runs = [parse(p.read_text()) for p in args.outputs]
    m = model(runs)
    per = runs[0].positions
    print(f"from {', '.join(f'{r.accounts} × {r.positions}' for r in runs)} (readers 1), of one core:")
    print(f"  a reader: {m.reader[0]:.3f} + {m.reader[1] * 1e3:.2f} ms a second per account of {per} positions")
    print(f"  the deciding process: {m.deciding[0]:.3f} + {m.deciding[1] * 1e3:.2f} ms a second per account; "
          f"1,000 check-orders a second add {m.gate:.2f}; an incident {m.incident:.2f}")
    for c in (int(x) for x in args.cores.split(",")):
        n, by = ceiling(m, c, args.bound)
        print(f"  {c} cores: {n} accounts of {per} positions under {args.bound:g} of a core a process "
              f"(limited by {by})")


if __name__ == "__main__":
    sys.exit(main())
