"""``ksctl demo``: the whole pipeline against the simulated exchange, in under a minute.

Starts the simulated exchange's Binance USD-M face on 127.0.0.1 with a scripted crash, and runs
the real runner — the ccxt adapter, the SQLite state store, the journal, the trading lock —
with the example futures-book policy. Simulated time advances 5 s per tick, ticks run back to
back. The story (``--scenario ladder``, the default): calm for 15 minutes; the longs slide
(stage 1 cuts the top risk, stage 2 closes the losing long side); then the remaining short is
squeezed (stage 3 flattens and locks). ``--scenario crash-while-blind`` (the simulator's scenario
of that name): the crash comes at minute 1, while the runner just started is blind (dd_15m needs
12 minutes of history): bots may only reduce (the while_blind lock) and nothing is sent until
minute 12, when the crash is in the window whole and stage 3 flattens and locks at once.
Exits 0 when the book is flat and the lock says halted, with a runbook per stage entered.

A spot account (``--venue kraken``, whose face serves one; ``--venue mexc --market spot``, its
spot face beside its futures) tells the spot book's story instead (:data:`SPOT_STORY`,
``spot-book.yaml``): a bot's take-profit-limit (a limit sell where the venue rests no conditional
order) and limit buy rest on the book; BTC and ETH slide from minute 15; the book, down more
than 8% on the day, cancels them and sells every held asset back to USDT, then halts. Exits 0
when no asset but USDT and no resting order is left and the lock says halted.

The sinks run too: every stage entry gets its runbook rendered and stored (from runbooks/ when
found), the pages go through the notification routes to a local webhook receiver the demo
starts (apprise ``json://``), and the telemetry sink keeps the metrics (traces are exported when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import tempfile
import time
from pathlib import Path
from typing import NamedTuple, Optional

import click

from adapters.registry import sim_venues

MINUTE = 60_000
TICK_MS = 5_000


class Story(NamedTuple):
    minutes: int  # how long the script runs, in simulated minutes
    stages: tuple[int, ...]  # the stages it enters, in order (each with its runbook)
    told: str  # what happens, said before it does


# ladder: the demo's own price paths (:func:`_paths`); the others: the simulator's scenario of that name
STORIES = {
    "ladder": Story(26, (1, 2, 3), "calm for 15 minutes; then the longs slide (stages 1 and 2) and the short is "
                                   "squeezed (stage 3)"),
    "crash-while-blind": Story(16, (3,), "BTC -15%, ETH -20% from minute 1 to minute 3, no rebound, while the "
                                         "runner just started is blind: dd_15m needs 12 minutes of history; bots "
                                         "may only reduce meanwhile (while_blind), and at minute 12 the crash is in "
                                         "the window"),
}


def _paths():
    from adapters.simulated.paths import Piecewise

    def slide(price, start, drop, minutes):
        return Piecewise(((0, price), (start, price), (start + minutes * MINUTE, price * (1 - drop))))

    return {
        "BTCUSDT": slide(60_000.0, 15 * MINUTE, 0.12, 2),
        "ETHUSDT": slide(3_000.0, 15 * MINUTE, 0.15, 2),
        "SOLUSDT": Piecewise(((0, 140.0), (18 * MINUTE, 140.0), (20 * MINUTE, 140.0 * 1.6))),
    }


def story_engine(scenario: str, clock):
    """The simulated exchange of a story of :data:`STORIES`, on ``clock``.

    The ticks run back to back and the simulated clock stands still within one, so the simulator
    counts a tick's orders as sent in one instant: its order limit is the pace a ccxt client keeps
    (20 a second), else a flatten of more than 10 orders (crash-while-blind's 14) would be taken
    for a burst and banned."""
    from adapters.simulated.accounts import RateLimits
    from adapters.simulated.scenarios import build

    engine = build("calm" if scenario == "ladder" else scenario, clock,
                   rate_limits=RateLimits(orders_per_second=20))
    if scenario == "ladder":
        for symbol, path in _paths().items():
            engine.set_price_path(symbol, path)
    return engine


DEMO_ROUTES = """\
apiVersion: killswitch/v1
kind: NotificationRoutes
metadata: {{name: desk, owner: risk-desk}}
spec:
  route: {{receiver: desk-webhook, group_by: [policy, scope, stage], group_wait: 0s, repeat_interval: 1h}}
  inhibit_rules:
    - source_match: {{stage: flatten}}
      target_match: {{stage: close-losing-side}}
      equal: [scope]
  receivers:
    - name: desk-webhook
      apprise: ["json://127.0.0.1:{port}/desk"]
"""


async def _receiver():
    """A local webhook that keeps what apprise posts to it (the demo's pager)."""
    from aiohttp import web

    pages: list[dict] = []

    async def take(request: web.Request) -> web.Response:
        pages.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/desk", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # the port the OS chooses, read from our own socket
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    return runner, port, pages


# the ccxt id each venue's simulated face answers as → the venue as people name it (its package's NAME)
VENUE_NAMES = {sim_id: pkg.NAME for sim_id, pkg in sim_venues().items()}

# a spot book's ladder: calm for 15 minutes, then BTC and ETH slide; the book, down more than 8% on
# the day, sells every held asset back to the quote (spot-book's one stage) and halts. A bot's
# resting orders stand on the book meanwhile: they are cancelled first, freeing what they hold.
SPOT_STORY = Story(26, (1,), "calm for 15 minutes; then BTC -15% and ETH -20% from minute 15 to 17: the spot "
                             "book, down more than 8% on the day, cancels its resting orders and sells every "
                             "held asset back to USDT (stage 1)")


def spot_engine(clock, conditional: bool = True):
    """The simulated exchange of the spot story, on ``clock``: the calm scenario's spot balances,
    the slide of :data:`SPOT_STORY`, and a bot's resting orders (a sell of 0.5 BTC: a
    take-profit-limit where the venue's face rests ``conditional`` orders, else a limit; a limit
    buy of ETH) that hold part of the balances."""
    from adapters.simulated.accounts import RateLimits
    from adapters.simulated.paths import Piecewise
    from adapters.simulated.scenarios import build
    from adapters.simulated.spot import TAKE_PROFIT

    engine = build("calm", clock, rate_limits=RateLimits(orders_per_second=20))
    for symbol, price, drop in (("BTCUSDT", 60_000.0, 0.15), ("ETHUSDT", 3_000.0, 0.20), ("SOLUSDT", 140.0, 0.0)):
        engine.set_price_path(symbol, Piecewise(((0, price), (15 * MINUTE, price),
                                                 (17 * MINUTE, price * (1 - drop)))))
    if conditional:
        engine.place_spot_order("sim-main", "BTCUSDT", "SELL", 0.5, 66_500.0, client_order_id="bot-tp-1",
                                trigger=TAKE_PROFIT, trigger_price=66_000.0)
    else:
        engine.place_spot_order("sim-main", "BTCUSDT", "SELL", 0.5, 66_500.0, client_order_id="bot-sell-1",
                                time_in_force="GTC")
    engine.place_spot_order("sim-main", "ETHUSDT", "BUY", 2.0, 2_000.0, client_order_id="bot-dip-1",
                            time_in_force="GTC")
    return engine


async def _run(policy_dir: Path, echo, venue: str = "binanceusdm", scenario: str = "ladder",
               market: Optional[str] = None) -> int:
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.http import SimServer, wall_clock
    from adapters.simulated.venues import face_of, market_type, market_types, sim_account

    from ..compile.compiler import compile_documents
    from ..policy.load import load_sources
    from ..process.bootstrap import SinkOptions, build_runner_and_desk, ccxt_adapters, open_state, runner_sinks
    from ..render.evaluation import iso, plan_lines
    from ..sources import read_sources
    from ..zones import zone, zone_known


    web_runner, port, pages = await _receiver()
    market = market or market_type(venue)
    spot = market == "spot"
    policy = "spot-book" if spot else "futures-book"
    src = read_sources([str(policy_dir / f"{policy}.yaml")])
    files = list(src.files) + [("demo-routes.yaml", DEMO_ROUTES.format(port=port))]
    result = compile_documents(load_sources(files), src.revision, zone_known=zone_known, zones=zone)
    if result.graph is None:
        for d in result.errors:
            echo(f"{d.location()}: {d.message}")
        await web_runner.cleanup()
        return 1
    graph = result.graph
    clock = ManualClock(1_772_456_400_000)
    story = SPOT_STORY if spot else STORIES[scenario]
    ticks = story.minutes * MINUTE // TICK_MS
    conditional = bool(getattr(face_of(venue, market), "CONDITIONAL_ORDERS", False))
    engine = spot_engine(clock, conditional) if spot else story_engine(scenario, clock)
    work = Path(tempfile.mkdtemp(prefix="ksdemo-"))
    from ..state.audit_chain import AuditKey

    # a key for this demo only, never stored: its chain is anchored by HMAC as in production
    # (KS_AUDIT_KEY / --audit-key-file there)
    store = open_state(f"sqlite://{work / 'state.db'}", audit_key=AuditKey(secrets.token_hex(32)))
    started = time.monotonic()
    async with SimServer(engine, auth_clock=wall_clock) as server:
        # the account as an Accounts document names it: the venue's dialect, the server's URL
        account = sim_account(server, "sim-main", venue, labels={"book": market}, market_type=market,
                              initial_capital=250_000 if spot else 1_000_000)
        # the simulated exchange enforces its own limits, in simulated time: ccxt's pacing would
        # stretch the scripted minutes into real ones
        built = ccxt_adapters([account], urls=server.base_url, timeout=5, rate_limit=False)
        # the sinks of `ksctl run` but the audit anchor (a five-minute export over a scripted run);
        # the notifications on the simulated clock, so that group timers follow the script
        sinks = runner_sinks(result, store, SinkOptions(policies=(str(policy_dir),), audit_anchor_every_ms=None,
                                                        clock=clock), err=echo)
        # the script's ticks go as fast as the runner does: each waits for its sends (in real time a
        # tick is an interval long, and an account's sends go on beside the next ones)
        runner = build_runner_and_desk(graph, built.by_key, store, sinks=sinks, lock_path=work / "lock.json",
                                       dry_run=False, clock=clock, holder="demo", send_wait_s=None).runner
        echo(f"killswitch demo: policy {policy} {graph.short_digest}, simulated {VENUE_NAMES[venue]} "
             f"({venue}{', spot' if spot and market_types(venue)[0] != 'spot' else ''}) at {server.base_url}, "
             f"scenario {'spot ladder' if spot else scenario}")
        echo("mode: LIVE against the simulated exchange (a real deployment stays in dry run unless "
             "the accounts say dry_run: false)")
        book = holdings(engine) if spot else {p.symbol: p.amount for p in engine.positions("sim-main")}
        echo(f"book: {', '.join(f'{s} {a:+g}' for s, a in sorted(book.items()))}")
        if spot:
            echo("resting: " + ", ".join(resting(engine)))
        echo(f"story: {story.told}")
        await runner.start()
        held = None
        for _ in range(ticks):
            clock.advance(TICK_MS)
            report = await runner.tick()
            for s in report.transitions:
                t = s.transition
                echo(f"\n{iso(report.now_ms)}  stage {t.from_level} → {t.to_level} {t.stage or ''}  {t.reason}")
                if s.plan:
                    for line in plan_lines(s.plan):
                        echo(line)
                x = report.execution
                echo(f"    executed: {x.sent} sent, {x.filled} filled, {x.canceled} canceled, "
                     f"{len(x.rejected)} rejected, {len(x.unknown)} unknown")
            held = _lock_change(work / "lock.json", held, report.now_ms, echo)
        await runner.aclose()  # the sinks deliver what is queued
        await built.close()
    await web_runner.cleanup()
    left = {a: q for a, q in holdings(engine).items() if a != "USDT" and q > 0} if spot else {
        p.symbol: p.amount for p in engine.positions("sim-main") if abs(p.amount) > 0}
    still = resting(engine) if spot else []
    lock = json.loads((work / "lock.json").read_text())
    journal = store.journal(limit=10_000)
    filled = sum(1 for e in journal if e.status == "filled")
    echo(f"\nafter {ticks} ticks ({story.minutes} simulated minutes) "
         f"in {time.monotonic() - started:.1f} s:")
    if spot:
        echo(f"  assets left: {left or 'none'} (USDT {holdings(engine).get('USDT', 0.0):,.2f})")
        echo(f"  resting orders left: {', '.join(still) or 'none'}")
    else:
        echo(f"  positions left: {left or 'none'}")
    echo(f"  trading lock: {lock['mode']} ({work / 'lock.json'})")
    echo(f"  journal: {len(journal)} order intents, {filled} filled, {len(store.pending_intents())} pending")
    echo(f"  {store.audit_verification().describe()}")
    echo(f"  state: {work / 'state.db'}")
    books = store.runbooks(limit=100)
    for rb in sorted(books, key=lambda r: r.level):
        path = work / f"runbook-L{rb.level}.md"
        path.write_text(rb.markdown, encoding="utf-8")
        echo(f"  runbook of stage {rb.level} ({rb.template}): {path}")
    echo(f"  pages received by the local webhook: {len(pages)}" + "".join(
        f"\n    - {p.get('title', '')}" for p in pages))
    store.close()
    ok = (not left and not still and lock["mode"] == "halted"
          and tuple(sorted(rb.level for rb in books)) == story.stages and bool(pages))
    others = [v for v in sorted(VENUE_NAMES) if v != venue and market in market_types(v)]
    if others and spot:
        echo("  the same story in another venue's dialect: " + ", ".join(
            f"ksctl demo --venue {v}" + ("" if market_type(v) == "spot" else " --market spot") for v in others))
    elif others:
        echo(f"  the same story in another venue's dialect: ksctl demo --venue {'|'.join(others)}"
             + ("" if scenario == "ladder" else f" --scenario {scenario}"))
    if spot:
        echo("  the futures book's stories: ksctl demo, " + ", ".join(f"ksctl demo --scenario {s}" for s in STORIES
                                                                      if s != "ladder"))
    else:
        echo("  another story: " + ", ".join(f"ksctl demo --scenario {s}" for s in STORIES if s != scenario))
    echo("demo: ok" if ok else "demo: FAILED")
    return 0 if ok else 1


def holdings(engine) -> dict[str, float]:
    """The spot account's balances as the engine keeps them (no request: the demo's own look)."""
    return {a: q for a, q in sorted(engine.accounts["sim-main"].spot.items())}


def resting(engine) -> list[str]:
    """The spot account's resting orders, said briefly."""
    from adapters.simulated.accounts import still_open

    out = []
    for o in still_open(engine.accounts["sim-main"].spot_live):
        trigger = f" {o.trigger.lower().replace('_', '-')} at {o.trigger_price:g}," if o.trigger else ""
        out.append(f"{o.client_order_id} ({o.side.lower()} {o.quantity:g} {o.symbol}{trigger} limit {o.price:g})")
    return out


def _lock_change(path: Path, held, now_ms: int, echo):
    """Say when the trading lock's mode changes (the while_blind lock, the stage's halt); the mode now."""
    from ..render.evaluation import iso

    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return held
    mode = doc.get("mode")
    if mode != held and (held is not None or mode != "active"):
        echo(f"\n{iso(now_ms)}  trading lock → {mode}  {doc.get('reason') or ''}")
    return mode


@click.command()
@click.option("--policies", "policy_dir", default="policies", show_default=True,
              type=click.Path(exists=True, file_okay=False),
              help="The policy directory holding futures-book.yaml and routes.yaml.")
@click.option("--venue", type=click.Choice(sorted(VENUE_NAMES)), default="binanceusdm", show_default=True,
              help="The dialect the simulated exchange answers in, and the account's venue: the real ccxt "
                   "client of that venue runs against it (kraken: a spot account, the spot book's story).")
@click.option("--market", type=click.Choice(["futures", "spot"]), default=None,
              help="The account's market: its venue's own by default (kraken: spot; the others: futures); "
                   "spot where the simulator serves a venue's spot account beside its futures (mexc).")
@click.option("--scenario", type=click.Choice(sorted(STORIES)), default="ladder", show_default=True,
              help="ladder: calm for 15 minutes, then the longs slide and the short is squeezed (stages 1, 2, 3); "
                   "crash-while-blind: a crash at minute 1 while the runner just started is blind for 12 minutes "
                   "(stage 3 at minute 12).")
def demo(policy_dir: str, venue: str, market: Optional[str], scenario: str) -> None:
    """Run the runner against the simulated exchange through a scripted crash (about 10 s)."""
    from adapters.simulated.venues import market_type, market_types

    if market is not None and market not in market_types(venue):
        raise click.BadParameter(f"the simulated {venue} serves a {' or a '.join(market_types(venue))} account",
                                 param_hint="--market")
    spot = (market or market_type(venue)) == "spot"  # a spot account: the spot book's story (SPOT_STORY)
    policy = "spot-book" if spot else "futures-book"
    if not (Path(policy_dir) / f"{policy}.yaml").is_file():
        raise click.BadParameter(f"no {policy}.yaml in {policy_dir!r}: the demo runs that policy",
                                 param_hint="--policies")
    if spot and scenario != "ladder":
        raise click.BadParameter(f"{venue} is a spot account: its demo tells the spot book's ladder only",
                                 param_hint="--scenario")
    import logging

    from ..logs import configure, unconfigure

    # the demo tells its story on stdout itself; what the runner, aiohttp or asyncio log (warnings
    # and errors) goes through the same scrubbing handlers as in ksctl run
    configure("text", level=logging.WARNING)
    try:
        code = asyncio.run(_run(Path(policy_dir), click.echo, venue, scenario, market))
    finally:
        unconfigure()
    raise SystemExit(code)
