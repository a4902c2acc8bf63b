"""Events and the sink contract: what the runner hands to its sinks, and what a sink may see.

What it owns: the kinds of events and their default severity, :class:`Event`, where a runbook
is served (:func:`runbook_path`), and the protocols between the runner and its sinks
(telemetry, notifications, runbooks, the audit anchor):

- :class:`Sink`: ``on_tick(report, ctx)`` after every tick, ``on_event(event, ctx)`` for every
  event (a tick's, and those between ticks: a failed reload, a reset, a manual close),
  ``aclose()``. The runner calls them synchronously; a sink must not block (anything slow goes
  on its own bounded queue). A sink that raises is reported and the tick goes on: the kill
  switch never waits on, or dies of, the way it tells people what it did.
- :class:`SinkContext`: the narrow view a sink gets of the runner — its clock, mode, graph,
  holder, what a sink may read of the store (:class:`SinkStore`), the last snapshots, read-only
  lookups of a stage, an account's freshness, the lock of a scope, an incident's residuals and
  the silences in force, and the sinks' writes, each fenced by the runner's token: audit rows,
  notification receipts (:class:`ReceiptWriter`) and runbooks. Never the runner itself, never
  a store a sink could write to unfenced.
- :class:`TickFacts`: what a sink reads of a tick's report.
- Optional abilities, each a protocol a sink may implement and the runner checks with
  ``isinstance``: :class:`StatefulSink` (kept across restarts and takeovers),
  :class:`RestoringSink` (told when its runner starts leading), :class:`CollectingSink` (its
  families in the one ``/metrics`` registry), :class:`ReloadingSink` (follows the policy documents
  on a reload), :class:`ReportingSink` (fields of the runner's status: failing pages),
  :class:`PagingSink` (the pages it holds in force, for a silence's preview).

It sits at the bottom of the import graph, beside the snapshot types: it imports nothing of
the engine, the runner, the adapters or the sinks, so every layer may import it.

Events carry labels (for routing and grouping) and data (for the message and the runbook).
Labels are plain strings; secrets never enter either.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Protocol, Sequence, runtime_checkable
from urllib.parse import quote

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .compile.graph import DecisionGraph
    from .snapshot import Snapshot

# kinds of events, and how serious each is by default
STAGE_TRANSITION = "stage_transition"
ORDER_FAILED = "order_failed"
CLOSE_RETRIES_EXHAUSTED = "close_retries_exhausted"
CLOSE_RESIDUAL = "close_residual"  # a position a close left open and stopped closing (critical; dust: warning)
# an order a cancel meant to take that the venue still lists after it (ORDER_STILL_OPEN): paged once
ORDER_STILL_OPEN = "order_still_open"
POLICY_RELOAD_FAILED = "policy_reload_failed"
RESET = "reset"
MANUAL_CLOSE = "manual_close"
DEPOSED = "deposed"
SNAPSHOT_FAILED = "snapshot_failed"
DMS_FIRED = "dms_fired"
# a venue's own cancel-all-after countdown found lapsed (no runner refreshed it in time): the venue
# may have cancelled every open order of the account (paged once per lapse, at start or takeover too)
DMS_NATIVE_LAPSED = "dms_native_lapsed"
# a policy × scope instance cannot evaluate a trigger: reported when it turns blind, then every 30 s while so
SCOPE_BLIND = "scope_blind"
# a policy's scope selects no account: reported when it starts, then every 30 s while so
POLICY_UNMATCHED = "policy_unmatched"
SCOPE_ARMED = "scope_armed"  # a blind scope is armed again (once): resolves its scope_blind page
POLICY_MATCHED = "policy_matched"  # an unmatched policy selects accounts again (once): resolves its page
# an order or a position that broke a lock at the venue (a bot that never asked): cancelled or reverted
LOCK_VIOLATION = "lock_violation"
LIMIT_VIOLATION = "limit_violation"  # an order that never asked broke a pre-trade limit: cancelled at the venue
INCIDENT_ACKNOWLEDGED = "incident_acknowledged"  # someone has an incident (shown, runbook rendered again; not paged)
# the bots' keys' trading permission at the venue: confirmed revoked, confirmed restored, and an
# attempt refused or failed (paged once per failure spell; retried with backoff, never shown revoked)
TRADING_REVOKED = "trading_revoked"
TRADING_RESTORED = "trading_restored"
REVOKE_FAILED = "revoke_failed"
# an account's venue reads another position mode than the Accounts document declares (once per
# change; closes are sent as the venue's mode), and when it agrees again
POSITION_MODE_MISMATCH = "position_mode_mismatch"
POSITION_MODE_MATCHED = "position_mode_matched"
# the runner reads less often under load (runner/tick/shed.py): as the level rises, and when it ends
LOAD_SHED = "load_shed"
# events the sinks record but the notification routes never page: saying "I have it" pages nobody
NOT_PAGED = frozenset({INCIDENT_ACKNOWLEDGED})
# events that report a state in force (a stage held, a scope blind, a policy matching nothing, an
# account whose snapshots fail): reminded every repeat_interval while it lasts. Every other kind
# is a one-off (an order failed, a manual close queued, a reset, a violation cancelled, a revoke
# done): it pages once and is never a "still active" reminder. A stage_transition reminds only
# while its scope is in the stage it entered (not a return to level 0).
STATE_KINDS = frozenset({STAGE_TRANSITION, SCOPE_BLIND, POLICY_UNMATCHED, SNAPSHOT_FAILED})

SEVERITY = {
    STAGE_TRANSITION: "critical", ORDER_FAILED: "critical", CLOSE_RETRIES_EXHAUSTED: "critical",
    CLOSE_RESIDUAL: "critical", ORDER_STILL_OPEN: "critical",
    POLICY_RELOAD_FAILED: "critical", RESET: "info", MANUAL_CLOSE: "warning", DEPOSED: "warning",
    SNAPSHOT_FAILED: "warning", DMS_FIRED: "critical", DMS_NATIVE_LAPSED: "critical", SCOPE_BLIND: "warning",
    POLICY_UNMATCHED: "critical",
    SCOPE_ARMED: "info", POLICY_MATCHED: "info",
    INCIDENT_ACKNOWLEDGED: "info", LOCK_VIOLATION: "critical", LIMIT_VIOLATION: "critical",
    TRADING_REVOKED: "critical", TRADING_RESTORED: "critical", REVOKE_FAILED: "critical",
    POSITION_MODE_MISMATCH: "warning", POSITION_MODE_MATCHED: "info", LOAD_SHED: "warning",
}


# who stamped the time of what caused an event (:attr:`Event.cause`): the venue's own clock (the
# snapshot's ``ts_event`` where the venue gave it, the stream's ``E``), or the runner's
CAUSE_SOURCES = ("venue", "runner")


@dataclass(frozen=True)
class Event:
    kind: str
    ts_ms: int
    labels: Mapping[str, str] = field(default_factory=dict)  # policy, scope, stage, level, venue, severity…
    data: Mapping[str, Any] = field(default_factory=dict)
    # the time of what caused the event (UTC ms) and who stamped it (CAUSE_SOURCES); None: the
    # runner's observation, ``ts_ms`` (see :attr:`cause`)
    cause_ms: Optional[int] = None
    cause_source: Optional[str] = None

    @staticmethod
    def make(kind: str, ts_ms: int, data: Optional[Mapping[str, Any]] = None, **labels: Any) -> "Event":
        out = {"event": kind, "severity": SEVERITY.get(kind, "warning")}
        out.update({k: str(v) for k, v in labels.items() if v is not None})
        return Event(kind, ts_ms, out, dict(data or {}))

    @property
    def cause(self) -> tuple[int, str]:
        """When what caused the event happened, and who says so: ``(ms, "venue")`` when the
        venue stamped it, else the runner's observation ``(ts_ms, "runner")``. A page's latency
        (``killswitch_page_latency_seconds``) counts from it."""
        if self.cause_ms is None or self.cause_source not in CAUSE_SOURCES:
            return self.ts_ms, "runner"
        return self.cause_ms, self.cause_source

    def caused_at(self, ms: Optional[int], source: Optional[str]) -> "Event":
        """This event with the time of its cause (None, or a source not known: the runner's ``ts_ms``)."""
        if ms is None or source not in CAUSE_SOURCES:
            return self
        return replace(self, cause_ms=int(ms), cause_source=source)

    def cause_doc(self) -> dict[str, Any]:
        """The cause as a saved event document keeps it (empty when it is the runner's ``ts_ms``)."""
        return {} if self.cause_ms is None else {"cause_ms": self.cause_ms, "cause_source": self.cause_source}


# the labels a scope's name implies, by the level of the scope (a policy's ``scope.level``, or
# what the runner's catalog says a typed scope names): a route or a silence on ``venue`` matches
# every page of that venue, whatever level the policy keeps its stage machine at
SCOPE_LABELS = ("venue", "account", "strategy", "symbol")


def scope_labels(level: Optional[str], scope: str) -> dict[str, str]:
    """The labels a page about ``scope`` carries because of what the scope is: a venue scope
    (``binanceusdm``) its ``venue``; an account scope (``binanceusdm/main``) its ``venue`` and
    its ``account`` (the account's key, venue/account, as the Accounts document, locks and
    ``ksctl`` write it); a strategy scope its ``strategy``; a symbol scope its ``symbol``;
    ``global`` (and a level not known) none."""
    if not scope:
        return {}
    if level == "venue":
        return {"venue": scope}
    if level == "account":
        venue, sep, name = scope.partition("/")
        return {"venue": venue, "account": scope} if sep and venue and name else {}
    if level == "strategy":
        return {"strategy": scope}
    if level == "symbol":
        return {"symbol": scope}
    return {}


def console_runbook_path(incident: str) -> str:
    """Where the console opens an incident's runbook (``/#runbook=<id>``): the page reads it with
    the token typed into it, which a bare link to :func:`runbook_path` cannot carry."""
    return "/#runbook=" + quote(incident, safe="")


def runbook_path(incident: str) -> str:
    """Where the runner's API serves an incident's runbook. An incident is one stage entry, named
    by its decision id ("policy/scope/L3/e1"), which is the ``incident`` of a transition event."""
    return "/v1/runbooks/" + quote(incident, safe="")


class TickFacts(Protocol):
    """What a sink reads of a tick's report (the runner's ``TickReport``)."""

    now_ms: int  # the runner's clock at the tick (the decisions' time), UTC ms
    leader: bool
    fence: Optional[int]
    evaluation: Any  # the engine's Evaluation, None when this runner did not lead
    execution: Any  # what was journaled, sent, filled, refused, held
    snapshot_failures: list[str]
    started_ns: int  # wall clock, for spans
    ended_ns: int
    phases: dict[str, tuple[int, int]]
    events: list[Event]

    @property
    def transitions(self) -> list[Any]: ...  # the engine's evaluation of each scope that changed stage


class StoredRunbook(Protocol):
    """A runbook as the store keeps it (:class:`killswitch.state.store.RunbookRecord`): what a
    sink reads back of it, the incident data it was rendered from."""

    @property
    def data(self) -> Any: ...


class SinkStore(Protocol):
    """What a sink may read of the state store: the runner's
    :class:`~killswitch.state.store.StateStore` seen through a narrower protocol (this module
    sits below the state layer, and a sink has no business with the rest). Reads only: what a
    sink writes goes through its :class:`SinkContext`, fenced by the runner's token."""

    @property
    def url(self) -> str: ...  # with any password masked

    def runbook(self, incident: str) -> Optional[StoredRunbook]: ...

    def runbooks(self, since_ms: Optional[int] = None, until_ms: Optional[int] = None,
                 limit: int = 100) -> Sequence[StoredRunbook]: ...

    def journal_of(self, decision_id: str, since: int) -> Sequence[Any]: ...  # JournalEntry, oldest first

    def journal(self, limit: int = 100, since: Optional[int] = None) -> Sequence[Any]: ...  # JournalEntry

    # AuditRow, chain order (an incident's story: killswitch.runbooks.story)
    def audit_rows(self, since_ms: Optional[int] = None, kinds: Optional[Sequence[str]] = None,
                   limit: int = 1000, *, after_seq: int = 0) -> Sequence[Any]: ...

    def silences(self, ending_after_ms: Optional[int] = None) -> Sequence[Any]: ...  # Silence

    def audit_head(self) -> Optional[Any]: ...  # AuditHead: the chain's head (the audit anchor sink)


def every_audit_row(store: Any, since_ms: Optional[int], kinds: Optional[Sequence[str]], page: int,
                    **bounds: Any) -> Iterator[Any]:
    """Every row ``store.audit_rows`` reads (``bounds``: its further ones, ``until_ms``), in chain
    order, ``page`` rows a call: a state store's, or a sink's (:class:`SinkStore`)."""
    after = 0
    while True:
        rows = store.audit_rows(since_ms, kinds, page, after_seq=after, **bounds)
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].seq


class ReceiptWriter(Protocol):
    """Where the notification sink leaves its receipts: the runner's one audit writer
    (:meth:`SinkContext.audit_receipt`), or a stand-in where no runner runs (a test, a tool)."""

    def audit_receipt(self, kind: str, ts_ms: int, payload: dict[str, Any]) -> int:
        """Append a receipt; FencedError (nothing written) when another runner holds the lease."""


class SinkContext(Protocol):
    """What a sink may see of the runner that calls it. Read-only, except the writes it offers
    (audit rows, receipts, runbooks), each fenced by the runner's token."""

    @property
    def holder(self) -> str: ...

    @property
    def dry_run(self) -> bool: ...

    @property
    def graph(self) -> "DecisionGraph": ...

    def graph_of(self, policy: str) -> "DecisionGraph":
        """The graph that holds ``policy``: the running graph, or the firm-wide policies' graph a
        shard's firm link evaluates and tells through this runner's sinks (the running graph when
        neither holds it)."""

    @property
    def store(self) -> SinkStore: ...

    @property
    def sinks(self) -> Sequence["Sink"]: ...  # the runner's sinks: one finds the telemetry sink among them

    @property
    def snapshots(self) -> Mapping[str, "Snapshot"]: ...  # account key → its last snapshot

    def clock(self) -> int: ...

    def audit(self, kind: str, ts_ms: int, payload: dict[str, Any]) -> int:
        """Append an audit row through the runner's one audit writer: fenced by the token the
        runner last held, so a deposed leader's row is refused (``FencedError``) and nothing is
        written. A sink does not call the store's ``audit`` itself."""

    def audit_receipt(self, kind: str, ts_ms: int, payload: dict[str, Any]) -> int:
        """Append a notification's receipt, written by the delivery worker off the tick's
        timeline: fenced as :meth:`audit`, and also accepted under the newer token this runner
        took when its own lease lapsed (the same holder) before its tick took that token up. A
        deposed runner's receipt is refused (``FencedError``)."""

    def save_runbook(self, record: Any) -> None:
        """Store an incident's runbook (a :class:`killswitch.state.store.RunbookRecord`), in
        place of an earlier one of the same incident, fenced as :meth:`audit`: a deposed
        leader's runbook is refused (``FencedError``) and the leader's stays."""

    def stage(self, policy: str, scope: str) -> Any:
        """The stage state of a policy's scope instance (level, entries, ...), or None."""

    def account(self, key: str) -> Any:
        """The engine's state of an account (its data age), or None."""

    def lock_doc(self, scope: str, now_ms: int) -> dict[str, Any]:
        """The lock that binds ``scope`` at ``now_ms``, as the lock document shows it."""

    def lock_key(self, now_ms: int) -> tuple[Any, ...]:
        """What every scope's lock is made of, cheap to compare between two ticks: the lock book
        and the revokes (compared by identity: each change makes a new one), then plain values."""

    def residuals_of(self, incident: str) -> Sequence[Any]:
        """What the closes of ``incident`` left open and stopped closing."""

    def still_open_of(self, incident: str) -> Sequence[Any]:
        """The orders the cancels of ``incident`` meant to take that the venue still lists."""

    def silences(self) -> Sequence[Any]:
        """The silences in force now (:class:`killswitch.silences.Silence`): what the
        notification routes hold back and record as silenced."""


class Sink(Protocol):
    """What the runner hands its ticks and events to."""

    name: str

    def on_tick(self, report: TickFacts, ctx: SinkContext) -> None:
        """After every tick (leader or not). Must return quickly."""

    def on_event(self, event: Event, ctx: SinkContext) -> None:
        """An event outside the tick's own report (also called for each event of a tick)."""

    async def aclose(self) -> None:
        """Flush what can be flushed within a short time, then stop."""


@runtime_checkable
class StatefulSink(Protocol):
    """A sink that keeps state across restarts and takeovers: ``state_doc()`` is saved with the
    engine state every tick, under the sink's name."""

    name: str

    def state_doc(self) -> dict[str, Any]: ...


@runtime_checkable
class RestoringSink(Protocol):
    """A sink told when its runner starts leading from a saved state (a restart, a takeover):
    ``restore_state(doc, ctx)`` with what its ``state_doc`` saved (None when nothing was, or
    when it saves nothing and reads what it needs from the store)."""

    name: str

    def restore_state(self, doc: Optional[dict[str, Any]], ctx: SinkContext) -> None: ...



@runtime_checkable
class HoldingSink(Protocol):
    """A sink whose effect of an event must survive a crash (a page, a stored runbook):
    ``holds(event)`` is True once that effect is in what the sink keeps — its ``state_doc``, saved
    with the engine state, or the store — so that the runner may stop owing the event (see
    :mod:`killswitch.runner.sinks.entries`). Until then the runner that carries on tells it the event
    again, marked ``resumed``."""

    def holds(self, event: Event) -> bool: ...


@runtime_checkable
class CollectingSink(Protocol):
    """A sink whose metric families go into the one registry of ``/metrics`` at each scrape
    (:class:`killswitch.metrics.Registry`: ``sampled`` families, or ``include`` of its own)."""

    def collect_metrics(self, registry: Any) -> None: ...


@runtime_checkable
class ReloadingSink(Protocol):
    """A sink that follows the policy documents (the notification routes live among them):
    called with the documents of every graph a reload swaps in."""

    name: str

    def reload(self, documents: Sequence[Any]) -> None: ...


@runtime_checkable
class ReportingSink(Protocol):
    """A sink with something to say in the runner's status (the notification sink: the
    receivers whose pages are failing): ``status_fields()`` gives fields of ``RunnerStatus`` as
    plain values (dicts, lists, numbers), which the runner's view types."""

    def status_fields(self) -> dict[str, Any]: ...


# the label a page in force carries once its group notified it (:meth:`PagingSink.pages_in_force`):
# a silence made now holds back only its reminders and resolution. Not a label a matcher can name.
SENT_LABEL = "__sent__"
# the label of a page in force whose latest notification to its receiver failed every attempt: not
# sent, and a silence made now holds back its retries (:meth:`PagingSink.pages_in_force`)
FAILED_LABEL = "__failed__"


@runtime_checkable
class PagingSink(Protocol):
    """A sink that holds pages in force (the notification sink's groups): each page's labels
    and the receiver it goes to, so that a silence can say what it would hold back now (one
    notified already with :data:`SENT_LABEL`)."""

    def pages_in_force(self) -> list[tuple[Mapping[str, str], str]]: ...
