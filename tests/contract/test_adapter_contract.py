"""The adapter contract, run against every face of the simulated exchange:

- ``inprocess``: :class:`adapters.simulated.adapter.SimulatedAdapter` over the engine;
- one per venue with a simulator face (``adapters.registry``: each venue folder's ``FACE``, in
  registry order): the production :class:`adapters.ccxt_exchange.CcxtAdapter` driving the real
  ccxt client of the venue's ``SIM_ID`` (signing, parsing, error mapping) against the venue's
  face on 127.0.0.1, its account the face's own (``sim_account``). Where the venue itself
  differs from the plain case, its folder's ``contract.py`` says so in ``FACE_TERMS`` (read as
  :class:`Terms`: its quote currency, its client ids, a submit read back, no hedge mode, how it
  lists a conditional order, ...); the tests read the terms, never the venue's name.

For every operation and every injected fault the adapter returns a result or raises
``AdapterError`` with a reason code, never hangs past its timeout, never sends a close larger
than the position and never sends a futures close without reduce-only.

The dialects' rows (what the adapter sends each ccxt id) are :mod:`.test_dialect_rows`'s.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.registry import parts
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.faults import FaultPlan
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.scenarios import build
from killswitch.engine.planner import OrderIntent, client_order_id
from tests.ports import confirmed_cancel

T0 = 1_772_456_400_000
TIMEOUT_S = 2.0  # the adapter's own timeout in these tests
SLACK_S = 3.0  # what a test allows beyond it before calling it a hang
# The timeout test's adapter times out after this: its held order waits it out on the wall clock,
# once a face. An answered call here is a few ms on 127.0.0.1 in this process; 1 s is the bound the
# runner matrix (tests/integration/test_runner_matrix.py) holds on a loaded machine.
HELD_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Terms:
    """Where a face's venue differs from the contract's plain case: each venue's ``FACE_TERMS``
    (``adapters/venues/<venue>/contract.py``), read as this record; the in-process adapter's
    are :data:`INPROCESS`."""

    quote: str = "USDT"  # the quote (and settle) currency of the engine's markets on this face
    engine_client_ids: bool = False  # client ids only in the engine's form (ks and 30 hex digits)
    cloid_prefix: str | None = None  # a conditional order's client id as the face lists it: this and the hex digits
    reads: tuple = ()  # (operation, the face's operation of it): reads the venue answers as one
    close_limits: tuple | None = None  # (sell, buy) limit prices of a close where the venue has no market order
    reads_back: bool = False  # a submit's outcome is read back by client id (the answer carries no fill)
    maintenance_margin: bool = True  # each position's maintenance margin is the venue's
    min_amount: float = 0.001  # BTC's minimum size
    hedge: bool = True  # the venue has a hedge mode
    no_stops: tuple = ()  # the conditional orders (of STOPS) the venue has no kind of
    stops: tuple = ()  # (name, listed as) where the venue lists a conditional order its own way
    hedge_stops: tuple = ()  # the same, over ``stops``, where a hedge-mode account's differ
    one_way_leg: str | None = "BOTH"  # the leg an order of a one-way account names
    cancel_all_after: bool = True  # the adapter arms the venue's countdown here
    data_age_in_event_time: bool = False  # the snapshot's event time says how old the data is
    # the venue's lists of conditional orders carry their client ids (MEXC's trigger and stop
    # orders carry none: a test names them by their trigger price instead)
    conditional_client_ids: bool = True
    # why the contract, a futures account's, does not apply to the face (a spot venue's); None: it does
    spot_only: str | None = None


INPROCESS = Terms(data_age_in_event_time=True)


def face_terms() -> dict[str, Terms]:
    """The in-process adapter, then every venue with a face (``adapters.registry``), in registry
    order: each with its terms."""
    from importlib import import_module

    found = {p.venue: import_module(f"{p.package.__name__}.contract") for p in parts("FACE")}
    return {"inprocess": INPROCESS, **{v: Terms(**m.FACE_TERMS) for v, m in found.items()}}


TERMS = face_terms()
FACES = list(TERMS)
SIM_IDS = {p.venue: p.package.SIM_ID for p in parts("FACE")}  # the ccxt id each face answers as


@dataclass
class Face:
    kind: str
    adapter: object
    engine: object
    faults: FaultPlan
    account: str

    @property
    def terms(self) -> Terms:
        return TERMS[self.kind]

    def sym(self, base: str) -> str:
        """The unified symbol of the engine's ``base``USDT market on this face (Hyperliquid's
        perpetuals are USDC's: the face lists the engine's markets by coin)."""
        return f"{base}/{self.terms.quote}:{self.terms.quote}"

    def cid(self, name: str) -> str:
        """A test's client order id on this face: a venue that takes only the engine's form (ks
        and 30 hex digits) gets one made from the name."""
        return client_order_id("contract", name) if self.terms.engine_client_ids else name

    def op(self, name: str) -> str:
        """The face's operation of a read (Hyperliquid's balance and positions are one read,
        clearinghouseState, the face's ``account``)."""
        return dict(self.terms.reads).get(name, name)

    def close(self, symbol: str | None = None, side: str = "sell", cid: str = "kscontract1", **kw) -> OrderIntent:
        """:func:`close_intent` on this face: its symbol and client id; on a venue with no
        market order, a limit IOC through the mark (the engine's marks are flat)."""
        if self.terms.close_limits is not None and kw.get("limit") is None:
            kw["limit"] = self.terms.close_limits[0 if side == "sell" else 1]
        return close_intent(symbol or self.sym("BTC"), side, cid=self.cid(cid), **kw)

    def position(self, symbol: str, position_side: str | None = None) -> float:
        total = 0.0
        for p in self.engine.positions(self.account, symbol):
            if position_side is None or getattr(p, "position_side", None) in (position_side, None):
                total += abs(p.amount) if hasattr(p, "amount") else abs(p.contracts)
        return total

    async def outcome(self, result):
        """A submit's result as the venue knows it: where the order's answer carries no fill
        (OKX: an ``ordId`` and an ``sCode``; Bybit: the order's ids), it is read back by client
        id, as the runner reconciles one."""
        if not self.terms.reads_back:
            return result
        return await self.adapter.fetch_order(self.sym("BTC"), result.client_order_id)

    def orders_sent(self) -> int:
        return sum(1 for e in self.engine.events if getattr(e, "kind", None) == "order"
                   or (isinstance(e, dict) and e.get("kind") == "order"))


def hedge_only(kind: str, account: str = "sim-hedge") -> None:
    if account == "sim-hedge" and not TERMS[kind].hedge:
        pytest.skip(f"{kind} has no hedge mode: an order has no leg to close")


@asynccontextmanager
async def face(kind: str, account: str = "sim-main", scenario: str = "calm", timeout_s: float = TIMEOUT_S):
    if TERMS[kind].spot_only:
        pytest.skip(f"{kind}: {TERMS[kind].spot_only}")
    clock = ManualClock(T0)
    engine = build(scenario, clock)
    for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
        engine.set_mark(symbol, price)
    faults = FaultPlan()
    if kind == "inprocess":
        adapter = SimulatedAdapter(engine, account, venue="binanceusdm", timeout_s=timeout_s, faults=faults)
        await adapter.snapshot()  # the same warm start as the other face
        try:
            yield Face(kind, adapter, engine, faults, account)
        finally:
            await adapter.close()
        return
    from adapters.ccxt_exchange import CcxtAdapter
    from adapters.simulated.venues import sim_account

    async with SimServer(engine, faults=faults, auth_clock=wall_clock, hang_s=TIMEOUT_S + SLACK_S) as server:
        acc = sim_account(server, account, SIM_IDS[kind])
        adapter = CcxtAdapter(acc, urls=acc.api_url, timeout=timeout_s, max_retries=1, backoff_s=0.05)
        try:
            await adapter.snapshot()  # markets loaded before any fault is scripted
            yield Face(kind, adapter, engine, faults, account)
        finally:
            await adapter.close()


def run(body, kind: str, **kw):
    async def main():
        async with face(kind, **kw) as f:
            return await body(f)

    return asyncio.run(asyncio.wait_for(main(), 60))


def close_intent(symbol="BTC/USDT:USDT", side="sell", amount=1.0, cid="kscontract1", reduce_only=True,
                 position_side=None, limit=None):
    return OrderIntent("d-contract", cid, "binanceusdm", "sim-main", symbol, side, position_side, amount, reduce_only,
                       limit, 0.0, 1, 1, T0, "close_all", "CONTRACT")


async def bounded(coro, budget=TIMEOUT_S + SLACK_S):
    """Run an adapter call; fail the test if it outlives its timeout by more than the slack."""
    start = time.monotonic()
    try:
        return await asyncio.wait_for(coro, budget)
    except asyncio.TimeoutError:
        pytest.fail(f"adapter call hung for more than {budget}s")
    finally:
        assert time.monotonic() - start < budget + 0.5


async def reason_of(coro) -> Reason:
    try:
        await bounded(coro)
    except AdapterError as e:
        return e.reason
    pytest.fail("expected an AdapterError")


# --- operations --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FACES)
def test_snapshot_reports_equity_positions_and_markets(kind):
    async def body(f: Face):
        s = await bounded(f.adapter.snapshot())
        assert s.fetch.ok and s.equity and s.equity > 0
        got = {(p.symbol, p.side): p.contracts for p in s.positions}
        assert got == {(f.sym("BTC"), "long"): 5.0, (f.sym("ETH"), "long"): 100.0,
                       (f.sym("SOL"), "short"): 1000.0}
        # each position's maintenance margin is the venue's (the engine's, as its face writes it);
        # Hyperliquid says only the account's: none
        said = {p.symbol.split("/")[0]: p.maintenance_margin for p in s.positions}
        views = {f.engine.markets[v.symbol].base: v.maint_margin for v in f.engine.positions(f.account)}
        assert said == ({b: pytest.approx(mm, abs=1e-8) for b, mm in views.items()} if f.terms.maintenance_margin
                        else {b: None for b in views}) and min(views.values()) > 0
        rules = s.markets[f.sym("BTC")]
        assert rules.amount_step == pytest.approx(0.001) and rules.min_amount == pytest.approx(f.terms.min_amount)

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_reduce_only_close_reduces_the_position(kind):
    async def body(f: Face):
        r = await bounded(f.outcome(await bounded(f.adapter.submit(f.close(amount=2.0)))))
        assert r.status == "filled" and r.filled == pytest.approx(2.0) and r.client_order_id == f.cid("kscontract1")
        assert f.position("BTCUSDT") == pytest.approx(3.0)
        again = await bounded(f.adapter.fetch_order(f.sym("BTC"), f.cid("kscontract1")))
        assert again.status == "filled" and again.filled == pytest.approx(2.0)

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_a_close_larger_than_the_position_is_refused_before_sending(kind):
    async def body(f: Face):
        assert await reason_of(f.adapter.submit(f.close(amount=5.5))) is Reason.CLOSE_EXCEEDS_POSITION
        assert f.position("BTCUSDT") == pytest.approx(5.0)
        assert await reason_of(f.adapter.fetch_order(f.sym("BTC"), f.cid("kscontract1"))) is Reason.ORDER_NOT_FOUND

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_a_futures_close_without_reduce_only_is_refused_before_sending(kind):
    async def body(f: Face):
        assert await reason_of(f.adapter.submit(f.close(reduce_only=False))) is Reason.NOT_REDUCE_ONLY
        assert f.position("BTCUSDT") == pytest.approx(5.0)

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_a_close_held_back_by_the_callers_send_gate_never_reaches_the_venue(kind):
    """The runner's send gate (its lease term) closed while the order was on its way through
    the adapter: SendWithheld, the position untouched, the venue never heard of the order; the
    same close goes once the gate is open."""
    from adapters.base import SendWithheld, send_gate

    async def body(f: Face):
        with send_gate(lambda: False):
            with pytest.raises(SendWithheld):
                await bounded(f.adapter.submit(f.close(amount=2.0)))
        assert f.position("BTCUSDT") == pytest.approx(5.0)
        assert await reason_of(f.adapter.fetch_order(f.sym("BTC"), f.cid("kscontract1"))) is Reason.ORDER_NOT_FOUND
        with send_gate(lambda: True):
            r = await bounded(f.outcome(await bounded(f.adapter.submit(f.close(amount=2.0)))))
        assert r.status == "filled" and f.position("BTCUSDT") == pytest.approx(3.0)

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_chunks_never_add_up_to_more_than_the_position(kind):
    async def body(f: Face):
        await bounded(f.adapter.submit(f.close(amount=3.0, cid="ksc1")))
        await bounded(f.adapter.submit(f.close(amount=2.0, cid="ksc2")))
        assert (await reason_of(f.adapter.submit(f.close(amount=0.5, cid="ksc3")))
                is Reason.CLOSE_EXCEEDS_POSITION)
        assert f.position("BTCUSDT") == pytest.approx(0.0)

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_hedge_mode_closes_only_the_named_leg(kind):
    hedge_only(kind)

    async def body(f: Face):
        intent = f.close(side="buy", amount=1.0, position_side="SHORT", cid="kshedge1")
        r = await bounded(f.outcome(await bounded(f.adapter.submit(intent))))
        assert r.status == "filled"
        legs = {p.position_side: abs(p.amount) for p in f.engine.positions(f.account, "BTCUSDT")}
        assert legs == {"LONG": pytest.approx(2.0), "SHORT": pytest.approx(3.0)}

    run(body, kind, account="sim-hedge")


@pytest.mark.parametrize("kind", FACES)
def test_unknown_client_id_is_order_not_found(kind):
    async def body(f: Face):
        assert await reason_of(f.adapter.fetch_order(f.sym("BTC"), f.cid("ksneversent"))) is Reason.ORDER_NOT_FOUND

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
@pytest.mark.parametrize("which,left", [("entries", {"tp"}), ("all", set())])
def test_cancel_orders_entries_keeps_reduce_only_orders(kind, which, left):
    async def body(f: Face):
        f.engine.place_order(f.account, "ETHUSDT", "buy", "LIMIT", 1.0, 2_500.0, time_in_force="GTC",
                             client_order_id="entry")
        f.engine.place_order(f.account, "ETHUSDT", "sell", "LIMIT", 10.0, 3_500.0, time_in_force="GTC",
                             reduce_only=True, client_order_id="tp")
        await bounded(f.adapter.snapshot())  # the adapter learns of the orders as a runner would
        res = await bounded(confirmed_cancel(f.adapter, CancelSelector(which=which, symbols=(f.sym("ETH"),))))
        assert not res.failed
        remaining = {o.client_order_id for o in f.engine.open_orders(f.account, "ETHUSDT")}
        assert remaining == left

    run(body, kind)


# Conditional orders live in the venue's algo service (Binance USDⓈ-M since it moved them there):
# (client id, side, type, quantity or None for close-position, trigger, limit price, leg in hedge mode)
STOPS = [
    ("entry-stop", "BUY", "STOP_MARKET", 1.0, 3_500.0, None, "LONG"),  # would open: an entry
    ("sl", "SELL", "STOP_MARKET", 10.0, 2_500.0, None, "LONG"),  # reduce-only (one-way) / closes LONG (hedge)
    ("close-tp", "SELL", "TAKE_PROFIT_MARKET", None, 4_000.0, None, "LONG"),  # close-position
    ("entry-stop-limit", "SELL", "STOP", 1.0, 2_400.0, 2_390.0, "SHORT"),  # would open a short: an entry
    ("trail", "SELL", "TRAILING_STOP_MARKET", 5.0, None, None, "LONG"),  # reduce-only trailing stop
]


def stops(f: Face) -> list:
    """The conditional orders a face's venue has (Hyperliquid has no trailing stop)."""
    return [s for s in STOPS if s[0] not in f.terms.no_stops]


def algo_id(f: Face, name: str) -> str:
    """The client id a conditional order is placed with on the engine: where the face lists a
    cloid, that cloid (the adapter reads it back as ``f.cid(name)``)."""
    prefix = f.terms.cloid_prefix
    return name if prefix is None else prefix + f.cid(name)[2:]


def place_stops(f: Face) -> None:
    hedge = f.engine.hedge_mode(f.account)
    for cid, side, kind, qty, trigger, price, leg in stops(f):
        reducing = cid in ("sl", "trail")
        f.engine.place_algo_order(
            f.account, "ETHUSDT", side, kind, quantity=qty, trigger_price=trigger, price=price,
            close_position=qty is None, callback_rate=1.0 if kind.startswith("TRAILING") else None,
            reduce_only=(True if reducing else None) if not hedge else None,
            position_side=leg if hedge else None, client_algo_id=algo_id(f, cid))


@pytest.mark.parametrize("kind", FACES)
@pytest.mark.parametrize("account", ["sim-main", "sim-hedge"])
def test_conditional_orders_are_listed_with_their_kind_and_trigger_price(kind, account):
    hedge_only(kind, account)

    async def body(f: Face):
        place_stops(f)
        f.adapter.open_orders_max_age_s = 0.0  # the ccxt face lists every open order at this snapshot
        s = await bounded(f.adapter.snapshot())
        assert s.fetch.ok, s.fetch
        names = {f.cid(c[0]): c[0] for c in STOPS}
        by_trigger = {c[4]: c[0] for c in STOPS if c[4] is not None}

        def named(o):
            if not f.terms.conditional_client_ids and o.client_id is None:
                return by_trigger.get(o.trigger_price, o.id)
            return names.get(o.client_id, o.client_id)

        got = {named(o): (o.kind, o.type, o.side, o.trigger_price, o.price, o.reduce_only, o.amount) for o in s.orders}
        want = {
            "entry-stop": ("conditional", "market", "buy", 3_500.0, None, False, 1.0),
            "sl": ("conditional", "market", "sell", 2_500.0, None, True, 10.0),
            "close-tp": ("conditional", "market", "sell", 4_000.0, None, True, 0.0),
            "entry-stop-limit": ("conditional", "limit", "sell", 2_400.0, 2_390.0, False, 1.0),
            "trail": ("trailing", "market", "sell", None, None, True, 5.0),
        }
        # where the venue lists one its own way (its contract's FACE_TERMS say why)
        want.update({name: tuple(listed) for name, listed in f.terms.stops})
        if account == "sim-hedge":
            want.update({name: tuple(listed) for name, listed in f.terms.hedge_stops})
        for name in f.terms.no_stops:
            want.pop(name)
        assert got == want
        legs = {named(o): o.position_side for o in s.orders}
        assert legs["sl"] == ("LONG" if account == "sim-hedge" else f.terms.one_way_leg)

    run(body, kind, account=account)


@pytest.mark.parametrize("kind", FACES)
@pytest.mark.parametrize("account", ["sim-main", "sim-hedge"])
@pytest.mark.parametrize("which,left", [("entries", {"sl", "close-tp", "trail"}), ("all", set())])
def test_cancel_orders_entries_keeps_conditional_orders_that_only_reduce(kind, account, which, left):
    hedge_only(kind, account)

    async def body(f: Face):
        place_stops(f)
        f.engine.place_order(f.account, "ETHUSDT", "BUY", "LIMIT", 1.0, 2_500.0, time_in_force="GTC",
                             position_side="LONG" if account == "sim-hedge" else None, client_order_id="entry")
        await bounded(f.adapter.snapshot())  # the adapter learns of the orders as a runner would
        res = await bounded(confirmed_cancel(f.adapter, CancelSelector(which=which, symbols=(f.sym("ETH"),))))
        assert not res.failed
        placed = {c[0] for c in stops(f)}
        assert {o.client_algo_id for o in f.engine.open_algo_orders(f.account)} == \
            {algo_id(f, c) for c in left & placed}
        assert f.engine.open_orders(f.account) == []  # the book's entry goes either way
        assert len(res.canceled) == len(placed) + 1 - len(left & placed)

    run(body, kind, account=account)


@pytest.mark.parametrize("kind", FACES)
def test_native_dead_mans_switch_arms_and_disarms(kind):
    async def body(f: Face):
        if not f.terms.cancel_all_after:
            # (Bybit's DCP fires on a private websocket's drop: the adapter keeps none here, so it
            # offers none, and says so rather than arming a switch that would never fire)
            assert not f.adapter.capabilities.cancel_all_after
            assert await reason_of(f.adapter.arm_cancel_all_after(60, (f.sym("BTC"),))) is Reason.UNSUPPORTED
            return
        st = await bounded(f.adapter.arm_cancel_all_after(60, (f.sym("BTC"),)))
        assert st.armed and st.supported
        assert f.engine.countdowns(f.account).get("BTCUSDT")
        st = await bounded(f.adapter.disarm_cancel_all_after((f.sym("BTC"),)))
        assert not st.armed
        assert not f.engine.countdowns(f.account).get("BTCUSDT")

    run(body, kind)


# --- faults ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FACES)
def test_latency_below_the_timeout_still_answers(kind):
    async def body(f: Face):
        f.faults.latency("place_order", int(TIMEOUT_S * 1000 * 0.4), times=1)
        r = await bounded(f.outcome(await bounded(f.adapter.submit(f.close()))))
        assert r.status == "filled"

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_timeout_is_reported_within_the_timeout_and_the_order_can_be_reconciled(kind):
    async def body(f: Face):
        f.faults.timeout("place_order", applied=True, times=1)  # the venue took it; the answer never came
        start = time.monotonic()
        assert await reason_of(f.adapter.submit(f.close())) is Reason.TIMEOUT
        assert time.monotonic() - start < HELD_TIMEOUT_S + 1.0
        found = await bounded(f.adapter.fetch_order(f.sym("BTC"), f.cid("kscontract1")))
        assert found.status == "filled"
        assert f.position("BTCUSDT") == pytest.approx(4.0)  # filled exactly once

    run(body, kind, timeout_s=HELD_TIMEOUT_S)


@pytest.mark.parametrize("kind", FACES)
@pytest.mark.parametrize("status,reason", [(429, Reason.RATE_LIMITED), (418, Reason.RATE_LIMITED),
                                           (500, Reason.EXCHANGE_UNAVAILABLE), (503, Reason.EXCHANGE_UNAVAILABLE)])
def test_http_errors_on_an_order_are_classified_and_nothing_is_sent(kind, status, reason):
    async def body(f: Face):
        f.faults.http_error("place_order", status, retry_after_s=1, times=1)
        assert await reason_of(f.adapter.submit(f.close())) is reason
        assert f.position("BTCUSDT") == pytest.approx(5.0)

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
@pytest.mark.parametrize("op", ["positions", "account"])
def test_malformed_json_is_a_failed_snapshot_never_flat(kind, op):
    async def body(f: Face):
        f.faults.malformed_json(f.op(op), times=5)
        s = await bounded(f.adapter.snapshot())
        assert not s.fetch.ok and s.fetch.error_code == Reason.BAD_RESPONSE.value
        assert s.equity is None

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_failed_snapshot_carries_its_reason_and_never_raises(kind, status):
    async def body(f: Face):
        f.faults.http_error(f.op("positions"), status, times=5)
        s = await bounded(f.adapter.snapshot())
        assert not s.fetch.ok and s.fetch.error_code in (Reason.EXCHANGE_UNAVAILABLE.value, Reason.RATE_LIMITED.value)

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_stale_data_is_never_reported_fresher_than_the_venue_says(kind):
    """In process the engine states how old its data is, and the snapshot time shows it. Through
    ccxt, Binance USD-M reports no account-wide "as of" time (only the time each position last
    *changed*, which must not be read as data age): the snapshot is ok and stamped with our
    receive time; a frozen feed there shows as content that stops changing, which the engine ages
    (``AccountState.data_age_ms``, tested in tests/integration/test_stale_feed.py)."""

    async def body(f: Face):
        f.faults.stale(f.op("positions"), 120_000, times=5)
        f.faults.stale("account", 120_000, times=5)
        before = int(time.time() * 1000)
        s = await bounded(f.adapter.snapshot())
        assert s.fetch.ok
        if f.terms.data_age_in_event_time:
            assert s.ts_event <= f.engine.now() - 120_000
        else:
            assert s.ts_observed is not None and before <= s.ts_observed
            assert s.ts_event <= s.ts_observed

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_rejected_reduce_only_is_classified(kind):
    async def body(f: Face):
        f.faults.reject_reduce_only(times=1)
        assert await reason_of(f.adapter.submit(f.close())) is Reason.REDUCE_ONLY_REJECTED
        assert f.position("BTCUSDT") == pytest.approx(5.0)

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_disconnect_in_the_middle_of_a_close_is_reconciled_not_repeated(kind):
    async def body(f: Face):
        f.faults.disconnect_after_send(times=1)
        reason = await reason_of(f.adapter.submit(f.close(amount=2.0)))
        assert reason in (Reason.EXCHANGE_UNAVAILABLE, Reason.TIMEOUT)
        found = await bounded(f.adapter.fetch_order(f.sym("BTC"), f.cid("kscontract1")))
        assert found.status == "filled" and f.position("BTCUSDT") == pytest.approx(3.0)
        # sending the same client id again cannot close twice
        again = f.adapter.submit(f.close(amount=2.0))
        try:
            await bounded(again)
        except AdapterError as e:
            # (a refusal the venue's table does not list reads VENUE_REFUSED, its code and message kept)
            assert e.reason in (Reason.INVALID_ORDER, Reason.CLOSE_EXCEEDS_POSITION, Reason.VENUE_REFUSED)
        assert f.position("BTCUSDT") == pytest.approx(3.0)

    run(body, kind)


@pytest.mark.parametrize("kind", FACES)
def test_an_order_missing_from_the_next_query_is_found_later(kind):
    async def body(f: Face):
        f.faults.hide_from_next_query(times=1)
        r = await bounded(f.adapter.submit(f.close()))
        assert r.client_order_id == f.cid("kscontract1")
        first = None
        try:
            first = await bounded(f.adapter.fetch_order(f.sym("BTC"), f.cid("kscontract1")))
        except AdapterError as e:
            assert e.reason is Reason.ORDER_NOT_FOUND
        if first is None:
            found = await bounded(f.adapter.fetch_order(f.sym("BTC"), f.cid("kscontract1")))
            assert found.status == "filled"
        assert f.position("BTCUSDT") == pytest.approx(4.0)

    run(body, kind)
