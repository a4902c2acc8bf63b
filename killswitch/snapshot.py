"""The snapshot: what one account looked like at one moment, as the engine sees it.

Adapters (ccxt, simulated) produce snapshots; the runner adds the order books of the
positions a close is planned for (:class:`OrderBook`, in ``books``); the engine reads them; a
JSONL stream of them is the replay format. Times are UTC milliseconds since the epoch: ``ts_event`` is when the venue
says the state held, ``ts_observed`` when we received it. A failed fetch is still a snapshot,
with ``fetch.ok = false`` and its error, so that missing data is a signal, never a silent gap.

Pure data: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any, Callable, Final, Iterable, Iterator, Literal, Optional, SupportsIndex, Union, overload

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_serializer

SNAPSHOT_FORMAT: Final = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Balance(_Frozen):
    asset: str
    free: float
    used: float = 0.0
    total: float
    price: Optional[float] = None  # in the quote currency, for valuing spot holdings


class MarketRules(_Frozen):
    """What the venue accepts for one symbol: amounts are rounded down to ``amount_step``."""

    amount_step: float = Field(default=0.0, ge=0)  # 0: any amount
    min_amount: float = Field(default=0.0, ge=0)
    min_notional: float = Field(default=0.0, ge=0)
    base: Optional[str] = None  # base asset, e.g. BTC (derived from the symbol when absent)
    price_tick: float = Field(default=0.0, ge=0)  # the price grid (0: not known); prices are shown on it


class Position(_Frozen):
    symbol: str  # unified ccxt symbol, e.g. BTC/USDT:USDT
    side: Literal["long", "short"]
    position_side: Optional[Literal["LONG", "SHORT", "BOTH"]] = None  # hedge mode leg
    contracts: float = Field(ge=0)
    contract_size: float = Field(default=1.0, gt=0)
    notional: float = Field(ge=0)
    entry_price: Optional[float] = None
    mark_price: float = Field(gt=0)
    unrealized_pnl: float
    liquidation_price: Optional[float] = None
    margin: Optional[float] = None
    leverage: Optional[float] = None
    strategy: Optional[str] = None


# What an open order is, beside its type: ``regular`` (rests in the book, or a market order),
# ``conditional`` (waits for a trigger price: stop, take-profit, trigger orders; Binance and OKX
# keep them in an algo service with its own list and cancel), ``tpsl`` (a take-profit or
# stop-loss attached to a position), ``oco`` (a leg of a one-cancels-the-other pair), ``trailing``
# (a trailing stop). A venue's list and cancel of an order depend on it.
ORDER_KINDS: Final = ("regular", "conditional", "tpsl", "oco", "trailing")
OrderKind = Literal["regular", "conditional", "tpsl", "oco", "trailing"]


class Order(_Frozen):
    id: str
    client_id: Optional[str] = None
    symbol: str
    side: Literal["buy", "sell"]
    type: str  # limit, market, stop_market, take_profit_market, ...
    kind: OrderKind = "regular"
    trigger_price: Optional[float] = None  # the price that wakes a conditional order
    reduce_only: bool = False  # it can only reduce (the venue's flag, its hedge leg, or a close-position order)
    amount: float = Field(ge=0)
    filled: float = Field(default=0.0, ge=0)
    price: Optional[float] = None
    position_side: Optional[Literal["LONG", "SHORT", "BOTH"]] = None
    strategy: Optional[str] = None  # the bot that placed it, when the adapter can tell (client id prefix)


class OrderBook(_Frozen):
    """The top of one symbol's order book: ``bids`` best (highest) first, ``asks`` best (lowest)
    first, each level ``(price, amount in contracts)``; ``ts`` when the venue said it held.
    Fetched only for the positions a close is planned for, when the policy's unwind reads the
    book (``max_impact``, ``book_depth``)."""

    bids: tuple[tuple[float, float], ...] = ()
    asks: tuple[tuple[float, float], ...] = ()
    ts: Optional[int] = None


class FetchStatus(_Frozen):
    ok: bool = True
    error_code: Optional[str] = None  # reason code, e.g. EXCHANGE_UNAVAILABLE, RATE_LIMITED
    error: Optional[str] = None  # message, free of secrets
    latency_ms: Optional[float] = None
    calls: int = 0
    failed_calls: int = 0


class Snapshot(_Frozen):
    format: Literal[1] = SNAPSHOT_FORMAT
    venue: str
    account: str
    market_type: Literal["spot", "futures"]
    ts_event: int  # UTC ms
    ts_observed: Optional[int] = None  # UTC ms
    equity: Optional[float] = None  # in the account's quote currency; None when unknown
    quote_currency: str = "USDT"
    balances: list[Balance] = []
    positions: list[Position] = []
    orders: list[Order] = []
    fetch: FetchStatus = FetchStatus()
    labels: dict[str, str] = {}
    markets: dict[str, MarketRules] = {}  # by symbol; absent symbols have no rounding rules
    initial_capital: Optional[float] = None  # from the Accounts document
    stablecoins: list[str] = ["USDT", "USDC", "FDUSD", "DAI"]  # spot close_all keeps these
    books: dict[str, OrderBook] = {}  # by symbol: the top of the book of the positions being closed

    @field_serializer("positions", mode="wrap")
    def _positions_as_list(self, v: Any, handler: SerializerFunctionWrapHandler) -> Any:
        # positions an adapter made on reading (:class:`PositionsOnReading`) are dumped as the list they are
        return handler(v if isinstance(v, list) else list(v))


# --- positions as columns ----------------------------------------------------------------------------

COLUMN_FIELDS: Final = ("symbol", "side", "position_side", "contracts", "notional", "mark_price", "unrealized_pnl",
                        "liquidation_price", "margin")
_row_of = attrgetter(*COLUMN_FIELDS)


class PositionColumns:
    """The fields of a list of positions that a tick reads, one list per field in the positions'
    order: what ``[p.symbol for p in positions]`` and so on would give, taken out by whoever built
    the positions while it had them at hand (an adapter), so that a tick reads no field of any
    position model (10,000 or 100,000 of them, scattered in memory, at 40–100 ns a field).

    Read-only: several snapshots' lists may share one (an adapter whose positions did not move).
    ``side_keys`` is the hedge-mode leg where there is one, else the side (it is ``sides``
    itself when no position has a leg)."""

    __slots__ = ("symbols", "sides", "side_keys", "contracts", "notional", "marks", "upnl", "liq", "margin")

    def __init__(self, rows: list[tuple[Any, ...]]):
        """``rows``: one tuple per position, its fields in the order of :data:`COLUMN_FIELDS`."""
        if rows:
            (symbols, sides, legs, contracts, notional, marks, upnl, liq, margin) = map(list, zip(*rows))
        else:
            symbols, sides, legs, contracts, notional, marks, upnl, liq, margin = [], [], [], [], [], [], [], [], []
        self.symbols: list[str] = symbols
        self.sides: list[str] = sides
        self.side_keys: list[str] = [x or s for x, s in zip(legs, sides)] if any(legs) else sides
        self.contracts: list[float] = contracts
        self.notional: list[float] = notional
        self.marks: list[float] = marks
        self.upnl: list[float] = upnl
        self.liq: list[Optional[float]] = liq
        self.margin: list[Optional[float]] = margin

    @classmethod
    def of_columns(cls, symbols: list[str], sides: list[str], side_keys: list[str], contracts: list[float],
                   notional: list[float], marks: list[float], upnl: list[float], liq: list[Optional[float]],
                   margin: list[Optional[float]]) -> "PositionColumns":
        """The columns themselves, from an adapter that has its numbers as columns (``side_keys``
        as :attr:`side_keys` says); they must all be as long."""
        if len({len(c) for c in (symbols, sides, side_keys, contracts, notional, marks, upnl, liq, margin)}) > 1:
            raise ValueError("position columns of different lengths")
        c = cls.__new__(cls)
        c.symbols, c.sides, c.side_keys, c.contracts, c.notional = symbols, sides, side_keys, contracts, notional
        c.marks, c.upnl, c.liq, c.margin = marks, upnl, liq, margin
        return c

    def __len__(self) -> int:
        return len(self.symbols)


class PositionList(list[Position]):
    """A snapshot's positions carrying their :class:`PositionColumns` (``columns``), made by the
    adapter that built them. It is an ordinary list to every reader (equal to the plain list of
    the same positions, dumped and compared as one); any change to it drops its columns, so they
    never describe positions it no longer holds. A snapshot validated anew holds a plain list,
    and the engine then reads the columns out of the positions itself."""

    __slots__ = ("columns",)

    def __init__(self, positions: Iterable[Position] = (), columns: Optional[PositionColumns] = None):
        super().__init__(positions)
        self.columns = columns if columns is not None and len(columns) == len(self) else None

    @classmethod
    def of(cls, positions: Iterable[Position]) -> "PositionList":
        """``positions`` with their columns, read out of each position once (all nine fields
        together, just after the caller built them)."""
        out = cls(positions)
        out.columns = PositionColumns(list(map(_row_of, out)))
        return out

    @classmethod
    def of_rows(cls, positions: list[Position], rows: list[tuple[Any, ...]]) -> "PositionList":
        """``positions`` with the columns of ``rows``: each position's fields in the order of
        :data:`COLUMN_FIELDS`, the values it was built of."""
        return cls(positions, PositionColumns(rows))

    def _drop(self) -> None:
        self.columns = None

    def __setitem__(self, i: Any, v: Any) -> None:
        self._drop()
        super().__setitem__(i, v)

    def __delitem__(self, i: Any) -> None:
        self._drop()
        super().__delitem__(i)

    def __iadd__(self, other: Iterable[Position]) -> "PositionList":  # type: ignore[override,misc]
        self._drop()
        return super().__iadd__(other)

    def __imul__(self, n: SupportsIndex) -> "PositionList":
        self._drop()
        return super().__imul__(n)

    def append(self, p: Position) -> None:
        self._drop()
        super().append(p)

    def extend(self, ps: Iterable[Position]) -> None:
        self._drop()
        super().extend(ps)

    def insert(self, i: SupportsIndex, p: Position) -> None:
        self._drop()
        super().insert(i, p)

    def pop(self, i: SupportsIndex = -1) -> Position:
        self._drop()
        return super().pop(i)

    def remove(self, p: Position) -> None:
        self._drop()
        super().remove(p)

    def clear(self) -> None:
        self._drop()
        super().clear()

    def sort(self, *args: Any, **kw: Any) -> None:
        self._drop()
        super().sort(*args, **kw)

    def reverse(self) -> None:
        self._drop()
        super().reverse()


class PositionsOnReading(Sequence[Position]):
    """A snapshot's positions held as their :class:`PositionColumns` (``columns``), each
    :class:`Position` made the first time it is read (``make(i)``, by the adapter that has the
    numbers) and kept: a tick reads the columns, and ten thousand models nobody reads are not
    built. To every reader it is the sequence of those positions: equal to the list of them,
    dumped as that list, copied and pickled as a :class:`PositionList`. It cannot be changed
    (there is no storage a C function could read around it: every read goes through it).

    Several snapshots may share the positions already made (``made``): an adapter whose numbers
    did not move hands out the same models."""

    __slots__ = ("columns", "_make", "_made")

    def __init__(self, columns: PositionColumns, make: Callable[[int], Position],
                 made: Optional[list[Optional[Position]]] = None):
        if made is not None and len(made) != len(columns):
            raise ValueError("positions made and columns of different lengths")
        self.columns = columns
        self._make = make
        self._made: list[Optional[Position]] = made if made is not None else [None] * len(columns)

    def sharing(self) -> "PositionsOnReading":
        """Another sequence of the same positions, sharing the ones made and to be made."""
        return PositionsOnReading(self.columns, self._make, self._made)

    def __len__(self) -> int:
        return len(self._made)

    def _all(self) -> list[Position]:
        made = self._made
        if None in made:
            make = self._make
            for i, p in enumerate(made):
                if p is None:
                    made[i] = make(i)
        return made  # type: ignore[return-value]  # every one made

    @overload
    def __getitem__(self, i: SupportsIndex) -> Position: ...

    @overload
    def __getitem__(self, i: slice) -> list[Position]: ...

    def __getitem__(self, i: Union[SupportsIndex, slice]) -> Union[Position, list[Position]]:
        if isinstance(i, slice):
            return self._all()[i]
        made = self._made
        p = made[i]  # IndexError, TypeError as a list's
        if p is None:
            n = i.__index__()
            p = made[n] = self._make(n if n >= 0 else n + len(made))
        return p

    def __iter__(self) -> Iterator[Position]:
        return iter(self._all())

    def __reversed__(self) -> Iterator[Position]:
        return reversed(self._all())

    def __contains__(self, p: object) -> bool:
        return p in self._all()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PositionsOnReading):
            return self._all() == other._all()
        if isinstance(other, list):
            return self._all() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # as a list's

    def __repr__(self) -> str:
        return repr(self._all())

    def __reduce__(self) -> tuple[Any, ...]:
        # copied, deep-copied and pickled as the list it is (with its columns)
        return PositionList, (list(self._all()), self.columns)


def columns_of(positions: list[Position]) -> Optional[PositionColumns]:
    """The columns ``positions`` carries, when it is a :class:`PositionList` that has them."""
    cols = getattr(positions, "columns", None)
    return cols if cols is not None and len(cols) == len(positions) else None


def with_positions(s: Snapshot, positions: Union[PositionList, PositionsOnReading],
                   markets: Optional[dict[str, MarketRules]] = None) -> Snapshot:
    """``s`` holding ``positions`` as they are (a validated snapshot holds a plain list), and
    ``markets`` when given: for an adapter, whose positions were each built to their model's
    rules and whose market rules are models it made (validating ten thousand of them again
    costs ~1.5 ms a snapshot). ``markets`` must be a dict of its own (the snapshot keeps it)."""
    return s.model_copy(update={"positions": positions} if markets is None else
                        {"positions": positions, "markets": markets})


def base_asset(symbol: str) -> str:
    """``BTC/USDT:USDT`` → ``BTC``."""
    return symbol.split("/", 1)[0]
