"""Firm-wide stage transitions owed their effects: audited once in the firm's chain, paged and
rendered at least once, whatever the crash of the firm lease holder.

What it owns: :class:`FirmOutbox`, the firm's counterpart of
:class:`~killswitch.runner.sinks.entries.EntryOutbox`. A firm transition is owed in the firm state
document itself (``"owed"``, beside ``"engine"`` and ``"resets_after"``), committed in the
transaction that records the firm stage change
(:meth:`~killswitch.state.firm.tables.FirmTables.commit_firm`, fenced by the firm token). After that
commit its ``stage_transition`` row is appended to the firm store's audit chain (schema ``ks_firm``,
fenced by the firm token; the payload of a local entry's row plus ``"firm": true``), then its event
is told through the shard runner's sinks. It is let go at a later commit once audited and held by
every sink that keeps state (the fanout's ``holds``).

A runner that takes the firm lease (a new firm token) takes up what the last holder owed
(:meth:`FirmOutbox.take`): a row not known to be written is looked up in the firm chain by the
transition's identity and written only if absent (fenced: exactly once, ``completed_by`` the new
holder), and every owed event is told again in the order they happened, marked ``resumed`` (the
notification groups take it as the alert they may hold already; the runbook sink renders it only
if no runbook is stored for the incident).

Must not: decide a transition or write a directive (the firm link does, in its commit).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Optional, Sequence

from ..compile.graph import DecisionGraph
from ..events import Event
from ..runner.sinks.entries import AUDIT_KIND, audited_keys, event_of, owed_entry

log = logging.getLogger("killswitch.runner.firm_entries")

CARRIED_ON = "CARRIED_ON: the firm lease holder that entered it stopped before its audit row"
RETRIED = "RETRIED: the append of its audit row failed, whether it was written was not known"


class FirmOutbox:
    """The firm's stage transitions until their effects are in place; see the module doc.
    ``firm``: the :class:`~killswitch.state.firm.FirmStore`; ``holds``: whether every sink that
    keeps state holds an event (the shard runner's fanout's question)."""

    def __init__(self, firm: Any, holder: str, holds: Callable[[Event], bool]):
        self.firm = firm
        self.holder = holder
        self.holds = holds
        self.owed: dict[str, dict] = {}  # key → {ts_ms, audit, audited, event}: the document's "owed"
        self._told: dict[str, Event] = {}  # key → the event this process told the sinks
        self._held_before: set[str] = set()  # keys held by the sinks at the last commit
        self._fresh: set[str] = set()  # owed by this process, its row never tried: written without a look-up
        self._taken: set[str] = set()  # owed by the last holder when this one took the lease
        self.retold = 0  # events told again by a holder that took the lease

    def take(self, doc: Optional[dict]) -> None:
        """The firm state document a new holder loaded (None: no firm state yet): what it owes,
        none of it told by this process."""
        self.owed = dict((doc or {}).get("owed") or {})
        self._told, self._fresh, self._taken, self._held_before = {}, set(), set(self.owed), set()

    def owe(self, transitions: Sequence[Any], graph: DecisionGraph, now: int, dry_run: bool) -> dict:
        """What is audited and held let go, the evaluation's transitions owed: the ``"owed"`` of
        the firm state document the commit saves."""
        self.settle()
        owed = dict(self.owed)
        for s in transitions:
            if s.transition is None:
                continue
            key, owed[key] = owed_entry(s, graph, now, dry_run, firm=True)
            self._fresh.add(key)
        self.owed = owed
        return owed

    def settle(self) -> None:
        """Let go what is audited and was held by every sink already at the commit before
        (called before a commit, which saves the rest). The sinks' state is saved with the
        shard's own state, at its tick between two commits: an event first seen held now may
        have reached the groups after that save, so it is let go one commit later."""
        held = {k for k, v in self.owed.items()
                if v.get("audited") and k in self._told and self.holds(self._told[k])}
        done = held & self._held_before
        self._held_before = held - done
        if done:
            self.owed = {k: v for k, v in self.owed.items() if k not in done}
            for k in done:
                del self._told[k]

    async def audit(self, fence: int, now: int) -> list[dict]:
        """Every owed transition's row written, fenced by the firm token: one this process owed
        and never tried at once; any other only if the firm chain lacks it. The rows written."""
        missing = [k for k, v in self.owed.items() if not v.get("audited")]
        if not missing:
            return []
        unsure = [k for k in missing if k not in self._fresh]
        present = await self._audited_since(min(int(self.owed[k]["ts_ms"]) for k in unsure)) if unsure else set()
        rows = []
        for k in missing:
            if k in present:
                continue
            v = self.owed[k]
            payload = dict(v["audit"])
            if int(v["ts_ms"]) != now:
                payload["entered_ms"] = int(v["ts_ms"])
            if k not in self._fresh:
                payload.update(completed_by=self.holder, completed_why=CARRIED_ON if k in self._taken else RETRIED)
            rows.append((AUDIT_KIND, now, payload))
        self._fresh.difference_update(missing)  # tried from here on: looked up if tried again
        if rows:
            await asyncio.to_thread(self.firm.audit_many, rows, fence=fence)
        self.owed = {k: ({**v, "audited": True} if k in missing else v) for k, v in self.owed.items()}
        return [p for _, _, p in rows]

    async def resume(self, fence: int, now: int) -> list[Event]:
        """At a new firm token, what the last holder owed: each row written if the firm chain
        lacks it (fenced), each event for the sinks again (``resumed``), in the order they happened."""
        if not self.owed:
            return []
        for p in await self.audit(fence, now):
            log.warning("FIRM_ENTRY_COMPLETED: %s %s level %s→%s (%s) audited in the firm chain by %s after a stop",
                        p["policy"], p["scope"], p["from"], p["to"], p.get("decision_id") or "no decision",
                        self.holder)
        return self.tell()

    def tell(self) -> list[Event]:
        """The owed events this process has not told the sinks, in the order they happened (each
        becomes the one told): the last holder's marked ``resumed``."""
        out = []
        for k, v in sorted(self.owed.items(), key=lambda kv: int(kv[1]["ts_ms"])):
            if k in self._told:
                continue
            e = event_of(v["event"], resumed=True) if k in self._taken else event_of(v["event"])
            self._told[k] = e
            out.append(e)
        self.retold += sum(1 for e in out if e.data.get("resumed"))
        return out

    async def _audited_since(self, since: int) -> set[str]:
        """The keys of the firm chain's ``stage_transition`` rows written at or after ``since``."""
        return await audited_keys(asyncio.to_thread, self.firm.audit_rows, since)
