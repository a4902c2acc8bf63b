"""Benchmark: the audit sink (``ksctl run --audit-sink``).

1. Rows a second a sink sustains: a chain of ``--rows`` rows (default 20,000, each the size of a
   stage transition row) shipped from its start by one :class:`SinkShipper` (batches of 500, its
   own SQLite connection) to a receiver in another process: Debian's rsyslog over TCP and over
   TLS when ``rsyslogd`` is installed, and an OTLP/HTTP logs receiver. From the shipper's start
   to the cursor saved at the last row.
2. The tick with a sink on and off: bench/tick.py's runner (the ``flat`` layout, 1,000 positions)
   ticked ``--ticks`` times while a thread appends audit rows at ``--append-rate`` a second (the
   same in both), once with no sink and once with a shipper to the syslog receiver reading the
   same store; the tick's own time (median, p99) and the sink's lag at the end.
3. ``--kills N`` (default 20): ``ksctl run --audit-sink`` SIGKILLed N times at a random moment
   while operator writes go in, its syslog receiver down for every other run and up again; then
   one more run with the receiver up until the sink's cursor is at the chain's head. Rows lost
   (a seq of the chain the receiver never got) and repeated (received more than once, dropped by
   seq) are counted.

Prints figures with the machine; asserts nothing.

    .venv/bin/python bench/audit_sink.py [--rows N] [--ticks N] [--kills N] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit_chain import fill  # noqa: E402  (the bench directory is the script's)
from harness import API_TOKEN, free_port, machine, pct, start_runner, stop, wait_until, write_inputs  # noqa: E402

from killswitch.audit.siem.shipper import ShipOptions, SinkShipper  # noqa: E402
from killswitch.audit.siem.targets import parse_target  # noqa: E402
from killswitch.state import open_store  # noqa: E402


def _syslog_counter(port: int, ready) -> None:  # another process: reads octet-counted frames
    from tests.siem import SyslogReceiver

    SyslogReceiver(port=port)
    ready.set()
    while True:
        time.sleep(3600)


def _otlp_receiver(port: int, ready) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


def _process(target, port: int) -> multiprocessing.Process:
    ready = multiprocessing.Event()
    p = multiprocessing.Process(target=target, args=(port, ready), daemon=True)
    p.start()
    ready.wait(20)
    return p


def throughput(work: Path, rows: int) -> list[str]:
    url = f"sqlite://{work / 'chain.db'}"
    fill(url, rows, None)
    store = open_store(url)
    fence = store.acquire_lease("bench", 3_600_000, int(time.time() * 1000))
    out = []
    targets = []
    rsyslog = shutil.which("rsyslogd")
    if rsyslog:
        from tests.integration.test_audit_sink import Rsyslog
        from tests.tls_certs import Ca

        for tls in (False, True):
            port = free_port()
            where = work / f"rsyslog-{'tls' if tls else 'tcp'}"
            where.mkdir()
            ca = Ca(where, "siem")
            cert = ca.issue("rsyslog", "localhost", server=True, dns=("localhost",), ips=("127.0.0.1",))
            rs = Rsyslog(where, port, (ca.path, cert.cert, cert.key) if tls else None)
            scheme = "syslog+tls" if tls else "syslog+tcp"
            q = f"?ca_file={ca.path}&name=tls" if tls else "?name=tcp"
            targets.append((f"rsyslog, {scheme}", f"{scheme}://127.0.0.1:{port}{q}", rs.stop))
    port = free_port()
    otlp = _process(_otlp_receiver, port)
    targets.append(("OTLP/HTTP receiver", f"otlp+http://127.0.0.1:{port}?name=otlp", otlp.terminate))
    for label, target, done in targets:
        s = SinkShipper(parse_target(target), open_store(url), lambda: fence, print, lambda _: None,
                        ShipOptions(batch=500, poll_s=0.01))
        start = time.perf_counter()
        s.start()
        wait_until(lambda: store.audit_sink_cursor(s.target.name) == rows, 600, 0.01)
        took = time.perf_counter() - start
        s.stop()
        done()
        out.append(f"  {label}: {rows:,} rows in {took:.2f} s = {rows / took:,.0f} rows/s")
    store.close()
    return out


def tick_cost(work: Path, ticks: int, append_rate: float, rounds: int = 3) -> list[str]:
    import logging

    import tick as tickbench

    logging.getLogger("killswitch.runner").addFilter(lambda r: not r.getMessage().startswith("SCOPE_BLIND"))
    lines = []
    port = free_port()
    rx = _process(_syslog_counter, port)
    medians: dict[bool, list[float]] = {False: [], True: []}
    p99s: dict[bool, list[float]] = {False: [], True: []}
    for sink in (False, True) * rounds:
        sets = [tickbench.book("flat", 1000, v, 1.0 + 0.0001 * v) for v in range(tickbench.VARIANTS)]
        b = tickbench.Bench("flat", 1000, sets, work)
        asyncio.run(b.warm())
        url = b.store.url
        writer = open_store(url)
        fence = b.store.current_fence()
        stop_writing = threading.Event()

        def write() -> None:
            k = 0
            while not stop_writing.wait(0.05):
                n = max(1, int(append_rate * 0.05))
                writer.audit_many([("operator_note", int(time.time() * 1000), {"by": "bench", "i": k + i})
                                   for i in range(n)], fence=fence)
                k += n

        t = threading.Thread(target=write, daemon=True)
        t.start()
        shipper = None
        if sink:
            shipper = SinkShipper(parse_target(f"syslog+tcp://127.0.0.1:{port}?name=bench"), open_store(url),
                                  lambda: fence, print, lambda _: None)
            shipper.start()

        async def run() -> list[float]:
            own = []
            for k in range(ticks):
                x, _, _ = await b.tick(sets[k % tickbench.VARIANTS])
                own.append(x)
                await asyncio.sleep(0.02)  # the wait between ticks, where the sink's thread works
            return own

        own = asyncio.run(run())
        stop_writing.set()
        t.join()
        lag = ""
        if shipper is not None:
            shipper.stop()
            lag = f", the sink's lag at the end {shipper.lag} rows, {shipper.sent:,} rows shipped"
        writer.close()
        asyncio.run(b.close())
        medians[sink].append(statistics.median(own))
        p99s[sink].append(pct(own, 99))
        lines.append(f"  sink {'on ' if sink else 'off'}: tick own time median {statistics.median(own):.2f} ms, "
                     f"p99 {pct(own, 99):.2f} ms over {ticks} ticks{lag}")
    rx.terminate()
    off, on = statistics.median(medians[False]), statistics.median(medians[True])
    p99_off, p99_on = statistics.median(p99s[False]), statistics.median(p99s[True])
    lines.append(f"  the median of the runs' medians: off {off:.2f} ms, on {on:.2f} ms (on/off {on / off:.2f}); "
                 f"of their p99s: off {p99_off:.2f} ms, on {p99_on:.2f} ms")
    return lines


def _post(api: str, path: str, body: dict) -> int:
    req = urllib.request.Request(api + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {API_TOKEN}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def kills(work: Path, n: int, seed: int) -> list[str]:
    from tests.siem import SyslogReceiver, deduped

    rng = random.Random(seed)
    pol, acc = write_inputs(work, free_port())
    state = f"sqlite://{work / 'kills.db'}"
    port = free_port()
    received: list[dict] = []
    rx = None

    def up() -> SyslogReceiver:
        return SyslogReceiver(port=port, messages=received)

    sink = ("--audit-sink", f"syslog+tcp://127.0.0.1:{port}?name=siem&timeout=1")
    writes = 0
    for k in range(n + 1):
        last = k == n
        if (k % 2 == 0 or last) and rx is None:
            rx = up()
        elif k % 2 == 1 and rx is not None:
            rx.close()
            rx = None
        api_port = free_port()
        proc = start_runner(work, pol, acc, state, f"k{k}", api_port, "2s", sink)
        api = f"http://127.0.0.1:{api_port}"
        wait_until(lambda: _post(api, "/v1/unlock", {"scope": "global", "reason": "bench"}) in (200, 202, 409),
                   60, 0.1)
        end = time.monotonic() + rng.uniform(0.2, 2.0)
        while time.monotonic() < end:
            mode = "halted" if writes % 2 == 0 else None
            code = _post(api, "/v1/lock" if mode else "/v1/unlock",
                         {"scope": "global", "reason": f"bench {writes}", **({"mode": mode} if mode else {})})
            writes += code in (200, 202)
        if last:
            head = open_store(state)
            try:
                wait_until(lambda: head.audit_sink_cursor("siem") == head.chain_head_seq(), 120, 0.1)
                chain = head.chain_head_seq()
            finally:
                head.close()
            stop(proc, signal.SIGTERM)
            proc.wait(30)
        else:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
    if rx is not None:
        rx.close()
    rows, repeats = deduped(received)
    got = {r["seq"] for r in rows}
    lost = [s for s in range(1, chain + 1) if s not in got]
    if lost:
        st = open_store(state)
        kinds = {r.seq: r.kind for r in st.chain_rows(0, chain)}
        st.close()
        print("  lost:", ", ".join(f"{s} {kinds.get(s)}" for s in lost[:40]))
        for f in sorted(work.glob("k*.out")) + sorted(work.glob("k*.err")):
            said = [x for x in f.read_text().splitlines() if "audit sink" in x or "AUDIT_SINK" in x]
            print(f"  {f.name}: " + " | ".join(x[-110:] for x in said))
    return [f"  {n} SIGKILLs of ksctl run, the receiver down for every other run: {chain:,} rows in the chain "
            f"({writes} operator writes), {len(lost)} lost, {repeats} received twice (dropped by seq)"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--ticks", type=int, default=200)
    ap.add_argument("--append-rate", type=float, default=1000.0)
    ap.add_argument("--rounds", type=int, default=3, help="runs of the tick with the sink off and on, in turn")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: throughput, tick, kills")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(f"bench/audit_sink.py: {machine()}")
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        if "throughput" not in skip:
            print("rows a second to a sink (one shipper, batches of 500, from the chain's start):")
            print("\n".join(throughput(work, args.rows)))
        if "tick" not in skip:
            print(f"the tick (flat layout, 1,000 positions) with {args.append_rate:g} audit rows a second appended:")
            print("\n".join(tick_cost(work, args.ticks, args.append_rate, args.rounds)))
        if "kills" not in skip:
            print("kills:")
            print("\n".join(kills(work, args.kills, args.seed)))


if __name__ == "__main__":
    main()
