"""Where a shard's firm link plugs into the runner: the slot its parts find it in, and what they ask of it.

What it owns: :class:`FirmRoutes`, what the runner's parts and its desk ask of the firm link
(:mod:`killswitch.firmlink`, a room above the runner): an operator's firm-wide command made a
directive, ``GET /v1/firm``, the firm-wide kill, the firm-wide policies' intervals and closes;
:class:`FirmSlot`, where the parts built before the link (the desk, the pace, the manual closes)
find it. The link is made above the runner from the runner's parts, handed behind the ports of
:mod:`killswitch.firmlink.ports`; the runner names it only by :class:`FirmRoutes`.

Must not: import the firm link (the ``firmlink-above`` import contract), or decide anything for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Protocol

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..view import ChangeResult, ResetResult


class FirmRoutes(Protocol):
    """What the runner's parts and its desk ask of a shard's firm link
    (:class:`~killswitch.firmlink.firm.FirmLink`)."""

    async def route(self, kind: str, scope: str, payload: dict, actor: Optional[str]) -> Optional["ChangeResult"]: ...

    async def route_reset(self, policy: str, scope: str, approver: str, reason: str,
                          confirm_relatch: bool = False) -> Optional["ResetResult"]: ...

    async def status(self) -> dict: ...

    async def kill_preview(self, board: dict) -> dict: ...

    async def kill(self, reason: str, preview_id: Optional[str], actor: Optional[str], board: dict
                   ) -> "ChangeResult": ...

    async def kill_release(self, approver: str, reason: str) -> "ChangeResult": ...

    async def kill_status(self, board: dict) -> dict: ...

    def intervals(self) -> tuple[float, ...]: ...

    def close_nodes(self) -> tuple[Any, ...]: ...


class FirmSlot:
    """A shard's firm link and its board, for the parts built before them: the link is made
    from the runner's parts once the shard is registered, so the composition root hands those
    parts this slot, made empty up front, and puts the link in once (:meth:`fill`). Empty on a
    runner that is no shard's: no firm-wide interval, no firm close, no firm route."""

    def __init__(self) -> None:
        self.link: Optional[FirmRoutes] = None
        self.board: Any = None  # the shard's BoardLink (firmlink/board.py)

    def fill(self, link: Optional[FirmRoutes], board: Any) -> None:
        self.link, self.board = link, board

    def intervals(self) -> tuple[float, ...]:
        """The firm-wide policies' intervals (a shard ticks at their shortest too)."""
        return self.link.intervals() if self.link is not None else ()

    def close_nodes(self) -> tuple[Any, ...]:
        """The firm-wide policies at account level, which a manual close may name."""
        return self.link.close_nodes() if self.link is not None else ()
