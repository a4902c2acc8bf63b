"""The runner: one tick = lease → snapshots → evaluate → journal → persist → lock → send → reconcile.

What it owns: the tick pipeline (its order written here, in :meth:`Runner.tick`, and nowhere
else), the lease's lifecycle (start, renew, lost, handed to a keeper, close), and the one entry a
policy reload reaches a running runner by (:meth:`Runner.apply_graph`; the swap itself is
:mod:`.reload`'s). What a tick hands on, its report and its phases' times, is :mod:`.report`'s. Its parts
(:mod:`.parts`) are built by :func:`killswitch.process.bootstrap.build_runner_and_desk`, which builds
the operator's :class:`~killswitch.face.desk.desk.Desk` from the same parts: the API, the console and the
operators' calls go to the desk, never to the runner. The order of a tick is the
crash-safety argument (see :mod:`killswitch.runner.venue.executor`): intents are journaled before
the state that records the stage entry is saved, and sent only after both. The entry's audit
rows (its transitions; in a dry run the orders it planned) and the lock file follow the save
in the same store call. A ``close_all`` entry goes in two waves: its first leg journaled, saved
(the entry deferred) and sent, then its audit rows and the lock file, and the rest planned,
journaled, saved and sent, so that its first close leaves before thousands are planned.

Its parts are the runner's rooms' (docs/architecture.md, *The runner's rooms*; the list is
:class:`~.parts.RunnerParts`), each given only what it uses — its collaborators as objects with a
small interface (:mod:`killswitch.runner.collaborators`), not callables back into the runner; it
holds them privately and hands none out.

On start the runner reloads the engine state, the lock book, the dead man's switch and the
resumptions in force from the store — a halt stays a halt after a crash — takes the lease, and
reconciles every pending order intent before its first tick. A runner that does not hold the
lease (a standby) evaluates nothing and sends nothing. What it writes as leader (state, journal,
audit rows) carries its fencing token, so a deposed leader's writes are refused.

Threads. The runner's state lives on one event loop, the tick's: ticks and operator commands
interleave only at await points, and no lock guards it — a second thread touching it would need
one around every read as well as every write, and the tick's store calls would then hold it.
What runs elsewhere touches none of it: the HTTP API's thread hands every view call to this
loop through the desk (:mod:`killswitch.face.desk.desk`), in the turn (:mod:`..lease.turn`), which the tick holds from
start to end ahead of every change waiting — it lends it out only while its snapshots are
fetched. The leader lease is taken and renewed by
a :class:`~killswitch.runner.lease.keeper.LeaseKeeper` thread on a store connection of its own, so
that neither a slow tick nor a burst of requests can let it lapse; the tick reads the token the
keeper publishes, and the keeper renews only while this loop shows life, so a runner whose loop
is wedged hands over to a standby. Without a keeper (tests, ``ksctl demo``) the tick takes or
renews the lease itself. Every store call of the runner and its executor runs on a store
thread of its own (:class:`~killswitch.runner.storeio.StoreIO`, one call at a time, in order)
and is awaited, so that a slow disk or a lock wait stalls neither the loop nor the lease: the
runner's state is read and changed on the loop only, and a change an operator makes is computed
from the state as it is after the store has taken its audit row, never from a copy taken
before an await.

Policy decisions all come from ``evaluate``. Besides them the runner applies three fixed rules
an operator set up, each audited and each shown in status: the dead man's switch
(:mod:`..effects.countdowns`), operator locks (:mod:`..operator.commands`) and resumption after a reset
(:mod:`..book.resuming`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Sequence

from ...engine.columns import load_arrays
from ...engine.evaluate import Evaluation
from ...events import DEPOSED, DMS_FIRED, LOAD_SHED, ORDER_FAILED, SNAPSHOT_FAILED, Event
from ...snapshot import Snapshot
from ...state.store import FencedError, StateStore, StoreError
from ..book.rejections import CLOSE_REJECTED
from ..lease.keeper import LeaseKeeper
from ..lease.runs import Runs
from ..sinks.coverage import BlindReports, log_changes
from ..venue.depth import BOOK_TIMEOUT_S, plan_with_books
from ..venue.execution import ExecutionReport
from ..venue.lanes import LANES_DRAIN_S
from ..venue.port import Venues
from ..venue.shortfalls import MAX_CLOSE_RETRIES
from .gc_pause import CollectorPause
from .parts import RunnerParts
from .reload import GraphReload, GraphSwap, ReloadOutcome
from .report import Phases, TickReport, count, said_if_slow
from .shed import shed_words
from .standing import log_standing
from .takeover import Takeover

log = logging.getLogger("killswitch.runner")


def wall_ms() -> int:
    return int(time.time() * 1000)


class Runner:
    """See the module doc. A caller reads the part that owns a value from the parts the
    composition root built (``parts.book.state``, ``parts.lead.fence``), never through it.

    Size: about 410 lines, over the class bound by the tick alone: ``tick`` and ``_tick`` (kept
    whole because the order is the crash-safety argument and must read top to bottom) with the
    helpers of its audit rows and its two waves (``_record``, ``_first_waves``, ``_send_rest``),
    which carry that order on; the lease's lifecycle and ``apply_graph`` are short delegations."""

    MAX_CLOSE_RETRIES = MAX_CLOSE_RETRIES

    def __init__(self, parts: "RunnerParts", venues: Venues, store: StateStore, *,
                 holder: str, snapshot_timeout_s: float):
        self.venues = venues  # "venue/account" → its way out
        self.store = store
        p = parts
        self._dry_run, self._clock = p.dry_run, p.clock
        self._holder, self._snapshot_timeout_s = holder, snapshot_timeout_s
        self._reloads, self._sync = p.reloads, p.sync
        self._io, self._book, self._counters, self._turn = p.io, p.book, p.counters, p.turn
        self._lead, self._fanout, self._known, self._executor = p.lead, p.fanout, p.known, p.executor
        self._countdowns, self._resumptions, self._persist = p.countdowns, p.resumptions, p.persist
        self._shortfalls, self._closes, self._pretrade, self._charts = p.shortfalls, p.closes, p.pretrade, p.charts
        self._fetches, self._streams = p.fetches, p.streams
        self._entries, self._revokes = p.entries, p.revokes
        self._enforcement, self._still_open = p.enforcement, p.still_open
        self._overrides = p.overrides  # the limits' overrides: ended at expiry or a halt (runner/override/)
        self._silencing = p.silencing  # the silences made from an incident: their end recorded when it ends
        self._modes, self._rejections = p.modes, p.rejections
        self._guards = p.guards  # the accounts no running policy guards (runner/watch/guards.py)
        self._takeover = Takeover(p, venues)  # what a stop or a takeover left, carried on at the first tick
        self._swap = GraphSwap(p, venues)  # a policy reload, swapped in between two ticks
        self._runs = Runs(p.lead, holder, lambda: p.book.graph.digest)  # this process's start and stop, audited
        self._blind_reports = BlindReports()
        self._coverage_logged = False  # this process has said every blind or unmatched scope once
        self._collector = CollectorPause()
        self._shed = p.shed  # the loop's holds once a lease thread measures them
        load_arrays()  # numpy, which a stage's entry over a large scope computes with: imported now, not then

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> ExecutionReport:
        """Take the lease if free and settle what a previous run left pending. A store error
        on the way is left to the first tick (see :meth:`tick`)."""
        self._runs.started(self._clock())
        try:
            if await self._lead.lease(self._clock()):
                await self._runs.write_start()
                report = await self._executor.reconcile()
                # a close that ended short while we were down (an IOC past its price, a remainder
                # cancelled just now) is planned again at the first tick, as if seen at a tick
                for e in await self._shortfalls.retry_unfilled(report.unfilled):
                    self.emit(e)
                # the last day's lock violations shown from the start, not from the first tick
                await self._enforcement.recall(self._clock())
                return report
            await self._runs.write_start()
        except FencedError:
            self.lost_lease()
        except StoreError:
            self.store_failed()
        return ExecutionReport()

    def hold_lease_with(self, keeper: LeaseKeeper) -> None:
        """Take the lease from ``keeper`` (a thread renewing it) instead of from the tick."""
        keeper.lease_log = self._lead.lease_log
        self._lead.keeper = keeper
        self._shed.holds = keeper.loop_holds

    async def renew(self) -> bool:
        """Between ticks: take up what the lease keeper holds now (a takeover, a lapse), or
        without a keeper renew the lease here (every third of its TTL, so that it never lapses)."""
        return await self._lead.lease(self._clock())

    async def refresh_native(self) -> None:
        """Between ticks: the venues' countdowns refreshed; a lapse found is told at once."""
        for e in await self._countdowns.refresh_native():
            self.emit(e)

    def lost_lease(self) -> None:
        """A write outside a tick was fenced off: another runner leads. Act as a standby, and go
        on from the store's state when the lease comes back (what changed here may not be in it)."""
        self._lead.fenced_off()

    def store_failed(self) -> None:
        """A store call outside a tick failed: act again only from the store's state (see
        :meth:`~..lease.leadership.Leadership.store_failed`)."""
        self._lead.store_failed()
        self._counters["store_failures"] += 1

    def emit(self, event: Event) -> None:
        """An event outside a tick (a reset, a manual close, a failed reload) to every sink."""
        self._fanout.emit(event)

    async def aclose(self) -> None:
        """Close the sinks and the store thread: what is queued is written before the store
        closes, and what the last tick's sample write raised is taken up (see :meth:`tick`).
        Accounts still sending are given a moment to end first (runner/venue/lanes.py)."""
        await self._executor.lanes.drain(LANES_DRAIN_S)
        await self._stand_down_countdowns()
        await self._fanout.aclose()
        await self._runs.write_stop(self._clock())
        await asyncio.to_thread(self._io.close)
        self._take_up_chart_write()

    async def _stand_down_countdowns(self) -> None:
        """A deliberate stop: the venues' countdowns this leader keeps turned off (their lapse
        would cancel every order of the account while no runner refreshes them), the book saved
        with each due at once for the runner that takes it up; one left armed is said."""
        try:
            changed, left = await self._countdowns.stand_down()
            if changed:
                await self._persist.save()
        except FencedError:  # another runner leads: its countdowns are its own
            return
        except StoreError as e:
            log.warning("DMS_NATIVE_STOP: the book could not be saved after the venues' countdowns were turned "
                        "off (%s): the next leader may page them as lapsed", e)
            return
        for line in left:
            log.warning("DMS_NATIVE_LEFT_ARMED: %s", line)

    def _take_up_chart_write(self) -> None:
        """What a chart sample write queued after a tick raised (:meth:`~..sinks.charts.ChartHistory.failed`),
        taken up as any store call outside a tick: fenced, a standby; a store error, counted and
        the state read back; the process dying in it (not an ``Exception``: a signal, an
        interpreter exit) dies here. A bug is counted and said by the charts, and the ticks go on."""
        error = self._charts.failed()
        if isinstance(error, FencedError):
            self.lost_lease()
        elif isinstance(error, StoreError):
            self.store_failed()
        elif error is not None and not isinstance(error, Exception):
            raise error

    async def apply_graph(self, reload: GraphReload) -> ReloadOutcome:
        """The only way a policy reload reaches a running runner, between two ticks. A failed
        reload keeps the last good graph running and says so; a good one swaps in at once —
        nothing runs between reading the running graph and replacing it — and a policy that
        keeps its name keeps its stages, locks and resumptions (one whose resume plan is gone
        ends at the next tick)."""
        return await self._swap.apply(reload)

    # --- one tick ------------------------------------------------------------------------------------

    async def tick(self) -> TickReport:
        """One tick. One that loses the lease midway stops at the first fenced write or at the
        renewal before sending: it reports itself deposed. One whose store call fails stops
        there and reports it (``store_error``); the runner sends nothing more until it has read
        the store's state back (:meth:`~..lease.leadership.Leadership.store_failed`), and the
        process goes on: a database that restarts ends no runner."""
        started = time.time_ns()
        report = TickReport(self._clock(), leader=False, started_ns=started)
        self._shed_load(report)
        self._take_up_chart_write()  # the sample write queued after an earlier tick
        try:
            # the whole tick in the turn, ahead of every operator change waiting (it lends the
            # turn out while its snapshots are fetched): a queue of writes cannot slow it
            async with self._turn.first():
                try:
                    await self._tick(report)
                finally:
                    self._collector.resume()  # however the tick ended
        except FencedError as refused:
            report.leader = False
            report.execution.deposed = self._lead.fenced_off(refused)
        except StoreError as e:  # (its text names the store by its masked URL)
            self.store_failed()
            report.leader = False
            report.store_error = f"{e}"
        self._pretrade.gate.publish()  # the pre-trade gate's view: the book as this tick left it
        if report.leader and report.evaluation is not None and not report.execution.deposed:
            self._charts.record(report.evaluation)  # queued behind the tick's writes, not awaited
        if report.execution.deposed:
            report.events.append(Event.make(DEPOSED, report.now_ms, {"fence": self._lead.fence}, holder=self._holder))
        report.ended_ns = time.time_ns()
        said_if_slow(report)
        self._fanout.report(report, report.events)
        return report

    def _shed_load(self, report: TickReport) -> None:
        """The load level from the loop's holds (runner/tick/shed.py): a change handed to the
        adapters (what they read less often), said on stderr and to the sinks."""
        change = self._shed.observe(report.now_ms)
        if change is None:
            return
        before, level = change
        self.venues.shed(level)
        words = shed_words(level)
        log.log(logging.WARNING if level > before else logging.INFO,
                "LOAD_SHED: level %d -> %d: %s (the loop's longest hold of the last minute %.0f ms); closes, "
                "cancels, entry watches, the gate and the lease are never shed", before, level,
                words or "every cadence as configured again", self._shed.status().get("loop_hold_max_ms_1m", 0))
        report.events.append(Event.make(LOAD_SHED, report.now_ms, {"level": level, "from": before, "shed": words},
                                        holder=self._holder, severity="warning" if level > before else "info"))

    async def _tick(self, report: TickReport) -> None:
        now = report.now_ms
        book, lead, shortfalls = self._book, self._lead, self._shortfalls
        leads = await lead.lease(now)
        await self._runs.write_start()  # (written at the start unless the store failed then)
        if not leads:
            await book.follow(self._io, self.store)
            await self._known.learn_symbols()  # a standby answers the pre-trade gate too
            await self._overrides.reload()  # the overrides of the limits the leader stored (status, list)
            return
        report.leader, report.fence = True, lead.fence
        lost_refusals: list = []
        if not lead.replans_checked:  # the first tick under a token: what a crash may have dropped
            lost_refusals = await self._takeover.carry_on(report.events, now)
            lead.replans_checked = True
        await self._countdowns.take_stored_beats(now)
        self._countdowns.forget_unnamed()  # (a reload or a disarming may have unnamed some)
        phase = Phases(report)
        # the adapters told of the locks before they are read: the first snapshot under a lock
        # placed since the last tick lists every open order, not a list kept from before it
        self._enforcement.watch_entries(now)
        self._executor.reading()  # (an order a lane has answered from now on: its leg waits a tick)
        async with self._turn.lent():  # the network only: operator changes may be applied meanwhile
            snapshots = await asyncio.gather(*(p.snapshot(now) for p in self.venues.values()))
        phase("snapshots")
        self._collector.pause()  # until the first send: see CollectorPause
        self._fetches.observe(snapshots, now)
        self._streams.observe(now)  # read after the snapshots: a stream that fell back says so with them
        report.events += self._modes.observe(now)  # each account's mode as its venue read it: a mismatch, once
        report.snapshot_failures = [f"{s.venue}/{s.account}: {s.fetch.error_code}" for s in snapshots if not s.fetch.ok]
        for s in snapshots:
            if not s.fetch.ok:
                report.events.append(Event.make(SNAPSHOT_FAILED, now, {"error": s.fetch.error_code},
                                                venue=s.venue, account=f"{s.venue}/{s.account}",
                                                reason=s.fetch.error_code))
        rates = self.venues.rates()
        # closes the venue refused for a reason that may pass, their wait over: their entries planned again now
        report.events += await shortfalls.retry_unfilled(self._rejections.due(now), save=False)
        # a stage entry that closes thousands is planned as its first wave alone (cancels,
        # directives, the first leg's orders); its whole plan is made after they are sent. One
        # of many orders planned whole goes out the same way: each account's first leg first
        book.count_violations(now)  # the gate's refusals and the watch's violations since the last tick
        first = book.evaluate(snapshots, now, rates, first_wave=not self._dry_run)
        phase("evaluate")
        log_changes(first, everything=not self._coverage_logged)  # one line per change (all, at first)
        if not self._coverage_logged:  # and what still stands from before this process: once
            log_standing(book.state, book.graph, self._rejections.refused(), self._enforcement.status(),
                         locks=book.lock_book, revokes=book.revokes, now=now)
        self._coverage_logged = True
        report.events += self._blind_reports.events(first, now)  # a page per spell, resolved when armed again
        # closes sized against the book: only their symbols' books are fetched, then planned again
        ev, snapshots = await plan_with_books(book.graph, first, snapshots, book.state, self.venues, rates,
                                              min(BOOK_TIMEOUT_S, self._snapshot_timeout_s))
        if ev is not first:
            phase("books")
        book.took_snapshots(snapshots)
        if lost_refusals:
            report.events += await shortfalls.rejected(lost_refusals, now)
        book.evaluated(ev)
        report.evaluation = ev
        plans = ev.plans + self._closes.take_plans(snapshots, now)
        # the venue watch: entries that break a lock cancelled now, growth reverted with these plans
        plans = await self._enforcement.watch(snapshots, plans, now, report.events)
        # no close of a leg the venue refused up to its bound (CLOSE_REJECTED), nor of one waiting out a refusal
        plans, _ = self._rejections.screen(plans, now, self._rejected_legs())
        # our own orders left resting at an earlier tick are cancelled (and the cancel confirmed)
        # before anything closes their positions again; a position still carrying one waits
        report.execution.merge(await self._executor.cancel_remainders())
        plans, held = await self._executor.hold(plans)
        report.execution.merge(held)
        await self._closes.requeue_held(held.held)
        # A held close is never journaled: its re-plan is recorded now, and saved with the stage
        # entry below, so that a runner stopped at any later point still plans it again.
        replanned: set[str] = set()
        report.events += await shortfalls.retry_unfilled(held.held, seen=replanned, save=False, held=True)
        report.events += await shortfalls.track_residuals(ev, plans, now)
        # 1. intents, before the stage entry is saved (a dry run's planned orders: audited with it)
        planned: list[tuple[str, int, dict]] = []
        report.execution.merge(await self._executor.journal(plans, planned, snapshots))
        phase("journal")
        # 1b. an entry whose first wave alone is journaled is saved as still to plan (deferred):
        # a runner stopped before its rest is journaled plans the entry again, same decision
        waves = self._first_waves(ev)
        book.lock_evaluation(ev)
        await self._overrides.sweep()  # past their expiry, on a scope halted now, an order's release used
        fired = self._countdowns.fire_due(now)
        rows = self._resumptions.track(ev, now)
        self._countdowns.arm_native(ev, snapshots)
        self._revokes.owe_entries(ev, snapshots, now)  # saved below, before anything is sent
        # owed from the save below until audited, paged and rendered (see runner/sinks/entries.py)
        entered = self._entries.owe(ev.transitions, now)
        # 2. the stage entry, the lock and a firing survive a crash from here on. The audit rows
        # and the lock file: in the same store call, or with a first wave just after it is sent
        # (a crash between the save and them loses them either way; every tick writes the lock
        # file from the saved lock book), so that its first close waits on fewer writes
        if waves:
            at = -1
            await self._persist.save()
        else:
            at = await self._record(entered, rows, fired, report, now, save=True, planned=planned)
        phase("persist")
        if not await lead.lease(self._clock()):  # renewed just before sending: the tick may have been slow
            report.execution.deposed = True
            ev = report.evaluation = await _completed(ev)  # what the sinks show: whole plans
            book.evaluated(ev)
            at = len(report.events) if at < 0 else at
            report.events[at:at] = self._entries.tell(ev.transitions, now)
            return
        self._collector.resume()
        report.execution.merge(await self._executor.send(plans))  # 3. only now does anything leave
        sent = True
        if waves:  # 4. the rest of each first wave: planned whole, journaled, saved, sent
            at = await self._record(entered, rows, fired, report, now, save=False)  # (a live run: nothing planned)
            ev = report.evaluation = await _completed(ev)
            book.evaluated(ev)
            sent = await self._send_rest(ev, waves, report, replanned, now, snapshots)
        report.events[at:at] = self._entries.tell(ev.transitions, now)
        if not sent:
            return
        await self._countdowns.cancel_fired(fired, now)
        report.events += await self._countdowns.refresh_native()
        report.events += await self._revokes.work(now)  # revokes and restores owed, their backoff over
        phase("send")
        report.execution.merge(await self._executor.reconcile_beside())  # (beside the ticks: a moment's wait)
        await self._enforcement.follow_reverts()  # a revert sent: what the journal says it came to
        phase("reconcile")
        for o in report.execution.orders:
            if o.status in ("rejected", "failed"):
                report.events.append(Event.make(
                    ORDER_FAILED, now, {"client_order_id": o.client_order_id, "decision_id": o.decision_id,
                                        "symbol": o.symbol, "side": o.side, "amount": o.amount,
                                        "detail": o.detail},  # the venue's own code and message
                    venue=o.venue, account=f"{o.venue}/{o.account}", symbol=o.symbol, reason=o.code))
        # refused closes counted per leg: tried again within their bound, then CLOSE_REJECTED (a residual)
        counted = self._rejections.version
        report.events += await shortfalls.rejected(self._rejections.observe(report.execution, now), now)
        unfilled = report.execution.unfilled
        report.events += await shortfalls.retry_unfilled(unfilled, seen=replanned, save=False)
        if unfilled or self._rejections.version != counted:
            await self._persist.save()  # the re-plans and the refusals counted: stored at once (a fact, not memory)
        # orders the cancels left open (the venue still lists them): ended, saved, audited, paged once
        self._still_open.take(self._executor.take_still_open())
        report.events += await self._still_open.tick(now)
        # a silence holding a stage re-run this tick holds the re-run; one made from an incident this
        # tick ended: ended with it
        reruns = [t.decision_id for t in (s.transition for s in ev.transitions)
                  if t is not None and t.kind == "reentered" and t.decision_id]
        await self._silencing.settle(now, reruns)
        count(self._counters, report)

    async def _record(self, entered: list, rows: list, fired: list, report: TickReport, now: int, *,
                      save: bool, planned: Sequence[tuple[str, int, dict]] = ()) -> int:
        """The tick's audit rows in one append and the lock file, after the state is saved in the
        same store call (``save``) or alone. The firings' events are told once stored; returns
        where in ``report.events`` the transitions' go (before them)."""
        audit = list(planned) + list(entered)
        audit += ((kind, now, payload) for kind, payload in rows)
        audit += self._closes.take_planned(now)
        events = []
        for f in fired:
            data = {"source": f.source, "silent_s": f.silent_s, "timeout_s": f.timeout_s, "lock": "halted",
                    "orders": len(f.orders), "orders_unknown": list(f.unknown), "dry_run": self._dry_run}
            audit.append(("dms_fired", now, data))
            events.append(Event.make(DMS_FIRED, now, data, source=f.source, scope=f.source, reason=f.reason))
        await (self._persist.save(audit, lock_at=now) if save else self._persist.record(audit, lock_at=now))
        self._entries.audited(entered)
        at = len(report.events)
        report.events += events
        return at

    def _rejected_legs(self) -> set:
        """The legs the venue refused up to their bound, as residuals (incident, account, symbol, leg)."""
        legs = {r.key for r in self._book.residuals if r.why == CLOSE_REJECTED}
        self._rejections.keep_stopped(legs)
        return legs

    def _first_waves(self, ev: Evaluation) -> dict[str, tuple[str, int, frozenset[str]]]:
        """The plans of ``ev`` that are a first wave alone, by decision id: (state key, the
        stage's retry count or -1, the first wave's client order ids). Each one's stage is marked
        deferred, to be saved so: until its rest is journaled, a restarted runner plans the
        entry again under the same decision id (the journal refuses what it holds already)."""
        waves = {}
        for se in ev.scopes:
            p = se.plan
            if p is None or p.rest is None:
                continue
            # already deferred: a held close of the wave is to be planned again (a new round),
            # which the rest being journaled must not undo (-1: never cleared)
            retries = self._book.defer_entry(se.policy, se.scope)
            waves[p.decision_id] = (f"{se.policy}|{se.scope}", retries, frozenset(o.client_order_id for o in p.orders))
        return waves

    async def _send_rest(self, ev: Evaluation, waves: dict[str, tuple[str, int, frozenset[str]]], report: TickReport,
                         replanned: set[str], now: int, snapshots: Sequence[Snapshot]) -> bool:
        """After the first waves went out: the rest of each entry held, journaled, the entries
        saved as planned in full, and sent. False: the lease was lost before sending."""
        whole = [p for p in ev.plans if p.decision_id in waves]
        rest = [replace(p, cancels=(), orders=tuple(o for o in p.orders
                                                    if o.client_order_id not in waves[p.decision_id][2]))
                for p in whole]
        rest, _ = self._rejections.screen(rest, now, self._rejected_legs())
        rest, held = await self._executor.hold(rest)
        report.execution.merge(held)
        report.events += await self._shortfalls.track_residuals(ev, whole, now)
        report.execution.merge(await self._executor.journal(rest, snapshots=snapshots))
        for key, retries in (w[:2] for w in waves.values()):
            self._book.entry_planned(key, retries)  # (unless re-planned since: see below)
        report.events += await self._shortfalls.retry_unfilled(held.held, seen=replanned, save=False, held=True)
        await self._persist.save()  # the entries are journaled in full: not to be planned again
        if not await self._lead.lease(self._clock()):
            report.execution.deposed = True
            return False
        report.execution.merge(await self._executor.send(rest))
        return True


async def _completed(ev: Evaluation) -> Evaluation:
    """``ev`` with its first waves planned whole, on a thread of its own: a pure function of
    frozen values, and at 10,000 positions a quarter of a second the loop (the API, the gate,
    the lease's heartbeat) does not wait behind."""
    return await asyncio.to_thread(ev.completed) if ev.partial else ev
