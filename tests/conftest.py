"""Shared test helpers: the repository root, golden files, tools that CI must have, and the
session's PostgreSQL server (``pg_server``, and ``pg_database``: a database per test)."""

from __future__ import annotations

import gc
import glob
import hashlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"


def bench_module(name: str):
    """``bench/<name>.py`` as a module, loaded once per process: the benches are scripts, not a
    package, and tests call their generators and checks (registered in ``sys.modules`` first, as
    its dataclasses need)."""
    key = f"bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "bench" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]

# Compiled runbook templates (killswitch/runbooks/compiled.py) go to a directory of this test run,
# for the commands the tests start too, not to the user's own.
_TEMPLATE_CACHE = tempfile.TemporaryDirectory(prefix="ks-template-cache-")
os.environ["KS_TEMPLATE_CACHE"] = _TEMPLATE_CACHE.name


def pytest_addoption(parser):
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden files; review the diff")


# --- the tests' scratch directories on tmpfs ----------------------------------------------------
# What the tests write goes under ``tmp_path``: the SQLite stores they open (synchronous=FULL: an
# fsync a commit), the lock files a runner fsyncs every tick, the state of the ``ksctl run``
# processes they start. On a disk those fsyncs were a fifth of tests/unit/runner's time (two
# cores: 111.6 s, 89.7 s on tmpfs). No test proves durability against a power cut (a process
# killed leaves what it wrote to the kernel). So a run given no --basetemp keeps its scratch
# directories in a directory of its own on /dev/shm, and removes it at its end, when /dev/shm is
# writable, has room (a run writes a few hundred MB: pre-commit's and a wheel's venvs among them)
# and lets a file written there be run (Docker mounts its /dev/shm noexec, 64 MB); otherwise the
# default, under the system's temp directory. A run that fails keeps it, for a look at what its
# tests left (the summary says where: remove it after); --basetemp DIR chooses the place.
TMPFS = Path("/dev/shm")
TMPFS_ROOM = 4 << 30


def tmpfs_basetemp() -> Optional[str]:
    """A new directory on /dev/shm for a run's scratch directories; None where it would not do."""
    try:
        if not (TMPFS.is_dir() and os.access(TMPFS, os.W_OK)) or shutil.disk_usage(TMPFS).free < TMPFS_ROOM:
            return None
        base = tempfile.mkdtemp(prefix="ks-pytest-", dir=TMPFS)
    except OSError:
        return None
    probe = Path(base) / "probe"
    try:
        probe.write_text("#!/bin/sh\nexit 0\n")
        probe.chmod(0o700)
        runs = subprocess.run([str(probe)], timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):  # noexec: EACCES
        runs = False
    if not runs:
        shutil.rmtree(base, ignore_errors=True)
        return None
    probe.unlink()
    return base


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before pytest reads --basetemp (and pytest-xdist hands each worker a directory under it)."""
    if config.option.basetemp is not None or hasattr(config, "workerinput"):
        return
    base = tmpfs_basetemp()
    if base is not None:
        config.option.basetemp = base
        config.stash[_TMPFS_BASE] = base


_TMPFS_BASE = pytest.StashKey[str]()


def pytest_unconfigure(config: pytest.Config) -> None:
    base = config.stash.get(_TMPFS_BASE, None)
    if base is not None and not config.stash.get(_FAILED, False):
        _keep_screenshots(Path(base))
        shutil.rmtree(base, ignore_errors=True)


_FAILED = pytest.StashKey[bool]()
SHOTS_KEPT = 3  # runs whose console screenshots stay in the system's temp directory


def _screenshots(base: Path) -> list[Path]:
    """The console screenshots' directories (tests/browser/conftest.py) of the run in ``base``:
    its own, or each xdist worker's."""
    return sorted([*base.glob("console-screenshots"), *base.glob("popen-*/console-screenshots")])


def _screenshots_kept(base: Path) -> Path:
    return Path(tempfile.gettempdir()) / f"ks-console-screenshots-{base.name.removeprefix('ks-pytest-')}"


def _keep_screenshots(base: Path) -> None:
    """A passing run's console screenshots moved out of tmpfs to the system's temp directory (one
    directory a worker), where the last runs' stay as pytest's own base directories did."""
    found = _screenshots(base)
    if not found:
        return
    kept = _screenshots_kept(base)
    for d in found:
        dest = kept / (d.parent.name if d.parent != base else "main")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(d), str(dest))
    runs = sorted(kept.parent.glob("ks-console-screenshots-*"), key=lambda d: d.stat().st_mtime)
    for old in runs[:-SHOTS_KEPT]:
        shutil.rmtree(old, ignore_errors=True)


def pytest_collection_modifyitems(session, config, items):
    """The tests that use helm run last (otherwise in their usual order): on a fresh machine
    `make test` builds helm in the background meanwhile, and the ``helm`` fixture waits for it
    (tests/chart/conftest.py)."""
    items.sort(key=lambda item: "helm" in getattr(item, "fixturenames", ()))


def pytest_collection_finish(session) -> None:
    """What the collection made (every test module and what it imports: pydantic's models,
    hypothesis, the adapters) moved out of the collector's full walks, as a runner does after its
    first tick (:func:`gc.freeze`): none of it is garbage, and each worker walked it all again at
    every full collection (a tenth of the CPU of the unit tests of the engine and the loader went
    to the collector; docs/benchmark-history.md, "the suite's CPU")."""
    gc.collect()
    gc.freeze()


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
    "nginx": "apt install nginx",
    "rsyslogd": "apt install rsyslog rsyslog-gnutls",
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
    fail on them. A failed run on tmpfs says where its tests' files are kept."""
    base = config.stash.get(_TMPFS_BASE, None)
    if base is not None and exitstatus != 0:
        config.stash[_FAILED] = True
        terminalreporter.write_line(f"the tests' files are kept in {base} (tmpfs: remove it when done)")
    elif base is not None and _screenshots(Path(base)):
        terminalreporter.write_line(f"console screenshots kept in {_screenshots_kept(Path(base))}")
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


@pytest.fixture(autouse=True)
def _ccxt_closes_at_once() -> None:
    """ccxt's async ``close()`` ends by sleeping ``timeout_on_exit`` (250 ms) for aiohttp's TLS
    transports to finish closing (ccxt/ccxt#23470): a quarter of a second of every test that
    closes a ccxt client. A test's clients speak plain HTTP on 127.0.0.1, or not at all (``fetch``
    replaced), so nothing is left to wait for: the session and connector are closed as before,
    without the sleep. A test process only; the ``ksctl`` processes a test starts keep ccxt's."""
    found = sys.modules.get("ccxt.async_support.base.exchange")
    if found is not None and found.Exchange.timeout_on_exit:
        found.Exchange.timeout_on_exit = 0


@pytest.fixture
def update_goldens(request) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def require_tool(name: str) -> str:
    """Path of an external tool; skip without it, or fail when KS_REQUIRE_ALL=1 (as in CI). A
    daemon Debian installs in /usr/sbin (rsyslogd, nginx) is found there when the PATH of a user
    who is not root leaves it out."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
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
#
# The session's server is shared by every test of the worker, one after another, and by the
# connections they leave to close: a test that kills, pauses (SIGSTOP), restarts or cuts off
# PostgreSQL, or terminates backends, takes a server of its own (``own_pg_server``, a module's;
# ``private_pg()``), never the session's. Each test that used the session's server is checked
# after it ran (``_shared_pg_unharmed``): the server still runs, was not restarted (a backend
# killed by a signal makes PostgreSQL end every connection, "server closed the connection
# unexpectedly" in whichever test holds one), and no backend of the shared database was
# terminated by another's command; otherwise that test errors, naming what it did.

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
    log_seen: int = 0  # bytes of server.log already looked at (log_since)

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
        self.resume()  # (a test that failed while it was paused)
        self.run(self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, writers...)."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return []
        postmaster = int(pid_file.read_text().split()[0])
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True,
                                  text=True).stdout.split()
        return [postmaster, *map(int, children)]

    def resume(self) -> None:
        """SIGCONT to every process of the server (after a pause, or a test that failed in one)."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def log_since(self) -> str:
        """What the server logged since the last call (the first: since it started)."""
        path = self.base / "server.log"
        if not path.exists():
            return ""
        if path.stat().st_size < self.log_seen:  # (started again with a new log)
            self.log_seen = 0
        with open(path, "rb") as f:
            f.seek(self.log_seen)
            news = f.read()
        self.log_seen += len(news)
        return news.decode(errors="replace")


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
        # the log names each line's database (a backend terminated in the shared one is a test's fault)
        (pg_ctl, "-D", str(srv.data), "-l", str(base / "server.log"), "-w", "-t", "60", "-o",
         f"-p {srv.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50 "
         "-c log_line_prefix='%m [%p] db=%d '", "start"),
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


@contextmanager
def private_pg() -> Iterator[PgServer]:
    """A PostgreSQL server of the caller's alone (its URL's database ``ks_test`` created), for a
    test that kills, pauses, restarts or cuts it off: stopped and removed afterwards."""
    srv = _start_pg(pg_bin("initdb"), pg_bin("pg_ctl"))
    try:
        srv.create_database(PG_DB)
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def own_pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for this module's tests alone (see ``private_pg``): what they do to it
    (SIGSTOP, pg_terminate_backend, a proxy that drops its packets) reaches no other test. The
    tests of the module take turns on it, each on a database of its own or after emptying it."""
    with private_pg() as srv:
        yield srv


_HARMS = (
    (re.compile(r"(?m)^.*(terminated by signal|was terminated by exception|all server processes terminated"
                r"|terminating any other active server processes).*$"),
     "a backend died of a signal, and PostgreSQL ended every other connection to restart"),
    (re.compile(r"(?m)^.*received (smart|fast|immediate) shutdown request.*$"), "the server was stopped"),
    (re.compile(rf"(?m)^.* db={PG_DB} FATAL:  terminating connection due to administrator command$"),
     "backends of the shared database were terminated (pg_terminate_backend)"),
)


@pytest.fixture(autouse=True)
def _shared_pg_unharmed() -> Iterator[None]:
    """After each test, while the session's server runs: what it logged meanwhile shows no harm
    (see the section's comment), or the test errors, naming it. Reads the log's new lines only."""
    yield
    srv = _PG["server"]
    if srv is None:
        return
    news = srv.log_since()
    for pattern, what in _HARMS:
        found = pattern.search(news)
        if found:
            pytest.fail(f"the session's PostgreSQL server, which later tests share, was harmed during this test: "
                        f"{what}:\n  {found.group(0).strip()}\n  a test that does this takes a server of its own "
                        "(own_pg_server, private_pg)", pytrace=False)


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
