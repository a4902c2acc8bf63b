"""The venues' own countdowns (cancel-all-after) a stage arms, end to end (``rig.py``): armed on
the accounts it acts on, refreshed, shown, turned off at a reset or a deliberate stop, a lapse
paged once; refreshed by the daemon between ticks."""

from __future__ import annotations

import json

from adapters.base import DmsStatus
from killswitch.events import DMS_NATIVE_LAPSED

from .rig import ACCOUNT, GUARD, audit_kinds, audit_rows, headline, make, run, start, ticks


def test_the_venue_countdown_is_armed_refreshed_shown_and_disarmed_after_the_reset(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 13)  # bot-x silent for 65 s: the halt stage arms the venue's 30 s countdown
    assert w.parts.book.state.scopes[f"bot-guard|{ACCOUNT}"].stage.level == 1
    deadlines = set(w.engine.countdowns("sim-main").values())
    assert deadlines == {w.clock() + 30_000}
    native = w.desk.dms_status()["native"][ACCOUNT]
    assert native["countdown_s"] == 30 and native["last_refresh_age_s"] == 0 and native["error"] is None
    ticks(w, 1)  # 5 s: not due (a third of 30 s is 10 s)
    assert set(w.engine.countdowns("sim-main").values()) == deadlines
    ticks(w, 1)  # 10 s: refreshed
    assert set(w.engine.countdowns("sim-main").values()) == {w.clock() + 30_000}

    w.adapter.failing = True
    ticks(w, 7)  # 35 s without a refresh: failures are audited and shown, and the countdown lapses
    native = w.desk.dms_status()["native"][ACCOUNT]
    assert native["error"] == "EXCHANGE_UNAVAILABLE" and native["lapsed"] and native["cancels_in_s"] == 0
    assert "dms_refresh_failed" in audit_kinds(w)
    w.adapter.failing = False
    ticks(w, 1)
    assert w.desk.dms_status()["native"][ACCOUNT]["error"] is None
    assert "dms_native_lapsed" in audit_kinds(w)

    assert run(w.desk.reset("bot-guard", ACCOUNT, "alice", "bot-x back", confirm_relatch=True)).done
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 1)
    assert w.engine.countdowns("sim-main") == {} and w.desk.dms_status()["native"] == {}
    assert "dms_native_disarmed" in audit_kinds(w)


def enter_halt(w) -> list:
    """bot-x silent past its minute: the halt stage entered, its countdown armed. The reports."""
    start(w)
    run(w.desk.heartbeat("bot-x"))
    reports = ticks(w, 13)
    assert w.parts.book.state.scopes[f"bot-guard|{ACCOUNT}"].stage.level == 1
    return reports


def lapses(reports) -> list:
    return [e for r in reports for e in r.events if e.kind == DMS_NATIVE_LAPSED]


def test_the_venue_countdown_is_armed_only_on_the_accounts_its_stage_acts_on(tmp_path):
    w = make(tmp_path, other=True)
    enter_halt(w)
    assert w.engine.countdowns("sim-main"), "the account the stage acts on is armed"
    assert w.engine.countdowns("sim-hedge") == {}, "an account of another book is never armed"
    native = w.desk.dms_status()["native"]
    assert set(native) == {ACCOUNT}
    assert native[ACCOUNT]["at_venue"] == "armed, 30s on BTCUSDT, ETHUSDT, SOLUSDT"
    ticks(w, 4)  # refreshed twice since: still the one account
    assert w.engine.countdowns("sim-hedge") == {} and set(w.desk.dms_status()["native"]) == {ACCOUNT}


def test_a_blind_account_keeps_its_venue_countdown(tmp_path):
    """A global scope's account whose snapshot fails is unknown to the selector (no labels):
    its countdown is kept, not turned off for want of knowing it is still wanted."""
    w = make(tmp_path, text=GUARD.replace("level: account", "level: global"))
    start(w)
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 13)
    assert w.parts.book.state.scopes["bot-guard|global"].stage.level == 1
    assert w.engine.countdowns("sim-main")
    w.adapter.failing_reads = True
    ticks(w, 4)
    assert set(w.desk.dms_status()["native"]) == {ACCOUNT} and w.engine.countdowns("sim-main")
    assert "dms_native_disarmed" not in audit_kinds(w)


def test_a_venue_that_armed_nothing_is_shown_so_and_never_said_to_cancel(tmp_path):
    w = make(tmp_path)
    w.adapter.said = DmsStatus(armed=False)  # a per-symbol venue with no open order or position
    enter_halt(w)
    native = w.desk.dms_status()["native"][ACCOUNT]
    assert native["at_venue"].startswith("not armed: no open order or position to cancel")
    assert native["cancels_in_s"] is None


def test_a_deliberate_stop_turns_the_venue_countdown_off_and_the_next_runner_arms_it_again(tmp_path):
    w = make(tmp_path)
    enter_halt(w)
    assert w.engine.countdowns("sim-main")
    run(w.runner.aclose())  # SIGTERM's clean stop
    assert w.engine.countdowns("sim-main") == {}, "no lapse may cancel the account's orders while none runs"
    rows = [r for r in audit_rows(w) if r[0] == "dms_native_disarmed"]
    assert [json.loads(p)["why"] for _, p in rows] == [
        "the runner stopped; armed again by the runner that takes up the state"]
    w.store.close()

    w.clock.advance(120_000)  # down for two minutes: four times the countdown
    again = make(tmp_path, engine=w.engine, clock=w.clock)
    start(again)
    reports = ticks(again, 1)
    assert set(again.engine.countdowns("sim-main").values()) == {again.clock() + 30_000}, "armed again at once"
    assert lapses(reports) == [], "turned off at the stop: no lapse to page"


def test_a_countdown_that_lapsed_while_no_runner_refreshed_it_is_paged_once_at_start(tmp_path):
    w = make(tmp_path)
    enter_halt(w)
    w.store.close()  # the process killed: nothing turned off

    w.clock.advance(120_000)
    again = make(tmp_path, engine=w.engine, clock=w.clock)
    start(again)
    [event] = lapses(ticks(again, 1))
    assert event.labels["account"] == ACCOUNT and event.labels["severity"] == "critical"
    assert event.data["countdown_s"] == 30 and event.data["lapsed_at"] == "2026-03-02T13:01:35.000Z"
    assert "may have cancelled every open order" in headline(event)
    assert lapses(ticks(again, 6)) == [], "once per lapse"
    assert audit_kinds(again).count("dms_native_lapsed") == 1


def test_a_dry_run_runner_never_touches_the_venue_countdown(tmp_path):
    w = make(tmp_path, dry_run=True)
    start(w)
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 14)
    assert w.parts.book.state.scopes[f"bot-guard|{ACCOUNT}"].stage.level == 1
    assert w.engine.countdowns("sim-main") == {} and w.desk.dms_status()["native"] == {}


# --- the daemon between ticks ------------------------------------------------------------------------------


class _WaitingRunner:
    """What ``BetweenTicks.wait`` (the daemon's wait between ticks) uses of a runner: the lease
    renewal and the countdown refresh."""

    def __init__(self, fenced_after: int):
        self.renewals = self.refreshes = 0
        self.fenced_after = fenced_after
        self.leader = True

    async def renew(self) -> bool:
        self.renewals += 1
        return self.leader

    async def refresh_native(self) -> None:
        from killswitch.state.store import FencedError

        self.refreshes += 1
        if self.refreshes >= self.fenced_after:
            raise FencedError(1, 2)

    def lost_lease(self) -> None:
        self.leader = False


def test_the_daemon_refreshes_the_venue_countdowns_between_ticks_and_stops_when_deposed():
    from killswitch.process.daemon import Daemon
    from killswitch.process.options import RunOptions

    async def go():
        daemon = Daemon(RunOptions(("p",), "a.yaml", "sqlite://x", "lock.json", lease_ttl_ms=150), print, print)
        runner = _WaitingRunner(fenced_after=3)
        await daemon.between.wait(runner, 0.5)  # renewals every 50 ms
        return runner

    runner = run(go())
    assert runner.renewals >= 5 and runner.refreshes == 3, (runner.renewals, runner.refreshes)
    assert not runner.leader, "a fenced refresh means this runner was deposed"
