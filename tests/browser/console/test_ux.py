"""The console through an incident, in a real browser (headless chromium, selenium), against a
runner on the simulated exchange: a new stage reaches the tab (title, icon) and, when the
operator asked for it, one browser notification per entry; the runbook reads as a document with
a Copy button per command block; a dry run's incident lists the orders it planned; and the page
works 800 px and 390 px wide (every button in the window, no word broken, no sideways scroll).
Screenshots at 1366, 800 and 390 px (see conftest.py for where)."""

from __future__ import annotations

import re
from typing import Any

from killswitch.orders import PLANNED_KIND, planned_intents

from ...unit.runner.operator.rig import live_close
from ..conftest import ACCOUNT, ALICE, VERA
from ..views import laid_out, open_console, preview, refreshes, sign_in, text_of, view_text, wait
from .test_health import icon

TITLE = "killswitch console"
WIDTHS = (1366, 800, 390)

# The browser's Notification API, as a page sees it, replaced before the page's scripts run: it
# records what the page asks and shows (a headless browser shows nothing a test could read). The
# permission an earlier page of the tab was given is kept in sessionStorage, as a browser keeps it.
FAKE_NOTIFICATION = """
window.__asked = 0;
window.__shown = [];
class FakeNotification {
  constructor(title, options) { window.__shown.push({title, body: options.body, tag: options.tag}); }
  close() {}
  static get permission() { return sessionStorage.getItem("fake.permission") || "default"; }
  static requestPermission() {
    window.__asked += 1;
    sessionStorage.setItem("fake.permission", "granted");
    return Promise.resolve("granted");
  }
}
Object.defineProperty(window, "Notification", {value: FakeNotification, configurable: true, writable: true});
"""

# The Web Audio API, as the page uses it, replaced before its scripts run: each tone started is
# recorded with its notes (a headless browser has no speaker a test could hear).
FAKE_AUDIO = """
window.__tones = [];
class FakeParam {
  constructor(owner) { this.owner = owner; }
  setValueAtTime(v, t) { this.owner.push(v); }
  exponentialRampToValueAtTime() {}
}
class FakeAudioContext {
  constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
  resume() { this.state = "running"; return Promise.resolve(); }
  createGain() { return {gain: new FakeParam([]), connect() {}}; }
  createOscillator() {
    const notes = [];
    return {type: "", frequency: new FakeParam(notes), connect() {}, stop() {},
            start() { window.__tones.push(notes); }};
  }
}
Object.defineProperty(window, "AudioContext", {value: FakeAudioContext, configurable: true, writable: true});
"""


def at_width(browser: Any, width: int) -> None:
    """The page as a window ``width`` CSS px wide shows it (390: a phone's, as a phone lays it out)."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 900 if width > 500 else 844, "deviceScaleFactor": 1, "mobile": width <= 500})
    laid_out(browser, width)


def shots(browser: Any, shot: Any, name: str, full: bool = True) -> None:
    """The page at each of :data:`WIDTHS`; a phone's long page also window by window, to be read."""
    for width in WIDTHS:
        at_width(browser, width)
        shot(f"{name}-{width}", full=full)
        if full and width < 500:
            height = browser.execute_script("return document.documentElement.scrollHeight")
            for part, y in enumerate(range(0, min(height, 6 * 844), 844)):
                browser.execute_script("window.scrollTo(0, arguments[0])", y)
                laid_out(browser)
                shot(f"{name}-{width}-part{part + 1}", full=False)
            browser.execute_script("window.scrollTo(0, 0)")
    at_width(browser, 1366)


def shown(browser: Any) -> list[dict]:
    return browser.execute_script("return window.__shown")


def crash(r: Any) -> None:
    """Marks fall far enough that book-drawdown (dd >= 5%) enters stage 2 (trim) at the next ticks."""
    for symbol, price in {"BTCUSDT": 48_000.0, "ETHUSDT": 2_400.0}.items():
        r.engine.set_mark(symbol, price)


def layout_problems(browser: Any) -> dict:
    """What does not fit the window: how far the page scrolls sideways, buttons outside the window
    or outside the region they scroll in, and words (runs between spaces, hyphens and slashes)
    laid out over two lines (but the ids of a table of ids, which may break by design)."""
    return browser.execute_script("""
        const vw = document.documentElement.clientWidth;
        const out = {sideways: document.documentElement.scrollWidth - vw, outside: [], broken: [], buttons: 0};
        for (const b of document.querySelectorAll("button")) {
          if (!b.offsetParent || b.closest("dialog:not([open])")) continue;
          const r = b.getBoundingClientRect();
          if (!r.width) continue;
          out.buttons += 1;
          let bad = r.left < 0 || r.right > vw + 0.5;
          for (let el = b.parentElement; el && !bad; el = el.parentElement) {
            if (getComputedStyle(el).overflowX === "visible") continue;
            const box = el.getBoundingClientRect();
            bad = r.left < box.left - 0.5 || r.right > box.right + 0.5;
          }
          if (bad) out.outside.push((b.getAttribute("aria-label") || b.textContent) + " at " + r.left + ".." + r.right);
        }
        const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const range = document.createRange();
        for (let n = walk.nextNode(); n; n = walk.nextNode()) {
          const el = n.parentElement;
          // an id in a table of ids may break (layout.css: overflow-wrap: anywhere): copied, not read
          if (!el || !el.offsetParent || el.closest("dialog:not([open]), thead, .sr-only, table.ids code, "
                                                    + "table.ids small")) continue;
          const word = /[^\\s\\/\\-]+[\\/\\-]?/g;
          for (let m = word.exec(n.data); m; m = word.exec(n.data)) {
            range.setStart(n, m.index);
            range.setEnd(n, m.index + m[0].length);
            const lines = new Set(Array.from(range.getClientRects()).filter((q) => q.width > 0)
                                  .map((q) => Math.round(q.top)));
            if (lines.size > 1) out.broken.push(m[0]);
          }
        }
        return out;""")


# --- 4. a new stage reaches the browser ------------------------------------------------------------------


def test_a_stage_entry_changes_the_tab_and_is_notified_once_when_asked(live, browser, shot):
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FAKE_NOTIFICATION})
    r = live()
    r.tick(8, beat=("bot-x",))  # enough history for the drawdown window
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")
    wait(browser, lambda b: icon(b)[0] == "ok", "the icon says all is well")
    ok_icon = icon(browser)[1]
    assert browser.title == TITLE
    # nothing is asked of the browser until the operator asks for notifications
    assert browser.execute_script("return window.__asked") == 0
    button = browser.find_element("id", "notify-btn")
    assert button.is_displayed() and button.text == "Enable notifications"
    assert text_of(browser, "#notify-state") == "Notifications off."
    button.click()
    wait(browser, lambda b: text_of(b, "#notify-state").startswith("Notifications on"), "notifications on")
    assert browser.execute_script("return window.__asked") == 1
    assert button.text == "Disable notifications" and button.get_attribute("aria-pressed") == "true"

    # book-drawdown enters stage 2 (trim): no halt, the tab says the stage; one notification
    crash(r)
    r.tick(2, beat=("bot-x",))
    entry = "book-drawdown/simulated/sim-main/L2/e1"
    wait(browser, lambda b: b.title == "STAGE 2 — " + TITLE, "the title names the stage")
    wait(browser, lambda b: icon(b)[0] == "stage-2", "the icon shows the stage")
    assert icon(browser)[1] != ok_icon
    wait(browser, lambda b: len(shown(b)) == 1, "one notification")
    note = shown(browser)[0]
    assert note["title"] == "killswitch: book-drawdown: stage 2 trim"
    assert note["tag"] == "killswitch-entry:" + entry
    assert note["body"].startswith(f"book-drawdown entered stage 2 trim on {ACCOUNT} at ") and entry in note["body"]
    refreshes(browser)  # the entry is still open at every refresh: still one notification
    assert len(shown(browser)) == 1
    shots(browser, shot, "ux-01-stage-tab")

    # bot-x goes silent: bot-guard halts the account: the tab says HALTED; one more notification
    r.tick(13)
    wait(browser, lambda b: b.title == "HALTED · STAGE 2 — " + TITLE, "the title says halted")
    wait(browser, lambda b: icon(b)[0] == "halted", "the icon shows the halt")
    wait(browser, lambda b: len(shown(b)) == 2, "a notification for the new entry")
    assert shown(browser)[1]["title"] == "killswitch: bot-guard: stage 1 halt"
    refreshes(browser)
    assert len(shown(browser)) == 2
    shots(browser, shot, "ux-02-halted-tab")

    # a new page of the same tab: the entries open already are not news, and nothing is asked again
    browser.get(r.url + "/")
    wait(browser, lambda b: "Scopes" in view_text(b), "the view is shown again")
    wait(browser, lambda b: text_of(b, "#notify-state").startswith("Notifications on"), "still on")
    assert browser.title == "HALTED · STAGE 2 — " + TITLE
    refreshes(browser)
    assert shown(browser) == [] and browser.execute_script("return window.__asked") == 0

    # turned off: a new entry changes the tab but notifies nobody
    browser.find_element("id", "notify-btn").click()
    wait(browser, lambda b: text_of(b, "#notify-state") == "Notifications off.", "notifications off")
    r.call(r.desk.reset("bot-guard", ACCOUNT, "alice", "reviewed", confirm_relatch=True))
    r.call(r.desk.reset("bot-guard", ACCOUNT, "bob", "agreed", confirm_relatch=True))
    r.tick(13)  # silent again: a second entry of bot-guard's halt
    wait(browser, lambda b: "bot-guard/simulated/sim-main/L1/e2" in view_text(b), "the second entry is shown")
    refreshes(browser, 2)
    assert shown(browser) == []



def tones(browser: Any) -> list:
    return browser.execute_script("return window.__tones")


def test_a_new_stage_entry_sounds_once_when_the_sound_is_turned_on(live, browser, shot):
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FAKE_AUDIO})
    r = live()
    r.tick(8, beat=("bot-x",))
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")
    button = browser.find_element("id", "sound-btn")
    assert button.is_displayed() and button.text == "Turn sound on" and button.get_attribute("aria-pressed") == "false"
    assert text_of(browser, "#sound-state") == "Sound off."

    # off by default: a stage entry changes the tab and sounds nothing
    crash(r)
    r.tick(2, beat=("bot-x",))
    wait(browser, lambda b: b.title == "STAGE 2 — " + TITLE, "the title names the stage")
    refreshes(browser, 1)
    assert tones(browser) == []

    # turned on: a tone at once (what to listen for), then one per new entry, never per refresh
    button.click()
    wait(browser, lambda b: text_of(b, "#sound-state") == "Sound on: a tone per new stage entry.", "sound on")
    assert button.text == "Turn sound off" and button.get_attribute("aria-pressed") == "true"
    assert tones(browser) == [[880, 660]]
    r.tick(13)  # bot-x silent: bot-guard halts the account, a new entry
    wait(browser, lambda b: b.title == "HALTED · STAGE 2 — " + TITLE, "the title says halted")
    wait(browser, lambda b: len(tones(b)) == 2, "a tone for the new entry")
    refreshes(browser, 2)
    assert len(tones(browser)) == 2
    for width in (1366, 390):  # the control is in the window at a desk and on a phone
        at_width(browser, width)
        if width < 640 and not browser.execute_script("return document.getElementById('settings').open"):
            browser.find_element("css selector", "#settings > summary").click()  # a phone folds it: one tap
        box = browser.execute_script("const r = document.getElementById('sound-btn').getBoundingClientRect();"
                                     "return [r.left, r.right, document.documentElement.clientWidth];")
        assert button.is_displayed() and 0 <= box[0] and box[1] <= box[2] + 0.5, (width, box)
        shot(f"ux-sound-on-{width}", full=False)
    at_width(browser, 1366)

    # a new page of the tab: still on, and the entries open already are not news
    browser.get(r.url + "/")
    wait(browser, lambda b: "Scopes" in view_text(b), "the view is shown again")
    wait(browser, lambda b: text_of(b, "#sound-state").startswith("Sound on"), "still on")
    refreshes(browser, 1)
    assert tones(browser) == []

    # turned off: a new entry sounds nothing
    browser.find_element("id", "sound-btn").click()
    wait(browser, lambda b: text_of(b, "#sound-state") == "Sound off.", "sound off")
    r.call(r.desk.reset("bot-guard", ACCOUNT, "alice", "reviewed", confirm_relatch=True))
    r.call(r.desk.reset("bot-guard", ACCOUNT, "bob", "agreed", confirm_relatch=True))
    r.tick(13)
    wait(browser, lambda b: "bot-guard/simulated/sim-main/L1/e2" in view_text(b), "the second entry is shown")
    refreshes(browser, 1)
    assert tones(browser) == []


# --- 10. the runbook, rendered ------------------------------------------------------------------------


def test_the_runbook_is_rendered_full_height_with_a_copy_button_per_command_block(live, browser, shot):
    r = live()
    r.tick(1, beat=("bot-x",))
    r.tick(13)  # bot-guard halts the account: an incident with a runbook
    incident = "bot-guard/simulated/sim-main/L1/e1"
    markdown = r.call(r.desk.runbook(incident)).markdown
    blocks = re.findall(r"^```[^\n]*\n(.*?)\n```", markdown, flags=re.S | re.M)
    assert blocks, "the runbook has command blocks"
    open_console(browser, r.url)
    sign_in(browser, VERA, "vera")
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": r.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    browser.find_element("css selector", "#incidents a[data-runbook]").click()
    wait(browser, lambda b: b.find_elements("css selector", "#runbook-text h1"), "the runbook is rendered")
    text = text_of(browser, "#runbook-text")
    # the text outside the code blocks (a command block's shell comments start with "# ")
    prose = browser.execute_script(
        "const c = document.getElementById('runbook-text').cloneNode(true);"
        " c.querySelectorAll('pre').forEach((p) => p.remove()); return c.textContent;")
    # a document, not its markdown: headings, lists and code are elements, no markup is left over
    assert "```" not in text and not re.search(r"^#+ ", prose, flags=re.M) and "**" not in text
    assert browser.find_elements("css selector", "#runbook-text h2")
    assert browser.find_elements("css selector", "#runbook-text li")
    pres = browser.find_elements("css selector", "#runbook-text pre")
    assert [p.text for p in pres] == [b.strip("\n") for b in blocks]
    buttons = browser.find_elements("css selector", "#runbook-text .code-block button.copy")
    assert len(buttons) == len(pres) and all(b.text == "Copy" for b in buttons)
    assert buttons[0].get_attribute("aria-label").startswith(f"Copy command block 1 of {len(pres)}: ")
    # the whole window's height, not a box of a few hundred pixels
    dialog_h, window_h, body_h = browser.execute_script(
        "return [document.getElementById('runbook-dialog').getBoundingClientRect().height, window.innerHeight,"
        " document.getElementById('runbook-text').getBoundingClientRect().height]")
    assert dialog_h >= 0.9 * window_h and body_h >= 0.6 * window_h, (dialog_h, body_h, window_h)
    # Copy puts the block's commands on the clipboard, exactly
    buttons[0].click()
    wait(browser, lambda b: buttons[0].text == "Copied", "the button says it copied")
    clip = browser.execute_async_script(
        "const done = arguments[0]; navigator.clipboard.readText().then(done, (e) => done('ERR ' + e));")
    assert clip == blocks[0].strip("\n"), clip
    assert "ksctl" in clip
    shots(browser, shot, "ux-03-runbook", full=False)


# --- 11. a dry run's incidents say what they planned -----------------------------------------------------


def test_a_dry_run_incident_lists_the_orders_it_planned_and_did_not_send(live, browser, shot):
    r = live(dry_run=True)
    r.tick(8, beat=("bot-x",))
    crash(r)
    r.tick(2, beat=("bot-x",))  # book-drawdown stage 2 (trim): one order planned, none sent
    done = r.call(live_close(r.desk, ACCOUNT, "drill on the dry run", actor="alice"))
    assert done.accepted
    r.tick(1, beat=("bot-x",))  # the close is planned at this tick: three orders, none sent
    assert r.positions() == {"BTCUSDT": 5.0, "ETHUSDT": 100.0, "SOLUSDT": 1000.0}
    planned = [o for row in r.store.audit_rows(kinds=[PLANNED_KIND]) for o in planned_intents(row.kind, row.payload)]
    assert len(planned) == 4 and r.store.journal(limit=100) == []
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")

    stage = text_of(browser, "#incidents")
    assert "Orders: 1 planned, not sent (dry run" in stage and "0 journaled" not in stage
    close = text_of(browser, "#closes")
    assert "Orders: 3 planned, not sent (dry run" in close and "0 journaled" not in close
    rows = {}
    for tr in browser.find_elements("css selector", "#view table.planned tbody tr"):
        cells = [c.text for c in tr.find_elements("css selector", "th, td")]
        rows[cells[0]] = cells
    # every planned order is listed as its audit row holds it
    assert set(rows) == {p["client_order_id"] for p in planned}
    for p in planned:
        cells = rows[p["client_order_id"]]
        assert cells[1] == f"{p['venue']}/{p['account']}" and cells[2] == p["symbol"]
        assert cells[3].startswith(p["side"]) and "reduce-only" in cells[3]
        assert float(cells[4].replace(",", "")) == p["amount"]
        assert float(cells[6].replace(",", "")) == round(p["notional"], 2)
        assert cells[7] == p["action"]
    trim = [c for c in rows.values() if c[7] == "reduce_top_risk"]
    assert len(trim) == 1 and trim[0][2] == "BTC/USDT:USDT" and trim[0][4] == "2.5"
    shots(browser, shot, "ux-04-dry-run-planned")


# --- 12. 800 px and a phone ------------------------------------------------------------------------------


def test_the_console_works_800_and_390_px_wide(live, browser, shot):
    r = live()
    r.tick(8, beat=("bot-x",))
    crash(r)
    r.tick(2, beat=("bot-x",))  # stage 2 trim: an order journaled and filled
    r.call(r.desk.lock_scope("simulated", "reducing", "venue maintenance window announced by the exchange, "
                               "reducing only until the operator lifts it", actor="alice"))
    r.tick(13)  # bot-x silent: bot-guard halts the account
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: "venue maintenance window" in view_text(b), "the operator's lock is shown")
    for width in WIDTHS:
        at_width(browser, width)
        found = layout_problems(browser)
        assert found["buttons"] >= 5, found
        assert found["sideways"] <= 0, (width, found)
        assert found["outside"] == [], (width, found["outside"])
        assert found["broken"] == [], (width, found["broken"])
        shot(f"ux-05-layout-{width}")
    # at a phone's width a row reads as a card: each value under its column's name
    at_width(browser, 390)
    stage_cell = browser.find_element("css selector", "#scopes tbody tr td:nth-child(3)")
    assert stage_cell.get_attribute("data-label") == "Stage"
    assert browser.execute_script(
        "return getComputedStyle(arguments[0], '::before').content", stage_cell) == '"Stage"'
    # the actions work there: a lock dialog opens and fits
    browser.find_element("css selector", f'#scopes button[data-action="lock"][data-scope="{ACCOUNT}"]').click()
    wait(browser, lambda b: b.execute_script("return document.getElementById('action-dialog').open"), "opens")
    right = browser.execute_script("return document.getElementById('action-dialog').getBoundingClientRect().right")
    assert right <= 390
    text = preview(browser, "drill: a phone-sized lock preview", mode="reducing", ttl="30m")
    assert "LOCKED: scope=simulated/sim-main mode=reducing" in text
    found = layout_problems(browser)
    assert found["outside"] == [] and found["broken"] == [], found
    shot("ux-06-lock-dialog-390", full=False)
    at_width(browser, 1366)
