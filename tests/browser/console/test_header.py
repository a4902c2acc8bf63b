"""The console's header on a phone (walk 8's L10: at 390 px the token field, its help text, the
update line and the notification and sound buttons took half the screen, and the first incident
began about 400 px down). Below 640 px the header is one line: the title, who is signed in, the
update state and a "Token and settings" toggle that holds the rest (the token field, its help,
Pause, notifications, sound); with no credential it opens by itself, since the token field is then
the first thing to use.

The bound: the first incident's card starts in the top third of a phone's screen (844 px tall, an
iPhone 12-15's CSS height), at most 300 px down. What stands above it on a page with one incident
is the header's one line, the strip's heading and, for a runner that is not of a firm, nothing
else; 300 px leaves the card's first lines and its buttons on the first screen."""

from __future__ import annotations

from typing import Any

from ..conftest import ALICE
from ..views import open_console, sign_in, view_text, wait
from .test_ux import at_width

FIRST_INCIDENT_TOP_PX = 300


def _top(browser: Any, css: str) -> float:
    return browser.execute_script(
        "const el = document.querySelector(arguments[0]);"
        " return el.getBoundingClientRect().top + window.scrollY;", css)


def test_the_first_incident_starts_in_the_top_third_of_a_phone(live, browser, shot):
    from selenium.webdriver.common.by import By

    r = live()
    r.tick(1, beat=("bot-x",))
    r.tick(13)  # bot-x silent: bot-guard halts the account, an open incident
    open_console(browser, r.url)
    at_width(browser, 390)
    token = browser.find_element(By.ID, "token")
    assert token.is_displayed(), "no credential yet: the token field is open on a phone"
    shot("header-390-no-token", full=False)
    at_width(browser, 1366)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: "1 open incident" in view_text(b), "the incident is shown")
    assert token.is_displayed() and not browser.find_element(By.CSS_SELECTOR, "#settings > summary").is_displayed()
    shot("header-1366-top", full=False)
    at_width(browser, 390)
    assert not token.is_displayed(), "signed in: the token field folds on a phone"
    assert browser.find_element(By.ID, "who").text == "Signed in as alice (approver, operator)."
    browser.execute_script("window.scrollTo(0, 0)")
    shot("header-390-top", full=False)
    top = _top(browser, "#strip .strip-row")
    assert top <= FIRST_INCIDENT_TOP_PX, f"the first incident starts {top:.0f} px down at 390 px"
    wide = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], wide  # nothing wider than the phone
    browser.find_element(By.CSS_SELECTOR, "#settings > summary").click()  # the toggle opens the rest
    wait(browser, lambda b: token.is_displayed() and b.find_element(By.ID, "pause").is_displayed(), "it opens")
    shot("header-390-opened", full=False)
    at_width(browser, 1366)
