"""The book as the parts that only read it see it: :class:`BookView`.

What it owns: the read-only face of :class:`~killswitch.runner.book.book.Book` — its fields as
properties, and a policy's node — which the parts that read the book and never change it are
handed (the readout, the previews, the positions, the charts, the names, the manual closes, the
operator's revokes, the sinks' context, the pre-trade limits' watch, the firm board) instead of
the book itself. mypy refuses an assignment to a field through it and a call of the book's
writers (:meth:`~killswitch.runner.book.book.Book.evaluate`, ``lock_source``, ``save``, ...), so a
reader cannot become a second writer of the lock book, the stages or the saved state; the book
stays their one writer, through the parts that hold it (the tick, the commands, the dead man's
switch, the shortfalls, the revokes, the silences, the persistence, the leadership, the entries).

The fields themselves are replaced by the book, never edited in place by a reader (see
:mod:`.book`); the mappings are typed read-only here to say so.

Must not: hold state or logic, or import what it names at run time (annotations only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Optional, Protocol

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ...compile.graph import DecisionGraph, PolicyNode
    from ...engine.evaluate import Evaluation
    from ...engine.state import State
    from ...silences import Acknowledgement, Silence
    from ...snapshot import Snapshot
    from ..lock.lock import LockBook
    from .dms_state import DeadMansSwitch
    from .rejections import CloseRejections
    from .residuals import ResidualBook
    from .revoke_state import RevokeBook
    from .still_open import StillOpenBook


class BookView(Protocol):
    """What the runner knows now, to read (see the module doc; each field as :class:`~.book.Book`
    says it)."""

    @property
    def graph(self) -> "DecisionGraph": ...

    @property
    def firm_graph(self) -> Optional["DecisionGraph"]: ...

    @property
    def state(self) -> "State": ...

    @property
    def lock_book(self) -> "LockBook": ...

    @property
    def dms(self) -> "DeadMansSwitch": ...

    @property
    def resume_starts(self) -> Mapping[str, int]: ...

    @property
    def residuals(self) -> "ResidualBook": ...

    @property
    def rejections(self) -> "CloseRejections": ...

    @property
    def still_open(self) -> "StillOpenBook": ...

    @property
    def snapshots(self) -> Mapping[str, "Snapshot"]: ...

    @property
    def evaluation(self) -> Optional["Evaluation"]: ...

    @property
    def silences(self) -> tuple["Silence", ...]: ...

    @property
    def acks(self) -> Mapping[str, tuple["Acknowledgement", ...]]: ...

    @property
    def revokes(self) -> "RevokeBook": ...

    def node(self, policy: str) -> Optional["PolicyNode"]: ...
