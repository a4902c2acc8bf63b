"""The console's rough edges from an incident, in a real browser: a lock's expiry typed as the CLI
takes it (30m, 2h), the operator named on the locks and closes they placed, a reset preview that
warns the stage will latch again at once, and a standby's console that names the leader and
disables its actions. Screenshots as in test_views_and_actions.py."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store

from ...unit.engine_helpers import compile_graph
from ...unit.runner.operator.rig import T0, TICK_MS, live_close
from ..conftest import ACCOUNT, ALICE, BOB, PEOPLE, POLICIES
from ..views import (
    click_action,
    close_dialog,
    confirm_and_send,
    open_console,
    preview,
    sign_in,
    text_of,
    view_text,
    wait,
)


def test_the_operator_is_named_the_expiry_is_a_duration_and_a_reset_warns_it_latches_again(live, browser, shot):
    r = live()
    r.tick(1, beat=("bot-x",))
    r.tick(13)  # bot-x silent for 65 s: bot-guard halts the account (manual, two approvals)
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")

    # the reset preview says the trigger still fires and the stage will be entered again at once
    click_action(browser, "reset", ACCOUNT, policy="bot-guard")
    text = preview(browser, "bot-x looked at")
    assert "PREVIEW: would record approval 1/2 (approvers=alice)" in text
    assert "silent was firing at the last tick (" in text and "UTC: bot = 65s > 1m): stage 1 halt will be entered " \
           "again at the next tick after the reset if still firing then" in text, text
    shot("edges-01-reset-still-firing", full=False)
    close_dialog(browser)
    # the last approval while it still fires: the lock lifts, and binds again at the next tick
    r.call(r.desk.reset("bot-guard", ACCOUNT, "alice", "reviewed", confirm_relatch=True))
    sign_in(browser, BOB, "bob")
    click_action(browser, "reset", ACCOUNT, policy="bot-guard")
    text = preview(browser, "agreed")
    assert "PREVIEW: would reset (stage=1 approvers=alice,bob)" in text, text
    assert ("halted now, trading allowed after, then halted again at the next tick (a trigger still fires)."
            in text), text
    close_dialog(browser)
    sign_in(browser, ALICE, "alice")

    # a lock's expiry as ksctl lock --ttl takes it: a bare number is refused with the grammar, 2h is taken
    click_action(browser, "lock", "")  # "Lock another scope…"
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, "f-scope").send_keys("global")
    ttl = browser.find_element(By.ID, "f-ttl")
    ttl.send_keys("90")
    browser.find_element(By.ID, "f-reason").send_keys("drill")
    browser.find_element(By.ID, "preview-btn").click()
    wait(browser, lambda b: b.find_element(By.ID, "form-error").is_displayed(), "a bare number is refused")
    assert "a number and a unit (s, m, h, d, w), e.g. 30m, 2h" in text_of(browser, "#form-error")
    ttl.clear()
    text = preview(browser, "drill: the desk looks at it", ttl="1h30m")
    now = r.parts.clock()
    from killswitch.runner.lock.lock import iso_ms

    assert f"LOCKED: scope=global mode=halted until {iso_ms(now + 90 * 60_000)}" in text, text
    shot("edges-02-lock-duration", full=False)
    assert confirm_and_send(browser, "global").startswith("LOCKED: scope=global mode=halted until ")
    close_dialog(browser)
    wait(browser, lambda b: "operator alice" in text_of(b, "#locks"), "the lock names alice")
    [row] = [x for x in text_of(browser, "#locks").splitlines() if x.startswith("global ")]
    assert "halted operator alice MANUAL_LOCK: mode=halted by=alice until " in row, row

    # a close names who asked for it
    answer = r.call(live_close(r.desk, ACCOUNT, "flatten", actor="alice"))
    assert answer.accepted, answer
    wait(browser, lambda b: "asked for by alice" in text_of(b, "#closes"), "the close names alice")
    shot("edges-03-operator-named")


class Standby:
    """A second runner on the first one's state store (``ks-1``): it stands by while the first
    leads, and serves its own console."""

    def __init__(self, leader: Any, where: Path):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="standby", daemon=True)
        self.thread.start()
        self.clock = ManualClock(T0)
        adapter = SimulatedAdapter(leader.engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                   timeout_s=2.0)
        self.store = open_store(f"sqlite://{where / 'state.db'}")
        graph = compile_graph(POLICIES, "console.yaml")
        self.runner, self.desk, self.parts = build_runner_and_desk(graph, {ACCOUNT: adapter}, self.store,
                                                       lock_path=where / "standby-lock.json", dry_run=False,
                                                       clock=self.clock, holder="ks-1")
        self.call(self.runner.start())
        self.site, self.url = self.call(start_api(make_app(self.desk, tokens=PEOPLE)))

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def tick(self) -> None:
        self.clock.advance(TICK_MS)
        self.call(self.runner.tick())

    def close(self) -> None:
        try:
            self.call(stop_api(self.site))
            self.call(self.runner.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
            self.store.close()


def test_a_standby_names_the_leader_and_disables_its_actions(live, browser, shot, tmp_path):
    r = live()
    r.tick(2, beat=("bot-x",))
    standby = Standby(r, tmp_path / "runner0")
    try:
        standby.tick()
        assert not standby.parts.lead.leader and r.parts.lead.leader
        open_console(browser, standby.url)
        sign_in(browser, ALICE, "alice")
        text = view_text(browser)
        assert "STANDBY: This runner (ks-1) is a standby: it acts on nothing, so its actions are disabled here. " \
               "The leader is runner (the lease holder): act on its console." in text, text
        assert "Leader\nrunner" in text or "Leader runner" in text
        buttons = browser.find_elements("css selector", "#view button[data-action]")
        assert buttons and not any(b.is_enabled() for b in buttons), "every action of a standby is disabled"
        gate = browser.find_element("css selector", "#view fieldset.actions-gate")
        assert gate.get_attribute("aria-describedby") == "standby-reason"
        browser.execute_script("arguments[0].click()", buttons[0])  # even a click from a script opens nothing
        assert not browser.execute_script("return document.getElementById('action-dialog').open")
        shot("edges-04-standby")
        # the leader's console acts: its buttons are enabled
        open_console(browser, r.url)
        sign_in(browser, ALICE, "alice")  # another origin: the token is typed again
        assert all(b.is_enabled() for b in browser.find_elements("css selector", "#view button[data-action]"))
        assert "STANDBY" not in view_text(browser)
    finally:
        standby.close()


# what each refresh leaves on the refresh line, recorded as it is written
_SAID = """
if (window.__said === undefined) {
  window.__said = [];
  const line = document.getElementById("refresh-state");
  new MutationObserver(() => window.__said.push(line.textContent))
    .observe(line, {childList: true, characterData: true, subtree: true});
}
document.dispatchEvent(new Event("visibilitychange"));  // the page refreshes on it, as at its interval
return window.__said;
"""


def refresh_lines(browser: Any, n: int) -> list[str]:
    """What the refresh line said over the page's next ``n`` refreshes (each nudged, as the page
    refreshes when it is shown again, and each writing the line as it ends)."""
    start = len(browser.execute_script(_SAID))
    said = wait(browser, lambda b: (lambda got: got[start:] if len(got) >= start + n else None)(
        b.execute_script(_SAID)), f"{n} refreshes of the page's own", 30)
    return said


def test_a_refused_token_is_said_refused_with_the_runners_words_never_no_token(live, browser, shot):
    from selenium.webdriver.common.by import By

    r = live()
    r.tick(1, beat=("bot-x",))
    open_console(browser, r.url)
    assert text_of(browser, "#refresh-state") == "Not updating: no token."  # none typed yet: none
    field = browser.find_element(By.ID, "token")
    field.send_keys("alice-console-t0kem")  # a typo of alice's
    browser.find_element(By.ID, "use-token").click()
    wait(browser, lambda b: text_of(b, "#who").startswith("Token refused: AUTH_INVALID"), "the refusal")
    wait(browser, lambda b: "refused" in text_of(b, "#refresh-state"), "the refresh line says refused")
    said = refresh_lines(browser, 2)  # the page's own refreshes keep saying it, never "no token"
    assert not [x for x in said if "no token" in x.lower()], said
    assert text_of(browser, "#refresh-state").startswith("Not updating: the token was refused (AUTH_INVALID")
    assert text_of(browser, "#signed-out-why").startswith("The runner refused the token: AUTH_INVALID")
    assert "no token" not in text_of(browser, "#refresh-state").lower()
    shot("edges-refused-token", full=False)
    browser.set_window_size(390, 844)  # a phone: the same words, on screen
    assert browser.find_element(By.ID, "signed-out-why").is_displayed()
    assert browser.find_element(By.ID, "refresh-state").is_displayed()
    shot("edges-refused-token-390", full=False)
    browser.set_window_size(1366, 900)

    # signed in, then the token is no longer taken (revoked, rotated): the view says refused too
    sign_in(browser, ALICE, "alice")
    assert not browser.find_element(By.ID, "signed-out-why").is_displayed()
    browser.execute_script("sessionStorage.setItem('killswitch.console.token', 'revoked-t0ken')")
    wait(browser, lambda b: "the token was refused (AUTH_INVALID" in text_of(b, "#refresh-state"),
         "the next refresh's 401 said as a refused token")
    assert text_of(browser, "#who").startswith("Token refused: AUTH_INVALID")
    assert browser.find_element(By.ID, "signed-out-why").is_displayed()
    # forgotten: now there is no token, and the page says that
    browser.find_element(By.ID, "forget-token").click()
    wait(browser, lambda b: text_of(b, "#refresh-state") == "Not updating: no token.", "no token once forgotten")
    assert not browser.find_element(By.ID, "signed-out-why").is_displayed()


def test_a_policys_orders_say_why_they_were_sent_in_the_journal(live, browser, shot):
    from .test_ux import at_width, crash

    r = live()
    r.tick(8, beat=("bot-x",))
    crash(r)
    r.tick(2, beat=("bot-x",))  # book-drawdown enters stage 2 trim: reduce_top_risk halves the top risk
    entry = "book-drawdown/simulated/sim-main/L2/e1"
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    table = f'//table[caption[normalize-space()="Order journal of {entry}"]]'
    wait(browser, lambda b: b.find_elements("xpath", table + "//tbody/tr"), "the incident's order journal")
    for width in (1366, 390):
        at_width(browser, width)
        reasons = [td.get_attribute("textContent") for td in browser.find_elements("xpath", table + "//tbody/tr/td[8]")]
        assert reasons and all(x.startswith("TOP_RISK: rank=1 ") and x.endswith("fraction=50%") for x in reasons), \
            (width, reasons)  # the reason the policy sent it; a fill adds no code of its own
        # the journal fits its box: its client order ids break rather than widen it (walk 11 of issue 65, L10)
        over = browser.execute_script("const t = document.evaluate(arguments[0], document, null, 9, null)"
                                      ".singleNodeValue; const w = t.closest('.table-wrap');"
                                      "return w.scrollWidth - w.clientWidth;", table)
        assert over <= 0, (width, over)
        shot(f"edges-journal-reason-{width}", full=False)
