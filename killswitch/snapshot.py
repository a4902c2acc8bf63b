"""The snapshot: what one account looked like at one moment, as the engine sees it.

Adapters (ccxt, simulated) produce snapshots; the runner adds the order books of the
positions a close is planned for (:class:`OrderBook`, in ``books``); the engine reads them; a
JSONL stream of them is the replay format. Times are UTC milliseconds since the epoch: ``ts_event`` is when the venue
says the state held, ``ts_observed`` when we received it. A failed fetch is still a snapshot,
with ``fetch.ok = false`` and its error, so that missing data is a signal, never a silent gap.

Pure data: no I/O.
"""

from __future__ import annotations

from typing import Final, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

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


class Order(_Frozen):
    id: str
    client_id: Optional[str] = None
    symbol: str
    side: Literal["buy", "sell"]
    type: str  # limit, market, stop_market, take_profit_market, ...
    reduce_only: bool = False
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


def base_asset(symbol: str) -> str:
    """``BTC/USDT:USDT`` → ``BTC``."""
    return symbol.split("/", 1)[0]
