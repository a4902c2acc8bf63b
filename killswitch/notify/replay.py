"""What the notification sink handed over since its state was last saved, read back from the
receipts when a runner takes up that state (a restart, a takeover).

The sink's groups are saved with the runner's state every tick, but a page is flushed and
delivered between two ticks: a runner that stopped (or died) after the delivery and before the
next save would restore groups that say the page is still to be sent. The receipts are written
at delivery, each in its own fenced write, so they say what the saved state does not:

- a ``notification_delivered`` row written since the save (a page, or the fallback receiver's
  copy of a failed one) marks the alerts it told as notified in the restored group: not sent
  again; the resolutions it told (``resolved_alerts``) as told: not sent again either;
- a ``notification_sending`` row (written before each attempt: a retry in flight is as unknown
  as a first) with no receipt after it is a page that may have reached its receiver just before
  the process died (the receiver's answer and the receipt's write are the one window no design
  closes without the receiver's help): sent again, marked as a possible repeat, with the same dedup key;
- a ``notification_delivered`` row whose alerts the restored group does not hold (the event
  reached the groups after the save: a stage entry paged at once, between two ticks' saves) is
  :attr:`Handed.unheld`: the runner carrying on tells that event again (``resumed``, the entry
  outbox), and it is notified as it joins its group, not sent a second time; kept in the saved
  state until then (:meth:`Handed.unheld_doc`), as a save before it is after the receipt.

What it owns: reading those rows (:func:`handed_since`). Must not: write, or raise (a store that
cannot be read leaves the state as saved: at worst a page sent twice, never one lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..events import every_audit_row

SENDING = "notification_sending"
DELIVERED = "notification_delivered"
FAILED = "notification_failed"
PAGE = 2_000  # rows read at a time
UNHELD_KEPT_MS = 24 * 3_600_000  # how long a saved state remembers a delivery its groups never took up


@dataclass
class Handed:
    """What the receipts since a save say: the alerts delivered per group, and the pages that
    may have been delivered (by dedup key and by alert: when they were handed over)."""

    # group key -> (fps told firing, fps whose resolution was told, last ms), in the receipts' order:
    # a resolution told after a page takes its alert out of the told; a page after it puts it back
    delivered: dict[str, tuple[set[str], set[str], int]] = field(default_factory=dict)
    maybe_keys: dict[str, int] = field(default_factory=dict)  # dedup key -> ms of its sending
    maybe_fps: dict[str, int] = field(default_factory=dict)  # fingerprint -> ms of its sending
    # group key -> the alerts of a page to its own receiver that was being sent when the runner
    # stopped (no receipt after its ``notification_sending``, or a ``cancelled`` one): not known
    # to have been delivered, whatever a save during its sending says
    unfinished: dict[str, set[str]] = field(default_factory=dict)
    # group key -> (alerts a page delivered since the save told that the restored group does not
    # hold, ms of the last such delivery): their events reached the groups after the save, and a
    # runner carrying on tells them again (``resumed``): notified then, not sent a second time
    unheld: dict[str, tuple[frozenset[str], int]] = field(default_factory=dict)

    def maybe_sent(self, dedup_key: str, fps) -> Optional[int]:
        """When the page with ``dedup_key`` telling ``fps`` may have reached its receiver, or None."""
        if dedup_key in self.maybe_keys:
            return self.maybe_keys[dedup_key]
        return min((self.maybe_fps[f] for f in fps if f in self.maybe_fps), default=None)


    def forget(self, dedup_key: str, fps) -> None:
        self.maybe_keys.pop(dedup_key, None)
        for f in fps:
            self.maybe_fps.pop(f, None)

    def keep_unheld(self, group_key: str, fps, at_ms: int) -> None:
        """``fps`` of ``group_key`` delivered at ``at_ms`` and not held by the group yet."""
        if fps:
            had, at = self.unheld.get(group_key, (frozenset(), at_ms))
            self.unheld[group_key] = (had | frozenset(fps), max(at, at_ms))

    def unheld_doc(self, now_ms: int) -> dict:
        """:attr:`unheld` as the sink's saved state keeps it (a save made before the events are
        told again must not forget them: the next runner reads only the receipts after it), but
        for a day at most."""
        return {key: {"alerts": sorted(fps), "at_ms": at} for key, (fps, at) in sorted(self.unheld.items())
                if at >= now_ms - UNHELD_KEPT_MS}


def unheld_of(doc: Any) -> dict[str, tuple[frozenset[str], int]]:
    """:meth:`Handed.unheld_doc`'s ``doc`` read back (nothing from a state saved without it)."""
    if not isinstance(doc, dict):
        return {}
    return {str(key): (frozenset(str(f) for f in v.get("alerts") or ()), int(v.get("at_ms") or 0))
            for key, v in doc.items() if isinstance(v, dict)}


def handed_since(store: Any, since_ms: int, open_from_ms: Optional[int] = None) -> Handed:
    """The pages handed over since ``since_ms`` (the sink's state's save), from the receipts.
    Pages whose sending began from ``open_from_ms`` (before the save, by as long as a delivery
    can take) and never ended are :attr:`Handed.unfinished`: a save made while one was in flight
    says its alerts notified. A receipt before the save only ends a sending: what it delivered,
    the saved state knows (and may know newer: the same alert paged again since)."""
    out = Handed()
    # (routes, receiver, dedup) -> (ms, fps, group key of a page to its own receiver)
    open_: dict[tuple, tuple[int, list[str], Optional[str]]] = {}
    start = since_ms if open_from_ms is None else min(since_ms, open_from_ms)
    for r in every_audit_row(store, start, [SENDING, DELIVERED, FAILED], PAGE):
        p = r.payload
        key = (p.get("routes"), p.get("receiver"), p.get("dedup_key"))
        fps = [str(f) for f in p.get("alerts") or ()]
        if r.kind == SENDING:
            open_[key] = (r.ts_ms, fps, None if p.get("fallback_for") else p.get("group_key"))
            continue
        if r.kind == FAILED and p.get("result") == "cancelled" and key in open_:
            continue  # cut off at a stop while its attempt was under way: it may have arrived
        open_.pop(key, None)
        if r.ts_ms < since_ms:
            continue
        if r.kind == DELIVERED and p.get("group_key"):
            told, resolved, _ = out.delivered.get(p["group_key"], (set(), set(), 0))
            gone = {str(f) for f in p.get("resolved_alerts") or ()}
            out.delivered[p["group_key"]] = ((told | set(fps)) - gone, (resolved - set(fps)) | gone, r.ts_ms)
    for (_, _, dedup), (ms, fps, group) in open_.items():
        if group:
            out.unfinished.setdefault(group, set()).update(fps)
        if dedup:
            out.maybe_keys[dedup] = ms
        for f in fps:
            out.maybe_fps[f] = min(ms, out.maybe_fps.get(f, ms))
    return out
