"""How the runner's book is stored and read back: the state document and the PnL history.

What it owns: :class:`Stored`, the base of :class:`~.book.Book` that loads what the last leader
saved (a start, a takeover, a stale write: ``reload``), follows it as a standby (``follow``),
reads the silences and acknowledgements again (``reload_notes``) and saves the state document
with the PnL history's changes (``save``). The fields are the book's (declared there); this is
the one place besides the book's own methods that assigns them, and only from what the store
holds (tests/unit/runner/test_one_writer.py counts both as the book's own).

Must not: decide anything, or call the store on the loop but through the runner's
:class:`~killswitch.runner.storeio.StoreIO`.
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from ...engine.state import PnlMarks, State, pnl_changes, pnl_marks
from ...silences import Acknowledgement, Silence, holders
from ...state.store import PnlSampleRow, StateStore
from ..lock.lock import LockBook
from ..storeio import StoreIO
from .dms_state import DeadMansSwitch
from .residuals import ResidualBook
from .revoke_state import RevokeBook
from .still_open import StillOpenBook

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ...compile.graph import DecisionGraph
    from .rejections import CloseRejections

STATE_DOC_VERSION = 1
NOTES_LIMIT = 1000  # silences and acknowledgements held in memory: the latest


class Stored:
    """See the module doc. The fields it reads and assigns are the book's dataclass fields."""

    if TYPE_CHECKING:  # the book's fields, as :class:`~.book.Book` declares them
        graph: DecisionGraph
        state: State
        _lock_book: LockBook
        dms: DeadMansSwitch
        resume_starts: dict[str, int]
        residuals: ResidualBook
        still_open: StillOpenBook
        rejections: CloseRejections
        saved_pnl: PnlMarks
        pnl_complete: bool
        loaded: Optional[dict]
        followed: Optional[dict]
        _keys_text: dict[tuple[int, str], tuple[tuple, str]]
        silences: tuple[Silence, ...]
        acks: dict[str, tuple[Acknowledgement, ...]]
        notes_mark: int
        owed: dict[str, dict]
        revokes: RevokeBook
        baselines: dict[str, Any]
        stored_applied: tuple[str, ...]
        lock_changed: Callable[[], None]

        @property
        def lock_book(self) -> LockBook: ...

    def _keys_json(self, window_ms: int, account: str, keys: tuple) -> str:
        known = self._keys_text.get((window_ms, account))
        if known is None or known[0] is not keys:
            known = self._keys_text[(window_ms, account)] = (keys, _encoded_keys(keys))
        return known[1]

    # --- loading -------------------------------------------------------------------------------------

    async def reload(self, io: StoreIO, store: StateStore) -> None:
        """Replace what is known by what the store holds now (a takeover, a stale write)."""
        self.take_stored(*await io(store.load_engine_state_and_pnl))
        await self.reload_notes(io, store)

    async def reload_notes(self, io: StoreIO, store: StateStore) -> None:
        """The silences and acknowledgements as stored now."""
        self._take_notes(await io(store.silences, limit=NOTES_LIMIT), await io(store.acks, limit=NOTES_LIMIT))

    def _take_notes(self, silences: Sequence[Silence], acks: Sequence[Acknowledgement]) -> None:
        self.silences = tuple(silences)
        by_incident: dict[str, list[Acknowledgement]] = {}
        for a in acks:  # in the order made
            by_incident.setdefault(a.incident, []).append(a)
        self.acks = {i: holders(xs) for i, xs in by_incident.items()}
        marks = [s.updated_ms for s in silences] + [a.ts_ms for a in acks]
        self.notes_mark = max([self.notes_mark, *marks])
        if self.loaded:
            self.notes_mark = max(self.notes_mark, int(self.loaded.get("notes_mark") or 0))

    def take_stored(self, doc: Optional[dict], rows: Sequence[PnlSampleRow], tell: bool = True) -> None:
        """What the store holds (``doc`` and its PnL rows) in place of what is known; ``tell``:
        whether the pre-trade gate hears of a changed lock book (not before anything is published)."""
        self.loaded = doc
        self._apply(doc, rows, tell)
        self.saved_pnl = _row_marks(rows)
        self.pnl_complete = True

    def _apply(self, doc: Optional[dict], rows: Sequence[PnlSampleRow] = (), tell: bool = True) -> None:
        """``doc`` in place of what is known, with what closes and cancels left open and the
        closes the venues refused, as the leader that saved it saw them. A document from before
        the dead man's switch and the resumptions were persisted has neither: both start empty."""
        before = (self._lock_book, self.resume_starts)
        if not doc:
            self.state, self._lock_book, self.dms, self.resume_starts = State(), LockBook(), DeadMansSwitch(), {}
            self.owed, self.revokes, self.baselines = {}, RevokeBook(), {}
            self.stored_applied = ()
        else:
            baselines = doc.get("baselines") or {}
            if not isinstance(baselines, dict):
                raise ValueError('the saved "baselines" must map an account to its legs\' sizes at the lock')
            owed = doc.get("owed") or {}
            if not isinstance(owed, dict) or not all(isinstance(v, dict) and "event" in v and "audit" in v
                                                     for v in owed.values()):
                raise ValueError('the saved "owed" must map a transition\'s key to its audit row and event')
            dms = DeadMansSwitch.from_dict(doc["dms"]) if doc.get("dms") is not None else DeadMansSwitch()
            resume = doc.get("resume") or {}
            if not isinstance(resume, dict) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                       for v in resume.values()):
                raise ValueError('the saved "resume" must map "policy|scope" to the reset time in ms')
            self.state, self._lock_book = State.from_json(doc["engine"], rows), LockBook.from_json(doc["lock"])
            self.dms, self.resume_starts, self.owed = dms, dict(resume), dict(owed)
            self.revokes = RevokeBook.from_json(doc.get("revokes"))
            self.baselines = dict(baselines)
            stored = doc.get("stored_applied") or []
            if not isinstance(stored, list) or not all(isinstance(r, str) for r in stored):
                raise ValueError('the saved "stored_applied" must list the request ids of stored locks applied')
            self.stored_applied = tuple(stored)
        self.residuals = ResidualBook.from_doc(doc)
        self.still_open = StillOpenBook.from_doc(doc)
        self.rejections.load((doc or {}).get("rejections"))
        # (a standby follows every tick's save: the gate hears of a change only)
        if tell and (not doc or (self._lock_book, self.resume_starts) != before):
            self.lock_changed()

    async def follow(self, io: StoreIO, store: StateStore) -> None:
        """A standby answers reads (the lock, the pre-trade gate, status) from what the leader
        last saved, never from what it loaded at start: at most one tick behind the leader."""
        try:
            doc = await io(store.load_engine_state)
        except Exception:  # noqa: BLE001 - the store is unreachable: readiness says so; keep the last view
            return
        if not doc or doc == self.followed:  # unchanged since the last tick, lock, reset or arming
            return
        self.followed = doc
        if int(doc.get("notes_mark") or 0) != self.notes_mark:  # a silence or an acknowledgement changed
            try:
                await self.reload_notes(io, store)
                self.notes_mark = int(doc.get("notes_mark") or 0)
            except Exception:  # noqa: BLE001 - read them at the next change or on taking over
                pass
        history = self.state.pnl
        self._apply(doc)
        # The PnL samples change once per sample step, not every tick: read them again only
        # then, so that following a 10,000-position book costs the small document.
        if _pnl_steps(self.state.pnl) == _pnl_steps(history):
            self.state.pnl = history
            return
        try:
            fresh, rows = await io(store.load_engine_state_and_pnl)
        except Exception:  # noqa: BLE001 - read them at the next change or on taking over
            self.pnl_complete = False
            return
        self.followed = fresh
        self._apply(fresh, rows)
        self.saved_pnl = _row_marks(rows)
        self.pnl_complete = True

    # --- saving --------------------------------------------------------------------------------------

    async def save(self, io: StoreIO, store: StateStore, fence: int, sinks: Callable[[], dict],
                   then: Sequence[Callable[[], Any]] = ()) -> None:
        """The state document and the PnL history's changes since the last save (a sample per
        account when a sample step passed, else nothing), in one write. Both are taken from the
        book as it is when this is called; the write is awaited. ``sinks``: what the sinks keep
        across restarts and takeovers. ``then``: calls made on the store thread right after the
        write, in the same call (:meth:`StoreIO.in_order`): the first to raise stops the rest. One
        that raises after the write leaves the samples to be written again (the store upserts)."""
        doc = {"format_version": STATE_DOC_VERSION, "engine": self.state.to_json(pnl_samples=False),
               "lock": self.lock_book.to_json(), "dms": self.dms.to_dict(),
               "resume": dict(sorted(self.resume_starts.items())), "sinks": sinks(),
               "residuals": self.residuals.to_json(), "notes_mark": self.notes_mark}
        if self.owed:
            doc["owed"] = self.owed
        if self.still_open:
            doc["still_open"] = self.still_open.to_json()
        if self.rejections.legs:
            doc["rejections"] = self.rejections.to_json()
        if self.revokes.seq:  # (kept once used: an effect's number is never given twice)
            doc["revokes"] = self.revokes.to_json()
        if self.baselines:
            doc["baselines"] = self.baselines
        if self.stored_applied:
            doc["stored_applied"] = list(self.stored_applied)
        marks = pnl_marks(self.state)
        # Where every history starts and ends as stored: equal marks leave nothing to add or
        # drop (what pnl_changes would find, without a walk over every account's history)
        added, kept = pnl_changes(self.state, self.saved_pnl) if marks != self.saved_pnl else ([], [])
        rows = [PnlSampleRow(w, acct, ts, self._keys_json(w, acct, keys), values.tolist())
                for w, acct, ts, keys, values in added]
        await io.in_order(partial(store.save_engine_state, doc, self.graph.digest, fence, pnl_added=rows,
                                  pnl_kept=kept), *then)
        # (two saves in flight may both add a sample row: the store upserts it)
        self.saved_pnl = marks


def _encoded_keys(keys: tuple) -> str:
    return json.dumps([list(k) for k in keys], separators=(",", ":"))


def _row_marks(rows: Sequence[PnlSampleRow]) -> PnlMarks:
    """Where each stored PnL history starts and ends (rows in time order per history)."""
    marks: PnlMarks = {}
    for r in rows:
        key = (r.window_ms, r.account)
        first = marks[key][0] if key in marks else r.ts_ms
        marks[key] = (first, r.ts_ms)
    return marks


def _pnl_steps(histories: dict) -> dict[int, Optional[int]]:
    """Each PnL history's next sample time: it moves exactly when a sample was taken."""
    return {w: h.next_sample_ms for w, h in histories.items()}
