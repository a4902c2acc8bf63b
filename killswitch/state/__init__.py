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

from .store import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    ORDER_STATUSES,
    Approval,
    AuditRow,
    FencedError,
    JournalEntry,
    Lease,
    PnlSampleRow,
    PolicyBundle,
    RunbookRecord,
    SchemaTooNewError,
    StateStore,
    StoreError,
    UnknownIntentError,
)
from .urls import mask_url

log = logging.getLogger(__name__)

SCHEMES = ("sqlite", "postgresql", "postgres")


def open_store(url: str, *, migrate: bool = True) -> StateStore:
    """Open (and by default migrate) the store a URL names. Raises StoreError with a masked URL."""
    head, sep, _ = url.partition("://")
    # A scheme is a word; anything else (a keyword DSN, a typo) is not echoed: it may hold a password.
    scheme = head.lower() if sep and re.fullmatch(r"[A-Za-z][\w+.-]*", head) else ""
    masked = mask_url(url)
    if scheme == "sqlite":
        from .sqlite import SqliteStore

        store = SqliteStore(url)
    elif scheme in ("postgresql", "postgres"):
        from .postgres import open_postgres

        store = open_postgres(url, masked)
    else:
        # Only the scheme is quoted: a string that is not a URL may be a keyword DSN with a password.
        raise StoreError(f"unknown state store scheme {scheme or '(none)'!r}: "
                         "use sqlite:///path/to/state.db or postgresql://user@host/db")
    if migrate:
        try:
            version = store.migrate()
        except BaseException:
            store.close()
            raise
        log.info("state store %s at schema version %d", masked, version)
    return store


__all__ = [
    "open_store", "mask_url", "SCHEMES", "StateStore", "StoreError", "FencedError", "SchemaTooNewError",
    "UnknownIntentError", "JournalEntry", "Approval", "Lease", "AuditRow", "PnlSampleRow", "PolicyBundle",
    "RunbookRecord",
    "ORDER_STATUSES", "FINAL_STATUSES", "OPEN_STATUSES",
]
