"""The one place that builds what a runner needs: the Accounts document, the venue adapters, the
state store, the sinks and the runner itself.

What it owns: how each collaborator is made from options, for every entry point — ``ksctl run``
(:mod:`killswitch.process.daemon`), ``ksctl demo``, ``ksctl plan`` and the benches — so that the
wiring is written once: an account whose credential cannot be read fails alone (its snapshots
fail, a signal the policies react to) instead of stopping the others; the sinks come in the
order the runner relies on (telemetry first, notifications last, so every other sink has seen an
event before it is paged); a missing runbook directory or a receiver without its secret is said
at start and does not keep the kill switch from guarding the book.

Must not: start anything (no tick, no API, no lease thread: the entry points decide when), print
a secret (messages name a credential's reference, never its value), or be imported by the pure
core. ccxt, apprise and OpenTelemetry are imported only inside the builders that need them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import EllipsisType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, NamedTuple, Optional, Sequence

from ..sources import MAX_FILE_BYTES, compile_sources

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from adapters.base import AdapterError, ExchangeAdapter

    from ..compile.compiler import CompileResult
    from ..compile.graph import DecisionGraph
    from ..events import Sink
    from ..face.desk.desk import Desk
    from ..firmlink.ports import ShardPorts
    from ..runner.sync.tracker import StartSources
    from ..runner.tick.loop import Runner
    from ..runner.tick.parts import RunnerParts
    from ..runner.venue.port import Venues
    from ..state.store import StateStore

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class AccountsError(ValueError):
    """The Accounts document cannot be used; ``diagnostics`` are the compiler's findings."""

    def __init__(self, message: str, diagnostics: Sequence[Any] = ()):
        super().__init__(message)
        self.diagnostics = list(diagnostics)


def read_accounts(path: str, max_file_bytes: int = MAX_FILE_BYTES) -> Any:
    """The spec of the one Accounts document in ``path`` (accounts, dry_run); AccountsError if
    the file holds findings or not exactly one Accounts document."""
    return read_accounts_file(path, max_file_bytes)[0]


def read_accounts_file(path: str, max_file_bytes: int = MAX_FILE_BYTES) -> tuple[Any, list]:
    """:func:`read_accounts`'s spec and the file's loaded documents (with their positions), so
    that a command checking the accounts further reads the file once."""
    from ..policy.accounts_doc import Accounts

    res = compile_sources((path,), max_file_bytes=max_file_bytes)[0]
    docs = [d.model for d in res.docs if isinstance(d.model, Accounts)]
    if res.errors or len(docs) != 1:
        raise AccountsError(f"{path} must hold exactly one valid Accounts document", res.errors)
    return docs[0].spec, list(res.docs)


@dataclass
class Adapters:
    """The venue adapters of an Accounts document, by account key ``venue/name``, and the
    accounts whose credential could not be read (with why: never the secret)."""

    by_key: dict[str, "ExchangeAdapter"] = field(default_factory=dict)
    unreadable: list[tuple[Any, "AdapterError"]] = field(default_factory=list)

    async def close(self) -> None:
        for a in self.by_key.values():
            await a.close()


def mark_endpoint(acc: Any, urls: Optional[str] = None) -> Optional[tuple]:
    """The venue endpoint whose public marks a streamed account reads (None: it does not stream)."""
    stream = getattr(acc, "stream", None)
    if stream is None or not stream.enabled:
        return None
    return acc.venue, acc.market_type, getattr(acc, "sandbox", False), urls if urls is not None else acc.api_url


def shared_mark_endpoints(accounts: Sequence[Any], urls: Optional[str] = None) -> set[tuple]:
    """The endpoints two or more streamed accounts read marks from: they share one subscription
    (adapters/ccxt_exchange/streaming/hub.py) rather than each reading every mark again."""
    seen: dict[tuple, int] = {}
    for acc in accounts:
        at = mark_endpoint(acc, urls)
        if at is not None:
            seen[at] = seen.get(at, 0) + 1
    return {at for at, n in seen.items() if n >= 2}


def ccxt_adapters(accounts: Iterable[Any], *, timeout: Optional[float] = None, urls: Optional[str] = None,
                  rate_limit: bool = True, defer_unreadable: bool = True) -> Adapters:
    """One ccxt adapter per account (of an Accounts document's spec). ``urls`` overrides every account's API URL (the
    simulated exchange's HTTP face); ``rate_limit`` False leaves pacing to the venue (the
    simulated one enforces its own limits in simulated time). An account whose credential cannot
    be read gets, with ``defer_unreadable``, an adapter that fails its snapshots and retries the
    credential at every call (the runner keeps guarding the others); without it, it is listed
    in ``unreadable`` and left out (a preview reports it). An account on a venue with rate tiers
    that names none is paced at the lowest, and RATE_TIER_ASSUMED says so. An account with ``paced_by_venue``
    and an ``api_url`` is left to its venue's pacing too (without the URL: KS224, and the client
    paces it all the same); the order budget paces every account's orders."""
    from adapters.base import AdapterError
    from adapters.ccxt_exchange import CcxtAdapter
    from adapters.deferred import DeferredAdapter

    accounts = list(accounts)
    shared = shared_mark_endpoints(accounts, urls)

    def make(acc: Any) -> Any:
        kw: dict[str, Any] = {"urls": urls if urls is not None else acc.api_url}
        if mark_endpoint(acc, urls) in shared:
            kw["share_marks"] = True
        if timeout is not None:
            kw["timeout"] = timeout
        if not rate_limit or _paced_by_venue(acc):
            kw["ccxt_rate_limit"] = False
        return CcxtAdapter(acc, **kw)

    from adapters.ccxt_exchange.dialects import DIALECTS

    out = Adapters()
    for acc in accounts:
        key = f"{acc.venue}/{acc.name}"
        if rate_limit and _paced_by_venue(acc):
            logging.getLogger("killswitch.runner").info(
                "VENUE_PACED: %s: requests paced by the venue at %s (paced_by_venue), not by the client; "
                "orders by the order budget", key, acc.api_url)
        if acc.venue not in DIALECTS:
            logging.getLogger("killswitch.runner").warning(
                "VENUE_GENERIC: %s: %s has no dialect of its own: its lists are read by ccxt's unified calls, "
                "whose pages, settle-coin splits and separate conditional-order lists are not checked (a book "
                "can read short); dialects: %s", key, acc.venue, ", ".join(sorted(DIALECTS)))
        elif DIALECTS[acc.venue].rate_tiers and getattr(acc, "rate_tier", None) is None:
            tiers = tuple(DIALECTS[acc.venue].rate_tiers)
            logging.getLogger("killswitch.runner").warning(
                "RATE_TIER_ASSUMED: %s: no rate_tier: paced as a %s key, the lowest of %s's tiers (%s); set "
                "rate_tier to the account's own (KS226)", key, tiers[0], acc.venue, ", ".join(tiers))
        try:
            out.by_key[key] = make(acc)
        except AdapterError as e:  # its message names the reference, never the secret
            out.unreadable.append((acc, e))
            if defer_unreadable:
                out.by_key[key] = DeferredAdapter(acc, partial(make, acc), e)
    return out


async def reader_adapters(accounts: Iterable[Any], readers: int) -> tuple[Adapters, Any]:
    """:func:`ccxt_adapters` built in ``readers`` reader processes (adapters/remote/): the accounts
    of one mark endpoint kept together, each process building its own with that function's
    defaults; the decider's adapters (each asking its reader) and the pool that keeps the
    readers running. The accounts whose credential could not be read are each reader's to
    report (their snapshots fail with the reason, as here)."""
    from adapters.remote import ReaderPool, deal

    accounts = list(accounts)
    by_key = {f"{acc.venue}/{acc.name}": acc for acc in accounts}
    groups = deal(((k, mark_endpoint(a) or (a.venue,)) for k, a in by_key.items()), readers)
    pool = ReaderPool([(keys, partial(ccxt_adapters, [by_key[k] for k in keys])) for keys in groups])
    remote = await pool.start()
    out = Adapters(by_key={k: remote[k] for k in by_key if k in remote})
    for acc in accounts:
        inner = out.by_key.get(f"{acc.venue}/{acc.name}")
        error = getattr(inner, "unreadable", None)
        if error is not None:
            out.unreadable.append((acc, error))
    return out, pool


async def venue_adapters(accounts: Sequence[Any], readers: int, err: Say = _quiet) -> tuple[Optional[Adapters], Any]:
    """``ksctl run``'s adapters and their reader pool: in ``readers`` reader processes (-1: one per
    usable core beyond the decider's, adapters/remote/link.py), else (0, or no account) in this
    process; each account whose credential cannot be read said to ``err`` (it fails alone, the
    others are guarded). (None, None), said, when the readers do not start."""
    if readers < 0:
        from adapters.remote import default_readers

        readers = default_readers(len(accounts))
    pool = None
    if readers == 0 or not accounts:
        built = ccxt_adapters(accounts)
    else:
        try:
            built, pool = await reader_adapters(accounts, readers)
        except Exception as e:  # noqa: BLE001 - said in one line: the start stops, nothing half-built runs
            err(f"ksctl run: READERS_FAILED: {readers} reader process(es) did not start "
                f"({type(e).__name__}: {e}); nothing started (--readers 0 reads in this process)")
            return None, None
    for acc, why in built.unreadable:
        err(f"ksctl run: ACCOUNT UNREADABLE: {acc.venue}/{acc.name}: {why.reason.value}: {why.message}; "
            "its snapshots fail (a signal the policies react to) and nothing is sent to it until "
            "the credential can be read")
    return built, pool


def _paced_by_venue(acc: Any) -> bool:
    """The account says the venue at its ``api_url`` paces requests itself; never without the URL
    (a public venue: KS224 at validate, and here the client's pacing is kept)."""
    return bool(getattr(acc, "paced_by_venue", False)) and getattr(acc, "api_url", None) is not None


def open_state(url: str, *, audit_key_file: Optional[str] = None, err: Say = _quiet, audit_key: Any = None,
               schema: Optional[str] = None) -> Any:
    """The state store at ``url``, anchored by the audit key of ``audit_key_file`` or
    ``KS_AUDIT_KEY`` (or ``audit_key`` as given); neither: unanchored, which ``err`` is told.
    ``schema``: a shard's own PostgreSQL schema (``ksctl run --shard``)."""
    from ..state import open_store

    if audit_key is None:
        from ..audit.key import audit_key_or_none

        audit_key = audit_key_or_none(audit_key_file, err)
    return open_store(url, audit_key=audit_key, schema=schema)


@dataclass
class SinkOptions:
    policies: tuple[str, ...] = ()  # where runbooks/ is looked for when ``runbooks`` is not given
    runbooks: Optional[str] = None  # the runbook templates directory
    external_url: Optional[str] = None  # the base of the runbook links in pages
    audit_anchor_every_ms: Optional[int] = 5 * 60_000  # None: no audit anchor sink
    clock: Optional[Callable[[], int]] = None  # the notifications' clock (a manual one in the demo)


def runner_sinks(result: CompileResult, store: "StateStore", options: SinkOptions, *, echo: Say = _quiet,
                 err: Say = _quiet, warn: Optional[Say] = None) -> list["Sink"]:
    """The sinks, in the order the runner hands them each tick: telemetry (traces from the
    ``OTEL_*`` environment, and /metrics), the audit anchor (the head exported to the log and
    /metrics, beyond the database's reach), runbooks (rendered and stored on every stage entry),
    notifications (last, so the others have seen an event before it is paged). ``warn``: what
    the runner runs on with but should not (no audit key), at the WARNING level; ``err`` when None."""
    from ..telemetry import TelemetrySink

    sinks: list = [TelemetrySink.from_env()]
    echo(f"ksctl run: {sinks[0].describe()}")
    if options.audit_anchor_every_ms is not None:
        from ..audit.anchor import AuditAnchorSink

        anchor = AuditAnchorSink(store, echo, err, every_ms=options.audit_anchor_every_ms, warn=warn)
        anchor.announce()
        sinks.append(anchor)
    from ..runbooks.sink import RunbookSink
    from ..runbooks.templates import find_runbooks_dir

    rb_dir = options.runbooks or find_runbooks_dir(options.policies)
    if rb_dir and not Path(rb_dir).is_dir():
        err(f"ksctl run: error: runbook templates directory {rb_dir} does not exist: the built-in runbook is used")
        rb_dir = None
    sinks.append(RunbookSink(Path(rb_dir) if rb_dir else None))
    if rb_dir:
        echo(f"ksctl run: runbook templates {rb_dir}")
    else:  # a policies path outside the repository: the templates its policies name are not there
        (warn or err)("ksctl run: WARNING: runbook templates not found beside the policies: every incident gets the "
                      "built-in runbook (the repository's runbooks/default.md.j2), also where a policy names a "
                      "template of its own; give --runbooks DIR (the repository's runbooks/) for those")
    from ..notify.sink import NotifyOptions, NotifySink
    from ..policy.routes_doc import NotificationRoutes

    routes = [d.model for d in result.docs if isinstance(d.model, NotificationRoutes)]
    if not routes:
        err("ksctl run: no NotificationRoutes document among the policies: nobody will be notified")
        return sinks
    # A receiver whose secret is missing is an error said at start, but it does not keep the kill
    # switch from guarding the book: its pages fail at once, with a receipt, to the fallback.
    kw: dict[str, Any] = {} if options.clock is None else {"clock": options.clock}
    # its receipts go through the runner it is handed to (SinkContext.audit_receipt), fenced
    notify = NotifySink.from_documents(routes, options=NotifyOptions(external_url=options.external_url),
                                       strict=False, **kw)
    for problem in notify.problems:
        err(f"ksctl run: error: {problem}; its notifications go to the fallback receiver")
    sinks.append(notify)
    return sinks


class RunnerAndDesk(NamedTuple):
    """A runner (the tick and the lease) and the desk the API serves (the operators' view calls),
    built from the same parts, which the composition root holds (``parts``: what a shard's firm
    link is made from, and what a test reads); neither holds the other, and the runner hands none
    of its parts out."""

    runner: "Runner"
    desk: "Desk"
    parts: "RunnerParts"


def build_runner_and_desk(graph: "DecisionGraph", adapters: "Mapping[str, ExchangeAdapter] | Venues",
                          store: "StateStore", *, sinks: Sequence["Sink"] = (), lock_path: Optional[Path] = None,
                          dry_run: bool = True, holder: str = "runner", lease_ttl_ms: int = 5_000,
                          clock: Optional[Callable[[], int]] = None, snapshot_timeout_s: float = 10.0,
                          confirm_gap_ms: int = 2_000,
                          policy_error: Optional[str] = None, shard: Optional[str] = None,
                          send_wait_s: "Optional[float] | EllipsisType" = ...,
                          sources: "Optional[StartSources]" = None) -> RunnerAndDesk:
    """The runner over what the builders above made (nothing starts: call ``start`` and ``tick``),
    its desk (the API's) and the parts both are made of.

    Its parts are built here, each handed at construction the parts it works with as objects with
    a small interface (:mod:`killswitch.runner.collaborators`), never the runner or a callable back
    into it, and nothing set on one after; the runner holds the tick's privately and runs the tick
    in its order (:mod:`killswitch.runner.tick.loop`). ``send_wait_s``: how long a tick waits for
    each account's sends and the reconciliation, which go on beside the ticks after it
    (:mod:`killswitch.runner.venue.lanes`; ``...``: its ``SEND_WAIT_S``; None: until they end).
    Reads the last saved state (the book) from ``store`` before any loop exists."""
    from ..face.desk.desk import Desk
    from ..face.readout.charts import Charts
    from ..face.readout.positions import PositionsReadout
    from ..face.readout.previews import Previews
    from ..face.readout.readout import Readout
    from ..firmlink.local import LocalKill
    from ..overrides import scope_docs
    from ..runner.book.book import Book
    from ..runner.book.resuming import Resumptions
    from ..runner.effects.countdowns import Countdowns
    from ..runner.effects.revokes import Revokes
    from ..runner.firm_slot import FirmSlot
    from ..runner.gate.limits_state import LimitsState
    from ..runner.lease.leadership import Leadership, Turn
    from ..runner.lease.stored import StoredLocks
    from ..runner.operator.accepts import RejectionAccepts
    from ..runner.operator.closes import ManualCloses
    from ..runner.operator.commands import OperatorCommands
    from ..runner.operator.revoke_commands import OperatorRevokes
    from ..runner.override.overrides import Overrides
    from ..runner.silence.silences import Silences
    from ..runner.sinks.charts import ChartHistory
    from ..runner.sinks.context import RunnerSinkContext
    from ..runner.sinks.entries import EntryOutbox
    from ..runner.sinks.fanout import SinkFanout
    from ..runner.storeio import StoreIO
    from ..runner.sync.kept import recall_now
    from ..runner.sync.tracker import PolicySync
    from ..runner.tick.loop import Runner, wall_ms
    from ..runner.tick.pace import Pace
    from ..runner.tick.parts import ReloadState, RunnerParts
    from ..runner.tick.persist import Persistence
    from ..runner.tick.shed import LoadShed
    from ..runner.venue.catalog_build import Known
    from ..runner.venue.executor import Executor
    from ..runner.venue.fetches import FetchHealth
    from ..runner.venue.lanes import SEND_WAIT_S
    from ..runner.venue.left_open import StillOpenOrders
    from ..runner.venue.modes import ModeWatch
    from ..runner.venue.port import Venues
    from ..runner.venue.shortfalls import Shortfalls
    from ..runner.venue.streams import StreamWatch
    from ..runner.watch.enforcement import Enforcement
    from ..runner.watch.entry_watch import EntryWatch
    from ..runner.watch.guards import Guards
    from ..runner.watch.limits_watch import LimitWatch
    from ..runner.watch.pretrade import Pretrade
    from ..view.coverage import CoverageMetrics, coverage_rows

    clock = clock or wall_ms
    # the one way out to each account's venue (a runner built again over another's: its ports)
    venues = adapters if isinstance(adapters, Venues) else Venues(adapters, timeout_s=snapshot_timeout_s)
    lock_path = Path(lock_path) if lock_path else None
    now = clock()
    reloads = ReloadState(policy_error, now, now if policy_error else None)
    # what runs per document against the newest sources handed (``sources``: what the start read)
    sync = PolicySync.at_start(graph.digest, graph.revision, sources, now, policy_error)
    # the checker's latest verdict about this runner, as it was before the restart: its own, else
    # the latest posted to a runner of its store about the graph it runs (runner/sync/kept.py)
    recall_now(sync, store, holder)
    fetches = FetchHealth()  # each account's run of failed snapshots, said once (FETCH_FAILING)
    streams = StreamWatch(venues, clock)  # the private streams' health, said once per change
    modes = ModeWatch(venues, clock)  # each account's position mode as its venue reads it
    io = StoreIO(f"store-{holder}")  # every store call after this one goes through it
    firm = FirmSlot()  # a shard's firm link, made from these parts once the shard is registered (the daemon's)

    def lock_changed() -> None:
        # at every change of the lock book: the pre-trade gate's view published, and the adapters
        # told at once which accounts' entries a lock now watches (a streamed entry placed before
        # the next tick then wakes the runner: the watch's fast path, not the next tick); both
        # are built below, before the book is first written
        pretrade.gate.changed()
        enforcement.watch_entries(clock())

    book = Book.open(graph, store, lock_changed)  # before the loop exists
    rejections = book.rejections  # the closes the venues refused, per leg: bounded, then CLOSE_REJECTED; stored
    counters = {"ticks": 0, "orders_sent": 0, "orders_filled": 0, "orders_rejected": 0,
                "orders_unknown": 0, "snapshot_failures": 0, "dms_fired": 0, "store_failures": 0}
    turn = Turn()

    def took_over_state(now: int) -> None:
        """Another leader moved the state on: what we had not confirmed is theirs to confirm,
        and heartbeats sent to them were not heard here."""
        executor.forget_unconfirmed()
        countdowns.listen_from(now)
        overriding.read_again()  # the overrides of the limits another leader may have changed

    # the one writer of audit rows (fenced), which the sinks write theirs through too; the sinks
    # and the executor it calls on are built just below (both functions run after this returns)
    lead = Leadership(book, store, io, holder, lease_ttl_ms, clock, turn, on_new_state=took_over_state,
                      restore_sinks=lambda doc: fanout.restore(doc))
    # operator locks sent while no runner leads: stored for the next leader, taken up in order
    stored = StoredLocks(lead, store, io, clock)
    limits = LimitsState()  # the pre-trade gate's limit tables, which the venue watch checks orders against too
    context = RunnerSinkContext(book, holder=holder, dry_run=dry_run, store=store, io=io, audit=lead,
                                sinks=lambda: fanout.sinks, clock=clock,
                                overrides=lambda scope, now_ms: scope_docs(limits.listed, scope, now_ms))
    fanout = SinkFanout(sinks, context, lead, clock)
    known = Known(book, venues, clock)
    executor = Executor(store, venues, lambda: lead.fence, dry_run=dry_run, clock=clock,
                        confirm_gap_ms=confirm_gap_ms, still_leader=lead.fence_holds,
                        may_send=lead.term_holds, io=io, audit=lead.orders_audit,
                        send_wait_s=SEND_WAIT_S if send_wait_s is ... else send_wait_s)
    resumptions = Resumptions(book, clock)
    # the tick's stage transitions, owed from their save until audited and held by the sinks
    entries = EntryOutbox(book, store, io, lead, fanout.holds, dry_run=dry_run)
    # the book's writes (the state document, the lock file), handed to the parts that save
    persist = Persistence(book, store, io, lead, fanout, resumptions, lock_path, entries)
    countdowns = Countdowns(book, venues, store, io, dry_run=dry_run, clock=clock, lead=lead, counters=counters,
                            persist=persist)
    shortfalls = Shortfalls(book, store, io, dry_run=dry_run, clock=clock, lead=lead, persist=persist)
    # orders a cancel left open: a standing fact, saved, audited and paged once, ended with the order
    still_open = StillOpenOrders(book, store, io, lead=lead, persist=persist, clock=clock, dry_run=dry_run)
    # the bots' trading permission at the venue (revoke_trading), owed, fenced, confirmed, audited
    revokes = Revokes(book, venues, store, io, lead=lead, persist=persist, clock=clock, dry_run=dry_run)
    # the firm's close of an account no local policy has: under a firm-wide policy at account level
    closes = ManualCloses(book, lead, store, io, dry_run=dry_run, clock=clock, known=known, sinks=fanout,
                          rates=venues.rates, also=firm.close_nodes)
    # a chart sample per policy instance and tick, stored; the charts read back from them (above the runner)
    charts = ChartHistory(book, store, io, clock=clock, lead=lead)
    chart_reads = Charts(book, store, io, clock=clock, known=known)
    # the venue watch: orders and positions that break a lock, cancelled or brought back
    # with the pre-trade limits at the venue: an order that never asked and breaks them is cancelled too
    enforcement = Enforcement(book, store, io, lead, venues, dry_run=dry_run, clock=clock,
                              checks=[LimitWatch(limits, book, clock)])
    # its fast path: a bot's entry on a stream cancelled at the event, before a tick reads the account
    entry_watch = EntryWatch(enforcement, venues, fanout.emit, clock)
    entry_watch.attach()
    # a shard ticks (and publishes its facts) at its firm-wide policies' interval too, whatever its own;
    # its name, the modes, the closes refused and the venue watch's violations in the status and on /metrics
    guards = Guards(book, venues.declared)  # the accounts no running policy's scope selects
    # the pre-trade gate: its view published at every change of the lock book, a tick's end, a reload
    pretrade = Pretrade(book, lead, resumptions, known, limits, guards, clock=clock, counted=book.counted)
    pace = Pace(book, clock, firm.intervals)  # a shard's firm-wide policies' interval too
    shed = LoadShed(None, time.monotonic)  # the loop's holds once a lease thread measures them
    # the reads people see, above the runner (killswitch/face/readout/): handed the parts, never the runner
    readout = Readout(book, lead, countdowns, resumptions, known, fanout, store, io, clock=clock, dry_run=dry_run,
                      counters=counters, policy_error=lambda: reloads.error, manual_closes=lambda: closes.tracked,
                      reloads=lambda: (reloads.loaded_ms, reloads.failed_ms), fetches=fetches, streams=streams,
                      limits=limits, shard=shard, modes=modes, rejections=rejections, pace=pace, pretrade=pretrade,
                      violations=enforcement.status, stored=stored, sync=sync, load=shed.status,
                      collectors=[CoverageMetrics(lambda: coverage_rows(book), clock),
                                  charts,  # its sample writes that failed
                                  revokes,  # killswitch_trading_revoked, killswitch_revoke_failures_total
                                  venues,  # killswitch_cancel_failures_total
                                  modes, rejections,
                                  enforcement,  # killswitch_lock_violations_total
                                  stored,  # killswitch_locks_stored_waiting
                                  entry_watch,  # killswitch_lock_violations_fast_total
                                  guards,  # killswitch_accounts_unguarded
                                  shed])  # the load shed's level and the loop's holds
    silencing = Silences(book, lead, store, io, clock=clock, catalog=known.catalog, save=persist.save,
                         emit=fanout.emit, open_closes=lambda: tuple(closes.tracked),
                         pages=fanout.pages_in_force)
    # the overrides of the pre-trade limits: the index the gate and the watch read is ``limits``
    overriding = Overrides(book, lead, store, io, limits, clock=clock, catalog=known.catalog,
                           changed=lambda: pretrade.gate.changed())
    previews = Previews(book, lead, closes, known=known, clock=clock, dry_run=dry_run, triggers=readout.triggers,
                        silences=silencing.held_by_reset, unguarded=guards.now)
    position_readout = PositionsReadout(book, clock, lambda: lead.leader)
    commands = OperatorCommands(book, lead, resumptions, store, io, clock=clock, known=known, persist=persist,
                                sinks=fanout, triggers=readout.triggers, revokes=revokes, stored=stored,
                                end_overrides=overriding.end_halted)
    operator_revokes = OperatorRevokes(book, lead, revokes, known=known, persist=persist, sinks=fanout, clock=clock,
                                       dry_run=dry_run, violations=enforcement.status)
    parts = RunnerParts(io=io, book=book, counters=counters, turn=turn, lead=lead, fanout=fanout, known=known,
                        executor=executor, countdowns=countdowns, resumptions=resumptions, persist=persist,
                        shortfalls=shortfalls, closes=closes, pretrade=pretrade, pace=pace, shed=shed,
                        charts=charts, commands=commands, silencing=silencing,
                        fetches=fetches, streams=streams, reloads=reloads, sync=sync, entries=entries,
                        revokes=revokes,
                        operator_revokes=operator_revokes, enforcement=enforcement, still_open=still_open,
                        modes=modes, rejections=rejections, entry_watch=entry_watch, stored=stored, firm=firm,
                        clock=clock, dry_run=dry_run, accounts=tuple(venues), overrides=overriding,
                        guards=guards)
    runner = Runner(parts, venues, store, holder=holder, snapshot_timeout_s=snapshot_timeout_s)
    # the desk the API serves: the operators' reads, previews and commands, from the parts, never the runner
    desk = Desk(readout=readout, pretrade=pretrade, previews=previews, commands=commands, closes=closes,
                silencing=silencing, operator_revokes=operator_revokes, positions=position_readout,
                countdowns=countdowns, charts=chart_reads, turn=turn, lead=lead, store=store, io=io, clock=clock,
                firm=firm, sync=sync, holder=holder,
                accepts=RejectionAccepts(book, lead, persist=persist, clock=clock), overriding=overriding,
                # ksctl kill --firm on a runner of no shard: the same kill, through the same ports as a shard's
                local_kill=LocalKill(shard_ports(parts), pace.pace_s))
    return RunnerAndDesk(runner, desk, parts)


def shard_ports(parts: "RunnerParts") -> "ShardPorts":
    """What a shard's firm parts (:mod:`killswitch.firmlink.firm`) are handed of a runner's
    ``parts`` (the operator's command path a directive's lock and unlock take among them): behind
    the narrow ports of :class:`~killswitch.firmlink.ports.ShardPorts`, never the runner itself."""
    from ..firmlink.ports import ShardPorts

    return ShardPorts(clock=parts.clock, dry_run=parts.dry_run, accounts=parts.accounts, lead=parts.lead,
                      turn=parts.turn, commands=parts.commands, closes=parts.closes, cancels=parts.executor,
                      sinks=parts.fanout, book=parts.book, revokes=parts.operator_revokes)
