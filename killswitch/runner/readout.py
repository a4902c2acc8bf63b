"""What the runner shows: its status, readiness, the lock document, a pre-trade decision and its metrics.

What it owns: the reads an operator, a bot or Prometheus makes of a runner, each derived from
the book and the parts as they are now (counts, ages and statuses come from stored facts, so a
human's view agrees with the journal): the status (mode, leadership, graph, scopes and their
stages, data ages, resumptions, the dead man's switch, residuals), readiness, the lock document
with the resumed limits in force, the pre-trade gate's decision, and the runner's own
Prometheus lines followed by the lease thread's and the sinks'.

Must not: change anything. A read never waits for the operator turn (see
:class:`~killswitch.runner.leadership.Turn`).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ..metrics import escape
from .book import Book
from .countdowns import Countdowns
from .fanout import SinkFanout
from .gate import Decision, check_order
from .known import Known
from .leadership import Leadership
from .resuming import Resumptions
from .storeio import StoreIO
from .view import ResidualStatus, RunnerStatus, ScopeStatus


class Readout:
    """See the module doc. ``policy_error()``: why the last reload failed, if it did."""

    def __init__(self, book: Book, lead: Leadership, countdowns: Countdowns, resumptions: Resumptions, known: Known,
                 fanout: SinkFanout, store: Any, io: StoreIO, *, clock: Callable[[], int], dry_run: bool,
                 counters: dict[str, int], policy_error: Callable[[], Optional[str]]):
        self.book = book
        self.lead = lead
        self.countdowns = countdowns
        self.resumptions = resumptions
        self.known = known
        self.fanout = fanout
        self.store = store
        self.io = io
        self.clock = clock
        self.dry_run = dry_run
        self.counters = counters
        self.policy_error = policy_error

    def status(self) -> RunnerStatus:
        book = self.book
        scopes = []
        for key, ss in sorted(book.state.scopes.items()):
            policy, _, scope = key.partition("|")
            node = book.node(policy)
            stage = next((st for st in node.stages if st.level == ss.stage.level), None) if node else None
            scopes.append(ScopeStatus(policy, scope, ss.stage.level, stage.name if stage else None,
                                      bool(stage and stage.manual), tuple(ss.stage.approvals),
                                      stage.approvals if stage and stage.manual else (1 if stage else 0),
                                      ss.stage.entered_ms))
        now = self.clock()
        # the engine's rule (a frozen feed ages from its last change), so status and triggers agree
        ages = {k: round(age / 1000, 3) for k, a in sorted(book.state.accounts.items())
                if (age := a.data_age_ms(now)) is not None}
        residuals = tuple(ResidualStatus(r.incident, r.policy, r.scope, r.account, r.symbol, r.side, r.position_side,
                                         r.amount, r.why, r.detail, r.since_ms, r.as_of_ms) for r in book.residuals)
        return RunnerStatus("dry-run" if self.dry_run else "live", self.lead.leader, self.lead.fence,
                            book.graph.digest, book.graph.revision, self.policy_error(), book.state.last_tick_ms,
                            tuple(scopes), ages, self.resumptions.status(now), self.countdowns.status(), residuals)

    async def ready(self) -> tuple[bool, str]:
        try:
            await self.io(self.store.current_fence)
        except Exception as e:  # noqa: BLE001 - readiness reports, it does not raise
            return False, f"STATE_UNREACHABLE: {type(e).__name__}"
        if self.book.state.last_tick_ms is None:
            return False, "NO_TICK_YET"
        return True, "LEADER" if self.lead.leader else "STANDBY"

    def lock_document(self, scope: Optional[str] = None) -> dict:
        """The lock (all of it, or what binds ``scope``), with the resumed limits in force."""
        now = self.clock()
        lock = self.book.lock_book
        doc = lock.to_doc(now) if scope is None else lock.for_scope(scope, now).to_doc()
        return {**doc, "resuming": self.resumptions.doc(now, scope)}

    def check_order(self, request: dict) -> Decision:
        account = request.get("account") if isinstance(request, dict) else None
        snap = self.book.snapshots.get(account) if isinstance(account, str) else None
        positions = list(snap.positions) if snap is not None and snap.fetch.ok else None
        now = self.clock()
        return check_order(self.book.lock_book, request, positions, now,
                           resume=[r for _, r in self.resumptions.in_force(now)], placement=self.known.placement(now))

    def metrics_text(self) -> str:
        c, state, now = self.counters, self.book.state, self.clock()
        lines = ["# TYPE killswitch_ticks_total counter", f"killswitch_ticks_total {c['ticks']}",
                 "# TYPE killswitch_leader gauge", f"killswitch_leader {int(self.lead.leader)}",
                 "# TYPE killswitch_orders_total counter"]
        for result in ("sent", "filled", "rejected", "unknown"):
            lines.append(f'killswitch_orders_total{{result="{result}"}} {c["orders_" + result]}')
        lines += ["# TYPE killswitch_snapshot_failures_total counter",
                  f"killswitch_snapshot_failures_total {c['snapshot_failures']}", "# TYPE killswitch_stage gauge"]
        for key, ss in sorted(state.scopes.items()):
            policy, _, scope = key.partition("|")
            lines.append(f'killswitch_stage{{policy="{escape(policy)}",scope="{escape(scope)}"}} {ss.stage.level}')
        lines.append("# TYPE killswitch_data_age_seconds gauge")
        for k, a in sorted(state.accounts.items()):
            if (age := a.data_age_ms(now)) is not None:
                lines.append(f'killswitch_data_age_seconds{{account="{escape(k)}"}} {age / 1000:g}')
        lines += ["# TYPE killswitch_sink_errors_total counter", f"killswitch_sink_errors_total {self.fanout.errors}",
                  "# TYPE killswitch_dms_fired_total counter", f"killswitch_dms_fired_total {c['dms_fired']}",
                  "# TYPE killswitch_dms_seconds_until_fire gauge"]
        for name, st in self.book.dms.status(now).items():
            if st.armed and st.fires_in_s is not None:
                lines.append(f'killswitch_dms_seconds_until_fire{{source="{escape(name)}"}} {st.fires_in_s:g}')
        text = "\n".join(lines) + "\n"
        if self.lead.keeper is not None:  # renewals, failures and loop stalls of the lease thread
            text += self.lead.keeper.metrics_text()
        return text + self.fanout.metrics_text()
