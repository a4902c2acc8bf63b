"""``ksctl kill --firm`` sent to a runner of no shard (issue 81): the same kill done here, by a
real runner on the simulated exchange — previewed (this runner's accounts, its resting entry
order, its keys out of reach), refused without the preview's id, then ``global`` locked halted
under the firm hold, the entry order cancelled and the reduce-only one left, the account named
out of reach; a second kill refused while it is in force, an operator's unlock refused naming
the release; one approval recorded in the hold (kept over a restart), the same approver again
refused, the second distinct approver's lifting it."""

from __future__ import annotations

import asyncio

from killswitch.firm.kill import KILL_HOLD
from killswitch.render.firm_kill import preview_text
from tests.unit.runner.operator.rig import ACCOUNT, audit_kinds, make, open_client_ids, resting_order


def _kill_holds(w) -> list[tuple]:
    return [(h.scope, h.mode, h.details.get("approvals")) for h in w.parts.book.lock_book.holds
            if h.policy == KILL_HOLD]


def test_a_firm_kill_on_a_runner_of_no_shard_locks_cancels_and_two_approvers_release_it(tmp_path):
    w = make(tmp_path)
    seen: dict = {}

    async def go():
        await w.runner.start()
        resting_order(w, "bot-a-1")
        w.engine.place_order("sim-main", "ETHUSDT", "SELL", "LIMIT", 0.01, 9_000.0, time_in_force="GTC",
                             client_order_id="bot-a-tp", reduce_only=True)
        await w.runner.tick()  # the tick reads them: the preview counts what it read
        preview = seen["preview"] = await w.desk.firm_kill_preview()
        seen["unsent"] = await w.desk.firm_kill("runaway bots", preview_id=None, actor="alice")
        seen["kill"] = await w.desk.firm_kill("runaway bots", preview_id=preview["preview_id"], actor="alice")
        seen["killed"], seen["open"] = _kill_holds(w), open_client_ids(w)
        seen["again"] = await w.desk.firm_kill_preview()
        seen["unlock"] = await w.desk.unlock_scope("global", "try", actor="bob")
        seen["once"] = await w.desk.firm_kill_release("bots fixed", approver="bob")
        seen["twice"] = await w.desk.firm_kill_release("bots fixed, I say", approver="bob")
        seen["held"] = _kill_holds(w)
        seen["last"] = await w.desk.firm_kill_release("bots fixed", approver="carol")

    asyncio.run(asyncio.wait_for(go(), 30))
    p = seen["preview"]
    assert p["allowed"] and p["preview_id"].startswith("kill-"), p
    assert preview_text(p) == "\n".join([
        "PREVIEW: firm-wide kill on a runner of no shard: 1 account(s), all this runner's; locked, cancelled and "
        "revoked here (no firm's tables: the kill is this runner's firm:kill lock)",
        "  this runner (1 account(s)), no shard: locks halted global; cancels 1 resting non-reduce-only order(s) as "
        f"the last tick read them; revokes the keys of 0 account(s); OUT OF REACH (no revoke: block): {ACCOUNT}",
        "  released only by 2 distinct approvers: ksctl kill --firm --release"])
    assert not seen["unsent"].done and seen["unsent"].reason.startswith("PREVIEW_REQUIRED")
    kill = seen["kill"]
    assert kill.done and kill.reason.startswith(
        f"KILLED: 1 account(s) locked halted (global) on this runner, which runs no shard; {ACCOUNT}: locked, "
        "nothing resting, out of reach"), kill
    assert seen["killed"] == [("global", "halted", [])]
    assert "bot-a-1" not in seen["open"] and "bot-a-tp" in seen["open"]
    assert not seen["again"]["allowed"] and seen["again"]["reason"].startswith(
        "KILL_IN_FORCE: kill local by alice is in force on this runner"), seen["again"]
    unlock = seen["unlock"]
    assert not unlock.done and unlock.reason.startswith(
        "KILL_IN_FORCE: global is halted by firm-wide kill local by alice (firm:kill)"), unlock
    assert seen["once"].done and seen["once"].reason.startswith("APPROVAL_RECORDED: 1/2 approvers=bob"), seen["once"]
    assert not seen["twice"].done and seen["twice"].reason.startswith("DUPLICATE_APPROVER: bob"), seen["twice"]
    assert seen["held"] == [("global", "halted", ["bob"])]
    assert seen["last"].done and seen["last"].reason.startswith("KILL_RELEASED: released by bob,carol"), seen["last"]
    assert _kill_holds(w) == []
    kinds = audit_kinds(w)
    assert [k for k in kinds if k.startswith("firm_")] == [
        "firm_lock", "firm_cancel", "firm_kill_release_approval", "firm_kill_release_approval",
        "firm_kill_release_approval", "firm_unlock"], kinds
    w.store.close()


def test_an_approval_of_the_release_is_kept_over_a_restart(tmp_path):
    w = make(tmp_path)

    async def go():
        await w.runner.start()
        await w.runner.tick()
        preview = await w.desk.firm_kill_preview()
        await w.desk.firm_kill("drill", preview_id=preview["preview_id"], actor="alice")
        return await w.desk.firm_kill_release("drill over", approver="bob")

    assert asyncio.run(asyncio.wait_for(go(), 30)).done
    w.store.close()
    w2 = make(tmp_path)  # the runner starts again over the same store

    async def again():
        await w2.runner.start()
        return (await w2.desk.firm_kill_release("drill over", approver="bob"), _kill_holds(w2),
                await w2.desk.firm_kill_release("drill over", approver="carol"))

    twice, held, last = asyncio.run(asyncio.wait_for(again(), 30))
    assert held == [("global", "halted", ["bob"])]
    assert not twice.done and twice.reason.startswith("DUPLICATE_APPROVER: bob"), twice
    assert last.done and last.reason.startswith("KILL_RELEASED: released by bob,carol"), last
    assert _kill_holds(w2) == []
    w2.store.close()


def test_the_preview_says_how_old_its_count_is_once_older_than_the_interval(tmp_path):
    """A low finding of issue 81: the kill's preview counted the resting orders of a read 70 s
    old (the ticks had stopped) as "as the last tick read them". Within the runner's interval (5 s
    here) it still says that; past it, how long ago they were read."""
    w = make(tmp_path)

    async def go():
        await w.runner.start()
        resting_order(w, "bot-a-1")
        await w.runner.tick()
        w.clock.advance(5_000)  # at the interval: what a tick read is that old before the next one
        fresh = await w.desk.firm_kill_preview()
        w.clock.advance(65_000)  # no tick since: the count is of a read 70 s old
        return fresh, await w.desk.firm_kill_preview()

    fresh, stale = asyncio.run(asyncio.wait_for(go(), 30))
    assert "cancels 1 resting non-reduce-only order(s) as the last tick read them;" in fresh["lines"][0], fresh
    assert "cancels 1 resting non-reduce-only order(s) as read 70 s ago;" in stale["lines"][0], stale
    assert stale["preview_id"] == fresh["preview_id"]  # the kill it previews is the same one
    w.store.close()
