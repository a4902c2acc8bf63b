"""Order-book-aware unwinding end to end: a large position closed in children sized by the book.

The simulated venue has one market, BTCUSDT at 50,000, whose book holds 2 BTC a level, the
best 1 bp from the mark and each next level 2 bp further, refilled within 2 s. The account is
long 30 BTC (1.5M). The policy closes everything at once with ``max_impact: 0.1%`` and
``max_slippage: 0.5%``: within 0.1 % of the best bid (49,995) the book holds 5 levels (10 BTC,
down to 49,955; the 6th, 49,945, is just past 0.1 %), so the close is split into 3 children of
10 BTC, each a limit IOC at 49,955.

The runner ticks on a manual clock: the children of one tick reach the venue at the same
instant, so the first takes the top of the book and the next find it not yet refilled — their
IOCs take what is left within their price and expire. The shortfall machinery plans what is
left again at the next tick, from a fresh book. Every fill is within the slippage cap of the
mark and within the impact cap of the best bid; the position ends flat; nothing ever closes
more than the position. Run through the in-process adapter and through the ccxt adapter over
the HTTP face (``GET /fapi/v1/depth``).
"""

from __future__ import annotations

import asyncio
import os
import textwrap
from typing import Optional

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.depth import DepthModel
from adapters.simulated.engine import AccountSpec, ManualClock, MarketSpec, RateLimits, SimExchange
from adapters.simulated.faults import FaultPlan
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.unit.engine_helpers import compile_graph

T0 = 1_772_456_400_000
TICK_MS = 5_000
MARK = 50_000.0
ACCOUNT = "sim-main"
MODEL = DepthModel(levels=50, half_spread_bps=1.0, level_bps=2.0, amount=2.0, refill_ms=2_000)


def policy(unwind: str = "{max_impact: 0.1%, max_slippage: 0.5%, book_depth: 20}"):
    text = textwrap.dedent(f"""\
        apiVersion: killswitch/v1
        kind: Policy
        metadata: {{name: book-close}}
        spec:
          scope: {{level: account, accounts: {{match_labels: {{book: futures}}}}}}
          interval: 5s
          signals:
            n: {{position_count: {{side: any}}}}
          triggers:
            open: {{when: "n >= 1", on_missing_data: hold}}
          stages:
            - {{level: 1, name: flatten, on: [open], reset: manual, actions: [close_all]}}
          unwind: {unwind}
        """)
    return compile_graph(text, "book-close.yaml")


def venue(depth=MODEL, faults=None) -> tuple[SimExchange, ManualClock]:
    clock = ManualClock(T0)
    eng = SimExchange(clock, markets=[MarketSpec("BTCUSDT", "BTC", amount_step=0.001, price_tick=0.1,
                                                 min_amount=0.001, min_notional=100.0)],
                      accounts=[AccountSpec(ACCOUNT, "book-key", "book-secret", wallet=10_000_000.0)],
                      rate_limits=RateLimits(orders_per_second=100, weight_per_minute=1_000_000),
                      depth=depth, faults=faults)
    eng.set_mark("BTCUSDT", MARK)
    eng.open_position(ACCOUNT, "BTCUSDT", "long", 30.0, MARK)
    return eng, clock


def position(eng: SimExchange) -> float:
    return sum(abs(p.amount) for p in eng.positions(ACCOUNT))


def fills(eng: SimExchange) -> list[dict]:
    return [e for e in eng.events if e["event"] == "fill" and e["account"] == ACCOUNT]


def sim_adapter(eng: SimExchange) -> SimulatedAdapter:
    return SimulatedAdapter(eng, ACCOUNT, venue="simulated", labels={"book": "futures"}, timeout_s=2.0)


def in_process(eng: SimExchange, clock: ManualClock, store, tmp_path, adapter: Optional[SimulatedAdapter] = None):
    """A live runner of the book-sized policy over ``eng``'s account, in process."""
    return build_runner_and_desk(policy(), {f"simulated/{ACCOUNT}": adapter or sim_adapter(eng)}, store,
                                 lock_path=tmp_path / "lock.json", dry_run=False, clock=clock,
                                 confirm_gap_ms=TICK_MS).runner


async def drive(runner, eng, clock, store, ticks=12):
    await runner.start()
    reports = []
    for _ in range(ticks):
        clock.advance(TICK_MS)
        reports.append(await runner.tick())
        if position(eng) == 0:
            break
    return reports


def check_caps(eng: SimExchange, store) -> None:
    journal = [e for e in store.journal(limit=1000) if e.decision_id.startswith("book-close/")]
    first = [e for e in journal if e.decision_id.endswith("/L1/e1")]  # the entry's closes, not its re-plans
    assert {e.decision_id.rsplit("/", 1)[-1] for e in journal} - {"e1"}, "nothing was planned again"
    assert len(first) == 3, [(e.decision_id, e.amount) for e in journal]
    assert [e.amount for e in first] == [10.0, 10.0, 10.0]  # 30 BTC in 3 children, each within 10 BTC
    for e in journal:
        assert e.reduce_only and e.side == "sell"
    best = MARK * (1 - MODEL.half_spread_bps / 1e4)
    for f in fills(eng):
        assert f["side"] == "SELL"
        assert f["price"] >= MARK * (1 - 0.005) - 1e-6, f"a fill at {f['price']} is past the slippage cap"
        assert f["price"] >= best * (1 - 0.001) - 0.1, f"a fill at {f['price']} is past the impact cap"
    assert sum(f["qty"] for f in fills(eng)) == pytest.approx(30.0)  # exactly the position, never more


def test_a_large_position_is_split_by_the_book_and_filled_within_the_caps_in_process(tmp_path):
    eng, clock = venue()
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    runner = in_process(eng, clock, store, tmp_path)
    reports = asyncio.run(asyncio.wait_for(drive(runner, eng, clock, store), 60))
    assert position(eng) == 0, "the position was not closed"
    check_caps(eng, store)
    plan = next(p for r in reports for p in (r.evaluation.plans if r.evaluation else []) if p.orders)
    assert all("BOOK: 3 child(ren)" in o.reason for o in plan.orders), [o.reason for o in plan.orders]
    assert all(o.limit_price == pytest.approx(MARK * (1 - 9 / 1e4)) for o in plan.orders)
    assert len({o.not_before_ms for o in plan.orders}) == 3  # paced by the venue's order rate
    assert not any(s.startswith("BOOK_") for s in plan.skipped)


def test_without_a_book_the_close_falls_back_to_the_slippage_cap_and_says_so(tmp_path):
    """The venue serves an empty book (no depth model): the close goes out as without book keys,
    one limit IOC at the slippage cap from the mark, and the plan names BOOK_EMPTY."""
    eng, clock = venue(depth=None)
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    runner = in_process(eng, clock, store, tmp_path)
    reports = asyncio.run(asyncio.wait_for(drive(runner, eng, clock, store, ticks=3), 60))
    plan = next(p for r in reports for p in (r.evaluation.plans if r.evaluation else []) if p.orders)
    assert [(o.amount, o.limit_price) for o in plan.orders] == [(30.0, pytest.approx(MARK * 0.995))]
    assert any(s.startswith("BOOK_EMPTY") for s in plan.skipped), plan.skipped
    assert position(eng) == 0  # the slippage model of a venue without depth filled it


def test_a_failed_book_fetch_falls_back_and_names_the_reason(tmp_path):
    """Every depth request fails (HTTP 503): the close is still sent, at the slippage cap."""
    faults = FaultPlan().http_error("depth", 503)
    eng, clock = venue(faults=faults)
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    runner = in_process(eng, clock, store, tmp_path)
    reports = asyncio.run(asyncio.wait_for(drive(runner, eng, clock, store, ticks=1), 60))
    plan = next(p for r in reports for p in (r.evaluation.plans if r.evaluation else []) if p.orders)
    assert [o.limit_price for o in plan.orders] == [pytest.approx(MARK * 0.995)]
    assert any(s.startswith("BOOK_MISSING") for s in plan.skipped), plan.skipped
    assert "BOOK_UNAVAILABLE: simulated/sim-main BTC/USDT:USDT: EXCHANGE_UNAVAILABLE" in plan.skipped
    # the IOC at the cap walks the book as far as the cap: 50 bp holds 25 levels of 2 BTC
    assert 0 < sum(f["qty"] for f in fills(eng)) <= 30.0
    assert all(f["price"] >= MARK * 0.995 - 1e-6 for f in fills(eng))


def test_no_book_is_fetched_when_nothing_is_closed(tmp_path):
    eng, clock = venue()
    eng.open_position(ACCOUNT, "BTCUSDT", "short", 30.0, MARK)  # flat: nothing to close
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    calls = []
    adapter = sim_adapter(eng)
    real = adapter.fetch_order_book

    async def counted(symbol, depth):
        calls.append(symbol)
        return await real(symbol, depth)

    adapter.fetch_order_book = counted
    runner = in_process(eng, clock, store, tmp_path, adapter)
    asyncio.run(asyncio.wait_for(drive(runner, eng, clock, store, ticks=3), 60))
    assert position(eng) == 0 and calls == []


def test_a_large_position_is_split_by_the_book_through_ccxt_over_http(tmp_path):
    pytest.importorskip("ccxt")
    from adapters.ccxt_exchange import CcxtAdapter
    from adapters.simulated.http import SimServer, wall_clock
    from killswitch.policy.accounts_doc import Account

    eng, clock = venue()
    os.environ["KS_TEST_BOOK_KEY"], os.environ["KS_TEST_BOOK_SECRET"] = "book-key", "book-secret"
    acc = Account.model_validate({
        "name": ACCOUNT, "venue": "binanceusdm", "market_type": "futures", "labels": {"book": "futures"},
        "credentials": {"api_key": {"env": "KS_TEST_BOOK_KEY"}, "secret": {"env": "KS_TEST_BOOK_SECRET"}}})
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")

    def unthrottled(config):
        import ccxt.async_support as ccxt_async
        return ccxt_async.binanceusdm({**config, "enableRateLimit": False})

    async def go():
        async with SimServer(eng, auth_clock=wall_clock) as server:
            adapter = CcxtAdapter(acc, urls=server.base_url, timeout=5.0, max_retries=1, backoff_s=0.05,
                                  orders_per_second=1000, exchange_factory=unthrottled)
            runner, _, parts = build_runner_and_desk(policy(), {f"binanceusdm/{ACCOUNT}": adapter}, store,
                                  lock_path=tmp_path / "lock.json", dry_run=False, clock=clock,
                                  confirm_gap_ms=TICK_MS, snapshot_timeout_s=6.0)
            try:
                return await drive(runner, eng, clock, store), server.requests
            finally:
                await adapter.close()

    reports, requests = asyncio.run(asyncio.wait_for(go(), 120))
    assert position(eng) == 0, "the position was not closed"
    check_caps(eng, store)
    assert ("GET", "/fapi/v1/depth", 200) in requests
    plan = next(p for r in reports for p in (r.evaluation.plans if r.evaluation else []) if p.orders)
    assert all("BOOK: 3 child(ren)" in o.reason for o in plan.orders), [o.reason for o in plan.orders]


class Crash(BaseException):
    """The process dying here (a BaseException: no `except Exception` absorbs it)."""


class CrashOnFirstSave:
    """The store; its first ``save_engine_state`` dies: the intents are journaled, the stage
    entry is not saved."""

    def __init__(self, store):
        self._store, self.crashed = store, False

    def __getattr__(self, name):
        attr = getattr(self._store, name)
        if name != "save_engine_state":
            return attr

        def save(*a, **k):
            if not self.crashed:
                self.crashed = True
                raise Crash("crash after the journal, before the stage entry is saved")
            return attr(*a, **k)

        return save


def test_a_restart_that_splits_the_same_close_another_way_never_closes_more_than_the_position(tmp_path):
    """Crash between the journal and the saved stage entry; the book is thinner when the runner
    comes back, so the same decision comes out in 5 children instead of 3. The journal keeps the
    3 it held and cancels the 2 new ones unsent (REPLANNED_SPLIT): what is closed is the position."""
    eng, clock = venue()
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    crashing = CrashOnFirstSave(store)

    def runner_on(s):
        return in_process(eng, clock, s, tmp_path)

    with pytest.raises(Crash):
        asyncio.run(asyncio.wait_for(drive(runner_on(crashing), eng, clock, store, ticks=1), 60))
    entry = [e for e in store.journal(limit=100) if e.decision_id.endswith("/L1/e1")]
    assert [(e.amount, e.status) for e in entry] == [(10.0, None)] * 3 and position(eng) == 30.0
    eng.set_depth(DepthModel(levels=50, half_spread_bps=1.0, level_bps=2.0, amount=1.2, refill_ms=2_000), "BTCUSDT")
    asyncio.run(asyncio.wait_for(drive(runner_on(store), eng, clock, store, ticks=15), 60))
    entry = [e for e in store.journal(limit=1000) if e.decision_id.endswith("/L1/e1")]
    surplus = [e for e in entry if e.reason_code == "REPLANNED_SPLIT"]
    assert len(entry) == 5 and len(surplus) == 2 and all(e.status == "canceled" and not e.filled for e in surplus)
    assert sum(e.amount for e in entry if e not in surplus) == 30.0
    assert position(eng) == 0 and sum(f["qty"] for f in fills(eng)) == pytest.approx(30.0)


def test_a_tick_that_reads_books_reports_it_as_its_own_phase(tmp_path):
    eng, clock = venue()
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    runner = in_process(eng, clock, store, tmp_path)
    reports = asyncio.run(asyncio.wait_for(drive(runner, eng, clock, store), 60))
    closing = [r for r in reports if r.evaluation and any(p.orders for p in r.evaluation.plans)]
    assert closing and all(list(r.phases)[:3] == ["snapshots", "evaluate", "books"] for r in closing)
    assert all("books" not in r.phases for r in reports if r not in closing)
