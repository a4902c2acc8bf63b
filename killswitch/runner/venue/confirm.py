"""A cancel confirmed: done means the venue said so, and what rests after it is named.

What it owns: :func:`confirmed`, the one place that decides, for every venue, what a cancel did.
An adapter's answer (:class:`~adapters.base.CancelResult`) says, order by order, what the venue
named cancelled, what it refused (its code and words) and what it named neither way: a cap (Bybit
cancels at most 500 a call), a race, an answer cut short (``unconfirmed``), or the venue's "all of
them" naming none (``acknowledged``: Binance's cancel-all). Then, for a cancel of whole symbols, or
while any order is unconfirmed, the open orders are listed again at the venue and:

* an acknowledged order no longer listed is cancelled (the venue's word, confirmed by its list);
* an unconfirmed order no longer listed is ``ORDER_NOT_FOUND`` — gone, not confirmed cancelled
  (it may have filled): never counted cancelled;
* an order meant to go that is still listed — one the answer left out, or one placed since the
  first list (a bot racing the halt) — is cancelled again, by its symbol or by its id, at most
  :data:`ROUNDS` times and while a round makes progress; what still rests after that is
  ``ORDER_STILL_OPEN`` and named (``still_open``, with what the venue said). An order the venue
  refused is never sent again blindly: it is named (``still_open`` when still listed).

The first list reads the symbols the cancel was for (every symbol for a flatten); a later one
only those still holding an order meant to go.

A list that fails leaves what it would have decided as it stands: unconfirmed orders fail with
the list's reason code and words (never assumed gone). A cancel by ids that the venue answered for
each order is not listed again: the next snapshot reads them (the stream's, where it streams).

Must not: send anything but cancels, nor count an order cancelled that the venue did not confirm.
"""

from __future__ import annotations

from typing import Awaitable, Callable, Optional

from adapters.base import AdapterError, CancelResult, CancelSelector, Reason

from ...snapshot import Order

# the rounds of "list, cancel what rests" after the first cancel: Bybit's cap of 500 a call
# takes 1,500 resting orders of one symbol in three
ROUNDS = 4

Cancel = Callable[[CancelSelector], Awaitable[CancelResult]]
Listing = Callable[[tuple[str, ...]], Awaitable[list[Order]]]

GONE = "not named in the venue's answer, and no longer listed open (filled, or cancelled elsewhere)"


def _meant(selector: CancelSelector, o: Order) -> bool:
    """Whether a listed order is one ``selector`` (of whole symbols) means to cancel."""
    entry_kept = selector.which == "entries" and o.reduce_only
    return (not selector.symbols or o.symbol in selector.symbols) and not entry_kept


class _Confirming:
    """The cancel's outcome so far, order by order (what :func:`confirmed` returns)."""

    def __init__(self, first: CancelResult):
        self.canceled: dict[str, None] = dict.fromkeys(first.canceled)
        self.failed = dict(first.failed)
        self.words = dict(first.words)
        self.acknowledged = set(first.acknowledged)
        self.unconfirmed = set(first.unconfirmed) - self.acknowledged
        self.still_open: dict[str, Order] = {}

    def take(self, res: CancelResult) -> None:
        """A later round's answer (a request that failed as a whole leaves its orders as they were)."""
        for oid in res.canceled:
            self._settle(oid)
            self.canceled[oid] = None
        for oid, why in res.failed.items():
            if oid in self.canceled and why == Reason.ORDER_NOT_FOUND.value:
                continue  # confirmed before, gone now: a list that lagged the cancel
            self._settle(oid)
            self.failed[oid] = why
            if oid in res.words:
                self.words[oid] = res.words[oid]
        self.acknowledged |= set(res.acknowledged)
        self.unconfirmed |= set(res.unconfirmed) - set(res.acknowledged)

    def _settle(self, oid: str) -> None:
        self.acknowledged.discard(oid)
        self.unconfirmed.discard(oid)
        self.failed.pop(oid, None)
        self.words.pop(oid, None)

    def listed(self, orders: list[Order]) -> None:
        """What the list after a round shows of the orders the answers left open."""
        by_id = {o.id for o in orders}
        for oid in sorted(self.acknowledged - by_id):
            self._settle(oid)
            self.canceled[oid] = None
        for oid in sorted(self.unconfirmed - by_id):
            self._settle(oid)
            self.failed[oid], self.words[oid] = Reason.ORDER_NOT_FOUND.value, GONE

    def unlisted(self, e: AdapterError) -> None:
        """The list failed: what it would have decided fails with its reason, never assumed gone."""
        for oid in sorted(self.acknowledged | self.unconfirmed):
            self._settle(oid)
            self.failed[oid] = e.reason.value
            self.words[oid] = f"not confirmed: the open orders could not be listed after the cancel ({e.message})"

    def result(self) -> CancelResult:
        return CancelResult(tuple(self.canceled), self.failed, words=self.words,
                            still_open=tuple(self.still_open[k] for k in sorted(self.still_open)))


async def confirmed(selector: CancelSelector, first: CancelResult, cancel: Cancel, listing: Listing) -> CancelResult:
    """``first``, the adapter's answer to ``selector``, decided (see the module doc): ``cancel``
    sends a later round, ``listing(symbols)`` reads the open orders afresh (all when empty)."""
    state = _Confirming(first)
    by_ids = bool(selector.order_ids)
    if by_ids and not (state.acknowledged or state.unconfirmed):
        return first
    symbols = () if by_ids else selector.symbols
    meant_ids = set(selector.order_ids)
    before: Optional[int] = None  # how many rested at the list before
    sends = 1  # the cancels sent, the first included
    for round_ in range(ROUNDS + 1):
        try:
            listed = await listing(symbols)
        except AdapterError as e:
            state.unlisted(e)
            return state.result()
        state.listed(listed)
        resting = [o for o in listed if (o.id in meant_ids if by_ids else _meant(selector, o))]
        # what the venue refused is named, never sent again blindly
        again = [o for o in resting if o.id not in state.failed or state.failed[o.id] == Reason.ORDER_NOT_FOUND.value]
        if not again or round_ == ROUNDS or (before is not None and len(resting) >= before):
            break  # nothing left to send, the bound, or a round that took nothing: what rests is named
        before, sends = len(resting), sends + 1
        # the lists after this one read only the symbols still holding what is meant to go (a
        # list of one symbol costs Binance 1 of its weight, of every symbol 40); an order a bot
        # places meanwhile on another symbol is the next snapshot's to find
        symbols = tuple(sorted({o.symbol for o in again}))
        if by_ids:
            res = await cancel(CancelSelector(selector.which, order_ids=tuple(o.id for o in again)))
        else:
            res = await cancel(CancelSelector(selector.which, tuple(sorted({o.symbol for o in again}))))
        if res.reason is not None:  # the request failed as a whole: its orders rest, named below
            for o in again:
                state.failed[o.id], state.words[o.id] = res.reason, res.message
            break
        state.take(res)
    for o in resting:
        state.still_open[o.id] = o
        if o.id in state.canceled:  # named cancelled, yet listed after: the list rules
            del state.canceled[o.id]
        if o.id not in state.failed or state.failed[o.id] == Reason.ORDER_NOT_FOUND.value:
            state.failed[o.id] = Reason.ORDER_STILL_OPEN.value
            state.words[o.id] = f"still listed open after {sends} cancel(s) answered"
        state.acknowledged.discard(o.id)
        state.unconfirmed.discard(o.id)
    return state.result()


__all__ = ["GONE", "ROUNDS", "confirmed"]
