"""Benchmark: the API over TLS beside plain HTTP, in one run (``ksctl run --web-config-file``).

Two ``ksctl run`` processes on 127.0.0.1, each against a simulated exchange of its own (calm
scenario; dry run, ticks every 200 ms, SQLite each): ``plain`` as it serves by default (the bots' connections on a
loop of their own) and ``tls`` with a web config file (a P-256 certificate the bench makes, TLS
1.2-1.3 as the client and server agree: 1.3). Both tick throughout; the measures alternate
between them, ``--rounds`` times each, so that the machine's drift falls on both alike:

* check-order: one bot asking ``POST /v1/check-order`` again and again on one keep-alive
  connection (one in flight) for ``--seconds``: latency p50/p99;
* handshakes: a new connection for every ``GET /healthz`` (connect, TLS handshake, request,
  close), one at a time, for ``--seconds``: connections a second;
* the tick period p50/p99 of the runner under the check-order load, from ``last_tick_ms`` read
  every 50 ms (a tick it missed makes a period look longer, never shorter).

Prints each with its TLS / plain ratio, and the reference loop of the machine beside them. The
client runs on the same machine and takes its share of the cores. Exits 1 when a runner stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Optional

import aiohttp
from harness import (
    ACCOUNT,
    API_TOKEN,
    Sim,
    free_port,
    machine,
    median,
    pct,
    start_runner,
    stop,
    wait_until,
    write_inputs,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.tls_certs import Ca  # noqa: E402

ORDER = {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.001, "strategy": "bench"}
TIMEOUT_S = 30.0


def get(url: str, ctx: Optional[ssl.SSLContext], token: Optional[str] = None) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=TIMEOUT_S, context=ctx) as r:
        return json.loads(r.read())


class Ticks:
    """``last_tick_ms`` of a runner every 50 ms, from a thread of its own."""

    def __init__(self, api: str, ctx: Optional[ssl.SSLContext]):
        self.api, self.ctx = api, ctx
        self.seen: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                t = get(self.api + "/v1/status", self.ctx, API_TOKEN).get("last_tick_ms")
                if isinstance(t, int) and (not self.seen or t != self.seen[-1]):
                    self.seen.append(t)
            except Exception:  # noqa: BLE001 - a missed read only widens a period
                pass
            self._stop.wait(0.05)

    def close(self) -> list[float]:
        self._stop.set()
        self._thread.join(TIMEOUT_S + 1)
        return [(b - a) / 1000 for a, b in zip(self.seen, self.seen[1:])]


async def ask_again(api: str, ctx: Optional[ssl.SSLContext], seconds: float) -> tuple[list[float], int]:
    took: list[float] = []
    bad = 0
    end = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=1, ssl=ctx if ctx is not None else False)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S), connector=connector) as session:
        while time.monotonic() < end:
            t0 = time.perf_counter()
            async with session.post(api + "/v1/check-order", json=ORDER) as r:
                await r.read()
                bad += r.status != 200
            took.append(time.perf_counter() - t0)
    return took, bad


def connections(port: int, ctx: Optional[ssl.SSLContext], seconds: float) -> float:
    """New connections a second, each answering one ``GET /healthz``, one at a time."""
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as raw:
            sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1") if ctx is not None else raw
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            if not answer.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"/healthz answered {answer[:80]!r}")
            if ctx is not None:
                sock.close()
        n += 1
    return n / (time.monotonic() - t0)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds of each measure (default 10)")
    ap.add_argument("--rounds", type=int, default=3, help="alternations of the two runners (default 3)")
    ap.add_argument("--warmup", type=float, default=15.0, help="seconds the runners tick first (default 15)")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ks-bench-tls-"))
    sims: list[Sim] = []
    runners: dict[str, object] = {}
    try:
        ca = Ca(work, "bench")
        ca.server()
        (work / "web.yml").write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
        client = ssl.create_default_context(cafile=str(ca.path))
        targets: dict[str, tuple[str, int, Optional[ssl.SSLContext]]] = {}
        for name in ("plain", "tls"):
            (work / name).mkdir()
            sims.append(Sim(work / name))
            pol, acc = write_inputs(work / name, sims[-1].port)
            port = free_port()
            extra = ("--web-config-file", str(work / "web.yml")) if name == "tls" else ()
            runners[name] = start_runner(work / name, pol, acc, f"sqlite://{work / name / 'state.db'}", name, port,
                                         extra=extra)
            ctx = client if name == "tls" else None
            api = f"{'https' if ctx else 'http'}://127.0.0.1:{port}"
            targets[name] = (api, port, ctx)
            if not wait_until(lambda: _ready(api, ctx) == "LEADER", 60, 0.1):
                raise RuntimeError(f"{name} did not lead: {(work / name / f'{name}.err').read_text()[-2000:]}")
        time.sleep(args.warmup)
        got: dict[str, dict[str, list[float]]] = {n: {"check": [], "conns": [], "period": []} for n in targets}
        for _ in range(args.rounds):
            for name, (api, port, ctx) in targets.items():
                ticks = Ticks(api, ctx)
                took, bad = asyncio.run(ask_again(api, ctx, args.seconds))
                got[name]["period"] += ticks.close()
                if bad:
                    raise RuntimeError(f"{name}: {bad} check-orders not answered 200")
                got[name]["check"] += took
                got[name]["conns"].append(connections(port, ctx, args.seconds / 2))
        for name, p in runners.items():
            if p.poll() is not None:  # type: ignore[attr-defined]
                raise RuntimeError(f"{name} exited: {(work / name / f'{name}.err').read_text()[-2000:]}")
        print(f"machine: {machine()}")
        print(f"{args.rounds} rounds of {args.seconds:g} s each way, alternating; TLS 1.3, P-256 certificate\n")
        print("| measure | plain | TLS | TLS / plain |\n|---|---|---|---|")

        def row(what: str, plain: float, tls: float, unit: str) -> None:
            print(f"| {what} | {plain:.2f} {unit} | {tls:.2f} {unit} | {tls / plain:.2f}× |")

        for q, label in ((50, "p50"), (99, "p99")):
            row(f"check-order {label} (keep-alive)", pct(got["plain"]["check"], q) * 1000,
                pct(got["tls"]["check"], q) * 1000, "ms")
        row("new connections a second (handshake + GET /healthz), median of the rounds",
            median(got["plain"]["conns"]), median(got["tls"]["conns"]), "/s")
        for q, label in ((50, "p50"), (99, "p99")):
            row(f"tick period {label} under the check-orders", pct(got["plain"]["period"], q) * 1000,
                pct(got["tls"]["period"], q) * 1000, "ms")
        print(f"\nchecks answered: plain {len(got['plain']['check'])}, tls {len(got['tls']['check'])}; "
              f"connections a second each round: plain {[round(c) for c in got['plain']['conns']]}, "
              f"tls {[round(c) for c in got['tls']['conns']]}")
        return 0
    finally:
        for p in runners.values():
            stop(p)  # type: ignore[arg-type]
        for sim in sims:
            sim.close()
        shutil.rmtree(work, ignore_errors=True)


def _ready(api: str, ctx: Optional[ssl.SSLContext]) -> Optional[str]:
    try:
        return get(api + "/readyz", ctx).get("reason")
    except Exception:  # noqa: BLE001 - not up yet
        return None


if __name__ == "__main__":
    raise SystemExit(main())
