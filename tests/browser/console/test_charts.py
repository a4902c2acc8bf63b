"""The console's charts in a real browser (headless chromium, selenium) against a runner on the
simulated exchange: after a flash crash the engaged instance's chart opens by itself and shows the
drawdown crossing the policy's threshold and the stage entry; a collapsed chart loads when opened;
an open chart stays open, drawn, through the view's refreshes; nothing breaks the page's
Content-Security-Policy. Screenshots at 1366 and 800 px wide (see conftest.py for where)."""

from __future__ import annotations

from typing import Any

from ..conftest import ACCOUNT, VERA
from ..views import laid_out, open_console, sign_in, wait
from .test_health import csp_refusals

DRAWDOWN = f'details[data-chart-key="book-drawdown|{ACCOUNT}"]'
GUARD = f'details[data-chart-key="bot-guard|{ACCOUNT}"]'


def svg_of(browser: Any, details: str) -> Any:
    found = browser.find_elements("css selector", details + " .chart-body svg")
    return found[0] if found else None


def test_a_flash_crash_is_charted_against_the_threshold_with_its_stage_entry(live, browser, shot):
    r = live()
    r.tick(10, beat=("bot-x",))  # the 10-minute drawdown window holds its 5% coverage from here
    for symbol, price in {"BTCUSDT": 48_000.0, "ETHUSDT": 2_400.0}.items():  # the flash crash
        r.engine.set_mark(symbol, price)
    r.tick(3, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")

    # the engaged instance (stage 2) opens by itself, drawn by the runner
    wait(browser, lambda b: svg_of(b, DRAWDOWN) is not None, "the drawdown chart is drawn")
    details = browser.find_element("css selector", DRAWDOWN)
    assert details.get_attribute("open") is not None
    svg = svg_of(browser, DRAWDOWN)
    desc = browser.execute_script("return arguments[0].querySelector('desc').textContent", svg)
    assert "beyond deep: dd ≥ 5% → stage 2 trim" in desc and "stage 2 trim entered at 13:00:55 UTC" in desc
    assert [t.get_attribute("data-trigger") for t in svg.find_elements("css selector", "g.threshold")] == ["deep"]
    entry = svg.find_elements("css selector", "g.mark.entry")
    assert len(entry) == 1 and "stage 2 trim entered 13:00:55" in entry[0].text
    assert "time (UTC)" in svg.text and "13:01" in svg.text

    # the calm instance is collapsed, and loads when opened
    guard = browser.find_element("css selector", GUARD)
    assert guard.get_attribute("open") is None and svg_of(browser, GUARD) is None
    guard.find_element("css selector", "summary").click()
    wait(browser, lambda b: svg_of(b, GUARD) is not None, "the guard's chart is drawn when opened")
    assert [p.get_attribute("data-series") for p in svg_of(browser, GUARD).find_elements("css selector", "g.panel")] \
        == ["equity"]

    # a refresh swaps the view: both stay open and drawn, the next sample comes in
    r.tick(1, beat=("bot-x",))
    wait(browser, lambda b: "13:01:10" in (b.find_element("css selector", "#view [data-now]").get_attribute(
        "data-now") or ""), "the view refreshed")
    for d in (DRAWDOWN, GUARD):
        assert browser.find_element("css selector", d).get_attribute("open") is not None
        assert svg_of(browser, d) is not None
    wait(browser, lambda b: svg_of(b, DRAWDOWN).get_attribute("data-samples") == "14", "the new sample drawn",
         timeout=20)
    assert csp_refusals(browser) == []

    browser.execute_script("document.getElementById('charts').scrollIntoView()")
    for width in (1366, 800):
        browser.set_window_size(width, 900)
        laid_out(browser)
        browser.execute_script("document.getElementById('charts').scrollIntoView()")
        shot(f"charts-flash-crash-{width}", full=False)
    browser.set_window_size(1366, 900)
