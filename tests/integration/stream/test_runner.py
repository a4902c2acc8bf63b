"""A runner with a streaming account, end to end: ``ksctl run`` in-process (``Daemon.run``, as
tests/integration/test_loud_runner.py runs it) against the simulated exchange's HTTP and
websocket faces served on 127.0.0.1 in the same loop, the Accounts entry with a ``stream`` block.

- A mark set across the hard trigger's threshold wakes the runner, which closes the book within
  a 30 s interval (ticks started by a wake, none by the interval, counted by cause: not timed);
  the user data stream drops while the closes are sent, and still every position ends flat,
  every close is journaled filled and no order was sent twice (the journal against the venue's
  orders).
- A stalled stream (socket open, nothing sent): the WARNING ``STREAM_STALE … falling back to
  REST polling``, the status's ``streams`` entry stale with a growing last-message age, the
  snapshots read over REST (the account is not blind while REST answers); REST failing too is
  blind (``ACCOUNT_NOT_READ``); the stream back is ``STREAM_LIVE``.
- REST failing under a live stream: the reconciles' failures counted, and past 3 ×
  ``reconcile_every`` without a good one the stream answers no more — ``STREAM_RECONCILE_OVERDUE``,
  the status's entry overdue and degraded with the last reconcile's age, the account blind
  (``ACCOUNT_NOT_READ``), not calm on the stream's word; REST back, ``STREAM_RECONCILED`` and armed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import textwrap
from importlib import import_module
from pathlib import Path
from typing import Callable, Optional

import pytest
import yaml

from adapters.registry import sim_venues
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.scenarios import build
from adapters.simulated.venues import sim_account
from killswitch.process.daemon import Daemon
from killswitch.process.options import RunOptions
from tests.integration.sim_helpers import quote_of, streamed_venues
from tests.procs import until

DEADLINE_S = 120.0  # a bound on waits for events that only a hang reaches (a first tick took 30 s at load 17)
KEY = "binanceusdm/sim-main"
FLAT = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}
# the faces that stream (adapters.registry) over markets quoted in USDT or USD: every one but
# Hyperliquid's (USDC, its wallet's keys: tests/integration/stream/test_hyperliquid.py)
STREAMED = tuple(streamed_venues(("USDT", "USD")))


def policy(interval: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: killswitch/v1
        kind: Policy
        metadata: {{name: mark-guard}}
        spec:
          scope: {{level: account, accounts: {{match_labels: {{book: futures}}}}}}
          interval: {interval}
          signals:
            loss: {{position_loss: {{of: notional}}}}
          triggers:
            hard: {{when: "loss >= 10%", on_missing_data: hold}}
          stages:
            - {{level: 1, name: flatten, on: [hard], reset: manual, actions: [close_all]}}
          unwind: {{chunk_notional: 100k}}
        """)


def write_inputs(tmp: Path, server: SimServer, interval: str, reconcile_every: str = "30s",
                 venue: str = "binanceusdm", extra: str = "") -> tuple[Path, Path, dict[str, str]]:
    """The policy and the Accounts document of ``sim-main`` on ``venue`` (one that streams): its
    face's own account (``sim_account``: its credentials, its quote currency) streamed, with
    ``extra`` (YAML lines of the account's) added to it; and the environment its credentials name."""
    pol = tmp / "policies"
    pol.mkdir()
    (pol / "guard.yaml").write_text(policy(interval))
    before = dict(os.environ)
    account = sim_account(server, "sim-main", venue, labels={"book": "futures"},
                          stream={"enabled": True, "stale_after": "1s", "reconcile_every": reconcile_every})
    env = {k: v for k, v in os.environ.items() if before.get(k) != v}  # what its credentials name, set
    for k in env:  # (handed back, for the test's monkeypatch to set and undo)
        if k in before:
            os.environ[k] = before[k]
        else:
            del os.environ[k]
    doc = {**account.model_dump(mode="json", exclude_none=True), **(yaml.safe_load(textwrap.dedent(extra)) or {})}
    accounts = tmp / "accounts.yaml"
    accounts.write_text(json.dumps({"apiVersion": "killswitch/v1", "kind": "Accounts", "metadata": {"name": "test"},
                                    "spec": {"dry_run": False, "accounts": [doc]}}, indent=1))
    return pol, accounts, env


async def serve(tmp: Path, monkeypatch, interval: str, scenario, reconcile_every: str = "30s",
                venue: str = "binanceusdm", extra: str = "",
                ready: Optional[Callable[[SimServer], bool]] = None) -> None:
    """``await scenario(daemon, server)`` with a runner leading over a fresh server, ``sim-main``
    on ``venue`` (one of :data:`STREAMED`: the faces that stream), then stop. ``ready``: when the
    account's private subscriptions are up (:func:`subscribed` of the venue's face by default; a
    MEXC spot account's are its spot face's)."""
    engine = build("calm", wall_clock)
    for symbol, price in FLAT.items():
        engine.set_mark(symbol, price)
    server = SimServer(engine, auth_clock=wall_clock, stream={"mark_every_ms": 200, "mark_every_1s_ms": 200})
    for face in server.streams.values():  # an unchanged mark every 200 ms, not the venues' 10 s: stale_after is 1 s
        if hasattr(face, "quiet_every_ms"):
            face.quiet_every_ms = 200
    await server.start()
    pol, accounts, env = write_inputs(tmp, server, interval, reconcile_every, venue, extra)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    opts = RunOptions((str(pol),), str(accounts), f"sqlite://{tmp / 'state.db'}", str(tmp / "lock.json"),
                      api_port=None)
    daemon = Daemon(opts, logging.getLogger("killswitch.run").info, logging.getLogger("killswitch.run").error)
    run = asyncio.ensure_future(daemon.run())
    try:
        await until(lambda: daemon.runner is not None and daemon.parts.counters["ticks"] >= 1, "a first tick",
                    DEADLINE_S)
        await until(lambda: stream_of(daemon, f"{venue}/sim-main")["state"] == "live", "the stream live",
                    DEADLINE_S)
        await until(lambda: (ready or (lambda srv: subscribed(srv, venue)))(server), "the private topics subscribed",
                    DEADLINE_S)
        await scenario(daemon, server)
    finally:
        daemon.stop.set()
        await asyncio.wait_for(run, DEADLINE_S)
        await server.stop()


def subscribed(server: SimServer, venue: str) -> bool:
    """Whether the simulator's face sends the account's orders, positions and balance to a socket
    now. A stream is live at its first message, which one subscription's answer can be while
    another's (Bybit's ``order`` topic, one subscribe each) is still on its way: an order placed
    then is told to no one, and only the next interval's tick sees it. The topics are the venue's
    (its contract's ``STREAM_TOPICS``); a venue whose one socket carries them all (None: the
    server's own stream, Binance's listen key) has them with its key."""
    pkg = sim_venues()[venue]
    contract = import_module(f"{pkg.__name__}.contract")
    where = f"adapters/venues/{pkg.__name__.rsplit('.', 1)[1]}/contract.py"
    assert hasattr(contract, "STREAM_TOPICS"), f"{where} has no STREAM_TOPICS: its private subscriptions' names"
    topics = contract.STREAM_TOPICS
    if topics is None:
        return any(s.key is not None for s in server.stream.sockets)
    face = server.streams[pkg.__name__.rsplit(".", 1)[1]]
    return set(topics) <= set().union(*(s.streams for s in face.sockets))


def stream_of(daemon: Daemon, key: str = KEY) -> dict:
    """The account's stream health now, read from its adapter (the status reads it at ticks)."""
    h = daemon.runner.venues[key].stream_health()
    return {"state": h.state, "reason": h.reason}


def rest_reads(server: SimServer) -> int:
    """The account's REST reads the face answered (the listen key's calls are the stream's)."""
    return sum(1 for _, path, _ in server.requests if "listenKey" not in path)


def said(caplog, code: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(code)]


@pytest.mark.parametrize("venue", STREAMED)
def test_a_mark_across_the_hard_threshold_closes_within_the_interval_though_the_stream_drops_mid_close(
        tmp_path, monkeypatch, caplog, venue):
    caplog.set_level(logging.INFO)
    seen: dict = {}
    key = f"{venue}/sim-main"

    async def scenario(daemon: Daemon, server: SimServer) -> None:
        runner, wakes = daemon.runner, daemon.wakes
        server.faults.stream("stream_disconnect", op="stream:user", times=1)  # the first close's events
        started = dict(wakes.started)
        # a tick already started (by a mark's wake) may read the new mark and close the book
        # itself: on a loaded machine it is still reading when the mark moves
        seen["in_flight"] = sum(started.values()) > daemon.ticks
        server.engine.set_mark("BTCUSDT", 50_000.0)  # the 5 BTC long loses 16.7 % of its notional
        await until(lambda: not server.engine.positions("sim-main"), "the book flat", DEADLINE_S)
        seen["ticks_to_flat"] = {c: n - started[c] for c, n in wakes.started.items()}
        await until(lambda: runner.venues[key].stream_health().reconnects >= 1, "the stream reconnected",
                    DEADLINE_S)
        # the venue filled the closes; the runner journals each fill as it learns of it (the
        # dropped stream's events are read again once it is back)
        await until(lambda: all(e.status == "filled" for e in runner.store.journal(limit=1000)),
                    "every journaled close filled", DEADLINE_S)
        seen["journal"] = runner.store.journal(limit=1000)
        seen["orders"] = list(server.engine.accounts["sim-main"].orders.values())
        seen["disconnects"] = len(server.faults.fired("stream_disconnect"))

    asyncio.run(asyncio.wait_for(serve(tmp_path, monkeypatch, "30s", scenario, venue=venue), 3 * DEADLINE_S))
    # woken by the stream: flat before the 30 s interval's next tick came (counted by cause at
    # the runner's loop, not timed: a loaded machine may take seconds over the closes)
    ticks = seen["ticks_to_flat"]
    assert ticks["interval"] == 0 and (ticks["wake"] >= 1 or seen["in_flight"]), (ticks, seen["in_flight"])
    assert seen["disconnects"] == 1
    journal = seen["journal"]
    ids = [e.client_order_id for e in journal]
    assert ids and len(ids) == len(set(ids))  # no intent journaled twice
    assert all(e.status == "filled" for e in journal), [(e.symbol, e.status) for e in journal]
    at_venue = [o.client_order_id for o in seen["orders"]]
    assert sorted(at_venue) == sorted(ids)  # every journaled close reached the venue, none twice
    quote = quote_of(venue)
    assert {e.symbol for e in journal} == {f"{b}/{quote}:{quote}" for b in ("BTC", "ETH", "SOL")}


def stream_readers(daemon: Daemon, key: str = KEY) -> tuple[Callable[[], dict], Callable[[], list]]:
    """What a scenario reads of the streamed account: its stream's status, its coverage rows."""
    desk = daemon.desk

    def status_stream() -> dict:
        return desk.status().streams[key]

    def rows() -> list:
        return [r for r in desk.status().coverage if r.scope == key]

    return status_stream, rows


@pytest.mark.parametrize("venue", STREAMED)
def test_a_stalled_stream_falls_back_to_rest_polling_is_blind_only_when_rest_fails_too_and_comes_back_live(
        tmp_path, monkeypatch, caplog, venue):
    caplog.set_level(logging.INFO)
    seen: dict = {}
    key = f"{venue}/sim-main"

    async def scenario(daemon: Daemon, server: SimServer) -> None:
        desk, parts = daemon.desk, daemon.parts
        status_stream, rows = stream_readers(daemon, key)

        server.faults.stream("stream_stall")  # every socket open and silent
        await until(lambda: said(caplog, "STREAM_STALE"), "the STREAM_STALE warning", DEADLINE_S)
        first = status_stream()
        reads = rest_reads(server)
        ticks = parts.counters["ticks"]
        await until(lambda: parts.counters["ticks"] >= ticks + 2, "two ticks of the stall", DEADLINE_S)
        later = status_stream()
        seen["stale"] = (first, later)
        seen["rest_reads"] = rest_reads(server) - reads
        seen["armed"] = [(r.state, r.reason) for r in rows()]
        seen["fetch_ok"] = desk.status().fetch_errors.get(key) is None

        server.faults.add("*", "http_503")  # REST fails as well: the account is not read
        await until(lambda: any(r.reason == "ACCOUNT_NOT_READ" for r in rows()), "blind: ACCOUNT_NOT_READ",
                    DEADLINE_S)
        seen["blind"] = [(r.state, r.reason) for r in rows()]
        server.faults.switch_off()
        await until(lambda: said(caplog, f"STREAM_LIVE: {key}: its stream is live again"),
                    "STREAM_LIVE", DEADLINE_S)
        await until(lambda: all(r.state == "armed" for r in rows()), "armed again", DEADLINE_S)

    asyncio.run(asyncio.wait_for(serve(tmp_path, monkeypatch, "1s", scenario, venue=venue), 4 * DEADLINE_S))
    (warn,) = [r for r in caplog.records if r.getMessage().startswith("STREAM_STALE")]
    assert warn.levelname == "WARNING"
    assert warn.getMessage().startswith(f"STREAM_STALE: {key}: its stream is stale (last message ")
    assert "falling back to REST polling at the policy interval" in warn.getMessage()
    first, later = seen["stale"]
    assert (first["state"], first["reason"]) == ("stale", "STREAM_STALE")
    # a stall outliving three stale_after is reconnected: stale, down or connecting, degraded all along
    assert first["degraded"] and later["degraded"] and later["state"] in ("stale", "down", "connecting")
    assert later["last_message_age_s"] > first["last_message_age_s"] >= 1.0
    assert seen["rest_reads"] >= 2 and seen["fetch_ok"]  # polled over REST, every read good
    assert seen["armed"] and all(state == "armed" for state, _ in seen["armed"]), seen["armed"]
    assert ("blind", "ACCOUNT_NOT_READ") in seen["blind"]


@pytest.mark.parametrize("venue", STREAMED)
def test_rest_failing_under_a_live_stream_is_blind_past_three_reconcile_cadences_not_calm_and_reconciles_when_back(
        tmp_path, monkeypatch, caplog, venue):
    caplog.set_level(logging.INFO)
    seen: dict = {}
    key = f"{venue}/sim-main"

    async def scenario(daemon: Daemon, server: SimServer) -> None:
        desk = daemon.desk
        status_stream, rows = stream_readers(daemon, key)

        await until(lambda: status_stream()["answers"] and all(r.state == "armed" for r in rows()),
                    "the stream answering alone, armed", DEADLINE_S)
        seen["calm"] = status_stream()
        server.faults.add("*", "http_503")  # REST fails; the websocket goes on delivering
        await until(lambda: any(r.reason == "ACCOUNT_NOT_READ" for r in rows()), "blind: ACCOUNT_NOT_READ",
                    DEADLINE_S)
        seen["blind"] = [(r.state, r.reason) for r in rows()]
        seen["overdue"] = status_stream()
        seen["fetch_error"] = desk.status().fetch_errors.get(key)
        server.faults.switch_off()
        await until(lambda: said(caplog, "STREAM_RECONCILED"), "STREAM_RECONCILED", DEADLINE_S)
        await until(lambda: status_stream()["answers"] and all(r.state == "armed" for r in rows()),
                    "armed again, the stream answering", DEADLINE_S)
        seen["back"] = status_stream()

    asyncio.run(asyncio.wait_for(serve(tmp_path, monkeypatch, "1s", scenario, reconcile_every="1s", venue=venue),
                                 4 * DEADLINE_S))
    calm = seen["calm"]
    assert calm["reconcile_every_s"] == 1.0 and calm["reconcile_failures"] == 0 and not calm["reconcile_overdue"]
    assert calm["last_reconcile_age_s"] is not None and calm["last_reconcile_age_s"] < 3.0
    assert ("blind", "ACCOUNT_NOT_READ") in seen["blind"]
    overdue = seen["overdue"]
    # live all along (the websocket delivers), yet not the account's word any more
    assert overdue["state"] == "live" and not overdue["answers"] and overdue["reconcile_overdue"], overdue
    assert overdue["degraded"] and overdue["last_reconcile_age_s"] > 3.0
    assert overdue["reconcile_failures"] >= 2 and overdue["reconcile_failure_reason"] == "EXCHANGE_UNAVAILABLE"
    assert seen["fetch_error"] is not None  # the snapshot read REST in front, and failed
    (warn,) = [r for r in caplog.records if r.getMessage().startswith("STREAM_RECONCILE_OVERDUE")]
    assert warn.levelname == "WARNING" and warn.getMessage().startswith(
        f"STREAM_RECONCILE_OVERDUE: {key}: not reconciled against REST for ")
    back = seen["back"]
    assert back["reconcile_failures"] == 0 and back["reconcile_failure_reason"] is None
    assert not back["reconcile_overdue"] and not back["degraded"]
