"""The simulated exchange's accounts as data: what an account is set up with, the state the
engine keeps for it, the limits it is held to, and the clock a test moves by hand.

What it owns
    :class:`AccountSpec` (keys, wallet, position mode, leverage, spot balances),
    :class:`RateLimits` (orders a second, request weight a minute, the ban that follows repeated
    429s), :class:`AccountState` and :class:`Leg` (the engine's mutable record of an account:
    legs, orders, countdowns, the conditional book's orders, rate counters, fees and PnL), and
    :class:`ManualClock`.

What it must not do
    hold a rule of the venue (the engine's layers apply them), read the wall clock, or do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

Clock = Callable[[], int]


class ManualClock:
    """A clock that moves only when told: ``clock()`` → UTC ms."""

    def __init__(self, start_ms: int):
        self.now = int(start_ms)

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError("a clock does not go back")
        self.now += int(ms)
        return self.now

    def set(self, ms: int) -> int:
        self.now = int(ms)
        return self.now


@dataclass(frozen=True)
class AccountSpec:
    name: str
    api_key: str
    secret: str
    wallet: float = 100_000.0  # USDT in the futures wallet
    hedge_mode: bool = False
    leverage: int = 10  # default leverage of every symbol
    spot: tuple[tuple[str, float], ...] = ()  # spot balances: (asset, amount)
    # the third credential of venues that sign with one (OKX's OK-ACCESS-PASSPHRASE); the faces
    # that take no passphrase never read it
    passphrase: str = "sim-passphrase"


@dataclass(frozen=True)
class RateLimits:
    """Per-account limits. ``ban_after`` 429s within ``strike_window_ms`` start a ban of ``ban_ms``
    (HTTP 418); the request that reaches the count is the first 418."""

    orders_per_second: int = 10
    weight_per_minute: int = 2400
    ban_after: int = 3
    ban_ms: int = 120_000
    strike_window_ms: int = 60_000


# --- state ---------------------------------------------------------------------------------------------


@dataclass
class Leg:
    amount: float = 0.0  # signed
    entry: float = 0.0
    update_time: int = 0
    realized: float = 0.0  # accumulated on this leg, before fees (a stream's ``cr``)


@dataclass
class AccountState:
    spec: AccountSpec
    wallet: float
    hedge_mode: bool
    spot: dict = field(default_factory=dict)
    legs: dict = field(default_factory=dict)  # (symbol, position side) → Leg
    leverage: dict = field(default_factory=dict)
    orders: dict = field(default_factory=dict)  # order id → SimOrder (all, ever)
    live: dict = field(default_factory=dict)  # order id → SimOrder: open after placement (pruned lazily)
    # order id → the spot desk's resting orders (limits, stops waiting for their trigger; pruned lazily)
    spot_live: dict = field(default_factory=dict)
    by_client: dict = field(default_factory=dict)  # client id → order id (ever used)
    countdowns: dict = field(default_factory=dict)  # symbol → (deadline ms, countdown ms)
    hidden: set = field(default_factory=set)  # order ids hidden from the next query
    # a fault: a cancel of a whole symbol takes at most this many of its orders and answers
    # success (None: every one; 0: an empty cancel while orders rest)
    cancel_cap: Optional[int] = None
    cancel_refused: set = field(default_factory=set)  # a fault: algo ids whose cancel by id is refused
    algos: dict = field(default_factory=dict)  # algo id → SimAlgoOrder (all, ever): the conditional book's
    algo_live: dict = field(default_factory=dict)  # algo id → SimAlgoOrder: open after placement (pruned lazily)
    algo_by_client: dict = field(default_factory=dict)  # client algo id → algo id (ever used)
    weight_minute: int = -1
    weight_used: int = 0
    order_second: int = -1
    order_count: int = 0
    strikes: list = field(default_factory=list)
    banned_until: int = 0
    fees_paid: float = 0.0
    realized_pnl: float = 0.0
    rev: int = 0  # bumped whenever legs, wallet or leverage change: what a position view depends on

    def shown(self, order_id: int) -> bool:
        """Whether a query shows the order: one hidden from the next query (a fault) is not, once."""
        if order_id in self.hidden:
            self.hidden.discard(order_id)
            return False
        return True


def still_open(live: dict) -> list:
    """The orders of ``live`` (id → order, :attr:`AccountState.live` or ``algo_live``) still open,
    by id; the ended ones pruned from it."""
    for i in [i for i, o in live.items() if not o.is_open]:
        del live[i]
    return [live[i] for i in sorted(live)]


__all__ = ["AccountSpec", "AccountState", "Clock", "Leg", "ManualClock", "RateLimits", "still_open"]
