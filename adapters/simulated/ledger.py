"""The simulated exchange's positions and account views: the second layer of
:class:`~.engine.SimExchange`, on :class:`~.state.ExchangeState`.

What it owns
    :class:`Ledger`: trading a leg (an entry averaged, PnL realized into the leg when it
    reduces), how much of a leg a closing order may still reduce, a position or a wallet seeded
    by a scenario, and the views an account is read through — its open positions and their
    numbers as columns, and its account view (wallet, unrealized PnL, equity, margins, what is
    available), priced by :mod:`.views` once per change of a mark, a leg or the wallet, so that
    an account of 10,000 legs is cheap to read again.

What it must not do
    match orders (:mod:`.matching`), read the wall clock or do I/O.
"""

from __future__ import annotations

from typing import Optional

from .accounts import AccountState, Leg
from .rules import EPS, MarketSpec, SimOrder, _clean
from .state import ExchangeState
from .views import AccountView, Book, LegNumbers, OpenLeg, PositionView, Pricing


class Ledger(ExchangeState):
    """The positions of every account and the views they are read through."""

    def open_position(self, account: str, symbol: str, side: str, amount: float, entry: float,
                      position_side: Optional[str] = None) -> None:
        """Seed a position (scenario setup): no fee, no rate limit, no margin check."""
        a = self._acct(account)
        m = self._market(symbol)
        ps = (position_side or ("LONG" if side == "long" else "SHORT")) if a.hedge_mode else "BOTH"
        leg = a.legs.setdefault((m.symbol, ps), Leg())
        signed = amount if side == "long" else -amount
        now = self.now()
        self._apply(a, m, leg, signed, entry, now)
        self._account_changed(a, "ADJUSTMENT", [(m.symbol, ps)], now)

    def set_wallet(self, account: str, wallet: float) -> None:
        """Set the futures wallet (a harness's setup, like :meth:`open_position`)."""
        a = self._acct(account)
        a.wallet = float(wallet)
        a.rev += 1  # the views' book holds the wallet
        self._account_changed(a, "ADJUSTMENT", [], self.now())

    # --- positions -----------------------------------------------------------------------------------------

    def _closable(self, a: AccountState, o: SimOrder) -> float:
        """How much of the position ``o`` may still reduce (for closing orders)."""
        leg = a.legs.get((o.symbol, o.position_side))
        amt = leg.amount if leg else 0.0
        return max(0.0, amt if o.side == "SELL" else -amt)

    def _apply(self, a: AccountState, m: MarketSpec, leg: Leg, signed: float, px: float, now: int) -> float:
        """Trade ``signed`` contracts at ``px`` on a leg; returns the realized PnL."""
        a.rev += 1
        pos = leg.amount
        realized = 0.0
        if pos == 0 or (pos > 0) == (signed > 0):
            new = _clean(pos + signed)
            leg.entry = (abs(pos) * leg.entry + abs(signed) * px) / abs(new) if new else 0.0
            leg.amount = new
        else:
            closed = min(abs(pos), abs(signed))
            realized = closed * (px - leg.entry) * (1 if pos > 0 else -1) * m.contract_size
            leg.realized += realized
            new = _clean(pos + signed)
            if new == 0:
                leg.entry = 0.0
            elif (new > 0) != (pos > 0):
                leg.entry = px
            leg.amount = new
        leg.update_time = now
        return realized

    # --- views ---------------------------------------------------------------------------------------------

    def positions(self, account: str, symbol: Optional[str] = None, at: Optional[int] = None) -> list[PositionView]:
        """Open positions (legs with a non-zero amount), marked at ``at`` (default now)."""
        now, a = self._request(account, 5)
        sym = self._market(symbol).symbol if symbol else None
        views = self._positions(a, now if at is None else at)
        if sym is None:
            return list(views)  # a copy: the book keeps its views
        return [p for p in views if p.symbol == sym]

    def position_numbers(self, account: str, at: Optional[int] = None) -> LegNumbers:
        """Every open leg's numbers at ``at`` (default now) as columns, the order and numbers of
        :meth:`positions` (and its weight): for an in-process face that builds no view per leg.
        The same object while nothing it shows moved; callers must not change it."""
        now, a = self._request(account, 5)
        return self._book(a).priced(now if at is None else at).numbers

    def _positions(self, a: AccountState, at: int) -> list[PositionView]:
        """The account's position views at ``at`` (shared: callers must not change the list)."""
        return self._book(a).priced(at).numbers.views

    def _book(self, a: AccountState) -> Book:
        """The account's open legs as the views price them, built again after any change."""
        key = (a.rev, self._rev, self._path_rev)
        book = self._books.get(a.spec.name)
        if book is not None and book.key == key:
            return book
        if book is not None and book.key[:2] == key[:2]:  # a price path changed: the same legs
            book = self._books[a.spec.name] = book.repriced(key, {s: self._pricing_of(s) for s in book.symbols})
            return book
        legs = []
        pricing: dict[str, Pricing] = {}
        markets, leverage, default_lev, priced = self.markets, a.leverage, a.spec.leverage, self._pricing
        for (symbol, ps), leg in sorted(a.legs.items()):
            if abs(leg.amount) <= EPS:
                continue
            m = markets[symbol]
            lev = min(leverage.get(symbol, default_lev), m.max_leverage)
            legs.append(OpenLeg(symbol, ps, leg.amount, leg.entry, leg.update_time, m.contract_size, lev,
                                m.maint_margin_rate))
            pricing[symbol] = priced.get(symbol) or self._pricing_of(symbol)
        book = self._books[a.spec.name] = Book(key, a.spec.name, a.wallet, legs, pricing)
        return book

    def account_state(self, account: str, at: Optional[int] = None) -> AccountView:
        now, a = self._request(account, 5)
        return self._view(a, now if at is None else at)

    def _view(self, a: AccountState, at: int) -> AccountView:
        n = self._book(a).priced(at).numbers
        upnl, im, mm = n.unrealized_pnl, n.initial_margin, n.maint_margin
        oom = 0.0
        for o in a.live.values():
            if o.is_open and not o.closes:
                lev = min(a.leverage.get(o.symbol, a.spec.leverage), self.markets[o.symbol].max_leverage)
                oom += o.remaining * o.price * self.markets[o.symbol].contract_size / lev
        equity = a.wallet + upnl
        return AccountView(a.spec.name, a.wallet, upnl, equity, im, oom, mm, max(0.0, equity - im - oom), a.hedge_mode,
                           dict(sorted(a.spot.items())), at)


__all__ = ["Ledger"]
