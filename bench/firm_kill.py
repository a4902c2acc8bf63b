"""Benchmark: one firm-wide kill (``ksctl kill --firm``) over K shards of N accounts, from the
command to every account locked, nothing resting and every bot key revoked — beside CME's one
second (its Globex kill switch blocks a firm in under a second).

The firm is bench/shards.py's (:class:`bench.shard_firm.Firm`: ``ksctl run --shard`` processes,
one PostgreSQL, the simulated exchange in a process of its own), one runner a shard, with its
Accounts document written again here so that each account is a venue account of its own
(``sim-i``, the simulator's ``--accounts``) with a ``revoke:`` block (the simulator's master key
and the account's bot key): a kill has as many books to cancel and keys to revoke as accounts.

Each run: a bot's entry order rests on every account (signed with its bot key, as the bot
sends it); then the kill as the command sends it — its preview (``POST /v1/preview/firm-kill``)
and the kill with the preview's id (``POST /v1/firm/kill``) to one shard's runner — and the
firm's ``kill_report`` rows are read until every account is done; the three times are each the
latest account's time of that step less the command's start (one machine: one clock). After the
run the simulator is asked what is still open and which bot keys are revoked, so that a report
is never taken on its word alone; the kill is then released by two approvers (the store's path
of ``POST /v1/firm/kill/release``) and every shard waits to have lifted it before the next run.

``--shards K --accounts N`` (default 8 × 50), ``--runs R`` (5), ``--pause S`` between runs (60),
``--quick`` (2 × 5, 3 runs, 20 s); ``--sim-per-shard``: one simulator process a shard.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import Pg, Sim, machine, pct, wait_until  # noqa: E402
from bench.shard_firm import Firm, call  # noqa: E402

CME_S = 1.0


def accounts_doc(ports: list[int], shards: int, per: int) -> str:
    """The firm's accounts: ``a{k}-{i}``, shard k's i-th, on the simulator ``ports`` has for it
    (one for the whole firm, or one a shard: :func:`where`)."""
    lines = ["apiVersion: killswitch/v1", "kind: Accounts", "metadata: {name: firm}", "spec:", "  dry_run: false",
             "  shards:"]
    lines += [f"    - {{name: desk-{k}, accounts: {{match_labels: {{desk: desk-{k}}}}}}}" for k in range(shards)]
    lines.append("  accounts:")
    for k in range(shards):
        for i in range(per):
            n = k * per + i
            at, m = where(n, len(ports), per)
            lines += [f"    - name: a{k}-{i}", "      venue: binanceusdm", "      market_type: futures",
                      f"      labels: {{desk: desk-{k}}}", "      initial_capital: 1M",
                      f"      api_url: http://127.0.0.1:{ports[at]}",
                      f"      credentials: {{api_key: {{env: KS_A{n}_KEY}}, secret: {{env: KS_A{n}_SECRET}}}}",
                      "      revoke:",
                      "        master_credentials: {api_key: {env: KS_SIM_MASTER_KEY},",
                      "                             secret: {env: KS_SIM_MASTER_SECRET}}",
                      f"        sub_account: sim-{m}@sim.example", f"        api_keys: [sim-{m}-bot-key]"]
    return "\n".join(lines) + "\n"


def where(n: int, sims: int, per: int) -> tuple[int, int]:
    """The firm's n-th account: (which simulator, its account ``sim-m`` there). One simulator: all
    of them, sim-0…; one a shard: shard k's accounts are sim-0… of the k-th."""
    return (0, n) if sims == 1 else (n // per, n % per)


def rest_entry(sim: Sim, n: int, cid: str) -> bool:  # n: the account's number on ``sim``
    """A bot's buy limit far below the mark on ``sim-n``, signed with its bot key."""
    now = int(time.time() * 1000)
    query = (f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.02&price=10000"
             f"&newClientOrderId={cid}&timestamp={now}&recvWindow=60000")
    sig = hmac.new(f"sim-{n}-bot-secret".encode(), query.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"http://127.0.0.1:{sim.port}/fapi/v1/order?{query}&signature={sig}",
                                 method="POST", headers={"X-MBX-APIKEY": f"sim-{n}-bot-key"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read()).get("status") == "NEW"
    except (urllib.error.URLError, OSError):  # refused, or the simulator too busy to answer in time
        return False


def sim_state(sim: Sim) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{sim.port}/_sim/state", timeout=60) as r:
        return json.loads(r.read())


def reports(url: str, kill: int) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT account, locked_ms, resting_ms, revoked_ms, out_of_reach, released_ms "
                            "FROM ks_firm.kill_report WHERE directive_id = %s", (kill,)).fetchall()


def newest_kill(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT max(id) FROM ks_firm.directive WHERE kind = 'kill'").fetchone()
    return int(row[0] or 0)


def release(url: str, shard: str) -> str:
    """The kill in force released by two approvers, through the store as ``POST
    /v1/firm/kill/release`` does it (the bench's runners know one token, so one identity)."""
    from killswitch.state import open_store
    from killswitch.state.firm import open_firm, shard_schema

    firm, own = open_firm(url), open_store(url, schema=shard_schema(shard))
    try:
        fence = own.lease().fence
        said = ""
        for who in ("bench-approver-a", "bench-approver-b"):
            _, said, _ = firm.approve_kill_release(shard, shard_schema(shard), fence, who, "bench run over",
                                                   int(time.time() * 1000))
        return said
    finally:
        firm.close()
        own.close()


def one_run(f: Firm, sims: list[Sim], url: str, total: int, per: int, leader: str, r: int) -> dict:
    placed = sum(rest_entry(sims[at], m, f"bot-{r}-{n}") for n in range(total)
                 for at, m in [where(n, len(sims), per)])
    port = f.api(leader)
    t0 = time.time() * 1000
    preview = call("POST", port, "/v1/preview/firm-kill", {})
    sent = call("POST", port, "/v1/firm/kill", {"reason": f"bench run {r}", "preview_id": preview.get("preview_id")})
    if not sent.get("done"):
        raise SystemExit(f"the kill was refused: {sent}")
    kill = newest_kill(url)

    def done() -> bool:
        rows = reports(url, kill)
        return len(rows) == total and all(x[1] and x[2] and (x[3] or x[4]) for x in rows)

    finished = wait_until(done, 120, 0.02)
    rows = reports(url, kill)
    states = [sim_state(sim) for sim in sims]
    resting = sum(1 for n in range(total) for at, m in [where(n, len(sims), per)]
                  for o in states[at]["accounts"][f"sim-{m}"]["orders"]
                  if o.get("status") in ("NEW", "PARTIALLY_FILLED") and not o.get("reduce_only"))
    revoked_keys = sum(json.dumps(st.get("permissions", {})).count('"revoked"') for st in states) \
        if all("permissions" in st for st in states) else None
    missing = {"locked": sum(1 for x in rows if not x[1]), "resting": sum(1 for x in rows if not x[2]),
               "revoked": sum(1 for x in rows if not (x[3] or x[4]))}
    got = {"placed": placed, "finished": finished, "reported": len(rows), "resting_after": resting,
           "missing": missing,
           "revoked_keys": revoked_keys,
           "locked_s": (max(x[1] for x in rows) - t0) / 1000 if finished else float("nan"),
           "resting_s": (max(x[2] for x in rows) - t0) / 1000 if finished else float("nan"),
           "revoked_s": (max(x[3] for x in rows if x[3]) - t0) / 1000 if finished and any(x[3] for x in rows)
           else float("nan"), "out_of_reach": sum(1 for x in rows if x[4])}
    said = release(url, "desk-0")
    if not wait_until(lambda: all(x[5] for x in reports(url, kill)) and len(reports(url, kill)) == total, 120, 0.1):
        raise SystemExit(f"the release was not taken up by every shard ({said})")
    time.sleep(2)  # the restores sent (each shard's revoke machinery)
    return got


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--shards", type=int, default=None)
    ap.add_argument("--accounts", type=int, default=None, help="accounts a shard")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--sim-per-shard", action="store_true",
                    help="one simulated venue process a shard (as a firm whose shards trade on their own venues) "
                         "instead of one for the whole firm, which cannot answer 400 accounts polled by 8 runners")
    ap.add_argument("--pause", type=float, default=None,
                    help="seconds between a release and the next run (60; --quick 20): the venues' request weight, "
                         "spent by the last kill's cancels, lists and revokes, refills (a kill strikes a calm firm)")
    args = ap.parse_args()
    shards = args.shards or (2 if args.quick else 8)
    per = args.accounts or (5 if args.quick else 50)
    runs = args.runs or (3 if args.quick else 5)
    pause = args.pause if args.pause is not None else (20.0 if args.quick else 60.0)
    total = shards * per
    work = Path(tempfile.mkdtemp(prefix="ks-bench-firm-kill-"))
    pg = Pg(max_connections=40 + 10 * shards)
    sims = [Sim(work, accounts=per, name=f"sim-{k}") for k in range(shards)] if args.sim_per_shard \
        else [Sim(work, accounts=total)]
    f = Firm(work, pg.url(), sims[0], shards, per)
    f.acc.write_text(accounts_doc([sim.port for sim in sims], shards, per))
    f.env.update({f"KS_A{n}_{w}": f"sim-{where(n, len(sims), per)[1]}-{w.lower()}" for n in range(total)
                  for w in ("KEY", "SECRET")})
    f.env.update({"KS_SIM_MASTER_KEY": "sim-master-key", "KS_SIM_MASTER_SECRET": "sim-master-secret"})
    try:
        print(f"firm kill — {machine()}; load {' '.join('%.2f' % x for x in os.getloadavg())}")
        print(f"layout: {shards} shards x {per} accounts ({total}), one runner a shard (ksctl run --shard, interval "
              f"1 s), each account its own simulated venue account with a revoke: block, "
              f"{'one simulator process a shard' if len(sims) > 1 else 'one simulator process for the firm'}; "
              f"PostgreSQL on loopback (fsync on); all on this machine", flush=True)
        t0 = time.monotonic()
        for shard in f.replicas:
            f.start(shard, 0)

        def up() -> bool:
            doc = f.any_view()
            return bool(doc.get("shards")) and all(f.leaders(doc).values())

        if not wait_until(up, 600, 0.5):
            raise SystemExit(f"the firm did not come up within 600 s; logs in {work}")
        time.sleep(3)  # every shard's board published (the preview reads it)
        print(f"start-up: every shard led after {time.monotonic() - t0:.1f} s", flush=True)
        leader = f.leaders(f.any_view())["desk-0"] or ""
        got = []
        for r in range(runs):
            if r:
                time.sleep(pause)
            x = one_run(f, sims, pg.url(), total, per, leader, r)
            got.append(x)
            print(f"  run {r}: {x['placed']} entry orders resting; every account locked {x['locked_s']:.3f} s, "
                  f"nothing resting {x['resting_s']:.3f} s, every key revoked {x['revoked_s']:.3f} s "
                  f"({x['reported']}/{total} reported, {x['out_of_reach']} out of reach; the venue after: "
                  f"{x['resting_after']} entry orders open)" + ("" if x["finished"] else
                  f"; NOT DONE within 120 s, accounts short of each step: {x['missing']}"), flush=True)
        for label, key in (("every account locked", "locked_s"), ("nothing resting", "resting_s"),
                           ("every key revoked", "revoked_s")):
            xs = [x[key] for x in got if x["finished"]]
            left = len(got) - len(xs)
            print(f"{label:>22}: p50 {pct(xs, 50) if xs else float('nan'):.3f} s, p99 "
                  f"{pct(xs, 99) if xs else float('nan'):.3f} s over {len(xs)} runs done"
                  + (f" ({left} run(s) not done within 120 s: above)" if left else "")
                  + f" (CME Globex: {CME_S:.0f} s)")
        print(f"load at the end {' '.join('%.2f' % x for x in os.getloadavg())}", flush=True)
    finally:
        f.stop_all()
        for sim in sims:
            sim.close()
        pg.stop()
        print(f"(runner logs in {work})")


if __name__ == "__main__":
    main()
