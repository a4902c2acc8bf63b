"""The lock file's top level as bots read it: an operator's lock reads ``manual: true``, and over
several locked scopes ``scope`` picks none of them (``locked_scopes`` lists them all); one
locked scope is named as before, and every file still reads back."""

from __future__ import annotations

import json

from killswitch.runner.lock.file import read_lock_file, write_lock_file
from killswitch.runner.lock.lock import LockBook
from killswitch.runner.operator.commands import operator_lock

T0 = 1_772_456_400_000


def _written(tmp_path, book: LockBook) -> dict:
    path = tmp_path / "lock.json"
    write_lock_file(path, book, T0 + 1_000)
    assert not read_lock_file(path, T0 + 1_000).corrupt  # a reader of the format still takes it
    return json.loads(path.read_text())


def test_an_operator_lock_over_two_scopes_picks_neither(tmp_path):
    book = operator_lock(LockBook(), "binanceusdm/sim-main", "halted", "bot-a ignores the halt", T0, None, "alice")
    book = operator_lock(book, "binanceusdm/sim-hedge", "halted", "hedge too", T0, None, "alice")
    doc = _written(tmp_path, book)
    assert (doc["locked"], doc["mode"], doc["policy"]) == (True, "halted", "@operator")
    assert doc["scope"] is None
    assert doc["locked_scopes"] == ["binanceusdm/sim-hedge", "binanceusdm/sim-main"]
    assert doc["details"]["scopes_locked"] == 2
    assert doc["manual"] is True
    for entry in doc["scopes"].values():
        assert entry["manual"] is True  # a person's lock
        assert [h["manual"] for h in entry["holds"]] == [False]  # a hold's own: no manual-reset stage


def test_one_locked_scope_is_named_and_an_operator_ttl_lock_is_manual_with_its_expiry(tmp_path):
    book = operator_lock(LockBook(), "binanceusdm/sim-main", "reducing", "checking", T0, 3_600_000, "alice")
    doc = _written(tmp_path, book)
    assert (doc["scope"], doc["locked_scopes"], doc["manual"]) == ("binanceusdm/sim-main", ["binanceusdm/sim-main"],
                                                                   True)
    assert doc["expires_ts"] is not None


def test_a_policys_lock_is_not_manual_unless_its_stage_resets_by_hand(tmp_path):
    book = LockBook().apply("binanceusdm/sim-main", "reducing", now_ms=T0, policy="p1", stage=1, reason="x",
                            ttl_ms=60_000)
    assert _written(tmp_path, book)["manual"] is False
    latched = book.apply("binanceusdm/sim-main", "halted", now_ms=T0, policy="p1", stage=3, reason="y", manual=True)
    assert _written(tmp_path, latched)["manual"] is True
    assert _written(tmp_path, LockBook())["locked_scopes"] == []
