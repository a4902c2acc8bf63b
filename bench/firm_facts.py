"""Benchmark: what the firm layer's facts cost PostgreSQL per tick, and how it grows with accounts.

A throwaway PostgreSQL on loopback (:class:`bench.harness.Pg`, fsync on: a durable server's
figures). For a shard of ``n`` accounts (``--accounts``, default 10, 100, 250, 1,000):

* publish — one shard leader's upsert of its ``n`` facts, fenced by its token
  (:meth:`FirmStore.publish_facts`: the shard's lease row read ``FOR SHARE``, then one
  upsert of arrays), wall time per tick, median and p99 of ``--ticks`` ticks;
* read — the firm lease holder's read of every fact and every shard's lease (four shards of ``n``
  accounts each, :meth:`FirmStore.facts` and :meth:`FirmStore.shard_leases`);
* bytes — the facts' rows as stored (``pg_column_size`` of the rows, the heap's share), and the
  WAL a publish writes (``pg_current_wal_lsn`` before and after a tick).

The upsert is one statement of arrays (``unnest``): one round trip and one plan for the shard.

Printed with the machine and the layout; asserts nothing.

    .venv/bin/python bench/firm_facts.py [--accounts 10,100,250,1000] [--ticks 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Pg, machine, pct  # noqa: E402
from killswitch.firm.facts import Fact  # noqa: E402
from killswitch.state import open_store  # noqa: E402
from killswitch.state.firm import open_firm, shard_schema  # noqa: E402

SHARDS = ("desk-a", "desk-b", "desk-c", "desk-d")


def facts(shard: str, n: int, now: int, fence: int) -> list[Fact]:
    return [Fact(shard, "binanceusdm", f"{shard}-{i}", now - 40, now, 1_000_000.0 + i, -1_234.5, 250_000.0,
                 -50_000.0, 40, True, None, True, fence) for i in range(n)]


def measure(url: str, n: int, ticks: int) -> dict:
    import psycopg

    firm = open_firm(url)
    stores = {s: open_store(url, schema=shard_schema(s)) for s in SHARDS}
    fences = {s: st.acquire_lease(f"{s}-0", 600_000, int(time.time() * 1000)) for s, st in stores.items()}
    publish: list[float] = []
    read: list[float] = []
    wal: list[int] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for _t in range(ticks):
            now = int(time.time() * 1000)
            for s in SHARDS[1:]:
                firm.publish_facts(shard_schema(s), fences[s], facts(s, n, now, fences[s]))
            before = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            t0 = time.perf_counter()
            assert firm.publish_facts(shard_schema("desk-a"), fences["desk-a"], facts("desk-a", n, now,
                                                                                      fences["desk-a"])) == n
            publish.append((time.perf_counter() - t0) * 1000)
            after = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            wal.append(int(conn.execute("SELECT pg_wal_lsn_diff(%s, %s)", (after, before)).fetchone()[0]))
            t0 = time.perf_counter()
            got = firm.facts()
            firm.shard_leases({s: shard_schema(s) for s in SHARDS})
            read.append((time.perf_counter() - t0) * 1000)
            assert len(got) == n * len(SHARDS)
        row_bytes = conn.execute("SELECT sum(pg_column_size(f.*)) FROM ks_firm.account_fact f "
                                 "WHERE shard = 'desk-a'").fetchone()[0]
        conn.execute("DELETE FROM ks_firm.account_fact")
    for st in stores.values():
        st.close()
    firm.close()
    return {"n": n, "publish_ms_p50": statistics.median(publish), "publish_ms_p99": pct(publish, 99),
            "read_ms_p50": statistics.median(read), "row_bytes": int(row_bytes),
            "wal_bytes_p50": statistics.median(wal)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", default="10,100,250,1000")
    ap.add_argument("--ticks", type=int, default=50)
    args = ap.parse_args()
    pg = Pg()
    try:
        url = pg.url()
        print(f"firm facts per tick — {machine()}; PostgreSQL on loopback (fsync on); 4 shards; "
              f"{args.ticks} ticks each")
        print(f"{'accounts/shard':>14} {'publish p50':>12} {'publish p99':>12} {'read all p50':>13} "
              f"{'rows':>6} {'heap bytes':>11} {'WAL bytes':>10}")
        for n in (int(x) for x in args.accounts.split(",")):
            r = measure(url, n, args.ticks)
            print(f"{n:>14} {r['publish_ms_p50']:>10.2f}ms {r['publish_ms_p99']:>10.2f}ms {r['read_ms_p50']:>11.2f}ms "
                  f"{n:>6} {r['row_bytes']:>11} {int(r['wal_bytes_p50']):>10}")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
