"""What a silence's matchers would have matched in the last day: the notification receipts of the
audit trail read again — a page delivered (``notification_delivered``), one whose delivery failed
for good (a final ``notification_failed``), one a silence held back (``notification_silenced``) —
each page's alerts matched, with the receiver it went to, and counted once per page and event
kind ("in the last day its matchers match 14 pages: 9 lock_violation, 3 limit_violation, ...").

A receipt carries the labels of the alerts it told (``labels``, :mod:`killswitch.notify.receipts`).
One written before it did carries its event kinds, severity and receiver alone: it is told by
those when the matchers name nothing else, and counted apart as not told otherwise. A page to a
fallback receiver is the failed page it stands for, counted once (its failure).

What it owns: :func:`past_pages` (pure, over the rows), :func:`past_text`, and :func:`read_past`
(the last day's receipts, read through the runner's store calls a page at a time, bounded).

Must not: write anything, or read more of the store than the receipts of the last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence

from ...policy.matchers import LabelMatcher
from ...state.store import AuditRow, StoreError
from ...view.silence_preview import PastPages
from ..storeio import audit_pages

DAY_MS = 86_400_000
RECEIPTS = ("notification_delivered", "notification_failed", "notification_silenced")
PAGE_ROWS = 5_000  # rows read per store call
MAX_ROWS = 50_000  # read at most: a day with more is said to be cut ("at least")
BARE = frozenset({"event", "severity", "receiver"})  # what a receipt without labels tells of its page


@dataclass(frozen=True)
class Past:
    """What the last day's receipts say of a silence's matchers: ``pages`` per event kind,
    ``read``: the pages read, ``untold``: those whose receipt does not tell (no labels), ``cut``:
    more were recorded than :data:`MAX_ROWS`; ``error``: why none could be read."""

    pages: Mapping[str, int]
    read: int = 0
    untold: int = 0
    cut: bool = False
    error: str = ""

    @property
    def shown(self) -> tuple[PastPages, ...]:
        return tuple(PastPages(k, n) for k, n in sorted(self.pages.items(), key=lambda kv: (-kv[1], kv[0])))


def _told(payload: Mapping[str, Any], bare: bool) -> list[dict[str, str]] | None:
    """The label sets of a receipt's page (with its ``receiver``); None when it does not tell."""
    receiver = str(payload.get("receiver") or "")
    labels = payload.get("labels")
    if isinstance(labels, list):
        return [{**{str(k): str(v) for k, v in lab.items()}, "receiver": receiver}
                for lab in labels if isinstance(lab, dict)]
    if not bare:
        return None
    kinds = payload.get("event_kinds") or ()
    return [{"event": str(k), "severity": str(payload.get("severity") or ""), "receiver": receiver}
            for k in (kinds if isinstance(kinds, list) else ())]


def past_pages(matchers: Sequence[LabelMatcher], rows: Iterable[AuditRow]) -> Past:
    """The pages of ``rows`` (receipts) whose alerts ``matchers`` match, per event kind."""
    bare = all(m.name in BARE for m in matchers)
    held: dict[str, int] = {}
    read = untold = 0
    for row in rows:
        p = row.payload
        if row.kind not in RECEIPTS or p.get("fallback_for") or (row.kind == "notification_failed"
                                                                  and not p.get("final")):
            continue
        read += 1
        told = _told(p, bare)
        if told is None:
            untold += 1
            continue
        for kind in {t.get("event", "?") for t in told if all(m.matches(t) for m in matchers)}:
            held[kind] = held.get(kind, 0) + 1
    return Past(held, read, untold)


def past_text(past: Past) -> str:
    """The last day in words: what the matchers match, of how many pages recorded."""
    if past.error:
        return f"what it matches of the last day's pages is not known: the audit trail was not read ({past.error})"
    total = sum(past.pages.values())
    kinds = ", ".join(f"{p.pages} {p.event}" for p in past.shown)
    head = (f"in the last day its matchers match {'at least ' if past.cut else ''}{total} "
            f"page{'' if total == 1 else 's'}" + (f": {kinds}" if kinds else ""))
    untold = (f"; {past.untold} recorded before receipts carried their pages' labels cannot be told"
              if past.untold else "")
    return f"{head} (of {past.read} recorded in the audit trail's notification receipts{untold})"


async def read_past(io: Callable[..., Awaitable[Any]], store: Any, matchers: Sequence[LabelMatcher],
                    now_ms: int) -> Past:
    """The last day's receipts, read a page at a time (at most :data:`MAX_ROWS`), matched."""
    rows: list[AuditRow] = []
    try:
        async for page in audit_pages(io, store.audit_rows, now_ms - DAY_MS, RECEIPTS, PAGE_ROWS):
            rows += page
            if len(rows) >= MAX_ROWS:
                break
    except StoreError as e:
        return Past({}, error=str(e))
    past = past_pages(matchers, rows)
    return Past(past.pages, past.read, past.untold, cut=len(rows) >= MAX_ROWS)
