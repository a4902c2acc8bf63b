"""What a shard runner says of the firm lease changing hands: taken and lost, at WARNING.

The firm lease holder is the one runner that evaluates the firm-wide policies: when it changes,
the firm's breaker moves to another process, and an on-call engineer reading the log at WARNING
sees it. A single takeover (a holder stopped, its standby took over) reads as one line, as
before; a lease taken and lost again and again says how many times this runner took or lost it
in the last minute, with the likely cause: it is renewed once a tick, so ticks spaced past
``--lease-ttl`` under load let it run out and another shard take it.

What it owns: :class:`FirmLeaseLog` (the lines, and the changes of the last minute counted).

Must not: decide anything (:class:`~.firm.FirmLink` takes the lease and gives it up); put a
store's message in a line.
"""

from __future__ import annotations

import logging
from collections import deque

log = logging.getLogger("killswitch.runner.firm.lease")  # the name log lines and their queries know it by

FLAP_WINDOW_MS = 60_000  # the changes of the firm lease counted back from each one


class FirmLeaseLog:
    """The firm lease taken and lost by ``holder``, each said once at WARNING (see the module)."""

    def __init__(self, holder: str):
        self.holder = holder
        self._changes: deque[int] = deque()  # when this runner took or lost the lease, in the last window

    def taken(self, token: int, policies: str, now_ms: int) -> None:
        log.warning("ksctl run: FIRM LEASE taken by %s (token %d): evaluating the firm-wide policies %s%s",
                    self.holder, token, policies, self._flapping(now_ms))

    def lost(self, token: int, now_ms: int) -> None:
        log.warning("ksctl run: FIRM LEASE lost by %s (token %d): its term ran out unrenewed or another shard's "
                    "runner took it; this runner no longer evaluates the firm-wide policies%s",
                    self.holder, token, self._flapping(now_ms))

    def _flapping(self, now_ms: int) -> str:
        """This change counted; what to add when it is not the only one of the last minute."""
        self._changes.append(now_ms)
        while self._changes and self._changes[0] <= now_ms - FLAP_WINDOW_MS:
            self._changes.popleft()
        n = len(self._changes)
        if n < 2:
            return ""
        return (f"; FLAPPING: this runner took or lost the firm lease {n} times in the last "
                f"{FLAP_WINDOW_MS // 1000}s (it is renewed once a tick: ticks spaced past --lease-ttl let it run "
                "out)")
