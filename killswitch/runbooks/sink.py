"""The runbook sink: on every stage entry, render the incident's runbook and store it.

An acknowledgement of an incident (``incident_acknowledged``) renders its stored runbook again
with who has it, since when and their note (``acknowledged``), stored in place with a
``runbook_updated`` audit row. So does the end of an incident (the next transition of its
scope, or a reset that released it), a policy reload (one that removed its instance) and, at
each tick, the audit rows since the last that are news of an open incident (its pages' receipts,
one a silence held back, a lock violation, a revoke, a refused close a person accepted): each of
these renders, and every follow-up, carries the incident's ``story`` read from the audit trail
(:mod:`.story`: how it ended, where its pages went and which a silence held back, its lock
violations and revoke).

For each stage-transition event that enters a stage (it carries an ``incident``), the sink
builds the incident data from the event, the tick's report and what the runner lets its sinks see, renders it with the
templates of the ``runbooks/`` directory, and stores markdown, HTML and data in the state store,
with an audit row naming the template and the digest of what was stored — both through the
runner's fenced writer (``ctx.save_runbook``, ``ctx.audit``): a deposed leader's runbook and
row are refused, and the runbook the leader stored stays. The API serves it at
:func:`killswitch.events.runbook_path`.

While the orders of a live incident settle, the sink follows it (:func:`~.incident.follow_up`):
at every tick where its orders' results or the scope's positions or lock changed, the runbook
is rendered again with what the journal and the snapshot say now, marked ``updated`` (and
``settled`` once every order of the incident, re-plans included, is final), and stored in place
of the previous one, with a ``runbook_updated`` audit row. It stops following when the orders
have been final for three ticks, when the scope leaves the stage, or after an hour. A
restarted runner, or a standby taking over, follows again the unsettled incidents of the last
hour from their stored runbooks.

Templates are read and compiled when the sink starts (so that the first incident does not pay
for compiling them) and again when the runner's graph changes (a policy reload may name a new
template). A template that fails falls back to the default one, then to
the built-in runbook (:mod:`killswitch.runbooks.render`): an incident always gets a runbook.

Must not: block on anything but the store (rendering takes milliseconds); put a secret in the
data (:mod:`killswitch.runbooks.incident` reads names, numbers and reason codes only).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

from ..events import INCIDENT_ACKNOWLEDGED, RESET, STAGE_TRANSITION, Event
from ..metrics import Registry, render_collected
from ..state.violations import VIOLATION_KINDS
from .builtin import builtin_templates
from .incident import follow_up, incident_from_event, iso, residual_docs
from .lock_watch import LockWatch, _Open
from .render import BUILTIN, record_of as record_of, render_runbook
from .report import NOTIFICATION_KINDS
from .residuals import ACCEPTED_KIND
from .story import ended_by, read_story
from .templates import Templates

if TYPE_CHECKING:  # pragma: no cover
    from ..events import SinkContext, TickFacts


# audit rows that are news of an open incident for its runbook (its story): page receipts, a
# page held back by a silence, a lock violation, a change of the bots' trading permission
NEWS_KINDS = NOTIFICATION_KINDS + VIOLATION_KINDS + ("trading_revoked", "trading_restored", "trading_permission_failed",
                                                     ACCEPTED_KIND)
NEWS_PAGE = 1000  # rows read per tick; more wait for the next tick
FOLLOW_MS = 3_600_000  # an incident's runbook is brought up to date for at most an hour
QUIET_TICKS = 3  # ticks with every order final and nothing changed before it is settled for good
MAX_FOLLOWED = 64  # incidents followed at once; the oldest is let go first
_ENTRY = re.compile(r"/L(\d+)/e(\d+)$")  # an incident (decision id) ends with its level and entry count


def with_ack(data: dict, ack: dict) -> list[dict]:
    """Everyone who has the incident once ``ack`` is made: the runbook's acknowledgements so far
    (a runbook stored before they were kept has its one ``acknowledged``), each author's latest,
    in the order they were made, as the runner's holders are: a second person's does not hide
    the first, and the same person's again is shown once."""
    have = data.get("acknowledgements")
    if not isinstance(have, list):
        have = [data["acknowledged"]] if isinstance(data.get("acknowledged"), dict) else []
    return [a for a in have if isinstance(a, dict) and a.get("by") != ack.get("by")] + [ack]


@dataclass
class _Following:
    data: dict  # the incident as last rendered
    level: int
    entries: int  # the scope's stage entries when it was entered (its decision id's e<n>): another ends it
    quiet: int = 0


class RunbookSink(LockWatch):
    name = "runbooks"

    def __init__(self, root: Optional[Path], *, clock_ns=time.time_ns):  # wall ns: the span's times too
        self.root = Path(root) if root is not None else None
        self._clock_ns = clock_ns
        self._templates: Optional[Templates] = self._load()
        self._digest: Optional[str] = None  # the graph the templates were read for (None: not seen yet)
        self._report: Optional["TickFacts"] = None
        self.rendered = 0
        self.fallbacks = 0  # runbooks rendered with another template than the one named
        self.last_render_ms: Optional[float] = None
        self.updated = 0
        self._following: dict[str, _Following] = {}  # incident → what its runbook last said
        self._stored: set[str] = set()  # incidents whose runbook this process stored or found stored
        self._news_seq: Optional[int] = None  # the last audit row read for news of an incident (None: none yet)
        self._open: dict[str, _Open] = {}  # incident → its scope's stage and the lock its runbook says
        self._lock_key: Optional[tuple[Any, ...]] = None  # the lock book, revokes and holds in force at the last look

    # --- Sink --------------------------------------------------------------------------------

    def on_tick(self, report: "TickFacts", ctx: "SinkContext") -> None:
        self._report = report
        digest = self._digest
        self.templates(ctx)  # after a policy reload: read them now rather than in an incident
        if digest is not None and digest != self._digest and report.leader and not report.execution.deposed:
            self._reloaded(ctx, report.now_ms)
        if report.leader and not report.execution.deposed and (self._news_seq is None or engaged(report)):
            self._news(ctx, report.now_ms)  # a store read: only while an incident is open (or to catch up)
        if self._following and report.leader and not report.execution.deposed:
            self._follow(report, ctx)
        if self._open and report.leader and not report.execution.deposed:
            self._relock(ctx, report.now_ms)

    def on_event(self, event: Event, ctx: "SinkContext") -> None:
        if event.kind == INCIDENT_ACKNOWLEDGED:
            self._acknowledged(event, ctx)
            return
        if event.kind == RESET and event.data.get("released"):
            self._ended(event, ctx, {"to": 0, "reason": event.data.get("result")})
            return
        if event.kind == STAGE_TRANSITION:  # whatever it enters, it ends the incident its scope was in
            self._ended(event, ctx, event.data)
        if event.kind != STAGE_TRANSITION or not event.data.get("incident"):
            return  # resets carry no incident: nothing to run a book for
        incident = str(event.data["incident"])
        if event.data.get("resumed") and ctx.store.runbook(incident) is not None:
            self._stored.add(incident)  # told again by the runner that carried the entry on: rendered before
            return
        report = self._report if self._report is not None and self._report.now_ms == event.ts_ms else None
        t0 = self._clock_ns()
        data = incident_from_event(event, ctx, report)
        rb = render_runbook(data, self.templates(ctx))
        self.last_render_ms = (self._clock_ns() - t0) / 1e6
        self._trace(ctx, data, rb, t0)
        ctx.save_runbook(record_of(data, rb))
        wanted = data.get("template") or "default.md.j2"
        if rb.problems:  # a template that could not be used (without a directory, builtin is the one asked for)
            self.fallbacks += 1
        self.rendered += 1
        ctx.audit("runbook_rendered", event.ts_ms, {
            "incident": data["incident"], "template": rb.template, "wanted": wanted,
            "sha256": hashlib.sha256(rb.markdown.encode("utf-8")).hexdigest(),
            "problems": list(rb.problems)})
        self._stored.add(incident)
        self._watch_lock(data)
        if not ctx.dry_run:
            self._start_following(data)

    def holds(self, event: Event) -> bool:
        """Whether the runbook of ``event``'s incident is stored (an event without one has none to store)."""
        if event.kind != STAGE_TRANSITION or not event.data.get("incident"):
            return True
        return str(event.data["incident"]) in self._stored

    def _acknowledged(self, event: Event, ctx: "SinkContext") -> None:
        """Someone has the incident: its stored runbook rendered again with who, when and why
        (``acknowledged``), and kept in what the follow-up renders from."""
        incident = str(event.data.get("incident") or "")
        record = ctx.store.runbook(incident) if incident else None
        if record is None:  # a manual close, or an incident from before runbooks were stored
            return
        ack = {"by": event.data.get("author"), "at": iso(event.ts_ms), "comment": event.data.get("comment") or ""}
        data = record.data
        data["acknowledgements"] = with_ack(data, ack)
        data["acknowledged"] = ack
        data["story"] = read_story(ctx.store, data, event.ts_ms)
        self._store_again(ctx, data, event.ts_ms, acknowledged_by=ack["by"])
        self._also_followed(incident, acknowledgements=data["acknowledgements"], acknowledged=ack)

    def _ended(self, event: Event, ctx: "SinkContext", said: Mapping[str, Any]) -> None:
        """The incident ``event`` (a transition, a released reset) ended on its policy and scope:
        its stored runbook rendered again with its story (how it ended, where its pages went, what
        broke its halt), kept in the store for the API, the console and a restarted runner. How it
        ended is the event's word when the audit row is not in the store yet."""
        policy, scope = event.labels.get("policy"), event.labels.get("scope")
        if not policy or not scope:
            return
        held = [r for r in ctx.store.runbooks(until_ms=event.ts_ms + 1, limit=1000)
                if r.data.get("scope") == scope and (r.data.get("policy") or {}).get("name") == policy
                and r.data.get("incident") != event.data.get("incident")]
        if not held or (held[-1].data.get("story") or {}).get("ended"):
            return  # none stored, or its end told already
        data = held[-1].data
        story = read_story(ctx.store, data, event.ts_ms)
        if story["ended"] is None:
            story["ended"] = ended_by(said, event.ts_ms, int((data.get("stage") or {}).get("level") or 0))
        self._rerender(ctx, data, story, event.ts_ms)

    def _rerender(self, ctx: "SinkContext", data: dict, story: dict, now: int) -> None:
        data["story"] = story
        self._store_again(ctx, data, now, ended=(story.get("ended") or {}).get("text"), removed=story.get("removed"))
        self._also_followed(data["incident"], story=story)

    def _reloaded(self, ctx: "SinkContext", now: int) -> None:
        """After a policy reload: the runbooks of the last day's incidents not ended, rendered
        again where their story changed (a reload that removed their instance says so)."""
        for record in ctx.store.runbooks(since_ms=now - 86_400_000, limit=1000):
            data = record.data
            if (data.get("story") or {}).get("ended") or data.get("dry_run"):
                continue
            story = read_story(ctx.store, data, now)
            if story != data.get("story"):
                self._rerender(ctx, data, story, now)

    def _news(self, ctx: "SinkContext", now: int) -> None:
        """The audit rows since the last tick that change what an open incident's runbook says
        (a page's receipt, a page a silence held back, a lock violation, a revoke): each such
        incident's stored runbook rendered again where its story changed. The first read (a
        start, a takeover) goes an hour back; later ones from the last row read."""
        since, after = (now - FOLLOW_MS, 0) if self._news_seq is None else (None, self._news_seq)
        rows = ctx.store.audit_rows(since, NEWS_KINDS, NEWS_PAGE, after_seq=after)
        if self._news_seq is None:
            self._news_seq = 0
        if not rows:
            return
        self._news_seq = rows[-1].seq
        named = {str(i) for r in rows if r.kind in NOTIFICATION_KINDS for i in r.payload.get("incidents") or ()}
        touched = {str(r.payload.get(k)) for r in rows if r.kind not in NOTIFICATION_KINDS
                   for k in ("scope", "account") if r.payload.get(k)}
        touched |= {str(h).partition("|")[2] for r in rows for h in r.payload.get("holds") or ()}
        # a refused close a person accepted: its incident's residuals say who, when and why
        accepted = {str(leg.get("incident")) for r in rows if r.kind == ACCEPTED_KIND
                    for leg in r.payload.get("legs") or ()}
        for record in ctx.store.runbooks(since_ms=now - 86_400_000, limit=1000):
            data = record.data
            if data["incident"] not in named | accepted and data.get("scope") not in touched:
                continue
            if (data.get("story") or {}).get("ended") or data.get("dry_run"):
                continue
            story = read_story(ctx.store, data, now)
            residuals = residual_docs(ctx, data["incident"]) if data["incident"] in accepted else None
            if residuals is not None and residuals != data.get("residuals") and story["ended"] is None:
                data["residuals"] = residuals
                self._also_followed(data["incident"], residuals=residuals)
                self._rerender(ctx, data, story, now)
            elif story != data.get("story") and story["ended"] is None:
                self._rerender(ctx, data, story, now)

    # --- taking over -------------------------------------------------------------------------------

    def restore_state(self, doc: Optional[dict], ctx: "SinkContext") -> None:
        """On taking the lease (a restart, or a takeover): follow again, from the runbooks
        stored in the last hour, every live incident not yet settled. Read from the store
        rather than from the saved state, which is a tick behind the sinks. The follow-up drops
        at once those whose scope has left the stage."""
        self._following = {}
        self._open = {}
        for record in ctx.store.runbooks(since_ms=ctx.clock() - 86_400_000, limit=1000):
            if not (record.data.get("story") or {}).get("ended"):
                self._watch_lock(record.data)
        if ctx.dry_run:
            return
        for record in ctx.store.runbooks(since_ms=ctx.clock() - FOLLOW_MS):
            data = record.data
            if not data.get("settled") and not data.get("dry_run"):
                self._start_following(data)

    def _start_following(self, data: dict) -> None:
        """Follow a live incident that planned orders or left positions (the oldest is let go
        past MAX_FOLLOWED). Its level and stage entry are those its decision id names."""
        m = _ENTRY.search(data["incident"])
        if m is None or not (data["actions"]["orders"] or data["positions"]):
            return
        self._following[data["incident"]] = _Following(data, int(m.group(1)), int(m.group(2)))
        while len(self._following) > MAX_FOLLOWED:
            self._following.pop(next(iter(self._following)))

    def _follow(self, report: "TickFacts", ctx: "SinkContext") -> None:
        now = report.now_ms
        for incident, f in list(self._following.items()):
            stage = ctx.stage(f.data['policy']['name'], f.data['scope'])
            if stage is None or (stage.level, stage.entries) != (f.level, f.entries):
                del self._following[incident]  # the scope left the stage: the next incident's runbook says the rest
                continue
            entries = ctx.store.journal_of(incident, int(f.data["created_ms"]))
            new = follow_up(f.data, ctx, report, entries)
            if new is None:  # its policy was removed: nothing to render it against
                del self._following[incident]
                continue
            settled = all(e.final for e in entries)
            changed = _gist(new) != _gist(f.data)
            f.quiet = 0 if changed or not settled else f.quiet + 1
            if changed:
                new.update(updated=iso(now), settled=settled, story=read_story(ctx.store, new, now))
                self._store_again(ctx, new, now, settled=settled, orders=new["actions"]["summary"],
                                  positions=len(new["positions"]) + new.get("positions_more", 0))
                f.data = new
            if f.quiet >= QUIET_TICKS or now - int(f.data["created_ms"]) > FOLLOW_MS:
                del self._following[incident]

    def _trace(self, ctx: "SinkContext", data: dict, rb, t0: int) -> None:
        """The render as a span under its incident's decision, when the runner has telemetry."""
        from ..telemetry import find

        tel = find(ctx)
        if tel is not None:
            tel.record_runbook_render(data["incident"], t0, self._clock_ns(), template=rb.template,
                                      ok=not rb.problems, reason="TEMPLATE_PROBLEM" if rb.problems else None)

    async def aclose(self) -> None:
        return None

    def collect_metrics(self, registry: Registry) -> None:
        registry.sampled("killswitch_runbooks_rendered_total", "counter",
                         "Runbooks rendered (a new incident, or one updated).").add(self.rendered)
        registry.sampled("killswitch_runbook_template_fallbacks_total", "counter",
                         "Runbooks rendered with the built-in template because a template could not be used."
                         ).add(self.fallbacks)
        registry.sampled("killswitch_runbooks_updated_total", "counter",
                         "Runbooks rendered again as their incident went on.").add(self.updated)
        registry.sampled("killswitch_runbooks_following", "gauge",
                         "Incidents whose runbook is kept up to date now.").add(len(self._following))

    def metrics_text(self) -> str:
        return render_collected(self.collect_metrics)

    # --- templates and the API ------------------------------------------------------------------

    def templates(self, ctx: "SinkContext") -> Optional[Templates]:
        """The templates, read again when the runner's graph changed since they were read."""
        digest = ctx.graph.digest
        if self._digest is None:
            self._digest = digest
        elif digest != self._digest:
            self._templates, self._digest = self._load(), digest
        return self._templates

    def _load(self) -> Optional[Templates]:
        if self.root is None or not self.root.is_dir():
            built = builtin_templates()  # what renders then: compiled now, not in an incident
            if built is not None:
                built.warm()
            return None
        templates = Templates.load(self.root)
        templates.warm()
        return templates


def _gist(data: dict) -> tuple:
    """What makes a runbook worth rendering again: its orders' results (those listed, and the
    count of every one), the positions left (contracts, not their marked value, which moves every
    tick), the lock, the residuals and the orders its cancels left open."""
    orders: tuple[Any, ...] = tuple((o["client_order_id"], o["status"], o["filled"], o["code"])
                                    for o in data["actions"]["orders"])
    orders += (tuple(sorted((k, v) for k, v in data["actions"]["summary"].items() if k != "notional")),
               data.get("positions_more", 0))
    positions = tuple((p["account"], p["symbol"], p["side"], p["position_side"], p["contracts"])
                      for p in data["positions"])
    lock = data["lock"]
    residuals = tuple((r["account"], r["symbol"], r["side"], r["why"], r["amount"]) for r in data.get("residuals", ()))
    still_open = tuple((r["account"], r["order_id"], r["amount"]) for r in data.get("still_open", ()))
    return orders, positions, lock.get("locked"), lock.get("mode"), lock.get("stage"), residuals, still_open


def engaged(report: "TickFacts") -> bool:
    """Whether some instance the tick evaluated is above stage 0: only then can an audit row be
    news of an open incident's runbook (an incident that ended was rendered again as it ended)."""
    ev = report.evaluation
    return ev is not None and any(s.stage_after > 0 for s in ev.scopes)


__all__ = ["BUILTIN", "RunbookSink", "engaged", "record_of"]
