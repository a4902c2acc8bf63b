"""An open order the stream met without its kind, asked of the venue by its id
(ccxt_exchange/streaming/kinds.py): Hyperliquid's ``orderStatus`` as the dialect reads it (the
documented answer, ccxt's own example), and the stream's frames path around the look-up — an
entry handed to the watch once the venue said its kind, a reduce-only stop not, a failed look-up
left in doubt until REST lists it."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any, Optional

import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange import parsing
from adapters.ccxt_exchange.dialects import KNOWN_RAW_FIELDS
from adapters.ccxt_exchange.dialects.base import Dialect
from adapters.ccxt_exchange.streaming.kinds import MAX_ASKING
from adapters.ccxt_exchange.streaming.stream import AccountStream
from adapters.venues.hyperliquid.dialect import HYPERLIQUID
from killswitch.snapshot import Order
from tests.unit.adapters.ccxt.test_streamstate import rest
from tests.unit.adapters.venues.hyperliquid.test_stream import ORDER

ccxt = pytest.importorskip("ccxt.pro")

BTC = "BTC/USDC:USDC"
OID = "7456484275"
# the documented orderStatus answer (ccxt's hyperliquid fetch_order example): a resting limit order
LIMIT = {"order": {"children": [], "cloid": None, "coin": "BTC", "isPositionTpsl": False, "isTrigger": False,
                   "limitPx": "30000.0", "oid": int(OID), "orderType": "Limit", "origSz": "0.001",
                   "reduceOnly": False, "side": "B", "sz": "0.001", "tif": "Gtc", "timestamp": 1710163596492,
                   "triggerCondition": "N/A", "triggerPx": "0.0"},
         "status": "open", "statusTimestamp": 1710163596500}
# the same oid as a reduce-only stop, as frontendOpenOrders lists one
STOP = copy.deepcopy(LIMIT)
STOP["order"].update({"isTrigger": True, "orderType": "Stop Market", "reduceOnly": True, "side": "A",
                      "triggerCondition": "Price below 29000.0", "triggerPx": "29000.0", "tif": None})


def fetched(answer: dict) -> Any:
    """What ccxt's ``fetch_order`` gives of ``{"status": "order", "order": answer}``."""
    return ccxt.hyperliquid().parse_order(copy.deepcopy(answer))


def call_giving(got: Any, calls: Optional[list] = None):
    async def call(method: str, *args: Any) -> Any:
        if calls is not None:
            calls.append((method, *args))
        if isinstance(got, BaseException):
            raise got
        return got
    return call


def read_row(listed: Any) -> Order:
    return parsing.parse_order(listed.order, KNOWN_RAW_FIELDS, (), listed.kind, listed.price_trigger)


# --- the dialect's look-up ------------------------------------------------------------------------------


def test_hyperliquid_asks_order_status_of_the_oid_and_reads_its_row_as_frontend_open_orders_does():
    assert type(HYPERLIQUID).stream_order_kind is not Dialect.stream_order_kind  # the stream asks it
    calls: list = []
    listed = asyncio.run(HYPERLIQUID.stream_order_kind(call_giving(fetched(LIMIT), calls), OID, BTC))
    assert calls == [("fetch_order", OID, BTC)]
    o = read_row(listed)
    assert (listed.endpoint, o.kind, o.reduce_only, o.trigger_price, o.price) == (
        "POST /info orderStatus", "regular", False, None, 30000.0)
    stop = read_row(asyncio.run(HYPERLIQUID.stream_order_kind(call_giving(fetched(STOP)), OID, BTC)))
    assert (stop.kind, stop.reduce_only, stop.trigger_price, stop.side) == ("conditional", True, 29000.0, "sell")
    tpsl = copy.deepcopy(STOP)
    tpsl["order"].update({"isPositionTpsl": True, "reduceOnly": False, "orderType": "Take Profit Market"})
    o = read_row(asyncio.run(HYPERLIQUID.stream_order_kind(call_giving(fetched(tpsl)), OID, BTC)))
    assert (o.kind, o.reduce_only) == ("tpsl", True)


def test_an_unknown_oid_is_none_and_an_answer_it_cannot_read_names_order_status_and_the_field():
    gone = AdapterError(Reason.ORDER_NOT_FOUND, 'hyperliquid {"status":"unknownOid"}', venue="hyperliquid")
    assert asyncio.run(HYPERLIQUID.stream_order_kind(call_giving(gone), OID, BTC)) is None
    with pytest.raises(AdapterError) as e:  # any other failure is the stream's to keep in doubt
        asyncio.run(HYPERLIQUID.stream_order_kind(call_giving(AdapterError(Reason.RATE_LIMITED, "429")), OID, BTC))
    assert e.value.reason is Reason.RATE_LIMITED
    odd = copy.deepcopy(LIMIT)
    odd["order"]["orderType"] = "Scale"
    with pytest.raises(AdapterError) as e:
        asyncio.run(HYPERLIQUID.stream_order_kind(call_giving(fetched(odd)), OID, BTC))
    assert e.value.reason is Reason.BAD_RESPONSE
    assert "orderStatus: field order.order.orderType: unknown value 'Scale'" in e.value.message
    with pytest.raises(AdapterError) as e:
        asyncio.run(HYPERLIQUID.stream_order_kind(call_giving({"id": None, "info": {"status": "order"}}), OID, BTC))
    assert "orderStatus: field order.order: missing" in e.value.message


# --- the stream's frames path ----------------------------------------------------------------------------


class Looked:
    """The adapter's ``kind_of`` of a test: each look-up waits for ``answer`` to be set, then
    answers it (an Order, None, or raises an exception)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.answer: Any = None
        self.given = asyncio.Event()

    async def __call__(self, order_id: str, symbol: str) -> Optional[Order]:
        self.asked.append((order_id, symbol))
        await self.given.wait()
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def give(self, answer: Any) -> None:
        self.answer = answer
        self.given.set()


def stream(kind_of: Any) -> tuple[AccountStream, list, list]:
    """A Hyperliquid account's stream, live and confirmed by a REST read, watching entries; the
    entries it handed over and the wakes it made."""
    def parse(o: Any, kind: Optional[str] = None, price_trigger: bool = True) -> Order:
        return parsing.parse_order(o, KNOWN_RAW_FIELDS, (), kind, price_trigger)

    s = AccountStream("hyperliquid/main", quote="USDC", build=lambda: None, parse_order=parse,
                      contract_size=lambda _: 1.0, rules=lambda _: None, classify=HYPERLIQUID.stream_message,
                      events=lambda m, o, h: HYPERLIQUID.stream_events(m, lambda i: i, o, h), secrets=lambda: (),
                      order_parser="parse_order", kind_of=kind_of)
    s._enter("live", None)
    s._last_message = s._clock()
    s.reconcile(rest())
    entries: list = []
    wakes: list = []
    s.set_entry_watch(lambda key, order: entries.append(order))
    s.set_wake(wakes.append)
    s.wake_on_entries = True
    assert not s.needs_rest()
    return s, entries, wakes


async def settle(until: Any) -> None:
    for _ in range(1000):  # a bound only a hang reaches
        if until():
            return
        await asyncio.sleep(0)
    raise AssertionError("not reached")


def told(kind: str, reduce_only: bool, trigger: Optional[float] = None) -> Order:
    return Order(id=OID, symbol=BTC, side="buy", type="limit", amount=0.001, price=30000.0, kind=kind,
                 reduce_only=reduce_only, trigger_price=trigger)


def test_an_entry_of_a_kind_not_said_is_asked_and_handed_to_the_watch_once_the_venue_says_it():
    async def body():
        looked = Looked()
        s, entries, wakes = stream(looked)
        s._read(ccxt.hyperliquid(), copy.deepcopy(ORDER))
        await settle(lambda: looked.asked)
        assert looked.asked == [(OID, BTC)]
        # asked, not answered: no entry yet, no wake, no doubt; the stream answers, the order
        # left out of its snapshot until its kind is known
        assert (entries, wakes, s.in_doubt, s.orders_due) == ([], [], set(), False) and not s.needs_rest()
        assert OID in s.state.orders and s.snapshot().orders == []
        s._read(ccxt.hyperliquid(), _again(ORDER))  # its next update while asked: not asked twice
        looked.give(told("regular", False))
        await settle(lambda: entries)
        assert [(o.id, o.kind, o.reduce_only) for o in entries] == [(OID, "regular", False)]
        assert wakes == ["hyperliquid/main"] and len(looked.asked) == 1
        assert s.state.orders[OID].kind == "regular" and not s.needs_rest() and not s.in_doubt
        assert [(o.id, o.kind) for o in s.snapshot().orders] == [(OID, "regular")]
        s._read(ccxt.hyperliquid(), _again(ORDER, 2))  # later updates keep the kind the venue said
        assert len(entries) == 2 and entries[-1].kind == "regular" and len(looked.asked) == 1
    asyncio.run(body())


def test_a_reduce_only_stop_is_asked_and_never_handed_over_as_an_entry():
    async def body():
        looked = Looked()
        s, entries, wakes = stream(looked)
        s._read(ccxt.hyperliquid(), copy.deepcopy(ORDER))
        await settle(lambda: looked.asked)
        looked.give(told("conditional", True, 29000.0))
        await settle(lambda: not s.asking)
        held = s.state.orders[OID]
        assert (held.kind, held.reduce_only, held.trigger_price) == ("conditional", True, 29000.0)
        assert (entries, wakes) == ([], []) and not s.needs_rest() and not s.in_doubt
        assert [(o.id, o.kind, o.reduce_only) for o in s.snapshot().orders] == [(OID, "conditional", True)]
        s._read(ccxt.hyperliquid(), _again(ORDER))
        assert entries == [] and s.state.orders[OID].reduce_only
    asyncio.run(body())


@pytest.mark.parametrize("answer,said", [
    (AdapterError(Reason.RATE_LIMITED, "429 Too Many Requests"), "RATE_LIMITED"),
    (None, "the venue does not know the order")])
def test_a_look_up_that_fails_leaves_the_order_in_doubt_until_rest_lists_it_and_says_so_once(answer, said, caplog):
    async def body():
        looked = Looked()
        s, entries, wakes = stream(looked)
        s._read(ccxt.hyperliquid(), copy.deepcopy(ORDER))
        await settle(lambda: looked.asked)
        looked.give(answer)
        await settle(lambda: not s.asking)
        assert s.in_doubt == {OID} and s.orders_due and s.needs_rest() and entries == []
        assert wakes == ["hyperliquid/main"]  # the tick reads REST, every open order listed
        s._read(ccxt.hyperliquid(), _again(ORDER))  # in doubt: not asked again, not an entry
        assert len(looked.asked) == 1 and entries == []
        s.reconcile(rest(orders=[told("regular", False)]))  # a REST list names it
        assert not s.in_doubt and not s.orders_due and not s.needs_rest()

    with caplog.at_level(logging.WARNING):
        asyncio.run(body())
    lines = [r.getMessage() for r in caplog.records if "was not had" in r.getMessage()]
    assert len(lines) == 1 and said in lines[0] and OID in lines[0]


def test_an_answer_that_cannot_be_applied_leaves_the_order_in_doubt_never_an_entry(monkeypatch):
    """A fault applying the venue's word (here: raised) is no word: the order is in doubt until
    REST lists it, never left in the stream's snapshot as a plain entry (a reduce-only stop
    taken for one would be cancelled under a halt)."""
    async def body():
        looked = Looked()
        s, entries, wakes = stream(looked)

        def broken(oid: str, got: Order) -> None:
            raise KeyError(oid)

        monkeypatch.setattr(s, "_told_kind", broken)
        s._read(ccxt.hyperliquid(), copy.deepcopy(ORDER))
        await settle(lambda: looked.asked)
        looked.give(told("conditional", True, 29000.0))
        await settle(lambda: not s.asking)
        assert s.in_doubt == {OID} and s.orders_due and s.needs_rest() and entries == []
        s._read(ccxt.hyperliquid(), _again(ORDER))  # in doubt: not asked again, not an entry
        assert len(looked.asked) == 1 and entries == []
    asyncio.run(body())


def test_without_a_look_up_the_order_is_in_doubt_at_once_as_before():
    async def body():
        s, entries, wakes = stream(None)
        s._read(ccxt.hyperliquid(), copy.deepcopy(ORDER))
        assert s.in_doubt == {OID} and s.orders_due and s.needs_rest() and not s.asking
        assert entries == [] and wakes == ["hyperliquid/main"]
    asyncio.run(body())


def test_past_max_asking_look_ups_at_once_an_order_is_in_doubt_and_rest_lists_them_all():
    async def body():
        looked = Looked()
        s, entries, _ = stream(looked)
        oids = [str(int(OID) + i) for i in range(MAX_ASKING + 2)]
        for oid in oids:
            frame = copy.deepcopy(ORDER)
            frame["data"][0]["order"]["oid"] = int(oid)
            s._read(ccxt.hyperliquid(), frame)
        await settle(lambda: len(looked.asked) == MAX_ASKING)
        assert set(s.asking) == set(oids[:MAX_ASKING]) and s.in_doubt == set(oids[MAX_ASKING:])
        assert s.orders_due and s.needs_rest() and entries == []
        looked.give(told("regular", False))
        await settle(lambda: not s.asking)
        assert len(entries) == MAX_ASKING and s.in_doubt == set(oids[MAX_ASKING:])
    asyncio.run(body())


def test_a_stopped_stream_drops_its_look_ups():
    async def body():
        looked = Looked()
        s, _, _ = stream(looked)
        s._read(ccxt.hyperliquid(), copy.deepcopy(ORDER))
        await settle(lambda: looked.asked)
        task = s.asking[OID]
        await s.stop()
        assert task.cancelled() and not s.asking
    asyncio.run(body())


def _again(frame: dict, n: int = 1) -> dict:
    """``frame``'s order updated again ``n`` ms later (its remaining size)."""
    out = copy.deepcopy(frame)
    row = out["data"][0]
    row["statusTimestamp"] += n
    row["order"]["sz"] = "0.0009" if n == 1 else "0.0008"
    return out
