"""Overrides of the pre-trade limits and trading windows in the console: a request filled in the
dialog and confirmed by its scope (a typo refused with the runner's close match), an approval by
another person (the requester's own refused, SELF_APPROVAL), check-order then OVERRIDDEN, the end
by its id; and the trading windows listed under the locks with their next change."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from ..conftest import ACCOUNT, ALICE, BOB, POLICIES
from ..views import open_console, sign_in, text_of, view_text, wait
from .test_ux import at_width

# book-drawdown gains limits an override may raise, and a reducing lock in the minute from 13:01
# (T0 is 2026-03-02 13:00 UTC)
LIMITED = POLICIES.replace(
    "  stages:\n    - {level: 2, name: trim",
    "  time_intervals:\n"
    "    - name: fixing\n"
    '      time_intervals: [{times: [{start_time: "13:01", end_time: "13:02"}]}]\n'
    "  lock_trading: {mode: reducing, during: [fixing]}\n"
    "  limits:\n"
    "    max_order_notional: 100k\n"
    "    override: {max_duration: 1h, approvals: 2}\n"
    "  stages:\n    - {level: 2, name: trim")
assert LIMITED != POLICIES
ORDER = {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 3, "price": 60_000}


def _check_order(url: str) -> dict:
    req = urllib.request.Request(url + "/v1/check-order", data=json.dumps(ORDER).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _open(browser: Any, css: str, title: str) -> None:
    from selenium.webdriver.common.by import By

    wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, css), f"the {css} button is shown")
    browser.find_element(By.CSS_SELECTOR, css).click()
    wait(browser, lambda b: b.execute_script("return document.getElementById('override-dialog').open"),
         "the override dialog opens")
    assert text_of(browser, "#override-title").startswith(title)


def _send(browser: Any, confirm: str) -> str:
    from selenium.webdriver.common.by import By

    box, send = browser.find_element(By.ID, "o-confirm"), browser.find_element(By.ID, "override-send")
    box.clear()
    box.send_keys(confirm[:-1])
    assert not send.is_enabled(), "Send waits for the whole confirmation"
    box.send_keys(confirm[-1])
    wait(browser, lambda b: send.is_enabled(), "Send is enabled once confirmed")
    send.click()
    wait(browser, lambda b: b.find_element(By.ID, "override-result").is_displayed(), "the answer is shown")
    return text_of(browser, "#override-result")


def _fill(browser: Any, **fields: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for name, value in fields.items():
        el = browser.find_element(By.ID, "o-" + name.replace("_", "-"))
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)


def _close(browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "override-cancel").click()
    wait(browser, lambda b: not b.execute_script("return document.getElementById('override-dialog').open"),
         "the dialog closes")


def test_an_override_is_requested_approved_and_ended_from_the_console(live, browser, shot):
    r = live(policies=LIMITED)
    r.tick(1)
    refused = _check_order(r.url)
    assert refused["allow"] is False and refused["reason"].startswith("LIMIT_ORDER_NOTIONAL"), refused  # 180k > 100k
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: "Trading windows" in view_text(b), "the windows are listed")
    assert "book-drawdown: reducing lock from Mon 13:01 UTC (during fixing); next change" in view_text(browser)

    _open(browser, 'button[data-override="request"]', "Request an override")
    # the value as ksctl override request --raise-to reads it (issue 81: 200k was sent as null)
    _fill(browser, scope=ACCOUNT, kind="raise", limit="max_order_notionl", raise_to="200k",
          code="FAT_FINGER_REVIEWED", reason="desk rebalance reviewed by risk", expires="30m")
    said = _send(browser, ACCOUNT)
    assert said.startswith("UNKNOWN_LIMIT") and "max_order_notional" in said, said  # the close match
    _fill(browser, limit="max_order_notional", raise_to="1.5X")
    said = _send(browser, ACCOUNT)
    assert said == ("BAD_REQUEST: raise_to for max_order_notional: cannot read '1.5X' as a number; write it "
                    "like 200000, 200k, 1.5M or 7%"), said  # the field it cannot read, and its limit
    _fill(browser, raise_to="200k", expires="3h")
    said = _send(browser, ACCOUNT)
    assert said.startswith("EXPIRY_TOO_LONG"), said
    _fill(browser, expires="30m")
    said = _send(browser, ACCOUNT)
    assert said.startswith("OVERRIDE_REQUESTED: ovr-") and "raise max_order_notional to 200000 on" in said, said
    shot("override-01-requested", full=False)
    _close(browser)
    wait(browser, lambda b: "PENDING raise max_order_notional" in view_text(b), "the request is listed")
    [oid] = [o.id for o in r.desk.overrides() if o.state == "pending"]
    assert _check_order(r.url)["reason"].startswith("LIMIT_ORDER_NOTIONAL")  # not approved: not in force

    _open(browser, f'button[data-override="approve"][data-id="{oid}"]', f"Approve override {oid}")
    assert "requested by alice" in text_of(browser, "#override-what")
    said = _send(browser, oid)
    assert said.startswith("SELF_APPROVAL"), said  # the requester never approves their own
    _close(browser)

    sign_in(browser, BOB, "bob")
    _open(browser, f'button[data-override="approve"][data-id="{oid}"]', f"Approve override {oid}")
    said = _send(browser, oid)
    assert said.startswith(f"OVERRIDE_IN_FORCE: {oid}") and "approved by bob" in said, said
    _close(browser)
    answer = _check_order(r.url)
    assert answer["allow"] is True and answer["reason"].startswith("OVERRIDDEN"), answer
    wait(browser, lambda b: "ACTIVE raise max_order_notional" in view_text(b), "the override is in force")
    shot("override-02-active", full=False)
    at_width(browser, 390)  # a phone: the line wraps, nothing runs off the page
    browser.execute_script("document.getElementById('h-overrides').scrollIntoView()")
    wide = browser.execute_script(
        "const el = document.querySelector('ul.overrides'); return [el.scrollWidth, el.clientWidth,"
        " document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1] and wide[2] <= wide[3], wide
    shot("override-03-active-390", full=False)
    at_width(browser, 1366)

    sign_in(browser, ALICE, "alice")
    _open(browser, f'button[data-override="end"][data-id="{oid}"]', f"End override {oid}")
    said = _send(browser, oid)
    assert said == f"OVERRIDE_ENDED: {oid} ended by alice", said
    _close(browser)
    assert _check_order(r.url)["reason"].startswith("LIMIT_ORDER_NOTIONAL")
    wait(browser, lambda b: f"{oid} ENDED" in view_text(b), "the end is listed")
