"""The stored runbooks as the API lists them, and the answer for an incident none is stored for
(the routes are :mod:`killswitch.face.api`'s and :mod:`killswitch.face.console`'s):

    ``GET /v1/runbooks[?since_ms=MS&limit=N]``  200 ``{"format_version": 1, "runbooks": [...]}``:
                                the latest ``limit`` (1 to 1000, default 50) runbooks created at
                                or after ``since_ms``, oldest first, each as ``ksctl runbook list
                                -o json`` prints it (:func:`runbook_row`).
    ``GET /v1/runbooks/{incident}``, ``GET /console/runbook/{incident}``: an incident with no
                                stored runbook is 404 ``UNKNOWN_INCIDENT`` with the stored
                                incidents it is close to (:func:`stored_runbook`).

What it owns: the row of one stored runbook (``ksctl runbook list`` prints the same, from a store
or from here) and the hint of an unknown incident (``ksctl runbook render`` says the same). Must
not: read the store itself (the view does).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional

from ..figures import iso
from ..runner.names import close_matches
from .request import ApiError, show

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000  # also how many stored incidents a near miss is matched against


def ended(record: Any) -> Optional[str]:
    """How the stored runbook's incident ended (``reset by alice, bob at …``), None while open."""
    story = ((getattr(record, "data", None) or {}).get("story") or {}).get("ended")
    return str(story.get("text")) if isinstance(story, dict) and story.get("text") else None


def runbook_row(record: Any) -> dict:
    """One stored runbook (:class:`~killswitch.state.store.RunbookRecord`), without its text."""
    created = iso(record.created_ms)
    return {"incident": record.incident, "policy": record.policy, "scope": record.scope, "level": record.level,
            "created_ms": record.created_ms, "created_ts": created,
            "graph_digest": record.graph_digest, "revision": record.revision, "template": record.template,
            "ended": ended(record)}


def unknown_incident_hint(incident: str, known: list[str]) -> str:
    """What follows ``no runbook … for 'X'``: the stored incidents close to it (``; did you mean
    '…/L2/e2'?``), or, for a manual close's id, where its orders are told instead."""
    if incident.startswith("manual/"):  # (what a manual close's page once pointed at)
        return ("; a manual close is an operator's, no stage entered and no runbook is rendered for it: its "
                "orders are in ksctl status and the console, and ksctl report lists it under Operator actions")
    near = close_matches(incident, known)
    return f"; did you mean {', '.join(repr(k) for k in near)}?" if near else ""


async def stored_runbook(view: Any, call: Callable[..., Awaitable[Any]], incident: str) -> Any:
    """The stored runbook of ``incident``, or the 404 of :func:`unknown_incident` raised."""
    lookup = getattr(view, "runbook", None)  # a runner without the runbook sink has none
    record = await call(lookup, incident) if callable(lookup) else None
    if record is None:
        raise await unknown_incident(view, call, incident)
    return record


async def unknown_incident(view: Any, call: Callable[..., Awaitable[Any]], incident: str) -> ApiError:
    """The 404 for an incident with no stored runbook, naming the stored incidents close to it."""
    lookup = getattr(view, "runbooks", None)  # a runner without the runbook sink has none
    records = await call(lookup, None, MAX_LIMIT) if callable(lookup) else []
    hint = unknown_incident_hint(incident, [r.incident for r in records or ()])
    return ApiError(404, "UNKNOWN_INCIDENT", f"no runbook is stored for incident {show(incident)}{hint}")
