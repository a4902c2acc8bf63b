"""The turn (killswitch/runner/lease/turn.py): the tick goes ahead of every operator change waiting,
re-enters its own turn, lends it out while it waits on the network, and nothing a cancelled
waiter leaves behind wedges it.

And at the runner: a tick asked for while a hundred operator changes are queued runs after at
most the one being applied, not after all of them (the tick period under a queue of writes).
"""

from __future__ import annotations

import asyncio

import pytest

from killswitch.runner.lease.turn import Turn
from tests.unit.runner.operator.rig import ACCOUNT, audit_kinds, make, start, ticks


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_the_tick_goes_ahead_of_every_change_waiting():
    async def main():
        turn, order, applying = Turn(), [], asyncio.Event()

        async def change(i):
            async with turn.here():
                order.append(f"change {i}")
                if i == 0:
                    await applying.wait()  # the change being applied when the tick asks
                await asyncio.sleep(0)  # a store round trip

        changes = [asyncio.ensure_future(change(i)) for i in range(50)]
        await asyncio.sleep(0)  # the first change holds the turn, 49 wait
        assert turn.waiting == 49

        async def tick():
            async with turn.first():
                order.append("tick")

        ticking = asyncio.ensure_future(tick())
        await asyncio.sleep(0)  # the tick asks
        applying.set()
        await asyncio.gather(ticking, *changes)
        return order

    order = run(main())
    assert order.index("tick") == 1  # right after the change being applied, never after the queue
    assert [o for o in order if o != "tick"] == [f"change {i}" for i in range(50)]  # changes in arrival order


def test_ticks_go_first_but_in_their_own_order_and_changes_are_not_starved_between_ticks():
    async def main():
        turn, order, applying = Turn(), [], asyncio.Event()

        async def hold(name, first):
            async with (turn.first() if first else turn.here()):
                order.append(name)
                if name == "c0":
                    await applying.wait()
                await asyncio.sleep(0)

        tasks = [asyncio.ensure_future(hold("c0", False))]
        await asyncio.sleep(0)
        for name, first in (("c1", False), ("t1", True), ("t2", True), ("c2", False)):
            tasks.append(asyncio.ensure_future(hold(name, first)))
            await asyncio.sleep(0)  # each asks in this order
        applying.set()
        await asyncio.gather(*tasks)
        return order

    assert run(main()) == ["c0", "t1", "t2", "c1", "c2"]


def test_the_tick_re_enters_its_own_turn():
    async def main():
        turn = Turn()
        async with turn.first():
            async with turn.here():  # the lease renewed inside the tick
                async with turn.first():
                    return "no deadlock"

    assert run(main()) == "no deadlock"


def test_a_lent_turn_lets_changes_in_and_comes_back_first():
    async def main():
        turn, order = Turn(), []

        async def change(i):
            async with turn.here():
                order.append(f"change {i}")
                await asyncio.sleep(0.02)  # a slow store write

        async def tick():
            async with turn.first():
                order.append("tick starts")
                changes = [asyncio.ensure_future(change(i)) for i in range(5)]
                await asyncio.sleep(0)
                async with turn.lent():  # the snapshots' fetch
                    await asyncio.sleep(0.03)
                order.append("tick goes on")
                async with turn.here():  # re-entrant after the loan too
                    pass
            await asyncio.gather(*changes)

        await tick()
        return order

    order = run(main())
    assert order[0] == "tick starts"
    at = order.index("tick goes on")
    assert 2 <= at <= 4  # changes ran during the loan; the tick took it back before the rest
    assert sorted(order[1:at] + order[at + 1:]) == [f"change {i}" for i in range(5)]


def test_lent_outside_a_held_turn_does_nothing():
    async def main():
        turn = Turn()
        async with turn.lent():
            pass
        async with turn.here():
            return True

    assert run(main())


@pytest.mark.parametrize("handed", [False, True], ids=["cancelled-waiting", "cancelled-after-handed"])
def test_a_cancelled_waiter_never_wedges_the_turn(handed):
    async def main():
        turn = Turn()
        release = asyncio.Event()
        tasks: dict = {}

        async def holder():
            async with turn.here():
                await release.wait()
            if handed:  # the turn was handed to the waiter, which has not resumed yet
                tasks["w"].cancel()

        async def waiter():
            async with turn.here():
                pass

        h = asyncio.ensure_future(holder())
        await asyncio.sleep(0)
        w = tasks["w"] = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        if not handed:
            w.cancel()
        release.set()
        await h
        with pytest.raises(asyncio.CancelledError):
            await w
        async with turn.first():  # free again
            pass
        async with turn.here():
            return turn.waiting

    assert run(main()) == 0


def test_a_tick_runs_ahead_of_a_hundred_queued_operator_changes(tmp_path):
    """Fails where the tick's lease waited behind every change queued (the tick period went
    from 0.5 s to 5 s under 500 writes in flight): here at most the change being applied and
    those applied while the tick's snapshots were fetched come before its stage entry."""
    w = make(tmp_path, dry_run=True)
    start(w)
    ticks(w, 1, beat=("bot-x",))

    async def main():
        r, d = w.runner, w.desk
        changes = []
        for i in range(50):
            changes.append(asyncio.ensure_future(d.run_view_call(d.lock_scope, ACCOUNT, "halted", f"drill {i}")))
            changes.append(asyncio.ensure_future(d.run_view_call(d.unlock_scope, ACCOUNT, f"drill {i}")))
        await asyncio.sleep(0)
        w.clock.advance(120 * 1000)  # bot-x has been silent for two minutes: the tick enters the halt
        report = await r.tick()
        kinds_at_tick = audit_kinds(w)
        answers = await asyncio.gather(*changes)
        return report, kinds_at_tick, answers

    report, at_tick, answers = run(main())
    assert [s.transition.to_level for s in report.transitions] == [1]
    before = at_tick[:at_tick.index("stage_transition")]
    operator = [k for k in before if k in ("manual_lock", "manual_unlock")]
    assert len(operator) <= 3, operator  # not the hundred queued ahead of it
    assert len(answers) == 100 and all(a.reason for a in answers)  # every change was answered after it


def test_a_change_that_waits_past_its_bound_is_refused_busy_and_not_done(monkeypatch):
    """A tick held up in its turn (a state store that does not answer keeps it up to the
    store's deadline, 20 s) made every operator change wait with it, past a client's 10 s: the
    client said the runner could not be reached. Now a change waits TURN_WAIT_S at most, is not
    done, and says who holds the state and for how long; the one after the tick is done."""
    import killswitch.runner.lease.turn as turn_module

    monkeypatch.setattr(turn_module, "TURN_WAIT_S", 0.05)

    async def main():
        turn, done, store = Turn(), [], asyncio.Event()

        async def tick():
            async with turn.first():
                await store.wait()  # the store's answer

        def lock_scope(why):
            done.append(why)
            return why

        ticking = asyncio.ensure_future(tick())
        await asyncio.sleep(0)
        with pytest.raises(turn_module.TurnBusy) as busy:
            await turn.run_view_call(lock_scope, ("while the tick waits",), {})
        assert turn.waiting == 0  # the refused change left nothing queued
        store.set()
        await ticking
        assert await turn.run_view_call(lock_scope, ("after",), {}) == "after"
        assert await turn.run_view_call(lambda: "read", (), {}) == "read"
        return str(busy.value), done

    said, done = run(main())
    assert said.startswith("TURN_BUSY: the tick has held the runner's state for 0.") and "nothing was done" in said
    assert done == ["after"]


def test_a_read_never_waits_for_the_turn():
    """Every name Turn lets through without the turn answers while a tick holds it."""
    async def main():
        turn, store = Turn(), asyncio.Event()

        async def tick():
            async with turn.first():
                await store.wait()

        ticking = asyncio.ensure_future(tick())
        await asyncio.sleep(0)
        answers = []
        for name in sorted(Turn.WITHOUT_TURN):
            def read(name=name):
                return name
            read.__name__ = name
            answers.append(await asyncio.wait_for(turn.run_view_call(read, (), {}), 1))
        store.set()
        await ticking
        return answers

    assert run(main()) == sorted(Turn.WITHOUT_TURN)


def test_a_queue_of_changes_that_moves_is_waited_out_past_the_bound(monkeypatch):
    """The bound is on a holder that does not come back, not on the queue: 40 changes of 25 ms
    each behind one another take 1 s, four times the bound, and every one is done (a burst of
    operator calls once answered TURN_BUSY to the back of its own queue). Each holder has ten
    times its time as slack: a loaded machine's late wake is not a holder that does not come back."""
    import killswitch.runner.lease.turn as turn_module

    monkeypatch.setattr(turn_module, "TURN_WAIT_S", 0.25)

    async def main():
        turn, done = Turn(), []

        async def change(i):
            await asyncio.sleep(0.025)  # a store round trip, in the turn
            done.append(i)
            return i

        answers = await asyncio.gather(*(turn.run_view_call(change, (i,), {}) for i in range(40)))
        return answers, done

    answers, done = run(main())
    assert answers == list(range(40)) and done == list(range(40))  # all done, in arrival order
