"""The MEXC dialect's reading of its contract websocket frames, on MEXC's documented frames
(``adapters/venues/mexc/fixtures/websocket-docs.json``: the apidocs examples and the current
page's samples, verbatim; its README says which): what each frame is, the events of a personal
push with the account's position mode, the login's refusal, and a row it cannot read named by
channel and field. Frames changed for a case say what they change."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import ccxt.pro as ccxt_pro
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.venues.mexc.dialect.stream import HEARTBEAT_SYMBOL, watch_marks
from tests.unit.adapters.ccxt.fake import market

MEXC = dialect_for("mexc")
DOCS = json.loads((Path(__file__).parents[5] / "adapters/venues/mexc/fixtures/websocket-docs.json").read_text())
OLD, NEW = DOCS["apidocs"], DOCS["api_docs"]
CLIENT = ccxt_pro.mexc()
CLIENT.set_markets([market("BTC/USDT:USDT", "BTC_USDT"), market("CRV/USDT:USDT", "CRV_USDT")])
BTC = "BTC/USDT:USDT"


def symbol_of(market_id: str) -> str:
    return CLIENT.safe_market(market_id, None, None, "swap")["symbol"]


def events(frame, hedge=True, held=None):
    return MEXC.stream_reader(lambda: hedge)(frame, symbol_of, CLIENT.parse_ws_order, held)


def test_what_each_frame_is():
    assert MEXC.streams and dict(MEXC.stream_watches()) == {"watch_orders": {}, "watch_balance": {}}
    kinds = {"login": (OLD["login_answer"], "answer"), "pong": (NEW["pong"], "answer"),
             "refused": ({"channel": "rs.error", "data": "Verify failed", "ts": 1}, "expired"),
             "contract refused": (OLD["subscribe_refused"], "unknown"), "position": (NEW["position"], "state"),
             "order": (NEW["order"], "ok"), "asset": (NEW["asset"], "ok"), "plan": (NEW["plan_order"], "ok"),
             "stop": (NEW["stop_planorder"], "ok"), "mode": (OLD["position_mode"], "ok"),
             "ticker": (OLD["ticker"], "marks"), "unknown": ({"channel": "push.personal.sim", "data": {}}, "unknown"),
             "no channel": ({"data": {}}, "malformed"), "text": ("pong", "malformed")}
    assert {k: MEXC.stream_message(f) for k, (f, _) in kinds.items()} == {k: v for k, (_, v) in kinds.items()}
    code, said = MEXC.stream_ended({"channel": "rs.error", "data": "Verify failed"})
    assert code == "STREAM_LOGIN_REFUSED" and said.endswith("Verify failed")
    assert MEXC.stream_time(NEW["order"]) == 1760942212000 and MEXC.stream_time(OLD["ticker"]) == 1587442022003


def test_a_position_push_is_its_leg_of_the_accounts_mode_and_a_closed_one_flat():
    (held,) = events(NEW["position"], hedge=True)
    assert held.positions == ((BTC, "LONG", "long", 10.0, 45000.5),) and held.event_ms == 1760942212000
    assert held.key == ("position", BTC, "LONG")
    (one_way,) = events(NEW["position"], hedge=False)
    assert one_way.positions == ((BTC, "BOTH", "long", 10.0, 45000.5),)
    short = copy.deepcopy(NEW["position"])
    short["data"]["positionType"] = 2  # (changed: the short leg)
    assert events(short)[0].positions == ((BTC, "SHORT", "short", 10.0, 45000.5),)
    (closed,) = events(OLD["position"], hedge=False)  # state 3, holdVol 0
    assert closed.positions == (("CRV/USDT:USDT", "BOTH", None, 0.0, 0.736),)
    with pytest.raises(AdapterError) as e:  # the mode never read: its leg is unknown
        events(NEW["position"], hedge=None)
    assert e.value.reason == Reason.BAD_RESPONSE and "positionType" in str(e.value)


def test_an_order_push_is_read_as_the_open_order_list_reads_it_and_a_filled_one_ends():
    (ev,) = events(NEW["order"])
    oid, o = ev.orders[0]
    assert oid == "123456789" and ev.kinds == ((oid, "regular", False),) and ev.event_ms == 1760942212000
    assert (o["status"], o["symbol"], o["side"], o["amount"], o["remaining"], o["price"], o["reduceOnly"],
            o["clientOrderId"]) == ("open", BTC, "buy", 10.0, 5.0, 45000.5, False, "ext_001")
    assert MEXC.position_side(o["info"]) == "LONG"
    (filled,) = events(OLD["order"], hedge=False)  # state 3: a market close of a long, filled
    assert filled.orders == (("102067003631907840", None),)


def test_trigger_and_tpsl_pushes_are_their_kinds_with_the_accounts_mode():
    (plan,) = events(NEW["plan_order"])
    pid, p = plan.orders[0]
    assert plan.kinds == ((pid, "conditional", True),) and (p["triggerPrice"], p["side"]) == (46000.0, "buy")
    (stop,) = events(NEW["stop_planorder"], hedge=False)
    sid, s = stop.orders[0]
    assert stop.kinds == ((sid, "tpsl", True),)
    assert (s["side"], s["triggerPrice"], s["reduceOnly"], s["info"]["positionMode"]) == ("sell", 42000.0, True, 2)
    done = copy.deepcopy(NEW["stop_planorder"])
    done["data"]["isFinished"] = 1  # (changed: it ended)
    assert events(done)[0].orders == ((sid, None),)
    cancelled = copy.deepcopy(NEW["plan_order"])
    cancelled["data"]["state"] = 2  # (changed: cancelled)
    assert events(cancelled)[0].orders == ((pid, None),)


def test_the_wallet_is_the_assets_three_balances_and_a_ticker_its_fair_price():
    (ev,) = events(NEW["asset"])
    assert ev.wallets == (("USDT", 15000.0),) and ev.event_ms == 1760942212000
    (mark,) = events(OLD["ticker"], held={BTC})
    assert mark.marks == ((BTC, 6867.4),) and mark.event_ms == 1587442022003
    assert events(OLD["ticker"], held={"CRV/USDT:USDT"}) == []
    assert events(OLD["position_mode"]) == []  # handed to ccxt unread


@pytest.mark.parametrize("frame,field", [
    ({**NEW["position"], "data": {**NEW["position"]["data"], "positionType": 3}}, "positionType"),
    ({**NEW["position"], "data": {**NEW["position"]["data"], "state": 9}}, "state"),
    ({**NEW["position"], "data": {**NEW["position"]["data"], "holdVol": None}}, "holdVol"),
    ({k: v for k, v in NEW["position"].items() if k != "ts"}, "ts"),
    ({**NEW["order"], "data": {**NEW["order"]["data"], "side": 7}}, "side"),
    ({**NEW["order"], "data": {**NEW["order"]["data"], "state": None}}, "state"),
    ({**NEW["asset"], "data": {**NEW["asset"]["data"], "frozenBalance": "x"}}, "frozenBalance"),
    ({**OLD["ticker"], "data": {**OLD["ticker"]["data"], "fairPrice": None}}, "fairPrice"),
    ({k: v for k, v in NEW["order"].items() if k != "data"}, "data"),
])
def test_a_frame_it_cannot_read_is_bad_response_naming_the_channel_and_the_field(frame, field):
    with pytest.raises(AdapterError) as e:
        events(frame)
    assert e.value.reason == Reason.BAD_RESPONSE and field in str(e.value) and frame["channel"] in str(e.value)


def test_a_flat_account_watches_the_heartbeat_contracts_ticker():
    seen = []

    async def watch_ticker(symbol):
        seen.append(symbol)

    class Client:
        markets = {HEARTBEAT_SYMBOL: {"linear": True, "swap": True}}

    client = Client()
    client.watch_ticker = watch_ticker  # type: ignore[attr-defined]

    async def both():
        await watch_marks(client, frozenset())
        await watch_marks(client, frozenset({"CRV/USDT:USDT", BTC}))

    asyncio.run(both())
    assert seen == [HEARTBEAT_SYMBOL, BTC, "CRV/USDT:USDT"]
