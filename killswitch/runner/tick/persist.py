"""The runner's writes of its book: the state document saved, the lock file written.

What it owns: saving the book (:meth:`~killswitch.runner.book.book.Book.save`) under the leadership's
fencing token with what the sinks keep across restarts and takeovers, and writing the lock file
(with the resumed limits in force) from the lock book as it is now — both on the store thread,
in order with the store's other writes, and awaited; with the audit rows that go with them, as
one call there (a tick's stage entry: the save, its rows and the lock file without a hop back to
the loop between them). The tick, the shortfalls and the operator commands are handed this
object, not the runner: what they may do is save, audit with it and write the lock.

Must not: decide when to save (the tick's order is :mod:`.loop`'s, an operator change's is its
part's), or catch a fenced write (the caller knows what a refused save undoes).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ...state.store import StateStore
from ..book.book import Book
from ..book.resuming import Resumptions
from ..lease.leadership import Leadership
from ..lock.file import write_lock_file
from ..sinks.entries import EntryOutbox
from ..sinks.fanout import SinkFanout
from ..storeio import StoreIO


class Persistence:
    def __init__(self, book: Book, store: StateStore, io: StoreIO, lead: Leadership, fanout: SinkFanout,
                 resumptions: Resumptions, lock_path: Optional[Path], entries: EntryOutbox):
        self.book = book
        self.store = store
        self.io = io
        self.lead = lead
        self.fanout = fanout
        self.resumptions = resumptions
        self.lock_path = lock_path
        self.entries = entries

    async def save(self, rows: Sequence[tuple[str, int, dict]] = (), lock_at: Optional[int] = None) -> None:
        """The book's state document and PnL changes, fenced by the leadership's token; then, in
        the same call on the store thread, ``rows`` audited (one append, fenced as
        :meth:`Leadership.audit`) and, at ``lock_at``, the lock file written. In that order, as
        three awaited calls would make them, the first to fail stopping the rest. The stage
        transitions whose effects the sinks now hold are let go in the same document that
        saves the sinks' state (see :mod:`..sinks.entries`)."""
        self.entries.settle()
        await self.book.save(self.io, self.store, self.lead.fence, self.fanout.states, self._then(rows, lock_at))

    async def record(self, rows: Sequence[tuple[str, int, dict]], lock_at: Optional[int]) -> None:
        """``rows`` audited and the lock file written, as :meth:`save` does them, without a save.
        The lock file is written as the lock book is now, and fsynced, on the store thread: in
        order with the store's writes, and a slow disk does not stall the loop."""
        then = self._then(rows, lock_at)
        if then:
            await self.io.in_order(*then)

    def _then(self, rows: Sequence[tuple[str, int, dict]], lock_at: Optional[int]) -> list[Callable[[], Any]]:
        calls = [self.lead.audit_call(rows)] if rows else []
        if lock_at is not None and self.lock_path is not None:
            calls.append(partial(write_lock_file, self.lock_path, self.book.lock_book, lock_at,
                                 extra={"resuming": self.resumptions.doc(lock_at)}))
        return calls
