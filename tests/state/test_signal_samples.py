"""The charted signals' samples in the store, once for SQLite and once for PostgreSQL: stored and
read back per policy instance in time order, replaced on a second save of the same tick, trimmed
past the retention in the same write, and refused (nothing written) under a stale fence."""

from __future__ import annotations

import pytest

from killswitch.state import FencedError, SignalSampleRow


def leader(store, holder="runner-a"):
    fence = store.acquire_lease(holder, 10_000, 0)
    assert fence is not None
    return fence


def test_samples_read_back_per_instance_in_time_order(store):
    fence = leader(store)
    store.save_signal_samples([SignalSampleRow("p", "venue/acct", 2_000, {"equity": 99.5, "dd": None}),
                               SignalSampleRow("p", "venue/acct", 1_000, {"equity": 100.0, "dd": 0.0}),
                               SignalSampleRow("q", "venue/acct", 1_000, {"equity": 100.0})], fence)
    rows = store.signal_samples("p", "venue/acct", 0)
    assert rows == [SignalSampleRow("p", "venue/acct", 1_000, {"equity": 100.0, "dd": 0.0}),
                    SignalSampleRow("p", "venue/acct", 2_000, {"equity": 99.5, "dd": None})]
    assert store.signal_samples("p", "venue/acct", 1_500) == rows[1:]
    assert store.signal_samples("p", "venue/acct", 0, until_ms=2_000) == rows[:1]
    assert store.signal_samples("p", "other", 0) == []


def test_a_second_save_of_a_tick_replaces_it_and_keep_from_trims(store):
    fence = leader(store)
    store.save_signal_samples([SignalSampleRow("p", "s", t, {"equity": float(t)}) for t in (1, 2, 3)], fence)
    store.save_signal_samples([SignalSampleRow("p", "s", 3, {"equity": 30.0}),
                               SignalSampleRow("p", "s", 4, {"equity": 4.0})], fence, keep_from=3)
    assert [(r.ts_ms, r.values["equity"]) for r in store.signal_samples("p", "s", 0)] == [(3, 30.0), (4, 4.0)]


def test_a_stale_fence_writes_nothing(store):
    old = leader(store)
    store.release_lease("runner-a")
    new = leader(store, "runner-b")
    assert new > old
    with pytest.raises(FencedError):
        store.save_signal_samples([SignalSampleRow("p", "s", 1, {"equity": 1.0})], old, keep_from=10)
    store.save_signal_samples([SignalSampleRow("p", "s", 5, {"equity": 5.0})], new)
    with pytest.raises(FencedError):
        store.save_signal_samples([], old, keep_from=10)
    assert [r.ts_ms for r in store.signal_samples("p", "s", 0)] == [5]
