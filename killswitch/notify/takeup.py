"""The part of :class:`~.sink.NotifySink` that takes up what the receipts say a runner that
stopped handed over after its last save (:mod:`.replay`), as the next runner restores the state.

What it owns: :class:`TakeUp`: the restored groups told what the receipts since the save say —
delivered, notified; perhaps delivered, marked when sent again (:meth:`~.delivery.Delivery._submit`);
delivered for an event the restored groups did not hold yet, notified when that event is told
again (``resumed``) and joins its group, and kept in the saved state until then. It shares the
sink's fields (:class:`~.sink_hooks.SinkHooks`).

Must not: write a receipt, or raise (receipts that cannot be read leave the state as saved: at
worst a page sent twice, never one lost).
"""

from __future__ import annotations

from typing import Iterable, Optional

from .dispatch import Routed
from .replay import Handed, handed_since, unheld_of
from .sink_hooks import SinkHooks


class TakeUp(SinkHooks):
    """Reads back what the last runner handed over since its save (see the module doc)."""

    def _handed_since(self, doc: dict) -> None:
        """What the receipts say was handed over since the restored state ``doc`` was saved
        (:mod:`.replay`): delivered, notified; perhaps delivered, marked when sent again.

        A page whose event reached the groups after the save (a stage entry told, flushed and
        delivered between two ticks' saves) finds no alert in them to mark: the entry outbox
        tells its event again (``resumed``), and it is notified as it joins its group
        (:meth:`~.sink.NotifySink._drain`), not sent a second time. Until then it is kept, and saved (``unheld``):
        a save made before the event is told again is after the receipt the next runner reads."""
        handed = self._receipts_since(doc.get("saved_ms")) or Handed()
        for key, told in handed.unfinished.items():
            self.dispatcher.not_handed(key, told)
        for key, (fps, resolved, at) in handed.delivered.items():
            handed.keep_unheld(key, self.dispatcher.handed_before(key, fps, at, resolved), at)
        for key, (kept, at) in unheld_of(doc.get("unheld")).items():  # kept by the save from an earlier one
            handed.keep_unheld(key, self.dispatcher.handed_before(key, kept, at), at)
        self._maybe_handed = handed

    def _receipts_since(self, saved_ms: Optional[int]) -> Optional[Handed]:
        """The receipts since ``saved_ms`` (:func:`.replay.handed_since`); None if unread."""
        reads = getattr(self._ctx, "store", None)
        if saved_ms is None or reads is None or not hasattr(reads, "audit_rows"):
            return None
        o = self.options  # as long as a delivery can take: every attempt, its time-out and back-off
        window_ms = int(o.attempts * (o.timeout_s + o.backoff_max_s) * 1000)
        try:
            return handed_since(reads, int(saved_ms), int(saved_ms) - window_ms)
        except Exception:  # noqa: BLE001 - unread receipts leave the state as saved: resent, never lost
            return None

    def _handed_again(self, routed: Iterable[Routed]) -> None:
        """An event told again after a stop (``resumed``) joined the groups ``routed``: what a
        page of it delivered before the stop told is notified there (:meth:`_handed_since`)."""
        for r in routed:
            kept = self._maybe_handed.unheld.pop(r.group_key, None)
            if kept is not None:
                fps, at = kept
                self._maybe_handed.keep_unheld(r.group_key, self.dispatcher.handed_before(r.group_key, fps, at), at)
