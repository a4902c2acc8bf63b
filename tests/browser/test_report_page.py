"""The closure report and a runbook as HTML pages in a real browser: they fit the page.

The report's orders table has nine columns of long identifiers (client order ids, incident ids,
accounts); at a laptop's width and at a narrow one the page must not scroll sideways, and no
table shows a header row of empty cells."""

from __future__ import annotations

from pathlib import Path

import pytest

from killswitch.render.report import report_html
from killswitch.render.runbook import html_page, markdown_html


def _doc(orders: int) -> dict:
    incident = "futures-book/binanceusdm/binance-futures-main/L3/e1772456400000"
    summary = dict.fromkeys(("incidents", "active", "dry_run_incidents", "transitions", "orders", "orders_filled",
                             "orders_failed", "orders_open", "reset_approvals", "reset_attempts",
                             "notifications_delivered", "notifications_failed", "notifications_dropped"), 1)
    rows = [{"at": "2026-03-02T13:18:50.123Z", "client_order_id": f"ks4a6c55b1c2cc2e05c858de94982{i:03d}",
             "incident": incident, "venue": "binanceusdm", "account": "binance-futures-main",
             "symbol": "SOL/USDT:USDT", "side": "buy", "amount": 250.125, "status": "rejected",
             "reason_code": "RATE_LIMITED", "filled": 0.0} for i in range(orders)]
    return {"format_version": 2, "period": {"since": "2026-03-02T00:00:00Z", "until": "2026-03-03T00:00:00Z"},
            "generated": "2026-03-03T00:00:01Z", "store": "postgresql://ks@db.internal.example:5432/killswitch",
            "audit": {"verdict": "intact_and_anchored", "passed": True, "intact": True, "anchored": True,
                      "covered": "rows 1..40", "anchoring": "hmac", "rows_in_period": 40},
            "summary": summary, "incidents": [], "transitions": [], "orders": rows, "approvals": [],
            "resets": [], "notifications": [], "other_events": {}}


def _open(browser, tmp_path: Path, name: str, page: str, width: int) -> None:
    path = tmp_path / name
    path.write_text(page)
    browser.set_window_size(width, 900)
    browser.get(path.as_uri())


WIDE = "return document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.mark.parametrize("width", [1366, 800])
def test_the_report_fits_the_page_and_has_no_empty_table_header(browser, shot, tmp_path, width):
    _open(browser, tmp_path, "report.html", report_html(_doc(12)), width)
    assert browser.execute_script(WIDE) <= 0, f"the report scrolls sideways at {width}px"
    overflowing = browser.execute_script(
        "return [...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().right >"
        " document.documentElement.clientWidth).length")
    assert overflowing == 0
    empty_heads = browser.execute_script(
        "return [...document.querySelectorAll('thead')].filter(h => !h.textContent.trim()).length")
    assert empty_heads == 0
    shot(f"report-{width}")


def test_runbook_links_are_links_and_only_http_ones(browser, tmp_path):
    md = ("# r\n\nSee [the desk wiki](https://wiki.example/desk) or http://127.0.0.1:8080/v1/runbooks/x.\n\n"
          "Not [this](javascript:alert(1)).\n")
    _open(browser, tmp_path, "runbook.html", html_page("r", markdown_html(md)), 1366)
    hrefs = browser.execute_script("return [...document.querySelectorAll('a')].map(a => a.href)")
    assert hrefs == ["https://wiki.example/desk", "http://127.0.0.1:8080/v1/runbooks/x"]
