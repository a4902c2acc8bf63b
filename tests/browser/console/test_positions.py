"""The console's positions table and its closes, in a real browser: a table per account from the
runner's last snapshots (side, size, notional, uPnL, liquidation distance, risk score, resting
orders, the snapshot's age), "Close this symbol…" through the same preview → type the scope →
send as every action, a close that applies the preview it was shown, and a dry-run runner that
says up front that nothing will be sent."""

from __future__ import annotations

from typing import Any

from ..conftest import ACCOUNT, ALICE
from ..views import click, close_dialog, confirm_and_send, open_console, preview, sign_in, text_of, view_text, wait

BTC = "BTC/USDT:USDT"


def position_rows(browser: Any) -> dict[str, list[str]]:
    """The positions table of the account: symbol → the texts of its cells."""
    from selenium.webdriver.common.by import By

    rows = browser.find_elements(By.CSS_SELECTOR, f'#positions table[data-account="{ACCOUNT}"] tbody tr')
    out = {}
    for row in rows:
        heads = row.find_elements(By.CSS_SELECTOR, "th")
        if heads:
            out[heads[0].text] = [td.text for td in row.find_elements(By.CSS_SELECTOR, "td")]
    return out


def open_close(browser: Any, css: str) -> None:
    """Click a close button of the positions in the settled view."""
    click(browser, "#positions " + css)
    wait(browser, lambda b: b.execute_script("return document.getElementById('action-dialog').open"),
         "the close dialog opens")


def close_symbol(browser: Any, symbol: str) -> None:
    open_close(browser, f'button[data-action="close"][data-symbol="{symbol}"]')


def test_the_positions_table_and_a_single_symbol_close(live, browser, shot):
    r = live()
    r.tick(2, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: len(position_rows(b)) == 3, "the three positions are listed")
    rows = position_rows(browser)
    assert set(rows) == {BTC, "ETH/USDT:USDT", "SOL/USDT:USDT"}
    side, size, notional, upnl, liq, risk, orders, action = rows[BTC]
    assert (side, size, notional) == ("long", "5", "300,000.00"), rows[BTC]
    assert rows["SOL/USDT:USDT"][0] == "short" and rows["SOL/USDT:USDT"][1] == "1,000"
    assert liq == "-"  # cross margin on a large wallet: the venue gives no liquidation price
    sol_liq = rows["SOL/USDT:USDT"][4]
    assert sol_liq.startswith("133.6%") and "liq. 327.06" in sol_liq and "mark 140" in sol_liq, sol_liq
    # no loss and no liquidation price: only the notional share weighs (0.10 × 300,000 / 1,000,000 of equity)
    assert risk.split()[0] == "0.030" and risk.endswith(" on simulated/sim-main"), risk
    assert orders == "none" and action == "Close this symbol…"
    caption = text_of(browser, f'#positions table[data-account="{ACCOUNT}"] caption')
    assert "3 positions" in caption and "snapshot taken at" in caption and " old" in caption, caption
    assert "Close another scope…" in view_text(browser)
    shot("20-positions")

    close_symbol(browser, BTC)
    assert text_of(browser, "#action-title") == f"Close {BTC} in {ACCOUNT}"
    text = preview(browser, "cut BTC only")
    assert "PREVIEW: 1 order(s) would be sent, notional " in text
    facts = text_of(browser, "#preview-facts")
    assert "Total notional" in facts and "maximum notional" in facts and "Positions as of" in facts, facts
    assert "DRY RUN" not in facts  # a live runner
    planned = [[td.text for td in row.find_elements("css selector", "td")]
               for row in browser.find_elements("css selector", "#preview-orders tbody tr")]
    assert [(p[1], p[2], p[3]) for p in planned] == [(BTC, "sell reduce-only", "5")], planned
    assert r.positions() == {"BTCUSDT": 5.0, "ETHUSDT": 100.0, "SOLUSDT": 1000.0}, "a preview sends nothing"
    shot("21-close-symbol-preview", full=False)
    answer = confirm_and_send(browser, ACCOUNT)
    assert answer.startswith(f"QUEUED: close of {BTC} in {ACCOUNT} at the next tick (1 order(s) now"), answer
    r.tick(1, beat=("bot-x",))  # the close goes out at this tick: BTC alone
    wait(browser, lambda b: "settled, 1 order(s), 1 filled, 0 open" in text_of(b, "#close-progress"),
         "the close settles")
    assert r.positions() == {"ETHUSDT": 100.0, "SOLUSDT": 1000.0}
    shot("22-close-symbol-settled", full=False)
    close_dialog(browser)

    # right after the settled close, before the next snapshot: the preview takes the fill off
    open_close(browser, 'button[data-action="close"][data-focus="close|any"]')
    text = preview(browser, "what is left", scope=ACCOUNT)
    assert "PREVIEW: 2 order(s) would be sent" in text and "taken off" in text, text
    shown = {row.find_elements("css selector", "td")[1].text
             for row in browser.find_elements("css selector", "#preview-orders tbody tr")}
    assert shown == {"ETH/USDT:USDT", "SOL/USDT:USDT"}
    shot("23-preview-after-a-settled-close", full=False)
    close_dialog(browser)
    r.tick(1, beat=("bot-x",))
    wait(browser, lambda b: set(position_rows(b)) == {"ETH/USDT:USDT", "SOL/USDT:USDT"}, "BTC leaves the table")


def test_a_close_whose_book_moved_after_its_preview_is_refused_not_sent(live, browser, shot):
    r = live()
    r.tick(2, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: len(position_rows(b)) == 3, "the positions are listed")
    close_symbol(browser, BTC)
    assert "1 order(s) would be sent" in preview(browser, "cut BTC")
    r.engine.open_position("sim-main", "BTCUSDT", "long", 5.0, 60_000.0)  # a bot doubles BTC meanwhile
    r.tick(1, beat=("bot-x",))
    answer = confirm_and_send(browser, ACCOUNT)
    assert answer.startswith("PREVIEW_MISMATCH: 1 position(s) grew since the preview"), answer
    assert "nothing was sent" in answer
    r.tick(1, beat=("bot-x",))
    assert r.positions()["BTCUSDT"] == 10.0, "nothing was sent"
    browser.execute_script("document.getElementById('result').scrollIntoView()")
    shot("24-close-refused-preview-mismatch", full=False)


def test_a_dry_run_runner_says_up_front_that_nothing_will_be_sent(live, browser, shot):
    r = live(dry_run=True)
    r.tick(2, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: len(position_rows(b)) == 3, "the positions are listed")
    close_symbol(browser, "ETH/USDT:USDT")
    text = preview(browser, "drill on the dry run")
    assert "DRY_RUN: nothing will be sent (this runner is a dry run): 1 order(s) would be planned" in text, text
    facts = text_of(browser, "#preview-facts")
    assert facts.startswith("DRY RUN: this runner sends nothing to any venue. Nothing will be sent."), facts
    assert "Total notional 300,000" in facts, facts
    shot("25-dry-run-close-preview", full=False)
    answer = confirm_and_send(browser, ACCOUNT)
    assert answer.startswith("QUEUED_DRY_RUN: nothing will be sent (this runner is a dry run)"), answer
    r.tick(1, beat=("bot-x",))
    wait(browser, lambda b: "dry_run" in text_of(b, "#close-progress"), "the close is planned, not sent")
    assert r.positions() == {"BTCUSDT": 5.0, "ETHUSDT": 100.0, "SOLUSDT": 1000.0}
    browser.execute_script("document.getElementById('result').scrollIntoView()")
    shot("26-dry-run-close-answer", full=False)
