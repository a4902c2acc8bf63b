"""Whose fills grew each leg a halt reverts: the watch's reads of the venue's trades, and the
names they give (:func:`.attribution.attribute` names; this reads).

What it owns: :class:`GrowthNames`, which reads, for the reverts a tick found, the account's
trades of each symbol at once and within ``FILL_READ_S``, and remembers the name of a growth that
stands with nothing of the runner's sent against it (below the venue's minimum, a dry run), so
that it is not read again while it stands; :func:`read_fills`, one such read with its failure
said. Must not: send anything, or write to the store.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Mapping, Sequence

from adapters.base import AdapterError

from ...snapshot import Snapshot
from ..venue.port import Venues
from .attribution import FillRead, attribute
from .enforce import Violation

BEFORE_MAX_MS = 120_000  # the last read before a lock is its baselines' when no older than this
FILL_READS_MAX = 20  # (account, symbol) fill reads a tick at most, for the reverts it reports
FILL_READ_S = 2.0  # the longest a revert waits for the fills that attribute it


class GrowthNames:
    """See the module doc. ``own``: the client order ids the runner journaled (its own orders)."""

    def __init__(self, venues: Venues, own: Callable[[int], Awaitable[frozenset[str]]], dry_run: bool):
        self.venues, self._own, self.dry_run = venues, own, dry_run
        self._standing: dict[str, Violation] = {}

    async def name(self, found: list[Violation], baselines: Mapping[str, Any], snapshots: Sequence[Snapshot],
                   now: int) -> list[Violation]:
        """``found`` with each revert attributed, and keyed, by the fills that grew its leg by the
        time of the snapshot that showed it (:func:`.attribution.attribute`): the trades read
        since its baselines were taken (less ``BEFORE_MAX_MS``: the read before the lock they may
        come from); a read that fails is said in the attribution. A growth that stands is not
        read again (see the module doc): nothing brought it back, so no other order can have
        grown it to the same step."""
        standing = self._standing
        self._standing = {}
        at = {f"{s.venue}/{s.account}": s.ts_event for s in snapshots}
        wanted: dict[tuple[str, str], int] = {}
        for v in found:
            if v.action == "revert" and v.key in standing:
                continue
            if v.action == "revert" and (v.account, v.symbol) not in wanted and len(wanted) < FILL_READS_MAX:
                record = baselines.get(v.account)
                since = record.get("since", now) if isinstance(record, Mapping) else now
                wanted[(v.account, v.symbol)] = min(int(since), now) - BEFORE_MAX_MS
        got = await asyncio.gather(*(read_fills(self.venues, account, symbol, since)
                                     for (account, symbol), since in wanted.items()))
        reads = dict(zip(wanted, got))
        own = await self._own(now) if reads else frozenset()
        out = []
        for v in found:
            named = standing.get(v.key) if v.action == "revert" else None
            if named is None:
                named = attribute(v, reads.get((v.account, v.symbol)), own, at.get(v.account))
            if v.action == "revert" and (v.revert_id is None or self.dry_run):
                self._standing[v.key] = named
            out.append(named)
        return out


async def read_fills(venues: Venues, account: str, symbol: str, since: int) -> FillRead:
    """``account``'s trades of ``symbol`` since ``since``, within ``FILL_READ_S`` (a failure said)."""
    port = venues.get(account)
    if port is None:
        return FillRead(error="NO_ADAPTER")
    try:
        async with asyncio.timeout(FILL_READ_S):
            return FillRead(tuple(await port.fills(symbol, since)))
    except AdapterError as e:
        return FillRead(error=f"{e.reason.value}: {e.message}")
    except TimeoutError:
        return FillRead(error=f"TIMEOUT: no answer within {FILL_READ_S:g}s")
