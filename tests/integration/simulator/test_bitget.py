"""The real ``ccxt.async_support.bitget`` and the production CcxtAdapter (venue bitget) against the
simulated exchange's Bitget face (:mod:`adapters.venues.bitget.face`), and a runner over a
Bitget account on it.

Each test starts a :class:`SimServer` on a free 127.0.0.1 port, runs, and stops; each is
bounded in time. The engine runs on a manual clock at T0 (flat marks); Bitget's request
timestamps are checked against the wall clock, which is what ccxt signs with.
"""

from __future__ import annotations

import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.dialects.base import ModeRead, Reads
from adapters.simulated.engine import ManualClock
from adapters.simulated.faults import FaultPlan
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.scenarios import build
from adapters.venues.bitget.dialect import BITGET
from adapters.venues.bitget.face import sim_account as bitget_account
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.conftest import bench_module
from tests.integration.sim_helpers import T0, engine, intent, run
from tests.ports import confirmed_cancel
from tests.unit.engine_helpers import compile_graph

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"

bench = bench_module("close_all_faults")


def serve(test, *, account: str = "sim-main", eng=None, faults=None, timeout: float = 30.0, **acc_fields):
    """Run ``await test(server, adapter, engine, clock)`` with a fresh server and a CcxtAdapter
    (venue bitget) for ``account``."""
    ex_engine, clock = eng or engine()

    async def go():
        srv = SimServer(ex_engine, auth_clock=wall_clock, hang_s=6.0, faults=faults)
        await srv.start()
        acc = bitget_account(srv, account, **acc_fields)
        ad = CcxtAdapter(acc, urls=acc.api_url, timeout=3.0, max_retries=1, backoff_s=0.05)
        try:
            return await test(srv, ad, ex_engine, clock)
        finally:
            await ad.close()
            await srv.stop()

    return run(go(), timeout)


def sent(srv: SimServer) -> list[str]:
    return [f"{m} {p}" for m, p, _ in srv.requests]


async def reason_of(coro) -> Reason:
    try:
        await coro
    except AdapterError as e:
        return e.reason
    pytest.fail("expected an AdapterError")


def book_with_tpsl(eng, account: str = "sim-main") -> None:
    """An entry (limit buy), a reduce-only take-profit limit, a trigger entry (normal_plan) and a
    position stop-loss (pos_loss, the whole position) on ETH."""
    eng.place_order(account, "ETHUSDT", "BUY", "LIMIT", 1.0, 2_500.0, time_in_force="GTC", client_order_id="entry1")
    eng.place_order(account, "ETHUSDT", "SELL", "LIMIT", 10.0, 3_500.0, time_in_force="GTC", reduce_only=True,
                    client_order_id="tp1")
    eng.place_algo_order(account, "ETHUSDT", "BUY", "STOP_MARKET", quantity=2.0, trigger_price=3_200.0,
                         client_algo_id="trig1", label="normal_plan")
    eng.place_algo_order(account, "ETHUSDT", "SELL", "STOP_MARKET", trigger_price=2_600.0, close_position=True,
                         client_algo_id="sl1", label="pos_loss")


# --- the snapshot ------------------------------------------------------------------------------------------


def test_snapshot_matches_the_engine_with_regular_and_plan_orders():
    async def t(srv, ad, eng, clock):
        book_with_tpsl(eng)
        s = await ad.snapshot()
        assert s.fetch.ok, s.fetch
        assert s.equity == pytest.approx(eng.account_state("sim-main").equity)
        got = {(p.symbol, p.side, p.position_side): p.contracts for p in s.positions}
        assert got == {(BTC, "long", "BOTH"): 5.0, (ETH, "long", "BOTH"): 100.0, (SOL, "short", "BOTH"): 1000.0}
        orders = {o.client_id: (o.kind, o.type, o.side, o.trigger_price, o.reduce_only) for o in s.orders}
        assert orders == {
            "entry1": ("regular", "limit", "buy", None, False),
            "tp1": ("regular", "limit", "sell", None, True),
            "trig1": ("conditional", "normal_plan", "buy", 3_200.0, False),
            "sl1": ("tpsl", "pos_loss", "sell", 2_600.0, True),
        }
        lists = [p for p in sent(srv) if "orders-" in p]
        assert lists == ["GET /api/v2/mix/order/orders-pending"] + ["GET /api/v2/mix/order/orders-plan-pending"] * 3

    serve(t)


def test_hedge_snapshot_reads_each_leg_and_the_venue_says_hedge_mode():
    async def t(srv, ad, eng, clock):
        s = await ad.snapshot()
        assert s.fetch.ok, s.fetch
        legs = {(p.symbol, p.position_side): p.contracts for p in s.positions if p.symbol == BTC}
        assert legs == {(BTC, "LONG"): 2.0, (BTC, "SHORT"): 4.0}
        client = ad._ex  # the account's own ccxt client: its signed call of the venue's account read

        async def call(method, params):
            return await getattr(client, method)(params)

        reads = Reads(call=call, has_method=lambda name: True, symbol_of=lambda m: m)
        assert (await BITGET.read_position_mode(reads)).hedge is True

    serve(t, account="sim-hedge")


def test_the_lists_are_read_page_after_page():
    async def t(srv, ad, eng, clock):
        for i in range(130):
            if i and i % 10 == 0:
                clock.advance(1000)  # the engine's order rate: 10 a second
            eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.01, 50_000.0 + i, time_in_force="GTC",
                            client_order_id=f"rest{i}")
        s = await ad.snapshot()
        assert s.fetch.ok, s.fetch
        assert {o.client_id for o in s.orders} == {f"rest{i}" for i in range(130)}
        assert sent(srv).count("GET /api/v2/mix/order/orders-pending") == 2

    serve(t)


# --- orders ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which,left", [("entries", {"tp1", "sl1"}), ("all", set())])
def test_cancel_entries_keeps_the_take_profit_and_stop_loss_and_cancel_all_leaves_nothing(which, left):
    async def t(srv, ad, eng, clock):
        book_with_tpsl(eng)
        await ad.snapshot()
        res = await ad.cancel_orders(CancelSelector(which=which, symbols=(ETH,)))
        assert not res.failed, res
        remaining = {o.client_order_id for o in eng.open_orders("sim-main")} | {
            o.client_algo_id for o in eng.open_algo_orders("sim-main")}
        assert remaining == left
        assert "POST /api/v2/mix/order/cancel-plan-order" in sent(srv)

    serve(t)


@pytest.mark.parametrize("by_ids", [False, True], ids=["entries", "by-id"])
def test_a_plan_cancel_the_venue_refuses_is_named_refused_with_its_code_and_never_counted_cancelled(by_ids):
    """Bitget refuses the trigger entry's cancel: HTTP 200, code 00000, the order in
    ``data.failureList`` with errorCode 40725. Cancelling entries (or the two ids), as the runner
    sends it through its one way out, cancels the limit entry and names the trigger refused in
    the venue's words, its cancel sent once, never again; the trigger stays open at the venue.
    Before, ccxt's parse of the answer (its empty successList's first row) was counted cancelled."""
    async def t(srv, ad, eng, clock):
        book_with_tpsl(eng)
        trig = next(o for o in eng.open_algo_orders("sim-main") if o.client_algo_id == "trig1")
        eng.conditional.refuse_cancel("sim-main", trig.algo_id)
        s = await ad.snapshot()
        ids = {o.client_id: o.id for o in s.orders}
        selector = (CancelSelector("entries", order_ids=(ids["entry1"], ids["trig1"])) if by_ids
                    else CancelSelector("entries", symbols=(ETH,)))
        lists = sent(srv).count("GET /api/v2/mix/order/orders-plan-pending")
        res = await confirmed_cancel(ad, selector)
        tid = str(trig.algo_id)
        assert res.canceled == (ids["entry1"],)
        assert res.failed == {tid: Reason.VENUE_REFUSED.value}
        assert res.words == {tid: "40725 service return an error"}
        assert {o.client_algo_id for o in eng.open_algo_orders("sim-main")} == {"trig1", "sl1"}
        assert "entry1" not in {o.client_order_id for o in eng.open_orders("sim-main")}
        assert sent(srv).count("POST /api/v2/mix/order/cancel-plan-order") == 1  # never sent again blindly
        if by_ids:  # answered for each id: not listed again, nothing named resting
            assert sent(srv).count("GET /api/v2/mix/order/orders-plan-pending") == lists and not res.still_open
        else:  # a cancel of a symbol is listed again: the refused trigger is named resting
            assert [o.id for o in res.still_open] == [tid]

    serve(t)


def test_a_one_way_reduce_only_close_fills_and_is_found_by_client_id():
    async def t(srv, ad, eng, clock):
        await ad.snapshot()
        r = await ad.submit(intent(BTC, "sell", 2.0, cid="ksclose1", venue="bitget"))
        assert r.client_order_id == "ksclose1"
        found = await ad.fetch_order(BTC, "ksclose1")
        assert (found.status, found.filled) == ("filled", 2.0)
        assert sum(p.amount for p in eng.positions("sim-main", "BTCUSDT")) == pytest.approx(3.0)
        assert await reason_of(ad.fetch_order(BTC, "ksnosuch")) is Reason.ORDER_NOT_FOUND

    serve(t)


def test_a_hedge_close_names_the_leg_and_closes_that_leg_only():
    async def t(srv, ad, eng, clock):
        await ad.snapshot()
        r = await ad.submit(intent(BTC, "buy", 1.5, cid="kshedge1", position_side="SHORT", venue="bitget",
                                   account="sim-hedge"))
        assert r.client_order_id == "kshedge1"
        legs = {p.position_side: abs(p.amount) for p in eng.positions("sim-hedge", "BTCUSDT")}
        assert legs == {"LONG": 2.0, "SHORT": pytest.approx(2.5)}

    serve(t, account="sim-hedge")


def test_a_close_built_one_way_for_a_hedge_account_is_refused_40774_and_rebuilt_once_for_the_venues_mode(caplog):
    """A close sent one-way (reduceOnly, no tradeSide) to a hedge-mode account: Bitget's 40774,
    its table's MODE refusal — the mode read again, the close sent once more built for it (the
    long leg's close), said with the venue's code. (The account declared one-way is read hedge at
    its first snapshot, and its closes are built for that: the one-way build here is a mode read
    gone stale, as after the account was switched.) Before the table the refusal was final and
    the book stayed open."""
    async def t(srv, ad, eng, clock):
        await ad.snapshot()
        assert ad.position_mode().hedge is True  # the venue's posMode, not the declaration
        ad._mode.read = ModeRead(False, "stale")
        res = await ad.submit(intent(BTC, "sell", 1.0, cid="kswrong1", venue="bitget", account="sim-hedge"))
        assert res.status in ("filled", "open")
        assert {p.position_side: abs(p.amount) for p in eng.positions("sim-hedge", "BTCUSDT")} == {
            "LONG": 1.0, "SHORT": 4.0}
        placed = [p for m, p, st in srv.requests if p == "/api/v2/mix/order/place-order"]
        assert len(placed) == 2  # refused once, sent once more: never re-sent as it was

    caplog.set_level("WARNING")
    serve(t, account="sim-hedge", hedge_mode=False)
    assert any("40774 The order type for unilateral position" in r.getMessage() for r in caplog.records)


def test_the_venues_reduce_only_refusal_is_reduce_only_rejected():
    plan = FaultPlan().add("place_order", "reject_reduce_only", calls=(1,))

    async def t(srv, ad, eng, clock):
        await ad.snapshot()
        assert await reason_of(ad.submit(intent(BTC, "sell", 1.0, cid="ksro1", venue="bitget"))) is \
            Reason.REDUCE_ONLY_REJECTED

    serve(t, faults=plan)


def test_a_429_is_rate_limited_and_nothing_fills():
    plan = FaultPlan().add("place_order", "http_429", calls=(1,))

    async def t(srv, ad, eng, clock):
        await ad.snapshot()
        assert await reason_of(ad.submit(intent(BTC, "sell", 1.0, cid="ks429", venue="bitget"))) is \
            Reason.RATE_LIMITED
        assert sum(p.amount for p in eng.positions("sim-main", "BTCUSDT")) == pytest.approx(5.0)

    serve(t, faults=plan)


# --- the signature, the passphrase, the countdown ----------------------------------------------------------


@pytest.mark.parametrize("field", ["secret", "password"])
def test_a_wrong_secret_or_passphrase_is_an_authentication_failure(field, monkeypatch):
    async def t(srv, ad, eng, clock):
        s = await ad.snapshot()
        assert not s.fetch.ok and s.fetch.error_code == "AUTH", s.fetch
        assert ("40009" if field == "secret" else "40012") in (s.fetch.error or "")

    eng_, clock = engine()
    env: dict = {}

    async def go():
        srv = SimServer(eng_, auth_clock=wall_clock, hang_s=6.0)
        await srv.start()
        acc = bitget_account(srv, "sim-main", env=env)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("KS_SIM_BITGET_SIM_MAIN_" + ("SECRET" if field == "secret" else "PASS"), "wrong")
        ad = CcxtAdapter(acc, urls=acc.api_url, timeout=3.0, max_retries=0, backoff_s=0.05)
        try:
            return await t(srv, ad, eng_, clock)
        finally:
            await ad.close()
            await srv.stop()

    run(go(), 30)


def test_bitget_has_no_countdown_the_adapter_says_so_and_nothing_is_sent():
    async def t(srv, ad, eng, clock):
        await ad.snapshot()
        assert ad.capabilities.cancel_all_after is False
        assert await reason_of(ad.arm_cancel_all_after(60, (BTC,))) is Reason.UNSUPPORTED
        assert not [p for p in sent(srv) if "countdown" in p or "/api/v3/" in p]

    serve(t)


# --- a runner over a Bitget account -------------------------------------------------------------------------


def dms_graph():

    actions = "actions: [close_all, {lock_trading: {mode: halted}}"
    text = bench.POLICY.replace(actions + "]", actions + ", {arm_exchange_dms: {after: 60s}}]")
    assert text != bench.POLICY
    return compile_graph(text, "close-all.yaml")


def test_a_runner_flattens_every_hedge_leg_on_bitget_leg_by_leg(tmp_path):
    """The close-all policy (bench/close_all_faults.py), its stage also arming the venues'
    countdowns, over the hedge account as Bitget: the short legs bleed until the stage is
    entered; every leg is closed by its own tradeSide close, none grows, and the book ends flat
    with nothing left open. Bitget's classic account has no countdown: none is armed for it,
    and the dead man's switch shows none."""
    clock = ManualClock(T0)
    eng = build("hedged-shorts-bleed", clock)
    placed: list[tuple[str, str, str]] = []
    place = eng.place_order

    def spy(account, symbol, side, type, quantity, *a, **kw):
        placed.append((symbol, side, kw.get("position_side")))
        return place(account, symbol, side, type, quantity, *a, **kw)

    eng.place_order = spy  # type: ignore[method-assign]
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")

    async def go():
        async with SimServer(eng, auth_clock=wall_clock, hang_s=4.0) as srv:
            acc = bitget_account(srv, "sim-hedge", labels={"book": "futures"})
            ad = CcxtAdapter(acc, urls=acc.api_url, timeout=3.0, max_retries=1, backoff_s=0.05,
                             orders_per_second=1000, ccxt_rate_limit=False)
            runner, desk, parts = build_runner_and_desk(
                dms_graph(), {"bitget/sim-hedge": ad}, store, lock_path=tmp_path / "lock.json",
                dry_run=False, clock=clock, confirm_gap_ms=60_000, snapshot_timeout_s=4.0)
            try:
                await runner.start()
                for _ in range(60):
                    clock.advance(60_000)
                    await runner.tick()
                    hedge = eng.accounts["sim-hedge"]
                    if parts.book.state.scopes["close-all|bitget/sim-hedge"].stage.level == 1 and not any(
                            abs(leg.amount) > 0 for leg in hedge.legs.values()):
                        break
                return desk.status(), sent(srv)
            finally:
                await runner.aclose()
                await ad.close()

    status, requests = run(go(), 120)
    hedge = eng.accounts["sim-hedge"]
    assert not {s: leg.amount for s, leg in hedge.legs.items() if abs(leg.amount) > 0}, "a leg was left open"
    assert not [o for o in hedge.live.values() if o.is_open] and store.pending_intents() == []
    # every close named its leg: a sell on a LONG leg or a buy on a SHORT one, never growing either
    assert placed and all((side == "SELL") == (leg == "LONG") for _, side, leg in placed)
    assert {leg for _, _, leg in placed} == {"LONG", "SHORT"}
    assert "POST /api/v2/mix/order/place-order" in requests
    # no countdown on Bitget: the runner's status holds none for the account
    assert status.dms["native"] == {}
    store.close()
