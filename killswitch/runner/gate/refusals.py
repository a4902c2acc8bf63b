"""The violations the runner counts between two ticks: the gate's refusals and the venue watch's
violations, handed to the engine's tally (``killswitch/engine/tally.py``) before each tick's
evaluation, where ``gate_refusals`` and ``venue_violations`` read them.

What it owns: :class:`Counted`, a dict of counts under a lock: :meth:`~Counted.refused` (a
check-order's refusal, on whichever thread answered it), :meth:`~Counted.violated` (a
violation the venue watch reported, on the loop) and :meth:`~Counted.drain` (the tick takes them
all). A refusal costs one increment: nothing is written per refusal; the counts are saved with
the engine's state the tick writes anyway, so they survive a restart and a takeover. What a
runner answered after its last save is lost with it (at most one tick's counts). A standby's
refusals are not counted (it has no book to refuse from: ``LIMITS_UNKNOWN``); only the leader's
tick drains.

A key holds the account the request named (``venue/account``: its ``account``, else a ``scope``
naming one; "" for none), its strategy (``-`` for none), its symbol and the refusal's code (the
reason up to its first ``:``; a refusal of several pre-trade limits at once holds each breach's code,
joined by ``+``: ``PRICE_COLLAR+LIMIT_ORDER_QUANTITY``, one refusal that a policy counting any of
them counts once). A refusal by a lock that names the limits the order also breaks
(``limit.also``) is the lock's code alone: the order is counted once, as the lock's. Text longer
than the gate accepts is not a key. An operator's question
(``ksctl check-order``: ``?probe=true``) is answered and not counted: no order was about to go. At most
:data:`~killswitch.engine.tally.MAX_KEYS` keys between two ticks: past that a count is dropped
and the tick's tally says so (``TALLY_FULL``: blind, not low).

Must not: do I/O, or block for longer than an increment.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Optional

from ...engine.tally import CODES_JOINED, GATE, MAX_KEYS, VENUE, Key
from .request import MAX_TEXT, Decision

# refusals that are the runner's own, not the bot's: its view of the book missing or stale (the
# gate_view's), counted nowhere
NOT_COUNTED = frozenset({"GATE_VIEW_MISSING", "GATE_VIEW_STALE"})


def _text(request: Mapping[str, Any], field: str) -> Optional[str]:
    v = request.get(field)
    return v if isinstance(v, str) and 0 < len(v) <= MAX_TEXT else None


def refusal_key(request: Any, reason: str, limit: Optional[Mapping[str, Any]] = None) -> Optional[Key]:
    """The key a refusal is counted under; None when it is not counted. ``limit``: the pre-trade
    limit the refusal names; with several ``breaches``, each one's code is in the key."""
    code = reason.split(":", 1)[0].strip()
    if code in NOT_COUNTED or not code:
        return None
    breaches = limit.get("breaches") if isinstance(limit, Mapping) and not limit.get("also") else None
    if isinstance(breaches, list):
        codes = [b["code"] for b in breaches if isinstance(b, Mapping) and isinstance(b.get("code"), str)]
        if codes:
            code = CODES_JOINED.join(dict.fromkeys(codes))
    req = request if isinstance(request, Mapping) else {}
    account = _text(req, "account")
    if account is None:
        scope = _text(req, "scope")
        account = scope if scope is not None and "/" in scope else ""
    return (GATE, account, _text(req, "strategy") or "-", _text(req, "symbol") or "", code)


class Counted:
    """The counts since the last tick took them; see the module doc."""

    def __init__(self, max_keys: int = MAX_KEYS):
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._counts: dict[Key, int] = {}
        self._dropped = False
        self.refusals = 0  # since the start, for /metrics: every refusal counted
        self.violations = 0

    def _add(self, key: Key) -> None:
        with self._lock:
            if key[0] == GATE:
                self.refusals += 1
            else:
                self.violations += 1
            n = self._counts.get(key)
            if n is not None:
                self._counts[key] = n + 1
            elif len(self._counts) < self.max_keys:
                self._counts[key] = 1
            else:
                self._dropped = True

    def refused(self, request: Any, decision: Decision) -> None:
        """A check-order's answer: counted when it refused."""
        if decision.allow:
            return
        key = refusal_key(request, decision.reason, decision.limit)
        if key is not None:
            self._add(key)

    def violated(self, account: str, strategy: str, symbol: str, kind: str) -> None:
        """A violation the venue watch reported (once each: its audit row's)."""
        self._add((VENUE, account, strategy or "-", symbol, kind))

    def drain(self) -> tuple[dict[Key, int], bool]:
        """Every count since the last drain, and whether one was dropped; empty after."""
        with self._lock:
            counts, self._counts = self._counts, {}
            dropped, self._dropped = self._dropped, False
        return counts, dropped

    def clear(self) -> None:
        """Forget what was counted (a runner that does not lead: its tick does not count)."""
        self.drain()


__all__ = ["Counted", "NOT_COUNTED", "refusal_key"]
