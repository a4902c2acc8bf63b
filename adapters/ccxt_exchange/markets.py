"""One account's markets: loaded once, listed, and the rounding every order goes through.

What it owns
    * loading the venue's markets once per client (concurrent operations wait for one load);
    * the unified symbols of the account's market type (what a bot may trade there);
    * a market's rules, an order amount rounded *down* to the market's step (ccxt
      ``amount_to_precision``, i.e. TRUNCATE), and a limit price put on the tick towards the
      protected side;
    * the prices that value a spot account's holdings (tickers of ASSET/QUOTE).

What it must not do
    round an amount up, loosen a protected price, or import ccxt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Awaitable, Callable, Iterable, Optional

from killswitch.snapshot import MarketRules

from ..base import AdapterError, Reason
from . import parsing
from .calls import Calls, Op
from .errors import reason_for

# a dialect's own read of spot prices: the symbols → symbol → last price, or None (ccxt's tickers)
PriceRead = Callable[[list[str]], Awaitable[Optional[Mapping[str, float]]]]


class Markets:
    """The markets of ``client`` (a ccxt client), read through ``calls``."""

    def __init__(self, client: Any, calls: Calls, *, venue: str, market_type: str):
        self._ex = client
        self._calls = calls
        self.venue = venue
        self.market_type = market_type
        self.loaded = False
        self._lock = asyncio.Lock()
        self._symbols: Optional[frozenset[str]] = None  # built from the loaded markets on first use
        self._by_id: dict[str, str] = {}  # venue market id → unified symbol, as looked up
        self._rules: dict[str, MarketRules] = {}  # symbol → its rules, as looked up

    async def ensure(self, op: Op) -> None:
        if self.loaded:
            return
        async with self._lock:
            if not self.loaded:
                await self._calls.call(op, "load_markets")
                self.loaded = True

    def symbols(self) -> Optional[frozenset[str]]:
        """The unified symbols of the loaded markets of this account's type (swaps for futures,
        spot pairs for spot); None until the markets are loaded."""
        if not self.loaded:
            return None
        if self._symbols is None:
            markets = getattr(self._ex, "markets", None) or {}
            futures = self.market_type == "futures"
            self._symbols = frozenset(
                k for k, m in markets.items() if isinstance(k, str) and isinstance(m, Mapping)
                and (bool(m.get("swap") or m.get("future")) if futures else bool(m.get("spot"))))
        return self._symbols

    def symbol_of(self, market_id: str) -> str:
        """The unified symbol of a venue's market id — its contract market where the id names
        several (``binance``: BTCUSDT is spot and swap) — or the id itself when unknown (as ccxt's
        ``safe_symbol``)."""
        known = self._by_id.get(market_id)
        if known is not None:
            return known
        found = (getattr(self._ex, "markets_by_id", None) or {}).get(market_id) or []
        markets = [m for m in found if isinstance(m, Mapping) and isinstance(m.get("symbol"), str)]
        chosen = next((m for m in markets if m.get("contract")), markets[0] if len(markets) == 1 else None)
        symbol = chosen["symbol"] if chosen is not None else market_id
        if self.loaded:
            self._by_id[market_id] = symbol
        return symbol

    def get(self, symbol: str) -> Optional[Mapping[str, Any]]:
        markets = getattr(self._ex, "markets", None) or {}
        m = markets.get(symbol) if isinstance(markets, Mapping) else None
        return m if isinstance(m, Mapping) else None

    def require(self, symbol: str) -> Mapping[str, Any]:
        m = self.get(symbol)
        if m is None:
            raise AdapterError(Reason.UNKNOWN_SYMBOL, f"{symbol} is not a market of {self.venue}", venue=self.venue)
        return m

    def _precision_mode(self) -> int:
        return int(getattr(self._ex, "precisionMode", 4) or 4)

    def rules(self, symbol: str) -> Optional[MarketRules]:
        """The rounding and minimum rules of a loaded market, or None when unknown (built once per
        symbol: markets are loaded once)."""
        known = self._rules.get(symbol)
        if known is not None:
            return known
        m = self.get(symbol)
        if m is None:
            return None
        rules = parsing.market_rules(m, self._precision_mode())
        if self.loaded:
            self._rules[symbol] = rules
        return rules

    def round_amount(self, symbol: str, amount: float) -> float:
        """``amount`` rounded down to the market's step (ccxt ``amount_to_precision`` truncates, but
        for a venue whose ccxt rounds to the nearest: then the step below);
        0.0 when nothing is left. Raises UNKNOWN_SYMBOL for a market that is not loaded."""
        m = self.require(symbol)
        step = parsing.step_of((m.get("precision") or {}).get("amount"), self._precision_mode())
        to_precision = getattr(self._ex, "amount_to_precision", None)
        if to_precision is not None:
            try:
                rounded = float(to_precision(symbol, amount))
                # ccxt's hyperliquid rounds to the nearest step: never more than was asked
                return parsing.round_to_step(amount, step, up=False) if rounded > amount and step else rounded
            except Exception as e:  # noqa: BLE001
                if reason_for(e) is Reason.INVALID_ORDER:  # ccxt: the result would be 0
                    return 0.0
                err = self._calls.error(e, "amount_to_precision")
            raise err
        return parsing.round_to_step(amount, step, up=False)

    def protected_price(self, symbol: str, price: float, side: str) -> float:
        """The limit price on the market's tick, rounded towards the protected side: a sell's
        floor up, a buy's ceiling down — never looser than the slippage cap."""
        m = self.require(symbol)
        step = parsing.step_of((m.get("precision") or {}).get("price"), self._precision_mode())
        if step:
            return parsing.round_to_step(price, step, up=(side == "sell"))
        to_precision = getattr(self._ex, "price_to_precision", None)
        return float(to_precision(symbol, price)) if to_precision else price

    async def spot_prices(self, op: Op, held: Iterable[str], quote: str, stablecoins: Iterable[str],
                          read: Optional[PriceRead] = None) -> dict[str, float]:
        """Last price in ``quote`` of every ``held`` asset: 1 for the quote itself, the ticker of
        ASSET/QUOTE when that market exists, 1 for a stablecoin without one; assets without a
        price are left unvalued (and out of equity). ``read``: the dialect's own read of the
        symbols' prices (None, or its answer None: ccxt's tickers)."""
        stablecoins = set(stablecoins)
        prices: dict[str, float] = {}
        symbols = []
        for a in held:
            if a == quote:
                prices[a] = 1.0
            elif self.get(f"{a}/{quote}") is not None:
                symbols.append(f"{a}/{quote}")
            elif a in stablecoins:
                prices[a] = 1.0
        own = await read(symbols) if symbols and read is not None else None
        if own is not None:
            for s, last in own.items():
                if s in symbols and last > 0:
                    prices[s.split("/", 1)[0]] = last
        elif symbols:
            if (getattr(self._ex, "has", None) or {}).get("fetchTickers"):
                tickers = await self._calls.call(op, "fetch_tickers", symbols)
            else:
                got = await self._calls.gather(*(self._calls.call(op, "fetch_ticker", s) for s in symbols))
                tickers = {s: t for s, t in zip(symbols, got)}
            for s in symbols:
                t = (tickers or {}).get(s) if isinstance(tickers, Mapping) else None
                price = parsing.ticker_price(t)
                if price is not None:
                    prices[s.split("/", 1)[0]] = price
        return prices
