"""The account's trades: what attributes a position's growth to the bot whose orders made it.

What it owns: :class:`FillReads`, the adapter's :meth:`~adapters.base.ExchangeAdapter.fills`:
ccxt's ``fetchMyTrades`` of one symbol since a time, each trade read as a
:class:`killswitch.fills.Fill` with its order's client order id — the trade's own where the venue
puts it on the trade (OKX ``clOrdId``, Bybit ``orderLinkId``, Bitget ``clientOid``, Hyperliquid
``cloid``), else looked up by the trade's order id (Binance's trades carry the order id alone),
once per order — and the strategy its declared prefix names (:func:`killswitch.attribution.strategy_of`, as an
open order's).

Must not: tell venues apart (the client id is looked for under each venue's key in turn), or
guess a strategy where no client order id is read.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from killswitch.attribution import strategy_of
from killswitch.fills import Fill

from ..base import AdapterError, Reason
from .calls import Op
from .core import AdapterCore
from .parsing import num

FILLS_LIMIT = 100  # trades read at most, the newest (growth under a halt is a few of them)
LOOKUPS_MAX = 10  # orders looked up by id at most, for trades that carry no client order id
# where the venues put a trade's order's client id in their own rows
CLIENT_ID_KEYS = ("clientOrderId", "clOrdId", "orderLinkId", "clientOid", "cloid", "cliOrdId", "externalOid")


class FillReads(AdapterCore):
    """See the module doc."""

    async def fills(self, symbol: str, since_ms: int) -> list[Fill]:
        if not self._has("fetchMyTrades"):
            raise AdapterError(Reason.UNSUPPORTED, f"{self.venue}: no read of the account's trades", venue=self.venue)

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
