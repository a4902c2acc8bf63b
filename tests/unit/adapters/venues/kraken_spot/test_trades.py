"""Kraken spot's trades: read once over REST, then read on from what the stream told.
(Answers as the rig says: ccxt's recordings and Kraken's documented ones.)"""

from __future__ import annotations

from typing import Optional

from killswitch.policy.accounts_doc import Account
from tests.unit.adapters.ccxt.fake import run
from tests.unit.adapters.venues.kraken_spot.rig import (
    LTC,
    XRP,
    KrakenVenue,
    closed_by_engine_id,
    kraken_account,
    kraken_adapter,
)


class ToldTrades:
    """An account stream's word on the trades, as the adapter reads it: the stamp they are whole
    under, the trades it keeps (the newest three) and how many it told."""

    def __init__(self):
        from collections import deque

        self.stamp: Optional[tuple[int, int]] = (1, 0)
        self.told_fills: deque = deque(maxlen=3)
        self.fills_told = 0

    def fills_stamp(self):
        return self.stamp

    def tell(self, *fills):
        self.told_fills.extend(fills)
        self.fills_told += len(fills)


def test_a_symbols_trades_are_read_once_then_read_on_from_what_the_stream_told():
    """The trades of a symbol read over REST once (``TradesHistory``; ``QueryOrders`` of a trade's
    order for its client id, which the row does not carry); read again since the same time or
    later, they are that read and the trades the stream told after it (its client ids, the
    strategy of their prefix), with no request. REST is read again where the stream is not whole
    under the read's stamp (a reconnect, a frame dropped), kept fewer trades than it told since,
    or the read asks from earlier."""
    from killswitch.fills import Fill

    t0 = 1_700_000_000_000
    closed = closed_by_engine_id()["result"]["closed"]
    row = closed["OGMZCL-KC6MC-ZRBGM6"]
    row["cl_ord_id"] = "alp-1"
    history = {"error": [], "result": {"count": 1, "trades": {"TCCCTY-WE2O6-P3NB37": {
        "ordertxid": "OGMZCL-KC6MC-ZRBGM6", "postxid": "TKH2SE-M7IF5-CFI7LT", "pair": "LTCUSDT", "time": t0 / 1000,
        "type": "buy", "ordertype": "market", "price": "70.00", "cost": "7.0", "fee": "0.01", "vol": "0.10000000",
        "margin": "0.00000", "misc": ""}}}}
    venue = KrakenVenue(private_TradesHistory=history, private_QueryOrders={"error": [], "result": closed})
    told = ToldTrades()
    later = Fill(id="TSIM-2", order_id="OSIM2", client_id="alp-2", symbol=LTC, side="buy", amount=0.2, price=70.0,
                 ts_ms=t0 + 5_000)

    async def work(a):
        a._stream, seen = told, []

        async def read(since):
            before = len(venue.requests)
            got = await a.fills(LTC, since)
            seen.append(([(f.id, f.client_id, f.strategy) for f in got],
                         [p.rsplit("/", 1)[-1] for _, p, _ in venue.requests[before:]]))

        await read(t0 - 60_000)
        told.tell(later, replace_symbol(later, XRP))
        await read(t0 - 60_000)  # the read, and the stream's trade of the symbol after it
        await read(t0 + 1)  # from later: the stream's alone
        await read(t0 - 120_000)  # from earlier than the read: REST
        told.stamp = (2, 0)  # reconnected
        await read(t0 - 60_000)
        told.tell(later, later, later, later)  # more than it keeps since the read
        await read(t0 - 60_000)
        told.stamp = None  # its word not trusted: read, and kept for nothing
        await read(t0 - 60_000)
        await read(t0 - 60_000)
        return seen

    acc = kraken_account(strategies=[{"name": "alpha", "client_id_prefixes": ["alp-"]}])
    rest = ([("TCCCTY-WE2O6-P3NB37", "alp-1", "alpha")], ["TradesHistory", "QueryOrders"])
    both = [("TCCCTY-WE2O6-P3NB37", "alp-1", "alpha"), ("TSIM-2", "alp-2", "alpha")]
    assert run(_using_account(venue, acc, work)) == [rest, (both, []), ([("TSIM-2", "alp-2", "alpha")], []), rest,
                                                     rest, rest, rest, rest]


def replace_symbol(f, symbol):
    from dataclasses import replace

    return replace(f, symbol=symbol, id=f"{f.id}-{symbol}")


async def _using_account(venue: KrakenVenue, acc: Account, work):
    a = kraken_adapter(venue, acc)
    try:
        return await work(a)
    finally:
        a._stream = None
        await a.close()
