"""What the table groups of :class:`~.sql.SqlStore` stand on: the hooks it supplies, and the clock.

:class:`SqlHooks` declares the calls every table mixin (:mod:`.tables.journal`, :mod:`.tables.audit`,
:mod:`.tables.silences`) makes on the store it is mixed into: a transaction (``_tx``), a statement
(``_q``, its placeholders rewritten by ``_sql``), the fence check and the schema's version.
:class:`~.sql.SqlStore` defines them, and a backend (:mod:`.sqlite`, :mod:`.postgres`) the
dialect's part; a mixin defines none of them. A read in a transaction of its own is
``_fetchall`` or ``_fetchone``, over ``_tx`` and ``_q``. :func:`now_ms` is the wall clock the rows are
stamped with when the caller gives no time.

Must not: hold state, or decide anything about a table.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any, Callable, Iterable, Iterator, Optional, Protocol, Sequence


class Cursor(Protocol):
    """A DB-API cursor as the store uses it: sqlite3's and psycopg's alike. Rows are the driver's
    (tuples), read by position."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, query: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, query: str, params_seq: Iterable[Sequence[Any]], /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class SqlHooks:
    """The calls a table mixin makes on :class:`~.sql.SqlStore` (which defines every one)."""

    url: str
    for_update: str  # how the dialect locks a row it read

    def _tx(self, write: bool) -> AbstractContextManager[Cursor]:
        raise NotImplementedError

    def _q(self, cur: Cursor, query: str, params: Iterable[Any] = ()) -> Cursor:
        raise NotImplementedError

    def _sql(self, query: str) -> str:
        raise NotImplementedError

    def _fetchall(self, query: str, params: Iterable[Any] = ()) -> list[Any]:
        """Every row ``query`` reads, in a read transaction of its own."""
        with self._tx(write=False) as cur:
            return self._q(cur, query, params).fetchall()

    def _fetchone(self, query: str, params: Iterable[Any] = ()) -> Any:
        """The first row ``query`` reads (None: none), in a read transaction of its own."""
        with self._tx(write=False) as cur:
            return self._q(cur, query, params).fetchone()

    def _check_fence(self, cur: Cursor, fence: int) -> None:
        raise NotImplementedError

    def schema_version(self) -> int:
        raise NotImplementedError

    def audit_many(self, rows: Sequence[tuple[str, int, dict]], *, fence: Optional[int] = None,
                   also: Optional[Callable[[Cursor], None]] = None) -> list[int]:
        raise NotImplementedError


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def upsert(table: str, columns: str, key: str, *, values: str = "", where: str = "") -> str:
    """The INSERT of ``columns`` into ``table`` that, on a row of the same ``key``, sets every other
    column to the new value (``values``: the VALUES list, else a ``?`` a column; ``where``: when)."""
    keys = {k.strip() for k in key.split(",")}
    sets = ", ".join(f"{c} = excluded.{c}" for c in (c.strip() for c in columns.split(",")) if c not in keys)
    marks = values or ", ".join("?" * len(columns.split(",")))
    return (f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {sets}"
            + (f" WHERE {where}" if where else ""))
