"""bench/reference.py reads its reference figures from docs/benchmarks.md's block and each bench's
figures from what it prints; a line it cannot read is an error naming it, never a skipped row."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, bench_module

ref = bench_module("reference")

DOC = """\
# Benchmark notes

## Reference figures for bench/reference.py

Some words.

```text
# name: value unit (reference loop X ms)
tick.one-account.steady-own: 2.50 ms (reference loop 8.35 ms)  # the goals table

tick.one-account.sampling: 9.0 ms (reference loop unknown)
gate.tick-period-ratio: 1.77 x  # a ratio
```

## Another section
"""

# verbatim lines of the benches' output, as long as they print them
TICK = """\
machine: 2 cores, AMD EPYC, Python 3.11.7, 2026-11-27, reference loop 7.1 ms
layout                                   positions  steady own/eval  µs/pos  sampling  entry own/eval orders  flatten own/eval  orders
one account of 10,000 (one scope)           10,000     9.99/2.09       1.00     13.55    16.8/5.3          3    101.3/62.7      10,000
global scope over 100 accounts × 100        10,000    25.25/7.86       2.52     43.31    16.1/9.2          3    138.2/85.3      10,000
"""  # noqa: E501

GATE = """\
the pre-trade gate's 20 limits under load — machine: 2 cores, AMD EPYC, Python 3.11.7, 2026-11-27, reference loop 7.2 ms
layout: one account of 1,000 positions ...; load average 2.7; reference loop 6.8 ms
  check-order: 10,001 answered (1,000/s), 0 failed; latency p50 0.80 ms  p99 231.88 ms  max 410.9 ms; in reference loops p50 0.12 p99 33.94
  tick period: quiet p50 491 ms p99 519 ms; under the load p50 497 ms p99 2662 ms; ratio p50 1.01 (goal <= 1.2: met)
  the tick's own work (every phase but the snapshots' fetch), mean: quiet 5.9 ms, under the load 17.8 ms (ratio 3.00; 14 and 15 ticks)
"""  # noqa: E501

API = """\
  machine: 2 cores, AMD EPYC, Python 3.11.7, 2026-11-27, reference loop 7.1 ms
  request latency p50/p99 (median of 1 rounds): all 88/475 ms; lock 88/478 ms; unlock 88/473 ms
  tick period p50/p99 (policy interval 200 ms): quiet 0.500/0.501 s (10 periods); under the load 1.379/2.734 s (4 periods); ratio 2.76x / 5.46x (goals <= 1.2x / <= 2x): MISSED
  a tick's own work (all but the snapshots' fetch), mean: quiet 2.4 ms, under the load 5.3 ms (2.19x)
"""  # noqa: E501


def test_the_docs_block_gives_each_figure_with_its_unit_and_loop():
    got = ref.read_references(DOC)
    assert got == {
        "tick.one-account.steady-own": ref.Reference("tick.one-account.steady-own", 2.5, "ms", 8.35),
        "tick.one-account.sampling": ref.Reference("tick.one-account.sampling", 9.0, "ms", None),
        "gate.tick-period-ratio": ref.Reference("gate.tick-period-ratio", 1.77, "x", None),
    }


@pytest.mark.parametrize("line, says", [
    ("tick.one-account.steady-own 2.50 ms", "docs/benchmarks.md:9: cannot read the reference figure"),
    ("tick.one-account.steady-own: 2.50 seconds (reference loop 8 ms)", "docs/benchmarks.md:9: cannot read"),
    ("gate.tick-period-ratio: 1.77 x (reference loop 8 ms)", "a ratio (x): a reference loop does not apply"),
    ("tick.one-account.sampling: 1.0 ms", "tick.one-account.sampling given twice"),
])
def test_a_malformed_reference_line_is_an_error_naming_its_line(line, says):
    doc = DOC.replace("tick.one-account.steady-own: 2.50 ms (reference loop 8.35 ms)  # the goals table", line)
    with pytest.raises(ref.ReadError, match=re.escape(says)):
        ref.read_references(doc)


def test_a_page_without_the_section_or_an_unclosed_block_is_an_error():
    with pytest.raises(ref.ReadError, match="no section"):
        ref.read_references("# Benchmark notes\n")
    with pytest.raises(ref.ReadError, match="never closed"):
        ref.read_references(DOC.split("```\n\n## Another")[0])


def test_the_page_itself_has_a_reference_for_every_figure_the_benches_print():
    refs = ref.read_references((ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8"))
    printed = {**ref.parse_tick(TICK), **ref.parse_gate(GATE), **ref.parse_api(API)}
    assert set(refs) == set(printed)
    assert refs["tick.one-account.steady-own"] == ref.Reference("tick.one-account.steady-own", 2.5, "ms", 8.35)


def test_each_bench_s_printed_figures_and_loop_are_read():
    assert ref.parse_tick(TICK) == {
        "tick.one-account.steady-own": 9.99, "tick.one-account.sampling": 13.55, "tick.one-account.entry-own": 16.8,
        "tick.global.steady-own": 25.25, "tick.global.sampling": 43.31, "tick.global.entry-own": 16.1}
    assert ref.parse_gate(GATE) == {"gate.check-order-p50": 0.8, "gate.tick-period-ratio": 1.01,
                                    "gate.tick-own-work-loaded": 17.8}
    assert ref.parse_api(API) == {"api.lock-p50": 88.0, "api.tick-period-ratio": 2.76, "api.tick-own-work-loaded": 5.3}
    assert ref._loop_of("tick", TICK) == 7.1
    assert ref._loop_of("gate", GATE) == 6.8  # the loop measured beside the load, not the one at start


def test_a_bench_output_without_its_figures_is_an_error_naming_the_bench():
    with pytest.raises(ref.ReadError, match="tick: no row"):
        ref.parse_tick(TICK.replace("one account of 10,000", "one acct").replace("global scope", "glob"))
    with pytest.raises(ref.ReadError, match="gate: no tick's own work"):
        ref.parse_gate(GATE.splitlines()[0] + "\n" + GATE.splitlines()[2] + "\n" + GATE.splitlines()[3])
    with pytest.raises(ref.ReadError, match="api: no 'reference loop X ms'"):
        ref._loop_of("api", API.splitlines()[1])


@pytest.mark.parametrize("reference, today, loop, ratio, worse", [
    (ref.Reference("t", 2.5, "ms", 8.35), 9.0, 7.0, (9.0 / 7.0) / (2.5 / 8.35), True),  # in loops
    (ref.Reference("t", 2.5, "ms", 8.35), 4.0, 8.35, 1.6, False),
    (ref.Reference("t", 9.0, "ms", None), 13.5, 7.0, 1.5, False),  # no loop on the page: in ms
    (ref.Reference("t", 1.03, "x", None), 2.76, 7.0, 2.76 / 1.03, True),  # a ratio as it is
    (ref.Reference("t", 1.0, "x", None), 2.0, 7.0, 2.0, False),  # twice is not more than twice
])
def test_a_figure_is_worse_only_beyond_twice_its_reference(reference, today, loop, ratio, worse):
    row = ref.compare(reference, today, loop)
    assert row.ratio == pytest.approx(ratio) and row.worse is worse
    assert ("WORSE" in ref.table([row])) is worse
