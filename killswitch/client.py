"""A typed client of a running runner's HTTP API (:mod:`killswitch.runner.api.api`).

What it owns: one method per endpoint an operator or a bot calls, the request each sends (the
bearer token, when it has one, on the endpoints that may need one: the changes, and the reads that
show the book — status, runbooks, a close's progress, the console's reads — which a runner without
``--console-public`` keeps to the viewer, operator and approver roles; never on the lock, the dead
man's switch or check-order, which are public), and reading each answer back into the value
the API serialised: the dataclasses of :mod:`killswitch.runner.view` (and the gate's
:class:`~killswitch.runner.gate.request.Decision`), and the typed form of the documents the API serves
as plain objects (the trading lock, the dead man's switch, a close's progress). Any answer but the endpoint's
success status is one exception, :class:`RunnerError`, carrying the API's reason code
(``UNKNOWN_SCOPE``, ``NOT_LEADER``, ``ROLE_REQUIRED``, ...); a runner that cannot be reached is
a :class:`RunnerUnreachable` that names the URL.

What it must not do: import aiohttp, click or anything the runner needs to run (stdlib urllib
only); print or decide exit codes (the commands do); retry a change (sending one twice is an
operator's decision); put the token anywhere but the Authorization header — not in a message,
an exception, a repr or a log.
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from .firm_calls import FirmCalls
from .holds import (
    DEAD_MANS_SWITCH as DEAD_MANS_SWITCH,
    OPERATOR as OPERATOR,
    ORIGIN_DMS as ORIGIN_DMS,
    ORIGIN_OPERATOR as ORIGIN_OPERATOR,
    ORIGIN_POLICY as ORIGIN_POLICY,
    LockHold as LockHold,
)
from .runner.silence.view import SilencePreview
from .runner.view import (
    ActionPreview,
    Caller,
    ChangeResult,
    CloseResult,
    DecodeError,
    IncidentStatus,
    OverrideResult,
    OverrideStatus,
    PositionsStatus,
    ResetResult,
    RunnerStatus,
    SilenceResult,
    SilenceStatus,
    TriggerStatus,
    decode,
)

if TYPE_CHECKING:  # imported by check_order, the one call that answers it: the gate pulls in the lock book
    from .runner.gate.request import Decision

DEFAULT_TIMEOUT_S = 10.0
_SHOWN_BODY = 200  # characters of a body that is not JSON kept for the error


# --- the documents the API serves as plain objects, typed -----------------------------------------------
# Their fields are in the order the runner writes them, so that one written back out is the
# runner's document as it came.


@dataclass(frozen=True)
class DmsSource:
    """A heartbeat source of the dead man's switch (``GET /v1/dms`` ``sources``)."""

    armed: bool
    last_beat_age_s: Optional[float]  # None: never heard from
    fires_in_s: Optional[float]  # None when not armed or already fired
    fired: bool
    timeout_s: Optional[float] = None
    locked: bool = False  # its firing halted trading for the scope named like it


@dataclass(frozen=True)
class VenueCountdown:
    """A venue's own cancel-all-after countdown the runner keeps refreshed (``native``)."""

    countdown_s: float
    last_refresh_age_s: Optional[float]
    cancels_in_s: Optional[float]  # when the venue cancels everything without a refresh
    refresh_due: bool = False
    lapsed: bool = False
    supported: bool = True
    error: Optional[str] = None  # why the last refresh failed


@dataclass(frozen=True)
class RefusedSource:
    """A heartbeat source the runner refused lately (``refused``): why, how many beats, when."""

    reason: str  # UNKNOWN_SOURCE: ... (with the names it resembles) or SOURCES_FULL: ...
    count: int
    last_refused_age_s: float


@dataclass(frozen=True)
class DmsSummary:
    """How many sources a summarised switch (the status's, ``dms.summary``) holds of each kind,
    how many it lists, the soonest to fire and where every one is read."""

    sources: int = 0  # held: a heartbeat heard or an arming
    armed: int = 0
    fired: int = 0
    locked: int = 0  # scopes a firing halted, still halted
    watched: int = 0  # named by a policy, the Accounts document or the switch
    never_heard: int = 0  # watched and never heard from
    shown: int = 0  # of ``sources``, listed (the most urgent)
    never_heard_shown: int = 0  # of ``never_heard``, listed in ``watched``
    soonest: Optional[str] = None  # the armed source that fires first
    soonest_fires_in_s: Optional[float] = None
    all: str = "/v1/status?dms=all"  # where every one is listed

    @property
    def partial(self) -> bool:
        """Whether sources or watched sources were left out of the lists."""
        return self.shown < self.sources or self.never_heard_shown < self.never_heard


@dataclass(frozen=True)
class DmsStatus:
    """``GET /v1/dms``, and the ``dms`` of :class:`~killswitch.runner.view.RunnerStatus`: there,
    summarised (``summary``: the most urgent sources only, and the watched ones never heard),
    unless read with ``dms=all``."""

    format_version: int = 1
    listening_since_ts: Optional[str] = None
    sources: dict[str, DmsSource] = field(default_factory=dict)
    native: dict[str, VenueCountdown] = field(default_factory=dict)
    refused: dict[str, RefusedSource] = field(default_factory=dict)  # the latest refused, oldest first
    # every source the runner takes a beat from, with what names it (heard from or not yet); in a
    # summary, only those never heard from
    watched: dict[str, tuple[str, ...]] = field(default_factory=dict)
    summary: Optional[DmsSummary] = None  # None: every source is listed


def dms_of(status: RunnerStatus) -> DmsStatus:
    """The dead man's switch a status carries (a plain object in RunnerStatus), typed."""
    return decode(DmsStatus, status.dms or {})


CLOSE_FINAL_STATES = ("settled", "dry_run", "unplanned", "expired", "refused")


@dataclass(frozen=True)
class CloseProgress:
    """``GET /v1/close/{id}``: where a queued close stands. ``state``: queued (before its tick),
    working, settled (every order has a final result), dry_run (planned and audited, not sent),
    unplanned (its scope was not in the tick's snapshots: nothing was sent), expired (asked for
    before its runner stopped, never planned, too old to carry out: nothing was sent), refused
    (its plan at the tick differed materially from its preview: nothing was sent; ``reason``)."""

    id: str
    scope: str
    requested_ts: Optional[str]
    mode: str  # dry-run | live
    orders: int
    settled: int
    filled: int
    open: int
    unfilled: int
    statuses: dict[str, int]
    state: str
    symbol: Optional[str] = None  # the one symbol the close is limited to
    reason: Optional[str] = None  # why it was refused at its tick
    by: Optional[str] = None  # who asked for it (the caller's identity); None from an older runner
    # what the venue said of the orders it refused ("-1106 Parameter 'reduceOnly' sent when not required.")
    venue_said: tuple[str, ...] = ()

    @property
    def final(self) -> bool:
        return self.state in CLOSE_FINAL_STATES


@dataclass(frozen=True)
class ScopeLock:
    """The lock in force on one scope (its holds merged: the most restrictive wins), and its holds."""

    locked: bool
    mode: str
    scope: Optional[str]
    stage: Optional[int]
    policy: Optional[str]
    reason: str
    created_ts: Optional[str]
    expires_ts: Optional[str]
    manual: bool
    details: dict = field(default_factory=dict)
    holds: tuple[LockHold, ...] = ()


@dataclass(frozen=True)
class ResumeLimits:
    """A resumption in force on a scope (``GET /v1/lock`` ``resuming.<scope>``): the gate holds
    its orders at ``fraction`` of the normal limits until ``steps_up_ts``."""

    policy: str
    since_ts: str
    day: int
    days: int
    fraction: float
    max_positions: Optional[int]
    max_gross_exposure: Optional[float]
    steps_up_ts: Optional[str]


@dataclass(frozen=True)
class LimitUsage:
    """One pre-trade limit of one scope instance and its usage (``GET /v1/lock`` ``limits[].usage``;
    ``usage`` None: an account of the scope not read). Of a position or gross limit,
    ``positions`` and ``resting``: what the positions hold and what the resting orders that open
    further add (None from a runner that does not say)."""

    scope: str
    limit: str
    value: float
    usage: Optional[float]
    unit: str
    symbol: Optional[str] = None
    positions: Optional[float] = None
    resting: Optional[float] = None


@dataclass(frozen=True)
class PolicyLimits:
    """A policy's pre-trade limits in force (``limits``: as compiled) and each one's usage by scope."""

    policy: str
    limits: dict = field(default_factory=dict)
    usage: tuple[LimitUsage, ...] = ()


@dataclass(frozen=True)
class LockDocument:
    """``GET /v1/lock``: the summary (the most restrictive lock of all scopes), every locked scope
    with its holds, the resumed limits in force by scope (:mod:`killswitch.runner.lock.lock`) and the
    policies' pre-trade limits with their usage (:mod:`killswitch.runner.gate.limits_state`)."""

    format_version: int
    locked: bool
    mode: str
    scope: Optional[str]
    stage: Optional[int]
    policy: Optional[str]
    reason: str
    created_ts: Optional[str]
    expires_ts: Optional[str]
    manual: bool
    details: dict = field(default_factory=dict)
    written_ts: Optional[str] = None
    scopes: dict[str, ScopeLock] = field(default_factory=dict)
    # every scope locked (``scope`` is null when they are several: none is picked)
    locked_scopes: tuple[str, ...] = ()
    resuming: dict[str, ResumeLimits] = field(default_factory=dict)
    limits: tuple[PolicyLimits, ...] = ()  # the policies' pre-trade limits, when a policy sets some


def _items(cls: Any, doc: Any, key: str) -> tuple[Any, ...]:
    """``doc[key]``, an array of ``cls`` (``{"silences": [...]}``), each decoded."""
    if not isinstance(doc, dict):
        raise DecodeError(f"expected an object with {key!r}, not {type(doc).__name__}")
    return decode(tuple[cls, ...], doc.get(key))


# --- errors -------------------------------------------------------------------------------------------


class RunnerError(Exception):
    """The runner answered, but not with what the endpoint answers when it is done.

    ``status`` the HTTP status; ``code`` the API's reason code (its ``error`` field, or the code
    that opens its ``reason``: ``UNKNOWN_SCOPE``, ``NOT_LEADER``, ``MANUAL_RESET_REQUIRED``...;
    ``HTTP_<status>`` for a body that says none); ``reason`` the runner's words; ``body`` the
    answer as it came (parsed JSON; ``{"reason": <its first 200 characters>}`` for a body that is
    not JSON; None for none), for those who show it as it came."""

    def __init__(self, status: Optional[int], code: str, reason: str, *, url: str, body: Any = None):
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason
        self.url = url
        self.body = body

    def __str__(self) -> str:
        return f"{self.status} {self.reason}"


class RunnerUnreachable(RunnerError):
    """No answer: refused, timed out, a name that does not resolve. ``detail`` says which."""

    def __init__(self, url: str, detail: Any):
        self.detail = detail
        super().__init__(None, "UNREACHABLE", f"cannot reach the runner at {url}: {detail}", url=url)

    def __str__(self) -> str:
        return self.reason


# a reason code: one word of capitals, alone or before a colon ("NOT_LEADER: this runner ...")
_REASON_CODE = re.compile(r"([A-Z][A-Z0-9_]*)(?::|$)")


def _code_of(status: int, body: Any) -> str:
    if isinstance(body, dict):
        if isinstance(body.get("error"), str):
            return body["error"]
        reason = body.get("reason")
        m = _REASON_CODE.match(reason) if isinstance(reason, str) else None
        if m:
            return m.group(1)
    return f"HTTP_{status}"


def _reason_of(body: Any, code: str) -> str:
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else code


# --- the client ---------------------------------------------------------------------------------------


class RunnerClient(FirmCalls):
    """Calls to the runner at ``base_url`` (``http://host:port``, as given: it names the runner
    in errors). ``token``: the bearer token of the changes and of the reads that show the book
    (None: they are sent without one; the runner refuses the changes, and the reads unless it shows
    them publicly). ``timeout``: seconds per call. ``tls``: the context an ``https`` runner is
    reached with (its CA, a client certificate for mutual TLS; None: the system's CAs)."""

    def __init__(self, base_url: str, token: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_S,
                 tls: Optional[ssl.SSLContext] = None):
        self.base_url = base_url
        self._token = token
        self.timeout = timeout
        self.tls = tls

    def __repr__(self) -> str:  # never the token
        return f"RunnerClient({self.base_url!r}, token={'<set>' if self._token else None}, timeout={self.timeout!r})"

    # transport

    def _send(self, method: str, path: str, body: Any = None, *, auth: bool = False) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url.rstrip("/") + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth and self._token:
            req.add_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self.tls) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = {"reason": raw.decode(errors="replace")[:_SHOWN_BODY]}
            code = _code_of(e.code, doc)
            raise RunnerError(e.code, code, _reason_of(doc, code), url=self.base_url, body=doc) from None
        except (urllib.error.URLError, OSError) as e:
            raise RunnerUnreachable(self.base_url, getattr(e, "reason", e)) from None

    def _json(self, method: str, path: str, body: Any = None, *, auth: bool = False, expect: int = 200) -> Any:
        """The JSON answer of ``path`` when its status is ``expect``; else a RunnerError. A body
        that is not JSON in a success raises ValueError: that is no runner answering."""
        status, raw = self._send(method, path, body, auth=auth)
        doc = json.loads(raw) if raw else None
        if status != expect:
            code = _code_of(status, doc)
            raise RunnerError(status, code, _reason_of(doc, code), url=self.base_url, body=doc)
        return doc

    # read, public (no token): what bots and probes call


    def lock_document(self, scope: Optional[str] = None) -> dict:
        """``GET /v1/lock``: the trading lock as bots read it (the lock file's document, owned by
        :mod:`killswitch.runner.lock.lock`), or what binds ``scope``."""
        query = "" if scope is None else "?" + urllib.parse.urlencode({"scope": scope})
        doc = self._json("GET", "/v1/lock" + query)
        if not isinstance(doc, dict):
            raise DecodeError(f"lock document: expected an object, not {type(doc).__name__}")
        return doc

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
        from .runner.gate.request import Decision

        return decode(Decision, self._json("POST", "/v1/check-order" + ("?probe=true" if probe else ""), request))

    # the reads that show the book, the console's among them (a token with the viewer, operator or
    # approver role, unless the runner shows them publicly: the token is sent when there is one)
    # and the previews of the changes (the change's role)

    def status(self, dms_all: bool = False) -> RunnerStatus:
        """``GET /v1/status``: mode, leadership, graph, stages per scope, data ages, resumptions,
        the dead man's switch (a plain object there: :func:`dms_of` types it; summarised to the
        most urgent sources unless ``dms_all``) and residuals."""
        return decode(RunnerStatus, self._json("GET", "/v1/status?dms=all" if dms_all else "/v1/status", auth=True))

    def status_document(self) -> dict:
        """``GET /v1/status`` as the runner wrote it (``ksctl drift`` reads ``policy_sync``, which an
        older runner lacks: a plain object, not :class:`RunnerStatus`)."""
        doc = self._json("GET", "/v1/status", auth=True)
        if not isinstance(doc, dict):
            raise DecodeError(f"status: expected an object, not {type(doc).__name__}")
        return doc

    def close_progress(self, close_id: str) -> CloseProgress:
        """``GET /v1/close/{id}``; a close the runner does not know is ``UNKNOWN_CLOSE`` (404)."""
        path = "/v1/close/" + urllib.parse.quote(close_id, safe="")
        return decode(CloseProgress, self._json("GET", path, auth=True))

    def runbook(self, incident: str, fmt: str = "md") -> str:
        """``GET /v1/runbooks/{incident}``: the incident's stored runbook, markdown or html."""
        path = "/v1/runbooks/" + urllib.parse.quote(incident, safe="") + "?" + urllib.parse.urlencode({"format": fmt})
        status, raw = self._send("GET", path, auth=True)
        if status != 200:
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = {"reason": raw.decode(errors="replace")[:_SHOWN_BODY]}
            code = _code_of(status, doc)
            raise RunnerError(status, code, _reason_of(doc, code), url=self.base_url, body=doc)
        return raw.decode("utf-8")

    def whoami(self) -> Caller:
        """``GET /v1/whoami``: the identity and roles of this client's token."""
        return decode(Caller, self._json("GET", "/v1/whoami", auth=True))

    def triggers(self) -> tuple[TriggerStatus, ...]:
        """``GET /v1/triggers``: every trigger, firing or not, with its values against thresholds."""
        doc = self._json("GET", "/v1/triggers", auth=True)
        return _items(TriggerStatus, doc, "triggers")

    def incidents(self) -> tuple[IncidentStatus, ...]:
        """``GET /v1/incidents``: the open incidents and the latest manual closes, from the store."""
        return _items(IncidentStatus, self._json("GET", "/v1/incidents", auth=True), "incidents")

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
        body: dict = {"policy": policy, "scope": scope, "reason": reason, **({"withdraw": True} if withdraw else {})}
        if approver is not None:
            body["approver"] = approver
        if confirm_relatch:
            body["confirm_relatch"] = True
        return decode(ResetResult, self._json("POST", "/v1/reset", body, auth=True))

    def close(self, scope: str, reason: str, dry_run: bool, *, symbol: Optional[str] = None,
              preview_id: Optional[str] = None, max_notional: Optional[float] = None,
              leg: Optional[str] = None) -> CloseResult:
        """``POST /v1/close``: accepted (202) is a CloseResult; a refusal is a RunnerError. A live
        close carries its preview's id and a maximum notional (``preview_id``, ``max_notional``);
        ``symbol``: only that symbol's positions in ``scope``; ``leg`` (long | short): only that
        hedge leg of the symbol (None: both legs)."""
        body: dict = {"scope": scope, "reason": reason, "dry_run": dry_run}
        extra = {"symbol": symbol, "leg": leg, "preview_id": preview_id, "max_notional": max_notional}
        body.update({k: v for k, v in extra.items() if v is not None})
        return decode(CloseResult, self._json("POST", "/v1/close", body, auth=True, expect=202))

    def positions(self) -> PositionsStatus:
        """``GET /v1/positions``: every account's positions from the runner's last snapshots."""
        return decode(PositionsStatus, self._json("GET", "/v1/positions", auth=True))

    def lock(self, scope: str, reason: str, mode: str = "halted", ttl_s: Optional[float] = None, *,
             cancel: Optional[bool] = None, revert_growth: Optional[bool] = None) -> ChangeResult:
        """``POST /v1/lock``: lock trading on ``scope`` (halted or reducing), until unlocked or
        for ``ttl_s`` seconds; ``cancel`` / ``revert_growth``: what it makes hold at the venue
        (None: by its mode). Applied: ``done``; stored for the next leader while no runner
        leads: not done, ``stored`` the request id (``LOCK_STORED``)."""
        body: dict[str, Any] = {"scope": scope, "reason": reason, "mode": mode, "ttl_s": ttl_s}
        enforce = {k: v for k, v in (("cancel", cancel), ("revert_growth", revert_growth)) if v is not None}
        if enforce:
            body["enforce"] = enforce
        # 200 applied; 202 stored for the next leader (LOCK_STORED: ``stored`` names the request)
        status, raw = self._send("POST", "/v1/lock", body, auth=True)
        doc = json.loads(raw) if raw else None
        if status not in (200, 202):
            code = _code_of(status, doc)
            raise RunnerError(status, code, _reason_of(doc, code), url=self.base_url, body=doc)
        return decode(ChangeResult, doc)

    def unlock(self, scope: str, reason: str) -> ChangeResult:
        """``POST /v1/unlock``: lift the operator's and the dead man's switch's locks on ``scope``."""
        return decode(ChangeResult, self._json("POST", "/v1/unlock", {"scope": scope, "reason": reason}, auth=True))

    def preview_revoke(self, scope: str) -> ActionPreview:
        """``POST /v1/preview/revoke``: the accounts a revoke of ``scope`` reaches, each one's
        permission now, and the ``preview_id`` the revoke carries."""
        return decode(ActionPreview, self._json("POST", "/v1/preview/revoke", {"scope": scope}, auth=True))

    def revoke(self, scope: str, reason: str, preview_id: Optional[str], approvals: int = 1) -> ChangeResult:
        """``POST /v1/revoke``: the bots' keys of every account ``scope`` reaches made read-only at
        the venue, as previewed; ``approvals``: distinct approvers its restore needs. Without a
        ``preview_id`` (its preview was refused) it is refused and audited, never done."""
        body: dict[str, Any] = {"scope": scope, "reason": reason, "approvals": approvals}
        if preview_id is not None:
            body["preview_id"] = preview_id
        return decode(ChangeResult, self._json("POST", "/v1/revoke", body, auth=True))

    def preview_restore(self, scope: str) -> ActionPreview:
        """``POST /v1/preview/restore``: what the caller's approval of ``scope``'s restore would do."""
        return decode(ActionPreview, self._json("POST", "/v1/preview/restore", {"scope": scope}, auth=True))

    def restore(self, scope: str, reason: str) -> ChangeResult:
        """``POST /v1/revoke/restore``: the caller's approval of the restore of ``scope``'s revoke."""
        body = {"scope": scope, "reason": reason}
        return decode(ChangeResult, self._json("POST", "/v1/revoke/restore", body, auth=True))

    def dms_arm(self, source: str, timeout_s: float) -> ChangeResult:
        """``POST /v1/dms/arm``: ``source`` must beat at least every ``timeout_s`` seconds."""
        body = {"source": source, "timeout_s": timeout_s}
        return decode(ChangeResult, self._json("POST", "/v1/dms/arm", body, auth=True))

    def policy_drift(self, verdict: dict) -> ChangeResult:
        """``POST /v1/policy-drift``: a drift checker's verdict about this runner (``DRIFT_RECORDED``)."""
        return decode(ChangeResult, self._json("POST", "/v1/policy-drift", verdict, auth=True))

    def accept_rejection(self, account: str, reason: str, *, symbol: Optional[str] = None, leg: Optional[str] = None,
                         incident: Optional[str] = None) -> ChangeResult:
        """``POST /v1/close-rejections/accept``: a person accepts the closes the venue refused of
        ``account``'s legs (those ``symbol``, ``leg`` and ``incident`` name)."""
        body: dict = {"account": account, "reason": reason}
        body.update({k: v for k, v in (("symbol", symbol), ("leg", leg), ("incident", incident)) if v is not None})
        return decode(ChangeResult, self._json("POST", "/v1/close-rejections/accept", body, auth=True))

    def dms_disarm(self, source: str) -> ChangeResult:
        """``POST /v1/dms/disarm``: stop watching ``source``."""
        return decode(ChangeResult, self._json("POST", "/v1/dms/disarm", {"source": source}, auth=True))

    def silences(self) -> tuple[SilenceStatus, ...]:
        """``GET /v1/silences``: the silences in force and those ended in the last day."""
        return _items(SilenceStatus, self._json("GET", "/v1/silences", auth=True), "silences")

    def silence_add(self, matchers: list[str], duration_s: float, comment: str,
                    incident: Optional[str] = None) -> SilenceResult:
        """``POST /v1/silences``: hold back the pages every matcher matches, as the token's
        identity; made from ``incident``, it matches that incident alone and ends with it."""
        body: dict = {"matchers": list(matchers), "duration_s": duration_s, "comment": comment}
        if incident is not None:
            body["incident"] = incident
        return decode(SilenceResult, self._json("POST", "/v1/silences", body, auth=True))

    def silence_preview(self, matchers: list[str], incident: Optional[str] = None) -> SilencePreview:
        """``POST /v1/silences/preview``: what the silence would hold back now; a refusal is a RunnerError."""
        body: dict = {"matchers": list(matchers)}
        if incident is not None:
            body["incident"] = incident
        return decode(SilencePreview, self._json("POST", "/v1/silences/preview", body, auth=True))

    def silence_change(self, silence_id: str, duration_s: Optional[float] = None,
                       comment: Optional[str] = None) -> SilenceResult:
        """``POST /v1/silences/change``: extend a silence (it then ends ``duration_s`` from now)
        or edit its comment."""
        body: dict = {"id": silence_id}
        if duration_s is not None:
            body["duration_s"] = duration_s
        if comment is not None:
            body["comment"] = comment
        return decode(SilenceResult, self._json("POST", "/v1/silences/change", body, auth=True))

    def silence_expire(self, silence_id: str) -> SilenceResult:
        """``POST /v1/silences/expire``: end a silence now; its pages are sent again."""
        return decode(SilenceResult, self._json("POST", "/v1/silences/expire", {"id": silence_id}, auth=True))

    def ack(self, incident: Optional[str] = None, policy: Optional[str] = None, scope: Optional[str] = None,
            comment: str = "") -> ChangeResult:
        """``POST /v1/ack``: the token's identity has the incident (named, or the one ``policy``'s
        ``scope`` is in now)."""
        body: dict = {"incident": incident} if incident is not None else {"policy": policy, "scope": scope}
        if comment:
            body["comment"] = comment
        return decode(ChangeResult, self._json("POST", "/v1/ack", body, auth=True))

    def overrides(self) -> tuple[OverrideStatus, ...]:
        """``GET /v1/overrides``: the overrides of the limits not ended, and those ended in the last day."""
        return _items(OverrideStatus, self._json("GET", "/v1/overrides", auth=True), "overrides")

    def override(self, action: str, body: dict) -> OverrideResult:
        """``POST /v1/overrides`` (``action`` request: the body as the API reads it) or
        ``/v1/overrides/approve|end`` (``{"id": ...}``), as the token's identity."""
        path = "/v1/overrides" + ("" if action == "request" else f"/{action}")
        return decode(OverrideResult, self._json("POST", path, body, auth=True))

    def heartbeat(self, source: str) -> None:
        """``POST /v1/heartbeat/{source}``: ``source`` is alive (204)."""
        # quoted, so that a name with "/" or "?" is refused as a whole rather than read as another
        self._json("POST", "/v1/heartbeat/" + urllib.parse.quote(source, safe=""), auth=True, expect=204)


__all__ = ["CLOSE_FINAL_STATES", "CloseProgress", "DecodeError", "DmsSource", "DmsStatus", "DmsSummary",
           "LockDocument", "LockHold", "ORIGIN_DMS", "ORIGIN_OPERATOR", "ORIGIN_POLICY", "ResumeLimits",
           "RunnerClient", "RunnerError", "RunnerUnreachable", "ScopeLock", "VenueCountdown", "dms_of"]
