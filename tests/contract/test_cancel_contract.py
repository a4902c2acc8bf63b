"""The cancel contract, on every face: done means the venue said so, and what rests is named.

A cancel goes out as the runner sends it, through its one way out (``tests.ports``), which
reads the venue's answer order by order and lists the open orders again after a symbol's
cancel. On each venue's face: an answer that cancels fewer than asked (the venue caps a call),
an empty answer while orders rest, and a cancel of an order that is already gone (filled). The
invariant each case checks: an order the engine still holds is never counted cancelled, and it
is named (``ORDER_STILL_OPEN``, in ``still_open``); an order gone is never ``ORDER_STILL_OPEN``.
"""

from __future__ import annotations

import pytest

from adapters.base import CancelResult, CancelSelector, Reason
from tests.ports import confirmed_cancel

from .test_adapter_contract import FACES, Face, bounded, run


def entries(f: Face, n: int, symbol: str = "ETHUSDT") -> None:
    """``n`` resting entry orders of ``symbol``, placed at the engine (a bot's), far from the market."""
    for i in range(n):
        f.engine.place_order(f.account, symbol, "buy", "LIMIT", 0.1, 2_000.0 + i, time_in_force="GTC",
                             client_order_id=f.cid(f"e{i}"))


async def ids_by_price(f: Face) -> dict[float, str]:
    """The venue id of each entry, by its limit price (each entry's own), as a snapshot lists them."""
    if hasattr(f.adapter, "open_orders_max_age_s"):
        f.adapter.open_orders_max_age_s = 0.0  # the ccxt face lists every open order at this snapshot
    snap = await bounded(f.adapter.snapshot())
    assert snap.fetch.ok, snap.fetch
    return {o.price: o.id for o in snap.orders if o.symbol == f.sym("ETH")}


def resting(f: Face, ids: dict[float, str]) -> set[str]:
    """The venue ids of the orders the engine still holds open."""
    return {ids[o.price] for o in f.engine.open_orders(f.account, "ETHUSDT")}


def holds(res: CancelResult, still: set[str], ids: dict[float, str]) -> None:
    """The invariant: what rests is named and never counted cancelled; what is gone is not
    named resting; every order meant to go has an outcome."""
    assert not set(res.canceled) & still
    assert {o.id for o in res.still_open} == still
    assert {oid for oid, why in res.failed.items() if why == Reason.ORDER_STILL_OPEN.value} == still
    assert set(res.canceled) | set(res.failed) == set(ids.values())
    assert all(res.words.get(oid) for oid in res.failed)  # each failure says why, in words


@pytest.mark.parametrize("kind", FACES)
def test_a_cancel_that_takes_fewer_than_asked_is_followed_until_nothing_rests(kind):
    async def body(f: Face):
        entries(f, 5)
        ids = await ids_by_price(f)
        f.engine.cap_cancels(f.account, 2)  # each cancel of the symbol takes 2, and answers success
        res = await bounded(confirmed_cancel(f.adapter, CancelSelector("all", (f.sym("ETH"),))))
        assert resting(f, ids) == set()
        holds(res, set(), ids)
        assert sorted(res.canceled) == sorted(ids.values()) and not res.failed

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_an_empty_cancel_while_orders_rest_names_each_order_still_open(kind):
    async def body(f: Face):
        entries(f, 3)
        ids = await ids_by_price(f)
        f.engine.cap_cancels(f.account, 0)  # the venue answers success and cancels nothing
        res = await bounded(confirmed_cancel(f.adapter, CancelSelector("all", (f.sym("ETH"),))))
        still = resting(f, ids)
        holds(res, still, ids)
        # a venue that cancels a symbol in one call cancelled nothing; one that cancels order by
        # order (no cancel-all: OKX, Hyperliquid) is not capped and took them all
        assert still in (set(), set(ids.values()))
        for o in res.still_open:
            assert o.symbol == f.sym("ETH") and o.amount == pytest.approx(0.1)

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_a_cancel_of_an_order_already_gone_is_not_found_in_the_venues_words(kind):
    async def body(f: Face):
        entries(f, 2)
        ids = await ids_by_price(f)
        gone, kept = ids[2_000.0], ids[2_001.0]
        f.engine.cancel_all(f.account, "ETHUSDT", limit=1)  # e0 goes at the venue (as if filled)
        assert resting(f, ids) == {kept}
        # the venue's "unknown order" for what the adapter knew open is checked against its list,
        # which Binance's client paces (40 weight, two seconds after the snapshot's)
        res = await bounded(confirmed_cancel(f.adapter, CancelSelector("all", order_ids=(gone, kept)), 8.0), 12.0)
        assert res.canceled == (kept,)
        assert res.failed == {gone: Reason.ORDER_NOT_FOUND.value} and res.words[gone]
        assert not res.still_open and resting(f, ids) == set()

    run(body, kind, timeout_s=8.0)
