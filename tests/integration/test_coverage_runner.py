"""A running runner says what it cannot see: blind while its windows fill (status, /metrics, one
log line each way, the lock of ``while_blind``), unmatched when its scope selects nothing, and
never blind again after a restart that kept its history.

A restart or a failover while a window is still filling loses none of it: the runner that leads
next continues the windows from the store and is armed when an uninterrupted runner would be
(the time it was down counts as covered; the measured blind time it adds is printed).
"""

from __future__ import annotations

import asyncio
import logging
import re
import textwrap

import pytest

from adapters.simulated.adapter import SimulatedAdapter
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store
from tests.integration.runner.rig import BUILT, POLICY, T0, TICK_MS, drive, parts_of, setup
from tests.integration.sim_helpers import engine as sim_engine
from tests.unit.engine_helpers import compile_graph


def lines(caplog, code: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(code + ":")]


def armed_metric(text: str) -> list[str]:
    return sorted(x for x in text.splitlines() if x.startswith("killswitch_policy_armed{"))


def test_blind_while_the_window_fills_then_armed_said_once_each_way(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner")
    runner, engine, clock, store, _, desk = setup(tmp_path)  # dd: 10m window, min_coverage 5%: 30 s

    async def go():
        await runner.start()
        await drive(runner, clock, 1)
        first = desk.status()
        metrics = desk.metrics_text()
        await drive(runner, clock, 10)
        return first, metrics, desk.status(), desk.metrics_text()

    first, m1, later, m2 = asyncio.run(go())
    (row,) = first.coverage
    assert (row.policy, row.scope, row.state, row.reason) == (
        "crash-ladder", "simulated/sim-main", "blind", "INSUFFICIENT_HISTORY")
    assert {t.trigger for t in row.triggers} == {"soft", "harder", "hard"}
    assert row.since_ms == T0 + TICK_MS and row.until_ms == T0 + TICK_MS + 30_000
    assert row.while_blind is None
    assert armed_metric(m1) == [
        'killswitch_policy_armed{policy="crash-ladder",reason="INSUFFICIENT_HISTORY",scope="simulated/sim-main"} 0.0']
    assert 'killswitch_policy_blind_until_seconds{policy="crash-ladder",scope="simulated/sim-main"} 30.0' in m1
    assert "killswitch_policies_blind 1.0" in m1
    (row,) = later.coverage
    assert row.state == "armed" and row.since_ms == T0 + 7 * TICK_MS
    assert armed_metric(m2) == [
        'killswitch_policy_armed{policy="crash-ladder",reason="ok",scope="simulated/sim-main"} 1.0']
    assert "killswitch_policies_blind 0.0" in m2 and "killswitch_policy_blind_until_seconds{" not in m2
    (blind,) = lines(caplog, "SCOPE_BLIND")
    assert "crash-ladder simulated/sim-main cannot act: INSUFFICIENT_HISTORY" in blind and "armed again at" in blind
    assert lines(caplog, "SCOPE_ARMED") == [
        "SCOPE_ARMED: crash-ladder simulated/sim-main: every trigger can be evaluated again (blind for 30s)"]


def test_a_restarted_runner_continues_its_windows_and_is_never_blind(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner")
    runner, engine, clock, store, _, _ = setup(tmp_path)

    async def first_run():
        await runner.start()
        await drive(runner, clock, 20)
        await runner.aclose()

    asyncio.run(first_run())
    store.close()
    caplog.clear()
    clock.advance(20_000)  # down for 20 s
    again, *_, again_desk = setup(tmp_path, engine=engine, clock=clock)

    async def second_run():
        await again.start()
        await drive(again, clock, 1)
        return again_desk.status()

    st = asyncio.run(second_run())
    (row,) = st.coverage
    assert row.state == "armed" and row.since_ms == T0 + 7 * TICK_MS  # armed since the first run
    assert lines(caplog, "SCOPE_BLIND") == [] and lines(caplog, "SCOPE_ARMED") == []


def test_a_runner_restarted_while_blind_or_unmatched_says_so_in_its_fresh_log(tmp_path, caplog):
    """The coverage comes back from the store, so nothing *changes* at the restart's first tick;
    one tailing the new process's log is told all the same what it cannot see, once."""
    caplog.set_level(logging.INFO, logger="killswitch.runner")
    for policies, code, text in (
            (None, "SCOPE_BLIND", "crash-ladder simulated/sim-main cannot act (blind since "),
            (compile_graph(POLICY.replace("match_labels: {book: futures}", "match_labels: {book: futurs}"), "p.yaml"),
             "POLICY_UNMATCHED", "crash-ladder: its scope (labels{book=futurs}) selects no account (since ")):
        root = tmp_path / code
        root.mkdir()
        kw = {} if policies is None else {"policies": policies}
        runner, engine, clock, store, _, _ = setup(root, **kw)

        async def first_run():
            await runner.start()
            await drive(runner, clock, 2)  # 10 s: still blind (30 s to fill), or unmatched
            await runner.aclose()

        asyncio.run(first_run())
        store.close()
        caplog.clear()
        again, *_ = setup(root, engine=engine, clock=clock, **kw)

        async def second_run():
            await again.start()
            await drive(again, clock, 3)
            await again.aclose()

        asyncio.run(second_run())
        (line,) = lines(caplog, code)  # said once, not every tick
        assert text in line, line


def test_a_scope_that_selects_nothing_is_unmatched_loudly(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner")
    typo = compile_graph(POLICY.replace("match_labels: {book: futures}", "match_labels: {book: futurs}"), "p.yaml")
    runner, engine, clock, store, _, desk = setup(tmp_path, policies=typo)

    async def go():
        await runner.start()
        reports = await drive(runner, clock, 7)  # 35 s
        return reports, desk.status(), desk.metrics_text()

    reports, st, metrics = asyncio.run(go())
    (row,) = st.coverage
    assert (row.policy, row.scope, row.state, row.reason) == ("crash-ladder", "(none)", "unmatched", "UNMATCHED")
    assert row.detail == "the scope (labels{book=futurs}) selects no account" and row.since_ms == T0 + TICK_MS
    assert armed_metric(metrics) == [
        'killswitch_policy_armed{policy="crash-ladder",reason="UNMATCHED",scope="(none)"} 0.0']
    assert lines(caplog, "POLICY_UNMATCHED") == [
        "POLICY_UNMATCHED: crash-ladder: its scope (labels{book=futurs}) selects no account: the policy cannot act"]
    # reported at once, then every 30 s while it lasts: the routes keep it active, and resolve it when gone
    ticks = [i for i, r in enumerate(reports) if any(e.kind == "policy_unmatched" for e in r.events)]
    assert ticks == [0, 6]


def test_a_blind_scope_is_paged_once_and_resolved_through_the_routes_at_the_tick_it_is_armed(tmp_path):
    from killswitch.notify.sink import NotifyOptions, NotifySink
    from tests.integration.notify.rig import ReceiverServer, audit, deliveries_done, routes

    with ReceiverServer() as srv:
        doc = routes(f"""\
            apiVersion: killswitch/v1
            kind: NotificationRoutes
            metadata: {{name: desk}}
            spec:
              route:
                receiver: watch
                group_by: [policy, scope]
                group_wait: 10s
                group_interval: 1m
                repeat_interval: 1h
              receivers:
                - {{name: watch, apprise: ["{srv.url('watch')}"]}}
            """)
        runner, engine, clock, store, _, _ = setup(tmp_path)  # blind for 30 s, from its first tick
        parts = parts_of(runner)
        sink = NotifySink.from_documents([doc], clock=clock, options=NotifyOptions(timeout_s=5.0, poll_s=0.05))
        parts.fanout.sinks.append(sink)

        async def go():
            await runner.start()
            kinds = []
            for _ in range(10):  # 50 s: before the crash's first minute
                clock.advance(TICK_MS)
                kinds.append([e.kind for e in (await runner.tick()).events])
                await deliveries_done(sink, budget_s=2 * 5.0 + 1)
            await runner.aclose()
            return kinds

        kinds = asyncio.run(asyncio.wait_for(go(), 120))
    armed_at = T0 + 7 * TICK_MS
    assert [i for i, k in enumerate(kinds) if "scope_armed" in k] == [6]  # once, at the tick it is armed
    assert [i for i, k in enumerate(kinds) if "scope_blind" in k] == [0]  # at once; armed before its 30 s refresh
    titles = [m["title"] for m in srv.got["watch"]]
    assert len(titles) == 2, titles
    assert titles[0].startswith("[WARNING] crash-ladder simulated/sim-main: BLIND, cannot act (INSUFFICIENT_HISTORY)")
    assert titles[1] == ("[RESOLVED] crash-ladder simulated/sim-main: BLIND, cannot act (INSUFFICIENT_HISTORY): "
                         "triggers soft, harder, hard: armed again (blind for 30s)"), titles[1]
    assert "resolved at: 2026-03-02T13:00:35.000Z" in srv.got["watch"][1]["message"]  # the arming tick
    # the sink's worker runs after the tick that woke it: its receipt may bear the next tick's time
    page, resolution = [ts for _, ts, p in audit(store, "notification_delivered") if p["receiver"] == "watch"]
    assert T0 + TICK_MS + 10_000 <= page <= T0 + TICK_MS + 10_000 + TICK_MS  # group_wait after the first tick
    assert armed_at <= resolution <= armed_at + TICK_MS, resolution - armed_at  # not 5 minutes on


def test_a_scope_allow_empty_lets_select_nothing_is_unmatched_calmly_never_paged_nor_armed(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="killswitch.runner")
    ahead = POLICY.replace("match_labels: {book: futures}}", "match_labels: {book: next}}, allow_empty: true")
    assert "allow_empty: true" in ahead
    runner, engine, clock, store, _, desk = setup(tmp_path, policies=compile_graph(ahead, "p.yaml"))

    async def go():
        await runner.start()
        reports = await drive(runner, clock, 13)  # 65 s: past the 30 s a page would be reported again
        return reports, desk.status(), desk.metrics_text()

    reports, st, metrics = asyncio.run(go())
    (row,) = st.coverage
    assert (row.policy, row.scope, row.state, row.reason) == (
        "crash-ladder", "(none)", "unmatched", "UNMATCHED_ALLOWED")
    assert row.detail == "the scope (labels{book=next}) selects no account (allowed: allow_empty: true)"
    assert armed_metric(metrics) == [
        'killswitch_policy_armed{policy="crash-ladder",reason="UNMATCHED_ALLOWED",scope="(none)"} 0.0']
    assert "killswitch_policies_blind 0.0" in metrics
    assert [e.kind for r in reports for e in r.events] == []  # nothing for the routes: no critical page
    assert lines(caplog, "POLICY_UNMATCHED") == [] and lines(caplog, "SCOPE_BLIND") == []
    assert lines(caplog, "POLICY_UNMATCHED_ALLOWED") == [
        "POLICY_UNMATCHED_ALLOWED: crash-ladder: its scope (labels{book=next}) selects no account, as allow_empty: "
        "true allows; the policy acts once an account matches"]
    # the policy is calm; the runner's one account, which no policy selects, is not (engine/guarded.py)
    assert st.unguarded == ("simulated/sim-main",)
    assert [r.getMessage().split(":")[0] for r in caplog.records
            if r.name == "killswitch.runner" and r.levelno >= logging.WARNING] == ["UNGUARDED"]


def test_while_blind_holds_the_scope_at_its_mode_and_lets_go_when_armed(tmp_path):
    text = POLICY.replace("  unwind: {chunk_notional: 200k}\n",
                          "  unwind: {chunk_notional: 200k}\n  while_blind: {lock_trading: reducing}\n")
    assert "while_blind" in text
    runner, engine, clock, store, _, desk = setup(tmp_path, policies=compile_graph(text, "p.yaml"))
    order = {"account": "simulated/sim-main", "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.01,
             "reduce_only": False}

    async def go():
        await runner.start()
        await drive(runner, clock, 1)
        blind = desk.check_order(order), desk.status(), desk.lock_document("simulated/sim-main")
        await drive(runner, clock, 3)
        later = desk.status(), desk.lock_document("simulated/sim-main")
        await drive(runner, clock, 7)
        return blind, later, desk.check_order(order), desk.lock_document("simulated/sim-main")

    (blind_decision, st, lock), (st_later, lock_later), armed_decision, lock_after = asyncio.run(go())
    (row,) = st.coverage
    assert row.state == "blind" and row.while_blind == "lock_trading: reducing"
    assert not blind_decision.allow and lock["mode"] == "reducing", (blind_decision, lock)
    # why, once: each signal with the triggers that need it, no figure that moves every tick
    assert lock["reason"] == "WHILE_BLIND: policy=crash-ladder INSUFFICIENT_HISTORY: dd unknown to soft, harder " \
                             "and hard", lock["reason"]
    # three ticks on, the coverage has grown (the status says it) and the lock's words are still true
    (later,) = st_later.coverage
    assert later.state == "blind" and later.detail != row.detail and "coverage=" in later.detail
    assert lock_later["reason"] == lock["reason"] and lock_later["created_ts"] == lock["created_ts"]
    assert armed_decision.allow and lock_after["mode"] == "active", (armed_decision, lock_after)


# futures-book's dd_15m: a 15-minute window that must be 80% covered, 12 minutes of history
FILLING = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: futures-book}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        dd_15m: {equity_drawdown: {window: 15m, min_coverage: 80%}}
      triggers:
        soft: {when: "dd_15m >= 4.5%", on_missing_data: hold}
      stages:
        - {level: 1, name: trim, on: [soft], cooldown: 1h,
           actions: [{reduce_top_risk: {count: 2, fraction: 50%}}]}
    """
)
FILL_MS = 12 * 60_000
DOWN_MS = 20_000  # how long the runner is gone (a restart), or the leader's lease still runs (a failover)
LEASE_TTL_MS = 20_000


def filled_pct(now: int) -> int:
    """The coverage dd_15m has reached at ``now`` with its history since the first tick."""
    return round((now - T0 - TICK_MS) * 100 / (15 * 60_000))


def coverage_pct(row) -> int:
    """The coverage a blind row's window reached, from its detail (``coverage=40% min=80%``)."""
    m = re.search(r"coverage=(\d+)%", row.detail)
    assert m, row.detail
    return int(m.group(1))


async def until_armed(runner, desk, clock, limit: int = 200):
    parts = parts_of(runner)
    """Ticks ``runner`` (its ``desk`` read) until its one scope is armed: (armed since, the ticks before as (tick
    time, whether it led, its coverage row))."""
    seen = []
    for _ in range(limit):
        await drive(runner, clock, 1)
        (row,) = desk.status().coverage
        if row.state == "armed":
            return row.since_ms, seen
        seen.append((clock(), parts.lead.leader, row))
    raise AssertionError(f"not armed after {limit} ticks: {seen[-1]}")


def uninterrupted_armed_at(tmp_path) -> int:
    """When a runner that is never stopped is armed under FILLING, on the calm market."""
    root = tmp_path / "uninterrupted"
    root.mkdir()
    ex, clock = sim_engine(flat=False)  # marks that move: flat ones would be a frozen feed
    runner, _, _, store, _, desk = setup(root, engine=ex, clock=clock, policies=compile_graph(FILLING, "p.yaml"))

    async def go():
        await runner.start()
        armed, _ = await until_armed(runner, desk, clock)
        await runner.aclose()
        return armed

    armed = asyncio.run(go())
    store.close()
    assert armed == T0 + TICK_MS + FILL_MS  # first tick, then 12 minutes of history
    return armed


def test_a_runner_restarted_while_its_window_fills_is_armed_when_an_uninterrupted_one_is(tmp_path, capsys):
    baseline = uninterrupted_armed_at(tmp_path)
    ex, clock = sim_engine(flat=False)
    runner, _, _, store, _, desk = setup(tmp_path, engine=ex, clock=clock, policies=compile_graph(FILLING, "p.yaml"))

    async def first_run():
        await runner.start()
        await drive(runner, clock, 60)  # five minutes of the twelve
        (row,) = desk.status().coverage
        await runner.aclose()
        return row

    before = asyncio.run(first_run())
    store.close()
    assert before.state == "blind" and coverage_pct(before) == 33
    clock.advance(DOWN_MS)
    back_at = clock() + TICK_MS  # the restarted runner's first tick
    again, *_, again_desk = setup(tmp_path, engine=ex, clock=clock, policies=compile_graph(FILLING, "p.yaml"))

    async def second_run():
        await again.start()
        armed, rows = await until_armed(again, again_desk, clock)
        await again.aclose()
        return armed, rows

    armed, ticks = asyncio.run(second_run())
    # the history of the first run counts: the window goes on from 33% (plus the downtime), not 0%
    _, _, first = ticks[0]
    assert coverage_pct(first) == filled_pct(back_at) == 36 and first.since_ms == T0 + TICK_MS
    added = armed - baseline
    with capsys.disabled():
        print(f"\nrestart at {(back_at - DOWN_MS - TICK_MS - T0) / 1000:.0f}s into a {FILL_MS // 1000}s fill, "
              f"down {DOWN_MS / 1000:.0f}s: blind {(armed - back_at) / 1000:.0f}s after the restart "
              f"(from scratch: {FILL_MS / 1000:.0f}s); armed at +{(armed - T0) / 1000:.0f}s, uninterrupted at "
              f"+{(baseline - T0) / 1000:.0f}s: blind time the restart added {added / 1000:.0f}s")
    assert added == 0


@pytest.fixture(params=["sqlite", "postgres"])
def shared_store(request, tmp_path) -> str:
    """The URL of an empty store a leader and a standby share (PostgreSQL: a database of its own)."""
    url = f"sqlite://{tmp_path / 'shared.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    open_store(url).close()  # migrated once, before both race for the lease
    return url


def test_a_standby_taking_over_mid_fill_continues_the_leaders_windows(tmp_path, shared_store, capsys):
    baseline = uninterrupted_armed_at(tmp_path)
    ex, clock = sim_engine(flat=False)
    graph = compile_graph(FILLING, "p.yaml")
    stores = []

    def runner(holder):
        stores.append(open_store(shared_store))
        adapter = SimulatedAdapter(ex, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
        built = build_runner_and_desk(graph, {"simulated/sim-main": adapter}, stores[-1],
                                      lock_path=tmp_path / f"{holder}.json", dry_run=False, clock=clock,
                                      confirm_gap_ms=TICK_MS, holder=holder, lease_ttl_ms=LEASE_TTL_MS)
        BUILT[built.runner] = built.parts
        return built

    (a, a_desk, a_parts), (b, b_desk, b_parts) = runner("a"), runner("b")

    async def go():
        await a.start()
        await b.start()
        for _ in range(60):  # five minutes of the twelve, the leader evaluating, the standby following
            clock.advance(TICK_MS)
            await a.tick()
            await b.tick()
        assert a_parts.lead.leader and not b_parts.lead.leader
        (left,) = a_desk.status().coverage
        (followed,) = b_desk.status().coverage  # what the leader saved
        died_at = clock()
        # the leader dies: it ticks no more and keeps its lease until its term runs out
        armed, ticks = await until_armed(b, b_desk, clock)
        return left, followed, died_at, armed, ticks

    try:
        left, followed, died_at, armed, ticks = asyncio.run(go())
    finally:
        for s in stores:
            s.close()
    assert left.state == followed.state == "blind" and coverage_pct(left) == 33
    assert followed.since_ms == left.since_ms == T0 + TICK_MS
    led = [(at, row) for at, leader, row in ticks if leader]
    assert led, "the standby never took the lease"
    led_at, first = led[0]
    assert died_at + LEASE_TTL_MS - TICK_MS <= led_at <= died_at + LEASE_TTL_MS + TICK_MS
    # its first evaluation goes on with the leader's windows (33% and the time since), not new ones
    assert coverage_pct(first) == filled_pct(led_at) and first.since_ms == T0 + TICK_MS
    added = armed - baseline
    with capsys.disabled():
        print(f"\nfailover ({shared_store.split(':')[0]}) at {(died_at - T0) / 1000:.0f}s into a "
              f"{FILL_MS // 1000}s fill: the standby led {(led_at - died_at) / 1000:.0f}s later (lease "
              f"{LEASE_TTL_MS / 1000:.0f}s), went on from {coverage_pct(first)}%, blind "
              f"{(armed - died_at) / 1000:.0f}s after the leader died (from scratch: {FILL_MS / 1000:.0f}s); "
              f"armed at +{(armed - T0) / 1000:.0f}s, uninterrupted at +{(baseline - T0) / 1000:.0f}s: blind time "
              f"the failover added {added / 1000:.0f}s")
    assert added == 0
