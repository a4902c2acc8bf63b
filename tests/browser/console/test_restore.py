"""An operator's revoke restored from the console: the trading-permission line names the keys, who
holds them and the restore's approvals so far, and its Approve restore… button previews the
caller's approval (k of N, or the last and what it restores) before sending it (a walk found no
restore in the console at all)."""

from __future__ import annotations

from ..conftest import ACCOUNT, BOB
from ..views import click_action, close_dialog, confirm_and_send, open_console, preview, sign_in, view_text, wait


def test_a_revoke_is_restored_from_the_console_with_its_preview_and_approvals(live, browser, shot):
    r = live(revoke_keys=("bot-a-key",))
    r.tick(1)
    ahead = r.desk.preview_revoke(ACCOUNT)
    assert ahead.allowed, ahead.reason
    done = r.call(r.desk.revoke_trading(ACCOUNT, "bot-a ignores the halt", preview_id=ahead.preview_id,
                                        approvals=2, actor="alice"))
    assert done.done and done.reason.startswith("REVOKED"), done.reason
    open_console(browser, r.url)
    sign_in(browser, BOB, "bob")
    wait(browser, lambda b: "Approve restore" in view_text(b), "the restore button is shown")
    text = view_text(browser)
    assert (f"Trading revoked {ACCOUNT}: revoked (read back); keys bot-a-key revoked; held by alice's revoke of "
            f"{ACCOUNT} (restore needs 2 approver(s), have 0)") in text, text
    click_action(browser, "restore", ACCOUNT)
    said = preview(browser, "bot-a fixed")
    assert f"PREVIEW: approval 1/2 of the restore of trading on {ACCOUNT}" in said, said
    assert "records the approval of bob; trading stays revoked until 2 distinct approvers agree" in said, said
    shot("restore-01-preview", full=False)
    answer = confirm_and_send(browser, ACCOUNT)
    assert answer.startswith("APPROVAL_RECORDED: 1/2 approvers=bob"), answer
    close_dialog(browser)
    wait(browser, lambda b: "have 1: bob)" in view_text(b), "the approval is shown on the line")
    # the second approver's, from the CLI's path: the keys come back and the line goes
    assert r.call(r.desk.restore_trading(ACCOUNT, "agreed", approver="alice")).reason.startswith("RESTORED")
    r.tick(1)
    wait(browser, lambda b: "Approve restore" not in view_text(b), "the line goes once restored")
