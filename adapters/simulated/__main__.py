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
positions on N markets in ``sim-main`` instead of a named scenario (:func:`.scenarios.wide_book`;
``--resting M``: with M entry orders resting beside them);
``--accounts N`` the calm markets with N accounts ``sim-0``… (:func:`.scenarios.many_accounts`);
both, ``--accounts N --positions M``, a firm's shape: N accounts of M positions each, every
book its own (:func:`.scenarios.firm_book`). Under ``venues`` it prints, for every venue the
server answers as, the first account's Accounts-document entry on that face and the values of
the environment variables its credentials name. Under ``revoke``: a master credential that may
switch every account's bots' keys, and a bot key per account (``<account>-bot-key``), so that
``ksctl revoke`` can be tried on it; on a venue with that switch, the first account's entry under
``venues`` carries its ``revoke:`` block.

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
        engine = wide_book(args.positions, clock, seed=args.seed, faults=faults, resting=args.resting)
    elif args.accounts:
        engine = many_accounts(args.accounts, clock, seed=args.seed, faults=faults)
    else:
        engine = build(args.scenario, clock, seed=args.seed, faults=faults)
    server = SimServer(engine, port=args.port, auth_clock=wall_clock, admin_state=True)
    revoke = revoke_keys(engine)
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
        "venues": faces_settings(server, next(iter(engine.accounts)), revoke),
        # the switch of the bots' keys (ksctl revoke): the master credential that may change every
        # account's keys, and each account's bot key (its orders refused once revoked)
        "revoke": revoke,
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
        return f"wide-book of {args.positions}" + (f" with {args.resting} resting orders" if args.resting else "")
    if args.accounts:
        return f"{args.accounts} accounts"
    return args.scenario


MASTER_KEY, MASTER_SECRET, MASTER_PASSPHRASE = "sim-master-key", "sim-master-secret", "sim-passphrase"
MASTER_ENV = {"api_key": "KS_SIM_MASTER_KEY", "secret": "KS_SIM_MASTER_SECRET", "password": "KS_SIM_MASTER_PASS"}


def revoke_keys(engine) -> dict:
    """A master credential and a bot key per account, added to ``engine``'s permissions (test
    keys: they guard nothing), as ``serve`` prints them under ``revoke``."""
    perms = engine.permissions
    perms.add_master(MASTER_KEY, MASTER_SECRET, MASTER_PASSPHRASE)
    bots = {}
    for name in engine.accounts:
        key, secret = f"{name}-bot-key", f"{name}-bot-secret"
        perms.add_key(name, key, secret)
        # the sub-account as a venue that names it by its email does (Binance): <account>@sim.example
        perms.name_sub(name, f"{name}@sim.example")
        bots[name] = {"api_key": key, "secret": secret, "email": f"{name}@sim.example"}
    return {"master": {"api_key": MASTER_KEY, "secret": MASTER_SECRET, "passphrase": MASTER_PASSPHRASE},
            "bots": bots}


def faces_settings(server, account: str, revoke: dict | None = None) -> dict:
    """For each venue the server answers as, ``account``'s Accounts-document entry on that face
    and the values of the environment variables its credentials name (test keys of the
    simulator, set here by each face's ``sim_account``). With ``revoke`` (:func:`revoke_keys`),
    the entry of a venue with a switch of the bots' keys (a face with master endpoints, ``MASTER``)
    carries its ``revoke:`` block: the master credential by environment variables, the
    sub-account as that venue names it (the simulator answers to it for ``account``) and the
    account's bot key."""
    import os

    from killswitch.compile.venue_check import CREDENTIALS  # ccxt's requiredCredentials, without ccxt

    from .venues import VENUES, face_of, sim_account

    out = {}
    for venue in VENUES:
        block = None
        master = getattr(face_of(venue), "MASTER", None)  # the face's master endpoints: a switch
        if revoke is not None and master is not None:
            sub = master.SUB_ACCOUNT
            server.engine.permissions.name_sub(account, sub)
            signs = "password" in CREDENTIALS.get(venue, ())
            block = {"master_credentials": {k: {"env": n} for k, n in MASTER_ENV.items() if k != "password" or signs},
                     "sub_account": sub, "api_keys": [revoke["bots"][account]["api_key"]]}
        doc = sim_account(server, account, venue, **({"revoke": block} if block else {})).model_dump(
            mode="json", exclude_none=True)
        names = [ref["env"] for ref in doc.get("credentials", {}).values() if isinstance(ref, dict) and "env" in ref]
        env = {n: os.environ.get(n, "") for n in names}
        if block:
            values = {"api_key": MASTER_KEY, "secret": MASTER_SECRET, "password": MASTER_PASSPHRASE}
            env.update({ref["env"]: values[k] for k, ref in block["master_credentials"].items()})
        out[venue] = {"account": doc, "env": env}
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
    s.add_argument("--resting", type=int, default=0,
                   help="with --positions: this many entry orders resting in sim-main too, spread over its markets")
    s.add_argument("--accounts", type=int, default=0,
                   help="serve the calm markets with this many one-way accounts sim-0… instead of the scenario's "
                        "(with --positions: that many accounts of that many positions each)")
    s.add_argument("--faults", help="a JSON file: a list of fault rules, e.g. [{\"op\": \"place_order\", "
                   "\"kind\": \"reject_reduce_only\", \"account\": \"sim-hedge\"}] (docs/exchanges.md: "
                   "the faults file)")
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
