"""What every part of the ccxt adapter shares: the account's settings and parts, and its rows read.

What it owns
    * :class:`AdapterCore`, the base of :class:`~.adapter.CcxtAdapter`'s parts (:mod:`.snapshots`,
      :mod:`.streamed`, :mod:`.known`, :mod:`.orders`, :mod:`.cancels`): the attributes the
      adapter's constructor sets, declared here so that each part reads them typed — the
      account's settings, its ccxt client, the calls (budget, retries, deadline), the markets,
      the position mode, what the adapter knows of the account between snapshots and the
      private stream —, the call settings read as the constructor's options and the client's
      ``has`` flags;
    * the account's markets as the engine asks them (symbols, market rules, rounding);
    * reading the venue's rows (an order, a position) with the account's dialect and markets: a
      row it cannot read is BAD_RESPONSE naming the venue, the endpoint and the field, the
      venue's own where the dialect knows it (:func:`.dialects.base.bad_field`).

What it must not do
    reach the venue other than through the calls (:mod:`.calls`), tell venues apart (the
    dialect does), or raise a message that is not scrubbed (:func:`.errors.scrub`).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from killswitch.snapshot import Balance, MarketRules, Order, Position

from ..base import AdapterError, Reason
from ..credentials import Secret
from . import parsing
from .budget import OrderBudget
from .calls import Calls, Op
from .dialects import KNOWN_RAW_FIELDS
from .dialects.base import Dialect, Reads, bad_field, read_each
from .errors import scrub
from .markets import Markets
from .modes import AccountMode
from .parsing import BadData, BadField
from .streaming.stream import AccountStream


class AdapterCore:
    """The base of the adapter's parts: what :class:`~.adapter.CcxtAdapter`'s constructor sets
    (declared here), and what every part calls."""

    # the account, as its Accounts document says it
    venue: str
    account: str
    market_type: str
    hedge_mode: bool
    quote_currency: str
    labels: Optional[dict[str, str]]  # (always a dict here: the ExchangeAdapter protocol allows None)
    strategies: list[str]
    strategy_prefixes: dict[str, str]  # client order id prefix → its strategy
    stablecoins: list[str]
    settle_coins: tuple[str, ...]
    initial_capital: Optional[float]
    dialect: Dialect
    position_max_age_s: float
    open_orders_max_age_s: float
    # its ccxt client, the credentials handed to it, and the parts built over it
    _ex: Any
    _secret_values: list[Secret]
    _calls: Calls
    _markets: Markets
    _mode: AccountMode
    # what the adapter knows of the account between snapshots (:mod:`.known`, :mod:`.snapshots`)
    _positions: dict[tuple[str, str], Position]
    _margin_modes: dict[tuple[str, str], str]  # (symbol, long | short) → cross | isolated
    _positions_at: dict[str, float]  # symbol → monotonic time of its last fetch
    _sent_at: dict[str, float]  # symbol → monotonic time an order of ours on it was last sent
    _positions_all_at: Optional[float]  # monotonic time of the last fetch of all
    _holdings: dict[str, Balance]
    _holdings_at: Optional[float]
    _orders: dict[str, Order]
    _orders_at: Optional[float]  # monotonic time of the last list of every open order
    _watching_entries: bool  # a lock that cancels entries binds the account (wake_on_entries)
    _shed_factor: int  # the calm cadences' multiple under the runner's load (StreamedSnapshots.shed)
    _watch_list_due: bool  # the watch began and its first list of every open order has not been read
    _watch_deferral_said: bool
    watch_lists_deferred: int
    # the private stream, where the account streams (:mod:`.streamed`)
    _stream: Optional[AccountStream]

    # --- settings the calls run with ----------------------------------------------------------------

    @property
    def budget(self) -> OrderBudget:
        """The order budget every create and cancel of this account spends (a cancel, the
        cancel budget instead where the venue limits cancels apart: ``limits.cancels``)."""
        return self._calls.budget

    @budget.setter
    def budget(self, budget: OrderBudget) -> None:
        self._calls.budget = budget

    # the call settings live with the calls; read here as the constructor's option
    timeout = property(lambda self: self._calls.timeout)

    @property
    def _secrets(self) -> list[str]:
        return [s.reveal() for s in self._secret_values]

    def _has_method(self, name: str) -> bool:
        return callable(getattr(self._ex, name, None))

    def _has(self, name: str) -> bool:
        has = getattr(self._ex, "has", None) or {}
        return bool(has.get(name))

    # --- markets ---------------------------------------------------------------------------------------

    def symbols(self) -> Optional[frozenset[str]]:
        return self._markets.symbols()

    def strategy_names(self) -> frozenset[str]:
        return frozenset(self.strategies)

    def client_id_prefixes(self) -> dict[str, str]:
        return dict(self.strategy_prefixes)

    async def load_symbols(self) -> None:
        await self._calls.run("load_markets", self._markets.ensure)

    def market_rules(self, symbol: str) -> Optional[MarketRules]:
        """The rounding and minimum rules of a loaded market, or None when unknown."""
        return self._markets.rules(symbol)

    def round_amount(self, symbol: str, amount: float) -> float:
        """``amount`` rounded down to the market's step (ccxt ``amount_to_precision`` truncates);
        0.0 when nothing is left. Raises UNKNOWN_SYMBOL for a market that is not loaded."""
        return self._markets.round_amount(symbol, amount)

    # --- parsing with this account's dialect and markets -----------------------------------------------

    def _parse_position(self, p: Any) -> Optional[Position]:
        return parsing.parse_position(p, self._markets.get, KNOWN_RAW_FIELDS)

    def _parse_checked_position(self, p: Any) -> Optional[Position]:
        return self._parse_position(self.dialect.checked_position(p))

    def _parse_order(self, o: Any, kind: Optional[str] = None, price_trigger: bool = True) -> Order:
        return parsing.parse_order(o, KNOWN_RAW_FIELDS, self.strategy_prefixes, kind, price_trigger)

    def _reads(self, op: Op) -> Reads:
        """What the dialect's reads of this account are handed, within ``op``."""
        return Reads(call=self._calls.bind(op), has_method=self._has_method, symbol_of=self._markets.symbol_of,
                     market_type=self.market_type, settle_coins=self.settle_coins)

    async def _open_orders(self, op: Op, symbol: Optional[str] = None) -> list[Order]:
        """Every open order (of ``symbol``), every list of the venue's read (the dialect's)."""
        listed = await self.dialect.fetch_open_orders(self._reads(op), symbol)
        return [self._read_row("order", row.endpoint, self._parse_order, row.order, row.kind, row.price_trigger)
                for row in listed]

    def _read_row(self, what: str, endpoint: str, parse: Callable[..., Any], *args: Any) -> Any:
        """``parse(*args)`` of one row (an "order", a "position") of ``endpoint``'s answer; a row it
        cannot read is BAD_RESPONSE naming the venue, the endpoint and the field, the venue's
        own where the dialect knows it (:func:`.dialects.base.bad_field`)."""
        try:
            return parse(*args)
        except BadField as e:
            err = bad_field(self.venue, endpoint, self.dialect.field_name(what, e.field),
                            scrub(e.problem, self._secrets))
        except (BadData, ValueError) as e:
            err = AdapterError(Reason.BAD_RESPONSE, scrub(f"{self.venue} {endpoint}: {e}", self._secrets),
                               venue=self.venue)
        raise err

    def _read_positions(self, raw: Any) -> list[Position]:
        """The open positions of a positions answer, each row read by :meth:`_read_row`."""
        endpoint = self.dialect.positions_endpoint(self.market_type)
        parsed = (self._read_row("position", endpoint, self._parse_checked_position, x) for x in (raw or []))
        return [p for p in parsed if p is not None]

    async def _read_positions_yielding(self, raw: Any) -> list[Position]:
        """:meth:`_read_positions`, letting the event loop run every
        :data:`~.dialects.base.YIELD_EVERY` rows (a mark frame read, a wake)."""
        endpoint = self.dialect.positions_endpoint(self.market_type)
        return await read_each(list(raw or []),
                               lambda x: self._read_row("position", endpoint, self._parse_checked_position, x))

    def _parse_or_bad_response(self, what: str, parse: Callable[[], Any]) -> Any:
        """``parse()``, a structure it cannot read raised as BAD_RESPONSE (scrubbed, unchained)."""
        try:
            return parse()
        except (BadData, ValueError) as e:
            err = AdapterError(Reason.BAD_RESPONSE, scrub(f"{what}: {e}", self._secrets), venue=self.venue)
        raise err


__all__ = ["AdapterCore"]
