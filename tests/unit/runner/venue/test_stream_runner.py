"""The runner's side of private streams: a wake starts a tick before the interval but never
sooner than the minimum spacing (runner/tick/wakes.py, the daemon's wait); each account's stream
health read at every tick, said once per change (STREAM_STALE / STREAM_DOWN when it leaves live,
STREAM_LIVE when it is back), in the status and on /metrics (runner/venue/streams.py); how ``ksctl
status`` and the console show it. The adapters are hand-written fakes of the optional methods
(``stream_health``, ``set_wake``, ``start_streams``), the protocol's defaults for the rest."""

from __future__ import annotations

import asyncio
import logging

import pytest

from adapters.base import ExchangeAdapter, StreamHealth
from killswitch.metrics import parse_families, render_collected
from killswitch.render.status import stream_text
from killswitch.runner.tick.wakes import Wakes, next_start
from killswitch.runner.venue.port import Venues
from killswitch.runner.venue.streams import StreamWatch

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
LIVE = StreamHealth("live", None, T0, T0, reconnects=0)


class StreamingAdapter(ExchangeAdapter):
    """An adapter with the optional stream methods, its health set by the test."""

    def __init__(self, health: StreamHealth, fail_start: int = 0):
        self.health = health
        self.wake = None
        self.starts = 0
        self.fail_start = fail_start  # how many start_streams() calls raise first

    def stream_health(self) -> StreamHealth:
        return self.health

    def set_wake(self, cb) -> None:
        self.wake = cb

    async def start_streams(self) -> None:
        self.starts += 1
        if self.starts <= self.fail_start:
            raise ConnectionError("refused")


class PollingAdapter(ExchangeAdapter):
    """An adapter without streams (the in-process simulator): the protocol's "not supported"."""


# --- the debounce rule ------------------------------------------------------------------------------


@pytest.mark.parametrize("interval_end, woken, last_start, spacing, expected", [
    pytest.param(10.0, False, 0.0, 0.1, 10.0, id="not_woken_waits_the_interval"),
    pytest.param(10.0, True, 0.0, 0.1, 0.1, id="woken_starts_after_the_spacing"),
    pytest.param(10.0, True, 9.95, 0.1, 10.0, id="woken_near_the_interval_waits_no_longer_than_it"),
    pytest.param(10.0, True, None, 0.1, float("-inf"), id="woken_before_any_tick_starts_at_once"),
    pytest.param(10.0, True, 3.0, 0.0, 3.0, id="no_spacing_starts_at_once"),
])
def test_next_start(interval_end, woken, last_start, spacing, expected):
    assert next_start(interval_end, woken, last_start, spacing) == expected


def test_wakes_between_two_ticks_start_one_tick_and_are_all_counted():
    async def go():
        w = Wakes(0.1)
        adapters = [StreamingAdapter(LIVE), PollingAdapter(), StreamingAdapter(LIVE)]
        w.attach(Venues({f"v/{i}": a for i, a in enumerate(adapters)}).values())
        assert adapters[0].wake == adapters[2].wake == w.wake
        w.tick_started(100.0, "interval")
        for _ in range(5):
            adapters[0].wake("binanceusdm/main")
        adapters[2].wake("binanceusdm/hedge")
        assert w.due(105.0) == pytest.approx(100.1)
        w.tick_started(100.1, "wake")
        assert not w.woken and w.due(105.1) == 105.1  # the tick took them in
        return w

    w = asyncio.run(go())
    fams = parse_families(render_collected(w.collect_metrics))
    assert fams["killswitch_ticks_started_total"]["samples"] == [
        'killswitch_ticks_started_total{cause="interval"} 1.0', 'killswitch_ticks_started_total{cause="wake"} 1.0']
    assert fams["killswitch_stream_wakes_total"]["samples"] == [
        'killswitch_stream_wakes_total{account="hedge",venue="binanceusdm"} 1.0',
        'killswitch_stream_wakes_total{account="main",venue="binanceusdm"} 5.0']


# --- the daemon's wait ---------------------------------------------------------------------------------


class _Runner:
    """What ``BetweenTicks.wait`` (the daemon's wait between ticks) uses of a runner."""

    leader = True

    async def renew(self) -> bool:
        return True

    async def refresh_native(self) -> None:
        pass


def _daemon(spacing_s: float):
    from killswitch.process.daemon import Daemon
    from killswitch.process.options import RunOptions

    return Daemon(RunOptions(("p",), "a.yaml", "sqlite://x", "lock.json", lease_ttl_ms=3_000,
                             min_tick_spacing_s=spacing_s), print, print)


def _wait_with_wake(spacing_s: float, wake_after_s: float, interval_s: float) -> tuple[str, float]:
    async def go():
        daemon = _daemon(spacing_s)
        loop = asyncio.get_running_loop()
        started = loop.time()
        daemon.wakes.tick_started(started, "interval")  # the tick that just ran
        loop.call_later(wake_after_s, daemon.wakes.wake, "binanceusdm/main")
        cause = await daemon.between.wait(_Runner(), interval_s)
        return cause, loop.time() - started

    return asyncio.run(go())


def test_a_wake_starts_the_next_tick_before_the_interval_but_not_sooner_than_the_spacing():
    cause, after = _wait_with_wake(spacing_s=0.3, wake_after_s=0.02, interval_s=5.0)
    assert cause == "wake"
    assert 0.3 <= after < 1.0, after


def test_a_wake_after_the_spacing_starts_the_tick_at_once():
    cause, after = _wait_with_wake(spacing_s=0.05, wake_after_s=0.3, interval_s=5.0)
    assert cause == "wake"
    assert 0.3 <= after < 0.6, after


def test_without_a_wake_the_wait_is_the_interval():
    cause, after = _wait_with_wake(spacing_s=0.05, wake_after_s=10.0, interval_s=0.3)
    assert cause == "interval"
    assert 0.3 <= after < 0.6, after


# --- stream health ------------------------------------------------------------------------------------


def test_a_stream_leaving_live_is_said_once_and_its_return_once(caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner.streams")
    a = StreamingAdapter(StreamHealth("connecting", None, T0, None))
    watch = StreamWatch(Venues({"binanceusdm/main": a, "sim/paper": PollingAdapter()}), clock=lambda: T0)
    watch.announce()
    states = [
        StreamHealth("connecting", None, T0, None),
        StreamHealth("live", None, T0 + 1_000, T0 + 1_000),
        StreamHealth("live", None, T0 + 1_000, T0 + 4_000),
        StreamHealth("stale", "STREAM_STALE", T0 + 15_000, T0 + 4_000),
        StreamHealth("stale", "STREAM_STALE", T0 + 15_000, T0 + 4_000),
        StreamHealth("connecting", "STREAM_DOWN", T0 + 20_000, T0 + 4_000, reconnects=1),
        StreamHealth("live", None, T0 + 25_000, T0 + 25_000, reconnects=1, disagreements=1),
        StreamHealth("live", None, T0 + 25_000, T0 + 29_000, reconnects=1, disagreements=1),
    ]
    for i, h in enumerate(states):
        a.health = h
        watch.observe(T0 + 5_000 * i)
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert said == [
        ("INFO", "STREAM_OFF: sim/paper: polls over REST at the policy interval (STREAM_UNSUPPORTED)"),
        ("INFO", "STREAM_LIVE: binanceusdm/main: its stream is live; the snapshot is kept from it"),
        ("WARNING", "STREAM_STALE: binanceusdm/main: its stream is stale (last message 11.0s ago); falling back to "
                    "REST polling at the policy interval (said once; STREAM_LIVE when it is live again)"),
        ("INFO", "STREAM_LIVE: binanceusdm/main: its stream is live again after 15.0s; the snapshot is kept from it "
                 "(1 reconnect(s) so far)"),
    ]


def test_a_stream_that_never_came_live_is_warned_when_down_and_a_dialect_without_streams_once_at_start(caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner.streams")
    down = StreamingAdapter(StreamHealth("down", "LISTEN_KEY_EXPIRED", T0, None))
    off = StreamingAdapter(StreamHealth("off", "STREAM_UNSUPPORTED", T0, None))
    watch = StreamWatch(Venues({"binanceusdm/main": down, "okx/main": off}), clock=lambda: T0)
    watch.announce()
    for i in range(3):
        watch.observe(T0 + 5_000 * i)
    said = [(r.levelname, r.getMessage().split(";")[0]) for r in caplog.records]
    assert said == [
        ("INFO", "STREAM_OFF: okx/main: polls over REST at the policy interval (STREAM_UNSUPPORTED)"),
        ("WARNING", "LISTEN_KEY_EXPIRED: binanceusdm/main: its stream is down (last message never)"),
    ]
    assert watch.status()["okx/main"]["degraded"] is False
    assert watch.status()["binanceusdm/main"]["degraded"] is True


def test_streams_start_when_leading_once_each_and_a_failed_start_is_retried_and_said_once(caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner.streams")
    ok, flaky = StreamingAdapter(LIVE), StreamingAdapter(LIVE, fail_start=2)
    watch = StreamWatch(Venues({"binanceusdm/a": ok, "binanceusdm/b": flaky, "sim/c": PollingAdapter()}),
                        clock=lambda: T0)

    async def go():
        for _ in range(4):
            await watch.lead()

    asyncio.run(go())
    assert (ok.starts, flaky.starts) == (1, 3)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "STREAM_DOWN: binanceusdm/b: its streams could not start (ConnectionError)"]


def test_stream_status_and_metrics():
    a = StreamingAdapter(StreamHealth("live", None, T0, T0 + 7_500, reconnects=2, disagreements=1,
                                      dropped={"duplicate": 3, "malformed": 1}, reconciles=9, answers=True,
                                      reconciled_ms=T0 + 4_000, reconcile_every_ms=30_000))
    b = StreamingAdapter(StreamHealth("stale", "STREAM_STALE", T0, T0, reconcile_every_ms=30_000))
    off = StreamingAdapter(StreamHealth("off", "STREAM_DISABLED", None, None))
    late = StreamingAdapter(StreamHealth("live", None, T0, T0 + 9_000, reconciles=3, reconciled_ms=T0 - 95_000,
                                         reconcile_every_ms=30_000, reconcile_failures=7,
                                         reconcile_failure_reason="TIMEOUT", reconcile_overdue=True,
                                         unstreamed=("ETH/USDT:USDT",)))
    watch = StreamWatch(Venues({"binanceusdm/main": a, "binanceusdm/hedge": b, "bybit/x": off,
                                "binanceusdm/late": late}), clock=lambda: T0 + 10_000)
    watch.observe(T0 + 10_000)
    st = watch.status()
    assert st["binanceusdm/main"] == {
        "state": "live", "reason": None, "since_ms": T0, "last_message_ms": T0 + 7_500, "last_message_age_s": 2.5,
        "reconnects": 2, "disagreements": 1, "reconciles": 9, "answers": True,
        "dropped": {"duplicate": 3, "malformed": 1}, "last_reconcile_ms": T0 + 4_000, "last_reconcile_age_s": 6.0,
        "reconcile_every_s": 30.0, "reconcile_failures": 0, "reconcile_failure_reason": None,
        "reconcile_overdue": False, "unstreamed": [], "degraded": False}
    assert st["binanceusdm/hedge"]["degraded"] is True and st["binanceusdm/hedge"]["last_message_age_s"] == 10.0
    hedge = st["binanceusdm/hedge"]
    assert hedge["last_reconcile_ms"] is None and hedge["last_reconcile_age_s"] is None  # none before the first
    # live and delivering, but unconfirmed for 105 s (past 3× 30 s): degraded, REST read in front
    assert {k: st["binanceusdm/late"][k] for k in ("state", "answers", "last_reconcile_age_s", "reconcile_failures",
                                                   "reconcile_failure_reason", "reconcile_overdue", "degraded")} == {
        "state": "live", "answers": False, "last_reconcile_age_s": 105.0, "reconcile_failures": 7,
        "reconcile_failure_reason": "TIMEOUT", "reconcile_overdue": True, "degraded": True}
    fams = parse_families(render_collected(watch.collect_metrics))
    assert fams["killswitch_stream_connected"]["type"] == "gauge"
    assert fams["killswitch_stream_connected"]["samples"] == [
        'killswitch_stream_connected{account="hedge",venue="binanceusdm"} 0.0',
        'killswitch_stream_connected{account="late",venue="binanceusdm"} 1.0',
        'killswitch_stream_connected{account="main",venue="binanceusdm"} 1.0']
    assert fams["killswitch_stream_last_message_age_seconds"]["samples"] == [
        'killswitch_stream_last_message_age_seconds{account="hedge",venue="binanceusdm"} 10.0',
        'killswitch_stream_last_message_age_seconds{account="late",venue="binanceusdm"} 1.0',
        'killswitch_stream_last_message_age_seconds{account="main",venue="binanceusdm"} 2.5']
    assert fams["killswitch_stream_reconnects_total"]["type"] == "counter"
    assert 'killswitch_stream_reconnects_total{account="main",venue="binanceusdm"} 2.0' in \
        fams["killswitch_stream_reconnects_total"]["samples"]
    assert 'killswitch_stream_disagreements_total{account="main",venue="binanceusdm"} 1.0' in \
        fams["killswitch_stream_disagreements_total"]["samples"]
    assert fams["killswitch_stream_dropped_total"]["samples"] == [
        'killswitch_stream_dropped_total{account="main",kind="duplicate",venue="binanceusdm"} 3.0',
        'killswitch_stream_dropped_total{account="main",kind="malformed",venue="binanceusdm"} 1.0']
    # none before the first good reconcile (the hedge's): an age from nothing would be a made-up number
    assert fams["killswitch_stream_last_reconcile_age_seconds"]["type"] == "gauge"
    assert fams["killswitch_stream_last_reconcile_age_seconds"]["samples"] == [
        'killswitch_stream_last_reconcile_age_seconds{account="late",venue="binanceusdm"} 105.0',
        'killswitch_stream_last_reconcile_age_seconds{account="main",venue="binanceusdm"} 6.0']
    assert fams["killswitch_stream_reconcile_every_seconds"]["samples"] == [
        'killswitch_stream_reconcile_every_seconds{account="hedge",venue="binanceusdm"} 30.0',
        'killswitch_stream_reconcile_every_seconds{account="late",venue="binanceusdm"} 30.0',
        'killswitch_stream_reconcile_every_seconds{account="main",venue="binanceusdm"} 30.0']
    assert fams["killswitch_stream_unstreamed_symbols"]["samples"] == [  # late's marks of ETH refused
        f'killswitch_stream_unstreamed_symbols{{account="{a}",venue="binanceusdm"}} {n}'
        for a, n in (("hedge", 0.0), ("late", 1.0), ("main", 0.0))]
    assert st["binanceusdm/late"]["unstreamed"] == ["ETH/USDT:USDT"]
    assert fams["killswitch_stream_reconcile_consecutive_failures"]["type"] == "gauge"
    assert fams["killswitch_stream_reconcile_consecutive_failures"]["samples"] == [
        'killswitch_stream_reconcile_consecutive_failures{account="hedge",venue="binanceusdm"} 0.0',
        'killswitch_stream_reconcile_consecutive_failures{account="late",venue="binanceusdm"} 7.0',
        'killswitch_stream_reconcile_consecutive_failures{account="main",venue="binanceusdm"} 0.0']


def test_an_overdue_reconcile_is_said_once_per_change_and_its_end_once(caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner.streams")
    a = StreamingAdapter(LIVE)
    watch = StreamWatch(Venues({"binanceusdm/main": a}), clock=lambda: T0)

    def at(t: int, failures: int, overdue: bool) -> StreamHealth:
        return StreamHealth("live", None, T0, t, reconciled_ms=T0, reconcile_every_ms=30_000,
                            reconcile_failures=failures, reconcile_failure_reason="TIMEOUT" if failures else None,
                            reconcile_overdue=overdue, answers=not overdue)

    for h in (at(T0 + 60_000, 2, False), at(T0 + 95_000, 3, True), at(T0 + 100_000, 4, True),
              StreamHealth("live", None, T0, T0 + 105_000, reconciled_ms=T0 + 105_000, reconcile_every_ms=30_000,
                           answers=True),
              at(T0 + 200_000, 5, True)):
        a.health = h
        watch.observe(h.last_message_ms)
    said = [(r.levelname, r.getMessage().split(";")[0]) for r in caplog.records if "RECONCILE" in r.getMessage()]
    assert said == [
        ("WARNING", "STREAM_RECONCILE_OVERDUE: binanceusdm/main: not reconciled against REST for 95.0s "
                    "(reconcile_every 30s"),
        ("INFO", "STREAM_RECONCILED: binanceusdm/main: a REST reconcile is good again"),
        ("WARNING", "STREAM_RECONCILE_OVERDUE: binanceusdm/main: not reconciled against REST for 200.0s "
                    "(reconcile_every 30s"),
    ]


def test_status_text_shows_a_degraded_stream_beside_the_data_age():
    degraded = {"state": "stale", "reason": "STREAM_STALE", "last_message_age_s": 12.5, "reconnects": 1,
                "disagreements": 0, "dropped": {"duplicate": 2}, "degraded": True}
    assert stream_text(degraded) == ("STREAM DEGRADED, polls over REST: STREAM_STALE (last message 12.5s ago, "
                                     "1 reconnect(s), 0 disagreement(s), 2 dropped)")
    live = replace_dict(degraded, state="live", reason=None, degraded=False, last_message_age_s=0.2)
    assert stream_text(live).startswith("stream live (last message 0.2s ago")
    assert stream_text({"state": "off", "reason": "STREAM_UNSUPPORTED"}) == "stream off, polls (STREAM_UNSUPPORTED)"
    refused = replace_dict(live, reason="STREAM_MARKS_REFUSED", degraded=True, unstreamed=["ETH/USDT"])
    assert stream_text(refused).startswith("STREAM DEGRADED, polls over REST: STREAM_MARKS_REFUSED (ETH/USDT from "
                                           "REST) (last message 0.2s ago")


def test_status_text_shows_the_last_reconcile_and_an_overdue_one_as_degraded():
    calm = {"state": "live", "reason": None, "last_message_age_s": 0.5, "reconnects": 0, "disagreements": 0,
            "dropped": {}, "degraded": False, "last_reconcile_age_s": 12.0, "reconcile_every_s": 30.0,
            "reconcile_failures": 0, "reconcile_failure_reason": None, "reconcile_overdue": False}
    assert stream_text(calm) == ("stream live (last message 0.5s ago, last reconcile 12s ago (every 30s), "
                                 "0 reconnect(s), 0 disagreement(s), 0 dropped)")
    overdue = replace_dict(calm, last_reconcile_age_s=95.0, reconcile_failures=9,
                           reconcile_failure_reason="EXCHANGE_UNAVAILABLE", reconcile_overdue=True, degraded=True)
    assert stream_text(overdue) == (
        "STREAM DEGRADED, polls over REST: RECONCILE_OVERDUE (last message 0.5s ago, last reconcile 95s ago "
        "(every 30s), 9 failed since (EXCHANGE_UNAVAILABLE), 0 reconnect(s), 0 disagreement(s), 0 dropped)")
    never = replace_dict(calm, state="connecting", last_reconcile_age_s=None)
    assert "last reconcile never (every 30s)" in stream_text(never)


def replace_dict(d: dict, **kw) -> dict:
    return {**d, **kw}

