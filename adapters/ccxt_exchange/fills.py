"""The account's trades: what attributes a position's growth to the bot whose orders made it.

What it owns: :class:`FillReads`, the adapter's :meth:`~adapters.base.ExchangeAdapter.fills`:
ccxt's ``fetchMyTrades`` of one symbol since a time, each trade read as a
:class:`killswitch.fills.Fill` with its order's client order id — the trade's own where the venue
puts it on the trade (OKX ``clOrdId``, Bybit ``orderLinkId``, Bitget ``clientOid``, Hyperliquid
``cloid``), else looked up by the trade's order id (Binance's trades carry the order id alone),
once per order — and the strategy its declared prefix names (:func:`killswitch.attribution.strategy_of`, as an
open order's).

Where the account's stream tells each trade (the dialect's ``stream_fills_for`` its market
type: Kraken spot's ``executions``, MEXC spot's deals), a symbol's trades are read over REST
once, and a later read of them (since the same time or later) is that read and the trades the
stream told after it began, without a request, while the stream stays whole
(:meth:`~.streaming.stream.AccountStream.fills_stamp`: the same connection, nothing but
duplicates dropped, its word trusted) and it kept every trade told since
(:data:`~.streaming.stream.FILLS_KEPT`): the halt's sales back of a rogue's growth cost the venue
one trade history read, not one each.

Must not: tell venues apart (the client id is looked for under each venue's key in turn), or
guess a strategy where no client order id is read.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, NamedTuple, Optional

from killswitch.attribution import strategy_of
from killswitch.fills import Fill

from ..base import AdapterError, Reason
from .calls import Op
from .core import AdapterCore
from .parsing import num

FILLS_LIMIT = 100  # trades read at most, the newest (growth under a halt is a few of them)
READS_KEPT = 100  # symbols whose last REST read of the trades is kept, for the stream to add to
LOOKUPS_MAX = 10  # orders looked up by id at most, for trades that carry no client order id
# where the venues put a trade's order's client id in their own rows
CLIENT_ID_KEYS = ("clientOrderId", "clOrdId", "orderLinkId", "clientOid", "cloid", "cliOrdId", "externalOid")


class KeptRead(NamedTuple):
    """A symbol's trades as one REST read found them: since when, the stream's stamp and count of
    trades told as it began (what the stream tells after it adds to it), the trades."""

    since_ms: int
    stamp: tuple[int, int]
    told: int
    fills: tuple[Fill, ...]


class FillReads(AdapterCore):
    """See the module doc."""

    _fill_reads: dict[str, KeptRead]  # symbol → its last REST read, while the stream tells the trades

    async def fills(self, symbol: str, since_ms: int) -> list[Fill]:
        if not self._has("fetchMyTrades"):
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue}: no read of the account's trades", venue=self.venue)
        told = self._told_since_read(symbol, since_ms)
        if told is not None:
            return told
        s = self._stream if self.dialect.stream_fills_for(self.market_type) else None
        stamp = s.fills_stamp() if s is not None else None
        count = s.fills_told if s is not None else 0  # (before the read: what the stream tells after it)
        got = await self._rest_fills(symbol, since_ms)
        if stamp is not None:
            reads = self._fill_reads
            reads.pop(symbol, None)
            reads[symbol] = KeptRead(since_ms, stamp, count, tuple(got))
            while len(reads) > READS_KEPT:
                del reads[next(iter(reads))]
        return got

    def _told_since_read(self, symbol: str, since_ms: int) -> Optional[list[Fill]]:
        """``symbol``'s trades since ``since_ms`` as its kept REST read and the trades the stream
        told after it began (those after the read's newest, not in it), where the stream is still
        whole under the read's stamp and kept them all; None where a REST read is needed."""
        kept, s = self._fill_reads.get(symbol), self._stream
        if kept is None or s is None or kept.since_ms > since_ms or s.fills_stamp() != kept.stamp \
                or s.fills_told - kept.told > len(s.told_fills):
            return None
        newest = max((f.ts_ms for f in kept.fills), default=None)
        ids = {f.id for f in kept.fills}
        after = list(s.told_fills)[len(s.told_fills) - (s.fills_told - kept.told):]
        out = [f for f in kept.fills if f.ts_ms >= since_ms] + [
            replace(f, strategy=strategy_of(f.client_id, self.strategy_prefixes)) for f in after
            if f.symbol == symbol and f.ts_ms >= since_ms and f.id not in ids and (newest is None or f.ts_ms > newest)]
        return sorted(out, key=lambda f: f.ts_ms)

    async def _rest_fills(self, symbol: str, since_ms: int) -> list[Fill]:
        """ccxt's ``fetchMyTrades`` of ``symbol`` since ``since_ms``, each trade's client id looked up
        where it carries none (see the module doc)."""

        async def body(op: Op) -> list[Fill]:
            await self._markets.ensure(op)
            self._markets.require(symbol)
            raw = await self._calls.call(op, "fetch_my_trades", symbol, since_ms, FILLS_LIMIT)
            trades = [t for t in (raw or []) if isinstance(t, Mapping)]
            ids: dict[str, Optional[str]] = {}
            for t in trades:
                oid = _text(t.get("order"))
                if _client_id(t) is None and oid is not None and oid not in ids and len(ids) < LOOKUPS_MAX:
                    ids[oid] = await self._client_id_of(op, symbol, oid)
            out = [self._fill(t, symbol, ids) for t in trades]
            return sorted((f for f in out if f is not None), key=lambda f: f.ts_ms)

        return await self._calls.run("fetch_my_trades", body)

    async def _client_id_of(self, op: Op, symbol: str, order_id: str) -> Optional[str]:
        """The client order id of the order ``order_id``, looked up at the venue (None: not found)."""
        try:
            o = await self._calls.call(op, "fetch_order", order_id, symbol)
        except AdapterError:
            return None
        return _client_id(o) if isinstance(o, Mapping) else None

    def _fill(self, t: Mapping[str, Any], symbol: str, looked_up: Mapping[str, Optional[str]]) -> Optional[Fill]:
        side = str(t.get("side") or "").lower()
        amount = num(t.get("amount"))
        if side not in ("buy", "sell") or amount is None or amount <= 0:
            return None
        oid = _text(t.get("order"))
        cid = _client_id(t) or (looked_up.get(oid) if oid is not None else None)
        if cid is not None:  # the engine's id where the venue writes it another way (a cloid)
            cid = _text(self.dialect.order_answer({"clientOrderId": cid}).get("clientOrderId"))
        raw = t.get("info")
        info: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        leg = str(info.get("positionSide") or info.get("posSide") or "").upper()
        ts = num(t.get("timestamp"))
        return Fill(id=str(t.get("id") or ""), order_id=oid, client_id=cid, symbol=str(t.get("symbol") or symbol),
                    side=side, amount=amount, price=num(t.get("price")), ts_ms=int(ts or 0),
                    position_side=leg if leg in ("LONG", "SHORT") else None,
                    strategy=strategy_of(cid, self.strategy_prefixes))


def _text(v: Any) -> Optional[str]:
    return str(v) if v not in (None, "") else None


def _client_id(row: Mapping[str, Any]) -> Optional[str]:
    """A row's client order id: ccxt's unified field, else the venue's own under its key."""
    cid = _text(row.get("clientOrderId"))
    if cid is not None:
        return cid
    info = row.get("info")
    if isinstance(info, Mapping):
        for key in CLIENT_ID_KEYS:
            if (cid := _text(info.get(key))) is not None:
                return cid
    return None


__all__ = ["FillReads"]
