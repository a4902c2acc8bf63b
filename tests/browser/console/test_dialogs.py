"""What the console's dialogs share (static/dialogs.js): a typed confirmation that is not the
expected text says so under its field as soon as it stops being its start (walk 8's L2: a shorter
typo, ``sim-mian`` for ``sim-hedge``, left Send disabled with no word), in the override and the
firm-kill dialogs as in the action dialog; and the one POST, sending the token and reading the
runner's reason back (the kill's preview on a runner that is no shard of a firm)."""

from __future__ import annotations

from typing import Any

from ..conftest import ACCOUNT, ALICE
from ..views import open_console, sign_in, text_of, wait
from .test_overrides import LIMITED, _fill, _open


def _typed(browser: Any, box_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.ID, box_id)
    box.clear()
    box.send_keys(text)


def _note(browser: Any, note_id: str) -> str:
    from selenium.webdriver.common.by import By

    el = browser.find_element(By.ID, note_id)
    return el.text if el.is_displayed() else ""


def test_a_shorter_typo_in_the_override_and_kill_confirmations_says_so(live, browser, shot):
    from selenium.webdriver.common.by import By

    r = live(policies=LIMITED)
    r.tick(1)
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")

    _open(browser, 'button[data-override="request"]', "Request an override")
    _fill(browser, scope=ACCOUNT)
    _typed(browser, "o-confirm", ACCOUNT[:5])
    assert _note(browser, "o-confirm-mismatch") == "", "the start of the scope is still being typed"
    typo = ACCOUNT.split("/")[0] + "/sim-mian"  # shorter than the scope, and not its start
    assert len(typo) < len(ACCOUNT) or not ACCOUNT.startswith(typo)
    _typed(browser, "o-confirm", typo)
    wait(browser, lambda b: _note(b, "o-confirm-mismatch"), "a typo says so")
    assert _note(browser, "o-confirm-mismatch") == (
        f"'{typo}' is not {ACCOUNT}: type the scope exactly (case, spaces) to send.")
    assert not browser.find_element(By.ID, "override-send").is_enabled()
    shot("dialogs-override-typo", full=False)
    _typed(browser, "o-confirm", ACCOUNT)
    wait(browser, lambda b: not _note(b, "o-confirm-mismatch"), "the scope typed exactly: no note")
    browser.find_element(By.ID, "override-cancel").click()

    # the firm-kill dialog: on a runner of no shard its button is the scopes' (a shard's: its firm strip's)
    browser.find_element(By.CSS_SELECTOR, "button[data-kill-open]").click()
    wait(browser, lambda b: b.execute_script("return document.getElementById('kill-dialog').open"),
         "the kill dialog opens")
    _typed(browser, "k-reason", "walk the kill dialog")
    browser.find_element(By.ID, "kill-preview").click()
    # no shard here: the runner previews the kill on its own accounts, and the dialog shows its
    # answer as it came (dialogs.js's POST)
    wait(browser, lambda b: b.find_element(By.ID, "kill-result").is_displayed()
         or b.find_element(By.ID, "kill-shown").is_displayed(), "the runner's answer is shown")
    said = text_of(browser, "#kill-result" if browser.find_element(By.ID, "kill-result").is_displayed()
                   else "#kill-head")
    assert said.startswith("PREVIEW: firm-wide kill on a runner of no shard"), said  # past the token check
    browser.execute_script("document.getElementById('kill-shown').hidden = false")  # the field, as after a preview
    _typed(browser, "k-confirm", "KI")
    assert _note(browser, "k-confirm-mismatch") == ""
    _typed(browser, "k-confirm", "KLL")
    wait(browser, lambda b: _note(b, "k-confirm-mismatch"), "a typo of KILL says so")
    assert _note(browser, "k-confirm-mismatch") == "'KLL' is not KILL: type KILL exactly (case, spaces) to send."
    assert not browser.find_element(By.ID, "kill-send").is_enabled()
