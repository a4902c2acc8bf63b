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


def test_a_runner_restarted_under_another_name_or_a_standby_takes_up_the_latest_verdict_about_its_graph(store):
    """Issue 81, medium 8: a verdict kept per process name was lost when the process came back as
    another (host-pid): the one a runner shows is its own, else the latest posted to a runner of
    its store about the graph it runs, with the runner it was posted to and when."""
    assert store.posted_policy_drift("host-2", "sha256:g1") is None
    store.save_policy_drift("host-1", _verdict("diverged", 1_000), 1_001, "sha256:g1")
    store.save_policy_drift("ks-standby", _verdict("in_sync", 500), 501, "sha256:g1")  # older, same graph
    store.save_policy_drift("ks-old", _verdict("behind", 2_000), 2_001, "sha256:g0")  # newer, another graph
    got = store.posted_policy_drift("host-2", "sha256:g1")
    assert (got.holder, got.verdict, got.posted_ms, got.digest) == ("host-1", _verdict("diverged", 1_000), 1_001,
                                                                    "sha256:g1")
    assert store.posted_policy_drift("host-2", "sha256:g9") is None  # about no graph it runs
    own = store.posted_policy_drift("ks-standby", "sha256:g1")  # its own first, though older
    assert (own.holder, own.verdict["state"]) == ("ks-standby", "in_sync")
    assert store.policy_drift("host-1") == _verdict("diverged", 1_000)  # read as before


def test_a_row_kept_before_digests_is_its_holders_alone_and_a_long_silent_holder_goes(store, raw):
    raw("INSERT INTO policy_drift (holder, verdict, posted_ms) VALUES (?, ?, ?)",
        ("ks-0", '{"state": "in_sync"}', 1_000))  # as migration 11 kept it: no digest
    assert store.posted_policy_drift("ks-1", "sha256:g1") is None
    assert store.posted_policy_drift("ks-0", "sha256:g1").verdict == {"state": "in_sync"}
    month = 30 * 86_400_000
    store.save_policy_drift("ks-1", _verdict("in_sync", 2_000), 2_000 + month, "sha256:g1")
    assert store.policy_drift("ks-0") is None and store.policy_drift("ks-1") is not None  # ks-0: silent 30 days
