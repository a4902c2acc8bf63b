"""The streaming dialects' reading of the venues' conditional-order events, from their documented
shapes: Binance USDⓈ-M's ``ALGO_UPDATE`` (adapters/venues/binance/fixtures/binanceusdm-algo-update.json:
the documentation's example verbatim) and Bybit v5's ``order`` topic
(adapters/venues/bybit/fixtures/bybit-order-stream.json: the documentation's stream example verbatim; its
conditional rows derived from it, field by field, with the values the enum page lists). Each
order is read by ccxt's own parser (``ccxt.pro``'s, 4.5.90) and the adapter's, as the stream
reads it."""

from __future__ import annotations

import copy
import json
from typing import Any

import ccxt.pro as ccxt_pro
import pytest

from adapters.ccxt_exchange.dialects import KNOWN_RAW_FIELDS, dialect_for
from adapters.ccxt_exchange.parsing import parse_order
from adapters.venues.binance.dialect.stream import ALGO_ENDED, ALGO_OPEN
from adapters.venues.bybit.dialect import ENDED_STATUSES, OPEN_STATUSES
from tests.venue_fixtures import fixture

BINANCE = dialect_for("binanceusdm")
BYBIT = dialect_for("bybit")


def documented(name: str) -> dict:
    return json.loads(fixture(name).read_text())["documented"]


def same(symbol: str) -> str:
    return symbol


def read(events: list) -> list[tuple]:
    """Each event's (key, time, [(id, the adapter's Order or None)]) as the stream applies it."""
    out = []
    for ev in events:
        kinds = {k[0]: k[1:] for k in ev.kinds}
        orders = [(oid, None if o is None else parse_order(o, KNOWN_RAW_FIELDS, [], *kinds.get(oid, ())))
                  for oid, o in ev.orders]
        out.append((ev.key, ev.event_ms, orders))
    return out


# --- Binance USDⓈ-M: ALGO_UPDATE ----------------------------------------------------------------------


def algo(**fields: Any) -> dict:
    """The documented example with ``fields`` of its order (``o``) changed."""
    message = copy.deepcopy(documented("binanceusdm-algo-update.json"))
    message["o"].update(fields)
    return message


def binance_events(message: dict) -> list:
    return BINANCE.stream_events(message, same, ccxt_pro.binanceusdm().parse_ws_order)


def test_the_documented_algo_update_verbatim_is_read_and_its_cancelled_order_leaves_the_state():
    message = documented("binanceusdm-algo-update.json")
    assert BINANCE.stream_message(message) == "ok"
    assert BINANCE.stream_time(message) == 1750515742303
    (ev,) = binance_events(message)
    # keyed by the algo id apart from the regular orders; CANCELED: no longer open
    assert read([ev]) == [(("algo", "2148719"), 1750515742303, [("2148719", None)])]
    assert ev.kinds == (("2148719", "conditional", True),)


@pytest.mark.parametrize("status", sorted(ALGO_OPEN))
def test_an_algo_order_new_or_triggering_is_open_of_its_kind_with_its_trigger(status):
    (ev,) = binance_events(algo(X=status))
    [(_, _, [(oid, order)])] = read([ev])
    assert oid == "2148719" and order is not None
    assert (order.id, order.client_id, order.symbol, order.side, order.kind, order.trigger_price, order.amount,
            order.reduce_only, order.position_side) == (
        "2148719", "Q5xaq5EGKgXXa0fD7fs0Ip", "BNBUSDT", "sell", "conditional", 750.0, 0.01, False, "BOTH")


@pytest.mark.parametrize("status", sorted(ALGO_ENDED))
def test_an_algo_order_triggered_finished_cancelled_rejected_or_expired_has_ended(status):
    (ev,) = binance_events(algo(X=status, ai="8886774" if status == "TRIGGERED" else ""))
    assert ev.orders == (("2148719", None),)


def test_a_trailing_stop_is_trailing_and_a_close_position_order_reduces():
    (trail,) = read(binance_events(algo(X="NEW", o="TRAILING_STOP_MARKET", tp="0", p="0")))
    assert trail[2][0][1].kind == "trailing"
    (close,) = read(binance_events(algo(X="NEW", o="STOP_MARKET", q="0", cp=True, p="0")))
    order = close[2][0][1]
    assert (order.kind, order.reduce_only, order.amount) == ("conditional", True, 0.0)


def test_a_hedge_mode_take_profit_on_the_long_leg_is_read_as_reducing_from_its_position_side():
    # Binance refuses reduceOnly in hedge mode: R is false, the leg (ps) says it closes
    (ev,) = binance_events(algo(X="NEW", ps="LONG"))
    order = read([ev])[0][2][0][1]
    assert (order.position_side, order.reduce_only) == ("LONG", True)
    (entry,) = binance_events(algo(X="NEW", ps="SHORT"))
    assert read([entry])[0][2][0][1].reduce_only is False  # a sell on the short leg opens


@pytest.mark.parametrize("change", [
    {"X": "PAUSED"},  # a status the page does not list
    {"o": "LIMIT"},  # a type the algo list does not document
    {"aid": None},
    {"s": None},
])
def test_an_algo_update_with_an_unknown_status_or_type_or_without_its_id_is_malformed(change):
    message = algo(**change)
    for key, value in change.items():
        if value is None:
            del message["o"][key]
    assert BINANCE.stream_message(message) == "malformed"


def test_an_algo_update_without_its_order_or_time_is_malformed():
    message = documented("binanceusdm-algo-update.json")
    assert BINANCE.stream_message({k: v for k, v in message.items() if k != "o"}) == "malformed"
    assert BINANCE.stream_message({k: v for k, v in message.items() if k != "E"}) == "malformed"


# --- Bybit v5: the order topic ------------------------------------------------------------------------


def bybit_frame(**fields: Any) -> dict:
    """The documented stream example with its row's ``fields`` changed (a linear conditional
    order when given those of one)."""
    message = copy.deepcopy(documented("bybit-order-stream.json"))
    message["data"][0].update(fields)
    return message


def conditional(**fields: Any) -> dict:
    """A linear stop-market sell of 0.01 BTC triggered at 55,000 falling, reduce-only, in the
    documented row's shape."""
    return bybit_frame(**{"category": "linear", "symbol": "BTCUSDT", "orderId": "c0ffee-1", "orderLinkId": "alp-sl-1",
                          "side": "Sell", "orderType": "Market", "price": "0", "qty": "0.01", "timeInForce": "GTC",
                          "orderStatus": "Untriggered", "stopOrderType": "Stop", "triggerPrice": "55000",
                          "triggerDirection": 2, "triggerBy": "MarkPrice", "reduceOnly": True, "cumExecQty": "0",
                          "cumExecValue": "0", "avgPrice": "", "leavesQty": "0.01", "cumExecFee": "0", **fields})


def bybit_events(message: dict) -> list:
    return BYBIT.stream_events(message, same, ccxt_pro.bybit().parse_order)


def test_the_documented_order_frame_verbatim_is_read_and_its_filled_order_leaves_the_state():
    message = documented("bybit-order-stream.json")
    assert BYBIT.stream_message(message) == "ok"
    assert BYBIT.stream_time(message) == 1672364262474
    (ev,) = bybit_events(message)
    oid = "5cf98598-39a7-459e-97bf-76ca765ee020"
    assert read([ev]) == [(("order", oid), 1672364262474, [(oid, None)])]
    assert ev.kinds == ((oid, "regular", True),)


def test_an_untriggered_stop_is_an_open_conditional_order_with_its_trigger():
    (ev,) = bybit_events(conditional())
    [(key, at, [(oid, order)])] = read([ev])
    assert (key, at, oid) == (("order", "c0ffee-1"), 1672364262474, "c0ffee-1")
    assert (order.kind, order.trigger_price, order.side, order.amount, order.reduce_only, order.client_id,
            order.position_side) == ("conditional", 55_000.0, "sell", 0.01, True, "alp-sl-1", "BOTH")


@pytest.mark.parametrize("status", ["Triggered", "Deactivated", "Cancelled", "Rejected", "Filled"])
def test_a_stop_triggered_deactivated_or_otherwise_ended_leaves_the_state(status):
    # Triggered is "instantaneous ... from Untriggered to New": the order that follows has its own row
    (ev,) = bybit_events(conditional(orderStatus=status))
    assert ev.orders == (("c0ffee-1", None),)


@pytest.mark.parametrize("stop, kind", [("TakeProfit", "tpsl"), ("StopLoss", "tpsl"), ("PartialStopLoss", "tpsl"),
                                        ("TrailingStop", "trailing"), ("Stop", "conditional")])
def test_each_stop_order_type_is_read_as_its_kind_as_the_open_order_list_reads_it(stop, kind):
    (ev,) = bybit_events(conditional(stopOrderType=stop))
    assert read([ev])[0][2][0][1].kind == kind


def test_a_margin_rate_close_needs_no_trigger_price():
    (ev,) = bybit_events(conditional(stopOrderType="MmRateClose", triggerPrice="", closeOnTrigger=True))
    order = read([ev])[0][2][0][1]
    assert (order.kind, order.trigger_price, order.reduce_only) == ("conditional", None, True)


@pytest.mark.parametrize("change", [{"orderStatus": "Paused"}, {"stopOrderType": "SomethingNew"}])
def test_an_order_row_of_an_unknown_status_or_kind_is_malformed(change):
    assert BYBIT.stream_message(conditional(**change)) == "malformed"


def test_every_status_the_enum_lists_is_known_open_or_ended():
    listed_open = {"New", "PartiallyFilled", "Untriggered"}
    listed_closed = {"Rejected", "PartiallyFilledCanceled", "Filled", "Cancelled", "Triggered", "Deactivated"}
    assert listed_open <= OPEN_STATUSES and listed_closed <= ENDED_STATUSES
    assert not OPEN_STATUSES & ENDED_STATUSES
