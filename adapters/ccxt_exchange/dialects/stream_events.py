"""What a dialect reads a stream frame into: the events the account stream applies.

What it owns: :class:`StreamEvent` (one event of a venue's stream), :class:`MarkRows` (an array
of marks as columns), :data:`STREAM_KIND` (where a dialect says an order's kind) and
:func:`flat_legs` (the held legs a push of the whole book leaves out). The dialects
make them (:mod:`.stream_hooks`, each venue's ``dialect.stream``); the stream's state applies them
(:mod:`adapters.ccxt_exchange.streaming.state`, which names them again for its readers). Here,
beside the dialects, so that a dialect needs nothing of the stream's room.

Pure data: no I/O, no import of the stream.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from typing import Any, NamedTuple, Optional

# The key of a stream's order structure (``StreamEvent.orders``) under which a dialect says the
# order's kind where its venue's frame says it; present and None: the frame does not say it
# (Hyperliquid's ``orderUpdates``), and the kind is the one known of that order, if any
STREAM_KIND = "ksKind"


class StreamEvent(NamedTuple):
    """One event of the venue's stream, read out of its raw frame by the dialect.

    ``key`` is what the venue orders its events by on one subscription (an account's updates,
    one order's, one symbol's marks on one stream), ``event_ms`` its event time, ``body`` the
    raw event (the same key, time and body again is a duplicate). What it says: ``positions``
    as (symbol, leg, side, contracts, entry price), ``wallets`` as (asset, wallet balance),
    ``orders`` as (id, the streaming client's order structure, None for one no longer open),
    ``marks`` as (symbol, price); ``kinds`` as (order id, kind, whether it triggers on a price)
    where the venue's own field says what an order is (Binance's algo service, Bybit's
    ``stopOrderType``): it is read as that kind, as its REST list reads it, never guessed from
    ccxt's unified fields; ``fills`` as the account's trades the frame tells
    (:class:`killswitch.fills.Fill`, no strategy: the adapter reads it off the client id), where
    the dialect reads them (:attr:`~.stream_hooks.StreamHooks.stream_fills`). A named tuple, not
    a frozen dataclass: an array of every symbol's mark makes one per row, every second, and a
    frozen dataclass takes ten times as long to make."""

    key: tuple
    event_ms: int
    body: Any
    positions: tuple[tuple[str, str, Optional[str], float, Optional[float]], ...] = ()
    wallets: tuple[tuple[str, float], ...] = ()
    orders: tuple[tuple[str, Any], ...] = ()
    marks: tuple[tuple[str, float], ...] = ()
    kinds: tuple[tuple[str, str, bool], ...] = ()
    fills: tuple[Any, ...] = ()


class MarkRows(NamedTuple):
    """An array of every symbol's mark (Binance's ``!markPrice@arr``) as columns: the rows of the
    symbols held, each with its event time and price. Columns, not a :class:`StreamEvent` per
    row: at 10,000 symbols a frame every second made 10,000 events, keys and tuples that lived
    through the frame's handling into the collector's oldest generation, and the full
    collections they set off (150 ms each) and the per-row objects (200 ms a frame) were most
    of the runner's time, the reaction waiting behind them."""

    symbols: list[str]
    times: list[int]
    prices: list[float]


def flat_legs(held: Optional[Container[str]], listed: Iterable[StreamEvent], at: int, body: Any,
              legs: tuple[str, ...] = ("BOTH",)) -> list[StreamEvent]:
    """The events, flat, of the held legs a push of the account's whole book (``listed``: its
    events) leaves out, of its time ``at``: every one of ``legs`` of a held symbol it does not
    list; of one it lists a hedge leg of, the other leg (a one-way leg is the symbol's only)."""
    if not isinstance(held, Iterable):
        return []
    seen: dict[str, set[str]] = {}
    for ev in listed:
        for p in ev.positions:
            seen.setdefault(p[0], set()).add(p[1])
    out = []
    for symbol in sorted(held):
        got = seen.get(symbol, set())
        flat = () if "BOTH" in got else tuple(x for x in ("LONG", "SHORT") if x not in got) if got else legs
        out.extend(StreamEvent(("position", symbol, leg), at, body, positions=((symbol, leg, None, 0.0, None),))
                   for leg in flat)
    return out


__all__ = ["MarkRows", "STREAM_KIND", "StreamEvent", "flat_legs"]
