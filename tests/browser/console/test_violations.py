"""The console's lock violations at 1366 and 390 px: a rogue bot's orders under a halt, caught at
the venue and cancelled, and its market buy brought back by the runner's own revert, listed
without pushing the page sideways (walks found the table wider than the window at 1366 px, the
second time with a revert row: ``the runner's own revert sell ks…: revert filled 10``)."""

from __future__ import annotations

from ..conftest import ACCOUNT, ALICE
from ..views import open_console, sign_in, view_text, wait
from .test_ux import at_width, layout_problems, shots

BOT_ID = "mom7f3a9c0e5b2d4186a9f0c3e7b1d52a6e1"  # 36 characters, the most Binance takes


def test_the_lock_violations_fit_the_window_at_1366_and_390(live, browser, shot):
    r = live()
    r.tick(1)
    assert r.call(r.desk.lock_scope(ACCOUNT, "halted", "drill: the bot must stop", actor="alice")).done
    r.tick(1)
    for i in range(3):  # a bot that never asks: entries under the halt, long client order ids
        r.engine.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.01 * (i + 1), price=55_000.0 + i,
                             time_in_force="GTC", client_order_id=f"rogue-momentum-strat-{i}-0123456789ab")
    # its market buy, under a client id as long as the venue takes and with no place to break
    r.engine.place_order("sim-main", "ETHUSDT", "BUY", "MARKET", 10, client_order_id=BOT_ID)
    r.tick(3)  # cancelled, and the growth reverted and followed to its fill
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: "Lock violations" in view_text(b), "the lock violations are shown")
    wait(browser, lambda b: "the runner's own revert sell ks" in view_text(b) and "revert filled 10" in view_text(b),
         "the revert row is shown, filled")
    for width in (1366, 390):
        at_width(browser, width)
        problems = layout_problems(browser)
        assert problems["sideways"] <= 0, (width, problems)
        # nor does the table scroll in its own region: every column in sight at once
        over = browser.execute_script("const w = document.querySelector('#violations .table-wrap');"
                                      "return w.scrollWidth - w.clientWidth;")
        assert over <= 0, (width, over)
        browser.execute_script("document.getElementById('violations').scrollIntoView()")
        shot(f"violations-table-{width}", full=False)
    at_width(browser, 1366)
    shots(browser, shot, "violations")
