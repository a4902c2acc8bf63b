"""The console's silences and acknowledgements: the view's answers arranged as the page shows them.

What it owns: the rows of the silences section (matchers, author, comment, when it ends — "ends
in 1h 59m", counted on the runner's clock — or when and by whom it was expired, and whether it
can still be expired), and what an incident's card says of who has it and which silences hold
back its pages. Pure: no I/O, no clock, no HTML.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ...silences import INCIDENT_ENDED
from ...view import AckStatus, IncidentStatus, SilenceStatus
from .model import _when, age_text


def silence_row(s: SilenceStatus, now: int) -> dict:
    if s.state == "active":
        left = f"ends in {age_text((s.ends_ms - now) / 1000)}"
    elif s.state == "pending":
        left = f"starts in {age_text((s.starts_ms - now) / 1000)}"
    elif s.expired_by == INCIDENT_ENDED:  # its real end (``ends_ms``), as the runner recorded it
        left = f"ended with its incident {age_text((now - s.ends_ms) / 1000)} ago"
    else:
        left = f"expired{' by ' + s.expired_by if s.expired_by else ''} {age_text((now - s.ends_ms) / 1000)} ago"
    tied = getattr(s, "incident", None) if getattr(s, "ends_with_incident", False) else None
    return {"id": s.id, "matchers": list(s.matchers), "author": s.author, "comment": s.comment, "state": s.state,
            "left": left + (f", or when {tied} ends" if tied and s.state != "expired" else ""),
            "ends": _when(s.ends_ms, now), "created": _when(s.created_ms, now),
            "can_expire": s.state != "expired", "idle": getattr(s, "idle", None)}


def silence_rows(silences: Sequence[SilenceStatus], now: int) -> list[dict]:
    """In force first (soonest to end first), then those ended in the last day."""
    order = {"active": 0, "pending": 1, "expired": 2}
    return [silence_row(s, now) for s in sorted(silences, key=lambda s: (order.get(s.state, 3), s.ends_ms))]


def ack_row(a: Optional[AckStatus], now: int) -> Optional[dict]:
    return None if a is None else {"author": a.author, "comment": a.comment, "at": _when(a.ts_ms, now)}


def incident_notes(i: IncidentStatus, now: int) -> dict[str, Any]:
    """Who has the incident (everyone who said so, each once), the silences holding back its
    pages, and what a silence made from it starts from (its policy and scope; it is tied to the
    incident: it matches that incident alone and ends with it)."""
    suggest = ([f"policy={i.policy}", f"scope={i.scope}"] if i.policy else
               ["event=manual_close", f"incident={i.incident}"] if i.kind == "manual_close" else [f"scope={i.scope}"])
    acks = [ack_row(a, now) for a in (i.acks or ((i.ack,) if i.ack is not None else ()))]
    return {"ack": ack_row(i.ack, now), "acks": acks, "silenced_by": [silence_row(s, now) for s in i.silenced_by],
            "silence_matchers": " ".join(suggest), "silence_incident": i.incident if i.kind == "stage" else ""}


def with_silences(model: dict, incidents: Sequence[IncidentStatus], silences: Sequence[SilenceStatus]) -> dict:
    """The page model (:func:`~.model.page_model`) with the silences section and each incident's
    notes (who has it, what silences it), at the model's own ``now_ms``."""
    now = model["now_ms"]
    by_id = {i.incident: i for i in incidents}
    for card in model["incidents"] + model["closes"] + model["pending"]:
        i = by_id.get(card["id"])
        card.update(incident_notes(i, now) if i is not None else
                    {"ack": None, "acks": [], "silenced_by": [], "silence_matchers": f"scope={card['scope']}",
                     "silence_incident": ""})
    return {**model, "silences": silence_rows(silences, now)}
