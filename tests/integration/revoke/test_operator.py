"""The operator's revoke: previewed, of the exact scope previewed, restored by its approvers
(``ksctl revoke`` against a served runner)."""

from __future__ import annotations

from .helpers import (
    ACCOUNT,
    KEYS,
    KeyVenue,
    ServedKeys,
    make,
    run,
    shown,
    started,
    ticks,
)


def test_ksctl_revoke_previews_the_exact_scope_and_only_approvers_restore_it(tmp_path):
    from click.testing import CliRunner

    from killswitch.cli.main import cli
    from tests.integration.test_ops_commands import ALICE, BOB, TOKEN

    op = CliRunner(env={"KS_API_TOKEN": TOKEN})
    alice, bob = CliRunner(env={"KS_API_TOKEN": ALICE}), CliRunner(env={"KS_API_TOKEN": BOB})
    with ServedKeys(tmp_path) as srv:
        venue, url = srv.w.venue, srv.url
        r = op.invoke(cli, ["revoke", "--scope", "simulated/SIM-MAIN", "--api", url, "--reason", "typo", "--yes"])
        assert r.exit_code == 1 and "UNKNOWN_SCOPE" in r.output and "did you mean 'simulated/sim-main'" in r.output
        args = ["revoke", "--scope", ACCOUNT, "--api", url, "--reason", "bot ignores the halt", "--approvals", "2"]
        r = op.invoke(cli, args)  # no --yes and no terminal: nothing is sent
        assert r.exit_code == 2 and "nothing was sent" in r.output, r.output
        assert r.output.startswith(f"PREVIEW: revoke trading on 1 account(s): {ACCOUNT}")
        # the keys it makes read-only, named as its answer and status name them (walk 11 of issue 65, L10)
        assert f"  {ACCOUNT}: keys bot-a-key, bot-b-key made read-only at the venue (now allowed)" in r.output
        assert f"  its restore will need 2 distinct approver(s) (--approvals), each with ksctl revoke --scope " \
               f"{ACCOUNT} --restore" in r.output, r.output
        assert venue.sent("revoke") == []
        r = op.invoke(cli, args + ["--yes"])
        assert r.exit_code == 0, r.output
        assert f"\nREVOKED: trading on {ACCOUNT}; {ACCOUNT}: revoked (read back)" in r.output, r.output
        assert venue.keys == {k: "revoked" for k in KEYS} and len(venue.sent("revoke")) == 1
        r = op.invoke(cli, ["status", "--api", url])
        assert f"  TRADING {ACCOUNT}: revoked (read back); keys bot-a-key=revoked, bot-b-key=revoked; held by " \
               f"shared-token's revoke of {ACCOUNT} (restore needs 2 approver(s), have 0)" in r.output, r.output

        restore = ["revoke", "--scope", ACCOUNT, "--restore", "--api", url, "--reason", "bot fixed"]
        r = op.invoke(cli, restore)
        assert r.exit_code == 1 and "ROLE_REQUIRED: shared-token may not do this" in r.output, r.output  # no approver
        r = alice.invoke(cli, restore)  # what her approval does, then it
        assert r.exit_code == 0 and r.output.startswith(
            f"PREVIEW: approval 1/2 of the restore of trading on {ACCOUNT}\n"
            "  revoked by shared-token: MANUAL_REVOKE: bot ignores the halt\n"
            f"  {ACCOUNT}: no lock binds it now; its bots trade freely once restored\n  no approval yet\n"), r.output
        assert "\nAPPROVAL_RECORDED: 1/2 approvers=alice" in r.output, r.output
        r = alice.invoke(cli, restore)
        assert r.exit_code == 1 and r.output.startswith("DUPLICATE_APPROVER: alice"), r.output  # (its preview)
        assert venue.sent("restore") == [] and venue.keys == {k: "revoked" for k in KEYS}
        r = bob.invoke(cli, restore)
        assert r.exit_code == 0 and r.output.startswith(f"PREVIEW: approval 2/2, the last, of the restore of trading "
                                                        f"on {ACCOUNT}\n"), r.output
        assert f"  the last approval: the bots' keys made tradable again at the venue now for {ACCOUNT}\n" in r.output
        assert f"\nRESTORED: trading on {ACCOUNT}; {ACCOUNT}: allowed" in r.output, r.output
        assert venue.keys == {k: "allowed" for k in KEYS} and len(venue.sent("restore")) == 1
        r = bob.invoke(cli, restore)
        assert r.exit_code == 1 and r.output.startswith(f"NOT_REVOKED: no revoke of exactly {ACCOUNT}"), r.output
    kinds = [row.payload.get("op") for row in srv.w.store.audit_rows(kinds=["trading_revoked", "trading_restored"])]
    assert len(kinds) == 2 and len(set(kinds)) == 2
    # each refused attempt, though its preview was refused first, is audited with its author and in
    # the report's operator actions, as a refused lock or reset is (issue 65, walk 8 M2)
    from killswitch.runbooks.operator_actions import operator_actions

    rows = srv.w.store.audit_rows()
    refused = [(r.kind, r.payload.get("by") or r.payload.get("approver"), str(r.payload["refused"]).split(":")[0])
               for r in rows if r.payload.get("refused")]
    assert refused == [("trading_revoke_requested", "shared-token", "UNKNOWN_SCOPE"),
                       ("api_write_refused", "shared-token", "ROLE_REQUIRED"),
                       ("trading_restore_approval", "alice", "DUPLICATE_APPROVER"),
                       ("trading_restore_approval", "bob", "NOT_REVOKED")], refused
    shown = [(a["action"], a["by"], a["outcome"]) for a in operator_actions(rows, srv.w.clock() + 1, lambda s: True,
                                                                            {}, {})
             if a["outcome"].startswith("refused")]
    assert shown == [("revoke", "shared-token", "refused: UNKNOWN_SCOPE"),
                     ("revoke restore", "shared-token", "refused: ROLE_REQUIRED"),
                     ("restore approval", "alice", "refused: DUPLICATE_APPROVER"),
                     ("restore approval", "bob", "refused: NOT_REVOKED")], shown
    # a restore approval taken says which one it was, as its answer does (walk 11 of issue 65, L3)
    done = [(a["by"], a["outcome"]) for a in operator_actions(rows, srv.w.clock() + 1, lambda s: True, {}, {})
            if a["action"] == "restore approval" and not a["outcome"].startswith("refused")]
    assert done == [("alice", "done: approval 1/2"), ("bob", "done: approval 2/2")], done


def test_a_revoke_whose_scope_reaches_other_accounts_than_previewed_is_refused(tmp_path):
    w = make(tmp_path, venue=KeyVenue())
    started(w)
    ticks(w, 1, beat=True)
    preview = w.desk.preview_revoke("simulated")
    assert preview.allowed and preview.preview_id
    stale = run(w.desk.revoke_trading("simulated", "r", preview_id="rv-0000000000000000", actor="ann"))
    assert not stale.done and stale.reason.startswith("PREVIEW_MISMATCH: simulated reaches simulated/sim-main now")
    missing = run(w.desk.revoke_trading("simulated", "r", preview_id=None, actor="ann"))
    assert not missing.done and missing.reason.startswith("PREVIEW_REQUIRED")
    assert w.venue.sent("revoke") == [] and shown(w) == "allowed"
    done = run(w.desk.revoke_trading("simulated", "r", preview_id=preview.preview_id, actor="ann"))
    assert done.done and shown(w) == "revoked (read back)"


def test_a_restore_preview_is_headed_with_the_scope_the_restore_takes(tmp_path):
    """A venue's revoke: its restore's preview names the venue (``--scope simulated``), then the
    accounts it holds (walk 11 of issue 65, L9: it named the account, a scope the restore refuses)."""
    w = make(tmp_path, venue=KeyVenue())
    started(w)
    ticks(w, 1, beat=True)
    preview = w.desk.preview_revoke("simulated")
    assert run(w.desk.revoke_trading("simulated", "r", preview_id=preview.preview_id, approvals=2, actor="ann")).done
    first = w.desk.preview_restore("simulated", "alice")
    assert first.reason == f"PREVIEW: approval 1/2 of the restore of trading on simulated (accounts {ACCOUNT})"
    assert run(w.desk.restore_trading("simulated", "fixed", approver="alice")).reason.startswith("APPROVAL_RECORDED")
    last = w.desk.preview_restore("simulated", "bob")
    assert last.reason == f"PREVIEW: approval 2/2, the last, of the restore of trading on simulated (accounts " \
                          f"{ACCOUNT})", last.reason
