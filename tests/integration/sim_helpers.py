"""Helpers for the simulated-exchange integration tests: a fixed start time, a bounded way to
run a coroutine from a synchronous test, engines on a manual clock, order intents, the symbols, a
refusal's code and a position's size, and the venues whose faces stream (from the registry)."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from adapters.simulated.engine import ManualClock, SimExchange
from adapters.simulated.scenarios import build
from killswitch.engine.planner import OrderIntent

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z, as killswitch.preview.recordings
TEST_TIMEOUT_S = 20.0


def run(coro, timeout: float = TEST_TIMEOUT_S):
    """Run ``coro`` on a fresh event loop, failing the test if it takes longer than ``timeout``."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def engine(scenario: str = "calm", *, seed: int = 0, flat: bool = True, **kw) -> tuple[SimExchange, ManualClock]:
    """A scenario engine on a manual clock at T0; ``flat``: marks held at the entry prices."""
    clock = ManualClock(T0)
    ex = build(scenario, clock, seed=seed, **kw)
    if flat:
        for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
            ex.set_mark(symbol, price)
    return ex, clock


def intent(symbol: str, side: str, amount: float, *, cid: str = "ks-test-1", reduce_only: bool = True,
           position_side: Optional[str] = None, limit_price: Optional[float] = None, venue: str = "simulated",
           account: str = "sim-main") -> OrderIntent:
    return OrderIntent(decision_id="d-1", client_order_id=cid, venue=venue, account=account, symbol=symbol, side=side,
                       position_side=position_side, amount=amount, reduce_only=reduce_only, limit_price=limit_price,
                       notional=0.0, chunk=1, chunks=1, not_before_ms=T0, action="close_all", reason="TEST")


def hyperliquid_account(server, monkeypatch, account: str = "sim-main", env: str = "KS_SIM_HL_KEY"):
    """A killswitch Account on venue hyperliquid for the engine account ``account`` as the
    simulated exchange's Hyperliquid face knows it: its derived wallet address, its derived test
    key (through ``env``, set here) and ``api_url`` the server, so that no request leaves it."""
    from adapters.venues.hyperliquid.face import account_address, account_key
    from killswitch.policy.accounts_doc import Account

    monkeypatch.setenv(env, account_key(account))
    return Account.model_validate({
        "name": account, "venue": "hyperliquid", "market_type": "futures", "quote_currency": "USDC",
        "strategies": ["alpha"], "api_url": server.base_url,
        "credentials": {"wallet_address": account_address(account), "private_key": {"env": env}}})


# the engine's symbols, as the venue's REST names them and as ccxt does
BTC, ETH, SOL = "BTCUSDT", "ETHUSDT", "SOLUSDT"
BTC_U, ETH_U, SOL_U = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


def code_of(fn, *a, **kw) -> int:
    """The venue's error code of what ``fn(*a, **kw)`` refused."""
    import pytest

    from adapters.simulated.engine import SimError

    with pytest.raises(SimError) as e:
        fn(*a, **kw)
    return e.value.code


def leg(ex: SimExchange, account: str, symbol: str, ps: str = "BOTH") -> float:
    """The size of ``account``'s position (or hedge-mode leg ``ps``) in ``symbol``; 0 when none."""
    for p in ex.positions(account):
        if p.symbol == symbol and p.position_side == ps:
            return p.amount
    return 0.0


def quote_of(venue: str) -> str:
    """The quote currency of ``venue``'s simulated account (its folder's contract ``FACE_TERMS``;
    USDT unless it says another)."""
    from importlib import import_module

    from adapters.registry import sim_venues

    return str(import_module(f"{sim_venues()[venue].__name__}.contract").FACE_TERMS.get("quote", "USDT"))


def streamed_venues(quotes: tuple[str, ...] = ("USDT",)) -> dict[str, Any]:
    """The ccxt id → face module of every venue whose dialect streams (``adapters.registry``) a
    futures account over the engine's markets quoted in one of ``quotes`` (USDT by default: Kraken
    Futures' are USD's, Hyperliquid's USDC's: tests/integration/stream/test_krakenfutures.py,
    stream/test_hyperliquid.py). A face whose account is a spot one (Kraken spot's) is left out:
    the scenarios these venues run are a futures book's (positions closed across a threshold,
    the legs a close is sized on); its stream is proven on its own face
    (tests/integration/stream/test_kraken_spot.py)."""
    from importlib import import_module

    from adapters.ccxt_exchange import dialect_for
    from adapters.registry import sim_venues
    from adapters.simulated.venues import market_type

    found = {v: pkg for v, pkg in sim_venues().items()
             if market_type(v) == "futures" and dialect_for(v).streams_for("futures")}
    return {v: import_module(f"{pkg.__name__}.{pkg.FACE}") for v, pkg in found.items()
            if import_module(f"{pkg.__name__}.contract").FACE_TERMS.get("quote", "USDT") in quotes}
