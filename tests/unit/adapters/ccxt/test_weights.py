"""The REST weight budget: the arithmetic of killswitch.weights, each dialect's declared snapshot
cost held equal to the requests a real ccxt client sends against the simulated exchange in one
snapshot (so the declaration cannot drift from the adapter's reads), the per-venue count of the
weight a runner's requests cost, and how status and /metrics report it."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from adapters.base import ExchangeAdapter
from adapters.ccxt_exchange import CcxtAdapter
from adapters.ccxt_exchange.budget import EndpointWindows, WeightMeter
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.venues import VENUES, sim_account, spot_venues
from killswitch.face.readout.weights import VenueWeights
from killswitch.metrics import Registry
from killswitch.render.status import weight_lines
from killswitch.runner.venue.port import Venues
from killswitch.view import RunnerStatus
from killswitch.weights import (
    PER_IP,
    Read,
    SnapshotCost,
    WeightLimit,
    accounts_within,
    polling_per_minute,
    streaming_per_minute,
    venue_load,
)
from tests.integration.sim_helpers import engine, run

BINANCE = dialect_for("binanceusdm").snapshot_cost("futures")


# --- the arithmetic ----------------------------------------------------------------------------------


@pytest.mark.parametrize("interval_s, per_minute", [
    (5.0, 10 * 12 + 80 * 6),  # the open orders (80) listed when 9 s old: every second snapshot
    (1.0, 10 * 60 + 80 * 60 / 9),  # every ninth at most (a list a shade younger waits a tenth)
    (10.0, 90 * 6),  # every snapshot
    (9.0, 90 * 60 / 9),
])
def test_binance_polling_lists_the_open_orders_at_their_age(interval_s, per_minute):
    assert polling_per_minute(BINANCE, interval_s) == pytest.approx(per_minute)


def test_a_position_mode_read_counts_at_its_own_rate_not_each_snapshot():
    # OKX's account configuration (one request) every 5 minutes: a fifth of a request a minute;
    # Binance's mode (30) is read at start and after a refusal for it (not a rate), its positions'
    # own legs say it at every snapshot for nothing
    okx = dialect_for("okx").snapshot_cost("futures")
    assert okx.periodic_per_minute == pytest.approx(1 / 5)
    assert polling_per_minute(okx, 5.0) == pytest.approx(okx.every * 12 + okx.orders * 12 + 1 / 5)
    assert BINANCE.periodic_per_minute == 0


def test_a_stream_costs_its_reconcile_and_its_keepalives():
    # a full REST snapshot every 30 s (90 each), a 1-weight keepalive every 20 minutes
    assert streaming_per_minute(BINANCE, 30.0) == pytest.approx(90 * 2 + 1 / 20)


@pytest.mark.parametrize("limit, each, fits", [(2400, 600, 4), (2400, 601, 3), (2400, 180.05, 13), (1200, 0, 10**9)])
def test_accounts_within_a_limit(limit, each, fits):
    assert accounts_within(limit, each) == fits


def test_sixty_binance_accounts_at_5s_are_fifteen_times_the_limit_and_streams_cut_it_to_a_third():
    load = venue_load("binanceusdm", dialect_for("binanceusdm").weight_limit, 5.0,
                      [(f"a{i}", BINANCE, None) for i in range(60)])
    assert load.per_minute == pytest.approx(36_000)
    assert load.share == pytest.approx(15.0)
    assert (load.fits_polling(), load.fits_streaming()) == (4, 13)
    assert load.streamed_per_minute == pytest.approx(60 * 180.05)
    text = load.arithmetic()
    assert "60 account(s) × 600/min (10 request weight a snapshot × 12 snapshots/min + 80 for the open orders" \
        in text, text
    assert "= 36,000 request weight/min > 2,400 limit (per IP" in text, text
    assert "at most 4 account(s) polled at 5s; streaming with reconcile every 30s: 10,803/min, at most 13" in text


def test_a_bybit_stream_costs_its_reconcile_alone():
    # no listen key to keep alive: a snapshot's five requests (wallet, positions and orders of USDT and USDC)
    # every 30 s, against 5 × 12 polled at 5 s
    cost = dialect_for("bybit").snapshot_cost("futures")
    assert cost.streams and streaming_per_minute(cost, 30.0) == pytest.approx(5 * 2)
    assert (cost.stream_open, cost.stream_keepalive) == (2.0, 0.0)  # ccxt's isUnifiedEnabled at each connect
    load = venue_load("bybit", dialect_for("bybit").weight_limit, 5.0, [("b", cost, 30.0)])
    assert load.accounts[0].streaming and load.per_minute == pytest.approx(5 * 2)


def test_a_venue_without_streams_polls_an_account_that_asks_for_one():
    import dataclasses

    # (every dialect with a weight budget streams now: Bitget's, its stream taken away)
    cost = dataclasses.replace(dialect_for("bitget"), streams=False).snapshot_cost("futures")
    load = venue_load("bitget", dialect_for("bitget").weight_limit, 5.0, [("h", cost, 30.0)])
    assert not load.accounts[0].streaming
    assert load.per_minute == pytest.approx(polling_per_minute(cost, 5.0))
    assert "no private streams here" in load.arithmetic()


def test_a_per_uid_endpoint_called_faster_than_allowed_is_found():
    cost = SnapshotCost((Read("GET /x", 1, calls=2),))
    limit = WeightLimit(None, 2.0, "requests", "uid", "-", endpoint_limits={"GET /x": (2, 2.0)})
    # two calls a second against two per 2 s; at 5 s the snapshot's two calls fill the window
    assert venue_load("v", limit, 1.0, [("a", cost, None)]).uid_overloads() == [("a", "GET /x", 2.0)]
    assert venue_load("v", limit, 5.0, [("a", cost, None)]).uid_overloads() == []


def test_bybit_lists_once_a_settle_coin():
    bybit = dialect_for("bybit")
    assert bybit.snapshot_cost("futures").every == 1 + 2 + 2  # USDT and USDC by default
    assert bybit.snapshot_cost("futures", ("USDT", "USDC", "BTC")).every == 1 + 3 + 3


# --- the declaration against the requests a real ccxt client sends ------------------------------------


def _one_snapshot(venue: str):
    """(requests of one snapshot listing every open order, by "METHOD /path"; the weight the
    adapter's meter counted; the meter) against the simulated exchange: the second snapshot, the
    first having loaded what a client asks once (markets; Bybit's account kind)."""
    eng, _ = engine()

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock)
        await srv.start()
        acc = sim_account(srv, "sim-main", venue)
        ad = CcxtAdapter(acc, urls=acc.api_url, timeout=5.0, open_orders_max_age_s=0.0)
        try:
            assert (await ad.snapshot()).fetch.ok
            before, counted = len(srv.requests), ad.weight_meter.used()
            snap = await ad.snapshot()
            assert snap.fetch.ok, snap.fetch.error
            sent = Counter(f"{m} {p}" for m, p, _ in srv.requests[before:])
            return sent, ad.weight_meter.used() - counted, ad.weight_meter
        finally:
            await ad.close()
            await srv.stop()

    return run(go())


# every venue the simulator answers as for a futures account (a spot face's snapshot, its own
# declared reads: tests/integration/simulator/test_kraken.py)
@pytest.mark.parametrize("venue", [v for v in VENUES if v not in spot_venues()])
def test_the_declared_snapshot_is_what_ccxt_sends(venue):
    dialect = dialect_for(venue)
    cost = dialect.snapshot_cost("futures")
    declared: Counter = Counter()
    for r in cost.reads:  # "POST /info clearinghouseState": the path is /info, the type in the body
        if not r.every_s:  # (the position mode is read at the first snapshot and every few minutes)
            declared[" ".join(r.endpoint.split()[:2])] += r.calls
    sent, counted, _ = _one_snapshot(venue)
    assert sent == declared
    # what the meter counted is the declared cost in the venue's unit (requests where it counts them)
    assert counted == pytest.approx(sum(declared.values()) if dialect.weight_limit.counts_requests else cost.full)


def test_the_venue_count_of_binance_is_read_from_its_header():
    _, _, meter = _one_snapshot("binanceusdm")
    count = meter.venue_count()
    assert count is not None and count[1] > 0  # the simulator's X-MBX-USED-WEIGHT-1M


# --- the meter, the status and the metrics --------------------------------------------------------------


class _Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_the_meter_forgets_what_is_older_than_a_minute():
    clock = _Clock()
    m = WeightMeter(clock=clock)
    m.add(5)
    clock.t += 30
    m.add(40)
    assert m.used() == 45
    clock.t += 30
    assert m.used() == 40
    m.read_header({"x-mbx-used-weight-1m": "620"}, "X-MBX-USED-WEIGHT-1M")
    assert m.venue_count() == (0.0, 620.0)
    clock.t += 61
    assert m.venue_count() is None and m.used() == 0


class _Adapter(ExchangeAdapter):
    """What the runner reads of an adapter's weight (the ccxt adapter's)."""

    def __init__(self, meter, limit):
        self.meter, self.limit = meter, limit

    def weight(self):
        return self.meter, self.limit


class _NotWeighed(ExchangeAdapter):
    """The protocol's answer: not weighed (the simulated one)."""


def _weights(header: bool):
    clock = _Clock()
    limit = dialect_for("binanceusdm").weight_limit
    a, b = WeightMeter(clock=clock), WeightMeter(clock=clock)
    a.add(90)
    b.add(10)
    if header:
        b.read_header({"X-MBX-USED-WEIGHT-1M": "700"}, limit.used_header)
    adapters = {"binanceusdm/a": _Adapter(a, limit), "binanceusdm/b": _Adapter(b, limit),
                "simulated/x": _NotWeighed()}
    return VenueWeights(Venues(adapters))


def test_status_sums_a_venues_accounts_and_prefers_the_venues_count():
    counted = _weights(header=False).status()
    assert counted == {"binanceusdm": {
        "used_per_minute": 100.0, "source": "counted", "counted_per_minute": 100.0, "venue_per_minute": None,
        "limit_per_minute": 2400.0, "unit": "REQUEST_WEIGHT", "per": PER_IP, "accounts": 2,
        "endpoint_waits": {}}}
    venue = _weights(header=True).status()["binanceusdm"]
    assert (venue["used_per_minute"], venue["source"], venue["counted_per_minute"]) == (700.0, "venue", 100.0)


def _waited(clock: "_Clock") -> VenueWeights:
    """Two accounts of a venue whose positions endpoint waited for its window (one twice)."""
    limit = dialect_for("okx").weight_limit
    meters = []
    for waits in ({"GET account/positions": (2, 1.5)}, {"GET account/positions": (1, 0.25)}):
        meter = WeightMeter(clock=clock)
        meter.windows = EndpointWindows({})
        meter.windows.waited.update(waits)
        meters.append(meter)
    return VenueWeights(Venues({"okx/a": _Adapter(meters[0], limit), "okx/b": _Adapter(meters[1], limit)}))


def test_requests_that_waited_for_an_endpoints_window_are_said_by_endpoint():
    weights = _waited(_Clock())
    assert weights.status()["okx"]["endpoint_waits"] == {"GET account/positions": {"waits": 3, "seconds": 1.75}}
    reg = Registry()
    weights.collect_metrics(reg)
    text = reg.render()
    assert 'killswitch_venue_endpoint_waits_total{endpoint="GET account/positions",venue="okx"} 3' in text, text
    assert 'killswitch_venue_endpoint_wait_seconds_total{endpoint="GET account/positions",venue="okx"} 1.75' \
        in text, text
    st = RunnerStatus("live", True, 1, "sha256:x", None, None, None, venue_weight=weights.status())
    assert weight_lines(st)[-1] == ("  REST window okx GET account/positions: 3 request(s) waited for the venue's "
                                    "limit of the endpoint, 1.8 s in all")


def test_metrics_report_used_and_limit_per_venue():
    reg = Registry()
    _weights(header=True).collect_metrics(reg)
    text = reg.render()
    assert 'killswitch_venue_weight_used_per_minute{venue="binanceusdm"} 700.0' in text, text
    assert 'killswitch_venue_weight_limit_per_minute{venue="binanceusdm"} 2400.0' in text, text


def test_ksctl_status_says_the_weight_against_the_limit():
    st = RunnerStatus("live", True, 1, "sha256:x", None, None, None,
                      venue_weight=_weights(header=True).status())
    assert weight_lines(st) == [
        "  REST weight binanceusdm: 700 of 2,400 REQUEST_WEIGHT a minute per IP (29%, the venue's count), "
        "2 account(s)"]


def test_an_event_loop_is_not_left_behind():
    # the snapshots above run on their own loops (sim_helpers.run); nothing is pending here
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
