"""The audit chain against someone with database access: once for SQLite and once for PostgreSQL.

Each attack is done the way such a person would, with SQL behind the store's back (``raw``),
recomputing every hash the chain lets them recompute. Without the key, verification must catch
what the structure shows (rows past the head, gaps, copies, a missing head, MACs that vanished)
and say plainly what it cannot (an unanchored chain); with the key, a rewrite or a cut needs the
key; an exported anchor catches a cut or a rewrite below it with or without the key.
"""

from __future__ import annotations

import threading

import pytest

from killswitch.state import AuditAnchor, AuditKey, AuditKeyError, StoreError, key_problem, open_store
from killswitch.state.audit_chain import AuditHead
from killswitch.state.audit_verify import INTACT, NOT_VERIFIABLE, TAMPERED, UNANCHORED, UNVERIFIED
from killswitch.state.migrations import MIGRATIONS
from killswitch.state.sql import SqlStore
from killswitch.state.store import GENESIS_HASH, audit_hash, canonical_json

SECRET = "k" * 24 + "-audit-key-0123456789"  # 45 characters
OTHER = "o" * 40


@pytest.fixture
def keyed(store_url):
    """Open the test's store with an audit key (as the runner does: migrate, adopt)."""
    opened = []

    def _open(secret: str | None = SECRET, *, migrate: bool = True):
        s = open_store(store_url, migrate=migrate, audit_key=AuditKey(secret) if secret else None)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        s.close()


def fill(store, n=5, start_ts=1_000):
    return [store.audit("stage_transition", start_ts + i, {"i": i, "scope": "simulated/a", "pnl": -0.1 * i})
            for i in range(n)]


def codes(v):
    return [f.code for f in v.findings]


def rows_of(raw):
    return raw("SELECT seq, kind, ts_ms, payload, prev_hash, hash FROM audit_log ORDER BY seq")


def rehash_from(raw, seq: int, payload: dict | None = None) -> str:
    """Rewrite row ``seq`` (its payload, if given) and recompute every hash from it to the end,
    then point the head at the new last hash: all that SHA-256 lets anyone without the key do."""
    prev = GENESIS_HASH if seq == 1 else raw("SELECT hash FROM audit_log WHERE seq = ?", (seq - 1,))[0][0]
    for s, kind, ts, text, _, _ in [r for r in rows_of(raw) if r[0] >= seq]:
        if s == seq and payload is not None:
            text = canonical_json(payload)
        import json

        digest = audit_hash(prev, s, kind, ts, json.loads(text))
        raw("UPDATE audit_log SET payload = ?, prev_hash = ?, hash = ? WHERE seq = ?", (text, prev, digest, s))
        prev = digest
    last = raw("SELECT MAX(seq) FROM audit_log")[0][0]
    raw("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (last, prev))
    return prev


# --- the attacks found on main ------------------------------------------------------------------------


def test_a_forged_row_after_the_head_is_found_without_the_key(store, raw):
    fill(store)
    prev = raw("SELECT hash FROM audit_log WHERE seq = 5")[0][0]
    forged = {"approver": "mallory", "level": 3, "result": "MANUAL_RESET"}
    raw("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
        (6, "reset_approval", 2_000, canonical_json(forged), prev, audit_hash(prev, 6, "reset_approval", 2_000,
                                                                             forged)))
    v = store.audit_verification()
    assert codes(v) == ["ROWS_PAST_HEAD"] and v.first_bad_seq == 6
    assert "row 6 past the head (seq 5)" in str(v.first)
    assert store.verify_audit() == (False, 6)


def test_a_forged_row_with_the_head_moved_too_is_caught_by_the_hmac(keyed, raw):
    s = keyed()  # row 1: the key's adoption
    fill(s, 4)
    prev = raw("SELECT hash FROM audit_log WHERE seq = 5")[0][0]
    digest = audit_hash(prev, 6, "reset_approval", 2_000, {"approver": "mallory"})
    raw("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (6, "reset_approval", 2_000, '{"approver":"mallory"}', prev, digest, "ab" * 32))
    raw("UPDATE audit_head SET seq = 6, hash = ? WHERE id = 1", (digest,))
    v = s.audit_verification()
    assert codes(v) == ["ROW_MAC_INVALID", "HEAD_MAC_INVALID"] and v.first_bad_seq == 6
    # without the key neither MAC can be checked: an anchored chain is not verifiable without it
    bare = keyed(None, migrate=False).audit_verification()
    assert bare.ok and not bare.anchored and bare.verdict == NOT_VERIFIABLE and not bare.passed
    assert bare.describe().startswith("audit chain NOT VERIFIABLE without the key: 6 row(s)")
    assert "NOT checked: no audit key was given" in bare.describe()


def test_the_last_row_deleted_and_the_head_rewritten_is_caught_by_the_hmac(keyed, raw):
    s = keyed()
    fill(s, 4)
    raw("DELETE FROM audit_log WHERE seq = 5")
    raw("UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4) WHERE id = 1")
    v = s.audit_verification()
    assert codes(v) == ["HEAD_MAC_INVALID"] and v.first_bad_seq == 5
    assert "rows after it may have been cut off" in v.describe()


def test_a_rows_mac_cannot_stand_in_for_the_heads_after_a_cut(keyed, raw):
    s = keyed()
    fill(s, 4)
    raw("DELETE FROM audit_log WHERE seq = 5")
    raw("UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4), "
        "mac = (SELECT mac FROM audit_log WHERE seq = 4) WHERE id = 1")
    assert codes(s.audit_verification()) == ["HEAD_MAC_INVALID", "MAC_REPEATED"]
    # a row's MAC on the head is seen without the key too: the two never agree in an honest chain
    v = keyed(None, migrate=False).audit_verification()
    assert codes(v) == ["MAC_REPEATED"] and "the head carries row 4's MAC" in str(v.first)


def test_a_cut_with_the_head_rewritten_is_caught_by_an_exported_anchor_without_the_key(store, raw):
    fill(store)
    anchor = AuditAnchor(5, store.audit_head().hash)  # what the runner logged
    assert store.audit_verification([anchor]).ok
    raw("DELETE FROM audit_log WHERE seq >= 4")
    raw("UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3) WHERE id = 1")
    assert store.audit_verification().ok  # the structure alone cannot tell: that is what anchors are for
    v = store.audit_verification([anchor])
    assert codes(v) == ["ANCHOR_ROW_MISSING"] and v.first_bad_seq == 4
    assert "row 5 of the exported anchor" in str(v.first) and "cut off below the anchor" in str(v.first)


@pytest.mark.parametrize("strip", [False, True], ids=["head-kept-anchored", "anchor-stripped"])
def test_a_wiped_log_with_the_head_reset_to_genesis_is_caught_with_the_key(keyed, raw, strip):
    s = keyed()
    fill(s)
    anchor = AuditAnchor(3, raw("SELECT hash FROM audit_log WHERE seq = 3")[0][0])
    raw("DELETE FROM audit_log")
    raw("UPDATE audit_head SET seq = 0, hash = ? WHERE id = 1", (GENESIS_HASH,))
    if strip:
        raw("UPDATE audit_head SET mac = NULL, key_id = NULL, anchored_from = NULL WHERE id = 1")
    v = s.audit_verification()
    assert codes(v) == (["NOT_ANCHORED"] if strip else ["HEAD_MAC_INVALID"]) and v.first_bad_seq == 1
    bare = keyed(None, migrate=False)
    assert codes(bare.audit_verification([anchor])) == ["ANCHOR_ROW_MISSING"]


def test_a_missing_head_is_a_finding_and_an_append_is_refused_not_a_crash(keyed, store, raw):
    fill(store)
    raw("DELETE FROM audit_head")
    v = store.audit_verification()
    assert codes(v) == ["HEAD_MISSING"] and v.first_bad_seq == 6 and store.verify_audit() == (False, 6)
    assert "rows 1..5 were checked" in str(v.first)
    with pytest.raises(StoreError, match="AUDIT_HEAD_MISSING"):
        store.audit("x", 1, {})
    assert raw("SELECT COUNT(*) FROM audit_log")[0][0] == 5, "nothing appended, no head rebuilt"
    assert key_problem(store.audit_head(), None).startswith("AUDIT_HEAD_MISSING")
    keyed()  # a writer opening with a key does not rebuild it either
    assert raw("SELECT COUNT(*) FROM audit_head")[0][0] == 0


def test_a_middle_row_rewritten_with_every_hash_recomputed_is_caught_by_the_hmac(keyed, raw):
    s = keyed()
    fill(s)
    rehash_from(raw, 3, {"i": 2, "scope": "simulated/a", "pnl": 0.0})
    v = s.audit_verification()
    assert v.first_bad_seq == 3 and v.first.code == "ROW_MAC_INVALID"
    assert set(codes(v)) == {"ROW_MAC_INVALID", "HEAD_MAC_INVALID"}
    # without the key the rewrite is consistent, and the chain is said not to be verifiable
    bare = keyed(None, migrate=False).audit_verification()
    assert bare.ok and not bare.anchored and bare.verdict == NOT_VERIFIABLE


def test_a_rewrite_below_an_exported_anchor_is_caught_without_the_key(store, raw):
    fill(store)
    anchor = AuditAnchor(4, raw("SELECT hash FROM audit_log WHERE seq = 4")[0][0])
    rehash_from(raw, 2, {"i": 1, "scope": "simulated/a", "pnl": 0.0})
    v = store.audit_verification([anchor])
    assert codes(v) == ["ANCHOR_MISMATCH"] and v.first_bad_seq == 4
    assert "the chain up to row 4 was rewritten" in str(v.first)


# --- an anchored chain passed off as unanchored, without the key -----------------------------------------

STRIP_ROWS = "UPDATE audit_log SET mac = NULL"
STRIP_HEAD = "UPDATE audit_head SET mac = NULL, key_id = NULL, anchored_from = NULL WHERE id = 1"


def exported(store, source: str = "run.log") -> AuditAnchor:
    """The head as the anchor sink of a runner holding the key logs it, read back from its log."""
    head = store.audit_head()
    line = f"2026-03-02T13:05:00Z INFO killswitch.run {head.line()} at=2026-03-02T13:05:00Z anchored=hmac:{head.key_id}"
    [anchor] = AuditAnchor.scan(["ksctl run: started", line], source=source)
    return anchor


def test_macs_and_head_stripped_are_caught_without_the_key_by_an_exported_anchor(keyed, raw):
    s = keyed()
    fill(s, 4)
    anchor = exported(s)  # row 5, anchored=hmac:<key id>, line 2 of run.log
    assert anchor.key_id == AuditKey(SECRET).key_id and anchor.where == "run.log:2"
    fill(s, 2, start_ts=5_000)  # rows 6-7, after the export
    raw(STRIP_ROWS)
    raw(STRIP_HEAD)
    v = keyed(None, migrate=False).audit_verification([anchor])
    assert v.verdict == TAMPERED and not v.passed
    stripped = [f for f in v.findings if f.code == "ANCHOR_STRIPPED"]
    assert [f.seq for f in stripped] == [1, 1]  # the head, and the rows, from the adoption row on
    assert "the head carries no anchor (MAC, key id) but row 1 records that key id" in str(stripped[0])
    assert "7 rows from row 1 to row 7 carry no MAC" in str(stripped[1])
    assert "intact" not in v.describe()


def test_an_exported_keyed_anchor_alone_shows_a_chain_stripped_of_every_trace(store, raw):
    # A chain anchored before adoption rows were written (or with its adoption row removed by a
    # rewrite that left the exported row intact): only the log says it was anchored.
    fill(store, 7)
    head5 = raw("SELECT hash FROM audit_log WHERE seq = 5")[0][0]
    line = f"AUDIT_HEAD seq=5 hash={head5} at=2026-03-02T13:05:00Z anchored=hmac:0123456789abcdef"
    [anchor] = AuditAnchor.scan([line], source="run.log")
    v = store.audit_verification([anchor])
    assert codes(v) == ["ANCHOR_STRIPPED", "ANCHOR_STRIPPED"] and v.first_bad_seq == 6
    head, rows = v.findings
    assert str(head).startswith("ANCHOR_STRIPPED: the head carries no anchor (MAC, key id) but the exported anchor "
                                f"5:{head5[:12]}… (anchored=hmac:0123456789abcdef, run.log:1) shows the chain was "
                                "anchored when its head was row 5")
    assert "2 rows from row 6 to row 7 carry no MAC" in str(rows)
    # an anchored=none line says only that its runner had no key: nothing about the chain
    none = AuditAnchor.parse(f"AUDIT_HEAD seq=5 hash={head5} at=2026-03-02T13:05:00Z anchored=none")
    assert none.key_id is None and store.audit_verification([none]).verdict == UNANCHORED


def test_an_exported_keyed_anchor_catches_the_anchor_moved_past_it_or_another_key(keyed, raw):
    s = keyed()
    fill(s, 4)
    anchor = exported(s)
    fill(s, 2, start_ts=5_000)
    # anchoring claimed to begin after the exported row, the MACs before it dropped
    raw("UPDATE audit_log SET mac = NULL WHERE seq < 7")
    raw("UPDATE audit_head SET anchored_from = 7 WHERE id = 1")
    bare = keyed(None, migrate=False)
    v = bare.audit_verification([anchor])
    assert {"ANCHOR_MOVED", "ANCHOR_STRIPPED"} <= set(codes(v)) and v.first_bad_seq == 1
    assert any(f.code == "ANCHOR_MOVED" and "the exported anchor 5:" in str(f) and "anchored=hmac:" in str(f)
               for f in v.findings)
    raw("UPDATE audit_head SET key_id = 'ffffffffffffffff', anchored_from = 1 WHERE id = 1")
    assert "ANCHOR_KEY_CHANGED" in codes(bare.audit_verification([anchor]))


def test_a_stripped_chain_without_anchors_is_never_intact_without_the_key(keyed, raw):
    s = keyed()
    fill(s, 4)
    bare = keyed(None, migrate=False)
    honest = bare.audit_verification()  # the key was used: without it, nothing is proven
    assert honest.ok and honest.verdict == NOT_VERIFIABLE and not honest.passed
    assert honest.describe().startswith("audit chain NOT VERIFIABLE without the key: 5 row(s), seq 1..5 and the head")
    assert honest.describe().endswith("give the key (KS_AUDIT_KEY or --audit-key-file)")
    raw(STRIP_ROWS)
    raw(STRIP_HEAD)
    v = bare.audit_verification()  # the adoption row stays in the hashed chain: the strip shows
    assert v.verdict == TAMPERED and v.first_bad_seq == 1 and set(codes(v)) == {"ANCHOR_STRIPPED"}
    assert "nothing from row 1 on can be verified without the key" in str(v.first)
    assert codes(s.audit_verification()) == ["NOT_ANCHORED", "ANCHOR_STRIPPED", "ANCHOR_STRIPPED"]


def test_a_stripped_chain_adopted_again_by_a_runner_with_the_key_is_not_anchored_from_then(store, keyed, raw):
    fill(store, 2)
    s = keyed()  # row 3: adopted
    fill(s, 2, start_ts=5_000)
    raw(STRIP_ROWS)
    raw(STRIP_HEAD)
    again = keyed()  # the runner restarts with its key and finds a chain that looks unanchored
    fill(again, 1, start_ts=9_000)
    assert again.audit_head().anchored_from == 6
    v = again.audit_verification()
    assert v.verdict == TAMPERED and v.first_bad_seq == 3
    assert codes(v) == ["ANCHOR_MOVED", "ANCHOR_STRIPPED"]
    assert "the head says anchoring began at row 6 but row 3 records that key id" in str(v.first)


def test_a_row_appended_with_a_copied_mac_is_caught_without_the_key(keyed, raw):
    s = keyed()
    fill(s, 4)
    prev, mac = raw("SELECT hash, mac FROM audit_log WHERE seq = 5")[0]
    forged = {"approver": "mallory", "level": 3, "result": "MANUAL_RESET"}
    digest = audit_hash(prev, 6, "reset_approval", 2_000, forged)
    raw("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (6, "reset_approval", 2_000, canonical_json(forged), prev, digest, mac))
    raw("UPDATE audit_head SET seq = 6, hash = ? WHERE id = 1", (digest,))
    v = keyed(None, migrate=False).audit_verification()
    assert codes(v) == ["MAC_REPEATED"] and v.first_bad_seq == 6 and v.verdict == TAMPERED
    assert "row 6 carries the MAC of row 5" in str(v.first)
    assert codes(s.audit_verification()) == ["MAC_REPEATED", "ROW_MAC_INVALID", "HEAD_MAC_INVALID"]


@pytest.mark.parametrize("mac", ["not-a-mac", "AB" * 32, "é" * 64], ids=["short", "upper-case", "not-ascii"])
def test_a_mac_that_is_no_hmac_is_caught_without_the_key_and_never_crashes_with_it(keyed, raw, mac):
    s = keyed()
    fill(s, 2)
    raw("UPDATE audit_log SET mac = ? WHERE seq = 2", (mac,))
    assert codes(keyed(None, migrate=False).audit_verification()) == ["MAC_MALFORMED"]
    assert codes(s.audit_verification()) == ["MAC_MALFORMED"]
    raw("UPDATE audit_head SET mac = ? WHERE id = 1", (mac,))
    assert codes(s.audit_verification()) == ["MAC_MALFORMED", "MAC_MALFORMED"]


@pytest.mark.parametrize("attack", ["truncated", "wiped"])
def test_an_unkeyed_chain_cut_or_wiped_is_consistent_unverified_and_says_that_cannot_be_detected(store, raw, attack):
    fill(store)
    if attack == "truncated":
        raw("DELETE FROM audit_log WHERE seq >= 4")
        raw("UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3) WHERE id = 1")
    else:
        raw("DELETE FROM audit_log")
        raw("UPDATE audit_head SET seq = 0, hash = ? WHERE id = 1", (GENESIS_HASH,))
    v = store.audit_verification()
    # Nothing in the store can show it: the verdict says what was checked and what cannot be
    # told, and with neither key nor anchors it does not pass
    assert v.ok and v.verdict == UNVERIFIED and not v.passed
    assert v.describe().startswith("audit chain consistent, UNVERIFIED: ")
    assert "a wiped chain, one cut back, or one rewritten whole" in v.describe() and "intact" not in v.describe()
    assert v.to_json()["intact"] is False and v.to_json()["passed"] is False


def test_anchors_given_on_an_unkeyed_chain_say_what_they_cover(store):
    fill(store)
    v = store.audit_verification([AuditAnchor(3, store.audit_rows(after_seq=2, limit=1)[0].hash)])
    assert v.verdict == UNANCHORED
    assert ("the exported anchors hold rows 1..3 as exported, but rows cut off or rewritten after row 3 cannot be "
            "detected") in v.describe()


# --- structure: every row of the table --------------------------------------------------------------------


def test_a_gap_in_the_middle_names_its_first_missing_row(store, raw):
    fill(store, 8)
    raw("DELETE FROM audit_log WHERE seq IN (3, 4)")
    v = store.audit_verification()
    assert codes(v) == ["ROWS_MISSING"] and v.first_bad_seq == 3 and "rows 3..4 missing" in str(v.first)


def test_a_second_row_under_a_used_number_is_found(store, raw, backend):
    fill(store)
    if backend == "postgres":
        raw("ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey")
    else:  # SQLite cannot drop a key: the table is rebuilt without it, as an attacker would
        cols = "seq, kind, ts_ms, payload, prev_hash, hash, mac"
        raw(f"CREATE TABLE audit_copy AS SELECT {cols} FROM audit_log")
        raw("DROP TABLE audit_log")
        raw("ALTER TABLE audit_copy RENAME TO audit_log")
    row = raw("SELECT seq, kind, ts_ms, payload, prev_hash, hash FROM audit_log WHERE seq = 3")[0]
    raw("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)", row)
    v = store.audit_verification()
    assert codes(v) == ["DUPLICATE_ROW"] and v.first_bad_seq == 3


def test_a_copy_split_between_two_pages_is_still_found(store, raw, backend, monkeypatch):
    import killswitch.state.tables.audit as sql

    monkeypatch.setattr(sql, "AUDIT_VERIFY_PAGE", 3)
    fill(store, 7)
    if backend == "postgres":
        raw("ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey")
    else:
        raw("CREATE TABLE audit_copy AS SELECT seq, kind, ts_ms, payload, prev_hash, hash, mac FROM audit_log")
        raw("DROP TABLE audit_log")
        raw("ALTER TABLE audit_copy RENAME TO audit_log")
    raw("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash) "
        "SELECT seq, kind, ts_ms, payload, prev_hash, hash FROM audit_log WHERE seq = 3")  # rows 1-3 | 3-5 | ...
    assert codes(store.audit_verification()) == ["DUPLICATE_ROW"]


def test_a_head_pointing_at_a_rewritten_hash_is_a_mismatch(store, raw):
    fill(store)
    raw("UPDATE audit_head SET hash = ? WHERE id = 1", ("f" * 64,))
    v = store.audit_verification()
    assert codes(v) == ["HEAD_MISMATCH"] and v.first_bad_seq == 5


def test_findings_are_capped_and_counted(store, raw):
    import killswitch.state.audit_verify as chain

    fill(store, chain.MAX_FINDINGS + 10)
    raw("UPDATE audit_log SET payload = '{}'")
    v = store.audit_verification()
    assert len(v.findings) == chain.MAX_FINDINGS and v.more_findings == 10 and v.first_bad_seq == 1
    assert f"({chain.MAX_FINDINGS + 9} more finding(s))" in v.describe()


def test_verification_while_a_runner_appends_finds_nothing(open_store_, monkeypatch):
    import time

    import killswitch.state.tables.audit as sql

    monkeypatch.setattr(sql, "AUDIT_VERIFY_PAGE", 7)  # many pages, many chances to race the appender
    writer, reader = open_store_(), open_store_()
    fill(writer, 20)
    stop, appended, errors = threading.Event(), [], []

    def append():
        i = 0
        while not stop.is_set():
            try:
                appended.append(writer.audit("tick", i, {"i": i}))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)
                return
            i += 1

    t = threading.Thread(target=append)
    t.start()
    results = []
    try:
        deadline = time.monotonic() + 60
        # until the appender has added rows while several checks ran (each check is a race)
        while (len(results) < 5 or len(appended) < 100) and time.monotonic() < deadline and not errors:
            results.append(reader.audit_verification())
    finally:
        stop.set()
        t.join(30)
    assert errors == []
    assert [codes(v) for v in results if not v.ok] == []
    assert len(appended) >= 100 and results[-1].rows > 20, "the appender ran while the chain was checked"


# --- anchoring: adopting a key, writers without it, the wrong key --------------------------------------------


def test_a_fresh_store_opened_with_a_key_records_the_adoption_as_its_first_row(keyed, raw):
    s = keyed()
    key_id = AuditKey(SECRET).key_id
    head = s.audit_head()
    assert (head.seq, head.anchored_from, head.key_id) == (1, 1, key_id) and head.mac
    [(kind, payload, mac)] = raw("SELECT kind, payload, mac FROM audit_log")
    assert (kind, payload) == ("audit_key_adopted", canonical_json({"anchored_from": 1, "key_id": key_id})) and mac
    v = s.audit_verification()
    assert v.verdict == INTACT and v.passed
    assert v.describe().startswith("audit chain intact and anchored: 1 row(s), seq 1..1 and the head (seq 1)")
    fill(s)
    keyed()  # a second writer with the key: the adoption is recorded once
    v = s.audit_verification()
    assert v.ok and v.anchored and v.rows == 6 and "anchored by HMAC from row 1" in v.describe()


def test_a_batch_appended_with_the_key_is_anchored_row_by_row_and_at_the_head(store, keyed, raw):
    fill(store, 2)  # unanchored rows first: the batch anchors the chain, its adoption row first
    s = keyed(migrate=False)  # with the key, but not opened to adopt it
    assert s.audit_many([("order_planned_dry_run", 3_000 + i, {"i": i}) for i in range(4)]) == [4, 5, 6, 7]
    assert raw("SELECT kind, ts_ms FROM audit_log WHERE seq = 3") == [("audit_key_adopted", 3_000)]
    head = s.audit_head()
    assert (head.seq, head.anchored_from, head.key_id) == (7, 3, AuditKey(SECRET).key_id) and head.mac
    v = s.audit_verification()
    assert v.ok and v.anchored and "anchored by HMAC from row 3" in v.describe()
    assert raw("SELECT seq FROM audit_log WHERE mac IS NULL ORDER BY seq") == [(1,), (2,)]
    rehash_from(raw, 5, {"i": 9})  # a batched row rewritten consistently: its MAC gives it away
    assert s.audit_verification().first.code == "ROW_MAC_INVALID"


def test_a_batch_stores_each_payload_as_json_dumps_would_write_it_and_hashes_that_text(store, raw):
    """The encoder made once writes the very text json.dumps writes with the canonical options
    (sorted keys, no spaces, UTF-8 as is): a row hashed by an older writer and one hashed now
    agree, and a NaN is refused before anything is written."""
    import json
    import math

    payloads = [{"symbol": "BTC/USDT:USDT", "side": "sell", "amount": 0.1 + 0.2, "reduce_only": True,
                 "group": None, "reason": 'TOP_RISK: "rank"=1 \\ é \u2028', "not_before_ms": 1_772_456_400_000,
                 "limit_price": 1e-7},
                {"z": [1, {"b": -0.0, "a": [None, "ü"]}], "a": 10 ** 30}]
    seqs = store.audit_many([("order_planned_dry_run", 5_000, p) for p in payloads])
    rows = raw("SELECT seq, payload, prev_hash, hash FROM audit_log ORDER BY seq")
    for p, (seq, text, prev, digest) in zip(payloads, [r for r in rows if r[0] in seqs]):
        assert text == json.dumps(p, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        assert digest == audit_hash(prev, seq, "order_planned_dry_run", 5_000, json.loads(text))
    with pytest.raises(ValueError):
        store.audit_many([("order_planned_dry_run", 6_000, {"i": 1}),
                          ("order_planned_dry_run", 6_000, {"x": math.nan})])
    assert raw("SELECT max(seq) FROM audit_log") == [(seqs[-1],)] and store.verify_audit() == (True, None)


HEADS = {  # every shape of head an append meets: never anchored, anchored by the key or another, tampered
    "genesis": AuditHead(0, GENESIS_HASH),
    "unanchored": AuditHead(7, "a" * 64),
    "anchored": AuditHead(7, "b" * 64, "c" * 64, AuditKey(SECRET).key_id, 3),
    "another_key": AuditHead(7, "b" * 64, "c" * 64, AuditKey(OTHER).key_id, 3),
    "no_first_row": AuditHead(7, "b" * 64, "c" * 64, AuditKey(SECRET).key_id, None),
}


@pytest.mark.parametrize("head", sorted(HEADS))
@pytest.mark.parametrize("macs,secret", [(False, None), (True, None), (True, SECRET)])
def test_a_batch_is_chained_row_for_row_as_one_row_at_a_time(head, macs, secret):
    """A batch is chained without a head per row: its rows, MACs and final head are the ones
    chaining its rows one at a time gives, for every shape of head and key."""
    key = AuditKey(secret) if secret else None
    batch = [("order_planned_dry_run", 9_000 + i, canonical_json({"i": i})) for i in range(5)]
    h, one_by_one = HEADS[head], []
    for row in batch:
        h, insert = SqlStore._chain(h, *row, macs, key)
        one_by_one.append(insert)
    assert SqlStore._chain_all(HEADS[head], batch, macs, key) == (h, one_by_one)
    assert SqlStore._chain_all(HEADS[head], [], macs, key) == (HEADS[head], [])


def test_an_old_chain_is_consistent_and_says_truncation_and_wipes_cannot_be_detected(store):
    fill(store)
    v = store.audit_verification()
    assert v.ok and not v.anchored and store.verify_audit() == (True, None)
    assert v.verdict == UNVERIFIED and not v.passed and "intact" not in v.describe()
    assert v.describe() == ("audit chain consistent, UNVERIFIED: 5 row(s), seq 1..5 and the head (seq 5) agree "
                            "(hashes link, no row missing), but nothing authenticates or anchors them: neither the "
                            "audit key nor an exported anchor was given and the head carries no anchor, so a wiped "
                            "chain, one cut back, or one rewritten whole (its audit_key_adopted row removed with it) "
                            "reads the same; give the key (KS_AUDIT_KEY or --audit-key-file) or the runner's "
                            "AUDIT_HEAD lines (--anchors-from)")
    head = store.audit_head()
    anchored = store.audit_verification([AuditAnchor(head.seq, head.hash)])  # checked against its exported head
    assert anchored.verdict == UNANCHORED and anchored.passed and "intact" not in anchored.describe()
    assert anchored.anchoring() == ("not anchored: nothing in the chain shows an audit key; the exported anchors "
                                    "hold rows 1..5 as exported, but rows cut off or rewritten after row 5 cannot be "
                                    "detected")


def test_a_key_adopts_an_old_chain_and_covers_its_rows_from_then_on(store, keyed, raw):
    fill(store)  # written by a killswitch without a key
    s = keyed()
    assert s.audit_head().anchored_from == 6
    fill(s, 3, start_ts=2_000)
    v = s.audit_verification()
    assert v.ok and v.anchored and "anchored by HMAC from row 6" in v.describe()
    assert "rows 1..5 were written before the key and are covered from then on" in v.describe()
    assert raw("SELECT seq FROM audit_log WHERE mac IS NULL ORDER BY seq") == [(1,), (2,), (3,), (4,), (5,)]
    rehash_from(raw, 2, {"i": 1, "scope": "simulated/a", "pnl": 0.0})  # an old row, rewritten consistently
    v = s.audit_verification()
    assert v.first.code == "ROW_MAC_INVALID" and v.first_bad_seq == 6


def test_a_writer_without_the_key_leaves_unanchored_rows_that_verification_reports(keyed):
    s = keyed()
    fill(s, 2)
    bare = keyed(None)
    assert key_problem(bare.audit_head(), None).startswith("AUDIT_KEY_MISSING: the audit chain is anchored with key id")
    assert bare.audit("policy_reloaded", 5_000, {"standby": True}) == 4  # recorded: the kill switch goes on
    for v in (s.audit_verification(), bare.audit_verification()):  # the structure shows it, key or not
        assert v.first.code == "ROW_NOT_ANCHORED" and v.first_bad_seq == 4
    fill(s, 1, start_ts=6_000)  # the keyed runner appends again: row 4 stays unproven, and it says what it found
    v = s.audit_verification()
    assert codes(v) == ["ROW_NOT_ANCHORED", "HEAD_FOUND_INVALID"] and v.first_bad_seq == 4
    assert "found the head at row 4 and it carried no MAC (a runner without the key appended" in str(v.findings[1])


def test_the_wrong_key_is_told_apart_from_a_forgery(keyed):
    s = keyed()
    fill(s, 2)
    wrong = keyed(OTHER)
    assert key_problem(wrong.audit_head(), wrong.audit_key).startswith("AUDIT_KEY_MISMATCH")
    v = keyed(OTHER, migrate=False).audit_verification()
    assert codes(v) == ["KEY_MISMATCH"] and v.first_bad_seq == 1
    assert f"key id {AuditKey(SECRET).key_id}" in str(v.first) and f"id {AuditKey(OTHER).key_id}" in str(v.first)
    wrong.audit("x", 1, {})  # appended without a MAC, not with a key the chain does not know
    v = s.audit_verification()
    assert codes(v) == ["ROW_NOT_ANCHORED", "HEAD_NOT_ANCHORED"] and v.first_bad_seq == 4


@pytest.mark.parametrize("tamper", ["cut", "anchor-moved"])
def test_a_writer_with_the_key_records_a_head_it_finds_invalid_instead_of_blessing_it(keyed, raw, tamper):
    s = keyed()
    fill(s, 4)
    if tamper == "cut":  # the last row cut off, the head moved back without the key (its MAC kept)
        raw("DELETE FROM audit_log WHERE seq = 5")
        raw("UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4) WHERE id = 1")
    else:  # anchoring claimed to begin later, the earlier MACs dropped
        raw("UPDATE audit_log SET mac = NULL WHERE seq < 5")
        raw("UPDATE audit_head SET anchored_from = 5 WHERE id = 1")
    fill(keyed(), 1, start_ts=9_000)  # the runner starts again with its key and appends
    found = raw("SELECT seq, kind FROM audit_log WHERE kind = 'audit_head_invalid'")
    assert [k for _, k in found] == ["audit_head_invalid"]
    at = 4 if tamper == "cut" else 5
    for v in (s.audit_verification(), keyed(None, migrate=False).audit_verification()):  # key or not
        assert v.verdict == TAMPERED and "HEAD_FOUND_INVALID" in codes(v)
        [f] = [f for f in v.findings if f.code == "HEAD_FOUND_INVALID"]
        assert f.seq == at + 1 and f"found the head at row {at} and it carried a MAC that did not check" in str(f)
    if tamper == "cut":  # before this, the next append made the cut chain "intact and anchored"
        assert codes(s.audit_verification()) == ["HEAD_FOUND_INVALID"]


def test_removing_or_moving_the_heads_anchor_shows_without_the_key(keyed, raw):
    s = keyed()
    fill(s)
    raw("UPDATE audit_head SET anchored_from = 4, mac = NULL WHERE id = 1")
    bare = keyed(None, migrate=False)
    assert [f.code for f in bare.audit_verification().findings][:1] == ["ANCHOR_MOVED"]
    raw("UPDATE audit_head SET anchored_from = NULL, key_id = NULL WHERE id = 1")
    v = bare.audit_verification()
    assert v.first.code == "ANCHOR_REMOVED" and v.first_bad_seq == 1
    assert s.audit_verification().first.code == "ANCHOR_REMOVED"


def test_a_head_with_a_key_id_but_no_first_anchored_row_still_takes_appends(keyed, raw):
    # Someone with database access erases where anchoring began and leaves the key id. The head
    # MAC cannot be computed without that row; the append must still be recorded (unanchored, as
    # with a key that is not the chain's), not fail with a TypeError on every audit row.
    s = keyed()
    fill(s)
    raw("UPDATE audit_head SET anchored_from = NULL WHERE id = 1")
    assert s.audit("stage_transition", 9_000, {"i": 9}) == 7
    assert raw("SELECT mac FROM audit_log WHERE seq = 7") == [(None,)]
    v = s.audit_verification()
    assert not v.ok and "HEAD_ANCHOR_INVALID" in codes(v) and v.rows == 7


def test_the_heads_mac_binds_where_anchoring_began(store, keyed, raw):
    fill(store)  # rows 1-5 before the key, 6 its adoption, 7-9 with it
    s = keyed()
    fill(s, 3, start_ts=2_000)
    # claim the key came later than it did: rows 6-9 "written before it", their MACs dropped
    raw("UPDATE audit_log SET mac = NULL WHERE seq >= 6")
    raw("UPDATE audit_head SET anchored_from = 10 WHERE id = 1")
    v = s.audit_verification()
    assert codes(v) == ["HEAD_MAC_INVALID", "ANCHOR_MOVED", "ANCHOR_STRIPPED"] and v.first_bad_seq == 6
    # the adoption row, hashed into the chain, says so without the key too
    v = keyed(None, migrate=False).audit_verification()
    assert codes(v) == ["ANCHOR_MOVED", "ANCHOR_STRIPPED"] and v.first_bad_seq == 6
    assert "row 6 records that key id" in str(v.first) and "4 rows from row 6 to row 9 carry no MAC" in \
        str(v.findings[1])


def anchored_before_adoption_rows(raw, n: int = 4) -> None:
    """A chain as a runner with the key wrote it before adoption rows existed: every row and the
    head MAC'd, anchored from row 1, no audit_key_adopted row."""
    key, prev = AuditKey(SECRET), GENESIS_HASH
    for seq in range(1, n + 1):
        digest = audit_hash(prev, seq, "stage_transition", seq, {"i": seq})
        raw("INSERT INTO audit_log (seq, kind, ts_ms, payload, prev_hash, hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, "stage_transition", seq, canonical_json({"i": seq}), prev, digest, key.row_mac(seq, digest)))
        prev = digest
    raw("UPDATE audit_head SET seq = ?, hash = ?, mac = ?, key_id = ?, anchored_from = 1 WHERE id = 1",
        (n, prev, key.head_mac(n, prev, 1), key.key_id))


def test_a_chain_anchored_before_adoption_rows_gets_one_at_the_next_writer_start(store, keyed, raw):
    anchored_before_adoption_rows(raw)
    keyed(None)  # a writer without the key cannot vouch for it
    keyed(migrate=False)  # nor a reader with it
    assert raw("SELECT COUNT(*) FROM audit_log WHERE kind = 'audit_key_adopted'") == [(0,)]
    s = keyed()
    keyed()  # once
    key_id = AuditKey(SECRET).key_id
    assert raw("SELECT seq, payload FROM audit_log WHERE kind = 'audit_key_adopted'") == [
        (5, canonical_json({"anchored_from": 1, "key_id": key_id}))]
    assert s.audit_verification().verdict == INTACT
    raw("UPDATE audit_log SET mac = NULL")
    raw("UPDATE audit_head SET mac = NULL, key_id = NULL, anchored_from = NULL WHERE id = 1")
    v = keyed(None, migrate=False).audit_verification()
    assert v.verdict == TAMPERED and "row 5 records that key id" in str(v.first)


def test_no_adoption_row_vouches_for_a_head_whose_mac_does_not_check(store, keyed, raw):
    anchored_before_adoption_rows(raw)
    raw("DELETE FROM audit_log WHERE seq = 4")  # cut, the head moved back without the key
    raw("UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3) WHERE id = 1")
    keyed()
    assert raw("SELECT COUNT(*) FROM audit_log WHERE kind = 'audit_key_adopted'") == [(0,)]


def test_an_unanchored_chain_is_a_finding_when_a_key_is_given(store, keyed):
    fill(store)
    v = keyed(migrate=False).audit_verification()  # a reader: it verifies, it does not adopt
    assert codes(v) == ["NOT_ANCHORED"] and "a key was given but the chain carries no anchor" in str(v.first)


def test_an_old_schema_gains_the_mac_columns_and_keeps_its_chain(open_store_, monkeypatch, keyed, raw):
    monkeypatch.setattr(SqlStore, "migrations", MIGRATIONS[:5])
    old = open_store_()
    fill(old)
    old.close()
    monkeypatch.undo()
    s = keyed()
    assert s.schema_version() == MIGRATIONS[-1].version
    fill(s, 2, start_ts=2_000)
    v = s.audit_verification()
    assert v.ok and v.anchored and v.anchored_from == 6 and v.rows == 8  # row 6: the adoption


def test_a_reader_of_this_version_verifies_a_store_an_older_runner_still_writes(open_store_, monkeypatch, keyed):
    monkeypatch.setattr(SqlStore, "migrations", MIGRATIONS[:5])
    old = open_store_()
    fill(old)
    old.close()
    monkeypatch.undo()
    reader = keyed(None, migrate=False)  # ksctl upgraded before the runner: nothing migrated
    assert reader.schema_version() == 5
    v = reader.audit_verification()
    assert v.ok and not v.anchored and v.rows == 5 and reader.audit_head().mac is None


# --- the key and the anchors ---------------------------------------------------------------------------------


def test_the_key_never_shows_in_what_the_store_says(keyed, raw):
    s = keyed()
    fill(s)
    rehash_from(raw, 2, {"i": 9})
    v = s.audit_verification()
    texts = [repr(s), repr(s.audit_key), str(s.audit_key), v.describe(), repr(v), str(v.to_json()),
             *(str(f) for f in v.findings)]
    assert not [t for t in texts if SECRET in t or SECRET[:20] in t]
    assert repr(s.audit_key) == f"AuditKey(key_id={AuditKey(SECRET).key_id!r})"


def test_a_short_key_is_refused_with_a_reason_code():
    with pytest.raises(AuditKeyError, match="AUDIT_KEY_TOO_SHORT: the audit key has 9 characters") as e:
        AuditKey("too-short\n")
    assert "too-short" not in str(e.value)


@pytest.mark.parametrize("text,seq", [
    ("12:" + "AB" * 32, 12),
    ("2026-03-02T13:00:00Z ksctl run: AUDIT_HEAD seq=7 hash=" + "cd" * 32 + " anchored=hmac", 7),
    (" 0 : " + "0" * 64, 0),
])
def test_anchors_parse_from_a_pair_or_a_runner_log_line(text, seq):
    a = AuditAnchor.parse(text)
    assert a.seq == seq and a.hash == a.hash.lower() and len(a.hash) == 64


@pytest.mark.parametrize("text", ["12", "12:abc", "seq=1 hash=" + "z" * 64, "-1:" + "a" * 64, ""])
def test_a_bad_anchor_is_refused_with_a_reason_code(text):
    with pytest.raises(ValueError, match="BAD_ANCHOR"):
        AuditAnchor.parse(text)


def test_anchors_scan_only_the_audit_head_lines_of_a_log():
    log = ["ksctl run: mode DRY RUN", "x AUDIT_HEAD seq=3 hash=" + "a" * 64, "seq=9 hash=" + "b" * 64,
           "y AUDIT_HEAD seq=5 hash=" + "c" * 64 + " anchored=none"]
    assert [a.seq for a in AuditAnchor.scan(log)] == [3, 5]
