"""PostgreSQL backend (psycopg 3): shared state for replicas, one of which holds the lease.

Transactions run at READ COMMITTED with explicit row locks where correctness needs them: the
lease row ``FOR UPDATE`` while it is acquired or released, ``FOR SHARE`` while a fenced write
checks the token (so a takeover waits for writes in flight, and later writes see the new
token), the audit head ``FOR UPDATE`` while a row is appended (one chain, never a fork), and a
transaction-scoped advisory lock around migrations (replicas starting together).

With a ``schema`` (a shard's ``ks_shard_<name>``, the firm's ``ks_firm``) every connection of the
store — the runner's and the lease thread's (:meth:`PostgresStore.reopen`) — has its ``search_path`` set to it,
the schema is created (``IF NOT EXISTS``) under the migration lock, and that lock is the
schema's own: each schema holds its own lease, fencing token, journal and audit chain, in one
database.

The connection is autocommit, with each method one explicit transaction; a broken connection
(server restart, failover) is replaced on the next call, never retried inside a call whose
write may or may not have committed.

Every call has a deadline (:class:`_Deadline`): the lock timeout, and as long again (5 s at most)
for the answer. A server that stopped answering without closing the connection — paused
(SIGSTOP, a frozen VM: its kernel still acknowledges what is sent) or cut off by a network that
drops packets — would otherwise hold the calling thread until it comes back, or for ever: the
lease thread, or the runner's store thread and every call queued behind it. Past the deadline
the connection's socket is shut down, the call raises (a StoreError, like a lost connection)
and the connection is replaced at the next call.

Must not: put the URL's password in a message, a log line or ``repr`` — every driver message is
scrubbed of it; use jsonb for documents (it rewrites numbers).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import socket
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator, Optional, Self

from .sql import SqlStore, wrap_error
from .sql_hooks import Cursor
from .store import StoreError
from .urls import mask_url, url_secrets

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg.rows import TupleRow

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
ANSWER_S = 5.0  # at most, beyond its lock timeout, for a call's answer (see _Deadline)
SCHEMA_RE = re.compile(r"[a-z][a-z0-9_]{0,62}")  # a plain identifier: quoted as is in SET and CREATE


def call_timeout_s(lock_timeout_ms: int) -> float:
    """A call's deadline: its statements may wait ``lock_timeout_ms`` for a lock, and the server
    as long again (``ANSWER_S`` at most) to answer once it has them: 20 s for the runner's
    connection, 2 s for the lease thread's at a 3 s lease TTL (a renewal that late is no use)."""
    lock_s = lock_timeout_ms / 1000
    return lock_s + min(lock_s, ANSWER_S)


class _Deadline:
    """Ends the call on a connection that has not been answered by its deadline, from a thread
    of its own (started at the first call): shuts the connection's socket down, so that the
    driver, waiting on it, sees the connection closed and raises. One call at a time (the
    store's lock); ``begin`` and ``end`` bracket it. The socket is reached through a copy of its
    descriptor, taken at ``begin`` and closed at ``end``: the driver may close its own when the
    connection breaks, and the number could then name another socket of the process."""

    def __init__(self, timeout_s: float, name: str):
        self.timeout_s = timeout_s
        self.name = name
        self.expired = 0  # calls ended here
        self._cond = threading.Condition()
        self._call: Optional[tuple[float, socket.socket]] = None  # (deadline, socket) of the call running
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    def begin(self, fileno: int) -> None:
        try:
            sock = socket.socket(fileno=os.dup(fileno))
        except OSError:  # (the driver's socket is gone: the call fails by itself)
            return
        with self._cond:
            self._call = (time.monotonic() + self.timeout_s, sock)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name=f"pg-deadline-{self.name}", daemon=True)
                self._thread.start()
            self._cond.notify()

    def end(self) -> None:
        with self._cond:
            call, self._call = self._call, None
        if call is not None:
            call[1].close()  # our copy only

    def close(self) -> None:
        self.end()
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                if self._call is None:
                    self._cond.wait()
                    continue
                deadline, sock = self._call
                left = deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                self._call = None
                self.expired += 1
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # both ways: the driver's wait ends on it
                except OSError:
                    pass
                sock.close()


class PostgresStore(SqlStore):
    types = {"id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "float": "DOUBLE PRECISION",
             "bool": "BOOLEAN"}

    def __init__(self, url: str, masked_url: Optional[str] = None, *, lock_timeout_ms: int = LOCK_TIMEOUT_MS,
                 schema: Optional[str] = None):
        super().__init__()
        if schema is not None and not SCHEMA_RE.fullmatch(schema):
            raise StoreError(f"schema {schema!r}: a schema name is lower-case letters, digits and _, a letter first")
        self.schema = schema  # None: the connection's default search_path (public), as before shards
        self.url = masked_url or mask_url(url)
        self._conninfo = url
        self._masked = masked_url or mask_url(url)
        self._secrets = url_secrets(url)
        self._lock_timeout_ms = int(lock_timeout_ms)
        self._deadline = _Deadline(call_timeout_s(self._lock_timeout_ms), self.url)
        self._depth = 0  # transactions open on this thread (a call may run another inside it)
        self._conn = self._connect()

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    def _connect(self) -> Connection[TupleRow]:
        import psycopg  # imported here: SQLite users need not have it

        try:
            # libpq parameters, which psycopg takes as **kwargs beside keywords of its own
            # (context, row_factory, ...): typed Any, as a dict of ints would claim to fill those too
            kwargs: dict[str, Any] = {}
            if "connect_timeout" not in self._conninfo:
                # no longer than a call may take (libpq counts whole seconds, 2 at least)
                kwargs["connect_timeout"] = min(CONNECT_TIMEOUT_S, max(2, math.ceil(self._deadline.timeout_s)))
            conn = psycopg.connect(self._conninfo, autocommit=True, **kwargs)
            conn.execute(f"SET lock_timeout = {self._lock_timeout_ms}")
            conn.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_TIMEOUT_MS}")
            if self.schema is not None:
                # every table of the store is named unqualified: the schema is the shard's state
                # (a schema that does not exist yet is skipped until migrate creates it)
                conn.execute(f'SET search_path TO "{self.schema}"')
            return conn
        except psycopg.Error as e:
            # from None: the driver's exception may quote the connection string
            raise wrap_error(self.url, e, self._secrets) from None

    def _sql(self, query: str) -> str:
        return query.replace("?", "%s")  # no statement here contains a literal ? or %

    def _lock_migrations(self, cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (migration_lock(self.schema),))
        if self.schema is not None:
            # under the lock: replicas of one shard starting together would race to create it
            cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')

    @contextmanager
    def _tx(self, write: bool) -> Iterator[Cursor]:
        import psycopg

        with self._lock:
            if self._conn.broken or self._conn.closed:
                log.warning("state store %s: connection lost, reconnecting", self.url)
                self._conn = self._connect()
            outer = self._depth == 0
            if outer:
                self._deadline.begin(self._conn.fileno())
            self._depth += 1
            try:
                with self._conn.transaction(), self._conn.cursor() as cur:
                    yield cur
            except psycopg.Error as e:
                raise wrap_error(self.url, e, self._secrets) from e
            finally:
                self._depth -= 1
                if outer:
                    self._deadline.end()

    def acquire_lease(self, holder: str, ttl_ms: int, now_ms: int) -> Optional[int]:
        """As :meth:`SqlStore.acquire_lease`; when the lease row cannot be locked in time and the
        lease has run out, a session that has held a lock on it for longer than ``ttl_ms`` is a
        leader stalled mid-write (paused, swapped out, its client frozen inside a pipeline where
        the idle-in-transaction timeout does not reach): it is terminated, its transaction rolls
        back, and the take is tried once more."""
        try:
            return super().acquire_lease(holder, ttl_ms, now_ms)
        except StoreError as e:
            if not _lock_timed_out(e) or not self._end_stalled_holders(ttl_ms, now_ms):
                raise
        return super().acquire_lease(holder, ttl_ms, now_ms)

    def _end_stalled_holders(self, ttl_ms: int, now_ms: int) -> bool:
        """Terminate each other session whose transaction, older than ``ttl_ms``, holds a lock on
        the lease table, when the lease has run out (``now_ms``); True if any was ended."""
        held = self.lease()  # read without a lock: a stalled holder blocks only locking reads
        if held.holder is not None and held.expires_ms > now_ms:
            return False  # a valid lease: its holder is entitled to be slow
        ended = False
        with self._tx(write=True) as cur:
            rows = cur.execute(
                "SELECT DISTINCT a.pid, extract(epoch FROM now() - a.xact_start) FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'relation' AND l.granted "
                "AND l.relation = 'lease'::regclass AND l.pid <> pg_backend_pid() "
                "AND a.xact_start < now() - make_interval(secs => %s)", (ttl_ms / 1000,)).fetchall()
            for pid, age in rows:
                done = cur.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
                log.warning("LEASE_HOLDER_STALLED: %s: session %s has held the lease row for %.1f s past a lease "
                            "that ran out (%s, fence %s): %s", self.url, pid, float(age), held.holder, held.fence,
                            "terminated, its transaction rolled back" if done else "could not be terminated")
                ended = ended or bool(done)
        return ended

    def reopen(self, *, lock_timeout_ms: Optional[int] = None) -> Self:
        # on the same schema: the lease thread's connection must see the shard's lease row
        return type(self)(self._conninfo, self._masked, lock_timeout_ms=lock_timeout_ms or LOCK_TIMEOUT_MS,
                          schema=self.schema)

    def close(self) -> None:
        with self._lock:
            self._deadline.close()
            self._conn.close()


def _lock_timed_out(e: StoreError) -> bool:
    import psycopg

    return isinstance(e.__cause__, psycopg.errors.LockNotAvailable)


def migration_lock(schema: Optional[str]) -> int:
    """The advisory lock key migrations of ``schema`` take: one per schema (the shards of one
    database migrate side by side), :data:`MIGRATION_LOCK` for the default one."""
    if schema is None:
        return MIGRATION_LOCK
    digest = hashlib.sha256(f"ks_state:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def open_postgres(url: str, masked_url: str, schema: Optional[str] = None) -> PostgresStore:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise StoreError("postgresql:// needs psycopg 3: pip install 'psycopg[binary]'") from None
    return PostgresStore(url, masked_url, schema=schema)
