"""Silences and acknowledgements in the console, in a real browser: an operator says "I have it"
on a halted incident (with the reason its dialog asks for, as ksctl ack --reason), silences its
pages from the incident's card (a label typo first, refused with its close match), sees the
silence with its author, comment and end, and expires it; a viewer sees them and the buttons
refuse her, each with its reason in sight and nothing recorded.
Screenshots: 30-silence-dialog-refused, 31-incident-acknowledged-and-silenced,
33-viewer-refused, 32-silence-expired."""

from __future__ import annotations

from typing import Any

from ..conftest import ACCOUNT, ALICE, VERA
from ..views import click, open_console, sign_in, text_of, view_text, wait


def _silence_dialog(browser: Any, css: str) -> None:
    click(browser, css)
    wait(browser, lambda b: b.execute_script("return document.getElementById('silence-dialog').open"),
         "the silence dialog opens")


def _acknowledge(browser: Any, incident: str, reason: str) -> None:
    """"I have it" on ``incident``: its dialog opened, ``reason`` typed (empty: none) and sent."""
    click(browser, f'#incidents button[data-ack="{incident}"]')
    wait(browser, lambda b: b.execute_script("return document.getElementById('ack-dialog').open"),
         "the acknowledgement's dialog opens")
    assert incident in text_of(browser, "#ack-what")
    box = browser.find_element("id", "ack-reason")
    box.clear()
    if reason:
        box.send_keys(reason)
    browser.find_element("id", "ack-send").click()


def _ack_refusal(browser: Any) -> str:
    wait(browser, lambda b: b.find_element("id", "ack-result").is_displayed(), "the acknowledgement is refused")
    return text_of(browser, "#ack-result")


def _send_silence(browser: Any, *, matchers: str | None = None, duration: str = "2h", comment: str) -> str:
    if matchers is not None:
        box = browser.find_element("id", "s-matchers")
        box.clear()
        box.send_keys(matchers)
    d = browser.find_element("id", "s-duration")
    d.clear()
    d.send_keys(duration)
    c = browser.find_element("id", "s-comment")
    c.clear()
    c.send_keys(comment)
    before = text_of(browser, "#silence-result") if browser.find_element("id", "silence-result").is_displayed() else ""
    browser.find_element("id", "silence-send").click()
    wait(browser, lambda b: b.find_element("id", "silence-result").is_displayed()
         and text_of(b, "#silence-result") not in ("", before), "the runner answers")
    return text_of(browser, "#silence-result")


def test_an_operator_acknowledges_silences_and_expires_from_the_console(live, browser, shot):
    r = live()
    r.tick(1, beat=("bot-x",))
    r.tick(13)  # bot-x silent for 65 s: bot-guard halts the account (stage 1, manual)
    incident = next(i.incident for i in r.call(r.desk.incidents()) if i.kind == "stage")
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: "Nobody has acknowledged it" in text_of(b, "#incidents"), "the incident is shown")
    assert "No silence: every page is sent." in text_of(browser, "#silences")

    # "I have it": its dialog asks the reason, as ksctl ack --reason takes it; none is not sent
    _acknowledge(browser, incident, "")
    assert _ack_refusal(browser).startswith("BAD_REQUEST: say why in the reason")
    [guard] = [s for s in r.desk.status().scopes if s.policy == "bot-guard"]
    assert guard.ack is None
    browser.find_element("id", "ack-cancel").click()
    _acknowledge(browser, incident, "restarting bot-x")
    wait(browser, lambda b: "Acknowledged by alice" in text_of(b, "#incidents"), "the acknowledgement is shown")
    assert not browser.execute_script("return document.getElementById('ack-dialog').open")
    [guard] = [s for s in r.desk.status().scopes if s.policy == "bot-guard"]
    assert guard.ack is not None and (guard.ack.author, guard.ack.comment) == ("alice", "restarting bot-x")
    assert ": restarting bot-x." in text_of(browser, "#incidents"), text_of(browser, "#incidents")

    # silence its pages from the card: the matchers come filled in with its policy and scope
    _silence_dialog(browser, "#incidents button[data-silence-open]")
    assert browser.find_element("id", "s-matchers").get_attribute("value") == f"policy=bot-guard scope={ACCOUNT}"
    answer = _send_silence(browser, matchers=f"polcy=bot-guard scope={ACCOUNT}", comment="alice: restarting bot-x")
    assert answer.startswith("UNKNOWN_LABEL: no page carries a label 'polcy'; did you mean policy?"), answer
    shot("30-silence-dialog-refused", full=False)
    # a list as Alertmanager writes it is one matcher box entry (its comma and space inside)
    answer = _send_silence(browser, matchers=f'{{policy="bot-guard", scope="{ACCOUNT}"}}',
                           comment="alice: restarting bot-x")
    assert answer.startswith("SILENCED: ") and "by alice" in answer, answer
    assert f'policy="bot-guard", scope="{ACCOUNT}"' in answer, answer
    sid = answer.split()[1]
    browser.find_element("id", "silence-cancel").click()
    wait(browser, lambda b: sid in text_of(b, "#silences"), "the silence is listed")
    row = text_of(browser, "#silences tr.silence-active")
    assert "alice" in row and "restarting bot-x" in row and "ends in 2h" in row, row
    wait(browser, lambda b: f"Pages silenced by {sid}" in text_of(b, "#incidents"), "the incident shows it")
    shot("31-incident-acknowledged-and-silenced")

    # a viewer sees the acknowledgement and the silence; every button refuses her, saying why
    sign_in(browser, VERA, "vera")
    wait(browser, lambda b: sid in text_of(b, "#silences"), "the viewer sees the silence")
    incidents = text_of(browser, "#incidents")
    assert "Acknowledged by alice" in incidents and f"Pages silenced by {sid}" in incidents, incidents
    assert "restarting bot-x" in text_of(browser, "#silences tr.silence-active")
    assert not browser.find_element("id", "silence-refused").is_displayed()
    click(browser, f'#silences button[data-silence-expire="{sid}"]')
    wait(browser, lambda b: b.find_element("id", "silence-refused").is_displayed(), "the expiry is refused")
    refusal = text_of(browser, "#silence-refused-reason")
    assert refusal == "ROLE_REQUIRED: vera may not do this; it needs the role operator", refusal
    shot("33-viewer-refused", full=False)
    wait(browser, lambda b: b.find_element("css selector", f'#silences button[data-silence-expire="{sid}"]')
         .is_enabled(), "the button is given back")
    _acknowledge(browser, incident, "vera: me too")
    wait(browser, lambda b: "operator or approver" in text_of(b, "#ack-result"), "the ack is refused")
    assert text_of(browser, "#ack-result").startswith("ROLE_REQUIRED: vera may not do this")
    browser.find_element("id", "ack-cancel").click()
    browser.find_element("id", "silence-refused-dismiss").click()
    assert not browser.find_element("id", "silence-refused").is_displayed()
    _silence_dialog(browser, "#silences button[data-silence-open]")
    answer = _send_silence(browser, matchers=f"policy=bot-guard scope={ACCOUNT}", comment="vera: me too")
    assert answer == "ROLE_REQUIRED: vera may not do this; it needs the role operator", answer
    browser.find_element("id", "silence-cancel").click()
    [guard] = [s for s in r.desk.status().scopes if s.policy == "bot-guard"]
    assert guard.ack is not None and guard.ack.author == "alice"  # hers still
    assert [(s.id, s.state) for s in r.desk.silences()] == [(sid, "active")]
    sign_in(browser, ALICE, "alice")

    # expire it: listed as expired, by alice; the incident's pages are no longer held back
    click(browser, f'#silences button[data-silence-expire="{sid}"]')
    wait(browser, lambda b: "expired by alice" in text_of(b, "#silences"), "the silence is expired")
    wait(browser, lambda b: "Pages silenced" not in text_of(b, "#incidents"), "the incident is no longer silenced")
    assert r.desk.silences()[0].state == "expired"
    shot("32-silence-expired")
    kinds = [row.kind for row in r.store.audit_rows(kinds=["silence_added", "silence_expired",
                                                             "incident_acknowledged"])]
    assert kinds == ["incident_acknowledged", "silence_added", "silence_added", "silence_expired"], kinds
    assert "Silences" in view_text(browser)


def test_a_silence_from_an_incident_is_previewed_tied_extended_and_flagged_idle(live, browser, shot):
    from .test_ux import at_width

    r = live()
    r.tick(1, beat=("bot-x",))
    r.tick(13)  # bot-guard halts the account
    incident = next(i.incident for i in r.call(r.desk.incidents()) if i.kind == "stage")
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    wait(browser, lambda b: "Nobody has acknowledged it" in text_of(b, "#incidents"), "the incident is shown")

    # two people have it: both are shown, each once, in the card and the strip
    _acknowledge(browser, incident, "on it")
    wait(browser, lambda b: "Acknowledged by alice" in text_of(b, "#incidents"), "alice's ack")
    assert r.call(r.desk.acknowledge(incident, None, None, "bob: checking residuals", actor="bob")).done
    wait(browser, lambda b: "; bob at " in text_of(b, "#incidents"), "bob's ack beside alice's")
    card = text_of(browser, "#incidents")
    assert "Acknowledged by alice at " in card and ": checking residuals." in card and "bob: bob" not in card, card
    assert "acknowledged by alice, bob" in text_of(browser, "#strip")

    # a silence made from the card: tied to the incident; previewed before it is made
    _silence_dialog(browser, "#incidents button[data-silence-open]")
    assert text_of(browser, "#silence-title") == f"Silence the pages of {incident}"
    assert text_of(browser, "#s-tied").startswith(f"Made from incident {incident}: it also matches that incident")
    box = browser.find_element("id", "s-matchers")
    box.clear()
    box.send_keys("policy=bot-guard scope=simulated")  # the venue, not the policy's scope
    browser.find_element("id", "silence-preview").click()
    wait(browser, lambda b: b.find_element("id", "silence-affects").is_displayed(), "the preview's answer")
    said = text_of(browser, "#silence-affects")
    assert said.startswith("UNKNOWN_SCOPE: 'simulated' is not a scope of policy bot-guard; did you mean "
                           f"'{ACCOUNT}'?"), said
    box.clear()
    box.send_keys(f"policy=bot-guard scope={ACCOUNT}")
    browser.find_element("id", "silence-preview").click()
    wait(browser, lambda b: text_of(b, "#silence-affects").startswith("PREVIEW: affects 1 open incident"),
         "what it would hold back now")
    assert text_of(browser, "#silence-affects").endswith(f"({incident})")
    assert r.desk.silences() == ()  # a preview makes nothing
    shot("34-silence-preview", full=False)
    answer = _send_silence(browser, comment="alice: restarting bot-x")
    assert answer.startswith("SILENCED: ") and f"or when {incident} ends by alice" in answer, answer
    sid = answer.split()[1]
    [made] = r.desk.silences()
    assert made.incident == incident and made.ends_with_incident
    browser.find_element("id", "silence-cancel").click()
    wait(browser, lambda b: f"or when {incident} ends" in text_of(b, "#silences tr.silence-active"), "tied, listed")

    # the same silence again is refused, the preview first (walk 10, L2), naming the one in force
    _silence_dialog(browser, "#incidents button[data-silence-open]")
    browser.find_element("id", "silence-preview").click()
    wait(browser, lambda b: text_of(b, "#silence-affects").startswith("ALREADY_SILENCED: "), "refused")
    said = text_of(browser, "#silence-affects")
    assert f"held back by silence {sid} (alice, until " in said and f"silence extend --silence {sid}" in said, said
    answer = _send_silence(browser, comment="alice: again")
    assert answer.startswith(f"ALREADY_SILENCED: incident {incident}'s pages are held back by silence {sid}"), answer
    assert [s.id for s in r.desk.silences()] == [sid]
    # another silence's preview names the one that holds back the incident's pages already (walk 8)
    box = browser.find_element("id", "s-matchers")
    box.clear()
    box.send_keys("policy=bot-guard")
    browser.find_element("id", "silence-preview").click()
    wait(browser, lambda b: "Already held back: " in text_of(b, "#silence-affects"), "the silence holding it")
    said = text_of(browser, "#silence-affects")
    assert f"Already held back: {incident}: its pages are already held back by silence {sid} (" in said \
        and ", by alice, until " in said, said
    browser.find_element("id", "silence-cancel").click()

    # extended and edited from its row: a new end from now, a new comment; no longer tied
    for width in (1366, 390):
        at_width(browser, width)
        button = browser.find_element("css selector", f'#silences button[data-silence-change="{sid}"]')
        browser.execute_script("arguments[0].scrollIntoView()", button)
        assert button.is_displayed(), width
    at_width(browser, 1366)
    _silence_dialog(browser, f'#silences button[data-silence-change="{sid}"]')
    assert text_of(browser, "#silence-title") == f"Extend or edit silence {sid}"
    assert browser.find_element("id", "s-comment").get_attribute("value") == "restarting bot-x"
    answer = _send_silence(browser, duration="4h", comment="handed to bob")
    assert answer.startswith(f"SILENCE_CHANGED: {sid} ") and f"(no longer ends with {incident})" in answer, answer
    browser.find_element("id", "silence-cancel").click()
    wait(browser, lambda b: "handed to bob" in text_of(b, "#silences tr.silence-active"), "the new comment")
    row = text_of(browser, "#silences tr.silence-active")
    assert "ends in 4h" in row and "or when" not in row, row

    # the incident ends; the silence goes on: flagged idle, as in ksctl status
    r.call(r.desk.reset("bot-guard", ACCOUNT, "alice", "reviewed", confirm_relatch=True))
    r.call(r.desk.reset("bot-guard", ACCOUNT, "bob", "agreed", confirm_relatch=True))
    wait(browser, lambda b: "IDLE: no open incident matches" in text_of(b, "#silences"), "flagged idle")
    shot("35-silence-idle")
    kinds = [(row.kind, bool(row.payload.get("refused")))
             for row in r.store.audit_rows(kinds=["silence_added", "silence_changed"])]
    assert kinds == [("silence_added", False), ("silence_added", True), ("silence_changed", False)], kinds


def test_a_silence_that_spans_every_scope_is_previewed_so_and_made_only_once_its_box_is_ticked(live, browser, shot):
    """Issue 81, medium 3: the dialog's preview says that a silence naming no scope spans every
    scope and what its matchers match of the last day's pages; the "It spans every scope" box
    shows then, typing other matchers clears it, and the silence is refused until it is ticked."""
    r = live()
    r.tick(1, beat=("bot-x",))
    page = {"receiver": "pager", "event_kinds": ["lock_violation"], "severity": "critical", "final": True,
            "labels": [{"event": "lock_violation", "severity": "critical", "scope": "okx/a", "account": "okx/a"}]}
    r.store.audit("notification_delivered", r.clock() - 3_600_000, page)
    open_console(browser, r.url)
    sign_in(browser, ALICE, "alice")
    _silence_dialog(browser, "#silences button[data-silence-open]")
    box = browser.find_element("id", "s-matchers")
    every = browser.find_element("id", "s-every-scope")
    assert not browser.find_element("id", "s-every-scope-field").is_displayed()
    box.send_keys('severity="critical"')
    browser.find_element("id", "silence-preview").click()
    wait(browser, lambda b: b.find_element("id", "s-every-scope-field").is_displayed(), "the box shows")
    said = text_of(browser, "#silence-affects")
    assert "it spans EVERY scope: none of its matchers names a policy, scope" in said, said
    assert "in the last day its matchers match 1 page: 1 lock_violation" in said, said
    shot("35-silence-every-scope", full=False)
    answer = _send_silence(browser, comment="alice: pager noise")  # not ticked
    assert answer.startswith("SILENCE_TOO_BROAD: it spans EVERY scope") and "It spans every scope" in answer, answer
    assert r.desk.silences() == ()
    every.click()
    box.send_keys(" ")  # typing clears it: a confirmation is of the matchers previewed
    assert not every.is_selected() and not browser.find_element("id", "s-every-scope-field").is_displayed()
    browser.find_element("id", "silence-preview").click()
    wait(browser, lambda b: b.find_element("id", "s-every-scope-field").is_displayed(), "the box shows again")
    every.click()
    answer = _send_silence(browser, comment="alice: pager noise")
    assert answer.startswith("SILENCED: ") and "it spans EVERY scope" in answer, answer
    [made] = r.desk.silences()
    assert made.matchers == ('severity="critical"',)
