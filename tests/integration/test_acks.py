"""Acknowledgements of a live runner's incident: a second person's does not replace the first
(both are kept, stored and shown), and a comment that starts with its author's own name is not
shown with the name twice."""

from __future__ import annotations

import asyncio

from killswitch.client import LockDocument
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.render.status import status_text
from killswitch.silences import holders, own_words
from tests.integration.runner.rig import TICK_MS, graph, setup, started

SCOPE = "simulated/sim-main"
INCIDENT = "crash-ladder/simulated/sim-main/L3/e3"
NO_LOCKS = LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False)


def test_own_words_drops_the_authors_name_said_again():
    assert own_words("alice", "alice: on it") == "on it"
    assert own_words("alice", "  alice:on it ") == "on it"
    assert own_words("alice", "bob: on it") == "bob: on it"  # someone else's name is the author's words
    assert own_words("alice", "alice is on it") == "alice is on it"


def test_a_second_acknowledgement_keeps_the_first_and_both_are_shown_and_stored(tmp_path):
    runner, _, clock, store, _, desk = setup(tmp_path)

    async def go():
        await started(runner, clock)
        first = await desk.acknowledge(None, "crash-ladder", SCOPE, "alice: on it", actor="alice")
        clock.advance(1_000)
        second = await desk.acknowledge(INCIDENT, None, None, "checking residuals", actor="bob")
        return first, second

    first, second = asyncio.run(go())
    assert first.done and first.reason == f"ACKNOWLEDGED: {INCIDENT} by alice"
    assert second.done and second.reason.startswith(f"ACKNOWLEDGED: {INCIDENT} by bob; alice has it too (since ")
    assert second.reason.endswith(": on it)")
    (scope,) = desk.status().scopes
    assert [(a.author, a.comment) for a in scope.acks] == [("alice", "on it"), ("bob", "checking residuals")]
    assert scope.ack is not None and scope.ack.author == "bob"
    text = status_text(desk.status(), NO_LOCKS)
    assert "ACKNOWLEDGED by alice at " in text and "; bob at " in text and "alice: alice:" not in text
    assert ": on it; bob at " in text
    # stored both: a restart on the same store shows both
    again, again_desk, again_parts = build_runner_and_desk(
        graph(), runner.venues, store, lock_path=tmp_path / "again.json", dry_run=False,
        clock=clock, confirm_gap_ms=TICK_MS)
    asyncio.run(again.start())
    assert [a.author for a in again_desk.status().scopes[0].acks] == ["alice", "bob"]
    rows = [r.payload for r in store.audit_rows(kinds=["incident_acknowledged"])]
    assert rows[1]["previous"]["by"] == "alice" and rows[0]["comment"] == "on it"


def test_the_same_acknowledgement_said_again_is_answered_already_and_audited_once(tmp_path):
    runner, _, clock, store, _, desk = setup(tmp_path)

    async def go():
        await started(runner, clock)
        first = await desk.acknowledge(None, "crash-ladder", SCOPE, "on it", actor="alice")
        at = clock()
        clock.advance(30_000)
        again = await desk.acknowledge(INCIDENT, None, None, "alice: on it", actor="alice")
        return first, again, at

    first, again, at = asyncio.run(go())
    assert first.done and first.reason == f"ACKNOWLEDGED: {INCIDENT} by alice"
    from killswitch.runner.lock.lock import iso_ms

    assert again.done and again.reason == f"ALREADY_ACKNOWLEDGED: {INCIDENT} by alice at {iso_ms(at)}: on it", \
        again.reason
    assert len(store.audit_rows(kinds=["incident_acknowledged"])) == 1
    (scope,) = desk.status().scopes
    assert [(a.author, a.ts_ms) for a in scope.acks] == [("alice", at)]


def test_a_persons_new_words_say_they_replace_their_note(tmp_path):
    """Status, the console and the runbook show each person's latest note: an ack with new words
    says which note it replaced (walk 10 of issue 65: both answered a bare ACKNOWLEDGED)."""
    from killswitch.runner.lock.lock import iso_ms

    runner, _, clock, store, _, desk = setup(tmp_path)

    async def go():
        await started(runner, clock)
        await desk.acknowledge(None, "crash-ladder", SCOPE, "checking the book", actor="alice")
        at = clock()
        clock.advance(1_000)
        again = await desk.acknowledge(INCIDENT, None, None, "again", actor="alice")
        return again, at

    again, at = asyncio.run(go())
    assert again.done and again.reason == (f"ACKNOWLEDGED: {INCIDENT} by alice (note updated; was: "
                                           f"'checking the book' at {iso_ms(at)})"), again.reason
    assert sorted(r.payload["comment"] for r in store.audit_rows(kinds=["incident_acknowledged"])) == [
        "again", "checking the book"]  # both audited: the report keeps both
    (scope,) = desk.status().scopes
    assert [(a.author, a.comment) for a in scope.acks] == [("alice", "again")]


def test_holders_keep_each_authors_latest_in_the_order_said():
    from killswitch.silences import Acknowledgement as A

    got = holders([A("i", "alice", 1, "a"), A("i", "bob", 2, "b"), A("i", "alice", 3, "again")])
    assert [(a.author, a.comment) for a in got] == [("bob", "b"), ("alice", "again")]


def test_the_runbook_shows_every_acknowledgement_each_once(tmp_path):
    """Alice's ack, then Bob's, then Alice's again: the runbook (the repository's templates and
    the built-in one) shows both people, each once with their latest note, in the order made,
    and the author's name is not said twice."""
    import re
    from pathlib import Path

    from adapters.simulated.adapter import SimulatedAdapter
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.scenarios import build
    from killswitch.runbooks.sink import RunbookSink
    from killswitch.state import open_store
    from tests.integration.runner.rig import T0

    for name, root in (("templates", Path(__file__).resolve().parents[2] / "runbooks"), ("builtin", None)):
        clock = ManualClock(T0)
        store = open_store(f"sqlite://{tmp_path / (name + '.db')}")
        adapter = SimulatedAdapter(build("flash-crash", clock), "sim-main", venue="simulated",
                                   labels={"book": "futures"}, timeout_s=2.0)
        runner, desk, parts = build_runner_and_desk(graph(), {SCOPE: adapter}, store, sinks=[RunbookSink(root)],
                                             lock_path=tmp_path / f"{name}.json", dry_run=False, clock=clock,
                                             confirm_gap_ms=TICK_MS)

        async def go():
            await started(runner, clock)
            for who, note in (("alice", "alice: on it"), ("bob", "checking residuals"), ("alice", "alice: flat now")):
                clock.advance(1_000)
                done = await desk.acknowledge(INCIDENT, None, None, note, actor=who)
                assert done.done, done.reason

        asyncio.run(go())
        rb = store.runbook(INCIDENT)
        said = re.findall(r"\*\*ACKNOWLEDGED\*\* by (\w+) at \S+Z: ([^(\n]+?)(?: \(|$)", rb.markdown, re.M)
        assert said == [("bob", "checking residuals"), ("alice", "flat now")], (name, rb.markdown[:600])
        assert "alice: alice:" not in rb.markdown and rb.markdown.count("by alice at") == 1, name
        assert [a["by"] for a in rb.data["acknowledgements"]] == ["bob", "alice"]
        assert rb.data["acknowledged"]["by"] == "alice" and rb.html.count("ACKNOWLEDGED") == 2, name
        store.close()


def test_a_runbook_stored_with_one_acknowledgement_keeps_it_beside_the_next():
    from killswitch.runbooks.sink import with_ack

    stored = {"acknowledged": {"by": "alice", "at": "t1", "comment": "on it"}}  # before they were all kept
    assert [a["by"] for a in with_ack(stored, {"by": "bob", "at": "t2", "comment": ""})] == ["alice", "bob"]
    assert with_ack({"acknowledged": None}, {"by": "bob", "at": "t2", "comment": ""}) == [
        {"by": "bob", "at": "t2", "comment": ""}]
