"""PostgreSQL backend (psycopg 3): shared state for replicas, one of which holds the lease.

Transactions run at READ COMMITTED with explicit row locks where correctness needs them: the
lease row ``FOR UPDATE`` while it is acquired or released, ``FOR SHARE`` while a fenced write
checks the token (so a takeover waits for writes in flight, and later writes see the new
token), the audit head ``FOR UPDATE`` while a row is appended (one chain, never a fork), and a
transaction-scoped advisory lock around migrations (replicas starting together).

The connection is autocommit, with each method one explicit transaction; a broken connection
(server restart, failover) is replaced on the next call, never retried inside a call whose
write may or may not have committed.

Must not: put the URL's password in a message, a log line or ``repr`` — every driver message is
scrubbed of it; use jsonb for documents (it rewrites numbers).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from .sql import SqlStore, wrap_error
from .store import StoreError
from .urls import mask_url, url_secrets

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x6B735F7374617465  # "ks_state": an advisory lock key of our own
CONNECT_TIMEOUT_S = 10
LOCK_TIMEOUT_MS = 15_000  # a stuck transaction holding the lease row must not hang the runner
# Every transaction here sends its statements back to back, so a session idle inside one is a
# process that stopped (SIGSTOP, a frozen VM, a long pause): the server ends that session and
# its row locks go with it. Without this, a leader paused between the fence check and the
# commit keeps the lease row locked FOR SHARE and no standby can take over until it wakes.
# Below the default lease TTL (5 s), so such a pause delays a takeover by no more than the TTL.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 2_000


class PostgresStore(SqlStore):
    types = {"id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "float": "DOUBLE PRECISION",
             "bool": "BOOLEAN"}

    def __init__(self, url: str, masked_url: Optional[str] = None, *, lock_timeout_ms: int = LOCK_TIMEOUT_MS):
        super().__init__()
        self.url = masked_url or mask_url(url)
        self._conninfo = url
        self._secrets = url_secrets(url)
        self._lock_timeout_ms = int(lock_timeout_ms)
        self._conn = self._connect()

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    def _connect(self) -> Any:
        import psycopg  # imported here: SQLite users need not have it

        try:
            # libpq parameters, which psycopg takes as **kwargs beside keywords of its own
            # (context, row_factory, ...): typed Any, as a dict of ints would claim to fill those too
            kwargs: dict[str, Any] = {}
            if "connect_timeout" not in self._conninfo:
                kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
            conn = psycopg.connect(self._conninfo, autocommit=True, **kwargs)
            conn.execute(f"SET lock_timeout = {self._lock_timeout_ms}")
            conn.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_TIMEOUT_MS}")
            return conn
        except psycopg.Error as e:
            # from None: the driver's exception may quote the connection string
            raise wrap_error(self.url, e, self._secrets) from None

    def _sql(self, query: str) -> str:
        return query.replace("?", "%s")  # no statement here contains a literal ? or %

    def _lock_migrations(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    @contextmanager
    def _tx(self, write: bool) -> Iterator[Any]:
        import psycopg

        with self._lock:
            if self._conn.broken or self._conn.closed:
                log.warning("state store %s: connection lost, reconnecting", self.url)
                self._conn = self._connect()
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield cur
            except psycopg.Error as e:
                raise wrap_error(self.url, e, self._secrets) from e

    def reopen(self, *, lock_timeout_ms: Optional[int] = None) -> "PostgresStore":
        return PostgresStore(self._conninfo, self.url, lock_timeout_ms=lock_timeout_ms or LOCK_TIMEOUT_MS)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_postgres(url: str, masked_url: str) -> PostgresStore:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise StoreError("postgresql:// needs psycopg 3: pip install 'psycopg[binary]'") from None
    return PostgresStore(url, masked_url)
