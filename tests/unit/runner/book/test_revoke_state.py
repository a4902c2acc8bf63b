"""The trading permission as a value: holds, the effect owed the venue, backoff, what is shown."""

from __future__ import annotations

import json

import pytest

from killswitch.runner.book.revoke_state import (
    ALLOWED,
    BACKOFF_MAX_MS,
    OPERATOR,
    REVOKED,
    Hold,
    RevokeBook,
    backoff_ms,
    holder_of,
)

A, B = "binanceusdm/a", "binanceusdm/b"


def stage_hold(scope: str = "global", now: int = 0) -> Hold:
    return Hold(holder=holder_of("p", scope), policy="p", scope=scope, since_ms=now, reason="REVOKE_TRADING", stage=3,
                approvals_needed=2)


def op_hold(scope: str, now: int = 0) -> Hold:
    return Hold(holder=holder_of(OPERATOR, scope), policy=OPERATOR, scope=scope, since_ms=now, reason="r", by="ann")


def test_backoff_doubles_from_one_second_to_a_minute():
    assert [backoff_ms(n) for n in range(1, 9)] == [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
    assert backoff_ms(10_000) == BACKOFF_MAX_MS


def test_a_hold_owes_a_revoke_once_and_a_second_hold_owes_nothing_more():
    book = RevokeBook().hold([A, B], stage_hold(), 10)
    assert [(p.account, p.owed.want) for p in book.due(10)] == [(A, REVOKED), (B, REVOKED)]
    op = book.get(A).owed.op
    again = book.hold([A], op_hold(A), 20)
    assert again.get(A).owed.op == op and len(again.get(A).holds) == 2


def test_confirmed_shows_revoked_and_a_failure_is_never_shown_revoked():
    book = RevokeBook().hold([A], stage_hold(), 0)
    op = book.get(A).owed.op
    failed, first = book.failed(A, op, "-2015", "Invalid API-key", 0)
    assert first and failed.get(A).shown() == "REVOKE_FAILED: -2015: Invalid API-key (attempt 1)"
    assert not failed.get(A).revoked and failed.due(999) == [] and failed.due(1_000)
    failed, first = failed.failed(A, op, "-2015", "Invalid API-key", 1_000)
    assert not first, "one page per failure spell"
    assert failed.get(A).owed.next_ms == 3_000
    done = failed.confirmed(A, op, {"k": REVOKED}, True, 5_000)
    assert done.get(A).shown() == "revoked (read back)" and done.get(A).owed is None and done.due(10**12) == []
    assert done.confirmed(A, "other#1@0", {"k": ALLOWED}, True, 6_000) == done, "a superseded answer changes nothing"


def test_the_last_hold_released_owes_a_restore_and_the_account_stays_shown_revoked_until_confirmed():
    book = RevokeBook().hold([A], stage_hold(A), 0).hold([A], op_hold(A), 0)
    book = book.confirmed(A, book.get(A).owed.op, {"k": REVOKED}, False, 1)
    book, restored = book.release(holder_of("p", A), 5)
    assert restored == [] and book.get(A).owed is None, "the operator's hold keeps it revoked"
    book, restored = book.release(holder_of(OPERATOR, A), 6)
    assert restored == [A] and book.get(A).owed.want == ALLOWED
    assert book.get(A).shown() == "revoked (venue offers no read); restore owed" and book.get(A).revoked
    book, _ = book.failed(A, book.get(A).owed.op, "10003", "API key is invalid.", 7)
    assert book.get(A).shown().startswith("revoked (venue offers no read); RESTORE_FAILED: 10003")
    book = book.confirmed(A, book.get(A).owed.op, {"k": ALLOWED}, True, 9)
    assert A not in book.accounts and book.get(A).shown() == "allowed"


def test_a_hold_released_before_its_revoke_was_confirmed_still_owes_a_restore():
    """The revoke may have reached the venue before an answer was lost: a restore is sent, not assumed."""
    book = RevokeBook().hold([A], stage_hold(), 0)
    revoke = book.get(A).owed.op
    book, restored = book.release(holder_of("p", "global"), 1)
    assert restored == [A] and book.get(A).owed.want == ALLOWED and book.get(A).owed.op != revoke


def test_op_numbers_are_never_given_twice_and_survive_the_saved_form():
    book = RevokeBook().hold([A], stage_hold(), 0)
    book = book.confirmed(A, book.get(A).owed.op, {"k": REVOKED}, True, 1)
    book = book.approve(holder_of("p", "global"), "alice")
    back = RevokeBook.from_json(json.loads(json.dumps(book.to_json())))
    assert back == book and back.get(A).holds[0].approvals == ("alice",)
    book, _ = back.release(holder_of("p", "global"), 2)
    assert book.get(A).owed.op.startswith(f"{A}#2@")


def test_a_saved_permission_of_an_unknown_state_is_refused():
    with pytest.raises(ValueError):
        RevokeBook.from_json({"seq": 1, "accounts": {A: {"state": "maybe"}}})
