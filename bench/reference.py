"""Rerun the quick benches of the hot paths and print each figure beside docs/benchmarks.md's.

What it owns: which quick benches stand for the hot paths (:data:`BENCHES`: the tick, the
pre-trade gate under load, the API's writes beside the tick), how each one's printed figures are
read (a parser per bench), how the reference figures are read from the block of
docs/benchmarks.md headed "Reference figures for bench/reference.py" (:func:`read_references`),
and the verdict per figure: ``WORSE`` when today's figure is more than twice the reference (the
project's rule: a figure 2x worse than docs/benchmarks.md is a defect), else ``ok``.

A figure in milliseconds is compared in reference loops where both loops are known (``bench/
harness.py``'s: the same code runs up to twice as slow on the same machine from one hour to the
next): ratio = (today / today's loop) / (reference / its loop); where the page names no loop, in
milliseconds as printed. A figure that is itself a ratio (unit ``x``) is compared as it is.

Must not: hold a reference figure of its own (they are the page's, read each run), or pass a
figure it could not read (a bench's output it cannot parse, or a reference line it cannot read,
is an error naming the line, never a skipped row).

    .venv/bin/python bench/reference.py              # every bench (about 2 minutes on 2 cores)
    .venv/bin/python bench/reference.py --only tick  # one of them (repeatable): tick, gate, api

Exit codes: 0 every figure ok; 1 a figure WORSE; 2 usage; 3 a bench failed or its output, or
the page's block, could not be read.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Reference figures for bench/reference.py"
WORSE_ABOVE = 2.0  # today / reference, in loops where known: more than this is a defect
BENCH_TIMEOUT_S = 900

EXIT_OK, EXIT_WORSE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class ReadError(ValueError):
    """A line of the page's block or of a bench's output that could not be read: says which."""


@dataclass(frozen=True)
class Reference:
    """One figure as docs/benchmarks.md records it: ``loop_ms`` the reference loop it was taken
    beside (None: the page names none)."""

    name: str
    value: float
    unit: str  # ms | x
    loop_ms: Optional[float]


_REF_LINE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9.-]*): (?P<value>\d+(?:\.\d+)?) (?P<unit>ms|x)"
                       r"(?: \(reference loop (?:(?P<loop>\d+(?:\.\d+)?) ms|unknown)\))?\s*(?:#.*)?$")


def read_references(text: str, where: str = "docs/benchmarks.md") -> dict[str, Reference]:
    """The figures of the fenced block after :data:`HEADING` in ``text``, by name. Each line:
    ``name: value unit (reference loop X ms)`` (or ``(reference loop unknown)``; a figure in ``x``
    takes none), an optional ``# comment`` after it; blank and ``#`` lines are skipped."""
    lines = text.splitlines()
    try:
        start = lines.index(HEADING)
    except ValueError:
        raise ReadError(f"{where}: no section {HEADING!r}") from None
    fence = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("```")), None)
    if fence is None:
        raise ReadError(f"{where}:{start + 1}: the section {HEADING!r} holds no fenced block")
    out: dict[str, Reference] = {}
    for i in range(fence + 1, len(lines)):
        line = lines[i].strip()
        if line.startswith("```"):
            return out
        if not line or line.startswith("#"):
            continue
        m = _REF_LINE.match(line)
        if m is None:
            raise ReadError(f"{where}:{i + 1}: cannot read the reference figure {line!r}; expected 'name: value "
                            f"ms (reference loop X ms)', '... (reference loop unknown)' or 'name: value x'")
        if m["unit"] == "x" and m["loop"]:
            raise ReadError(f"{where}:{i + 1}: {m['name']} is a ratio (x): a reference loop does not apply")
        if m["name"] in out:
            raise ReadError(f"{where}:{i + 1}: {m['name']} given twice")
        out[m["name"]] = Reference(m["name"], float(m["value"]), m["unit"], float(m["loop"]) if m["loop"] else None)
    raise ReadError(f"{where}:{fence + 1}: the block after {HEADING!r} is never closed")


# --- what each bench prints ------------------------------------------------------------------------

_LOOP = re.compile(r"reference loop (\d+(?:\.\d+)?) ms")


def _loop_of(bench: str, out: str) -> float:
    """The reference loop a bench printed beside its figures (the last it printed)."""
    loops = _LOOP.findall(out)
    if not loops:
        raise ReadError(f"{bench}: no 'reference loop X ms' in its output")
    return float(loops[-1])


def _search(bench: str, pattern: str, out: str, what: str) -> re.Match[str]:
    m = re.search(pattern, out, re.M)
    if m is None:
        raise ReadError(f"{bench}: no {what} in its output (looked for /{pattern}/)")
    return m


_TICK_ROW = re.compile(r"^(?P<layout>one account of [\d,]+ \(one scope\)|global scope over \d+ accounts × [\d,]+)"
                       r"\s+[\d,]+\s+(?P<steady>[\d.]+)/[\d.]+\s+[\d.]+\s+(?P<sampling>[\d.]+)\s+(?P<entry>[\d.]+)/",
                       re.M)


def parse_tick(out: str) -> dict[str, float]:
    """``bench/tick.py``'s rows: steady own, sampling and entry own (ms) of each layout."""
    figures: dict[str, float] = {}
    for m in _TICK_ROW.finditer(out):
        layout = "one-account" if m["layout"].startswith("one account") else "global"
        figures.update({f"tick.{layout}.steady-own": float(m["steady"]),
                        f"tick.{layout}.sampling": float(m["sampling"]),
                        f"tick.{layout}.entry-own": float(m["entry"])})
    if not figures:
        raise ReadError("tick: no row 'one account of N (one scope) ...' or 'global scope over ...' in its output")
    return figures


def parse_gate(out: str) -> dict[str, float]:
    """``bench/gate_limits.py``: check-order latency p50 (ms), the tick period's ratio under the
    load to quiet (p50), the tick's own work under the load (ms)."""
    lat = _search("gate", r"latency p50 ([\d.]+) ms", out, "check-order latency line")
    ratio = _search("gate", r"ratio p50 ([\d.]+) \(goal", out, "tick period line")
    work = _search("gate", r"own work .*under the load ([\d.]+) ms", out, "tick's own work")
    return {"gate.check-order-p50": float(lat[1]), "gate.tick-period-ratio": float(ratio[1]),
            "gate.tick-own-work-loaded": float(work[1])}


def parse_api(out: str) -> dict[str, float]:
    """``bench/api_load.py --topology lone --layout writes``: a lock's latency p50 (ms), the tick
    period's ratio under the load to quiet (p50), the tick's own work under the load (ms)."""
    lock = _search("api", r"; lock (\d+(?:\.\d+)?)/\d+(?:\.\d+)? ms", out, "lock latency")
    ratio = _search("api", r"ratio ([\d.]+)x / [\d.]+x \(goals", out, "tick period ratio")
    work = _search("api", r"own work .*under the load ([\d.]+) ms", out, "tick's own work")
    return {"api.lock-p50": float(lock[1]), "api.tick-period-ratio": float(ratio[1]),
            "api.tick-own-work-loaded": float(work[1])}


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...]  # after the interpreter
    parse: Callable[[str], dict[str, float]]


BENCHES = (
    Bench("tick", ("bench/tick.py", "--layout", "one-account", "--layout", "global", "--sizes", "10000", "--quick"),
          parse_tick),
    Bench("gate", ("bench/gate_limits.py", "--seconds", "10"), parse_gate),
    Bench("api", ("bench/api_load.py", "--quick", "--topology", "lone", "--layout", "writes"), parse_api),
)


# --- the comparison ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    ref: Reference
    today: float
    today_loop: float
    ratio: float
    in_loops: bool  # the ratio is of figures in reference loops

    @property
    def worse(self) -> bool:
        return self.ratio > WORSE_ABOVE


def compare(ref: Reference, today: float, today_loop: float) -> Row:
    """Today's figure against the page's, in reference loops when the page names its loop."""
    if ref.unit == "ms" and ref.loop_ms is not None:
        return Row(ref.name, ref, today, today_loop, (today / today_loop) / (ref.value / ref.loop_ms), True)
    return Row(ref.name, ref, today, today_loop, today / ref.value, False)


def table(rows: list[Row]) -> str:
    head = f"{'figure':<28} {'reference':>12} {'today':>10} {'ratio':>7}  {'loop: ref / today':<18} verdict"
    lines = [head]
    for r in rows:
        loop = (f"{r.ref.loop_ms:g} / {r.today_loop:.1f} ms" if r.ref.loop_ms is not None
                else f"- / {r.today_loop:.1f} ms")
        how = "" if r.in_loops or r.ref.unit == "x" else " (ms: no reference loop)"
        lines.append(f"{r.name:<28} {r.ref.value:>9g} {r.ref.unit:<2} {r.today:>7g} {r.ref.unit:<2} {r.ratio:>6.2f}x  "
                     f"{loop:<18} {'WORSE' if r.worse else 'ok'}{how}")
    return "\n".join(lines)


def run(bench: Bench) -> Optional[str]:
    """The bench's standard output, run with this interpreter from the root (None: it ran past
    :data:`BENCH_TIMEOUT_S`, said)."""
    cmd = [sys.executable, *bench.args]
    print(f"bench/reference.py: running {' '.join(bench.args)}", file=sys.stderr, flush=True)
    # a session of its own: on a timeout the bench is stopped with the processes it started (a
    # simulated venue, ksctl run), which a kill of the bench alone would leave running
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=BENCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate()
        print(f"bench/reference.py: error: {bench.name} ran past {BENCH_TIMEOUT_S} s (stopped)", file=sys.stderr)
        return None
    if proc.returncode != 0:
        # api_load exits 1 on a goal of its own missed: its figures are still read and compared
        print(f"bench/reference.py: {bench.name} exited {proc.returncode} (its figures are compared if they "
              f"can be read); its last lines:\n"
              + "\n".join((stdout + stderr).splitlines()[-8:]), file=sys.stderr)
    return stdout


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", choices=[b.name for b in BENCHES],
                    help="run this bench only (repeatable); all of them by default")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return EXIT_USAGE if e.code else EXIT_OK
    try:
        refs = read_references(DOC.read_text(encoding="utf-8"))
    except ReadError as e:
        print(f"bench/reference.py: error: {e}", file=sys.stderr)
        return EXIT_INTERNAL
    names = {b.name for b in BENCHES}
    unknown = sorted(n for n in refs if n.split(".", 1)[0] not in names)
    if unknown:
        print(f"bench/reference.py: error: docs/benchmarks.md: no bench prints {', '.join(unknown)} "
              f"(a name begins with one of {', '.join(sorted(names))})", file=sys.stderr)
        return EXIT_INTERNAL
    rows: list[Row] = []
    failed = False
    for bench in BENCHES:
        if args.only and bench.name not in args.only:
            continue
        wanted = sorted(n for n in refs if n.split(".", 1)[0] == bench.name)
        out = run(bench)
        if out is None:
            failed = True
            continue
        try:
            figures, loop = bench.parse(out), _loop_of(bench.name, out)
            missing = sorted(set(figures) - set(refs))
            if missing:
                raise ReadError(f"docs/benchmarks.md: no reference figure for {', '.join(missing)}")
            unread = sorted(set(wanted) - set(figures))
            if unread:
                raise ReadError(f"{bench.name}: its output has no {', '.join(unread)}")
        except ReadError as e:
            print(f"bench/reference.py: error: {e}", file=sys.stderr)
            failed = True
            continue
        rows.extend(compare(refs[n], figures[n], loop) for n in sorted(figures))
    if rows:
        print(table(rows))
    worse = [r.name for r in rows if r.worse]
    print(f"\n{len(rows)} figure(s) compared; " + (f"WORSE than twice the reference: {', '.join(worse)}" if worse
                                                  else "none more than twice its reference")
          + ("; a bench failed or could not be read (see above)" if failed else ""))
    if failed:
        return EXIT_INTERNAL
    return EXIT_WORSE if worse else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
