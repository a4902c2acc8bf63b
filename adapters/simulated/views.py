"""The simulated exchange's views: what an account's open legs are worth at a time.

:class:`Book` is one account's open legs in the order the views list them (by symbol, then
position side), with their market's numbers and how each market's mark is priced. The engine
builds it again whenever the account or the markets change (a fill, the wallet, the leverage,
a market, a price path) and prices it at a time with :meth:`Book.priced`: one mark per market,
then per leg the notional, unrealized PnL, initial and maintenance margin and the liquidation
price estimate, which shares the wallet among the legs by initial margin (so one mark that
moves a tick moves every leg's liquidation price). When every mark and every leg's time are
those of the book's last pricing, the answer is that pricing itself, the same view objects: a
book whose marks are held costs nothing per position, and a face can tell by identity that
nothing changed.

Every number is computed with the same operations, in the same order, as a venue's position
endpoint would be answered one leg at a time: a view says the same whichever way it is built.

What it must not do: change the engine's state, read a clock, know about orders, or import the
engine (the engine hands it plain numbers and its price paths).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

from .paths import Flat, PricePath


class PositionView(NamedTuple):
    """One open leg at a time (a tuple: thousands are built per snapshot, and none changes)."""

    account: str
    symbol: str
    position_side: str  # BOTH | LONG | SHORT
    amount: float  # signed: > 0 long, < 0 short
    entry_price: float
    mark_price: float
    unrealized_pnl: float
    notional: float  # signed, at the mark
    leverage: int
    initial_margin: float
    maint_margin: float
    liquidation_price: float  # 0: none
    update_time: int

    @property
    def side(self) -> str:
        return "long" if self.amount > 0 else "short"


@dataclass(frozen=True)
class AccountView:
    account: str
    wallet: float
    unrealized_pnl: float
    equity: float  # margin balance: wallet + unrealized PnL
    initial_margin: float  # positions
    open_order_margin: float
    maint_margin: float
    available: float
    hedge_mode: bool
    spot: dict
    update_time: int


class OpenLeg(NamedTuple):
    """A leg with a non-zero amount, as the engine holds it, with its market's numbers."""

    symbol: str
    position_side: str
    amount: float  # signed
    entry: float
    update_time: int
    contract_size: float
    leverage: int  # the account's for the symbol, capped by the market
    maint_margin_rate: float


class Pricing:
    """How one market's mark is priced: its path of the time since the engine's start, rounded
    to the market's tick (``decimals`` of it), never below one tick. A path is pure, so the
    last price on the grid is kept: a mark that moves less than a tick is not rounded again."""

    __slots__ = ("path", "tick", "decimals", "t0", "held", "_ticks", "_mark")

    def __init__(self, path: PricePath, tick: float, decimals: int, t0: int):
        self.path = path
        self.tick = tick
        self.decimals = decimals
        self.t0 = t0  # the engine's start
        self._ticks: Optional[int] = None
        self._mark = 0.0
        # a flat path has one mark at every time: priced once, here
        self.held: Optional[float] = self(t0) if type(path) is Flat else None

    def __call__(self, at: int) -> float:
        ticks = round(float(self.path(at - self.t0)) / self.tick)
        if ticks != self._ticks:
            self._ticks, self._mark = ticks, max(self.tick, round(ticks * self.tick, self.decimals))
        return self._mark


@dataclass(frozen=True)
class Priced:
    """A book priced at one time: the views and the account's sums over them."""

    at: int
    marks: dict[str, float]  # by symbol
    views: list[PositionView]
    unrealized_pnl: float
    initial_margin: float
    maint_margin: float


class Book:
    """One account's open legs, built once per change of the account or the markets, priced at
    one time after another."""

    def __init__(self, key: tuple[int, int], account: str, wallet: float, legs: list[OpenLeg],
                 pricing: dict[str, Pricing]):
        self.key = key  # (account revision, engine revision) it was built at
        self.account = account
        self.wallet = wallet
        self.legs = legs  # in the order of the views
        # a held mark is priced once (by its Pricing); the others at every new time
        self._held = {s: p.held for s, p in pricing.items() if p.held is not None}
        self._moving = [(s, p) for s, p in pricing.items() if p.held is None]
        self.latest = max((g.update_time for g in legs), default=0)  # the newest leg's time
        self._last: Optional[Priced] = None

    def marks(self, at: int) -> dict[str, float]:
        """The mark of every market with a leg, at ``at``."""
        out = self._held.copy()
        for symbol, pricing in self._moving:
            out[symbol] = pricing(at)
        return out

    def priced(self, at: int) -> Priced:
        last = self._last
        if last is not None and last.at == at:
            return last
        marks = self.marks(at)
        # a view's time is min(the leg's time, at): the same at both times when both are at or
        # after every leg's time
        if last is not None and last.marks == marks and at >= self.latest and last.at >= self.latest:
            self._last = Priced(at, marks, last.views, last.unrealized_pnl, last.initial_margin, last.maint_margin)
            return self._last
        self._last = self._price(at, marks)
        return self._last

    def _price(self, at: int, marks: dict[str, float]) -> Priced:
        # two passes: a leg's share of the wallet needs every leg's initial margin first. The
        # legs are unpacked rather than named: this runs once per leg per new mark.
        legs = self.legs
        notionals = []
        margins = []
        total_im = 0.0
        for symbol, _, amount, _, _, cs, lev, _ in legs:
            notional = amount * marks[symbol] * cs
            im = abs(notional) / lev
            total_im += im
            notionals.append(notional)
            margins.append(im)
        account, wallet = self.account, self.wallet
        views = []
        pnls = []
        maint = []
        for (symbol, ps, amount, entry, update_time, cs, lev, mmr), notional, im in zip(legs, notionals, margins):
            mark = marks[symbol]
            q = abs(amount) * cs
            alloc = wallet * (im / total_im) if total_im > 0 else wallet
            if amount > 0:
                liq = (entry * q - alloc) / (q * (1 - mmr))
            else:
                liq = (entry * q + alloc) / (q * (1 + mmr))
            upnl = amount * (mark - entry) * cs
            mm = abs(notional) * mmr
            views.append(PositionView(account, symbol, ps, amount, entry, mark, upnl, notional, lev, im, mm,
                                      max(0.0, liq), min(update_time, at)))
            pnls.append(upnl)
            maint.append(mm)
        return Priced(at, marks, views, sum(pnls), sum(margins), sum(maint))


__all__ = ["Book", "OpenLeg", "Pricing", "Priced", "PositionView", "AccountView"]
