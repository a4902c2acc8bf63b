"""open_store: choosing a backend by URL, SQLite's durability settings, and passwords that never leak."""

from __future__ import annotations

import logging
import traceback

import pytest

from killswitch.state import StoreError, mask_url, open_store
from killswitch.state.postgres import PostgresStore
from killswitch.state.sqlite import SqliteStore

from .conftest import free_port

SECRET = "s3cret-Pa55"


def all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


def test_sqlite_url_opens_a_wal_database_with_full_sync(tmp_path):
    with open_store(f"sqlite://{tmp_path / 'state.db'}") as s:
        assert isinstance(s, SqliteStore) and s.path == str(tmp_path / "state.db")
        assert s._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: a journaled intent is on disk
        assert s._conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1_000


def test_sqlite_in_a_missing_directory_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="unable to open"):
        open_store(f"sqlite://{tmp_path / 'nope' / 'state.db'}")


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path):
    bad = tmp_path / "state.db"
    bad.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(StoreError, match="not a database"):
        open_store(f"sqlite://{bad}")


@pytest.mark.parametrize("url", [
    f"mysql://ks:{SECRET}@db/ks", f"host=db user=ks password={SECRET}", f"host=db password={SECRET}://x", "",
    "state.db"])
def test_unknown_scheme_is_a_clear_error_without_the_password(url):
    with pytest.raises(StoreError, match="unknown state store scheme") as err:
        open_store(url)
    assert SECRET not in all_text(err.value)
    assert "sqlite:///" in str(err.value) and "postgresql://" in str(err.value)


@pytest.mark.parametrize("url,masked", [
    (f"postgresql://ks:{SECRET}@db:5432/ks", "postgresql://ks:***@db:5432/ks"),
    (f"postgresql://ks@db/ks?password={SECRET}&sslmode=require", "postgresql://ks@db/ks?password=***&sslmode=require"),
    ("postgresql://ks@db/ks", "postgresql://ks@db/ks"),
    ("sqlite:///var/lib/ks/state.db", "sqlite:///var/lib/ks/state.db"),
    (f"postgresql://ks:{SECRET}@[::1/ks", "postgresql://ks:***@[::1/ks"),
    ("postgresql://ks:pa/ss?w@rd@db/ks", "postgresql://ks:***@db/ks"),  # unescaped: still masked
    ("postgresql://ks:p%40ss@db/ks", "postgresql://ks:***@db/ks"),
    ("postgresql://ks@db/ks?options=a:b@c", "postgresql://ks@db/ks?options=a:b@c"),
])
def test_mask_url(url, masked):
    assert mask_url(url) == masked


@pytest.mark.parametrize("url,password", [
    (f"postgresql://ks:{SECRET}@db/ks", SECRET),
    (f"postgresql://ks@db/ks?password={SECRET}", SECRET),
    (f"postgresql://ks:{SECRET.replace('5', '%35')}@db/ks", SECRET),  # libpq decodes it: scrub both forms
    (f"postgresql://ks:{SECRET}/x@db/ks", SECRET + "/x"),
])
def test_url_secrets_finds_every_form_of_the_password(url, password):
    from killswitch.state.urls import scrub, url_secrets

    text = scrub(f"error: password {password} for {url} refused", url_secrets(url))
    assert password not in text and SECRET not in text


def test_unreachable_postgres_error_names_the_host_but_not_the_password(caplog):
    caplog.set_level(logging.DEBUG)
    url = f"postgresql://ks:{SECRET}@127.0.0.1:{free_port()}/ks?connect_timeout=3"
    with pytest.raises(StoreError) as err:
        open_store(url)
    assert "127.0.0.1" in str(err.value) and "ks:***@" in str(err.value)
    assert SECRET not in all_text(err.value)
    assert SECRET not in caplog.text


def test_postgres_store_never_shows_its_password(pg_server, caplog):
    caplog.set_level(logging.DEBUG)
    url = pg_server.url().replace("postgres@", f"postgres:{SECRET}@")  # trust auth: the password is not checked
    with open_store(url) as s:
        assert isinstance(s, PostgresStore)
        assert SECRET not in repr(s) and SECRET not in s.url and SECRET not in str(vars(s).get("url"))
        assert s.schema_version() >= 1
    assert SECRET not in caplog.text


def test_postgres_store_reconnects_after_its_connection_was_killed(own_pg_server):
    """(On a server of this module's own: it terminates every other backend of its database.)"""
    import psycopg

    from .conftest import _reset_pg

    url = own_pg_server.url()
    _reset_pg(url)
    with open_store(url) as s:
        fence = s.acquire_lease("a", 60_000, 0)
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        with pytest.raises(StoreError):  # the call that meets the dead connection fails: no blind retry
            s.audit("x", 1, {})
        assert s.audit("x", 1, {}) == 1  # the next one reconnects
        assert s.current_fence() == fence and s.verify_audit() == (True, None)


def test_a_postgres_call_unanswered_past_its_deadline_raises_and_the_next_reconnects(own_pg_server):
    """A server that stops answering without closing the connection (cut off by a network that
    drops packets, as here; or paused): the call raises at its deadline instead of holding the
    thread for ever, whichever thread made it, and once the server is reachable again the next
    call reconnects. (On a server of this module's own: it cuts a connection off.)"""
    pg_server = own_pg_server
    import time

    from killswitch.state.postgres import PostgresStore, call_timeout_s
    from tests.tcp_proxy import TcpProxy

    from .conftest import _reset_pg

    url = pg_server.url()
    _reset_pg(url)
    open_store(url).close()
    proxy = TcpProxy(pg_server.port)
    store = PostgresStore(url.replace(f":{pg_server.port}/", f":{proxy.port}/"), lock_timeout_ms=1_000)
    try:
        fence = store.acquire_lease("a", 60_000, 0)
        assert call_timeout_s(1_000) == 2.0 and call_timeout_s(15_000) == 20.0
        proxy.cut()
        started = time.monotonic()
        with pytest.raises(StoreError):
            store.acquire_lease("a", 60_000, 1)
        waited = time.monotonic() - started
        proxy.heal()
        assert 1.9 <= waited < 30, f"the call raised after {waited:.1f}s, its deadline is 2 s"
        assert proxy.dropped > 0
        assert store.current_fence() == fence  # reconnected (the renewal may or may not have committed)
    finally:
        store.close()
        proxy.close()
