"""Durable state of the runner: engine state, order journal, approvals, audit chain, leader lease,
and the rendered runbook of every incident.

``open_store(url)`` picks the backend by the URL's scheme and migrates the schema:

- ``sqlite:///path/state.db`` — embedded, the default (``sqlite.py``);
- ``postgresql://user:password@host/db`` — shared by replicas for HA (``postgres.py``).

The contract (fencing, idempotent journal, audit chain) is :class:`StateStore` in ``store.py``.

Must not: log, raise or ``repr`` a password from a URL — :func:`mask_url` is the only form of
a URL that leaves this package.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Optional

from .store import (
    AuditAnchor,
    AuditKey,
    AuditKeyError,
    FencedError,
    PnlSampleRow,
    RunbookRecord,
    SchemaTooNewError,
    SignalSampleRow,
    StateStore,
    StoreError,
    UnknownIntentError,
    key_problem,
)
from .urls import mask_url

if TYPE_CHECKING:  # an annotation only: the backend modules are imported when a URL names them
    from .firm import FirmStore
    from .postgres import PostgresStore
    from .sql import SqlStore
    from .sqlite import SqliteStore

    def _every_backend_keeps_the_contract(a: SqliteStore, b: PostgresStore, c: FirmStore
                                          ) -> tuple[StateStore, StateStore, StateStore]:
        """Never called: mypy checks here that each backend is a :class:`StateStore`, the type
        every signature outside this package takes."""
        return a, b, c

log = logging.getLogger(__name__)

SCHEMES = ("sqlite", "postgresql", "postgres")


def open_store(url: str, *, migrate: bool = True, audit_key: Optional[AuditKey] = None,
               schema: Optional[str] = None) -> StateStore:
    """Open (and by default migrate) the store a URL names. Raises StoreError with a masked URL.

    With ``audit_key`` the rows it appends are anchored by HMAC and verification checks the
    MACs; opened to write (``migrate``), it also anchors a chain that is not anchored yet (see
    :meth:`SqlStore.use_audit_key`). A wrong or missing key never stops it from opening:
    ``key_problem(store.audit_head(), key)`` says what is wrong.

    ``schema``: a PostgreSQL schema of its own (a shard's state, see :mod:`.postgres`); a SQLite
    store has none and refuses one."""
    head, sep, _ = url.partition("://")
    # A scheme is a word; anything else (a keyword DSN, a typo) is not echoed: it may hold a password.
    scheme = head.lower() if sep and re.fullmatch(r"[A-Za-z][\w+.-]*", head) else ""
    masked = mask_url(url)
    store: SqlStore  # either backend; use_audit_key is theirs, not the StateStore contract's
    if schema is not None and scheme not in ("postgresql", "postgres"):
        raise StoreError(f"a state schema ({schema}) needs a postgresql:// state store, not {scheme or 'this URL'}")
    if scheme == "sqlite":
        from .sqlite import SqliteStore

        store = SqliteStore(url)
    elif scheme in ("postgresql", "postgres"):
        from .postgres import open_postgres

        store = open_postgres(url, masked, schema)
    else:
        # Only the scheme is quoted: a string that is not a URL may be a keyword DSN with a password.
        raise StoreError(f"unknown state store scheme {scheme or '(none)'!r}: "
                         "use sqlite:///path/to/state.db or postgresql://user@host/db")
    try:  # a store that cannot be migrated or take its key is closed before the error goes up
        if migrate:
            log.info("state store %s at schema version %d", masked, store.migrate())
        if audit_key is not None:
            store.use_audit_key(audit_key, adopt=migrate)
    except BaseException:
        store.close()
        raise
    return store


__all__ = [
    "open_store", "mask_url", "SCHEMES", "StateStore", "StoreError", "FencedError", "SchemaTooNewError",
    "UnknownIntentError", "PnlSampleRow", "SignalSampleRow", "RunbookRecord", "AuditKey", "AuditKeyError",
    "AuditAnchor", "key_problem",
]
