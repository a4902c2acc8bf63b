"""Overrides of the pre-trade limits in force: a limit raised or waived, or one refused order let
through, by a request the policies' approvers approved, until it expires, is ended or its scope
halts. Not an error: kept on the first screen so that a loosened limit is not forgotten.
``ksctl status`` says each override, in force or not, under its overrides
(:func:`killswitch.render.overrides.override_line`)."""

from __future__ import annotations

from typing import Any, Iterator

from ..figures import iso
from . import Fact, kind_of

RANK = 145
KIND = kind_of(__name__)
# the console's line
TITLE, LEAD = ("OVERRIDE", "OVERRIDES", " OF THE LIMITS IN FORCE"), "approved, until they expire: "


def facts(st: Any) -> Iterator[Fact]:
    for o in st.overrides:
        if o.state == "active":
            strategy = f" strategy {o.strategy}" if o.strategy else ""
            yield Fact(KIND, "accepted", o.scope, o.approved_ms, f"it expires at {iso(o.expires_ms)} or is ended", "",
                       hint=f"ksctl override end --override {o.id}",
                       label=f"{o.what} on {o.scope}{strategy} ({o.id}, {', '.join((o.requester, *o.approvers))})")
