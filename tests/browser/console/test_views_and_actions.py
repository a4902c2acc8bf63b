"""The on-call console in a real browser (headless chromium through selenium), against a runner
on the simulated exchange: every view renders from what the runner knows, an operator locks and
unlocks a scope, two approvers pass a reset with their own tokens, and a close is previewed,
confirmed by typing the scope and sent, until the venue holds no position. Every step saves a
screenshot (see conftest.py for where)."""

from __future__ import annotations

import re

from ..conftest import ACCOUNT, ALICE, BOB, VERA
from ..views import (
    click_action,
    close_dialog,
    confirm_and_send,
    guard_stage,
    lock_doc,
    open_console,
    preview,
    rendered,
    sign_in,
    text_of,
    view_text,
    wait,
)

# --- the views ------------------------------------------------------------------------------------------


def test_every_view_renders_from_the_runner_and_refreshes_without_a_reload(live, browser, shot):
    r = live()
    r.call(r.desk.dms_arm("bot-y", 120.0, actor="test"))
    r.tick(1, beat=("bot-x", "bot-y"))
    r.tick(13, beat=("bot-y",))  # bot-x silent for 65 s: bot-guard halts the account
    incident = "bot-guard/simulated/sim-main/L1/e1"
    assert guard_stage(r) == 1
    open_console(browser, r.url)
    # not public: the page shows nothing of the runner without a token
    assert "enter a token" in text_of(browser, "#signed-out").lower() or "token" in text_of(browser, "#signed-out")
    assert text_of(browser, "#view") == ""
    assert ACCOUNT not in browser.page_source
    shot("01-signed-out")

    sign_in(browser, VERA, "vera")  # a viewer sees everything, and may do nothing
    text = view_text(browser)
    # the runner: leader, live, graph
    assert "LEADER" in text and "LIVE" in text and "DRY RUN" not in text
    assert r.parts.book.graph.digest[:12] in text
    # every scope with its stage and since when; the firing trigger with its value against the threshold
    assert "bot-guard" in text and "book-drawdown" in text and "halt" in text
    assert "bot = 1m 10s > 1m: breached" in text or re.search(r"bot = [\d.]+s > 1m: breached", text), text
    # the lock: mode, origin, reason
    assert "halted" in text and "policy bot-guard stage 1" in text
    # the open incident, its runbook link, its approvals; and the pending approval
    assert incident in text and "0 of 2 approvals" in text
    link = browser.find_element("css selector", f'#incidents a[href*="{incident.replace("/", "%2F")}"]')
    assert link.get_attribute("href").endswith("?format=html")
    # data age per account, heartbeats and the dead man's switch
    assert ACCOUNT in text and "bot-y" in text and "Listening since" in text
    # the drawdown policy's trigger: its value against 5%
    assert re.search(r"dd = [\d.]+% >= 5%: not breached", text), text
    assert VERA not in browser.page_source and ALICE not in browser.page_source
    shot("02-views-light")

    # the runbook needs a reader's token, which a plain link cannot send: the page reads it with
    # the token and shows it in a dialog; Escape gives the focus back to the link
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(link.get_attribute("href"), timeout=10)
        raise AssertionError("a runbook read without a token")
    except urllib.error.HTTPError as e:
        assert e.code == 401
    from selenium.webdriver.common.keys import Keys

    browser.execute_script("window.__same_page = 41")
    link.click()
    wait(browser, lambda b: b.execute_script("return document.getElementById('runbook-dialog').open"),
         "the runbook dialog opens")
    wait(browser, lambda b: incident in text_of(b, "#runbook-text") and rendered(b),
         "the runbook is shown (rendered)")
    assert len(browser.window_handles) == 1 and browser.execute_script("return window.__same_page") == 41
    shot("02b-runbook")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(browser, lambda b: not b.execute_script("return document.getElementById('runbook-dialog').open"),
         "Escape closes the runbook")
    assert browser.switch_to.active_element.get_attribute("data-runbook") == incident

    # a notification links the console at /#runbook=<incident>: the page opens that runbook with
    # the token already typed in this tab
    from killswitch.events import console_runbook_path

    browser.get(browser.current_url.split("#")[0].rstrip("/") + console_runbook_path(incident))
    wait(browser, lambda b: b.execute_script("return document.getElementById('runbook-dialog').open"),
         "the linked runbook opens")
    wait(browser, lambda b: incident in text_of(b, "#runbook-text") and rendered(b),
         "the linked runbook is shown")
    assert "#runbook" not in browser.current_url  # read once: a refresh does not open it again
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(browser, lambda b: not b.execute_script("return document.getElementById('runbook-dialog').open"),
         "Escape closes the linked runbook")

    # dark: the same page under prefers-color-scheme: dark
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia",
                            {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    bg = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(18, 20, 23)", bg
    shot("03-views-dark")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia",
                            {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    assert browser.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"

    # the view refreshes itself: bot-x beats again, the trigger stops firing, without a page load
    browser.execute_script("window.__same_page = 42")
    r.tick(2, beat=("bot-x", "bot-y"))
    wait(browser, lambda b: re.search(r"bot = [\d.]+s > 1m: not breached", view_text(b)), "the view refreshed")
    assert browser.execute_script("return window.__same_page") == 42
    assert incident in view_text(browser)  # a manual stage stays until its reset
    shot("04-refreshed")


def test_every_control_is_labelled_and_an_action_is_keyboard_usable(live, browser, shot):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    r = live()
    r.tick(2, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    unlabelled = browser.execute_script("""
        const out = [];
        for (const el of document.querySelectorAll('button, input, select, a[href]')) {
          const name = (el.getAttribute('aria-label') || (el.labels && el.labels.length ? el.labels[0].textContent : '')
                        || el.textContent || '').trim();
          if (!name) out.push(el.outerHTML.slice(0, 120));
        }
        for (const t of document.querySelectorAll('table')) if (!t.querySelector('caption')) out.push('table');
        return out;""")
    assert unlabelled == []
    # from the top of the page, the keyboard reaches an action, opens it, and Escape gives focus back
    browser.find_element("css selector", "body").click()
    for _ in range(40):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        if browser.execute_script("return document.activeElement.dataset.action || ''"):
            break
    action = browser.execute_script("return document.activeElement.dataset.action")
    label = browser.execute_script("return document.activeElement.getAttribute('aria-label')")
    assert action == "lock" and label.startswith("Lock ")
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    wait(browser, lambda b: b.execute_script("return document.getElementById('action-dialog').open"), "opens")
    assert browser.execute_script("return document.activeElement.id") == "f-reason"
    ActionChains(browser).send_keys("keyboard only").send_keys(Keys.ENTER).perform()  # Enter previews
    wait(browser, lambda b: "LOCKED: scope=" in text_of(b, "#preview"), "Enter previews")
    assert browser.execute_script("return document.activeElement.id") == "f-confirm"
    shot("05-keyboard-preview", full=False)
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    wait(browser, lambda b: not b.execute_script("return document.getElementById('action-dialog').open"), "closes")
    assert browser.execute_script("return document.activeElement.dataset.action") == "lock"
    assert not lock_doc(r, ACCOUNT)["locked"]  # a preview sends nothing


def test_a_dry_run_runner_shows_its_banner_and_a_public_console_needs_no_token_to_read(live, browser, shot):
    r = live(dry_run=True, console_public=True)
    r.tick(2, beat=("bot-x",))
    open_console(browser, r.url)
    text = view_text(browser)  # rendered into the page itself, then refreshed
    assert "DRY RUN: this runner sends nothing to any venue" in text
    assert "read-only" in text_of(browser, "#who")
    shot("06-dry-run-public")
    # reading needed no token; acting does: the dialog asks for one
    click_target = browser.find_element("css selector", f'#view button[data-action="lock"][data-scope="{ACCOUNT}"]')
    click_target.click()
    assert not browser.execute_script("return document.getElementById('action-dialog').open")
    assert browser.execute_script("return document.activeElement.id") == "token"


# --- the actions -----------------------------------------------------------------------------------------


def test_lock_then_unlock_a_scope_with_a_preview_and_the_scope_typed(live, browser, shot):
    r = live()
    r.tick(2, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    click_action(browser, "lock", ACCOUNT)
    text = preview(browser, "drill: lock for the console test", mode="reducing", ttl="30m")
    assert "LOCKED: scope=simulated/sim-main mode=reducing until 2026-03-02T13:30:10.000Z" in text
    assert "trading allowed now, reducing after" in text
    assert not lock_doc(r, ACCOUNT)["locked"], "a preview changes nothing"
    shot("07-lock-preview", full=False)
    assert confirm_and_send(browser, ACCOUNT).startswith("LOCKED: scope=simulated/sim-main mode=reducing")
    doc = lock_doc(r, ACCOUNT)
    assert doc["locked"] and doc["mode"] == "reducing" and doc["policy"] == "@operator"
    close_dialog(browser)
    wait(browser, lambda b: "by operator" in view_text(b), "the lock is shown")
    shot("08-locked")

    click_action(browser, "unlock", ACCOUNT)
    text = preview(browser, "drill over")
    assert "UNLOCKED: simulated/sim-main (operator lock lifted)" in text and "lifts the reducing lock" in text
    assert lock_doc(r, ACCOUNT)["locked"]
    assert confirm_and_send(browser, ACCOUNT) == "UNLOCKED: simulated/sim-main (operator lock lifted)"
    assert not lock_doc(r, ACCOUNT)["locked"]
    close_dialog(browser)
    wait(browser, lambda b: "No lock in force" in view_text(b), "the lock is gone from the view")
    rows = [row.payload for row in r.store.audit_rows(kinds=["manual_lock", "manual_unlock"])]
    assert [p.get("by") for p in rows] == ["alice", "alice"]


def test_a_two_approver_reset_takes_two_people_with_their_own_tokens(live, browser, shot):
    r = live()
    r.tick(1, beat=("bot-x",))
    r.tick(13)  # bot-x silent for 65 s: stage 1, manual, two approvals
    assert lock_doc(r, ACCOUNT)["mode"] == "halted"
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    # no unlock is offered: the stage holds the scope until its reset
    assert not browser.find_elements("css selector", f'#view button[data-action="unlock"][data-scope="{ACCOUNT}"]')
    assert "a policy's stage holds it" in text_of(browser, "#locks")

    click_action(browser, "reset", ACCOUNT, policy="bot-guard")
    text = preview(browser, "bot-x restarted, reviewed")
    assert "PREVIEW: would record approval 1/2 (approvers=alice)" in text
    shot("09-reset-preview-alice", full=False)
    assert confirm_and_send(browser, ACCOUNT).startswith("APPROVAL_RECORDED: 1/2 approvers=alice")
    close_dialog(browser)
    wait(browser, lambda b: "1 of 2 approvals" in view_text(b), "one approval is shown")
    assert "Approved by alice" in text_of(browser, "#approvals")
    # alice again: her second approval counts for nothing
    click_action(browser, "reset", ACCOUNT, policy="bot-guard")
    assert "DUPLICATE_APPROVER" in preview(browser, "me again")
    close_dialog(browser)
    shot("10-one-of-two")

    browser.find_element("id", "forget-token").click()
    sign_in(browser, BOB, "bob")
    click_action(browser, "reset", ACCOUNT, policy="bot-guard")
    text = preview(browser, "agreed after review")
    assert "PREVIEW: would reset (stage=1 approvers=alice,bob)" in text and "halted now, trading allowed after" in text
    assert lock_doc(r, ACCOUNT)["locked"]
    assert confirm_and_send(browser, ACCOUNT) == "MANUAL_RESET: stage=1 approvers=alice,bob"
    assert not lock_doc(r, ACCOUNT)["locked"] and guard_stage(r) == 0
    close_dialog(browser)
    wait(browser, lambda b: "No reset waits for an approval" in view_text(b), "the approval is gone")
    shot("11-reset-done")
    approvals = [(row.payload["approver"], row.payload["result"].split(":")[0])
                 for row in r.store.audit_rows(kinds=["reset_approval"])]
    assert approvals == [("alice", "APPROVAL_RECORDED"), ("bob", "MANUAL_RESET")], approvals


def test_a_close_is_previewed_then_sent_and_followed_until_the_book_is_flat(live, browser, shot):
    r = live()
    r.tick(2, beat=("bot-x",))
    before = r.positions()
    assert before == {"BTCUSDT": 5.0, "ETHUSDT": 100.0, "SOLUSDT": 1000.0}
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    click_action(browser, "close", ACCOUNT)
    text = preview(browser, "flatten for the drill")
    assert "PREVIEW: 3 order(s) would be sent" in text
    rows = browser.find_elements("css selector", "#preview-orders tbody tr")
    shown = {row.find_elements("css selector", "td")[1].text: row.find_elements("css selector", "td")[3].text
             for row in rows}
    assert shown == {"BTC/USDT:USDT": "5", "ETH/USDT:USDT": "100", "SOL/USDT:USDT": "1,000"}
    assert r.positions() == before, "a preview sends nothing"
    shot("12-close-preview", full=False)
    answer = confirm_and_send(browser, ACCOUNT)
    assert answer.startswith("QUEUED: close of simulated/sim-main at the next tick (3 order(s) now")
    wait(browser, lambda b: "queued" in text_of(b, "#close-progress"), "the close is followed")
    r.tick(1, beat=("bot-x",))  # the close goes out at this tick
    wait(browser, lambda b: "settled, 3 order(s), 3 filled, 0 open" in text_of(b, "#close-progress"),
         "the close settles")
    assert r.positions() == {}
    shot("13-close-settled", full=False)
    close_dialog(browser)
    wait(browser, lambda b: "Manual close" in text_of(b, "#closes"), "the close is among the recent closes")
    text = text_of(browser, "#closes")
    assert "3 journaled (3 filled); 3 settled, 0 without a final result" in text
    journal = [e for e in r.store.journal(limit=100) if e.decision_id.startswith("manual/")]
    assert len(journal) == 3 and {e.status for e in journal} == {"filled"}
    for e in journal:
        assert e.client_order_id in text
    # at a laptop's width the journal fits its box: its ids break (walk 11 of issue 65, L10)
    from .test_ux import at_width
    at_width(browser, 1366)
    over = browser.execute_script("return Math.max(...[...document.querySelectorAll('#closes .table-wrap')]"
                                  ".map(w => w.scrollWidth - w.clientWidth))")
    assert over <= 0, over
    wraps = browser.execute_script("return [...document.querySelectorAll('#closes .table-wrap tbody code')]"
                                   ".map(c => getComputedStyle(c).overflowWrap)")
    assert wraps and set(wraps) == {"anywhere"}, wraps  # a longer id than these breaks, not widens the table
    shot("14-close-journal")
