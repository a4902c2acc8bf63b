"""What a silence would hold back now: the answer of ``POST /v1/silences/preview``, which
``ksctl silence add`` prints before it sends and the console shows in its dialog.

What it owns: the value alone (:mod:`killswitch.runner.silence.check` works it out). Must not: import the runner's
parts (the client decodes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional


@dataclass(frozen=True)
class HeldPage:
    """A page in force that the silence would hold back, for one receiver."""

    event: str
    severity: str
    receiver: str
    policy: Optional[str] = None
    scope: Optional[str] = None
    incident: Optional[str] = None
    sent: bool = False  # delivered to the receiver: a silence holds back only its reminders and resolution
    failed: bool = False  # its latest notification to the receiver failed: a silence holds back its retries


@dataclass(frozen=True)
class PastPages:
    """The pages of one event kind of the last day that a silence's matchers match (each page to
    each receiver: a delivery, a final failure, or one another silence held back)."""

    event: str
    pages: int


@dataclass(frozen=True)
class SilencePreview:
    """``ok``: the matchers would be taken (else ``reason`` says why, with close matches);
    ``incidents``: the open incidents whose pages they match; ``pages``: the pages in force they
    would hold back now; ``summary``: "affects 2 open incidents, 0 pages" (and, for one that
    spans every scope, that it does); ``already``: each of those incidents whose pages another
    silence in force holds back already, naming it (id, author, end); ``every_scope``: none of
    its matchers names a scope (:func:`killswitch.silences.spans_every_scope`): made only when
    confirmed; ``past``: the pages of the last day its matchers match, by event kind, as the
    notification receipts of the audit trail record them, and ``past_text`` the same in words
    (or why they could not be read, or told)."""

    ok: bool
    reason: str
    matchers: tuple[str, ...] = ()
    incidents: tuple[str, ...] = ()
    pages: tuple[HeldPage, ...] = ()
    summary: str = ""
    already: tuple[str, ...] = ()
    every_scope: bool = False
    past: tuple[PastPages, ...] = ()
    past_text: str = ""


def summary(incidents: int, pages: int, sent: int = 0, failed: Mapping[str, int] | None = None) -> str:
    """``affects 1 open incident, 0 pages``: the pages not delivered yet that it would hold back;
    those delivered already said apart (``(6 sent already: it holds back only their reminders and
    resolutions)``), and those whose delivery failed, by receiver (``2 failed pages to pager would
    not be retried``): a silence keeps them from a receiver that never got them."""
    notes = [f"{n} failed page{'' if n == 1 else 's'} to {receiver} would not be retried"
             for receiver, n in sorted((failed or {}).items()) if n]
    if sent:
        notes.append(f"{sent} sent already: it holds back only their reminders and resolutions")
    return (f"affects {incidents} open incident{'' if incidents == 1 else 's'}, "
            f"{pages} page{'' if pages == 1 else 's'}" + (f" ({'; '.join(notes)})" if notes else ""))
