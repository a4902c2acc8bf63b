"""The accounts' position modes as their venues read them, beside the Accounts document's.

What it owns: per account ("venue/account") whose adapter reads its mode (``position_mode()``, a
:class:`adapters.base.PositionMode`, not None), the latest read, taken at every tick after the snapshots;
and how a mode that is not the declared one is made loud, once per change, never once a tick:

- the log: ``POSITION_MODE_MISMATCH: binanceusdm/main: declared one-way, the venue reads hedge
  (…); closes are sent as the venue's mode`` (WARNING, at start and whenever it starts), an INFO
  when it matches again; ``POSITION_MODE_UNREAD`` (WARNING) when a read fails, said once;
- a page: a ``position_mode_mismatch`` event when a mismatch starts, ``position_mode_matched``
  when it ends;
- the status's ``position_modes`` (each account's mode read, declared, its source, margin mode,
  ``mismatch`` with its reason code, or why it is unread) and ``/metrics``'
  ``killswitch_position_mode_mismatch{venue,account}`` (1 while the venue reads another mode) and
  ``killswitch_position_mode_unread{venue,account}``.

The venue's mode rules how closes are sent (the adapter builds them for it,
:mod:`adapters.ccxt_exchange.modes`); this part only reads and tells.

Must not: change an adapter or its mode, or send anything.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Optional

from adapters.base import PositionMode

from ...events import POSITION_MODE_MATCHED, POSITION_MODE_MISMATCH, Event
from ...metrics import Registry
from .port import VenuePort

log = logging.getLogger("killswitch.runner.modes")


def _name(hedge: Optional[bool]) -> str:
    return "unread" if hedge is None else "hedge" if hedge else "one-way"


class ModeWatch:
    """See the module doc. Read on the runner's loop: at start (:meth:`announce`), after every
    leader tick's snapshots (:meth:`observe`), and by the views."""

    def __init__(self, venues: Mapping[str, VenuePort], clock: Callable[[], int]):
        self.venues = venues
        self.clock = clock
        self.modes: dict[str, Any] = {}  # account → its latest PositionMode
        self._mismatched: set[str] = set()  # accounts whose mismatch was said (until it ends)
        self._unread_said: set[str] = set()

    def _read(self) -> dict[str, PositionMode]:
        """Each account's mode as its venue read it last (an account whose venue reads none left out)."""
        out = {}
        for key, port in sorted(self.venues.items()):
            try:
                mode = port.position_mode()
            except Exception as e:  # noqa: BLE001 — a view of an adapter never fails the tick
                log.debug("%s: position_mode(): %s", key, type(e).__name__)
                continue
            if mode is not None:
                out[key] = mode
        return out

    def announce(self) -> None:
        """At start: each account's mode as declared (the venue reads it at the first snapshot)."""
        for key in self._read():
            log.info("POSITION_MODE: %s: the venue's mode is read at the first snapshot; closes are built for what "
                     "it reads, the Accounts document's hedge_mode is checked against it", key)

    def observe(self, now_ms: int) -> list[Event]:
        """A tick: every account's mode read; the log line and the event of a change."""
        events: list[Event] = []
        for key, mode in self._read().items():
            self.modes[key] = mode
            venue, _, account = key.partition("/")
            why = mode.mismatch_reason()
            if why is not None and key not in self._mismatched:
                self._mismatched.add(key)
                code, _, rest = why.partition(": ")
                log.warning("%s: %s: %s; closes are sent as the venue's mode (said once; POSITION_MODE_MATCHED "
                            "when the declaration agrees again)", code, key, rest)
                events.append(Event.make(POSITION_MODE_MISMATCH, now_ms, self._data(mode, why),
                                         venue=venue, account=key, reason="POSITION_MODE_MISMATCH"))
            elif why is None and key in self._mismatched and mode.hedge is not None:
                self._mismatched.discard(key)
                log.info("POSITION_MODE_MATCHED: %s: the venue reads %s, as declared", key, _name(mode.hedge))
                events.append(Event.make(POSITION_MODE_MATCHED, now_ms, self._data(mode, None),
                                         venue=venue, account=key, reason="POSITION_MODE_MATCHED"))
            if mode.hedge is None and mode.error and key not in self._unread_said:
                self._unread_said.add(key)
                log.warning("%s: %s; closes follow the positions' own legs, never the declared mode (said once)",
                            key, mode.error)
            elif mode.hedge is not None:
                self._unread_said.discard(key)
        return events

    @staticmethod
    def _data(mode: Any, why: Optional[str]) -> dict:
        return {"declared": _name(mode.declared_hedge), "read": _name(mode.hedge), "source": mode.source,
                "margin": mode.margin, "detail": why or f"the venue reads {_name(mode.hedge)}, as declared"}

    def status(self) -> dict:
        """``position_modes`` of the status, per account."""
        return {key: {"read": _name(m.hedge), "declared": _name(m.declared_hedge), "source": m.source or None,
                      "margin": m.margin, "read_ms": m.read_ms, "mismatch": m.mismatch,
                      "reason": m.mismatch_reason() or (m.error if m.hedge is None else None)}
                for key, m in sorted(self.modes.items())}

    def collect_metrics(self, registry: Registry) -> None:
        mismatch = registry.sampled("killswitch_position_mode_mismatch", "gauge",
                                    "1 while an account's venue reads another position mode than the Accounts "
                                    "document declares (closes are sent as the venue's mode).", ("venue", "account"))
        unread = registry.sampled("killswitch_position_mode_unread", "gauge",
                                  "1 while an account's position mode could not be read from its venue (closes "
                                  "follow the positions' own legs).", ("venue", "account"))
        for key, m in sorted(self.modes.items()):
            venue, _, account = key.partition("/")
            mismatch.add(int(m.mismatch), venue=venue, account=account)
            unread.add(int(m.hedge is None), venue=venue, account=account)


__all__ = ["ModeWatch"]
