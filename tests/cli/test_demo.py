"""`ksctl demo`: the runner, the ccxt adapter and the simulated exchange's HTTP face, end to end.

The first test runs the ``ksctl`` command a user runs, in a process of its own; the others run the
same command in this process (click's CliRunner): the demo is one ``asyncio.run`` that removes its
logging set-up at its end, and a ``ksctl`` process's start (about 1.5 s of CPU, most of it
importing ccxt) is no part of what they check."""

import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner

from adapters.registry import sim_venues
from adapters.simulated.venues import face_of, market_type, market_types, spot_venues
from killswitch.cli.main import cli
from tests.conftest import ROOT


class Ran(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def demo(*args: str) -> Ran:
    """``ksctl demo ARGS`` run in this process, on the repository's policies (the default, read
    from the root where the first test's process runs)."""
    r = CliRunner().invoke(cli, ["demo", "--policies", str(ROOT / "policies"), *args], catch_exceptions=False)
    return Ran(r.exit_code, r.stdout, r.stderr)


def test_demo_escalates_flattens_and_locks():
    exe = Path(sys.executable).with_name("ksctl")
    out = subprocess.run([str(exe), "demo"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "stage 0 → 1 reduce-top-risk" in text
    assert "stage 1 → 2 close-losing-side" in text
    assert "stage 2 → 3 flatten" in text
    assert "positions left: none" in text and "trading lock: halted" in text
    assert "0 pending" in text and "audit chain intact and anchored" in text
    assert "sim-main-secret" not in text + out.stderr  # the simulator's secret never printed
    # the sinks ran too: a runbook per stage entry, one page per stage at the local webhook
    assert "runbook of stage 3 (flatten.md.j2)" in text
    # and the ladder's first page: its windows were empty at start, so it said it was blind
    assert "pages received by the local webhook: 4" in text and "entered stage 3 flatten" in text
    assert ("[WARNING] futures-book binanceusdm/sim-main: BLIND, cannot act (INSUFFICIENT_HISTORY): "
            "triggers soft, harder, hard") in text


def test_demo_tells_the_crash_while_blind_story():
    """The README's futures-book story: a crash at minute 1, the runner blind for 12 minutes (bots
    held to reducing, nothing sent), then the flatten at once when the window is whole."""
    out = demo("--scenario", "crash-while-blind")
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "scenario crash-while-blind" in text
    assert "2026-03-02T13:00:05Z  trading lock → reducing  WHILE_BLIND: policy=futures-book" in text
    assert "2026-03-02T13:12:05Z  stage 0 → 3 flatten  ESCALATED: stage=0->3 triggers=hard" in text
    assert "stage 0 → 1" not in text and "stage 1 → 2" not in text
    assert "positions left: none" in text and "trading lock: halted" in text and "0 pending" in text
    assert "runbook of stage 3 (flatten.md.j2)" in text and "runbook of stage 1" not in text
    assert "RATE_LIMITED" not in text + out.stderr  # its 14 closes in one tick are not taken for a burst
    assert text.rstrip().endswith("demo: ok")


@pytest.mark.parametrize("venue", [v for v in sim_venues() if v != "binanceusdm" and v not in spot_venues()])
def test_demo_runs_the_same_story_in_every_dialect_of_the_simulator(venue):
    """The real ccxt client of each venue against the simulator's face for it: the same ladder,
    flat, halted, nothing pending, and the venue's own secret never printed."""
    out = demo("--venue", venue)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert f"({venue}) at http://127.0.0.1:" in text
    for step in ("stage 0 → 1 reduce-top-risk", "stage 1 → 2 close-losing-side", "stage 2 → 3 flatten"):
        assert step in text
    assert "positions left: none" in text and "trading lock: halted" in text and "0 pending" in text
    assert f"futures-book {venue}/sim-main: entered stage 3 flatten" in text
    assert "sim-main-secret" not in text + out.stderr and "sim-passphrase" not in text + out.stderr
    assert "c2ltLW1haW4tc2VjcmV0" not in text + out.stderr  # (base64, as Kraken Futures hands its secret)


SPOT_ACCOUNTS = [v for v in sim_venues() if "spot" in market_types(v)]  # Kraken's own, MEXC's beside its futures


@pytest.mark.parametrize("venue", SPOT_ACCOUNTS)
def test_demo_tells_the_spot_books_story_on_a_spot_venue(venue):
    """A spot account (Kraken spot; MEXC's with --market spot): the spot-book policy, a bot's
    resting orders on the book; the slide takes the book past -8% on the day, stage 1 cancels the
    resting orders and sells every held asset back to USDT, and the lock halts."""
    market = [] if market_type(venue) == "spot" else ["--market", "spot"]
    out = demo("--venue", venue, *market)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "policy spot-book" in text and f"({venue}{', spot' if market else ''}) at http://127.0.0.1:" in text
    sell = "bot-tp-1 (sell 0.5 BTCUSDT take-profit at 66000, limit 66500)" \
        if getattr(face_of(venue, "spot"), "CONDITIONAL_ORDERS", False) else "bot-sell-1 (sell 0.5 BTCUSDT limit 66500)"
    assert f"resting: {sell}, bot-dip-1" in text
    assert "POSITION_MODE" not in text + out.stderr  # a spot account has no mode to read
    assert "stage 0 → 1 sell-to-stables  ESCALATED: stage=0->1 triggers=day_loss" in text
    assert f"cancel  {venue}/sim-main all: 2 order(s)" in text and "2 canceled, 0 rejected, 0 unknown" in text
    assert "assets left: none" in text and "resting orders left: none" in text
    assert "trading lock: halted" in text and "0 pending" in text
    assert "runbook of stage 1 (flatten.md.j2)" in text and "stage 1 → 2" not in text
    assert "sim-main-secret" not in text + out.stderr
    assert text.rstrip().endswith("demo: ok")
    refused = demo("--venue", venue, *market, "--scenario", "crash-while-blind")
    assert refused.returncode != 0 and "spot account" in refused.stderr


def test_demo_refuses_a_market_the_simulator_does_not_serve_for_the_venue():
    refused = demo("--venue", "bybit", "--market", "spot")
    assert refused.returncode == 2 and "the simulated bybit serves a futures account" in refused.stderr
