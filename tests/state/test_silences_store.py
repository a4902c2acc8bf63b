"""Silences and acknowledgements in the state store, once for SQLite and once for PostgreSQL:
they round-trip exactly (regular-expression matchers included), an expiry replaces the row in
place, they survive a reopen, and a deposed leader's write is refused and changes nothing."""

from __future__ import annotations

import pytest

from killswitch.policy.matchers import parse_matcher
from killswitch.silences import Acknowledgement, Silence
from killswitch.state import FencedError

H = 3_600_000


def silence(sid="s-1", *, ends=2 * H, author="alice", comment="I have it: flash crash on BTC") -> Silence:
    return Silence(sid, (parse_matcher("policy=futures-book"), parse_matcher('severity=~"critical|warning"'),
                         parse_matcher("scope!=binanceusdm/other")),
                   starts_ms=0, ends_ms=ends, author=author, comment=comment, created_ms=0, updated_ms=0)


def test_a_silence_round_trips_and_survives_a_reopen(open_store_):
    s = open_store_()
    fence = s.acquire_lease("runner-a", 10_000, 0)
    s.save_silence(silence(), fence)
    s.save_silence(silence("s-2", ends=H // 2, author="bob", comment="noisy feed"), fence)
    s.close()
    again = open_store_()
    got = again.silences()
    assert got == [silence(), silence("s-2", ends=H // 2, author="bob", comment="noisy feed")]
    assert got[0].matches({"policy": "futures-book", "severity": "warning", "scope": "binanceusdm/main"})
    assert not got[0].matches({"policy": "futures-book", "severity": "info"})
    assert [x.id for x in again.silences(ending_after_ms=H)] == ["s-1"]  # s-2 ended by then


def test_an_expiry_replaces_the_silence_in_place(store):
    fence = store.acquire_lease("runner-a", 10_000, 0)
    store.save_silence(silence(), fence)
    store.save_silence(silence().expire("bob", 600_000), fence)
    [got] = store.silences()
    assert (got.ends_ms, got.expired_by, got.updated_ms, got.author) == (600_000, "bob", 600_000, "alice")
    assert got.state(600_000) == "expired" and got.state(599_999) == "active"


def test_acknowledgements_are_appended_and_read_in_order(store):
    fence = store.acquire_lease("runner-a", 10_000, 0)
    store.record_ack(Acknowledgement("futures-book/binanceusdm/main/L3/e1", "alice", 1_000, "on it"), fence)
    store.record_ack(Acknowledgement("futures-book/binanceusdm/main/L3/e1", "bob", 2_000, "taking over"), fence)
    store.record_ack(Acknowledgement("other/x/L1/e1", "carol", 3_000), fence)
    assert [(a.author, a.comment) for a in store.acks()] == [("alice", "on it"), ("bob", "taking over"),
                                                             ("carol", "")]
    assert [a.author for a in store.acks(since_ms=2_000)] == ["bob", "carol"]


def test_a_deposed_leader_records_no_silence_and_no_acknowledgement(store):
    old = store.acquire_lease("runner-a", 1_000, 0)
    assert store.acquire_lease("runner-b", 1_000, 5_000) == old + 1
    with pytest.raises(FencedError):
        store.save_silence(silence(), old)
    with pytest.raises(FencedError):
        store.record_ack(Acknowledgement("p/s/L1/e1", "alice", 1), old)
    assert store.silences() == [] and store.acks() == []


def test_a_silence_made_from_an_incident_keeps_its_tie_and_an_extension_unties_it(store):
    from dataclasses import replace

    fence = store.acquire_lease("runner-a", 10_000, 0)
    tied = replace(silence(), incident="futures-book/binanceusdm/main/L3/e1", tied=True)
    store.save_silence(tied, fence)
    [got] = store.silences()
    assert got == tied and got.tied and got.incident == "futures-book/binanceusdm/main/L3/e1"
    assert got.state(0, {"other"}) == "expired" and got.state(0, {got.incident}) == "active"
    store.save_silence(replace(tied, tied=False, ends_ms=5 * H, updated_ms=60_000), fence)
    [got] = store.silences()
    assert not got.tied and got.ends_ms == 5 * H and got.state(0, {"other"}) == "active"


def test_a_silence_keeps_the_highest_stage_it_held_back_and_an_escalation_pages_through(store):
    """A silence made while stage 2 was open holds back stage 2 and below; the escalation to stage 3
    (an incident the person silencing never saw) pages through it (fourth walk, issue 65)."""
    from dataclasses import replace

    from killswitch.silences import silencing

    fence = store.acquire_lease("runner-a", 10_000, 0)
    store.save_silence(replace(silence(), up_to_level=2), fence)
    [got] = store.silences()
    assert got.up_to_level == 2
    page = {"policy": "futures-book", "severity": "critical", "scope": "binanceusdm/main", "event": "stage_transition"}
    assert silencing({**page, "level": "2"}, [got], 1) == ("s-1",)
    assert silencing({**page, "level": "3"}, [got], 1) == ()  # the escalation pages
    assert silencing({**page, "event": "snapshot_failed"}, [got], 1) == ("s-1",)  # a page of no stage: held
    ahead = replace(silence("s-2"), up_to_level=None)  # made ahead of any incident: every level, as before
    assert silencing({**page, "level": "3"}, [ahead], 1) == ("s-2",)


def test_a_silence_keeps_the_incidents_it_saw_and_another_policys_stage_entry_pages_through(store):
    """A silence made while one incident was open holds back that incident's pages and what is not
    a stage entry; a stage entry of any other incident (another policy on the scope, at the same
    stage) pages through it, read back from the store (fifth walk, issue 65). A row stored before
    the incidents were kept keeps the stage rule."""
    from dataclasses import replace

    from killswitch.silences import silencing

    seen = "futures-book/binanceusdm/main/L1/e1"
    fence = store.acquire_lease("runner-a", 10_000, 0)
    store.save_silence(replace(silence(), matchers=(parse_matcher("scope=binanceusdm/main"),),
                               up_to_level=1, incidents=(seen,)), fence)
    [got] = store.silences()
    assert got.incidents == (seen,) and got.up_to_level == 1
    page = {"policy": "futures-book", "severity": "critical", "scope": "binanceusdm/main", "event": "stage_transition",
            "level": "1", "incident": seen}
    assert silencing(page, [got], 1) == ("s-1",)  # its reminders, its resolution
    other = {**page, "policy": "bot-a-guard", "incident": "bot-a-guard/binanceusdm/main/L1/e1"}
    assert silencing(other, [got], 1) == ()  # never seen: pages
    assert silencing({**page, "level": "2", "incident": "futures-book/binanceusdm/main/L2/e1"}, [got], 1) == ()
    assert silencing({**page, "incident": "futures-book/binanceusdm/main/L1/e2"}, [got], 1) == ()  # a re-entry
    blind = {"event": "scope_blind", "scope": "binanceusdm/main", "severity": "warning", "level": "2"}
    assert silencing(blind, [got], 1) == ("s-1",)  # not a stage entry: the matchers decide
    legacy = replace(got, id="s-2", incidents=None)
    store.save_silence(legacy, fence)
    assert [s.incidents for s in store.silences() if s.id == "s-2"] == [None]
    assert silencing(other, [legacy], 1) == ("s-2",)  # as before: a stage at or below 1
