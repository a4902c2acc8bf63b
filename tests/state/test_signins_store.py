"""The console's sign-ins in the state store (tables/signins.py), on SQLite and PostgreSQL: a
session signed out is kept until its cookie would expire and seen from another connection (a
replica, a restarted runner); a name is bound to one subject, a subject to one name, for good."""

from __future__ import annotations


def test_a_session_signed_out_is_seen_by_another_connection_until_it_expires(open_store_):
    one, other = open_store_(), open_store_()
    one.acquire_lease("ks-1", 10_000, 0)  # whoever leads: a standby signs people out all the same
    other.end_session("sid-a", "alice@desk.example", 1_000, 1)
    other.end_session("sid-b", "bob@desk.example", 2_000, 2)
    other.end_session("sid-a", "alice@desk.example", 1_000, 3)  # again: nothing changes
    assert one.ended_sessions(500) == {"sid-a": 1_000, "sid-b": 2_000}
    assert one.ended_sessions(1_000) == {"sid-b": 2_000}  # sid-a's cookie has expired: dropped
    assert other.ended_sessions(1_000) == {"sid-b": 2_000}


def test_a_name_is_bound_to_one_subject_for_good(open_store_):
    one = open_store_()
    assert one.bind_subject("u-1", "alice@desk.example", 1) is None
    assert one.bind_subject("u-1", "alice@desk.example", 2) is None
    one.close()
    again = open_store_()  # a restarted runner
    assert "another subject's" in again.bind_subject("u-2", "alice@desk.example", 3)
    assert "signed in as alice@desk.example before" in again.bind_subject("u-1", "alice2@desk.example", 4)
    assert again.bind_subject("u-2", "bob@desk.example", 5) is None
