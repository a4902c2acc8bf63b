"""Fixtures of the state store suite: every test runs against SQLite and a real PostgreSQL.

The PostgreSQL server is the session's (``pg_server`` in tests/conftest.py: started once with
``initdb`` + ``pg_ctl`` on a free loopback port, shared with the integration tests); here each
test empties the ``ks_test`` database before it runs. Without the binaries the PostgreSQL half
skips, or fails under KS_REQUIRE_ALL=1 as in CI.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

import pytest

from killswitch.state import open_store
from tests.procs import free_port  # noqa: F401 - imported from here by the suite's tests

from ..conftest import (
    pg_server,  # noqa: F401 - re-exported: other suites import it from here
    reset_pg as _reset_pg,
)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def store_url(backend, tmp_path, request) -> str:
    """A URL naming an empty store of the backend under test."""
    if backend == "sqlite":
        return f"sqlite://{tmp_path / 'state.db'}"
    url = request.getfixturevalue("pg_server").url()
    _reset_pg(url)
    return url


@pytest.fixture
def open_store_(store_url):
    """Open stores on the test's URL (each call a new connection); all closed at teardown."""
    opened = []

    def _open(url: str = store_url):
        s = open_store(url)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        try:
            s.close()
        except Exception:
            pass


@pytest.fixture
def store(open_store_):
    return open_store_()


@pytest.fixture
def pg_url(pg_server):
    """The session server's ``ks_test`` database emptied for a firm's tests: its public schema and
    every ``ks_*`` schema (the firm's, each shard's) dropped."""
    import psycopg

    url = pg_server.url()
    _reset_pg(url)
    with psycopg.connect(url, autocommit=True) as conn:
        for (name,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'ks\\_%'").fetchall():
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    return url


@pytest.fixture
def opened():
    """The stores a test opened (it appends them), closed at teardown."""
    stores = []
    yield stores
    for s in stores:
        s.close()


@pytest.fixture
def raw(store_url) -> Callable[..., list]:
    """Run SQL on the store's database behind its back (``?`` placeholders): how tests tamper."""

    def _raw(sql: str, params: tuple = ()) -> list:
        if store_url.startswith("sqlite://"):
            conn = sqlite3.connect(store_url[len("sqlite://"):], isolation_level=None)
            try:
                cur = conn.execute(sql, params)
                return cur.fetchall() if cur.description else []
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            cur = conn.execute(sql.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

    return _raw
