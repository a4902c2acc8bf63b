"""An incident card for a stage that leaves by itself says when it leaves (walk 9's L2: the card
read ``leaves by itself (no approval)`` at 9 and 12 minutes into a 10m cooldown, with no time).

The time is the engine's own rule (:func:`killswitch.engine.stages.leaves_at`): the quiet time
after the last tick a trigger of the policy fired, and not before the cooldown since the last
entry has run out; while a trigger fires, the card says the quiet it needs instead."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from killswitch.client import LockDocument
from killswitch.engine import stages
from killswitch.engine.state import StageState
from killswitch.render.status import leaves_text, status_text
from killswitch.render.times import iso
from killswitch.runner.lock.lock import LockBook, iso_ms
from killswitch.view import IncidentStatus, ScopeStatus, ThresholdCheck, TriggerStatus, decode
from tests.unit.engine.test_stages import LADDER
from tests.unit.engine_helpers import MIN, guard_policy, policy_graph
from tests.unit.runner.operator.rig import make

from .test_console import VERA, Api, run, ticks
from .test_model import ACC, T0, page_model, render, status, text_of

INCIDENT = f"futures-book/{ACC}/L1/e1"


@pytest.fixture(scope="module")
def ladder():
    return policy_graph(**LADDER).policy("p")


@pytest.mark.parametrize("steps, level, expected_min", [
    ([(0, {"t1"}), (3, {"t1"}), (4, set())], 1, 13),  # warn: 10m quiet after minute 3
    ([(0, {"t1"}), (1, set())], 1, 10),  # the cooldown since the entry binds: 10m after minute 0
    ([(0, {"t2"}), (25, {"t2"}), (26, set())], 2, 45),  # cut: reset_after 20m after minute 25
    ([(0, {"t2"}), (1, set())], 2, 30),  # cut's 30m cooldown binds before its 20m of quiet
])
def test_leaves_at_is_the_first_tick_the_machine_resets(ladder, steps, level, expected_min):
    st = StageState()
    for minute, firing in steps:
        stages.step(ladder, "scope", st, firing, minute * MIN)
    assert st.level == level
    at = stages.leaves_at(stages._stage(ladder, level), st)
    assert at == expected_min * MIN
    early = copy_of(st)
    stages.step(ladder, "scope", early, set(), at - 1)
    assert early.level == level  # a millisecond before: still in
    stages.step(ladder, "scope", st, set(), at)
    assert st.level == 0  # at it: reset


def copy_of(st: StageState) -> StageState:
    return copy.deepcopy(st)


def test_a_manual_stage_has_no_time_to_leave(ladder):
    st = StageState()
    stages.step(ladder, "scope", st, {"t3"}, 0)
    assert st.level == 3 and stages.leaves_at(stages._stage(ladder, 3), st) is None


def _card(leaves_ms: int | None, firing: bool) -> str:
    st = dataclasses.replace(status(), scopes=(ScopeStatus("futures-book", ACC, 1, "reduce-top-risk", False, (), 1,
                                                           T0 - 9 * 60_000),))
    soft = TriggerStatus("futures-book", ACC, "soft", "dd_15m >= 4.5%", firing, T0 - 9 * 60_000, T0 - 9 * 60_000,
                         None, None, (ThresholdCheck("dd_15m", ">=", "4.5%", 0.05, "5%", firing),), T0)
    incident = IncidentStatus(INCIDENT, "stage", "futures-book", ACC, 1, "reduce-top-risk", T0 - 9 * 60_000, False,
                              1, (), False, (), 0, leaves_ms=leaves_ms, quiet_s=600.0)
    m = page_model(st, (True, "LEADER"), LockBook().to_doc(T0), {}, (soft,), (incident,))
    text = text_of(render(m))
    return text[text.index("leaves by itself"):][:120]


def test_a_quiet_stage_says_at_what_time_it_leaves_and_after_how_much_quiet():
    leaves = T0 + 60_000  # T0 is 12:00:00 UTC
    clock = f"{(leaves // 3_600_000) % 24:02d}:{(leaves // 60_000) % 60:02d}:00"  # to the second
    assert _card(leaves, firing=False).startswith(
        f"leaves by itself (no approval) at {clock} UTC after 10m of quiet (in 1m)")


def test_a_stage_whose_triggers_fire_says_the_quiet_it_needs():
    assert _card(T0 + 600_000, firing=True).startswith(
        "leaves by itself (no approval) when its triggers have been quiet for 10m")


def test_a_stage_past_its_time_leaves_at_the_next_tick():
    assert _card(T0 - 1000, firing=False).startswith("leaves by itself (no approval) at the next tick")


AUTO = guard_policy(reset="cooldown: 10m")


def test_the_runner_says_when_its_stage_leaves_from_the_last_tick_its_trigger_fired(tmp_path):
    w = make(tmp_path, text=AUTO)

    async def go():
        await w.runner.start()
        await ticks(w, 1, ("bot-x",))
        await ticks(w, 14)  # bot-x silent past a minute: stage 1 entered, its trigger firing
        fired_ms = w.desk.status().last_tick_ms
        [firing] = await w.desk.incidents()
        assert firing.level == 1 and not firing.manual and firing.quiet_s == 600
        assert firing.leaves_ms == fired_ms + 600_000  # if it stays quiet from now
        async with Api(w) as api:
            html = (await api.get("/console/view", VERA))[1]
            assert "leaves by itself (no approval) when its triggers have been quiet for 10m" in text_of(html)
            # status says the same while the trigger fires: no clock time (walk 11's M2)
            [scope] = [sc for sc in w.desk.status().scopes if sc.stage]
            assert scope.firing
            text = status_text(w.desk.status(), decode(LockDocument, w.desk.lock_document()))
            assert "LEAVES BY ITSELF when its triggers have been quiet for 10m (a trigger fires now)" in text, text
            await ticks(w, 1, ("bot-x",))  # it beats: the trigger is quiet from this tick
            [quiet] = await w.desk.incidents()
            assert quiet.leaves_ms == fired_ms + 600_000
            html = (await api.get("/console/view", VERA))[1]
            clock = iso_ms(fired_ms + 600_000)[11:19]
            assert f"leaves by itself (no approval) at {clock} UTC after 10m of quiet (in 9m 55s)" in text_of(html)
            # ksctl status says the same of the scope (walk 9's L2, its status half)
            st = w.desk.status()
            [scope] = [sc for sc in st.scopes if sc.stage]
            assert scope.leaves_ms == fired_ms + 600_000 and scope.quiet_s == 600 and not scope.firing
            text = status_text(st, decode(LockDocument, w.desk.lock_document()))
            line = next(ln for ln in text.splitlines() if "LEAVES" in ln)
            assert f"LEAVES BY ITSELF at {iso(fired_ms + 600_000)} if its triggers stay quiet (10m of quiet, " \
                   "in 9m55s)" in line, line

    run(go())


def test_status_says_when_a_stage_leaves_by_itself_and_nothing_for_a_latched_one():
    assert leaves_text(T0 + 600_000, 600, T0) == (f"LEAVES BY ITSELF at {iso(T0 + 600_000)} if its triggers "
                                                  "stay quiet (10m of quiet, in 10m)")
    assert leaves_text(T0, 600, T0).startswith("LEAVES BY ITSELF at the next tick")
    latched = ScopeStatus("p", ACC, 1, "halt", True, (), 2, T0)
    assert latched.leaves_ms is None  # a manual stage: LATCHED, its approvals; never a leave time


def test_status_gives_no_time_while_a_trigger_fires():
    assert leaves_text(T0 + 600_000, 600, T0, firing=True) == (
        "LEAVES BY ITSELF when its triggers have been quiet for 10m (a trigger fires now)")


def test_a_re_run_stage_card_gives_its_first_entry_and_the_re_run_beside_it():
    """Walk 11 of issue 65 (H2): the card's entry time jumped to the cooldown re-run's while
    ``ksctl status`` kept the stage's first entry; both give the first now, the card the re-run too."""
    st = dataclasses.replace(status(), scopes=(ScopeStatus("futures-book", ACC, 1, "reduce-top-risk", False, (), 1,
                                                           T0 - 9 * 60_000),))
    incident = IncidentStatus(f"futures-book/{ACC}/L1/e3", "stage", "futures-book", ACC, 1, "reduce-top-risk",
                              T0 - 9 * 60_000, False, 1, (), False, (), 0, rerun_ms=T0 - 30_000)
    text = text_of(render(page_model(st, (True, "LEADER"), LockBook().to_doc(T0), {}, (), (incident,))))
    assert "at 12:51:00 UTC (9m ago), re-run at 12:59:30 UTC (cooldown)" in text, text


TTL = guard_policy(reset="cooldown: 10m", actions=("{lock_trading: {mode: reducing, ttl: 2m}}",))


def test_a_stage_whose_own_lock_ran_out_says_so_in_status_and_its_card(tmp_path):
    """Walk 12 of issue 65 (M3): a stage with ``lock_trading: {mode: reducing, ttl: 2m}`` that holds
    on past 2m: its lock is dropped at entry + 2m, and status and the card say so, with what binds
    the scope instead (nothing, here), not "stage 1" alone, read as "reducing"."""
    w = make(tmp_path, text=TTL)

    async def go():
        await w.runner.start()
        await ticks(w, 1, ("bot-x",))
        await ticks(w, 14)  # bot-x silent past a minute: stage 1 entered, its reducing lock for 2m
        [entered] = [sc for sc in w.desk.status().scopes if sc.stage]
        assert entered.own_lock_ended is None  # its lock holds
        await ticks(w, 25)  # past entry + 2m: the trigger still fires, the stage holds, its lock is gone
        st = w.desk.status()
        [scope] = [sc for sc in st.scopes if sc.stage]
        lock = decode(LockDocument, w.desk.lock_document())
        assert scope.stage == 1 and not lock.locked, lock
        assert scope.entered_ms is not None
        said = (f"its own lock (reducing, ttl 2m) ended at {iso_ms(scope.entered_ms + 120_000)[11:19]} UTC: "
                "the stage holds no lock now")
        assert scope.own_lock_ended == said
        line = next(ln for ln in status_text(st, lock).splitlines() if "stage 1 halt" in ln)
        assert said in line, line
        async with Api(w) as api:
            html = (await api.get("/console/view", VERA))[1]
            assert said in text_of(html), text_of(html)

    run(go())


def test_an_ended_own_lock_names_what_binds_the_scope_instead():
    from killswitch.runner.lock.lock import OPERATOR
    from killswitch.view.own_lock import applied_ms, own_lock_ended
    from tests.unit.engine_helpers import compile_graph

    stage = compile_graph(TTL).policies[0].stages[0]
    entered = T0 - 5 * MIN
    free = LockBook()
    assert own_lock_ended(stage, 1, entered, free, "bot-guard", ACC, T0) == (
        f"its own lock (reducing, ttl 2m) ended at {iso_ms(entered + 2 * MIN)[11:19]} UTC: the stage holds no lock now")
    # still within its ttl: it holds, nothing said
    held = LockBook().apply(ACC, "reducing", now_ms=entered, policy="bot-guard", stage=1, ttl_ms=2 * MIN)
    assert own_lock_ended(stage, 1, entered, held, "bot-guard", ACC, entered + MIN) is None
    # an operator's halt binds instead: named
    op = LockBook().apply(ACC, "halted", now_ms=T0 - MIN, policy=OPERATOR, details={"by": "alice"})
    assert own_lock_ended(stage, 1, entered, op, "bot-guard", ACC, T0).endswith(
        f"the stage holds no lock now; halted by operator alice binds {ACC}")
    # a cooldown re-run applied the lock again: its end counts from the re-run, not the first entry
    rerun = StageState(level=1, entered_ms=entered, last_entry_ms={1: T0 - MIN})
    assert applied_ms(rerun) == T0 - MIN and applied_ms(StageState()) is None
    assert applied_ms(StageState(level=1, entered_ms=entered)) == entered
    assert own_lock_ended(stage, 1, applied_ms(rerun), free, "bot-guard", ACC, T0) is None  # ends at T0 + 1m
