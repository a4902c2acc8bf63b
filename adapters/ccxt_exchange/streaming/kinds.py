"""An open order the stream met without its kind: asked of the venue at once, by its id.

What it owns (:class:`OrderKinds`, a part of :class:`~.stream.AccountStream`)
    * the look-ups under way (``asking``): an open order whose frame does not say its kind
      (:data:`~.state.STREAM_KIND` None: Hyperliquid's documented ``orderUpdates`` row) and that
      the stream never knew is asked of the venue through the adapter's ``kind_of(order_id,
      symbol)`` (the dialect's :meth:`~..dialects.stream_hooks.StreamHooks.stream_order_kind`:
      Hyperliquid's ``orderStatus``, weight 2, charged to the account's weight meter as every
      request of its REST client), where the dialect has one. While it is under way the
      stream's snapshots leave the order out (:meth:`~.trust.StreamTrust.snapshot`: its kind
      is not known, and a reduce-only stop must not be read as an entry; a REST snapshot
      between two lists of every open order has no order placed since either), and the
      stream goes on answering them alone;
    * its answer applied: the order's kind, trigger price and reduce-only flag put on the order
      the stream holds (at the event time it holds it at, so the answer is the stream's news
      to a REST read begun before it), and, while the runner watches entries, one that is
      not reduce-only handed to the entry watch and the runner woken, as for an order whose
      frame said its kind. The look-up runs on the stream's loop: with ``ksctl run
      --readers N``, in the reader process, whose entry watch sends the order on to the
      deciding process (no round trip through the deciding loop);
    * at most :data:`MAX_ASKING` look-ups at once: past that (a burst of orders the stream never
      knew) one list of every open order costs the venue less than their look-ups (Hyperliquid:
      20 against 2 each), and the orders past the bound are in doubt as without a look-up;
    * a look-up that failed, was refused, found no such order or whose answer could not be
      applied: the doubt as without one (an order whose kind is not known is never an entry) —
      the order in ``in_doubt``, the next REST read lists every open order (``orders_due``)
      and the stream is distrusted until a reconcile agrees — said once per account.

What it must not do
    read REST itself (the adapter's ``kind_of`` does, through its budget, retries and deadline),
    or log anything but scrubbed text.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Optional

from killswitch.snapshot import Order

from ..errors import reason_for, scrub
from .trust import StreamTrust

log = logging.getLogger(__package__)

# ``kind_of(order_id, symbol)``: the order as the venue's list of open orders reads it (its kind,
# trigger price, reduce-only flag), None where the venue does not know it; raises on a failure
KindOf = Callable[[str, str], Awaitable[Optional[Order]]]

# the look-ups of one account under way at once; an order past them is in doubt until REST lists it
MAX_ASKING = 8


class OrderKinds(StreamTrust):
    """The look-ups of orders whose frames do not say their kind (see the module docstring)."""

    wake_on_entries: bool
    _kind_of: Optional[KindOf]
    _entry: Callable[[Order], None]

    def _ask_kind(self, oid: str, order: Order) -> bool:
        """``order`` (open, its kind not said, never known) asked of the venue: True while a
        look-up of it is under way (started now or before); False where the dialect has none,
        or :data:`MAX_ASKING` are under way."""
        if oid in self.asking:
            return True
        if self._kind_of is None or len(self.asking) >= MAX_ASKING:
            return False
        task = asyncio.get_running_loop().create_task(self._look_up(oid, order.symbol), name=f"kind {self.key} {oid}")
        self.asking[oid] = task
        return True

    async def _look_up(self, oid: str, symbol: str) -> None:
        assert self._kind_of is not None
        try:
            got = await self._kind_of(oid, symbol)
            why = None if got is not None else "the venue does not know the order"
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 — a look-up that fails leaves the order in doubt, never ends the stream
            got, why = None, f"{reason_for(e).value}: {type(e).__name__}: {e}"
        finally:
            self.asking.pop(oid, None)
        if got is not None:
            try:
                self._told_kind(oid, got)
                return
            except Exception as e:  # noqa: BLE001 — an answer not applied is no answer: never taken for an entry
                why = f"its answer not applied: {type(e).__name__}: {e}"
        self._unanswered(oid, why or "")

    def _told_kind(self, oid: str, got: Order) -> None:
        """The venue's word on ``oid``'s kind put on the order the stream holds (none: it ended
        meanwhile, nothing to do); an entry handed to the watch, the runner woken."""
        state = self.state
        held = state.orders.get(oid)
        if held is None:
            return
        told = held.model_copy(update={"kind": got.kind, "trigger_price": got.trigger_price,
                                       "reduce_only": got.reduce_only or held.reduce_only})
        state.retell_order(oid, told)
        if self.wake_on_entries and not told.reduce_only and told.kind != "tpsl":
            self._entry(told)
            self.wake_runner()

    def _unanswered(self, oid: str, why: str) -> None:
        """No kind had of the venue: the order in doubt until a REST list names it (as without a
        look-up), said once per account."""
        self._once("kind-lookup", logging.WARNING, "%s: the venue's word on the kind of order %s was not had (%s): "
                   "in doubt until a REST list of every open order names it", self.key, oid,
                   scrub(why, self._secrets()))
        if oid in self.state.orders:
            self._in_doubt(oid)
            if self.wake_on_entries:  # the tick reads REST, every open order listed
                self.wake_runner()

    def _in_doubt(self, oid: str) -> None:
        """The stream cannot say ``oid``'s kind: the next REST read lists every open order."""
        self.orders_due = True
        self.in_doubt.add(oid)
        self.distrust(f"order {oid}: the stream does not say its kind")

    async def stop_asking(self) -> None:
        """The look-ups under way cancelled (the stream stops)."""
        tasks = list(self.asking.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.asking.clear()


__all__ = ["KindOf", "MAX_ASKING", "OrderKinds"]
