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

import time
from typing import Any, Callable, Optional

WINDOW_S = 60.0
ROWS_PER_WINDOW = 10
TRACKED = 1024
UNTRUSTED = "PROXY_HEADER_UNTRUSTED"


class Refusals:
    """The counts and the bound on audit rows; see the module doc. Used from the API's loops (its
    counters read from another thread for ``/metrics``: each value one int read)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, window_s: float = WINDOW_S,
                 rows_per_window: int = ROWS_PER_WINDOW, tracked: int = TRACKED):
        self.clock = clock
        self.window_s = window_s
        self.rows_per_window = rows_per_window
        self.tracked = tracked
        self.refused: dict[str, int] = {}  # reason code → requests refused
        self.rows = 0  # audit rows asked for
        self.folded = 0  # refusals given no row of their own
        self._window: Optional[float] = None
        self._audited: set[str] = set()  # the addresses with a row in this window
        self._since: dict[str, int] = {}  # address → its refusals folded since its last row
        self._others = 0  # refusals of addresses beyond the tracked ones, since the last row

    def note(self, code: str, source: str, detail: dict[str, Any]) -> Optional[dict[str, Any]]:
        """Count a refusal; the audit row to write for it now, or None (counted for a later row)."""
        self.refused[code] = self.refused.get(code, 0) + 1
        if code != UNTRUSTED:
            return None
        now = self.clock()
        if self._window is None or now - self._window >= self.window_s:
            self._window = now
            self._audited.clear()
        if source in self._audited or len(self._audited) >= self.rows_per_window:
            self.folded += 1
            if source in self._since or len(self._since) < self.tracked:
                self._since[source] = self._since.get(source, 0) + 1
            else:
                self._others += 1
            return None
        self._audited.add(source)
        self.rows += 1
        row = {"source": source, **detail, "reason": code, "folded_since_last_row": self._since.pop(source, 0)}
        if self._others:
            row["folded_other_sources"], self._others = self._others, 0
        return row


__all__ = ["ROWS_PER_WINDOW", "Refusals", "TRACKED", "UNTRUSTED", "WINDOW_S"]
