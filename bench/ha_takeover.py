"""Benchmark: how long a standby takes to act after the leader is SIGKILLed, on a loaded machine.

Layout, all on 127.0.0.1: a PostgreSQL server (started here with ``initdb`` and ``pg_ctl``, fsync
on), the simulated exchange (calm scenario, its Binance USD-M face), two ``ksctl run`` processes
on that database (dry run, 200 ms ticks, ``--lease-ttl`` ``--ttl``) and ``--burners`` busy-loop
processes (default 2: both cores busy the whole time).

Each of ``--kills`` rounds (default 20): wait until one runner leads (its state saved under its
token) and the other stands by (``/readyz`` says ``STANDBY``), wait a random 0.5-2.5 s (so that
the kill falls anywhere in the leader's renewal period), SIGKILL the leader, and time from the
kill, polling the database every 10 ms:

* lease taken: the lease row names the standby;
* acting: the standby saved the engine state under its new token — its first tick as leader
  (state reloaded, pending intents reconciled, snapshots taken, evaluated, saved).

Then the killed runner is started again, as the new standby. Prints p50 / p99 / max of both with
the machine and the layout, and exits 1 if acting's p99 exceeds the lease TTL.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

from harness import PYTHON, Pg, Sim, free_port, machine, pct, ready, start_runner, stop, wait_until, write_inputs

POLL_S = 0.01
ROUND_TIMEOUT_S = 120.0  # any one wait; the whole run is bounded by kills x a few of these


def parse_ttl(text: str) -> float:
    from killswitch.policy.units import parse_duration

    return parse_duration(text).ms / 1000


class Db:
    """Reads the lease row and the saved state's token, on one connection."""

    def __init__(self, url: str):
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)

    def now(self) -> tuple[Optional[str], int, Optional[int]]:
        """(lease holder, lease token, the token the engine state was last saved under)."""
        holder, fence = self.conn.execute("SELECT holder, fence FROM lease WHERE id = 1").fetchone()
        row = self.conn.execute("SELECT fence FROM engine_state WHERE id = 1").fetchone()
        return holder, fence, row[0] if row else None

    def close(self) -> None:
        self.conn.close()


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20, help="SIGKILLs of the leader (default 20)")
    ap.add_argument("--ttl", default="5s", help="the runners' --lease-ttl (default 5s)")
    ap.add_argument("--burners", type=int, default=2, help="busy-loop processes (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = ap.parse_args(argv)
    if not 1 <= args.kills <= 500 or not 0 <= args.burners <= 16:
        ap.error("1 <= --kills <= 500 and 0 <= --burners <= 16")
    ttl_s = parse_ttl(args.ttl)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="ks-bench-ha-"))
    pg = sim = db = None
    procs: dict[str, Optional[subprocess.Popen]] = {"ha-a": None, "ha-b": None}
    ports = {"ha-a": free_port(), "ha-b": free_port()}
    burners: list[subprocess.Popen] = []
    taken: list[float] = []
    acting: list[float] = []
    try:
        pg = Pg()
        sim = Sim(work)
        pol, acc = write_inputs(work, sim.port)
        url = pg.url()
        api = {h: f"http://127.0.0.1:{p}" for h, p in ports.items()}

        def start(holder: str) -> None:
            procs[holder] = start_runner(work, pol, acc, url, holder, ports[holder], args.ttl)

        start("ha-a")
        if not wait_until(lambda: ready(api["ha-a"]) == "LEADER", 60, 0.1):
            raise RuntimeError(f"ha-a did not lead: {(work / 'ha-a.err').read_text()[-2000:]}")
        start("ha-b")
        db = Db(url)
        burners = [subprocess.Popen([str(PYTHON), "-c", "while True: pass"]) for _ in range(args.burners)]
        for k in range(args.kills):
            holder, fence, saved = db.now()
            standby = "ha-b" if holder == "ha-a" else "ha-a"
            if not wait_until(lambda: ready(api[standby]) == "STANDBY", ROUND_TIMEOUT_S, 0.05):
                raise RuntimeError(f"{standby} did not stand by: {(work / f'{standby}.err').read_text()[-2000:]}")
            if not wait_until(lambda: db.now()[2] == fence, ROUND_TIMEOUT_S, 0.05):
                raise RuntimeError(f"{holder} did not act as leader under token {fence}")
            time.sleep(rng.uniform(0.5, 2.5))
            leader = procs[holder]
            assert leader is not None and leader.poll() is None, f"{holder} exited by itself"
            leader.kill()
            t_taken, t_acting = _takeover(db, standby, fence, time.monotonic())
            leader.wait(10)
            if t_taken is None or t_acting is None:
                raise RuntimeError(f"kill {k + 1}: {standby} did not take over within {ROUND_TIMEOUT_S:.0f} s")
            taken.append(t_taken)
            acting.append(t_acting)
            print(f"  kill {k + 1:3d}: {holder} killed; {standby} took the lease after {t_taken:.2f} s and acted "
                  f"after {t_acting:.2f} s", flush=True)
            start(holder)  # back as the standby
    finally:
        for b in burners:
            stop(b)
        for p in procs.values():
            stop(p)
        if db is not None:
            db.close()
        if sim is not None:
            sim.close()
        if pg is not None:
            pg.stop()
        if args.keep:
            print(f"work directory: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return _report(args, ttl_s, taken, acting)


def _takeover(db: Db, standby: str, fence: int, killed: float) -> tuple[Optional[float], Optional[float]]:
    """Seconds from the kill until the standby held the lease (the lease row names it, under a
    newer fence) and until it acted (its first state saved under that fence); None: not within
    the round."""
    t_taken = t_acting = None
    while time.monotonic() - killed < ROUND_TIMEOUT_S and t_acting is None:
        h, f, s = db.now()
        now = time.monotonic()
        if t_taken is None and h == standby and f > fence:
            t_taken = now - killed
        if t_taken is not None and s == f and h == standby:
            t_acting = now - killed
        time.sleep(POLL_S)
    return t_taken, t_acting


def _report(args: argparse.Namespace, ttl_s: float, taken: list[float], acting: list[float]) -> int:
    print(f"\nha takeover: {len(acting)} SIGKILLs of the leader; PostgreSQL (fsync on), two ksctl run (dry run, "
          f"200 ms ticks), lease TTL {args.ttl} (renewed every {ttl_s / 3:.2f} s for a term of {2 * ttl_s / 3:.2f} s); "
          f"{args.burners} busy-loop process(es) on the machine's cores")
    print(f"  machine: {machine()}")
    for name, xs in (("lease taken (the lease row names the standby)", taken),
                     ("acting (the standby's first state saved as leader)", acting)):
        print(f"  {name}: p50 {pct(xs, 50):.2f} s, p99 {pct(xs, 99):.2f} s, max {max(xs):.2f} s")
    ok = pct(acting, 99) <= ttl_s
    print("  result: " + (f"ok: acting p99 <= the lease TTL ({ttl_s:g} s)" if ok else
                          f"FAIL: acting p99 above the lease TTL ({ttl_s:g} s)"))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
