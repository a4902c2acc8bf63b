"""``ksctl run``: the runner as a long-lived process.

Wires what the runner needs from the command line: the compiled policies, one ccxt adapter per
account of the Accounts document, the state store, the lock file and the HTTP API; ticks at the
policies' interval; reloads policies on SIGHUP or when a policy file changes — compiled on a
worker thread while the ticks and the API go on, swapped in between two ticks — a policy that
fails to compile keeps the last good graph running and says so loudly (stderr, status, audit);
reloads the API's tokens document (``--api-tokens``) on SIGHUP or when the file changes (a
mounted Secret updated in place), names only in the log, and keeps the identities in force when
the new document cannot be used (an ERROR line says why); with ``--kube-leader-label`` keeps its
pod's role label saying whether it holds the lease (:mod:`.pod_label`); with
``--shard`` runs one shard's accounts and local policies on the shard's schema
(:mod:`killswitch.process.shard`), ticking — and publishing its facts to the firm — at the shortest
interval of its local and the firm-wide policies, one interval from one tick's start to the
next (:func:`killswitch.runner.tick.wakes.interval_wait_s`), and at a trading window's edge when one
comes sooner (``Readout.window_edge_s``); stops cleanly on SIGTERM / SIGINT.
Dry run unless the Accounts document says ``dry_run: false``.

What runs once started is a list of named tasks (:meth:`Daemon.tasks`: ``tick``, ``show-life``,
``pod-label``, ``metrics-push``) under one :class:`~killswitch.process.tasks.Supervisor`: a task that
fails is said by name (``TASK_FAILED``, ``killswitch_task_failures_total{task}``), then the
process stops cleanly and exits 3, or the task is started again, as docs/architecture.md lists per
task. The start itself (the graph run, the API) is :mod:`killswitch.process.start`'s, the
policy reloads :mod:`killswitch.process.reloads`'s, the wait between two ticks
:mod:`killswitch.process.between_ticks`', the options :mod:`killswitch.process.options`'.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ..compile.graph import DecisionGraph
from ..events import DMS_FIRED, POLICY_RELOAD_FAILED, Event
from ..face.desk.desk import Desk
from ..firmlink.firm import FirmLink
from ..policy.accounts_doc import Account
from ..runner.sync.tracker import StartSources
from ..runner.tick.loop import Runner
from ..runner.tick.parts import RunnerParts
from ..runner.tick.wakes import Wakes, interval_wait_s
from ..sources import revision_text
from ..state.store import StoreError
from .between_ticks import BetweenTicks
from .bootstrap import (
    AccountsError,
    build_runner_and_desk,
    open_state,
    read_accounts,
)
from .options import RunOptions
from .pod_label import PodRoleLabel
from .reloads import PolicyReloads, compile_policy_sources, policy_mtimes
from .shard import ShardRefused, ShardStart, firm_link, shard_start, start_shard
from .start import (
    attach_signin,
    audit_sinks,
    graph_to_run,
    load_proxy,
    load_signin,
    load_tls,
    start_api,
    venues_and_sinks,
)
from .tasks import EXIT, RESTART, Supervisor, Task
from .tokens import TokensReloader

# the process's named tasks (Daemon.tasks; what a failure of each means: docs/architecture.md)
TICK, SHOW_LIFE, POD_LABEL, METRICS_PUSH, API = "tick", "show-life", "pod-label", "metrics-push", "api"
STORED_LOCKS = "stored-locks"


class Daemon(PolicyReloads):
    """The life of one ``ksctl run`` process: the runner and its ticks, the lease and the tasks
    that follow it (life shown, the pod's role label), reloads of the policies and the tokens
    between two ticks, the metrics push, and a clean stop.

    Size: about 425 lines, over the class bound by the process's order, which is said in one
    place: what starts before the lease thread (the runner, its firm link, the API, the audit
    sinks, the TLS listener), the named tasks that start after it (:meth:`tasks`), and the clean
    stop that ends them in the order the lease and the store need (:meth:`_serve`); the graph and
    the API are built in :mod:`killswitch.process.start`, the policy reloads are
    :class:`~killswitch.process.reloads.PolicyReloads`', the wait between two ticks
    :class:`~killswitch.process.between_ticks.BetweenTicks`'.
    """

    def __init__(self, opts: RunOptions, echo: Callable[[str], None], err: Callable[[str], None],
                 warn: Optional[Callable[[str], None]] = None):
        self.opts = opts
        self.echo = echo
        self.err = err
        self.warn = warn or err  # WARNING: a risk the runner runs on with; ``err`` is for ERROR
        self.stop = asyncio.Event()
        self.reload = asyncio.Event()
        # SIGHUP (said in the log) reads the policies and the tokens document again; so does a change of either
        self.tokens = TokensReloader(opts.api_tokens, echo, err, on_sighup=self.reload.set)
        self.early_hup: list[int] = []  # a SIGHUP that came before the loop's handler (see main)
        self._compiling: Optional[asyncio.Future] = None  # a reload's compile, running on a worker thread
        self.lease_moved = asyncio.Event()  # set from the lease thread when the token held changes
        self.role_moved = asyncio.Event()  # the same, for the pod's role label (its own task clears it)
        self.runner: Optional[Runner] = None
        self.desk: Optional[Desk] = None  # what the API serves: the operators' calls (face/desk/desk.py)
        self.parts: Optional[RunnerParts] = None  # what both are made of (the firm link is made from them too)
        self._files: Optional[list[tuple[str, str]]] = None  # the sources of the graph running
        self._saved: Optional[str] = None  # the digest last kept as the good bundle
        self._store_failing = False  # the last tick stopped on a store error (said once, and its end once)
        self._declared: Optional[Sequence[Account]] = None  # the accounts read at start: scopes are checked on them
        # a private stream's update wakes the wait between ticks, never sooner than the spacing after the last start
        self.wakes = Wakes(opts.min_tick_spacing_s)
        # the wait between two ticks: the interval, a wake, a lease that changed hands, the stop
        self.between = BetweenTicks(self.stop, self.lease_moved, self.wakes, opts.lease_ttl_ms)
        self._shard: Optional[ShardStart] = None  # ``--shard``: which accounts and policies are this runner's
        self.firm: Optional[FirmLink] = None  # ``--shard``: its facts, the firm lease, the directives
        # the process's named tasks (:meth:`tasks`): a failure said by name, then the task's policy
        self.supervisor = Supervisor(err, self.stop.set)
        self.ticks = 0
        self.code = 0  # the exit code when the tick loop ends (2: SHARD_MISMATCH)
        self._tls: Optional[Any] = None  # ``--web-config-file``: the API's TLS, read before anything starts
        self._proxy: Optional[Any] = None  # ``--trusted-proxy``: the proxy that may name the person
        self._signin: Optional[Any] = None  # ``--oidc-config``: the console's sign-in, its provider discovered
        self._keeper: Optional[Any] = None  # the lease thread, once started: whether this runner leads
        self._readers: Optional[Any] = None  # the reader processes (--readers), once started
        self.audit_sinks: Optional[Any] = None  # ``--audit-sink``: the chain's shippers (audit/siem/shipper.py)

    def _accounts(self):
        try:
            return read_accounts(self.opts.accounts, self.opts.max_file_bytes)
        except AccountsError as e:
            for d in e.diagnostics:
                self.err(f"{d.location()}: error[{d.code}]: {d.message}")
            raise SystemExit(f"ksctl run: {e}") from None

    def _served(self, path: Optional[str], option: str, unserved: str) -> Optional[str]:
        """The file ``option`` gave where the API is there to use it; None where none was given,
        or where there is no API (said, with what that leaves ``unserved``)."""
        if path and self.opts.api_port is None:
            self.warn(f"ksctl run: {option} without an API (--api-port -1): {unserved}")
        return path if self.opts.api_port is not None else None

    def _api_inputs(self) -> tuple[bool, Any]:
        """The tokens document, the web config file and the sign-in's provider, read before anything
        starts: a runner must not lead with an API nobody can use as meant, nor serve plain HTTP
        where TLS was asked.
        (False: refused, said; the tokens document read, or None.)"""
        tokens = None
        if self.opts.api_tokens and self.opts.api_port is not None:
            from ..face.api.identity import TokensError, load_tokens

            try:
                tokens = load_tokens(self.opts.api_tokens)
            except TokensError as e:
                self.err(f"ksctl run: {e}; nothing started")
                return False, None
        if web_config := self._served(self.opts.web_config_file, "--web-config-file", "nothing is served"):
            self._tls = load_tls(web_config, self.echo, self.err)
            if self._tls is None:
                return False, None
        if self.opts.trusted_proxy and self.opts.api_port is not None:
            self._proxy = load_proxy(self.opts.trusted_proxy, self._tls, tokens, self.echo, self.err, self.warn)
            if self._proxy is None:
                return False, None
        if oidc_config := self._served(self.opts.oidc_config, "--oidc-config", "nobody signs in"):
            self._signin = load_signin(oidc_config, self.echo, self.err)
            if self._signin is None:
                return False, None
            if tokens is None or not tokens.groups:
                self.warn("ksctl run: --oidc-config, but the tokens document (--api-tokens) maps no group to a "
                          "role (groups:): nobody can sign in")
        return True, tokens

    async def run(self) -> int:
        """Start the runner and its API, then run the process's named tasks (:meth:`tasks`) under
        one supervisor until a stop; the exit code."""
        read, tokens = self._api_inputs()
        if not read:
            return 2
        spec = self._accounts()  # first: the policies' scopes are checked against the accounts run with
        self._declared = list(spec.accounts)
        try:
            self._shard = shard_start(self.opts.shard, spec, self.opts.state_url)
        except ShardRefused as e:
            self.err(f"ksctl run: {e}; nothing started")
            return 2
        result, files, revision = compile_policy_sources(self.opts.policies, self.opts.max_file_bytes,
                                                         self._declared)
        try:
            store = open_state(self.opts.state_url, audit_key_file=self.opts.audit_key_file, err=self.err,
                               schema=self._shard.schema if self._shard else None)
        except StoreError as e:  # not a bug: said in one line, with the store's words (its URL masked)
            self.err(f"ksctl run: STORE_UNREADABLE: {e}; nothing started")
            return 3  # as history, audit verify and report say a store they cannot open
        got = graph_to_run(result, store, self.opts.strict, self._declared, self.err)
        if isinstance(got, int):
            return got
        result, policy_error, bundled = got
        # what the runner's policy sync starts from: the sources of the graph it runs, and when
        # that is the last good bundle, the sources it read and could not run
        sources = StartSources(tuple(self.opts.policies), tuple(files if bundled is None else bundled),
                               tuple(files) if bundled is not None else (), revision)
        holder = self.opts.holder or f"{socket.gethostname()}-{os.getpid()}"
        whole = result.graph  # the firm-wide policies are taken from it (firmlink/firm.py)
        if self._shard is not None:  # its local policies only; registered, or refused, before any adapter
            result, narrowed = self._shard.narrow(result)
            try:
                start_shard(self._shard, narrowed, self.opts.state_url, holder, self.echo, self.warn)
            except (ShardRefused, StoreError) as e:
                self.err(f"ksctl run: {e}; nothing started")
                store.close()
                return 2 if isinstance(e, ShardRefused) else 1
        graph = result.graph
        assert graph is not None  # (compiled, or the last good bundle)
        venues = await venues_and_sinks(self.opts, self._shard.accounts if self._shard else spec.accounts, result,
                                        store, self.echo, self.err, self.warn)
        if venues is None:  # the readers did not start
            store.close()
            return 1
        built, self._readers, sinks = venues
        adapters = built.by_key
        runner, desk, parts = self.runner, self.desk, self.parts = build_runner_and_desk(
            graph, adapters, store, sinks=sinks, lock_path=Path(self.opts.lock_file), dry_run=spec.dry_run,
            holder=holder, lease_ttl_ms=self.opts.lease_ttl_ms, policy_error=policy_error,
            shard=self._shard.name if self._shard else None, sources=sources)
        if self._shard is not None and not await self._link_firm(runner, desk, parts, whole, graph, holder, store):
            return 2
        self.echo(f"ksctl run: mode {'DRY RUN (nothing is sent)' if spec.dry_run else 'LIVE'}; graph {graph.digest} "
                  f"revision {revision_text(graph.revision)}; {len(adapters)} account(s); holder {holder}")
        if policy_error:
            runner.emit(Event.make(POLICY_RELOAD_FAILED, parts.clock(), {
                "error": policy_error, "running": parts.book.graph.digest, "at_start": True}))
        self._files, self._saved = files, graph.digest if policy_error else None
        made, self.audit_sinks = audit_sinks(self.opts, store, self._leading, self.echo, self.err)
        # the sign-in's sign-outs and names in the state store (none without --oidc-config)
        made = made and attach_signin(self._signin, store, self.echo, self.err)
        api = None
        if made and self.opts.api_port is not None:
            api = await start_api(desk, self.opts, tokens, self.tokens, self.echo, self.err, self._tls,
                                  self.audit_sinks.refusal if self.audit_sinks is not None else None, self._proxy,
                                  self._signin, warn=self.warn)
        if self._readers is not None:
            self._readers.follow_term(parts.lead.send_until)
            desk.add_metrics(self._readers)
        if not made or (self.opts.api_port is not None and api is None):
            await runner.aclose()
            for a in adapters.values():
                await a.close()
            await self._close_readers()
            if self.audit_sinks is not None:
                self.audit_sinks.stop()
            self._close_signin()
            store.close()
            return 2
        return await self._serve(runner, desk, parts, store, adapters, api, holder)

    async def _close_readers(self) -> None:
        if self._readers is not None:
            await self._readers.close()

    def _close_signin(self) -> None:
        """(blocking) The sign-in's connection to the state store closed, and its follower stopped."""
        if self._signin is not None:
            self._signin.close()

    def _leading(self) -> Optional[int]:
        """The fencing token while this runner leads, else None (the audit sinks ship only then)."""
        keeper = self._keeper
        return None if keeper is None else keeper.token(keeper.clock())

    async def _link_firm(self, runner: Runner, desk: Desk, parts: RunnerParts, whole: Optional[DecisionGraph],
                         graph: DecisionGraph, holder: str, store) -> bool:
        """A shard's part in the firm: facts, the firm lease, directives (firmlink/firm.py); False
        (said, the runner and the store closed) when it is refused."""
        assert self._shard is not None
        try:
            # a firm close: the next tick at once; a shard stopped: the holder's next tick soon (debounced)
            self.firm, board = firm_link(parts, self._shard, whole, self.opts.state_url, holder,
                                         self.opts.lease_ttl_ms, self.echo, self.err, self.opts.external_url,
                                         wake=self.wakes.nudge, wake_now=self.lease_moved.set)
        except (ShardRefused, StoreError) as e:
            self.err(f"ksctl run: {e}; nothing started")
            await runner.aclose()
            store.close()
            return False
        # firm-wide operator commands become directives, GET /v1/firm; it ticks, and publishes its
        # facts, at the firm-wide policies' interval too; the firm's close of an account no local policy has
        parts.firm.fill(self.firm, board)
        desk.add_metrics(self.firm)
        self.echo(f"ksctl run: shard {self._shard.name} ticks every {parts.pace.pace_s():g}s: "
                  + _pace_why(graph, self.firm))
        return True

    def _signals(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop's handlers of SIGTERM, SIGINT and SIGHUP; a SIGHUP that came while the runner
        started (kept by :func:`main`'s handler) acted on now."""
        for sig, on in ((signal.SIGTERM, self.stop.set), (signal.SIGINT, self.stop.set),
                        (signal.SIGHUP, self.tokens.sighup)):
            try:
                loop.add_signal_handler(sig, on)
            except (NotImplementedError, RuntimeError):
                pass
        if self.early_hup:
            self.tokens.sighup()

    async def _serve(self, runner: Runner, desk: Desk, parts: RunnerParts, store, adapters: dict, api: Optional[Any],
                     holder: str) -> int:
        """The lease thread, then the process's named tasks under the supervisor until the tick
        loop ends (a stop, ``--max-ticks``, a task whose failure stops the process); then the
        clean stop, in its order."""
        loop = asyncio.get_running_loop()
        self._signals(loop)
        from ..runner.lease.keeper import LeaseKeeper
        from ..telemetry.metrics_otlp import OtlpMetrics

        seen = policy_mtimes(self.opts.policies)  # the policy files as they were when the runner started
        metrics_config, pusher = OtlpMetrics.from_env(time.time_ns())
        self.echo(f"ksctl run: {metrics_config.describe()}")
        desk.add_metrics(self.supervisor)
        keeper: Optional[LeaseKeeper] = None
        labeller: Optional[PodRoleLabel] = None
        try:
            # The lease from a thread of its own, on a store connection of its own, renewed while
            # this loop shows life (see runner/lease/keeper.py): no tick and no burst of requests can let
            # it lapse, and a wedged loop still hands over.
            try:
                keeper = LeaseKeeper.for_store(store, holder, self.opts.lease_ttl_ms, clock=parts.clock,
                                               on_change=lambda: loop.call_soon_threadsafe(self._lease_changed))
            except StoreError as e:
                self.err(f"ksctl run: STATE_UNREACHABLE: the lease thread cannot open its connection: {e}")
                return 1
            runner.hold_lease_with(keeper)
            await asyncio.to_thread(keeper.start)
            self._keeper = keeper
            if self.audit_sinks is not None:  # off the loop: threads of their own, each its own connection
                desk.add_metrics(self.audit_sinks)  # on /metrics, and its status_key's in GET /v1/status
                self.audit_sinks.start()
            if self.opts.kube_leader_label:
                labeller = PodRoleLabel(self.opts.kube_leader_label, os.environ, warn=self.warn, echo=self.echo,
                                        serviceaccount_dir=self.opts.kube_serviceaccount_dir)
                desk.add_metrics(labeller)
            self.supervisor.start(*self.tasks(runner, desk, parts, store, adapters, keeper, labeller, pusher, seen,
                                              api))
            await self.supervisor.wait(TICK)
        finally:
            await self.supervisor.cancel(TICK)  # (ended already, unless this run was cancelled)
            await self.supervisor.cancel(METRICS_PUSH)
            if pusher is not None:
                await asyncio.to_thread(pusher.shutdown)
            if api is not None:
                await api.stop()
            await self.supervisor.cancel(API)  # (ended with the stop)
            await asyncio.to_thread(self._close_signin)
            await runner.aclose()
            # stopped acting (nothing more is written under the token): give the lease up before the
            # adapters' sessions are closed (seconds at many accounts), so that a standby takes over,
            # and the firm lease holder sees a shard with none gone, now rather than in a term
            await self.supervisor.cancel(SHOW_LIFE)
            if self.firm is not None:
                await self.firm.end()
                if parts.firm.board is not None:
                    await asyncio.to_thread(parts.firm.board.close)
            released = False
            if keeper is not None:
                released = await asyncio.to_thread(keeper.stop, release=True)
            if self.firm is not None:
                await self.firm.stopped(released)  # said once the release is committed
            for a in adapters.values():
                await a.close()
            await self._close_readers()
            await self.supervisor.cancel(POD_LABEL)
            if labeller is not None:
                await labeller.step_down()  # the leader Service stops sending here at once
                await labeller.aclose()
            if self.audit_sinks is not None:
                await asyncio.to_thread(self.audit_sinks.stop)
            store.close()
        self.echo(f"ksctl run: stopped after {self.ticks} tick(s)")
        return 3 if self.supervisor.failed is not None else self.code

    def tasks(self, runner: Runner, desk: Desk, parts: RunnerParts, store: Any, adapters: dict, keeper: Any,
              labeller: Optional[PodRoleLabel], pusher: Any, seen: dict[str, float],
              api: Optional[Any] = None) -> list[Task]:
        """The process's named tasks and what the failure of each means (docs/architecture.md)."""
        from ..runner.lease.keeper import show_life
        from ..runner.lease.stored import look_for_stored

        out = [Task(TICK, lambda: self._ticks(runner, desk, parts, store, adapters, keeper, seen), EXIT,
                    "nothing is evaluated or sent"),
               # the loop's half of the lease's watchdog: without it the lease lapses, a standby takes over
               Task(SHOW_LIFE, lambda: show_life(keeper, parts.io), EXIT, "the lease is no longer renewed"),
               # operator locks stored while no runner led: read every second (status shows them), and
               # taken up while leading (one stored as another runner took the lease, after its first tick)
               Task(STORED_LOCKS, lambda: look_for_stored(parts.stored,
                                                          parts.commands.take_up_stored), RESTART,
                    "a lock stored while no runner led waits for this leader's next new token meanwhile")]
        if labeller is not None:
            # The pod's role label follows the lease from a task of its own: a slow or refusing
            # API server holds up neither a tick nor a renewal (see process/pod_label.py).
            out.append(Task(POD_LABEL, lambda: labeller.follow(lambda: keeper.token(keeper.clock()) is not None,
                                                               self.role_moved, keeper.renew_ms / 1000),
                            RESTART, "the pod's role label stays as it is meanwhile"))
        if pusher is not None:
            out.append(Task(METRICS_PUSH, lambda: self._push_metrics(desk, pusher), RESTART,
                            "the OTLP metrics are not pushed meanwhile (/metrics is unaffected)"))
        if api is not None:
            # the API's threads watched: a loop that ended or an accept that failed is said, and
            # accepting starts again (face/api/thread.py); the tick goes on meanwhile
            out.append(Task(API, api.serve, RESTART, "the API's connections are not all served meanwhile "
                                                     "(the tick, the lock file and the lease go on)"))
        return out

    async def _ticks(self, runner: Runner, desk: Desk, parts: RunnerParts, store: Any, adapters: dict, keeper: Any,
                     seen: dict[str, float]) -> None:
        """The tick loop: the runner started (the pending intents settled), then a tick at the
        policies' interval (or sooner: a stream's wake, a lease change), reloads and the tokens
        taken up between two ticks, until a stop or ``--max-ticks``."""
        loop = asyncio.get_running_loop()
        await runner.start()
        if self.firm is not None:
            await self.firm.begin()  # the directives' watermark, and LISTEN
        self.wakes.attach(runner.venues.values())
        desk.add_metrics(self.wakes)
        parts.streams.announce()  # the accounts that poll, said once
        parts.modes.announce()  # the position modes: read from the venues, checked against the declared
        cause = "interval"
        while not self.stop.is_set():
            self.tokens.between_ticks()
            now_seen = policy_mtimes(self.opts.policies)
            await self._swap_compiled(runner, parts)
            if (self.reload.is_set() or now_seen != seen) and self._compiling is None:
                self.reload.clear()
                seen = now_seen
                self._start_reload()  # swapped in by _swap_compiled once compiled, between two ticks
            self.wakes.tick_started(loop.time(), cause)
            if self.firm is not None and (mismatch := await self.firm.check_registry(keeper.token(keeper.clock()))):
                self.err(f"ksctl run: {mismatch}")  # a standby started with another account set must not lead
                self.code = 2
                return
            report = await runner.tick()  # however long it takes, the lease thread keeps the lease
            self.ticks += 1
            if self.firm is not None:
                await self.firm.after_tick(report)
                if parts.firm.board is not None:
                    await parts.firm.board.after_tick(report)  # its board beside its facts: every console's
            if report.leader:  # a standby does not stream (its snapshots are not read); close() stops them
                await parts.streams.lead()
            if self.ticks == 1:
                # what start-up made (the markets of every venue, the first snapshots, the
                # modules) lives as long as the runner: kept out of the full collections,
                # which walked it all (~0.6 s at 10,000 positions, landing inside a reaction)
                gc.freeze()
            self._say_store(report.store_error)
            await self._keep_bundle(parts, store)
            self._say_tick(report)
            if self.opts.max_ticks is not None and self.ticks >= self.opts.max_ticks:
                return
            wait = interval_wait_s(parts.pace.pace_s(), self.wakes.last_start, loop.time(), self._shard is not None)
            edge = parts.pace.window_edge_s()  # a trading window changes sooner: tick at its edge
            cause = await self.between.wait(runner, wait if edge is None else min(wait, edge))

    def _say_tick(self, report: Any) -> None:
        """A tick's transitions, dead man's switch firings and rejected orders, said."""
        for s in report.transitions:
            self.echo(f"ksctl run: {s.policy} {s.scope}: {s.transition.reason}")
        for event in report.events:
            if event.kind == DMS_FIRED:
                self.err(f"ksctl run: dead man's switch: {event.labels.get('reason')}")
        for r in report.execution.rejected:
            self.err(f"ksctl run: order rejected: {r}")

    def _lease_changed(self) -> None:
        """On the loop, when the lease thread's token changed: wake the wait between ticks and the
        pod's role label."""
        self.lease_moved.set()
        self.role_moved.set()

    async def _push_metrics(self, desk: Desk, pusher) -> None:
        """Every ``OTEL_METRIC_EXPORT_INTERVAL``: the registry as /metrics shows it (read on this
        loop), pushed over OTLP from a worker thread. A failure is said once, and its end once."""
        failing = False
        while True:
            await asyncio.sleep(pusher.config.interval_ms / 1000)
            ok = await asyncio.to_thread(pusher.export, desk.metrics_text(), time.time_ns())
            if ok == failing:
                failing = not ok
                if failing:
                    self.err(f"ksctl run: OTLP_METRICS_FAILED: the export to {pusher.config.endpoint} failed; "
                             "retried at every interval (/metrics is unaffected)")
                else:
                    self.echo(f"ksctl run: OTLP metrics exported again to {pusher.config.endpoint}")

    def _say_store(self, error: Optional[str]) -> None:
        """A tick that stopped on a store error, said once until a tick runs through again."""
        if error is not None and not self._store_failing:
            self.err(f"ksctl run: STATE_UNREACHABLE: a tick stopped on a store error ({error}); nothing is sent "
                     "until the state is read back; retried every tick")
        elif error is None and self._store_failing:
            self.echo("ksctl run: the state store answers again")
        self._store_failing = error is not None


def _pace_why(local: DecisionGraph, firm: FirmLink) -> str:
    """Why a shard ticks at its pace (the start line)."""
    if not firm.graph.policies:
        return "its local policies' interval (no firm-wide policy)" if local.policies else "the default (no policy)"
    shortest = min(firm.intervals())
    if not local.policies:
        return "the firm-wide policies' interval (no local policy)"
    own = min(p.interval_s for p in local.policies)
    return ("the firm-wide policies' interval, under its local policies' "
            f"{own:g}s" if shortest < own else "its local policies' interval")


SWITCH_INTERVAL_S = 0.001


def main(opts: RunOptions) -> int:
    from ..logs import configure, unconfigure

    # Through the standard logging module: a timestamp and a level on every line, JSON on request,
    # secrets scrubbed. What was said on stdout stays on stdout (INFO), what was said on stderr on
    # stderr (ERROR): the text of each message is unchanged.
    log = configure(opts.log_format)
    # Three threads share the interpreter: the tick's loop, the API's and the store's. When the
    # API's is busy (a storm of requests), a thread waking from I/O waits for the interpreter lock
    # up to the switch interval, at every hop of a tick between the loop and the store thread;
    # 1 ms instead of the default 5 keeps that wait short (see bench/api_load.py).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    daemon = Daemon(opts, log.info, log.error, log.warning)
    # a SIGHUP before the loop's handler is installed (a reload sent while the runner starts)
    # would end the process by default: kept, and acted on once the loop's handler is there
    signal.signal(signal.SIGHUP, lambda signum, frame: daemon.early_hup.append(signum))
    try:
        return asyncio.run(daemon.run())
    except KeyboardInterrupt:  # pragma: no cover - the signal handler normally catches it
        return 0
    except Exception:  # a bug: its traceback through the scrubber, not printed raw after the log is gone
        log.exception("ksctl run: internal error (a bug: please report it)")
        return 3  # EXIT_INTERNAL
    finally:
        unconfigure()
        sys.stdout.flush()
