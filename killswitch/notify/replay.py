"""What the notification sink handed over since its state was last saved, read back from the
receipts when a runner takes up that state (a restart, a takeover).

The sink's groups are saved with the runner's state every tick, but a page is flushed and
delivered between two ticks: a runner that stopped (or died) after the delivery and before the
next save would restore groups that say the page is still to be sent. The receipts are written
at delivery, each in its own fenced write, so they say what the saved state does not:

- a ``notification_delivered`` row written since the save (a page, or the fallback receiver's
  copy of a failed one) marks the alerts it told as notified in the restored group: not sent
  again; the resolutions it told (``resolved_alerts``) as told: not sent again either;
- a ``notification_sending`` row (written before a page's first attempt) with no receipt after
  it is a page that may have reached its receiver just before the process died (the receiver's
  answer and the receipt's write are the one window no design closes without the receiver's
  help): sent again, marked as a possible repeat, with the same dedup key.

What it owns: reading those rows (:func:`handed_since`). Must not: write, or raise (a store that
cannot be read leaves the state as saved: at worst a page sent twice, never one lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

SENDING = "notification_sending"
DELIVERED = "notification_delivered"
FAILED = "notification_failed"
PAGE = 2_000  # rows read at a time


@dataclass
class Handed:
    """What the receipts since a save say: the alerts delivered per group, and the pages that
    may have been delivered (by dedup key and by alert: when they were handed over)."""

    # group key -> (fps told firing, fps whose resolution was told, last ms), in the receipts' order:
    # a resolution told after a page takes its alert out of the told; a page after it puts it back
    delivered: dict[str, tuple[set[str], set[str], int]] = field(default_factory=dict)
    maybe_keys: dict[str, int] = field(default_factory=dict)  # dedup key -> ms of its sending
    maybe_fps: dict[str, int] = field(default_factory=dict)  # fingerprint -> ms of its sending

    def maybe_sent(self, dedup_key: str, fps) -> Optional[int]:
        """When the page with ``dedup_key`` telling ``fps`` may have reached its receiver, or None."""
        if dedup_key in self.maybe_keys:
            return self.maybe_keys[dedup_key]
        return min((self.maybe_fps[f] for f in fps if f in self.maybe_fps), default=None)


    def forget(self, dedup_key: str, fps) -> None:
        self.maybe_keys.pop(dedup_key, None)
        for f in fps:
            self.maybe_fps.pop(f, None)


def handed_since(store: Any, since_ms: int) -> Handed:
    """The pages handed over since ``since_ms`` (the sink's state's save), from the receipts."""
    out = Handed()
    open_: dict[tuple, tuple[int, list[str]]] = {}  # (routes, receiver, dedup) -> (ms, fps)
    after = 0
    while True:
        rows = store.audit_rows(since_ms, [SENDING, DELIVERED, FAILED], PAGE, after_seq=after)
        for r in rows:
            p = r.payload
            key = (p.get("routes"), p.get("receiver"), p.get("dedup_key"))
            fps = [str(f) for f in p.get("alerts") or ()]
            if r.kind == SENDING:
                open_[key] = (r.ts_ms, fps)
                continue
            open_.pop(key, None)
            if r.kind == DELIVERED and p.get("group_key"):
                told, resolved, _ = out.delivered.get(p["group_key"], (set(), set(), 0))
                gone = {str(f) for f in p.get("resolved_alerts") or ()}
                out.delivered[p["group_key"]] = ((told | set(fps)) - gone, (resolved - set(fps)) | gone, r.ts_ms)
        if len(rows) < PAGE:
            break
        after = rows[-1].seq
    for (_, _, dedup), (ms, fps) in open_.items():
        if dedup:
            out.maybe_keys[dedup] = ms
        for f in fps:
            out.maybe_fps[f] = min(ms, out.maybe_fps.get(f, ms))
    return out
