"""SQLite backend: the embedded default (``sqlite:///var/lib/killswitch/state.db``).

WAL mode so that readers (``ksctl status``) never block the runner; ``synchronous=FULL`` so
that a journaled intent survives a power cut, not only a process crash (the journal is what
stops a restarted runner from sending an order twice: durability over speed); a busy timeout
so that two processes on one file wait for each other instead of failing. Every write runs in
``BEGIN IMMEDIATE``: the database's write lock is taken before the fence is read, so checking
the fence and writing are one atomic step, and so are reading and bumping the lease.

One runner per file (the chart's ``mode: single``): a process paused inside a write holds the
database's one write lock until it wakes, and no other runner on the file can take the lease
meanwhile. Two replicas take PostgreSQL, whose server ends a session paused in its transaction.

URL: everything after ``sqlite://`` is the path — ``sqlite:///abs/path.db`` is absolute,
``sqlite://rel/path.db`` relative to the working directory, ``sqlite://:memory:`` in memory.

Must not: create directories, or share its connection with code outside this store.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator, Optional

from .sql import SqlStore, wrap_error
from .store import StoreError

BUSY_TIMEOUT_MS = 10_000


def sqlite_path(url: str) -> str:
    if not url.startswith("sqlite://") or len(url) == len("sqlite://"):
        raise StoreError(f"not a SQLite URL: {url!r}; use sqlite:///path/to/state.db")
    return url[len("sqlite://"):]


class SqliteStore(SqlStore):
    types = {"id": "INTEGER PRIMARY KEY", "float": "REAL", "bool": "INTEGER"}
    # BEGIN IMMEDIATE already holds the database's write lock: no row locks to spell.
    for_update = ""
    for_share = ""

    def __init__(self, url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        super().__init__()
        self.url = url  # a file path holds no secret
        self.path = sqlite_path(url)
        try:
            # isolation_level=None: the module issues no BEGIN of its own; _tx says which kind.
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout_ms / 1000, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as e:
            raise wrap_error(url, e) from None
        if mode.lower() not in ("wal", "memory"):
            self._conn.close()
            raise StoreError(f"{url}: cannot use WAL mode (journal_mode={mode}); is it on a network file system?")

    @contextmanager
    def _tx(self, write: bool) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield cur
                cur.execute("COMMIT")
            except BaseException as e:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise wrap_error(self.url, e) from e
                raise
            finally:
                cur.close()

    def reopen(self, *, lock_timeout_ms: Optional[int] = None) -> "SqliteStore":
        if self.path == ":memory:" or self.path.startswith("file::memory:"):
            # another connection would open another, empty database
            raise NotImplementedError(f"{self.url}: an in-memory database has one connection")
        return SqliteStore(self.url, busy_timeout_ms=lock_timeout_ms if lock_timeout_ms else BUSY_TIMEOUT_MS)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
