"""Helpers for tests that run processes against the simulated exchange on 127.0.0.1."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

# A port handed out here is chosen below the kernel's ephemeral range (32768 on Linux), from a
# block of the xdist worker's own: a server that binds port 0 (the simulators, a runner's readers)
# is given an ephemeral port, so it can never take one a test was handed and has not bound yet,
# and two workers never hand out the same one (a port picked by binding 0 and closed again could
# go to the next bind(0) of any process: a runner then found its API port taken). Each run starts
# at its own place in the block (by its process id), so two suites run side by side on one machine
# seldom try the same port at the same moment.
PORT_BASE, PORT_BLOCK = 20_000, 1_500
_next_port: dict[str, int] = {}


@functools.cache
def _below_ephemeral() -> bool:
    """Whether the workers' blocks lie below the kernel's ephemeral range (else: ports by bind(0))."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return low >= PORT_BASE + 8 * PORT_BLOCK


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now, from this worker's block (see above)."""
    if not _below_ephemeral():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    n = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    first = PORT_BASE + (n % 8) * PORT_BLOCK
    for _ in range(PORT_BLOCK):
        at = _next_port.get(worker, os.getpid() % PORT_BLOCK)
        _next_port[worker] = (at + 1) % PORT_BLOCK
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", first + at))
            except OSError:  # in use, or still closing: the next one
                continue
            return first + at
    raise RuntimeError(f"no free port in {first}..{first + PORT_BLOCK - 1}")


# ``ksctl run``'s option where a test is not about the reader processes (tokens, TLS, sign-in, a
# proxy, the console, the audit chain): the accounts' adapters in the runner's own process, as a
# deployment's ``--readers 0`` has them, not in a reader process that imports again most of what
# the runner imports, ccxt's cost moved into the runner (a start's CPU 2.3 s → 1.9 s;
# docs/benchmark-history.md, "the suite's CPU"). The readers' own tests and the others keep the
# default.
NO_READERS = ("--readers", "0")


def wait_port(port: int, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


@contextmanager
def simulated_exchange(scenario: str = "calm") -> Iterator[int]:
    """The simulated exchange serving ``scenario`` as a process on a free port: its port, once it
    listens; the process stopped after."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "adapters.simulated", "serve", "--scenario", scenario,
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield port
    finally:
        server.terminate()
        server.wait(10)


def accounts_file(tmp_path: Path, port: int, dry_run: str = "true", strategies: Sequence[str] = (),
                  paced: bool = False) -> Path:
    """An Accounts document for the simulator's sim-main account (keys from KS_T_KEY / KS_T_SECRET),
    naming ``strategies`` (the bots whose heartbeats the runner takes). ``paced``: the account says
    the simulator paces requests itself (``paced_by_venue``), as it does in simulated time: the
    runner's ccxt client then runs without ccxt's throttle (~0.2 s a tick at 200 ms, not 1-2 s)."""
    f = tmp_path / "accounts.yaml"
    named = f"      strategies: [{', '.join(strategies)}]\n" if strategies else ""
    if paced:
        named += "      paced_by_venue: true\n"
    f.write_text(f"""\
apiVersion: killswitch/v1
kind: Accounts
metadata: {{name: test}}
spec:
  dry_run: {dry_run}
  accounts:
    - name: sim-main
      venue: binanceusdm
      market_type: futures
      labels: {{book: futures}}
      api_url: http://127.0.0.1:{port}
      credentials: {{api_key: {{env: KS_T_KEY}}, secret: {{env: KS_T_SECRET}}}}
{named}""")
    return f


async def until(predicate, what: str, deadline_s: float = 60.0) -> None:
    """Wait on the running loop until ``predicate()`` holds, at most ``deadline_s`` (a bound on
    waits for events, never a measured duration): then the test fails saying what it waited for."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not predicate():
        if loop.time() > end:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.05)


def wait_for(predicate, what: str, deadline_s: float = 60.0) -> Any:
    """:func:`until` for a test on threads: polls ``predicate()`` until it holds and returns its
    value, at most ``deadline_s`` (a bound only a hang reaches)."""
    end = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.02)


def counted(api: str, name: str) -> float:
    """The counter ``name`` (no labels) of the runner serving ``api``, from its ``/metrics``; -1
    before it counts any."""
    import re
    import urllib.request

    with urllib.request.urlopen(api + "/metrics", timeout=10) as resp:
        m = re.search(rf"^{name} ([\d.e+]+)$", resp.read().decode(), re.M)
    return float(m.group(1)) if m else -1


def ticks_of(api: str) -> int:
    """How many ticks the runner serving ``api`` has run (its ``killswitch_ticks_total``)."""
    return int(counted(api, "killswitch_ticks_total"))


def ticked(api: str, n: int) -> None:
    """Wait until the runner serving ``api`` has run ``n`` more ticks: what they would have done
    (sent an order, written a row) is done."""
    start = ticks_of(api)
    wait_for(lambda: ticks_of(api) >= start + n, f"{n} more ticks of the runner at {api}")


def paced_by_the_simulator(monkeypatch: Any) -> None:
    """``ksctl run`` in this process (``Daemon.run``) builds its ccxt adapters as ``ksctl demo``
    does for the simulated exchange, which paces itself: without ccxt's own throttle, which paces
    requests to the real venue's weights (about 2 s a tick against the simulator) and counts the
    retries of failed calls too (5 s a tick while the venue is down). What the runner does with
    what it reads is the same; only the ticks' wall time changes."""
    import killswitch.process.bootstrap as bootstrap_module

    monkeypatch.setattr(bootstrap_module, "ccxt_adapters",
                        functools.partial(bootstrap_module.ccxt_adapters, rate_limit=False))


class Receiver:
    """Pages' receiver on a loopback port (apprise ``json://127.0.0.1:PORT/...``) that takes every
    post: a test whose subject is not paging, so that no page is being retried when the runner
    stops (a stop waits up to 5 s for deliveries in flight). ``bodies``: what it received."""

    def __init__(self) -> None:
        import http.server
        import threading

        bodies: list[bytes] = []
        self.bodies = bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
