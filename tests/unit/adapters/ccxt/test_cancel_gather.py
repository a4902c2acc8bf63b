"""Cancels gathered while the order budget waits (adapters/ccxt_exchange/cancel_gather.py), and
the budget's spending of a request worth more than one order: a batch forms until the budget
lets it go, at most its size; its answer is every caller's; a caller that stops waiting does not
stop it; a failure reaches every caller; a batch weighed by its size leaves the budget in debt.
The adapter's use of it on a face: tests/unit/adapters/venues/krakenfutures/test_face.py."""

from __future__ import annotations

import asyncio

import pytest

from adapters.base import AdapterError, Reason, VenueRefusal
from adapters.ccxt_exchange.budget import OrderBudget
from adapters.ccxt_exchange.cancel_gather import Gathering
from adapters.ccxt_exchange.dialects.cancel_hooks import CancelAnswer
from killswitch.snapshot import Order


def order(oid: str) -> Order:
    return Order(id=oid, symbol="ETH/USD:USD", side="buy", type="limit", amount=1.0)


GONE = VenueRefusal("notFound", "the order was not found", "ORDER_NOT_FOUND", "permanent")


def test_cancels_that_come_while_the_budget_waits_go_in_batches_of_their_size():
    async def go():
        g, gate, sent = Gathering(), asyncio.Event(), []

        async def send(batch):
            sent.append([o.id for o in batch])
            return CancelAnswer(frozenset(o.id for o in batch if o.id != "b"), {"b": GONE})

        calls = [asyncio.ensure_future(g.cancel("k", [order(i)], 3, gate.wait, send)) for i in "abcd"]
        await asyncio.sleep(0)  # each has joined (none can go: the budget's gate is shut)
        assert g.forming("k") and not sent
        calls[0].cancel()  # its caller stops waiting: the batch still goes, with its order
        gate.set()
        answers = await asyncio.gather(*calls[1:])
        assert sent == [["a", "b", "c"], ["d"]]
        assert answers[0] is answers[1] and answers[0].refused == {"b": GONE} and "c" in answers[0].done
        assert answers[2].done == {"d"} and not g.forming("k")

    asyncio.run(go())


def test_a_batch_that_fails_fails_for_every_caller():
    async def go():
        g = Gathering()
        gate = asyncio.Event()

        async def send(batch):
            raise AdapterError(Reason.RATE_LIMITED, "apiLimitExceeded", venue="krakenfutures")

        calls = [asyncio.ensure_future(g.cancel("k", [order(i)], 5, gate.wait, send)) for i in "ab"]
        await asyncio.sleep(0)
        gate.set()
        got = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(e, AdapterError) and e.reason is Reason.RATE_LIMITED for e in got)

    asyncio.run(go())


def test_more_orders_than_a_batch_holds_is_refused():
    async def go():
        with pytest.raises(ValueError):
            await Gathering().cancel("k", [order("a"), order("b")], 1, asyncio.Event().wait, None)

    asyncio.run(go())


def test_a_request_worth_more_than_one_order_leaves_the_budget_in_debt():
    now = [0.0]
    b = OrderBudget(4.0, clock=lambda: now[0])  # a second's burst: 4 orders

    async def go():
        assert b.available()
        await b.acquire(3.9)  # a batch of 30 at Kraken Futures: (9 + 30) / 10; it goes at once
        assert not b.available()  # 0.1 left
        now[0] += 0.2  # 0.9
        assert not b.available()
        now[0] += 0.05  # 1.1
        assert b.available()
        await b.ready()  # a token is there: it returns, spending none
        assert b.available()
        await b.acquire(3.9)  # in debt by 2.8: the next order waits 0.95 s
        now[0] += 0.9
        assert not b.available()
        now[0] += 0.1
        assert b.available()

    asyncio.run(asyncio.wait_for(go(), 5))
