"""Kraken spot's reads and sends paced: one ticker answer, cancels apart, nonces, the key's counter by tier.
(Answers as the rig says: ccxt's recordings and Kraken's documented ones.)"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import ccxt.async_support as ccxt_async
import pytest

from adapters.base import CancelSelector
from adapters.ccxt_exchange.dialects import dialect_for
from tests.unit.adapters.ccxt.fake import run
from tests.unit.adapters.venues.kraken_spot.rig import (
    KrakenVenue,
    kraken_account,
    kraken_adapter,
    open_two,
    using,
)


def test_a_wide_book_reads_every_pairs_ticker_in_one_answer():
    """A Ticker read names each held pair in its URL: past 200 pairs the dialect asks every
    pair's ticker in one answer (no ``pair``), so that a book of about 750 pairs or more is not
    refused for its URL (the simulator refused 8,190 bytes and more, and the account was never
    read); a narrow book keeps ccxt's tickers of its own pairs."""
    from adapters.ccxt_exchange.dialects.base import Reads
    from adapters.venues.kraken.dialect import TICKER_PAIRS_IN_URL

    asked: list = []
    wide = [f"A{i}/USD" for i in range(TICKER_PAIRS_IN_URL + 1)]

    async def call(method, *args):
        asked.append((method, args))
        return {**{s: {"last": 2.0 + i} for i, s in enumerate(wide[:-1])}, "OTHER/USD": {"last": 9.0},
                wide[-1]: {"last": None, "bid": None}}

    reads = Reads(call=call, has_method=lambda name: True, symbol_of=lambda m: m, market_type="spot")
    kraken = dialect_for("kraken")
    assert run(kraken.spot_prices(reads, wide[:TICKER_PAIRS_IN_URL])) is None and asked == []
    got = run(kraken.spot_prices(reads, wide))
    assert asked == [("fetch_tickers", ())]  # every pair's, in one answer
    assert got == {s: 2.0 + i for i, s in enumerate(wide[:-1])}  # ours only; one without a price left out


def test_a_cancel_never_waits_behind_the_accounts_orders():
    """Kraken's spot engine counts cancels per pair, not per account: a cancel spends a budget of
    its own (8 a second beside 2 orders), so that a rogue's entries across pairs are not
    cancelled 2 a second behind the lock's reverts (the spot rogue bench: 37 of 80 cancelled at
    1,000 held pairs; 80 of 80 on their own budget)."""
    from adapters.ccxt_exchange.budget import OrderBudget

    venue = KrakenVenue(private_OpenOrders=open_two())  # CancelOrder: the documented cancel

    async def work(a):
        await a.snapshot()
        spent = OrderBudget(a.dialect.limits.orders, burst=1, clock=lambda: 0.0)  # orders spent it; never refills
        await spent.acquire()
        a.budget = spent
        return await asyncio.wait_for(a.cancel_orders(CancelSelector(order_ids=("OXCZ7B-EMVZQ-MTJTQJ",))), 5.0)

    r = using(venue, work)  # (the dialect's own rates)
    assert r.canceled == ("OXCZ7B-EMVZQ-MTJTQJ",)


def test_the_accounts_clients_sign_with_strictly_increasing_nonces():
    """Kraken refuses a nonce not above the last its key signed with (EAPI:Invalid nonce). ccxt's is
    the millisecond: an account's REST client and its stream's client (the websocket token), or two
    requests of one, signing in the same millisecond sent one nonce twice and the stream went down
    at its start. Every client of one key now draws from one increasing clock; another key's apart."""
    import uuid

    one, other = f"k-{uuid.uuid4().hex}", f"k-{uuid.uuid4().hex}"  # (the clock is the process's)
    clients = [ccxt_async.kraken({"apiKey": key, "secret": "c2VjcmV0"}) for key in (one, one, other)]
    for c in clients:
        c.milliseconds = lambda: 1_700_000_000_000  # one millisecond for all
        dialect_for("kraken").prepare_client(c)
    drawn = [clients[i % 2].nonce() for i in range(6)]
    assert drawn == sorted(set(drawn)) and len(drawn) == 6  # strictly increasing across both
    assert clients[2].nonce() == 1_700_000_000_000  # another key: its own clock
    for c in clients:
        run(c.close())


# Kraken's documented call counter of each verification tier (its maximum, its decay a second), and
# the tier an account naming none is paced at: the lowest
COUNTERS = {"Starter": (15.0, 0.33), "Intermediate": (20.0, 0.5), "Pro": (20.0, 1.0)}
TIERS = [pytest.param(None, COUNTERS["Starter"], id="none_named_starter"),
         *(pytest.param(t, c, id=t) for t, c in COUNTERS.items())]


@pytest.mark.parametrize(("tier", "counter"), TIERS)
def test_the_client_paces_each_private_read_by_what_it_costs_the_keys_counter(tier, counter):
    """ccxt's pacing of the account's client at its tier's decay (an Intermediate key's 0.5 a
    second: 2 s a call of the counter's 1, 4 s a trade history or ledger read, the counter's 2;
    ccxt's own table charged 6, and the stream's token 3), a Starter key's where the account
    names no tier; nothing for an order endpoint; the key's meter counts the counter's own units."""
    decay = counter[1]
    a = kraken_adapter(KrakenVenue(), kraken_account(**({} if tier is None else {"rate_tier": tier})))
    try:
        ex = a._ex
        paced = {p: ex.calculate_rate_limiter_cost("private", "POST", p, {}) for p in (
            "BalanceEx", "OpenOrders", "ClosedOrders", "GetWebSocketsToken", "TradesHistory", "QueryTrades",
            "Ledgers", "AddOrder", "CancelOrder")}
        counted = {p: a.dialect.request_weight("private", "POST", p, {}, paced[p]) for p in paced}
        budget = a.weight_limit
    finally:
        run(a.close())
    # the snapshot's two reads share what the counter decays a minute (the meter's budget of the key)
    assert budget is not None and {e: (pytest.approx(n), w) for e, (n, w) in budget.endpoint_limits.items()} == {
        "POST /0/private/BalanceEx": (decay * 30, 60.0), "POST /0/private/OpenOrders": (decay * 30, 60.0)}
    assert paced == pytest.approx({"BalanceEx": 1 / decay, "OpenOrders": 1 / decay, "ClosedOrders": 1 / decay,
                                   "GetWebSocketsToken": 1 / decay, "TradesHistory": 2 / decay,
                                   "QueryTrades": 2 / decay, "Ledgers": 2 / decay, "AddOrder": 0.0,
                                   "CancelOrder": 0.0})
    assert {p: paced[p] * decay for p in paced} == pytest.approx(counted)  # the counter's units at its decay


@pytest.mark.parametrize(("tier", "counter"), TIERS)
def test_a_burst_of_reads_never_takes_the_keys_counter_past_its_maximum(monkeypatch, tier, counter):
    """Kraken's call counter holds its tier's maximum and decays at its tier's rate (a Starter key's
    15 at 0.33 a second, the tier of an account that names none; a Pro key's 20 at 1); past it the
    key is refused (EAPI:Rate limit exceeded) and locked out a while. The pacer's burst of 200 let
    60 reads (80 calls) go at once: its ceiling is now the tier's counter, in ccxt's cost, never
    overdrawn, and the reads past it wait for the tier's decay. The counter is kept as Kraken
    documents it, on the pacer's clock."""
    from adapters.ccxt_exchange import budget

    counter_max, decay = counter
    now = [0.0]
    real_sleep = asyncio.sleep

    async def fake_sleep(delay):
        now[0] += delay
        await real_sleep(0)

    monkeypatch.setattr(budget.asyncio, "sleep", fake_sleep)
    venue = KrakenVenue(private_TradesHistory={"error": [], "result": {"trades": {}, "count": 0}})
    level = {"level": 0.0, "at": 0.0, "peak": 0.0}
    answer = venue.fetch

    async def counted(url, *args, **kw):
        path = urlsplit(url).path
        calls = 2 if path.endswith("/TradesHistory") else 1 if "/private/" in path else 0
        now_level = max(0.0, level["level"] - (now[0] - level["at"]) * decay) + calls
        level.update(level=now_level, at=now[0], peak=max(level["peak"], now_level))
        return await answer(url, *args, **kw)

    venue.fetch = counted  # type: ignore[method-assign]

    async def work(a):
        pacer = a._ex.throttle
        assert isinstance(pacer, budget.RequestPacer) and pacer.capacity == pytest.approx(counter_max / decay)
        pacer._clock, pacer._last = (lambda: now[0]), now[0]
        reads = [a._ex.privatePostBalanceEx, a._ex.privatePostOpenOrders, a._ex.privatePostTradesHistory] * 20
        await asyncio.gather(*(read() for read in reads))

    using(venue, work, kraken_account(**({} if tier is None else {"rate_tier": tier})))
    assert len(venue.requests) == 60
    assert level["peak"] <= counter_max + 1e-9  # 80 calls, never more than the tier's maximum on the counter
    assert now[0] >= (80 - counter_max - 2) / decay  # the reads past the maximum waited for the tier's decay
