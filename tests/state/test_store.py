"""The StateStore contract, once for SQLite and once for PostgreSQL (the ``backend`` fixture).

Migrations, engine state round trip, the idempotent order journal and what a restarted runner
must reconcile (after a close and after a real crash), distinct approvals, the audit chain and
its tamper detection, the leader lease and its fencing tokens, and lease races between stores.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from killswitch.engine.state import State
from killswitch.state import (
    FencedError,
    SchemaTooNewError,
    StateStore,
    StoreError,
    UnknownIntentError,
    open_store,
)
from killswitch.state.migrations import MIGRATIONS, Migration
from killswitch.state.sql import SqlStore
from killswitch.state.store import IntentRow

from ..conftest import ROOT, reset_pg as _reset_pg
from ..unit.engine_helpers import MIN, policy_graph, pos, run, snap

LATEST = MIGRATIONS[-1].version


def intent(store, fence, coid, *, amount=1.0, ts_ms=None, decision="p/simulated/a/L1/e1"):
    payload = json.dumps({"client_order_id": coid, "limit_price": 99.5, "chunk": 1, "chunks": 1})
    row = IntentRow(coid, decision, "simulated", "a", "BTC/USDT:USDT", "sell", None, amount, True, payload)
    return store.journal_intents(fence, [row], ts_ms=ts_ms)[0]


def leader(store, holder="runner-a"):
    fence = store.acquire_lease(holder, 10_000, 0)
    assert fence is not None
    return fence


# --- migrations -----------------------------------------------------------------------------------------


def test_store_satisfies_the_protocol(store):
    assert isinstance(store, StateStore)


def test_migrates_from_empty_and_reopening_is_idempotent(open_store_, raw):
    s = open_store_()
    assert s.schema_version() == LATEST
    assert s.migrate() == LATEST
    s.close()
    s2 = open_store_()
    assert s2.schema_version() == LATEST
    assert raw("SELECT version FROM schema_version ORDER BY version") == [(v.version,) for v in MIGRATIONS]


def test_later_migration_applies_once_in_order_on_reopen(open_store_, raw, monkeypatch):
    s = open_store_()
    intent(s, leader(s), "keep-me")
    s.close()
    extra = Migration(LATEST + 1, "test: a column added later", (
        "ALTER TABLE order_intent ADD COLUMN note TEXT",
        "UPDATE order_intent SET note = 'migrated'",
    ))
    monkeypatch.setattr(SqlStore, "migrations", MIGRATIONS + (extra,))
    s2 = open_store_()
    assert s2.schema_version() == LATEST + 1
    open_store_().close()  # a third open applies nothing twice (ALTER would fail)
    assert raw("SELECT client_order_id, note FROM order_intent") == [("keep-me", "migrated")]
    assert [r[0] for r in raw("SELECT version FROM schema_version ORDER BY version")] == \
        [m.version for m in MIGRATIONS] + [LATEST + 1]
    monkeypatch.undo()  # the older code meets the newer database
    with pytest.raises(SchemaTooNewError, match=f"schema version {LATEST + 1} is newer"):
        open_store_()


def test_database_newer_than_the_code_refuses_to_open(open_store_, raw):
    open_store_().close()
    raw("INSERT INTO schema_version (version, description, applied_ms) VALUES (?, ?, ?)", (99, "future", 0))
    with pytest.raises(SchemaTooNewError, match="99"):
        open_store_()


# --- engine state ----------------------------------------------------------------------------------------

LADDER = dict(
    signals="s: {equity_change: {against: baseline, baseline: 10k}}",
    triggers="""
        t1: {when: "s <= -2%", for: 2 ticks, on_missing_data: hold}
        t3: {when: "s <= -6%", on_missing_data: hold}
    """,
    stages="""
        - {level: 1, name: warn, on: [t1], cooldown: 10m, actions: [{lock_trading: {mode: reducing}}]}
        - {level: 3, name: halt, on: [t3], reset: manual, approvals: 2, actions: [close_all]}
    """,
)


def engine_state() -> State:
    """A real engine state: two accounts, a latched halt, pending trigger counts, PnL history."""
    g = policy_graph(**LADDER)
    book = [pos("BTC/USDT:USDT", "long", 1.5, 61_000.5, -120.25), pos("ETH/USDT:USDT", "short", 3, 3_000.1, 0.1)]
    ticks = [(m * MIN, [snap(eq, m * MIN, account="a", positions=book), snap(9_900.0, m * MIN, account="b")])
             for m, eq in enumerate([10_000.0, 9_750.0, 9_700.0, 9_350.0, 9_300.0])]
    _, state = run(g, ticks)
    assert state.scope("p", "simulated/a").stage.level == 3
    return state


def test_engine_state_round_trip(open_store_):
    s = open_store_()
    assert s.load_engine_state() is None
    state = engine_state()
    doc = state.to_json()
    fence = leader(s)
    s.save_engine_state(doc, "sha256:abc", fence)
    s.close()
    reloaded = open_store_().load_engine_state()
    assert reloaded == doc
    assert State.from_json(reloaded).to_json() == doc
    assert State.from_json(reloaded).scope("p", "simulated/a").stage.level == 3  # a halt stays a halt


def pnl_row(ts, account="simulated/a", window=3_600_000, v=1.0):
    from killswitch.state import PnlSampleRow

    return PnlSampleRow(window, account, ts, [["BTC/USDT:USDT", "long"], ["ETH/USDT:USDT", "short"]], [v, -0.1 * v])


def test_pnl_samples_are_saved_with_the_state_trimmed_and_read_back_in_order(open_store_):
    s = open_store_()
    assert s.load_engine_state_and_pnl() == (None, [])
    fence = leader(s)
    doc = engine_state().to_json(pnl_samples=False)
    s.save_engine_state(doc, "d", fence, pnl_added=[pnl_row(2_000), pnl_row(1_000, v=0.1 + 0.2),
                                                  pnl_row(1_000, account="simulated/b"), pnl_row(1_000, window=60_000)])
    s.save_engine_state(doc, "d", fence, pnl_added=[pnl_row(3_000)], pnl_kept=[(3_600_000, "simulated/a", 2_000),
                                                                            (60_000, "simulated/a", None)])
    s.save_engine_state(doc, "d", fence, pnl_added=[pnl_row(3_000, v=7.0)])  # saved again: replaced
    got_doc, rows = open_store_().load_engine_state_and_pnl()
    assert got_doc == doc
    assert rows == [pnl_row(2_000), pnl_row(3_000, v=7.0), pnl_row(1_000, account="simulated/b")]
    assert rows[0].values[0] == 1.0 and isinstance(rows[0].keys[0], list)
    s.save_engine_state(doc, "d", fence, pnl_added=[pnl_row(4_000, v=0.1 + 0.2)])
    assert open_store_().load_engine_state_and_pnl()[1][-2] == pnl_row(4_000, v=0.1 + 0.2)  # floats exact


def test_a_fenced_save_stores_no_pnl_sample_and_drops_none(open_store_):
    a, b = open_store_(), open_store_()
    t1 = a.acquire_lease("a", 1_000, 0)
    a.save_engine_state({"who": "a"}, "d", t1, pnl_added=[pnl_row(1_000)])
    b.acquire_lease("b", 1_000, 2_000)
    with pytest.raises(FencedError):
        a.save_engine_state({"who": "a, late"}, "d", t1, pnl_added=[pnl_row(2_000)],
                            pnl_kept=[(3_600_000, "simulated/a", None)])
    assert b.load_engine_state_and_pnl() == ({"who": "a"}, [pnl_row(1_000)])


def test_engine_state_save_replaces_the_previous_one(store):
    fence = leader(store)
    store.save_engine_state(State().to_json(), "d1", fence)
    doc = engine_state().to_json()
    store.save_engine_state(doc, "d2", fence)
    assert store.load_engine_state() == doc


# --- order journal --------------------------------------------------------------------------------------------


def test_journal_intent_is_idempotent(store):
    fence = leader(store)
    assert intent(store, fence, "ks-1", amount=1.0) is True
    assert intent(store, fence, "ks-1", amount=7.0) is False  # a retry: nothing changes
    [entry] = store.journal()
    assert (entry.client_order_id, entry.amount, entry.fence, entry.status) == ("ks-1", 1.0, fence, None)
    assert entry.reduce_only is True and entry.payload["limit_price"] == 99.5


def test_journal_intents_writes_a_batch_in_order_and_reports_the_known_ones(store):
    fence = leader(store)
    intent(store, fence, "ks-2", amount=2.0)

    def row(coid, amount):
        return IntentRow(coid, "p/simulated/a/L3/e1", "simulated", "a", f"S{coid}/USDT:USDT", "sell", None, amount,
                         True, json.dumps({"client_order_id": coid}))

    batch = [row("ks-1", 1.0), row("ks-2", 9.0), row("ks-3", 3.0), row("ks-1", 5.0)]
    assert store.journal_intents(fence, batch, ts_ms=7) == [True, False, True, False]
    got = {e.client_order_id: e for e in store.journal()}
    assert [e.client_order_id for e in store.journal()] == ["ks-2", "ks-1", "ks-3"]  # journal order
    assert (got["ks-1"].amount, got["ks-2"].amount, got["ks-3"].created_ms) == (1.0, 2.0, 7)  # the first copy stays
    big = [row(f"b{i}", 1.0) for i in range(1_234)]  # more ids than one IN (...) list holds
    assert store.journal_intents(fence, big + [row("ks-3", 1.0)]) == [True] * 1_234 + [False]
    assert len(store.pending_intents()) == 3 + 1_234


def test_journal_intents_is_all_or_nothing(store):
    fence = leader(store)
    rows = [IntentRow("a", "d", "v", "a", "BTC", "sell", None, 1.0, True, "{}"),
            IntentRow("b", "d", "v", "a", "BTC", "sell", None, 1.0, True, "{not json")]
    with pytest.raises(ValueError):
        store.journal_intents(fence, rows)
    with pytest.raises(FencedError):
        store.journal_intents(fence + 1, rows[:1])
    assert store.journal() == []


def test_results_settle_intents_and_the_rest_is_pending(store):
    fence = leader(store)
    for coid in ("a", "b", "c"):
        intent(store, fence, coid)
    store.journal_result(fence, "a", "sent", None, None, None, None)
    store.journal_result(fence, "a", "filled", 1.0, 99.7, None, "filled in one go")
    store.journal_result(fence, "b", "partially_filled", 0.4, 99.8, None, None)
    store.journal_result(fence, "b", "unknown", None, None, "TIMEOUT", "no answer in 5s")
    pending = store.pending_intents()
    assert [e.client_order_id for e in pending] == ["b", "c"]
    assert (pending[0].status, pending[0].reason_code) == ("unknown", "TIMEOUT")  # the latest result
    assert pending[1].status is None
    a = next(e for e in store.journal() if e.client_order_id == "a")
    assert (a.status, a.filled, a.avg_price, a.detail, a.final) == ("filled", 1.0, 99.7, "filled in one go", True)


@pytest.mark.parametrize("status", ["filled", "canceled", "rejected", "expired", "failed"])
def test_every_final_status_settles_an_intent(store, status):
    fence = leader(store)
    intent(store, fence, "x")
    store.journal_result(fence, "x", status, 0.0, None, "INVALID_ORDER", None)
    assert store.pending_intents() == []


def test_result_for_an_intent_never_journaled_is_refused(store):
    fence = leader(store)
    with pytest.raises(UnknownIntentError, match="ghost"):
        store.journal_result(fence, "ghost", "filled", 1.0, 1.0, None, None)


def test_unknown_status_is_refused(store):
    fence = leader(store)
    intent(store, fence, "x")
    with pytest.raises(ValueError, match="unknown order status"):
        store.journal_result(fence, "x", "done", 1.0, 1.0, None, None)
    assert [e.status for e in store.pending_intents()] == [None]


def test_payload_that_is_not_json_is_refused_before_it_is_written(store):
    fence = leader(store)
    with pytest.raises(ValueError):
        store.journal_intents(fence, [IntentRow("x", "d", "v", "a", "BTC", "sell", None, 1.0, True, "{not json")])
    assert store.journal() == []


def test_pending_intents_survive_close_and_reopen(open_store_):
    s = open_store_()
    fence = leader(s)
    intent(s, fence, "sent-1")
    intent(s, fence, "done-1")
    s.journal_result(fence, "done-1", "filled", 1.0, 100.0, None, None)
    s.close()
    assert [e.client_order_id for e in open_store_().pending_intents()] == ["sent-1"]


CRASHER = textwrap.dedent("""
    import os, sys
    from killswitch.state import open_store
    from killswitch.state.store import IntentRow
    s = open_store(sys.argv[1])
    fence = s.acquire_lease("crashed-runner", 60_000, 0)
    for coid in ("c0", "c1", "c2"):
        s.journal_intents(fence, [IntentRow(coid, "p/x/L3/e1", "simulated", "a", "BTC/USDT:USDT", "sell", None, 1.0,
                                            True, "{}")])
    s.journal_result(fence, "c0", "filled", 1.0, 100.0, None, None)
    s.journal_result(fence, "c1", "sent", None, None, None, None)
    print(fence, flush=True)
    os._exit(9)  # a crash: no close, no clean shutdown
""")


def test_pending_intents_survive_a_crash_and_the_next_leader_reconciles_them(open_store_, store_url):
    out = subprocess.run([sys.executable, "-c", CRASHER, store_url], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 9, out.stderr
    old_fence = int(out.stdout)
    s = open_store_()
    assert [(e.client_order_id, e.status) for e in s.pending_intents()] == [("c1", "sent"), ("c2", None)]
    assert s.acquire_lease("new-runner", 10_000, 1_000) is None  # the dead runner's lease runs out first
    fence = s.acquire_lease("new-runner", 10_000, 60_000)
    assert fence is not None and fence > old_fence
    for e in s.pending_intents():  # reconciled with the exchange instead of sent again
        s.journal_result(fence, e.client_order_id, "canceled", 0.0, None, "RECONCILED", None)
    assert s.pending_intents() == []


def test_journal_limit_and_since(store):
    fence = leader(store)
    for i in range(1, 6):
        intent(store, fence, f"o{i}", ts_ms=i * 100)
    assert [e.client_order_id for e in store.journal(limit=2)] == ["o4", "o5"]
    assert [e.client_order_id for e in store.journal(since=300)] == ["o3", "o4", "o5"]
    assert [e.created_ms for e in store.journal(limit=10)] == [100, 200, 300, 400, 500]


# --- approvals ----------------------------------------------------------------------------------------------


def test_approvals_are_distinct_per_scope_and_level(store):
    key = "p|simulated/a"
    assert store.record_approval(key, 3, "alice", "reviewed the fills", 1_000) is True
    assert store.record_approval(key, 3, "alice", "again", 2_000) is False
    assert store.record_approval(key, 3, "bob", "agree", 1_500) is True
    assert store.record_approval(key, 2, "carol", "other level", 1_000) is True
    assert store.record_approval("p|simulated/b", 3, "dave", "other scope", 1_000) is True
    got = store.approvals(key, 3)
    assert [(a.approver, a.reason, a.ts_ms) for a in got] == [("alice", "reviewed the fills", 1_000),
                                                               ("bob", "agree", 1_500)]
    assert store.approvals(key, 1) == []
    # the closure report's read: every approval recorded in a period, oldest first, the end excluded
    got = store.approvals_between(1_000, 1_500)
    assert [(a.scope_key, a.level, a.approver) for a in got] == [
        (key, 2, "carol"), (key, 3, "alice"), ("p|simulated/b", 3, "dave")]
    assert [a.approver for a in store.approvals_between(1_001, 10_000)] == ["bob"]
    assert store.approvals_between(1_501, 10_000) == []


# --- audit chain --------------------------------------------------------------------------------------------


def fill_audit(store, n=5):
    return [store.audit("stage_entered", 1_000 + i, {"i": i, "scope": "simulated/a", "pnl": -0.1 * i, "ü": [1, None]})
            for i in range(n)]


def test_audit_chain_appends_and_verifies(store):
    assert store.verify_audit() == (True, None)  # empty is intact
    assert fill_audit(store) == [1, 2, 3, 4, 5]
    assert store.verify_audit() == (True, None)


def test_audit_detects_an_edited_payload(store, raw):
    fill_audit(store)
    raw("UPDATE audit_log SET payload = ? WHERE seq = 3", ('{"i":2,"pnl":0,"scope":"simulated/a","ü":[1,null]}',))
    assert store.verify_audit() == (False, 3)


def test_audit_detects_a_row_rehashed_after_an_edit_at_the_next_row(store, raw):
    from killswitch.state.store import audit_hash

    fill_audit(store)
    prev = raw("SELECT hash FROM audit_log WHERE seq = 2")[0][0]
    forged = audit_hash(prev, 3, "stage_entered", 1_002, {"i": 2})
    raw("UPDATE audit_log SET payload = ?, hash = ? WHERE seq = 3", ('{"i":2}', forged))
    assert store.verify_audit() == (False, 4)


@pytest.mark.parametrize("where,bad", [("seq = 2", 2), ("seq = 5", 5)])
def test_audit_detects_a_deleted_row(store, raw, where, bad):
    fill_audit(store)
    raw(f"DELETE FROM audit_log WHERE {where}")
    assert store.verify_audit() == (False, bad)


@pytest.mark.parametrize("tamper,bad", [(None, None), ("UPDATE audit_log SET payload = '{}' WHERE seq = 7", 7),
                                         ("DELETE FROM audit_log WHERE seq = 7", 7),
                                         ("DELETE FROM audit_log WHERE seq = 6", 6),
                                         ("DELETE FROM audit_log WHERE seq = 10", 10)])
def test_audit_verify_reads_the_chain_page_by_page(store, raw, monkeypatch, tamper, bad):
    import killswitch.state.tables.audit as sql

    monkeypatch.setattr(sql, "AUDIT_VERIFY_PAGE", 3)  # pages 1-3, 4-6, 7-9, 10
    fill_audit(store, 10)
    if tamper:
        raw(tamper)
    assert store.verify_audit() == (bad is None, bad)


def test_audit_many_chains_as_single_appends_do(open_store_):
    """A batch is the same chain, row for row, as the same appends one at a time would be."""
    rows = [("stage_entered", 1_000 + i, {"i": i, "pnl": -0.1 * i, "ü": [1, None], "s": "a\u2028b"}) for i in range(7)]
    one = open_store_()
    assert one.audit_many(rows[:3]) == [1, 2, 3]
    assert one.audit_many([]) == []
    assert one.audit_many(rows[3:], fence=None) == [4, 5, 6, 7]
    assert one.verify_audit() == (True, None)
    batched = [(r.seq, r.hash) for r in one.audit_rows()]
    head = one.audit_head()
    with pytest.raises(ValueError):
        one.audit_many([("x", 1, {"v": 1}), ("x", 2, {"v": float("nan")})])
    assert one.audit_head() == head  # nothing of a refused batch is written
    from killswitch.state.store import GENESIS_HASH, audit_hash

    prev, expected = GENESIS_HASH, []
    for seq, (kind, ts, payload) in enumerate(rows, 1):
        prev = audit_hash(prev, seq, kind, ts, payload)
        expected.append((seq, prev))
    assert batched == expected


def test_audit_refuses_a_payload_that_is_not_json(store):
    with pytest.raises(ValueError):
        store.audit("x", 1, {"v": float("nan")})
    assert store.audit("x", 1, {"v": 1}) == 1


def test_concurrent_appends_from_two_stores_keep_one_chain(open_store_):
    stores = [open_store_(), open_store_()]
    barrier = threading.Barrier(len(stores))
    errors = []

    def append(s, who):
        barrier.wait()
        try:
            for i in range(25):
                s.audit("tick", i, {"who": who, "i": i})
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=append, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert stores[0].verify_audit() == (True, None)
    assert stores[0].audit("end", 0, {}) == 51


# --- leader lease and fencing ----------------------------------------------------------------------------------------


def test_lease_acquire_renew_refuse_and_take_over_after_expiry(store):
    assert store.current_fence() == 0
    t1 = store.acquire_lease("a", 1_000, 0)
    assert t1 is not None and t1 >= 1
    assert store.acquire_lease("a", 1_000, 500) == t1  # renewed: same token, later expiry
    assert store.lease().expires_ms == 1_500
    assert store.acquire_lease("b", 1_000, 1_499) is None  # a's lease still valid
    t2 = store.acquire_lease("b", 1_000, 1_500)  # expired at 1 500
    assert t2 is not None and t2 > t1
    assert store.acquire_lease("a", 1_000, 1_600) is None
    assert store.current_fence() == t2 and store.lease().holder == "b"


def test_a_standbys_look_at_a_valid_lease_never_waits_on_the_holders_lock(store, store_url, backend):
    """The holder's renewal has the lease row locked (or, on SQLite, the write lock): another
    holder's look at the valid lease answers None at once, without waiting for the lock (a
    standby holding or awaiting the row would delay the leader's renewal past its term)."""
    store.acquire_lease("a", 60_000, 0)
    standby = store.reopen(lock_timeout_ms=200)
    if backend == "sqlite":
        import sqlite3

        held = sqlite3.connect(store_url[len("sqlite://"):], isolation_level=None)
        held.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        held = psycopg.connect(store_url)
        held.execute("SELECT fence FROM lease WHERE id = 1 FOR UPDATE").fetchone()
    try:
        assert standby.acquire_lease("b", 1_000, 1_000) is None
        with pytest.raises(StoreError):  # the lock is really held: a take of a lapsed lease waits and fails
            standby.acquire_lease("b", 1_000, 61_000)
    finally:
        held.close()
        standby.close()


def test_same_holder_after_its_lease_ran_out_gets_a_higher_token(store):
    t1 = store.acquire_lease("a", 1_000, 0)
    t2 = store.acquire_lease("a", 1_000, 5_000)
    assert t2 > t1


def test_journal_of_a_decision_has_its_re_plans_and_nothing_else(store):
    t = leader(store)
    for coid, decision, ts in [("a", "p/x_y/L1/e1", 100), ("b", "p/x_y/L1/e1/r1", 200), ("c", "p/x_y/L1/e10", 200),
                               ("d", "p/xzy/L1/e1", 200), ("e", "p/x_y/L1/e1x", 200), ("f", "p/x_y/L1/e1/r2", 300),
                               ("g", "p/x_y/L1", 300)]:
        intent(store, t, coid, decision=decision, ts_ms=ts)
    store.journal_result(t, "b", "filled", 1.0, 99.0, None, None)
    got = store.journal_of("p/x_y/L1/e1", 100)
    assert [(e.client_order_id, e.status) for e in got] == [("a", None), ("b", "filled"), ("f", None)]
    assert [e.client_order_id for e in store.journal_of("p/x_y/L1/e1", 150)] == ["b", "f"]


def test_heartbeats_keep_the_newest_beat_of_each_source_from_any_replica(open_store_):
    a, b = open_store_(), open_store_()
    assert a.heartbeats() == {}
    a.record_heartbeat("bot-x", 2_000)
    b.record_heartbeat("bot-x", 1_000)  # older, from another replica: ignored
    b.record_heartbeat("bot-y", 1_500)
    assert a.heartbeats() == b.heartbeats() == {"bot-x": 2_000, "bot-y": 1_500}
    b.record_heartbeat("bot-x", 2_500)
    assert a.heartbeats()["bot-x"] == 2_500


def test_a_batch_of_heartbeats_is_stored_as_each_beat_would_be(open_store_):
    a, b = open_store_(), open_store_()
    a.record_heartbeats({})  # nothing to store: no transaction
    a.record_heartbeats({"bot-x": 2_000, "bot-y": 1_000})
    b.record_heartbeats({"bot-x": 1_500, "bot-y": 3_000, "bot-z": 500})  # bot-x older: ignored
    assert a.heartbeats() == {"bot-x": 2_000, "bot-y": 3_000, "bot-z": 500}


def test_deposed_holder_cannot_write_with_its_old_fence(open_store_):
    a, b = open_store_(), open_store_()
    t1 = a.acquire_lease("a", 1_000, 0)
    intent(a, t1, "a-1")
    a.save_engine_state({"who": "a"}, "d", t1)
    t2 = b.acquire_lease("b", 1_000, 2_000)
    assert t2 > t1
    with pytest.raises(FencedError) as err:
        intent(a, t1, "a-2")
    assert (err.value.fence, err.value.current) == (t1, t2)
    with pytest.raises(FencedError):
        intent(a, t1, "a-1")  # a duplicate is fenced too, not silently ignored
    with pytest.raises(FencedError):
        a.save_engine_state({"who": "a, late"}, "d", t1)
    with pytest.raises(FencedError):
        a.journal_result(t1, "a-1", "filled", 1.0, 1.0, None, None)
    assert [e.client_order_id for e in b.journal()] == ["a-1"]
    assert b.load_engine_state() == {"who": "a"}
    b.save_engine_state({"who": "b"}, "d", t2)
    b.journal_result(t2, "a-1", "filled", 1.0, 1.0, None, None)
    assert a.load_engine_state() == {"who": "b"}


def test_a_deposed_leaders_audit_row_is_refused_and_the_chain_stays_intact(open_store_):
    a, b = open_store_(), open_store_()
    t1 = a.acquire_lease("a", 1_000, 0)
    assert a.audit("stage_transition", 1, {"by": "a"}, fence=t1) == 1
    t2 = b.acquire_lease("b", 1_000, 2_000)
    with pytest.raises(FencedError) as err:
        a.audit("stage_transition", 3, {"by": "a, late"}, fence=t1)
    assert (err.value.fence, err.value.current) == (t1, t2)
    assert b.audit("stage_transition", 4, {"by": "b"}, fence=t2) == 2  # the refused row took no seq
    assert a.audit("policy_reloaded", 5, {"by": "a, as a standby"}) == 3  # unfenced rows still append
    assert b.verify_audit() == (True, None)


def test_an_audit_row_with_a_fence_never_issued_is_refused(store, raw):
    t = leader(store)
    with pytest.raises(FencedError, match="never issued"):
        store.audit("x", 1, {}, fence=t + 1)
    assert raw("SELECT COUNT(*) FROM audit_log")[0][0] == 0
    assert store.audit("x", 1, {}, fence=t) == 1


def test_a_fence_that_was_never_issued_is_refused(store):
    t = leader(store)
    with pytest.raises(FencedError, match="never issued"):
        intent(store, t + 1, "x")


def test_release_lets_another_acquire_and_fences_the_releaser(store):
    t1 = store.acquire_lease("a", 60_000, 0)
    assert store.release_lease("b") is False  # not b's to release
    assert store.release_lease("a") is True
    with pytest.raises(FencedError):
        intent(store, t1, "late")
    t2 = store.acquire_lease("b", 60_000, 10)
    assert t2 > t1


def test_stores_racing_for_the_lease_exactly_one_wins(open_store_):
    stores = [open_store_() for _ in range(4)]
    last = 0
    for rnd in range(8):
        now = rnd * 10_000  # the previous round's 5 s lease has run out
        barrier = threading.Barrier(len(stores))
        won: dict[int, object] = {}

        def race(i, s):
            barrier.wait()
            won[i] = s.acquire_lease(f"runner-{i}", 5_000, now)

        threads = [threading.Thread(target=race, args=(i, s)) for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        tokens = [v for v in won.values() if v is not None]
        assert len(won) == len(stores) and len(tokens) == 1, won
        assert tokens[0] > last
        last = tokens[0]
        winner = next(i for i, v in won.items() if v is not None)
        assert stores[0].lease().holder == f"runner-{winner}"


def test_no_write_with_the_old_fence_lands_after_a_takeover(open_store_):
    """The fence is checked in the write's own transaction: a takeover splits the journal in two."""
    a, b = open_store_(), open_store_()
    t1 = a.acquire_lease("a", 1_000, 0)
    written, stopped = [], []

    def keep_writing():
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                intent(a, t1, f"a-{len(written)}")
                written.append(1)
        except FencedError as e:
            stopped.append(e)

    th = threading.Thread(target=keep_writing)
    th.start()
    while len(written) < 5 and th.is_alive():
        time.sleep(0.005)
    t2 = b.acquire_lease("b", 1_000, 5_000)
    intent(b, t2, "b-marker")
    th.join(30)
    assert stopped, "the deposed writer was never fenced"
    rows = b.journal(limit=100_000)
    marker = next(e.seq for e in rows if e.client_order_id == "b-marker")
    assert all(e.seq < marker for e in rows if e.fence == t1)
    assert len([e for e in rows if e.fence == t1]) == len(written)


def test_a_leader_paused_inside_a_write_does_not_block_the_takeover(pg_server):
    """A leader stopped between its fence check and its commit holds the lease row FOR SHARE;
    the server ends its idle transaction, so the standby takes over instead of waiting on it."""
    from killswitch.state.postgres import IDLE_IN_TRANSACTION_TIMEOUT_MS, LOCK_TIMEOUT_MS

    url = pg_server.url()
    _reset_pg(url)
    a, b = open_store(url), open_store(url)
    try:
        t1 = a.acquire_lease("a", 1_000, 0)
        paused, wake, outcome = threading.Event(), threading.Event(), []

        def write_then_pause():
            try:
                with a._tx(write=True) as cur:
                    a._check_fence(cur, t1)  # the lease row now locked FOR SHARE
                    paused.set()
                    wake.wait(30)  # stopped mid-transaction, as under SIGSTOP
                outcome.append("committed")
            except StoreError as e:
                outcome.append(e)

        th = threading.Thread(target=write_then_pause)
        th.start()
        assert paused.wait(10)
        started = time.monotonic()
        t2 = b.acquire_lease("b", 1_000, 5_000)  # a's lease ran out; before the fix: lock timeout
        took = time.monotonic() - started
        wake.set()
        th.join(30)
        assert t2 is not None and t2 > t1
        assert took < LOCK_TIMEOUT_MS / 1000, took
        assert took >= IDLE_IN_TRANSACTION_TIMEOUT_MS / 1000 * 0.9, "the takeover waited for the paused write"
        assert len(outcome) == 1 and isinstance(outcome[0], StoreError), outcome  # its write never lands
        with pytest.raises(FencedError):  # awake, a reconnects and is fenced
            intent(a, t1, "a-late")
        assert b.lease().holder == "b"
    finally:
        wake.set()
        a.close()
        b.close()


# --- runbooks and reading the audit trail ---------------------------------------------------------------


def runbook_record(incident="futures-book/binanceusdm/main/L3/e1", *, created_ms=1_000, markdown="# flatten",
                   data=None):
    from killswitch.state import RunbookRecord

    return RunbookRecord(incident, "futures-book", "binanceusdm/main", 3, created_ms, "sha256:" + "ab" * 32,
                         "c0ffee", "flatten.md.j2", markdown, "<h1>flatten</h1>",
                         json.dumps(data if data is not None else {"incident": incident, "value": 0.1}))


def test_runbook_round_trip_and_a_second_render_replaces_the_first(store):
    assert store.runbook("futures-book/binanceusdm/main/L3/e1") is None
    store.save_runbook(runbook_record(markdown="# first", data={"n": 1}))
    store.save_runbook(runbook_record(markdown="# second — ünïcode", data={"n": 2, "x": 0.1 + 0.2}))
    got = store.runbook("futures-book/binanceusdm/main/L3/e1")
    assert (got.markdown, got.data) == ("# second — ünïcode", {"n": 2, "x": 0.1 + 0.2})
    assert (got.policy, got.scope, got.level, got.template, got.revision) == \
        ("futures-book", "binanceusdm/main", 3, "flatten.md.j2", "c0ffee")
    assert len(store.runbooks()) == 1


def test_a_deposed_leaders_runbook_is_refused_and_the_stored_one_stays(open_store_):
    a, b = open_store_(), open_store_()
    t1 = a.acquire_lease("a", 1_000, 0)
    a.save_runbook(runbook_record(markdown="# by a", data={"by": "a"}), fence=t1)
    t2 = b.acquire_lease("b", 1_000, 2_000)
    with pytest.raises(FencedError) as err:
        a.save_runbook(runbook_record(markdown="# by a, late", data={"by": "a, late"}), fence=t1)
    assert (err.value.fence, err.value.current) == (t1, t2)
    assert b.runbook("futures-book/binanceusdm/main/L3/e1").data == {"by": "a"}
    b.save_runbook(runbook_record(markdown="# by b", data={"by": "b"}), fence=t2)
    assert a.runbook("futures-book/binanceusdm/main/L3/e1").data == {"by": "b"}


def test_runbooks_are_listed_oldest_first_within_the_window(store):
    for i, ts in enumerate((500, 1_000, 2_000, 3_000)):
        store.save_runbook(runbook_record(f"p/s/L1/e{i + 1}", created_ms=ts))
    assert [r.incident for r in store.runbooks()] == ["p/s/L1/e1", "p/s/L1/e2", "p/s/L1/e3", "p/s/L1/e4"]
    assert [r.incident for r in store.runbooks(since_ms=1_000, until_ms=3_000)] == ["p/s/L1/e2", "p/s/L1/e3"]
    assert [r.incident for r in store.runbooks(limit=2)] == ["p/s/L1/e3", "p/s/L1/e4"]


def test_runbook_whose_data_is_not_json_is_refused_before_it_is_stored(store):
    import dataclasses

    with pytest.raises(ValueError):
        store.save_runbook(dataclasses.replace(runbook_record(), data_json="{not json"))
    assert store.runbook("futures-book/binanceusdm/main/L3/e1") is None


def test_a_schema_1_store_gains_the_runbooks_on_reopen_and_keeps_its_rows(open_store_, monkeypatch):
    monkeypatch.setattr(SqlStore, "migrations", MIGRATIONS[:1])
    s = open_store_()
    assert s.schema_version() == 1
    s.audit("stage_transition", 10, {"to": 3})
    s.close()
    monkeypatch.undo()
    s2 = open_store_()
    assert s2.schema_version() == LATEST
    s2.save_runbook(runbook_record())
    assert s2.runbook("futures-book/binanceusdm/main/L3/e1").markdown == "# flatten"
    assert [r.kind for r in s2.audit_rows()] == ["stage_transition"]
    assert s2.verify_audit() == (True, None)


def test_audit_rows_filter_by_time_and_kind_and_page_in_chain_order(store):
    for ts, kind in ((100, "stage_transition"), (200, "reset_approval"), (300, "stage_transition"),
                     (400, "sink_failed"), (500, "stage_transition")):
        store.audit(kind, ts, {"ts": ts})
    rows = store.audit_rows()
    assert [(r.seq, r.ts_ms) for r in rows] == [(1, 100), (2, 200), (3, 300), (4, 400), (5, 500)]
    assert rows[0].payload == {"ts": 100} and len(rows[0].hash) == 64
    assert [r.ts_ms for r in store.audit_rows(since_ms=200, until_ms=500)] == [200, 300, 400]
    assert [r.ts_ms for r in store.audit_rows(kinds=["stage_transition"])] == [100, 300, 500]
    assert [r.ts_ms for r in store.audit_rows(kinds=["stage_transition", "reset_approval"], since_ms=150)] == \
        [200, 300, 500]
    assert store.audit_rows(kinds=[]) == []
    first = store.audit_rows(limit=2)
    rest = store.audit_rows(limit=2, after_seq=first[-1].seq)
    assert [r.seq for r in first + rest] == [1, 2, 3, 4]


def test_audit_rows_read_a_tampered_row_and_verify_still_names_it(store, raw):
    store.audit("a", 1, {"n": 1})
    store.audit("b", 2, {"n": 2})
    raw("UPDATE audit_log SET payload = ? WHERE seq = 2", ("{broken",))
    assert [r.payload for r in store.audit_rows()] == [{"n": 1}, {"error": "UNREADABLE_PAYLOAD"}]
    assert store.verify_audit() == (False, 2)
