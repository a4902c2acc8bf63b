"""A shard runner's part in the firm: its facts published, the firm lease tried, the firm-wide
policies evaluated while it holds it, the firm's directives carried out on its accounts.

What it owns: :class:`FirmLink`, which the daemon calls around each of the shard runner's ticks:

* :meth:`FirmLink.set_graph` — the firm-wide policies of a compiled graph, at start and at
  every reload, unless refused (:meth:`FirmLink.refusals`: ``FIRM_POLICY_REFUSED``,
  ``FIRM_INTERVAL_TOO_SHORT``); the shard ticks, and so publishes, at the shortest of their
  intervals too (:meth:`FirmLink.intervals`), and a firm close of one of its accounts that no
  local policy has as an instance is planned under the firm policy (:meth:`FirmLink.close_nodes`);
* :meth:`FirmLink.check_registry` — before a tick under a token the runner did not check yet
  (its start as leader, a standby taking over): the shard's registration in ``ks_firm.shard``
  must have this runner's account digest; else the runner refuses to act (``SHARD_MISMATCH``:
  a standby started with an old account set must not lead);
* :meth:`FirmLink.after_tick` — every runner says it is alive (``ks_firm.shard_runner``); the
  leader publishes its accounts' facts (:class:`~.publish.FactsPublisher`: fenced by its
  token, a refusal counted, ``killswitch_firm_facts_refused_total``; facts that came later after
  its last ones than the firm reads facts for said ``FIRM_FACTS_LATE``,
  ``killswitch_firm_facts_late_total``) and tries the firm lease (``ks_firm.lease``); the
  holder reads every shard's facts and lease, makes the snapshots
  (:func:`killswitch.firm.facts.firm_snapshots`: a shard that stopped publishing is
  ``SHARD_NOT_PUBLISHING``, its accounts not seen), evaluates the firm-wide policies with the
  engine over them, and commits its engine state, its view and the directives of its decisions
  in one transaction fenced by the firm token (a new holder takes over from that state), with
  the stage transitions it owes (:class:`~.entries.FirmOutbox`: audited in the firm chain
  and told through the sinks after the commit; a new holder completes what the last one owed);
  then the shard applies the directives written since (:class:`~.apply.DirectiveApplier`);
* :meth:`FirmLink.heard` — a ``NOTIFY killswitch_firm`` (:mod:`killswitch.firm.notices`): a
  directive's id applies the new directives at once; another shard's stop wakes the firm lease
  holder's next tick (``wake``: the daemon's, debounced like a stream's wake), so the stopped
  shard's accounts are not seen at the very next evaluation; :meth:`FirmLink.stopped` says this
  runner's own stop once its shard's lease is given up;
* :meth:`FirmLink.route_reset` — an approval of a firm policy's reset sent to this shard, and the
  holder taking it up (:mod:`.resets`: refused while a trigger of it still fires, unless
  confirmed);
* :meth:`FirmLink.route` — an operator's lock, unlock or close of a firm-wide scope sent to this
  shard's API, written as a directive for every shard; an unlock while a firm-wide kill is in
  force is refused up front (``KILL_IN_FORCE``, naming the kill's release), not sent to shards
  that would each refuse it in their own log;
* :meth:`FirmLink.kill_preview`, :meth:`FirmLink.kill`, :meth:`FirmLink.kill_release`,
  :meth:`FirmLink.kill_status` — the firm-wide kill sent to this shard's API (:mod:`.kill`);
* :meth:`FirmLink.status` — what ``GET /v1/firm`` and ``ksctl status --firm`` show.

Must not: evaluate a shard's local policies (its runner does), or act on another shard's accounts.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Callable, Optional

from ..compile.graph import DecisionGraph, PolicyNode
from ..compile.shards import FIRM_INTERVAL_TOO_SHORT, firm_interval_refusals, firm_refusals, local_graph, split
from ..engine.evaluate import evaluate
from ..engine.state import State
from ..firm.board import firm_view
from ..firm.directives import CLOSE_ALL, LOCK, UNLOCK, Directive, directives_of, firm_scope
from ..firm.facts import Reading, firm_snapshots, stale_after_ms
from ..firm.notices import DIRECTIVE, STOPPED, read_notice, shard_stopped
from ..metrics import Registry
from ..runner.sinks.coverage import BlindReports
from ..state.firm.tables import NOTIFY_CHANNEL
from ..state.store import FencedError, StoreError
from ..view import ChangeResult
from .apply import DirectiveApplier, Listener
from .entries import FirmOutbox
from .kill import kill_preview, kill_status, release_kill, send_kill, unlock_under_kill
from .lease_log import FirmLeaseLog
from .ports import ShardPorts
from .publish import FactsPublisher
from .resets import relatch_of, route_reset, take_resets


class FirmLink:
    """See the module doc. ``ports``: the shard runner's parts it uses
    (:class:`~.ports.ShardPorts`); ``start``: the shard
    (:class:`killswitch.process.shard.ShardStart`); ``firm``: the
    :class:`~killswitch.state.firm.FirmStore`; ``url``: the database's, for LISTEN."""

    def __init__(self, ports: ShardPorts, firm: Any, start: Any, url: str, holder: str, ttl_ms: int,
                 echo: Callable[[str], None], err: Callable[[str], None], *,
                 wake: Callable[[], None] = lambda: None, wake_now: Callable[[], None] = lambda: None):
        from ..state.firm import shard_schema

        self.ports, self.firm, self.start, self.url = ports, firm, start, url
        self.holder, self.ttl_ms, self.echo, self.err = holder, ttl_ms, echo, err
        self.clock = ports.clock
        self.schemas = {s: shard_schema(s) for s in start.assignment}
        self.graph = DecisionGraph.build([], None)
        self._close_nodes: tuple[PolicyNode, ...] = ()
        # a firm close wakes the next tick at once (``wake_now``)
        self.applier = DirectiveApplier(ports, firm, start.name, start.schema, self.clock, echo, err,
                                        wake=wake_now, spans_now=self._spans_now)
        self.listener: Optional[Listener] = None
        self.firm_token: Optional[int] = None  # the firm lease's token while this runner holds it
        self.lease_log = FirmLeaseLog(holder)  # its changes said at WARNING, a flap counted
        self.state: Optional[State] = None
        self.blind = BlindReports()
        self.checked_token: Optional[int] = None
        self.ignored_facts = 0  # facts read under a token below their shard's current one
        self.last_reading: Optional[Reading] = None
        self.last_ev: Any = None  # the firm's last evaluation (its triggers' values, for a reset's warning)
        self.resets_after = 0  # the last reset directive the firm's state has taken up (saved with it)
        self.facts_out = FactsPublisher(ports.book, firm, start, echo, err)  # this leader's facts, every tick
        self.wake = wake  # the next tick soon (the daemon's debounced wake)
        self.stops_heard: dict[str, int] = {}  # shard -> stops of its runners heard (NOTIFY)
        self.held_firm = False  # held the firm lease when it stopped (its stop says so)
        # the firm's stage transitions until audited in the firm chain and held by the sinks
        self.entries = FirmOutbox(firm, holder, ports.sinks.holds)

    # --- graph ------------------------------------------------------------------------------------

    def refusals(self, graph: DecisionGraph) -> list[str]:
        """Why the firm-wide policies of ``graph`` (the whole compiled one) cannot run, each line
        opening with its reason code: ``FIRM_POLICY_REFUSED`` (KS243's text),
        ``FIRM_INTERVAL_TOO_SHORT`` (KS244's); none when they can."""
        got = split(graph, self.start.declared, self.start.assignment)
        return ([f"FIRM_POLICY_REFUSED: policy {p.name}: {why}" for p, why in firm_refusals(graph, got.firm)]
                + [f"{FIRM_INTERVAL_TOO_SHORT}: policy {p.name}: {why}"
                   for p, why in firm_interval_refusals(graph, got.firm)])

    def set_graph(self, graph: Optional[DecisionGraph]) -> list[str]:
        """Take the firm-wide policies of ``graph`` (the whole compiled one, before the shard's
        narrowing); refusals (:meth:`refusals`) keep the firm graph running."""
        if graph is None:
            return []
        refused = self.refusals(graph)
        if not refused:
            self.graph = local_graph(graph, split(graph, self.start.declared, self.start.assignment).firm)
            self.ports.book.take_firm_graph(self.graph)  # the sinks find its policies (a firm entry's runbook)
            # a firm close of one of this shard's accounts is planned under the firm policy at account
            # level when no local policy has the account as an instance (a shard with none, or venue-wide)
            self._close_nodes = tuple(replace(p, scope={**p.scope, "level": "account"}) for p in self.graph.policies)
        return refused

    def intervals(self) -> tuple[float, ...]:
        """The firm-wide policies' intervals: the shard ticks and publishes at the shortest of
        them too, whatever its local policies (none included)."""
        return tuple(p.interval_s for p in self.graph.policies)

    def close_nodes(self) -> tuple[PolicyNode, ...]:
        """The firm-wide policies at account level (see :meth:`set_graph`)."""
        return self._close_nodes

    def _spans_now(self, d: Directive) -> list[str]:
        """The accounts lock ``d``'s scope spans under this configuration (a firm policy's scope
        as its selector selects them now; an operator's firm-wide scope)."""
        from ..firm.directives import scope_accounts

        if d.payload.get("source") == "policy":
            node = next((p for p in self.graph.policies if p.name == d.payload.get("policy")), None)
            return [] if node is None else scope_accounts(node, d.scope, self.start.declared)
        return firm_scope(d.scope, self.start.assignment, self.start.declared) or []

    # --- life -------------------------------------------------------------------------------------

    async def begin(self) -> None:
        await self.applier.start()
        loop = asyncio.get_running_loop()

        def notified(payload: str) -> None:
            loop.call_soon_threadsafe(self.heard, payload)

        self.listener = Listener(self.url, NOTIFY_CHANNEL, notified)
        self.listener.start()

    def heard(self, payload: str) -> None:
        """A notification on the firm's channel (on the loop; see the module doc)."""
        notice = read_notice(payload)
        if notice.kind == DIRECTIVE:
            asyncio.ensure_future(self.applier.apply_new())
        elif notice.kind == STOPPED and notice.shard is not None and notice.shard != self.start.name:
            self.stops_heard[notice.shard] = self.stops_heard.get(notice.shard, 0) + 1
            # the holder evaluates now; when the firm lease was given up too, a leader takes it now
            if self.firm_token is not None or (notice.firm_released and self.ports.lead.leader):
                self.wake()

    async def end(self) -> None:
        """Stop listening and give the firm lease up (the runner has stopped acting)."""
        if self.listener is not None:
            await asyncio.to_thread(self.listener.stop)
        if self.firm_token is not None:
            try:
                self.held_firm = bool(await asyncio.to_thread(self.firm.release_lease, self.holder))
            except StoreError:
                pass
            self.firm_token = None

    async def stopped(self, released: bool) -> None:
        """Once the shard's lease is given up (``released``: this runner held it), say so on the
        firm's channel — the holder sees the shard's accounts not seen at once, not at its next
        interval — and close the firm's store. A stop that cannot be said is seen as before,
        when the holder next evaluates."""
        try:
            if released:
                await asyncio.to_thread(self.firm.say_shard_stopped, shard_stopped(self.start.name, self.held_firm))
        except StoreError as e:
            self.err(f"ksctl run: FIRM_STOP_UNSAID: {e}; the firm lease holder sees shard {self.start.name}'s "
                     "accounts not seen at its next evaluation")
        finally:
            await asyncio.to_thread(self.firm.close)

    async def check_registry(self, token: Optional[int]) -> Optional[str]:
        """``SHARD_MISMATCH`` text when this runner holds its shard's lease (``token``) and the
        registry says the shard has another account set; None when it agrees (checked once a token)."""
        if token is None or token == self.checked_token:
            return None
        rows = {r.name: r for r in await asyncio.to_thread(self.firm.shards)}
        row = rows.get(self.start.name)
        if row is not None and row.accounts_digest != self.start.digest:
            mine, theirs = set(self.start.keys), set(row.accounts)
            return (f"SHARD_MISMATCH: this runner took shard {self.start.name}'s lease (token {token}) with accounts "
                    f"digest {self.start.digest[:12]}, but the shard is registered with {row.accounts_digest[:12]} "
                    f"by {row.holder} (only here: {', '.join(sorted(mine - theirs)) or '-'}; only registered: "
                    f"{', '.join(sorted(theirs - mine)) or '-'}); it refuses to act")
        self.checked_token = token
        return None

    # --- every tick ---------------------------------------------------------------------------------

    async def after_tick(self, report: Any) -> None:
        now = self.clock()
        try:
            await asyncio.to_thread(self.firm.seen, self.start.name, self.holder, bool(report.leader), now)
            if report.leader and report.fence:
                await self.facts_out.publish(report, now, self.graph)
                await self._firm_lease(now)
            else:
                self.facts_out.stopped()
                if self.firm_token is not None:
                    await asyncio.to_thread(self.firm.release_lease, self.holder)
                    self.firm_token = None
        except StoreError as e:
            self.err(f"ksctl run: FIRM_STATE_UNREACHABLE: {e}; the firm step is tried again at the next tick")
            return
        await self.applier.apply_new()

    async def _firm_lease(self, now: int) -> None:
        token = await asyncio.to_thread(self.firm.acquire_lease, self.holder, self.ttl_ms, now)
        if token is None:
            if self.firm_token is not None:
                self.lease_log.lost(self.firm_token, now)
            self.firm_token = None
            return
        if token != self.firm_token:  # taken now: the firm's engine state as the last holder saved it
            doc = await asyncio.to_thread(self.firm.load_engine_state)
            self.state = State.from_json(doc["engine"]) if doc and doc.get("engine") else State()
            # a firm state of its own: the reset approvals written before it are not its
            self.resets_after = int(doc.get("resets_after") or 0) if doc and doc.get("engine") else \
                await asyncio.to_thread(self.firm.last_directive_id)
            self.entries.take(doc if doc and doc.get("engine") else None)  # what the last holder owed
            self.lease_log.taken(token, ", ".join(p.name for p in self.graph.policies) or "-", now)
        try:
            if token != self.firm_token:  # what the last holder owed: each row once, each event again
                for e in await self.entries.resume(token, now):
                    self.ports.sinks.emit(e)
                self.firm_token = token  # (a store error before: taken up again at the next tick)
            await self._evaluate(now, token)
        except FencedError:
            self.firm_token = None

    async def _evaluate(self, now: int, token: int) -> None:
        facts = await asyncio.to_thread(self.firm.facts)
        leases = await asyncio.to_thread(self.firm.shard_leases, self.schemas)
        reading = firm_snapshots(facts, leases, self.start.assignment, self.start.declared, now,
                                 stale_after_ms(self.graph))
        self.ignored_facts += reading.ignored
        self.last_reading = reading
        resets = await take_resets(self, now)  # approvals sent to any shard, taken up before this evaluation
        ev, self.state = evaluate(self.graph, reading.snapshots, self.state, now)
        self.last_ev = ev
        directives = resets + directives_of(ev, self.graph, self.start.declared)
        view = firm_view(ev, reading, self.holder, self.graph.digest, now, relatch_of(self.graph, self.state, ev))
        # owed in the document that records the stage change, until audited and held by the sinks
        owed = self.entries.owe(ev.transitions, self.graph, now, self.ports.dry_run)
        ids = await asyncio.to_thread(self.firm.commit_firm, token, {"engine": self.state.to_json(),
                                                                      "resets_after": self.resets_after,
                                                                      "owed": owed},
                                      self.graph.digest, view, directives, now)
        await self.entries.audit(token, now)  # the firm chain's stage_transition rows, fenced
        for e in self.entries.tell():
            self.ports.sinks.emit(e)
        for se in ev.transitions:
            self.echo(f"ksctl run: FIRM {se.policy} {se.scope}: {se.transition.reason if se.transition else ''}")
        for e in self.blind.events(ev, now):
            self.ports.sinks.emit(e)
        for d, did in zip(directives, ids):
            self.echo(f"ksctl run: FIRM_DIRECTIVE {did} written: {d.kind} {d.scope} ({d.payload.get('reason')})")

    route_reset = route_reset  # an approval of a firm policy's reset sent here (.resets; None: not firm-wide)

    # --- operators ------------------------------------------------------------------------------------

    async def route(self, kind: str, scope: str, payload: dict, actor: Optional[str]) -> Optional[ChangeResult]:
        """An operator's ``lock``, ``unlock`` or ``close_all`` of ``scope``: a directive for every shard
        when ``scope`` is firm-wide, else None (this shard's own command path takes it)."""
        spans = firm_scope(scope, self.start.assignment, self.start.declared)
        if spans is None or kind not in (LOCK, UNLOCK, CLOSE_ALL):
            return None
        if kind == UNLOCK and (killed := await unlock_under_kill(self, scope, payload, actor)) is not None:
            return killed  # refused up front: every shard would refuse it in its own log
        return await self.applier.send(kind, scope, spans, payload, actor)

    # --- the firm-wide kill (firmlink/kill.py: its functions take the link as their first argument) ----

    kill_preview = kill_preview
    kill = send_kill
    kill_release = release_kill
    kill_status = kill_status

    async def status(self) -> dict:
        """The firm as this shard's runner sees it (``GET /v1/firm``)."""
        now = self.clock()
        lease = await asyncio.to_thread(self.firm.lease)
        shards = await asyncio.to_thread(self.firm.shards)
        leases = await asyncio.to_thread(self.firm.shard_leases, self.schemas)
        runners = await asyncio.to_thread(self.firm.runners, now - 3 * self.ttl_ms)
        facts = await asyncio.to_thread(self.firm.facts)
        got = await asyncio.to_thread(self.firm.firm_view)
        view, saved = got if got is not None else ({}, None)
        rows = []
        registered = {r.name: r for r in shards}
        for name, accounts in sorted(self.start.assignment.items()):
            sl = leases.get(name)
            leader = sl.holder if sl is not None and sl.held(now) else None
            mine = [f for f in facts if f.shard == name and (sl is None or f.fence >= sl.fence)]
            newest = max((f.published_ms for f in mine), default=None)
            reg = registered.get(name)
            rows.append({"shard": name, "leader": leader, "token": sl.fence if sl else None,
                         "standby": [r.holder for r in runners if r.shard == name and r.holder != leader],
                         "accounts": accounts, "accounts_digest": reg.accounts_digest if reg else None,
                         "armed": bool(mine) and all(f.armed and f.fetch_ok for f in mine),
                         "facts_age_s": None if newest is None else round((now - newest) / 1000, 3),
                         "not_publishing": (view.get("not_publishing") or {}).get(name)})
        holder = lease.holder if lease.holder is not None and lease.expires_ms > now else None
        return {"shard": self.start.name, "firm_lease": {"holder": holder, "token": lease.fence},
                "view_age_s": None if saved is None else round((now - saved) / 1000, 3),
                "shards": rows, "policies": view.get("policies", []),
                # as the holder read them when it evaluated (its view): what the policies' coverage is of
                "evaluated": {"ages_ms": view.get("ages_ms", {}), "ignored_facts": view.get("ignored_facts", 0),
                              "holder": view.get("holder")},
                "facts": {"refused": self.facts_out.refused, "ignored": self.ignored_facts,
                          "last_publish": self.facts_out.cost, "late": self.facts_out.late}}

    def collect_metrics(self, registry: Registry) -> None:
        for name, kind, text, value in (
            ("killswitch_firm_facts_refused_total", "counter", "Facts this runner published under a token that was "
             "not its shard's current one (not written).", self.facts_out.refused),
            ("killswitch_firm_facts_ignored_total", "counter", "Facts the firm lease holder read under a token below "
             "their shard's current one (not read as fresh).", self.ignored_facts),
            ("killswitch_firm_lease_held", "gauge", "1 while this runner holds the firm lease (evaluates the firm-wide "
             "policies).", int(self.firm_token is not None)),
            ("killswitch_firm_directives_applied_total", "counter", "Firm directives this runner carried out on its "
             "shard's accounts.", self.applier.applied_total),
            ("killswitch_firm_facts_late_total", "counter", "Publishes of this runner's facts that came later after "
             "its last ones than the firm lease holder reads facts for (its accounts not seen meanwhile).",
             self.facts_out.late),
        ):
            registry.sampled(name, kind, text).add(value)
        stops = registry.sampled("killswitch_firm_shard_stops_heard_total", "counter",
                                 "Stops of another shard's runner (its lease given up) heard on the firm's channel.",
                                 ("shard",))
        for shard, n in sorted(self.stops_heard.items()):
            stops.add(n, shard=shard)
        age = registry.sampled("killswitch_firm_shard_facts_age_seconds", "gauge",
                               "Age of a shard's newest facts, as the firm lease holder last read them.", ("shard",))
        if self.firm_token is not None and self.last_reading is not None:
            for shard, ms in sorted(self.last_reading.ages_ms.items()):
                if ms is not None:
                    age.add(ms / 1000, shard=shard)
