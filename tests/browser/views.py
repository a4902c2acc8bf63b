"""What the browser tests do to the console and read from it: sign in, wait for the view, click
in it, fill a dialog in, preview, type the scope and send, and wait for the layout.

Every wait is on the page: a view asked for after the call and taken in (``refreshes``), a
dialog open or closed, a layout drawn twice the same. The view is swapped in whole when it
changes, so a step that acts on it waits until it has settled first, and finds and clicks in
one script (``click``), rather than trying again when the element it found went stale. Must
not: sleep to let the page catch up.
"""

from __future__ import annotations

from typing import Any, Callable

WAIT_S = 15
# How often a wait looks again. selenium's own default, 0.5 s, was most of what the waits took:
# a view or a dialog lands within a few frames of what asked for it, and a layout's second
# reading (``laid_out``) came half a second after its first, 75 of them 41 s of two test files'
# 63 s of waiting. A look is one script run in the page.
POLL_S = 0.1


def wait(browser: Any, what: Callable[[Any], Any], why: str, timeout: float = WAIT_S) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, poll_frequency=POLL_S,
                         ignored_exceptions=(StaleElementReferenceException,)).until(what, message=why)


# counts the views the page took in (console.js's ``killswitch:view``, after notify.js has seen each)
_COUNT_VIEWS = """
if (window.__views === undefined) {
  window.__views = 0;
  document.addEventListener("killswitch:view", () => { window.__views += 1; });
}
return window.__views;
"""
# the page refreshes on a visibility change as at its 2 s interval (a no-op while one is in flight)
_NUDGE = "document.dispatchEvent(new Event('visibilitychange')); return window.__views;"


def refreshes(browser: Any, n: int = 3) -> None:
    """Let the page refresh its view ``n`` times, each fetched after this call and taken in whole
    (notify.js included): nudged by the visibility event it refreshes on, not waited out at its
    2 s interval. (n + 1 views: the first may have been asked for before the call.)"""
    from selenium.webdriver.support.ui import WebDriverWait

    start = browser.execute_script(_COUNT_VIEWS)
    WebDriverWait(browser, 30, poll_frequency=0.05).until(
        lambda b: b.execute_script(_NUDGE) >= start + n + 1, message=f"{n} refreshes of the view")


def text_of(browser: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, css).text


def view_text(browser: Any) -> str:
    return text_of(browser, "#view")


def open_console(browser: Any, url: str) -> None:
    browser.get(url + "/")
    wait(browser, lambda b: b.execute_script("return document.readyState") == "complete", "the page loads")


def sign_in(browser: Any, token: str, who: str) -> None:
    from selenium.webdriver.common.by import By

    field = browser.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    browser.find_element(By.ID, "use-token").click()
    wait(browser, lambda b: f"Signed in as {who}" in text_of(b, "#who"), f"signed in as {who}")
    wait(browser, lambda b: "Scopes" in view_text(b), "the view is shown")
    # the signed-in view is in: one asked for before the sign-in (the last token's) may land
    # first, and the one it asked for swaps the view's elements under a reader
    refreshes(browser, 1)


# a click found and made in one turn of the page's own script: a view swapped in after it
# cannot leave the test holding an element that went stale (a runner that ticks on its own
# changes its view at every refresh, so it never settles for long)
_CLICK = """
const el = document.querySelector(arguments[0]);
if (el === null || el.disabled || el.offsetParent === null) return false;
el.scrollIntoView({block: "center"});
el.click();
return true;
"""


def click(browser: Any, css: str) -> None:
    """Click the shown, enabled element ``css`` finds, in the view as it settled: a view asked
    for after this call is in first (the one a test acted on before is not the one clicked in)."""
    refreshes(browser, 1)
    assert browser.execute_script(_CLICK, css), f"nothing shown and enabled to click at {css}"


def click_action(browser: Any, action: str, scope: str, policy: str = "") -> None:
    """Click the first ``action`` button of ``scope`` in the settled view."""
    css = f'#view button[data-action="{action}"][data-scope="{scope}"]'
    if policy:
        css += f'[data-policy="{policy}"]'
    click(browser, css)
    wait(browser, lambda b: b.execute_script("return document.getElementById('action-dialog').open"),
         f"the {action} dialog opens")


def preview(browser: Any, reason: str, **fields: str) -> str:
    """Fill the open dialog in and preview it: the preview's answer."""
    from selenium.webdriver.common.by import By

    for name, value in fields.items():
        el = browser.find_element(By.ID, f"f-{name}")
        if el.tag_name == "select":
            from selenium.webdriver.support.ui import Select

            Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)
    el = browser.find_element(By.ID, "f-reason")
    el.clear()
    el.send_keys(reason)
    browser.find_element(By.ID, "preview-btn").click()
    wait(browser, lambda b: b.find_element(By.ID, "preview").is_displayed(), "the preview is shown")
    return text_of(browser, "#preview")


def confirm_and_send(browser: Any, scope: str) -> str:
    """Type the scope (a wrong one first: Send stays disabled), send, and return the answer."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = browser.find_element(By.ID, "f-confirm")
    send = browser.find_element(By.ID, "send-btn")
    assert box.is_displayed() and not send.is_enabled()
    mismatch = browser.find_element(By.ID, "confirm-mismatch")
    box.send_keys(scope[:-1])
    assert not send.is_enabled(), "Send must wait for the whole scope"
    assert not mismatch.is_displayed(), "a scope still being typed is not called wrong"
    box.send_keys("~")  # a typo: Send stays disabled, and the form says why
    wait(browser, lambda b: mismatch.is_displayed(), "a typed scope that does not match says so")
    assert mismatch.text == f"'{scope[:-1]}~' is not {scope}: type the scope exactly (case, spaces) to send."
    assert not send.is_enabled()
    # a shorter typo says so too, once it is no longer the start of the scope (issue 65, walk 8 L2)
    box.send_keys(Keys.BACKSPACE, Keys.BACKSPACE, Keys.BACKSPACE, "~")
    wait(browser, lambda b: mismatch.text.startswith(f"'{scope[:-3]}~' is not {scope}"),
         "a shorter typed scope that does not match says so")
    assert mismatch.is_displayed() and not send.is_enabled()
    box.send_keys(Keys.BACKSPACE, scope[-3:-1])
    assert not mismatch.is_displayed(), "the start of the scope again: still being typed"
    box.send_keys("~", Keys.BACKSPACE, scope[-1])
    wait(browser, lambda b: send.is_enabled(), "Send is enabled once the scope is typed")
    assert not mismatch.is_displayed()
    send.click()
    wait(browser, lambda b: b.find_element(By.ID, "result").is_displayed(), "the result is shown")
    return text_of(browser, "#result-reason")


def close_dialog(browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "cancel-btn").click()
    wait(browser, lambda b: not b.execute_script("return document.getElementById('action-dialog').open"),
         "the dialog closes")
    # a closed dialog asks for the view again and swaps it in whole, even unchanged: the view
    # settles before the test reads or clicks in it (an element found before the swap is stale)
    refreshes(browser, 1)


def lock_doc(live: Any, scope: str) -> dict:
    return live.desk.lock_document(scope)


def rendered(browser: Any) -> bool:
    """The runbook dialog shows the runbook rendered (a heading), not its markdown."""
    return bool(browser.find_elements("css selector", "#runbook-text h1"))


def guard_stage(live: Any) -> int:
    return next(s.stage for s in live.desk.status().scopes if s.policy == "bot-guard")


# the window's size and the page's height after two frames: a layout done is drawn by then
_FRAMES = """
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => done(
  [window.innerWidth, window.innerHeight, document.documentElement.scrollWidth,
   document.documentElement.scrollHeight])));
"""


def laid_out(browser: Any, width: int | None = None) -> None:
    """Wait until the page is laid out at its window's size (``width`` CSS px wide, when given):
    two readings, each after two frames, the same, before a screenshot or a measure of it."""
    seen: list = []

    def settled(b: Any) -> bool:
        seen.append(b.execute_async_script(_FRAMES))
        return len(seen) > 1 and seen[-1] == seen[-2] and (width is None or seen[-1][0] == width)

    wait(browser, settled, f"the layout settles{f' at {width} px' if width else ''}")
