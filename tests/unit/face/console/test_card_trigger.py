"""An incident card says what its trigger reads, even when the trigger fires while no check
breaches now (walk 7's L9: after a restart a card read ``firing: soft`` with no value, its
``dd_15m`` back under the threshold and ``dd_1h`` unknown, held by ``on_missing_data: hold``)."""

from __future__ import annotations

import dataclasses

from killswitch.runner.lock.lock import LockBook
from killswitch.view import IncidentStatus, ScopeStatus, ThresholdCheck, TriggerStatus
from tests.unit.face.console.test_model import ACC, T0, page_model, render, status, text_of

INCIDENT = f"futures-book/{ACC}/L1/e1"


def _card(checks: tuple[ThresholdCheck, ...], reason: str | None) -> str:
    st = dataclasses.replace(status(), scopes=(ScopeStatus("futures-book", ACC, 1, "reduce-top-risk", False, (), 1,
                                                           T0 - 60_000),))
    soft = TriggerStatus("futures-book", ACC, "soft", "dd_15m >= 4.5% or dd_1h >= 7%", True, T0 - 60_000,
                         T0 - 60_000, None, reason, checks, T0)
    incident = IncidentStatus(INCIDENT, "stage", "futures-book", ACC, 1, "reduce-top-risk", T0 - 60_000, False, 1,
                              (), False, (), 0)
    m = page_model(st, (True, "LEADER"), LockBook().to_doc(T0), {}, (soft,), (incident,))
    [card] = m["incidents"]
    assert card["id"] == INCIDENT
    assert f"firing: {card['on']}" in text_of(render(m))
    return card["on"]


def test_a_trigger_held_on_missing_data_shows_its_values_and_why_it_still_fires():
    checks = (ThresholdCheck("dd_15m", ">=", "4.5%", 0.0001328, "0.01328%", False),
              ThresholdCheck("dd_1h", ">=", "7%", None, "unknown", None, "INSUFFICIENT_HISTORY: coverage=29% min=80%"))
    assert _card(checks, "MISSING_DATA: rule=hold") == (
        "soft (held, MISSING_DATA: rule=hold: dd_15m = 0.01328% >= 4.5%: not breached; "
        "dd_1h = unknown >= 7%: unknown (INSUFFICIENT_HISTORY: coverage=29% min=80%))")


def test_a_trigger_firing_on_a_heartbeat_never_heard_says_never_heard_not_held():
    # walk 11's M4: "silent (held, MISSING_DATA: rule=fire: beat = unknown > 3m: unknown (NO_HEARTBEAT: …))"
    checks = (ThresholdCheck("beat", ">", "3m", None, "unknown", None,
                             "NO_HEARTBEAT: source=bot-a grace=180s passed without a first beat"),)
    assert _card(checks, "MISSING_DATA: rule=fire") == "soft (bot-a never heard: grace 3m passed without a first beat)"
    checks = (ThresholdCheck("beat", ">", "3m", None, "unknown", None, "NO_HEARTBEAT: source=bot-a"),)
    assert _card(checks, "MISSING_DATA: rule=fire") == "soft (bot-a never heard)"
    # another value missing under on_missing_data: fire fires on it: not "held" (the word of rule=hold)
    checks = (ThresholdCheck("dd_1h", ">=", "7%", None, "unknown", None, "INSUFFICIENT_HISTORY: coverage=29% min=80%"),)
    assert _card(checks, "MISSING_DATA: rule=fire") == (
        "soft (firing on missing data, MISSING_DATA: rule=fire: dd_1h = unknown >= 7%: unknown "
        "(INSUFFICIENT_HISTORY: coverage=29% min=80%))")


def test_a_breached_check_is_shown_as_before():
    checks = (ThresholdCheck("dd_15m", ">=", "4.5%", 0.04852, "4.852%", True),)
    assert _card(checks, None) == "soft (dd_15m = 4.852% >= 4.5%)"


def test_the_card_of_an_instance_a_reload_removed_says_so_first_and_not_that_it_fires():
    """Walk 10's M4: the card read ``firing: silent (kept firing: beat = unknown > 10m: unknown
    (NOT_EVALUATED))``, as though the policy still guarded the scope."""
    at = T0 - 30_000  # 12:59:30 UTC
    removed = ("REMOVED BY RELOAD: bot-a-guard binanceusdm/main at stage 1: its scope no longer selects it; "
               "it guards nothing now; reset it to end it (ksctl reset --policy bot-a-guard --scope binanceusdm/main)")
    st = dataclasses.replace(status(), scopes=(ScopeStatus("bot-a-guard", ACC, 1, "halt", True, (), 2, T0 - 60_000,
                                                           removed=removed, removed_ms=at),))
    silent = TriggerStatus("bot-a-guard", ACC, "silent", "beat > 10m", True, T0 - 60_000, T0 - 60_000, None, None,
                           (ThresholdCheck("beat", ">", "10m", None, "unknown", None, "NOT_EVALUATED"),), T0)
    incident = IncidentStatus(f"bot-a-guard/{ACC}/L1/e1", "stage", "bot-a-guard", ACC, 1, "halt", T0 - 60_000, True,
                              2, (), False, (), 0)
    m = page_model(st, (True, "LEADER"), LockBook().to_doc(T0), {}, (silent,), (incident,))
    page = render(m)
    card = text_of(page[page.index('<li class="strip-row'):page.index("</li>", page.index('<li class="strip-row'))])
    said = "REMOVED BY RELOAD at 12:59:30 UTC: guards nothing now; reset it to end it"
    assert said in card, card
    assert "firing:" not in card and "NOT_EVALUATED" not in card, card
    assert card.index(said) < card.index("reset: 0 of 2 approvals"), card
