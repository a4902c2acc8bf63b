"""The loop's holds as the lease's watchdog measures them: a callback that keeps the loop is
counted at its length, the largest is kept, and /metrics shows both."""

from __future__ import annotations

import asyncio
import time

from killswitch.metrics import Registry
from killswitch.runner.lease.holds import HOLD_BOUNDS, LoopHolds
from killswitch.runner.lease.keeper import LeaseKeeper, show_life


def test_holds_below_the_first_bound_are_not_counted_and_the_largest_is_kept():
    now = [100.0]
    holds = LoopHolds(lambda: now[0])
    holds.held(0.01)
    assert holds.max_s == 0.0 and all(n == 0 for n in holds.over.values())
    holds.held(0.3)
    holds.held(0.12)
    assert holds.max_s == 0.3
    assert holds.over == {0.05: 2, 0.1: 2, 0.25: 1, 1.0: 0}
    assert holds.recent_max_s() == 0.3
    now[0] += 61.0  # a minute later the recent largest is gone, the largest since start stays
    assert holds.recent_max_s() == 0.0 and holds.max_s == 0.3


def test_a_callback_that_keeps_the_loop_is_measured_by_show_life_and_exported():
    keeper = LeaseKeeper(object(), "a", 3_000)  # type: ignore[arg-type]  (no store call is made)

    async def main() -> None:
        life = asyncio.ensure_future(show_life(keeper))
        await asyncio.sleep(0.05)
        time.sleep(0.4)  # a callback that does not yield for 400 ms
        await asyncio.sleep(0.25)
        life.cancel()
        await asyncio.gather(life, return_exceptions=True)

    asyncio.run(main())
    assert 0.3 <= keeper.loop_holds.max_s < 1.0
    assert keeper.loop_holds.over[0.25] == 1 and keeper.loop_holds.over[1.0] == 0
    reg = Registry()
    keeper.collect_metrics(reg)
    text = reg.render()
    assert 'killswitch_loop_hold_max_seconds{window="all"}' in text
    assert f'killswitch_loop_holds_total{{over="{HOLD_BOUNDS[2]:g}"}} 1.0' in text
