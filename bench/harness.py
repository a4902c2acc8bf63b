"""What the process benchmarks share: the machine they ran on, the simulated exchange and ``ksctl run``
as processes, a throwaway PostgreSQL server, percentiles, and reading the lease.

Everything listens on 127.0.0.1 and every process started here is stopped by the caller (``stop``,
``Pg.stop``), by its own id. Used by ``bench/api_load.py``, ``bench/ha_takeover.py`` and
``bench/crash_soak.py``; not a test helper (tests use ``tests/procs.py`` and the ``pg_server``
fixture).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import pwd
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

# This checkout's code, whatever the venv installed: run from another checkout (the tree before a
# change, beside the one after it, with one venv whose editable install is the other), a bench
# measures the checkout it is in, in this process and in every process it starts (the simulated
# venue, ``ksctl run``, a spawned venue). A bench that imports the package before this module
# puts ROOT first itself.
ROOT = Path(__file__).resolve().parent.parent
if sys.path[:1] != [str(ROOT)]:
    sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))

PYTHON = Path(sys.executable)
KSCTL = PYTHON.with_name("ksctl")
API_TOKEN = "bench-api-token"  # a throwaway token for a runner on loopback: never printed
ENV = {**os.environ, "KS_B_KEY": "sim-main-key", "KS_B_SECRET": "sim-main-secret", "KS_API_TOKEN": API_TOKEN}

# A calm book: the runner ticks, evaluates and saves every 200 ms and enters no stage, so what is
# measured is the runner's own work under the load, not an incident's orders.
POLICY = """\
apiVersion: killswitch/v1
kind: Policy
metadata: {name: bench-book}
spec:
  scope: {level: account, accounts: {match_labels: {book: futures}}}
  interval: 200ms
  signals:
    dd: {equity_drawdown: {window: 1m, min_coverage: 1%}}
  triggers:
    hard: {when: "dd >= 50%", on_missing_data: hold}
  stages:
    - {level: 1, name: flatten, on: [hard], reset: manual,
       actions: [{cancel_orders: all}, close_all, {lock_trading: {mode: halted}}]}
"""
TICK_S = 0.2
ACCOUNT = "binanceusdm/sim-main"


def cpu_model(default: str = "unknown CPU") -> str:
    """The CPU's model name as /proc/cpuinfo gives it (``default`` where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def machine() -> str:
    """Cores and CPU model (from /proc/cpuinfo), the date, and how fast the machine runs Python
    just now (:func:`reference_ms`): printed beside every figure."""
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return f"{os.cpu_count()} cores, {cpu_model(platform.processor() or 'unknown CPU')}, " \
        f"Python {platform.python_version()}, {day}, reference loop {reference_ms():.1f} ms"


def reference_loop() -> float:
    """CPU milliseconds of one run of the reference loop (float arithmetic, a dict, a list; about
    10 ms on the machine the goals were set on). A figure divided by loops timed beside it is the
    code's, not the machine's mood: see :func:`reference_ms`."""
    import time

    t = time.process_time()
    xs = [i * 0.5 for i in range(60_000)]
    acc: dict[int, float] = {}
    for i, x in enumerate(xs):
        acc[i % 97] = acc.get(i % 97, 0.0) + abs(x - 3.0) / (x + 1.0)
    sum(acc.values())
    return (time.process_time() - t) * 1000


def reference_ms(runs: int = 7) -> float:
    """CPU milliseconds of the reference loop (:func:`reference_loop`), median of ``runs`` after
    one that warms: a shared machine can run the same code at different speeds from one hour to
    the next, and a figure taken beside this one can be compared with one taken beside another
    (a ratio of the two is the machine, not the code)."""
    import statistics

    reference_loop()  # warm
    return statistics.median(reference_loop() for _ in range(runs))


def rss_mb() -> float:
    """This process's resident set size in MB (/proc), else its peak (getrusage)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def soak_ticks(runner, clock, ticks: int, step_ms: int, before_tick: Optional[Callable[[], None]] = None):
    """``ticks`` ticks of ``runner``, the manual ``clock`` moved ``step_ms`` before each (after
    ``before_tick``): the resident set sampled before the first tick and twenty times along, each
    sample printed. Returns (samples [(tick, MB)], snapshots ms per tick, the runner's own ms per
    tick, wall seconds)."""
    samples = [(0, rss_mb())]
    print(f"  before the first tick: {samples[0][1]:.0f} MB", flush=True)
    snap_ms: list[float] = []
    own_ms: list[float] = []
    every = max(1, ticks // 20)
    start = time.perf_counter()
    for t in range(1, ticks + 1):
        if before_tick is not None:
            before_tick()
        clock.advance(step_ms)
        report = await runner.tick()
        s0, s1 = report.phases["snapshots"]
        snap_ms.append((s1 - s0) / 1e6)
        own_ms.append((report.ended_ns - report.started_ns - (s1 - s0)) / 1e6)
        if t % every == 0 or t == ticks:
            samples.append((t, rss_mb()))
            print(f"  tick {t:,}: {samples[-1][1]:.0f} MB  ({time.perf_counter() - start:.0f} s)", flush=True)
    return samples, snap_ms, own_ms, time.perf_counter() - start


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks; nan when empty."""
    if not values:
        return float("nan")
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spawn_venue(target: Callable[..., None], *args: object) -> tuple[Any, Any, int]:
    """A venue in a process of its own (spawned: nothing of this process is inherited) running
    ``target(conn, *args)``, which sends ``("port", port)`` first: the process, this end of the
    pipe, and the port."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    conn, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, *args), daemon=True)
    proc.start()
    kind, port = conn.recv()
    assert kind == "port"
    return proc, conn, port


class VenueProcess:
    """The bench's end of a venue process (:func:`spawn_venue` of ``target``): ``do(cmd, arg)``
    sends a command and waits for its answer, the second item of the reply; ``close`` stops it."""

    def __init__(self, target: Callable[..., None], *args: object):
        self.proc, self.conn, self.port = spawn_venue(target, *args)

    def do(self, cmd: str, arg: Any = None) -> Any:
        self.conn.send((cmd, arg))
        return self.conn.recv()[1]

    def close(self) -> None:
        try:
            self.do("stop")
        except (OSError, EOFError):
            pass
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond: Callable[[], object], timeout: float, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if cond():
                return True
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(step)
    return False


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop(p: Optional[subprocess.Popen], sig: int = signal.SIGKILL) -> None:
    """Stop a process this harness started (SIGCONT first, in case it is stopped) and reap it."""
    if p is None or p.poll() is not None:
        return
    try:
        p.send_signal(signal.SIGCONT)
        p.send_signal(sig)
        p.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        p.kill()
        p.wait(5)


def get_json(url: str, timeout: float = 5.0, token: Optional[str] = None) -> dict:
    """A GET's JSON answer; ``token``: sent as the bearer (the status shows the book: it needs one)."""
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


class Sim:
    """The simulated exchange (calm scenario) as its own process on 127.0.0.1; with ``positions``,
    a calm book of that many positions in ``sim-main`` instead (``serve --positions``); with
    ``accounts``, that many accounts ``sim-0``… (``serve --accounts``); ``resting``: with
    ``positions``, that many entry orders resting beside them (``serve --resting``). Its
    output goes to ``<name>.log`` under ``work``."""

    def __init__(self, work: Path, scenario: str = "calm", *, positions: int = 0, accounts: int = 0,
                 name: str = "sim", resting: int = 0):
        self.port = free_port()
        self.log = open(work / f"{name}.log", "w")
        book = (["--positions", str(positions), *(["--resting", str(resting)] if resting else [])] if positions
                else ["--accounts", str(accounts)] if accounts else ["--scenario", scenario])
        self.proc = subprocess.Popen([str(PYTHON), "-m", "adapters.simulated", "serve", *book,
                                      "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_until(lambda: listening(self.port), 60):
            self.close()
            raise RuntimeError("the simulated exchange did not start")

    def close(self) -> None:
        stop(self.proc)
        self.log.close()


def write_inputs(work: Path, sim_port: int, policy: str = POLICY) -> tuple[Path, Path]:
    pol = work / "policies"
    pol.mkdir(exist_ok=True)
    (pol / "bench-book.yaml").write_text(policy)
    acc = work / "accounts.yaml"
    acc.write_text(f"""\
apiVersion: killswitch/v1
kind: Accounts
metadata: {{name: bench}}
spec:
  dry_run: true
  accounts:
    - name: sim-main
      venue: binanceusdm
      market_type: futures
      labels: {{book: futures}}
      api_url: http://127.0.0.1:{sim_port}
      credentials: {{api_key: {{env: KS_B_KEY}}, secret: {{env: KS_B_SECRET}}}}
""")
    return pol, acc


def start_runner(work: Path, pol: Path, acc: Path, state_url: str, holder: str, api_port: int,
                 lease_ttl: str = "5s", extra: tuple[str, ...] = (),
                 ksctl: Sequence[str] = (str(KSCTL),)) -> subprocess.Popen:
    """``ksctl run`` on 127.0.0.1:api_port (and ``extra`` options); its output goes to
    <holder>.out / <holder>.err under ``work``. ``ksctl`` is the command that runs it (a
    wrapper that stamps its path, ``bench/stream_trace.py``, takes the same arguments)."""
    out = open(work / f"{holder}.out", "a")
    err = open(work / f"{holder}.err", "a")
    try:
        return subprocess.Popen(
            [*ksctl, "run", "--policies", str(pol), "--accounts", str(acc), "--state", state_url,
             "--lock-file", str(work / f"lock-{holder}.json"), "--api-host", "127.0.0.1", "--api-port", str(api_port),
             "--holder", holder, "--lease-ttl", lease_ttl, *extra], stdout=out, stderr=err, env=ENV)
    finally:
        out.close()
        err.close()


def ready(api: str) -> Optional[str]:
    """What /readyz says (LEADER, STANDBY, ...), or None while it does not answer 200."""
    try:
        return get_json(api + "/readyz", timeout=2)["reason"]
    except Exception:  # noqa: BLE001 - not ready yet (503) or not up
        return None


class Pg:
    """A throwaway PostgreSQL server on a free loopback port (``initdb`` + ``pg_ctl``), as an
    unprivileged user when run as root (initdb refuses root). ``stop`` removes it."""

    USER = "ksci"

    def __init__(self, max_connections: int = 50):
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        self.pg_ctl = pg_ctl
        self.user = self._user()
        self.base = Path(tempfile.mkdtemp(prefix="ks-bench-pg-"))
        if self.user is not None:
            os.chown(self.base, self.user.pw_uid, self.user.pw_gid)
        self.port = free_port()
        self.data = self.base / "data"
        self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        # fsync stays on: the figures are those of a durable server, as in production
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}",
                  "start")
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute('CREATE DATABASE "ks_bench"')

    def url(self, db: str = "ks_bench") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def database(self, name: str) -> str:
        """A new, empty database (``name``: letters, digits and underscores); its URL."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _user(self) -> Optional[pwd.struct_passwd]:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(self.USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin", self.USER],
                           check=True, capture_output=True)
            return pwd.getpwnam(self.USER)

    def _run(self, *cmd: str) -> None:
        kw = {}
        if self.user is not None:
            kw = dict(user=self.user.pw_uid, group=self.user.pw_gid, extra_groups=[])
        r = subprocess.run(list(cmd), env=dict(os.environ, HOME=str(self.base), LC_ALL="C"), cwd=self.base,
                           capture_output=True, text=True, timeout=120, **kw)
        if r.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({r.returncode}): {r.stderr.strip()[-500:]}")

    def stop(self, remove: bool = True) -> None:
        """Stop the server; with ``remove``, delete its files too."""
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except Exception:  # noqa: BLE001 - removed regardless
            pass
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return str(d / name)
    raise RuntimeError(f"{name} not found: PostgreSQL's server binaries are needed for this layout")


def lease(state_url: str) -> tuple[Optional[str], int]:
    """(holder, fencing token) of the lease as the store holds it."""
    from killswitch.state import open_store

    store = open_store(state_url, migrate=False)
    try:
        le = store.lease()
        return le.holder, le.fence
    finally:
        store.close()
