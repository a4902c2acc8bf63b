"""What a runner is made of: the parts :func:`killswitch.process.bootstrap.build_runner_and_desk` builds,
which the :class:`~.loop.Runner` (the tick, the lease) and the :class:`~killswitch.face.desk.desk.Desk` (the
operator's view calls) are each handed their share of.

What it owns: :class:`RunnerParts`, the list of the parts, each built with the narrow
collaborators it uses (:mod:`..collaborators`), and :class:`ReloadState`, the policy reloads as
status shows them.

Must not: hold logic, or build anything (the bootstrap does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from ..book.book import Book
from ..book.rejections import CloseRejections
from ..book.resuming import Resumptions
from ..effects.countdowns import Countdowns
from ..effects.revokes import Revokes
from ..firm_slot import FirmSlot
from ..lease.leadership import Leadership, Turn
from ..lease.stored import StoredLocks
from ..operator.closes import ManualCloses
from ..operator.commands import OperatorCommands
from ..operator.revoke_commands import OperatorRevokes
from ..override.overrides import Overrides
from ..silence.silences import Silences
from ..sinks.charts import ChartHistory
from ..sinks.entries import EntryOutbox
from ..sinks.fanout import SinkFanout
from ..storeio import StoreIO
from ..sync.tracker import PolicySync
from ..venue.catalog_build import Known
from ..venue.executor import Executor
from ..venue.fetches import FetchHealth
from ..venue.left_open import StillOpenOrders
from ..venue.modes import ModeWatch
from ..venue.shortfalls import Shortfalls
from ..venue.streams import StreamWatch
from ..watch.enforcement import Enforcement
from ..watch.entry_watch import EntryWatch
from ..watch.guards import Guards
from ..watch.pretrade import Pretrade
from .pace import Pace
from .persist import Persistence
from .shed import LoadShed


@dataclass
class ReloadState:
    """The policy reloads as status shows them: the last failure's reason while the last good
    graph runs on (None: it did not fail), when the running graph was loaded, and when a reload
    last failed. Changed by a reload's swap alone (:meth:`~.reload.GraphSwap.apply`, through
    :meth:`~.loop.Runner.apply_graph`); the readout reads it."""

    error: Optional[str]
    loaded_ms: int
    failed_ms: Optional[int]


@dataclass
class RunnerParts:
    """What a runner and its desk are made of (see the module doc). The tick's parts go to the
    runner; the operator's (commands, silences, revokes asked for by an operator) to the desk
    alone; the closes and the turn to both. The reads people see (status, incidents, positions,
    the actions' previews) are not among them: they stand above the runner
    (:mod:`killswitch.face.readout`), handed these parts, and the desk is handed them."""

    io: StoreIO
    book: Book
    counters: dict[str, int]
    turn: Turn
    lead: Leadership
    fanout: SinkFanout
    known: Known
    executor: Executor
    countdowns: Countdowns
    resumptions: Resumptions
    persist: Persistence
    shortfalls: Shortfalls
    closes: ManualCloses
    pretrade: Pretrade  # the pre-trade gate: its published view and its checks on the loop
    pace: Pace  # the interval it ticks at, and the next edge of a trading window
    shed: LoadShed  # the load shed: what is read less often while the loop is held
    charts: ChartHistory
    commands: OperatorCommands
    silencing: Silences
    fetches: FetchHealth
    streams: StreamWatch
    reloads: ReloadState
    sync: PolicySync  # what runs per document against the newest sources handed, and the drift verdict
    entries: EntryOutbox
    revokes: Revokes
    operator_revokes: OperatorRevokes
    enforcement: Enforcement
    still_open: StillOpenOrders  # orders a cancel left open: ended, saved, audited and paged once
    # the accounts' position modes as their venues read them; the closes the venues refused
    modes: ModeWatch
    rejections: CloseRejections
    # the venue watch's fast path: a stream's entry cancelled at its event (runner/watch/entry_watch.py)
    entry_watch: EntryWatch
    # operator locks stored while no runner led, for the next leader (runner/lease/stored.py)
    stored: StoredLocks
    clock: Callable[[], int]  # the runner's clock, which every part reads
    dry_run: bool
    accounts: tuple[str, ...]  # the accounts it guards ("venue/name")
    overrides: Overrides  # the overrides of the pre-trade limits (runner/override/)
    guards: Guards  # the accounts no running policy's scope selects, logged when that changes
    # a shard's firm link, for the parts built before it (filled by the composition root on a shard)
    firm: FirmSlot = field(default_factory=FirmSlot)
