"""Benchmark: the cost of rendering ``/metrics`` (the registry and its exposition text).

A page of a runner's size, built through :class:`killswitch.metrics.Registry` as the runner's
parts build theirs at a scrape: the stage of every policy and scope, each trigger's firing,
signal value and threshold, the data age, fetch health and lock state of each account, a few
counters by reason, and the telemetry sink's long-lived histograms (tick phases, order latency
by venue, notification latency by receiver) and counters (events by kind and severity,
transitions by policy and scope), included into the scrape's registry. ``--policies`` and
``--scopes`` size it (default 40 policies of 25 scopes, 3 triggers each: about 10,600 lines).

The figure is the median over ``--rounds`` scrapes, each as wall-clock time and (in brackets)
this process's CPU time: building the families and rendering them to text. The telemetry
sink's instruments are observed once, before, as a running runner's are. A second line splits
the scrape as the runner makes it: building the families and collecting their values
(:meth:`killswitch.metrics.CollectedPage.of`, what holds the runner's loop) and writing the text
from them (:meth:`~killswitch.metrics.CollectedPage.render`, on a worker thread).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's code, whatever the venv installed

from killswitch.metrics import TICK_BUCKETS, CollectedPage, Registry  # noqa: E402

PHASES = ("lease", "snapshot", "evaluate", "decide", "act", "save", "reconcile")


def telemetry(policies: int, scopes: int) -> Registry:
    """The telemetry sink's registry, observed as a running runner's is."""
    r = Registry()
    tick = r.histogram("killswitch_tick_duration_seconds", "Wall-clock duration of a tick.", (), TICK_BUCKETS)
    phase = r.histogram("killswitch_tick_phase_duration_seconds", "Each phase.", ("phase",), TICK_BUCKETS)
    latency = r.histogram("killswitch_order_latency_seconds", "Order latency.", ("venue",))
    notify = r.histogram("killswitch_notification_latency_seconds", "Delivery.", ("receiver",))
    events = r.counter("killswitch_events_total", "Events by kind and severity.", ("kind", "severity"))
    moves = r.counter("killswitch_stage_transitions_total", "Transitions.", ("policy", "scope", "from", "to"))
    for i in range(200):
        tick.observe(0.01 * (i % 40))
        for p in PHASES:
            phase.observe(0.001 * (i % 50), phase=p)
    for venue in ("binance", "okx", "bybit", "sim"):
        latency.observe(0.2, venue=venue)
    for receiver in ("pager", "chat", "email"):
        notify.observe(0.5, receiver=receiver)
    for kind in ("stage_transition", "order_failed", "snapshot_failed", "dms_fired", "reset"):
        for severity in ("warning", "critical"):
            events.inc(3, kind=kind, severity=severity)
    for p in range(policies):
        for s in range(0, scopes, 5):  # a fifth of the scopes moved once
            moves.inc(policy=f"policy-{p}", scope=f"acct-{s}", **{"from": "0", "to": "1"})
    return r


def scrape(own: Registry, policies: int, scopes: int) -> str:
    return families(own, policies, scopes).render()


def families(own: Registry, policies: int, scopes: int) -> Registry:
    """The page's families, built as the runner's parts build theirs at a scrape."""
    reg = Registry()
    reg.sampled("killswitch_ticks_total", "counter", "Ticks.").add(86_400)
    reg.sampled("killswitch_leader", "gauge", "Leader.").add(1)
    orders = reg.sampled("killswitch_orders_total", "counter", "Orders by result.", ("result",))
    for result in ("sent", "filled", "rejected", "unknown"):
        orders.add(17, result=result)
    stage = reg.sampled("killswitch_stage", "gauge", "Stage per policy and scope.", ("policy", "scope"))
    firing = reg.sampled("killswitch_trigger_firing", "gauge", "Firing.", ("policy", "scope", "trigger"))
    value = reg.sampled("killswitch_signal_value", "gauge", "Signal values.", ("policy", "scope", "signal"))
    limit = reg.sampled("killswitch_trigger_threshold", "gauge", "Thresholds.",
                        ("policy", "scope", "trigger", "signal", "op"))
    for p in range(policies):
        for s in range(scopes):
            policy, scope = f"policy-{p}", f"acct-{s}"
            stage.add(s % 3, policy=policy, scope=scope)
            for t in range(3):
                firing.add(int(t == 0 and s % 7 == 0), policy=policy, scope=scope, trigger=f"t{t}")
                value.add(1234.5678 + s + t / 3, policy=policy, scope=scope, signal=f"sig{t}")
                limit.add(-5000.0 * (t + 1), policy=policy, scope=scope, trigger=f"t{t}", signal=f"sig{t}", op="<")
    age = reg.sampled("killswitch_data_age_seconds", "gauge", "Data age.", ("account",))
    ok = reg.sampled("killswitch_account_fetch_ok", "gauge", "Fetch ok.", ("account",))
    locks = reg.sampled("killswitch_lock_state", "gauge", "Locks.", ("scope", "mode"))
    for s in range(scopes):
        age.add(0.8 + s / 100, account=f"acct-{s}")
        ok.add(1, account=f"acct-{s}")
        locks.add(1, scope=f"acct-{s}", mode="reduce_only" if s % 2 else "halted")
    failures = reg.sampled("killswitch_snapshot_failures_total", "counter", "Failures.", ("venue", "account", "reason"))
    for s in range(scopes):
        failures.add(s, venue="binance", account=f"acct-{s}", reason="TIMEOUT")
    reg.include(own)
    return reg


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policies", type=int, default=40)
    ap.add_argument("--scopes", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args(argv)
    own = telemetry(a.policies, a.scopes)
    text = scrape(own, a.policies, a.scopes)  # warm
    walls, cpus = [], []
    for _ in range(a.rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        scrape(own, a.policies, a.scopes)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    lines = text.count("\n")
    print(f"/metrics of {a.policies} policies x {a.scopes} scopes: {lines:,} lines, {len(text):,} bytes; "
          f"median of {a.rounds}: {statistics.median(walls) * 1000:.1f} ms "
          f"({statistics.median(cpus) * 1000:.1f} ms CPU), "
          f"{statistics.median(walls) / lines * 1e6:.2f} us a line")
    held, written = [], []
    for _ in range(a.rounds):
        c0 = time.process_time()
        page = CollectedPage.of(families(own, a.policies, a.scopes))  # on the runner's loop
        c1 = time.process_time()
        page.render()  # on a worker thread
        held.append(c1 - c0)
        written.append(time.process_time() - c1)
    print(f"  split as the runner scrapes (median CPU): building and collecting the families (its loop held) "
          f"{statistics.median(held) * 1000:.1f} ms; writing the text (a worker thread) "
          f"{statistics.median(written) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
