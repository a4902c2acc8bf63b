"""What the adapter knows of the account's positions and holdings between snapshots, and when it reads them again.

What it owns
    * the position a close is checked against (:func:`adapters.base.check_close`): the last
      snapshot's, read again for its symbol when unknown, older than ``position_max_age_s``, or
      when a live private stream holds less of its leg since (a fill the adapter did not send);
      where cancels left several symbols' positions unknown together (a halt's), one read of
      every position reads them all (:data:`STALE_TOGETHER`), not one request a symbol against
      the venue's limit of that endpoint;
    * a spot sell's holding, read again when older than ``position_max_age_s`` or moved on a live
      stream since, but where that stream and the holding known both cover the sale;
    * what is taken off them as orders are sent (what filled, and what may still fill while an
      order rests, so that chunks never add up beyond the position), and what is known no longer
      once orders were cancelled or an order's outcome is unknown.

What it must not do
    send or cancel an order (:mod:`.orders`, :mod:`.cancels` do, and tell it what they did).
"""

from __future__ import annotations

import math
import time
from typing import Mapping, Optional

from killswitch.orders import OrderIntent
from killswitch.snapshot import Position

from ..base import AdapterError, OrderResult, Reason
from . import parsing
from .calls import Op
from .core import AdapterCore

# this many symbols or more whose positions cancels made unknown (:meth:`KnownPositions._released`)
# are read again by one read of every position, not a request each (OKX takes 10 reads of its
# positions every 2 s, Bitget 5 a second: a halt's closes over many symbols would wait on them)
STALE_TOGETHER = 3


class KnownPositions(AdapterCore):
    """The positions and holdings orders are checked against (a part of
    :class:`~.adapter.CcxtAdapter`)."""

    async def _known_position(self, op: Op, symbol: str, leg: str) -> Optional[Position]:
        streamed = self._streamed_leg(symbol, leg)
        if streamed is not None:
            return streamed
        at = self._positions_at.get(symbol, self._positions_all_at)
        fresh = at is not None and time.monotonic() - at <= self.position_max_age_s
        if not fresh or self._stream_holds_less(symbol, leg):
            await self._refresh_positions(op, symbol)
        return self._positions.get((symbol, leg))

    def _streamed_leg(self, symbol: str, leg: str) -> Optional[Position]:
        """The leg as a live, confirmed private stream holds it now — what the snapshot the close
        was planned from said — where nothing was sent on ``symbol`` since its last REST read
        (a close of ours whose fill has not come back would still be in the stream's size: then
        the known position, less what was sent, checks the close). None: no such stream, or it
        holds no such leg (a REST read decides, as without a stream). A close after a fill the
        runner did not send (a rogue bot's growth, an event's position) is then checked against
        the position the venue pushed, at once: neither refused against the smaller one read
        before (CLOSE_EXCEEDS_POSITION) nor queued behind a REST read of it."""
        s = self._stream
        if s is None or s.position_changed(symbol) is None:
            return None
        read_at = self._positions_at.get(symbol, self._positions_all_at)
        if read_at is None or self._sent_at.get(symbol, -math.inf) >= read_at or not s.health().answers:
            return None
        known = self._positions.get((symbol, leg))
        held = s.position_of(symbol, leg)
        if not held or held <= 0:
            return None
        if known is None or not known.contracts:  # opened, or flipped from the other side, since the read
            made = s.made_position(symbol, leg)
            if made is None or abs(made.contracts - held) > held * 1e-9:
                return None
            self._positions[(symbol, leg)] = made  # what the closes sent now are taken off
            return made
        if held == known.contracts:
            return known
        return known.model_copy(update={"contracts": held, "notional": known.notional * held / known.contracts})

    def _stream_holds_less(self, symbol: str, leg: str) -> bool:
        """Whether a live stream changed ``symbol``'s position and now holds less of ``leg``
        than this adapter knows (a fill it did not send, since the last read): the close is then
        checked against a fresh read, never larger than the position. (More, as when its own
        close's fill has not come back yet, is no danger: the smaller known one checks it.)"""
        s = self._stream
        if s is None or s.position_changed(symbol) is None or s.health().state != "live":
            return False
        known = self._positions.get((symbol, leg))
        held = s.position_of(symbol, leg)
        return held is not None and known is not None and held < known.contracts * (1 - 1e-9)

    async def _refresh_positions(self, op: Op, symbol: str) -> None:
        """``symbol``'s positions read afresh; with it every symbol cancels left unknown, by one
        read of every position, where they are :data:`STALE_TOGETHER` or more (a list the venue
        pages and the read could not finish falls back to ``symbol``'s own read)."""
        if not self._has("fetchPositions"):
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue} cannot report positions", venue=self.venue)
        stale = {s for s, at in self._positions_at.items() if at == -math.inf} | {symbol}
        raw, symbols = None, {symbol}
        if len(stale) >= STALE_TOGETHER:
            try:
                raw, symbols = await self.dialect.fetch_positions(self._reads(op)), stale
            except AdapterError as e:
                if e.reason is not Reason.LIST_INCOMPLETE:
                    raise
        if raw is None:
            raw = await self.dialect.fetch_symbol_positions(self._reads(op), symbol)
        parsed = self._read_positions(raw)
        for key in [k for k in self._positions if k[0] in symbols]:
            del self._positions[key]
        for p in parsed:
            if p.symbol in symbols:
                self._positions[(p.symbol, p.side)] = p
        self._margin_modes.update({k: m for k, m in parsing.margin_modes(raw).items() if k[0] in symbols})
        now = time.monotonic()
        for s in symbols:
            self._positions_at[s] = now

    def _released(self, symbols: set[str]) -> None:
        """Orders of ``symbols`` were cancelled (or tried): what :meth:`_after_send` took off the
        known position for them while they rested is known no longer — some of it may have
        filled, the rest is the position's again. The next close of each reads the position
        afresh (with a private stream the snapshots do not, and a close would be refused
        against a position reduced by an order gone unfilled)."""
        if self.market_type == "futures":
            for symbol in symbols:
                self._forget_positions(symbol)

    def _forget_positions(self, symbol: str) -> None:
        self._positions_at[symbol] = -math.inf  # stale whatever the last full fetch says
        self._holdings_at = None

    def _after_send(self, symbol: str, leg: str, result: OrderResult) -> None:
        """What the known position has left: less what filled, and less what may still fill
        while the order rests (so that chunks never add up beyond the position)."""
        self._sent_at[symbol] = time.monotonic()
        gone = (result.filled if result.status in ("canceled", "expired", "rejected")
                else max(result.filled, result.amount))
        if self.market_type != "futures":
            base = (self._markets.get(symbol) or {}).get("base") or symbol.split("/", 1)[0]
            held = self._holdings.get(base)
            if held is not None and leg == "long":  # a sell
                total = max(0.0, held.total - gone)
                self._holdings[base] = held.model_copy(update={"total": total, "free": max(0.0, min(held.free, total))})
            return
        pos = self._positions.get((symbol, leg))
        if pos is None:
            return
        left = pos.contracts - gone
        if left <= pos.contracts * 1e-9:
            del self._positions[(symbol, leg)]
        else:
            self._positions[(symbol, leg)] = pos.model_copy(
                update={"contracts": left, "notional": pos.notional * left / pos.contracts})

    def _stream_moved_holding(self, base: str) -> bool:
        """Whether a live private stream holds another total of ``base`` than the holdings read
        (a fill the runner did not send, since: a bot's buy or sell): the close is then checked
        against a fresh read, as a futures one is (:meth:`_stream_holds_less`) — never refused
        against a smaller holding read before, nor sent against a larger one."""
        s = self._stream
        if s is None or s.health().state != "live":
            return False
        streamed, held = s.holding_of(base), self._holdings.get(base)
        return streamed is not None and abs(streamed - (held.total if held else 0.0)) > 1e-9 * max(abs(streamed), 1.0)

    def _streamed_covers(self, base: str, amount: float) -> bool:
        """Whether a live, confirmed private stream and the holding known here (read, less what was
        sent since) both hold ``amount`` of ``base``: the sale is then within the smaller of the
        two and no REST read is asked (each sale back of a rogue bot's growth waited one). The
        known holding is already less our sales the stream may not have told yet; the stream's is
        less another's sale since the read. Past either, :meth:`_check_spot_holding` reads."""
        s = self._stream
        if s is None or self._holdings_at is None or not s.health().answers:
            return False
        streamed, held = s.holding_of(base), self._holdings.get(base)
        return streamed is not None and held is not None and amount <= min(streamed, held.total) * (1 + 1e-9)

    async def _check_spot_holding(self, op: Op, intent: OrderIntent, market: Mapping) -> None:
        base = market.get("base") or intent.symbol.split("/", 1)[0]
        fresh = self._holdings_at is not None and time.monotonic() - self._holdings_at <= self.position_max_age_s
        if not self._streamed_covers(base, intent.amount) and (not fresh or self._stream_moved_holding(base)):
            raw = await self._calls.call(op, "fetch_balance")
            self._holdings = self._parse_or_bad_response(
                "fetch_balance", lambda: {b.asset: b for b in parsing.parse_balances(raw, {})})
            self._holdings_at = time.monotonic()
        held = self._holdings.get(base)
        have = held.total if held else 0.0
        if intent.amount > have * (1 + 1e-9):
            raise AdapterError(Reason.CLOSE_EXCEEDS_POSITION,
                               f"{intent.symbol}: sell of {intent.amount:g} exceeds the holding of {have:g} {base}",
                               venue=self.venue)


__all__ = ["KnownPositions"]
