"""The firm's schema: what the shards of one database share.

What it owns: :class:`FirmStore`, the PostgreSQL store opened on the schema ``ks_firm``. It is
the existing store (:class:`~..postgres.PostgresStore`) — so the firm has a lease, engine state and
an audit chain of its own, for the firm-wide decisions — plus the firm's own tables, migrated
after the store's under the same schema lock, in a version table of their own
(``firm_schema_version``: the store's migrations and the firm's grow independently):

* ``shard``: the registry of shards — name, the digest of its account set, the accounts (a JSON
  list of ``venue/name``), when and by whom it was last registered. A runner of a shard registers
  at start (:meth:`FirmStore.register_shard`): the same set goes on, idempotently (the replicas of
  one shard started with one file); a different set is refused (:class:`ShardMismatch`) while a
  runner of the shard holds its lease, and replaces the registration when none does (the file
  was changed and every runner of the old set has stopped).

* the facts, directives, the firm's view and the runners seen (:mod:`.tables`, version 2);
* each shard's board: its incidents and lock, for every shard's console (:mod:`.board`, version 3);
* the firm-wide kill's reports per account and its release's approvals (:mod:`.kill`, version 4).

The shard's lease is read from its own schema (``ks_shard_<name>.lease``) in the registration's
transaction, the registry row locked ``FOR UPDATE`` meanwhile, so two runners registering one
shard take turns.

Must not: hold a shard's state (that is the shard's schema), or be used on SQLite.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ..migrations import Migration
from ..postgres import LOCK_TIMEOUT_MS, PostgresStore
from ..sql_hooks import Cursor, now_ms
from ..store import StoreError
from .board import BOARD_TABLES, FirmBoardTables
from .kill import KILL_TABLES, FirmKillTables
from .tables import FIRM_TABLES, FirmTables

FIRM_SCHEMA = "ks_firm"  # what the shards share: the shard registry, the firm lease, facts, directives


def shard_schema(name: str) -> str:
    """The PostgreSQL schema of shard ``name``'s state: ``ks_shard_<name with - as _>`` (a shard
    name is lower-case letters, digits and dashes, so the result is a plain identifier)."""
    return "ks_shard_" + name.replace("-", "_")

FIRM_MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "shard registry", (
        """CREATE TABLE shard (
             name TEXT PRIMARY KEY,
             accounts_digest TEXT NOT NULL,
             accounts TEXT NOT NULL,
             registered_ms BIGINT NOT NULL,
             holder TEXT NOT NULL)""",
    )),
)


@dataclass(frozen=True)
class ShardRow:
    """A shard as registered: ``accounts`` are ``venue/name`` keys, sorted."""

    name: str
    accounts_digest: str
    accounts: tuple[str, ...]
    registered_ms: int
    holder: str


@dataclass(frozen=True)
class Registration:
    """What :meth:`FirmStore.register_shard` did: ``outcome`` is ``registered`` (a new shard),
    ``same`` (the set registered already: a replica or a restart) or ``replaced`` (another set,
    with no runner of the shard leading); ``previous`` the row it found."""

    row: ShardRow
    outcome: str
    previous: Optional[ShardRow] = None


class ShardMismatch(StoreError):
    """``SHARD_MISMATCH``: the shard is registered, with a runner leading it, for another set of
    accounts than the one this runner was started with."""

    def __init__(self, registered: ShardRow, digest: str, accounts: Sequence[str], leader: str):
        self.registered = registered
        self.digest = digest
        mine, theirs = set(accounts), set(registered.accounts)
        self.only_here = sorted(mine - theirs)
        self.only_registered = sorted(theirs - mine)
        differs = []
        if self.only_here:
            differs.append(f"only in this runner's: {', '.join(self.only_here)}")
        if self.only_registered:
            differs.append(f"only in the registered: {', '.join(self.only_registered)}")
        super().__init__(
            f"SHARD_MISMATCH: shard {registered.name} is registered with accounts digest "
            f"{registered.accounts_digest[:12]} ({len(theirs)} account(s), by {registered.holder}, led by {leader}); "
            f"this runner's is {digest[:12]} ({len(mine)} account(s)): {'; '.join(differs) or 'the same names'}")


class FirmStore(FirmKillTables, FirmBoardTables, FirmTables, PostgresStore):
    """The store on schema ``ks_firm`` with the firm's tables (see the module doc and
    :mod:`.tables`: facts, directives, the firm's view, the runners seen)."""

    firm_migrations = FIRM_MIGRATIONS + FIRM_TABLES + BOARD_TABLES + KILL_TABLES

    def __init__(self, url: str, masked_url: Optional[str] = None, *, lock_timeout_ms: int = LOCK_TIMEOUT_MS,
                 schema: Optional[str] = FIRM_SCHEMA):
        super().__init__(url, masked_url, lock_timeout_ms=lock_timeout_ms, schema=schema or FIRM_SCHEMA)

    def migrate(self) -> int:
        latest = super().migrate()
        with self._tx(write=True) as cur:
            self._lock_migrations(cur)
            self._q(cur, "CREATE TABLE IF NOT EXISTS firm_schema_version (version INTEGER PRIMARY KEY, "
                         "description TEXT NOT NULL, applied_ms BIGINT NOT NULL)")
            current = self._q(cur, "SELECT COALESCE(MAX(version), 0) FROM firm_schema_version").fetchone()[0]
            for m in self.firm_migrations:
                if m.version > current:
                    for statement in m.statements:
                        self._q(cur, statement.format(**self.types))
                    self._q(cur, "INSERT INTO firm_schema_version (version, description, applied_ms) "
                                 "VALUES (?, ?, ?)", (m.version, m.description, now_ms()))
        return latest

    def register_shard(self, name: str, digest: str, accounts: Sequence[str], holder: str,
                       now: int, shard_schema: str) -> Registration:
        """Register shard ``name`` with its account set (``venue/name`` keys and their digest),
        or find it registered with that set; :class:`ShardMismatch` when it is registered with
        another set and the shard's lease (in ``shard_schema``) is held at ``now`` by a runner
        other than ``holder``."""
        keys = tuple(sorted(accounts))
        row = ShardRow(name, digest, keys, now, holder)
        with self._tx(write=True) as cur:
            # FOR UPDATE locks no row that is not there yet: two replicas of a new shard starting
            # together would both insert (the second failing on the key); they take turns instead
            self._q(cur, "SELECT pg_advisory_xact_lock(hashtext(?))", (f"firm_shard:{name}",))
            found = self._q(cur, "SELECT name, accounts_digest, accounts, registered_ms, holder FROM shard "
                                 "WHERE name = ? FOR UPDATE", (name,)).fetchone()
            previous = _row(found) if found else None
            if previous is None:
                self._q(cur, "INSERT INTO shard (name, accounts_digest, accounts, registered_ms, holder) "
                             "VALUES (?, ?, ?, ?, ?)", (name, digest, json.dumps(keys), now, holder))
                return Registration(row, "registered")
            if previous.accounts_digest != digest:
                leader = self._leader(cur, shard_schema, now)
                if leader is not None and leader != holder:
                    raise ShardMismatch(previous, digest, keys, leader)
            self._q(cur, "UPDATE shard SET accounts_digest = ?, accounts = ?, registered_ms = ?, holder = ? "
                         "WHERE name = ?", (digest, json.dumps(keys), now, holder, name))
            return Registration(row, "same" if previous.accounts_digest == digest else "replaced", previous)

    def _leader(self, cur: Cursor, shard_schema: str, now: int) -> Optional[str]:
        """The holder of the shard's lease at ``now``, None when nobody holds it (or the shard
        has no schema yet)."""
        got = self._shard_lease(cur, shard_schema, "holder, expires_ms")
        return got[0] if got and got[0] is not None and got[1] > now else None

    def shards(self) -> list[ShardRow]:
        """Every registered shard, by name."""
        rows = self._fetchall("SELECT name, accounts_digest, accounts, registered_ms, holder FROM shard ORDER BY name")
        return [_row(r) for r in rows]


def _row(r: Any) -> ShardRow:
    return ShardRow(r[0], r[1], tuple(json.loads(r[2])), int(r[3]), r[4])


def open_firm(url: str, *, migrate: bool = True) -> FirmStore:
    """The firm's store (schema ``ks_firm``) in the database ``url`` names, migrated."""
    from ..urls import mask_url

    if not url.lower().startswith(("postgresql://", "postgres://")):
        raise StoreError("the firm's state needs a postgresql:// store")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise StoreError("postgresql:// needs psycopg 3: pip install 'psycopg[binary]'") from None
    store = FirmStore(url, mask_url(url))
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store
