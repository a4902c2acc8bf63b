"""A cancel confirmed at the runner's one way out (killswitch/runner/venue/confirm.py).

A fake venue holds resting orders and answers each cancel in one of the shapes the venues
use — a list of what it cancelled (Bybit, capped at 500 a call on futures), a blanket "done"
naming none (Binance), a refused row beside done ones (Bitget) — or misbehaves as the issue's
bad input asks: an empty list while orders rest, an id named twice or one the account never
had, an answer missing its list, a list that fails. The invariant throughout: nothing counts
as cancelled that the venue did not confirm, and what rests is named.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Optional

import pytest
from hypothesis import given, settings, strategies as st

from adapters.base import AdapterError, CancelResult, CancelSelector, ExchangeAdapter, Reason
from killswitch.runner.venue.confirm import ROUNDS
from killswitch.runner.venue.port import VenuePort
from killswitch.snapshot import Order

SYM, OTHER = "BTC/USDT:USDT", "ETH/USDT:USDT"


def order(i: int, symbol: str = SYM, reduce_only: bool = False) -> Order:
    return Order(id=str(i), symbol=symbol, side="buy", type="limit", amount=0.1, price=100.0 + i,
                 reduce_only=reduce_only)


class Venue(ExchangeAdapter):
    """Resting orders; a cancel of a symbol takes at most ``cap`` and answers in ``shape``."""

    venue, account = "fake", "main"

    def __init__(self, orders: list[Order], *, shape: str = "list", cap: Optional[int] = None,
                 refuse: frozenset[str] = frozenset(), list_fails: bool = False):
        self.orders = {o.id: o for o in orders}
        self.shape, self.cap, self.refuse, self.list_fails = shape, cap, refuse, list_fails
        self.calls: list[str] = []

    async def cancel_orders(self, selector: CancelSelector) -> CancelResult:
        self.calls.append("cancel")
        if selector.order_ids:
            canceled, failed, words = [], {}, {}
            for oid in selector.order_ids:
                if oid in self.refuse:
                    failed[oid], words[oid] = "VENUE_REFUSED", "22 order is being processed"
                elif self.orders.pop(oid, None) is None:
                    failed[oid], words[oid] = Reason.ORDER_NOT_FOUND.value, "110001 order not exists or too late"
                else:
                    canceled.append(oid)
            return CancelResult(tuple(canceled), failed, words=words)
        sent = [o for o in self.orders.values() if (not selector.symbols or o.symbol in selector.symbols)
                and not (selector.which == "entries" and o.reduce_only)]
        taken = [o for o in sent if o.id not in self.refuse][:self.cap]
        for o in taken:
            del self.orders[o.id]
        ids = [o.id for o in sent]
        if self.shape == "whole":  # "done", naming none
            return CancelResult((), acknowledged=tuple(ids))
        if self.shape == "empty":  # success, an empty list, nothing taken
            for o in taken:
                self.orders[o.id] = o
            return CancelResult((), unconfirmed=tuple(ids))
        named = [o.id for o in taken]
        if self.shape == "twice":  # an id named twice, and one the account never had
            named = named + named[:1] + ["999999"]
        done = [i for i in ids if i in named]
        refused = {i: "VENUE_REFUSED" for i in ids if i in self.refuse}
        return CancelResult(tuple(done), refused, words={i: "22 order is being processed" for i in refused},
                            unconfirmed=tuple(i for i in ids if i not in done and i not in refused))

    async def open_orders(self, symbols: tuple[str, ...] = ()) -> list[Order]:
        self.calls.append("list")
        if self.list_fails:
            raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, "GET /v5/order/realtime: 503")
        return [o for o in self.orders.values() if not symbols or o.symbol in symbols]


def cancel(venue: Venue, selector: CancelSelector) -> CancelResult:
    port = VenuePort("fake/main", venue, 5.0, Counter())
    return asyncio.run(port.cancel(selector))


def check(res: CancelResult, venue: Venue, meant: set[str]) -> None:
    """Nothing counted cancelled rests; every resting order meant to go is named; all have an outcome."""
    resting = set(venue.orders) & meant
    assert not set(res.canceled) & resting
    assert {o.id for o in res.still_open} == resting
    assert set(res.canceled) | set(res.failed) == meant
    assert not res.unconfirmed and not res.acknowledged


def test_bybits_cap_of_500_with_600_resting_takes_two_cancels_and_names_none():
    v = Venue([order(i) for i in range(600)], cap=500)
    res = cancel(v, CancelSelector("all", (SYM,)))
    check(res, v, {str(i) for i in range(600)})
    assert len(res.canceled) == 600 and not res.failed
    assert v.calls == ["cancel", "list", "cancel", "list"]


def test_an_empty_answer_while_orders_rest_is_never_cancelled_and_names_each_order():
    v = Venue([order(i) for i in range(3)], shape="empty")
    res = cancel(v, CancelSelector("all", (SYM,)))
    check(res, v, {"0", "1", "2"})
    assert res.canceled == ()
    assert res.failed == dict.fromkeys(("0", "1", "2"), Reason.ORDER_STILL_OPEN.value)
    assert "still listed open" in res.words["0"]
    # a round that takes nothing is not repeated to the bound: two cancels, then named
    assert v.calls.count("cancel") == 2


def test_a_blanket_done_is_cancelled_only_for_what_the_list_no_longer_holds():
    v = Venue([order(i) for i in range(4)], shape="whole", cap=3)
    res = cancel(v, CancelSelector("all", (SYM,)))
    check(res, v, {"0", "1", "2", "3"})
    assert sorted(res.canceled) == ["0", "1", "2", "3"]  # the fourth went in the second round


def test_an_id_named_twice_or_never_had_counts_once_and_for_nothing():
    v = Venue([order(i) for i in range(3)], shape="twice", cap=2)
    res = cancel(v, CancelSelector("all", (SYM,)))
    check(res, v, {"0", "1", "2"})
    assert sorted(res.canceled) == ["0", "1", "2"] and "999999" not in res.canceled


def test_a_refused_row_beside_done_ones_keeps_the_venues_words_and_is_not_sent_again():
    v = Venue([order(i) for i in range(3)], refuse=frozenset({"1"}))
    res = cancel(v, CancelSelector("all", (SYM,)))
    check(res, v, {"0", "1", "2"})
    assert sorted(res.canceled) == ["0", "2"]
    assert res.failed == {"1": "VENUE_REFUSED"} and res.said_of("1") == "VENUE_REFUSED: 22 order is being processed"
    assert [o.id for o in res.still_open] == ["1"]
    assert v.calls == ["cancel", "list"]  # named, never re-sent blindly


def test_an_order_placed_after_the_first_list_is_cancelled_by_the_next_round():
    v = Venue([order(i) for i in range(2)], shape="list")
    real = v.cancel_orders

    async def racing(selector: CancelSelector) -> CancelResult:
        res = await real(selector)
        if v.calls.count("cancel") == 1:
            v.orders["7"] = order(7)  # a bot racing the halt
        return res

    v.cancel_orders = racing  # type: ignore[method-assign]
    res = cancel(v, CancelSelector("all", (SYM,)))
    assert sorted(res.canceled) == ["0", "1", "7"] and not v.orders


def test_an_unnamed_order_gone_from_the_list_is_not_found_not_cancelled():
    v = Venue([order(i) for i in range(2)], shape="list")
    real = v.cancel_orders

    async def filled_meanwhile(selector: CancelSelector) -> CancelResult:
        res = await real(selector)  # names both
        return CancelResult(res.canceled[:1], unconfirmed=res.canceled[1:])  # an answer cut short

    v.cancel_orders = filled_meanwhile  # type: ignore[method-assign]
    res = cancel(v, CancelSelector("all", (SYM,)))
    assert res.canceled == ("0",) and res.failed == {"1": Reason.ORDER_NOT_FOUND.value}
    assert "no longer listed open" in res.words["1"]


def test_a_list_that_fails_leaves_what_it_would_decide_failed_with_its_reason():
    v = Venue([order(i) for i in range(3)], shape="whole", list_fails=True)
    res = cancel(v, CancelSelector("all", (SYM,)))
    assert res.canceled == ()
    assert res.failed == dict.fromkeys(("0", "1", "2"), Reason.EXCHANGE_UNAVAILABLE.value)
    assert "could not be listed" in res.words["0"]


def test_entries_leave_the_orders_that_only_reduce_and_other_symbols_alone():
    v = Venue([order(0), order(1, reduce_only=True), order(2, OTHER)], shape="empty")
    res = cancel(v, CancelSelector("entries", (SYM,)))
    assert set(res.failed) == {"0"} and [o.id for o in res.still_open] == ["0"]


def test_a_cancel_by_ids_each_answered_is_not_listed_again():
    v = Venue([order(i) for i in range(3)])
    res = cancel(v, CancelSelector("all", order_ids=("0", "5")))
    assert res.canceled == ("0",) and res.failed == {"5": Reason.ORDER_NOT_FOUND.value}
    assert v.calls == ["cancel"]


def test_the_rounds_are_bounded():
    v = Venue([order(i) for i in range(10)], cap=1)
    res = cancel(v, CancelSelector("all", (SYM,)))
    assert v.calls.count("cancel") == ROUNDS + 1
    assert len(res.canceled) == ROUNDS + 1 and len(res.still_open) == 10 - ROUNDS - 1
    check(res, v, {str(i) for i in range(10)})


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), cap=st.one_of(st.none(), st.integers(0, 15)),
       shape=st.sampled_from(["list", "whole", "empty", "twice"]),
       refuse=st.sets(st.integers(0, 40), max_size=4))
def test_nothing_resting_is_ever_counted_cancelled(n, cap, shape, refuse):
    v = Venue([order(i) for i in range(n)], shape=shape, cap=cap, refuse=frozenset(str(i) for i in refuse))
    res = cancel(v, CancelSelector("all", (SYM,)))
    check(res, v, {str(i) for i in range(n)})


@pytest.mark.parametrize("shape", ["list", "whole"])
def test_a_request_that_fails_as_a_whole_in_a_later_round_names_what_rests(shape):
    v = Venue([order(i) for i in range(4)], shape=shape, cap=2)
    real = v.cancel_orders

    async def second_fails(selector: CancelSelector) -> CancelResult:
        if v.calls.count("cancel") >= 1:
            v.calls.append("cancel")
            raise AdapterError(Reason.RATE_LIMITED, "10006 Too many visits")
        return await real(selector)

    v.cancel_orders = second_fails  # type: ignore[method-assign]
    res = cancel(v, CancelSelector("all", (SYM,)))
    check(res, v, {"0", "1", "2", "3"})
    assert sorted(res.canceled) == ["0", "1"]
    assert res.failed == {"2": "RATE_LIMITED", "3": "RATE_LIMITED"} and "10006" in res.words["2"]
