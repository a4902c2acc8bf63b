"""The console as the on-call reads it during an incident, in a real browser (headless chromium,
selenium), each point held at 1366 and 390 px: the open incidents first (what entered, when, its
stage, acknowledged or not, the approvals so far), the standing problems after them one line
each and opened on demand (open across refreshes); a policy blind on one signal that can still
fire on another says so; the heartbeat sources the runner watches are listed before their first
beat; "Close this symbol…" on a hedge leg closes that leg unless both are asked for; a close
preview of a live runner is headed PREVIEW, shows one age of its snapshot and its figures as
the market writes them; and a scope that holds no position offers no close. Screenshots at 1366,
800 and 390 px (see conftest.py for where)."""

from __future__ import annotations

import dataclasses
from typing import Any

from killswitch.runner.view import CoverageStatus, ReceiverFailure

from .conftest import ACCOUNT, ALICE, VERA
from .test_console import open_console, sign_in, text_of, view_text, wait
from .test_console_ux import at_width, layout_problems, refreshes, shots

INCIDENT = "bot-guard/simulated/sim-main/L1/e1"
NARROW = (1366, 390)


def top_of(browser: Any, css: str) -> float:
    return browser.execute_script("return document.querySelector(arguments[0]).getBoundingClientRect().top", css)


def lines_of(browser: Any, el: Any) -> int:
    """How many lines an element's text is laid out on."""
    return browser.execute_script("""
        const r = document.createRange();
        r.selectNodeContents(arguments[0]);
        return new Set(Array.from(r.getClientRects()).filter((q) => q.width > 0).map((q) => Math.round(q.top))).size;
        """, el)


def incident_with_standing_problems(live: Any) -> Any:
    """bot-guard's halt (an incident of two approvals) on a runner with a global lock, a policy
    that matches no account and pages that reach nobody: the standing problems of a bad night."""
    r = live()
    r.tick(1, beat=("bot-x",))
    r.tick(13)  # bot-x silent for a minute: bot-guard halts the account
    done = r.call(r.runner.lock_scope("global", "reducing", "drill: reduce everything", actor="alice"))
    assert done.done
    real = r.runner.status
    now = r.clock()

    def status() -> Any:
        typo = CoverageStatus("futures-book", "(none)", "unmatched", "UNMATCHED",
                              "the scope (labels{book=futurs}) selects no account", now - 60_000, None, None)
        return dataclasses.replace(
            real(), coverage=(*real().coverage, typo),
            pages_failing=(ReceiverFailure("example-routes", "pager", "connection refused", now - 300_000, 16),),
            pages_failing_since_ms=now - 300_000)

    r.runner.status = status
    return r


def test_the_open_incident_comes_first_and_each_standing_problem_is_one_line(live, browser, shot):
    r = incident_with_standing_problems(live)
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: "Standing problems" in view_text(b), "the standing problems")
    for width in NARROW:
        at_width(browser, width)
        browser.execute_script("window.scrollTo(0, 0)")
        # the incident is the first thing of the view, on the first screen, before every problem
        assert top_of(browser, "#strip") < top_of(browser, "#problems") < top_of(browser, "#runner")
        row = browser.find_element("css selector", f'#strip li[data-incident="{INCIDENT}"]')
        assert browser.execute_script("return arguments[0].getBoundingClientRect().bottom <= window.innerHeight", row)
        text = row.text
        assert f"bot-guard entered stage 1 halt on {ACCOUNT}" in text, text
        assert "at " in text and " ago)" in text and "not acknowledged" in text.lower()
        assert "reset: 0 of 2 approvals" in text and "firing: silent (bot = " in text, text
        # each standing problem is one line, its detail closed
        summaries = browser.find_elements("css selector", "#problems details > summary")
        heads = [s.text for s in summaries]
        assert [h.split(":")[0] for h in heads] == ["1 POLICY MATCHES NO ACCOUNT", "1 POLICY BLIND",
                                                    "PAGES ARE FAILING since 12", "TRADING LOCKED"], heads
        assert all(lines_of(browser, s) == 1 for s in summaries), (width, heads)
        assert not browser.find_elements("css selector", "#problems details[open]")
        assert "connection refused" not in text_of(browser, "#problems")  # the detail is behind the line
        found = layout_problems(browser)
        assert found["sideways"] <= 0 and found["outside"] == [] and found["broken"] == [], (width, found)
    at_width(browser, 1366)
    shots(browser, shot, "oncall-01-incident-first")

    # a problem opened stays open while the view refreshes; its detail is there
    browser.find_element("css selector", '#problems details[data-keep="problem-pages"] > summary').click()
    wait(browser, lambda b: "example-routes/pager: connection refused" in text_of(b, "#problems"), "opened")
    refreshes(browser, 2)
    assert browser.find_element("css selector", '#problems details[data-keep="problem-pages"]').get_attribute("open")
    assert "example-routes/pager: connection refused (16 failed rounds" in text_of(browser, "#problems")

    # acknowledged, and one approval: the strip says both at once
    assert r.call(r.runner.acknowledge(INCIDENT, None, None, "on it", actor="alice")).done
    r.call(r.runner.reset("bot-guard", ACCOUNT, "bob", "reviewed"))
    wait(browser, lambda b: "acknowledged by alice" in text_of(b, "#strip"), "the acknowledgement")
    wait(browser, lambda b: "reset: 1 of 2 approvals (bob)" in text_of(b, "#strip"), "the approval")
    assert "not acknowledged" not in text_of(browser, "#strip").lower()
    shots(browser, shot, "oncall-02-incident-acknowledged")


def test_no_open_incident_says_so_first(live, browser, shot):
    r = live()
    r.tick(8, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")
    for width in NARROW:
        at_width(browser, width)
        assert text_of(browser, "#strip").endswith("No open incident: every scope is at stage 0.")
        assert top_of(browser, "#strip") < top_of(browser, "#runner")
        # (the simulator's marks stand still: its feed is frozen, so book-drawdown is blind)
        heads = [s.text for s in browser.find_elements("css selector", "#problems details > summary")]
        assert heads == [f"1 POLICY BLIND: book-drawdown on {ACCOUNT}"], heads
        assert top_of(browser, "#strip") < top_of(browser, "#problems")
    at_width(browser, 1366)
