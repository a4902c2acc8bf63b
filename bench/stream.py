"""Benchmark: private streams (ccxt.pro) against polling — reaction, REST weight, a close-all whose stream drops.

1. Reaction from the venue's event to the first close the venue receives. The venue (a simulated
   Binance USDⓈ-M exchange, its HTTP and websocket faces, in a process of its own, on the
   system's clock) stamps with the monotonic clock the moment one mark crosses (``set_mark``:
   its face pushes the ``markPriceUpdate`` at once, ``E`` = that moment) and the first order it
   receives after it; both stamps are the venue's, so nothing of the runner's clock enters the
   figure. The runner is ``ksctl run`` itself, a process of its own (the daemon's wait, the
   wake and its debounce, ``--min-tick-spacing`` default), with the real ``CcxtAdapter``:
   ``stream: {enabled: true}`` (ccxt.pro watchers over the websocket face) against the same
   account without the block (polled over REST). One account (one scope) of N longs on N
   markets; the policy's interval is 10 s, so that only a wake can explain a reaction under it;
   a hard trigger on the worst position's loss over its notional (one mark from 100 to 80 is
   20 %, the trigger 10 %) enters a ``close_all`` stage. Every trial is a fresh venue and a
   fresh runner, the mark crossed once the stream is live and reconciled, anywhere in its REST
   reconcile cadence (5 s here, a sixth of the default). Polled, the figure is
   the measured tick — from the tick's first REST request after the event to the first order —
   plus the wait for the interval: interval/2 on average, the interval at worst (the event
   falls anywhere in it); the few polled trials also print their measured event-to-order time.
   The real venue pushes a mark at its stream's cadence (``@1s``: up to 1 s after it moved,
   ``@markPrice``: 3 s), which the simulator, pushing a set mark at once, does not add.
2. REST weight per account per minute, polled and streamed: the weight the simulator's REST
   face charged (Binance's published weights: account 5, positionRisk 5, every open order 40,
   listen key 1) for one snapshot with and without the list of every open order, measured
   through the real ccxt client; a minute is then the arithmetic of the adapter's cadences
   (every snapshot at the policy interval, the open-order list when the last is 9 s old;
   streamed: a REST reconcile every 30 s, the listen key's keepalive every 20 minutes), and the
   accounts one runner holds within Binance's 2,400 a minute per IP at 5 s each way.
3. ``bench/close_all_faults.py``'s run (40 % fills, the full REST fault plan) through ccxt with
   the account's stream on, the user-data stream dropped twice while the closes are under way:
   flat or residual-only at the end, nothing open, nothing pending, every order the venue holds
   journaled and no intent accepted twice (the venue refuses a client id it holds), time to flat
   (``bench/stream_faults.py``).

``--venue``: the dialect the venue speaks and the runner streams (:data:`VENUES`: every venue of
the registry whose dialect streams, binanceusdm the default; each folder's ``contract.STREAM_BENCH``
says how its face writes a mark, its account is its face's own); the reaction (1) runs on any of
them, the weight (2) and fault (3) runs are Binance's (its weights, its listen key).
``--market spot``: the reaction (1) of a spot account instead (``bench/stream_spot.py``), on every
venue whose simulated spot account streams (found in the registry, as ``bench/rogue.py --market
spot`` finds them; one that lacks what the run needs is said, not run): N base assets held, 1,000
each at 100, and the quote; the policy the spot book's (its equity 8 % under the day's open sells
the holdings: a spot account holds no position for a loss to be read of); the event every held
pair's price from 100 to 80 at once, each pair's ticker pushed as it is set; the reaction from the
first set to the first sale the venue receives.
``--quick``: fewer trials; ``--layouts 1000,10000``; ``--trials N`` (streamed) and
``--poll-trials N``; ``--skip reaction,weight,faults``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    API_TOKEN,
    ENV,
    VenueProcess,
    free_port,
    get_json,
    machine,
    pct,
    reference_ms,
    start_runner,
    stop,
    wait_until,
)
from rogue_spot import pick_venues, spot_book, why_not_read
from stream_breakdown import print_breakdowns, trace_sends
from stream_faults import faults
from stream_spot import (
    crossing,
    layout as spot_layout,
    policy as spot_policy,
    reaction_venues,
    slide,
    stamp_sends,
    watched,
)

ACCOUNT = "acct"
INTERVAL_S = 10.0
POLICY = f"""\
apiVersion: killswitch/v1
kind: Policy
metadata: {{name: stream-reaction}}
spec:
  scope: {{level: account}}
  interval: {INTERVAL_S:g}s
  signals:
    loss: {{position_loss: {{of: notional}}}}
  triggers:
    hard: {{when: "loss >= 10%", on_missing_data: hold}}
  stages:
    - {{level: 1, name: flatten, on: [hard], reset: manual, actions: [close_all]}}
"""
LAYOUTS = {1_000: (20, 3), 10_000: (10, 2)}  # positions → (streamed trials, polled trials)
QUICK = {1_000: (5, 1), 10_000: (3, 1)}
GOAL_P99_MS = 250.0
# the streamed account's REST reconcile cadence: a sixth of the default (30 s), so that the trials'
# events, spread over it, land beside its REST reads as often as they would beside a default one
# in six times as many trials
RECONCILE_S = 5.0
BUDGET = 2_400  # Binance USDⓈ-M REQUEST_WEIGHT a minute per IP (the default tier)


@dataclass(frozen=True)
class Venue:
    """One venue the reaction runs on: the ccxt id the Accounts document names, its folder, and its
    folder's ``contract.STREAM_BENCH``: its name here, the text a frame carrying the crossed mark
    (80) holds, what the real venue's mark stream adds to the reaction and its stream face's
    options. Its account's credentials are its face's own (``sim_account``, in the venue's process)."""

    ccxt_id: str
    folder: str
    name: str
    crossed: str
    # what the real venue's mark stream adds to the reaction (the simulator pushes a set mark at once)
    cadence: str
    options: dict = field(default_factory=dict)  # its stream face's options (SimServer's venue_streams)


def stream_venues() -> dict[str, Venue]:
    """Every venue of the registry the simulator answers as whose dialect streams its futures
    account, by its ccxt id; a venue whose folder gives no STREAM_BENCH is refused, named. A spot
    face (Kraken spot's) is left out: this reaction is a futures book's (a mark crossing a
    threshold closes positions), which a spot account does not hold; ``--market spot`` runs the
    spot accounts (:func:`stream_spot.reaction_venues`)."""
    from importlib import import_module

    from adapters.ccxt_exchange.dialects import dialect_for
    from adapters.registry import sim_venues
    from adapters.simulated.venues import market_type

    out = {}
    for cid, pkg in sim_venues().items():
        if market_type(cid) != "futures" or not dialect_for(cid).streams_for("futures"):
            continue
        folder = pkg.__name__.rsplit(".", 1)[1]
        terms = getattr(import_module(f"{pkg.__name__}.contract"), "STREAM_BENCH", None)
        if terms is None:
            raise SystemExit(f"adapters/venues/{folder}/contract.py has no STREAM_BENCH: the streamed reaction's "
                             "terms of its stream (see adapters/venues/okx/contract.py)")
        out[cid] = Venue(cid, folder, **terms)
    return out


VENUES = stream_venues()


def venue_table(market: str) -> dict[str, Any]:
    """The venues the reaction runs ``market`` on: :data:`VENUES` (futures), or every venue whose
    simulated spot account streams (:func:`stream_spot.reaction_venues`)."""
    return dict(VENUES) if market == "futures" else dict(reaction_venues())


# --- the venue: its own process, the system's clock ------------------------------------------------------


def venue_process(conn: Any, n: int, venue_id: str = "binanceusdm", market: str = "futures") -> None:
    """Serves ``reaction.book(n)`` (``market`` spot: ``rogue_spot.spot_book(n)``) on the system's
    clock and obeys the bench over ``conn``: ``cross`` (the first market's mark from 100 to 80;
    spot: every held pair's price, :func:`stream_spot.slide`; stamped), ``result`` (the stamps so
    far), ``stop``. Stamps are ``time.monotonic()``: the event, the first REST request charged
    after it, the first order (spot: sale) received after it, and the REST requests in between."""
    from reaction import book

    from adapters.simulated.http import SimServer, wall_clock
    from adapters.simulated.venues import sim_account

    futures = market == "futures"

    async def main() -> None:
        eng = book(wall_clock, n) if futures else spot_book(n, ACCOUNT)  # type: ignore[arg-type]
        seen: dict[str, Any] = {"event": None, "rest": None, "order": None, "rest_calls": 0}
        orders = "place_order" if futures else "place_spot_order"
        place, charge = getattr(eng, orders), eng._charge

        def placed(*a: Any, **kw: Any) -> Any:
            if seen["event"] is not None and seen["order"] is None:
                seen["order"] = time.monotonic()
            return place(*a, **kw)

        def charged(*a: Any, **kw: Any) -> Any:
            if seen["event"] is not None and seen["order"] is None:
                seen["rest"] = seen["rest"] or time.monotonic()
                seen["rest_calls"] += 1
            return charge(*a, **kw)

        setattr(eng, orders, placed)
        eng._charge = charged  # type: ignore[method-assign]
        venue = venue_table(market)[venue_id]
        server = SimServer(eng, auth_clock=wall_clock,
                           venue_streams={venue.folder: venue.options} if venue.options else None)
        await server.start()
        server.warm()  # (the faces' one-time loads, before anything is timed)
        if futures:  # (the frames of a futures face's mark, for --trace)
            trace_sends(server, venue, seen)
        else:  # (when the venue sent the ticker that takes the book to its trigger)
            stamp_sends([*server.streams.values(), *server.stream.shared], seen, crossing(n))
        conn.send(("port", server.port))
        stopped = asyncio.Event()

        def command() -> None:
            cmd, _ = conn.recv()
            out: Any = None
            if cmd == "cross":
                seen["event"] = time.monotonic()
                if futures:
                    eng.set_mark(next(iter(eng.markets)), 80.0)  # pushed to the mark streams at once
                else:
                    slide(eng)  # each pair's ticker pushed as it is set
            elif cmd == "result":
                out = dict(seen)
            elif cmd == "watched":  # the pairs whose ticker the runner has subscribed (spot)
                out = watched([*server.streams.values(), *server.stream.shared])
            elif cmd == "account":  # the book's account as the face's own, and the environment it names
                before = dict(os.environ)
                doc = sim_account(server, ACCOUNT, venue_id, **({} if futures else {"market_type": "spot"})
                                  ).model_dump(mode="json", exclude_none=True)
                out = (doc, {k: v for k, v in os.environ.items() if before.get(k) != v})
            elif cmd == "stop":
                stopped.set()
            conn.send(("ok", out))

        asyncio.get_running_loop().add_reader(conn.fileno(), command)
        await stopped.wait()
        await server.stop()

    asyncio.run(main())


def write_inputs(work: Path, account: dict, streamed: bool, policy: str = POLICY) -> tuple[Path, Path]:
    """The ``policy`` and the Accounts document of ``account`` (the venue's own, :func:`venue_process`'s
    ``account``), its stream block when ``streamed``."""
    pol = work / "policies"
    pol.mkdir(exist_ok=True)
    (pol / "reaction.yaml").write_text(policy)
    acc = work / "accounts.yaml"
    if streamed:
        account = {**account, "stream": {"enabled": True, "reconcile_every": f"{RECONCILE_S:g}s"}}
    acc.write_text(json.dumps({"apiVersion": "killswitch/v1", "kind": "Accounts", "metadata": {"name": "bench"},
                               "spec": {"dry_run": False, "accounts": [account]}}, indent=1))
    return pol, acc


def run_dir(work: Path, n: int, streamed: bool, k: int, market: str = "futures") -> Path:
    """Where one trial keeps its inputs, the runner's state and its log."""
    return work / f"{'s' if streamed else 'p'}{n}-{k}{'' if market == 'futures' else '-' + market}"


def one_trial(work: Path, n: int, streamed: bool, k: int, trace: bool = False,
              venue_id: str = "binanceusdm", market: str = "futures") -> dict:
    """One venue, one ``ksctl run``; the mark crossed (spot: the held pairs slid) once the runner
    is ready. The venue's stamps (with ``trace``, the runner's too: ``trace`` in the result, see
    :func:`stream_breakdown.breakdown`)."""
    spec = venue_table(market)[venue_id]
    venue = VenueProcess(venue_process, n, venue_id, market)
    runner = None
    try:
        d = run_dir(work, n, streamed, k, market)
        d.mkdir()
        account, env_key = venue.do("account")  # the book's account (reaction.book), as its face's own
        pol, acc = write_inputs(d, account, streamed, POLICY if market == "futures" else spot_policy(INTERVAL_S))
        api_port = free_port()
        os.environ.update(env_key)
        ENV.update(env_key)
        tfile = d / "trace.jsonl"
        cmd = (sys.executable, str(Path(__file__).with_name("stream_trace.py")), str(tfile)) if trace else None
        # traced: the venue read in the runner's own process (--readers 0), where the stamps are put
        runner = start_runner(d, pol, acc, f"sqlite://{d / 'state.db'}", "bench", api_port,
                              **({"ksctl": cmd, "extra": ("--readers", "0")} if cmd else {}))
        api = f"http://127.0.0.1:{api_port}"
        key = f"{spec.ccxt_id}/{ACCOUNT}"

        def ready() -> bool:
            st = get_json(api + "/v1/status", token=API_TOKEN)
            if not streamed:
                return bool(st.get("leader")) and bool(st.get("scopes") or st.get("last_tick"))
            s = (st.get("streams") or {}).get(key) or {}
            # live, and confirmed by a REST read begun with every socket open: the stream answers
            # the snapshots alone
            return s.get("state") == "live" and bool(s.get("answers"))

        if not wait_until(ready, 180, step=0.2):
            said = "".join(f"; the runner said: {w}" for w in why_not_read(d / "bench.err"))
            raise RuntimeError(f"the runner was not ready in 180 s (see {d}/bench.err){said}")
        subscribed_s = None
        if streamed and market == "spot":  # every held pair's ticker subscribed: the stream's steady state
            live = time.monotonic()
            if not wait_until(lambda: venue.do("watched") >= n, 300, step=0.2):
                raise RuntimeError(f"the runner had not subscribed the {n:,} held pairs' tickers 300 s after "
                                   f"its stream was live ({venue.do('watched'):,}; see {d}/bench.err)")
            subscribed_s = time.monotonic() - live
        # the event anywhere in the reconcile cadence (streamed) or the interval (polled)
        time.sleep(1.0 + (k * 1.7) % RECONCILE_S if streamed else (k * 3.7) % INTERVAL_S)
        venue.do("cross")
        if not wait_until(lambda: venue.do("result")["order"] is not None, INTERVAL_S * 2 + 60, step=0.01):
            raise RuntimeError(f"no close within {INTERVAL_S * 2 + 60:g} s (see {d}/bench.err)")
        if trace:
            time.sleep(0.3)  # the runner's last stamps written
        out = {**venue.do("result"), "subscribed_s": subscribed_s}
        if trace:
            import json

            out["trace"] = [json.loads(line) for line in tfile.read_text().splitlines() if line.strip()]
        return out
    finally:
        stop(runner)
        venue.close()


def reactions(layouts: dict[int, tuple[int, int]], trace: bool = False, venue_id: str = "binanceusdm",
              market: str = "futures") -> None:
    work = Path(tempfile.mkdtemp(prefix="ks-stream-"))
    spec, futures = venue_table(market)[venue_id], market == "futures"
    event, action = ("one mark crossing", "close") if futures else ("the held pairs' prices falling", "sale")
    print(f"1. reaction, from the venue's event ({event}) to the first {action} the venue receives; "
          f"policy interval {INTERVAL_S:g} s, --min-tick-spacing default (100 ms)", flush=True)
    for n, (trials, poll_trials) in layouts.items():
        ref = reference_ms()
        s = [one_trial(work, n, True, k, trace, venue_id, market) for k in range(trials)]
        p = [one_trial(work, n, False, k, venue_id=venue_id, market=market) for k in range(poll_trials)]
        ms = [(r["order"] - r["event"]) * 1000 for r in s]
        rest_in = [r["rest_calls"] for r in s]
        tick = [(r["order"] - r["rest"]) * 1000 for r in p if r["rest"] is not None]
        polled = [(r["order"] - r["event"]) * 1000 for r in p]
        book = (f"one account (one scope), {n:,} positions on {n:,} markets, close_all on a hard trigger over the "
                f"mark (one mark 100 -> 80)" if futures else spot_layout(n))
        print(f"layout: {book}; {spec.name} (REST + websocket faces) in its own "
              f"process, ksctl run with ccxt / ccxt.pro, SQLite; a fresh venue and runner per trial; the stream's "
              f"REST reconcile every {RECONCILE_S:g} s, the event anywhere in it; "
              f"load average {os.getloadavg()[0]:.1f}; reference loop {ref:.1f} ms")
        p50, p99 = statistics.median(ms), pct(ms, 99)
        print(f"  streamed ({trials} trials): p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {max(ms):.1f} ms  "
              f"(goal p99 <= {GOAL_P99_MS:g} ms: {'met' if p99 <= GOAL_P99_MS else 'NOT met'}); "
              f"in reference loops p50 {p50 / ref:.1f}  p99 {p99 / ref:.1f}; REST requests between the event "
              f"and the first {action}: {min(rest_in)}-{max(rest_in)}")
        print(f"  streamed, each trial (ms): {', '.join(f'{x:.0f}' for x in ms)}")
        venue_ms = [(r["crossing_sent"] - r["event"]) * 1000 for r in s if r.get("crossing_sent") is not None]
        if venue_ms:
            print(f"  the venue's share: from the event to the crossing's ticker sent (the {crossing(n):,}th frame) "
                  f"p50 {statistics.median(venue_ms):.1f} ms, max {max(venue_ms):.1f} ms; the runner's, to the first "
                  f"{action}: p50 {statistics.median(ms) - statistics.median(venue_ms):.1f} ms (medians' difference)")
        subscribed = [r["subscribed_s"] for r in s if r["subscribed_s"] is not None]
        if subscribed:
            print(f"  the event waited for every held pair's ticker subscribed: {min(subscribed):.1f}-"
                  f"{max(subscribed):.1f} s after the stream was live (a pair not yet subscribed is valued at "
                  "REST's price until the next reconcile)")
        if trace:
            print_breakdowns(s, spot=not futures)
        if tick:
            t50 = statistics.median(tick)
            print(f"  polled ({poll_trials} trials): the tick measured (its first REST request after the event -> "
                  f"first {action}) p50 {t50:.0f} ms, max {max(tick):.0f} ms; with the wait for the interval: "
                  f"mean {INTERVAL_S / 2 * 1000 + t50:,.0f} ms (interval/2 + tick), worst "
                  f"{INTERVAL_S * 1000 + max(tick):,.0f} ms (interval + tick) — computed; measured event -> first "
                  f"{action} in these trials: {', '.join(f'{x:,.0f}' for x in polled)} ms")
        elif polled:  # (the account's reads charged before the event, the prices' public read after it)
            print(f"  polled ({poll_trials} trials): measured event -> first {action} "
                  f"{', '.join(f'{x:,.0f}' for x in polled)} ms (no charged REST request after the event: the tick "
                  "is not told apart)")
        pushed = "the mark stream's cadence" if futures else "the ticker"
        print(f"  on the real venue {pushed} adds {spec.cadence}: the simulator pushes a set "
              f"{'mark' if futures else 'price'} at once", flush=True)


# --- 2. REST weight ---------------------------------------------------------------------------------------


async def snapshot_weights() -> tuple[int, int, int]:
    """(weight of a snapshot with the list of every open order, without it, of opening a listen
    key), as the simulator's REST face charged them, through the real ccxt client."""
    from reaction import book

    from adapters.ccxt_exchange import CcxtAdapter
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.http import SimServer, wall_clock
    from adapters.simulated.venues import sim_account

    clock = ManualClock(1_772_456_400_000)  # one weight minute throughout
    eng = book(clock, 3)
    async with SimServer(eng, auth_clock=wall_clock) as server:
        acc = sim_account(server, ACCOUNT, "binanceusdm")
        out = []
        for max_age in (0.0, 1e9):
            ad = CcxtAdapter(acc, urls=server.base_url, timeout=10, ccxt_rate_limit=False,
                             open_orders_max_age_s=max_age)
            try:
                await ad.load_symbols()
                await ad.snapshot()  # the first lists every open order regardless: then measure the second
                before = eng.used_weight(ACCOUNT)
                await ad.snapshot()
                out.append(eng.used_weight(ACCOUNT) - before)
            finally:
                await ad.close()
        before = eng.used_weight(ACCOUNT)
        import aiohttp

        async with aiohttp.ClientSession() as s:
            async with s.post(f"{server.base_url}/fapi/v1/listenKey", headers={"X-MBX-APIKEY": "k"}) as r:
                await r.read()
        out.append(eng.used_weight(ACCOUNT) - before)
    return out[0], out[1], out[2]


def weights() -> None:
    full, bare, listen = asyncio.run(snapshot_weights())
    every_s, orders_every_s, reconcile_s, keepalive_s = 5.0, 9.0, 30.0, 1200.0
    per_min = 60 / every_s
    lists = 60 / (orders_every_s + (-orders_every_s) % every_s)  # the list is due at the first tick 9 s on
    polled = per_min * bare + lists * (full - bare)
    streamed = 60 / reconcile_s * full + 60 / keepalive_s * listen
    print(f"2. REST weight per account per minute (Binance USDⓈ-M weights as the simulator's REST face charged "
          f"them through ccxt: a snapshot {full} with the list of every open order, {bare} without; a listen "
          f"key {listen}, where Binance publishes 1)")
    print(f"  polled every {every_s:g} s: {per_min:g} snapshots, {lists:g} of them with the open-order list "
          f"= {polled:g} a minute; accounts within {BUDGET:,}/min per IP: {int(BUDGET // polled)}")
    print(f"  streamed (policy interval {every_s:g} s, REST reconcile every {reconcile_s:g} s, the listen key's "
          f"keepalive every {keepalive_s / 60:g} min): {60 / reconcile_s:g} full snapshots = {streamed:g} a minute "
          f"({streamed / polled:.0%} of polling); accounts within {BUDGET:,}/min: {int(BUDGET // streamed)} "
          f"(a stream that is stale or down is polled at the interval: {polled:g} while it is)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--layouts", default=None, help="positions (spot: held assets), comma-separated "
                    "(default 1000,10000)")
    ap.add_argument("--trials", type=int, default=None, help="streamed trials per layout")
    ap.add_argument("--poll-trials", type=int, default=None, help="polled trials per layout")
    ap.add_argument("--skip", default="", help="reaction,weight,faults")
    ap.add_argument("--venue", default=None, help="the dialect the simulated venue speaks and the runner streams "
                    "(the reaction's; comma-separated for several in turn); default binanceusdm, with --market "
                    f"spot every venue whose spot account streams; futures: {', '.join(sorted(VENUES))}")
    ap.add_argument("--market", default="futures", choices=("futures", "spot"),
                    help="the account: the face's futures book, or a spot account holding the N base assets "
                         "(the reaction alone: the weight and fault runs are Binance's futures)")
    ap.add_argument("--trace", action="store_true",
                    help="stamp the streamed path in the runner too (bench/stream_trace.py) and print where the "
                         "time went (the traced runner reads its venue in its own process: --readers 0)")
    args = ap.parse_args()
    spot = args.market == "spot"
    table = venue_table(args.market)
    venues = pick_venues(args.venue, args.market, table)
    unknown = [v for v in venues if v not in table]
    if unknown:
        ap.error(f"--venue {', '.join(unknown)}: the venues whose {args.market} account streams are "
                 f"{', '.join(sorted(table)) or 'none'}")
    skip = set(filter(None, args.skip.split(","))) | ({"weight", "faults"} if spot else set())
    base = dict(QUICK if args.quick else LAYOUTS)
    if args.layouts:
        base = {int(x): base.get(int(x), (5, 1)) for x in args.layouts.split(",")}
    layouts = {n: (args.trials or t, args.poll_trials if args.poll_trials is not None else p)
               for n, (t, p) in base.items()}
    print(f"private streams against polling ({', '.join(venues)}{', spot' if spot else ''}) — machine: "
          f"{machine()}", flush=True)
    for v in venues if "reaction" not in skip else ():
        if not spot:
            reactions(layouts, args.trace, v)
            continue
        print(f"{table[v].name} ({v}):", flush=True)
        if table[v].lacks is not None:
            print(f"  not run: {table[v].lacks}")
            continue
        try:
            reactions(layouts, args.trace, v, "spot")
        except RuntimeError as e:  # (a face that lacks what the runner needs: said, the next venue run)
            print(f"  not run: {e}")
    if "weight" not in skip:
        weights()
    if "faults" not in skip:
        faults()


if __name__ == "__main__":
    if str(Path(__file__).resolve().parents[1]) not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
