"""What a part that keeps a fact of the book is built with: :class:`Keeper`, the base of the
shortfalls (:mod:`killswitch.runner.venue.shortfalls`), the orders still open
(:mod:`killswitch.runner.venue.left_open`), the revokes owed (:mod:`killswitch.runner.effects.revokes`)
and the dead man's switch's countdowns (:mod:`killswitch.runner.effects.countdowns`).

Must not: do anything of its own (each part owns what it keeps).
"""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from ...state.store import StateStore
from ..collaborators import Audits, Saves
from ..storeio import StoreIO
from .book import Book

L = TypeVar("L", bound=Audits)


class Keeper(Generic[L]):
    """The book; the store, read and written off the loop through ``io``; the ``lead`` its audit
    rows are written under (a part that calls a venue also asks it for the fence); the book's
    writer (``persist``); the clock; and whether the runner is a dry run."""

    def __init__(self, book: Book, store: StateStore, io: StoreIO, *, lead: L, persist: Saves,
                 clock: Callable[[], int], dry_run: bool):
        self.book = book
        self.store = store
        self.io = io
        self.lead = lead
        self.persist = persist
        self.clock = clock
        self.dry_run = dry_run
