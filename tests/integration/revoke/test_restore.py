"""The restore and its approvals: only the stage's reset by two approvers restores a stage's revoke
(a restart keeps it), a dropped policy's revoke is restored by its approvers, the restore's
preview names the lock that still binds, and a refused reset is audited, never told to the sinks."""

from __future__ import annotations

from types import SimpleNamespace

from killswitch.events import TRADING_RESTORED
from tests.unit.engine_helpers import compile_graph

from .helpers import ACCOUNT, KEYS, KeyVenue, entered, events, make, metric, revoking, rows, run, shown, started, ticks


def test_only_the_reset_of_two_approvers_restores_and_nothing_else_does(tmp_path):
    w = make(tmp_path, venue=KeyVenue())
    entered(w)
    ticks(w, 20, beat=True)  # the bot is back: the trigger stops firing, the stage stays (manual reset)
    ticks(w, 1, step_ms=48 * 3_600_000)  # two days: no ttl, no timeout
    assert shown(w) == "revoked (read back)" and w.venue.sent("restore") == []
    w.store.close()

    again = make(tmp_path, venue=w.venue, engine=w.engine, clock=w.clock)  # a restart keeps it revoked
    run(again.runner.start())
    ticks(again, 5, beat=True)
    assert shown(again) == "revoked (read back)" and again.venue.sent("restore") == []
    assert len(again.venue.sent("revoke")) == 1, "a restart does not send the revoke again"

    first = run(again.desk.reset("bot-guard", ACCOUNT, "alice", "reviewed", confirm_relatch=True))
    assert not first.done and first.reason.startswith("APPROVAL_RECORDED: 1/2")
    assert not run(again.desk.reset("bot-guard", ACCOUNT, "alice", "again", confirm_relatch=True)).done
    ticks(again, 3, beat=True)
    assert again.venue.sent("restore") == [] and shown(again) == "revoked (read back)"

    second = run(again.desk.reset("bot-guard", ACCOUNT, "bob", "agreed", confirm_relatch=True))
    assert second.done and "trading restore owed" in second.reason and ACCOUNT in second.reason
    assert shown(again) == "revoked (read back); restore owed"  # owed, saved, not yet confirmed
    reports = ticks(again, 1, beat=True)
    assert again.venue.keys == {k: "allowed" for k in KEYS} and len(again.venue.sent("restore")) == 1
    [row] = rows(again, "trading_restored")
    assert row["keys"] == {k: "allowed" for k in KEYS} and row["read_back"] is True
    assert len(events(reports, TRADING_RESTORED)) == 1 and shown(again) == "allowed"
    assert metric(again, "killswitch_trading_revoked{") == f'killswitch_trading_revoked{{account="{ACCOUNT}"}} 0.0'
    ticks(again, 5, beat=True)
    assert len(again.venue.sent("restore")) == 1 and len(rows(again, "trading_restored")) == 1


def test_a_restores_preview_says_the_lock_that_still_binds_and_the_violations_under_it(tmp_path):
    """Restoring the keys lifts no lock: the preview names the lock the account's orders still get
    (as check-order reads it) and the bot's violations of it, so no approver takes the keys back
    for a bot that broke the halt a minute before without being told."""
    w = make(tmp_path, venue=KeyVenue())
    started(w)
    ticks(w, 1, beat=True)
    assert run(w.desk.lock_scope(ACCOUNT, "halted", "desk halt", actor="ann")).done
    w.engine.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.0, client_order_id="bot-a-mkt-1")
    ticks(w, 2, beat=True)  # the venue watch sees the growth under the halt and reverts it
    preview = w.desk.preview_revoke(ACCOUNT)
    assert run(w.desk.revoke_trading(ACCOUNT, "bot ignores the halt", preview_id=preview.preview_id,
                                     actor="ann")).done
    ticks(w, 1, beat=True)
    p = w.desk.preview_restore(ACCOUNT, "alice")
    assert p.allowed, p.reason
    said = "\n".join(p.effects)
    assert f"{ACCOUNT} is still HALTED by ann's lock (since " in said and "the restore does not lift it" in said, said
    # in the words ann typed, as the reset's preview gives them, not the lock's whole MANUAL_LOCK text
    assert ": desk halt); the restore does not lift it" in said and "MANUAL_LOCK" not in said, said
    # every lock that binds the account is named, not only the strongest (issue 65, walk 8 L1)
    assert run(w.desk.lock_scope("simulated", "reducing", "venue slow", actor="bob")).done
    said = "\n".join(w.desk.preview_restore(ACCOUNT, "alice").effects)
    assert (f"{ACCOUNT} is still HALTED by ann's lock (since " in said
            and "; also held by bob's lock (reducing); the restore does not lift any of them" in said), said
    assert f"{ACCOUNT}: 1 lock violation(s) since the lock, the latest at " in said, said
    # the bot's side and the runner's revert, each named (not "revert buy": the revert sold)
    assert (f"strategy unknown: bot buy BTC/USDT:USDT under halted {ACCOUNT}, reverted by the runner's sell "
            "(revert filled") in said, said


def test_a_stages_revoke_is_restored_by_its_reset_not_by_ksctl_revoke_restore(tmp_path):
    w = make(tmp_path, venue=KeyVenue())
    entered(w)
    answer = run(w.desk.restore_trading(ACCOUNT, "want it back", approver="alice"))
    assert not answer.done and answer.reason.startswith(f"REVOKED_BY_STAGE: {ACCOUNT} is revoked by stage 1 of "
                                                        "policy bot-guard; its reset restores it (ksctl reset")
    assert w.venue.sent("restore") == []


def test_a_revoke_whose_policy_a_reload_dropped_stays_until_its_approvers_restore_it(tmp_path):
    """A reload never lifts a revoke; with the policy gone no reset can reach it, so the
    restore takes it, with the approvals the stage asked for."""
    from killswitch.runner.tick.reload import GraphReload

    w = make(tmp_path, venue=KeyVenue())
    entered(w)
    other = compile_graph(revoking("other-guard"), "guard.yaml")
    assert run(w.runner.apply_graph(GraphReload(other))).applied
    ticks(w, 3, beat=True)
    assert shown(w) == "revoked (read back)" and w.venue.sent("restore") == []
    first = run(w.desk.restore_trading(ACCOUNT, "policy retired", approver="alice"))
    assert first.done and first.reason.startswith("APPROVAL_RECORDED: 1/2 (the revoke of policy bot-guard")
    assert shown(w) == "revoked (read back)"
    second = run(w.desk.restore_trading(ACCOUNT, "agreed", approver="bob"))
    assert second.done and second.reason.startswith(f"RESTORED: trading (policy bot-guard no longer runs this "
                                                    f"scope) on {ACCOUNT}"), second.reason
    assert w.venue.keys == {k: "allowed" for k in KEYS} and shown(w) == "allowed"


def test_a_refused_reset_is_audited_and_never_told_to_the_sinks(tmp_path):
    """A duplicate approval or a reset of nothing is the caller's mistake: audited, answered,
    never a page to a chat (a RESET event is told for an approval taken or a release alone)."""
    from killswitch.events import RESET

    told: list = []
    w = make(tmp_path, venue=KeyVenue())
    w.parts.fanout.sinks.append(SimpleNamespace(name="catch", on_event=lambda e, ctx: told.append(e),
                                                on_tick=lambda r, ctx: None))
    entered(w)
    ticks(w, 1, beat=True)  # heard again: its trigger no longer fires
    assert run(w.desk.reset("bot-guard", ACCOUNT, "alice", "checked")).reason.startswith("APPROVAL_RECORDED")
    assert run(w.desk.reset("bot-guard", ACCOUNT, "alice", "again")).reason.startswith("DUPLICATE_APPROVER")
    assert run(w.desk.reset("bot-guard", "simulated", "alice", "x")).reason.startswith(("NOT_ENGAGED", "UNKNOWN"))
    resets = [e.data["result"] for e in told if e.kind == RESET]
    assert len(resets) == 1 and resets[0].startswith("APPROVAL_RECORDED"), resets
    results = [r["result"].split(":")[0] for r in rows(w, "reset_approval")]
    assert results[:2] == ["APPROVAL_RECORDED", "DUPLICATE_APPROVER"], results  # each attempt audited


def test_a_restores_preview_names_a_while_blind_hold_as_status_does(tmp_path):
    """A policy's hold while blind is no stage's: the preview called it ``futures-book stage 0``,
    which reads as nothing engaged; status names it ``policy futures-book while blind``."""
    w = make(tmp_path, venue=KeyVenue())
    started(w)
    ticks(w, 1, beat=True)
    assert run(w.desk.lock_scope(ACCOUNT, "halted", "desk halt", actor="ann")).done
    preview = w.desk.preview_revoke(ACCOUNT)
    assert run(w.desk.revoke_trading(ACCOUNT, "bot ignores the halt", preview_id=preview.preview_id,
                                     actor="ann")).done
    book = w.parts.book
    book.take_lock_book(book.lock_book.apply(ACCOUNT, "reducing", now_ms=w.clock(), policy="futures-book",
                                             stage=0, reason="WHILE_BLIND: policy=futures-book no data",
                                             details={"while_blind": True}))
    said = "\n".join(w.desk.preview_restore(ACCOUNT, "alice").effects)
    assert "; also held by policy futures-book while blind (reducing); the restore does not lift any of them" \
        in said, said
    assert "stage 0" not in said, said
