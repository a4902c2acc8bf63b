"""The console's lock violations at 1366 and 390 px: a rogue bot's orders under a halt, caught at
the venue and cancelled, listed without pushing the page sideways (a walk found the table wider
than the window at 1366 px)."""

from __future__ import annotations

from .conftest import ACCOUNT, ALICE
from .test_console import open_console, sign_in, view_text, wait
from .test_console_ux import at_width, layout_problems, shots


def test_the_lock_violations_fit_the_window_at_1366_and_390(live, browser, shot):
    r = live()
    r.tick(1)
    assert r.call(r.desk.lock_scope(ACCOUNT, "halted", "drill: the bot must stop", actor="alice")).done
    r.tick(1)
    for i in range(3):  # a bot that never asks: entries under the halt, long client order ids
        r.engine.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.01 * (i + 1), price=55_000.0 + i,
                             time_in_force="GTC", client_order_id=f"rogue-momentum-strat-{i}-0123456789ab")
    r.tick(2)
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: "Lock violations" in view_text(b), "the lock violations are shown")
    for width in (1366, 390):
        at_width(browser, width)
        problems = layout_problems(browser)
        assert problems["sideways"] <= 0, (width, problems)
        browser.execute_script("document.getElementById('violations').scrollIntoView()")
        shot(f"violations-table-{width}", full=False)
    at_width(browser, 1366)
    shots(browser, shot, "violations")
