"""The firm's calls of the typed API client: what a shard's runner answers of every shard, and
the firm-wide kill. A base of :class:`killswitch.client.RunnerClient`, which keeps the runner's
own calls.

Must not: import the runner's own calls (:mod:`.calls` imports this).
"""

from __future__ import annotations

from ..runner.view import ChangeResult
from ..runner.view_decode import decode
from .transport import Transport


class FirmCalls(Transport):
    """See the module doc."""

    def firm(self) -> dict:
        """``GET /v1/firm``: a shard runner's view of the firm (shards, leaders, standbys, facts'
        lag, the firm lease holder, the firm-wide policies' stages and blind accounts)."""
        return self._json("GET", "/v1/firm", auth=True)

    def firm_shards(self) -> dict:
        """``GET /v1/firm/shards``: every shard as the firm's tables say (heard or not and why, its
        leader, open incidents, lock, console URL) and the firm-wide breaker."""
        return self._json("GET", "/v1/firm/shards", auth=True)

    def firm_kill_status(self) -> dict:
        """``GET /v1/firm/kill``: the newest firm-wide kill's progress per shard and account."""
        return self._json("GET", "/v1/firm/kill", auth=True)

    def firm_kill_preview(self) -> dict:
        """``POST /v1/preview/firm-kill``: what each shard will lock, cancel and revoke, the
        shards not heard, and the ``preview_id`` the kill carries."""
        return self._json("POST", "/v1/preview/firm-kill", {}, auth=True)

    def firm_kill(self, reason: str, preview_id: str) -> ChangeResult:
        """``POST /v1/firm/kill``: the firm-wide kill, as previewed."""
        return decode(ChangeResult, self._json("POST", "/v1/firm/kill", {"reason": reason, "preview_id": preview_id},
                                               auth=True))

    def firm_kill_release(self, reason: str) -> ChangeResult:
        """``POST /v1/firm/kill/release``: the caller's approval of the release of the kill in force."""
        return decode(ChangeResult, self._json("POST", "/v1/firm/kill/release", {"reason": reason}, auth=True))
