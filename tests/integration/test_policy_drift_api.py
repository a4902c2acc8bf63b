"""``POST /v1/policy-drift`` over a real runner's desk (SQLite): the checker's verdict stored
under the runner's holder name, shown in the status and on /metrics, kept across a restart, a
standby's its own; taken up by a runner restarted under another name and by a standby taking
over; who may post it (the ``drift`` role, which may read the status and nothing else, or an
operator); a bad body a 400 naming its field."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.render.policy_sync import policy_sync_lines
from killswitch.state import open_store
from killswitch.view.policy_sync import verdict_of
from tests.integration.runner.rig import T0, graph
from tests.unit.engine_helpers import compile_graph
from tests.unit.face.api.rig import serve

DRIFT, OPS, VIEWER = "drift-checker-token", "drift-operator-token", "drift-viewer-token"
TOKENS = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "drift-bot", "roles": ["drift"], "sha256": token_digest(DRIFT)},
    {"identity": "olga", "roles": ["operator"], "sha256": token_digest(OPS)},
    {"identity": "vic", "roles": ["viewer"], "sha256": token_digest(VIEWER)}]})
LOCK_BODY = {"scope": "simulated/sim-main", "reason": "not a checker's to do", "mode": "halted"}
VERDICT = {"state": "diverged", "against": "origin/main:policies/", "expected_revision": "c" * 40,
           "detail": "futures-book.yaml differs from origin/main", "documents": ["futures-book.yaml"],
           "checked_ms": T0 - 60_000}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def _desk(tmp_path, holder: str, clock=None, policy=None):
    clock = clock or ManualClock(T0)
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    adapter = SimulatedAdapter(build("calm", clock), "sim-main", venue="simulated", labels={"book": "futures"})
    runner, desk, parts = build_runner_and_desk(policy or graph(), {"simulated/sim-main": adapter}, store,
                                                clock=clock, holder=holder, lock_path=tmp_path / f"{holder}.lock.json")
    return runner, desk, parts, store


def test_a_drift_checker_posts_its_verdict_and_reads_the_status_and_nothing_else(tmp_path):
    runner, desk, parts, store = _desk(tmp_path, "ks-0")

    async def go():
        await runner.start()
        async with serve(desk, token=None, tokens=TOKENS) as c:
            st, body, _ = await c.post("/v1/policy-drift", VERDICT, auth=f"Bearer {DRIFT}")
            assert (st, body) == (200, {"done": True, "reason": "DRIFT_RECORDED: diverged"})
            st, status, _ = await c.get("/v1/status", auth=f"Bearer {DRIFT}")
            assert st == 200
            verdict = status["policy_sync"]["verdict"]
            assert verdict == {**VERDICT, "by": "drift-bot", "posted_ms": T0, "posted_to": None}
            st, body, _ = await c.post("/v1/lock", LOCK_BODY, auth=f"Bearer {DRIFT}")
            assert st == 403 and body["error"] == "ROLE_REQUIRED"
            st, body, _ = await c.get("/v1/positions", auth=f"Bearer {DRIFT}")
            assert st == 403
            st, body, _ = await c.post("/v1/policy-drift", VERDICT, auth=f"Bearer {VIEWER}")
            assert st == 403 and body["error"] == "ROLE_REQUIRED"
            st, body, _ = await c.post("/v1/policy-drift", {**VERDICT, "state": "in_sync"}, auth=f"Bearer {OPS}")
            assert (st, body["reason"]) == (200, "DRIFT_RECORDED: in_sync")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(desk.metrics_text()) for s in f.samples
                   if s.name.startswith("killswitch_policy_drift")}
        assert samples == {("killswitch_policy_drift", (("state", "in_sync"),)): 1.0,  # one series: the latest
                           ("killswitch_policy_drift_checked_timestamp_seconds", ()): (T0 - 60_000) / 1000}
        await runner.aclose()

    run(go())
    assert store.policy_drift("ks-0")["by"] == "olga"
    store.close()


@pytest.mark.parametrize("body, field", [
    ({k: v for k, v in VERDICT.items() if k != "against"}, "against"),
    ({**VERDICT, "state": "drifted"}, "state"),
    ({**VERDICT, "by": "mallory"}, "by"),
    ({**VERDICT, "documents": [None]}, "documents[0]"),
    ({**VERDICT, "checked_ms": "yesterday"}, "checked_ms"),
])
def test_a_bad_verdict_is_a_400_naming_its_field_and_nothing_is_stored(tmp_path, body, field):
    runner, desk, parts, store = _desk(tmp_path, "ks-0")

    async def go():
        async with serve(desk, token=None, tokens=TOKENS) as c:
            st, answer, _ = await c.post("/v1/policy-drift", body, auth=f"Bearer {DRIFT}")
            assert st == 400 and answer["error"] == "BAD_REQUEST" and f'"{field}"' in answer["reason"], answer
        await runner.aclose()

    run(go())
    assert store.policy_drift("ks-0") is None and desk.status().policy_sync.verdict is None
    store.close()


def test_a_verdict_is_shown_after_a_restart_and_a_standby_keeps_its_own(tmp_path):
    runner, desk, parts, store = _desk(tmp_path, "ks-0")

    async def first():
        await runner.start()  # ks-0 leads
        assert (await desk.record_drift(_verdict("behind"))).reason == "DRIFT_RECORDED: behind"
        standby, sdesk, sparts, sstore = _desk(tmp_path, "ks-1")
        await standby.start()
        assert not sdesk.status().leader
        assert (await sdesk.record_drift(_verdict("reload_failing"))).done  # a standby is checked too
        assert sdesk.status().policy_sync.verdict.state == "reload_failing"
        assert desk.status().policy_sync.verdict.state == "behind"
        await standby.aclose()
        sstore.close()
        await runner.aclose()

    run(first())
    store.close()
    again, adesk, aparts, astore = _desk(tmp_path, "ks-0")  # the restart: the same holder name
    shown = adesk.status().policy_sync.verdict
    assert (shown.state, shown.by, shown.detail) == ("behind", "drift-bot", "checked")
    run(again.aclose())
    astore.close()


def _verdict(state: str):
    return verdict_of({**VERDICT, "state": state, "detail": "checked"}, "drift-bot")


def test_a_runner_restarted_under_another_holder_name_shows_the_verdict_posted_before_it(tmp_path):
    """Issue 81, medium 8: the verdict was kept under the process's name (``host-pid`` by default),
    so after a restart the console said "in sync ... no drift verdict posted". The runner rebuilt
    on the same store under another name shows the last verdict posted about the graph it runs:
    when it was checked and posted, by whom, and to which runner; one running another graph does not."""
    clock = ManualClock(T0)
    runner, desk, parts, store = _desk(tmp_path, "host-111", clock)

    async def post():
        await runner.start()
        assert (await desk.record_drift(_verdict("diverged"))).done
        await runner.aclose()

    run(post())
    store.close()
    clock.advance(600_000)  # ten minutes later, the same host, another process
    again, adesk, aparts, astore = _desk(tmp_path, "host-222", clock)
    shown = adesk.status().policy_sync.verdict
    assert shown is not None, "the restarted runner lost the verdict"
    assert (shown.state, shown.by, shown.checked_ms, shown.posted_ms, shown.posted_to) == \
        ("diverged", "drift-bot", T0 - 60_000, T0, "host-111")

    async def read():
        await again.start()
        async with serve(adesk, token=None, tokens=TOKENS) as c:
            st, status, _ = await c.get("/v1/status", auth=f"Bearer {VIEWER}")
            assert st == 200 and status["policy_sync"]["verdict"]["posted_to"] == "host-111", status["policy_sync"]
            st, page, _ = await c.get("/console/view", auth=f"Bearer {VIEWER}")
            assert st == 200
            return page.decode()

    page = run(read())
    assert "no drift verdict posted" not in page
    assert "DIVERGED: futures-book.yaml" in page and "by drift-bot" in page
    assert "(posted to <code>host-111</code> " in page and "10m ago" in page, page
    line = policy_sync_lines(adesk.status().policy_sync, clock())[1]
    assert line.endswith("checked 660s ago by drift-bot (posted to host-111 600s ago, before this runner started or "
                         "took over)"), line
    run(again.aclose())
    astore.close()
    # a runner of the same store running another graph: the verdict is not about what it runs
    other, odesk, _, ostore = _desk(tmp_path, "host-333", clock, policy=_other_graph())
    assert odesk.status().policy_sync.verdict is None
    run(other.aclose())
    ostore.close()


def test_a_standby_that_takes_over_shows_the_verdict_posted_to_the_leader(tmp_path):
    """The checker posts to the shard's URL, which reaches the leader: the standby that takes over
    from it shows that verdict, unless it was posted one of its own."""
    clock = ManualClock(T0)
    leader, ldesk, _, lstore = _desk(tmp_path, "ks-0", clock)
    standby, sdesk, sparts, sstore = _desk(tmp_path, "ks-1", clock)

    async def go():
        await leader.start()
        await standby.start()
        assert ldesk.status().leader and not sdesk.status().leader
        assert sdesk.status().policy_sync.verdict is None
        clock.advance(1_000)
        assert (await ldesk.record_drift(_verdict("behind"))).done  # to the leader alone
        assert sdesk.status().policy_sync.verdict is None
        clock.advance(60_000)  # the leader is gone: its lease runs out
        await standby.tick()
        assert sparts.lead.leader
        shown = sdesk.status().policy_sync.verdict
        assert shown is not None, "the standby that took over shows no verdict"
        assert (shown.state, shown.by, shown.posted_ms, shown.posted_to) == ("behind", "drift-bot", T0 + 1_000,
                                                                             "ks-0")
        await standby.aclose()
        await leader.aclose()

    run(go())
    lstore.close()
    sstore.close()


def _other_graph():
    from tests.integration.runner.rig import POLICY

    return compile_graph(POLICY.replace("crash-ladder", "crash-ladder-two"), "crash-ladder.yaml")
