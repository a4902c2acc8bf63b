"""The policy reloads of a ``ksctl run`` process: the policies compiled on a worker thread while
the ticks and the API go on, swapped in between two ticks; a policy that fails to compile keeps
the last good graph running and says so loudly (stderr, status, audit); the leader keeps the
sources of the graph it runs as the last good bundle.

Owns the compile (:func:`compile_policy_sources`, and a reload's, which never raises), the
policy files' modification times a change is seen by (:func:`policy_mtimes`), and
:class:`PolicyReloads`, the daemon's part that starts a reload and hands its graph to the
runner (:meth:`~killswitch.runner.tick.loop.Runner.apply_graph`, the only way one reaches it).

Must not: tick, take the lease, or change the runner's graph but through ``apply_graph``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ..compile.compiler import CompileResult
from ..firmlink.firm import FirmLink
from ..policy.accounts_doc import Account
from ..runner.tick.loop import Runner
from ..runner.tick.parts import RunnerParts
from ..runner.tick.reload import GraphReload
from ..sources import MAX_FILE_BYTES, compile_read, read_sources
from ..state.store import StoreError
from .options import RunOptions
from .shard import ShardStart
from .start import first_error, unmatched_here

# told what a reload read (files, revision) before it compiles them
OnRead = Callable[[list[tuple[str, str]], Optional[str]], None]


def compile_policy_sources(paths: tuple[str, ...], max_file_bytes: int = MAX_FILE_BYTES,
                           accounts: Optional[Sequence[Account]] = None, on_read: Optional[OnRead] = None,
                           ) -> tuple[CompileResult, list[tuple[str, str]], Optional[str]]:
    """The compiled policies, the sources they came from (kept as the last good bundle) and the
    git revision of those sources. ``accounts``: the runner's (``--accounts``), which stand for
    the declared accounts when the sources hold no Accounts document: a scope selecting none of
    them (a typo'd label) is an error (KS218), so the graph is refused at start and a reload
    keeps the last good one. ``on_read``: told the sources and their revision once read, before
    the compile (the runner's policy sync: handed, not yet taken up)."""
    src = read_sources(list(paths), max_file_bytes)
    if on_read is not None:
        on_read(list(src.files), src.revision)
    return compile_read(src, accounts=accounts), list(src.files), src.revision


def policy_mtimes(paths: tuple[str, ...]) -> dict[str, float]:
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

class PolicyReloads:
    """The daemon's policy reloads (:class:`~killswitch.process.daemon.Daemon` is one): a compile started
    on a worker thread, taken up between two ticks, and the last good bundle kept.

    The attributes below are the daemon's, set when it is built and started."""

    opts: RunOptions
    echo: Callable[[str], None]
    err: Callable[[str], None]
    firm: Optional[FirmLink]
    parts: Optional[RunnerParts]
    _shard: Optional[ShardStart]
    _declared: Optional[Sequence[Account]]
    _compiling: Optional[asyncio.Future]
    _files: Optional[list[tuple[str, str]]]
    _saved: Optional[str]

    async def _keep_bundle(self, parts: RunnerParts, store: Any) -> None:
        """The leader keeps the sources of the graph it runs as the last good bundle (once per graph)."""
        if not parts.lead.leader or self._saved == parts.book.graph.digest or self._files is None:
            return
        try:
            await parts.io(store.save_policy_bundle, parts.book.graph.digest, parts.book.graph.revision,
                            self._files, parts.lead.fence)
            self._saved = parts.book.graph.digest
        except Exception as e:  # noqa: BLE001 - retried next tick; the graph runs regardless
            self.err(f"ksctl run: could not keep the policies as the last good ones: {type(e).__name__}")

    def _start_reload(self) -> None:
        """Start compiling the policies on a worker thread; :meth:`_swap_compiled` takes the result
        up between two ticks. The loop goes on ticking with the last good graph, and the API on
        answering, however long the compile takes; the policy sync says a reload is pending."""
        if self.parts is not None:
            self.parts.sync.pending(self.parts.clock())
        self._compiling = asyncio.ensure_future(asyncio.to_thread(_compile_for_reload, self.opts.policies,
                                                                  self.opts.max_file_bytes, self._declared,
                                                                  self._on_read()))

    def _on_read(self) -> Optional[OnRead]:
        """What the compile's worker thread tells of the sources it read: the runner's policy
        sync hears of them on the loop (handed, not yet taken up), before the compile's result,
        which the loop takes up after it (both go through the loop's queue, in order)."""
        parts, loop = self.parts, asyncio.get_running_loop()
        if parts is None:
            return None
        def on_read(files: list[tuple[str, str]], revision: Optional[str]) -> None:
            loop.call_soon_threadsafe(lambda: parts.sync.handed(files, revision, parts.clock()))

        return on_read

    async def _swap_compiled(self, runner: Runner, parts: RunnerParts) -> None:
        """If a compile started by :meth:`_start_reload` has finished, hand its graph to the
        runner (which keeps the last good one if it failed): between two ticks."""
        task = self._compiling
        if task is None or not task.done():
            return
        self._compiling = None
        try:
            await self._swap(runner, parts, *task.result())
        except StoreError as e:  # its audit row: the graph is swapped in (or kept) regardless
            self.err(f"ksctl run: the policy reload could not be audited: {e}")
            runner.store_failed()

    async def _reload(self, runner: Runner, parts: RunnerParts) -> None:
        """Reload now: compile on a worker thread, then swap on the loop."""
        await self._swap(runner, parts, *await asyncio.to_thread(_compile_for_reload, self.opts.policies,
                                                                 self.opts.max_file_bytes, self._declared,
                                                                 self._on_read()))

    async def _swap(self, runner: Runner, parts: RunnerParts, result: Optional[CompileResult],
                    files: list[tuple[str, str]], revision: Optional[str] = None, crash: Optional[str] = None,
                    ) -> None:
        """Hand a reload to the runner (:meth:`Runner.apply_graph`: the only way one reaches it)
        and say what came of it: a reload that failed (findings, or a compiler crash) leaves the
        last good graph running, said on stderr as well as in the status, audit and events. A
        shard's runner takes up its local policies only, and its firm link the firm-wide ones; a
        firm-wide policy the shards cannot serve (``FIRM_POLICY_REFUSED``,
        ``FIRM_INTERVAL_TOO_SHORT``) fails the reload: both keep what they run."""
        whole, firm_refused = None, []
        if self._shard is not None and result is not None:
            whole = result.graph  # its firm-wide policies, taken up with the reload (FirmLink.set_graph)
            firm_refused = self.firm.refusals(whole) if self.firm is not None and whole is not None else []
            for line in firm_refused:
                self.err(f"ksctl run: {line}")
            result, _ = self._shard.narrow(result)
        refused = unmatched_here(result, self._declared or ()) if self.opts.strict and result is not None \
            and result.graph is not None else []
        if firm_refused:  # a firm-wide policy the shards cannot serve: the whole reload fails, as any does
            reload = GraphReload(None, firm_refused[0], len(firm_refused))
        elif refused:  # --strict: a policy that would select none of this runner's accounts
            reload = GraphReload(None, f"{refused[0]} (--strict)", len(refused))
        elif result is None or result.graph is None:
            reload = GraphReload(None, first_error(result) if result is not None else crash,
                                 len(result.errors) if result is not None else 1)
        else:
            reload = GraphReload(result.graph, documents=tuple(d.model for d in result.docs))
        reload = replace(reload, files=tuple(files), revision=revision)  # what the policy sync compares
        running = parts.book.graph
        failing = parts.reloads.error  # a failed reload (or a start on the last good graph) this one may end
        outcome = await runner.apply_graph(reload)
        if not outcome.applied:
            self.err(f"ksctl run: POLICY RELOAD FAILED, the last good graph {running.short_digest} keeps running: "
                     f"{parts.reloads.error}")  # (the first error's hint on its next line: first_error)
            return
        self._files = files
        if self.firm is not None and whole is not None:
            self.firm.set_graph(whole)  # refused above, else taken: the pace follows its intervals
        if failing is not None and parts.reloads.error is None:  # said even when the graph is the one running
            self.echo(f"ksctl run: POLICY RELOAD RECOVERED: the policies compile again; running "
                      f"{parts.book.graph.short_digest} (the failure was: {failing})")
        if outcome.running != outcome.previous:
            self.echo(f"ksctl run: policies reloaded: {running.short_digest} -> {parts.book.graph.short_digest}")
        for name in outcome.sink_failures:
            self.err(f"ksctl run: sink {name!r} could not reload: it keeps the routes it had")


def _compile_for_reload(paths: tuple[str, ...], max_file_bytes: int = MAX_FILE_BYTES,
                        accounts: Optional[Sequence[Account]] = None, on_read: Optional[OnRead] = None,
                        ) -> tuple[Optional[CompileResult], list[tuple[str, str]], Optional[str], Optional[str]]:
    """A reload's compile, on a worker thread: read, load and compile the policies (``on_read``
    told what was read, before the compile). Touches no runner state. Never raises: a crash of
    the compiler is a failed reload (named by its type only; its text could quote a document),
    not the end of the process guarding the book. A file over ``max_file_bytes`` is a finding
    like any other (KS010), and so is a scope that selects none of ``accounts`` (KS218): the
    reload fails and the last good graph keeps running. Returns the result, the files, their
    revision and the crash (None: none)."""
    try:
        result, files, revision = compile_policy_sources(paths, max_file_bytes, accounts, on_read)
        return result, files, revision, None
    except Exception as e:  # noqa: BLE001 - see above
        return None, [], None, (f"internal error while compiling the policies: {type(e).__name__} "
                                "(a bug: please report it)")
