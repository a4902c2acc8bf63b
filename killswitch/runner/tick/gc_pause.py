"""Python's cyclic garbage collector held off over the stretch of a tick that plans an entry.

What it owns: :class:`CollectorPause`, which the tick (:mod:`.loop`) pauses after its snapshots
and resumes at its first send, and at its end however it ended.

Must not: hold the collector off across a venue call or past the tick.
"""

from __future__ import annotations

import gc


class CollectorPause:
    """Python's cyclic garbage collector held off from a tick's snapshots to its first send.

    A crash's entry makes tens of thousands of objects before its first order can leave
    (closes, legs, intents, audit rows: ~40,000 containers at 4,000 closes), and the collector,
    run every 700 new ones, walked them 50 times over inside the entry tick at 100,000 positions
    (3-5 ms). Held off, it runs after the first send, by when most of them are freed (by
    reference counting: the closes and legs die with the planning). The stretch is bounded
    (evaluate, journal, persist; no venue call): the sends that follow, paced at the venues'
    order rates, run with the collector as usual. A collector already off (a caller's own
    choice) is left off."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = False

    def pause(self) -> None:
        if not self._held and gc.isenabled():
            gc.disable()
            self._held = True

    def resume(self) -> None:
        """Start the collector again if :meth:`pause` stopped it (idempotent)."""
        if self._held:
            self._held = False
            gc.enable()
