"""The runner's reads, worked out from the book: status, readiness, the lock document, a pre-trade
decision and the metrics (the values they answer are :mod:`killswitch.view`'s).

What it owns: the reads an operator, a bot or Prometheus makes of a runner, each derived from
the book and the parts as they are now (counts, ages and statuses come from stored facts, so a
human's view agrees with the journal): the status (mode, leadership, graph, scopes and their
stages, data ages, resumptions, the dead man's switch, residuals), readiness, the lock document
with the resumed limits in force, the pre-trade gate's decision, every trigger with its
comparisons against the last evaluated values, the open incidents with what the store recorded
of them (approvals, orders with their latest result — on a dry run, the orders it planned
instead, from the audit trail (:mod:`killswitch.runner.venue.planned`) — runbook, residuals), and ``/metrics``: one
registry with the runner's own families, the lease thread's and the sinks'.

Must not: change anything. A read never waits for the operator turn (see
:class:`~killswitch.runner.lease.leadership.Turn`).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import replace
from typing import Any, Callable, Mapping, Optional, Sequence

from ...compile.windows import window_rows
from ...engine.stages import decision_id
from ...facts import standing
from ...metrics import CollectedPage, Registry, exposition, runner_registry
from ...runner.book.resuming import Resumptions
from ...runner.book.revoke_state import permission_status
from ...runner.book.view import BookView
from ...runner.effects.countdowns import Countdowns
from ...runner.gate.gate import binding_lock
from ...runner.gate.limits_state import LimitsState
from ...runner.gate.request import Decision, lock_keys
from ...runner.lease.leadership import Leadership
from ...runner.lease.stored import StoredLocks
from ...runner.silence.check import incident_labels
from ...runner.silence.silences import holding_back
from ...runner.sinks.context import stage_incidents
from ...runner.sinks.fanout import SinkFanout
from ...runner.storeio import StoreIO
from ...runner.sync.tracker import PolicySync
from ...runner.tick.pace import Pace
from ...runner.venue.catalog_build import Known
from ...runner.venue.fetches import FetchHealth
from ...runner.venue.planned import PlannedOrders
from ...runner.venue.streams import StreamWatch
from ...runner.watch.pretrade import Pretrade
from ...state.store import StateStore
from ...view import (
    ApprovalRow,
    IncidentStatus,
    OrderRow,
    ReceiverFailure,
    ResidualStatus,
    RunnerStatus,
    StillOpenStatus,
    TriggerStatus,
)
from ...view.coverage import coverage_rows
from ...view.dms import DMS_SHOWN
from ...view.overrides import override_status
from ...view.scopes import ack_fields, leave_facts, relatch_status, scope_rows, stage_facts as stage_facts
from ...view.triggers import trigger_statuses
from .gauges import collect_book_families, collect_sync_families
from .weights import VenueWeights

MAX_INCIDENT_ORDERS = 200  # orders listed per incident (the latest); its counts cover them all
MAX_MANUAL_CLOSES_SHOWN = 5  # the latest manual closes shown among the open incidents
SHOWN_OVERRIDES_MS = 86_400_000  # ended overrides of the limits shown in the status for a day


class Readout:
    """See the module doc. ``policy_error()``: why the last reload failed, if it did."""

    def __init__(self, book: BookView, lead: Leadership, countdowns: Countdowns, resumptions: Resumptions, known: Known,
                 fanout: SinkFanout, store: StateStore, io: StoreIO, *, clock: Callable[[], int], dry_run: bool,
                 counters: dict[str, int], policy_error: Callable[[], Optional[str]],
                 manual_closes: Callable[[], Mapping[str, dict]],
                 reloads: Callable[[], tuple[Optional[int], Optional[int]]], fetches: FetchHealth,
                 streams: StreamWatch, limits: LimitsState, collectors: Sequence[Any],
                 shard: Optional[str], modes: Any, rejections: Any, pace: Pace, pretrade: Pretrade,
                 violations: Callable[[], dict], load: Callable[[], dict] = dict,
                 stored: StoredLocks, sync: PolicySync):
        self.book = book
        # the pre-trade gate the runner keeps (runner/watch/pretrade.py): its published view, its
        # checks on the loop, and the refusals it counted
        self.pretrade = pretrade
        self.gate, self.counted = pretrade.gate, pretrade.counted
        self.lead = lead
        self.countdowns = countdowns
        self.resumptions = resumptions
        self.known = known
        self.fanout = fanout
        self.store = store
        self.io = io
        self.clock = clock
        self.dry_run = dry_run
        self.counters = counters
        self.policy_error = policy_error
        self.manual_closes = manual_closes  # close id → what ManualCloses tracks of it, oldest first
        self.reloads = reloads  # (when the running graph was loaded, when the last reload failed or None)
        self.fetches, self.streams = fetches, streams
        self.stored = stored  # operator locks stored while no runner led, waiting for a leader
        self.sync = sync  # what runs per document, the newest sources handed, the drift verdict
        self.guards = pretrade.guards  # the accounts no running policy's scope selects (UNGUARDED)
        # the runner's own registry (never prometheus_client's global one): its families built at
        # each scrape (collect_families), then the process's and the platform's
        self.registry = runner_registry(self.collect_families)
        self._runbooks: set[str] = set()  # incidents known to have a stored runbook (one is never removed)
        self.planned = PlannedOrders(store, io, keep=MAX_INCIDENT_ORDERS)  # a dry run's orders, from the audit
        # more families for /metrics (``collect_metrics(registry)``); the desk adds the process's
        self.collectors: list[Any] = list(collectors)
        self.load = load  # the load shed's status (runner/tick/shed.py)
        self.weights = VenueWeights(known.venues)  # REST weight a minute per venue
        # the gate's limit tables and message buckets (the venue watch checks orders against them too)
        self.limits = limits
        self.shard = shard  # the shard this runner runs (``ksctl run --shard``)
        # the accounts' position modes (runner/venue/modes.py) and the closes the venues refused
        # (runner/book/rejections.py)
        self.modes = modes
        self.rejections = rejections
        self.pace = pace  # the interval the runner ticks at (runner/tick/pace.py)
        # the venue watch's violations ({"total", "recent"}:
        # :meth:`~killswitch.runner.watch.enforcement.Enforcement.status`)
        self.violations = violations

    def status(self, dms_shown: Optional[int] = DMS_SHOWN) -> RunnerStatus:
        """The runner's status; its dead man's switch summarised to the ``dms_shown`` most urgent
        sources (None: every one, :meth:`Countdowns.status`)."""
        book = self.book
        now = self.clock()  # one now for the whole answer
        scopes = scope_rows(book, now)
        # the engine's rule (a frozen feed ages from its last change), so status and triggers agree
        ages = {k: round(age / 1000, 3) for k, a in sorted(book.state.accounts.items())
                if (age := a.data_age_ms(now)) is not None}
        residuals = tuple(_residual(r, self.rejections) for r in book.residuals)
        sinks = self.fanout.status_fields()
        loaded_ms, failed_ms = self.reloads()
        error = self.policy_error()
        # whether it leads as of now by its own clock (see Leadership.term_holds), not as of the
        # tick's last look at the lease: a tick stuck on a store that stopped answering says nothing
        st = RunnerStatus("dry-run" if self.dry_run else "live", self.lead.term_holds(), self.lead.fence,
                          book.graph.digest, book.graph.revision, error, book.state.last_tick_ms,
                          tuple(scopes), ages, self.resumptions.status(now), self.countdowns.status(dms_shown),
                          residuals, coverage_rows(book), still_open=tuple(_still_open(r) for r in book.still_open),
                          fetch_errors=self.fetches.status(), streams=self.streams.status(),
                          pages_failing=tuple(ReceiverFailure(**f) for f in sinks.get("pages_failing", ())),
                          pages_failing_since_ms=sinks.get("pages_failing_since_ms"),
                          reload_ok=error is None, last_good_reload_ms=loaded_ms,
                          reload_failed_ms=failed_ms if error is not None else None,
                          tick_interval_s=self.pace.pace_s(),
                          holder=self.lead.holder, lease_holder=self.lead.lease_holder,
                          venue_weight=self.weights.status(), shard=self.shard,
                          trading=permission_status(book.revokes),
                          lock_violations=self.violations(),
                          violation_counts=book.state.tally.shown(now, read=counts_read(book.graph)),
                          load=self.load(),
                          locks_stored=self.stored.status(),
                          position_modes=self.modes.status(), close_rejections=tuple(self.rejections.status()),
                          policy_sync=self.sync.status(),
                          unguarded=self.guards.now(),
                          windows=tuple(window_rows(book.graph, now)), audit_sinks=self.collected("audit_sinks"),
                          overrides=tuple(override_status(o, now) for o in self.limits.listed
                                          if (o.ended_ms or o.expires_ms) > now - SHOWN_OVERRIDES_MS))
        return replace(st, facts=standing(st))  # said once, from the values above: the list every screen iterates

    def collected(self, key: str) -> dict:
        """The status field ``key`` that one of the /metrics collectors also gives (its
        ``status_key`` and ``status()``: the audit sinks', ``--audit-sink``); {} without one."""
        return next((c.status() for c in self.collectors if getattr(c, "status_key", None) == key), {})

    def triggers(self) -> tuple[TriggerStatus, ...]:
        """Every trigger of every policy instance the state holds: firing (the stored trigger
        state) and its comparisons against this runner's last evaluated values."""
        return trigger_statuses(self.book.node, self.book.state, self.book.evaluation)

    async def incidents(self) -> tuple[IncidentStatus, ...]:
        """The stage entry every engaged scope is in, then the latest manual closes, each with
        what the store recorded of it: reset approvals, its orders with their latest result,
        whether a runbook is stored, and the residuals it left. Costs two or three store reads
        per incident (on the store thread, queued with the tick's writes): the console asks
        every 2 s per open page."""
        book = self.book
        now = self.clock()  # one now for every incident
        out = []
        for key, ss in sorted(book.state.scopes.items()):
            level = ss.stage.level
            if level <= 0:
                continue
            policy, _, scope = key.partition("|")
            name, manual, needed = stage_facts(book.node(policy), ss)
            incident = decision_id(policy, scope, level, ss.stage.entries)
            # the stage's first entry, as the status says; a cooldown re-run (a later entry at the
            # same level, the incident id it runs under) is said beside it
            since = ss.stage.entered_ms
            last = ss.stage.last_entry_ms.get(level)
            rerun = last if last is not None and since is not None and last > since else None
            rows = await self.io(self.store.approvals, f"{key}|e{ss.stage.entries}", level) if manual else []
            approvals = tuple(ApprovalRow(a.approver, a.reason, a.ts_ms) for a in rows)
            leaves = leave_facts(book, policy, scope, ss, manual, now)
            out.append(replace(await self._incident(incident, "stage", policy, scope, level, name, since, manual,
                                                    needed, approvals), **leaves, rerun_ms=rerun,
                               continues=relatch_status(ss)))
        for close_id, info in list(self.manual_closes().items())[-MAX_MANUAL_CLOSES_SHOWN:]:
            out.append(await self._incident(close_id, "manual_close", None, info["scope"], 0, None,
                                            info["requested_ms"], False, 0, (), info.get("by")))
        self.planned.keep_only(i.incident for i in out)
        return tuple(out)

    async def _incident(self, incident: str, kind: str, policy: Optional[str], scope: str, level: int,
                        stage_name: Optional[str], since: Optional[int], manual: bool, needed: int,
                        approvals: tuple[ApprovalRow, ...], requested_by: Optional[str] = None) -> IncidentStatus:
        entries = await self.io(self.store.journal_of, incident, since or 0)
        if kind == "stage" and incident not in self._runbooks and \
                await self.io(self.store.runbook, incident) is not None:
            self._runbooks.add(incident)
        statuses = Counter(e.status or "pending" for e in entries)
        residuals = tuple(_residual(r, self.rejections) for r in self.book.residuals.for_incident(incident))
        planned, planned_total = await self.planned.of(incident, since or 0) if self.dry_run else ((), 0)
        open_ = stage_incidents(self.book) | set(self.manual_closes())
        held = holding_back(self.book, {**incident_labels(self.book, policy, scope, level), "incident": incident},
                            self.clock(), open_) if kind == "stage" and policy is not None else ()
        ack, acks = ack_fields(self.book.acks.get(incident))
        return IncidentStatus(incident, kind, policy, scope, level, stage_name, since, manual, needed, approvals,
                              incident in self._runbooks, _orders(entries[-MAX_INCIDENT_ORDERS:]), len(entries),
                              dict(sorted(statuses.items())), residuals, planned, planned_total, requested_by,
                              ack=ack, acks=acks, silenced_by=held,
                              still_open=tuple(_still_open(r) for r in self.book.still_open.for_incident(incident)))

    async def ready(self) -> tuple[bool, str]:
        """Readiness, answered at once whatever the store does: never behind a store call that
        hangs. With the lease thread (``ksctl run``) from what it and the store thread know —
        the term ran out unrenewed (``LEASE_LOST``), the store has not answered either for a
        term (``STATE_UNREACHABLE``) — and without one (tests, the demo) from a read of the
        lease, given at most a term to answer. Then ``NO_TICK_YET``; else ready, as ``LEADER``
        or ``STANDBY``."""
        lead = self.lead
        keeper = lead.keeper
        term_s = (keeper.term_ms if keeper is not None else lead.lease_ttl_ms * 2 // 3) / 1000
        why = keeper.not_ready() if keeper is not None else None
        if why is not None:
            return False, why
        waited = self.io.unanswered_s()
        if waited > term_s:
            return False, f"STATE_UNREACHABLE: a store call of this runner has had no answer for {waited:.1f}s"
        if keeper is None:
            try:
                await asyncio.wait_for(self.io(self.store.current_fence), max(term_s, 0.1))
            except asyncio.TimeoutError:
                return False, f"STATE_UNREACHABLE: the state store did not answer within {term_s:.1f}s"
            except Exception as e:  # noqa: BLE001 - readiness reports, it does not raise
                return False, f"STATE_UNREACHABLE: {type(e).__name__}"
        if self.book.state.last_tick_ms is None:
            return False, "NO_TICK_YET"
        return True, "LEADER" if lead.term_holds() else "STANDBY"

    def lock_document(self, scope: Optional[str] = None) -> dict:
        """The lock (all of it, or what binds ``scope``: as the gate reads it, that scope's,
        ``global``'s and, for an account, its venue's), with the resumed limits of the same
        scopes and the policies' pre-trade limits in force (``limits``: only when a policy sets
        some)."""
        now = self.clock()
        lock = self.book.lock_book
        if scope is None:
            doc = {**lock.to_doc(now), "resuming": self.resumptions.doc(now)}
        else:
            doc = {**binding_lock(lock, scope, now).to_doc(),
                   "resuming": self.resumptions.doc(now, scope, lock_keys(scope=scope))}
        graph = self.book.graph
        if self.limits.for_gate(graph, self.book.snapshots) is not None:
            doc["limits"] = self.limits.doc(graph, self.book.snapshots, scope)
        return doc

    def check_order(self, request: dict, counted: bool = True) -> Decision:
        """The gate on the loop, against the book as it is now (:meth:`Pretrade.check_order`)."""
        return self.pretrade.check_order(request, counted)

    def metrics_text(self) -> str:
        """``/metrics``: the runner's registry (see :mod:`killswitch.metrics`), as text."""
        return exposition(self.registry)

    def metrics_page(self) -> CollectedPage:
        """``/metrics``'s first part, on the loop: the families collected (the values read); the
        text is written from them off the loop (:meth:`CollectedPage.render`)."""
        return self.registry.collected()

    def collect_families(self, reg: Registry) -> None:
        """The runner's families, built at the scrape: its own, then the lease thread's, then the
        sinks' in their order (the process's and the platform's follow, from the library)."""
        c, state, now = self.counters, self.book.state, self.clock()
        reg.sampled("killswitch_ticks_total", "counter", "Ticks this runner has run since it started.") \
            .add(c["ticks"])
        reg.sampled("killswitch_leader", "gauge", "1 while this runner holds the lease and acts, 0 as a standby "
                    "(and from the moment its term ran out unrenewed, by its own clock).") \
            .add(int(self.lead.term_holds()))
        orders = reg.sampled("killswitch_orders_total", "counter",
                             "Orders of this runner by result (sent, filled, rejected, unknown).", ("result",))
        for result in ("sent", "filled", "rejected", "unknown"):
            orders.add(c["orders_" + result], result=result)
        self.fetches.collect_metrics(reg)  # snapshot failures by venue, account and reason; fetch ok per account
        self.streams.collect_metrics(reg)  # the private streams: connected, message age, reconnects, drops, reconciles
        reg.sampled("killswitch_store_failures_total", "counter",
                    "Ticks and other steps stopped by a state store error (the state was read back after).") \
            .add(c["store_failures"])
        stage = reg.sampled("killswitch_stage", "gauge", "The stage level of each policy and scope (0: none).",
                            ("policy", "scope"))
        for key, ss in sorted(state.scopes.items()):
            policy, _, scope = key.partition("|")
            stage.add(ss.stage.level, policy=policy, scope=scope)
        age = reg.sampled("killswitch_data_age_seconds", "gauge",
                          "Age of the last good snapshot of each account (below 0: the venue's clock is ahead).",
                          ("account",))
        for k, a in sorted(state.accounts.items()):
            if (ms := a.data_age_ms(now)) is not None:
                age.add(ms / 1000, account=k)
        reg.sampled("killswitch_sink_errors_total", "counter",
                    "Calls to a sink that raised (the runner went on).").add(self.fanout.errors)
        reg.sampled("killswitch_dms_fired_total", "counter", "Times a dead man's switch fired.").add(c["dms_fired"])
        refused = reg.sampled("killswitch_heartbeats_refused_total", "counter",
                              "Heartbeats this runner refused, by reason: UNKNOWN_SOURCE (nothing names the source), "
                              "SOURCES_FULL (a new source past the bound on sources held).", ("reason",))
        for reason, n in sorted(self.countdowns.sources.counts.items()):
            refused.add(n, reason=reason)
        until = reg.sampled("killswitch_dms_seconds_until_fire", "gauge",
                            "Seconds until each armed dead man's switch fires without a beat.", ("source",))
        for name, st in self.book.dms.status(now).items():
            if st.armed and st.fires_in_s is not None:
                until.add(st.fires_in_s, source=name)
        loaded_ms, _ = self.reloads()
        # build and reload info, locks, triggers, signals and thresholds (see gauges.py)
        collect_book_families(reg, self.book, now, self.known.venues, loaded_ms=loaded_ms,
                              reload_ok=self.policy_error() is None)
        collect_sync_families(reg, self.sync.status())
        # a family of its own, as build_info: a label there would split its series; declared
        # without a sample by a runner of no shard (the alert rules name it whatever the release)
        info = reg.sampled("killswitch_shard_info", "gauge", "1, labelled with the shard this runner runs "
                           "(ksctl run --shard): its accounts, its lease and its schema.", ("shard",))
        if self.shard is not None:
            info.add(1, shard=self.shard)
        self.lead.lease_log.collect_metrics(reg)  # the lease taken and lost, and the token
        if self.lead.keeper is not None:  # renewals, failures and loop stalls of the lease thread
            self.lead.keeper.collect_metrics(reg)
        self.fanout.collect_metrics(reg)
        self.weights.collect_metrics(reg)
        for collector in self.collectors:
            collector.collect_metrics(reg)

COUNTING_KINDS = frozenset({"gate_refusals", "venue_violations"})  # the signal kinds reading the tally


def counts_read(graph: Any) -> bool:
    """Whether a running policy reads the counted refusals and violations (a signal of a counting
    kind): only then is a count that cannot be told a blind spot status names."""
    return any(s.kind in COUNTING_KINDS for p in graph.policies for s in p.signals)


def _residual(r: Any, rejections: Any) -> ResidualStatus:
    """A residual, with who accepted its refused close, when and why (runner/book/rejections.py)."""
    return ResidualStatus(r.incident, r.policy, r.scope, r.account, r.symbol, r.side, r.position_side, r.amount,
                          r.why, r.detail, r.since_ms, r.as_of_ms, rejections.acceptance(r.key),
                          getattr(r, "shortfall", None))


def _still_open(r: Any) -> StillOpenStatus:
    return StillOpenStatus(r.account, r.order_id, r.symbol, r.side, r.left, r.said, r.cause, r.incident, r.policy,
                           r.scope, r.since_ms, r.as_of_ms, r.client_id, r.price)


def _orders(entries: Sequence[Any]) -> tuple[OrderRow, ...]:
    return tuple(OrderRow(e.client_order_id, e.decision_id, f"{e.venue}/{e.account}", e.symbol, e.side,
                          e.position_side, e.amount, e.reduce_only, e.status or "pending", e.filled, e.avg_price,
                          e.reason_code, e.created_ms, e.updated_ms,
                          e.detail if e.status in ("rejected", "failed") else None, _why(e)) for e in entries)


def _why(e: Any) -> Optional[str]:
    """Why a journaled order was sent: its intent's reason code (the action's), or the action."""
    try:
        p = json.loads(e.payload_json) if e.payload_json else {}
    except ValueError:
        return None
    if not isinstance(p, dict):
        return None
    said = p.get("reason") or p.get("action")
    return str(said) if said else None
