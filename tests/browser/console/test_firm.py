"""One console over several runners, in a real browser (headless chromium, selenium) at 1366 and
390 px: PostgreSQL, the simulated exchange and two ``ksctl run --shard`` runners (desk-a, desk-b;
desk-b's own policy halts its account). desk-a's console shows the firm strip first — both
shards, desk-b's incident and lock, a link to desk-b's console from the Accounts document, the
firm-wide breaker — read by desk-a's runner from the firm's tables (the page sends no request to
any other origin). desk-b stopped (SIGSTOP): at the next refreshes its card says NOT HEARD with
why, keeps its last incident as of then and is never shown calm; the tab's title says so and the
page's live region announces it; resumed, it is heard again. Screenshots at 1366 and 390 px."""

from __future__ import annotations

import signal
from typing import Any

from tests.integration.firm.test_board import TOKEN, two_shards
from tests.integration.test_shards import pg_url  # noqa: F401 - the fixture
from tests.state.conftest import pg_server  # noqa: F401 - the session PostgreSQL fixture

from ..views import open_console, text_of, wait
from .test_ux import at_width, layout_problems

WIDTHS = (1366, 390)


def _sign_in(browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "use-token").click()
    wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#firm-strip [data-shard]"), "the firm strip", 30)


def _card(browser: Any, shard: str) -> Any:
    return browser.find_element("css selector", f'#firm-strip [data-shard="{shard}"]')


def _state(browser: Any, shard: str) -> str:
    return _card(browser, shard).get_attribute("data-shard-state")


# The firm strip is drawn again at every refresh (its runners tick on their own, its ages move):
# what a test reads of a card is read in one script, never from an element found before a redraw.
def _card_js(arg: int) -> str:
    """A script's expression for the card of the shard named by its argument ``arg``."""
    return f'document.querySelector(`#firm-strip [data-shard="${{arguments[{arg}]}}"]`)'


def _texts(browser: Any, *shards: str) -> list[str]:
    return [browser.execute_script(f"return {_card_js(0)}.innerText;", shard) for shard in shards]


def _link(browser: Any, shard: str) -> tuple[str, str, str, str]:
    return tuple(browser.execute_script(
        f"const a = {_card_js(0)}.querySelector('.links a'); return [a.href, a.target, a.rel, a.innerText];", shard))


def _stale_card(browser: Any) -> tuple[str, str, bool, bool]:
    """desk-b's card: its text, its class, whether its background differs from desk-a's, and
    whether it is within the window."""
    return tuple(browser.execute_script(f"""
const card = {_card_js(0)}, other = {_card_js(1)};
const bg = (el) => getComputedStyle(el).backgroundColor;
return [card.innerText, card.className, bg(card) !== bg(other), card.getBoundingClientRect().top < window.innerHeight];
""", "desk-b", "desk-a"))


def _top(browser: Any, css: str) -> float:
    return browser.execute_script("return document.querySelector(arguments[0]).getBoundingClientRect().top", css)


def test_one_console_shows_every_shard_first_and_a_stale_shard_as_not_heard(tmp_path, pg_url, browser, shot):
    with two_shards(tmp_path, pg_url) as firm:
        firm.both_heard_with_b_halted()
        open_console(browser, f"http://127.0.0.1:{firm.api_a}")
        _sign_in(browser)
        wait(browser, lambda b: _state(b, "desk-b") == "SHARD_LIVE" and "desk-b-guard" in _card(b, "desk-b").text,
             "desk-b heard, with its incident", 15)
        # the breaker armed once the holder has evaluated over desk-b's facts too
        wait(browser, lambda b: "firm-breaker on global: stage 0, armed" in text_of(b, "#firm-strip .breaker"),
             "the firm-wide breaker armed over both shards", 20)
        for width in WIDTHS:
            at_width(browser, width)
            browser.execute_script("window.scrollTo(0, 0)")
            # the firm strip is the first thing of the view, before this runner's own incidents
            assert _top(browser, "#firm-strip") < _top(browser, "#strip") < _top(browser, "#runner")
            a, b = _texts(browser, "desk-a", "desk-b")
            assert "desk-a" in a and "(this shard)" in a and "heard" in a and "leader a-0" in a, a
            assert "This console." in a
            # each shard's policy sync, as its leader published it on its board (not in git here)
            assert "files in sync · rev not in git" in a and "files in sync · rev not in git" in b, (a, b)
            assert "heard" in b and "leader b-0" in b and "last heard" in b, b
            assert "desk-b-guard stage 1 halt on binanceusdm/sim-hedge" in b and "not acknowledged" in b, b
            assert "reset 0 of 2 approvals" in b and "Locked: halted on binanceusdm/sim-hedge" in b, b
            href, target, rel, words = _link(browser, "desk-b")
            assert href == firm.console_b and target == "_blank"
            assert "noopener" in rel and "Open the console of desk-b" in words
            breaker = text_of(browser, "#firm-strip .breaker")
            assert "Firm-wide breaker" in breaker and "firm lease held by a-0" in breaker, breaker
            assert "firm-breaker on global: stage 0, armed" in breaker, breaker
            problems = layout_problems(browser)
            assert problems["sideways"] <= 0, problems
            shot(f"console-firm-heard-{width}")
        at_width(browser, 1366)

        firm.b.send_signal(signal.SIGSTOP)
        wait(browser, lambda b: _state(b, "desk-b") == "SHARD_STALE", "desk-b not heard in desk-a's console", 15)
        wait(browser, lambda b: "desk-b" in text_of(b, "#announce") and "NOT HEARD" in text_of(b, "#announce"),
             "the live region announces it", 10)
        assert browser.title.startswith("SHARD desk-b NOT HEARD — "), browser.title
        for width in WIDTHS:
            at_width(browser, width)
            browser.execute_script("window.scrollTo(0, 0)")
            text, classes, differs, shown = _stale_card(browser)
            assert "NOT HEARD" in text and "SHARD_STALE: shard desk-b was last heard" in text, text
            assert "(bound 1.5s)" in text and "what it does now is not known" in text, text
            assert "What it last said, as of then: 1 open incident known, halted on binanceusdm/sim-hedge" in text
            assert "desk-b-guard stage 1 halt" in text and "No open incident" not in text and "No lock" not in text
            assert "tone-down" in classes
            assert differs  # never calm: its card stands out from the heard one
            assert "1 NOT HEARD" in text_of(browser, "#h-firm-strip")
            assert "1 UNREACHABLE (desk-b)" in text_of(browser, "#firm-strip .firm-line")
            assert shown, width
            problems = layout_problems(browser)
            assert problems["sideways"] <= 0, problems
            shot(f"console-firm-stale-{width}")
        at_width(browser, 1366)
        # the page asked no other origin: every request it made went to desk-a's runner
        origins = browser.execute_script(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name).origin)")
        assert set(origins) == {f"http://127.0.0.1:{firm.api_a}"}, set(origins)

        firm.b.send_signal(signal.SIGCONT)
        wait(browser, lambda b: _state(b, "desk-b") == "SHARD_LIVE", "desk-b heard again", 20)
        wait(browser, lambda b: "desk-b is heard again" in text_of(b, "#announce"), "announced", 10)
        assert not browser.title.startswith("SHARD")
