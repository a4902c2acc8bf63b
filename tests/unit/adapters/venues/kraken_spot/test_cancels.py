"""Kraken spot's cancels, read row by row, and its own dead man's switch (CancelAllOrdersAfter).
(Answers as the rig says: ccxt's recordings and Kraken's documented ones.)"""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from tests.unit.adapters.venues.kraken_spot.rig import LTC, RECORDED, KrakenVenue, documented, open_two, using

# --- cancels ----------------------------------------------------------------------------------------


def test_a_cancel_by_id_is_cancelorder_its_count_read():
    """CancelOrder answered ``count`` 1: cancelled; 0: named neither way (the list decides); an
    error list (``EOrder:Unknown order``): refused with the venue's code and words. Never CancelAll."""
    venue = KrakenVenue(private_OpenOrders=open_two(), private_CancelOrder=(
        documented("CancelOrder"), {"error": [], "result": {"count": 0}}))

    async def work(a):
        await a.snapshot()
        return await a.cancel_orders(CancelSelector(order_ids=("OXCZ7B-EMVZQ-MTJTQJ", "OF7S76-H2IMS-N2ML4U")))

    r = using(venue, work)
    assert r.canceled == ("OXCZ7B-EMVZQ-MTJTQJ",) and r.unconfirmed == ("OF7S76-H2IMS-N2ML4U",)
    sent = venue.sent("/0/private/CancelOrder")
    assert [q["txid"] for q in sent] == ["OXCZ7B-EMVZQ-MTJTQJ", "OF7S76-H2IMS-N2ML4U"]
    rec = dict(parse_qsl(RECORDED["requests"]["cancelOrder"]["output"]))
    assert set(rec) == set(sent[1]) and rec["txid"] == sent[1]["txid"]  # the recorded request's form
    assert not venue.sent("/0/private/CancelAll")


def test_a_cancel_refused_in_a_success_answer_keeps_eorder_unknown_order():
    venue = KrakenVenue(private_OpenOrders=open_two(), private_CancelOrder=documented("CancelOrder unknown"))

    async def work(a):
        await a.snapshot()
        return await a.cancel_orders(CancelSelector(order_ids=("OXCZ7B-EMVZQ-MTJTQJ",)))

    r = using(venue, work)
    assert not r.canceled and r.failed == {"OXCZ7B-EMVZQ-MTJTQJ": "ORDER_NOT_FOUND"}
    assert r.words["OXCZ7B-EMVZQ-MTJTQJ"] == "EOrder:Unknown order"


def test_a_symbols_cancel_sends_one_cancelorder_each_and_never_cancelall():
    """CancelAll is the whole account's: cancelling LTC/USDT's orders leaves XRP/USD's alone."""
    venue = KrakenVenue(private_OpenOrders=open_two())

    async def work(a):
        await a.snapshot()
        return await a.cancel_orders(CancelSelector(symbols=(LTC,), which="all"))

    r = using(venue, work)
    assert r.canceled == ("OXCZ7B-EMVZQ-MTJTQJ",)
    assert [q["txid"] for q in venue.sent("/0/private/CancelOrder")] == ["OXCZ7B-EMVZQ-MTJTQJ"]
    assert not venue.sent("/0/private/CancelAll")


# --- the dead man's switch ----------------------------------------------------------------------------


def test_cancelallordersafter_arms_in_whole_seconds_and_turns_off_with_0():
    venue = KrakenVenue(private_CancelAllOrdersAfter=(documented("CancelAllOrdersAfter"),
                                                      documented("CancelAllOrdersAfter off")))

    async def work(a):
        assert a.capabilities.cancel_all_after
        st_ = await a.arm_cancel_all_after(10, ())
        await a.disarm_cancel_all_after()
        return st_

    got = using(venue, work)
    assert got.armed and got.seconds == 10.0
    on, off = venue.sent("/0/private/CancelAllOrdersAfter")
    for sent, name in ((on, "cancelAllOrdersAfter"), (off, "cancelAllOrdersAfter off")):
        rec = dict(parse_qsl(RECORDED["requests"][name]["output"]))
        assert sent["timeout"] == rec["timeout"] and set(sent) == set(rec)


def test_a_switch_answer_without_its_trigger_time_is_bad_response():
    venue = KrakenVenue(private_CancelAllOrdersAfter={"error": [], "result": {"currentTime": "2023-03-24T17:41:56Z"}})

    async def work(a):
        with pytest.raises(AdapterError) as e:
            await a.arm_cancel_all_after(60, ())
        return e.value

    assert using(venue, work).reason is Reason.BAD_RESPONSE
