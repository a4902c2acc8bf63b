"""The venue watch's rig: a runner under an operator's lock (a policy that never fires, ``QUIET``)
over one account of the simulated exchange's HTTP faces, polled through the real ccxt adapter,
and what its tests read back off the engine and the store. Its tests: test_polled.py, test_spot.py,
test_streamed.py (whose runner is ``ksctl run``'s, tests/integration/stream/test_runner.py's); the
violations' tests here and the notifications', reports', limits' and revokes' elsewhere drive it too.
"""

from __future__ import annotations

from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.scenarios import build
from adapters.simulated.venues import sim_account
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.integration.runner.rig import BUILT
from tests.integration.sim_helpers import T0
from tests.unit.engine_helpers import compile_graph, loss_policy

TICK_MS = 5_000
FLAT = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}
BTC = "BTC/USDT:USDT"
# a policy that never fires: the locks here are the operator's
QUIET = loss_policy("quiet", interval="5s", at="90%")
STRATEGIES = [{"name": "alpha", "client_id_prefixes": ["alp", "0xa1"]},
              {"name": "beta", "client_id_prefixes": ["beta", "0xbe"]}]


class Crash(BaseException):
    """The process dying here (a BaseException: no ``except Exception`` absorbs it)."""


def graph():
    return compile_graph(QUIET, "quiet.yaml")


def unthrottled(venue: str):
    def factory(config):
        import ccxt.async_support as ccxt_async
        return getattr(ccxt_async, venue)({**config, "enableRateLimit": False})
    return factory


def engine():
    clock = ManualClock(T0)
    eng = build("calm", clock)
    for symbol, price in FLAT.items():
        eng.set_mark(symbol, price)
    return eng, clock


async def with_runner(tmp_path, venue: str, scenario, *, wrap=None, store=None, eng=None, orders_max_age=0.0):
    """``await scenario(runner, desk, engine, clock, store, key)`` with a runner (and its desk) over
    ``venue``'s face; ``orders_max_age``: the adapter's ``open_orders_max_age_s`` (None: the dialect's)."""
    eng, clock = eng or engine()
    store = store or open_store(f"sqlite://{tmp_path / 'state.db'}")
    async with SimServer(eng, auth_clock=wall_clock) as server:
        acc = sim_account(server, "sim-main", venue, labels={"book": "futures"}, strategies=STRATEGIES)
        # (every snapshot lists the open orders unless told: the ticks here are milliseconds apart in
        # wall time, where a 5 s interval under a lock lists them at each tick: WATCHED_ORDERS_MAX_AGE_S)
        adapter = CcxtAdapter(acc, urls=acc.api_url, timeout=5.0, max_retries=1, backoff_s=0.05,
                              orders_per_second=1000, exchange_factory=unthrottled(venue),
                              open_orders_max_age_s=orders_max_age)
        key = f"{venue}/sim-main"
        runner, desk, parts = build_runner_and_desk(graph(), {key: wrap(adapter) if wrap else adapter}, store,
                                             lock_path=tmp_path / "lock.json", dry_run=False, clock=clock,
                                             confirm_gap_ms=TICK_MS, snapshot_timeout_s=6.0)
        try:
            BUILT[runner] = parts
            return await scenario(runner, desk, eng, clock, store, key)
        finally:
            await adapter.close()


async def tick(runner, clock):
    clock.advance(TICK_MS)
    return await runner.tick()


def long_btc(eng) -> float:
    return sum(p.amount for p in eng.positions("sim-main") if p.symbol == "BTCUSDT")


def open_ids(eng) -> set[str]:
    """The account's open orders, read off the engine (not its open-orders call, which is charged weight)."""
    return {o.client_order_id for o in eng.accounts["sim-main"].orders.values() if o.is_open}


def violations(store) -> list[dict]:
    return [r.payload for r in store.audit_rows(None, ("lock_violation",), 1000)]
