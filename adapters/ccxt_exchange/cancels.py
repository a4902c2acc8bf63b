"""Cancelling the account's open orders: by id, or every one (or every entry) of some symbols.

What it owns
    * :meth:`Cancels.cancel_orders`: the orders to cancel found in what the last list and the
      private stream told of (the venue's list read again only for an id neither holds, or for
      one the venue no longer finds), a whole symbol cancelled through ``cancel_all_orders``
      where the venue has it, once per endpoint the venue cancels its kinds of orders through;
      a failure of one order reported, not raised (failing to list the open orders raises);
    * the symbols the account is exposed on (an open order listed now, a known position), over
      which a per-symbol dead man's switch is armed.

What it must not do
    keep an order it cancelled in what the adapter knows, or the position the order held back
    (:meth:`~.known.KnownPositions._released`: the next close reads it afresh).
"""

from __future__ import annotations

from killswitch.snapshot import Order

from ..base import AdapterError, CancelResult, CancelSelector, Reason
from .calls import Op
from .known import KnownPositions


class Cancels(KnownPositions):
    """Open orders cancelled (a part of :class:`~.adapter.CcxtAdapter`)."""

    # --- cancels ---------------------------------------------------------------------------------------

    async def cancel_orders(self, selector: CancelSelector) -> CancelResult:  # noqa: C901 — issue 67 rewrites the cancel path next
        """Cancel open orders: ``order_ids`` if given, else every order of ``selector.symbols``
        (all symbols when empty), all of them or only entries (non-reduce-only). A whole symbol
        goes through ``cancel_all_orders`` when the venue has it; otherwise, and for entries,
        one ``cancel_order`` per order. Per-order failures are reported, not raised; failing
        to list the open orders raises."""

        self._orders_at = None  # the next snapshot lists the open orders again

        async def body(op: Op) -> CancelResult:  # noqa: C901 — as cancel_orders above
            await self._ensure_markets(op)
            if selector.which not in ("all", "entries"):
                raise AdapterError(Reason.INVALID_ORDER, f"cancel which={selector.which!r}", venue=self.venue)
            failed: dict[str, str] = {}
            canceled: list[str] = []
            if selector.order_ids:
                # the orders the last list held, and those the private stream has told of since (a
                # streamed snapshot's orders are the stream's): listing every open order again costs
                # the venue's heaviest read (Binance: 40 of its weight, paced at seconds by the
                # client), which a cancel of orders just seen on the stream need not wait for
                known = self._orders if self._stream is None else {**self._orders, **self._stream.state.orders}
                listed = any(i not in known for i in selector.order_ids)
                if listed:
                    known = await self._list_open(op)
                targets = []
                for oid in selector.order_ids:
                    if oid in known:
                        targets.append(known[oid])
                    else:
                        failed[oid] = Reason.ORDER_NOT_FOUND.value
                await self._cancel_each(op, targets, canceled, failed)
                missed = [o for o in targets if failed.get(o.id) == Reason.ORDER_NOT_FOUND.value]
                if missed and not listed:  # what was known of them may be stale: the venue's list decides
                    fresh = await self._list_open(op)
                    again = [fresh[o.id] for o in missed if o.id in fresh]
                    for o in again:
                        del failed[o.id]
                    await self._cancel_each(op, again, canceled, failed)
                self._released({o.symbol for o in targets})
                return CancelResult(tuple(canceled), failed)

            open_orders = await self._list_open(op, selector.symbols)
            wanted = set(selector.symbols)
            by_symbol: dict[str, list[Order]] = {}
            for o in open_orders.values():
                if wanted and o.symbol not in wanted:
                    continue
                if selector.which == "entries" and o.reduce_only:
                    continue
                by_symbol.setdefault(o.symbol, []).append(o)
            for symbol in sorted(by_symbol):
                # one cancel per endpoint the venue cancels its kinds of orders through (Binance
                # and OKX cancel conditional orders through their algo service)
                groups: dict[tuple, list[Order]] = {}
                for o in by_symbol[symbol]:
                    groups.setdefault(tuple(sorted(self.dialect.order_cancel_params(o).items())), []).append(o)
                for params, orders in groups.items():
                    if selector.which == "all" and self._has("cancelAllOrders"):
                        try:
                            await self._calls.call(op, "cancel_all_orders", symbol, dict(params), order=True)
                        except AdapterError as e:
                            failed.update({o.id: e.reason.value for o in orders})
                        else:
                            canceled.extend(o.id for o in orders)
                    else:
                        await self._cancel_each(op, orders, canceled, failed)
            for oid in canceled:
                self._orders.pop(oid, None)
            self._released(set(by_symbol))
            return CancelResult(tuple(canceled), failed)

        return await self._calls.run("cancel_orders", body)

    async def _list_open(self, op: Op, symbols: tuple[str, ...] = ()) -> dict[str, Order]:
        orders = await self._open_orders(op, symbols[0] if len(symbols) == 1 else None)
        listed = {o.id: o for o in orders}
        if not symbols:
            self._orders = dict(listed)
        return listed

    async def _cancel_each(self, op: Op, orders: list[Order], canceled: list[str], failed: dict[str, str]) -> None:
        for o in orders:
            try:
                await self._calls.call(op, "cancel_order", o.id, o.symbol, dict(self.dialect.order_cancel_params(o)),
                                       order=True)
            except AdapterError as e:
                failed[o.id] = e.reason.value
            else:
                canceled.append(o.id)
                self._orders.pop(o.id, None)

    async def _exposed_symbols(self, op: Op) -> set[str]:
        """The symbols with an open order (listed now) or a known position."""
        found = {o.symbol for o in (await self._list_open(op)).values()}
        return found | {k[0] for k in self._positions}


__all__ = ["Cancels"]
