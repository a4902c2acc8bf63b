"""What the trusted-proxy mode refused, kept so that a flood of forged headers is seen whole on
``/metrics`` and in the audit trail, yet cannot fill the state store.

Every refusal is counted by reason code (exact, on ``/metrics``). A refusal of the proxy's
headers from elsewhere (``PROXY_HEADER_UNTRUSTED``) is also an audit row
(``api_proxy_header_refused``: the source address, the headers sent, the name claimed), at most
one per source address in a window of :data:`WINDOW_S` and at most :data:`ROWS_PER_WINDOW` rows
in a window whatever the number of addresses: at most ten rows a minute under any flood. A
refusal given no row of its own is folded into the next row of its address
(``folded_since_last_row``), or, for an address beyond the :data:`TRACKED` ones remembered, into
the next row written (``folded_other_sources``); the count of folded refusals is on ``/metrics``
too (``killswitch_api_proxy_refusals_folded_total``).

Must not: keep more than :data:`TRACKED` addresses, or write a row per request.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Hashable, Optional

WINDOW_S = 60.0
ROWS_PER_WINDOW = 10
TRACKED = 1024
UNTRUSTED = "PROXY_HEADER_UNTRUSTED"


class FoldedRows:
    """At most one audit row per key (an address, a caller and action) in a window of ``window_s``
    and at most ``rows_per_window`` rows in a window in all; a refusal given no row of its own is
    folded into its key's next row, or, beyond the ``tracked`` keys remembered, into the next row
    written. Shared by :class:`Refusals` and :class:`~..refused_writes.RefusedWrites`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = WINDOW_S,
                 rows_per_window: int = ROWS_PER_WINDOW, tracked: int = TRACKED):
        self.clock = clock
        self.window_s = window_s
        self.rows_per_window = rows_per_window
        self.tracked = tracked
        self.folded = 0  # refusals given no row of their own
        self._window: Optional[float] = None
        self._audited: set[Hashable] = set()  # the keys with a row in this window
        self._since: dict[Hashable, int] = {}  # key → its refusals folded since its last row
        self._others = 0  # refusals of keys beyond the tracked ones, since the last row

    def _admit(self, key: Hashable) -> Optional[tuple[int, int]]:
        """Where a refusal of ``key`` gets a row now: the refusals folded since its key's last row
        and those of untracked keys since the last row written; None where it is folded."""
        now = self.clock()
        if self._window is None or now - self._window >= self.window_s:
            self._window = now
            self._audited.clear()
        if key in self._audited or len(self._audited) >= self.rows_per_window:
            self.folded += 1
            if key in self._since or len(self._since) < self.tracked:
                self._since[key] = self._since.get(key, 0) + 1
            else:
                self._others += 1
            return None
        self._audited.add(key)
        others, self._others = self._others, 0
        return self._since.pop(key, 0), others


class Refusals(FoldedRows):
    """The counts and the bound on audit rows; see the module doc. Used from the API's loops (its
    counters read from another thread for ``/metrics``: each value one int read)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = WINDOW_S,
                 rows_per_window: int = ROWS_PER_WINDOW, tracked: int = TRACKED):
        super().__init__(clock, window_s, rows_per_window, tracked)
        self.refused: dict[str, int] = {}  # reason code → requests refused
        self.rows = 0  # audit rows asked for

    def note(self, code: str, source: str, detail: dict[str, Any]) -> Optional[dict[str, Any]]:
        """Count a refusal; the audit row to write for it now, or None (counted for a later row)."""
        self.refused[code] = self.refused.get(code, 0) + 1
        if code != UNTRUSTED:
            return None
        admitted = self._admit(source)
        if admitted is None:
            return None
        self.rows += 1
        row = {"source": source, **detail, "reason": code, "folded_since_last_row": admitted[0]}
        if admitted[1]:
            row["folded_other_sources"] = admitted[1]
        return row



def audit_later(audit: Callable[[dict], Awaitable[Any]], row: dict, writing: set[asyncio.Task],
                failed: Callable[[Exception], None]) -> None:
    """Write ``row`` through ``audit`` without holding the answer that refused it (the task kept in
    ``writing`` until it ends); an error of the store is handed to ``failed``, and the refusal stands."""

    async def write() -> None:
        try:
            await audit(row)
        except Exception as e:  # noqa: BLE001 - the store may be down: said, the refusal stands
            failed(e)

    task = asyncio.get_running_loop().create_task(write())
    writing.add(task)
    task.add_done_callback(writing.discard)

__all__ = ["FoldedRows", "ROWS_PER_WINDOW", "Refusals", "TRACKED", "UNTRUSTED", "WINDOW_S", "audit_later"]
