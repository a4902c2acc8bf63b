"""The stored locks' table (tables/stored_locks.py), on SQLite and PostgreSQL: a request stored
unfenced by a runner that does not lead, listed while it waits, in the order stored, and marked
taken up once, fenced by the leader's token."""

from __future__ import annotations

import pytest

from killswitch.state import FencedError


def _request(scope: str, mode: str = "halted", **more) -> dict:
    return {"scope": scope, "mode": mode, "reason": "desk call", "ttl_s": None, "by": "alice", **more}


def test_a_stored_lock_waits_in_order_until_marked_taken(store):
    a = store.store_lock("r-1", _request("simulated/a"), "ks-0", 1_000)
    b = store.store_lock("r-2", _request("simulated/b", "reducing"), "ks-1", 1_001)
    assert (a.request_id, a.scope, a.mode, a.stored_by, a.stored_ms, a.applied_ms) == \
        ("r-1", "simulated/a", "halted", "ks-0", 1_000, None)
    assert b.request == _request("simulated/b", "reducing")
    assert [s.request_id for s in store.stored_locks()] == ["r-1", "r-2"]
    fence = store.acquire_lease("ks-0", 10_000, 2_000)
    assert store.stored_lock_taken("r-1", fence, 2_100, "LOCKED: scope=simulated/a mode=halted")
    assert not store.stored_lock_taken("r-1", fence, 2_200, "again")  # marked once
    assert [s.request_id for s in store.stored_locks()] == ["r-2"]
    every = store.stored_locks(waiting=False)
    assert [(s.request_id, s.applied_ms, s.applied_fence, s.result) for s in every] == [
        ("r-1", 2_100, fence, "LOCKED: scope=simulated/a mode=halted"), ("r-2", None, None, None)]


def test_marking_a_stored_lock_is_fenced(store):
    store.store_lock("r-1", _request("simulated/a"), "ks-1", 1_000)
    old = store.acquire_lease("ks-0", 100, 1_000)
    new = store.acquire_lease("ks-1", 10_000, 5_000)  # ks-0's lease ran out; ks-1 took it
    assert new != old
    with pytest.raises(FencedError):
        store.stored_lock_taken("r-1", old, 5_100, "LOCKED")
    assert [s.request_id for s in store.stored_locks()] == ["r-1"]  # still waiting


def test_storing_a_request_id_again_keeps_the_first(store):
    store.store_lock("r-1", _request("simulated/a"), "ks-0", 1_000)
    again = store.store_lock("r-1", _request("simulated/b"), "ks-1", 9_000)
    assert (again.scope, again.stored_by, again.stored_ms) == ("simulated/a", "ks-0", 1_000)
    assert len(store.stored_locks()) == 1


def test_a_second_connection_sees_a_stored_lock_at_once(store, open_store_):
    other = open_store_()
    store.store_lock("r-1", _request("simulated/a"), "ks-1", 1_000)
    assert [s.request_id for s in other.stored_locks()] == ["r-1"]
