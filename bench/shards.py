"""Benchmark: the firm-wide breaker over shards, as processes.

PostgreSQL started here (``initdb``/``pg_ctl`` on a free loopback port, fsync on), the simulated
exchange (``serve --accounts``: one simulated account ``sim-<k>`` per shard, long BTC and ETH),
and ``--shards`` shards × 2 replicas (leader and standby, ``ksctl run --shard`` subprocesses),
``--accounts`` accounts a shard (each shard's accounts read the shard's simulated account, each
through its own adapter: the reads are the shard's load). Each shard has a local policy that
never fires (its tick at 1 s); one firm-wide policy (scope ``global``: the drawdown of every
account's equity over 5 s, 5 %) locks ``halted`` and closes everything, manual reset. Interval
1 s, lease TTL 3 s. Figures:

a. a firm-wide breach acted on: the marks moved (BTC and ETH 20 % down, every account 12 %) →
   the lock in force at every shard's gate (its leader's ``/v1/check-order`` refused, polled)
   and the first close sent by every shard (the order's receipt time at the simulator, its
   wall clock), in intervals, p50/p99 over ``--trials``; between trials the marks and books are
   seeded again and the firm stage reset through the API;
b. a shard's leader (not the firm lease holder) SIGKILLed: its standby's takeover seen at the
   firm (its shard's lease under a higher token), p50/p99; the firm views read meanwhile, the
   views armed over facts older than the limit (must be 0), the facts the holder ignored (its
   ``facts.ignored``) and the directives written (must be 0);
c. a shard stopped (both replicas, SIGTERM): time to its accounts not seen
   (``SHARD_NOT_PUBLISHING`` in another shard's ``/v1/firm``), from three moments: the SIGTERM
   sent; the stop — the shard's last runner leading it gave its lease up and said so
   (``shard-stopped:<name>`` on ``NOTIFY killswitch_firm``, heard here on a LISTEN of the
   bench's own), which is what the goal reads: a shard is stopped once no runner holds it, and a
   runner finishes its tick before it lets go; and the end of its last process (polled, so
   within 50 ms; after the release it closes its adapters and API: it may end after the firm saw
   the shard gone, a negative figure). And ``ksctl status --firm``'s line;
d. PostgreSQL's cost of the facts per tick: each leader's last publish (rows, ms) in the run, and
   ``bench/firm_facts.py``'s measure at 10 to 1,000 accounts a shard (rows, bytes, WAL, ms).

Start-up (every leader ready, the firm policy armed) and each leader's mean tick time are
printed too: they say whether the machine holds the layout.

``--no-local``: no shard has a policy of its own, the firm-wide one alone (each shard then ticks
and publishes at its interval); one runner a shard, ``--accounts`` 10 (``--quick`` 1). Figures:

e. a calm firm watched ``--watch`` seconds (20): every evaluation the firm lease holder saved
   (``ks_firm.firm_view``), armed or a shard ``NOT PUBLISHING``, the gap between two, the age
   of the other shards' facts as the holder read them in intervals (limit 1.5), and how often
   the firm lease changed hands;
a. as above, ``--trials`` breaches (3), when (e) was armed throughout;

and each leader's pace (its status' ``tick_interval_s``), mean tick and facts said late
(``FIRM_FACTS_LATE``). ``--quick``: 10 accounts a shard,
3 breach trials, one takeover and one shard stopped (else 250, 10, 3 and 3; ``--stops`` sets the
shards stopped). Printed with the
machine, load and layout; asserts nothing; never a test.

    .venv/bin/python bench/shards.py [--quick] [--shards 4] [--accounts 250] [--trials 10] [--stops 3]
    .venv/bin/python bench/shards.py --no-local [--quick] [--shards 4] [--trials 3] [--watch 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import KSCTL, Pg, Sim, machine, median, pct, wait_until  # noqa: E402
from bench.shard_firm import (  # noqa: E402
    DOWN,
    ENTRY,
    INTERVAL_S,
    LEGS,
    LIMIT_MS,
    Firm,
    allowed,
    armed,
    call,
    order,
    sim_post,
    sim_state,
    tick_ms,
    ticks_over,
)


def show(label: str, xs: list[float], goal: str = "") -> None:
    if not xs:
        print(f"  {label}: no trial completed")
        return
    print(f"  {label}: p50 {median(xs):.2f} s ({median(xs) / INTERVAL_S:.2f} intervals), p99 {pct(xs, 99):.2f} s "
          f"({pct(xs, 99) / INTERVAL_S:.2f} intervals), max {max(xs):.2f} s, n={len(xs)}{goal}")


def breach(f: Firm, trials: int) -> None:
    """Figure a."""
    gate: list[float] = []
    close: list[float] = []
    slowest_gate: list[float] = []
    slowest_close: list[float] = []
    for t in range(trials):
        ports = _calm_firm(f, t)
        if ports is None:
            continue
        time.sleep(1.5)
        moved = time.time()
        for sym, px in DOWN.items():
            sim_post(f.sim, f"/_sim/mark?symbol={sym}&price={px}")
        locked, first = _acted(f, ports, moved)
        gate += list(locked.values())
        close += list(first.values())
        if len(locked) == f.shards:
            slowest_gate.append(max(locked.values()))
        if len(first) == f.shards:
            slowest_close.append(max(first.values()))
        print(f"  trial {t}: gates locked {sorted(round(v, 2) for v in locked.values())} s, first closes "
              f"{sorted(round(v, 2) for v in first.values())} s after the marks moved", flush=True)
    print("a. a firm-wide breach acted on (from the marks moving), every shard:")
    show("lock in force at a shard's gate", gate)
    show("lock in force at EVERY shard's gate (the slowest shard)", slowest_gate, "; goal <= 2 intervals p99")
    show("first close of a shard received by the simulator", close)
    show("first close of EVERY shard (the slowest shard)", slowest_close, "; goal <= 2 intervals p99")


def _calm_firm(f: Firm, t: int) -> Optional[dict[int, int]]:
    """A calm firm again: marks back, books seeded, the firm stage reset, every gate open. The
    API of each shard's leader; None (the trial skipped) when it does not come back within 60 s."""
    lead = f.leaders(f.any_view())
    for sym, px in ENTRY.items():
        sim_post(f.sim, f"/_sim/mark?symbol={sym}&price={px}")
    st = sim_state(f.sim)
    for k in range(f.shards):
        legs = st["accounts"][f"sim-{k}"]["legs"]
        if not any(abs(v[0]) > 1e-12 for v in legs.values()):
            sim_post(f.sim, f"/_sim/seed?account=sim-{k}&wallet=1000000&legs={LEGS}")
    holder = next(h for h in lead.values() if h)
    doc = f.firm(holder)
    if any(p["stage"] for p in doc.get("policies", [])):
        time.sleep(6)  # the 5 s window past the breach: the seeded books are the window's peak
        call("POST", f.api(holder), "/v1/reset", {"policy": "firm-breaker", "scope": "global",
                                                   "reason": "bench: next trial"})
    ports = {k: f.api(lead[f"desk-{k}"]) for k in range(f.shards)}
    if not wait_until(lambda: all(allowed(p, k) for k, p in ports.items()) and armed(f.firm(holder))
                      and not any(p["stage"] for p in f.firm(holder)["policies"]), 60, 0.2):
        why = {k: call("POST", p, "/v1/check-order", order(k), timeout=5).get("reason") for k, p in ports.items()}
        print(f"  trial {t}: the firm did not come back calm within 60 s (skipped): gates {why}, firm "
              f"{[(p['stage'], p['armed']) for p in f.firm(holder).get('policies', [])]}")
        return None
    return ports


def _acted(f: Firm, ports: dict[int, int], moved: float) -> tuple[dict[int, float], dict[int, float]]:
    """Seconds from the marks moving until each shard's gate was locked, and until the simulator
    received its first close (within 20 s)."""
    locked: dict[int, float] = {}
    first: dict[int, float] = {}
    end = time.monotonic() + 20
    last_state = 0.0
    while time.monotonic() < end and (len(locked) < f.shards or len(first) < f.shards):
        for k, p in ports.items():
            if k not in locked and not allowed(p, k):
                locked[k] = time.time() - moved
        if time.monotonic() - last_state > 0.25 and len(first) < f.shards:
            last_state = time.monotonic()
            st = sim_state(f.sim)
            for k in range(f.shards):
                ts = [o["time"] / 1000 for o in st["accounts"][f"sim-{k}"]["orders"]
                      if o["time"] / 1000 >= moved]
                if ts:
                    first[k] = min(ts) - moved
        time.sleep(0.01)
    return locked, first


def calm_watch(f: Firm, seconds: float) -> bool:
    """Figure e (``--no-local``): every evaluation the firm lease holder saved over ``seconds`` of
    a calm firm (``ks_firm.firm_view``, each once): whether the firm policy was armed or a shard
    NOT PUBLISHING, the gap between two evaluations, and the age of the other shards' facts as
    the holder read them, in intervals, against the limit of 1.5. Whether every view was armed."""
    import psycopg

    seen: dict[int, dict] = {}
    end = time.monotonic() + seconds
    with psycopg.connect(f.url, autocommit=True) as conn:
        while time.monotonic() < end:
            row = conn.execute("SELECT doc FROM ks_firm.firm_view").fetchone()
            if row:
                doc = json.loads(row[0])
                seen.setdefault(doc["now_ms"], doc)
            time.sleep(0.05)
    views = [seen[k] for k in sorted(seen)]
    n = len(views)
    armed_n = sum(1 for v in views if armed(v))
    silent = sum(1 for v in views if v.get("not_publishing"))
    ages = [a / 1000 / INTERVAL_S for v in views for shard, a in v["ages_ms"].items()
            if a is not None and shard != v["holder"].rsplit("-r", 1)[0]]  # the holder's own: just published
    gaps = [(b["now_ms"] - a["now_ms"]) / 1000 for a, b in zip(views, views[1:])]
    holders = [v["holder"] for v in views]
    moves = sum(1 for a, b in zip(holders, holders[1:]) if a != b)
    over = sum(1 for a in ages if a * INTERVAL_S * 1000 > LIMIT_MS)
    print(f"e. a calm firm watched {seconds:.0f} s: {n} evaluations by the firm lease holder; armed in {armed_n} of "
          f"{n}, a shard NOT PUBLISHING in {silent} of {n}; the firm lease changed hands {moves} time(s) "
          f"({', '.join(sorted(set(holders))) or '-'})")
    if gaps:
        print(f"  between two evaluations: p50 {median(gaps):.2f} s, max {max(gaps):.2f} s")
    if ages:
        print(f"  the other shards' facts as the holder read them: p50 {median(ages):.2f}, p99 {pct(ages, 99):.2f}, "
              f"max {max(ages):.2f} intervals (limit {LIMIT_MS / 1000 / INTERVAL_S:.1f}); over the limit {over} of "
              f"{len(ages)}")
    leader = next(h for h in f.leaders(f.any_view()).values() if h)
    out = subprocess.run([str(KSCTL), "status", "--firm", "--api", f"http://127.0.0.1:{f.api(leader)}"],
                         capture_output=True, text=True, timeout=60, env=f.env).stdout
    said = [x.strip() for x in out.splitlines() if "NOT PUBLISHING" in x]
    print(f"  ksctl status --firm then: {said[0] if said else 'no shard NOT PUBLISHING'}"
          + (f" (and {len(said) - 1} more)" if len(said) > 1 else ""))
    return n > 0 and armed_n == n


def leaders_ticks(f: Firm) -> None:
    """Each leader's pace (status), mean tick and its facts said late (``FIRM_FACTS_LATE``)."""
    doc = f.any_view()
    for shard, leader in sorted(f.leaders(doc).items()):
        port = f.api(leader or "")
        st = call("GET", port, "/v1/status")
        facts = f.firm(leader or "").get("facts", {})
        n, (half, whole) = ticks_over(port, 0.5, 1.0)
        print(f"  {shard}: leader {leader}, ticks every {st.get('tick_interval_s')} s, mean tick "
              f"{tick_ms(port):.0f} ms, {n} ticks of which {half} over 0.5 s and {whole} over 1 s, last facts "
              f"publish {facts.get('last_publish')}, facts late "
              f"{facts.get('late', 'not counted (before FIRM_FACTS_LATE)')}", flush=True)


def takeover(f: Firm, trials: int) -> None:
    """Figure b."""
    took: list[float] = []
    views = stale_armed = directives = 0
    ignored_before = ignored_after = 0
    for t in range(trials):
        doc = f.any_view()
        holder = doc["firm_lease"]["holder"]
        lead = f.leaders(doc)
        victim_shard = next(s for s, h in sorted(lead.items()) if h and h != holder)
        victim = lead[victim_shard]
        old = next(s["token"] for s in doc["shards"] if s["shard"] == victim_shard)
        ignored_before = f.firm(holder).get("facts", {}).get("ignored", 0)
        n_dir = count_directives(f.url)
        f.proc(victim).send_signal(signal.SIGKILL)
        f.proc(victim).wait(10)
        killed = time.monotonic()
        done = None
        while time.monotonic() - killed < 20:
            d = f.firm(holder)
            if d.get("policies"):
                views += 1
                if armed(d) and any(a is None or a > LIMIT_MS for a in d["evaluated"]["ages_ms"].values()):
                    stale_armed += 1
            s = next((s for s in d.get("shards", []) if s["shard"] == victim_shard), {})
            if s.get("leader") and s["leader"] != victim and s.get("token", 0) > old:
                done = time.monotonic() - killed
                break
            time.sleep(0.05)
        ignored_after = f.firm(holder).get("facts", {}).get("ignored", 0)
        directives += count_directives(f.url) - n_dir
        if done is not None:
            took.append(done)
        print(f"  trial {t}: {victim} SIGKILLed (token {old}); takeover seen at the firm "
              f"{'after %.2f s' % done if done is not None else 'NOT within 20 s'}; facts ignored by the holder "
              f"{ignored_after - ignored_before}", flush=True)
        f.start(victim_shard, int(victim.rsplit("-r", 1)[1]))  # back, as the standby
        wait_until(lambda: any(s["shard"] == victim_shard and victim in s["standby"]
                               for s in f.firm(holder).get("shards", [])), 120, 0.5)
    print("b. a shard's leader SIGKILLed (lease TTL 3 s):")
    show("its standby leads, seen at the firm", took, "; goal <= the lease TTL (3 s) p99")
    print(f"  firm views read meanwhile {views}; armed over facts older than {LIMIT_MS} ms: {stale_armed} "
          f"(must be 0); directives written meanwhile: {directives} (must be 0); the holder's count of facts "
          f"ignored (under a token below their shard's) at the end: {ignored_after}")


def count_directives(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM ks_firm.directive").fetchone()[0])


class Stops:
    """``LISTEN killswitch_firm`` on a connection of the bench's own: when each shard's stop was
    said (``shard-stopped:<name>[:firm]``, sent once its lease's release is committed)."""

    def __init__(self, url: str):
        import threading

        self.url = url
        self.said: list[tuple[str, float]] = []
        self.done = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("LISTEN killswitch_firm")
            self.ready.set()
            while not self.done.is_set():
                for n in conn.notifies(timeout=0.2):
                    self.said.append((n.payload, time.monotonic()))

    def last(self, shard: str, since: float) -> float | None:
        """When the last of ``shard``'s stops since ``since`` was said (None: none was)."""
        got = [t for p, t in self.said if t >= since and p.split(":")[:2] == ["shard-stopped", shard]]
        return max(got) if got else None

    def close(self) -> None:
        self.done.set()
        self.thread.join(5)


def shard_loss(f: Firm, trials: int) -> None:
    """Figure c."""
    blind: list[float] = []
    from_stop: list[float] = []
    from_exit: list[float] = []
    stops = Stops(f.url)
    status_line = ""
    for t in range(trials):
        gone = sorted(f.replicas)[-1]
        watcher = next(h for s, reps in sorted(f.replicas.items()) if s != gone for h, _, p in reps
                       if p.poll() is None and f.leaders(f.firm(h)).get(s) == h)
        keys = [f"binanceusdm/a{gone.split('-')[1]}-{i}" for i in range(f.per)]
        stopped = time.monotonic()
        for _, _, p in f.replicas[gone]:
            p.send_signal(signal.SIGTERM)
        seen, ended = _seen_gone(f, gone, watcher, keys, stopped)
        time.sleep(0.5)  # the stop's notification, if it came after the firm saw the shard gone
        said = stops.last(gone, stopped)
        if seen is not None:
            blind.append(seen)
            if said is not None:
                from_stop.append(stopped + seen - said)
            if ended:
                from_exit.append(stopped + seen - max(ended.values()))
        out = subprocess.run([str(KSCTL), "status", "--firm", "--api", f"http://127.0.0.1:{f.api(watcher)}"],
                             capture_output=True, text=True, timeout=60, env=f.env).stdout
        status_line = next((x.strip() for x in out.splitlines() if "NOT PUBLISHING" in x), "(none)")
        print(f"  trial {t}: {gone} stopped; its {f.per} accounts not seen at {watcher} "
              f"{'after %.2f s' % seen if seen is not None else 'NOT within 20 s'} from the SIGTERM"
              + (f", {stopped + seen - said:.2f} s from its stop said (lease released)" if seen is not None
                 and said is not None else ", its stop never said" if said is None else "")
              + (f", {stopped + seen - max(ended.values()):+.2f} s from its last process's end" if seen is not None
                 and ended else ""), flush=True)
        if t + 1 < trials:
            for r in range(2):
                f.start(gone, r)
            wait_until(lambda: armed(f.firm(watcher)) and f.leaders(f.firm(watcher)).get(gone), 180, 0.5)
    stops.close()
    print("c. a shard stopped (both replicas):")
    show("its accounts not seen (SHARD_NOT_PUBLISHING) at the firm, from the SIGTERM", blind,
         "; includes the stopping runner's tick in progress")
    show("  from its stop (its last runner gave its lease up and said so)", from_stop,
         "; the goal reads this: <= 1 interval")
    show("  from its last process's end (polled)", from_exit, "; negative: seen before the process ended")
    print(f"  ksctl status --firm: {status_line}")


def _seen_gone(f: Firm, gone: str, watcher: str, keys: list[str],
               stopped: float) -> tuple[Optional[float], dict[str, float]]:
    """Seconds from the SIGTERM until the firm's view at ``watcher`` says ``gone`` is not
    publishing and its accounts blind (None: not within 20 s), and when each of its processes
    was seen ended (once all have exited)."""
    seen = None
    ended: dict[str, float] = {}

    def note_ended() -> None:
        for h, _, p in f.replicas[gone]:
            if h not in ended and p.poll() is not None:
                ended[h] = time.monotonic()

    while time.monotonic() - stopped < 20:
        note_ended()
        d = f.firm(watcher)
        s = next((s for s in d.get("shards", []) if s["shard"] == gone), {})
        if s.get("not_publishing") and any(set(keys) <= set(p["blind_accounts"]) for p in d.get("policies", [])):
            seen = time.monotonic() - stopped
            break
        time.sleep(0.05)
    while len(ended) < len(f.replicas[gone]) and time.monotonic() - stopped < 40:
        note_ended()
        time.sleep(0.05)
    for _, _, p in f.replicas[gone]:
        p.wait(30)
    return seen, ended


def no_local(args: argparse.Namespace) -> None:
    """``--no-local``: the firm-wide policy alone, no shard with a policy of its own; one runner a
    shard (no standby). Start-up, figure e (a calm firm watched), figure a (breaches), each
    leader's ticks."""
    per = args.accounts or (1 if args.quick else 10)
    trials = args.trials if args.trials is not None else 3
    work = Path(tempfile.mkdtemp(prefix="ks-bench-shards-"))
    pg = Pg(max_connections=20 + 8 * args.shards)
    sim = Sim(work, accounts=args.shards)
    f = Firm(work, pg.url(), sim, args.shards, per, local=False)
    try:
        print(f"shards, no local policy — {machine()}; load {' '.join('%.2f' % x for x in os.getloadavg())}")
        print(f"layout: {args.shards} shards x 1 runner (ksctl run --shard), {per} account(s) a shard, NO local "
              f"policy: the firm-wide policy alone (global, interval 1 s), lease TTL 3 s; PostgreSQL on loopback "
              f"(fsync on) and the simulated exchange, all on this machine", flush=True)
        t0 = time.monotonic()
        for shard in f.replicas:
            f.start(shard, 0)

        def up() -> bool:
            doc = f.any_view()
            return bool(doc.get("policies")) and all(f.leaders(doc).values())

        if not wait_until(up, 300, 0.5):
            dead = [h for reps in f.replicas.values() for h, _, p in reps if p.poll() is not None]
            raise SystemExit(f"the firm did not come up within 300 s (exited: {dead}); logs in {work}")
        print(f"start-up: every shard's leader up and a firm view saved after {time.monotonic() - t0:.1f} s",
              flush=True)
        time.sleep(3)
        calm = calm_watch(f, args.watch)
        if trials and calm:
            breach(f, trials)
        elif trials:
            print("a. not run: the firm policy was not armed throughout the calm watch")
        leaders_ticks(f)
        print(f"load at the end {' '.join('%.2f' % x for x in os.getloadavg())}", flush=True)
    finally:
        f.stop_all()
        sim.close()
        pg.stop()
        print(f"(runner logs in {work})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--accounts", type=int, default=None, help="accounts a shard (250; --quick 10)")
    ap.add_argument("--trials", type=int, default=None, help="breach trials (10; --quick 3)")
    ap.add_argument("--stops", type=int, default=None, help="shards stopped, one after another (3; --quick 1)")
    ap.add_argument("--no-local", action="store_true", help="the firm-wide policy alone, one runner a shard")
    ap.add_argument("--watch", type=float, default=20.0, help="--no-local: seconds of a calm firm watched")
    args = ap.parse_args()
    if args.no_local:
        no_local(args)
        return
    per = args.accounts or (10 if args.quick else 250)
    trials = args.trials or (3 if args.quick else 10)
    small = 1 if args.quick else 3
    work = Path(tempfile.mkdtemp(prefix="ks-bench-shards-"))
    pg = Pg(max_connections=20 + 8 * args.shards * 2)
    sim = Sim(work, accounts=args.shards)
    f = Firm(work, pg.url(), sim, args.shards, per)
    try:
        print(f"shards — {machine()}; load {' '.join('%.2f' % x for x in os.getloadavg())}")
        print(f"layout: {args.shards} shards x 2 replicas (leader + standby, ksctl run --shard), {per} accounts a "
              f"shard ({args.shards * per} in all), interval 1 s, lease TTL 3 s; PostgreSQL on loopback (fsync on) "
              f"and the simulated exchange, all on this machine", flush=True)
        t0 = time.monotonic()
        for shard in f.replicas:
            f.start(shard, 0)
        for shard in f.replicas:
            f.start(shard, 1)

        def up() -> bool:
            doc = f.any_view()
            return armed(doc) and all(f.leaders(doc).values()) and all(
                len(s["standby"]) >= 1 for s in doc["shards"])

        if not wait_until(up, 600, 0.5):
            dead = [h for reps in f.replicas.values() for h, _, p in reps if p.poll() is not None]
            raise SystemExit(f"the firm did not come up within 600 s (exited: {dead}); logs in {work}")
        started = time.monotonic() - t0
        print(f"start-up: every shard's leader and standby up and the firm policy armed after {started:.1f} s; "
              f"load {' '.join('%.2f' % x for x in os.getloadavg())}")
        time.sleep(3)
        doc = f.any_view()
        for shard, leader in sorted(f.leaders(doc).items()):
            print(f"  {shard}: leader {leader}, mean tick {tick_ms(f.api(leader or '')):.0f} ms; "
                  f"last facts publish {f.firm(leader or '').get('facts', {}).get('last_publish')}", flush=True)
        breach(f, trials)
        takeover(f, small)
        shard_loss(f, args.stops or small)
        print(f"load at the end {' '.join('%.2f' % x for x in os.getloadavg())}", flush=True)
        f.stop_all()
        print("d. PostgreSQL's cost of the facts per tick (bench/firm_facts.py's measure, 4 shards, 20 ticks):")
        from bench.firm_facts import measure

        url = pg.database("ks_facts")
        print(f"  {'accounts/shard':>14} {'publish p50':>12} {'publish p99':>12} {'read all p50':>13} {'rows':>6} "
              f"{'heap bytes':>11} {'WAL bytes':>10}")
        for n in sorted({10, 100, per, 250, 1000}):
            r = measure(url, n, 20)
            print(f"  {n:>14} {r['publish_ms_p50']:>10.2f}ms {r['publish_ms_p99']:>10.2f}ms "
                  f"{r['read_ms_p50']:>11.2f}ms {n:>6} {r['row_bytes']:>11} {int(r['wal_bytes_p50']):>10}",
                  flush=True)
    finally:
        f.stop_all()
        sim.close()
        pg.stop()
        print(f"(runner logs in {work})")


if __name__ == "__main__":
    main()
