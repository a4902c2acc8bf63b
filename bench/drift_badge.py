"""Benchmark: from a hand edit of a running runner's policy file to what says so.

A ``ksctl run`` on the simulated exchange (its policy's interval ``--interval``, 1s and 5s by
default) has its one policy file edited by hand, ``--trials`` times each way:

- **broken**: an edit that does not compile. Measured: from the write to the first ``GET
  /v1/status`` whose ``policy_sync`` is not in sync with the files (the reload started: the change
  is seen at the start of the next tick), then to the first that carries the reload's error (taken
  up between two ticks, after its compile) (what the console's badge shows, ``FILES NOT TAKEN
  UP``, at its next refresh: at most 2 s later), and to the first ``/metrics`` with
  ``killswitch_policy_in_sync_with_files 0`` (what ``KillswitchPolicyDrift`` reads). The alert
  then fires once the rule has seen it for its ``for`` (10m by default) — add Prometheus's scrape
  and evaluation intervals;
- **compiling**: an edit that compiles (a hand edit of a ConfigMap). Measured: from the write
  to the first status whose running document's SHA-256 is the edited file's (what ``ksctl
  drift`` compares with git: it then says ``diverged``).

Polls every 20 ms. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

from harness import (
    API_TOKEN,
    POLICY,
    Sim,
    free_port,
    get_json,
    machine,
    median,
    ready,
    start_runner,
    stop,
    wait_until,
    write_inputs,
)


def _status(api: str) -> dict:
    return get_json(api + "/v1/status", timeout=2, token=API_TOKEN).get("policy_sync") or {}


def _metric_zero(api: str) -> bool:
    import urllib.request

    with urllib.request.urlopen(api + "/metrics", timeout=2) as r:
        return "killswitch_policy_in_sync_with_files 0.0" in r.read().decode()


def _timed(cond, timeout: float = 60.0) -> float:
    start = time.monotonic()
    if not wait_until(cond, timeout, step=0.02):
        raise RuntimeError("not seen within a minute")
    return time.monotonic() - start


def run(interval: str, trials: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ks-drift-") as tmp:
        work = Path(tmp)
        sim = Sim(work)
        runner = None
        try:
            policy = POLICY.replace("interval: 200ms", f"interval: {interval}")
            pol, acc = write_inputs(work, sim.port, policy)
            api_port = free_port()
            api = f"http://127.0.0.1:{api_port}"
            runner = start_runner(work, pol, acc, f"sqlite://{work / 'state.db'}", "bench-0", api_port)
            if not wait_until(lambda: ready(api) == "LEADER", 60):
                raise RuntimeError("the runner did not lead: " + (work / "bench-0.err").read_text()[-2000:])
            f = pol / "bench-book.yaml"
            seen, badge, metric, taken = [], [], [], []
            for i in range(trials):
                time.sleep(0.37 * (i % 3))  # edits land at different points of the tick
                f.write_text(policy.replace("dd >= 50%", "dd >= 50% &&"))  # does not compile
                t0 = time.monotonic()
                seen.append(_timed(lambda: not _status(api)["in_sync_with_files"]))
                badge.append(seen[-1] + _timed(lambda: _status(api)["reload_error"]))
                metric.append(time.monotonic() - t0 if _metric_zero(api) else _timed(lambda: _metric_zero(api)))
                edited = policy.replace("dd >= 50%", f"dd >= {51 + i}%")  # compiles: a hand edit
                f.write_text(edited)
                t0 = time.monotonic()
                want = hashlib.sha256(edited.encode()).hexdigest()
                taken.append(_timed(lambda: any(d["sha256"] == want for d in _status(api)["running"]["documents"])
                                    and _status(api)["in_sync_with_files"]))
            print(f"interval {interval}, {trials} trials each (median / max, seconds):")
            print(f"  broken edit -> status not in sync (a reload started: FILES CHANGED, RELOAD PENDING): "
                  f"{median(seen):.2f} / {max(seen):.2f}")
            print(f"  broken edit -> status not in sync with the error (the badge, +<=2 s refresh): "
                  f"{median(badge):.2f} / {max(badge):.2f}")
            print(f"  broken edit -> killswitch_policy_in_sync_with_files 0 on /metrics: "
                  f"{median(metric):.2f} / {max(metric):.2f} (+ scrape + the alert's `for` 10m)")
            print(f"  compiling edit -> running document's sha256 is the edited file's: "
                  f"{median(taken):.2f} / {max(taken):.2f}")
        finally:
            stop(runner)
            sim.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--interval", action="append", help="the policy's interval (repeatable; default 1s and 5s)")
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    print(machine())
    for interval in args.interval or ["1s", "5s"]:
        run(interval, args.trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())
