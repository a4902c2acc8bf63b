"""The order endpoints each dialect takes out of the read pacing name endpoints ccxt really calls
(a typo would leave a close queued behind a reconcile's reads, silently), and a close or a cancel
goes at once while a read waits out the weight's debt: counted by the order budget (cost 0), or
charged where the venue weighs it with its reads (Hyperliquid)."""

from __future__ import annotations

import asyncio

import ccxt
import pytest

from adapters.ccxt_exchange.budget import Charged, RequestPacer, weigh_endpoints
from adapters.ccxt_exchange.dialects import DIALECTS

METHODS = ("get", "post", "put", "delete")


def endpoints(api: dict) -> set[tuple[str, str, str]]:
    """(first key, METHOD, path) of every endpoint of ccxt's ``api`` table."""
    out: set[tuple[str, str, str]] = set()

    def walk(node, root):
        if not isinstance(node, dict):
            return
        for k, v in node.items():
            if k in METHODS and isinstance(v, dict):
                out.update((root, k.upper(), path) for path in v)
            else:
                walk(v, root)

    for root, node in api.items():
        walk(node, root)
    return out


@pytest.mark.parametrize("venue", sorted(v for v, d in DIALECTS.items()
                                         if d.limits.counted_as_orders or d.limits.weighed_as_orders))
def test_every_order_endpoint_a_dialect_names_is_one_ccxt_calls(venue):
    dialect = DIALECTS[venue]
    known = endpoints(getattr(ccxt, venue)().api)
    for e in dialect.limits.counted_as_orders | dialect.limits.weighed_as_orders:
        assert e in known, f"{venue}: {e} is no endpoint of ccxt's table"


def test_okx_bitget_mexc_and_hyperliquid_orders_are_out_of_the_read_queue():
    for venue, path, charged in (("okx", ("private", "POST", "trade/order"), False),
                                 ("bitget", ("private", "POST", "v2/mix/order/place-order"), False),
                                 # MEXC limits each endpoint apart: a spot lock's sales back and their
                                 # reads held the rogue's cancels a second and more in the read queue
                                 ("mexc", ("spot", "DELETE", "order"), False),
                                 ("mexc", ("contract", "POST", "order/cancel"), False),
                                 ("hyperliquid", ("private", "POST", "exchange"), True)):
        d = DIALECTS[venue]
        assert (path in d.limits.weighed_as_orders) is charged and (path in d.limits.counted_as_orders) is not charged


async def owing(pacer: RequestPacer) -> asyncio.Future:
    """``pacer`` (20 a second, 60 at once) owing 40, and a read of 20 waiting it out (2 s)."""
    await pacer(100)
    read = asyncio.ensure_future(pacer(20))
    await asyncio.sleep(0.05)
    assert not read.done()
    return read


def test_a_charged_order_goes_at_once_and_the_reads_after_it_wait_out_its_weight():
    pacer = RequestPacer(20.0, capacity=60.0)

    async def go():
        read = await owing(pacer)
        before = pacer.available()
        await asyncio.wait_for(pacer(Charged(1.0)), 0.2)  # the action is not behind it
        assert pacer.available() == pytest.approx(before - 1.0, abs=0.2)  # but it is charged
        read.cancel()

    asyncio.run(go())


def test_weigh_endpoints_marks_the_charged_ones():
    class Client:
        def calculate_rate_limiter_cost(self, api, method, path, params, config={}):  # noqa: B006
            return 1.0

    ex = Client()
    weigh_endpoints(ex, {("private", "POST", "order"): 0.0}, frozenset({("private", "POST", "exchange")}))
    assert ex.calculate_rate_limiter_cost(["private"], "POST", "order", {}) == 0.0
    out = ex.calculate_rate_limiter_cost(["private"], "POST", "exchange", {})
    assert isinstance(out, Charged) and out == 1.0
    assert not isinstance(ex.calculate_rate_limiter_cost(["public"], "POST", "info", {}), Charged)


def test_an_urgent_read_goes_ahead_of_reads_waiting_out_the_debt_within_a_burst():
    from adapters.ccxt_exchange.budget import urgent_reads

    pacer = RequestPacer(20.0, capacity=60.0)

    async def go():
        read = await owing(pacer)
        before = pacer.available()

        async def look_up() -> None:
            with urgent_reads():  # (a task started in the block reads it too)
                await asyncio.get_running_loop().create_task(pacer(2))

        await asyncio.wait_for(look_up(), 0.2)  # the stream's look-up is not behind the read
        assert pacer.available() == pytest.approx(before - 2.0, abs=0.2)  # but it is charged
        with urgent_reads():  # past a burst of debt (60) it waits as any read
            past = asyncio.ensure_future(pacer(30))
            await asyncio.sleep(0.05)
            assert not past.done()
        past.cancel()
        read.cancel()

    asyncio.run(go())
