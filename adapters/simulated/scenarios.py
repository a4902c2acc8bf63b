"""Named market scenarios for the simulated exchange: markets, price paths, accounts, book.

``build("flash-crash", clock)`` returns a ready :class:`SimExchange`: the markets BTCUSDT,
ETHUSDT and SOLUSDT with their paths, a one-way account ``sim-main`` (a long BTC/ETH, short
SOL book like :mod:`killswitch.preview.recordings`, plus spot balances) and a hedge-mode account
``sim-hedge`` (long and short legs, net short). Keys are fixed, well-known test values
(``sim-main-key`` / ``sim-main-secret``…): this is a simulator, they guard nothing.

Scenarios (elapsed time from the engine's start):

* ``calm`` — small deterministic noise around the entry prices;
* ``flash-crash`` — flat for a minute, then BTC −15 %, ETH −20 %, SOL −10 % in two minutes,
  and a partial rebound;
* ``slow-bleed`` — BTC −3 %/h, ETH −4 %/h compounding, SOL flat: the longs bleed;
* ``short-squeeze`` — SOL +35 % in three minutes after the first minute: the short bleeds;
* ``hedged-shorts-bleed`` — everything grinds up (BTC +4 %/h, ETH +6 %/h, SOL +8 %/h): the
  hedge account's short legs outweigh its longs and bleed;
* ``crash-while-blind`` — the README's futures-book story: BTC −15 %, ETH −20 % in two minutes
  after the first minute, no rebound, SOL flat: ``sim-main`` loses over 10 % of its equity while
  a runner started with the scenario is still blind (futures-book's ``dd_15m`` needs 12 minutes
  of history); when its window is whole, the crash is in it (``ksctl demo --scenario
  crash-while-blind``).

``wide_book(n, clock)`` is the calm scenario at the size of a real book instead: ``n`` markets
(``C0USDT``…) with one position each, longs and shorts, in the one-way account ``sim-main``
(for the benches that measure a tick at 1,000 positions and more).

What it owns: the scenario definitions. It must not keep state or read a clock (the caller
passes one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Optional

from .engine import AccountSpec, Clock, MarketSpec, RateLimits, SimExchange
from .paths import Flat, Noisy, PricePath, flash_crash, grind, short_squeeze, slow_bleed

MARKETS = (
    MarketSpec("BTCUSDT", "BTC", amount_step=0.001, price_tick=0.1, min_amount=0.001, min_notional=100.0,
               max_leverage=125, maint_margin_rate=0.004),
    MarketSpec("ETHUSDT", "ETH", amount_step=0.001, price_tick=0.01, min_amount=0.001, min_notional=20.0,
               max_leverage=100, maint_margin_rate=0.005),
    MarketSpec("SOLUSDT", "SOL", amount_step=1.0, price_tick=0.01, min_amount=1.0, min_notional=5.0,
               max_leverage=75, maint_margin_rate=0.0065),
)
ENTRY = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}

MAIN = AccountSpec("sim-main", "sim-main-key", "sim-main-secret", wallet=1_000_000.0, hedge_mode=False, leverage=10,
                   spot=(("USDT", 50_000.0), ("BTC", 1.5), ("ETH", 20.0), ("SOL", 300.0)))
HEDGE = AccountSpec("sim-hedge", "sim-hedge-key", "sim-hedge-secret", wallet=500_000.0, hedge_mode=True, leverage=10)

# account, symbol, side, contracts, position side (hedge mode)
BOOK_MAIN = (("sim-main", "BTCUSDT", "long", 5.0, None), ("sim-main", "ETHUSDT", "long", 100.0, None),
             ("sim-main", "SOLUSDT", "short", 1000.0, None))
BOOK_HEDGE = (("sim-hedge", "BTCUSDT", "long", 2.0, "LONG"), ("sim-hedge", "BTCUSDT", "short", 4.0, "SHORT"),
              ("sim-hedge", "ETHUSDT", "long", 30.0, "LONG"), ("sim-hedge", "ETHUSDT", "short", 80.0, "SHORT"),
              ("sim-hedge", "SOLUSDT", "short", 1500.0, "SHORT"))


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    paths: Callable[[int], dict[str, PricePath]]  # seed → symbol → path
    markets: tuple[MarketSpec, ...] = MARKETS
    accounts: tuple[AccountSpec, ...] = (MAIN, HEDGE)
    book: tuple = BOOK_MAIN + BOOK_HEDGE
    entry: dict = field(default_factory=lambda: dict(ENTRY))


def _noisy(seed: int, paths: dict[str, PricePath], bps: float = 5.0) -> dict[str, PricePath]:
    return {s: Noisy(p, bps, seed, s) for s, p in paths.items()}


def _moves(btc: Callable[[float], PricePath], eth: Callable[[float], PricePath], sol: Callable[[float], PricePath],
           bps: float = 5.0) -> Callable[[int], dict[str, PricePath]]:
    """Seed → each market's path: ``btc``, ``eth`` and ``sol`` of its entry price, with noise."""
    moves = {"BTCUSDT": btc, "ETHUSDT": eth, "SOLUSDT": sol}
    return lambda seed: _noisy(seed, {s: move(ENTRY[s]) for s, move in moves.items()}, bps)


SCENARIOS: dict[str, Scenario] = {
    "calm": Scenario("calm", "small noise around the entry prices", _moves(Flat, Flat, Flat, bps=10.0)),
    "flash-crash": Scenario("flash-crash", "BTC -15%, ETH -20%, SOL -10% in two minutes after one, partial rebound",
                            _moves(partial(flash_crash, drop=0.15), partial(flash_crash, drop=0.20),
                                   partial(flash_crash, drop=0.10))),
    "slow-bleed": Scenario("slow-bleed", "BTC -3%/h, ETH -4%/h compounding; the longs bleed",
                           _moves(partial(slow_bleed, rate_per_hour=-0.03), partial(slow_bleed, rate_per_hour=-0.04),
                                  Flat)),
    "short-squeeze": Scenario("short-squeeze", "SOL +35% in three minutes after one; the short bleeds",
                              _moves(partial(grind, rate_per_hour=0.01), partial(grind, rate_per_hour=0.01),
                                     partial(short_squeeze, rise=0.35))),
    "hedged-shorts-bleed": Scenario("hedged-shorts-bleed", "everything grinds up; the hedge account's net-short "
                                    "legs bleed",
                                    _moves(partial(grind, rate_per_hour=0.04), partial(grind, rate_per_hour=0.06),
                                           partial(grind, rate_per_hour=0.08))),
    "crash-while-blind": Scenario("crash-while-blind", "BTC -15%, ETH -20% in two minutes after one, no rebound: "
                                  "a crash while a runner just started is still blind",
                                  _moves(partial(flash_crash, drop=0.15, rebound=0.0),
                                         partial(flash_crash, drop=0.20, rebound=0.0), Flat)),
}


def build(name: str, clock: Clock, *, seed: int = 0, t0: Optional[int] = None, **engine_kwargs) -> SimExchange:
    """A :class:`SimExchange` set up for scenario ``name`` (see :data:`SCENARIOS`)."""
    try:
        sc = SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
    ex = SimExchange(clock, seed=seed, markets=sc.markets, accounts=sc.accounts, paths=sc.paths(seed), t0=t0,
                     **engine_kwargs)
    for account, symbol, side, contracts, ps in sc.book:
        ex.open_position(account, symbol, side, contracts, sc.entry[symbol], ps)
    return ex


def wide_book(n: int, clock: Clock, *, seed: int = 0, t0: Optional[int] = None, resting: int = 0,
              **engine_kwargs) -> SimExchange:
    """The calm scenario with ``n`` positions: markets ``C0USDT``… ``C{n-1}USDT`` priced 10 to 109
    with small noise, one position each (every third short) in the one-way account ``sim-main``
    (keys as :data:`MAIN`, no spot balances). ``resting``: that many entry orders resting too, the
    j-th on market j mod n, 1 contract opening its position further 3 % and more away from
    the price (the noise never reaches them)."""
    if n < 1:
        raise ValueError("a wide book needs at least one position")
    markets = [MarketSpec(f"C{i}USDT", f"C{i}", amount_step=0.001, price_tick=0.001, min_amount=0.001,
                          min_notional=5.0) for i in range(n)]
    entry = {m.symbol: 10.0 + i % 100 for i, m in enumerate(markets)}
    account = AccountSpec(MAIN.name, MAIN.api_key, MAIN.secret, wallet=10_000.0 * n, leverage=10)
    paths = _noisy(seed, {s: Flat(p) for s, p in entry.items()}, bps=10.0)
    ex = SimExchange(clock, seed=seed, markets=markets, accounts=[account], paths=paths, t0=t0, **engine_kwargs)
    for i, m in enumerate(markets):
        ex.open_position(account.name, m.symbol, "short" if i % 3 == 2 else "long", 100.0, entry[m.symbol])
    for j in range(resting):
        i, away = j % n, 0.03 + 0.001 * (j // n % 20)
        m = markets[i]
        short = i % 3 == 2
        ex.seed_order(account.name, m.symbol, "SELL" if short else "BUY", 1.0,
                      round(entry[m.symbol] * (1 + away if short else 1 - away), 3))
    return ex


def firm_book(accounts: int, positions: int, clock: Clock, *, seed: int = 0, t0: Optional[int] = None,
              **engine_kwargs) -> SimExchange:
    """A firm's shape: ``accounts`` one-way accounts ``sim-0``… (keys as :func:`many_accounts`'),
    each holding ``positions`` positions on the markets ``C0USDT``… of :func:`wide_book`, priced
    alike; each account's book its own (its sizes 100 plus its index, its shorts every third
    market from its own offset), so no two read alike. Rate limits lifted as :func:`many_accounts`'."""
    if accounts < 1 or positions < 1:
        raise ValueError("a firm book needs at least one account and one position")
    engine_kwargs.setdefault("rate_limits", RateLimits(orders_per_second=100_000, weight_per_minute=10**9))
    markets = [MarketSpec(f"C{i}USDT", f"C{i}", amount_step=0.001, price_tick=0.001, min_amount=0.001,
                          min_notional=5.0) for i in range(positions)]
    entry = {m.symbol: 10.0 + i % 100 for i, m in enumerate(markets)}
    specs = [AccountSpec(f"sim-{a}", f"sim-{a}-key", f"sim-{a}-secret", wallet=10_000.0 * positions, leverage=10)
             for a in range(accounts)]
    paths = _noisy(seed, {s: Flat(p) for s, p in entry.items()}, bps=10.0)
    ex = SimExchange(clock, seed=seed, markets=markets, accounts=specs, paths=paths, t0=t0, **engine_kwargs)
    for a, spec in enumerate(specs):
        for i, m in enumerate(markets):
            ex.open_position(spec.name, m.symbol, "short" if (i + a) % 3 == 2 else "long", 100.0 + a, entry[m.symbol])
    return ex


def many_accounts(n: int, clock: Clock, *, seed: int = 0, t0: Optional[int] = None, **engine_kwargs) -> SimExchange:
    """The calm scenario's markets with ``n`` one-way accounts ``sim-0``… ``sim-{n-1}`` (keys
    ``sim-<i>-key`` / ``sim-<i>-secret``, a 1M wallet), each long 5 BTC and 100 ETH at the entry
    prices: a firm of several desks on one simulator. Its per-account rate limits are lifted
    (unless ``rate_limits`` is given): a bench reads one simulated account through many of its
    accounts, whose weight together is no real account's."""
    if n < 1:
        raise ValueError("many_accounts needs at least one account")
    engine_kwargs.setdefault("rate_limits", RateLimits(orders_per_second=100_000, weight_per_minute=10**9))
    sc = SCENARIOS["calm"]
    accounts = [AccountSpec(f"sim-{i}", f"sim-{i}-key", f"sim-{i}-secret", wallet=1_000_000.0, leverage=10)
                for i in range(n)]
    ex = SimExchange(clock, seed=seed, markets=sc.markets, accounts=accounts, paths=sc.paths(seed), t0=t0,
                     **engine_kwargs)
    for a in accounts:
        ex.open_position(a.name, "BTCUSDT", "long", 5.0, ENTRY["BTCUSDT"])
        ex.open_position(a.name, "ETHUSDT", "long", 100.0, ENTRY["ETHUSDT"])
    return ex


__all__ = ["Scenario", "SCENARIOS", "build", "wide_book", "firm_book", "many_accounts", "MARKETS", "MAIN", "HEDGE",
           "ENTRY"]
