"""What a shard's firm parts are handed of the shard's runner: its parts behind narrow ports.

What it owns: :class:`ShardPorts`, the collaborators the firm link (:mod:`.firm`), the directive
applier (:mod:`.apply`) and the facts publisher (:mod:`.publish`) use, each named by the small
interface it offers — the lead (:class:`~killswitch.runner.collaborators.Leads`), the operator turn
(:class:`Turns`), the command path a firm directive's lock and unlock take, the one an operator's
takes (:class:`FirmCommands`: audited first, then applied and saved), the manual close
(:class:`Closes`), the executor's cancels (:class:`Cancels`), the operator's revoke
(:class:`KillRevokes`, a firm-wide kill's), the sinks
(:class:`~killswitch.runner.collaborators.Tells`) and what the firm reads and sets of the book
(:class:`ShardBook`). The bootstrap builds one from a runner's parts
(:func:`killswitch.process.bootstrap.shard_ports`); a test builds one from the parts it needs. What
the runner asks of the firm link in turn, and the slot its parts find the link in, are the runner's
own (:mod:`killswitch.runner.firm_slot`).

Must not: hold state or logic, or hand out the runner itself.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Optional, Protocol

from ..runner.collaborators import Leads, Tells

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..compile.graph import DecisionGraph
    from ..orders import CancelIntent
    from ..runner.lock.lock import LockBook
    from ..runner.venue.execution import ExecutionReport
    from ..snapshot import Snapshot
    from ..view import ActionPreview, ChangeResult, CloseResult


class Turns(Protocol):
    def here(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The operator turn, behind every tick and every change already waiting."""


class FirmCommands(Protocol):
    """The operator's command path (:class:`~killswitch.runner.operator.commands.OperatorCommands`): what a directive's
    lock and unlock go through on this shard."""

    async def lock_scope(self, scope: str, mode: str, reason: str, ttl_s: Optional[float] = None, *,
                         actor: Optional[str] = None, enforce: Optional[dict] = None) -> "ChangeResult": ...

    async def unlock_scope(self, scope: str, reason: str, *, actor: Optional[str] = None) -> "ChangeResult": ...

    async def firm_lock(self, scope: str, hold: str, audited: dict, *, mode: str, reason: str,
                        stage: Optional[int] = None, manual: bool = False, ttl_ms: Optional[int] = None,
                        details: Optional[dict] = None, written: bool = False) -> Optional[str]: ...

    async def firm_lock_audited(self, directive: int, scope: str, since_ms: int) -> bool: ...

    async def firm_unlock(self, scope: str, hold: str, audited: dict) -> Optional[str]: ...


class Closes(Protocol):
    async def close(self, scope: str, reason: str, dry_run: bool, *, actor: Optional[str] = None,
                    preview_id: Optional[str] = None) -> "CloseResult":
        """A manual close of ``scope``: previewed (``dry_run``), or the preview sent."""


class Cancels(Protocol):
    async def cancel(self, cancels: list["CancelIntent"], incident: Optional[str] = None,
                     cause: Optional[str] = None) -> "ExecutionReport":
        """The venues' open orders the intents select, cancelled now; an order the venue still
        lists after it is left open, tied to ``incident`` and ``cause``."""


class KillRevokes(Protocol):
    """The operator's revoke and restore (:class:`~killswitch.runner.operator.revoke_commands.OperatorRevokes`):
    what a firm-wide kill revokes its accounts' bots' keys through, and its release restores."""

    def preview(self, scope: str) -> "ActionPreview": ...

    async def revoke(self, scope: str, reason: str, *, preview_id: Optional[str], approvals: int = 1,
                     actor: Optional[str] = None) -> "ChangeResult": ...

    async def restore(self, scope: str, reason: str, *, approver: str) -> "ChangeResult": ...

    def held(self, scope: str) -> bool:
        """Whether an operator's revoke of exactly ``scope`` is held."""

    def reachable(self, account: str) -> bool:
        """Whether ``account``'s venue has the switch of its bots' keys (its ``revoke:`` block)."""

    def permissions(self) -> Mapping[str, dict]:
        """Each account's permission: ``revoked``, ``owed``, ``shown``."""


class ShardBook(Protocol):
    """What the firm parts read and set of the shard's book."""

    def take_firm_graph(self, graph: "DecisionGraph") -> None:
        """The firm-wide policies the link runs (the sinks find a firm entry's runbook)."""

    @property
    def snapshots(self) -> Mapping[str, "Snapshot"]:
        """The last tick's snapshots, by account key."""

    @property
    def lock_book(self) -> "LockBook":
        """The holds in force (a runner of no shard reads its kill's there: :mod:`.local`)."""


@dataclass(frozen=True)
class ShardPorts:
    """See the module doc. ``accounts``: this shard's accounts (``venue/name``), the ones it
    carries a directive out on."""

    clock: Callable[[], int]
    dry_run: bool
    accounts: tuple[str, ...]
    lead: Leads
    turn: Turns
    commands: FirmCommands
    closes: Closes
    cancels: Cancels
    sinks: Tells
    book: ShardBook
    revokes: Optional[KillRevokes] = None  # the bots' keys a firm-wide kill revokes (None: none)
