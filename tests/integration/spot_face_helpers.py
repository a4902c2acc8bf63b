"""What the spot faces' tests share: the real ccxt client and the production CcxtAdapter of a spot
account against a simulated exchange (a manual clock at T0, flat marks, the scenario's spot
balances), a close as the planner writes it, and the check that a snapshot values the book at
the face's tickers and asks what the dialect declares, once each. Bounded in time."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

import pytest

from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.simulated.http import SimServer, wall_clock
from killswitch.orders import OrderIntent

from .sim_helpers import engine, run

BTC = "BTC/USDT"
CID = "ks" + "0123456789abcdef0123456789abcd"


def serve_spot(sim_account: Callable[..., Any], test: Callable, *, account: str = "sim-main",
               timeout: float = 30.0) -> Any:
    """``await test(server, adapter, engine)`` with ``sim_account(server, account)``'s adapter."""
    ex_engine, clock = engine()

    async def go():
        srv = SimServer(ex_engine, auth_clock=wall_clock, hang_s=6.0)
        await srv.start()
        acc = sim_account(srv, account)
        ad = CcxtAdapter(acc, urls=acc.api_url, timeout=3.0, max_retries=1, backoff_s=0.05)
        try:
            return await test(srv, ad, ex_engine)
        finally:
            await ad.close()
            await srv.stop()

    return run(go(), timeout)


def spot_sell(venue: str, amount: float, cid: str = CID) -> OrderIntent:
    """A close of ``amount`` BTC back to the quote, as the planner writes one."""
    return OrderIntent(decision_id="d1", client_order_id=cid, venue=venue, account="sim-main", symbol=BTC,
                       side="sell", position_side=None, amount=amount, reduce_only=False, limit_price=None,
                       notional=amount * 60_000.0, chunk=1, chunks=1, not_before_ms=0, action="close_all",
                       reason="test")


async def valued_at_the_tickers(srv: SimServer, ad: CcxtAdapter, venue: str, weight: float) -> None:
    """The snapshot holds the scenario's balances at the face's prices, no position and no order;
    a second asks what the dialect declares a spot snapshot reads, once each, and counts
    ``weight`` on the key's meter."""
    s = await ad.snapshot()
    assert s.fetch.ok, s.fetch.error
    held = {b.asset: (b.total, b.price) for b in s.balances}
    assert held == {"USDT": (50_000.0, 1.0), "BTC": (1.5, 60_000.0), "ETH": (20.0, 3_000.0), "SOL": (300.0, 140.0)}
    assert s.equity == pytest.approx(50_000 + 1.5 * 60_000 + 20 * 3_000 + 300 * 140)
    assert s.positions == [] and s.orders == []
    before, counted = len(srv.requests), ad.weight_meter.used()
    assert (await ad.snapshot()).fetch.ok
    cost = dialect_for(venue).snapshot_cost("spot")
    declared = Counter(" ".join(r.endpoint.split()[:2]) for r in cost.reads)
    assert Counter(f"{m} {p}" for m, p, _ in srv.requests[before:]) == declared
    assert ad.weight_meter.used() - counted == pytest.approx(cost.full) == weight
