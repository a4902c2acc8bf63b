"""What a stop or a takeover left, carried on at the first tick under a new token (a start, a
takeover), before that tick decides anything.

What it owns: :class:`Takeover`, the order of that carrying on — the operator locks stored while
no runner led; the re-plans a crash dropped; the manual closes asked for before the stop; the
refusals the journal holds that the saved ledger lacks; the stage transitions cut off before their
audit row, page or runbook; the revokes and restores cut off after their audit row; the instances
the running graph no longer produces (engine/removed.py); the orders left open, saved but not
paged; the last day's lock violations, for status and the console; the overrides of the limits
as stored; the drift verdict posted to the runner it takes over from (runner/sync/kept.py) —
and :func:`said_removed`,
the log line of a prune (a reload's too).

Must not: run but at the first tick under a token (the tick's ``replans_checked``), or decide
anything a tick decides.
"""

from __future__ import annotations

import logging
from typing import Any

from ...events import Event
from ..sync.kept import recall as recall_drift
from ..venue.port import Venues
from .parts import RunnerParts

log = logging.getLogger("killswitch.runner")


class Takeover:
    """See the module doc; built from the runner's parts and its venues."""

    def __init__(self, parts: RunnerParts, venues: Venues):
        self._p, self._venues = parts, venues

    async def carry_on(self, events: list[Event], now: int) -> list:
        """Carry on what the stop left (the events to tell are added to ``events``); the
        refusals counted from the journal, recorded once this tick's snapshots are in."""
        p = self._p
        await p.lead.audit_taken(now)  # who leads from now on, and after whom (the report's runner section)
        # the operator locks stored while no runner led, applied before this tick decides anything
        await p.commands.take_up_stored()
        events += await p.shortfalls.retry_unfilled(await p.shortfalls.lost_replans())
        await p.closes.recover(now)  # manual closes asked for before a stop or takeover
        # refusals the journal holds that the saved ledger lacks (a stop between the venue's answer and
        # the save): counted now, their residuals recorded once this tick's snapshots are in
        lost_refusals = await p.shortfalls.lost_refusals(p.closes.incidents())
        # stage transitions a stop cut off before their audit row, page or runbook
        events += await p.entries.resume(now)
        await p.entries.find_unsaved()  # owed with this tick's transitions, unless entered again
        await p.revokes.resume()  # revokes and restores a stop cut off after their audit row
        # instances the graph no longer runs, as the store held them (a start, a takeover)
        pruned = p.book.prune_instances(self._venues.declared(), now)
        # audited once: what the last runner marked removed and this start keeps is not news again
        if said_removed(pruned, "the start") and pruned.news:
            await p.lead.audit("policy_instances_removed", now, {"removed": pruned.rows(),
                                                                 "graph": p.book.graph.digest})
        p.guards.now()  # an account no policy guards: logged at the start
        events += await p.still_open.resume(now)  # orders left open, saved but not paged
        await p.enforcement.recall(now)  # the last day's lock violations, shown again by status
        await p.overrides.reload(if_stale=True)  # the limits' overrides as stored (a start, another's state)
        if p.lead.took_from != p.lead.holder:  # (its own lease taken again: nothing was posted elsewhere)
            # the drift verdict posted to the runner it takes over from, unless it shows its own
            await recall_drift(p.sync, p.io, p.lead.store, p.lead.holder)
        return lost_refusals


def said_removed(pruned: Any, by: str) -> bool:
    """One log line for what a prune did (engine/removed.py); True when an instance went or was kept removed."""
    if pruned.dropped or pruned.kept:
        log.warning("INSTANCES_REMOVED by %s: %s", by, pruned.text())
        return True
    if pruned.restored:
        log.info("INSTANCES_RESTORED by %s: %s", by, pruned.text())
    return False


__all__ = ["Takeover", "said_removed"]
