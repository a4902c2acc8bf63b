"""What delivery made of a notification, told back to the groups that sent it: a failure (taken
back for a retry at the group's next flush, or final), a success, and what the receipts of a
runner that stopped say it handed over, or was handing over, after its last save
(:mod:`.replay`). A mixin of :class:`~.dispatch.Dispatcher`, which owns the groups."""

from __future__ import annotations

from typing import Iterable, Optional

from .alerts import Group


class DeliveryOutcomes:
    groups: dict[str, Group]

    def delivery_failed(self, n_key: str, new: Iterable[str], now: int, retries: int) -> Optional[int]:
        """A notification of group ``n_key`` failed every attempt. When the group still exists and
        has failed fewer than ``retries`` times in a row, its alerts are taken back out of what it
        last notified, so that its next flush sends them again: returns that flush's time. None
        when the failure is final (the sink then pages the fallback receiver)."""
        g = self.groups.get(n_key)
        if g is None or g.failed_rounds >= retries:
            if g is not None:
                g.failed_rounds = 0
            return None
        g.failed_rounds += 1
        if g.last_fps is not None:
            g.last_fps = frozenset(g.last_fps - set(new))
        if g.last_ms is not None:  # a failed reminder is due again at the next flush
            g.last_ms = min(g.last_ms, now - g.route.repeat_interval_ms)
        return g.next_ms

    def undelivered(self, n_key: str, told: Iterable[str]) -> None:
        """A notification of group ``n_key`` telling the alerts ``told`` failed every attempt: its
        receiver has not got them (a retry, a reminder or the fallback's copy aside)."""
        g = self.groups.get(n_key)
        if g is not None:
            g.failed_fps = g.failed_fps | frozenset(told)

    def handed_before(self, n_key: str, told: Iterable[str], at_ms: int, resolved: Iterable[str] = ()
                      ) -> frozenset[str]:
        """A notification of group ``n_key`` telling the alerts ``told`` was delivered after the
        state this dispatcher restored was saved (its receipt says so): they are notified. The
        resolutions it told (``resolved``) are told: no longer notified, so not told again.
        Returns the alerts of ``told`` the group does not hold (all of them when there is no such
        group): their events reached the groups after the save, and are notified when they are
        told again (:meth:`~killswitch.notify.sink.NotifySink.restore_state`)."""
        g = self.groups.get(n_key)
        if g is None:
            return frozenset(told)
        gone = frozenset(resolved) & frozenset(g.alerts)
        if gone and g.last_fps is not None:
            g.last_fps = g.last_fps - gone
        fps = frozenset(told) & frozenset(g.alerts)
        if fps:
            g.last_fps = (g.last_fps or frozenset()) | fps
            g.last_ms = max(g.last_ms or at_ms, at_ms)
            g.failed_fps = g.failed_fps - fps
            g.failed_rounds = 0
        return frozenset(told) - fps

    def not_handed(self, n_key: str, told: Iterable[str]) -> None:
        """A notification of group ``n_key`` telling the alerts ``told`` was being sent when the
        runner that saved this state stopped, and never got a receipt: not known to be notified,
        whatever the save says (it was made after the flush). Sent again at once: it is overdue."""
        g = self.groups.get(n_key)
        if g is not None and g.last_fps is not None and g.last_fps & frozenset(told):
            g.last_fps = g.last_fps - frozenset(told)
            g.next_ms = 0

    def delivery_succeeded(self, n_key: str, told: Iterable[str] = ()) -> None:
        g = self.groups.get(n_key)
        if g is not None:
            g.failed_rounds = 0
            g.failed_fps = g.failed_fps - frozenset(told)
