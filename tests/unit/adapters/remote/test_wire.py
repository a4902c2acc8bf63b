"""What crosses between a reader process and the decider (adapters/remote/wire.py): snapshots as
changes of the one the decider holds, and an adapter's errors as values.

The reader's side (:class:`SnapshotSender`) and the decider's (:class:`SnapshotMirror`) are run
here over sequences of snapshots of one account, each one packed into a frame and read back as
the link does: positions added, removed, their marks moved, the very same positions handed out
again, orders, balances and markets changed or not, positions as a plain list, with their
columns or made on reading (the simulated adapter's and a stream's). Every snapshot the mirror
makes must be the reader's (its dump, its positions, its columns), and each crossing the change
it should be: nothing of a part that did not change, the rows that moved of positions that did.
A change of a snapshot the mirror does not hold is a gap: it raises, holds nothing, and takes
the whole one asked for next. And the decider's adapter of an account whose reader is down:
its calls fail at once, its stream's health says why.
"""

from __future__ import annotations

import asyncio
import pickle
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.base import AdapterError, CancelSelector, Capabilities, Reason, SendWithheld, StreamHealth, VenueRefusal
from adapters.remote.adapter import RemoteAdapter
from adapters.remote.link import ReaderLink
from adapters.remote.wire import (
    HEADER,
    MAX_FRAME,
    SAME,
    Gap,
    SnapshotMirror,
    SnapshotSender,
    error_of,
    pack,
    raise_error,
    read_frame,
)
from adapters.simulated.adapter import SimulatedAdapter
from killswitch.snapshot import (
    COLUMNS,
    Balance,
    FetchStatus,
    MarketRules,
    Order,
    OrderBook,
    Position,
    PositionColumns,
    PositionList,
    PositionsOnReading,
    Snapshot,
    row_of,
    with_positions,
)
from tests.integration.sim_helpers import BTC_U, engine, intent

KEY = "binanceusdm/a"
PARTS = ("balances", "orders", "markets", "books")
SYMBOLS = [f"C{i}/USDT:USDT" for i in range(12)]


def crossed(message: tuple) -> Any:
    """``message`` as the other end of the link reads it: one frame, its length and its pickle."""
    frame = pack(message)
    (n,) = HEADER.unpack(frame[:HEADER.size])
    assert n == len(frame) - HEADER.size
    return pickle.loads(frame[HEADER.size:])


def on_reading(models: list[Position]) -> PositionsOnReading:
    """``models`` as a stream's state or the simulated adapter hands them: columns, each model made when read."""
    return PositionsOnReading(PositionColumns(list(map(row_of, models))), lambda i: models[i])


def held_as(models: list[Position], form: str) -> Any:
    if form == "list":
        return list(models)
    if form == "columns":
        return PositionList.of(models)
    return on_reading(models)


def snapshot(ts: int, positions: Any, *, balances: list[Balance], orders: list[Order],
             markets: dict[str, MarketRules], books: dict[str, OrderBook], ok: bool = True) -> Snapshot:
    base = Snapshot(venue="binanceusdm", account="a", market_type="futures", ts_event=ts, ts_observed=ts + 3,
                    ts_source="venue", equity=None if not ok else 1000.0 + ts % 97, balances=balances,
                    orders=orders, markets=markets, books=books, labels={"book": "futures"},
                    fetch=FetchStatus(ok=ok, error_code=None if ok else "EXCHANGE_UNAVAILABLE", calls=3))
    return with_positions(base, positions) if not isinstance(positions, list) else base.model_copy(
        update={"positions": positions})


def assert_mirrors(got: Snapshot, sent: Snapshot) -> None:
    """The decider's snapshot is the reader's: its dump, its positions, and their columns."""
    assert got.model_dump() == sent.model_dump()
    assert list(got.positions) == list(sent.positions)
    expected = PositionColumns(list(map(row_of, sent.positions)))
    cols = got.positions.columns  # type: ignore[attr-defined]  # the mirror's positions carry their columns
    for attr in (*COLUMNS.values(), "side_keys"):
        assert getattr(cols, attr) == getattr(expected, attr), attr
        assert [type(v) for v in getattr(cols, attr)] == [type(v) for v in getattr(expected, attr)], attr


def expected_kind(before: Optional[list[Position]], after: list[Position]) -> str:
    """How the positions should cross: the same ones (nothing), the rows that moved (fewer than
    half of the same positions), or whole."""
    if before is None or [p.symbol for p in before] != [p.symbol for p in after]:
        return "all"
    moved = sum(p != q for p, q in zip(before, after))
    return "same" if moved == 0 else "rows" if 2 * moved < len(after) else "all"


# --- the model the sequences are drawn from --------------------------------------------------------------

mark = st.floats(0.01, 100_000.0, allow_nan=False)


@st.composite
def a_position(draw, symbol: str) -> Position:
    hedge_leg = draw(st.sampled_from([None, "LONG", "SHORT", "BOTH"]))
    side = "short" if hedge_leg == "SHORT" else "long" if hedge_leg == "LONG" else draw(
        st.sampled_from(["long", "short"]))
    contracts = draw(st.floats(0.0, 1e6))
    price = draw(mark)
    return Position(symbol=symbol, side=side, position_side=hedge_leg, contracts=contracts, notional=contracts * price,
                    entry_price=draw(st.none() | mark), mark_price=price,
                    unrealized_pnl=draw(st.floats(-1e6, 1e6)), liquidation_price=draw(st.none() | mark),
                    margin=draw(st.none() | st.floats(0, 1e6)), strategy=draw(st.sampled_from([None, "alpha", "beta"])),
                    leverage=draw(st.none() | st.floats(1, 125)))


def moved(p: Position, factor: float) -> Position:
    price = p.mark_price * factor
    return p.model_copy(update={"mark_price": price, "notional": p.contracts * price,
                                "unrealized_pnl": p.unrealized_pnl + p.contracts * (price - p.mark_price)})


orders_st = st.lists(st.builds(Order, id=st.text("0123456789", min_size=1, max_size=6), symbol=st.sampled_from(SYMBOLS),
                               side=st.sampled_from(["buy", "sell"]), type=st.sampled_from(["limit", "market"]),
                               amount=st.floats(0, 100), price=st.none() | mark), max_size=3)
balances_st = st.lists(st.builds(Balance, asset=st.sampled_from(["USDT", "BTC"]), free=st.floats(0, 1e6),
                                 total=st.floats(0, 1e6)), max_size=2)
markets_st = st.dictionaries(st.sampled_from(SYMBOLS), st.builds(MarketRules, amount_step=st.sampled_from([0, 0.001]),
                                                                  min_notional=st.sampled_from([0, 5.0])), max_size=3)
books_st = st.dictionaries(st.sampled_from(SYMBOLS), st.builds(OrderBook, bids=st.just(((1.0, 2.0),)),
                                                                asks=st.just(((1.5, 1.0),)), ts=st.integers(0, 9)),
                           max_size=1)
OPS = ["add", "remove", "move one", "move many", "again", "share", "orders", "balances", "markets", "books",
       "nothing", "fail"]


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_mirrored_snapshot_is_the_readers_and_each_crossing_is_the_change(data):
    sender, mirror = SnapshotSender(), SnapshotMirror()
    start = data.draw(st.lists(st.sampled_from(SYMBOLS), unique=True, max_size=8), label="book")
    models: list[Position] = [data.draw(a_position(symbol)) for symbol in start]
    parts: dict[str, Any] = {"balances": [], "orders": [], "markets": {}, "books": {}}
    sent: Optional[Snapshot] = None
    sent_models: Optional[list[Position]] = None
    got: Optional[Snapshot] = None
    for step in range(data.draw(st.integers(1, 14), label="steps")):
        op = data.draw(st.sampled_from(OPS), label="op")
        changed: set[str] = set()
        positions: Any = None
        if op == "add" and len(models) < len(SYMBOLS):
            free = [s for s in SYMBOLS if s not in {p.symbol for p in models}]
            at = data.draw(st.integers(0, len(models)), label="at")
            models = models[:at] + [data.draw(a_position(data.draw(st.sampled_from(free))))] + models[at:]
        elif op == "remove" and models:
            del models[data.draw(st.integers(0, len(models) - 1), label="index")]
            models = list(models)
        elif op in ("move one", "move many") and models:
            which = ({data.draw(st.integers(0, len(models) - 1))} if op == "move one" else
                     set(data.draw(st.lists(st.integers(0, len(models) - 1), min_size=1))))
            factor = data.draw(st.floats(0.5, 2.0), label="factor")
            models = [moved(p, factor) if i in which else p for i, p in enumerate(models)]
        elif op == "again" and sent is not None:
            positions = sent.positions  # the very object the reader sent before
        elif op == "share" and sent is not None and isinstance(sent.positions, PositionsOnReading):
            positions = sent.positions.sharing()
        elif op in parts:
            parts[op] = data.draw({"orders": orders_st, "balances": balances_st, "markets": markets_st,
                                   "books": books_st}[op], label=op)
            changed.add(op)
        if positions is None:
            positions = held_as(models, data.draw(st.sampled_from(["list", "columns", "on reading"]), label="form"))
        snap = snapshot(1000 + step, positions, ok=op != "fail", **parts)

        encoded = crossed(sender.encode(KEY, snap, mirror.number))
        previous = got
        got = mirror.apply(encoded)
        assert_mirrors(got, snap)

        number, base, _, parts_sent, shipped = encoded
        assert mirror.number == number
        if sent is None:
            assert base is None and shipped[0] == "all"
            assert all(parts_sent[name] is not SAME for name in PARTS)
        else:
            assert base is not None, "a change of the one the decider holds"
            for name in PARTS:
                same = getattr(snap, name) == getattr(sent, name)
                assert (parts_sent[name] == SAME) == same, name
            assert shipped[0] == expected_kind(sent_models, list(snap.positions)), (op, shipped[0])
        if shipped[0] == "same":  # the same positions: the mirror shares them, and every model made of them
            assert previous is not None
            assert got.positions.columns is previous.positions.columns  # type: ignore[attr-defined]
            if len(got.positions):
                assert got.positions[0] is previous.positions[0]
        sent, sent_models = snap, list(snap.positions)


def test_a_change_of_a_snapshot_the_mirror_does_not_hold_is_a_gap_and_a_whole_one_follows():
    sender, mirror = SnapshotSender(), SnapshotMirror()
    ps = [Position(symbol=s, side="long", contracts=1.0, notional=10.0, mark_price=10.0, unrealized_pnl=0.0)
          for s in SYMBOLS[:6]]
    empty: dict[str, Any] = {"balances": [], "orders": [], "markets": {}, "books": {}}
    first = snapshot(1, on_reading(ps), **empty)
    second = snapshot(2, on_reading([moved(ps[0], 1.1), *ps[1:]]), **empty)
    third = snapshot(3, on_reading([moved(ps[0], 1.2), *ps[1:]]), **empty)

    assert_mirrors(mirror.apply(crossed(sender.encode(KEY, first, mirror.number))), first)
    held = mirror.number
    change_of_second = crossed(sender.encode(KEY, second, held))
    assert change_of_second[4][0] == "rows"
    change_of_third = crossed(sender.encode(KEY, third, change_of_second[0]))  # (the second never arrived)
    assert change_of_third[1] == change_of_second[0] and change_of_third[4][0] == "rows"

    with pytest.raises(Gap):
        mirror.apply(change_of_third)
    assert mirror.number is None, "after a gap the mirror holds nothing a change could be applied to"
    with pytest.raises(Gap):  # nor does a change of the one it held before
        mirror.apply(change_of_second)

    whole = crossed(sender.encode(KEY, third, mirror.number))
    assert whole[1] is None and whole[4][0] == "all" and all(whole[3][p] != SAME for p in PARTS)
    assert_mirrors(mirror.apply(whole), third)
    # and the changes go on from the whole one
    fourth = snapshot(4, on_reading([moved(ps[0], 1.3), *ps[1:]]), **empty)
    change = crossed(sender.encode(KEY, fourth, mirror.number))
    assert change[1] == whole[0] and change[4][0] == "rows"
    assert_mirrors(mirror.apply(change), fourth)


def test_a_mirror_that_forgot_or_a_sender_that_holds_another_base_cross_whole():
    sender, mirror = SnapshotSender(), SnapshotMirror()
    empty: dict[str, Any] = {"balances": [Balance(asset="USDT", free=1.0, total=1.0)], "orders": [], "markets": {},
                             "books": {}}
    ps = [Position(symbol=s, side="short", contracts=2.0, notional=20.0, mark_price=10.0, unrealized_pnl=1.0)
          for s in SYMBOLS[:3]]
    one, two = snapshot(1, PositionList.of(ps), **empty), snapshot(2, PositionList.of(ps), **empty)
    mirror.apply(crossed(sender.encode(KEY, one, None)))
    mirror.forget()  # a reader started again (RemoteAdapter.restarted)
    encoded = crossed(sender.encode(KEY, two, mirror.number))
    assert encoded[1] is None and encoded[4][0] == "all"
    assert_mirrors(mirror.apply(encoded), two)
    # the decider names a base the reader no longer holds (an answer it never read): whole
    stale = crossed(sender.encode(KEY, one, 10_000))
    assert stale[1] is None and stale[4][0] == "all"
    assert_mirrors(mirror.apply(stale), one)
    sender.forget(KEY)  # the reader forgot what it sent: whole, whatever the decider holds
    encoded = crossed(sender.encode(KEY, two, mirror.number))
    assert encoded[1] is None
    assert_mirrors(mirror.apply(encoded), two)


def test_the_simulated_adapters_snapshots_made_on_reading_cross_as_they_are():
    """The reader's adapter hands positions made on reading, the same columns while nothing moved:
    they cross as nothing, and as a change when a mark moves (one mark moves the other legs'
    liquidation prices too: cross margin) or a leg grows; the decider reads the same models."""
    ex, clock = engine("calm")
    for symbol, side, amount, price in (("BTCUSDT", "long", 0.5, 59_000.0), ("ETHUSDT", "short", 3.0, 3_100.0),
                                        ("SOLUSDT", "long", 40.0, 130.0)):
        ex.open_position("sim-main", symbol, side, amount, price)
    adapter = SimulatedAdapter(ex, "sim-main")
    sender, mirror = SnapshotSender(), SnapshotMirror()
    kinds = []

    def cross() -> None:
        snap = asyncio.run(asyncio.wait_for(adapter.snapshot(), 20))
        assert isinstance(snap.positions, PositionsOnReading) and snap.fetch.ok
        encoded = crossed(sender.encode(KEY, snap, mirror.number))
        kinds.append(encoded[4][0])
        assert_mirrors(mirror.apply(encoded), snap)

    cross()
    cross()  # nothing moved
    ex.set_mark("BTCUSDT", 61_000.0)
    cross()
    ex.open_position("sim-main", "BTCUSDT", "long", 0.1, 61_000.0)
    ex.set_mark("ETHUSDT", 2_900.0)
    cross()
    clock.advance(60_000)
    cross()
    cross()
    assert kinds[:2] == ["all", "same"] and "same" not in kinds[2:4] and kinds[-1] == "same", kinds


# --- frames ---------------------------------------------------------------------------------------------


def read_back(data: bytes) -> Any:
    async def read() -> Any:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return [await read_frame(reader), await read_frame(reader)]

    return asyncio.run(read())


def test_frames_read_back_in_order_and_a_cut_one_is_the_end_of_the_link():
    one, two = ("reply", 1, True, {"x": [1.5, None]}), ("beat", 2.5)
    assert read_back(pack(one) + pack(two)) == [one, two]
    assert read_back(pack(one) + pack(two)[:-3]) == [one, None]
    with pytest.raises(ValueError):
        read_back(HEADER.pack(MAX_FRAME + 1) + b"x")


# --- errors ---------------------------------------------------------------------------------------------


def raised(e: BaseException, venue: str = "binanceusdm") -> BaseException:
    with pytest.raises(BaseException) as caught:
        raise_error(crossed(("reply", 1, False, error_of(e)))[3], venue)
    return caught.value


def test_an_adapter_error_crosses_with_its_reason_message_venue_retry_and_refusal():
    refusal = VenueRefusal("-2022", "-2022 ReduceOnly Order is rejected.", "REDUCE_ONLY_REJECTED", "transient")
    e = AdapterError(Reason.REDUCE_ONLY_REJECTED, "the venue refused: -2022", venue="binanceusdm", retry_after_s=1.5,
                     refusal=refusal)
    got = raised(e, venue="elsewhere")
    assert type(got) is AdapterError and str(got) == str(e)
    assert (got.reason, got.message, got.venue, got.retry_after_s, got.refusal) == \
           (Reason.REDUCE_ONLY_REJECTED, e.message, "binanceusdm", 1.5, refusal)
    plain = raised(AdapterError(Reason.RATE_LIMITED, "429", venue="okx"))
    assert isinstance(plain, AdapterError) and (plain.reason, plain.venue, plain.refusal, plain.retry_after_s) == \
           (Reason.RATE_LIMITED, "okx", None, None)


def test_a_withheld_send_a_timeout_and_any_other_error_cross_as_themselves():
    withheld = raised(SendWithheld("order ks-abc-1", venue="bybit"))
    assert type(withheld) is SendWithheld and withheld.venue == "bybit"
    assert str(withheld) == str(SendWithheld("order ks-abc-1"))
    assert type(raised(TimeoutError())) is TimeoutError
    assert type(raised(asyncio.TimeoutError())) is TimeoutError
    other = raised(KeyError("secret-looking-key"), venue="binanceusdm")
    assert isinstance(other, AdapterError) and other.reason is Reason.UNKNOWN and other.venue == "binanceusdm"
    assert "KeyError" in other.message and "secret-looking-key" not in str(other)


def test_the_decider_sends_each_call_with_its_arguments_as_the_protocol_binds_them():
    class Sent:
        index = 0

        async def call(self, key: str, method: str, args: tuple, gated: bool) -> Any:
            return method, args

    remote = RemoteAdapter(KEY, Sent(), {"capabilities": Capabilities()})  # type: ignore[arg-type]
    calls = {remote.arm_cancel_all_after(5.0): ("arm_cancel_all_after", (5.0, ())),
             remote.arm_cancel_all_after(5.0, symbols=(BTC_U,)): ("arm_cancel_all_after", (5.0, (BTC_U,))),
             remote.open_orders(): ("open_orders", ((),)),
             remote.fills(BTC_U, since_ms=3): ("fills", (BTC_U, 3)),
             remote.read_trading(): ("read_trading", ())}
    for call, sent in calls.items():
        assert asyncio.run(call) == sent


# --- the decider's adapter while its reader is down ----------------------------------------------------


def test_while_its_reader_is_down_an_accounts_calls_fail_at_once_and_its_stream_says_so():
    link = ReaderLink(0, [KEY], build=lambda: None, term=None)  # not started yet: down
    remote = RemoteAdapter(KEY, link, {"capabilities": Capabilities(), "symbols": None,
                                       "strategy_names": frozenset(), "labels": None, "trading_keys": ()})
    live = StreamHealth(state="live", reason=None, since_ms=1, last_message_ms=2, reconnects=3, disagreements=4)
    remote.took_state((live, None, None))
    for call in (remote.snapshot(), remote.submit(intent(BTC_U, "sell", 1.0, venue="binanceusdm", account="a")),
                 remote.cancel_orders(CancelSelector(symbols=(BTC_U,)))):
        with pytest.raises(AdapterError) as failed:
            asyncio.run(asyncio.wait_for(call, 5))
        assert failed.value.reason is Reason.READER_DOWN and failed.value.venue == "binanceusdm"
    health = remote.stream_health()
    assert health is not None and (health.state, health.reason) == ("down", "READER_DOWN")
    assert (health.last_message_ms, health.reconnects, health.disagreements) == (2, 3, 4)
    link.up()  # answering again: the stream's health is the reader's own
    assert remote.stream_health() == live
    off = StreamHealth(state="off", reason="STREAM_UNSUPPORTED", since_ms=None, last_message_ms=None)
    remote.took_state((off, None, None))
    link._went_down("ended")
    assert remote.stream_health() == off, "a stream that is off stays off"


def test_an_accounts_endpoint_waits_cross_from_its_reader_with_its_weight():
    from adapters.ccxt_exchange.budget import EndpointWindows, WeightMeter
    from adapters.remote.reader import state

    meter = WeightMeter()
    meter.add(7)
    meter.windows = EndpointWindows({})
    meter.windows.waited["GET account/positions"] = (3, 1.5)

    class Weighed:
        def weight(self) -> Any:
            return meter, None

        def stream_health(self) -> None:
            return None

        def position_mode(self) -> None:
            return None

    remote = RemoteAdapter(KEY, None, {"capabilities": Capabilities()})  # type: ignore[arg-type]
    remote.took_state(pickle.loads(pickle.dumps(state(Weighed()))))
    counted, limit = remote.weight()
    assert (counted.used(), limit) == (7.0, None)
    assert counted.endpoint_waits() == {"GET account/positions": (3, 1.5)}
