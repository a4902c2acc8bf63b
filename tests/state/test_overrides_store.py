"""Overrides of the pre-trade limits in the state store, once for SQLite and once for PostgreSQL:
an override and its audit row are stored in one transaction (both or neither), an approval
replaces the row in place, they survive a reopen, and a deposed leader's write changes nothing."""

from __future__ import annotations

import pytest

from killswitch.overrides import Override
from killswitch.state import FencedError

H = 3_600_000


def override(oid="ovr-1", *, approvals=(("alice", 0),)) -> Override:
    return Override(oid, "binanceusdm/main", "raise", "BLOCK_TRADE", "agreed with risk", "alice", 0, H, 2,
                    approvals, strategy="mm-btc", limit="max_order_notional", raise_to=200_000.0, value=100_000.0)


def test_an_override_and_its_audit_row_are_stored_together_and_survive_a_reopen(open_store_):
    s = open_store_()
    fence = s.acquire_lease("runner-a", 10_000, 0)
    seq = s.save_override(override(), fence, ("override_requested", 0, override().to_json()))
    s.save_override(override().approve("bob", 60_000), fence, ("override_approved", 60_000, {"id": "ovr-1"}))
    s.close()
    again = open_store_()
    [got] = again.overrides()
    assert got == override().approve("bob", 60_000) and got.approved and got.approvers == ("bob",)
    rows = again.audit_rows(kinds=("override_requested", "override_approved"))
    assert [r.kind for r in rows] == ["override_requested", "override_approved"] and rows[0].seq == seq
    assert again.verify_audit()[0]


def test_a_deposed_leaders_override_is_refused_and_writes_nothing(store):
    old = store.acquire_lease("runner-a", 1_000, 0)
    store.acquire_lease("runner-b", 1_000, 5_000)  # a's lease ran out: b leads
    with pytest.raises(FencedError):
        store.save_override(override(), old, ("override_requested", 6_000, {"id": "ovr-1"}))
    assert store.overrides() == []
    assert store.audit_rows(kinds=("override_requested",)) == []


def test_ended_overrides_are_read_back_for_a_day(store):
    fence = store.acquire_lease("runner-a", 10_000, 0)
    store.save_override(override("ovr-a"), fence, ("override_requested", 0, {}))
    store.save_override(override("ovr-b").end(10 * 60_000, "bob", "ended"), fence, ("override_ended", 0, {}))
    assert [o.id for o in store.overrides(2 * H)] == []  # ovr-a expired at 1h, ovr-b ended at 10m
    assert [o.id for o in store.overrides(5 * 60_000)] == ["ovr-a", "ovr-b"]
