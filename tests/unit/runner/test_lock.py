"""The trading lock: merge (the most restrictive wins), ttl expiry, manual holds until release,
the atomic file write and the fail-closed read.

Times are integer UTC milliseconds given by the test; nothing reads the wall clock.
"""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from killswitch.runner.lock import file as lockfile, lock as lockmod
from killswitch.runner.lock.evaluation import apply_evaluation
from killswitch.runner.lock.file import read_lock_file, write_lock_file
from killswitch.runner.lock.lock import LockBook, LockStatus, iso_ms, mode_rank, parse_iso_ms
from tests.unit.engine_helpers import HOUR, MIN, SEC, policy_graph, run, snap

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
ACCT = "binanceusdm/main"


def book_of(*holds) -> LockBook:
    """holds: (scope, mode, policy, stage, ttl_ms or None, manual)."""
    b = LockBook()
    for scope, mode, policy, stage, ttl, manual in holds:
        b = b.apply(scope, mode, now_ms=T0, policy=policy, stage=stage, ttl_ms=ttl, manual=manual,
                    reason=f"{policy}:{stage}")
    return b


# --- merge ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("holds, scope, want_mode, want_policy", [
    pytest.param([], ACCT, "active", None, id="no_holds_is_active"),
    pytest.param([(ACCT, "reducing", "a", 1, None, False)], ACCT, "reducing", "a", id="one_reducing"),
    pytest.param([(ACCT, "reducing", "a", 1, None, False), (ACCT, "halted", "b", 3, None, False)],
                 ACCT, "halted", "b", id="halted_beats_reducing_same_scope"),
    pytest.param([(ACCT, "halted", "a", 3, HOUR, False), (ACCT, "reducing", "b", 1, None, True)],
                 ACCT, "halted", "a", id="mode_beats_manual"),
    pytest.param([(ACCT, "halted", "a", 3, HOUR, False), (ACCT, "halted", "b", 3, None, True)],
                 ACCT, "halted", "b", id="manual_beats_ttl_at_equal_mode"),
    pytest.param([(ACCT, "halted", "a", 3, HOUR, False), (ACCT, "halted", "b", 3, 2 * HOUR, False)],
                 ACCT, "halted", "b", id="later_expiry_beats_earlier"),
    pytest.param([(ACCT, "halted", "a", 3, HOUR, False), (ACCT, "halted", "b", 3, None, False)],
                 ACCT, "halted", "b", id="no_ttl_beats_ttl"),
    pytest.param([("global", "reducing", "g", 1, None, False)], ACCT, "reducing", "g", id="global_applies_to_scope"),
    pytest.param([("global", "reducing", "g", 1, None, False), (ACCT, "halted", "a", 3, None, False)],
                 ACCT, "halted", "a", id="scope_halt_beats_global_reducing"),
    pytest.param([("okx/other", "halted", "a", 3, None, False)], ACCT, "active", None,
                 id="other_scope_does_not_apply"),
])
def test_for_scope_merges_most_restrictive(holds, scope, want_mode, want_policy):
    st_ = book_of(*holds).for_scope(scope, T0)
    assert (st_.mode, st_.policy, st_.locked) == (want_mode, want_policy, want_mode != "active")
    if want_mode == "active":
        assert (st_.scope, st_.reason) == (scope, "ACTIVE")


def test_summary_is_most_restrictive_across_scopes():
    b = book_of(("global", "reducing", "g", 1, None, False), ("okx/x", "halted", "a", 3, None, True),
                (ACCT, "reducing", "b", 1, HOUR, False))
    s = b.summary(T0)
    assert (s.mode, s.scope, s.policy, s.manual) == ("halted", "okx/x", "a", True)
    assert b.scopes(T0) == sorted(["global", "okx/x", ACCT])


def test_entry_does_not_include_global():
    b = book_of(("global", "halted", "g", 3, None, False))
    assert b.entry(ACCT, T0).mode == "active"
    assert b.for_scope(ACCT, T0).mode == "halted"


def test_reapply_same_stage_keeps_start_and_extends_expiry():
    b = LockBook().apply(ACCT, "reducing", now_ms=T0, policy="p", stage=1, ttl_ms=HOUR)
    b = b.apply(ACCT, "reducing", now_ms=T0 + 30 * MIN, policy="p", stage=1, ttl_ms=HOUR)
    assert len(b.holds) == 1
    h = b.holds[0]
    assert (h.created_ms, h.expires_ms) == (T0, T0 + 30 * MIN + HOUR)


def test_reapply_never_weakens_a_hold_in_force():
    b = LockBook().apply(ACCT, "halted", now_ms=T0, policy="p", stage=1, manual=True)
    b = b.apply(ACCT, "reducing", now_ms=T0 + MIN, policy="p", stage=1, ttl_ms=MIN)
    h = b.holds[0]
    assert (h.mode, h.manual, h.expires_ms) == ("halted", True, None)


def test_reapply_after_expiry_starts_afresh():
    b = LockBook().apply(ACCT, "halted", now_ms=T0, policy="p", stage=1, ttl_ms=MIN)
    b = b.apply(ACCT, "reducing", now_ms=T0 + 2 * MIN, policy="p", stage=1, ttl_ms=MIN)
    h = b.holds[0]
    assert (h.mode, h.created_ms, h.expires_ms) == ("reducing", T0 + 2 * MIN, T0 + 3 * MIN)


# --- expiry and manual holds -------------------------------------------------------------------------------


@pytest.mark.parametrize("now, manual, want", [
    pytest.param(T0, False, "halted", id="at_creation_locked"),
    pytest.param(T0 + HOUR - 1, False, "halted", id="one_ms_before_expiry_locked"),
    pytest.param(T0 + HOUR, False, "active", id="at_expiry_released"),
    pytest.param(T0 + 10 * HOUR, False, "active", id="long_after_expiry_released"),
    pytest.param(T0 + HOUR, True, "halted", id="manual_ignores_ttl_at_expiry"),
    pytest.param(T0 + 1000 * HOUR, True, "halted", id="manual_holds_forever"),
])
def test_ttl_expiry(now, manual, want):
    b = LockBook().apply(ACCT, "halted", now_ms=T0, policy="p", stage=3, ttl_ms=HOUR, manual=manual)
    assert b.for_scope(ACCT, now).mode == want
    assert b.summary(now).mode == want
    assert (len(b.expire(now).holds) == 1) == (want == "halted")


def test_no_now_keeps_ttl_holds():
    b = LockBook().apply(ACCT, "halted", now_ms=T0, policy="p", stage=3, ttl_ms=SEC)
    assert b.for_scope(ACCT).mode == "halted"  # without a time, the restrictive reading


def test_manual_hold_released_only_by_release():
    b = LockBook().apply(ACCT, "halted", now_ms=T0, policy="p", stage=3, ttl_ms=HOUR, manual=True)
    assert b.expire(T0 + 100 * HOUR) == b
    assert b.holds[0].details["ttl_ignored"]
    assert b.release(ACCT, policy="p").for_scope(ACCT, T0).mode == "active"


def test_release_of_one_policy_keeps_the_others():
    b = book_of((ACCT, "halted", "a", 3, None, True), (ACCT, "reducing", "b", 1, None, False))
    after = b.release(ACCT, policy="a")
    assert after.for_scope(ACCT, T0).policy == "b"
    assert after.release(ACCT).for_scope(ACCT, T0).mode == "active"


def test_release_of_one_stage_keeps_the_others():
    b = book_of((ACCT, "halted", "a", 3, None, True), (ACCT, "reducing", "a", 1, None, False))
    assert b.release(ACCT, policy="a", stage=3).for_scope(ACCT, T0).stage == 1


@pytest.mark.parametrize("kwargs, match", [
    pytest.param(dict(mode="active"), "release", id="active_is_not_a_lock"),
    pytest.param(dict(mode="paused"), "reducing", id="unknown_mode"),
    pytest.param(dict(mode="halted", ttl_ms=0), "ttl_ms", id="zero_ttl"),
    pytest.param(dict(mode="halted", ttl_ms=-5), "ttl_ms", id="negative_ttl"),
    pytest.param(dict(mode="halted", ttl_ms=1.5), "ttl_ms", id="float_ttl"),
    pytest.param(dict(mode="halted", ttl_ms=True), "ttl_ms", id="bool_ttl"),
    pytest.param(dict(mode="halted", scope=""), "scope", id="empty_scope"),
])
def test_apply_rejects_bad_arguments(kwargs, match):
    kwargs = {"scope": ACCT, **kwargs}
    scope = kwargs.pop("scope")
    mode = kwargs.pop("mode")
    with pytest.raises(ValueError, match=match):
        LockBook().apply(scope, mode, now_ms=T0, **kwargs)


# --- directives and evaluations -------------------------------------------------------------------------------


LADDER = dict(
    signals="s: {equity_change: {against: baseline, baseline: 10k}}",
    triggers="""
        t1: {when: "s <= -2%", on_missing_data: hold}
        t3: {when: "s <= -6%", on_missing_data: hold}
    """,
    stages="""
        - {level: 1, name: warn, on: [t1], cooldown: 10m, reset_after: 10m,
           actions: [{lock_trading: {mode: reducing, ttl: 1h}}]}
        - {level: 3, name: halt, on: [t3], reset: manual, actions: [{lock_trading: {mode: halted, ttl: 1h}}]}
    """,
)


def test_apply_evaluation_locks_on_entry_and_releases_on_auto_reset():
    graph = policy_graph(**LADDER)
    evs, _ = run(graph, [(0, [snap(9_700)]), (MIN, [snap(10_000)]), (20 * MIN, [snap(10_000)])])
    book = LockBook()
    book = apply_evaluation(book, evs[0], graph)
    st_ = book.for_scope("simulated/a", 0)
    assert (st_.mode, st_.stage, st_.policy, st_.expires_ms) == ("reducing", 1, "p", HOUR)
    assert st_.details["digest"] == graph.digest
    book = apply_evaluation(book, evs[1], graph)
    assert book.for_scope("simulated/a", MIN).mode == "reducing"
    book = apply_evaluation(book, evs[2], graph)  # AUTO_RESET after 10 quiet minutes
    assert evs[2].scopes[0].transition.kind == "reset"
    assert book.for_scope("simulated/a", 20 * MIN).mode == "active"


def test_apply_evaluation_manual_stage_holds_past_its_ttl():
    graph = policy_graph(**LADDER)
    evs, _ = run(graph, [(0, [snap(9_000)]), (5 * HOUR, [snap(10_000)])])
    book = LockBook()
    for ev in evs:
        book = apply_evaluation(book, ev, graph)
    st_ = book.for_scope("simulated/a", 5 * HOUR)
    assert (st_.mode, st_.manual, st_.stage) == ("halted", True, 3)


# --- JSON -------------------------------------------------------------------------------------------------------


holds_st = st.lists(st.tuples(
    st.sampled_from(["global", ACCT, "okx/x", "BTC/USDT:USDT"]),
    st.sampled_from(["reducing", "halted"]),
    st.sampled_from(["a", "b", None]),
    st.one_of(st.none(), st.integers(1, 5)),
    st.one_of(st.none(), st.integers(1, 10 * HOUR)),
    st.booleans(),
    st.integers(0, 5 * HOUR),
), max_size=8)


def build(holds) -> LockBook:
    b = LockBook()
    for scope, mode, policy, stage, ttl, manual, at in holds:
        b = b.apply(scope, mode, now_ms=T0 + at, policy=policy, stage=stage, ttl_ms=ttl, manual=manual)
    return b


@settings(max_examples=200, deadline=None)
@given(holds_st, st.integers(0, 20 * HOUR))
def test_summary_is_max_of_holds_in_force(holds, later):
    b = build(holds)
    now = T0 + later
    live = [h for h in b.holds if h.manual or h.expires_ms is None or now < h.expires_ms]
    want = max((mode_rank(h.mode) for h in live), default=0)
    assert mode_rank(b.summary(now).mode) == want
    for scope in ("global", ACCT, "okx/x"):
        mine = [h for h in live if h.scope in (scope, "global")]
        assert mode_rank(b.for_scope(scope, now).mode) == max((mode_rank(h.mode) for h in mine), default=0)


@settings(max_examples=200, deadline=None)
@given(holds_st)
def test_book_json_round_trip(holds):
    b = build(holds)
    assert LockBook.from_json(b.to_json()) == b


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(holds_st, st.integers(0, 20 * HOUR))
def test_file_round_trip_preserves_every_scope(tmp_path, holds, later):
    b = build(holds)
    now = T0 + 5 * HOUR
    path = tmp_path / "lock.json"
    write_lock_file(path, b, now)
    got = read_lock_file(path, T0 + later if later > 5 * HOUR else now)
    at = T0 + later if later > 5 * HOUR else now
    assert not got.corrupt
    assert got.summary.mode == b.summary(at).mode
    for scope in ("global", ACCT, "okx/x", "BTC/USDT:USDT"):
        assert got.for_scope(scope, at).mode == b.for_scope(scope, at).mode


@pytest.mark.parametrize("ms", [0, 1, 999, T0, T0 + 123, 253402300799999])
def test_iso_round_trip(ms):
    assert parse_iso_ms(iso_ms(ms)) == ms


# --- the file -----------------------------------------------------------------------------------------------


def test_written_file_has_the_bot_facing_format(tmp_path):
    b = LockBook().apply(ACCT, "halted", now_ms=T0, policy="futures-book", stage=3, manual=True,
                         details={"decision_id": "d1"})
    path = tmp_path / "lock.json"
    write_lock_file(path, b, T0 + SEC)
    doc = json.loads(path.read_text())
    assert doc["format_version"] == 1
    assert {k: doc[k] for k in ("locked", "mode", "scope", "stage", "policy", "expires_ts")} == {
        "locked": True, "mode": "halted", "scope": ACCT, "stage": 3, "policy": "futures-book", "expires_ts": None}
    assert doc["created_ts"] == "2023-11-14T22:13:20.000Z"
    assert doc["details"]["decision_id"] == "d1"
    assert doc["scopes"][ACCT]["mode"] == "halted"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_unlocked_book_writes_an_active_document(tmp_path):
    path = tmp_path / "lock.json"
    write_lock_file(path, LockBook(), T0)
    doc = json.loads(path.read_text())
    assert (doc["locked"], doc["mode"], doc["scopes"]) == (False, "active", {})
    assert read_lock_file(path).summary.mode == "active"


def test_expired_holds_are_not_written(tmp_path):
    b = LockBook().apply(ACCT, "halted", now_ms=T0, policy="p", stage=1, ttl_ms=MIN)
    path = tmp_path / "lock.json"
    write_lock_file(path, b, T0 + MIN)
    assert json.loads(path.read_text())["scopes"] == {}


def test_read_honours_ttl_when_given_now(tmp_path):
    b = LockBook().apply(ACCT, "reducing", now_ms=T0, policy="p", stage=1, ttl_ms=MIN)
    path = tmp_path / "lock.json"
    write_lock_file(path, b, T0)
    assert read_lock_file(path, T0 + MIN - 1).for_scope(ACCT, T0 + MIN - 1).mode == "reducing"
    assert read_lock_file(path, T0 + MIN).summary.mode == "active"
    assert read_lock_file(path).summary.mode == "reducing"


def test_missing_file_reads_unlocked(tmp_path):
    got = read_lock_file(tmp_path / "nope.json")
    assert (got.locked, got.mode, got.missing, got.corrupt) == (False, "active", True, False)
    assert got.summary.reason == "NO_LOCK_FILE"
    assert got.for_scope(ACCT).mode == "active"


def _good_doc() -> dict:
    b = LockBook().apply(ACCT, "reducing", now_ms=T0, policy="p", stage=1)
    return b.to_doc(T0)


def _mutated(f) -> bytes:
    doc = _good_doc()
    f(doc)
    return json.dumps(doc).encode()


CORRUPT = [
    pytest.param(b"", id="empty_file"),
    pytest.param(b"{", id="truncated_json"),
    pytest.param(json.dumps(_good_doc()).encode()[:-20], id="truncated_real_document"),
    pytest.param(b"\xff\xfe\x00garbage", id="not_utf8"),
    pytest.param(b"[]", id="not_an_object"),
    pytest.param(b"null", id="null"),
    pytest.param(_mutated(lambda d: d.update(format_version=2)), id="unknown_version"),
    pytest.param(_mutated(lambda d: d.update(format_version=True)), id="bool_version"),
    pytest.param(_mutated(lambda d: d.pop("format_version")), id="no_version"),
    pytest.param(_mutated(lambda d: d.update(mode="paused")), id="unknown_mode"),
    pytest.param(_mutated(lambda d: d.update(locked="yes")), id="locked_not_bool"),
    pytest.param(_mutated(lambda d: d.update(locked=False)), id="locked_contradicts_mode"),
    pytest.param(_mutated(lambda d: d.update(mode="active", locked=False)), id="summary_contradicts_holds"),
    pytest.param(_mutated(lambda d: d.pop("scopes")), id="no_scopes"),
    pytest.param(_mutated(lambda d: d["scopes"][ACCT].update(mode="halted")), id="entry_contradicts_holds"),
    pytest.param(_mutated(lambda d: d["scopes"][ACCT].update(holds=[])), id="entry_without_holds"),
    pytest.param(_mutated(lambda d: d["scopes"][ACCT]["holds"][0].update(created_ts="yesterday")), id="bad_time"),
    pytest.param(_mutated(lambda d: d["scopes"][ACCT]["holds"][0].update(extra=1)), id="unknown_hold_key"),
    pytest.param(_mutated(lambda d: d["scopes"][ACCT]["holds"][0].update(mode="active")), id="active_hold"),
    pytest.param(_mutated(lambda d: d["scopes"][ACCT]["holds"][0].update(stage="1")), id="stage_not_int"),
]


@pytest.mark.parametrize("raw", CORRUPT)
def test_corrupt_file_reads_halted(tmp_path, raw):
    path = tmp_path / "lock.json"
    path.write_bytes(raw)
    got = read_lock_file(path, T0)
    assert got.corrupt and got.locked and got.mode == "halted"
    assert got.summary.reason.startswith("LOCK_FILE_CORRUPT: ")
    assert got.for_scope("anything").mode == "halted"


def test_good_document_used_by_corrupt_cases_reads_fine(tmp_path):
    path = tmp_path / "lock.json"
    path.write_bytes(json.dumps(_good_doc()).encode())
    assert read_lock_file(path, T0).mode == "reducing"


def test_directory_at_lock_path_reads_halted(tmp_path):
    got = read_lock_file(tmp_path)
    assert got.corrupt and got.mode == "halted" and "cannot read" in got.summary.reason


def test_oversized_file_reads_halted(tmp_path, monkeypatch):
    monkeypatch.setattr(lockfile, "MAX_LOCK_FILE_BYTES", 100)
    path = tmp_path / "lock.json"
    path.write_bytes(json.dumps(_good_doc()).encode())
    assert read_lock_file(path).corrupt


# --- atomic write ------------------------------------------------------------------------------------------


def _leftovers(directory) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("victim", ["replace", "fsync", "write"])
def test_crash_mid_write_leaves_old_file_intact(tmp_path, monkeypatch, victim):
    path = tmp_path / "lock.json"
    old = LockBook().apply(ACCT, "halted", now_ms=T0, policy="p", stage=3, manual=True)
    write_lock_file(path, old, T0)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("simulated crash")

    monkeypatch.setattr(lockfile.os, victim, boom)
    with pytest.raises(OSError, match="simulated crash"):
        write_lock_file(path, LockBook(), T0 + SEC)
    monkeypatch.undo()
    assert path.read_bytes() == before
    got = read_lock_file(path)
    assert not got.corrupt and got.mode == "halted"
    assert _leftovers(tmp_path) == []


def test_first_write_crash_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "lock.json"
    monkeypatch.setattr(lockfile.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        write_lock_file(path, LockBook(), T0)
    assert not path.exists() and _leftovers(tmp_path) == []


@pytest.mark.slow
def test_concurrent_readers_never_see_partial_json(tmp_path):
    path = tmp_path / "lock.json"
    books = [
        LockBook(),
        LockBook().apply(ACCT, "halted", now_ms=T0, policy="p", stage=3, manual=True,
                         details={"padding": "x" * 5000}),
        book_of(*[(f"venue/acct{i}", "reducing", "p", 1, HOUR, False) for i in range(40)]),
    ]
    write_lock_file(path, books[0], T0)
    stop = threading.Event()
    seen: dict[str, int] = {}
    problems: list[str] = []

    def reader():
        while not stop.is_set():
            raw = path.read_bytes()
            try:
                json.loads(raw)
            except ValueError:
                problems.append(f"partial JSON of {len(raw)} bytes")
            got = read_lock_file(path)
            if got.corrupt:
                problems.append(got.summary.reason)
            seen[got.mode] = seen.get(got.mode, 0) + 1

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(500):
            write_lock_file(path, books[i % len(books)], T0 + i)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert problems == []
    assert sum(seen.values()) > 0
    assert _leftovers(tmp_path) == []


def test_lock_status_unlocked_doc():
    doc = LockStatus.unlocked(ACCT).to_doc()
    assert doc == {"locked": False, "mode": "active", "scope": ACCT, "stage": None, "policy": None,
                   "reason": "ACTIVE", "created_ts": None, "expires_ts": None, "manual": False, "details": {}}


def test_extra_keys_reach_the_file_and_never_overwrite_the_lock(tmp_path):
    b = LockBook().apply("bot-a", "halted", now_ms=T0, policy=lockmod.DEAD_MANS_SWITCH, reason="DMS_FIRED: bot-a")
    path = tmp_path / "lock.json"
    resuming = {ACCT: {"day": 1, "days": 4, "max_positions": 3}}
    write_lock_file(path, b, T0, extra={"resuming": resuming})
    assert json.loads(path.read_text())["resuming"] == resuming
    got = read_lock_file(path, T0)
    assert not got.corrupt and got.for_scope("bot-a").policy == "@dms" and got.for_scope("bot-a").mode == "halted"
    for key in ("locked", "mode", "scopes"):
        with pytest.raises(ValueError, match="overwrite"):
            write_lock_file(path, LockBook(), T0, extra={key: "active"})
    assert read_lock_file(path, T0).for_scope("bot-a").mode == "halted", "a refused write leaves the old file"


def test_holds_no_policy_placed_can_never_be_mistaken_for_a_policys():
    import re

    from killswitch.policy.fields import NAME_RE

    assert all(not re.match(NAME_RE, origin) for origin in lockmod.NOT_A_POLICY)
    b = (LockBook().apply(ACCT, "halted", now_ms=T0, policy="futures-book", stage=3, manual=True)
         .apply(ACCT, "reducing", now_ms=T0, policy=lockmod.OPERATOR, reason="by hand"))
    assert len(b.release(ACCT, policy=lockmod.OPERATOR).holds) == 1
    assert b.release(ACCT, policy="futures-book").holds[0].policy == lockmod.OPERATOR
