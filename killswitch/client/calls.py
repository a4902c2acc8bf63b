"""The typed client's calls: one per endpoint an operator or a bot calls of a runner, each reading
its answer back into the value the API serialised (see the package's doc). A call whose body is
its entry's fields in the operations' table (:mod:`killswitch.view.operations`) is made
from the entry (:meth:`RunnerClient.call`); a call that says more is a method here.

Must not: print or decide exit codes (the commands do).
"""

from __future__ import annotations

import functools
import urllib.parse
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..view import (
    ActionPreview,
    Caller,
    ChangeResult,
    CloseResult,
    DecodeError,
    OverrideResult,
    ResetResult,
    RunnerStatus,
    SilenceResult,
    decode,
)
from ..view.operations import ITEMS, OPERATIONS, PUBLIC, Operation
from ..view.silence_preview import SilencePreview
from .documents import CloseProgress, DmsStatus, LockDocument, items_of
from .errors import error_of, tolerant_body
from .transport import Transport

if TYPE_CHECKING:  # imported by check_order, the one call that answers it: the gate pulls in the lock book
    from ..runner.gate.request import Decision


class RunnerClient(Transport):
    """Calls to the runner at ``base_url`` (``http://host:port``, as given: it names the runner
    in errors). ``token``: the bearer token of the changes and of the reads that show the book
    (None: they are sent without one; the runner refuses the changes, and the reads unless it shows
    them publicly). ``timeout``: seconds per call. ``tls``: the context an ``https`` runner is
    reached with (its CA, a client certificate for mutual TLS; None: the system's CAs).

    Beside its methods, every operation of the table whose path names no variable and whose body
    the table spells out (a read, or a change of fields): ``client.dms_arm("bot-a", 300)``,
    ``client.unlock(scope, reason)`` (the entry's ``client`` name, else its own)."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        op = _CALLS.get(name)
        if op is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return functools.partial(self.call, op)

    def call(self, op: Operation, *args: Any, **fields: Any) -> Any:
        """``op`` sent: its fields given in the entry's order or by name (one None or left out is
        not sent), the token with it unless anyone may call it, and its answer read back into
        what the entry returns (its items, for a list), or as it came. A field missing or not
        the entry's is a TypeError: nothing is sent."""
        names = [a.name for a in op.args]
        if len(args) > len(names):
            raise TypeError(f"{name_of(op)}() takes {len(names)} fields ({', '.join(names)}), not {len(args)}")
        body = {**dict(zip(names, args)), **fields}
        unknown = sorted(set(body) - set(names))
        missing = [a.name for a in op.args if a.required and body.get(a.name) is None]
        if unknown or missing:
            raise TypeError(f"{name_of(op)}(): unknown {unknown}, missing {missing}")
        sent = {k: v for k, v in body.items() if v is not None}
        doc = self._json(op.method, op.path, sent if op.method == "POST" else None, auth=op.roles is not PUBLIC)
        if op.answer == ITEMS:
            return items_of(op.returns, doc, op.path.rsplit("/", 1)[1])
        return doc if op.returns is None else decode(op.returns, doc)

    # read, public (no token): what bots and probes call

    def lock_document(self, scope: Optional[str] = None) -> dict:
        """``GET /v1/lock``: the trading lock as bots read it (the lock file's document, owned by
        :mod:`killswitch.runner.lock.lock`), or what binds ``scope``."""
        query = "" if scope is None else "?" + urllib.parse.urlencode({"scope": scope})
        return _object(self._json("GET", "/v1/lock" + query), "lock document")

    def locks(self, scope: Optional[str] = None) -> LockDocument:
        """:meth:`lock_document`, typed: every lock with its holds and origin, and the resumed
        limits in force."""
        return decode(LockDocument, self.lock_document(scope))

    def dms_status(self) -> DmsStatus:
        """``GET /v1/dms``: armed sources and the venues' native countdowns."""
        return decode(DmsStatus, self._json("GET", "/v1/dms"))

    def check_order(self, request: dict, probe: bool = False) -> "Decision":
        """``POST /v1/check-order``: may this order go now? A deny is a Decision, not an error.
        ``probe``: an operator's question, not an order about to go (its refusal is not counted)."""
        from ..runner.gate.request import Decision

        return decode(Decision, self._json("POST", "/v1/check-order" + ("?probe=true" if probe else ""), request))

    # the reads that show the book, the console's among them (a token with the viewer, operator or
    # approver role, unless the runner shows them publicly: the token is sent when there is one)
    # and the previews of the changes (the change's role)

    def status(self, dms_all: bool = False) -> RunnerStatus:
        """``GET /v1/status``: mode, leadership, graph, stages per scope, data ages, resumptions,
        the dead man's switch (a plain object there: :func:`~.documents.dms_of` types it; summarised to the
        most urgent sources unless ``dms_all``) and residuals."""
        return decode(RunnerStatus, self._json("GET", "/v1/status?dms=all" if dms_all else "/v1/status", auth=True))

    def status_document(self) -> dict:
        """``GET /v1/status`` as the runner wrote it (``ksctl drift`` reads ``policy_sync``, which an
        older runner lacks: a plain object, not :class:`RunnerStatus`)."""
        return _object(self._json("GET", "/v1/status", auth=True), "status")

    def close_progress(self, close_id: str) -> CloseProgress:
        """``GET /v1/close/{id}``; a close the runner does not know is ``UNKNOWN_CLOSE`` (404)."""
        path = "/v1/close/" + urllib.parse.quote(close_id, safe="")
        return decode(CloseProgress, self._json("GET", path, auth=True))

    def runbook(self, incident: str, fmt: str = "md") -> str:
        """``GET /v1/runbooks/{incident}``: the incident's stored runbook, markdown or html."""
        path = "/v1/runbooks/" + urllib.parse.quote(incident, safe="") + "?" + urllib.parse.urlencode({"format": fmt})
        status, raw = self._send("GET", path, auth=True)
        if status != 200:
            raise error_of(status, tolerant_body(raw), self.base_url)
        return raw.decode("utf-8")

    def runbooks(self, since_ms: Optional[int] = None, limit: Optional[int] = None) -> dict:
        """``GET /v1/runbooks``: the latest stored runbooks, oldest first, without their text."""
        query = {k: str(v) for k, v in (("since_ms", since_ms), ("limit", limit)) if v is not None}
        doc = self._json("GET", "/v1/runbooks" + ("?" + urllib.parse.urlencode(query) if query else ""), auth=True)
        if not isinstance(doc, dict) or not isinstance(doc.get("runbooks"), list):
            raise DecodeError("runbooks: expected an object with a list of runbooks")
        return doc

    def whoami(self) -> Caller:
        """``GET /v1/whoami``: the identity and roles of this client's token."""
        return decode(Caller, self._json("GET", "/v1/whoami", auth=True))

    def preview(self, action: str, body: dict) -> ActionPreview:
        """``POST /v1/preview/{action}`` (lock, unlock, reset, close) with the body the change
        takes: what it would answer now. Nothing is changed or audited."""
        if action not in ("lock", "unlock", "reset", "close"):
            raise ValueError(f"no preview of {action!r}: lock, unlock, reset or close")
        return decode(ActionPreview, self._json("POST", "/v1/preview/" + action, body, auth=True))

    # changes (with the token)

    def reset(self, policy: str, scope: str, reason: str, approver: Optional[str] = None, *,
              confirm_relatch: bool = False, withdraw: bool = False) -> ResetResult:
        """``POST /v1/reset``: approve the reset of a latched stage, as the token's identity.
        A refusal the view answers with 200 (``NOT_ENGAGED``, ``DUPLICATE_APPROVER``, an approval
        recorded that is not yet enough, ``RELATCH_UNCONFIRMED``) is a ResetResult with ``done``
        false, not an error. ``confirm_relatch``: take the approval even though a trigger still
        fires and the stage is entered again at the next tick (sent only when true, so that a
        runner older than the field takes the rest). ``withdraw``: take one's own pending approval back."""
        body = {"policy": policy, "scope": scope, "reason": reason,
                **given(withdraw=withdraw or None, approver=approver, confirm_relatch=confirm_relatch or None)}
        return decode(ResetResult, self._json("POST", "/v1/reset", body, auth=True))

    def close(self, scope: str, reason: str, dry_run: bool, *, symbol: Optional[str] = None,
              preview_id: Optional[str] = None, max_notional: Optional[float] = None,
              leg: Optional[str] = None) -> CloseResult:
        """``POST /v1/close``: accepted (202) is a CloseResult; a refusal is a RunnerError. A live
        close carries its preview's id and a maximum notional (``preview_id``, ``max_notional``);
        ``symbol``: only that symbol's positions in ``scope``; ``leg`` (long | short): only that
        hedge leg of the symbol (None: both legs)."""
        body = {"scope": scope, "reason": reason, "dry_run": dry_run,
                **given(symbol=symbol, leg=leg, preview_id=preview_id, max_notional=max_notional)}
        return decode(CloseResult, self._json("POST", "/v1/close", body, auth=True, expect=202))

    def lock(self, scope: str, reason: str, mode: str = "halted", ttl_s: Optional[float] = None, *,
             cancel: Optional[bool] = None, revert_growth: Optional[bool] = None) -> ChangeResult:
        """``POST /v1/lock``: lock trading on ``scope`` (halted or reducing), until unlocked or
        for ``ttl_s`` seconds; ``cancel`` / ``revert_growth``: what it makes hold at the venue
        (None: by its mode). Applied: ``done``; stored for the next leader while no runner
        leads: not done, ``stored`` the request id (``LOCK_STORED``)."""
        body: dict[str, Any] = {"scope": scope, "reason": reason, "mode": mode, "ttl_s": ttl_s}
        enforce = given(cancel=cancel, revert_growth=revert_growth)
        if enforce:
            body["enforce"] = enforce
        # 200 applied; 202 stored for the next leader (LOCK_STORED: ``stored`` names the request)
        return decode(ChangeResult, self._json("POST", "/v1/lock", body, auth=True, expect=(200, 202)))

    def policy_drift(self, verdict: dict) -> ChangeResult:
        """``POST /v1/policy-drift``: a drift checker's verdict about this runner (``DRIFT_RECORDED``)."""
        return decode(ChangeResult, self._json("POST", "/v1/policy-drift", verdict, auth=True))

    def silence_add(self, matchers: list[str], duration_s: float, comment: str,
                    incident: Optional[str] = None, every_scope: bool = False) -> SilenceResult:
        """``POST /v1/silences``: hold back the pages every matcher matches, as the token's
        identity; made from ``incident``, it matches that incident alone and ends with it;
        ``every_scope``: its author confirms it spans every scope (it names none)."""
        body = {"matchers": list(matchers), "duration_s": duration_s, "comment": comment,
                **given(incident=incident, every_scope=every_scope or None)}
        return decode(SilenceResult, self._json("POST", "/v1/silences", body, auth=True))

    def silence_preview(self, matchers: list[str], incident: Optional[str] = None) -> SilencePreview:
        """``POST /v1/silences/preview``: what the silence would hold back now; a refusal is a RunnerError."""
        body = {"matchers": list(matchers), **given(incident=incident)}
        return decode(SilencePreview, self._json("POST", "/v1/silences/preview", body, auth=True))

    def silence_change(self, silence_id: str, duration_s: Optional[float] = None,
                       comment: Optional[str] = None) -> SilenceResult:
        """``POST /v1/silences/change``: extend a silence (it then ends ``duration_s`` from now)
        or edit its comment."""
        body = {"id": silence_id, **given(duration_s=duration_s, comment=comment)}
        return decode(SilenceResult, self._json("POST", "/v1/silences/change", body, auth=True))

    def ack(self, incident: Optional[str] = None, policy: Optional[str] = None, scope: Optional[str] = None,
            comment: str = "") -> ChangeResult:
        """``POST /v1/ack``: the token's identity has the incident (named, or the one ``policy``'s
        ``scope`` is in now)."""
        body = {**({"incident": incident} if incident is not None else {"policy": policy, "scope": scope}),
                **given(comment=comment or None)}
        return decode(ChangeResult, self._json("POST", "/v1/ack", body, auth=True))

    def override(self, action: str, body: dict) -> OverrideResult:
        """``POST /v1/overrides`` (``action`` request: the body as the API reads it) or
        ``/v1/overrides/approve|end`` (``{"id": ...}``), as the token's identity."""
        path = "/v1/overrides" + ("" if action == "request" else f"/{action}")
        return decode(OverrideResult, self._json("POST", path, body, auth=True))

    def heartbeat(self, source: str) -> None:
        """``POST /v1/heartbeat/{source}``: ``source`` is alive (204)."""
        # quoted, so that a name with "/" or "?" is refused as a whole rather than read as another
        self._json("POST", "/v1/heartbeat/" + urllib.parse.quote(source, safe=""), auth=True, expect=204)


def given(**fields: Any) -> dict[str, Any]:
    """The fields of a body that are given (not None): a field left out is the runner's default,
    and a runner older than it takes the rest."""
    return {k: v for k, v in fields.items() if v is not None}


def _object(doc: Any, what: str) -> dict:
    if not isinstance(doc, dict):
        raise DecodeError(f"{what}: expected an object, not {type(doc).__name__}")
    return doc


def name_of(op: Operation) -> str:
    """The client's name of ``op``."""
    return op.client or op.name


# the calls made from their entries: a path with no variable, and a body the entry spells out
_CALLS = {name_of(op): op for op in OPERATIONS if "{" not in op.path and (op.args or op.method == "GET")}
