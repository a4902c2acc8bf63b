"""What the runner's parts are handed of each other: small interfaces, never the runner.

What it owns: the protocols a part names its collaborators by — the book's writer
(:class:`Saves`: :class:`~killswitch.runner.tick.persist.Persistence`), the sinks (:class:`Emits`:
:class:`~killswitch.runner.sinks.fanout.SinkFanout`), the names the runner resolves (:class:`Names`:
:class:`~killswitch.runner.venue.catalog_build.Known`) and the fenced audit with the lead it is written under
(:class:`Audits`: :class:`~killswitch.runner.lease.leadership.Leadership`; :class:`Fences` adds the
fence asked before a venue call; :class:`Leads` adds the refusals of a standby and of a deposed
runner; :class:`Tells` the sinks' ``holds``). A part given one of these
can do what it names and nothing else; none of them reaches back into the runner.

Must not: hold state or logic (each is implemented by the part that owns what it does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol, Sequence

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..events import Event
    from .names import Catalog


class Saves(Protocol):
    async def save(self, rows: Sequence[tuple[str, int, dict]] = (), lock_at: Optional[int] = None) -> None:
        """The book saved under the leader's token (awaited; FencedError once deposed), then in
        the same store call ``rows`` audited and, at ``lock_at``, the lock file rewritten from
        the lock book as it is now."""


class Emits(Protocol):
    def emit(self, event: "Event") -> None:
        """An event outside a tick to every sink."""


class Names(Protocol):
    def catalog(self, now: Optional[int] = None) -> "Catalog":
        """The policies, scopes and accounts the runner knows now, to resolve a name against."""


class Audits(Protocol):
    leader: bool  # whether this runner leads now
    fence: int  # the fencing token of its term (0: it never led)

    async def audit(self, kind: str, ts_ms: int, payload: dict) -> int:
        """An audit row, fenced while leader (FencedError once deposed)."""


class Fences(Audits, Protocol):
    holder: str  # this runner's name, as the lease stores it

    def term_holds(self) -> bool:
        """This runner leads and its term has not run out (no I/O: asked at the last moment)."""

    async def fence_holds(self) -> bool:
        """No one took the lease since and the term holds: asked before a venue call."""


class Leads(Audits, Protocol):
    def not_leader(self, what: str) -> Optional[str]:
        """Why an operator's ``what`` is refused here (a standby, a term run out), or None."""

    def deposed(self) -> str:
        """A write was fenced off: this runner steps down; the refusal an operator sees."""


class Tells(Emits, Protocol):
    def holds(self, event: "Event") -> bool:
        """Whether every sink whose effect of ``event`` must survive a crash holds it now."""
