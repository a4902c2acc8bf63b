"""``ksctl run``: the runner as a long-lived process.

Wires what the runner needs from the command line: the compiled policies, one ccxt adapter per
account of the Accounts document, the state store, the lock file and the HTTP API; ticks at the
policies' interval; reloads policies on SIGHUP or when a policy file changes — a policy that
fails to compile keeps the last good graph running and says so loudly (stderr, status, audit);
stops cleanly on SIGTERM / SIGINT. Dry run unless the Accounts document says ``dry_run: false``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..compile.compiler import CompileResult, compile_documents
from ..policy.load import load_sources
from ..policy.model import Accounts
from ..sources import read_sources
from .loop import Runner


@dataclass
class RunOptions:
    policies: tuple[str, ...]
    accounts: str
    state_url: str
    lock_file: str
    api_host: str = "127.0.0.1"
    api_port: Optional[int] = 8080  # None: no API
    api_token_env: str = "KS_API_TOKEN"
    holder: Optional[str] = None
    lease_ttl_ms: int = 5_000
    max_ticks: Optional[int] = None


def compile_policies(paths: tuple[str, ...]) -> CompileResult:
    src = read_sources(list(paths))
    loaded = load_sources(src.files)
    loaded.diagnostics[:0] = src.diagnostics
    return compile_documents(loaded, src.revision)


def _mtimes(paths: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for p in paths:
        root = Path(p)
        files = [root] if root.is_file() else sorted(root.rglob("*.y*ml")) if root.is_dir() else []
        for f in files:
            try:
                out[str(f)] = f.stat().st_mtime
            except OSError:
                pass
    return out


class Daemon:
    def __init__(self, opts: RunOptions, echo: Callable[[str], None], err: Callable[[str], None]):
        self.opts = opts
        self.echo = echo
        self.err = err
        self.stop = asyncio.Event()
        self.reload = asyncio.Event()
        self.runner: Optional[Runner] = None

    def _accounts(self):
        res = compile_policies((self.opts.accounts,))
        docs = [d.model for d in res.docs if isinstance(d.model, Accounts)]
        if res.errors or len(docs) != 1:
            for d in res.errors:
                self.err(f"{d.location()}: error[{d.code}]: {d.message}")
            raise SystemExit(f"ksctl run: {self.opts.accounts} must hold exactly one valid Accounts document")
        return docs[0].spec

    async def run(self) -> int:
        from adapters.ccxt_exchange import CcxtAdapter

        from ..state import open_store

        result = compile_policies(self.opts.policies)
        if result.graph is None:
            for d in result.errors:
                self.err(f"{d.location()}: error[{d.code}]: {d.message}")
            self.err("ksctl run: the policies have errors; nothing started")
            return 1
        spec = self._accounts()
        dry_run = spec.dry_run
        adapters = {}
        for acc in spec.accounts:
            adapters[f"{acc.venue}/{acc.name}"] = CcxtAdapter(acc, urls=acc.api_url)
        store = open_store(self.opts.state_url)
        holder = self.opts.holder or f"{socket.gethostname()}-{os.getpid()}"
        runner = self.runner = Runner(result.graph, adapters, store, lock_path=Path(self.opts.lock_file),
                                      dry_run=dry_run, holder=holder, lease_ttl_ms=self.opts.lease_ttl_ms,
                                      sinks=self._sinks(result, store))
        self.echo(f"ksctl run: mode {'DRY RUN (nothing is sent)' if dry_run else 'LIVE'}; graph {result.graph.digest} "
                  f"revision {result.graph.revision or 'not in git'}; {len(adapters)} account(s); holder {holder}")
        api = None
        if self.opts.api_port is not None:
            from .api import make_app, start_api

            token = os.environ.get(self.opts.api_token_env)
            if not token:
                self.err(f"ksctl run: {self.opts.api_token_env} is not set: the API's mutating endpoints are disabled")
            api, url = await start_api(make_app(runner, token=token or None), self.opts.api_host, self.opts.api_port)
            self.echo(f"ksctl run: API at {url}")
        loop = asyncio.get_running_loop()
        for sig, ev in ((signal.SIGTERM, self.stop), (signal.SIGINT, self.stop), (signal.SIGHUP, self.reload)):
            try:
                loop.add_signal_handler(sig, ev.set)
            except (NotImplementedError, RuntimeError):
                pass
        seen = _mtimes(self.opts.policies)
        ticks = 0
        try:
            await runner.start()
            while not self.stop.is_set():
                now_seen = _mtimes(self.opts.policies)
                if self.reload.is_set() or now_seen != seen:
                    self.reload.clear()
                    seen = now_seen
                    self._reload(runner)
                report = await runner.tick()
                ticks += 1
                for s in report.transitions:
                    self.echo(f"ksctl run: {s.policy} {s.scope}: {s.transition.reason}")
                for r in report.execution.rejected:
                    self.err(f"ksctl run: order rejected: {r}")
                if self.opts.max_ticks is not None and ticks >= self.opts.max_ticks:
                    break
                interval = min((p.interval_s for p in runner.graph.policies), default=5.0)
                await self._wait(runner, interval)
        finally:
            if api is not None:
                from .api import stop_api

                await stop_api(api)
            await runner.aclose()
            for a in adapters.values():
                await a.close()
            store.close()
        self.echo(f"ksctl run: stopped after {ticks} tick(s)")
        return 0

    def _sinks(self, result: CompileResult, store) -> list:
        """The sinks the runner hands its ticks and events to (see :mod:`killswitch.runner.sinks`)."""
        sinks: list = []
        return sinks

    async def _wait(self, runner: Runner, seconds: float) -> None:
        """Sleep until the next tick, renewing the lease every third of its TTL meanwhile."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        step = max(0.05, self.opts.lease_ttl_ms / 1000 / 3)
        while not self.stop.is_set():
            left = end - loop.time()
            if left <= 0:
                return
            try:
                await asyncio.wait_for(self.stop.wait(), min(step, left))
            except asyncio.TimeoutError:
                runner.renew()

    def _reload(self, runner: Runner) -> None:
        result = compile_policies(self.opts.policies)
        now = runner.clock()
        if result.graph is None:
            first = result.errors[0]
            runner.policy_error = f"{first.location()}: error[{first.code}]: {first.message} " \
                                  f"({len(result.errors)} error(s))"
            runner.store.audit("policy_reload_failed", now, {"errors": len(result.errors), "first": runner.policy_error,
                                                             "running": runner.graph.digest})
            self.err(f"ksctl run: POLICY RELOAD FAILED, the last good graph {runner.graph.short_digest} keeps running: "
                     f"{runner.policy_error}")
            from .sinks import POLICY_RELOAD_FAILED, Event

            runner.emit(Event.make(POLICY_RELOAD_FAILED, now, {"error": runner.policy_error, "errors": len(result.errors),
                                                               "running": runner.graph.digest}))
            return
        if result.graph.digest != runner.graph.digest:
            runner.store.audit("policy_reloaded", now, {"from": runner.graph.digest, "to": result.graph.digest,
                                                        "revision": result.graph.revision})
            self.echo(f"ksctl run: policies reloaded: {runner.graph.short_digest} -> {result.graph.short_digest}")
        runner.graph = result.graph
        runner.policy_error = None


def main(opts: RunOptions) -> int:
    import click

    daemon = Daemon(opts, click.echo, lambda m: click.echo(m, err=True))
    try:
        return asyncio.run(daemon.run())
    except KeyboardInterrupt:  # pragma: no cover - the signal handler normally catches it
        return 0
    finally:
        sys.stdout.flush()
