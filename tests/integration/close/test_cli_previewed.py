"""``ksctl close`` against a served runner (issue 30, points 3, 5 and 15): it closes one symbol
with ``--symbol``; it sends the preview's id and a maximum notional, and a close above
``--max-notional`` is refused (exit 1) with nothing sent; on a dry-run runner it says first of
all, in the preview and in the answer, that nothing will be sent, with the total notional."""

from __future__ import annotations

import asyncio
import threading

from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.integration.test_ops_commands import SERVED_LEASE_MS, TOKEN, Served

SCOPE = "simulated/sim-main"
BTC = "BTC/USDT:USDT"


class DryServed(Served):
    """:class:`Served`, on a dry-run runner over the calm book."""

    def __init__(self, tmp_path):
        from tests.unit.runner.operator.rig import make

        w = make(tmp_path, dry_run=True, lease_ttl_ms=SERVED_LEASE_MS)
        self.runner, self.engine, self.clock, self.store, self.desk = w.runner, w.engine, w.clock, w.store, w.desk
        self.parts = w.parts
        self.api = {}
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = False
        self.ticks = 0  # ticks ended since it served (Served.ticked waits on them)
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self._serve()), daemon=True)


def held(srv) -> dict[str, float]:
    return {p.symbol: abs(p.amount) for p in srv.engine.positions("sim-main") if abs(p.amount) > 0}


def test_close_one_symbol_with_the_preview_id_and_refused_above_max_notional(tmp_path):
    cmd = CliRunner(env={"KS_API_TOKEN": TOKEN})
    with Served(tmp_path) as srv:
        args = ["close", "--api", srv.url, "--scope", SCOPE, "--reason", "cut btc", "--symbol", BTC]
        r = cmd.invoke(cli, args + ["--yes", "--max-notional", "1"])
        assert r.exit_code == 1, (r.stdout, r.stderr)
        assert "OVER_MAX_NOTIONAL: the plan's notional is " in r.stdout and "nothing was sent" in r.stdout
        assert held(srv)["BTCUSDT"] == 5.0
        r = cmd.invoke(cli, args + ["--yes", "--wait"])
        assert r.exit_code == 0, (r.stdout, r.stderr)
        assert r.stdout.startswith(f"close {BTC} in {SCOPE}: queued with "), r.stdout
        orders = [x for x in r.stdout.splitlines() if x.startswith(("  sell ", "  buy "))]
        assert orders and all(f" {BTC} on {SCOPE} " in x and "reduce-only" in x for x in orders), orders
        assert "  total notional ≈" in r.stdout and f"\nQUEUED: close of {BTC} in {SCOPE} at the next tick" in r.stdout
        assert f"close {BTC} in {SCOPE} settled: filled {len(orders)}" in r.stdout
        assert "BTCUSDT" not in held(srv) and {"ETHUSDT", "SOLUSDT"} <= set(held(srv))
        requested = [row.payload for row in srv.store.audit_rows(kinds=["manual_close_requested"])]
        assert [(p["symbol"], p["preview"]["id"].startswith("cp-")) for p in requested] == [(BTC, True)]


def test_a_dry_run_runner_says_first_that_nothing_will_be_sent(tmp_path):
    cmd = CliRunner(env={"KS_API_TOKEN": TOKEN})
    with DryServed(tmp_path) as srv:
        args = ["close", "--api", srv.url, "--scope", SCOPE, "--reason", "drill"]
        r = cmd.invoke(cli, args + ["--dry-run"])
        assert r.exit_code == 0, (r.stdout, r.stderr)
        first, second = r.stdout.splitlines()[:2]
        assert first == ("DRY RUN: this runner sends nothing to any venue: nothing will be sent; the orders are only "
                         "planned and audited"), first
        assert second.startswith(f"close {SCOPE}: would send 3 order(s)")
        assert "  total notional ≈740," in r.stdout
        r = cmd.invoke(cli, args + ["--yes", "--wait"])
        assert r.exit_code == 0, (r.stdout, r.stderr)
        assert r.stdout.startswith("DRY RUN: this runner sends nothing to any venue"), r.stdout
        assert "\nQUEUED_DRY_RUN: nothing will be sent (this runner is a dry run)" in r.stdout
        assert "ksctl close: the runner is in dry run: 3 order(s) planned and audited, none sent" in r.stdout
        assert len(held(srv)) == 3


def test_close_names_one_leg_of_one_symbol_and_the_runner_checks_it(tmp_path):
    cmd = CliRunner(env={"KS_API_TOKEN": TOKEN})
    with Served(tmp_path) as srv:
        base = ["close", "--api", srv.url, "--scope", SCOPE, "--reason", "cut a leg"]
        r = cmd.invoke(cli, base + ["--leg", "short", "--dry-run"])
        assert r.exit_code == 2 and "--leg closes one leg of one symbol: give --symbol too" in r.stderr, r.stderr
        r = cmd.invoke(cli, base + ["--symbol", BTC, "--leg", "short", "--dry-run"])
        assert r.exit_code == 1, (r.stdout, r.stderr)
        assert f"UNKNOWN_LEG: {SCOPE} holds no short leg of {BTC}" in r.stdout and "it holds: long" in r.stdout
        r = cmd.invoke(cli, base + ["--symbol", BTC, "--leg", "long", "--yes", "--wait"])
        assert r.exit_code == 0, (r.stdout, r.stderr)
        assert f"QUEUED: close of the long leg of {BTC} in {SCOPE}" in r.stdout, r.stdout
        assert "BTCUSDT" not in held(srv)
        requested = [row.payload for row in srv.store.audit_rows(kinds=["manual_close_requested"])]
        assert [(p["symbol"], p["leg"]) for p in requested] == [(BTC, "long")]
