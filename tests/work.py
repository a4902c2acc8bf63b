"""A deterministic count of the work a block of code does: the Python lines it runs.

A timer on a noisy two-core machine cannot tell a tick that does ten times the work from a
machine that was busy; the lines a tick runs can. :class:`LinesRun` traces the calling thread
(``sys.settrace``) and counts every line event of every Python frame outside the standard
library's event loop and threads (whose count depends on how the scheduler woke: a store future
that is ready or not), per file: the project's code and the libraries it calls into (a pydantic
``__eq__`` called 10,000 times a tick counts 10,000 times). A loop over a column in a list
comprehension counts one line event per element (the comprehension jumps back), so a pass over
every position in Python shows as some thousands; a pass in C (``sum``, ``set``, ``zip``) does
not, which is the point: the interpreter's C loops are the cheap way.

Other threads (the store's, the lease keeper's) are not traced: their work is not the loop's.
"""

from __future__ import annotations

import sys
import sysconfig
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any, Optional

_STDLIB = str(Path(sysconfig.get_paths()["stdlib"]).resolve())
# the standard library's scheduling and plumbing: how often it runs depends on timing, not work
_SCHEDULING = tuple(f"{_STDLIB}/{m}" for m in ("asyncio/", "selectors.py", "threading.py", "concurrent/",
                                                  "queue.py", "logging/", "weakref.py", "_weakrefset.py",
                                                  "contextlib.py", "socket.py", "enum.py",
                                                  # a pattern compiled once per process (re caches it)
                                                  "re/"))


class LinesRun:
    """``with LinesRun() as work: ...`` then ``work.total`` (lines run) and ``work.top()``."""

    def __init__(self) -> None:
        self.by_file: Counter[str] = Counter()
        self._kept: dict[Any, bool] = {}  # code object → counted
        self._before: Any = None

    @property
    def total(self) -> int:
        return sum(self.by_file.values())

    def top(self, n: int = 12) -> str:
        return "\n".join(f"{count:>9,}  {name}" for name, count in self.by_file.most_common(n))

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.by_file[frame.f_code.co_filename] += 1
        return self._local

    def _global(self, frame: FrameType, event: str, arg: Any) -> Optional[Any]:
        code = frame.f_code
        counted = self._kept.get(code)
        if counted is None:
            counted = self._kept[code] = not code.co_filename.startswith(_SCHEDULING)
        return self._local if counted else None

    def __enter__(self) -> "LinesRun":
        self._before = sys.gettrace()
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.settrace(self._before)
