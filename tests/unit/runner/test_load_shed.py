"""Load shed in a stated order (killswitch/runner/tick/shed.py): the level follows the loop's holds
with a calm window before it falls, and a ccxt adapter told a level reads its REST reconcile and a
calm account's open-order list less often, never a watched account's."""

from __future__ import annotations

import asyncio
import time

from killswitch.metrics import Registry
from killswitch.runner.lease.holds import LoopHolds
from killswitch.runner.tick.shed import DOWN_WINDOW_S, UP_WINDOW_S, LoadShed, shed_words
from tests.unit.adapters.ccxt.fake import _creds  # noqa: F401 — the credentials' environment
from tests.unit.adapters.ccxt.stream.rig import T0, Clock as StreamClock, Venue, adapter, rest_exchange, settle


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_level_rises_a_step_per_window_of_holds_and_falls_only_after_a_calm_window():
    clock = Clock()
    holds = LoopHolds(clock)
    shed = LoadShed(holds, clock)
    assert shed.observe(1) is None and shed.level == 0
    holds.held(0.2)  # below the bound that raises it
    assert shed.observe(2) is None
    holds.held(0.4)
    assert shed.observe(3) == (0, 1) and shed.since_ms == 3
    holds.held(0.5)
    assert shed.observe(4) is None  # at most a step a window
    clock.t += UP_WINDOW_S
    holds.held(0.5)
    assert shed.observe(5) == (1, 2)
    clock.t += UP_WINDOW_S
    holds.held(0.9)
    assert shed.observe(6) is None and shed.level == 2  # the top level
    clock.t += DOWN_WINDOW_S - 1
    assert shed.observe(7) is None  # the last hold is less than a calm window old
    clock.t += 2
    assert shed.observe(8) == (2, 1)
    assert shed.observe(9) is None  # a calm window per step down
    clock.t += DOWN_WINDOW_S
    assert shed.observe(10) == (1, 0)
    st = shed.status()
    assert st["level"] == 0 and st["shed"] == "" and shed.changes == 4
    reg = Registry()
    shed.collect_metrics(reg)
    assert "killswitch_load_shed_level 0.0" in reg.render()


def test_without_a_measure_of_the_loop_nothing_is_shed():
    shed = LoadShed(None, Clock())
    assert shed.observe(1) is None and shed.status() == {"level": 0, "since_ms": None, "shed": ""}


def test_the_words_say_what_is_read_less_often():
    assert shed_words(0) == ""
    assert "2×" in shed_words(1) and "REST reconcile" in shed_words(1)
    assert "4×" in shed_words(2)


def test_a_streamed_account_told_a_level_reconciles_against_rest_less_often_and_says_so():
    async def body():
        rest, venue, clock = rest_exchange(), Venue(), StreamClock(T0)
        a = adapter(rest, venue, stream={"reconcile_every": "30s", "stale_after": "120s"}, stream_clock=clock)
        await a.start_streams()
        await settle(lambda: venue.clients)
        await a.snapshot()  # REST seeds the stream
        stream = a._stream
        a.shed(1)
        assert a.stream_health().reconcile_every_ms == 60_000
        clock.ms += 45_000
        assert not stream.reconcile_aged()  # 45 s: due at 30 s, but every 60 s under load
        clock.ms += 20_000
        assert stream.reconcile_aged()
        a.shed(0)
        assert a.stream_health().reconcile_every_ms == 30_000
        # a calm account's list of every open order ages twice as long under level 1; a watched one's not
        a.shed(1)
        a._orders_at = time.monotonic() - a.open_orders_max_age_s * 1.5
        assert not a._orders_due()
        a.wake_on_entries(True)
        assert a._orders_due()
        await a.close()

    asyncio.run(body())
