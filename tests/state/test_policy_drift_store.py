"""The policy drift verdicts' table (tables/drift.py), on SQLite and PostgreSQL: the latest verdict
per runner (its holder), replaced by the next, kept across a reopen, and each replica's its own."""

from __future__ import annotations


def _verdict(state: str, checked_ms: int, **more) -> dict:
    return {"state": state, "against": "origin/main:policies/", "expected_revision": "a" * 40,
            "detail": f"{state} as checked", "documents": [], "checked_ms": checked_ms, "by": "drift-bot", **more}


def test_a_verdict_is_kept_per_holder_and_replaced_by_the_next(store):
    assert store.policy_drift("ks-0") is None
    store.save_policy_drift("ks-0", _verdict("in_sync", 1_000), 1_001)
    store.save_policy_drift("ks-1", _verdict("diverged", 1_000, documents=["futures-book.yaml"]), 1_002)
    store.save_policy_drift("ks-0", _verdict("behind", 2_000), 2_001)
    assert store.policy_drift("ks-0") == _verdict("behind", 2_000)
    assert store.policy_drift("ks-1")["documents"] == ["futures-book.yaml"]
    assert store.policy_drift("ks-2") is None


def test_a_verdict_survives_a_reopen_and_needs_no_lease(open_store_):
    first = open_store_()
    first.acquire_lease("ks-1", 10_000, 0)  # another runner leads: a standby's verdict is stored all the same
    first.save_policy_drift("ks-0", _verdict("reload_failing", 5_000), 5_001)
    first.close()
    assert open_store_().policy_drift("ks-0") == _verdict("reload_failing", 5_000)
