"""``python -m adapters.simulated serve --scenario flash-crash [--port N] [--seed S] [--faults F] [--time-scale X]``
``python -m adapters.simulated serve --positions 1000 [--port N] ...``

Runs the simulated exchange's HTTP and websocket faces on 127.0.0.1 with the system clock
(scenario time starts when the server does) until interrupted, and prints the base URL, the
websocket URL (``ws``: what ``ccxt.pro.binanceusdm`` takes as ``urls['api']['ws']['linear']``;
the user data stream and mark prices, :mod:`.stream`), the accounts' test keys and the ccxt
settings to point ``binanceusdm`` at it, and (under ``bybit``) the ``api_url`` and ccxt settings
that point a ``bybit`` account at its Bybit v5 face, on the same port. ``scenarios`` lists the
scenarios.

For test harnesses: ``--time-scale X`` runs the scenario's clock X times faster than the wall
clock from the start (request timestamps are still checked against the wall clock), and the
server answers ``GET /_sim/state`` with the engine's ``dump_state()`` — a read-only harness
endpoint on loopback, not part of the Binance API. ``--hold`` keeps the scenario's clock at the
wall clock's pace until ``POST /_sim/go[?at_ms=ELAPSED]`` (:mod:`.held_clock`): a harness starts
its processes during the flat start, then lets the scenario's event unfold at ``--time-scale``.
``--positions N`` serves a calm book of N
positions on N markets in ``sim-main`` instead of a named scenario (:func:`.scenarios.wide_book`);
``--accounts N`` the calm markets with N accounts ``sim-0``… (:func:`.scenarios.many_accounts`);
both, ``--accounts N --positions M``, a firm's shape: N accounts of M positions each, every
book its own (:func:`.scenarios.firm_book`). Under ``venues`` it prints, for every venue the
server answers as, the first account's Accounts-document entry on that face and the values of
the environment variables its credentials name.

Owns only the command line; it must not listen beyond loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .faults import FaultPlan
from .scenarios import SCENARIOS, build, firm_book, many_accounts, wide_book


async def _serve(args) -> int:
    from importlib import import_module

    from .held_clock import HeldClock
    from .http import ScaledClock, SimServer, wall_clock

    faults = FaultPlan.load(args.faults) if args.faults else None
    clock = (HeldClock(args.time_scale) if args.hold else
             wall_clock if args.time_scale == 1.0 else ScaledClock(args.time_scale))
    if args.positions and args.accounts:
        engine = firm_book(args.accounts, args.positions, clock, seed=args.seed, faults=faults)
    elif args.positions:
        engine = wide_book(args.positions, clock, seed=args.seed, faults=faults)
    elif args.accounts:
        engine = many_accounts(args.accounts, clock, seed=args.seed, faults=faults)
    else:
        engine = build(args.scenario, clock, seed=args.seed, faults=faults)
    server = SimServer(engine, port=args.port, auth_clock=wall_clock, admin_state=True)
    url = await server.start()
    # (by name: the simulator imports no venue package)
    binance, bybit = import_module("adapters.venues.binance.face"), import_module("adapters.venues.bybit.face")
    info = {
        "url": url, "scenario": scenario_of(args),
        "seed": args.seed, "time_scale": args.time_scale, "held": bool(args.hold),
        "state": url + "/_sim/state",
        "accounts": {n: {"apiKey": a.spec.api_key, "secret": a.spec.secret, "hedge_mode": a.hedge_mode}
                     for n, a in engine.accounts.items()},
        "ws": server.ws_url,
        "ccxt": {"urls": {"api": binance.api_urls(server, ws=True)},
                 "options": binance.ccxt_config(server, next(iter(engine.accounts)))["options"]},
        # the Bybit v5 face, on the same port: an Accounts document's ``venue: bybit`` and
        # ``api_url`` (the ccxt adapter sends every Bybit request there), or a bare ccxt.bybit's config
        "bybit": {"api_url": url, "ccxt": {k: v for k, v in bybit.ccxt_config(server, next(iter(engine.accounts)))
                                           .items() if k in ("urls", "options")}},
        # every face's Accounts-document entry for the first account, and the values of the
        # environment variables it reads its credentials from (the others: the same, by name)
        "venues": faces_settings(server, next(iter(engine.accounts))),
    }
    print(json.dumps(info, indent=2), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
    return 0


def scenario_of(args) -> str:
    """What the server serves, in words."""
    if args.positions and args.accounts:
        return f"firm book of {args.accounts} accounts of {args.positions} positions"
    if args.positions:
        return f"wide-book of {args.positions}"
    if args.accounts:
        return f"{args.accounts} accounts"
    return args.scenario


def faces_settings(server, account: str) -> dict:
    """For each venue the server answers as, ``account``'s Accounts-document entry on that face
    and the values of the environment variables its credentials name (test keys of the
    simulator, set here by each face's ``sim_account``)."""
    import os

    from .venues import VENUES, sim_account

    out = {}
    for venue in VENUES:
        doc = sim_account(server, account, venue).model_dump(mode="json", exclude_none=True)
        names = [ref["env"] for ref in doc.get("credentials", {}).values() if isinstance(ref, dict) and "env" in ref]
        out[venue] = {"account": doc, "env": {n: os.environ.get(n, "") for n in names}}
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m adapters.simulated", description="the simulated exchange")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="serve the Binance USD-M (REST, websocket) and Bybit v5 faces on 127.0.0.1")
    s.add_argument("--scenario", default="calm", choices=sorted(SCENARIOS))
    s.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--positions", type=int, default=0,
                   help="serve a calm book of this many positions (one per market) instead of the scenario's")
    s.add_argument("--accounts", type=int, default=0,
                   help="serve the calm markets with this many one-way accounts sim-0… instead of the scenario's "
                        "(with --positions: that many accounts of that many positions each)")
    s.add_argument("--faults", help="a JSON file: a list of fault rules (FaultPlan.from_dicts)")
    s.add_argument("--time-scale", type=float, default=1.0,
                   help="the scenario clock runs this many times faster than the wall clock (test harnesses)")
    s.add_argument("--hold", action="store_true",
                   help="the scenario clock keeps the wall clock's pace until POST /_sim/go[?at_ms=ELAPSED], "
                        "then runs at --time-scale (from that elapsed time, if ahead): test harnesses")
    sub.add_parser("scenarios", help="list the scenarios")
    args = ap.parse_args(argv)
    if args.cmd == "scenarios":
        for name, sc in SCENARIOS.items():
            print(f"{name:22s} {sc.description}")
        return 0
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
