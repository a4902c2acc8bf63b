"""What a dialect names of its venue in a message or a request, as its tables say it: the endpoints
of the positions and of the open orders by market type (ccxt's methods where it names none), the
venue's field of a position's contracts (its size field unless named apart), the key an order is
fetched by (the client id's own unless named apart), and the reader of the venue's refusals."""

from __future__ import annotations

import asyncio

import pytest

from adapters.ccxt_exchange.dialects import dialect_for

CCXT = ("fetch_positions", "fetch_open_orders")


@pytest.mark.parametrize("venue, market_type, want", [
    ("okx", "futures", ("GET /api/v5/account/positions", "GET /api/v5/trade/orders-pending")),
    ("okx", "spot", ("GET /api/v5/account/positions", "GET /api/v5/trade/orders-pending")),  # "*": any
    ("bitget", "spot", ("GET /api/v2/mix/position/all-position", "GET /api/v2/spot/trade/unfilled-orders")),
    ("bitget", "futures", ("GET /api/v2/mix/position/all-position", "GET /api/v2/mix/order/orders-pending")),
    ("mexc", "futures", ("GET /api/v1/private/position/open_positions",
                         "GET /api/v1/private/order/list/open_orders")),
    ("mexc", "spot", ("GET /api/v3/account", "GET /api/v3/openOrders")),  # its spot API v3
    ("bybit", "futures", ("GET /v5/position/list", "GET /v5/order/realtime")),
    ("binancecoinm", "futures", ("GET /dapi/v1/positionRisk", "GET /dapi/v1/openOrders")),
    ("gate", "spot", CCXT),  # no dialect of its own
    ("kraken", "spot", ("POST /0/private/OpenPositions", "POST /0/private/OpenOrders")),
])
def test_the_read_endpoints_a_message_names(venue, market_type, want):
    d = dialect_for(venue)
    assert (d.positions_endpoint(market_type), d.open_orders_endpoint(market_type)) == want


@pytest.mark.parametrize("venue, want", [
    ("okx", "pos (ccxt contracts)"), ("krakenfutures", "size (ccxt contracts)"),
    ("hyperliquid", "szi (ccxt contracts)"),  # named apart from its size field's path (position.szi)
    ("gate", "contracts"),
])
def test_a_positions_contracts_are_named_by_the_venues_size_field(venue, want):
    assert dialect_for(venue).field_name("position", "contracts") == want


@pytest.mark.parametrize("venue, key", [("bitget", "clientOid"), ("okx", "clOrdId"),
                                        ("binanceusdm", "origClientOrderId"), ("gate", "clientOrderId")])
def test_an_order_is_fetched_by_the_client_ids_key_unless_named_apart(venue, key):
    asked = []

    async def call(method, *args):
        asked.append((method, args))

    asyncio.run(dialect_for(venue).find_by_client_id(call, "BTC/USDT:USDT", "ks1"))
    assert asked == [("fetch_order", (None, "BTC/USDT:USDT", {key: "ks1"}))]


def test_each_venue_reads_its_own_refusals_and_another_id_the_common_shapes():
    okx_body = {"code": "1", "msg": "", "data": [{"sCode": "51169", "sMsg": "no position"}]}
    assert dialect_for("okx").refusal_of(okx_body) == ("51169", "no position")
    assert dialect_for("gate").refusal_of({"error": ["EOrder:Insufficient funds"]}) == (
        "EOrder:Insufficient", "EOrder:Insufficient funds")
    assert dialect_for("kraken").refusal_of({"error": ["EOrder:Insufficient funds"]}) == (
        "EOrder:Insufficient funds", "EOrder:Insufficient funds")


@pytest.mark.parametrize("venue, flags, can", [
    ("okx", {"fetchOrder"}, True), ("okx", set(), False),  # ccxt's fetchOrder
    ("krakenfutures", {"fetchOrders"}, True), ("krakenfutures", {"fetchOrder"}, False),
    ("bybit", set(), True), ("mexc", set(), True),  # their own lookups, whatever ccxt says
])
def test_an_order_is_found_by_its_client_id_where_the_flag_its_lookup_needs_is_set(venue, flags, can):
    assert dialect_for(venue).can_fetch_by_client_id(flags.__contains__) is can


def test_read_each_reads_every_row_and_lets_the_loop_run_between_chunks():
    """A long list read row by row gives the event loop a turn every YIELD_EVERY rows (a stream's
    frame is not held behind a book of 10,000 positions); rows read as None are left out."""
    from adapters.ccxt_exchange.dialects.base import YIELD_EVERY, read_each

    ticks: list[int] = []
    seen: list[int] = []

    async def go() -> list:
        async def ticker() -> None:
            while True:
                ticks.append(len(seen))
                await asyncio.sleep(0)

        task = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        got = await read_each(list(range(2 * YIELD_EVERY + 1)),
                              lambda row: seen.append(row) or (row if row % 2 else None))
        task.cancel()
        return got

    got = asyncio.run(go())
    assert got == list(range(1, 2 * YIELD_EVERY + 1, 2))
    assert YIELD_EVERY in ticks and 2 * YIELD_EVERY in ticks  # the ticker ran between the chunks
