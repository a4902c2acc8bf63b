"""The simulated adapter's cancels: the book's orders and the algo service's, each cancelled
through its own calls, and the open orders listed afresh (what the runner's port confirms a
cancel by). A part of :class:`~.SimulatedAdapter`.

The engine answers exactly: an order it did not cancel is named (``ORDER_NOT_FOUND``), never
counted cancelled.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional, TypeVar

from adapters.base import AdapterError, CancelResult, CancelSelector, Reason
from killswitch.snapshot import Order

from ..conditional import SimAlgoOrder
from ..engine import MarketSpec, SimExchange, SimOrder
from .snapshot import SnapshotParts

T = TypeVar("T")


def bound(fn: Callable[..., T], *args: Any) -> Callable[[Optional[int]], T]:
    """``fn(*args)`` as an engine operation for ``_call``; a write ignores the read time it is given."""
    return lambda at: fn(*args)


class SimCancels:
    """Open orders listed and cancelled (see the module doc)."""

    engine: SimExchange
    engine_account: str
    market_type: str
    parts: SnapshotParts
    _call: Callable[..., Awaitable[Any]]
    _market: Callable[[str], MarketSpec]

    async def _listed(self) -> tuple[list[SimOrder], list[SimAlgoOrder]]:
        eng, acct = self.engine, self.engine_account
        listed = await self._call("open_orders", lambda at: eng.open_orders(acct))
        algos = (await self._call("open_algo_orders", lambda at: eng.open_algo_orders(acct))
                 if eng.has_algo_orders(acct) else [])
        return listed, algos

    async def open_orders(self, symbols: tuple[str, ...] = ()) -> list[Order]:
        """The book's open orders and the algo service's, of ``symbols`` (all when empty), now."""
        if self.market_type == "spot":
            return []  # its spot orders are immediate (IOC): the spot desk's resting ones are the HTTP faces'
        listed, algos = await self._listed()
        wanted = set(symbols)
        return [o for o in self.parts.orders(listed, algos) if not wanted or o.symbol in wanted]

    async def cancel_orders(self, selector: CancelSelector) -> CancelResult:
        if self.market_type == "spot":
            return CancelResult(canceled=())  # as open_orders: nothing of this adapter's rests
        eng, acct = self.engine, self.engine_account
        # the book's orders and the algo service's (stops, take-profits, trailing stops), each
        # cancelled through its own calls as the venue requires
        listed, algos = await self._listed()
        wanted_symbols = {self._market(s).symbol for s in selector.symbols}
        every: list[tuple[str, str, bool, bool]] = (  # (id, venue symbol, conditional, can only reduce)
            [(str(o.order_id), o.symbol, False, o.closes) for o in listed]
            + [(str(o.algo_id), o.symbol, True, o.closes) for o in algos])
        canceled: list[str] = []
        failed: dict[str, str] = {}
        words: dict[str, str] = {}
        unconfirmed: list[str] = []  # a cancel of the symbol that did not take them (a capped call)
        if selector.order_ids:
            ids = set(selector.order_ids)
            targets = [t for t in every if t[0] in ids]
            for oid in selector.order_ids:
                if oid not in {t[0] for t in targets}:
                    failed[oid], words[oid] = Reason.ORDER_NOT_FOUND.value, "not listed open at the venue"
        else:
            targets = [t for t in every if not wanted_symbols or t[1] in wanted_symbols]
            if selector.which == "entries":
                targets = [t for t in targets if not t[3]]
        if selector.which == "all" and not selector.order_ids:
            for symbol, algo in sorted({(t[1], t[2]) for t in targets}):
                symbol_ids = [t[0] for t in targets if t[1] == symbol and t[2] == algo]
                op, cancel_all = ("cancel_all_algo", eng.cancel_all_algo) if algo else ("cancel_all", eng.cancel_all)
                try:
                    done = await self._call(op, bound(cancel_all, acct, symbol))
                except AdapterError as e:
                    failed.update({i: e.reason.value for i in symbol_ids})
                    words.update({i: e.message for i in symbol_ids})
                    continue
                done_ids = {str(o.algo_id if algo else o.order_id) for o in done}
                canceled += [i for i in symbol_ids if i in done_ids]
                unconfirmed += [i for i in symbol_ids if i not in done_ids]
        else:
            for oid, symbol, algo, _ in targets:
                try:
                    if algo:
                        await self._call("cancel_algo_order", bound(eng.cancel_algo_order, acct, int(oid)))
                    else:
                        await self._call("cancel_order", bound(eng.cancel_order, acct, symbol, int(oid)))
                    canceled.append(oid)
                except AdapterError as e:
                    failed[oid], words[oid] = e.reason.value, e.message
        return CancelResult(tuple(canceled), failed, words=words, unconfirmed=tuple(unconfirmed))


__all__ = ["SimCancels", "bound"]
