"""What a dialect reads of its venue, and how: the positions, the open orders, a long answer's rows.

What it owns: :class:`ReadHooks`, the base of :class:`~.base.Dialect` that holds the read hooks
with their generic defaults (ccxt's unified ``fetch_positions`` and ``fetch_open_orders``, the
positions asked apart from the balance); :class:`Reads`, what those hooks are handed; and
:func:`read_each`, a long answer read row by row with the event loop given turns between.

What it must not do: import ccxt, or reach the venue other than through :attr:`Reads.call`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from .cancel_hooks import Call
from .listed import Listed

# the rows of a long answer read between two turns of the event loop: a book of 10,000 positions
# read in one go holds it for a second, and a reaction (a stream's frame, the tick it wakes) waits
YIELD_EVERY = 500


async def read_each(rows: list, read_row: Callable[[Any], Any]) -> list:
    """``read_row`` of each of ``rows``, those it reads as None left out, the event loop given a
    turn every :data:`YIELD_EVERY` rows."""
    out = []
    for at, row in enumerate(rows):
        if at and at % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        got = read_row(row)
        if got is not None:
            out.append(got)
    return out


@dataclass(frozen=True)
class Reads:
    """What a dialect's reads of one account are handed by the adapter."""

    call: Call  # one ccxt call, through the adapter's budget, retries and deadline
    has_method: Callable[[str], bool]  # whether the client has that (implicit or unified) method
    symbol_of: Callable[[str], str]  # a market id's unified symbol
    market_type: str = "futures"  # the account's: spot or futures
    settle_coins: tuple[str, ...] = ()  # what the account declares (empty: the dialect's default)


class ReadHooks:
    """A dialect's reads: ccxt's unified forms by default; a venue overrides what differs."""

    if TYPE_CHECKING:  # the dialect's own (:class:`~.base.Dialect`)
        def open_orders_endpoint(self, market_type: str) -> str: ...

    async def fetch_positions(self, reads: Reads) -> Any:
        """Every open position, in ccxt's unified shape (the fields :mod:`..parsing` reads):
        ccxt's ``fetch_positions``. A venue whose raw answer is simple to read, and costly for
        ccxt to unify at a book's size, reads it itself: ``reads.has_method(name)`` says whether
        the client has that raw endpoint's method, ``reads.symbol_of(market_id)`` is the unified
        symbol. A venue that pages or splits the list (by settle coin, by cursor) reads it to
        its end or raises LIST_INCOMPLETE (:meth:`.base.VenueNamed.read_pages`)."""
        return await reads.call("fetch_positions")

    # whether the balance's answer lists the positions too (one request a snapshot, not two):
    # the snapshot then asks no positions, and reads them of it (:meth:`balance_positions`)
    positions_in_balance: bool = False

    async def balance_positions(self, raw_balance: Any, reads: Reads) -> Any:
        """Every open position as :meth:`fetch_positions` gives them, read of ccxt's
        ``fetch_balance`` answer where :attr:`positions_in_balance` says it lists them; one
        that does not (another kind of account) asks :meth:`fetch_positions`."""
        return await self.fetch_positions(reads)

    async def fetch_symbol_positions(self, reads: Reads, symbol: str) -> Any:
        """The positions of one ``symbol`` in ccxt's unified shape, read afresh before a close is
        sent: ccxt's ``fetch_positions([symbol])``; a venue whose positions the dialect completes
        (its marks from another read) completes these the same way."""
        return await reads.call("fetch_positions", [symbol])

    async def fetch_open_orders(self, reads: Reads, symbol: Optional[str] = None) -> list[Listed]:
        """Every open order of the account (of ``symbol`` only, when given), each with the kind
        its list says it is: ccxt's ``fetch_open_orders``, the kind read from each order. A
        venue that keeps conditional orders in a list of their own (an algo service) reads that
        list too; a paged or split list is read to its end or raises LIST_INCOMPLETE."""
        got = await reads.call("fetch_open_orders", symbol)
        endpoint = self.open_orders_endpoint(reads.market_type)
        return [Listed(None, o, endpoint) for o in (got or [])]


__all__ = ["YIELD_EVERY", "ReadHooks", "Reads", "read_each"]
