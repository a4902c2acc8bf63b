"""What crosses between a reader process and the process that decides: frames, snapshots as
deltas, and errors.

What it owns
    * frames: a 4-byte length and a pickle (protocol 5) of a tuple whose first item names the
      message (:func:`pack`, :func:`read_frame`); both ends are this package's, and the socket
      is a pair one process made for the other (nothing else can write to it);
    * a snapshot as the decider's mirror needs it (:class:`SnapshotSender`,
      :class:`SnapshotMirror`): its small fields every time; its balances, orders, markets and
      books only when they changed since the last one sent; its positions as columns (every
      field of :class:`~killswitch.snapshot.Position` a list), whole when the account's
      positions are other ones, as the rows that changed when the same positions moved, and not
      at all when they did not. The decider makes each position's model only when it is read
      (:class:`~killswitch.snapshot.PositionsOnReading`): a tick reads the columns. Each one sent
      names the one it is a change of (``base``): a mirror that does not hold that one asks for
      a whole one (a gap: the reader was restarted, a message was lost) and never applies a
      change to the wrong base;
    * an adapter's errors as values (:func:`error_of`, :func:`raise_error`): the venue's reason
      code, message and refusal arrive as the adapter raised them.

What it must not do
    hold a secret (what crosses is what the adapter already hands the runner, scrubbed), or
    apply a change to a snapshot other than the one it was made from.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from typing import Any, Optional

from killswitch.snapshot import COLUMNS, Position, PositionColumns, PositionsOnReading, Snapshot

from ..base import AdapterError, Reason, SendWithheld, VenueRefusal

HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30  # a frame this long is a broken link, not a snapshot

FIELDS = tuple(Position.model_fields)  # a position's every field, in declaration order
SAME = "="  # a part of a snapshot unchanged since the one sent before
# the parts of a snapshot sent only when they changed (compared in the reader, never the decider)
_PARTS = ("balances", "orders", "markets", "books")


def pack(message: tuple) -> bytes:
    body = pickle.dumps(message, protocol=5)
    return HEADER.pack(len(body)) + body


class Outbox:
    """The frames of one turn of the loop written together, after it: one system call for all
    of them (a reader's wakes, pushes and answers of a turn; the decider's calls of a tick). A
    frame that cannot be packed raises at :meth:`put`, and nothing of it is written."""

    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer
        self._frames: list[bytes] = []
        self._due = False

    def put(self, message: tuple) -> None:
        self._frames.append(pack(message))
        if not self._due:
            self._due = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._due = False
        if self._frames and not self.writer.is_closing():
            self.writer.write(b"".join(self._frames))
        self._frames.clear()


async def read_frame(reader: asyncio.StreamReader) -> Optional[tuple]:
    """The next message, or None at the end of the link."""
    try:
        head = await reader.readexactly(HEADER.size)
        (n,) = HEADER.unpack(head)
        if n > MAX_FRAME:
            raise ValueError(f"a frame of {n} bytes")
        return pickle.loads(await reader.readexactly(n))
    except (asyncio.IncompleteReadError, ConnectionError):  # the other end ended (a SIGKILL resets the link)
        return None


# --- errors ------------------------------------------------------------------------------------------


def error_of(e: BaseException) -> tuple:
    """``e`` as a value that crosses the link."""
    if isinstance(e, AdapterError):
        refusal = e.refusal
        return ("adapter", e.reason.value, e.message, e.venue, e.retry_after_s,
                None if refusal is None else (refusal.code, refusal.message, refusal.reason, refusal.kind))
    if isinstance(e, SendWithheld):
        return ("withheld", str(e).partition(":")[0], e.venue)
    if isinstance(e, (TimeoutError, asyncio.TimeoutError)):
        return ("timeout",)
    return ("other", type(e).__name__)


def raise_error(value: tuple, venue: str = "") -> None:
    """Raise what :func:`error_of` made of an error in the reader."""
    kind = value[0]
    if kind == "adapter":
        _, reason, message, where, retry, refusal = value
        raise AdapterError(Reason(reason), message, venue=where, retry_after_s=retry,
                           refusal=None if refusal is None else VenueRefusal(*refusal))
    if kind == "withheld":
        raise SendWithheld(value[1], venue=value[2])
    if kind == "timeout":
        raise TimeoutError()
    raise AdapterError(Reason.UNKNOWN, f"the reader process failed: {value[1]}", venue=venue)


# --- snapshots ---------------------------------------------------------------------------------------


def _table(snap: Snapshot) -> tuple[list[Any], ...]:
    """Every field of the snapshot's positions as a list, in :data:`FIELDS`'s order: the
    columns the adapter took out where it did, the other fields read off the models."""
    positions = snap.positions
    cols = getattr(positions, "columns", None)
    if cols is not None and len(cols) != len(positions):
        cols = None
    models: Optional[list[Position]] = None
    out = []
    for f in FIELDS:
        if cols is not None and f in COLUMNS:
            out.append(cols.column(f))
            continue
        if models is None:
            models = list(positions)  # (positions made on reading are made here, in the reader)
        out.append([getattr(p, f) for p in models])
    return tuple(out)


def _identity(positions: Any) -> Any:
    """What stays the same object while an adapter's positions did not move: their columns
    (shared by the snapshots of a stream that did not move), else the list itself."""
    cols = getattr(positions, "columns", None)
    return cols if cols is not None else positions


class SnapshotSender:
    """The reader's side: the last snapshot sent of each account, and what the next one changes."""

    def __init__(self) -> None:
        self._sent: dict[str, tuple[int, Snapshot, Any, tuple[list[Any], ...]]] = {}
        self._n = 0

    def forget(self, key: str) -> None:
        self._sent.pop(key, None)

    def held(self, key: str) -> Optional[int]:
        """The number of the last snapshot of ``key`` sent (what the decider holds once it has
        read the frames sent before): a snapshot pushed unasked is a change of it."""
        last = self._sent.get(key)
        return None if last is None else last[0]

    def encode(self, key: str, snap: Snapshot, base: Optional[int]) -> tuple:
        """(this one's number, the number of the one it changes or None: whole, its small fields,
        its parts (each :data:`SAME` or the value), its positions: ``("same",)``, ``("rows",
        {index: row})`` or ``("all", table)``). ``base``: the one the decider holds (None: none)."""
        self._n += 1
        last = self._sent.get(key)
        if last is not None and last[0] != base:
            last = None  # the decider holds another one: a whole one
        small = {k: v for k, v in snap.__dict__.items() if k not in _PARTS and k != "positions"}
        parts = {}
        for name in _PARTS:
            value = getattr(snap, name)
            parts[name] = SAME if last is not None and (value is getattr(last[1], name)
                                                         or value == getattr(last[1], name)) else value
        positions = snap.positions
        identity = _identity(positions)
        if last is not None and identity is last[2]:
            shipped: tuple = ("same",)
            table = last[3]
        else:
            table = _table(snap)
            shipped = ("all", table)
            if last is not None and len(table[0]) == len(last[3][0]) and table[0] == last[3][0]:
                changed = _changed_rows(table, last[3])
                if changed is not None:
                    shipped = ("rows", {i: tuple(col[i] for col in table) for i in changed}) if changed \
                        else ("same",)
        self._sent[key] = (self._n, snap, identity, table)
        return (self._n, None if last is None else last[0], small, parts, shipped)


def _changed_rows(table: tuple[list[Any], ...], old: tuple[list[Any], ...]) -> Optional[list[int]]:
    """The rows of ``table`` that differ from ``old``'s (as long, the same symbols), found column
    by column (a column that did not move is one list comparison); None when half of them or
    more moved (the table is then sent whole)."""
    n = len(table[0])
    changed: set[int] = set()
    for col, was in zip(table, old):
        if col is was or col == was:
            continue
        changed.update(i for i, (a, b) in enumerate(zip(col, was)) if a != b)
        if len(changed) * 2 >= n:
            return None
    return sorted(changed)


def _columns(table: tuple[list[Any], ...]) -> PositionColumns:
    return PositionColumns.of_columns(**{COLUMNS[f]: table[i] for i, f in enumerate(FIELDS) if f in COLUMNS})


class SnapshotMirror:
    """The decider's side: the last snapshot received of an account, and the next one made of
    it and a change. :meth:`apply` raises :class:`Gap` for a change of a snapshot it does not hold."""

    def __init__(self) -> None:
        self.number: Optional[int] = None
        self._snap: Optional[Snapshot] = None
        self._table: tuple[list[Any], ...] = ()
        self._positions: Optional[PositionsOnReading] = None

    def forget(self) -> None:
        self.number, self._snap, self._table, self._positions = None, None, (), None

    def apply(self, encoded: tuple) -> Snapshot:
        number, base, small, parts, shipped = encoded
        last = self._snap
        if base is not None and (last is None or base != self.number):
            self.forget()
            raise Gap(f"a change of snapshot {base}, the mirror holds {self.number}")
        values = dict(small)
        for name, value in parts.items():
            if isinstance(value, str) and value == SAME:
                assert last is not None
                value = getattr(last, name)
            values[name] = value
        kind = shipped[0]
        if kind == "same" and self._positions is not None:
            positions = self._positions.sharing()
        else:
            if kind == "rows":
                table = tuple(list(col) for col in self._table)
                for i, row in shipped[1].items():
                    for col, v in zip(table, row):
                        col[i] = v
            elif kind == "all":
                table = shipped[1]
            else:
                table = self._table
            self._table = table
            positions = PositionsOnReading(_columns(table), _maker(table))
        self._positions = positions
        snap = Snapshot.model_construct(**values, positions=positions)  # type: ignore[arg-type]  # a sequence, as with_positions hands it
        self.number, self._snap = number, snap
        return snap


def _maker(table: tuple[list[Any], ...]):
    def make(i: int) -> Position:
        return Position.model_construct(**{f: table[n][i] for n, f in enumerate(FIELDS)})

    return make


class Gap(Exception):
    """A snapshot's change arrived for one the mirror does not hold: a whole one is asked for."""


__all__ = ["Gap", "Outbox", "SAME", "SnapshotMirror", "SnapshotSender", "error_of", "pack", "raise_error", "read_frame"]
