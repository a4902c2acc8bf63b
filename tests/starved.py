"""What the machine did to a test that runs on the wall clock and threads of its own.

A lease keeper renews from a thread and its store answers from another connection: on two cores
beside three other test workers, a browser and PostgreSQL servers, a thread can be kept waiting,
or a store call left unanswered, for a good part of a short term. A run in which that happened
tells nothing about the keeper; these measure it beside the run, so that a test can run again
on that ground, and on no other.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any


class Starvation:
    """The longest this process kept a thread waiting past a 20 ms sleep while the block ran."""

    def __init__(self) -> None:
        self.worst_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._probe, daemon=True)

    def _probe(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            time.sleep(0.02)
            self.worst_s = max(self.worst_s, time.monotonic() - t - 0.02)

    def __enter__(self) -> "Starvation":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class TimedStore:
    """A store whose calls are timed: ``slowest_s`` is the longest one took to answer (a lock
    waited for, a commit written to a busy disk), and counted: ``answered`` by name, so that a
    test can wait until a keeper has had its turns at the lease. Everything else is the store's."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.slowest_s = 0.0
        self.answered: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def timed(*args, **kw):
            t = time.monotonic()
            try:
                out = attr(*args, **kw)
            finally:
                self.slowest_s = max(self.slowest_s, time.monotonic() - t)
            self.answered[name] += 1
            return out

        return timed


def slowed(starved: Starvation, stores: list[TimedStore]) -> float:
    """The worst of the waits measured: a thread kept from running, or a store call unanswered."""
    return max([starved.worst_s] + [s.slowest_s for s in stores])


__all__ = ["Starvation", "TimedStore", "slowed"]
