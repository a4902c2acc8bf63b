"""What the streams of the venues whose websocket pushes rows by channel share
(``{"arg": {"channel": ...}, "data": [rows]}``: each read by the venue's own ``dialect.stream``).

What it owns
    * :class:`ChannelStream`, the stream hooks of a dialect that hands its frames to its venue's
      stream module (:class:`.stream_hooks.ModuleStream`), its order rows read as its lists
      read them, conditional orders watched on a channel of their own (``watch_orders`` with
      ``trigger``);
    * :func:`frame_kind`, what a frame is (an answer, a push of a channel, a refused login);
    * :func:`channel_events`, a push's rows each read by its channel's reader;
    * :func:`login_refused` and :func:`login_ended`, what an ``expired`` frame (the venue
      refused or dropped the socket's login) says;
    * :func:`mark_event`, a mark row's event (of a held symbol only, when ``held`` is given);
    * :func:`marks_watched`, the symbols whose marks a stream watches (a flat account: one
      heartbeat symbol's, so that a silent private stream still shows the connection delivers),
      and :func:`watch_in_chunks`, those watched a request's worth at a time.

What it must not do
    import ccxt, know a venue's channels or fields (the venue's module names them), or keep state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Container
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Optional

from .frames import FrameFields
from .stream_events import StreamEvent
from .stream_hooks import ModuleStream

# reads one row of a channel into its events: (channel, row, the push's context)
Reader = Callable[..., list[StreamEvent]]


def frame_kind(message: Any, login_errors: Container[str], kinds: Mapping[str, str], op_answers: bool = False) -> str:
    """What a frame is (see :meth:`.stream_hooks.StreamHooks.stream_message`): the text ``pong``
    and an ``event`` frame (login, subscribe, ..., an error that does not end the login) are
    answers, an ``error`` of ``login_errors`` is ``expired``; a push is its channel's kind in
    ``kinds`` (``marks``, ``state``, ``ok``), ``unknown`` of a channel not there; anything else
    is ``malformed`` — but, with ``op_answers``, an answer to a trade op (``op`` and ``data``)."""
    if isinstance(message, str):
        return "answer" if message == "pong" else "malformed"
    if not isinstance(message, Mapping):
        return "malformed"
    event = message.get("event")
    if event is not None:
        if event == "error" and str(message.get("code")) in login_errors:
            return "expired"
        return "answer"
    arg = message.get("arg")
    channel = arg.get("channel") if isinstance(arg, Mapping) else None
    if not isinstance(channel, str):
        return "answer" if op_answers and "op" in message and "data" in message else "malformed"
    return kinds.get(channel, "unknown")


def channel_events(frame: FrameFields, readers: Mapping[str, Reader], message: Any, ctx: Any) -> list[StreamEvent]:
    """The events of each row of a push (``data``) as its channel's reader reads them with
    ``ctx``; none of a channel without a reader. A ``data`` that is not a list of objects is
    BAD_RESPONSE naming the channel."""
    channel = str(message["arg"]["channel"])
    rows = frame.rows(channel, message.get("data"), "data")
    read = readers.get(channel)
    if read is None:
        return []
    out: list[StreamEvent] = []
    for row in rows:
        out.extend(read(channel, frame.row(channel, row, "data"), ctx))
    return out


def login_refused(venue: str, message: Any) -> tuple[str, str]:
    """``STREAM_LOGIN_REFUSED`` and the venue's code and words of an ``expired`` frame."""
    code = str(message.get("code")) if isinstance(message, Mapping) else "?"
    said = str(message.get("msg") or "") if isinstance(message, Mapping) else ""
    return "STREAM_LOGIN_REFUSED", f"{venue} refused or dropped the stream's login: {code} {said}".rstrip()


def login_ended(venue: str, what: str, message: Any, words: str) -> tuple[str, str]:
    """``STREAM_LOGIN_REFUSED`` and the venue's words (the frame's field ``words``) of an
    ``expired`` frame that refused or dropped ``what`` (the stream's login, its signed challenge)."""
    said = str(message.get(words) or "") if isinstance(message, Mapping) else ""
    return "STREAM_LOGIN_REFUSED", f"{venue} refused or dropped {what}: {said}".rstrip()


def mark_event(frame: FrameFields, channel: str, row: Mapping[str, Any], symbol_of: Callable[[str], str],
               held: Optional[Container[str]], price_field: str) -> list[StreamEvent]:
    """A mark row's event (its ``instId``'s symbol, ``price_field``, ``ts``), keyed by its
    symbol; none of a symbol not ``held`` (when given)."""
    symbol = symbol_of(frame.text(channel, row, "instId"))
    price = frame.number(channel, row, price_field)
    at = frame.number(channel, row, "ts")
    if held is not None and symbol not in held:
        return []
    return [StreamEvent(("mark", symbol), int(at), row, marks=((symbol, price),))]


def marks_watched(client: Any, held: frozenset[str], heartbeat: str) -> list[str]:
    """The symbols held, sorted; a flat account's: ``heartbeat`` where the client lists it, else
    its first linear swap's (a venue's private channels are silent while nothing happens, and a
    silent stream is blind: one mark says the connection delivers)."""
    symbols = sorted(held)
    if not symbols:
        markets = getattr(client, "markets", None) or {}
        symbols = [heartbeat if heartbeat in markets else
                   next((s for s, m in markets.items() if m.get("linear") and m.get("swap")), heartbeat)]
    return symbols


def watch_in_chunks(symbols: list[str], per_request: int,
                    watch: Callable[[list[str]], Awaitable[Any]]) -> Awaitable[Any]:
    """``watch`` of the symbols ``per_request`` at a time (a venue caps a subscription's size)."""
    chunks = [symbols[i:i + per_request] for i in range(0, len(symbols), per_request)]
    return asyncio.gather(*(watch(chunk) for chunk in chunks))


@dataclass(frozen=True, kw_only=True)
class ChannelStream(ModuleStream):
    """A dialect's stream read by its venue's module (:class:`.stream_hooks.ModuleStream`), the
    order rows read as the dialect reads its lists (:meth:`stream_order_rows`), conditional
    orders watched on a channel of their own."""

    def stream_order_rows(self) -> Any:
        """How the dialect reads an order row of its lists (the module's ``OrderRows``)."""
        raise NotImplementedError

    def stream_events(self, message: Any, symbol_of: Callable[[str], str], ccxt_order: Callable[[Any], Any],
                      held: Optional[Container[str]] = None) -> list[StreamEvent]:
        return list(self.stream_module.stream_events(message, symbol_of, ccxt_order, held, self.stream_order_rows()))

    def stream_watches(self) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        return super().stream_watches() + (("watch_orders", {"trigger": True}),)


__all__ = ["ChannelStream", "Reader", "channel_events", "frame_kind", "login_ended", "login_refused", "mark_event",
           "marks_watched", "watch_in_chunks"]
