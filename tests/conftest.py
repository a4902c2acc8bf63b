"""Shared test helpers: the repository root, golden files, tools that CI must have, and the
session's PostgreSQL server (``pg_server``, and ``pg_database``: a database per test)."""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"

# Compiled runbook templates (killswitch/runbooks/compiled.py) go to a directory of this test run,
# for the commands the tests start too, not to the user's own.
_TEMPLATE_CACHE = tempfile.TemporaryDirectory(prefix="ks-template-cache-")
os.environ["KS_TEMPLATE_CACHE"] = _TEMPLATE_CACHE.name


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files; review the diff")


def pytest_collection_modifyitems(session, config, items):
    """The tests that use helm run last (otherwise in their usual order): on a fresh machine
    `make test` builds helm in the background meanwhile, and the ``helm`` fixture waits for it
    (tests/chart/conftest.py)."""
    items.sort(key=lambda item: "helm" in getattr(item, "fixturenames", ()))


# What a missing tool's skip reason names, and where a Debian machine gets it (README's first lines).
TOOL_SOURCES = {
    "chromium": "apt install chromium chromium-driver",
    "chromedriver": "apt install chromium chromium-driver",
    "selenium": "pip install -e '.[test]'",
    "promtool": "apt install prometheus",
    "hadolint": "pip install -e '.[test]'",
    "helm": "Go on PATH; `make tools` builds it",
    "helm-unittest": "Go on PATH; `make tools` builds it",
    "initdb": "apt install postgresql",
    "pg_ctl": "apt install postgresql",
    "git": "apt install git",
}
_MISSING = re.compile(r"^(?P<tool>[\w.-]+) not installed")


def skipped_suites(skips: list[tuple[str, str]]) -> list[str]:
    """Lines saying which test files skipped for a missing tool, grouped by tool, and how to get
    it: ``skips`` is (test file, skip reason) per skipped test. Other skips are not listed here
    (``-ra`` prints them all)."""
    by_tool: dict[str, dict[str, int]] = {}
    for path, reason in skips:
        found = _MISSING.match(reason)
        if found:
            files = by_tool.setdefault(found["tool"], {})
            files[path] = files.get(path, 0) + 1
    lines = []
    for tool in sorted(by_tool):
        files = by_tool[tool]
        source = TOOL_SOURCES.get(tool, "install it")
        lines.append(f"{tool} not installed ({source}): {sum(files.values())} tests skipped in")
        lines.extend(f"    {path} ({n})" for path, n in sorted(files.items()))
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """A local run says which suites it did not run and why: `make test` on a machine without
    chromium, PostgreSQL or Go passes with those suites skipped, and CI (KS_REQUIRE_ALL=1) would
    fail on them."""
    skips = []
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            skips.append((report.nodeid.split("::")[0], reason))
    lines = skipped_suites(skips)
    if lines:
        terminalreporter.section("suites skipped for a missing tool (CI runs them all)", yellow=True)
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def update_goldens(request) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def require_tool(name: str) -> str:
    """Path of an external tool; skip without it, or fail when KS_REQUIRE_ALL=1 (as in CI)."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("KS_REQUIRE_ALL") == "1":
            pytest.fail(f"{name} is required (KS_REQUIRE_ALL=1) but not installed")
        pytest.skip(f"{name} not installed")
    return path


def require_module(name: str) -> None:
    """Skip without an importable ``name`` (a tool run as ``python -m name``), or fail when
    KS_REQUIRE_ALL=1 (as in CI): the ``test`` extra installs it."""
    if importlib.util.find_spec(name) is None:
        if os.environ.get("KS_REQUIRE_ALL") == "1":
            pytest.fail(f"{name} is required (KS_REQUIRE_ALL=1) but not installed; pip install -e '.[test]'")
        pytest.skip(f"{name} not installed")


def check_golden(path: Path, actual: str, update: bool) -> None:
    if update or not path.exists():
        if not update and os.environ.get("KS_REQUIRE_ALL") == "1":
            pytest.fail(f"golden file {path} is missing; run pytest --update-goldens and review it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    expected = path.read_text()
    assert actual == expected, f"{path} differs; rerun with --update-goldens and review the diff"


# --- PostgreSQL for the test run ---------------------------------------------------------------------
#
# One server per session, started on first use: ``initdb`` into a temp dir and ``pg_ctl start``
# on a free loopback port, stopped and removed at the end. initdb refuses to run as root, so as
# root the server runs as an unprivileged system user (``ksci``, created if missing). Without
# the binaries (PATH or /usr/lib/postgresql/*/bin) the tests that need it skip, or fail under
# KS_REQUIRE_ALL=1 as in CI (``require_tool``). Suites that import ``pg_server`` into their own
# conftest or module still share the one server: the fixture hands out a process-wide instance
# and the last of its users stops it.

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

    def create_database(self, name: str) -> str:
        """A new, empty database (dropped first if a previous run left it); its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self.run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


def _start_pg(initdb: str, pg_ctl: str) -> PgServer:
    from tests.procs import free_port

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


_PG: dict = {"server": None, "users": 0}


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL server, with an empty database ``ks_test`` (see above)."""
    if _PG["server"] is None:
        srv = _start_pg(pg_bin("initdb"), pg_bin("pg_ctl"))
        try:
            srv.create_database(PG_DB)
        except BaseException:
            srv.stop()
            raise
        _PG["server"] = srv
    _PG["users"] += 1
    try:
        yield _PG["server"]
    finally:
        _PG["users"] -= 1
        if _PG["users"] == 0:
            _PG["server"].stop()
            _PG["server"] = None


def reset_pg(url: str) -> None:
    """Empty the database ``url`` names (its public schema, dropped and created again)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def pg_database(pg_server, request) -> Iterator[str]:
    """A database of its own for the test, on the session's server: its URL. Dropped afterwards."""
    name = "ks_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16]
    url = pg_server.create_database(name)
    yield url
    try:
        pg_server.drop_database(name)
    except Exception:  # noqa: BLE001 - a server already gone takes its databases with it
        pass
