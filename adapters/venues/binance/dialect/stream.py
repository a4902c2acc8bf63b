"""Binance's USDⓈ-M user-data stream as the account's stream reads it: the account, the orders, the marks.

What it owns
    what one frame of the USDⓈ-M user-data and mark price streams is and the events of those the
    stream reads: the account's updates (``ACCOUNT_UPDATE``: positions and wallets), the regular
    orders' (``ORDER_TRADE_UPDATE``), the algo service's conditional orders (``ALGO_UPDATE``) and
    the marks (``markPriceUpdate``, alone or in ``!markPrice@arr``'s array).

What it must not do
    import ccxt or hold account state (see :mod:`adapters.ccxt_exchange.dialects.base`).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any, Callable, Optional

from ....ccxt_exchange.dialects.frames import has_field
from ....ccxt_exchange.dialects.stream_events import MarkRows, StreamEvent
from ....ccxt_exchange.parsing import BadData, num
from .rows import ALGO_ORDER_KINDS

# The user-data events the stream reads, each with the fields it reads (a number where ``#``);
# events Binance documents that the adapter leaves to ccxt, or to the next REST reconcile
STREAM_EVENTS: Mapping[str, tuple[str, ...]] = {
    "ACCOUNT_UPDATE": ("E#", "a"), "ORDER_TRADE_UPDATE": ("E#", "o"), "ALGO_UPDATE": ("E#", "o"),
    "markPriceUpdate": ("E#", "s", "p#"),
}
STREAM_EVENTS_UNREAD = frozenset({"TRADE_LITE", "ACCOUNT_CONFIG_UPDATE", "MARGIN_CALL",
                                  "CONDITIONAL_ORDER_TRIGGER_REJECT", "GRID_UPDATE", "STRATEGY_UPDATE"})
# ALGO_UPDATE (https://developers.binance.com/docs/derivatives/usds-margined-futures/user-data-streams/
# Event-Algo-Order-Update): a conditional order of the algo service placed or changed, its fields
# read, and its algo status ``X``. NEW (placed, not triggered) and TRIGGERING (met its condition,
# being forwarded) are the algo service's open order; TRIGGERED (now an order of the matching
# engine, which ORDER_TRADE_UPDATE tells of under its own id, ``ai``), FINISHED, CANCELED,
# REJECTED and EXPIRED end it. Any other status, or an order type the algo list does not
# document, is malformed: never an order read with a guess.
ALGO_FIELDS = ("s", "aid", "X", "S", "o")
ALGO_OPEN = frozenset({"NEW", "TRIGGERING"})
ALGO_ENDED = frozenset({"TRIGGERED", "FINISHED", "CANCELED", "REJECTED", "EXPIRED"})


def _marks_array(message: list) -> str:
    """``!markPrice@arr``: ``marks`` when every row is a mark, else what its worst row is."""
    if all(type(m) is dict and m.get("e") == "markPriceUpdate" for m in message):
        return "marks"
    kinds = {stream_message(m) for m in message}
    return next((k for k in ("malformed", "unknown") if k in kinds), "marks")


def stream_message(message: Any) -> str:
    """What a frame is (:meth:`adapters.ccxt_exchange.dialects.stream_hooks.StreamHooks.stream_message`).
    A subscription's answer (an ``id`` or a ``result``, no event) is no sign that data flows. The
    rows of ``!markPrice@arr`` (every symbol, every second) are only seen to be marks here; the
    fields of those the stream reads are checked as it reads them (:func:`stream_events`)."""
    if isinstance(message, list):  # ``!markPrice@arr``: every row a mark
        return _marks_array(message)
    if not isinstance(message, Mapping):
        return "malformed"
    event = message.get("e")
    if event is None:
        return "answer" if "id" in message or "result" in message else "unknown"
    if event == "listenKeyExpired":
        return "expired"
    if event in STREAM_EVENTS_UNREAD:
        return "ok"
    fields = STREAM_EVENTS.get(event) if isinstance(event, str) else None
    if fields is None:
        return "unknown"
    if not all(has_field(message, f) for f in fields):
        return "malformed"
    if event == "markPriceUpdate":
        return "marks"
    if event == "ACCOUNT_UPDATE":
        data = message["a"]
        rows = (data.get("B"), data.get("P")) if isinstance(data, Mapping) else (None, None)
        wanted = (("a", "wb#"), ("s", "pa#", "ps"))
        if not all(isinstance(r, list) and all(isinstance(x, Mapping) and all(has_field(x, f) for f in w) for x in r)
                   for r, w in zip(rows, wanted)):
            return "malformed"
    if event == "ORDER_TRADE_UPDATE":
        order = message["o"]
        if not isinstance(order, Mapping) or not all(has_field(order, f) for f in ("s", "i", "X", "S", "T#")):
            return "malformed"
    if event == "ALGO_UPDATE":
        order = message["o"]
        if not isinstance(order, Mapping) or not all(has_field(order, f) for f in ALGO_FIELDS) \
                or str(order["X"]) not in ALGO_OPEN | ALGO_ENDED or str(order["o"]) not in ALGO_ORDER_KINDS:
            return "malformed"
    return "ok"


def stream_events(message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                  held: Optional[Container[str]] = None) -> list[StreamEvent]:
    """The events of a classified ``ok`` message, each at its ``E``. A mark is keyed by whether it
    came alone or in ``!markPrice@arr``'s array: the same mark comes by both where both are
    subscribed. Of an array, only the rows of the symbols ``held`` (all when None) are read."""
    if isinstance(message, list):
        if held is None:
            return [_mark_event(m, symbol_of, "marks") for m in message if isinstance(m, Mapping)]
        out = []
        for m in message:  # (every symbol, every second: no more per row than a held one needs)
            if (symbol := symbol_of(str(m.get("s")))) in held:
                out.append(StreamEvent(("marks", symbol), int(_fast_number(m.get("E"))), m, (), (), (),
                                       ((symbol, _fast_number(m.get("p"))),)))
        return out
    if not isinstance(message, Mapping):
        return []
    event, at = message.get("e"), num(message.get("E"))
    if at is None:
        return []
    if event == "markPriceUpdate":
        return [_mark_event(message, symbol_of, "mark")]
    if event == "ACCOUNT_UPDATE":
        data = message["a"]
        positions = []
        for row in data.get("P") or ():
            amount, leg = _number(row["pa"]), str(row["ps"]).upper()
            side = leg.lower() if leg in ("LONG", "SHORT") else \
                "long" if amount > 0 else "short" if amount < 0 else None
            positions.append((symbol_of(str(row["s"])), leg, side, abs(amount), num(row.get("ep")) or None))
        wallets = tuple((str(row["a"]), _number(row["wb"])) for row in data.get("B") or ())
        return [StreamEvent(("account",), int(at), message, positions=tuple(positions), wallets=wallets)]
    if event == "ORDER_TRADE_UPDATE":
        order, oid = message["o"], str(message["o"]["i"])
        return [StreamEvent(("order", oid), int(at), message, orders=((oid, ccxt_order(order)),))]
    if event == "ALGO_UPDATE":
        return [algo_event(message, int(at), ccxt_order)]
    return []


def algo_event(message: Mapping[str, Any], at: int, ccxt_order: Callable[[Any], Any]) -> StreamEvent:
    """An ``ALGO_UPDATE``, keyed by its algo id apart from the regular orders' updates (the algo
    service stamps its own); ccxt's streaming parser takes ``aid`` for the id, ``tp`` for the
    trigger price and ``caid`` for the client id. Its kind as ``openAlgoOrders`` reads it."""
    order = message["o"]
    aid = str(order["aid"])
    kind = ALGO_ORDER_KINDS[str(order["o"])]
    parsed = ccxt_order(dict(order)) if str(order["X"]) in ALGO_OPEN else None
    return StreamEvent(("algo", aid), at, message, orders=((aid, parsed),), kinds=((aid, kind, True),))


def stream_mark_rows(message: Any, symbol_of: Callable[[str], str],
                     held: Optional[Container[str]] = None) -> Optional[MarkRows]:
    """``!markPrice@arr``'s array as columns, of the rows whose symbol is ``held`` (None: all)."""
    if not isinstance(message, list):
        return None
    symbols: list[str] = []
    times: list[int] = []
    prices: list[float] = []
    for m in message:  # (every symbol, every second: no more per row than a held one needs)
        symbol = symbol_of(str(m.get("s")))
        if held is None or symbol in held:
            symbols.append(symbol)
            times.append(int(_fast_number(m.get("E"))))
            prices.append(_fast_number(m.get("p")))
    return MarkRows(symbols, times, prices)


def _mark_event(row: Mapping[str, Any], symbol_of: Callable[[str], str], source: str) -> StreamEvent:
    symbol = symbol_of(str(row["s"]))
    return StreamEvent((source, symbol), int(_number(row["E"])), row, marks=((symbol, _number(row["p"])),))


def _fast_number(value: Any) -> float:
    """:func:`_number` of a field that is a number or its text (the common case: no more checks)."""
    t = type(value)
    if t is str or t is int or t is float:
        try:
            f = float(value)
        except ValueError:
            raise BadData(f"not a number: {str(value)[:20]!r}") from None
        if f - f == 0.0:  # finite
            return f
    return _number(value)


def _number(value: Any) -> float:
    """A field :func:`stream_message` found a number (raises on a row that slipped past it)."""
    n = num(value)
    if n is None:
        raise BadData(f"not a number: {str(value)[:20]!r}")
    return n
