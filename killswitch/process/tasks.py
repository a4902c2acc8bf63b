"""The tasks of one ``ksctl run`` process, each named, under one supervisor.

What it owns: :class:`Task` — a long-lived coroutine of the process with its name and what its
failure means (:data:`EXIT` or :data:`RESTART`) — and :class:`Supervisor`, which runs each in an
asyncio task of its own. A task that raises is said by name, with its error and traceback, in
one ERROR line (``TASK_FAILED: task <name> failed: …``) and counted
(``killswitch_task_failures_total{task}``); then, as its policy says:

* :data:`EXIT` — the process stops: ``on_exit`` is called (the daemon's stop: the tick loop
  ends after its tick, the lease is given up, the sinks and the store are closed as at SIGTERM)
  and :attr:`Supervisor.failed` names the task, which the daemon exits non-zero for (3, as an
  internal error) so that whatever runs the process starts it again;
* :data:`RESTART` — the task is started again after a pause that doubles from
  ``restart_after_s`` to ``max_restart_after_s`` (``killswitch_task_restarts_total{task}``);
  the rest of the process goes on meanwhile.

A task that returns has ended as meant (the tick loop at a stop); a cancel is no failure.

Must not: decide what a task does, or end the process itself (the daemon stops it cleanly).
"""

from __future__ import annotations

import asyncio
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Optional

if TYPE_CHECKING:
    from ..metrics import Registry

EXIT = "exit"  # its failure stops the process (non-zero)
RESTART = "restart"  # its failure is said and it is started again


@dataclass(frozen=True)
class Task:
    """A named task: ``body`` makes its coroutine (called again at each restart); ``effect``
    says what its failure leaves undone (in the log line)."""

    name: str
    body: Callable[[], Awaitable[None]]
    on_failure: str
    effect: str = ""


class Supervisor:
    """See the module doc. ``err``: the ERROR log; ``on_exit``: what stops the process."""

    def __init__(self, err: Callable[[str], None], on_exit: Callable[[], None], *, restart_after_s: float = 1.0,
                 max_restart_after_s: float = 30.0):
        self.err = err
        self.on_exit = on_exit
        self.restart_after_s = restart_after_s
        self.max_restart_after_s = max_restart_after_s
        self.failures: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        self.failed: Optional[str] = None  # the first task whose failure stops the process
        self.running: dict[str, asyncio.Task] = {}

    def start(self, *tasks: Task) -> None:
        for t in tasks:
            if t.on_failure not in (EXIT, RESTART):
                raise ValueError(f"task {t.name}: on_failure is {EXIT!r} or {RESTART!r}, not {t.on_failure!r}")
            if t.name in self.running:
                raise ValueError(f"task {t.name} is running already")
            self.failures.setdefault(t.name, 0)
            self.restarts.setdefault(t.name, 0)
            self.running[t.name] = asyncio.create_task(self._guard(t), name=t.name)

    async def wait(self, name: str) -> None:
        """Until task ``name`` has ended (returned, failed for good, or cancelled)."""
        await asyncio.gather(self.running[name], return_exceptions=True)

    async def cancel(self, name: str) -> None:
        """Cancel task ``name`` (if started) and wait for it to end."""
        task = self.running.get(name)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _guard(self, t: Task) -> None:
        pause = self.restart_after_s
        while True:
            try:
                await t.body()
                return
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - said by name, then the task's policy
                self.failures[t.name] += 1
                trace = "".join(traceback.format_exception(e)).rstrip()
                if t.on_failure == EXIT:
                    self.err(f"ksctl run: TASK_FAILED: task {t.name} failed: {type(e).__name__}: {e}; "
                             f"{t.effect + '; ' if t.effect else ''}the process stops (exit 3) to be started "
                             f"again\n{trace}")
                    if self.failed is None:
                        self.failed = t.name
                    self.on_exit()
                    return
                self.err(f"ksctl run: TASK_FAILED: task {t.name} failed: {type(e).__name__}: {e}; "
                         f"{t.effect + '; ' if t.effect else ''}started again in {pause:g}s\n{trace}")
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.max_restart_after_s)
            self.restarts[t.name] += 1

    def collect_metrics(self, registry: Registry) -> None:
        failures = registry.sampled("killswitch_task_failures_total", "counter",
                                    "Failures of a named task of the process (ksctl run), each said by name.",
                                    ("task",))
        restarts = registry.sampled("killswitch_task_restarts_total", "counter",
                                    "Restarts of a named task of the process after a failure.", ("task",))
        for name in sorted(self.failures):
            failures.add(self.failures[name], task=name)
            restarts.add(self.restarts[name], task=name)
