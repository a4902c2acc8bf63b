"""The firm board's table: each shard's summary (:class:`~killswitch.firm.board.Board`), one row
a shard, upserted by its leader every tick beside its facts.

What it owns (a mixin of :class:`~.FirmStore`, its SQL only): ``ks_firm.shard_board`` —
written **fenced by the shard's own token**, as ``account_fact`` is (the token read ``FOR SHARE``
from ``<shard schema>.lease`` in the same transaction: a leader since replaced writes nothing,
:meth:`FirmBoardTables.publish_board` says False) — and its reads (:meth:`FirmBoardTables.boards`,
and :meth:`FirmBoardTables.fact_times`: each shard's newest facts by token).

Must not: decide whether a shard is heard (:func:`killswitch.firm.board.firm_board` does, from
the rows and the leases).
"""

from __future__ import annotations

import json

from ...firm.board import Board
from ..migrations import Migration
from ..sql_hooks import upsert
from .tables import FirmTables

BOARD_TABLES = (
    Migration(3, "each shard's board: its incidents and lock, for every shard's console", (
        "CREATE TABLE shard_board (shard TEXT PRIMARY KEY, holder TEXT NOT NULL, fence BIGINT NOT NULL, "
        "published_ms BIGINT NOT NULL, doc TEXT NOT NULL)",
    )),
)


class FirmBoardTables(FirmTables):
    """See the module doc. A part of :class:`~.FirmStore`, on the fence check of
    :class:`~.tables.FirmTables` (``_shard_fence``) and the store's ``_tx`` and ``_q``."""

    def publish_board(self, shard_schema: str, board: Board) -> bool:
        """Upsert ``board`` if its token is its shard's current one; False (nothing written) when not."""
        with self._tx(write=True) as cur:
            if self._shard_fence(cur, shard_schema, lock=True) != board.fence:
                return False
            self._q(cur, upsert("shard_board", "shard, holder, fence, published_ms, doc", "shard"),
                    (board.shard, board.holder, board.fence, board.published_ms,
                     json.dumps(board.doc(), separators=(",", ":"))))
            return True

    def boards(self) -> list[Board]:
        """Every shard's last board, by shard."""
        rows = self._fetchall("SELECT shard, holder, fence, published_ms, doc FROM shard_board ORDER BY shard")
        return [Board.of(r[0], r[1], int(r[2]), int(r[3]), json.loads(r[4])) for r in rows]

    def fact_times(self) -> list[tuple[str, int, int]]:
        """(shard, token, newest ``published_ms``) of the facts of each shard by the token they were
        written under: how long each shard's facts have not been renewed, in one aggregate."""
        rows = self._fetchall("SELECT shard, fence, MAX(published_ms) FROM account_fact GROUP BY shard, fence "
                              "ORDER BY shard, fence")
        return [(r[0], int(r[1]), int(r[2])) for r in rows]
