"""Pages that fail: retried at the next group interval, then the fallback receiver; resolved
notifications to the receivers that ask for them, a runner's halt reset by an operator among them."""

from __future__ import annotations

import asyncio
import json

from killswitch.events import Event
from killswitch.notify.sink import NotifyOptions, NotifySink
from killswitch.policy.routes_doc import NotificationRoutes
from tests.integration.runner.rig import T0, TICK_MS, parts_of, setup

from .rig import Receipts, ReceiverServer, Steps, audit, deliveries_done, desk_routes, routes


def flaky_routes(srv: ReceiverServer) -> NotificationRoutes:
    return routes(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route: {{receiver: pager, group_by: [policy, scope], group_wait: 0s, group_interval: 1m}}
          receivers:
            - {{name: pager, apprise: ["{srv.url('pager')}"]}}
            - {{name: fallback, apprise: ["{srv.url('fallback')}"]}}
          fallback_receiver: fallback
        """)


def halt(ts: int) -> Event:
    return Event.make("stage_transition", ts, {"from": 0, "to": 3, "incident": "book/okx/main/L3/e1",
                                               "dry_run": False, "reason": "DRAWDOWN_LIMIT"},
                      policy="book", scope="okx/main", stage="flatten", level=3, from_level=0,
                      severity="critical")


def run_flaky(tmp_path, fail_first: int) -> tuple[ReceiverServer, list[tuple[str, int, dict]]]:
    """A halt paged to ``pager``, which answers 500 to its first ``fail_first`` requests; two
    attempts per round, one retry at the next group interval (the sink's fake clock advances
    10s of a minute-long group interval per 50ms of real time)."""
    from killswitch.state import open_store

    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    now = [T0]
    with ReceiverServer(fail_first={"pager": fail_first}) as srv:
        sink = NotifySink.from_documents([flaky_routes(srv)], receipts=Receipts(store), clock=lambda: now[0],
                                         options=NotifyOptions(timeout_s=5.0, attempts=2, backoff_s=0.05, poll_s=0.02,
                                                               group_retries=1))

        class R:
            graph, dry_run = None, False

        async def go():
            sink.on_event(halt(T0), R())
            for _ in range(300):
                await asyncio.sleep(0.05)
                now[0] += 10_000
                if srv.got["pager"] or srv.got["fallback"]:
                    break
            await sink.aclose()

        asyncio.run(asyncio.wait_for(go(), 60))
    rows = audit(store, "notification_delivered", "notification_failed")
    store.close()
    return srv, rows


def test_a_page_that_fails_a_round_is_retried_at_the_next_group_interval_not_sent_to_the_fallback(tmp_path):
    srv, rows = run_flaky(tmp_path, fail_first=2)  # the whole first round fails
    assert srv.hits["pager"] == 3 and len(srv.got["pager"]) == 1 and srv.got["fallback"] == []
    assert srv.got["pager"][0]["title"].startswith("[CRITICAL] book okx/main: entered stage 3 flatten")
    got = [(k, p["round"], p["attempt"], p["result"], p["final"]) for k, _, p in rows]
    assert got == [("notification_failed", 1, 1, "failed", False), ("notification_failed", 1, 2, "failed", False),
                   ("notification_delivered", 2, 1, "delivered", True)]
    (_, _, last_fail), (_, t_ok, _) = rows[1], rows[2]
    assert t_ok >= last_fail["retry_at_ms"] >= T0 + 60_000  # not before the group's next flush
    # each receipt names what was paged: its title, as the receiver got it (the report's table)
    assert {p["title"] for _, _, p in rows} == {srv.got["pager"][0]["title"]}
    assert "json://" not in json.dumps([p for _, _, p in rows]) and f":{srv.port}" not in json.dumps(rows)


def test_a_page_that_fails_its_retry_too_goes_to_the_fallback_receiver(tmp_path):
    srv, rows = run_flaky(tmp_path, fail_first=4)  # both rounds fail
    assert srv.hits["pager"] == 4 and srv.got["pager"] == []
    (page,) = srv.got["fallback"]
    assert page["title"].startswith("[CRITICAL] NOTIFICATION FAILED to pager: [CRITICAL] book okx/main")
    assert "after 2 attempt(s) in each of 2 rounds one group interval apart" in page["message"]
    got = [(p["receiver"], p["round"], p["attempt"], p["final"]) for _, _, p in rows]
    assert got == [("pager", 1, 1, False), ("pager", 1, 2, False), ("pager", 2, 1, False), ("pager", 2, 2, True),
                   ("fallback", 1, 1, True)]  # the fallback is a delivery of its own
    assert rows[-1][2]["fallback_for"] == "pager"


def test_a_reset_halt_sends_a_resolved_notification_only_to_receivers_with_send_resolved(tmp_path):
    from killswitch.state import open_store

    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    now = [T0]
    with ReceiverServer() as srv:
        doc = routes(f"""\
            apiVersion: killswitch/v1
            kind: NotificationRoutes
            metadata: {{name: desk}}
            spec:
              route:
                receiver: chat
                group_by: [policy, scope]
                group_wait: 0s
                group_interval: 1m
                routes:
                  - {{match: {{severity: critical}}, receiver: pager, continue: true}}
                  - {{receiver: chat}}
              receivers:
                - {{name: pager, apprise: ["{srv.url('pager')}"]}}
                - {{name: chat, apprise: ["{srv.url('chat')}"], send_resolved: false}}
            """)
        sink = NotifySink.from_documents([doc], receipts=Receipts(store), clock=lambda: now[0],
                                         options=NotifyOptions(timeout_s=5.0, poll_s=0.02))

        class R:
            graph, dry_run = None, False

        async def wait_for(cond) -> None:
            for _ in range(200):
                await asyncio.sleep(0.05)
                now[0] += 5_000
                if cond():
                    return
            raise AssertionError(f"not reached: pager {srv.got['pager']} chat {srv.got['chat']}")

        async def go():
            sink.on_event(halt(T0), R())
            await wait_for(lambda: srv.got["pager"] and srv.got["chat"])
            sink.on_event(Event.make("reset", now[0], {"released": True, "result": "RESET"}, policy="book",
                                     scope="okx/main", level=3), R())
            await wait_for(lambda: len(srv.got["pager"]) == 2 and len(srv.got["chat"]) == 2)
            await sink.aclose()

        asyncio.run(asyncio.wait_for(go(), 60))
    rows = audit(store, "notification_delivered")
    store.close()
    assert [(p["receiver"], p["resolved"]) for _, _, p in rows if p["receiver"] == "pager"] == [
        ("pager", False), ("pager", True)]
    resolved = srv.got["pager"][1]
    assert resolved["title"] == "[RESOLVED] book okx/main: stage 3 flatten is over, reset (RESET)"
    assert resolved["type"] == "success" and "ksctl runbook render --incident book/okx/main/L3/e1" in \
        resolved["message"]
    assert [("RESOLVED" in m["title"] + m["message"]) for m in srv.got["chat"]] == [False, False]
    assert "reset approval (RESET)" in srv.got["chat"][1]["title"]


def test_a_runner_s_halt_reset_by_an_operator_is_paged_resolved(tmp_path):
    """The real runner through the flash crash: stage 3 latched and paged; an operator's reset
    releases it and the pager hears, once, that it is over."""
    with ReceiverServer() as srv:
        doc = desk_routes(srv, group_wait="10s")
        runner, engine, clock, store, _, desk = setup(tmp_path)
        parts = parts_of(runner)
        sink = NotifySink.from_documents([doc], clock=clock, options=NotifyOptions(timeout_s=5.0, poll_s=0.05))
        parts.fanout.sinks.append(sink)
        steps = Steps(sink)

        async def settle(ticks: int, step_ms: int) -> None:
            for _ in range(ticks):
                clock.advance(step_ms)
                await runner.tick()
                await steps.next()  # the tick's events routed, what is due flushed
                await deliveries_done(sink, budget_s=11)

        async def go():
            await runner.start()
            await settle(60, TICK_MS)  # the crash: stage 3 flatten, latched
            await settle(40, 30_000)  # the market settles; the halt holds (and is repeated)
            assert srv.got["desk"], "the halt was never paged"
            done = await desk.reset("crash-ladder", "simulated/sim-main", "alice", "flat and reconciled",
                                      confirm_relatch=True)
            assert done.done, done.reason
            await settle(30, 5_000)  # past the group's next flush
            await settle(40, 30_000)  # 20 quiet minutes: nothing more
            await runner.aclose()

        asyncio.run(asyncio.wait_for(go(), 120))
    titles = [p["title"] for p in srv.got["desk"]]
    resolved = [t for t in titles if t.startswith("[RESOLVED]")]
    assert resolved == ["[RESOLVED] crash-ladder simulated/sim-main: stage 3 flatten is over, "
                        "reset (MANUAL_RESET: stage=3 approvers=alice)"], titles
    assert titles[-1] == resolved[0]  # nothing after it: no reminder of a released halt
    body = srv.got["desk"][-1]["message"]
    # the halt's entry, once; stages 1 and 2 were superseded by the escalation, not resolved
    assert body.count("RESOLVED ") == 1 and "was: CRITICAL crash-ladder simulated/sim-main: entered stage 3" in body
    assert "INFO crash-ladder simulated/sim-main: reset approval (MANUAL_RESET" in body  # the reset itself
