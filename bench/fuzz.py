"""Benchmark (and fuzzer): mutated policy files through the loader and the compiler.

Runs the mutations of tests/policy_mutations.py (a key deleted or misspelled, a value of another
type or random text, a condition nested in up to 5,000 parentheses or "!" — mixed at random — or
chained to 5,000 terms, a number made 16 to 5,000 digits long, a condition generated from the
grammar, a ``where:`` clause added, a route's label pattern set or a route with one added, the
text truncated, YAML punctuation inserted, a line deleted or duplicated; 1-3 per case) over
every file of policies/, each case compiled with the files it goes with, from a seeded
``random.Random``: case N of seed S is the same on every machine. Prints the counts by
outcome — clean, warnings only, errors (the normal answer to a broken file), broken promise (a
diagnostic without a hint or position, a cascade into a test file), crash —, the error codes seen,
the slowest cases, and the machine line.

Then as many label patterns again (tests/policy_generators.py: valid RE2, what RE2 refuses, what
makes a backtracking engine take exponential time, long, deep and random ones), each judged by
killswitch.policy.patterns and, when valid, matched against labels of up to 10,000 characters, as
the notification router and the silences match them. Then ``--generated`` cases of generated text
through ksctl validate's path (tests/policy_mutations.py's ``generated_case``: policies drawn from
the language's registry, mutated, with lines of YAML's pieces, and those lines alone). Exits 1
on a crash, a broken promise or a case over 1 s.

    .venv/bin/python bench/fuzz.py                    # 10,000 cases, seed 0; 3,000 generated
    .venv/bin/python bench/fuzz.py --cases 500 --seed 7 --show 3
    .venv/bin/python bench/fuzz.py --cases 0 --generated 3000 --seed 1
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import machine  # noqa: E402

from killswitch.policy.patterns import compile_label_pattern, pattern_problem  # noqa: E402
from tests.policy_generators import pattern  # noqa: E402
from tests.policy_mutations import Corpus, RandomChooser, generated_case, mutate, run_case, run_validate  # noqa: E402

LIMIT_S = 1.0
LABELS = ("critical", "binanceusdm", "", "a" * 10_000, "x" * 9_999 + "zz", "é" * 1_000 + "\n", "a,b," * 2_000)


def fuzz_patterns(cases: int, seed: int, show: int) -> tuple[collections.Counter[str], float, list[str], int]:
    """``cases`` generated patterns: judged, compiled, matched. Outcomes, the slowest case's
    seconds, the failures (up to ``show``) and the cases over :data:`LIMIT_S`."""
    outcomes: collections.Counter[str] = collections.Counter()
    slowest, failures, over = 0.0, [], 0
    for n in range(cases):
        text = pattern(random.Random(f"pattern:{seed}:{n}"))
        t0 = time.perf_counter()
        try:
            if pattern_problem(text) is not None:
                outcomes["refused"] += 1
            else:
                compiled = compile_label_pattern(text)
                hits = sum(compiled.matches(label) for label in LABELS)
                outcomes["matched a label" if hits else "matched none"] += 1
        except Exception as e:  # noqa: BLE001 - a crash is what this looks for
            outcomes["crash"] += 1
            if len(failures) < show:
                failures.append(f"pattern {n} (seed {seed}): {text[:80]!r}\n    {type(e).__name__}: {e}")
        took = time.perf_counter() - t0
        slowest = max(slowest, took)
        over += took >= LIMIT_S
    return outcomes, slowest, failures, over


def fuzz_generated(corpus: Corpus, cases: int, seed: int,
                   show: int) -> tuple[collections.Counter[str], float, list[str], int]:
    """``cases`` generated texts through ksctl validate's path: outcomes by shape, the slowest
    case's seconds, the failures (up to ``show``) and the cases over :data:`LIMIT_S`."""
    outcomes: collections.Counter[str] = collections.Counter()
    slowest, failures, over = 0.0, [], 0
    for n in range(cases):
        shape, files = generated_case(corpus, random.Random(f"generated:{seed}:{n}"))
        out = run_validate(files)
        outcomes[f"{shape}: {out.kind}"] += 1
        slowest = max(slowest, out.seconds)
        over += out.seconds >= LIMIT_S
        if out.kind in ("crash", "broken promise") and len(failures) < show:
            why = f"{type(out.crash).__name__}: {out.crash}" if out.crash else "\n    ".join(out.problems)
            failures.append(f"generated {n} (seed {seed}, {shape}): {files['fuzz.yaml'][:80]!r}\n    {why}")
    return outcomes, slowest, failures, over


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", type=int, default=5, help="how many failing cases to print in full")
    ap.add_argument("--generated", type=int, default=3_000, help="how many generated texts to validate")
    args = ap.parse_args()

    corpus = Corpus()
    outcomes: collections.Counter[str] = collections.Counter()
    by_op: collections.Counter[str] = collections.Counter()
    codes: collections.Counter[str] = collections.Counter()
    slowest: list[tuple[float, int, str, list[str]]] = []
    failures: list[str] = []
    over = 0
    cascade_checked = 0  # cases whose test file had to stay quiet: a policy's settings broken
    t0 = time.perf_counter()
    for n in range(args.cases):
        c = RandomChooser(random.Random(f"{args.seed}:{n}"))
        seed = c.choice(corpus.seeds)
        m = mutate(seed, c)
        out = run_case(corpus, seed, m)
        outcomes[out.kind] += 1
        by_op.update(m.ops)
        if seed.test_file is not None and m.settings_only and out.result is not None and out.result.errors:
            cascade_checked += 1
        if out.result is not None:
            codes.update({x.code for x in out.result.diagnostics})
        slowest = sorted(slowest + [(out.seconds, n, seed.name, m.steps)], reverse=True)[:3]
        if out.seconds >= LIMIT_S:
            over += 1
        if out.kind in ("crash", "broken promise") and len(failures) < args.show:
            why = f"{type(out.crash).__name__}: {out.crash}" if out.crash else "\n    ".join(out.problems)
            failures.append(f"case {n} (seed {args.seed}): {seed.name} after {m.steps}\n    {why}")
    wall = time.perf_counter() - t0

    print(f"bench/fuzz.py: {args.cases:,} cases, seed {args.seed}, {wall:.0f} s "
          f"({wall / max(args.cases, 1) * 1000:.1f} ms a case)")
    print(f"machine: {machine()}")
    print("outcomes:")
    for kind in ("clean", "warnings only", "errors", "broken promise", "crash"):
        print(f"  {kind:<15} {outcomes[kind]:>7,}")
    print(f"  over {LIMIT_S:g} s       {over:>7,}")
    print("mutations: " + ", ".join(f"{k} {v:,}" for k, v in sorted(by_op.items())))
    print(f"cascade checks: {cascade_checked:,} cases broke only settings of a policy (with errors); its test "
          "file may get one note (the policy has errors, or its file could not be read), nothing else")
    print("cases with each code: " + ", ".join(f"{k} {v:,}" for k, v in sorted(codes.items())))
    print("slowest:")
    for secs, n, name, steps in slowest:
        print(f"  {secs * 1000:7.1f} ms  case {n}: {name} after {steps}")
    for f in failures:
        print("FAIL " + f)
    t0 = time.perf_counter()
    patterns, slowest_pattern, pattern_failures, patterns_over = fuzz_patterns(args.cases, args.seed, args.show)
    print(f"label patterns: {args.cases:,}, {time.perf_counter() - t0:.0f} s, each matched against "
          f"{len(LABELS)} labels of up to 10,000 characters")
    for kind in ("refused", "matched a label", "matched none", "crash"):
        print(f"  {kind:<15} {patterns[kind]:>7,}")
    print(f"  over {LIMIT_S:g} s       {patterns_over:>7,}")
    print(f"  slowest         {slowest_pattern * 1000:7.1f} ms")
    for f in pattern_failures:
        print("FAIL " + f)
    t0 = time.perf_counter()
    generated, slowest_generated, generated_failures, generated_over = fuzz_generated(
        corpus, args.generated, args.seed, args.show)
    print(f"generated texts: {args.generated:,}, {time.perf_counter() - t0:.0f} s, through ksctl validate's path")
    for kind, count in sorted(generated.items()):
        print(f"  {kind:<32} {count:>7,}")
    print(f"  over {LIMIT_S:g} s                        {generated_over:>7,}")
    print(f"  slowest                          {slowest_generated * 1000:7.1f} ms")
    for f in generated_failures:
        print("FAIL " + f)
    broken = sum(v for k, v in generated.items() if k.endswith(("crash", "broken promise")))
    bad = (outcomes["crash"] + outcomes["broken promise"] + over + patterns["crash"] + patterns_over + broken
           + generated_over)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
