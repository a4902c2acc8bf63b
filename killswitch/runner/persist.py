"""The runner's writes of its book: the state document saved, the lock file written.

What it owns: saving the book (:meth:`~killswitch.runner.book.Book.save`) under the leadership's
fencing token with what the sinks keep across restarts and takeovers, and writing the lock file
(with the resumed limits in force) from the lock book as it is now — both on the store thread,
in order with the store's other writes, and awaited. The tick, the shortfalls and the operator
commands are handed this object, not the runner: what they may do is save and write the lock.

Must not: decide when to save (the tick's order is :mod:`.loop`'s, an operator change's is its
part's), or catch a fenced write (the caller knows what a refused save undoes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..state.store import StateStore
from .book import Book
from .fanout import SinkFanout
from .leadership import Leadership
from .lock import write_lock_file
from .resuming import Resumptions
from .storeio import StoreIO


class Persistence:
    def __init__(self, book: Book, store: StateStore, io: StoreIO, lead: Leadership, fanout: SinkFanout,
                 resumptions: Resumptions, lock_path: Optional[Path]):
        self.book = book
        self.store = store
        self.io = io
        self.lead = lead
        self.fanout = fanout
        self.resumptions = resumptions
        self.lock_path = lock_path

    async def save(self) -> None:
        """The book's state document and PnL changes, fenced by the leadership's token."""
        await self.book.save(self.io, self.store, self.lead.fence, self.fanout.states)

    async def write_lock(self, now: int) -> None:
        """The lock file, as the lock book is now; written (and fsynced) on the store thread, in
        order with the store's writes, so that a slow disk does not stall the loop."""
        if self.lock_path is not None:
            await self.io(write_lock_file, self.lock_path, self.book.lock_book, now,
                          extra={"resuming": self.resumptions.doc(now)})
