"""The snapshot: what one account looked like at one moment, as the engine sees it.

Adapters (ccxt, simulated) produce snapshots; the runner adds the order books of the
positions a close is planned for (:class:`OrderBook`, in ``books``); the engine reads them; a
JSONL stream of them is the replay format. Times are UTC milliseconds since the epoch: ``ts_event`` is when the venue
says the state held, ``ts_observed`` when we received it; ``ts_source`` says whether ``ts_event`` is the venue's own
stamp or our receipt time where the venue gave none. A failed fetch is still a snapshot,
with ``fetch.ok = false`` and its error, so that missing data is a signal, never a silent gap.

Pure data: no I/O.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from operator import attrgetter
from types import MappingProxyType
from typing import (
    Annotated,
    Any,
    Callable,
    Final,
    Iterable,
    Iterator,
    Literal,
    Mapping,
    Optional,
    SupportsIndex,
    Union,
    overload,
)

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_serializer

SNAPSHOT_FORMAT: Final = 1
_NONE_TYPE: Final = type(None)


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


class Column:
    """Marks a field of :class:`Position` as a column: the list of that field's values over a list
    of positions (:class:`PositionColumns`, the engine's ``Columns``) is the attribute ``name``."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"Column({self.name!r})"


# The one declaration of a position's fields: each one's name, type, default and bounds, and,
# marked Column, whether a tick reads it as a column. The columns (COLUMNS, PositionColumns, the
# engine's Columns), the rows the adapters take out of the models (row_of), the stream state's
# legs (what it keeps of REST's position) and the ccxt parsing's venue fields derive from it.
# A field added here has a default (an older recording, a builder that does not know it, says
# none): every builder that does not name it gives that default, in the model and the column.
class Position(_Frozen):  # (no docstring: the snapshot schema would carry it)
    symbol: Annotated[str, Column("symbols")]  # unified ccxt symbol, e.g. BTC/USDT:USDT
    side: Annotated[Literal["long", "short"], Column("sides")]
    position_side: Annotated[Optional[Literal["LONG", "SHORT", "BOTH"]], Column("legs")] = None  # hedge mode leg
    contracts: Annotated[float, Field(ge=0), Column("contracts")]
    contract_size: float = Field(default=1.0, gt=0)
    notional: Annotated[float, Field(ge=0), Column("notional")]
    entry_price: Optional[float] = None
    mark_price: Annotated[float, Field(gt=0), Column("marks")]
    unrealized_pnl: Annotated[float, Column("upnl")]
    liquidation_price: Annotated[Optional[float], Column("liq")] = None
    margin: Annotated[Optional[float], Column("margin")] = None  # initial margin
    # the margin the venue requires to keep the position open (None: the venue does not say)
    maintenance_margin: Annotated[Optional[float], Column("maint_margin")] = None
    # the bot that holds it, when the adapter can tell (a column: the catalog of names reads it
    # every tick without making a model)
    strategy: Annotated[Optional[str], Column("strategies")] = None
    leverage: Optional[float] = None


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
    # who stamped ``ts_event``: the venue (its own time: a REST answer's, the stream's latest
    # ``E``) or the runner (our receipt time, where the venue gave none); None: not said, taken
    # as the runner's (an event's latency is never counted from a stamp nobody vouched for)
    ts_source: Optional[Literal["venue", "runner"]] = None
    equity: Optional[float] = None  # in the account's quote currency; None when unknown
    quote_currency: str = "USDT"
    balances: list[Balance] = []
    positions: list[Position] = []
    orders: list[Order] = []
    fetch: FetchStatus = FetchStatus()
    labels: dict[str, str] = {}
    markets: dict[str, MarketRules] = {}  # by symbol; absent symbols have no rounding rules
    initial_capital: Optional[float] = None  # from the Accounts document
    # the strategies the Accounts document declares on this account (None: not known, taken as
    # declaring every strategy: a scope listing strategies selects the account only if it declares one)
    strategies: Optional[tuple[str, ...]] = None
    stablecoins: list[str] = ["USDT", "USDC", "FDUSD", "DAI"]  # spot close_all keeps these
    books: dict[str, OrderBook] = {}  # by symbol: the top of the book of the positions being closed

    @field_serializer("positions", mode="wrap")
    def _positions_as_list(self, v: Any, handler: SerializerFunctionWrapHandler) -> Any:
        # positions an adapter made on reading (:class:`PositionsOnReading`) are dumped as the list they are
        return handler(v if isinstance(v, list) else list(v))


# --- positions as columns ----------------------------------------------------------------------------

# A field of Position marked Column → its column's attribute, in the declaration's order.
COLUMNS: Final[Mapping[str, str]] = MappingProxyType({
    name: m.name for name, f in Position.model_fields.items() for m in f.metadata if isinstance(m, Column)})
COLUMN_FIELDS: Final = tuple(COLUMNS)
_ATTRS: Final = tuple(COLUMNS.values())
# each column's default, its field's (none where the field is required)
_DEFAULTS: Final = {COLUMNS[name]: f.default for name, f in Position.model_fields.items()
                    if name in COLUMNS and not f.is_required()}
_SIDE, _LEG = _ATTRS.index("sides"), _ATTRS.index("legs")

row_of: Final[Callable[[Position], tuple[Any, ...]]] = attrgetter(*COLUMN_FIELDS)
"""A position's row: the values of its column fields, in the order of :data:`COLUMN_FIELDS`."""


def _side_keys(legs: list[Optional[str]], sides: list[str]) -> list[str]:
    """The hedge-mode leg where there is one, else the side (``sides`` itself when no position has a leg)."""
    return [x or s for x, s in zip(legs, sides)] if any(legs) else sides


class ColumnNames:
    """The columns the engine reads by name, typed (any other declared column is read by its
    field's name: ``column(field)``). ``side_keys`` is the hedge-mode leg where there is one,
    else the side: with the symbol, a position's identity in its account."""

    __slots__ = ()

    symbols: list[str]
    sides: list[str]
    legs: list[Optional[str]]
    contracts: list[float]
    notional: list[float]
    marks: list[float]
    upnl: list[float]
    liq: list[Optional[float]]
    margin: list[Optional[float]]
    side_keys: list[str]


class PositionColumns(ColumnNames):
    """The column fields of a list of positions (:data:`COLUMNS`), one list per field in the
    positions' order: what ``[p.symbol for p in positions]`` and so on would give, taken out by
    whoever built the positions while it had them at hand (an adapter), so that a tick reads no
    field of any position model (10,000 or 100,000 of them, scattered in memory, at 40–100 ns a
    field).

    Read-only: several snapshots' lists may share one (an adapter whose positions did not move).
    ``side_keys`` is the hedge-mode leg where there is one, else the side (it is ``sides``
    itself when no position has a leg)."""

    __slots__ = (*_ATTRS, "side_keys")

    def __init__(self, rows: list[tuple[Any, ...]]):
        """``rows``: one tuple per position, its fields in the order of :data:`COLUMN_FIELDS` (:data:`row_of`)."""
        columns: Iterable[list[Any]] = map(list, zip(*rows)) if rows else ([] for _ in _ATTRS)
        for attr, column in zip(_ATTRS, columns):
            setattr(self, attr, column)
        self.side_keys = _side_keys(self.legs, self.sides)

    @classmethod
    def of_columns(cls, side_keys: Optional[list[str]] = None, **columns: list[Any]) -> "PositionColumns":
        """The columns themselves, by their attributes' names (:data:`COLUMNS`), from an adapter
        that has its numbers as columns; they must all be as long. A column not given holds its
        field's default for every position (a required field's must be given); ``side_keys`` as
        :attr:`side_keys` says, made of the legs and sides when not given."""
        unknown = sorted(set(columns) - set(_ATTRS))
        if unknown:
            raise ValueError(f"not a position column: {', '.join(unknown)}")
        lengths = {len(c) for c in columns.values()} | ({len(side_keys)} if side_keys is not None else set())
        if len(lengths) > 1:
            raise ValueError("position columns of different lengths")
        n = lengths.pop() if lengths else 0
        c = cls.__new__(cls)
        for attr in _ATTRS:
            column = columns.get(attr)
            if column is None:
                if attr not in _DEFAULTS:
                    raise ValueError(f"position column {attr} missing (its field has no default)")
                column = [_DEFAULTS[attr]] * n
            setattr(c, attr, column)
        c.side_keys = side_keys if side_keys is not None else _side_keys(c.legs, c.sides)
        return c

    def patched(self, rows: Mapping[int, tuple[Any, ...]]) -> "PositionColumns":
        """These columns with the position at each index of ``rows`` replaced by that row (as
        :meth:`__init__` takes them); these stay as they are (they may be shared)."""
        c = PositionColumns.__new__(PositionColumns)
        columns = [list(getattr(self, attr)) for attr in _ATTRS]
        for i, row in rows.items():
            for column, value in zip(columns, row):
                column[i] = value
        for attr, column in zip(_ATTRS, columns):
            setattr(c, attr, column)
        if self.side_keys is not self.sides:
            keys = c.side_keys = list(self.side_keys)
            for i, row in rows.items():
                keys[i] = row[_LEG] or row[_SIDE]
        else:
            c.side_keys = _side_keys(c.legs, c.sides) if any(row[_LEG] for row in rows.values()) else c.sides
        return c

    def column(self, field: str) -> list[Any]:
        """The column of the declared field ``field`` (named as :class:`Position` names it)."""
        return getattr(self, COLUMNS[field])  # type: ignore[no-any-return]  # a list, as every column

    def __len__(self) -> int:
        return len(self.symbols)


class _Carrying(Sequence[Position]):
    """A snapshot's positions carrying their :class:`PositionColumns` (``columns``), read-only:
    what :class:`PositionList` and :class:`PositionsOnReading` share. To every reader it is the
    sequence of those positions: equal to the list of them, dumped as that list (the snapshot's
    serializer), copied, deep-copied and pickled as a :class:`PositionList`."""

    __slots__ = ()

    columns: Optional[PositionColumns]

    def _models(self) -> list[Position]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[Position]:
        return iter(self._models())

    def __reversed__(self) -> Iterator[Position]:
        return reversed(self._models())

    def __contains__(self, p: object) -> bool:
        return p in self._models()

    def index(self, p: Any, start: int = 0, stop: int = sys.maxsize) -> int:
        return self._models().index(p, start, stop)

    def count(self, p: Any) -> int:
        return self._models().count(p)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Carrying):
            return self._models() == other._models()
        if isinstance(other, list):
            return self._models() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # as a list's

    def __repr__(self) -> str:
        return repr(self._models())

    def __reduce__(self) -> tuple[Any, ...]:
        return PositionList, (list(self._models()), self.columns)


class PositionList(_Carrying):
    """A snapshot's positions, each model built, with their :class:`PositionColumns`
    (``columns``), made by the adapter that built them (the ccxt adapter, the stream state). A
    composition of the two, read-only, so that the columns always describe the positions it
    holds: a caller who wants another list of positions makes one (``list(positions)``). A
    snapshot validated anew holds a plain list, and the engine then reads the columns out of the
    positions itself.

    Not a ``list``: a list subclass must override every method that changes it (twelve) to drop
    its columns; this one has none to override, and a reader's iteration and ``len`` are the
    list's own C calls behind one call each."""

    __slots__ = ("_items", "columns")

    def __init__(self, positions: Iterable[Position] = (), columns: Optional[PositionColumns] = None):
        self._items: list[Position] = list(positions)
        self.columns = columns if columns is not None and len(columns) == len(self._items) else None

    @classmethod
    def of(cls, positions: Iterable[Position]) -> "PositionList":
        """``positions`` with their columns, read out of each position once (every column field
        together, just after the caller built them)."""
        out = cls(positions)
        out.columns = PositionColumns(list(map(row_of, out._items)))
        return out

    def _models(self) -> list[Position]:
        return self._items

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, i: SupportsIndex) -> Position: ...

    @overload
    def __getitem__(self, i: slice) -> list[Position]: ...

    def __getitem__(self, i: Union[SupportsIndex, slice]) -> Union[Position, list[Position]]:
        return self._items[i]


class PositionsOnReading(_Carrying):
    """A snapshot's positions held as their :class:`PositionColumns` (``columns``), each
    :class:`Position` made the first time it is read (``make(i)``, by the adapter that has the
    numbers) and kept: a tick reads the columns, and ten thousand models nobody reads are not
    built. It cannot be changed (there is no storage a C function could read around it: every
    read goes through it).

    Several snapshots may share the positions already made (``made``): an adapter whose numbers
    did not move hands out the same models."""

    __slots__ = ("columns", "_make", "_made")

    def __init__(self, columns: PositionColumns, make: Callable[[int], Position],
                 made: Optional[list[Optional[Position]]] = None):
        if made is not None and len(made) != len(columns):
            raise ValueError("positions made and columns of different lengths")
        self.columns: PositionColumns = columns
        self._make = make
        self._made: list[Optional[Position]] = made if made is not None else [None] * len(columns)

    def sharing(self) -> "PositionsOnReading":
        """Another sequence of the same positions, sharing the ones made and to be made."""
        return PositionsOnReading(self.columns, self._make, self._made)

    def __len__(self) -> int:
        return len(self._made)

    def _models(self) -> list[Position]:
        made = self._made
        # (``None in made`` would call a model's ``__eq__``, in Python, for every one made)
        if _NONE_TYPE in set(map(type, made)):
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
            return self._models()[i]
        made = self._made
        p = made[i]  # IndexError, TypeError as a list's
        if p is None:
            n = i.__index__()
            p = made[n] = self._make(n if n >= 0 else n + len(made))
        return p


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


def spot_holdings(s: Snapshot) -> list[tuple[str, Balance]]:
    """A spot account's holdings: (``ASSET/QUOTE``, its balance) of every asset it holds (a total
    above 0) but its quote currency and its stablecoins, in the balances' order; none for a
    futures account. What a ``close_all`` sells and what the venue watch holds to its size under
    a halt (a held base asset is a long leg: docs/exchanges.md)."""
    if s.market_type != "spot":
        return []
    keep = {*s.stablecoins, s.quote_currency}
    return [(f"{b.asset}/{s.quote_currency}", b) for b in s.balances if b.asset not in keep and b.total > 0]
