"""A bot that keeps trading through a halt pages once per strategy and scope, not once per order.

The runner under an operator's halt on the simulated exchange's Binance face (through the real
ccxt adapter, as tests/integration/enforcement/test_polled.py runs it), with the real notification sink
(apprise ``json://`` to a local receiver, as tests/integration/notify/rig.py serves it) and
routes that group by ``scope`` and ``strategy``. Two rogue bots, alpha's and beta's, each place a
new entry at every tick for two minutes: every order is cancelled, audited and counted, and the
receiver gets one page for alpha and one for beta within the group interval; the later violations,
each news, go out as each group's update with the new count (here at the runner's shutdown).
"""

from __future__ import annotations

import asyncio

import pytest

from killswitch.events import LOCK_VIOLATION
from killswitch.notify.sink import NotifyOptions, NotifySink
from tests.integration.enforcement.rig import open_ids, tick, violations, with_runner
from tests.integration.notify.rig import ReceiverServer, deliveries_done, routes
from tests.integration.runner.rig import parts_of

pytest.importorskip("ccxt")

TICKS = 24  # two minutes of 5 s ticks, inside the group interval
KEY = "binanceusdm/sim-main"


def by_scope_and_strategy(srv: ReceiverServer):
    return routes(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route:
            receiver: desk
            group_by: [scope, strategy]
            group_wait: 0s
            group_interval: 5m
            repeat_interval: 1h
            routes:
              - {{match: {{event: scope_blind}}, receiver: watch}}
          receivers:
            - {{name: desk, apprise: ["{srv.url('desk')}"]}}
            - {{name: watch, apprise: ["{srv.url('watch')}"]}}
        """)


def test_a_rogue_bot_placing_an_entry_every_tick_pages_once_per_strategy_and_scope(tmp_path):
    seen: dict = {"events": [], "open": []}

    with ReceiverServer() as srv:
        async def scenario(runner, desk, eng, clock, store, key):
            parts = parts_of(runner)
            sink = NotifySink.from_documents([by_scope_and_strategy(srv)], clock=clock,
                                             options=NotifyOptions(timeout_s=5.0, poll_s=0.05))
            parts.fanout.sinks.append(sink)
            await runner.start()
            await tick(runner, clock)
            assert (await desk.lock_scope(key, "halted", "desk halt", actor="op")).done
            await tick(runner, clock)
            for i in range(TICKS):
                for bot in ("alp", "beta"):
                    eng.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.1, price=55_000.0 + i,
                                    time_in_force="GTC", client_order_id=f"{bot}-rogue-{i}")
                report = await tick(runner, clock)
                seen["events"] += [e for e in report.events if e.kind == LOCK_VIOLATION]
                seen["open"].append(open_ids(eng))
                await deliveries_done(sink, budget_s=2 * 5.0 + 1)
            seen["rows"] = violations(store)
            seen["metrics"] = desk.metrics_text()
            seen["pages"] = list(srv.got["desk"])  # within the group interval
            await runner.aclose()

        asyncio.run(asyncio.wait_for(with_runner(tmp_path, "binanceusdm", scenario), 120))
        pages = list(srv.got["desk"])

    assert all(not any("rogue" in c for c in ids) for ids in seen["open"])  # each cancelled at its tick
    assert len(seen["rows"]) == 2 * TICKS and len(seen["events"]) == 2 * TICKS  # each audited and told
    for strategy in ("alpha", "beta"):
        assert (f'killswitch_lock_violations_total{{action="cancel",scope="{KEY}",strategy="{strategy}"}} '
                f'{float(TICKS)}') in seen["metrics"]
    first = seen["pages"]
    assert len(first) == 2, [p["title"] for p in first]  # 48 violations in 2 minutes, two pages: one per strategy
    titles = sorted(p["title"] for p in first)
    assert titles == [f"[CRITICAL] lock broken at the venue in {KEY} by strategy {s}: {KEY} BTC/USDT:USDT buy "
                      "cancelled" for s in ("alpha", "beta")], titles
    for page in first:  # the group's first violation, the one that opened it
        assert "client_order_id: alp-rogue-0" in page["message"] or "client_order_id: beta-rogue-0" in page["message"]
    # each later violation is news, never dropped as a repeat of the first: the shutdown's flush
    # sends each group's update with the new count
    updates = sorted(p["title"] for p in pages[2:])
    assert updates == [f"[CRITICAL] lock broken at the venue in {KEY} by strategy {s}: {TICKS - 1} violation(s)"
                       for s in ("alpha", "beta")], updates
