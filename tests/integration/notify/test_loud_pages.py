"""Pages that reach nobody are loud (issue 28, finding 3): a real Runner through the flash crash,
its receiver's secret unset and its fallback a ``json://`` URL on 127.0.0.1 where nothing
listens. Every page then reaches no one: an ERROR line ``PAGES_FAILING`` names each receiver
and its cause, the status carries ``pages_failing`` and ``/metrics`` the gauges; once something
listens on the fallback's port, one INFO ``PAGES_RECOVERED``.

On main the same run left nothing but a counter: no line, no status field, no gauge.
"""

from __future__ import annotations

import asyncio
import logging
import textwrap

from prometheus_client.utils import floatToGoString as number

from killswitch.metrics import parse_families
from killswitch.notify.sink import NotifyOptions, NotifySink
from tests.integration.notify.rig import ReceiverServer, deliveries_done, routes
from tests.integration.runner.rig import TICK_MS, parts_of, setup
from tests.procs import free_port

TOKEN = "tok-f4llb4ck-77"  # in the fallback's URL: never in a line, the status or /metrics


def desk_routes(port: int):
    return routes(textwrap.dedent(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route: {{receiver: desk-chat, group_by: [policy, scope], group_wait: 0s, group_interval: 30s,
                   repeat_interval: 1m}}
          receivers:
            - {{name: desk-chat, apprise: [{{env: KS_TEST_UNSET_DESK_CHAT}}]}}
            - {{name: fallback, apprise: ["json://127.0.0.1:{port}/fallback?token={TOKEN}"]}}
          fallback_receiver: fallback
        """))


def test_a_page_that_reaches_nobody_is_an_error_line_naming_each_receiver_its_cause_and_the_status_shows_it(
        tmp_path, caplog, monkeypatch):
    monkeypatch.delenv("KS_TEST_UNSET_DESK_CHAT", raising=False)
    caplog.set_level(logging.INFO, logger="killswitch.notify")
    port = free_port()  # nothing listens here yet: connections are refused
    runner, _, clock, _, _, desk = setup(tmp_path)
    parts = parts_of(runner)
    sink = NotifySink.from_documents([desk_routes(port)], clock=clock, strict=False, environ={}, options=NotifyOptions(
        timeout_s=2.0, attempts=2, backoff_s=0.05, poll_s=0.02))
    parts.fanout.sinks.append(sink)
    seen: dict = {}

    def lines(prefix: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage().startswith(prefix)]

    async def go():
        await runner.start()
        for _ in range(200):  # the crash, until a page has reached nobody
            clock.advance(TICK_MS)
            await runner.tick()
            await deliveries_done(sink, budget_s=10)
            if [r for r in lines("PAGES_FAILING") if "(stage_transition)" in r.getMessage()]:
                break
        seen["status"], seen["metrics"] = desk.status(), desk.metrics_text()
        srv = ReceiverServer()
        srv.port = port  # the fallback's listener comes up
        with srv:
            for _ in range(100):  # the next page the group sends (a stage, a reminder) gets through
                clock.advance(TICK_MS)
                await runner.tick()
                await deliveries_done(sink, budget_s=10)
                if lines("PAGES_RECOVERED"):
                    break
        seen["after"], seen["metrics_after"] = desk.status(), desk.metrics_text()
        seen["got"] = srv.got["fallback"]
        await runner.aclose()

    asyncio.run(asyncio.wait_for(go(), 120))
    failing = lines("PAGES_FAILING")
    assert failing, [r.getMessage() for r in caplog.records]
    # the ladder's first 30 s are blind: those pages fail too (their own line); the halt's is this one
    line = next(r for r in failing if "(stage_transition)" in r.getMessage())
    assert line.levelname == "ERROR" and line.name == "killswitch.notify"
    text = line.getMessage()
    assert text.startswith("PAGES_FAILING: a critical page (stage_transition) reached no receiver: ")
    assert "desk/desk-chat: secret not resolved: {env: KS_TEST_UNSET_DESK_CHAT} is not set" in text
    assert "desk/fallback: connection refused" in text
    st = seen["status"]
    assert {(f.document, f.receiver) for f in st.pages_failing} == {("desk", "desk-chat"), ("desk", "fallback")}
    assert {f.receiver: f.cause for f in st.pages_failing}["fallback"] == "connection refused"
    assert st.pages_failing_since_ms is not None and st.pages_failing_since_ms <= clock()
    fams = parse_families(seen["metrics"])
    assert 'killswitch_notification_receiver_failing{document="desk",receiver="fallback"} 1.0' in \
        fams["killswitch_notification_receiver_failing"]["samples"]
    assert fams["killswitch_notifications_failing_since_seconds"]["samples"] == [
        f"killswitch_notifications_failing_since_seconds {number(st.pages_failing_since_ms / 1000)}"]

    (back,) = lines("PAGES_RECOVERED")  # once
    assert back.levelname == "INFO" and back.getMessage().startswith("PAGES_RECOVERED: desk/fallback delivers again")
    assert "still failing: desk/desk-chat: secret not resolved" in back.getMessage()
    assert seen["got"] and seen["got"][0]["title"].startswith("[CRITICAL] NOTIFICATION FAILED to desk-chat: ")
    assert "last result: unresolved (secret not resolved: {env: KS_TEST_UNSET_DESK_CHAT} is not set)" in \
        seen["got"][0]["message"]
    after = seen["after"]
    assert [(f.receiver, f.cause) for f in after.pages_failing] == [
        ("desk-chat", "secret not resolved: {env: KS_TEST_UNSET_DESK_CHAT} is not set")]
    assert 'killswitch_notification_receiver_failing{document="desk",receiver="fallback"} 0.0' in seen["metrics_after"]
    # "nobody heard" is told from "only the fallback heard": while the fallback failed too, no
    # fallback is named; once it delivers, desk-chat's line names it
    assert [f.fallback for f in st.pages_failing] == [None, None]
    (chat,) = after.pages_failing
    assert chat.fallback == "fallback" and chat.fallback_ms is not None and chat.fallback_ms <= clock()
    everything = "\n".join(r.getMessage() for r in caplog.records) + repr(st) + repr(after) + seen["metrics"]
    assert TOKEN not in everything and f":{port}" not in everything
