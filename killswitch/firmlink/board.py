"""A shard runner's firm board: its own summary published every tick, and every shard's read back
for ``GET /v1/firm/shards`` and the console's firm strip.

What it owns: :class:`BoardLink`, which the daemon calls after each tick, beside the shard's
facts (:mod:`.firm`):

* :meth:`BoardLink.after_tick` — the leader publishes its board (:func:`board_of`: its open
  incidents from its book's stages and acknowledgements, its lock book's summary, its pace, its
  console URL, its policy sync's summary, each account's resting non-reduce-only orders) in
  ``ks_firm.shard_board``, fenced by its shard's token
  (a refusal is counted); a standby publishes nothing. A board that cannot be written is said once
  a run (``FIRM_BOARD_UNWRITTEN``) and again when it is written;
* the desk's view of it: ``firm_board``, the shard's link, and ``firm_shards``, what the API
  calls (:class:`~killswitch.face.desk.desk.Desk`, through its :class:`~killswitch.runner.firm_slot.FirmSlot`);
* :meth:`BoardLink.read` — every shard and the firm-wide breaker as the firm's tables say now
  (:func:`killswitch.firm.board.firm_board`), on a connection of its own so that a console's
  refresh never waits behind the tick's writes nor they behind it; ``FIRM_STATE_UNREACHABLE``
  (the error and why) when the tables cannot be read — the console then says the other shards
  are not known, never that they are calm.

Nothing here calls another runner: every shard is read from what the shards wrote to the firm's
schema (no cross-origin request, no other runner's token).

Must not: evaluate anything, act on another shard, or publish for a runner that does not lead.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

from ..compile.graph import DecisionGraph
from ..engine.stages import decision_id
from ..firm.board import INCIDENTS_SHOWN, Board, FirmInputs, firm_board, ordered
from ..firm.facts import stale_after_ms
from ..runner.book.view import BookView
from ..state.store import StoreError

FIRM_STATE_UNREACHABLE = "FIRM_STATE_UNREACHABLE"
FIRM_BOARD_UNWRITTEN = "FIRM_BOARD_UNWRITTEN"


def board_of(book: BookView, shard: str, holder: str, fence: int, now: int, interval_s: float,
             console: Optional[str], sync: Optional[dict] = None) -> Board:
    """The board of a runner's ``book`` at ``now``: its scopes above stage 0 (highest first, at
    most :data:`INCIDENTS_SHOWN`, and how many more) and its lock book's summary."""
    incidents = []
    for key, ss in book.state.scopes.items():
        level = ss.stage.level
        if not level:
            continue
        policy, _, scope = key.partition("|")
        node = book.node(policy)
        stage = next((st for st in node.stages if st.level == level), None) if node else None
        incident = decision_id(policy, scope, level, ss.stage.entries)
        latched = ss.stage.manual is not None and ss.stage.needs is not None  # fixed when it was entered
        manual = bool(ss.stage.manual) if latched else bool(stage and stage.manual)
        incidents.append({"id": incident, "policy": policy, "scope": scope, "level": level,
                          "stage": stage.name if stage else f"level {level}", "since_ms": ss.stage.entered_ms,
                          "acked_by": sorted({a.author for a in book.acks.get(incident, ())}),
                          "manual": manual, "approvals": len(ss.stage.approvals),
                          "needed": (ss.stage.needs if latched else stage.approvals if stage else 0) if manual else 0})
    shown = ordered(incidents)
    summary = book.lock_book.summary(now)
    lock = None if not summary.locked else {"mode": summary.mode, "scope": summary.scope, "policy": summary.policy,
                                            "holds": len(book.lock_book.in_force(now))}
    read = {key: snap for key, snap in book.snapshots.items() if snap.fetch.ok}
    resting = {key: sum(1 for o in snap.orders if not o.reduce_only) for key, snap in read.items()}
    # when the oldest of them was read: a kill's preview says its age when older than the interval
    oldest = min((s.ts_observed if s.ts_observed is not None else s.ts_event for s in read.values()), default=None)
    return Board(shard, holder, fence, now, interval_s, tuple(shown[:INCIDENTS_SHOWN]),
                 max(0, len(shown) - INCIDENTS_SHOWN), lock, console, sync, resting, oldest)


class BoardLink:
    """See the module doc. ``firm``: the shard's :class:`~killswitch.state.firm.FirmStore` (the
    tick's connection); ``start``: the shard (:class:`killswitch.process.shard.ShardStart`);
    ``firm_graph``: the firm-wide policies now (their stale bound); ``console``: this runner's
    own console URL (``--external-url``), published for the other shards' links."""

    def __init__(self, clock: Callable[[], int], book: BookView, lead: Any, pace_s: Callable[[], float], firm: Any,
                 start: Any, firm_graph: Callable[[], DecisionGraph], ttl_ms: int, console: Optional[str],
                 err: Callable[[str], None], sync: Optional[Callable[[], dict]] = None):
        from ..state.firm import shard_schema

        # the runner's parts it reads: its clock, its book, its role (the holder) and its pace
        self.clock, self.book, self.lead, self.pace_s = clock, book, lead, pace_s
        self.firm, self.start, self.firm_graph = firm, start, firm_graph
        self.ttl_ms, self.console, self.err = ttl_ms, console or None, err
        self.sync = sync  # its policy sync's summary (runner/sync/tracker.py), published on the board
        self.schemas = {s: shard_schema(s) for s in start.assignment}
        self.refused = 0  # boards not written: the token was not the shard's current one
        self._unwritten = False  # the current run of failed writes has been said
        self._reader: Any = None  # the reads' own connection, opened at the first read

    async def after_tick(self, report: Any) -> None:
        """Publish this shard's board when ``report``'s tick was led (see the module doc)."""
        if not (report.leader and report.fence):
            return
        now = self.clock()
        board = board_of(self.book, self.start.name, self.lead.holder, report.fence, now, self.pace_s(),
                         self.console, self.sync() if self.sync is not None else None)
        try:
            written = await asyncio.to_thread(self.firm.publish_board, self.start.schema, board)
        except StoreError as e:
            if not self._unwritten:
                self.err(f"ksctl run: {FIRM_BOARD_UNWRITTEN}: {e}; the other shards' consoles see shard "
                         f"{self.start.name} as not heard until it is written")
            self._unwritten = True
            return
        if self._unwritten:
            self.err(f"ksctl run: shard {self.start.name}'s firm board written again")
        self._unwritten = False
        if not written:
            self.refused += 1

    def _inputs(self, now: int) -> FirmInputs:
        if self._reader is None:
            self._reader = self.firm.reopen()
        r = self._reader
        lease = r.lease()
        got = r.firm_view()
        return FirmInputs(
            boards=r.boards(), leases=r.shard_leases(self.schemas), facts=r.fact_times(),
            runners=[(x.shard, x.holder, x.leader, x.seen_ms) for x in r.runners(now - 3 * self.ttl_ms)],
            firm_holder=lease.holder if lease.holder is not None and lease.expires_ms > now else None,
            firm_token=lease.fence, view=got[0] if got else None, view_saved_ms=got[1] if got else None)

    async def read(self) -> dict:
        """Every shard and the firm-wide breaker now (``GET /v1/firm/shards``; see the module doc)."""
        now = self.clock()
        graph = self.firm_graph()
        stale = stale_after_ms(graph) if graph.policies else None
        try:
            inputs = await asyncio.to_thread(self._inputs, now)
        except StoreError as e:
            return {"error": FIRM_STATE_UNREACHABLE, "shard": self.start.name, "now_ms": now,
                    "reason": f"{FIRM_STATE_UNREACHABLE}: {e}; the other shards are not known from here"}
        return firm_board(self.start.assignment, inputs, now, asked=self.start.name, firm_stale_ms=stale,
                          consoles=getattr(self.start, "consoles", None))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
