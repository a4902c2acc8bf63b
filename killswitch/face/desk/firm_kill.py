"""The desk's firm-wide kill: its preview, the kill, its release and its progress, as the API
calls them (``/v1/preview/firm-kill``, ``/v1/firm/kill``; :mod:`killswitch.firmlink.kill` does
them).

What it owns: handing them, on a runner that is no shard's, to its own kill
(:class:`~killswitch.firmlink.local.LocalKill`: the same kill on this runner's accounts; its progress stays
``FIRM_NOT_SHARDED``, read in ``ksctl status``), and saying,
when the firm's tables in PostgreSQL do not answer in time (a paused or unreachable database),
that the store did not answer — ``STATE_UNREACHABLE`` within a client's time-out, never left to
the client as a runner that cannot be reached — with what was and may have been written.

Must not: decide anything about the kill (the firm link does) or write the store itself.
"""

from __future__ import annotations

from typing import Any, Optional

from ...firmlink.kill import LOCAL_HALT, FirmTablesSilent, firm_wait
from ...firmlink.local import LocalKill
from ...runner.firm_slot import FirmRoutes, FirmSlot
from ...view import ChangeResult


class FirmKillDesk:
    """The desk's firm-wide kill (see the module doc)."""

    _firm: FirmSlot
    _local_kill: LocalKill  # the kill on a runner of no shard

    @property
    def firm(self) -> Optional[FirmRoutes]:
        """The shard's firm link (None: the runner is no shard's)."""
        return self._firm.link

    async def _board(self) -> dict:
        """Every shard as the firm's tables say now (its own connection; an error document when
        they cannot be read), or none on a runner that is no shard's board."""
        board = self._firm.board
        return await board.read() if board is not None else {"shards": []}

    async def _heard_board(self) -> dict:
        """:meth:`_board`, raising :class:`FirmTablesSilent` past the firm's wait."""
        return await firm_wait(self._board())

    async def firm_kill_preview(self) -> dict:
        """What a firm-wide kill would do now (``POST /v1/preview/firm-kill``)."""
        firm = self.firm
        if firm is None:
            return self._local_kill.preview()
        try:
            return await firm.kill_preview(await self._heard_board())
        except FirmTablesSilent as e:
            return {"allowed": False, "reason": f"{e}; nothing was sent; {LOCAL_HALT}"}

    async def firm_kill(self, reason: str, *, preview_id: Optional[str], actor: Optional[str] = None) -> ChangeResult:
        """The firm-wide kill, as previewed (``POST /v1/firm/kill``)."""
        firm = self.firm
        if firm is None:
            return await self._local_kill.kill(reason, preview_id, actor)
        try:
            board = await self._heard_board()
        except FirmTablesSilent as e:
            return ChangeResult(False, f"{e}; nothing was sent; {LOCAL_HALT}")
        return await firm.kill(reason, preview_id, actor, board)

    async def firm_kill_release(self, reason: str, *, approver: str) -> ChangeResult:
        """One approval of the kill's release (``POST /v1/firm/kill/release``)."""
        firm = self.firm
        if firm is None:
            return await self._local_kill.release(approver, reason)
        return await firm.kill_release(approver, reason)

    async def firm_kill_status(self) -> dict:
        """The newest kill's progress per shard and account (``GET /v1/firm/kill``)."""
        firm = self.firm
        if firm is None:
            return {"error": "FIRM_NOT_SHARDED"}
        try:
            return await firm_wait(self._progress(firm))
        except FirmTablesSilent as e:
            return {"error": "STATE_UNREACHABLE", "reason": str(e)}

    async def _progress(self, firm: FirmRoutes) -> Any:
        return await firm.kill_status(await self._board())

