"""The pure parts of the simulator's websocket face: the engine's change hooks, listen keys on the
engine clock, Binance's event shapes, broken frames, and switching a fault off."""

from __future__ import annotations

import json

import pytest

from adapters.simulated.changes import AccountChanged, MarkSet, OrderChanged
from adapters.simulated.faults import FaultKind, FaultPlan
from adapters.simulated.stream import (
    LISTEN_KEY_MS,
    UNKNOWN_EVENT,
    ListenKeyError,
    ListenKeys,
    account_update,
    malformed,
    mark_price_update,
    order_trade_update,
)
from tests.integration.sim_helpers import engine


def test_a_market_fill_tells_listeners_new_then_account_then_trade_stamped_by_the_clock():
    eng, clock = engine()
    seen: list = []
    remove = eng.on_change(seen.append)
    clock.advance(7)
    eng.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 0.01, client_order_id="c-1")
    assert [type(c).__name__ + ("/" + c.execution if isinstance(c, OrderChanged) else "") for c in seen] == [
        "OrderChanged/NEW", "AccountChanged", "OrderChanged/TRADE"]
    assert {c.ts for c in seen} == {clock.now}
    new, acct, trade = seen
    assert new.order.status == "NEW" and trade.order.status == "FILLED" and trade.last_qty == 0.01
    leg = acct.legs[0]
    assert (acct.reason, leg.symbol, leg.position_side) == ("ORDER", "BTCUSDT", "BOTH")
    assert leg.amount == eng.accounts["sim-main"].legs[("BTCUSDT", "BOTH")].amount
    assert acct.wallet == eng.accounts["sim-main"].wallet
    remove()
    eng.set_mark("BTCUSDT", 61_000.0)
    assert len(seen) == 3


def test_set_mark_and_cancels_are_told_and_a_silent_engine_builds_nothing():
    eng, clock = engine()
    seen: list = []
    eng.on_change(seen.append)
    clock.advance(5)
    eng.set_mark("ETHUSDT", 3_100.0)
    assert seen == [MarkSet("ETHUSDT", 3_100.0, clock.now)]
    o = eng.place_order("sim-main", "ETHUSDT", "BUY", "LIMIT", 0.1, 2_000.0, time_in_force="GTC")
    eng.cancel_order("sim-main", "ETHUSDT", o.order_id)
    assert [c.execution for c in seen[1:]] == ["NEW", "CANCELED"]


def test_listen_keys_live_sixty_minutes_on_the_engine_clock_one_per_account():
    keys = ListenKeys(seed=1)
    a = keys.issue("acct", 0)
    assert keys.issue("acct", 10) is a and a.expires_ms == 10 + LISTEN_KEY_MS
    assert keys.issue("other", 10).key != a.key
    keys.keepalive("acct", LISTEN_KEY_MS)
    assert [k.account for k in keys.due(2 * LISTEN_KEY_MS - 1)] == ["other"]  # not kept alive
    assert keys.due(2 * LISTEN_KEY_MS) == [a]
    with pytest.raises(ListenKeyError) as e:
        keys.keepalive("acct", 2 * LISTEN_KEY_MS)
    assert e.value.code == -1125
    assert keys.issue("acct", 2 * LISTEN_KEY_MS).key != a.key
    assert keys.delete("acct", 0) is not None and keys.live("acct", 0) is None


def test_events_carry_binances_fields():
    eng, clock = engine()
    seen: list = []
    eng.on_change(seen.append)
    eng.place_order("sim-main", "BTCUSDT", "SELL", "MARKET", 0.01, reduce_only=True, client_order_id="c-9")
    new, acct, trade = seen
    assert isinstance(acct, AccountChanged)
    au = account_update(eng, acct)
    assert set(au) == {"e", "E", "T", "a"} and set(au["a"]) == {"m", "B", "P"}
    assert set(au["a"]["B"][0]) == {"a", "wb", "cw", "bc"}
    assert set(au["a"]["P"][0]) >= {"s", "pa", "ep", "cr", "up", "mt", "iw", "ps"}
    ot = order_trade_update(eng, trade)["o"]
    assert (ot["c"], ot["X"], ot["x"], ot["z"], ot["R"], ot["ps"]) == ("c-9", "FILLED", "TRADE", "0.010", True, "BOTH")
    assert "n" in ot and "n" not in order_trade_update(eng, new)["o"]  # commission with trades only
    mp = mark_price_update(eng, "BTCUSDT", 60_000.0, clock.now)
    assert set(mp) == {"e", "E", "s", "p", "i", "P", "r", "T"} and mp["T"] > clock.now


@pytest.mark.parametrize("how,check", [
    ("json", lambda t: pytest.raises(ValueError, json.loads, t)),
    ("fields", lambda t: "o" not in json.loads(t)),
    ("event", lambda t: json.loads(t)["e"] == UNKNOWN_EVENT),
])
def test_malformed_frames(how, check):
    text = json.dumps({"e": "ORDER_TRADE_UPDATE", "E": 1, "T": 1, "o": {"s": "BTCUSDT"}})
    assert check(malformed(text, how))


def test_switch_off_stops_a_rule_and_keeps_the_others_numbers():
    plan = FaultPlan().stream("stream_stall").stream("stream_duplicate", op="stream:user", times=5)
    assert [f.kind for f in plan.match("stream", 0, endpoint="stream:user")] == [FaultKind.STREAM_STALL,
                                                                                 FaultKind.STREAM_DUPLICATE]
    assert plan.switch_off(kind="stream_stall") == 1
    assert [f.rule for f in plan.match("stream", 0, endpoint="stream:user")] == [1]
    assert plan.switch_off() == 1 and plan.match("stream", 0, endpoint="stream:user") == []
