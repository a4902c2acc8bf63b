"""Benchmark: what anchoring the audit chain costs, and how long verifying a long chain takes.

1. Append: the latency of ``StateStore.audit`` (one write transaction: the head row locked, the
   row inserted, the head updated), without a key and with one (two HMAC-SHA256 more). SQLite
   with ``synchronous=FULL`` (the runner's setting: the fsync dominates) and, with ``--pg``, a
   throwaway PostgreSQL on loopback (``fsync=off``: the database's own work).
2. Verify: ``audit_verification`` over a chain of ``--rows`` rows (default 100,000), without
   the key (links, hashes, numbering, head) and with it (every row's and the head's HMAC too),
   read a page of 5,000 rows per transaction.

Each figure is the median of ``--runs`` runs (default 3), printed with the machine (cores and
CPU model from /proc/cpuinfo), the date and the layout. ``--quick``: 20,000 rows, 300 appends.
Prints figures; asserts nothing.

    .venv/bin/python bench/audit_chain.py [--quick] [--pg] [--rows N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from killswitch.state import AuditKey, open_store  # noqa: E402
from killswitch.state.store import GENESIS_HASH, audit_hash, canonical_json  # noqa: E402

KEY = "bench-audit-key-" + "0123456789abcdef" * 3


from harness import machine  # noqa: E402  (the bench directory is the script's)


def payload(i: int) -> dict:
    # the size of a runner's stage_transition row (about 310 bytes of JSON)
    return {"policy": "futures-book", "scope": "binanceusdm/main", "from": i % 3, "to": (i + 1) % 3,
            "reason": f"ESCALATED: stage={i % 3}->{(i + 1) % 3} triggers=soft dd_15m=4.{i % 10}%",
            "decision_id": f"futures-book/binanceusdm/main/L1/e{i}", "graph_digest": "sha256:" + "ab" * 32,
            "revision": "c0ffee", "dry_run": False}


def fill(url: str, rows: int, key: AuditKey | None) -> None:
    """A chain of ``rows`` rows written straight into the tables (the same hashes and MACs the
    store writes, without a transaction per row), and its head."""
    open_store(url).close()  # the schema
    data, prev = [], GENESIS_HASH
    for seq in range(1, rows + 1):
        p = payload(seq)
        digest = audit_hash(prev, seq, "stage_transition", 1_000 + seq, p)
        data.append((seq, "stage_transition", 1_000 + seq, canonical_json(p), prev, digest,
                     key.row_mac(seq, digest) if key else None))
        prev = digest
    head = (rows, prev, key.head_mac(rows, prev, 1) if key else None, key.key_id if key else None,
            1 if key else None)
    insert = "INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?)"
    update = "UPDATE audit_head SET seq = ?, hash = ?, mac = ?, key_id = ?, anchored_from = ? WHERE id = 1"
    if url.startswith("sqlite://"):
        import sqlite3

        with sqlite3.connect(url[len("sqlite://"):]) as conn:
            conn.executemany(insert, data)
            conn.execute(update, head)
    else:
        import psycopg

        with psycopg.connect(url, autocommit=False) as conn:
            with conn.cursor() as cur:
                cur.executemany(insert.replace("?", "%s"), data)
                cur.execute(update.replace("?", "%s"), head)


def bench_append(url: str, key: AuditKey | None, n: int) -> tuple[float, float]:
    """Median and p99 of one append, in milliseconds."""
    store = open_store(url, audit_key=key)
    try:
        times = []
        for i in range(n):
            t = time.perf_counter()
            store.audit("stage_transition", 1_000 + i, payload(i))
            times.append((time.perf_counter() - t) * 1000)
    finally:
        store.close()
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def bench_verify(url: str, key: AuditKey | None) -> tuple[float, int, bool]:
    store = open_store(url, migrate=False, audit_key=key)
    try:
        t = time.perf_counter()
        v = store.audit_verification()
        elapsed = time.perf_counter() - t
    finally:
        store.close()
    assert v.ok, v.describe()  # a benchmark over a broken chain would measure the wrong thing
    return elapsed, v.rows, v.anchored


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pg", action="store_true", help="also on a throwaway PostgreSQL (initdb + pg_ctl)")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--appends", type=int, default=None)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rows = args.rows or (20_000 if args.quick else 100_000)
    appends = args.appends or (300 if args.quick else 1_000)
    key = AuditKey(KEY)
    print(f"machine: {machine()}")
    results: dict = {"machine": machine(), "rows": rows, "appends": appends, "runs": args.runs, "figures": []}
    backends = [("sqlite", "SQLite, WAL, synchronous=FULL, local disk")]
    server = None
    if args.pg:
        from tests.conftest import _start_pg, pg_bin

        server = _start_pg(pg_bin("initdb"), pg_bin("pg_ctl"))
        backends.append(("postgres", "PostgreSQL on 127.0.0.1, fsync=off, one connection"))
    try:
        with tempfile.TemporaryDirectory(prefix="ks-bench-audit-") as tmp:
            for backend, layout in backends:
                for keyed in (False, True):
                    k = key if keyed else None
                    label = f"{backend}, {'with' if keyed else 'without'} the audit key"
                    meds, p99s, verifies = [], [], []
                    for run in range(args.runs):
                        name = f"a{int(keyed)}r{run}"
                        if backend == "sqlite":
                            url = f"sqlite://{Path(tmp) / (name + '.db')}"
                        else:
                            url = server.create_database(f"bench_{name}")
                        med, p99 = bench_append(url, k, appends)
                        meds.append(med)
                        p99s.append(p99)
                        if backend == "sqlite":
                            url = f"sqlite://{Path(tmp) / (name + '-long.db')}"
                        else:
                            url = server.create_database(f"bench_{name}_long")
                        fill(url, rows, k)
                        elapsed, n, anchored = bench_verify(url, k)
                        assert anchored == keyed
                        verifies.append(elapsed)
                    fig = {"backend": backend, "layout": layout, "keyed": keyed,
                           "append_ms_median": round(statistics.median(meds), 3),
                           "append_ms_p99": round(statistics.median(p99s), 3),
                           "verify_s_median": round(statistics.median(verifies), 3),
                           "verify_rows_per_s": round(rows / statistics.median(verifies))}
                    results["figures"].append(fig)
                    print(f"{label} ({layout}): append median {fig['append_ms_median']:.3f} ms, p99 "
                          f"{fig['append_ms_p99']:.3f} ms over {appends} appends; verify {rows:,} rows in "
                          f"{fig['verify_s_median']:.2f} s ({fig['verify_rows_per_s']:,} rows/s); "
                          f"median of {args.runs} runs")
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
