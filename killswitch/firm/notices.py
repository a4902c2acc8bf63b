"""The firm's notifications: what a payload on ``NOTIFY killswitch_firm`` says.

What it owns: the two payloads the firm's channel carries and how a listener reads them —

* ``<id>`` — a directive was written (its id): every shard applies the directives new to it;
* ``shard-stopped:<name>`` — a runner of shard ``<name>`` stopped and gave its lease up (sent
  after the release is committed); ``shard-stopped:<name>:firm`` when it held the firm lease
  too and gave that up. The firm lease holder evaluates at once (debounced like a stream's
  wake), so the shard's accounts are not seen at the very next evaluation rather than at the
  holder's next interval; when the firm lease was given up too, every shard leader wakes to take
  it. A leader that dies without stopping sends nothing: its shard is seen when its lease
  lapses or its facts age past the limit (:mod:`.facts`).

A shard name is lower-case letters, digits and dashes, so the colon never belongs to it.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

SHARD_STOPPED = "shard-stopped"
FIRM_TOO = "firm"
DIRECTIVE, STOPPED, UNKNOWN = "directive", "shard_stopped", "unknown"


@dataclass(frozen=True)
class Notice:
    """One payload read: ``kind`` is ``directive`` (``directive_id``), ``shard_stopped``
    (``shard``, ``firm_released``) or ``unknown`` (a payload no version of the runner writes)."""

    kind: str
    directive_id: Optional[int] = None
    shard: Optional[str] = None
    firm_released: bool = False


def shard_stopped(shard: str, firm_released: bool = False) -> str:
    """The payload a runner of ``shard`` sends once it has given its lease up."""
    return f"{SHARD_STOPPED}:{shard}" + (f":{FIRM_TOO}" if firm_released else "")


def read_notice(payload: str) -> Notice:
    """What ``payload`` says (see the module doc)."""
    text = payload.strip()
    if text.isdigit():
        return Notice(DIRECTIVE, directive_id=int(text))
    head, _, rest = text.partition(":")
    if head != SHARD_STOPPED or not rest:
        return Notice(UNKNOWN)
    shard, _, tail = rest.partition(":")
    if not shard or tail not in ("", FIRM_TOO) or not all(c.islower() or c.isdigit() or c == "-" for c in shard):
        return Notice(UNKNOWN)
    return Notice(STOPPED, shard=shard, firm_released=tail == FIRM_TOO)
