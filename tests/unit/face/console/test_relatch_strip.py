"""The strip row of a stage entered again at the first tick after its reset (issue 81): it says
which incident it continues, with that incident's orders and who had it, where it read only
"0 orders, not acknowledged"; and the API's answer carries it to a client."""

from __future__ import annotations

import dataclasses
import json

from killswitch.runner.lock.lock import LockBook
from killswitch.view import IncidentStatus, RelatchStatus, ScopeStatus, decode

from .test_model import ACC, T0, page_model, render, status, text_of

FLATTEN = f"futures-book/{ACC}/L3/e2"
RESET = RelatchStatus(FLATTEN, T0 - 3_000, ("alice",), 4, ("carol",))


def card() -> IncidentStatus:
    return IncidentStatus(f"futures-book/{ACC}/L3/e3", "stage", "futures-book", ACC, 3, "flatten", T0 - 1_000, True,
                          1, (), False, (), 0, continues=RESET)


def test_the_strip_row_of_a_relatch_names_the_incident_it_continues():
    st = dataclasses.replace(status(), scopes=(ScopeStatus("futures-book", ACC, 3, "flatten", True, (), 1, T0 - 1_000,
                                                           continues=RESET),))
    text = text_of(render(page_model(st, (True, "LEADER"), LockBook().to_doc(T0), {}, (), (card(),))))
    assert (f"RELATCHED after a reset by alice at 2026-03-02T12:59:57Z; continues incident {FLATTEN} "
            "(4 orders, acknowledged by carol)") in text, text
    assert "0 orders" in text and "not acknowledged" in text  # the new incident's own, beside it


def test_a_client_reads_what_an_incident_continues():
    back = decode(IncidentStatus, json.loads(json.dumps(dataclasses.asdict(card()))))
    assert back.continues == RESET
