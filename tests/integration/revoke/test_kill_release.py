"""A firm-wide kill's release on a runner whose account's keys it revoked says what came of the
keys as one statement: restored, or still revoked and why — never a first approval's "trading
stays revoked" beside the second's ``RESTORED`` in one line (issue 81)."""

from __future__ import annotations

from .helpers import ACCOUNT, KeyVenue, make, run


def _kill_and_release(w, *, revoked_before: int = 0) -> tuple[str, str]:
    async def go():
        await w.runner.start()
        await w.runner.tick()
        if revoked_before:  # an operator's revoke of global in force, its restore needing more approvers
            ahead = w.desk.preview_revoke("global")
            got = await w.desk.revoke_trading("global", "bots misbehave", preview_id=ahead.preview_id,
                                              approvals=revoked_before, actor="dave")
            assert got.done, got.reason
        preview = await w.desk.firm_kill_preview()
        kill = await w.desk.firm_kill("runaway bots", preview_id=preview["preview_id"], actor="alice")
        assert kill.done, kill.reason
        once = await w.desk.firm_kill_release("bots fixed", approver="bob")
        assert once.done, once.reason
        return once.reason, (await w.desk.firm_kill_release("bots fixed", approver="carol")).reason

    return run(go())


def test_the_release_says_the_keys_restored_once_and_nothing_that_contradicts_it(tmp_path):
    venue = KeyVenue()
    w = make(tmp_path, venue=venue)
    _, last = _kill_and_release(w)
    assert last == (f"KILL_RELEASED: released by bob,carol: global: UNLOCKED (firm:kill); RESTORED: trading on "
                    f"{ACCOUNT}; {ACCOUNT}: allowed"), last
    assert "stays revoked" not in last and "APPROVAL_RECORDED" not in last
    assert venue.keys == {"bot-a-key": "allowed", "bot-b-key": "allowed"}
    w.store.close()


def test_keys_an_operators_revoke_still_holds_after_the_release_are_said_still_revoked_with_why(tmp_path):
    venue = KeyVenue()
    w = make(tmp_path, venue=venue)
    _, last = _kill_and_release(w, revoked_before=3)
    assert last == ("KILL_RELEASED: released by bob,carol: global: UNLOCKED (firm:kill); TRADING STILL REVOKED on "
                    "global: APPROVAL_RECORDED: 2/3 approvers=bob,carol; trading stays revoked"), last
    assert "RESTORED" not in last
    assert venue.keys == {"bot-a-key": "revoked", "bot-b-key": "revoked"}
    w.store.close()
