"""Fixtures of the state store suite: every test runs against SQLite and a real PostgreSQL.

PostgreSQL is started once per session: ``initdb`` into a temp dir and ``pg_ctl start`` on a
free loopback port, then stopped and removed at the end. initdb refuses to run as root, so as
root the server runs as an unprivileged system user (``ksci``, created if missing). Without
the binaries (PATH or /usr/lib/postgresql/*/bin) the PostgreSQL half skips, or fails under
KS_REQUIRE_ALL=1 as in CI (tests/conftest.py ``require_tool``).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest

from killswitch.state import open_store

from ..conftest import require_tool

PG_USER = "ksci"  # the OS user the test server runs as when the suite runs as root
PG_DB = "ks_test"


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary: on PATH, else the newest /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found

    def version(d: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", Path(d).parent.name))

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return require_tool(name)  # skips, or fails under KS_REQUIRE_ALL=1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> Optional[pwd.struct_passwd]:
    """The unprivileged user to run the server as, when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(PG_USER)


@dataclass
class PgServer:
    base: Path
    port: int
    pg_ctl: str
    user: Optional[pwd.struct_passwd]

    @property
    def data(self) -> Path:
        return self.base / "data"

    def url(self, db: str = PG_DB) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def run(self, *cmd: str) -> subprocess.CompletedProcess:
        kw = {}
        if self.user is not None:
            kw = dict(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        env = dict(os.environ, HOME=str(self.base), LC_ALL="C")
        return subprocess.run(list(cmd), env=env, cwd=self.base, capture_output=True, text=True, timeout=120, **kw)


def _start(initdb: str, pg_ctl: str) -> PgServer:
    user = _server_user()
    base = Path(tempfile.mkdtemp(prefix="ks-pg-"))
    if user is not None:
        os.chown(base, user.pw_uid, user.pw_gid)
    srv = PgServer(base, free_port(), pg_ctl, user)
    steps = [
        # trust on loopback only; --no-sync and fsync=off: a throwaway server, speed over durability
        (initdb, "-D", str(srv.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"),
        (pg_ctl, "-D", str(srv.data), "-l", str(base / "server.log"), "-w", "-t", "60", "-o",
         f"-p {srv.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50", "start"),
    ]
    for cmd in steps:
        r = srv.run(*cmd)
        if r.returncode != 0:
            log = (base / "server.log").read_text() if (base / "server.log").exists() else ""
            shutil.rmtree(base, ignore_errors=True)
            pytest.fail(f"{' '.join(cmd[:1])} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n{log}")
    return srv


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server of our own for the session, with an empty database ``ks_test``."""
    import psycopg

    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    srv = _start(initdb, pg_ctl)
    try:
        with psycopg.connect(srv.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {PG_DB}")
        yield srv
    finally:
        srv.run(pg_ctl, "-D", str(srv.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(srv.base, ignore_errors=True)


def _reset_pg(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


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
