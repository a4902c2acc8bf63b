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

from killswitch.figures import figure, money
from killswitch.view import CoverageStatus, ReceiverFailure

from ...unit.engine_helpers import compile_graph
from ..conftest import ACCOUNT, ALICE, HEDGE, VERA
from ..views import open_console, refreshes, sign_in, text_of, view_text, wait
from .test_ux import at_width, layout_problems, shots

INCIDENT = "bot-guard/simulated/sim-main/L1/e1"
BTC = "BTC/USDT:USDT"
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
    done = r.call(r.desk.lock_scope("global", "reducing", "drill: reduce everything", actor="alice"))
    assert done.done
    real = r.desk.status
    now = r.clock()

    def status() -> Any:
        typo = CoverageStatus("futures-book", "(none)", "unmatched", "UNMATCHED",
                              "the scope (labels{book=futurs}) selects no account", now - 60_000, None, None)
        return dataclasses.replace(
            real(), coverage=(*real().coverage, typo),
            pages_failing=(ReceiverFailure("example-routes", "pager", "connection refused", now - 300_000, 16),),
            pages_failing_since_ms=now - 300_000, facts=())  # (its standing facts: read from these fields)

    r.desk.status = status
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
        # each standing problem is one line at a desk, its detail closed; on a phone its line
        # wraps rather than hide what it names behind an ellipsis (test_narrow.py)
        summaries = browser.find_elements("css selector", "#problems details > summary")
        heads = [s.text for s in summaries]
        # what can lose money first, the configuration's noise last
        assert [h.split(":")[0] for h in heads] == ["TRADING LOCKED", "PAGES ARE FAILING", "1 POLICY BLIND",
                                                    "1 POLICY MATCHES NO ACCOUNT"], heads
        assert all(lines_of(browser, s) == 1 for s in summaries) or width < 640, (width, heads)
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
    assert r.call(r.desk.acknowledge(INCIDENT, None, None, "on it", actor="alice")).done
    r.call(r.desk.reset("bot-guard", ACCOUNT, "bob", "reviewed", confirm_relatch=True))
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


def test_close_this_leg_closes_the_rows_leg_and_both_legs_is_a_choice(live, browser, shot):
    from selenium.webdriver.support.ui import Select

    from ..views import close_dialog, confirm_and_send, preview
    from .test_positions import open_close

    r = live(hedge=True)
    r.tick(2, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    short = f'tr[data-position="{HEDGE}|{BTC}|SHORT"] button[data-action="close"]'
    wait(browser, lambda b: b.find_elements("css selector", "#positions " + short), "the hedge legs are listed")
    for width in NARROW:
        at_width(browser, width)
        button = browser.find_element("css selector", "#positions " + short)
        assert button.text == "Close this short leg…" and button.get_attribute("data-leg") == "short"
        open_close(browser, short)
        assert text_of(browser, "#action-title") == f"Close the short leg of {BTC} in {HEDGE}"
        leg = Select(browser.find_element("id", "f-leg"))
        assert browser.find_element("id", "f-leg").is_displayed() and leg.first_selected_option.text == \
            "the short leg only"
        text = preview(browser, "cut the short leg")
        # a live runner's preview is a PREVIEW, not a dry run
        assert text.startswith("Preview: nothing has been sent\nPREVIEW: 1 order(s) would be sent"), text
        rows = [[td.text for td in tr.find_elements("css selector", "td")]
                for tr in browser.find_elements("css selector", "#preview-orders tbody tr")]
        assert [(c[1], c[2].split(" ")[:2], c[3]) for c in rows] == [(BTC, ["buy", "SHORT"], "4")], rows
        # its figures as the market writes them: the limit price on BTC's 0.1 tick, the notional in money
        (order,) = r.call(r.desk.preview_close(HEDGE, BTC, "short")).orders
        assert order.price_tick == 0.1 and rows[0][4] == figure(order.limit_price, 0.1) == "61,200.0", rows
        assert rows[0][5] == money(order.notional) == "240,000.00", rows
        # one snapshot, one age: its time and how old it is, counting, and no second age beside it
        assert text.lower().count("as of") == 1 and "s ago)" not in text, text
        assert layout_problems(browser)["outside"] == []
        shot(f"oncall-03-close-short-leg-{width}", full=False)
        if width != NARROW[-1]:
            close_dialog(browser)
    at_width(browser, 1366)
    answer = confirm_and_send(browser, HEDGE)
    assert answer.startswith(f"QUEUED: close of the short leg of {BTC} in {HEDGE} at the next tick"), answer
    r.tick(1, beat=("bot-x",))
    wait(browser, lambda b: "settled, 1 order(s), 1 filled" in text_of(b, "#close-progress"), "the close settles")
    assert ("BTCUSDT", "SHORT") not in r.legs() and r.legs()[("BTCUSDT", "LONG")] == 2.0, r.legs()
    close_dialog(browser)

    # both legs: an explicit choice in the dialog, on ETH's long leg
    open_close(browser, f'tr[data-position="{HEDGE}|ETH/USDT:USDT|LONG"] button[data-action="close"]')
    Select(browser.find_element("id", "f-leg")).select_by_value("")
    assert text_of(browser, "#action-title") == f"Close ETH/USDT:USDT in {HEDGE}"
    preview(browser, "both ETH legs")
    legs = sorted(tr.find_elements("css selector", "td")[2].text.split(" ")[1]
                  for tr in browser.find_elements("css selector", "#preview-orders tbody tr"))
    assert legs == ["LONG", "SHORT"], legs
    assert "both legs of ETH/USDT:USDT" in text_of(browser, "#preview-effects")
    shots(browser, shot, "oncall-04-close-both-legs", full=False)
    close_dialog(browser)
    assert r.legs()[("ETHUSDT", "LONG")] == 30.0, "a preview sends nothing"


def test_a_scope_that_holds_no_position_offers_no_close(live, browser, shot):
    from ...unit.runner.operator.rig import live_close

    r = live()
    r.tick(2, beat=("bot-x",))
    assert r.call(live_close(r.desk, ACCOUNT, "flatten by hand", actor="alice")).accepted
    r.tick(2, beat=("bot-x",))
    assert r.positions() == {}
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    for width in NARROW:
        at_width(browser, width)
        wait(browser, lambda b: not b.find_elements("css selector", '#scopes button[data-action="close"]'),
             "no Close… where nothing is held")
        assert text_of(browser, "#scopes").count("no position to close") == 2  # bot-guard's and book-drawdown's
        assert browser.find_elements("css selector", '#scopes button[data-action="lock"]')  # the rest stays
    shots(browser, shot, "oncall-05-no-position-no-close")


def test_a_watched_heartbeat_source_is_listed_before_its_first_beat(live, browser, shot):
    r = live()
    r.tick(2)  # bot-x has not beaten yet: bot-guard watches it all the same
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")
    for width in NARROW:
        at_width(browser, width)
        row = browser.find_element("css selector", "#dms tbody tr")
        assert row.get_attribute("class") == "unheard"
        cells = [c.text for c in row.find_elements("css selector", "th, td")]
        assert cells[:4] == ["bot-x", "policy bot-guard", "no", "never heard"], cells
        assert browser.execute_script("return arguments[0].getBoundingClientRect().right <= window.innerWidth",
                                      row)
    for width in (1366, 800, 390):
        at_width(browser, width)
        browser.execute_script("document.getElementById('dms').scrollIntoView()")
        shot(f"oncall-06-watched-source-never-heard-{width}", full=False)
    at_width(browser, 1366)
    r.tick(1, beat=("bot-x",))
    wait(browser, lambda b: "never heard" not in text_of(b, "#dms"), "heard from")
    assert text_of(browser, "#dms tbody tr td:nth-child(4)").endswith("ago")


TWO_WINDOWS = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: two-windows}
spec:
  scope: {level: account, accounts: {match_labels: {book: futures}}}
  interval: 5s
  signals:
    dd_1m: {equity_drawdown: {window: 1m, min_coverage: 50%}}
    dd_1h: {equity_drawdown: {window: 1h, min_coverage: 80%}}
  triggers:
    soft: {when: "dd_1m >= 5% || dd_1h >= 10%", on_missing_data: hold}
  stages:
    - {level: 1, name: trim, on: [soft], cooldown: 1h, actions: [{reduce_top_risk: {count: 1, fraction: 50%}}]}
"""


def test_a_policy_that_acted_on_one_signal_while_blind_on_the_other_is_partly_blind(live, browser, shot,
                                                                                     monkeypatch):
    from .. import conftest as harness

    graph = compile_graph(TWO_WINDOWS, "two.yaml")
    monkeypatch.setattr(harness, "compile_graph", lambda *_: graph)
    r = live()
    for i in range(8):  # marks that move (a feed that stands still is stale): dd_1m fills, dd_1h cannot
        r.engine.set_mark("BTCUSDT", 60_000.0 + i)
        r.tick(1)
    for i, price in enumerate((50_000.0, 49_900.0)):  # BTC falls: two-windows acts on dd_1m
        r.engine.set_mark("BTCUSDT", price)
        r.engine.set_mark("ETHUSDT", 2_500.0 - i)
        r.tick(1)
    (scope,) = r.desk.status().scopes
    assert scope.stage == 1, "it acted on dd_1m"
    (cov,) = r.desk.status().coverage
    assert cov.state == "blind" and cov.partly == "partly blind: dd_1h unknown; soft can still fire on dd_1m"
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")
    for width in NARROW:
        at_width(browser, width)
        assert "two-windows entered stage 1 trim" in text_of(browser, "#strip")
        cell = browser.find_element("css selector", "#scopes td.cov-partly")
        assert cell.text.startswith("PARTLY BLIND: dd_1h unknown; soft can still fire on dd_1m"), cell.text
        assert "cannot act" not in view_text(browser) and "BLIND: " not in cell.text.replace("PARTLY BLIND: ", "")
        (head,) = [s.text for s in browser.find_elements("css selector", "#problems details > summary")]
        assert head == f"1 POLICY BLIND: two-windows on {ACCOUNT} (partly)", head
    shots(browser, shot, "oncall-07-partly-blind")


def refused(symbol: str, leg: str, now: int) -> dict:
    """A leg of bot-guard's halt whose closes the venue refused up to their bound (status's row)."""
    return {"incident": INCIDENT, "account": ACCOUNT, "symbol": symbol, "leg": leg, "state": "CLOSE_REJECTED",
            "tries": 2, "bound": 2, "kind": "permanent", "reason": "REDUCE_ONLY_REJECTED",
            "venue_said": "-2022 ReduceOnly Order is rejected.", "next_ms": None, "first_ms": now - 60_000,
            "last_ms": now - 55_000}


def test_an_incident_whose_closes_the_venue_refused_leads_the_first_screen(live, browser, shot):
    r = incident_with_standing_problems(live)  # a lock, a typo'd policy, pages failing
    noisy = r.desk.status
    now = r.clock()
    r.desk.status = lambda: dataclasses.replace(noisy(), close_rejections=(
        refused(BTC, "long", now), refused("SOL/USDT:USDT", "short", now)), facts=())
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: "CLOSES REJECTED" in view_text(b), "the rejected closes")
    at_width(browser, 1366)
    browser.execute_script("window.scrollTo(0, 0)")
    heads = [s.text.split(":")[0] for s in browser.find_elements("css selector", "#problems details > summary")]
    # what can lose money first: the refused closes before the lock, the pages and the typo
    assert heads[0].endswith("CLOSES REJECTED") and heads.index("1 POLICY MATCHES NO ACCOUNT") > \
        heads.index("PAGES ARE FAILING") > heads.index("TRADING LOCKED") > 0, heads
    rejected = browser.find_element("css selector", '#problems details[data-keep="problem-rejected"] > summary')
    assert browser.execute_script("return arguments[0].getBoundingClientRect().bottom <= window.innerHeight",
                                  rejected), "the rejected closes are below the fold"
    # the incident's own row says it, and stands out from an amber one
    row = browser.find_element("css selector", f'#strip li[data-incident="{INCIDENT}"]')
    assert "refused" in row.get_attribute("class").split(), row.get_attribute("class")
    assert "LEGS REFUSED BY THE VENUE, left open, not sent again: " in row.text and f"on {ACCOUNT}" in row.text, \
        row.text
    colour = browser.execute_script("return getComputedStyle(arguments[0]).backgroundColor", row)
    amber = browser.execute_script("""
        const li = document.createElement('li'); li.className = 'strip-row level-1';
        document.querySelector('#strip ol').appendChild(li);
        const c = getComputedStyle(li).backgroundColor; li.remove(); return c;""")
    assert colour != amber, (colour, amber)
    shots(browser, shot, "oncall-03-closes-refused-first")
