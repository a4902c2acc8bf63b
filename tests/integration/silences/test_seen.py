"""A silence holds back only what its author saw (fifth walk H1 and M4, issue 65): made while one
incident was open on a scope, it lets through the stage entry of any incident that was not open
then — another policy's on the same scope, an escalation — while it goes on holding back what it
was made for; what it holds back is kept in the store (a restart changes nothing), and the
incident's card and the reset's preview say what it really does, by the dispatcher's rule."""

from __future__ import annotations

import asyncio
import textwrap

from killswitch.notify.sink import NotifyOptions, NotifySink
from tests.integration.notify.rig import ReceiverServer, audit, deliveries_done, desk_routes
from tests.integration.runner.rig import POLICY, TICK_MS, parts_of, setup
from tests.unit.engine_helpers import compile_graph

SCOPE = "simulated/sim-main"
# another policy on the same account: its stage 1 comes two minutes after a 2% drawdown, when the
# crash ladder is at stage 3 (the same account, selected by its name: a scope of its own)
LATE = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: late-watch}
    spec:
      scope: {level: account, accounts: {names: [sim-main]}}
      interval: 5s
      signals:
        dd: {equity_drawdown: {window: 10m, min_coverage: 5%}}
      triggers:
        deep: {when: "dd >= 2%", for: 2m, on_missing_data: hold}
      stages:
        - {level: 1, name: watch, on: [deep], reset: manual, actions: [{cancel_orders: all}]}
    """)


def graph():
    return compile_graph(POLICY + "---\n" + LATE, "policies.yaml")


def level(desk, policy: str) -> int:
    return next((s.stage for s in desk.status().scopes if s.policy == policy), 0)


def test_a_silence_lets_through_new_incidents_it_never_saw_and_holds_its_own_across_a_restart(tmp_path):
    with ReceiverServer() as srv:
        doc = desk_routes(srv, group_wait="10s")
        opts = NotifyOptions(timeout_s=5.0, poll_s=0.05)
        runner, engine, clock, store, _, desk = setup(tmp_path, policies=graph())
        sink = NotifySink.from_documents([doc], clock=clock, options=opts)
        parts_of(runner).fanout.sinks.append(sink)

        async def ticks(r, s, n: int, step_ms: int = TICK_MS) -> None:
            for _ in range(n):
                clock.advance(step_ms)
                await r.tick()
                await deliveries_done(s, 10)

        async def first():
            await runner.start()
            while level(desk, "crash-ladder") < 1:
                await ticks(runner, sink, 1)
            await ticks(runner, sink, 3)  # stage 1 paged
            # "quiet while I work on sim-main": the scope, while crash-ladder's stage 1 is open
            wide = await desk.silence_add([f"scope={SCOPE}"], 3600, "quiet while I work on sim-main", actor="alice")
            assert wide.done and "pages through: a NEW incident's stage entry" in wide.reason, wide.reason
            while level(desk, "crash-ladder") < 3:
                await ticks(runner, sink, 1)
            for _ in range(20):  # the group's next flush, a minute after stage 2's
                if any("entered stage 3" in p["title"] for p in srv.got["desk"]):
                    break
                await ticks(runner, sink, 1)
            # the stage 3 incident, silenced by its policy: its reminders are held back
            mine = await desk.silence_add(["policy=crash-ladder"], 3600, "flatten seen, on it", actor="alice")
            assert mine.done, mine.reason
            l3 = next(i for i in await desk.incidents() if i.policy == "crash-ladder" and i.level == 3)
            # the card: the scope's silence does not hold back stage 3's pages (made at stage 1)
            assert [s.id for s in l3.silenced_by] == [mine.silence.id], l3.silenced_by
            effects = [e for e in desk.preview_reset("crash-ladder", SCOPE, "alice").effects if e.startswith("silence")]
            [said] = [e for e in effects if wide.silence.id in e]
            assert "stage 3's pages page through it" in said and "holds back this reset's page" in said, said
            [said] = [e for e in effects if mine.silence.id in e]
            assert said.startswith(f"silence {mine.silence.id} (policy=\"crash-ladder\", by alice) holds back the "
                                   "incident's pages and this reset's page; it OUTLIVES"), said
            await runner.aclose()
            return wide.silence.id, mine.silence.id, len(srv.got["desk"])

        wide, mine, before = asyncio.run(asyncio.wait_for(first(), 120))
        titles = [p["title"] for p in srv.got["desk"]]
        # the escalations were not open when the scope was silenced: they paged
        assert any("crash-ladder simulated/sim-main: entered stage 2" in t for t in titles), titles
        assert any("crash-ladder simulated/sim-main: entered stage 3" in t for t in titles), titles
        # a restart: the incidents each silence saw are read back from the store
        assert {s.id: s.incidents for s in store.silences()} == {
            wide: ("crash-ladder/simulated/sim-main/L1/e1",), mine: ("crash-ladder/simulated/sim-main/L3/e3",)}
        again, *_ = setup(tmp_path, engine=engine, clock=clock, policies=graph())
        sink2 = NotifySink.from_documents([doc], clock=clock, options=opts)
        parts_of(again).fanout.sinks.append(sink2)

        async def second():
            await again.start()
            await ticks(again, sink2, 30)  # late-watch enters stage 1 (if not yet) and pages
            await ticks(again, sink2, 30, 30_000)  # 15 minutes: stage 3's reminder is due, and held back
            await again.aclose()

        asyncio.run(asyncio.wait_for(second(), 120))
    titles = [p["title"] for p in srv.got["desk"]]
    # another policy's new incident on the silenced scope pages through the scope's silence
    assert any(t.startswith("[CRITICAL] late-watch simulated/sim-main: entered stage 1") for t in titles), titles
    later = titles[before:]
    assert not any("crash-ladder" in t for t in later), later  # the silenced incident's reminders: held back
    held = [p for _, _, p in audit(store, "notification_silenced")]
    assert any("crash-ladder/simulated/sim-main/L3/e3" in p.get("incidents", []) and mine in p.get("silences", [])
               for p in held), held
    assert not any(any(i.startswith("late-watch/") for i in p.get("incidents", [])) for p in held), held
