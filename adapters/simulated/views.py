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
nothing changed. A pricing is kept as columns (:class:`LegNumbers`); the view tuples are made
of them only when asked for, so a face that reads the columns builds no object per leg.

Every number is computed with the same operations, in the same order, as a venue's position
endpoint would be answered one leg at a time: a view says the same whichever way it is built.
The book computes them column by column (a list per field, each step over every leg at once)
because that is about three times cheaper in Python than leg by leg; the one exception to "the
same operations" is a mark's rounding to its tick's decimals, done by integer arithmetic that
gives the same float (:func:`tick_units` says why). ``tests/unit/adapters/simulated/test_snapshot.py``
holds random books to the formula written out leg by leg, type for type.

What it must not do: change the engine's state, read a clock, know about orders, or import the
engine (the engine hands it plain numbers and its price paths).
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from functools import reduce
from itertools import compress, repeat
from operator import add, mul, ne, truediv
from typing import Any, NamedTuple, Optional

from .paths import Flat, PricePath, Prices


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


# a price of N units of 10**-d: |N| below this, t ticks of a tick that is m units are N / 10**d
_EXACT = 2 ** 50


def tick_units(tick: float, decimals: int) -> Optional[tuple[int, float]]:
    """``(m, 10.0 ** decimals)`` when ``tick`` is the float nearest ``m / 10 ** decimals``, so
    that ``round(t * tick, decimals)`` is ``t * m / 10.0 ** decimals`` for ``|t * m| < 2 ** 50``;
    None for an integer tick (its marks are integers) or a scale that is not an exact float.

    Why they are equal: ``tick`` and the product ``t * tick`` are each within half an ulp, so
    ``t * tick`` is within about ``|t * m| * 2 ** -52`` units (of ``10 ** -decimals``) of ``t *
    m`` units: under a quarter of a unit while ``|t * m| < 2 ** 50``. ``round`` rounds the
    float's exact value to ``decimals`` places (``t * m`` units, no tie that close) and reads
    that decimal back as the nearest float, which is what dividing the two exact floats ``t *
    m`` and ``10.0 ** decimals`` gives."""
    if type(tick) is not float or not 0 <= decimals <= 22:
        return None
    scale = 10.0 ** decimals
    m = round(tick * scale)
    return (m, scale) if m and m / scale == tick else None


def on_the_grid(ticks: int, tick: float, decimals: int, units: Optional[tuple[int, float]]) -> float:
    """The mark of ``ticks`` ticks, never below one tick: ``max(tick, round(ticks * tick,
    decimals))``, the same number (``units`` from :func:`tick_units`)."""
    if units is not None:
        n = ticks * units[0]
        if -_EXACT < n < _EXACT:
            mark = n / units[1]
            return mark if mark > tick else tick
    mark = round(ticks * tick, decimals)
    return mark if mark > tick else tick  # max(tick, mark)


def money(x: float) -> float:
    """The venue's amount of ``x`` at the 8 decimals it writes money in: the float nearest ``k /
    10 ** 8``, ``k`` the integer nearest the float product ``x * 1e8`` (a tie to the even one).
    Both faces of the venue write this number: the in-process adapter's columns and the HTTP
    face's ``"%.8f"`` (which writes the digits of ``k`` while ``|x| < 2 ** 26``).

    ``round(x, 8)`` rounds the float's exact value instead and costs ~0.25 µs a number (it goes
    through a decimal string); this costs a third of that, and a ticking book of 10,000 legs
    rounds 20,000 amounts a snapshot. The two differ only where ``x * 10 ** 8`` lies within an
    ulp of a half, and then by one unit of the 8th decimal; ``-0.0`` comes out as ``0.0``."""
    return round(x * 1e8) / 1e8


def moneys(xs: list[float]) -> list[float]:
    """``[money(x) for x in xs]``."""
    return [round(x * 1e8) / 1e8 for x in xs]


_tuple_new = tuple.__new__
_serials = itertools.count(1)


class LegNumbers:
    """Every open leg's numbers at one pricing, as columns in the book's order of legs, with the
    account's sums over them; the legs' :class:`PositionView` tuples are made of them the first
    time someone asks (an in-process face reads the columns and never needs them). Shared by
    every pricing that shows the same numbers, and never changed: callers must not change a
    column."""

    __slots__ = ("serial", "prior", "moved", "account", "symbols", "position_sides", "amounts", "entries",
                 "leverage", "contract_sizes", "marks", "notional", "size", "upnl", "im", "mm", "liq", "times",
                 "unrealized_pnl", "initial_margin", "maint_margin", "_views")

    def __init__(self, book: "Book", marks: list[float], notional: list[float], size: list[float],
                 upnl: list[float], im: list[float], mm: list[float], liq: list[float], times: list[int],
                 prior: Optional["LegNumbers"] = None, moved: Optional[list[int]] = None):
        self.serial = next(_serials)
        # with ``prior`` (the same book's numbers before): the legs whose mark moved since, the
        # only ones whose numbers other than the liquidation price and time may differ from it
        self.prior = None if prior is None or moved is None else prior.serial
        self.moved = None if self.prior is None else moved
        self.account = book.account
        # the book's own columns (the same lists while the book stands)
        self.symbols: list[str] = book._symbol
        self.position_sides: list[str] = book._ps
        self.amounts: list[float] = book._amount  # signed
        self.entries: list[float] = book._entry
        self.leverage: list[int] = book._lev
        self.contract_sizes: list[float] = book._cs
        # this pricing's, one per leg: its market's mark, the signed notional and its size,
        # unrealized PnL, initial and maintenance margin, liquidation price (0: none), time
        self.marks, self.notional, self.size, self.upnl = marks, notional, size, upnl
        self.im, self.mm, self.liq, self.times = im, mm, liq, times
        self.unrealized_pnl, self.initial_margin, self.maint_margin = sum(upnl), sum(im), sum(mm)
        self._views: Optional[list[PositionView]] = None

    def __len__(self) -> int:
        return len(self.amounts)

    @property
    def views(self) -> list[PositionView]:
        if self._views is None:
            self._views = list(map(_tuple_new, repeat(PositionView), zip(
                repeat(self.account), self.symbols, self.position_sides, self.amounts, self.entries, self.marks,
                self.upnl, self.notional, self.leverage, self.im, self.mm, self.liq, self.times)))
        return self._views


class Priced(NamedTuple):
    """A book priced at one time: its marks and the legs' numbers (shared with the pricing
    before when nothing they show moved)."""

    at: int
    ticks: list[int]  # each moving mark in ticks, in the book's order of moving markets
    marks: list[float]  # every market's mark, in the book's order of markets
    numbers: LegNumbers


class Book:
    """One account's open legs, built once per change of the account or the markets, priced at
    one time after another.

    It keeps what does not move between two pricings as columns, one entry per leg: the leg's
    own fields and the parts of its liquidation price that depend on the leg alone (``entry *
    q`` and ``q * (1 ∓ mmr)``, ``q`` its size). A pricing computes each moving market's mark
    once (only the marks whose tick moved are rounded again), the account's total initial
    margin once, and then every leg's numbers in one pass over the columns (the same numbers as
    one leg at a time: the module docstring)."""

    def __init__(self, key: tuple[int, ...], account: str, wallet: float, legs: list[OpenLeg],
                 pricing: dict[str, Pricing]):
        self.key = key  # (account revision, engine revision, price paths' revision) it was built at
        self.account = account
        self.wallet = wallet
        self.legs = legs  # in the order of the views
        self.latest = max((g.update_time for g in legs), default=0)  # the newest leg's time
        # the markets in the order of their first leg
        symbols = list(dict.fromkeys(g.symbol for g in legs))
        self.symbols = symbols
        self._price_markets(pricing)
        place = {s: i for i, s in enumerate(symbols)}
        self._market_of = [place[g.symbol] for g in legs]
        self._one_each = len(legs) == len(symbols)  # leg i is on market i
        # the legs' columns and what each leg's liquidation price needs of the leg alone:
        # (entry * q - alloc) / (q * (1 - mmr)) long, (entry * q + alloc) / (q * (1 + mmr))
        # short, written (eq + sign * alloc) / den: x - y and x + -1.0 * y are the same float
        self._symbol, self._ps, self._amount, self._entry, self._time, self._cs, self._lev, self._mmr = (
            [list(c) for c in zip(*legs)] if legs else [[] for _ in OpenLeg._fields])
        # a float times 1.0 is that float: a contract size of 1.0 drops out of a float amount's
        # notional and PnL (an integer product would become a float: it stays)
        self._unit = all(type(cs) is float and cs == 1.0 for cs in self._cs) and all(
            type(a) is float for a in self._amount)
        qs = [abs(a) * cs for a, cs in zip(self._amount, self._cs)]
        self._eq = [e * q for e, q in zip(self._entry, qs)]
        self._den = [q * (1 - mmr) if a > 0 else q * (1 + mmr) for a, q, mmr in zip(self._amount, qs, self._mmr)]
        self._sign = [-1.0 if a > 0 else 1.0 for a in self._amount]
        self._last: Optional[Priced] = None
        self._numbers: Optional[LegNumbers] = None  # the last pricing's, kept when repriced

    def _price_markets(self, pricing: dict[str, Pricing]) -> None:
        """How each market's mark is priced: a held mark once (by its Pricing), the others at
        every new time, rounded to their ticks."""
        symbols = self.symbols
        held = [pricing[s].held for s in symbols]  # None where the mark moves
        self._held = [0.0 if mark is None else mark for mark in held]  # the moving ones filled in
        moving = [pricing[s] for s in symbols if pricing[s].held is None]
        self._slots = [i for i, mark in enumerate(held) if mark is None]
        self._all_moving = len(self._slots) == len(symbols)
        self._ticks = [p.tick for p in moving]
        self._decimals = [p.decimals for p in moving]
        self._units = [tick_units(p.tick, p.decimals) for p in moving]
        # every moving tick a decimal fraction: m units of 10 ** -d each, for all marks at once
        exact = [u for u in self._units if u is not None]
        self._exact: Optional[tuple[list[int], list[float], int]] = (
            ([u[0] for u in exact], [u[1] for u in exact], max(u[0] for u in exact))
            if exact and len(exact) == len(moving) else None)
        self._t0 = [p.t0 for p in moving]
        # every path at one time since the engine's start (one engine's markets share it)
        self._paths = [p.path for p in moving]
        self._prices = Prices(self._paths) if len(set(self._t0)) <= 1 else None

    def repriced(self, key: tuple[int, ...], pricing: dict[str, Pricing]) -> "Book":
        """This book with its markets priced by ``pricing`` (a market's price path changed, as a
        mark held at a new price): the same legs and their columns, only how the marks are
        priced built again; the next pricing computes anew only the legs whose mark moved."""
        book = copy.copy(self)
        book.key = key
        book._price_markets(pricing)
        book._last = None
        return book

    def marks(self, at: int) -> dict[str, float]:
        return dict(zip(self.symbols, self._marks(at, self._last)[1]))

    def _marks(self, at: int, last: Optional[Priced]) -> tuple[list[int], list[float]]:
        """Each moving market's mark in ticks, and every market's mark, at ``at``: a moving
        mark is its path at the time since the engine's start, rounded to the market's tick
        and never below one (as :class:`Pricing` prices it); only a mark whose tick moved
        since ``last`` is rounded to the tick's decimals again."""
        tick_c = self._ticks
        if self._prices is not None:
            prices = self._prices(at - self._t0[0] if tick_c else 0)
        else:
            prices = [float(path(at - t0)) for path, t0 in zip(self._paths, self._t0)]
        ticks = list(map(round, map(truediv, prices, tick_c)))  # round(price / tick)
        if last is not None and ticks == last.ticks:
            return last.ticks, last.marks
        exact = self._exact
        if exact is not None and min(ticks) >= 1 and max(ticks) * exact[2] < _EXACT:
            # every mark at least one tick and every tick m units of 10 ** -d: each mark is
            # ticks * m / 10.0 ** d (tick_units), at least the tick itself (1 * m / 10.0 ** d)
            moved = list(map(truediv, map(mul, ticks, exact[0]), exact[1]))
        elif last is None:
            moved = list(map(on_the_grid, ticks, tick_c, self._decimals, self._units))
        else:
            moved = list(last.marks) if self._all_moving else [last.marks[i] for i in self._slots]
            decimals, units = self._decimals, self._units
            for i in compress(range(len(ticks)), map(ne, ticks, last.ticks)):
                moved[i] = on_the_grid(ticks[i], tick_c[i], decimals[i], units[i])
        if self._all_moving:
            return ticks, moved
        marks = list(self._held)
        for i, mark in zip(self._slots, moved):
            marks[i] = mark
        return ticks, marks

    def priced(self, at: int) -> Priced:
        last = self._last
        if last is not None and last.at == at:
            return last
        ticks, marks = self._marks(at, last)
        # a view's time is min(the leg's time, at): the same at both times when both are at or
        # after every leg's time
        if last is not None and last.marks == marks and at >= self.latest and last.at >= self.latest:
            self._last = last._replace(at=at, ticks=ticks)
            return self._last
        self._last = self._price(at, ticks, marks)
        return self._last

    def _price(self, at: int, ticks: list[int], marks: list[float]) -> Priced:
        # column by column: a leg's share of the wallet needs every leg's initial margin first
        legmarks = marks if self._one_each else [marks[i] for i in self._market_of]
        prior = self._numbers
        notional, size, im, upnl, mm, moved = self._legs(legmarks)
        total_im = reduce(add, im, 0.0)  # one leg after another (sum() may compensate)
        wallet = self.wallet
        # max(0.0, x) of each leg's liquidation price
        if total_im > 0:
            liq = [x if (x := (eq + sign * (wallet * (m / total_im))) / den) > 0.0 else 0.0
                   for eq, sign, m, den in zip(self._eq, self._sign, im, self._den)]
        else:
            liq = [x if (x := (eq + sign * wallet) / den) > 0.0 else 0.0
                   for eq, sign, den in zip(self._eq, self._sign, self._den)]
        times = self._time if at >= self.latest else [t if t <= at else at for t in self._time]  # min(t, at)
        self._numbers = LegNumbers(self, legmarks, notional, size, upnl, im, mm, liq, times, prior, moved)
        return Priced(at, ticks, marks, self._numbers)

    def _legs(self, legmarks: list[float]) -> tuple[Any, ...]:
        """Each leg's notional, its size, initial margin, unrealized PnL and maintenance margin
        at ``legmarks``, and the legs computed anew (None: all of them): numbers of the leg and
        its mark alone, so a leg whose mark is the same float as at the last pricing keeps that
        pricing's (most marks move less than a tick between two snapshots); the others are
        computed with the columns' operations, in their order, leg by leg. When most marks
        moved, every leg column by column."""
        amount, lev, entry, cs_c, mmr_c, unit = self._amount, self._lev, self._entry, self._cs, self._mmr, self._unit
        before = self._numbers
        n = len(amount)
        if before is not None:
            moved = list(compress(range(n), map(ne, legmarks, before.marks)))
            if len(moved) * 3 <= n:
                notional, size, im = list(before.notional), list(before.size), list(before.im)
                upnl, mm = list(before.upnl), list(before.mm)
                for i in moved:
                    a, mark = amount[i], legmarks[i]
                    x = a * mark if unit else a * mark * cs_c[i]
                    s = abs(x)
                    notional[i], size[i], im[i], mm[i] = x, s, s / lev[i], s * mmr_c[i]
                    upnl[i] = a * (mark - entry[i]) if unit else a * (mark - entry[i]) * cs_c[i]
                return notional, size, im, upnl, mm, moved
        notional = list(map(mul, amount, legmarks))  # amount * mark * contract size
        if not unit:
            notional = list(map(mul, notional, cs_c))
        size = list(map(abs, notional))
        im = list(map(truediv, size, lev))
        if unit:
            upnl = [a * (mark - e) for a, mark, e in zip(amount, legmarks, entry)]
        else:
            upnl = [a * (mark - e) * cs for a, mark, e, cs in zip(amount, legmarks, entry, cs_c)]
        mm = list(map(mul, size, mmr_c))
        return notional, size, im, upnl, mm, None


__all__ = ["Book", "LegNumbers", "OpenLeg", "Pricing", "Priced", "PositionView", "AccountView"]
