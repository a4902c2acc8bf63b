"""The readers of a venue's stream frames every streaming dialect shares
(adapters/ccxt_exchange/dialects/frames.py): each error is BAD_RESPONSE naming the venue, the
channel and the field, word for word as the stream's log of a dropped frame says it; and no
venue's module keeps readers of its own beside them."""

import ast
from pathlib import Path

import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.dialects.frames import FrameFields, has_field, latest_ms, missing_field

FRAME = FrameFields("okx")
VENUES = Path(__file__).resolve().parents[4] / "adapters" / "venues"


def said(call) -> str:
    with pytest.raises(AdapterError) as e:
        call()
    assert e.value.reason == Reason.BAD_RESPONSE and e.value.venue == "okx"
    return e.value.message


def test_each_error_names_the_venue_the_channel_and_the_field():
    assert said(lambda: FRAME.text("orders", {}, "ordId")) == "okx websocket orders: field ordId: missing"
    assert said(lambda: FRAME.text("orders", {"ordId": ""}, "ordId")) == "okx websocket orders: field ordId: missing"
    assert said(lambda: FRAME.text("orders", {"ordId": 7}, "ordId")) == \
        "okx websocket orders: field ordId: not a text: 7"
    assert said(lambda: FRAME.number("positions", {"pos": "x"}, "pos")) == \
        "okx websocket positions: field pos: not a number: 'x'"
    assert said(lambda: FRAME.number("positions", {"uTime": ""}, "pTime", "uTime")) == \
        "okx websocket positions: field pTime: missing"  # the first of the names it tried
    assert FRAME.unknown("positions", "posSide", "both").message == \
        "okx websocket positions: field posSide: unknown value 'both'"
    assert FRAME.unknown("positions", "posSide", None).message == "okx websocket positions: field posSide: missing"
    assert said(lambda: FRAME.rows("account", None, "details")) == "okx websocket account: field details: missing"
    assert said(lambda: FRAME.rows("account", {}, "details")) == "okx websocket account: field details: not a list"
    assert said(lambda: FRAME.row("account", [1], "details")) == \
        "okx websocket account: field details: a row is not an object"
    bad = FRAME.bad("orders", "row", "cut")
    assert (bad.reason, bad.message) == (Reason.BAD_RESPONSE, "okx websocket orders: field row: cut")


def test_a_documented_field_is_read_through_its_table_and_any_other_value_is_unknown():
    """A field read through the values the venue documents: what its table maps it to, or the
    value itself; anything else, absent or not even hashable, is BAD_RESPONSE naming it."""
    legs = {"net": "BOTH", "long": "LONG", "short": ""}
    assert FRAME.documented("positions", {"posSide": "long"}, "posSide", legs) == "LONG"
    assert FRAME.documented("positions", {"posSide": "short"}, "posSide", legs) == ""  # (a falsy meaning is one)
    assert FRAME.documented("orders", {"side": "buy"}, "side", ("buy", "sell")) == "buy"
    assert said(lambda: FRAME.documented("positions", {"posSide": "both"}, "posSide", legs)) == \
        "okx websocket positions: field posSide: unknown value 'both'"
    assert said(lambda: FRAME.documented("positions", {}, "posSide", legs)) == \
        "okx websocket positions: field posSide: missing"
    assert said(lambda: FRAME.documented("orders", {"side": ["buy"]}, "side", frozenset({"buy"}))) == \
        "okx websocket orders: field side: unknown value ['buy']"


def test_what_a_field_holds_is_read_as_it_is_given():
    assert FRAME.text("orders", {"ordId": "12"}, "ordId") == "12"
    assert FRAME.number("positions", {"pTime": None, "uTime": "1700"}, "pTime", "uTime") == 1700.0
    assert FRAME.number("positions", {"pos": 0}, "pos") == 0.0  # a zero is a number, not a missing field
    assert FRAME.rows("orders", [], "data") == []
    assert FRAME.row("orders", {"a": 1}, "data") == {"a": 1}


def test_a_fields_spec_reads_present_and_numbers():
    row = {"s": "BTCUSDT", "p": "1.5", "q": "", "x": "abc"}
    assert has_field(row, "s") and has_field(row, "p#") and not has_field(row, "q") and not has_field(row, "x#")
    assert not has_field(row, "absent")
    assert missing_field(row, ("s", "p#")) is None
    assert missing_field(row, ("s", "q")) == "q: missing"
    assert missing_field(row, ("s", "x#", "q")) == "x: not a number: 'abc'"


@pytest.mark.parametrize("stamps, latest", [
    (["1700", 1800.0, None], 1800),
    ([None, "", "x", True], None),  # not a number: not a time
    ([0, -5], None),  # a zero or a negative stamp is no time either
    ([-5, "1700.9"], 1700),
    ([], None),
])
def test_a_frames_time_is_the_latest_positive_stamp_it_carries(stamps, latest):
    assert latest_ms(stamps) == latest


def test_no_venue_keeps_field_readers_of_its_own():
    shared = {"_bad", "_text", "_number", "_missing", "_has"}
    found = []
    for path in sorted([*VENUES.glob("*/dialect.py"), *VENUES.glob("*/dialect/*.py")]):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = [node.name] if isinstance(node, ast.FunctionDef) else \
                [t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign) else []
            found += [f"{path.relative_to(VENUES).as_posix()}: {n}" for n in names if n in shared]
    # Binance's _number reads a field its classification already checked (a BadData, no channel)
    assert found == ["binance/dialect/stream.py: _number"]
