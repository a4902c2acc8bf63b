"""The console says when it cannot be believed, in a real browser (headless chromium, selenium)
against a runner on the simulated exchange: a runner that stops answering (its API gone, a 5xx,
no answer in time) turns the page into a red banner with counting ages, a greyed view, a tab
title and icon that say so, and all of it goes back when the runner answers again; a runner
whose tick is late says so; a global halt reads as such on every row it binds; blind policies,
failing pages and fetches and a failed reload are banners and cells; a stream whose reconcile is
overdue is a degraded stream's banner, its row giving the last reconcile's age and the failed
reads since. Screenshots at 1366 and 800 px wide (see conftest.py for where)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any

from killswitch.view import CoverageStatus, ReceiverFailure

from ..conftest import ACCOUNT, VERA
from ..views import laid_out, open_console, sign_in, text_of, view_text, wait

TITLE = "killswitch console"
UNREACHABLE = re.compile(r"RUNNER UNREACHABLE since (\d\d:\d\d:\d\d) UTC — this view is (\d+) s old")


def icon(browser: Any) -> tuple[str, str]:
    """The tab's icon: its state as the script drew it, and its URL."""
    return tuple(browser.execute_script(
        "const l = document.querySelector(\"link[rel~='icon']\"); return l ? [l.dataset.state, l.href] : ['', ''];"))


def banner(browser: Any) -> str:
    return text_of(browser, "#liveness") if browser.find_element("id", "liveness").is_displayed() else ""


def csp_refusals(browser: Any) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]


def widths(browser: Any, shot: Any, name: str) -> None:
    """Screenshots of the page at 1366 and 800 px wide, the window left at 1366."""
    for width in (1366, 800):
        browser.set_window_size(width, 900)
        laid_out(browser)
        shot(f"{name}-{width}")
    browser.set_window_size(1366, 900)


def scope_rows(browser: Any) -> dict[str, str]:
    """The Scopes table's rows by policy: each row's text."""
    return {row.find_element("css selector", "td").text: row.text
            for row in browser.find_elements("css selector", "#scopes tbody tr")}


def open_problems(browser: Any) -> None:
    """Open every standing problem's line to its detail (they stay open while the view refreshes)."""
    for summary in browser.find_elements("css selector", "#problems details:not([open]) > summary"):
        summary.click()
    wait(browser, lambda b: not b.find_elements("css selector", "#problems details:not([open])"), "opened")


def signed_in(r: Any, browser: Any) -> None:
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")
    wait(browser, lambda b: icon(b)[0] == "ok", "the icon says the runner is fine")


def test_a_dead_runner_looks_dead_and_alive_again_when_it_answers(live, browser, shot):
    r = live()
    r.tick(2, beat=("bot-x",))
    signed_in(r, browser)
    assert browser.title == TITLE and banner(browser) == ""
    ok_icon = icon(browser)[1]
    assert ok_icon.startswith("data:image/svg+xml,")
    assert "unreachable" not in (browser.find_element("id", "view").get_attribute("class") or "")

    r.stop_serving()  # as a SIGTERM'd runner: the port refuses connections
    wait(browser, lambda b: UNREACHABLE.search(banner(b)), "the unreachable banner")
    first = UNREACHABLE.search(banner(browser))
    assert first is not None
    assert "no connection" in banner(browser) and "not what it does now" in banner(browser)
    assert browser.title == "UNREACHABLE — " + TITLE
    state, url = icon(browser)
    assert state == "unreachable" and url.startswith("data:image/svg+xml,") and url != ok_icon
    view = browser.find_element("id", "view")
    assert "unreachable" in view.get_attribute("class")
    assert "does not answer" in view.get_attribute("aria-label")
    assert "grayscale(1)" in browser.execute_script("return getComputedStyle(arguments[0]).filter", view)
    # the banner spans the window, and stays in sight when the page scrolls
    box = browser.execute_script("const r = document.getElementById('liveness').getBoundingClientRect();"
                                 "return [r.left, r.width, window.innerWidth];")
    assert box[0] == 0 and abs(box[1] - box[2]) <= 16, box  # (a scroll bar's width aside)
    # every age keeps counting, the view's own and those in it
    tick_age = text_of(browser, "#runner dl div:nth-child(6) dd .age")

    def counted_on(b: Any) -> Any:
        later = UNREACHABLE.search(banner(b))
        return later if later and int(later.group(2)) >= int(first.group(2)) + 2 else None

    later = wait(browser, counted_on, "the banner's age counts on by two seconds")
    assert later.group(1) == first.group(1), (first.group(0), later.group(0))  # since the same moment
    wait(browser, lambda b: text_of(b, "#runner dl div:nth-child(6) dd .age") != tick_age,
         "the last tick's age counts on")
    assert "Last tick" in view_text(browser)  # the state stays readable, greyed, under the banner
    widths(browser, shot, "health-01-unreachable")

    r.serve_again()
    wait(browser, lambda b: banner(b) == "", "the banner goes once the runner answers")
    assert browser.title == TITLE and icon(browser) == ("ok", ok_icon)
    assert "unreachable" not in (browser.find_element("id", "view").get_attribute("class") or "")
    assert browser.find_element("id", "view").get_attribute("aria-label") == "The runner's state"
    assert csp_refusals(browser) == []  # the drawn icon is allowed by the page's own policy


def test_a_5xx_or_no_answer_in_time_is_unreachable_too(live, browser, shot):
    r = live()
    r.tick(2, beat=("bot-x",))
    signed_in(r, browser)

    def broken() -> Any:
        raise RuntimeError("the status read failed")

    r.desk.status = broken  # the view's read fails: the console's refresh answers 500
    wait(browser, lambda b: UNREACHABLE.search(banner(b)), "the banner on a 5xx")
    assert "the runner answers HTTP 500" in banner(browser) and browser.title.startswith("UNREACHABLE — ")
    del r.desk.status
    wait(browser, lambda b: banner(b) == "", "back after the 5xx")

    async def hangs() -> Any:
        await asyncio.sleep(9)
        return ()

    r.desk.incidents = hangs  # a read that never comes back in time
    wait(browser, lambda b: "no answer within 5 s" in banner(b), "the banner on a timeout", timeout=20)
    assert icon(browser)[0] == "unreachable"
    shot("health-02-timeout-1366")
    del r.desk.incidents
    wait(browser, lambda b: banner(b) == "", "back after the timeout", timeout=20)
    assert browser.title == TITLE


def test_a_runner_whose_tick_is_late_says_tick_stalled(live, browser, shot):
    r = live()
    r.tick(2, beat=("bot-x",))
    signed_in(r, browser)
    r.clock.advance(45_000)  # the runner answers, but has not ticked for 45 s (it ticks every 5 s)
    wait(browser, lambda b: "TICK STALLED" in view_text(b), "the stalled banner")
    assert re.search(r"TICK STALLED: last tick \d+ s ago \(late after 30 s\)", view_text(browser))
    assert browser.title == "STALLED — " + TITLE and icon(browser)[0] == "stalled"
    assert banner(browser) == ""  # it answers: not unreachable
    widths(browser, shot, "health-03-stalled")
    r.tick(1, beat=("bot-x",))
    wait(browser, lambda b: "TICK STALLED" not in view_text(b), "the banner goes at the next tick")
    assert browser.title == TITLE and icon(browser)[0] == "ok"


def test_a_global_halt_binds_every_row_and_the_runners_own_failures_are_banners(live, browser, shot):
    r = live()
    r.tick(2, beat=("bot-x",))
    done = r.call(r.desk.lock_scope("global", "halted", "drill: halt everything", actor="test"))
    assert done.done
    decision = r.desk.check_order({"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 1.0})
    assert decision.reason.startswith("HALTED")
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")  # every row is halted by the global lock, as check-order answers (finding 7)
    rows = scope_rows(browser)
    for policy in ("bot-guard", "book-drawdown"):
        assert "halted, via global (operator test)" in rows[policy], rows[policy]  # who placed it
        assert "trading allowed" not in rows[policy] and "active" not in rows[policy]

    real = r.desk.status
    now = r.clock()

    def status() -> Any:  # what core's and loud's parts of issue 28 will report, on the real status
        blind = CoverageStatus("book-drawdown", ACCOUNT, "blind", "INSUFFICIENT_HISTORY",
                               "dd: INSUFFICIENT_HISTORY: coverage=40% min=80%", now - 60_000, now + 11 * 60_000,
                               None)
        typo = CoverageStatus("futures-book", "(none)", "unmatched", "UNMATCHED",
                              "scope selects no account: match_labels {book: futurs}; labels that exist: "
                              "book=futures (did you mean futures?)", now - 60_000, None, None)
        armed = CoverageStatus("bot-guard", ACCOUNT, "armed", None, "", now - 60_000, None, None)
        return dataclasses.replace(
            real(), coverage=(blind, armed, typo),
            pages_failing=(ReceiverFailure("example-routes", "fallback", "connection refused", now - 300_000, 16),
                           ReceiverFailure("example-routes", "pager", "HTTP 503", now - 300_000, 9,
                                           fallback="audit-webhook", fallback_ms=now - 60_000)),
            pages_failing_since_ms=now - 300_000, reload_ok=False, last_good_reload_ms=now - 3_600_000,
            fetch_errors={ACCOUNT: {"code": "NETWORK", "message": "simulated: connection refused",
                                    "since_ms": now - 75_000, "failures": 13, "last_ms": now - 5_000}},
            facts=())  # (its standing facts: read from the fields it stands in for)

    r.desk.status = status
    # (the real runner is blind for its first ticks too: wait for what only the stand-in says)
    wait(browser, lambda b: "MATCHES NO ACCOUNT" in view_text(b), "the banners")
    open_problems(browser)
    text = view_text(browser)
    rows = scope_rows(browser)
    assert "halted, via global (operator test)" in rows["book-drawdown"]
    row = rows["book-drawdown"]
    assert "BLIND: dd: INSUFFICIENT_HISTORY" in row and "armed again at" in row
    assert "armed" in rows["bot-guard"] and "MATCHES NO ACCOUNT" in rows["futures-book"]
    assert "1 POLICY BLIND" in text and "1 POLICY MATCHES NO ACCOUNT" in text
    assert "PAGES ARE FAILING: example-routes/fallback failing since" in text
    assert "example-routes/fallback: connection refused" in text
    # the one line says where each receiver's pages went, as ksctl status does, at both widths
    for width in (1366, 390):
        browser.set_window_size(width, 900)
        line = text_of(browser, 'details[data-keep="problem-pages"] summary')
        assert ("example-routes/pager's failed pages go to the fallback example-routes/audit-webhook (the latest at "
                in line and "no fallback receiver has delivered example-routes/fallback's pages" in line), line
        box = browser.execute_script("const r = document.querySelector('details[data-keep=\"problem-pages\"] "
                                     "summary').getBoundingClientRect(); return [r.right, window.innerWidth];")
        assert box[0] <= box[1], (width, box)
    assert "POLICIES: RELOAD FAILED" in text and "FAILING" in text_of(browser, "#data")
    assert "NETWORK: simulated: connection refused" in text_of(browser, "#data")
    # the blind cell is amber, the unmatched one red (the page's own colours, light scheme)
    colour = "return getComputedStyle(document.querySelector(arguments[0])).backgroundColor"
    assert browser.execute_script(colour, "td.cov-blind") == "rgb(255, 244, 206)"
    assert browser.execute_script(colour, "td.cov-unmatched") == "rgb(253, 231, 231)"
    widths(browser, shot, "health-04-banners")
    r.stop_serving()  # the same page, its runner gone
    wait(browser, lambda b: UNREACHABLE.search(banner(b)), "the unreachable banner")
    widths(browser, shot, "health-05-banners-unreachable")
    assert csp_refusals(browser) == []


def test_a_stream_unreconciled_past_three_cadences_is_a_degraded_banner_and_its_row_says_its_last_reconcile(
        live, browser, shot):
    r = live()
    r.tick(2, beat=("bot-x",))
    real = r.desk.status
    now = r.clock()
    stream = {"state": "live", "reason": None, "since_ms": now - 600_000, "last_message_ms": now - 1_000,
              "last_message_age_s": 1.0, "reconnects": 0, "disagreements": 0, "reconciles": 18, "dropped": {},
              "answers": False, "last_reconcile_ms": now - 125_000, "last_reconcile_age_s": 125.0,
              "reconcile_every_s": 30.0, "reconcile_failures": 14, "reconcile_failure_reason": "EXCHANGE_UNAVAILABLE",
              "reconcile_overdue": True, "degraded": True}

    def status() -> Any:  # the in-process simulator does not stream: a streamed account's status stands in
        return dataclasses.replace(real(), streams={ACCOUNT: stream}, facts=())  # (facts: read from the fields)

    r.desk.status = status
    signed_in(r, browser)
    wait(browser, lambda b: "STREAM DEGRADED" in view_text(b), "the degraded stream's banner")
    open_problems(browser)
    text = view_text(browser)
    assert (f"{ACCOUNT}: RECONCILE_OVERDUE, last message 1s ago, last reconcile 2m 5s ago (every 30s), 14 failed "
            "since (EXCHANGE_UNAVAILABLE)") in text, text
    data = text_of(browser, "#data")
    assert "RECONCILE OVERDUE: last reconcile 2m 5s ago (every 30s), 14 failed since (EXCHANGE_UNAVAILABLE)" in data
    widths(browser, shot, "health-06-stream-unreconciled")
    assert csp_refusals(browser) == []
