"""Resumption after a reset: the policy's ``resume`` block (validation, compilation, digest) and
the runner holding the pre-trade gate at the reduced limits until they are normal again."""

from __future__ import annotations

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.policy.load import load_text
from killswitch.runner.gate.gate import check_order
from killswitch.runner.tick.reload import GraphReload
from tests.unit.engine_helpers import compile_graph, guard_policy
from tests.unit.runner.operator.rig import ACCOUNT, COUNTDOWN, GUARD, TICK_MS, make, run, start, ticks

DAY = 86_400_000
RESUME = "  resume: {start: 25%, step: x2, every: 1d, max_positions: 8, max_gross_exposure: 4M}\n"


def compile_with(block: str):
    return compile_documents(load_text(GUARD + block, "guard.yaml"))


# --- the resume block ------------------------------------------------------------------------------


@pytest.mark.parametrize("block, code, words", [
    ("  resume: {step: x2, max_positions: 8}\n", "KS102", 'missing required key "start" in resume'),
    ("  resume: {start: 25%}\n", "KS102", "resume needs the normal limits it scales"),
    ("  resume: {start: 0%, max_positions: 8}\n", "KS111", "start must be above 0% and at most 100%"),
    ("  resume: {start: 120%, max_positions: 8}\n", "KS111", "start must be above 0% and at most 100%"),
    ("  resume: {start: 25, max_positions: 8}\n", "KS111", "ambiguous"),
    ("  resume: {start: 25%, step: x1, max_positions: 8}\n", "KS103", "step must be a factor above x1 and at most x10"),
    ("  resume: {start: 25%, step: 0.5, max_positions: 8}\n", "KS103", "above x1"),
    ("  resume: {start: 25%, step: x11, max_positions: 8}\n", "KS103", "at most x10"),
    ("  resume: {start: 25%, step: 150%, max_positions: 8}\n", "KS103", '"150%" is not a factor'),
    ("  resume: {start: 25%, step: true, max_positions: 8}\n", "KS103", "step is a factor such as x1.5"),
    ("  resume: {start: 25%, every: 30s, max_positions: 8}\n", "KS110", "every must be between 1m and 30d"),
    ("  resume: {start: 25%, every: 31d, max_positions: 8}\n", "KS110", "every must be between 1m and 30d"),
    ("  resume: {start: 25%, every: daily, max_positions: 8}\n", "KS110", "not a duration"),
    ("  resume: {start: 25%, max_positions: 0}\n", "KS103", "greater than or equal to 1"),
    ("  resume: {start: 25%, max_gross_exposure: 0}\n", "KS112", "max_gross_exposure must be above 0"),
    ("  resume: {start: 25%, max_gross_exposure: lots}\n", "KS112", "not an amount"),
    ("  resume: {start: 0.001%, step: x1.001, max_positions: 8}\n", "KS103", "more than 1000 steps"),
    ("  resume: {start: 25%, max_positions: 8, from_level: 2}\n", "KS104",
     "resume.from_level 2 is not a stage level of this policy"),
    ("  resume: {start: 25%, max_positions: 8, after: 1d}\n", "KS101", 'unknown key "after" in resume'),
])
def test_bad_resume_blocks_are_reported_with_code_and_position(block, code, words):
    res = compile_with(block)
    assert res.graph is None
    [d] = [d for d in res.errors if d.code == code]
    assert words in d.message or words in (d.hint or ""), (d.message, d.hint)
    assert d.location().startswith("guard.yaml:14:"), d.location()


def test_the_resume_block_compiles_into_the_graph():
    res = compile_with(RESUME)
    assert res.errors == []
    r = res.graph.policies[0].resume
    assert (r.start_fraction, r.step_factor, r.step_ms, r.from_level, r.max_positions, r.max_gross_exposure) == \
        (0.25, 2.0, DAY, 1, 8, 4_000_000.0)
    assert compile_graph(GUARD, "guard.yaml").policies[0].resume is None


def test_the_digest_follows_the_resume_plan_and_not_its_spelling():
    base = compile_with("").graph.digest
    plan = compile_with(RESUME).graph.digest
    assert plan != base
    same = compile_with("  resume: {start: 0.25, step: 2, every: 24h, max_positions: 8, max_gross_exposure: 4000k}\n")
    assert same.graph.digest == plan
    for changed in (RESUME.replace("x2", "x1.5"), RESUME.replace("25%", "30%"), RESUME.replace("1d", "12h"),
                    RESUME.replace("8,", "9,"), RESUME.replace("4M", "5M"), RESUME.replace("}", ", from_level: 1}")):
        assert compile_with(changed).graph.digest not in (base, plan), changed


def test_the_example_futures_book_resumes_after_its_flatten():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[4] / "policies" / "futures-book.yaml").read_text()
    res = compile_documents(load_text(text, "futures-book.yaml"))
    assert res.errors == []
    r = res.graph.policies[0].resume
    assert (r.from_level, r.start_fraction, r.step_factor, r.step_ms) == (3, 0.25, 1.5, DAY)


# --- the runner holds the gate ---------------------------------------------------------------------


def order(**kw) -> dict:
    return {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 1, **kw}


def halt_and_reset(w) -> None:
    """bot-x goes silent for over a minute (stage 1 latches), comes back, and alice resets."""
    start(w)
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 13)
    assert w.parts.book.state.scopes[f"bot-guard|{ACCOUNT}"].stage.level == 1
    run(w.desk.heartbeat("bot-x"))
    answer = run(w.desk.reset("bot-guard", ACCOUNT, "alice", "bot-x is back", confirm_relatch=True))
    assert answer.done, answer


def test_after_a_reset_the_gate_holds_reduced_limits_that_step_up_daily_until_normal(tmp_path):
    w = make(tmp_path, text=GUARD + RESUME)
    halt_and_reset(w)
    reset_ms = w.clock()
    # the book holds 740 000 gross (BTC 300k, ETH 300k, SOL 140k) in 3 positions
    st = w.desk.status().resuming
    assert [(s.policy, s.scope, s.day, s.days, s.fraction, s.max_positions, s.max_gross_exposure) for s in st] == \
        [("bot-guard", ACCOUNT, 1, 2, 0.25, 2, 1_000_000.0)]
    doc = w.desk.lock_document(ACCOUNT)
    assert doc["locked"] is False and doc["resuming"][ACCOUNT]["max_gross_exposure"] == 1_000_000.0
    assert w.desk.lock_document()["resuming"][ACCOUNT]["day"] == 1
    d = w.desk.check_order(order(amount=1))  # +60k → 800k
    assert d.allow and d.reason.startswith("RESUMING: gross exposure 800,000.00 <= limit 1,000,000.00 (day 1 of 2)")
    d = w.desk.check_order(order(amount=5))  # +300k → 1.04M
    assert not d.allow and d.reason.startswith("RESUMING: gross exposure would be 1,040,000.00 > limit 1,000,000.00")
    assert w.desk.check_order(order(side="sell", amount=5)).allow  # closing always passes
    # another account of the venue is not held by this scope's resumption (the pure gate; the runner
    # itself denies an account it does not have: UNKNOWN_ACCOUNT)
    now = w.clock()
    other = check_order(w.parts.book.lock_book, {**order(amount=5), "account": "simulated/other"}, [], now,
                        resume=[r for _, r in w.parts.resumptions.in_force(now)])
    assert other.reason == "ACTIVE", "another account of the venue is not held by this scope's resumption"
    assert w.desk.check_order({**order(amount=5), "account": "simulated/other"}).reason.startswith(
        "UNKNOWN_ACCOUNT")

    w.clock.set(reset_ms + DAY - 1)
    assert not w.desk.check_order(order(amount=5)).allow, "no step up before the schedule says so"
    w.clock.set(reset_ms + DAY)
    ticks(w, 1, beat=("bot-x",))
    d = w.desk.check_order(order(amount=5))
    assert d.allow and "(day 2 of 2)" in d.reason and "limit 2,000,000.00" in d.reason
    assert w.desk.status().resuming[0].max_gross_exposure == 2_000_000.0

    w.clock.set(reset_ms + 2 * DAY - TICK_MS)
    ticks(w, 1, beat=("bot-x",))  # day 3: normal again, the resumption ends
    assert w.desk.check_order(order(amount=50)).reason == "ACTIVE"
    assert w.desk.status().resuming == () and w.parts.book.resume_starts == {}
    assert w.desk.lock_document(ACCOUNT)["resuming"] == {}


def test_a_resumption_survives_a_restart_and_shows_in_the_lock_file(tmp_path):
    import json

    w = make(tmp_path, text=GUARD + RESUME)
    halt_and_reset(w)
    ticks(w, 1, beat=("bot-x",))
    assert json.loads((tmp_path / "lock.json").read_text())["resuming"][ACCOUNT]["fraction"] == 0.25
    w.store.close()
    again = make(tmp_path, text=GUARD + RESUME, engine=w.engine, clock=w.clock)
    start(again)
    ticks(again, 1, beat=("bot-x",))
    assert not again.desk.check_order(order(amount=5)).allow


def test_a_new_stage_entry_ends_the_resumption(tmp_path):
    w = make(tmp_path, text=GUARD + RESUME)
    halt_and_reset(w)
    ticks(w, 13)  # silent again: stage 1 again
    assert w.parts.book.resume_starts == {}
    assert w.desk.check_order(order(side="sell", amount=1)).reason.startswith("HALTED")


def test_only_resets_from_the_resume_level_up_start_one(tmp_path):
    two_stages = GUARD.replace(
        "       actions: [{lock_trading: {mode: halted}}, {arm_exchange_dms: {after: 30s}}]}\n",
        "       actions: [{lock_trading: {mode: halted}}]}\n"
        "    - {level: 2, name: later, on: [never], reset: manual, actions: [{lock_trading: {mode: halted}}]}\n"
    ).replace('    silent: {when: "bot > 60s", on_missing_data: hold}\n',
              '    silent: {when: "bot > 60s", on_missing_data: hold}\n'
              '    never: {when: "bot > 3600s", on_missing_data: hold}\n')
    assert "level: 2" in two_stages and "never:" in two_stages
    w = make(tmp_path, text=two_stages + RESUME.replace("}", ", from_level: 2}"))
    halt_and_reset(w)
    assert w.parts.book.resume_starts == {} and w.desk.check_order(order(amount=50)).reason == "ACTIVE"


def test_a_policy_reload_without_the_resume_block_ends_the_resumption(tmp_path):
    w = make(tmp_path, text=GUARD + RESUME)
    halt_and_reset(w)
    run(w.runner.apply_graph(GraphReload(compile_graph(GUARD, "guard.yaml"))))
    assert w.desk.check_order(order(amount=50)).reason == "ACTIVE"
    ticks(w, 1, beat=("bot-x",))
    assert w.parts.book.resume_starts == {}


def test_the_resumption_is_audited(tmp_path):
    from tests.unit.runner.operator.rig import audit_kinds

    w = make(tmp_path, text=GUARD + RESUME)
    halt_and_reset(w)
    w.clock.advance(3 * DAY)
    ticks(w, 1, beat=("bot-x",))
    kinds = audit_kinds(w)
    assert kinds.count("resumption_started") == 1 and kinds.count("resumption_ended") == 1


def test_the_lock_of_an_account_shows_what_its_venue_holds_and_resumes(tmp_path):
    venue_guard = guard_policy(scope="{level: venue, venues: [simulated]}", actions=COUNTDOWN)
    w = make(tmp_path, text=venue_guard + RESUME)
    start(w)
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 13)
    assert w.parts.book.state.scopes["bot-guard|simulated"].stage.level == 1
    held = w.desk.lock_document(ACCOUNT)  # the venue's halt binds the account's orders: the gate says so
    assert held["locked"] is True and held["mode"] == "halted" and held["scope"] == "simulated", held
    assert not w.desk.check_order(order()).allow
    run(w.desk.heartbeat("bot-x"))
    assert run(w.desk.reset("bot-guard", "simulated", "alice", "bot-x is back", confirm_relatch=True)).done
    doc = w.desk.lock_document(ACCOUNT)
    assert doc["locked"] is False and doc["resuming"]["simulated"]["day"] == 1, doc  # was {}
    assert w.desk.check_order(order(amount=5)).reason.startswith("RESUMING:")
    assert w.desk.lock_document("other-venue")["resuming"] == {}


def test_a_step_shorter_than_a_day_is_said_as_a_step_with_its_length_not_a_day(tmp_path):
    from killswitch.client import LockDocument
    from killswitch.face.console.model import _resume
    from killswitch.figures import step_of
    from killswitch.render.status import status_text

    w = make(tmp_path, text=GUARD + RESUME.replace("every: 1d", "every: 2m"))
    halt_and_reset(w)
    d = w.desk.check_order(order(amount=1))
    assert d.allow and d.reason.endswith("(step 1 of 2 (every 2m))"), d.reason
    status = w.desk.status()
    assert status.resuming[0].step_ms == 120_000
    no_locks = LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False)
    text = status_text(status, no_locks)
    assert f"RESUMING bot-guard {ACCOUNT}: step 1 of 2 (every 2m) since " in text and "day 1 of 2" not in text
    assert _resume(status.resuming[0], w.clock())["step"] == "step 1 of 2 (every 2m)"  # the console's
    assert [step_of(2, 3, None), step_of(2, 3, DAY), step_of(1, 4, 90 * 60_000), step_of(1, 2, 3_600_000 + 5_000)] \
        == ["day 2 of 3", "day 2 of 3", "step 1 of 4 (every 1h30m)", "step 1 of 2 (every 1h5s)"]
