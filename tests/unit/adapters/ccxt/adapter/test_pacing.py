"""Retries, timeouts and pacing: reads retried on network errors only, orders never; the order
budget, the request pacer, and cancels that never wait behind creates."""

from __future__ import annotations

import asyncio
import time

import ccxt
import pytest

from adapters.base import AdapterError, CancelSelector, Reason
from adapters.ccxt_exchange import CcxtAdapter, OrderBudget, reason_for
from killswitch.policy.accounts_doc import Account

from ..fake import (
    BTC,
    FakeExchange,
    ccxt_order,
    ccxt_position,
    intent,
    make,
    run,
)

# --- retries and timeouts ---------------------------------------------------------------------------


def test_reads_are_retried_on_network_errors_only():
    a, fake = make(max_retries=3)
    fake.script["fetch_balance"] = [ccxt.ExchangeNotAvailable("502"), ccxt.RequestTimeout("t"), fake.balance]
    snap = run(a.snapshot())
    assert snap.fetch.ok
    assert fake.names().count("fetch_balance") == 3
    assert snap.fetch.failed_calls == 2 and snap.fetch.calls == 2 + 2 + 3  # markets, 2 lists, positions, 3 balances


def test_retries_are_bounded():
    a, fake = make(max_retries=2)
    fake.script["fetch_balance"] = [ccxt.NetworkError("down")]
    snap = run(a.snapshot())
    assert not snap.fetch.ok and snap.fetch.error_code == "EXCHANGE_UNAVAILABLE"
    assert fake.names().count("fetch_balance") == 3


@pytest.mark.parametrize("exc", [ccxt.AuthenticationError("k"), ccxt.BadResponse("b"), ccxt.ExchangeError("e")])
def test_non_network_errors_are_not_retried(exc):
    a, fake = make(max_retries=3)
    fake.script["fetch_balance"] = [exc]
    snap = run(a.snapshot())
    assert snap.fetch.error_code == reason_for(exc).value
    assert fake.names().count("fetch_balance") == 1


@pytest.mark.parametrize("exc,reason", [
    (ccxt.RequestTimeout("t"), Reason.TIMEOUT),
    (ccxt.ExchangeNotAvailable("reset"), Reason.EXCHANGE_UNAVAILABLE),
    (ccxt.RateLimitExceeded("429"), Reason.RATE_LIMITED),
    (ccxt.InvalidOrder('{"code":-2022,"msg":"ReduceOnly Order is rejected."}'), Reason.REDUCE_ONLY_REJECTED),
    (ccxt.InsufficientFunds("margin"), Reason.INSUFFICIENT_MARGIN),
])
def test_orders_are_never_retried(exc, reason):
    a, fake = make(max_retries=5)
    fake.positions = [ccxt_position()]
    fake.script["create_order"] = [exc]
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent()))
    assert ei.value.reason is reason
    assert fake.names().count("create_order") == 1


def test_order_timeout_forgets_the_position_so_the_next_close_refetches():
    a, fake = make()
    fake.positions = [ccxt_position()]
    run(a.snapshot())
    fake.script["create_order"] = [ccxt.RequestTimeout("t")]
    with pytest.raises(AdapterError):
        run(a.submit(intent()))
    fake.calls.clear()
    fake.script.pop("create_order")
    run(a.submit(intent()))
    assert fake.names() == ["fetch_positions", "create_order"]


def test_hanging_create_order_is_a_timeout():
    a, fake = make(timeout=0.2)
    fake.positions = [ccxt_position()]
    fake.script["create_order"] = [lambda *a: asyncio.sleep(10)]
    t0 = time.monotonic()
    with pytest.raises(AdapterError) as ei:
        run(a.submit(intent()))
    assert ei.value.reason is Reason.TIMEOUT and time.monotonic() - t0 < 2
    assert ei.value.__context__ is None


def test_hanging_snapshot_is_a_failed_snapshot_not_a_hang():
    a, fake = make(timeout=0.2)
    fake.script["fetch_positions"] = [lambda *a: asyncio.sleep(10)]
    snap = run(a.snapshot())
    assert not snap.fetch.ok and snap.fetch.error_code == "TIMEOUT" and snap.equity is None


def test_rate_limit_retry_honours_retry_after():
    a, fake = make(max_retries=2)
    fake.last_response_headers = {"Retry-After": "0.2"}
    fake.script["fetch_open_orders"] = [ccxt.RateLimitExceeded("429"), []]
    t0 = time.monotonic()
    snap = run(a.snapshot())
    assert snap.fetch.ok and time.monotonic() - t0 >= 0.2
    assert fake.listings() == 2


def test_retry_after_beyond_the_deadline_gives_up_with_the_hint():
    a, fake = make(timeout=0.5)
    fake.last_response_headers = {"retry-after": "30"}
    fake.script["cancel_order"] = [ccxt.DDoSProtection("418")]
    fake.orders = [ccxt_order("1")]
    res = run(a.cancel_orders(CancelSelector(order_ids=("1",))))
    assert res.failed == {"1": "RATE_LIMITED"} and fake.names().count("cancel_order") == 1


def test_cancels_are_retried_on_network_errors():
    a, fake = make()
    fake.orders = [ccxt_order("1")]
    fake.script["cancel_order"] = [ccxt.NetworkError("reset"), {"id": "1"}]
    res = run(a.cancel_orders(CancelSelector(order_ids=("1",))))
    assert res.canceled == ("1",) and fake.names().count("cancel_order") == 2


def test_order_budget_spaces_orders():
    async def go():
        b = OrderBudget(20.0, burst=1)
        t0 = time.monotonic()
        for _ in range(4):
            await b.acquire()
        return time.monotonic() - t0
    assert run(go()) >= 0.14


def test_a_cancel_costing_no_weight_goes_at_once_while_a_read_waits_out_the_debt():
    """An order endpoint costs no weight (the order budget paces it): it must not queue behind a
    read sleeping off the weight's debt (a venue watch's cancel under a halt waited seconds behind
    a list of every open order, Binance's 40 of weight)."""
    from adapters.ccxt_exchange.budget import RequestPacer

    pacer = RequestPacer(20.0, capacity=60.0)

    async def go():
        await pacer(100)  # the bucket owes 40: the next read waits 2 s
        read = asyncio.ensure_future(pacer(40))
        await asyncio.sleep(0.05)
        assert not read.done()
        await asyncio.wait_for(pacer(0), 0.5)  # the cancel is not behind it
        read.cancel()

    run(go())


def test_request_pacer_credits_idle_time_and_lets_a_request_in_debt_wait(monkeypatch):
    """ccxt's own limiter refills only while a request waits in it, so a snapshot after an idle
    second waits its whole cost; the pacer counts the idle second."""
    from adapters.ccxt_exchange.budget import RequestPacer

    now = [0.0]
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay):
        slept.append(delay)
        now[0] += delay
        await real_sleep(0)

    monkeypatch.setattr("adapters.ccxt_exchange.budget.asyncio.sleep", fake_sleep)
    pacer = RequestPacer(20.0, capacity=60.0, clock=lambda: now[0])

    async def go():
        for cost in (50, 5, 5):  # a snapshot of Binance weights spends the burst ...
            await pacer(cost)
        assert slept == [] and pacer.tokens == 0
        await pacer(40)  # ... a bucket at 0 is not in debt: the request goes, the bucket owes 40
        assert slept == [] and pacer.tokens == -40
        await pacer(1)  # waits for the 40 owed, at 20 a second
        assert slept == [pytest.approx(2.0)]
        now[0] += 1.0  # an idle second refills 20
        await pacer(10)
        assert len(slept) == 1 and pacer.tokens == pytest.approx(9.0)

    run(go())


def test_a_pacer_under_the_venues_ceiling_never_overdraws_it_an_urgent_read_neither(monkeypatch):
    """Where the venue refuses a call past its counter (Kraken spot), the capacity is a ceiling:
    a request waits for its whole cost, an urgent read goes ahead only within it, and one that
    costs more than the ceiling goes from a full bucket; without a ceiling one request may
    overdraw the bucket (ccxt's rule), as above."""
    from adapters.ccxt_exchange.budget import RequestPacer, urgent_reads

    now = [0.0]
    real_sleep = asyncio.sleep

    async def fake_sleep(delay):
        now[0] += delay
        await real_sleep(0)

    monkeypatch.setattr("adapters.ccxt_exchange.budget.asyncio.sleep", fake_sleep)
    pacer = RequestPacer(1.0, capacity=40.0, clock=lambda: now[0], ceiling=True)
    lows: list[float] = []

    async def read(cost, urgent=False):
        if urgent:
            with urgent_reads():
                await pacer(cost)
        else:
            await pacer(cost)
        lows.append(pacer.tokens)

    async def go():
        await asyncio.gather(*(read(c) for c in (2, 4, 2) * 10))
        assert min(lows) >= 0 and now[0] > 0
        await read(2, urgent=True)  # nothing left: it waits for its cost, not into a debt
        assert min(lows) >= 0
        now[0] += 100.0
        waited = now[0]
        await read(60)  # more than the ceiling: it goes from a full bucket, at once
        assert now[0] == waited and lows[-1] == pytest.approx(-20.0)

    run(go())


def test_an_endpoints_window_counts_each_request_until_a_window_after_its_answer(monkeypatch):
    """A venue's limit of one endpoint (OKX's positions, 10 per 2 s): a request waits until fewer
    than the limit went over the window, one in flight counting all along and each answered one
    until a window after its answer (the venue counted it somewhere between); another endpoint
    goes at once."""
    from adapters.ccxt_exchange.budget import EndpointWindows

    now = [0.0]
    real_sleep = asyncio.sleep

    async def fake_sleep(delay):
        now[0] += delay
        await real_sleep(0)

    monkeypatch.setattr("adapters.ccxt_exchange.budget.asyncio.sleep", fake_sleep)
    key, other = ("private", "GET", "account/positions"), ("private", "GET", "account/balance")
    windows = EndpointWindows({key: (2, 1.0)}, clock=lambda: now[0])
    sent: dict[str, float] = {}
    answered = asyncio.Event

    async def request(name, answer=None, k=key):
        async with windows.request(k):
            sent[name] = now[0]
            if answer is not None:
                await answer.wait()

    async def go():
        held = answered()
        first = [asyncio.create_task(request(n, held)) for n in ("a", "b")]
        third = asyncio.create_task(request("c"))
        for _ in range(20):  # both in flight: the third waits however long they take
            await real_sleep(0)
        assert "c" not in sent and now[0] > 1.0
        await request("x", k=other)
        assert sent["x"] == now[0]
        out = now[0]
        held.set()
        await asyncio.gather(*first, third)
        assert sent["c"] >= out + 1.0 and sent["a"] == sent["b"] == 0.0
        # the one that waited is said, by endpoint, with how long: the others went at once
        assert list(windows.waited) == ["GET account/positions"]
        waits, seconds = windows.waited["GET account/positions"]
        assert waits == 1 and seconds == pytest.approx(sent["c"])

    run(go())


def test_ccxt_clients_are_paced_by_the_request_pacer_at_ccxts_rate():
    from adapters.ccxt_exchange.budget import RequestPacer

    acc = Account.model_validate({"name": "m", "venue": "binanceusdm", "market_type": "futures"})
    paced = CcxtAdapter(acc, urls="http://127.0.0.1:9")
    unpaced = CcxtAdapter(acc, urls="http://127.0.0.1:9", ccxt_rate_limit=False)
    assert isinstance(paced._ex.throttle, RequestPacer) and paced._ex.throttle.rate == 1000 / paced._ex.rateLimit
    assert not isinstance(unpaced._ex.throttle, RequestPacer)
    run(paced.close())
    run(unpaced.close())


def test_adapter_spends_its_order_budget_on_orders():
    a, fake = make(orders_per_second=10)
    a.budget = OrderBudget(10.0, burst=1)
    fake.orders = [ccxt_order(str(i)) for i in range(4)]
    fake.has["cancelAllOrders"] = False
    t0 = time.monotonic()
    res = run(a.cancel_orders(CancelSelector()))
    assert len(res.canceled) == 4 and time.monotonic() - t0 >= 0.28


def test_a_cancel_never_waits_behind_creates_where_the_venue_limits_cancels_apart():
    """MEXC and Bitget limit their cancel endpoints apart from order placement: a cancel spends a
    budget of its own (the dialect's ``limits.cancels``), so that a venue watch cancelling a rogue's
    entries is not paced behind the reverts the same lock sends (the rogue bench's entry→cancel
    p99 grew past half a second as the shared budget fell behind)."""
    from adapters.venues.mexc.dialect import CANCEL_METHOD
    from killswitch.snapshot import Order

    fake = FakeExchange("mexc", implicit=(CANCEL_METHOD,))
    fake.script[CANCEL_METHOD] = [lambda ids: {"success": True, "code": 0,
                                               "data": [{"orderId": int(i), "errorCode": 0} for i in ids]}]
    a, _ = make(fake, orders_per_second=None)  # the dialect's own rates
    assert a.dialect.limits.cancels is not None
    spent = OrderBudget(a.dialect.limits.orders, burst=1, clock=lambda: 0.0)  # creates spent it; it never refills
    run(spent.acquire())
    a.budget = spent
    a._orders = {"7": Order(id="7", symbol=BTC, side="buy", type="limit", amount=1.0, price=40000.0)}
    res = run(asyncio.wait_for(a.cancel_orders(CancelSelector(order_ids=("7",))), 5.0))
    assert res.canceled == ("7",) and fake.names().count(CANCEL_METHOD) == 1


def test_a_hyperliquid_cancel_never_waits_behind_its_orders():
    """Hyperliquid gives cancels a limit of their own (an address's cancels: min(limit + 100000,
    limit * 2), so that a limited address can still cancel): a cancel spends its own budget, and
    a rogue's entries are not cancelled behind the lock's reverts (p99 592 ms in the rogue bench
    on the shared 5 a second; 186 ms on its own)."""
    from killswitch.snapshot import Order

    fake = FakeExchange("hyperliquid")
    a, _ = make(fake, orders_per_second=None)  # the dialect's own rates
    assert a.dialect.limits.cancels is not None and a.dialect.limits.cancels > a.dialect.limits.orders
    spent = OrderBudget(a.dialect.limits.orders, burst=1, clock=lambda: 0.0)  # orders spent it; it never refills
    run(spent.acquire())
    a.budget = spent
    a._orders = {"7": Order(id="7", symbol=BTC, side="buy", type="limit", amount=1.0, price=40000.0)}
    res = run(asyncio.wait_for(a.cancel_orders(CancelSelector(order_ids=("7",))), 5.0))
    assert res.canceled == ("7",) and fake.names().count("cancel_order") == 1
