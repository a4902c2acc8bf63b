"""The adapter contract per ccxt id: what the production adapter sends to, and reads from, each
venue with a dialect, over a recording ccxt-like client.

``VENUES`` holds one row per ccxt id with a dialect of its own, each venue's from its folder
(``adapters/venues/<venue>/contract.py``, data): what the venue must see of a close, a lookup by
client order id and a countdown, the leg it reads back and its order rate. A registered dialect
without a row fails, and so does a row without a dialect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from adapters.base import Reason
from adapters.ccxt_exchange.dialects.limits import Limits
from killswitch.engine.planner import client_order_id
from killswitch.policy.accounts_doc import Account
from tests.venue_fixtures import countdown_answer

from .test_adapter_contract import TIMEOUT_S, bounded, close_intent, reason_of


@dataclass(frozen=True)
class Venue:
    """What the production adapter must send to, and read from, one ccxt id."""

    id: str
    market_id: str  # the venue's id of BTC/USDT:USDT
    one_way_close: dict  # create_order params of a one-way (net mode) close with client order id ``cid``
    hedge_close: dict | None  # create_order params of a hedge-mode sell closing the LONG leg (None: one-way only)
    lookup: tuple  # (ccxt method, its params) of the first call of fetch_order(BTC, cid)
    short_leg_info: dict  # the venue's raw info of a position (or order) on the SHORT leg (one-way: a net position)
    max_client_id_length: int
    countdown: tuple | None  # (ccxt method, its argument) of arm_cancel_all_after(60, (BTC,))
    options: tuple = ()  # adapter options the countdown needs, as (name, value) pairs
    cid: str = "ks1"  # the client order id of the row's close and lookup (the engine's form where the venue needs it)
    close_price: float | None = None  # the close's limit price, where the venue has no market order
    create_answer_has_id: bool = True  # whether create_order's answer carries the client order id
    limits: Limits | None = None  # the venue's limits: its dialect module's table, read by the row (never restated)
    # ccxt's implicit methods of the venue's own endpoints the dialect reads (a lookup, a list) → the
    # venue's raw answer
    raw_answers: dict | None = None
    order_info: dict = field(default_factory=dict)  # the venue's raw answer to create_order (ccxt's info)


def contract_rows() -> list[Venue]:
    """Every venue package's rows (``adapters/venues/<venue>/contract.py``), in registry order."""
    from importlib import import_module

    from adapters.registry import venues

    return [Venue(**row) for pkg in venues() for row in import_module(f"{pkg.__name__}.contract").ROWS]


VENUES = contract_rows()
BTC = "BTC/USDT:USDT"


class VenueClient:
    """A ccxt-like client of one venue: fixed answers, every call recorded as (method, args)."""

    def __init__(self, venue: Venue):
        self.id = venue.id
        self.venue = venue
        self.has = {"fetchPositions": True, "fetchOrder": True, "fetchOrders": True, "cancelAllOrders": True,
                    "fetchTickers": True}
        self.markets = None
        self.precisionMode = 4
        self.options: dict = {}
        self.urls: dict = {}
        self.calls: list = []
        self.positions: list = []
        self._market = {"id": venue.market_id, "symbol": BTC, "base": "BTC", "quote": "USDT", "settle": "USDT",
                        "type": "swap", "spot": False, "swap": True, "future": False, "contract": True,
                        "contractSize": 1.0, "precision": {"amount": 0.001, "price": 0.1},
                        "limits": {"amount": {"min": 0.001}, "cost": {"min": 5.0}}}
        self.hedged = False  # the account's position mode, as fetch_position_mode answers it
        if venue.countdown:
            setattr(self, venue.countdown[0], self._recorder(venue.countdown[0]))
        for name, answer in (venue.raw_answers or {}).items():
            setattr(self, name, self._recorder(name, answer))

    def factory(self, config):
        return self

    def _recorder(self, name, answer=None):
        async def method(*args):
            self.calls.append((name, args))
            return countdown_answer(name, args) if answer is None else answer
        return method

    async def fetch_position_mode(self, symbol=None, params={}):
        # ccxt's unified answer, the venue's raw one in info (MEXC's position_mode: 1 hedge, 2 one-way)
        return {"info": {"success": True, "code": 0, "data": 1 if self.hedged else 2}, "hedged": self.hedged}

    def _order(self, params, status="closed"):
        # whichever key the venue uses (Kraken Futures looks up by cliOrdIds)
        cid = next((v for k, v in params.items() if k.endswith(("Id", "Ids"))), None)
        if status == "closed" and not self.venue.create_answer_has_id:
            cid = None
        return {"id": "1", "clientOrderId": cid, "symbol": BTC, "side": "sell", "type": "market", "amount": 0.5,
                "filled": 0.5, "status": status, "average": 60_000.0, "info": dict(self.venue.order_info)}

    async def load_markets(self, reload=False, params={}):
        self.markets = {BTC: self._market}
        self.markets_by_id = {self.venue.market_id: [self._market]}
        return self.markets

    async def fetch_balance(self, params={}):
        # in USDT, and in USD for a venue whose accounts count in it (Kraken Futures' flex)
        coin = {"free": 1000.0, "used": 0.0, "total": 1000.0}
        return {"info": {}, "total": {"USDT": 1000.0, "USD": 1000.0}, "USDT": coin, "USD": dict(coin)}

    async def fetch_positions(self, symbols=None, params={}):
        # a venue listed by settle coin (Bybit) has its USDT-settled market in the USDT list only
        return self.positions if params.get("settleCoin") in (None, "USDT") else []

    async def fetch_open_orders(self, symbol=None, since=None, limit=None, params={}):
        self.calls.append(("fetch_open_orders", (symbol, since, limit, params)))
        # one order when looked up by client id (whichever key the venue uses), else none
        return [self._order(params, "open")] if any(k.endswith("Id") for k in params) else []

    async def create_order(self, symbol, type, side, amount, price=None, params={}):
        self.calls.append(("create_order", (symbol, type, side, amount, price, params)))
        return self._order(params)

    async def fetch_order(self, id, symbol=None, params={}):
        self.calls.append(("fetch_order", (id, symbol, params)))
        return self._order(params)

    async def fetch_orders(self, symbol=None, since=None, limit=None, params={}):
        self.calls.append(("fetch_orders", (symbol, since, limit, params)))
        return [self._order(params)]

    async def close(self):
        pass


def venue_adapter(venue: Venue, hedge_mode: bool = False, **options):
    from adapters.ccxt_exchange import CcxtAdapter

    client = VenueClient(venue)
    client.hedged = hedge_mode
    acc = Account.model_validate({"name": "row", "venue": venue.id, "market_type": "futures",
                                  "hedge_mode": hedge_mode})
    return CcxtAdapter(acc, exchange_factory=client.factory, timeout=TIMEOUT_S, **options), client


def venue_position(side: str, info: dict) -> dict:
    # the venue's own row carries its size where ccxt reads it (Bybit size, OKX pos, Hyperliquid szi, Bitget
    # total, MEXC holdVol with its positionType)
    raw = {"size": "1.0", "pos": "1.0", "position": {"szi": "1.0"}, "total": "1.0", "holdVol": "1.0",
           "positionType": 1 if side == "long" else 2, **info}
    return {"symbol": BTC, "side": side, "contracts": 1.0, "contractSize": 1.0, "markPrice": 60_000.0,
            "entryPrice": 60_000.0, "unrealizedPnl": 0.0, "notional": 60_000.0, "hedged": None, "info": raw}


def test_every_dialect_has_a_contract_row_and_every_row_a_dialect():
    from adapters.ccxt_exchange.dialects import DIALECTS

    assert sorted(v.id for v in VENUES) == sorted(DIALECTS)


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.id)
def test_venue_close_carries_the_client_id_reduce_only_and_the_leg_its_way(venue):
    async def body():
        sent = []
        modes = ((False, None), (True, "LONG")) if venue.hedge_close is not None else ((False, None),)
        for hedge_mode, leg in modes:
            adapter, client = venue_adapter(venue, hedge_mode)
            client.positions = [venue_position("long", {})]
            intent = close_intent(BTC, amount=0.5, cid=venue.cid, position_side=leg, limit=venue.close_price)
            r = await bounded(adapter.submit(intent))
            assert r.client_order_id == venue.cid
            [(symbol, kind, side, amount, price, params)] = [c[1] for c in client.calls if c[0] == "create_order"]
            expected = ("market", None) if venue.close_price is None else ("limit", venue.close_price)
            assert (symbol, kind, side, amount, price) == (BTC, expected[0], "sell", 0.5, expected[1])
            sent.append(params)
        assert sent == [venue.one_way_close] + ([venue.hedge_close] if venue.hedge_close is not None else [])

    asyncio.run(body())


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.id)
def test_venue_order_is_looked_up_by_client_id_its_way(venue):
    async def body():
        adapter, client = venue_adapter(venue)
        r = await bounded(adapter.fetch_order(BTC, venue.cid))
        assert r.status == "filled" and r.client_order_id == venue.cid
        method, params = venue.lookup
        first_method, first_args = client.calls[0]
        assert (first_method, first_args[-1]) == (method, params)
        assert adapter.capabilities.fetch_order_by_client_id

    asyncio.run(body())


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.id)
def test_venue_leg_is_read_from_its_raw_field(venue):
    async def body():
        if venue.hedge_close is None:  # one-way only: the venue's raw info says a position is the net one
            adapter, client = venue_adapter(venue)
            client.positions = [venue_position("short", venue.short_leg_info)]
            s = await bounded(adapter.snapshot())
            assert s.fetch.ok and [p.position_side for p in s.positions] == ["BOTH"]
            return
        adapter, client = venue_adapter(venue, hedge_mode=True)
        client.positions = [venue_position("short", venue.short_leg_info)]
        s = await bounded(adapter.snapshot())
        assert s.fetch.ok and [p.position_side for p in s.positions] == ["SHORT"]

    asyncio.run(body())


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.id)
def test_venue_countdown_reaches_its_endpoint(venue):
    async def body():
        adapter, client = venue_adapter(venue, **dict(venue.options))
        assert adapter.capabilities.cancel_all_after is (venue.countdown is not None)
        if venue.countdown is None:
            assert await reason_of(adapter.arm_cancel_all_after(60, (BTC,))) is Reason.UNSUPPORTED
            return
        st = await bounded(adapter.arm_cancel_all_after(60, (BTC,)))
        assert st.armed and st.seconds == 60.0
        assert client.calls == [(venue.countdown[0], (venue.countdown[1],))]

    asyncio.run(body())


def test_the_hyperliquid_rows_client_id_is_the_planners():
    from adapters.venues.hyperliquid import contract

    assert contract.CID == client_order_id("decision-1", "hyperliquid/main/BTC/USDT:USDT/long#1")
    from adapters.venues.hyperliquid.dialect import to_cloid

    assert contract.CLOID == to_cloid(contract.CID)


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.id)
def test_venue_capabilities_and_ccxt_names(venue):
    """The budget runs at the order rate of the venue's limits (the table its row reads, the one its
    dialect declares), which is the rate the planner is handed for the venue, and its cancels at
    their own rate where the table has one; the client order id length is the venue's, and real
    ccxt has the exchange and the countdown method used."""
    import ccxt.async_support as ccxt_async

    from adapters.base import order_rates
    from adapters.ccxt_exchange import dialect_for

    adapter, _ = venue_adapter(venue)
    assert venue.limits is not None and dialect_for(venue.id).limits is venue.limits
    rate = venue.limits.orders
    assert adapter.capabilities.orders_per_second == rate and adapter.budget.rate == rate
    cancels = adapter._calls.cancel_budget
    assert (cancels.rate if cancels is not None else None) == venue.limits.cancels
    assert order_rates([adapter]) == {venue.id: rate}
    assert adapter.capabilities.max_client_id_length == venue.max_client_id_length
    cls = getattr(ccxt_async, venue.id)
    if venue.countdown:
        assert hasattr(cls, venue.countdown[0])


@pytest.mark.parametrize("venue", VENUES, ids=lambda v: v.id)
def test_the_planners_client_ids_fit_every_venue_and_a_misfit_is_never_sent(venue):
    """The engine's deterministic ids ("ks" + 30 hex) are within each venue's length and alphabet
    (OKX takes letters and digits only, 32 at most); an id that is not is refused before it leaves
    (the venue would refuse it, or cut it and lose the lookup by client id after a crash)."""
    async def body():
        adapter, client = venue_adapter(venue, False)
        client.positions = [venue_position("long", {})]
        ok = client_order_id("decision-1", "binanceusdm/main/BTC/USDT:USDT/long#1")
        assert adapter.dialect.client_id_fits(ok)
        bad = "ks/" + "x" * 40
        assert not adapter.dialect.client_id_fits(bad)
        assert await reason_of(adapter.submit(close_intent(BTC, amount=0.5, cid=bad))) is Reason.INVALID_ORDER
        assert not [c for c in client.calls if c[0] == "create_order"]

    asyncio.run(body())
