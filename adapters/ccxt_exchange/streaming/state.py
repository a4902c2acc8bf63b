"""What a private stream says of one account, kept by key with the venue's event time: pure.

What it owns
    * :class:`StreamState`: positions by (symbol, leg), wallet balances by asset, open orders by
      id and marks by symbol, each with the venue's event time (``E``) of the update it holds;
      the rule that an update older than what is held for its key (``out_of_order``) or the same
      one again (``duplicate``) is never applied; :attr:`StreamState.dropped` counts what the
      stream module drops (by frame: ``malformed``, ``unknown``, ``duplicate``, ``out_of_order``,
      see :class:`StreamEvent`) — an update this state does not apply is not counted here, since
      the same mark reaches it by more than one subscription;
    * :class:`StreamEvent`: one venue event as the dialect reads it out of a raw frame, the key
      the venue orders its events by, and what it says of positions, wallets, orders and marks;
    * :meth:`StreamState.snapshot`: the account as a :class:`Snapshot` of the same shape as the
      REST one, from the stream's state over the last REST snapshot (see there what is whose);
      a spot account's (``spot``) is its assets, each valued at its ASSET/QUOTE mark, as the
      REST spot snapshot values them (no positions); which legs are made again (those an update
      touched), each valued by :mod:`.book`;
    * :meth:`StreamState.reconcile`: a REST snapshot compared with the stream's state (positions
      by symbol, leg and contracts; open orders by id; equity within a tolerance), what differs
      returned, and REST's state taking the stream's place.

What it must not do
    read a clock (times are arguments), do I/O, import ccxt, or log (the stream module logs).

Event times survive a key's removal (a closed position, a filled order): a late update of
something already gone is still older than what was held, and dropped. A REST reconcile replaces
the values, never the event times: REST carries no event time of each row, and a stream update
delayed past a reconcile is still compared with the last one the stream gave for its key.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Container, Hashable, Optional

from killswitch.snapshot import (
    FetchStatus,
    MarketRules,
    Order,
    Position,
    PositionList,
    Snapshot,
    with_positions,
)

from ..dialects.stream_events import STREAM_KIND, MarkRows, StreamEvent
from .book import (
    LEGS,
    Legs,
    StreamLeg,
    futures_book,
    known_inputs,
    leg_of,
    make_leg,
    remarked,
    rest_prices,
    spot_book,
    spot_wallet,
)

CHANGED = "changed"  # applied, and it changed the state
SAME = "same"  # applied (newer), nothing changed
DUPLICATE = "duplicate"  # the update held, again: dropped
OUT_OF_ORDER = "out_of_order"  # older than the update held for its key: dropped
FRAMES_KEPT = 50_000  # the last event of this many keys (orders come and go) is kept for the checks

@dataclass(frozen=True)
class Disagreement:
    """What a REST reconcile found the stream's state wrong about: ``kind`` is positions, orders
    or equity; ``detail`` says what differed (no secret: symbols, ids, sizes)."""

    kind: str
    detail: str


class StreamState:
    """One account's stream state. ``quote`` is the currency equity is counted in; ``spot``: its
    book is its assets, not positions (:func:`.book.spot_book`)."""

    def __init__(self, quote: str, *, equity_tolerance: float = 0.005, spot: bool = False):
        self.quote = quote
        self.spot = spot
        self.equity_tolerance = float(equity_tolerance)  # relative, of REST's equity
        self.positions: dict[tuple[str, str], StreamLeg] = {}
        self.wallet: dict[str, float] = {}  # asset → wallet balance (Binance ``wb``)
        self.orders: dict[str, Order] = {}
        self.marks: dict[str, float] = {}
        self._times: dict[tuple[str, Hashable], int] = {}  # (table, key) → event time held
        self._mark_times: dict[str, int] = {}  # symbol → event time of the mark held (no key tuple per mark)
        self.dropped: Counter[str] = Counter()
        self.base: Optional[Snapshot] = None  # the last REST snapshot: what the stream does not say
        self._legs: Optional[Legs] = None  # the last snapshot's positions, made again where updates touched them
        self._dirty: set[str] = set()  # symbols whose position or mark changed since
        self._reshaped = True  # a leg came or went, or REST's state took the stream's place, since
        # each order update's number, by order id: a REST read is compared only with the orders
        # the stream had before it began (an order placed or ended meanwhile is the stream's news)
        self._order_seq = 0
        self._order_touched: dict[str, int] = {}
        self._leg_touched: dict[tuple[str, str], int] = {}  # a position leg's number, on the orders' count

    # --- updates ----------------------------------------------------------------------------------

    def _apply(self, table: str, store: dict, key: Hashable, value: Any, event_ms: int) -> str:
        held = self._times.get((table, key))
        if held is not None and event_ms < held:
            return OUT_OF_ORDER
        if held is not None and event_ms == held and store.get(key) == value:
            return DUPLICATE
        self._times[(table, key)] = event_ms
        if value is None:
            return CHANGED if store.pop(key, None) is not None else SAME
        if store.get(key) == value:
            return SAME
        store[key] = value
        return CHANGED

    def apply_position(self, symbol: str, leg: str, side: Optional[str], contracts: float,
                       entry_price: Optional[float], event_ms: int) -> str:
        """A position update: ``contracts`` 0 closes the leg."""
        value = None if contracts == 0 or side not in ("long", "short") else \
            StreamLeg(str(side), abs(float(contracts)), entry_price)
        had = (symbol, leg) in self.positions
        verdict = self._apply("position", self.positions, (symbol, leg), value, event_ms)
        if verdict == CHANGED:
            self._order_seq += 1  # (a leg changed after a REST read began is newer than the read)
            self._leg_touched[(symbol, leg)] = self._order_seq
            if had != ((symbol, leg) in self.positions):
                self._reshaped = True
            else:
                self._dirty.add(symbol)
        return verdict

    def apply_wallet(self, asset: str, balance: float, event_ms: int) -> str:
        return self._apply("wallet", self.wallet, asset, float(balance), event_ms)

    def apply_order(self, order_id: str, order: Optional[Order], event_ms: int) -> str:
        """An order update: ``order`` None when it is no longer open (filled, cancelled, ...)."""
        verdict = self._apply("order", self.orders, order_id, order, event_ms)
        if verdict not in (OUT_OF_ORDER, DUPLICATE):
            self._order_seq += 1
            self._order_touched[order_id] = self._order_seq
        return verdict

    def retell_order(self, order_id: str, order: Order) -> str:
        """An order held told again at the event time it is held at (its kind, asked of the
        venue: :mod:`.kinds`): the stream's news to a REST read begun before."""
        return self.apply_order(order_id, order, self._times.get(("order", order_id), 0))

    def order_mark(self) -> int:
        """Taken before a REST read of the open orders and handed to :meth:`reconcile`
        (``orders_since``): the orders the stream updates after it are newer than the read."""
        return self._order_seq

    def apply_mark(self, symbol: str, price: float, event_ms: int) -> str:
        price = float(price)
        held = self._mark_times.get(symbol)
        if held is not None and event_ms < held:
            return OUT_OF_ORDER
        if held is not None and event_ms == held and self.marks.get(symbol) == price:
            return DUPLICATE
        self._mark_times[symbol] = event_ms
        if self.marks.get(symbol) == price:
            return SAME
        self.marks[symbol] = price
        self._dirty.add(symbol)
        return CHANGED

    def apply_marks(self, rows: MarkRows) -> bool:
        """:meth:`apply_mark` of every row, in bulk; whether one changed a mark."""
        times, marks, dirty = self._mark_times, self.marks, self._dirty
        changed = False
        for symbol, event_ms, price in zip(rows.symbols, rows.times, rows.prices):
            held = times.get(symbol)
            if held is not None and event_ms < held:
                continue
            times[symbol] = event_ms
            if marks.get(symbol) != price:
                marks[symbol] = price
                dirty.add(symbol)
                changed = True
        return changed

    def drop(self, kind: str, n: int = 1) -> None:
        self.dropped[kind] += n

    def held(self) -> set[str]:
        """The symbols whose marks value the book: the positions' (spot: ASSET/QUOTE of each asset)."""
        if self.spot:
            return {f"{a}/{self.quote}" for a, v in self.wallet.items() if v and a != self.quote}
        return {s for s, _ in self.positions}

    # --- the snapshot ---------------------------------------------------------------------------

    def snapshot(self, observed_ms: int, ts_event: int, contract_size: Callable[[str], float],
                 rules: Callable[[str], Optional[MarketRules]] = lambda s: None,
                 ts_source: Optional[str] = None, withheld: Container[str] = ()) -> Optional[Snapshot]:
        """The account from the stream, or None before a REST snapshot gave the base.

        Positions: the stream's legs, each valued at the stream's mark of its symbol (REST's
        mark until the stream gives one; the entry price for a position REST has not seen and
        no mark has come for): notional = contracts · contract size · mark, unrealized PnL from
        the entry price. Every other field of a position (the liquidation price, margins,
        leverage, strategy: :mod:`.book`'s ``_KEPT``) is the last REST read's for that leg (the user-data stream
        does not carry them). Equity = the wallet
        balance of the quote currency + the positions' unrealized PnL. Balances are REST's,
        their total the stream's wallet balance where it gave one. Open orders are the
        stream's but those ``withheld`` (their kind is being asked of the venue: :mod:`.kinds`);
        the market rules those of their symbols (``rules``), REST's where it has none.
        ``fetch.calls`` is 0: nothing was read to make it.

        Made incrementally (see :class:`.book.Legs`): the positions of the legs no update touched
        since the last snapshot are the same models, their columns the same values; a contract
        size and a symbol's market rules are read once per REST base (they come with the markets)."""
        base = self.base
        if base is None:
            return None
        legs = self._legs_now(contract_size)
        positions = PositionList(legs.positions, legs.columns)  # (a copy of the list)
        balances, equity = spot_book(base, self.wallet, self.marks, self.quote) if self.spot else \
            futures_book(base, self.wallet, self.quote, sum(legs.columns.upnl))
        if self.spot and equity is None:
            return None
        orders = [o for k, o in self.orders.items() if k not in withheld] if withheld else list(self.orders.values())
        markets = self._markets(legs, orders, rules)
        return with_positions(base.model_copy(update={
            "ts_event": ts_event, "ts_observed": observed_ms, "ts_source": ts_source, "equity": equity,
            "balances": balances, "orders": orders,
            "fetch": FetchStatus(ok=True, latency_ms=0.0, calls=0, failed_calls=0)}),
            positions, markets)

    def prepare(self, contract_size: Callable[[str], float],
                rules: Callable[[str], Optional[MarketRules]] = lambda s: None) -> None:
        """Make the positions, their columns and their market rules now, as :meth:`snapshot`
        would. After a REST reconcile every leg is made anew (REST's liquidation price, margin
        and leverage are inputs of each): ~25 µs a leg, a quarter of a second at 10,000. Made
        here, that is paid where the REST snapshot is read, and the next snapshot — the one a
        stream update wakes the runner for — makes only the legs updates touched since."""
        if self.base is not None:
            self._markets(self._legs_now(contract_size), [], rules)

    def _markets(self, legs: "Legs", orders: list[Order],
                 rules: Callable[[str], Optional[MarketRules]]) -> dict[str, MarketRules]:
        """REST's market rules, then (in symbol order) ``rules`` of the positions' and the open
        orders' symbols: those of the positions' read once per set of legs and ``rules``."""
        base = self.base
        assert base is not None
        extra = {o.symbol for o in orders} - legs.symbol_set
        if legs.rules_of is not rules or legs.rules is None:
            legs.rules_of, legs.rules = rules, {s: r for s in legs.symbols if (r := rules(s)) is not None}
        markets = dict(base.markets)
        if not extra:
            markets.update(legs.rules)
            return markets
        for symbol in sorted(legs.symbol_set | extra):
            r = legs.rules.get(symbol) if symbol in legs.symbol_set else rules(symbol)
            if r is not None:
                markets[symbol] = r
        return markets

    def made_position(self, symbol: str, side: str) -> Optional[Position]:
        """The position of ``symbol`` on ``side`` as the last snapshot made it (None: none made)."""
        legs = self._legs
        made = [legs.made.get((symbol, name)) for name in LEGS] if legs is not None else []
        return next((m[1] for m in made if m is not None and m[1].side == side), None)

    def _legs_now(self, contract_size: Callable[[str], float]) -> "Legs":
        """The positions and their columns as they are now, made again only where an update
        touched them (:attr:`_dirty`), or leg by leg (each reused where its inputs are the same)
        when the set of legs or the REST base changed."""
        base = self.base
        assert base is not None
        legs = self._legs
        if legs is None or legs.base is not base or self._reshaped:
            legs = self._legs = self._rebuild(legs, base, contract_size)
        elif self._dirty:
            legs = self._legs = self._patch(legs, contract_size)
        self._dirty = set()
        self._reshaped = False
        return legs

    def _rebuild(self, old: Optional["Legs"], base: Snapshot, contract_size: Callable[[str], float]) -> "Legs":
        rest_legs = {(p.symbol, leg_of(p)): p for p in base.positions}
        made = old.made if old is not None else {}
        out = Legs(base, rest_legs)
        for key in sorted(self.positions):
            leg = self._reused_or_made(key, self.positions[key], rest_legs.get(key), made, contract_size)
            if leg is None:
                continue
            out.add(key, leg)
        out.seal()
        return out

    def _reused_or_made(self, key: tuple[str, str], sp: StreamLeg, known: Optional[Position], made: dict,
                        contract_size: Callable[[str], float]) -> Optional[tuple[Any, Position, tuple]]:
        """A leg as made before (``made``) where its stream leg, mark and REST inputs are the
        same, else made now (:func:`.book.make_leg`)."""
        was = made.get(key)
        mark = self.marks.get(key[0]) or (known.mark_price if known else None) or sp.entry_price
        if was is not None and was[0][0] is sp and was[0][1] == mark and was[0][2] == known_inputs(known):
            return was
        return make_leg(self.marks, key, sp, known, contract_size)

    def _patch(self, legs: "Legs", contract_size: Callable[[str], float]) -> "Legs":
        """The last positions with the legs of the symbols in :attr:`_dirty` made again (a leg
        that has no price now, or had none before, makes it a rebuild)."""
        base = legs.base
        positions = list(legs.positions)
        rows: dict[int, tuple] = {}
        made = dict(legs.made)
        for symbol in self._dirty:
            for leg_name in LEGS:
                key = (symbol, leg_name)
                sp = self.positions.get(key)
                i = legs.index.get(key)
                if sp is None and i is None:
                    continue
                if sp is None or i is None:
                    return self._rebuild(legs, base, contract_size)
                was = legs.made.get(key)
                if was is not None and was[0][0] is sp:  # the same leg and REST base: its mark moved
                    leg = remarked(self.marks, was, sp, legs.rest_legs.get(key))
                else:
                    leg = make_leg(self.marks, key, sp, legs.rest_legs.get(key), contract_size)
                if leg is None:
                    return self._rebuild(legs, base, contract_size)
                made[key] = leg
                positions[i] = leg[1]
                rows[i] = leg[2]
        out = Legs(base, legs.rest_legs)
        out.positions, out.made, out.index, out.symbols, out.symbol_set = positions, made, legs.index, \
            legs.symbols, legs.symbol_set
        out.columns = legs.columns.patched(rows)
        out.rules_of, out.rules = legs.rules_of, legs.rules
        return out

    # --- reconcile --------------------------------------------------------------------------------

    def reconcile(self, rest: Snapshot, observed_ms: int, contract_size: Callable[[str], float], *,
                  compare: bool = True, orders: bool = True, orders_since: Optional[int] = None,
                  rest_marks: Container[str] = ()) -> list[Disagreement]:
        """Compare a (good) REST snapshot with the stream's state, then put REST's state in its
        place. Nothing is compared before the first REST snapshot (the stream had no base), nor
        when ``compare`` is false (the stream was not delivering since the last one: its state
        is not its word). ``orders`` false: REST's open orders were not read this time (they are
        an earlier read's), so they are neither compared nor put in the stream's place.
        ``orders_since`` (:meth:`order_mark` before the read): an order the stream updated after
        it (placed, filled or cancelled while the read was under way) is newer than REST's list:
        not a disagreement, and the stream's word on it is kept (a bot sending orders every
        100 ms would otherwise make every reconcile disagree, and the snapshots read REST). A
        position leg the stream changed after the mark (a bot's fill while the read was under
        way) is the stream's news the same way, whether the orders were read or not, where it is
        compared (``compare``). ``rest_marks``: the symbols whose marks the stream cannot give (the
        venue refused their subscription), REST's price taking the place of theirs first."""
        found: list[Disagreement] = []
        if rest_marks:  # (never compared: not the stream's word; every leg is made anew below)
            self.marks.update(rest_prices(rest, self.quote, self.spot, rest_marks))
        newer = {k for k, n in self._order_touched.items() if n > orders_since} \
            if orders and orders_since is not None else set()
        # (where the stream's state is its word: else REST takes its place whole, as before)
        moved = {k for k, n in self._leg_touched.items() if n > orders_since} \
            if compare and self.base is not None and orders_since is not None else set()
        mine, held = self.orders, self.positions
        rest_cmp, mine_cmp, held_cmp = rest, mine, held
        if newer:
            rest_cmp = rest_cmp.model_copy(update={"orders": [o for o in rest.orders if o.id not in newer]})
            mine_cmp = {k: o for k, o in mine.items() if k not in newer}
        if moved:
            rest_cmp = rest_cmp.model_copy(update={"positions": [p for p in rest.positions
                                                                 if (p.symbol, leg_of(p)) not in moved]})
            held_cmp = {k: v for k, v in held.items() if k not in moved}
        if self.base is not None and compare:
            wallet = self.wallet.get(self.quote)
            equity = spot_book(self.base, self.wallet, self.marks, self.quote)[1] if self.spot else \
                None if wallet is None else wallet + sum(self._legs_now(contract_size).columns.upnl)
            found = _differences(held_cmp, mine_cmp if orders else None, equity, rest_cmp,
                                 self.equity_tolerance)
        self.base = rest
        self._reshaped = True
        self.positions = {(p.symbol, leg_of(p)): StreamLeg(p.side, p.contracts, p.entry_price)
                          for p in rest.positions if p.contracts > 0}
        for key in moved:  # the stream's newer word on the legs it changed during the read
            if key in held:
                self.positions[key] = held[key]
            else:
                self.positions.pop(key, None)
        if orders_since is not None:
            self._leg_touched = {k: n for k, n in self._leg_touched.items() if n > orders_since}
        if orders:
            self.orders = {o.id: o for o in rest.orders if o.id not in newer}
            self.orders.update((k, mine[k]) for k in newer if k in mine)  # the stream's newer word
            if orders_since is not None:  # what the read has seen is REST's now: forget its numbers
                self._order_touched = {k: n for k, n in self._order_touched.items() if n > orders_since}
        for p in rest.positions:
            self.marks.setdefault(p.symbol, p.mark_price)
        if self.spot:  # each asset's wallet REST's, its price the mark of ASSET/QUOTE until the stream's
            self.wallet = spot_wallet(rest, self.quote, self.marks)
        elif rest.equity is not None:
            # REST's equity is the wallet balance plus the unrealized PnL: the wallet is what is left
            self.wallet[self.quote] = rest.equity - sum(p.unrealized_pnl for p in rest.positions)
        return found


async def prepare_stepwise(state: StreamState, contract_size: Callable[[str], float],
                           rules: Callable[[str], Optional[MarketRules]] = lambda s: None, *,
                           every: int = 500) -> None:
    """``state.prepare``, ``every`` legs at a time with the loop free between (a reconcile
    beside the ticks: at 10,000 legs the whole rebuild held the loop for a quarter of a second,
    which a stream event — a rogue's order the venue watch cancels — waited out).

    Made from the legs as they were when it began; what the stream changes meanwhile marks them
    as any update does (``_dirty``, ``_reshaped``), and the next snapshot makes those again.
    Dropped if a snapshot made the legs itself meanwhile, or another reconcile came."""
    base, old = state.base, state._legs
    if base is None or (old is not None and old.base is base and not state._reshaped):
        return
    state._reshaped, state._dirty = False, set()  # what changes from here is marked afresh
    rest_legs = {(p.symbol, leg_of(p)): p for p in base.positions}
    made = old.made if old is not None else {}
    out = Legs(base, rest_legs)
    for i, (key, sp) in enumerate(sorted(state.positions.items())):
        if i and i % every == 0:
            await asyncio.sleep(0)
            if state.base is not base or state._legs is not old:
                return
        leg = state._reused_or_made(key, sp, rest_legs.get(key), made, contract_size)
        if leg is not None:
            out.add(key, leg)
    if state.base is not base or state._legs is not old:
        return
    out.seal()
    state._legs = out
    state._markets(out, [], rules)


def fresh_events(events: list[StreamEvent], last: dict[tuple, tuple[int, Any]],
                 dropped: Callable[[str, StreamEvent, int], None]) -> list[StreamEvent]:
    """``events`` less those dropped as duplicates or out of order (``dropped(kind, event, the
    event time held)``), each checked against the last one of its key in ``last`` (which it then
    becomes; the :data:`FRAMES_KEPT` keys last seen are kept, the oldest go first): an account's
    stream and a venue's shared mark subscription check their frames alike."""
    fresh = []
    for ev in events:
        held = last.get(ev.key)
        if held is not None and ev.event_ms < held[0]:
            dropped(OUT_OF_ORDER, ev, held[0])
        elif held is not None and ev.event_ms == held[0] and ev.body == held[1]:
            dropped(DUPLICATE, ev, held[0])
        else:
            last.pop(ev.key, None)  # kept in the order last seen
            last[ev.key] = (ev.event_ms, ev.body)
            fresh.append(ev)
    while len(last) > FRAMES_KEPT:
        del last[next(iter(last))]
    return fresh


def _differences(positions: dict[tuple[str, str], StreamLeg], orders: Optional[dict[str, Order]],
                 equity: Optional[float], rest: Snapshot, tolerance: float) -> list[Disagreement]:
    found = []
    theirs = {(p.symbol, leg_of(p)): p for p in rest.positions if p.contracts > 0}
    wrong = []
    for key in sorted(set(positions) | set(theirs)):
        a, b = positions.get(key), theirs.get(key)
        a_size = 0.0 if a is None else a.contracts * (1 if a.side == "long" else -1)
        b_size = 0.0 if b is None else b.contracts * (1 if b.side == "long" else -1)
        if not math.isclose(a_size, b_size, rel_tol=1e-9, abs_tol=1e-12):
            wrong.append(f"{key[0]} {key[1]} stream={a_size:g} rest={b_size:g}")
    if wrong:
        found.append(Disagreement("positions", "; ".join(wrong)))
    mine, their_ids = set(orders or ()), {o.id for o in rest.orders}
    if orders is not None and mine != their_ids:
        found.append(Disagreement("orders", f"stream only: {sorted(mine - their_ids)}; "
                                            f"rest only: {sorted(their_ids - mine)}"))
    if rest.equity is not None and equity is not None and \
            abs(equity - rest.equity) > tolerance * max(abs(rest.equity), 1.0):
        found.append(Disagreement("equity", f"stream={equity:.8g} rest={rest.equity:.8g} "
                                            f"(tolerance {tolerance:.2%})"))
    elif rest.equity is not None and equity is None:
        found.append(Disagreement("equity", f"stream=unknown rest={rest.equity:.8g}"))
    return found


__all__ = ["CHANGED", "DUPLICATE", "Disagreement", "FRAMES_KEPT", "MarkRows", "OUT_OF_ORDER", "SAME", "STREAM_KIND",
           "StreamEvent", "StreamState", "fresh_events", "prepare_stepwise"]
