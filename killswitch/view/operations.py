"""The one table of the operations the runner's API serves: every call an operator, a bot, a probe
or the console makes of a runner, one entry each.

An entry names the view call (the desk's method, the typed client's call unless it names another,
and the name the turn goes by), its route, who may call it, what kind of write it is, the fields
of its body (how each is read and handed to the view call), how its answer is rendered, the part
of the desk that answers it, the words of its operator log line and the operation that previews
it. Read by the API (``face/api/api.py``: its routes, and one handler for every entry with no
handler of its own, ``face/api/handlers.py``), the access checks (``face/api/access.py``: who may
call each route, which are writes and what they do to risk), the turn (``runner/lease/turn.py``:
which calls run without it), the desk (``face/desk/desk.py``: its forwards), the typed
client (``client/calls.py``), the ``ksctl`` verbs of the entries that name one (``cli/verbs.py``:
an option for each field) and the test that holds ``docs/openapi.yaml`` to it
(``tests/integration/test_openapi.py``). A new operation is its entry here, the part's method
that does it, its path in the OpenAPI document and its test; its verb, a line of ``docs/cli.md``.

Must not: import anything but the values the API answers (the client reads it, and imports
neither aiohttp nor the runner's parts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .answers import ActionPreview, ChangeResult
from .incidents import IncidentStatus, TriggerStatus
from .overrides import OverrideResult, OverrideStatus
from .positions import PositionsStatus
from .status import SilenceResult, SilenceStatus

# --- who may call it ---------------------------------------------------------------------------------

PUBLIC = None  # anyone: what bots and probes read
READER = "reader"  # the console's readers (viewer, operator, approver); anyone under --console-public
READERS = ("viewer", "operator", "approver")
OPERATOR, APPROVER, BOT = ("operator",), ("approver",), ("bot", "operator")

# --- what kind of write it is (None: a read) -----------------------------------------------------------
# Only a write that loosens waits for an audit sink under --audit-sink-required (face/api/access.py):
# fail-closed must never stand between the on-call and a halt.
TIGHTENS = "tightens"  # reduces risk: a halt, a lock, a cancel, a close, a kill, a revoke, an end
NOTES = "notes"  # changes no exposure and hides no page: an acknowledgement ("I have it")
LOOSENS = "loosens"  # adds risk or hides it: an unlock, a reset, an override, a restore, a silence
HEARTBEAT = "heartbeat"  # a bot's beat, admitted apart from the operators' writes (face/api/admission.py)
OPERATOR_WRITES = (TIGHTENS, NOTES, LOOSENS)
# A silence waits: it hides pages. Arming a dead man's switch waits: it lifts the halt of its last
# firing. A drift verdict waits: "in sync" clears the drift alert. An acknowledgement is a note of
# who has an incident: it hides no page and lifts nothing.

# --- how a body's field is read (face/api/handlers.py, by face/request.py's readers) ------------------
NAME = "name"  # one line, no space around it, at most ``limit`` characters (default 256)
TEXT = "text"  # an operator's reason or comment: free text, at most 500 characters
SOURCE = "source"  # a heartbeat source: 1 to 64 of A-Z a-z 0-9 . _ -, not only dots
SECONDS = "seconds"  # a number of seconds above 0 and at most ``limit``
COUNT = "count"  # a whole number from 1 to ``limit``

# --- how the answer is rendered (face/api/handlers.py) -------------------------------------------------
READ = "read"  # a read shared while in flight and encoded once off the loop
ITEMS = "items"  # a read, as {<the path's last word>: [...]}
JSON = "json"  # the view's answer as it is, 200
PREVIEW = "preview"  # an ActionPreview, with ``lock_text``
CHANGE = "change"  # {"done", "reason"}: 200 done, 202 stored, 404 an unknown name, else 409
# a change answered by its group's statuses (face/api/silences.py, overrides.py, revoke.py, firm_kill.py)
SILENCE, OVERRIDE, REVOKE, FIRM = "silence", "override", "revoke", "firm"

MAX_DMS_TIMEOUT_S = 7 * 86_400


@dataclass(frozen=True)
class Arg:
    """A field of an operation's body. ``required``: the body must hold it (an optional one is
    handed over by name, and only when given); ``limit``: a name's longest, the most seconds, or the largest count;
    ``keyword``: handed to the view call by name; ``passed`` false: read as the change reads it
    when required, but not handed on (a preview takes its change's body). ``flag``, ``metavar``
    and ``help``: its option in the entry's ``ksctl`` verb (default ``--<name>``, a number of
    seconds without its ``_s``: a duration such as ``5m``); ``old``: the metavar of the positional
    it was once given as, still read and said to be deprecated."""

    name: str
    kind: str = NAME
    required: bool = True
    limit: float = 0
    keyword: bool = False
    passed: bool = True
    flag: str = ""
    metavar: Optional[str] = None
    help: Optional[str] = None
    old: str = ""


@dataclass(frozen=True)
class Operation:
    """One call of the runner's API; see the module doc. ``caller``: how the caller's identity is
    handed to the view call (``actor`` or ``approver``: by that name; ``position``: after the
    fields; empty: not at all); ``also``: the view calls its handler makes beside its own,
    which go to the turn as it does; ``own_turn``: a change that takes the turn itself where it
    changes the runner's state; ``by``: the desk's part and method that answer it (empty: a
    method of the desk's own); ``audit``: the operator log line's verb, with the fields of
    ``logged``; ``client``: the typed client's name for it; ``returns``: what the client reads
    the answer back into (None: the JSON as it came); ``verb``: the ``ksctl`` words that send it
    (``cli/verbs.py``), ``help`` their help (default ``doc``, when it says it for both), and for a
    read ``shown``: the module of ``render/`` whose ``<shown>_text`` and ``<shown>_json`` print its
    answer."""

    name: str
    method: str
    path: str
    roles: Optional[tuple[str, ...]]
    write: Optional[str] = None
    args: tuple[Arg, ...] = ()
    caller: str = ""
    answer: str = JSON
    by: str = ""
    audit: str = ""
    logged: tuple[str, ...] = ()
    preview: str = ""
    client: str = ""
    returns: Optional[type] = None
    also: tuple[str, ...] = ()
    own_turn: bool = False
    doc: str = ""
    verb: str = ""
    help: str = ""
    shown: str = ""


def _op(name: str, method: str, path: str, roles: Optional[tuple[str, ...]], write: Optional[str] = None,
        *args: Arg, **kw: object) -> Operation:
    return Operation(name, method, path, roles, write, args, **kw)  # type: ignore[arg-type]


_SCOPE, _REASON = Arg("scope"), Arg("reason", TEXT)
_SOURCE = Arg("source", SOURCE, help="The heartbeat source (a bot's strategy name).")
_OVERRIDE = Arg("id", flag="--override", metavar="ID", help="The override's id (ksctl override list).")

# In the order the router is given them. Each answers as its ``answer`` says; an entry whose body
# is more than fields of these kinds has a handler of its own, named as it is (face/api/).
OPERATIONS: tuple[Operation, ...] = (
    # what bots and probes read: readiness, the lock, their own countdown, an order's check;
    # Prometheus scrapes /metrics
    _op("ready", "GET", "/readyz", PUBLIC, by="readout.ready",
        doc="(ready, why): policy loaded, state reachable, leader or standby."),
    _op("metrics_text", "GET", "/metrics", PUBLIC, by="readout.metrics_text", also=("metrics_page",),
        doc="Prometheus exposition of the runner's metrics."),
    _op("lock_document", "GET", "/v1/lock", PUBLIC, by="readout.lock_document",
        doc="The trading lock as bots read it (the lock file's document), or what binds ``scope``, with the "
            "resumed limits in force."),
    # bots call it before every order; it only reads
    _op("check_order", "POST", "/v1/check-order", PUBLIC, by="readout.check_order",
        doc="May this order go now? A deny is a Decision, not an error."),
    _op("dms_status", "GET", "/v1/dms", PUBLIC, answer=READ, by="countdowns.status",
        doc="Armed sources (time since the last beat, time until it fires) and the venues' native "
            "cancel-all-after countdowns.", verb="dms status", shown="dms"),
    # what shows the book (stages, data ages, positions, amounts, orders): the console's readers
    # ... and a drift checker (ksctl drift), which compares what runs with git
    _op("status", "GET", "/v1/status", (READER, "drift"), also=("status_all",),
        doc="The runner's status, its dead man's switch summarised (``?dms=all``: every source)."),
    _op("firm_status", "GET", "/v1/firm", (READER,), answer=READ, client="firm",
        doc="A shard runner's view of the firm: shards, leaders, standbys, facts' lag, the firm lease "
            "holder, the firm-wide policies' stages and blind accounts (firmlink/firm.py)."),
    _op("firm_shards", "GET", "/v1/firm/shards", (READER,),
        doc="Every shard as the firm's tables say (heard or not and why, its leader, open incidents, "
            "lock, console URL) and the firm-wide breaker (firmlink/board.py)."),
    _op("firm_kill_status", "GET", "/v1/firm/kill", (READER,),
        doc="The newest firm-wide kill's progress per shard and account (face/api/firm_kill.py)."),
    _op("close_progress", "GET", "/v1/close/{id:.+}", (READER,), by="closes.progress",
        doc="Where a queued close stands (``state``: queued, working, settled, dry_run; order counts); "
            "None for a close this runner does not know."),
    _op("positions", "GET", "/v1/positions", (READER,), answer=READ, by="position_readout.status",
        returns=PositionsStatus, doc="Every account's positions from the runner's last snapshots, with their age."),
    _op("runbooks", "GET", "/v1/runbooks", (READER,),
        doc="The latest stored runbooks created at or after ``since_ms``, oldest first, without their text."),
    _op("runbook", "GET", "/v1/runbooks/{incident:.+}", (READER,),
        doc="The stored runbook of an incident (its markdown and html), as the runbook sink wrote it."),
    _op("chart", "GET", "/v1/charts/{policy}/{scope:.+}", (READER,), by="charts.chart",
        doc="One policy instance's chart (face/console/charts_http.py)."),
    # any tail, so that a bad source name is a 400 that says why rather than a bare 404
    _op("heartbeat", "POST", "/v1/heartbeat/{source:.*}", BOT, HEARTBEAT, also=("heartbeats",), own_turn=True,
        doc="``source`` is alive (204); a standby stores it for the leader."),
    _op("reset", "POST", "/v1/reset", APPROVER, LOOSENS, also=("withdraw_reset",), preview="preview_reset",
        doc="An approval of the reset of a latched stage, as the caller."),
    _op("close", "POST", "/v1/close", OPERATOR, TIGHTENS, preview="preview_close",
        doc="A manual close of a scope, as previewed (face/api/api.py)."),
    # a close the venue refused, accepted by a person: off the first screen (operator/accepts.py)
    _op("accept_rejection", "POST", "/v1/close-rejections/accept", OPERATOR, LOOSENS,
        Arg("account", help="The account of the refused close, e.g. binanceusdm/main."),
        Arg("reason", TEXT, help="Why it is accepted: shown in the audit trail and the report."),
        Arg("symbol", required=False, help="Only this symbol's legs, e.g. ETH/USDT:USDT."),
        Arg("leg", required=False, help="Only this leg: long | short (one-way) or LONG | SHORT (hedge)."),
        Arg("incident", required=False, limit=600, help="Only the legs of this incident (its id, as status shows it)."),
        caller="actor", answer=CHANGE, by="accepts.accept",
        audit="close accept", logged=("account", "symbol", "leg"), returns=ChangeResult,
        doc="A person accepts the closes the venue refused of ``account``'s legs (those named): their "
            "facts end, audited ``close_rejection_accepted``.",
        verb="close-accept", help="""Accept a close the venue refused: off the first screen, audited.

Its fact (CLOSE_REJECTED, or still tried) leaves the console's first screen and status, audited
close_rejection_accepted with who and why. A leg stopped for its incident stays unsent while its
position stands (its residual). A name that matches no standing rejection is refused
UNKNOWN_REJECTION with those that stand (exit 1); one whose legs were all accepted already answers
ALREADY_ACCEPTED with who, when and why (exit 0)."""),
    _op("lock_scope", "POST", "/v1/lock", OPERATOR, TIGHTENS, preview="preview_lock", client="lock",
        doc="An operator's lock on ``scope`` (halted or reducing), until unlocked or its ttl."),
    _op("unlock_scope", "POST", "/v1/unlock", OPERATOR, LOOSENS, _SCOPE, _REASON, caller="actor", answer=CHANGE,
        preview="preview_unlock", client="unlock", returns=ChangeResult,
        doc="Lift the operator's and the dead man's switch's locks on ``scope``; refused while a policy's "
            "stage holds it (a manual-reset stage needs a reset).",
        verb="unlock", help="""Lift the operator's (and a dead man's switch's) lock on a scope.

A lock a policy's stage holds is not lifted: a manual-reset stage needs ksctl reset
(MANUAL_RESET_REQUIRED, exit 1)."""),
    _op("dms_arm", "POST", "/v1/dms/arm", OPERATOR, LOOSENS, _SOURCE,
        Arg("timeout_s", SECONDS, limit=MAX_DMS_TIMEOUT_S, help="Longest silence allowed, e.g. 300s or 5m."),
        caller="actor", answer=CHANGE, by="commands.dms_arm", audit="dms arm", logged=("source",), returns=ChangeResult,
        doc="``source`` must beat at least every ``timeout_s`` seconds; arming again lifts the halt an "
            "earlier firing left.",
        verb="dms arm", help="Watch SOURCE: if it sends no heartbeat for --timeout, cancel its orders and halt it. "
                             "Arming again lifts the halt an earlier firing left."),
    _op("dms_disarm", "POST", "/v1/dms/disarm", OPERATOR, LOOSENS, _SOURCE, caller="actor",
        answer=CHANGE, by="commands.dms_disarm", audit="dms disarm", logged=("source",), returns=ChangeResult,
        doc="Stop watching SOURCE (a halt its firing left stays until ksctl unlock).", verb="dms disarm"),
    # the bots' keys at the venue (face/api/revoke.py): revoked as previewed, restored with approvals
    # without a preview_id (its preview was refused) it is refused and audited, never done; approvals:
    # distinct approvers its restore needs (runner/operator/revoke_commands.py's MAX_APPROVALS at most)
    _op("revoke_trading", "POST", "/v1/revoke", OPERATOR, TIGHTENS, _SCOPE, _REASON, Arg("preview_id", required=False),
        Arg("approvals", COUNT, required=False, limit=10), caller="actor", answer=REVOKE, preview="preview_revoke",
        by="operator_revokes.revoke", audit="revoke", logged=("scope",), client="revoke", returns=ChangeResult,
        doc="The bots' keys of every account ``scope`` reaches made read-only at the venue, as previewed."),
    _op("restore_trading", "POST", "/v1/revoke/restore", APPROVER, LOOSENS, _SCOPE, _REASON, caller="approver",
        answer=REVOKE, preview="preview_restore", by="operator_revokes.restore", audit="restore", logged=("scope",),
        client="restore", returns=ChangeResult,
        doc="The caller's approval of the restore of exactly ``scope``'s operator revoke (a stage's is "
            "restored by its reset)."),
    _op("preview_revoke", "POST", "/v1/preview/revoke", OPERATOR, None, _SCOPE,
        Arg("reason", TEXT, required=False, passed=False), by="operator_revokes.preview", returns=ActionPreview,
        doc="The accounts a revoke of ``scope`` reaches, each one's permission now, and the "
            "``preview_id`` the revoke carries."),
    _op("preview_restore", "POST", "/v1/preview/restore", APPROVER, None, _SCOPE,
        Arg("reason", TEXT, required=False, passed=False), caller="position", by="operator_revokes.preview_restore",
        returns=ActionPreview, doc="What the caller's approval of ``scope``'s restore would do now."),
    # the firm-wide kill (face/api/firm_kill.py): previewed, written once for every shard, released by two
    _op("firm_kill_preview", "POST", "/v1/preview/firm-kill", OPERATOR, None,
        Arg("reason", TEXT, required=False, passed=False),
        doc="What each shard will lock, cancel and revoke, the shards not heard, and the ``preview_id`` "
            "the kill carries."),
    # written to the firm's tables (fenced) without the runner's state, then carried out here in the
    # turn it takes itself (firmlink/apply.py)
    _op("firm_kill", "POST", "/v1/firm/kill", OPERATOR, TIGHTENS, _REASON, Arg("preview_id", keyword=True),
        caller="actor", answer=FIRM, preview="firm_kill_preview", returns=ChangeResult, own_turn=True,
        doc="The firm-wide kill, as previewed."),
    _op("firm_kill_release", "POST", "/v1/firm/kill/release", APPROVER, LOOSENS, _REASON, caller="approver",
        answer=FIRM, returns=ChangeResult, doc="The caller's approval of the release of the kill in force."),
    _op("triggers", "GET", "/v1/triggers", (READER,), answer=ITEMS, by="readout.triggers", returns=TriggerStatus,
        doc="Every trigger of every policy instance: firing or not, and its comparisons."),
    _op("incidents", "GET", "/v1/incidents", (READER,), answer=ITEMS, by="readout.incidents",
        returns=IncidentStatus,
        doc="The open incidents with what the store recorded of them (approvals, orders, runbook)."),
    _op("preview_lock", "POST", "/v1/preview/lock", OPERATOR, by="previews.lock"),
    _op("preview_unlock", "POST", "/v1/preview/unlock", OPERATOR, None, _SCOPE, Arg("reason", TEXT, passed=False),
        answer=PREVIEW, by="previews.unlock", returns=ActionPreview),
    _op("preview_reset", "POST", "/v1/preview/reset", APPROVER, by="previews.reset"),
    _op("preview_close", "POST", "/v1/preview/close", OPERATOR, by="previews.close"),
    # silences and acknowledgements (face/api/silences.py)
    _op("silences", "GET", "/v1/silences", (READER,), answer=ITEMS, by="silencing.shown", returns=SilenceStatus,
        doc="The silences in force (author, comment, ends in) and those ended in the last day, oldest first.",
        verb="silence list", shown="silences"),
    _op("silence_add", "POST", "/v1/silences", OPERATOR, LOOSENS, preview="silence_preview", by="silencing.add",
        doc="Silence the pages every matcher matches for ``duration_s``."),
    _op("silence_expire", "POST", "/v1/silences/expire", OPERATOR, TIGHTENS,
        Arg("id", flag="--silence", metavar="ID", help="The silence's id (ksctl silence list).", old="ID"),
        caller="actor", answer=SILENCE, by="silencing.expire", returns=SilenceResult,
        doc="End a silence now; its pages are sent again.", verb="silence expire",
        help="End a silence now: what it held back pages again if it still fires. The id as a positional "
             "(ksctl silence expire ID) is deprecated: use --silence ID."),
    _op("silence_change", "POST", "/v1/silences/change", OPERATOR, LOOSENS, by="silencing.change",
        doc="Extend a silence (it then ends ``duration_s`` from now) or edit its comment."),
    _op("silence_preview", "POST", "/v1/silences/preview", OPERATOR, by="silencing.preview",
        doc="What a silence of the matchers would hold back now, whether it spans every scope, and what it "
            "matches of the last day's pages."),
    _op("acknowledge", "POST", "/v1/ack", ("operator", "approver"), NOTES, by="silencing.acknowledge", client="ack",
        doc="The caller has the incident (named, or the one ``policy``'s ``scope`` is in now)."),
    # overrides of the pre-trade limits (face/api/overrides.py): requested by an operator, approved by another
    _op("overrides", "GET", "/v1/overrides", (READER,), answer=ITEMS, by="overriding.shown", returns=OverrideStatus,
        doc="The overrides of the limits not ended (pending, in force) and those ended in the last day.",
        verb="override list", shown="overrides"),
    _op("override_request", "POST", "/v1/overrides", OPERATOR, LOOSENS),
    _op("override_approve", "POST", "/v1/overrides/approve", APPROVER, LOOSENS, _OVERRIDE, caller="actor",
        answer=OVERRIDE, returns=OverrideResult, verb="override approve",
        doc="Approve an override; your token's identity (the caller, approver role) must not be its requester."),
    _op("override_end", "POST", "/v1/overrides/end", ("operator", "approver"), TIGHTENS, _OVERRIDE, caller="actor",
        answer=OVERRIDE, returns=OverrideResult, doc="End an override now (pending or in force).",
        verb="override end"),
    # a drift checker's verdict about this runner (face/api/drift.py): stored, shown in status and /metrics
    _op("record_drift", "POST", "/v1/policy-drift", ("drift", "operator"), LOOSENS, client="policy_drift",
        doc="A drift checker's verdict about this runner: ``DRIFT_RECORDED: <state>``."),
)

BY_NAME = {op.name: op for op in OPERATIONS}
# What runs as it comes, without the turn (runner/lease/turn.py): the reads, and the changes that
# take it themselves where they change the runner's state (a heartbeat on the leader is in memory;
# on a standby, a store write that changes none of its state).
WITHOUT_TURN = frozenset(n for op in OPERATIONS if op.write is None or op.own_turn for n in (op.name, *op.also))


def roles_of(roles: Optional[tuple[str, ...]], console_public: bool = False) -> Optional[tuple[str, ...]]:
    """Who may call an operation of ``roles``: None for anyone; the console's readers spelled out,
    or anyone when the runner shows the book publicly (``console_public``)."""
    if roles is PUBLIC or (console_public and READER in roles):
        return PUBLIC
    return tuple(r for role in roles for r in (READERS if role == READER else (role,)))
