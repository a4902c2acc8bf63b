"""The MEXC dialect's reading of the spot websocket's frames, on MEXC's documented frames and ccxt's
(``adapters/venues/mexc/fixtures/spot-websocket-docs.json``, its README says where each came
from): each encoded as the venue sends it (a protobuf ``PushDataV3ApiWrapper``) and decoded by
the streaming client's own decoder, what each frame is, the events of a push, an order read as
the spot API's row is, and a frame it cannot read named by channel and field. Frames changed for
a case say what they change."""

from __future__ import annotations

import copy
import json
from typing import Any

import ccxt.pro as ccxt_pro
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.ccxt_exchange.dialects.stream_hooks import EVERY
from adapters.venues.mexc.dialect import spot as dialect_spot
from adapters.venues.mexc.dialect.spot_stream import WS_TYPES
from tests.unit.adapters.ccxt.fake import market
from tests.venue_fixtures import fixture

pytest.importorskip("google.protobuf")
from google.protobuf.json_format import ParseDict  # noqa: E402  (after the skip: the frames' codec)
from google.protobuf.message import DecodeError  # noqa: E402

MEXC = dialect_for("mexc")
FRAMES = json.loads(fixture("spot-websocket-docs.json").read_text())
DOCS, CCXT = FRAMES["api_docs"], FRAMES["ccxt_comments"]
CLIENT = ccxt_pro.mexc()
CLIENT.set_markets([market("MX/USDT", "MXUSDT", spot=True), market("BTC/USDT", "BTCUSDT", spot=True)])
ORDERS = "spot@private.orders.v3.api.pb"


def wire(frame: dict) -> bytes:
    """``frame`` as MEXC sends it: the protobuf wrapper's bytes."""
    from ccxt.protobuf.mexc import PushDataV3ApiWrapper_pb2

    return bytes(ParseDict(frame, PushDataV3ApiWrapper_pb2.PushDataV3ApiWrapper()).SerializeToString())


def decoded(frame: dict) -> Any:
    """``frame`` sent and read back by the dialect's decoder (the streaming client's)."""
    return MEXC.stream_decode(CLIENT, wire(frame))


def symbol_of(market_id: str) -> str:
    return CLIENT.safe_market(market_id, None, None, "spot")["symbol"]


def events(frame: Any, held: Any = None) -> list:
    return MEXC.stream_reader(lambda: None)(frame, symbol_of, CLIENT.parse_ws_order, held)


def order_frame(**row: Any) -> dict:
    """ccxt's protobuf spot order in its wrapper (the channel, symbol and sendTime of the
    documented orders push), ``row`` changed."""
    return {"channel": ORDERS, "symbol": "MXUSDT", "sendTime": DOCS["orders"]["sendTime"],
            "privateOrders": {**CCXT["order"], **row}}


def test_the_documented_frames_come_through_the_wire_as_printed():
    """Encoded and decoded, each frame is the documentation's (its 64-bit times as text, as
    protobuf's JSON writes them); bytes that are no wrapper raise."""
    for frame in (DOCS["account"], DOCS["mini_ticker"], CCXT["account"], CCXT["deals"], order_frame()):
        got = decoded(frame)
        body = next(k for k in frame if isinstance(frame[k], dict))
        assert {k: str(v) for k, v in got.items() if k != body} == {k: str(v) for k, v in frame.items() if k != body}
        assert {k: str(v) for k, v in got[body].items()} == {k: str(v) for k, v in frame[body].items()}
    with pytest.raises(DecodeError):  # (the stream drops such a frame, counted malformed)
        MEXC.stream_decode(CLIENT, b"\xff\xff" + wire(DOCS["account"])[:10])


def test_what_each_frame_is():
    kinds = {"orders": (decoded(order_frame()), "ok"), "account": (decoded(DOCS["account"]), "ok"),
             "deals": (decoded(CCXT["deals"]), "ok"), "mini ticker": (decoded(DOCS["mini_ticker"]), "marks"),
             "subscribed": (DOCS["subscribed"], "answer"), "pong": ({"id": 0, "code": 0, "msg": "PONG"}, "answer"),
             "key refused": (CCXT["invalid_listen_key"], "expired"),
             "private refused": ({"id": 0, "code": 0, "msg": f"Not Subscribed successfully! [{ORDERS}]. Reason: "
                                  "Blocked!"}, "expired"),
             "unknown": ({"channel": "spot@public.kline.v3.api.pb@MXUSDT@Min1", "publicSpotKline": {}}, "unknown"),
             "text": ("pong", "malformed"), "bytes": (b"\x0a", "malformed")}
    assert {k: MEXC.stream_message(f) for k, (f, _) in kinds.items()} == {k: v for k, (_, v) in kinds.items()}
    code, said = MEXC.stream_ended(CCXT["invalid_listen_key"])
    assert code == "LISTEN_KEY_EXPIRED" and said.endswith("Invalid listen key")
    assert MEXC.stream_time(decoded(DOCS["account"])) == 1736417034307  # sendTime
    assert MEXC.stream_time(decoded(DOCS["mini_ticker"])) == 1755076752201
    assert MEXC.stream_time(decoded(CCXT["deals"])) == 1736417034332  # sendTime


def deal_frame(**row: Any) -> dict:
    """ccxt's quoted deal (MEXC's printed one), its ``privateDeals`` with ``row`` over it."""
    frame = copy.deepcopy(CCXT["deals"])
    frame["privateDeals"].update(row)
    return frame


def test_a_deal_is_read_as_the_accounts_trade_with_its_orders_client_id():
    """The deal as printed is a sell of 1 MX at 3.6962 of its ``time``, its order's id, no client
    id (the sample prints none); with ``clientOrderId`` filled in (the proto's field 8, which the
    sample leaves out) and a buy's ``tradeType`` 1, the trade carries both. The stream tells
    trades on spot only: a contract account's are read over REST, and only spot watches them."""
    from killswitch.fills import Fill

    (ev,) = events(decoded(CCXT["deals"]))
    assert ev.key == ("deal", "505979017439002624X1") and ev.event_ms == 1736417034280
    assert ev.fills == (Fill(id="505979017439002624X1", order_id="C02__505979017439002624115", client_id=None,
                             symbol="MX/USDT", side="sell", amount=1.0, price=3.6962, ts_ms=1736417034280),)
    (ev,) = events(decoded(deal_frame(clientOrderId="alp-mkt-1", tradeType=1, quantity="0.25")))
    (fill,) = ev.fills
    assert (fill.client_id, fill.side, fill.amount, fill.price, fill.ts_ms) == (
        "alp-mkt-1", "buy", 0.25, 3.6962, 1736417034280)
    assert not ev.orders and not ev.wallets  # (the orders and account pushes say what it did to the book)
    assert MEXC.stream_fills_for("spot") and not MEXC.stream_fills_for("futures")
    assert dict(MEXC.stream_watches_for("spot")) == {"watch_orders": {}, "watch_balance": {}, "watch_my_trades": {}}
    assert dict(MEXC.stream_watches_for("futures")) == {"watch_orders": {}, "watch_balance": {}}


@pytest.mark.parametrize("row,field", [({"tradeType": 3}, "tradeType"), ({"tradeId": ""}, "tradeId"),
                                       ({"quantity": "x"}, "quantity"), ({"price": "0"}, "price"),
                                       ({"orderId": ""}, "orderId")])
def test_a_deal_it_cannot_read_is_malformed_named_by_channel_and_field(row, field):
    """A deal without its id, its order, a side of the documented two, a positive amount or price
    is BAD_RESPONSE naming the channel and the field (the stream drops it, counted malformed),
    never a trade read from half a row; a deal push without its body alike."""
    with pytest.raises(AdapterError) as e:
        events(decoded(deal_frame(**row)))
    assert e.value.reason is Reason.BAD_RESPONSE
    assert f"mexc websocket spot@private.deals.v3.api.pb: field {field}:" in str(e.value)
    with pytest.raises(AdapterError) as e:
        events(decoded({k: v for k, v in CCXT["deals"].items() if k != "privateDeals"}))
    assert "field privateDeals:" in str(e.value)


def refusal(channel: str) -> dict:
    """MEXC's refusal of a subscription (the shape the face's docstring quotes)."""
    return {"id": 0, "code": 0, "msg": f"Not Subscribed successfully! [{channel}]. Reason: Blocked!"}


def test_a_refused_mini_ticker_names_its_pair_and_a_refused_private_channel_still_ends_the_key():
    """A mini ticker's subscription refused is ``refused``, naming its pair (every pair's: EVERY),
    never the listen key's end; a private channel's refusal is still LISTEN_KEY_EXPIRED; a
    refusal of a channel the stream never asks for is an answer."""
    symbol_of = CLIENT.safe_symbol
    one, every = "spot@public.miniTicker.v3.api.pb@BTCUSDT@UTC+8", "spot@public.miniTickers.v3.api.pb@UTC+8"
    assert [MEXC.stream_message(refusal(c)) for c in (one, every, ORDERS, "spot@public.kline.v3.api.pb@BTCUSDT")] \
        == ["refused", "refused", "expired", "answer"]
    assert MEXC.stream_refused(refusal(one), symbol_of) == "BTC/USDT"
    assert MEXC.stream_refused(refusal(every), symbol_of) == EVERY
    assert MEXC.stream_refused(refusal(ORDERS), symbol_of) is None
    assert MEXC.stream_refused({"id": 0, "code": 0, "msg": one}, symbol_of) is None  # (its echo: subscribed)
    assert MEXC.stream_ended(refusal(ORDERS))[0] == "LISTEN_KEY_EXPIRED"


def test_an_account_push_is_the_assets_wallet_free_plus_frozen():
    (ev,) = events(decoded(DOCS["account"]))
    assert ev.key == ("wallet", "USDT") and ev.event_ms == 1736417034307
    assert ev.wallets == (("USDT", pytest.approx(21.94210356004384)),)
    (placed,) = events(decoded(CCXT["account"]))  # an order placed: 4.4022 frozen beside what is free
    assert placed.wallets == (("USDT", pytest.approx(0.006016465074677006 + 4.4022)),)


def test_a_mini_ticker_is_its_pairs_latest_price_of_a_pair_held():
    (ev,) = events(decoded(DOCS["mini_ticker"]))
    assert ev.marks == (("MX/USDT", 2.5174),) and ev.key == ("mark", "MX/USDT")
    assert events(decoded(DOCS["mini_ticker"]), held={"BTC/USDT"}) == []


@pytest.mark.parametrize("code", sorted(WS_TYPES))
def test_an_open_order_is_read_as_the_spot_apis_row_of_its_type(code):
    """Each websocket order type is the REST type of the same name, of the kind
    :func:`dialect_spot.read_open_order` gives it; new (1) and partially filled (3) are open."""
    for status in (1, 3):
        (ev,) = events(decoded(order_frame(orderType=int(code), status=status, price="0.001053",
                                           clientId="bot-7", cumulativeQuantity="500")))
        oid = CCXT["order"]["id"]
        ((got_id, order),) = ev.orders
        rest = dialect_spot.read_open_order({"info": {"type": WS_TYPES[code], "side": "BUY", "price": "0.001053",
                                                      "clientOrderId": "bot-7"}}).order
        assert got_id == oid and ev.key == ("order", oid) and ev.kinds == ((oid, "regular", False),)
        assert {k: order[k] for k in ("type", "side", "price", "clientOrderId", "reduceOnly", "triggerPrice")} == {
            k: rest[k] for k in ("type", "side", "price", "clientOrderId", "reduceOnly", "triggerPrice")}
        got = (order["symbol"], order["amount"], order["filled"], order["status"])
        assert got == ("MX/USDT", 2000.0, 500.0, "open")


@pytest.mark.parametrize("status", [2, 4, 5])
def test_an_order_that_ended_leaves(status):
    (ev,) = events(decoded(order_frame(status=status)))
    assert ev.orders == ((CCXT["order"]["id"], None),)


@pytest.mark.parametrize("change,field", [
    ({"orderType": 100}, "orderType"),  # the documented stop (100): no spot list reads one
    ({"orderType": 7}, "orderType"), ({"tradeType": 3}, "tradeType"), ({"status": 9}, "status"),
    ({"status": 0}, "status"),  # (protobuf leaves a 0 out: missing)
    ({"quantity": ""}, "quantity"), ({"price": "0", "orderType": 1, "status": 1}, "price")])
def test_an_order_it_cannot_read_is_named_by_channel_and_field(change, field):
    with pytest.raises(AdapterError) as e:
        events(decoded(order_frame(**{"status": 1, **change})))
    assert e.value.reason is Reason.BAD_RESPONSE
    assert f"mexc websocket {ORDERS}: field {field}:" in str(e.value)


def test_the_documented_orders_sample_names_no_id_and_is_not_read():
    """The documentation's orders sample prints the order's id (its deals sample's ``orderId``)
    as ``clientId`` and no ``id``: read as printed, it is dropped naming ``id`` — never an order
    keyed by what may be a client's id (ccxt's decoded frame, and the proto, carry ``id``)."""
    assert DOCS["orders"]["privateOrders"]["clientId"] == CCXT["deals"]["privateDeals"]["orderId"]
    with pytest.raises(AdapterError) as e:
        events(decoded(DOCS["orders"]))
    assert f"mexc websocket {ORDERS}: field id: missing" in str(e.value)


@pytest.mark.parametrize("frame,body", [(DOCS["account"], "privateAccount"), (DOCS["mini_ticker"], "publicMiniTicker")])
def test_a_push_without_its_body_or_its_fields_is_named(frame, body):
    empty = {k: v for k, v in frame.items() if k != body}
    with pytest.raises(AdapterError) as e:
        events(decoded(empty))
    assert f"field {body}:" in str(e.value)
    cut = copy.deepcopy(frame)
    field = "balanceAmount" if body == "privateAccount" else "price"
    del cut[body][field]
    with pytest.raises(AdapterError) as e:
        events(decoded(cut))
    assert f"field {field}: missing" in str(e.value)


def test_a_listen_key_is_never_in_a_log_line():
    """ccxt's errors of the user data socket quote its url, the listen key in it: scrubbed as a
    credential is (the stream logs its ends through :func:`scrub`)."""
    from adapters.ccxt_exchange.errors import scrub

    key = DOCS["listen_key"]["listenKey"]
    said = scrub(f"NetworkError: mexc ws://127.0.0.1:1/ws?listenKey={key} closed; {{'listenKey': '{key}'}}")
    assert key not in said and said.count("****") == 2, said


def test_the_mini_tickers_watched_are_the_held_pairs_mexc_lists():
    """One subscription per held pair MEXC lists (an asset without a pair has no ticker: never a
    subscription the venue refuses, which would end the shared socket); a flat account's, BTCUSDT's."""
    import asyncio

    class Client:
        markets = CLIENT.markets
        market = staticmethod(CLIENT.market)

        def __init__(self) -> None:
            self.options = {"defaultType": "spot"}
            self.channels: list[str] = []

        async def watch_spot_public(self, channel: str, message_hash: str) -> None:
            self.channels.append(channel)

    for held, want in (({"MX/USDT", "ATLAS/USDT"}, ["MXUSDT"]), (frozenset(), ["BTCUSDT"])):
        client = Client()
        asyncio.run(MEXC.watch_marks(client, frozenset(held)))
        assert client.channels == [f"spot@public.miniTicker.v3.api.pb@{m}@UTC+8" for m in want]


# --- every pair's mini tickers, one subscription ----------------------------------------------------------

TICKERS = "spot@public.miniTickers.v3.api.pb@UTC+8"


def tickers_frame(*items: dict) -> dict:
    """The documented push of every pair's mini tickers, its items ``items`` (the documented ones
    when none), each a documented item's fields but for those given."""
    doc = DOCS["mini_tickers"]
    base = doc["publicMiniTickers"]["items"][0]
    rows = [{**base, **i} for i in items] if items else doc["publicMiniTickers"]["items"]
    return {**doc, "publicMiniTickers": {"items": rows}}


def test_every_pairs_push_is_decoded_lean_as_ccxts_decoder_gives_its_symbols_and_prices():
    """The push of every pair's mini tickers, decoded here: ccxt's decoder's dict (the wrapper's
    fields, its 64-bit times as text) with each item's ``symbol`` and ``price`` only."""
    full = CLIENT.decode_proto_msg(wire(DOCS["mini_tickers"]))
    lean = decoded(DOCS["mini_tickers"])
    items = [{"symbol": i["symbol"], "price": i["price"]} for i in full["publicMiniTickers"]["items"]]
    assert lean == {**full, "publicMiniTickers": {"items": items}}
    assert lean["sendTime"] == "1755076614201" and len(items) == 3
    assert MEXC.stream_message(lean) == "marks" and MEXC.stream_time(lean) == 1755076614201
    with pytest.raises(DecodeError):  # (the stream drops such a frame, counted malformed)
        MEXC.stream_decode(CLIENT, b"\xff\xff" + wire(DOCS["mini_tickers"])[:60])


def test_every_pairs_push_is_read_for_the_pairs_held_only():
    frame = decoded(tickers_frame({"symbol": "MXUSDT", "price": "2.5"}, {"symbol": "BTCUSDT", "price": "60000"},
                                  {"symbol": "METAUSDT", "price": "0.055"}))
    rows = MEXC.stream_mark_rows(frame, symbol_of, {"MX/USDT", "BTC/USDT"})
    assert rows == (["MX/USDT", "BTC/USDT"], [1755076614201] * 2, [2.5, 60000.0])
    assert MEXC.stream_mark_rows(frame, symbol_of, {"ETH/USDT"}) == ([], [], [])  # none held: nothing read
    (ev,) = events(frame, held={"MX/USDT"})
    assert ev.marks == (("MX/USDT", 2.5),) and ev.key == ("mark", "MX/USDT") and ev.event_ms == 1755076614201
    assert MEXC.stream_mark_rows(decoded(DOCS["mini_ticker"]), symbol_of, None) is None  # one pair's: its events


def test_an_item_without_its_price_drops_the_push_only_where_its_pair_is_held():
    """An item of a pair not held is not read past its symbol; one of a held pair without a price
    makes the push malformed (BAD_RESPONSE naming the channel and the field), as a push without
    its body does."""
    frame = decoded(tickers_frame({"symbol": "MXUSDT", "price": "2.5"}, {"symbol": "BTCUSDT", "price": ""}))
    assert MEXC.stream_mark_rows(frame, symbol_of, {"MX/USDT"}) == (["MX/USDT"], [1755076614201], [2.5])
    for held, bad in (({"BTC/USDT"}, "field price: missing"), (None, "field price: missing")):
        with pytest.raises(AdapterError) as e:
            MEXC.stream_mark_rows(frame, symbol_of, held)
        assert e.value.reason == Reason.BAD_RESPONSE and bad in str(e.value)
        assert "spot@public.miniTickers.v3.api.pb" in str(e.value)
    with pytest.raises(AdapterError, match="publicMiniTickers"):
        events(decoded({k: v for k, v in DOCS["mini_tickers"].items() if k != "publicMiniTickers"}))


def test_a_book_past_one_sockets_allowance_watches_every_pairs_mini_tickers_in_one_subscription():
    """MEXC takes 30 subscriptions a socket: 29 pairs' own mini tickers at most (the 30th kept),
    else — and from then on, as the book grows — every pair's in one, never past the allowance."""
    import asyncio

    many = ccxt_pro.mexc()
    many.set_markets([market(f"C{i}/USDT", f"C{i}USDT", spot=True) for i in range(40)])

    class Socket:
        def __init__(self) -> None:
            self.subscriptions: dict = {}

    class Client:
        markets = many.markets
        market = staticmethod(many.market)
        urls = {"api": {"ws": {"spot": "wss://wbs-api.mexc.com/ws"}}}

        def __init__(self) -> None:
            self.options = {"defaultType": "spot"}
            self.clients = {self.urls["api"]["ws"]["spot"]: Socket()}

        async def watch_spot_public(self, channel: str, message_hash: str) -> None:
            self.clients[self.urls["api"]["ws"]["spot"]].subscriptions.setdefault(message_hash, True)

        def subscribed(self) -> list[str]:
            return [h[3:] for h in self.clients[self.urls["api"]["ws"]["spot"]].subscriptions]

    def pairs(n: int, start: int = 0) -> frozenset:
        return frozenset(f"C{i}/USDT" for i in range(start, start + n))

    one = "spot@public.miniTicker.v3.api.pb@C{}USDT@UTC+8"
    client = Client()
    asyncio.run(MEXC.watch_marks(client, pairs(29)))
    assert client.subscribed() == [one.format(i) for i in sorted(range(29), key=str)]
    asyncio.run(MEXC.watch_marks(client, pairs(30)))  # a 30th pair: every pair's, the socket's 30th
    assert client.subscribed()[29:] == [TICKERS]
    asyncio.run(MEXC.watch_marks(client, pairs(5, 35)))  # the book changed: every pair's still
    assert len(client.subscribed()) == 30
    fresh = Client()
    asyncio.run(MEXC.watch_marks(fresh, pairs(40)))
    assert fresh.subscribed() == [TICKERS]
