"""Cancelling the account's open orders: by id, or every one (or every entry) of some symbols.

What it owns
    * :meth:`Cancels.cancel_orders`: the orders to cancel found in what the last list and the
      private stream told of (the venue's list read again only for an id neither holds, or for
      one the venue no longer finds), a whole symbol cancelled through ``cancel_all_orders``
      where the venue has it, once per endpoint the venue cancels its kinds of orders through;
      each answer read order by order by the dialect (:meth:`~.dialects.base.Dialect.cancel_answer`):
      only what it names cancelled is ``canceled``, a refused order keeps the venue's code and
      words, and what the answer named neither way is ``unconfirmed`` (or ``acknowledged``, the
      venue's "all of them" naming none) for the runner's port to list again and decide
      (``killswitch.runner.venue.port``); a failure of one order reported, not raised (failing
      to list the open orders raises);
    * :meth:`Cancels.open_orders`: the open orders read afresh, what the port confirms by;
    * the symbols the account is exposed on (an open order listed now, a known position), over
      which a per-symbol dead man's switch is armed.

What it must not do
    count an order cancelled that the venue's answer did not name; keep an order it cancelled in
    what the adapter knows, or the position the order held back
    (:meth:`~.known.KnownPositions._released`: the next close reads it afresh).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any, Hashable, Optional, Sequence

from killswitch.snapshot import Order

from ..base import AdapterError, CancelResult, CancelSelector, Reason
from .calls import Op
from .cancel_gather import Gathering
from .dialects.base import CancelAnswer
from .known import KnownPositions

log = logging.getLogger(__package__)


@dataclass
class Tally:
    """What the answers to one cancel said, order by order, as they come in."""

    canceled: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)
    unconfirmed: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)

    def read(self, answer: CancelAnswer, sent: Sequence[Order]) -> None:
        """One answer's word on each order ``sent`` (an id it names twice counts once; an id it
        names that was not sent counts as nothing of ours)."""
        for o in sent:
            if o.id in answer.done:
                self.canceled.append(o.id)
            elif o.id in answer.refused:
                r = answer.refused[o.id]
                self.failed[o.id], self.words[o.id] = r.reason, r.text()
            elif answer.whole:
                self.acknowledged.append(o.id)
            else:
                self.unconfirmed.append(o.id)

    def refused(self, orders: Sequence[Order], e: AdapterError) -> None:
        """A request that failed as a whole: each of its orders failed with the venue's words."""
        for o in orders:
            self.failed[o.id] = e.reason.value
            self.words[o.id] = e.refusal.text() if e.refusal is not None else e.message

    def result(self) -> CancelResult:
        return CancelResult(tuple(self.canceled), dict(self.failed), words=dict(self.words),
                            unconfirmed=tuple(self.unconfirmed), acknowledged=tuple(self.acknowledged))


class Cancels(KnownPositions):
    """Open orders cancelled (a part of :class:`~.adapter.CcxtAdapter`)."""

    _gather: Optional[Gathering] = None  # the batches forming while the order budget waits (made at first use)

    # --- cancels ---------------------------------------------------------------------------------------

    async def cancel_orders(self, selector: CancelSelector) -> CancelResult:
        """Cancel open orders: ``order_ids`` if given, else every order of ``selector.symbols``
        (all symbols when empty), all of them or only entries (non-reduce-only). A whole symbol
        goes through ``cancel_all_orders`` when the venue has it; otherwise, and for entries,
        one cancel per order (ccxt's ``cancel_order``, or the venue's own request where its
        dialect names one: :meth:`~.dialects.base.Dialect.cancel_one_request`). Per-order
        failures are reported, not raised; failing to list the open orders raises."""

        self._orders_at = None  # the next snapshot lists the open orders again
        if selector.which not in ("all", "entries"):
            raise AdapterError(Reason.INVALID_ORDER, f"cancel which={selector.which!r}", venue=self.venue)

        async def body(op: Op) -> CancelResult:
            await self._markets.ensure(op)
            tally = Tally()
            if selector.order_ids:
                await self._cancel_ids(op, selector.order_ids, tally)
            else:
                await self._cancel_symbols(op, selector, tally)
            for oid in tally.canceled:
                self._orders.pop(oid, None)
            return tally.result()

        return await self._calls.run("cancel_orders", body)

    async def _cancel_ids(self, op: Op, order_ids: tuple[str, ...], tally: Tally) -> None:
        # the orders the last list held, and those the private stream has told of since (a
        # streamed snapshot's orders are the stream's): listing every open order again costs
        # the venue's heaviest read (Binance: 40 of its weight, paced at seconds by the
        # client), which a cancel of orders just seen on the stream need not wait for
        known = self._orders if self._stream is None else {**self._orders, **self._stream.state.orders}
        listed = any(i not in known for i in order_ids)
        if listed:
            known = await self._list_open(op)
        targets = []
        for oid in order_ids:
            if oid in known:
                targets.append(known[oid])
            else:
                tally.failed[oid] = Reason.ORDER_NOT_FOUND.value
                tally.words[oid] = "not listed open at the venue"
        await self._cancel_many(op, targets, tally)
        missed = [o for o in targets if tally.failed.get(o.id) == Reason.ORDER_NOT_FOUND.value]
        if missed and not listed:  # what was known of them may be stale: the venue's list decides
            fresh = await self._list_open(op)
            again = [fresh[o.id] for o in missed if o.id in fresh]
            for o in again:
                del tally.failed[o.id]
                tally.words.pop(o.id, None)
            await self._cancel_many(op, again, tally)
        self._released({o.symbol for o in targets})

    async def _cancel_symbols(self, op: Op, selector: CancelSelector, tally: Tally) -> None:
        open_orders = await self._list_open(op, selector.symbols)
        wanted = set(selector.symbols)
        by_symbol: dict[str, list[Order]] = {}
        for o in open_orders.values():
            if (wanted and o.symbol not in wanted) or (selector.which == "entries" and o.reduce_only):
                continue
            by_symbol.setdefault(o.symbol, []).append(o)
        whole = selector.which == "all" and self._has("cancelAllOrders")
        many: list[Order] = []  # cancelled by id, in the venue's batches (across symbols where they span them)
        for symbol in sorted(by_symbol):
            # one cancel per endpoint the venue cancels its kinds of orders through (Binance
            # and OKX cancel conditional orders through their algo service)
            groups: dict[tuple, list[Order]] = {}
            for o in by_symbol[symbol]:
                groups.setdefault(tuple(sorted(self.dialect.order_cancel_params(o).items())), []).append(o)
            for params, orders in groups.items():
                if whole and not self.dialect.cancels_itself(orders[0].kind):
                    await self._cancel_all(op, symbol, dict(params), orders, tally)
                else:
                    many += orders
        await self._cancel_many(op, many, tally)
        self._released(set(by_symbol))

    async def _cancel_all(self, op: Op, symbol: str, params: dict, orders: list[Order], tally: Tally) -> None:
        try:
            method, args = self.dialect.cancel_all_request(symbol, self._markets.require(symbol)["id"], params)
            answer = await self._calls.call(op, method, *args, order=True, cancel=True)
        except AdapterError as e:
            tally.refused(orders, e)
            return
        tally.read(self._answer("symbol", answer, orders), orders)

    async def _cancel_many(self, op: Op, orders: list[Order], tally: Tally) -> None:
        """``orders`` cancelled in the venue's batches where its dialect has them (a batch per
        symbol and endpoint, or per endpoint where a batch spans symbols, at most its size;
        always for a kind ccxt's cancels do not reach,
        :meth:`~.dialects.base.Dialect.cancels_itself`), else one a call. Where the order
        budget would make them wait (or a batch of theirs already waits on it), they join the
        batch forming meanwhile (:meth:`_cancel_gathered`)."""
        groups: dict[tuple, list[Order]] = {}
        for o in orders:
            spans = self.dialect.cancel_batch_spans_symbols(o.kind)
            key = (None if spans else o.symbol, tuple(sorted(self.dialect.order_cancel_params(o).items())))
            groups.setdefault(key, []).append(o)
        for key, group in groups.items():
            size = self.dialect.cancel_batch_size(group[0].kind)
            if size >= 2 and (self._gathering().forming(key) or not self._calls.cancels_budget.available()):
                await self._cancel_gathered(key, group, size, tally)
                continue
            if size < 1 or (len(group) < 2 and not self.dialect.cancels_itself(group[0].kind)):
                await self._cancel_each(op, group, tally)
                continue
            market_id = self._markets.require(group[0].symbol)["id"]
            for at in range(0, len(group), size):
                chunk = group[at:at + size]
                try:
                    answer = await self.dialect.cancel_batch(self._batch_call(op, len(chunk)), chunk, market_id)
                except AdapterError as e:
                    tally.refused(chunk, e)
                else:
                    tally.read(self._answer("batch", answer, chunk), chunk)

    def _batch_call(self, op: Op, size: int) -> Any:
        """The ccxt call a batch of ``size`` cancels is sent through: it spends the cancels'
        budget, at the batch's cost (:meth:`~.dialects.base.Dialect.cancel_batch_cost`)."""
        return functools.partial(self._calls.call, op, order=True, cancel=True,
                                 spend=self.dialect.cancel_batch_cost(size))

    def _gathering(self) -> Gathering:
        if self._gather is None:
            self._gather = Gathering()
        return self._gather

    async def _cancel_gathered(self, key: Hashable, group: list[Order], size: int, tally: Tally) -> None:
        """``group`` cancelled in the batches forming while the order budget waits (a cancel
        of another call's joins the same one: see :mod:`.cancel_gather`), each sent when the
        budget lets it, under an operation of its own (its callers' may end first); a batch
        that gathered one order alone is that order's cancel (as :meth:`_cancel_each` sends it)."""

        async def send(batch: list[Order]) -> CancelAnswer:
            op = self._calls.op("cancel_orders")
            first = batch[0]
            if len(batch) == 1 and not self.dialect.cancels_itself(first.kind):
                method, args = self.dialect.cancel_one_request(first, self._markets.require(first.symbol))
                return self._answer("one", await self._calls.call(op, method, *args, order=True, cancel=True),
                                    batch)
            market_id = self._markets.require(first.symbol)["id"]
            return self._answer("batch", await self.dialect.cancel_batch(self._batch_call(op, len(batch)), batch,
                                                                         market_id), batch)

        for at in range(0, len(group), size):
            chunk = group[at:at + size]
            try:
                answer = await self._gathering().cancel(key, chunk, size, self._calls.cancels_budget.ready, send)
            except AdapterError as e:
                tally.refused(chunk, e)
            else:
                tally.read(answer, chunk)

    async def _cancel_each(self, op: Op, orders: list[Order], tally: Tally) -> None:
        for o in orders:
            try:
                method, args = self.dialect.cancel_one_request(o, self._markets.require(o.symbol))
                answer = await self._calls.call(op, method, *args, order=True, cancel=True)
            except AdapterError as e:
                tally.refused([o], e)
            else:
                tally.read(self._answer("one", answer, [o]), [o])

    def _answer(self, how: str, answer: Any, sent: list[Order]) -> CancelAnswer:
        """The dialect's reading of a cancel's answer; one it cannot read leaves every order it
        was for unconfirmed (the port lists them again), its words naming the field."""
        try:
            return self.dialect.cancel_answer(how, answer, sent)
        except AdapterError as e:
            log.warning("%s/%s: BAD_RESPONSE: a cancel's answer (%s) not read, its orders listed again: %s",
                        self.venue, self.account, how, e.message)
            return CancelAnswer(frozenset())

    async def open_orders(self, symbols: tuple[str, ...] = ()) -> list[Order]:
        """Every open order of ``symbols`` (all when empty), listed afresh at the venue."""

        async def body(op: Op) -> list[Order]:
            await self._markets.ensure(op)
            listed = await self._list_open(op, symbols)
            wanted = set(symbols)
            return [o for o in listed.values() if not wanted or o.symbol in wanted]

        return await self._calls.run("open_orders", body)

    async def _list_open(self, op: Op, symbols: tuple[str, ...] = ()) -> dict[str, Order]:
        if symbols and len(symbols) < max(2, self.dialect.symbol_lists_below):
            orders = [o for s in symbols for o in await self._open_orders(op, s)]  # (each symbol's list)
        else:
            orders = await self._open_orders(op, None)
        listed = {o.id: o for o in orders}
        if not symbols:
            self._orders = dict(listed)
        return listed

    async def _exposed_symbols(self, op: Op) -> set[str]:
        """The symbols with an open order (listed now) or a known position."""
        found = {o.symbol for o in (await self._list_open(op)).values()}
        return found | {k[0] for k in self._positions}


__all__ = ["Cancels", "Tally"]
