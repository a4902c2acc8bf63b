"""Benchmark: ``ksctl drift`` over a firm of 8 shards x 2 replicas.

Sixteen fake runners on 127.0.0.1 (aiohttp, on a thread of this process: tests/cli/drift_fakes.py)
serve status documents of a realistic size (their scopes, dead man's switch sources, streams and
``policy_sync``), each built from real files: the repository's ``policies/`` at HEAD, hashed. The
first replica of the first shard serves the firm board, which names every shard's first replica;
the second replicas are given with ``--api``. ``ksctl drift --against HEAD:policies/ --firm``
runs as a user or a CronJob runs it, a fresh process each time; its wall time, p50 and p99 over
``--runs`` runs (after one that warms), and the same in reference loops (bench/harness.py: the
machine's speed just now).

Two firms: every runner in sync; and one with drift — a replica two policy commits behind (the
history searched until its documents match), one hand-edited (the whole history searched, none
matches), one whose reload failed, one on an older API.

    .venv/bin/python bench/drift.py              # both firms, 30 runs each
    .venv/bin/python bench/drift.py --runs 100
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import ENV, KSCTL, machine, pct, reference_ms  # noqa: E402

from tests.cli.drift_fakes import Fake, FakeRunners, policy_sync, status  # noqa: E402

SHARDS, REPLICAS = 8, 2


def _checkout(rev: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    data = subprocess.run(["git", "archive", "--format=tar", f"{rev}:policies"], cwd=ROOT, check=True,
                          capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=data, check=True)
    return dest


def _realistic(doc: dict, shard: int) -> dict:
    """A status of a working shard: its scopes, data ages and streams, beside ``policy_sync``."""
    accounts = [f"binanceusdm/desk-{shard}-{i}" for i in range(12)]
    doc["scopes"] = [{"policy": p, "scope": a, "stage": 0, "stage_name": None, "manual": False, "approvals": [],
                      "approvals_needed": 1, "entered_ms": None, "ack": None, "acks": []}
                     for p in ("futures-book", "volatility-drawdown", "position-watch") for a in accounts]
    doc["data_age_s"] = {a: 0.4 for a in accounts}
    doc["streams"] = {a: {"state": "live", "reason": None, "since_ms": 1_772_456_400_000, "reconnects": 0,
                          "last_message_age_s": 0.1, "degraded": False} for a in accounts}
    doc["coverage"] = [{"policy": s["policy"], "scope": s["scope"], "state": "armed"} for s in doc["scopes"]]
    return doc


def firm(fakes: FakeRunners, work: Path, drifting: bool) -> list[str]:
    """The 16 runners; the command's arguments that reach them all."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    older = subprocess.run(["git", "log", "--format=%H", "-n", "3", head, "--", "policies"], cwd=ROOT,
                           capture_output=True, text=True).stdout.split()[-1]
    current = _checkout(head, work / "head")
    behind = _checkout(older, work / "older")
    edited = _checkout(head, work / "edited")
    book = edited / "futures-book.yaml"
    book.write_text(book.read_text(encoding="utf-8") + "\n# edited by hand\n", encoding="utf-8")
    runners: list[list[Fake]] = []
    for s in range(SHARDS):
        row = []
        for r in range(REPLICAS):
            sync = policy_sync(current, head)
            digest = "sha256:" + "ab" * 32
            if drifting and (s, r) == (1, 1):
                sync, digest = policy_sync(behind, older, digest="sha256:" + "b1" * 32), "sha256:" + "b1" * 32
            elif drifting and (s, r) == (2, 0):
                sync, digest = policy_sync(edited, head + "-dirty", digest="sha256:" + "e2" * 32), "sha256:" + "e2" * 32
            elif drifting and (s, r) == (3, 1):
                sync = policy_sync(current, head, reload_error="futures-book.yaml:4:3: error[KS101] unknown key",
                                   failed_ms=1_772_456_400_000, handed=edited)
            doc = status(None if drifting and (s, r) == (4, 0) else sync, shard=f"desk-{s}", holder=f"ks-{s}-{r}",
                         revision=head, dms_sources=40, digest=digest)
            row.append(fakes.add(Fake(_realistic(doc, s))))
        runners.append(row)
    runners[0][0].board = {"shards": [{"shard": f"desk-{s}", "console_url": runners[s][0].url, "why": ""}
                                      for s in range(SHARDS)]}
    args = ["--api", runners[0][0].url, "--firm"]
    for s in range(SHARDS):
        args += ["--api", runners[s][1].url]
    return args


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(args: list[str], runs: int) -> tuple[list[float], list[float], int, str]:
    """Wall and CPU (the command's and its git processes') of each run; its exit code and summary."""
    cmd = [str(KSCTL), "drift", "--against", "HEAD:policies/", *args]
    first = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)  # warms the page cache
    walls, cpus = [], []
    for _ in range(runs):
        before = _children_cpu()
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, check=False)
        walls.append(time.perf_counter() - t)
        cpus.append(_children_cpu() - before)
    return walls, cpus, first.returncode, first.stdout.strip().splitlines()[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="runs of ksctl drift per firm")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"ksctl drift --against HEAD:policies/ --firm over {SHARDS} shards x {REPLICAS} replicas "
          f"(fake runners on 127.0.0.1), a fresh process each run, {args.runs} runs")
    print(f"{'firm':<10} {'exit':>4} {'wall p50':>9} {'p99':>7} {'p50 loops':>10} {'p99 loops':>10} "
          f"{'CPU p50':>8} {'loops':>6}  summary")
    for name, drifting in (("in sync", False), ("drifting", True)):
        fakes = FakeRunners()
        try:
            with tempfile.TemporaryDirectory(prefix="ks-drift-bench-") as tmp:
                walls, cpus, code, summary = measure(firm(fakes, Path(tmp), drifting), args.runs)
        finally:
            fakes.close()
        ref = reference_ms(5)
        p50, p99 = pct(walls, 50) * 1000, pct(walls, 99) * 1000
        cpu = pct(cpus, 50) * 1000
        print(f"{name:<10} {code:>4} {p50:7.0f}ms {p99:5.0f}ms {p50 / ref:10.1f} {p99 / ref:10.1f} {cpu:6.0f}ms "
              f"{cpu / ref:6.1f}  {summary}")


if __name__ == "__main__":
    main()
