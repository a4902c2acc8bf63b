"""One account's position mode as its venue reads it: what a close is built for.

What it owns
    * the venue's answer (:class:`~.dialects.base.ModeRead`: hedge or one-way, its margin mode
      where the venue says it), read at the first REST snapshot, again every
      ``dialect.mode_every_s`` and after a refusal for the mode (:meth:`AccountMode.distrust`);
      or, where the venue has no read of its own, what the positions say (Bybit's
      ``positionIdx``) at every REST snapshot, free;
    * the leg form of a close (:meth:`AccountMode.hedge_for`): the venue's mode where it was read;
      where it was not, the leg the position itself carries (``position_side`` LONG / SHORT from
      the venue's own rows) — never the Accounts document's ``hedge_mode``, which is an
      expectation only (:meth:`AccountMode.value` sets them side by side);
    * a failed read said, not assumed: ``POSITION_MODE_UNREAD`` with its reason code.

What it must not do
    raise from a read (a snapshot never fails for the mode: the positions' legs still build the
    closes), tell venues apart (the dialect reads), or send anything.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

from ..base import AdapterError, PositionMode
from .dialects.base import Dialect, ModeRead, Reads, unread
from .streaming.stream import now_ms

log = logging.getLogger(__package__)


class AccountMode:
    """See the module doc. ``declared`` is the Accounts document's ``hedge_mode``."""

    def __init__(self, dialect: Dialect, declared: bool, *, venue: str, account: str,
                 monotonic: Callable[[], float] = time.monotonic, wall_ms: Callable[[], int] = now_ms):
        self.dialect = dialect
        self.declared = bool(declared)
        self.where = f"{venue}/{account}"
        self._monotonic = monotonic
        self._wall_ms = wall_ms
        self.read: ModeRead = unread("not read yet (read at the first snapshot)")
        self.read_ms: Optional[int] = None
        self._read_at: Optional[float] = None  # monotonic time of the last read asked of the venue
        self._distrusted = False

    # --- when to read ----------------------------------------------------------------------------

    def due(self) -> bool:
        """Whether the next REST snapshot reads the mode: never read, ``mode_every_s`` old, or
        distrusted since (a refusal for the mode)."""
        at = self._read_at
        return self._distrusted or at is None or self._monotonic() - at >= self.dialect.mode_every_s

    def distrust(self) -> None:
        """The venue refused an order for its position mode: read it again before the next close."""
        self._distrusted = True

    # --- reads ------------------------------------------------------------------------------------

    async def read_now(self, reads: Reads) -> ModeRead:
        """Read the mode from the venue (the dialect's read); a failure is recorded and said
        (``POSITION_MODE_UNREAD: <reason code>: <message>``), never raised."""
        self._read_at = self._monotonic()
        self._distrusted = False
        try:
            got = await self.dialect.read_position_mode(reads)
        except AdapterError as e:
            got = unread(f"{e.reason.value}: {e.message}")
        except Exception as e:  # noqa: BLE001 — a mode read never fails the snapshot it rides with
            got = unread(f"UNKNOWN: {type(e).__name__}")
        self._take(got)
        return got

    def from_positions(self, raw_positions: Any, margin_modes: dict) -> None:
        """What a REST snapshot's positions say: the mode where the dialect reads it from them
        (Bybit), and the margin mode of the positions where the venue's read says none."""
        got = self.dialect.mode_from_positions(raw_positions)
        if got is not None:
            self._read_at = self._monotonic()
            self._distrusted = False
            self._take(got)
        if self.read.margin is None and margin_modes and self.read.hedge is not None:
            modes = sorted(set(margin_modes.values()))
            self.read = ModeRead(self.read.hedge, self.read.source, " and ".join(modes) + " (positions)",
                                 self.read.error)

    def _take(self, got: ModeRead) -> None:
        if got.hedge is None and self.read.hedge is not None and got.error and "no position row" in got.error:
            return  # a flat book says nothing: the mode its positions said last still holds
        before = self.read.hedge
        self.read = got
        self.read_ms = self._wall_ms()
        if got.hedge is None:
            log.debug("%s: %s", self.where, got.error)
        elif before is not None and before != got.hedge:
            log.info("%s: the venue's position mode is now %s", self.where, "hedge" if got.hedge else "one-way")

    # --- what a close is built for ------------------------------------------------------------------

    @property
    def hedge(self) -> Optional[bool]:
        """The venue's mode as last read (None: not read)."""
        return self.read.hedge

    def hedge_for(self, position_side: Optional[str]) -> bool:
        """Whether a close of a position carrying ``position_side`` is sent as a hedge leg: the
        venue's mode where it was read, else the position's own leg (LONG / SHORT: hedge)."""
        if self.read.hedge is not None:
            return self.read.hedge
        return (position_side or "").upper() in ("LONG", "SHORT")

    def value(self) -> PositionMode:
        """The mode read beside the declaration (:class:`adapters.base.PositionMode`)."""
        r = self.read
        return PositionMode(self.declared, r.hedge, r.source, self.read_ms, r.error, r.margin)


__all__ = ["AccountMode"]
