"""What the console's tab says of the book, and the stage entries a browser notification tells of.

What it owns: from the page model's rows (:func:`~.model.page_model`), the tab's state — ``halted``
(a halt lock is in force: the most restrictive lock of the lock document), ``stage`` (a scope is
at a stage above 0), else ``ok`` — with the highest level engaged and the words the title leads
with (``HALTED · STAGE 1``, ``STAGE 2``); and one line per open stage entry, each named by its
incident id (the decision id, new at every entry), which the page's script (``notify.js``)
compares with the ids it has already seen, so that a notification is one per entry, never one
per refresh.

Pure: no I/O, no clock, no HTML. Must not: judge the runner's own health (the page model's
``health`` does: a stalled or unreachable runner wins the tab over what its last view said), or
say anything the rows did not.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence


def tab_alert(scopes: Sequence[dict], summary: Optional[dict], incidents: Sequence[dict]) -> dict:
    """``state`` (halted | stage | ok), ``level``, ``title`` and the open stage ``entries``."""
    level = max((s["level"] for s in scopes if not s["unmatched"]), default=0)
    halted = summary is not None and summary.get("mode") == "halted"
    stage = f"STAGE {level}" if level else ""
    title = "HALTED" + (f" · {stage}" if stage else "") if halted else stage
    return {"state": "halted" if halted else "stage" if level else "ok", "level": level, "title": title,
            "entries": [_entry(i) for i in incidents]}


def _entry(i: dict) -> dict[str, Any]:
    stage = f"stage {i['level']}" + (f" {i['stage']}" if i.get("stage") else "")
    return {"id": i["id"], "title": f"{i['policy']}: {stage}",
            "body": f"{i['policy']} entered {stage} on {i['scope']}"
                    + (f" at {i['since']['clock']} UTC" if i.get("since") else "") + f" ({i['id']})."}
