"""Single sign-on in a real browser: chromium signs in to the console through a real OpenID
provider's page (oidc-provider-mock on 127.0.0.1, tests/signin_provider.py), as two people in
turn, who approve a two-person reset between them with the session cookie alone; the audit and
the console name them as the provider knows them; a sign-out ends the session; a person whose
groups map to no role is told why and sees nothing. Prints the time from the provider's
"Authorize" to the first console view (the figure of issue 61)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from killswitch.face.api.identity import parse_tokens
from tests.signin_provider import free_port, provider, signin_for  # noqa: F401 - a fixture

from ..conftest import ACCOUNT
from ..views import (
    click_action,
    close_dialog,
    confirm_and_send,
    guard_stage,
    lock_doc,
    open_console,
    preview,
    text_of,
    view_text,
    wait,
)

GROUPS = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "groups": [
    {"group": "risk-oncall", "roles": ["operator", "viewer"]},
    {"group": "risk-managers", "roles": ["approver", "viewer"]}]})


@pytest.fixture
def signed(live, provider, tmp_path):  # noqa: F811 - the fixture imported above
    provider.user("u-1001", email="alice@desk.example", groups=["risk-oncall", "risk-managers"])
    provider.user("u-1002", email="bob@desk.example", groups=["risk-managers"])
    provider.user("u-6666", email="mallory@desk.example", groups=["sales"])
    port = free_port()
    where = tmp_path / "oidc"
    where.mkdir()
    return live(tokens=GROUPS, signin=signin_for(where, provider.issuer, f"http://127.0.0.1:{port}"), port=port)


def sign_in_as(browser: Any, sub: str) -> float:
    """Click "Sign in", name ``sub`` on the provider's page and authorize; the seconds from
    "Authorize" to the console's first view (or to the page back, when refused)."""
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "sign-in").click()
    wait(browser, lambda b: "Authorize" in b.page_source and b.find_elements(By.NAME, "sub"), "the provider's page")
    field = browser.find_element(By.CSS_SELECTOR, 'input[name="sub"]')
    field.send_keys(sub)
    started = time.perf_counter()
    browser.find_element(By.XPATH, '//button[normalize-space()="Authorize"]').click()
    wait(browser, lambda b: "/console" not in b.current_url and b.find_elements(By.ID, "who"), "back at the console")
    return started


def test_two_people_sign_in_through_the_provider_and_approve_a_reset(signed, browser, shot):
    r = signed
    r.tick(1, beat=("bot-x",))
    r.tick(13)  # bot-x silent for 65 s: stage 1, manual, two approvals
    assert lock_doc(r, ACCOUNT)["mode"] == "halted"
    open_console(browser, r.url)
    assert browser.find_element("id", "sign-in").is_displayed()
    shot("signin-01-signed-out")
    started = sign_in_as(browser, "u-1001")
    wait(browser, lambda b: "Scopes" in view_text(b), "the view is shown")
    took = time.perf_counter() - started
    print(f"FIGURE sign-in (the provider's Authorize) to the first console view in chromium: {took * 1000:.0f} ms")
    assert "Signed in as alice@desk.example (approver, operator, viewer) through the firm's sign-in." \
        == text_of(browser, "#who")
    assert browser.find_element("id", "sign-out").is_displayed()
    assert not browser.find_element("id", "sign-in").is_displayed()
    cookie = browser.get_cookie("__Host-ks_session")
    assert cookie and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == ""  # no script reads it
    shot("signin-02-alice")

    click_action(browser, "reset", ACCOUNT, policy="bot-guard")
    said = preview(browser, "bot-x restarted, reviewed")
    assert "PREVIEW: would record approval 1/2 (approvers=alice@desk.example)" in said, said
    assert confirm_and_send(browser, ACCOUNT).startswith("APPROVAL_RECORDED: 1/2 approvers=alice@desk.example")
    close_dialog(browser)
    wait(browser, lambda b: "1 of 2 approvals" in view_text(b), "one approval is shown")
    assert "Approved by alice@desk.example" in text_of(browser, "#approvals")

    browser.find_element("id", "sign-out").click()
    wait(browser, lambda b: b.find_element("id", "sign-in").is_displayed(), "signed out")
    wait(browser, lambda b: b.find_element("id", "signed-out").is_displayed() and "Scopes" not in view_text(b),
         "the view is gone with the session")
    assert browser.get_cookie("__Host-ks_session") is None

    started = sign_in_as(browser, "u-1002")
    wait(browser, lambda b: "Scopes" in view_text(b), "the view is shown")
    took = time.perf_counter() - started
    print(f"FIGURE the second sign-in (warm) to the first console view in chromium: {took * 1000:.0f} ms")
    assert "Signed in as bob@desk.example" in text_of(browser, "#who")
    click_action(browser, "reset", ACCOUNT, policy="bot-guard")
    text = preview(browser, "agreed after review")
    assert "PREVIEW: would reset (stage=1 approvers=alice@desk.example,bob@desk.example)" in text
    assert confirm_and_send(browser, ACCOUNT) == "MANUAL_RESET: stage=1 approvers=alice@desk.example,bob@desk.example"
    assert not lock_doc(r, ACCOUNT)["locked"] and guard_stage(r) == 0
    close_dialog(browser)
    shot("signin-03-bob-reset")
    approvals = [(row.payload["approver"], row.payload["result"].split(":")[0])
                 for row in r.store.audit_rows(kinds=["reset_approval"])]
    assert approvals == [("alice@desk.example", "APPROVAL_RECORDED"), ("bob@desk.example", "MANUAL_RESET")]


def test_a_person_in_no_mapped_group_is_told_and_sees_nothing(signed, browser, shot):
    r = signed
    r.tick(2, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in_as(browser, "u-6666")
    wait(browser, lambda b: "SIGNIN_NO_ROLE" in text_of(b, "#signed-out"), "the refusal is said")
    assert "Scopes" not in view_text(browser)
    assert browser.get_cookie("__Host-ks_session") is None
    shot("signin-04-refused")
