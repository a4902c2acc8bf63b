"""Stage transitions owed their effects: audited once, paged and rendered at least once, whatever the crash.

What it owns: the outbox of the tick's stage transitions (``Book.owed``, saved in the state
document; the book changes it at this part's word: :meth:`~killswitch.runner.book.book.Book.owe`,
``owed_audited``, ``owed_told``, ``settle_owed``). A transition is owed from the save that
records it — the same save as the stage entry itself, before anything of the entry is sent —
until (a) its ``stage_transition`` audit row is written and (b) every sink that keeps state
of its own (the notification groups, the stored runbook) says it holds the transition's event
(:class:`~killswitch.events.HoldingSink`). Only the save that takes the sinks' state with the
event in it lets the entry go, in the same document, so no crash point finds it neither owed
nor held.

The runner that carries on — the same one restarted, or another that took the lease — takes
up what is owed at its first tick under a new token (:meth:`EntryOutbox.resume`): a row not
yet audited is looked up in the audit chain by the transition's identity (policy, scope,
levels, decision id, time) and written only if absent, fenced, so it is audited exactly once;
every owed event is told to the sinks again, in the order they happened, marked ``resumed``:
the notification groups take it as the alert they may already hold (a page repeated carries
the same dedup key; a later entry of the scope supersedes an earlier one, as when it
happened), and the runbook sink renders it only if no runbook is stored for the incident.
Entries whose orders were journaled before the stop could save them are found in the journal
(:meth:`EntryOutbox.find_unsaved`) and owed with that tick's transitions.

Must not: decide a transition, send an order, or write to the store on the loop (the audit
look-up and row go through the runner's :class:`~killswitch.runner.storeio.StoreIO`).
"""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, Iterable, Optional, Sequence

from ...compile.graph import DecisionGraph
from ...engine.scope import instances
from ...engine.stages import StageTransition, incident_of
from ...events import STAGE_TRANSITION, Event, scope_labels
from ...snapshot import Snapshot
from ...state.store import StateStore
from ..book.book import Book
from ..lease.leadership import Leadership
from ..storeio import StoreIO, audit_pages

log = logging.getLogger("killswitch.runner.entries")

AUDIT_KIND = "stage_transition"
# an entry's decision id (``engine.stages.decision_id``), and a re-plan of it (``/r<n>``)
_ENTRY_ID = re.compile(r"^(?P<policy>[^/]+)/(?P<scope>.+)/L(?P<level>\d+)/e(?P<entry>\d+)(?:/r\d+)?$")
JOURNALED_BEFORE_SAVE = ("JOURNALED_BEFORE_SAVE: its orders were journaled by a runner that stopped before it "
                         "saved the stage entry, and were settled with the venue by the runner that carried on")


def scope_cause(node: Any, scope: str, snapshots: Iterable[Snapshot], now: int) -> tuple[int, str]:
    """The time of what fired a transition of ``scope``, and who stamped it: the newest stamp
    among the snapshots of the scope's accounts at the tick that fired it (the data that made
    the condition true; a stream's snapshot is stamped with the venue's latest ``E``). A
    snapshot's stamp is its ``ts_event`` where the venue gave it (``ts_source: venue``, fetched
    fine), else our receipt of it (``ts_observed``); no snapshot of the scope: ``now``, the runner's."""
    best: Optional[tuple[int, str]] = None
    views = [v for v in instances(node, list(snapshots)) if v.key == scope] if node is not None else []
    for snap in (x for v in views for x in v.snapshots):
        if snap.fetch.ok and snap.ts_source == "venue":
            stamp = (snap.ts_event, "venue")
        else:
            stamp = (snap.ts_observed if snap.ts_observed is not None else now, "runner")
        if best is None or stamp[0] > best[0]:
            best = stamp
    return best if best is not None else (now, "runner")


def transition_event(s: Any, graph: DecisionGraph, now: int, dry_run: bool,
                     snapshots: Iterable[Snapshot] = ()) -> Event:
    """The ``stage_transition`` event of a scope's evaluation ``s``, labelled for routing, with
    the time of its cause read from the tick's ``snapshots`` (:func:`scope_cause`)."""
    t = s.transition
    node = next((p for p in graph.policies if p.name == s.policy), None)
    stage = next((st for st in node.stages if st.level == t.to_level), None) if node else None
    labels: dict[str, Any] = dict(node.labels) if node is not None else {}
    data = {"from": t.from_level, "to": t.to_level, "reason": t.reason, "decision_id": t.decision_id,
            "incident": t.decision_id, "graph_digest": graph.digest, "revision": graph.revision, "dry_run": dry_run,
            "signals": [{"name": v.name, "value": v.value, "reason": v.reason} for v in s.signals],
            "triggers": [tr.name for tr in s.triggers if tr.firing],
            "orders": len(s.plan.orders) if s.plan else 0}
    relatched = getattr(t, "continues", None)
    if relatched is not None:  # entered at the first tick after a reset: the incident it continues
        data["continues"] = relatched.doc()
    labels.update(policy=s.policy, scope=s.scope, stage=stage.name if stage else None, level=t.to_level,
                  from_level=t.from_level, owner=node.owner if node is not None else None,
                  # a silence made from it matches it alone, its re-arm page too (the incident a reset ends)
                  incident=t.decision_id if t.to_level else getattr(t, "ended", None),
                  **scope_labels(node.scope.get("level") if node is not None else None, s.scope))
    return Event.make(STAGE_TRANSITION, now, data, **labels).caused_at(*scope_cause(node, s.scope, snapshots, now))


def audit_payload(s: Any, graph: DecisionGraph, dry_run: bool) -> dict:
    """The ``stage_transition`` audit row of a scope's evaluation ``s``."""
    t = s.transition
    return {"policy": s.policy, "scope": s.scope, "from": t.from_level, "to": t.to_level, "reason": t.reason,
            "decision_id": t.decision_id, "graph_digest": graph.digest, "revision": graph.revision,
            "dry_run": dry_run}


def entry_key(policy: str, scope: str, from_level: int, to_level: int, decision_id: Optional[str], ts_ms: int) -> str:
    """A transition's identity in the outbox: its decision id names an entry; a transition
    without one (a level left) is named by its scope, levels and tick."""
    return decision_id or f"{policy}|{scope}|{from_level}>{to_level}@{ts_ms}"


def owed_entry(s: Any, graph: DecisionGraph, now: int, dry_run: bool, snapshots: Iterable[Snapshot] = (),
               **audit_extra: Any) -> tuple[str, dict]:
    """A scope's transition ``s`` as an outbox keeps it: its key, and its audit row (with
    ``audit_extra``), whether it is audited yet, and its event."""
    t = s.transition
    key = entry_key(s.policy, s.scope, t.from_level, t.to_level, t.decision_id, now)
    return key, {"ts_ms": now, "audit": {**audit_payload(s, graph, dry_run), **audit_extra}, "audited": False,
                 "event": event_doc(transition_event(s, graph, now, dry_run, snapshots))}


def key_of_row(ts_ms: int, p: dict) -> str:
    """The outbox key of a ``stage_transition`` audit row (written at ``ts_ms``; a row written by
    the runner that carried it on names the entry's own time, ``entered_ms``)."""
    return entry_key(str(p.get("policy")), str(p.get("scope")), int(p.get("from", -1)), int(p.get("to", -1)),
                     p.get("decision_id"), ts_ms if not p.get("entered_ms") else int(p["entered_ms"]))


def event_doc(e: Event) -> dict:
    """An event as the outbox keeps it in a saved document (:func:`event_of` reads it back)."""
    return {"kind": e.kind, "ts_ms": e.ts_ms, "labels": dict(e.labels), "data": dict(e.data), **e.cause_doc()}


def event_of(doc: dict, **extra: Any) -> Event:
    """The event of :func:`event_doc`'s ``doc``, its data updated with ``extra``."""
    return Event(doc["kind"], int(doc["ts_ms"]), dict(doc["labels"]), {**doc["data"], **extra}) \
        .caused_at(doc.get("cause_ms"), doc.get("cause_source"))


class EntryOutbox:
    """The tick's stage transitions until their effects are in place; see the module doc."""

    def __init__(self, book: Book, store: StateStore, io: StoreIO, lead: Leadership,
                 holds: Callable[[Event], bool], *, dry_run: bool):
        self.book = book
        self.store = store
        self.io = io
        self.lead = lead
        self.holds = holds  # whether every sink that keeps state holds an event (the fanout's question)
        self.dry_run = dry_run
        self._told: dict[str, Event] = {}  # key → the event this process told the sinks
        # entries whose orders a stopped runner journaled before it saved them: found at the
        # first tick under a token, owed with that tick's transitions unless it enters them again
        self._unsaved: dict[str, tuple[str, str, int, int]] = {}  # decision id → (policy, scope, level, orders)
        self._to_tell: list[str] = []

    # --- the tick -----------------------------------------------------------------------------------

    def owe(self, transitions: Sequence[Any], now: int) -> list[tuple[str, int, dict]]:
        """The tick's transitions owed from the save that records them; returns their audit rows
        (for the tick's one append)."""
        unsaved, self._unsaved = self._unsaved, {}
        if not transitions and not unsaved:  # (most ticks: nothing to owe)
            return []
        graph = self.book.graph
        owed: dict[str, dict] = {}
        rows = []
        for s in transitions:
            t = s.transition
            if t is None:  # (a scope in ``transitions`` always has one)
                continue
            unsaved.pop(t.decision_id or "", None)  # entered again, under the same decision: as any entry
            key, owed[key] = owed_entry(s, graph, now, self.dry_run, self.book.snapshots.values())
            rows.append((AUDIT_KIND, now, owed[key]["audit"]))
        for did, (policy, scope, level, orders) in sorted(unsaved.items()):
            ss = self.book.state.scopes.get(f"{policy}|{scope}")
            at = ss.stage.level if ss is not None else 0
            node = self.book.node(policy)
            stage = next((st.name for st in node.stages if st.level == level), None) if node is not None else None
            tr = StageTransition("entered", at, level, stage, JOURNALED_BEFORE_SAVE, did)
            s = SimpleNamespace(policy=policy, scope=scope, transition=tr, signals=(), triggers=(),
                                plan=SimpleNamespace(orders=range(orders)))  # (its journaled orders, counted)
            _, entry = owed_entry(s, graph, now, self.dry_run, completed_by=self.lead.holder)
            entry["event"]["data"]["resumed"] = True
            owed[did] = entry
            rows.append((AUDIT_KIND, now, entry["audit"]))
            self._to_tell.append(did)
            log.warning("STAGE_ENTRY_COMPLETED: %s %s level %s→%s (%s): %s; audited by %s", policy, scope, at, level,
                        did, JOURNALED_BEFORE_SAVE, self.lead.holder)
        self.book.owe(owed)
        return rows

    def audited(self, rows: Sequence[tuple[str, int, dict]]) -> None:
        """The transitions of ``rows`` are in the audit chain (their append returned)."""
        self.book.owed_audited([key_of_row(ts, p) for kind, ts, p in rows if kind == AUDIT_KIND])

    def tell(self, transitions: Sequence[Any], now: int) -> list[Event]:
        """The events of the tick's transitions (as the whole plan has them), for the sinks; each
        owed entry's event becomes the one told."""
        if not transitions and not self._to_tell:  # (most ticks: nothing to tell)
            return []
        graph = self.book.graph
        owed = self.book.owed
        told: dict[str, dict] = {}  # key → the event document the sinks were told
        out = []
        for did in self._to_tell:  # entries found journaled before their save (see owe)
            if did in owed:
                e = event_of(owed[did]["event"])
                self._told[did] = e
                out.append(e)
        self._to_tell = []
        for s in transitions:
            t = s.transition
            if t is None:
                continue
            e = transition_event(s, graph, now, self.dry_run, self.book.snapshots.values())
            key = entry_key(s.policy, s.scope, t.from_level, t.to_level, t.decision_id, now)
            if key in owed:
                told[key] = event_doc(e)
                self._told[key] = e
            out.append(e)
        self.book.owed_told(told)
        return out

    def settle(self) -> None:
        """Let go what is audited and held by every sink: called just before a save, which
        takes the sinks' state (with the events in it) in the same document."""
        owed = self.book.owed
        done = [k for k, v in owed.items() if v.get("audited") and k in self._told and self.holds(self._told[k])]
        if done:
            self.book.settle_owed(done)
            for k in done:
                del self._told[k]

    # --- carrying on ----------------------------------------------------------------------------------

    async def resume(self, now: int) -> list[Event]:
        """At the first tick under a new token: every owed transition's audit row written if the
        chain lacks it (fenced: exactly once), and its event for the sinks again (``resumed``)."""
        owed = dict(self.book.owed)
        if not owed:
            return []
        missing = [k for k, v in owed.items() if not v.get("audited")]
        if missing:
            since = min(int(owed[k]["ts_ms"]) for k in missing)
            present = await self._audited_since(since)
            rows = [(AUDIT_KIND, now, {**owed[k]["audit"], "entered_ms": int(owed[k]["ts_ms"]),
                                       "completed_by": self.lead.holder, "completed_why": "CARRIED_ON: the runner "
                                       "that entered it stopped before its audit row"})
                    for k in missing if k not in present]
            if rows:
                await self.lead.audit_many(rows)
                for _, _, p in rows:
                    log.warning("STAGE_ENTRY_COMPLETED: %s %s level %s→%s (%s) audited by %s after a stop",
                                p["policy"], p["scope"], p["from"], p["to"], p.get("decision_id") or "no decision",
                                self.lead.holder)
            owed = {k: {**v, "audited": True} for k, v in owed.items()}
            self.book.owed_audited(list(owed))
        # every one, in the order they happened: each entry is paged and rendered at least once,
        # and the groups take a later transition of a scope as superseding an earlier one, as
        # they did when it happened (what this process told the sinks itself is theirs already:
        # settled at the next save)
        events: list[Event] = []
        for k, v in sorted(owed.items(), key=lambda kv: int(kv[1]["ts_ms"])):
            if k in self._told:
                continue
            e = event_of(v["event"], resumed=True)
            self._told[k] = e
            events.append(e)
        return events

    async def find_unsaved(self) -> None:
        """The entries whose orders were journaled after the last state saved and that neither
        the saved state owes nor the audit chain holds: a runner stopped between journaling an
        entry's orders and saving it. Their orders are settled with the venue (sent if they never
        were) like any; the entry itself is owed with this tick's transitions (:meth:`owe`)."""
        since = self.book.state.last_tick_ms
        journal = await self.io(self.store.journal, limit=100_000, since=since)
        policies = {p.name for p in self.book.graph.policies}
        found: dict[str, tuple[str, str, int, int]] = {}
        for e in journal:
            m = _ENTRY_ID.match(e.decision_id)
            if m is None or m["policy"] not in policies:
                continue
            did = incident_of(e.decision_id)
            ss = self.book.state.scopes.get(f"{m['policy']}|{m['scope']}")
            if did in self.book.owed or (ss is not None and ss.stage.entries >= int(m["entry"])):
                continue  # saved: owed, or audited long since (a re-plan of it journaled since)
            policy, scope, level, n = found.get(did, (m["policy"], m["scope"], int(m["level"]), 0))
            found[did] = (policy, scope, level, n + 1)
        if found:
            present = await self._audited_since(since if since is not None else 0)
            found = {d: v for d, v in found.items() if d not in present}
        self._unsaved = found

    async def _audited_since(self, since: int) -> set[str]:
        """The keys of the ``stage_transition`` rows written at or after ``since``."""
        return await audited_keys(self.io, self.store.audit_rows, since)


async def audited_keys(io: Callable[..., Awaitable[Any]], audit_rows: Callable[..., Sequence[Any]],
                       since: int) -> set[str]:
    """The keys of the ``stage_transition`` rows a chain holds from ``since`` on, read a page at
    a time by ``io`` (:func:`~killswitch.runner.storeio.audit_pages`)."""
    keys: set[str] = set()
    async for page in audit_pages(io, audit_rows, since, [AUDIT_KIND]):
        keys.update(key_of_row(r.ts_ms, r.payload) for r in page)
    return keys
