"""The work of a steady tick, a stage's entry and an operator's lock change, counted in lines run.

A regression that makes every tick walk every position again in Python (the gate's view rebuilt
from every position of new snapshots, a pydantic ``__eq__`` per position: 2.3 → 19.5 ms a tick at
10,000 positions, unseen for a day) fails here the day it is written: the count is a property of
the code, not of the machine (:class:`tests.work.LinesRun`). Timings stay in ``bench/tick.py``.

Each case runs at 1,000 and 10,000 positions in one scope (``bench/tick.py``'s one-account
book, through the real runner on SQLite). From the two counts come the work a position costs
(their difference over 9,000 positions) and the work that does not grow with the book; each has
a stated budget (measured when it was set, with room for honest change, well below what a pass
over the positions in Python adds). An operator's lock and unlock change one hold: their work
must not grow with the book at all.

Budgets, lines run (measured 2026-11-27): steady tick 1.0 a position + 2,350; a halted tick
1.0 a position + 3,009 (2026-11-28: the watch's enforcement of the halt, a bot's fill that
reduced a position under it included, and the trading windows' edge);
entry 6.9 a position + 3,600; a lock and unlock with the gate's view published after each,
about 1,400 at either size.
"""

from __future__ import annotations

import asyncio
import functools
import gc
from pathlib import Path
from typing import Callable, Sequence

import pytest

from killswitch.snapshot import PositionsOnReading, Snapshot, with_positions
from tests.conftest import bench_module
from tests.work import LinesRun

SIZES = (1_000, 10_000)
# (lines a position, lines that do not grow with the book) at most
STEADY_BUDGET = (1.3, 3_000)
HALTED_BUDGET = (1.3, 3_400)
ENTRY_BUDGET = (8.0, 5_000)
LOCK_CHANGE_BUDGET = 2_500  # a lock and an unlock, each published to the gate, at any size
LOCK_CHANGE_GROWTH = 100  # lines more at 10,000 positions than at 1,000 (one hold changed either way)


def on_reading(snaps):
    """The snapshots with their positions made on reading, as the simulated adapter hands them:
    a pass over them that makes the models shows in the count."""
    out = []
    for s in snaps:
        models = list(s.positions)
        out.append(with_positions(s, PositionsOnReading(s.positions.columns, models.__getitem__)))
    return out


Made = Callable[[int, int, float], Sequence[Snapshot]]


@pytest.fixture(scope="module")
def made() -> Made:
    """``bench/tick.py``'s one-account snapshots by (size, variant, equity factor), made once for
    the module: about 1 s of CPU at 10,000 positions, which each test made again. They are frozen
    models no test changes; each book wraps them afresh (:func:`on_reading`), so a pass over the
    positions still shows in every count."""
    tick = bench_module("tick")
    return functools.cache(lambda n, variant, factor: tuple(tick.book("one-account", n, variant, factor)))


class Book:
    """A warmed runner and its desk over ``bench/tick.py``'s one-account book of ``n``."""

    def __init__(self, n: int, work: Path, made: Made):
        from killswitch.process.bootstrap import build_runner_and_desk
        from killswitch.runner.lease.keeper import LeaseKeeper
        from killswitch.state import open_store

        tick = self.t_mod = bench_module("tick")
        self.t = tick.T0
        self.sets = [on_reading(made(n, v, 1.0 + 0.0001 * v)) for v in range(tick.VARIANTS)]
        self.crash = on_reading(made(n, 0, 0.95))
        self.adapters = {f"simulated/{s.account}": tick.Replayed(s.account) for s in self.sets[0]}
        self.store = open_store(f"sqlite://{work / f'work-{n}.db'}")
        made = build_runner_and_desk(tick.graph("one-account"), self.adapters, self.store,
                                     lock_path=work / f"lock-{n}.json", dry_run=True, clock=lambda: self.t,
                                     holder="work", lease_ttl_ms=tick.LEASE_TTL_MS)
        self.runner, self.desk, self.parts = made
        self.keeper = LeaseKeeper.for_store(self.store, "work", tick.LEASE_TTL_MS, clock=lambda: self.t)
        self.runner.hold_lease_with(self.keeper)
        self.keeper.start()
        self.k = 0

    async def tick(self, snaps=None, step: int = 5_000) -> None:
        self.t += step
        snaps = snaps if snaps is not None else self.sets[self.k % len(self.sets)]
        self.k += 1
        for s in snaps:
            self.adapters[f"simulated/{s.account}"].next = s
        await self.runner.tick()
        await asyncio.sleep(0)  # what the tick asked for at the loop's next yield (a publication) runs too

    async def warm(self) -> None:
        await self.runner.start()
        for _ in range(60):  # an hour of one-minute history, as the bench warms it
            await self.tick(step=60_000)
        for _ in range(2):
            await self.tick()
        gc.collect()

    async def close(self) -> None:
        await self.runner.aclose()
        self.keeper.stop()
        self.store.close()


def counted(case: str, n: int, work: Path, made: Made) -> LinesRun:
    async def run() -> LinesRun:
        book = Book(n, work, made)
        try:
            await book.warm()
            if case == "steady":
                # the bench's steady tick: no PnL sample falls due (one tick in twelve takes one)
                while book.parts.book.state.pnl and _sample_due(book):
                    await book.tick()
                with LinesRun() as lines:
                    await book.tick()
            elif case == "halted":  # a tick under an operator's halt: the venue watch reads the book too
                locked = await book.desk.commands.lock_scope("simulated/acct-0", "halted", "work count", actor="op")
                assert locked.done, locked.reason
                await book.tick()  # the first under the lock takes the baselines
                while book.parts.book.state.pnl and _sample_due(book):
                    await book.tick()
                with LinesRun() as lines:
                    await book.tick()
            elif case == "entry":
                with LinesRun() as lines:
                    await book.tick(book.crash)
                assert book.parts.book.state.scopes["bench|simulated/acct-0"].stage.level == 1
            else:
                key = "simulated/acct-0"
                with LinesRun() as lines:
                    locked = await book.desk.commands.lock_scope(key, "halted", "work count", actor="op")
                    await asyncio.sleep(0)
                    unlocked = await book.desk.commands.unlock_scope(key, "work count", actor="op")
                    await asyncio.sleep(0)
                assert locked.done and unlocked.done, (locked.reason, unlocked.reason)
                assert book.parts.pretrade.gate.publications >= 2
            return lines
        finally:
            await book.close()

    return asyncio.run(run())


def _sample_due(book: Book) -> bool:
    """Whether the next tick (5 s on) takes a PnL sample."""
    nxt = min((h.next_sample_ms for h in book.parts.book.state.pnl.values() if h.next_sample_ms is not None),
              default=None)
    return nxt is not None and book.t + 5_000 >= nxt


def per_position(small: LinesRun, large: LinesRun) -> tuple[float, float]:
    a, b = SIZES
    slope = (large.total - small.total) / (b - a)
    return slope, small.total - slope * a


def diagnosis(small: LinesRun, large: LinesRun) -> str:
    return (f"\nat {SIZES[0]:,}: {small.total:,} lines\n{small.top()}\n"
            f"at {SIZES[1]:,}: {large.total:,} lines\n{large.top()}")


@pytest.mark.parametrize("case, budget", [("steady", STEADY_BUDGET), ("halted", HALTED_BUDGET),
                                          ("entry", ENTRY_BUDGET)])
def test_a_tick_works_within_its_budget_per_position_and_beside_the_book(tmp_path, made, case, budget):
    small, large = (counted(case, n, tmp_path, made) for n in SIZES)
    slope, fixed = per_position(small, large)
    print(f"{case}: {slope:.2f} lines a position + {fixed:,.0f}")
    assert slope <= budget[0], f"{case}: {slope:.2f} lines a position > {budget[0]}" + diagnosis(small, large)
    assert fixed <= budget[1], f"{case}: {fixed:,.0f} lines beside the book > {budget[1]:,}" + diagnosis(small, large)


def test_a_lock_change_works_the_same_whatever_the_size_of_the_book(tmp_path, made):
    small, large = (counted("lock", n, tmp_path, made) for n in SIZES)
    print(f"lock and unlock: {small.total:,} lines at {SIZES[0]:,}, {large.total:,} at {SIZES[1]:,}")
    assert large.total <= LOCK_CHANGE_BUDGET, diagnosis(small, large)
    assert large.total - small.total <= LOCK_CHANGE_GROWTH, diagnosis(small, large)


def test_the_count_sees_a_pass_over_every_position():
    """The measure itself: a walk over the positions made on reading shows in the count."""
    snaps = on_reading(bench_module("tick").book("one-account", 1_000, 0, 1.0))
    with LinesRun() as quiet:
        len(snaps[0].positions.columns.symbols)
    with LinesRun() as walked:
        {p.symbol for p in snaps[0].positions}
    assert quiet.total < 10 <= 1_000 <= walked.total
