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
from typing import NamedTuple

import click

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


VENUE_NAMES = {"binanceusdm": "Binance USD-M", "bybit": "Bybit v5", "okx": "OKX v5", "hyperliquid": "Hyperliquid",
               "bitget": "Bitget v2", "krakenfutures": "Kraken Futures", "mexc": "MEXC contract API"}


async def _run(policy_dir: Path, echo, venue: str = "binanceusdm", scenario: str = "ladder") -> int:
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.http import SimServer, wall_clock
    from adapters.simulated.venues import sim_account

    from ..compile.compiler import compile_documents
    from ..policy.load import load_sources
    from ..process.bootstrap import SinkOptions, build_runner_and_desk, ccxt_adapters, open_state, runner_sinks
    from ..render.evaluation import iso, plan_lines
    from ..sources import read_sources
    from ..zones import zone, zone_known


    web_runner, port, pages = await _receiver()
    src = read_sources([str(policy_dir / "futures-book.yaml")])
    files = list(src.files) + [("demo-routes.yaml", DEMO_ROUTES.format(port=port))]
    result = compile_documents(load_sources(files), src.revision, zone_known=zone_known, zones=zone)
    if result.graph is None:
        for d in result.errors:
            echo(f"{d.location()}: {d.message}")
        await web_runner.cleanup()
        return 1
    graph = result.graph
    clock = ManualClock(1_772_456_400_000)
    story = STORIES[scenario]
    ticks = story.minutes * MINUTE // TICK_MS
    engine = story_engine(scenario, clock)
    work = Path(tempfile.mkdtemp(prefix="ksdemo-"))
    from ..state.audit_chain import AuditKey

    # a key for this demo only, never stored: its chain is anchored by HMAC as in production
    # (KS_AUDIT_KEY / --audit-key-file there)
    store = open_state(f"sqlite://{work / 'state.db'}", audit_key=AuditKey(secrets.token_hex(32)))
    started = time.monotonic()
    async with SimServer(engine, auth_clock=wall_clock) as server:
        # the account as an Accounts document names it: the venue's dialect, the server's URL
        account = sim_account(server, "sim-main", venue, labels={"book": "futures"}, initial_capital=1_000_000)
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
        echo(f"killswitch demo: policy futures-book {graph.short_digest}, simulated {VENUE_NAMES[venue]} "
             f"({venue}) at {server.base_url}, scenario {scenario}")
        echo("mode: LIVE against the simulated exchange (a real deployment stays in dry run unless "
             "the accounts say dry_run: false)")
        book = {p.symbol: p.amount for p in engine.positions("sim-main")}
        echo(f"book: {', '.join(f'{s} {a:+g}' for s, a in sorted(book.items()))}")
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
    left = {p.symbol: p.amount for p in engine.positions("sim-main") if abs(p.amount) > 0}
    lock = json.loads((work / "lock.json").read_text())
    journal = store.journal(limit=10_000)
    filled = sum(1 for e in journal if e.status == "filled")
    echo(f"\nafter {ticks} ticks ({story.minutes} simulated minutes) "
         f"in {time.monotonic() - started:.1f} s:")
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
    ok = not left and lock["mode"] == "halted" and tuple(sorted(rb.level for rb in books)) == story.stages and pages
    others = [v for v in sorted(VENUE_NAMES) if v != venue]
    echo(f"  the same story in another venue's dialect: ksctl demo --venue {'|'.join(others)}"
         + ("" if scenario == "ladder" else f" --scenario {scenario}"))
    echo("  another story: " + ", ".join(f"ksctl demo --scenario {s}" for s in STORIES if s != scenario))
    echo("demo: ok" if ok else "demo: FAILED")
    return 0 if ok else 1


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
                   "client of that venue runs against it.")
@click.option("--scenario", type=click.Choice(sorted(STORIES)), default="ladder", show_default=True,
              help="ladder: calm for 15 minutes, then the longs slide and the short is squeezed (stages 1, 2, 3); "
                   "crash-while-blind: a crash at minute 1 while the runner just started is blind for 12 minutes "
                   "(stage 3 at minute 12).")
def demo(policy_dir: str, venue: str, scenario: str) -> None:
    """Run the runner against the simulated exchange through a scripted crash (about 10 s)."""
    if not (Path(policy_dir) / "futures-book.yaml").is_file():
        raise click.BadParameter(f"no futures-book.yaml in {policy_dir!r}: the demo runs that policy",
                                 param_hint="--policies")
    import logging

    from ..logs import configure, unconfigure

    # the demo tells its story on stdout itself; what the runner, aiohttp or asyncio log (warnings
    # and errors) goes through the same scrubbing handlers as in ksctl run
    configure("text", level=logging.WARNING)
    try:
        code = asyncio.run(_run(Path(policy_dir), click.echo, venue, scenario))
    finally:
        unconfigure()
    raise SystemExit(code)
