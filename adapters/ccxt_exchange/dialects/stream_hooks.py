"""What a dialect says of its venue's private stream (ccxt's streaming API): the hooks the stream
(:mod:`..streaming.stream`) asks of a streaming dialect, with their defaults (Binance USDⓈ-M's shapes).

What it owns: :class:`StreamHooks`, the base of :class:`~.base.Dialect` that holds whether a
venue streams, how a raw frame reads (its kind, its events, its array of marks, its time), what
the venue's end of an authorization says and which watches keep the subscriptions open; and
:class:`ModuleStream`, those hooks read from the venue's stream module.

What it must not do: import ccxt, or read a frame of a venue (each venue's module does).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Awaitable, Callable, ClassVar, Container, Mapping, Optional, cast

from .cancel_hooks import Call
from .listed import Listed
from .stream_events import MarkRows, StreamEvent

EVERY = "*"  # what a refused subscription of every symbol's marks leaves unstreamed (stream_refused)


@dataclass(frozen=True, kw_only=True)
class StreamHooks:
    """A dialect's stream: off by default (polled over REST); a streaming venue overrides."""

    # Whether the adapter keeps this venue's accounts from ccxt's streaming API (``ccxt.pro``:
    # positions, balance, orders and marks watched, :mod:`..streaming.stream`); False: polled over REST
    streams: bool = False

    # Whether the stream tells each of the account's trades (``StreamEvent.fills``): then a read
    # of a symbol's trades is answered from one REST read and the trades the stream told after
    # it, while the stream stays whole (:mod:`..fills`); False: each read is the venue's REST one
    stream_fills: bool = False

    # Whether the marks come on a public subscription that every account on the venue may share
    # (one connection reads them for all, :mod:`..streaming.hub`); False where they come in the
    # account's own private frames (Hyperliquid's clearinghouse state)
    stream_marks_shared: bool = True

    # the streaming client's method that reads a raw order row of the stream
    stream_order_parser: str = "parse_ws_order"
    # the asset the stream's wallet events give the account's equity in, where the venue has one
    # whatever the account declares as its quote (Hyperliquid: USDC); None: the account's quote
    stream_quote: Optional[str] = None

    def streams_for(self, market_type: str) -> bool:
        """Whether an account of ``market_type`` streams: :attr:`streams`, unless the venue's
        stream serves another market type than the account's."""
        return self.streams

    def stream_fills_for(self, market_type: str) -> bool:
        """Whether an account of ``market_type``'s stream tells its trades: :attr:`stream_fills`,
        unless the venue's stream tells them for one market type only (MEXC: spot's deals)."""
        return self.stream_fills

    def watch_marks(self, client: Any, held: frozenset[str]) -> Awaitable[Any]:
        """The streaming client's watch that subscribes the marks of ``held`` (the symbols of
        the positions held), awaited again when they change; its frames are read raw (``marks``
        of :meth:`stream_message`). The default: every symbol's mark (``watch_mark_prices``)."""
        return client.watch_mark_prices()

    def stream_message(self, message: Any) -> str:
        """What one raw message of the venue's private or public stream is, before ccxt reads it:
        ``ok`` (ccxt may have it), ``answer`` (ccxt may have it, but it is the venue's answer to
        a request of the connection, such as a subscription: no sign that the stream delivers —
        a stalled stream answers its subscriptions all the same), ``marks`` (marks only: the
        stream reads them, ccxt never has them — its ticker parsing of every symbol's mark every
        second is the cost the stream avoids), ``state`` (the account's whole state — every
        position, the equity — read by the stream's events, never handed to ccxt, whose parsing
        of it would cost a frame's worth of rows again), ``expired`` (the venue ended
        the stream's authorization), ``refused`` (the venue refused a subscription of marks:
        :meth:`stream_refused` names whose),
        ``unknown`` (an event the adapter does not read) or ``malformed`` (an event it reads
        without what it reads of it). Only a streaming dialect is asked."""
        return "ok"

    def stream_decode(self, client: Any, message: bytes) -> Any:
        """A binary frame of the venue's stream (its protobuf: MEXC spot's), read before any other
        hook sees it, with the streaming client ``client``'s own decoder (the dialect imports no
        ccxt); raises where it cannot be read (the stream drops it, counted malformed). The
        default: the frame as it came (a venue whose frames are JSON sends no binary one)."""
        return message

    def stream_problem(self, message: Any) -> Optional[str]:
        """What is wrong with a ``malformed`` message, naming its channel and field
        (``BAD_RESPONSE: ... channel ...: field ...: missing``), for the stream's log of what it
        dropped; None where the dialect does not say."""
        return None

    def stream_events(self, message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                      held: Optional[Container[str]] = None) -> list[StreamEvent]:
        """The events of one raw ``ok`` message that the stream state reads (positions,
        wallets, orders, marks), each with the key the venue orders it by: the stream applies
        every frame the socket delivers, not the one frame a ccxt watch resolves with (the
        others reach ccxt's cache only). ``symbol_of`` maps a market id to its symbol,
        ``ccxt_order`` a raw order row to the streaming client's order structure; ``held`` the
        symbols whose marks are read (None: all), so that an array of every symbol's mark costs
        only the rows of the positions held. Only a streaming dialect is asked; a message it
        does not read gives none."""
        return []

    def stream_reader(self, hedge: Callable[[], Optional[bool]]) -> Callable[..., list[StreamEvent]]:
        """What reads one account's frames into events (:meth:`stream_events`' arguments):
        :meth:`stream_events` itself, unless a venue's frames leave out what the account's
        position mode says (MEXC's position pushes: their leg), which ``hedge()`` gives (the
        venue's mode as the adapter last read it; None: not read)."""
        return self.stream_events

    def stream_mark_rows(self, message: Any, symbol_of: Callable[[str], str],
                         held: Optional[Container[str]] = None) -> Optional[MarkRows]:
        """An array of every symbol's mark (a ``marks`` message) as columns, of the rows whose
        symbol is in ``held`` (None: all); None where the message is not such an array (its
        events are :meth:`stream_events`'). Raises on a row it reads without a number where it
        reads one (the array is malformed). Only a streaming dialect is asked."""
        return None

    def stream_refused(self, message: Any, symbol_of: Callable[[str], str]) -> Optional[str]:
        """The symbol whose marks a ``refused`` message leaves unstreamed (:data:`EVERY`: every
        symbol's, a refused subscription of them all); the stream says so
        (STREAM_MARKS_REFUSED) and reads REST while a symbol held is one. Only a dialect whose
        ``stream_message`` says ``refused`` is asked."""
        return None

    def stream_ended(self, message: Any) -> tuple[str, str]:
        """The reason code and the venue's own words of an ``expired`` message (the venue ended
        the stream's authorization): Binance's listen key expired by default. Only a streaming
        dialect is asked."""
        return "LISTEN_KEY_EXPIRED", "the stream's listen key expired"

    def stream_watches(self) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        """The streaming client's watches (method, parameters) that keep the private
        subscriptions open (their answers are not read: the frames are): positions, balance and
        orders by default; a venue that keeps conditional orders on a channel of their own
        watches that too (OKX's ``orders-algo``: ``watch_orders`` with ``trigger``)."""
        return (("watch_positions", {}), ("watch_balance", {}), ("watch_orders", {}))

    def stream_watches_for(self, market_type: str) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        """The watches of an account of ``market_type``: :meth:`stream_watches`, unless the venue
        subscribes another market type's channels apart (MEXC spot's deals)."""
        return self.stream_watches()

    async def stream_order_kind(self, call: Call, order_id: str, symbol: str) -> Optional[Listed]:
        """One open order whose kind the stream's frame does not say (``STREAM_KIND`` None) and
        the stream never knew, asked of the venue at once by its id: the order as the venue's
        list of open orders reads it (its kind, trigger price, reduce-only flag), None where the
        venue does not know the order; raises where the venue's answer cannot be had or read.
        The stream asks only where a dialect overrides this (the adapter tests the override);
        without one, the order stays in doubt until a REST list names it (the default). Only a
        streaming dialect whose frames may leave out an order's kind is asked."""
        return None

    def stream_time(self, message: Any) -> Optional[int]:
        """The venue's event time (UTC ms, its clock) of one classified ``ok`` or ``marks``
        message, None where it carries none: what the stream's snapshot is stamped with
        (``ts_event``, as a REST snapshot is stamped with the venue's time), read from every
        message, also an array of marks none of whose rows is held."""
        return None


@dataclass(frozen=True, kw_only=True)
class ModuleStream(StreamHooks):
    """A dialect's stream read by its venue's stream module (``stream_module``; mixed in before
    :class:`~.base.Dialect`): each hook below is the module's function of that name, handed the
    hook's arguments, where the module has one; else :class:`StreamHooks`' default."""

    stream_module: ClassVar[ModuleType]

    def _hook(self, name: str) -> Callable[..., Any]:
        return cast(Callable[..., Any], getattr(self.stream_module, name, None) or getattr(super(), name))

    def stream_message(self, message: Any) -> str:
        return str(self._hook("stream_message")(message))

    def stream_problem(self, message: Any) -> Optional[str]:
        return cast(Optional[str], self._hook("stream_problem")(message))

    def stream_decode(self, client: Any, message: bytes) -> Any:
        return self._hook("stream_decode")(client, message)

    def stream_events(self, message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                      held: Optional[Container[str]] = None) -> list[StreamEvent]:
        return list(self._hook("stream_events")(message, symbol_of, ccxt_order, held))

    def stream_mark_rows(self, message: Any, symbol_of: Callable[[str], str],
                         held: Optional[Container[str]] = None) -> Optional[MarkRows]:
        return cast(Optional[MarkRows], self._hook("stream_mark_rows")(message, symbol_of, held))

    def stream_time(self, message: Any) -> Optional[int]:
        return cast(Optional[int], self._hook("stream_time")(message))

    def stream_ended(self, message: Any) -> tuple[str, str]:
        return cast(tuple[str, str], self._hook("stream_ended")(message))

    def stream_refused(self, message: Any, symbol_of: Callable[[str], str]) -> Optional[str]:
        return cast(Optional[str], self._hook("stream_refused")(message, symbol_of))

    def watch_marks(self, client: Any, held: frozenset[str]) -> Awaitable[Any]:
        return cast(Awaitable[Any], self._hook("watch_marks")(client, held))


__all__ = ["EVERY", "ModuleStream", "StreamHooks"]
