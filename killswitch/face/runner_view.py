"""The runner as the face sees it: the :class:`RunnerView` protocol the HTTP API (and the console
it serves) calls, over the values of :mod:`killswitch.view`.

The API depends on this protocol only, so it can be built and tested with a fake, and the
runner's desk (:class:`killswitch.face.desk.desk.Desk`, built from the runner's parts)
implements it. Every method is quick and never blocks on an exchange: status and lock come from
memory; mutations are coroutines that wait for their turn on the tick loop (and for the state
store), never for an order to be sent.

Must not: be imported by the runner (the desk implements it by its shape).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Protocol, Sequence

from ..view import ActionPreview, ChangeResult, CloseResult, OverrideResult, ResetResult, RunnerStatus, SilenceResult

if TYPE_CHECKING:  # annotations only: the gate pulls in the lock book
    from ..runner.gate.request import Decision
    from ..state.store import RunbookRecord


class RunnerView(Protocol):
    """What the API calls, as the runner's desk implements it: what answers from memory is a plain
    method; what waits (for the state store, or for its turn on the tick loop) is a coroutine.
    The API awaits whatever a call returns, so a fake view may answer every call at once. Declared
    here: the calls the API's own handlers and the console make by name; every other operation
    is an entry of the operations' table (:mod:`killswitch.view.operations`), called by its entry's name;
    a call's entry there says what it answers where it is not said here."""

    def status(self) -> RunnerStatus:
        """The runner's status, its dead man's switch summarised (the most urgent sources, the
        counts, where every one is read: ``dms.summary``)."""

    def status_all(self) -> RunnerStatus:
        """The status with every dead man's switch source (``GET /v1/status?dms=all``)."""

    async def firm_shards(self) -> dict: ...

    async def ready(self) -> tuple[bool, str]: ...

    def lock_document(self, scope: Optional[str] = None) -> dict: ...

    def check_order(self, request: dict, counted: bool = True) -> Decision: ...

    async def heartbeats(self, sources: Sequence[str], now_ms: Optional[int] = None) -> Mapping[str, str]:
        """The refused sources of the batch, each with its reason; the others were taken."""

    async def reset(self, policy: str, scope: str, approver: str, reason: str,
                    confirm_relatch: bool = False) -> ResetResult:
        """An approval; one taken while a trigger still fires (the stage would be entered again at
        the next tick) is refused ``RELATCH_UNCONFIRMED`` unless ``confirm_relatch``."""

    async def withdraw_reset(self, policy: str, scope: str, approver: str, reason: str) -> ResetResult:
        """``approver``'s own pending approval taken back (``APPROVAL_WITHDRAWN``, or refused
        ``NO_APPROVAL``); ``done`` is always false: no stage is released."""

    async def close(self, scope: str, reason: str, dry_run: bool, *, actor: Optional[str] = None,
                    symbol: Optional[str] = None, preview_id: Optional[str] = None,
                    max_notional: Optional[float] = None) -> CloseResult:
        """``actor``: who asked (the caller's identity), for the audit row; ``symbol``: only its
        positions; ``preview_id`` and ``max_notional``: the preview a live close applies, and the
        notional it must stay under."""

    async def close_progress(self, close_id: str) -> Optional[dict]: ...

    async def lock_scope(self, scope: str, mode: str, reason: str, ttl_s: Optional[float] = None, *,
                         actor: Optional[str] = None, enforce: Optional[dict] = None,
                         sink_down: Optional[str] = None) -> ChangeResult:
        """An operator's lock on ``scope`` (halted or reducing), until unlocked or its ttl;
        ``enforce``: what it makes hold at the venue (``cancel``, ``revert_growth``; left out:
        by its mode); ``sink_down``: why no audit sink takes rows (``--audit-sink-required``),
        given only then: the lock goes on unless it would loosen the operator's lock in force,
        which is refused ``AUDIT_SINK_DOWN``."""

    async def runbook(self, incident: str) -> Optional[RunbookRecord]: ...

    async def runbooks(self, since_ms: Optional[int] = None, limit: int = 50) -> Sequence[RunbookRecord]: ...

    def metrics_text(self) -> str: ...

    def preview_lock(self, scope: str, mode: str, reason: str, ttl_s: Optional[float] = None) -> ActionPreview: ...

    def preview_reset(self, policy: str, scope: str, approver: str) -> ActionPreview: ...

    async def preview_close(self, scope: str, symbol: Optional[str] = None) -> ActionPreview: ...

    async def silence_add(self, matchers: Sequence[str], duration_s: float, comment: str, *,
                          actor: str) -> SilenceResult:
        """Silence the pages every matcher (``policy=futures-book``) matches for ``duration_s``
        (keywords: ``incident``, made from it; ``every_scope``, confirmed although it names no
        scope: :func:`killswitch.silences.every_scope_problem`)."""

    async def silence_preview(self, matchers: Sequence[str], incident: Optional[str] = None) -> Any:
        """What a silence of ``matchers`` would hold back now, whether it spans every scope, and
        what it matches of the last day's pages (a :class:`killswitch.view.silence_preview.SilencePreview`)."""

    async def silence_change(self, silence_id: str, duration_s: Optional[float], comment: Optional[str], *,
                             actor: str) -> SilenceResult: ...

    async def override_request(self, scope: str, kind: str, reason_code: str, reason: str, expires_s: float, *,
                               actor: str, strategy: Optional[str] = None, limit: Optional[str] = None,
                               raise_to: Optional[float] = None, order: Optional[str] = None) -> OverrideResult: ...

    async def audit_api_refusal(self, payload: dict) -> None:
        """An audit row for a request the API refused for a trusted proxy's headers sent by another."""

    async def audit_signin(self, kind: str, payload: dict) -> None:
        """An audit row for a person signed in to the console or out (``console_signin``, ``console_signout``)."""

    async def audit_write_refusal(self, payload: dict) -> None:
        """An audit row for an operator's write the API refused before any command saw it."""

    async def record_drift(self, verdict: Any) -> ChangeResult:
        """The checker's drift verdict about this runner (a :class:`killswitch.view.policy_sync.DriftVerdict`),
        stored and shown: ``DRIFT_RECORDED: <state>``."""

    async def acknowledge(self, incident: Optional[str], policy: Optional[str], scope: Optional[str],
                          comment: str, *, actor: str) -> ChangeResult: ...
