"""``ksctl plan --state`` shows what the locks in force would make hold at the venue now: the
rogue entry it would cancel and the growth it would bring back, against live snapshots of the
simulated exchange (the runner's own rule, killswitch/runner/watch/enforce/)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from adapters.simulated.engine import ManualClock
from adapters.simulated.http import wall_clock
from adapters.simulated.scenarios import build
from killswitch.cli.main import cli
from killswitch.engine.state import State
from killswitch.runner.lock.lock import OPERATOR, LockBook
from killswitch.state import open_store

from .test_previews import FUTURES_BOOK, GOOD, accounts_doc, sim_exchange

BTC = "BTC/USDT:USDT"


def stored_lock(tmp_path) -> str:
    """A state store holding an operator's halt on sim-main, taken when its BTC long was 4 (a baseline)."""
    url = f"sqlite://{tmp_path / 'state.db'}"
    store = open_store(url)
    fence = store.acquire_lease("t", 60_000, wall_clock())
    book = LockBook().apply("binanceusdm/sim-main", "halted", now_ms=wall_clock() - 60_000, policy=OPERATOR)
    doc = {"format_version": 1, "engine": State().to_json(pnl_samples=False), "lock": book.to_json(),
           "baselines": {"binanceusdm/sim-main": {"since": wall_clock() - 50_000, "legs": {
               f"{BTC}|long": 4.0, "ETH/USDT:USDT|long": 100.0, "SOL/USDT:USDT|short": 1000.0}}}}
    store.save_engine_state(doc, "sha256:x", fence)
    store.close()
    return url


def test_a_live_plan_with_the_stored_state_lists_what_the_venue_watch_would_cancel_and_revert(tmp_path,
                                                                                                 monkeypatch):
    import tests.cli.plan.test_previews as tp

    engine = build("calm", ManualClock(wall_clock()))
    engine.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.5, price=50_000.0, time_in_force="GTC",
                       client_order_id="alp-rogue-1")
    monkeypatch.setattr(tp, "build", lambda *a, **k: engine)  # the plan reads this engine
    url = stored_lock(tmp_path)
    with sim_exchange() as base:
        acc = accounts_doc(tmp_path, base)
        args = ["plan", "--policies", str(FUTURES_BOOK), "--accounts", str(acc), "--state", url,
                "--allow-incomplete"]
        text = CliRunner().invoke(cli, args, env=GOOD, catch_exceptions=False)
        as_json = CliRunner().invoke(cli, [*args, "-o", "json"], env=GOOD, catch_exceptions=False)
    out = text.stdout
    assert "# venue watch: 1 order(s) to cancel, 1 position(s) to bring back (locks in force)" in out, out
    assert f"~ cancel binanceusdm/sim-main {BTC} buy 0.5" in out and "client id alp-rogue-1" in out
    assert f"- revert binanceusdm/sim-main {BTC} from 5 to 4" in out
    doc = json.loads(as_json.stdout)["venue_watch"]
    assert sorted(v["action"] for v in doc["violations"]) == ["cancel", "revert"]
    (r,) = doc["reverts"]
    assert (r["symbol"], r["side"], r["amount"], r["reduce_only"]) == (BTC, "sell", 1.0, True)
    assert engine.order_by_client_id("sim-main", "alp-rogue-1").is_open  # nothing was sent
