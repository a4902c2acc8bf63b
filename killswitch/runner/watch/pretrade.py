"""The pre-trade gate as the runner keeps it: the view it publishes and the checks on the loop.

What it owns: the :class:`~..gate.view.GateView` worked out from the book as it is now (the lock
book, the resumptions in force, the placement of the names, the policies' limit tables, the
snapshots, whether it leads, the holds by account, the accounts no policy guards, the limits'
overrides and refusals), the :class:`~..gate.view.PublishedGate` the API's thread answers from —
published at every change of the lock book (the book calls ``gate.changed``: wired by the
bootstrap, which hands the book its writer's hook), at every tick's end and at a reload; none
before the first of them, and the gate refuses meanwhile (runner/gate/view.py) — and a check on
the loop against the book as it is now, its refusals counted for ``gate_refusals``.

Must not: change the book (a refusal is counted in the tally the tick hands to the engine).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Callable, Optional

from ..book.resuming import Resumptions
from ..book.view import BookView
from ..gate.limits_state import LimitsState
from ..gate.refusals import Counted
from ..gate.request import Decision
from ..gate.view import GateView, PublishedGate, answer
from ..lease.leadership import Leadership
from ..venue.catalog_build import Known
from .guards import Guards


class Pretrade:
    """See the module doc. ``counted``: the gate's refusals counted (the book's: the tick hands
    them to the engine's tally)."""

    def __init__(self, book: BookView, lead: Leadership, resumptions: Resumptions, known: Known,
                 limits: LimitsState, guards: Guards, *, clock: Callable[[], int], counted: Optional[Counted] = None):
        self.book, self.lead, self.resumptions, self.known = book, lead, resumptions, known
        self.limits, self.guards, self.clock = limits, guards, clock
        self.counted = counted if counted is not None else Counted()
        self.gate = PublishedGate(self.gate_view, self.limits.buckets, clock=clock, leading=lead.term_holds,
                                  stale_after_s=lambda: lead.lease_ttl_ms / 1000, counted=self.counted)

    def gate_view(self) -> GateView:
        """What the pre-trade gate reads, from the book as it is now (on the loop)."""
        book, now = self.book, self.clock()
        limits = self.limits.for_gate(book.graph, book.snapshots)
        return GateView(book.lock_book, tuple(r for _, r in self.resumptions.in_force(now)), self.known.placement(now),
                        limits.tables if limits is not None else None, MappingProxyType(book.snapshots),
                        self.lead.leader, self.known.held(), self.guards.now(), self.limits.overrides,
                        self.limits.refusals)

    def check_order(self, request: dict, counted: bool = True) -> Decision:
        """The gate on the loop, against the book as it is now (the API's thread answers from the
        view published: :meth:`PublishedGate.check`). ``counted``: a refusal counts for
        ``gate_refusals`` (not an operator's question)."""
        view = self.gate_view()
        decision = answer(view, request, self.clock(), self.limits.buckets)
        if view.leader and counted and not decision.allow:
            self.counted.refused(request, decision)
        return decision
