"""When the runner ticks: its interval, and the next edge of a trading window.

What it owns: the interval this runner ticks at (:func:`~killswitch.compile.graph.tick_interval_s`
of its graph and the paces it keeps besides: a shard's firm-wide policies', whose facts it
publishes) and the seconds until the next edge of a trading window of the running graph, which
the daemon's wait ends at, the status shows and the firm's parts are handed.

Must not: change the book.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from ...compile.graph import tick_interval_s
from ...compile.windows import next_edge_ms
from ..book.view import BookView


class Pace:
    """See the module doc. ``paces()``: the intervals the runner keeps besides its graph's."""

    def __init__(self, book: BookView, clock: Callable[[], int], paces: Callable[[], Sequence[float]]):
        self.book, self.clock, self.paces = book, clock, paces

    def window_edge_s(self) -> Optional[float]:
        """See the module doc (None: no window), a millisecond past the edge, so that the tick
        at the edge sees it open."""
        now = self.clock()
        edge = next_edge_ms(self.book.graph, now)
        return None if edge is None else max(0.0, (edge - now + 1) / 1000)

    def pace_s(self) -> float:
        """The interval this runner ticks at (:func:`tick_interval_s` of its graph and its paces)."""
        return tick_interval_s(self.book.graph, self.paces())
