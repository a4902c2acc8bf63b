"""The rows about requests the runner's API answered rather than changes to the book: a request
refused for headers only a trusted proxy may send (``api_proxy_header_refused``), an operator's
write refused before any command saw it (``api_write_refused``), a person signed in to the
console or out (``console_signin``, ``console_signout``). The API bounds how many it asks for
(face/api/proxy/ledger.py, face/api/refused_writes.py).

What it owns: writing them through the leadership, the chain's one writer: fenced while this
runner leads (a runner deposed meanwhile writes it as the standby it now is), else marked
``standby``. Must not: write to the store itself.
"""

from __future__ import annotations

from typing import Callable

from ...runner.lease.leadership import Leadership


class RequestAudits:
    """The desk's audits of its API's requests (see the module doc)."""

    lead: Leadership
    clock: Callable[[], int]

    async def audit_api_refusal(self, payload: dict, kind: str = "api_proxy_header_refused") -> None:
        """A request the API refused for headers only a trusted proxy may send, or the refusal
        ``kind`` names (see the module doc)."""
        await self._audit_here(kind, payload)

    async def audit_write_refusal(self, payload: dict) -> None:
        """An operator's write the API refused before any command saw it (``api_write_refused``)."""
        await self.audit_api_refusal(payload, "api_write_refused")

    async def audit_signin(self, kind: str, payload: dict) -> None:
        """A person signed in to the console or out (face/api/signin/flow.py)."""
        if kind not in ("console_signin", "console_signout"):
            raise ValueError(f"not a sign-in's audit kind: {kind}")
        await self._audit_here(kind, payload)

    async def _audit_here(self, kind: str, payload: dict) -> None:
        if self.lead.leader:
            await self.lead.audit_or_standby(kind, self.clock(), payload)
        else:
            await self.lead.audit_as_standby(kind, self.clock(), payload)
