"""The runner's operator-set rules, end to end against the simulated exchange on a manual clock:
the dead man's switch (firing, cancels, halt, re-arming, the venues' native countdowns), manual
locks and unlocks, and a deposed leader whose audit rows are refused.

The policy ``bot-guard`` halts the account (manual reset) and arms the venue's countdown when
bot-x has been silent for over a minute; bot-x beats only when a test says so, so the stage is
entered exactly when a test wants it.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from types import SimpleNamespace

import pytest

from adapters.base import AdapterError, DmsStatus, Reason
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.compile.compiler import compile_documents
from killswitch.events import DMS_FIRED, DMS_NATIVE_LAPSED
from killswitch.policy.load import load_text
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runner.lock.file import read_lock_file
from killswitch.runner.lock.lock import DEAD_MANS_SWITCH, NOT_A_POLICY, OPERATOR, LockBook
from killswitch.state import open_store

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
TICK_MS = 5_000
ACCOUNT = "simulated/sim-main"

GUARD = textwrap.dedent(
    """\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: bot-guard}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        bot: {heartbeat_age: {source: bot-x}}
      triggers:
        silent: {when: "bot > 60s", on_missing_data: hold}
      stages:
        - {level: 1, name: halt, on: [silent], reset: manual,
           actions: [{lock_trading: {mode: halted}}, {arm_exchange_dms: {after: 30s}}]}
    """
)


def compiled(text: str = GUARD):
    res = compile_documents(load_text(text, "guard.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    return res.graph


class FlakyCountdown:
    """The simulated adapter, whose cancel-all-after refresh fails while ``failing`` is set, and
    answers ``said`` (after arming) when set: what a per-symbol venue says with nothing to arm."""

    def __init__(self, inner):
        self.inner = inner
        self.failing = False
        self.failing_reads = False  # its snapshots fail: the account is blind
        self.said = None

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def snapshot(self):
        if self.failing_reads:
            raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, "venue down", venue="simulated")
        return await self.inner.snapshot()

    async def arm_cancel_all_after(self, seconds, symbols=()):
        if self.failing:
            raise AdapterError(Reason.EXCHANGE_UNAVAILABLE, "venue down", venue="simulated")
        answer = await self.inner.arm_cancel_all_after(seconds, symbols)
        return self.said or answer


OTHER = "simulated/sim-hedge"  # an account of another book: no policy of GUARD acts on it


def make(tmp_path, *, text: str = GUARD, dry_run: bool = False, engine=None, clock=None, holder: str = "runner",
         sinks=(), lease_ttl_ms: int = 5_000, other: bool = False):
    clock = clock or ManualClock(T0)
    if engine is None:
        engine = build("calm", clock)
        for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
            engine.set_mark(symbol, price)
    adapter = FlakyCountdown(SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                              strategy_prefixes={"bot-a-": "bot-a"}, timeout_s=2.0))
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    adapters = {ACCOUNT: adapter}
    if other:  # same venue, same capabilities, another book
        adapters[OTHER] = SimulatedAdapter(engine, "sim-hedge", venue="simulated", labels={"book": "hedges"},
                                           timeout_s=2.0)
    runner, desk, parts = build_runner_and_desk(compiled(text), adapters, store,
            lock_path=tmp_path / "lock.json",
                                         dry_run=dry_run, clock=clock, holder=holder, sinks=sinks,
                                         lease_ttl_ms=lease_ttl_ms)
    # the runner ticks; the desk is what an operator (and the API) calls
    return SimpleNamespace(runner=runner, desk=desk, parts=parts, engine=engine, clock=clock, store=store,
            adapter=adapter,
                           db=tmp_path / "state.db", lock=tmp_path / "lock.json")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def ticks(w, n: int, *, beat: tuple[str, ...] = ()) -> list:
    async def go():
        out = []
        for _ in range(n):
            w.clock.advance(TICK_MS)
            for source in beat:
                await w.desk.heartbeat(source)
            out.append(await w.runner.tick())
        return out
    return run(go())


def start(w) -> None:
    run(w.runner.start())


def resting_order(w, cid: str = "bot-a-1") -> None:
    w.engine.place_order("sim-main", "BTCUSDT", "BUY", "LIMIT", 0.01, 50_000.0, time_in_force="GTC",
                         client_order_id=cid)


def open_client_ids(w) -> set:
    return {o.client_order_id for o in w.engine.open_orders("sim-main")}


def audit_kinds(w) -> list[str]:
    import sqlite3

    db = sqlite3.connect(w.db)
    try:
        return [k for (k,) in db.execute("SELECT kind FROM audit_log ORDER BY seq")]
    finally:
        db.close()


def audit_rows(w) -> list[tuple[str, str]]:
    import sqlite3

    db = sqlite3.connect(w.db)
    try:
        return list(db.execute("SELECT kind, payload FROM audit_log ORDER BY seq"))
    finally:
        db.close()


def headline(event) -> str:
    from killswitch.notify.message import _HEADLINES

    return _HEADLINES[event.kind](event.labels, event.data, "")


def fired(reports) -> list:
    return [e for r in reports for e in r.events if e.kind == DMS_FIRED]


def order(**kw) -> dict:
    return {"account": ACCOUNT, "symbol": "BTC/USDT:USDT", "side": "buy", "amount": 0.01, **kw}


# --- the dead man's switch --------------------------------------------------------------------------


def test_an_overdue_source_fires_exactly_once_per_arming_and_survives_a_restart(tmp_path):
    w = make(tmp_path)
    start(w)
    resting_order(w)
    assert run(w.desk.dms_arm("bot-a", 12)).done
    reports = ticks(w, 2)  # 10 s of silence: not yet
    assert fired(reports) == [] and "bot-a-1" in open_client_ids(w)
    reports = ticks(w, 20)  # a silence of 110 s: one firing, not one per tick
    [event] = fired(reports)
    assert event.labels["source"] == "bot-a" and event.labels["scope"] == "bot-a"
    assert event.labels["severity"] == "critical" and event.data["orders"] == 1 and event.data["lock"] == "halted"
    assert "bot-a-1" not in open_client_ids(w), "the silent bot's resting order was cancelled"
    assert audit_kinds(w).count("dms_fired") == 1 and "dms_orders_canceled" in audit_kinds(w)
    decision = w.desk.check_order(order(strategy="bot-a"))
    assert not decision.allow and decision.reason.startswith("HALTED:")
    assert w.desk.check_order(order()).allow, "only the silent source's scope is halted"
    lock = read_lock_file(tmp_path / "lock.json")
    assert lock.for_scope("bot-a").mode == "halted" and lock.for_scope("bot-a").policy == DEAD_MANS_SWITCH
    status = w.desk.dms_status()["sources"]["bot-a"]
    assert status["fired"] and status["locked"] and status["fires_in_s"] is None
    w.store.close()

    again = make(tmp_path, engine=w.engine, clock=w.clock)  # a restarted runner: the firing is remembered
    start(again)
    assert fired(ticks(again, 30)) == []
    assert again.desk.lock_document("bot-a")["mode"] == "halted", "a halt stays a halt after a restart"

    answer = run(again.desk.dms_arm("bot-a", 12))  # someone looked: arming again lifts the halt
    assert answer.done and "lifted" in answer.reason
    assert again.desk.check_order(order(strategy="bot-a")).allow
    assert fired(ticks(again, 2)) == []
    assert len(fired(ticks(again, 2))) == 1, "a new arming fires again after a new silence"
    assert audit_kinds(again).count("dms_fired") == 2


def test_heartbeats_keep_an_armed_source_quiet_and_a_beat_after_firing_does_not_lift_the_halt(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.dms_arm("bot-a", 12))
    assert fired(ticks(w, 30, beat=("bot-a",))) == []
    assert w.desk.dms_status()["sources"]["bot-a"]["fires_in_s"] == 12
    assert len(fired(ticks(w, 3))) == 1
    ticks(w, 1, beat=("bot-a",))  # the bot is back...
    assert w.desk.lock_document("bot-a")["mode"] == "halted", "...but only a person lifts its halt"
    assert not w.desk.dms_status()["sources"]["bot-a"]["fired"]  # it is watched again


def test_silence_counts_only_from_when_the_runner_started_listening(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.dms_arm("bot-a", 60))
    w.store.close()
    w.clock.advance(3_600_000)  # the runner was down for an hour: bot-a could not beat to anyone
    again = make(tmp_path, engine=w.engine, clock=w.clock)
    start(again)
    assert fired(ticks(again, 11)) == []  # 55 s since the restart
    assert [e.labels["source"] for e in fired(ticks(again, 1))] == ["bot-a"]


def test_in_dry_run_a_firing_halts_and_audits_but_cancels_nothing(tmp_path):
    w = make(tmp_path, dry_run=True)
    start(w)
    resting_order(w)
    run(w.desk.dms_arm("bot-a", 5))
    assert len(fired(ticks(w, 3))) == 1
    assert "bot-a-1" in open_client_ids(w)
    assert "dms_cancel_dry_run" in audit_kinds(w) and "dms_orders_canceled" not in audit_kinds(w)
    assert not w.desk.check_order(order(strategy="bot-a")).allow


def test_disarm_stops_watching_but_keeps_a_halt_and_unlock_lifts_it(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.dms_arm("bot-a", 5))
    run(w.desk.dms_arm("bot-b", 5))
    assert run(w.desk.dms_disarm("bot-b")).reason == "DMS_DISARMED: source=bot-b"
    assert [e.labels["source"] for e in fired(ticks(w, 3))] == ["bot-a"]
    answer = run(w.desk.dms_disarm("bot-a"))
    assert answer.done and "stays until ksctl unlock" in answer.reason
    assert run(w.desk.dms_disarm("bot-a")).reason.startswith("NOT_ARMED")
    assert w.desk.lock_document("bot-a")["mode"] == "halted"
    answer = run(w.desk.unlock_scope("bot-a", "bot restarted and checked"))
    assert answer.done and "dead man's switch" in answer.reason
    assert w.desk.check_order(order(strategy="bot-a")).allow
    assert fired(ticks(w, 5)) == []


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


def test_status_and_metrics_show_the_switch(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.dms_arm("bot-a", 30))
    ticks(w, 2)
    st = w.desk.status()
    assert st.dms["sources"]["bot-a"] == {"armed": True, "last_beat_age_s": 10.0, "fires_in_s": 20.0,
                                          "fired": False, "timeout_s": 30.0, "locked": False}
    assert 'killswitch_dms_seconds_until_fire{source="bot-a"} 20.0' in w.desk.metrics_text()
    assert "killswitch_dms_fired_total 0.0" in w.desk.metrics_text()


# --- manual locks ----------------------------------------------------------------------------------------


def test_a_manual_lock_shows_in_the_lock_file_and_the_gate_until_unlocked(tmp_path):
    w = make(tmp_path)
    start(w)
    ticks(w, 1)  # positions known
    answer = run(w.desk.lock_scope(ACCOUNT, "reducing", "exchange incident", 6 * 3600))
    assert answer.done and answer.reason == f"LOCKED: scope={ACCOUNT} mode=reducing until 2026-03-02T19:00:05.000Z"
    doc = json.loads((tmp_path / "lock.json").read_text())
    entry = doc["scopes"][ACCOUNT]
    assert entry["mode"] == "reducing" and entry["policy"] == OPERATOR and "exchange incident" in entry["reason"]
    assert w.desk.lock_document(ACCOUNT)["mode"] == "reducing"
    assert w.desk.check_order(order(side="sell", amount=1)).allow  # reduces the BTC long
    assert not w.desk.check_order(order(side="buy", amount=1)).allow
    assert run(w.desk.lock_scope(ACCOUNT, "halted", "worse", None)).reason == \
        f"LOCKED: scope={ACCOUNT} mode=halted until ksctl unlock"
    assert w.desk.lock_document(ACCOUNT)["mode"] == "halted"
    assert run(w.desk.lock_scope(ACCOUNT, "reducing", "better", None)).done  # replaces, does not stack
    assert w.desk.lock_document(ACCOUNT)["mode"] == "reducing"
    answer = run(w.desk.unlock_scope(ACCOUNT, "incident over"))
    assert answer.done and answer.reason == f"UNLOCKED: {ACCOUNT} (operator lock lifted)"
    assert json.loads((tmp_path / "lock.json").read_text())["locked"] is False
    assert run(w.desk.unlock_scope(ACCOUNT, "again")).reason.startswith("NOT_LOCKED")
    kinds = audit_kinds(w)
    assert kinds.count("manual_lock") == 3 and kinds.count("manual_unlock") == 2  # the refusal is audited too


def test_with_the_audit_sink_down_a_lock_goes_on_unless_it_loosens_the_operators_lock(tmp_path):
    w = make(tmp_path)
    start(w)
    ticks(w, 1)
    down = "no audit sink takes rows (siem: CONNECT_FAILED)"
    answer = run(w.desk.lock_scope(ACCOUNT, "halted", "drill", None, sink_down=down))
    assert answer.done and w.desk.lock_document(ACCOUNT)["mode"] == "halted"
    assert not w.desk.check_order(order(side="sell", amount=1)).allow
    looser = run(w.desk.lock_scope(ACCOUNT, "reducing", "better", None, sink_down=down))
    assert not looser.done and looser.reason == (f"AUDIT_SINK_DOWN: a reducing lock would replace the operator's "
                                                 f"halted lock of {ACCOUNT}; {down}")
    sooner = run(w.desk.lock_scope(ACCOUNT, "halted", "for a minute", 60, sink_down=down))
    assert not sooner.done and sooner.reason.startswith("AUDIT_SINK_DOWN: a lock until 2026-03-02T13:01:05.000Z "
                                                        f"would replace the operator's halted lock of {ACCOUNT} "
                                                        "until ksctl unlock (a halt without a ttl always goes)")
    assert w.desk.lock_document(ACCOUNT)["mode"] == "halted"  # neither replaced the halt
    assert run(w.desk.lock_scope(ACCOUNT, "halted", "again", None, sink_down=down)).done  # as strict: goes on
    assert run(w.desk.lock_scope("global", "reducing", "wider", 60, sink_down=down)).done  # nothing to loosen
    assert run(w.desk.lock_scope(ACCOUNT, "reducing", "better", None)).done  # a sink takes rows: it may loosen
    kinds = audit_kinds(w)
    assert kinds.count("manual_lock") == 6  # every one in the local chain, the two refusals too


def test_a_manual_lock_ends_at_its_ttl(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.lock_scope("global", "halted", "maintenance", 60))
    assert not w.desk.check_order(order()).allow
    ticks(w, 12)
    assert w.desk.check_order(order()).allow
    assert json.loads((tmp_path / "lock.json").read_text())["locked"] is False


def _hold(book, kind: str):
    if kind == "manual-stage":
        return book.apply(ACCOUNT, "halted", now_ms=T0, policy="futures-book", stage=3, manual=True, reason="L3")
    if kind == "ttl-stage":
        return book.apply(ACCOUNT, "reducing", now_ms=T0, policy="futures-book", stage=1, ttl_ms=86_400_000,
                          reason="L1")
    if kind == "operator":
        return book.apply(ACCOUNT, "halted", now_ms=T0, policy=OPERATOR, reason="by hand")
    return book.apply(ACCOUNT, "halted", now_ms=T0, policy=DEAD_MANS_SWITCH, reason="silent")


@pytest.mark.parametrize("holds, done, code", [
    (["manual-stage"], False, "MANUAL_RESET_REQUIRED"),
    (["manual-stage", "operator"], True, "UNLOCKED"),
    (["manual-stage", "dms"], True, "UNLOCKED"),
    (["manual-stage", "ttl-stage", "operator"], True, "UNLOCKED"),
    (["manual-stage", "ttl-stage"], False, "MANUAL_RESET_REQUIRED"),
    (["ttl-stage"], False, "POLICY_LOCK"),
    (["ttl-stage", "operator"], True, "UNLOCKED"),
    (["operator"], True, "UNLOCKED"),
    (["dms"], True, "UNLOCKED"),
    (["operator", "dms"], True, "UNLOCKED"),
    ([], False, "NOT_LOCKED"),
])
def test_unlock_never_lifts_a_lock_a_stage_holds(tmp_path, holds, done, code):
    w = make(tmp_path)
    start(w)
    book = LockBook()
    for kind in holds:
        book = _hold(book, kind)
    w.parts.book.take_lock_book(book)
    answer = run(w.desk.unlock_scope(ACCOUNT, "let us trade"))
    assert (answer.done, answer.reason.split(":")[0]) == (done, code), answer
    if not done:
        assert w.parts.book.lock_book == book, "a refused unlock lifts nothing"
    stays = [(h.policy, h.stage) for h in w.parts.book.lock_book.in_force(T0)]
    assert stays == [(h.policy, h.stage) for h in book.in_force(T0) if not done or h.policy not in NOT_A_POLICY], \
        "an unlock lifts the operator's and the dead man's switch's locks only, never a stage's"
    if "manual-stage" in holds:
        assert "until a manual reset (ksctl reset --policy futures-book --scope " + ACCOUNT + ")" in answer.reason


def test_an_operator_lock_under_a_latched_stage_is_lifted_and_the_stage_named(tmp_path):
    w = make(tmp_path)
    start(w)
    w.parts.book.take_lock_book(_hold(LockBook(), "manual-stage"))
    run(w.desk.lock_scope(ACCOUNT, "halted", "bot-a rogue", None, actor="alice"))
    said = f"UNLOCKED: {ACCOUNT} (operator lock lifted); {ACCOUNT} stays halted by stage 3 of policy futures-book " \
           f"until a manual reset (ksctl reset --policy futures-book --scope {ACCOUNT})"
    preview = w.desk.preview_unlock(ACCOUNT)
    assert (preview.allowed, preview.reason) == (True, said), preview
    assert any(e.startswith("lifts the halted lock of the operator set ") for e in preview.effects), preview
    answer = run(w.desk.unlock_scope(ACCOUNT, "done with my part", actor="alice"))
    assert (answer.done, answer.reason) == (True, said)
    assert [(h.policy, h.stage, h.manual) for h in w.parts.book.lock_book.in_force(T0)] == \
        [("futures-book", 3, True)], "the stage's lock stays"
    assert w.desk.lock_document(ACCOUNT)["mode"] == "halted" and not w.desk.check_order(order()).allow
    import sqlite3

    db = sqlite3.connect(w.db)
    try:
        rows = [json.loads(p) for (p,) in db.execute("SELECT payload FROM audit_log WHERE kind = 'manual_unlock'")]
    finally:
        db.close()
    assert [(r["lifted"], r["by"], "refused" in r) for r in rows] == [(["operator"], "alice", False)]


def test_a_latched_stage_lock_needs_the_reset_then_the_operator_lock_can_go(tmp_path):
    w = make(tmp_path)
    start(w)
    run(w.desk.heartbeat("bot-x"))
    ticks(w, 13)
    assert w.desk.lock_document(ACCOUNT)["manual"] is True
    run(w.desk.lock_scope(ACCOUNT, "halted", "belt and braces", None))
    assert run(w.desk.unlock_scope(ACCOUNT, "go")).reason.startswith(f"UNLOCKED: {ACCOUNT} (operator lock lifted)")
    assert w.desk.lock_document(ACCOUNT)["manual"] is True, "the stage's lock stays"
    assert run(w.desk.unlock_scope(ACCOUNT, "go")).reason.startswith("MANUAL_RESET_REQUIRED: ")
    run(w.desk.lock_scope(ACCOUNT, "halted", "belt and braces", None))
    assert run(w.desk.reset("bot-guard", ACCOUNT, "alice", "reviewed", confirm_relatch=True)).done
    assert w.desk.lock_document(ACCOUNT)["policy"] == OPERATOR, "the reset lifts only the stage's lock"
    assert run(w.desk.unlock_scope(ACCOUNT, "go")).done
    assert not w.desk.lock_document(ACCOUNT)["locked"]


# --- fencing: a deposed leader records nothing ----------------------------------------------------------


def test_a_deposed_leader_cannot_lock_arm_or_audit(tmp_path):
    a = make(tmp_path, holder="a")
    start(a)
    ticks(a, 1)
    b = make(tmp_path, engine=a.engine, clock=a.clock, holder="b")
    a.clock.advance(10_000)  # a's lease (5 s) ran out while it was paused; b takes over
    start(b)
    assert b.parts.lead.leader
    rows = len(audit_kinds(b))
    changes = [lambda: run(a.desk.lock_scope("global", "halted", "late", None)),
               lambda: run(a.desk.dms_arm("bot-a", 10)),
               lambda: run(a.desk.unlock_scope(ACCOUNT, "late")), lambda: run(live_close(a.desk, ACCOUNT, "late")),
               lambda: run(a.desk.reset("bot-guard", ACCOUNT, "alice", "late", confirm_relatch=True))]
    a.parts.book.take_lock_book(_hold(LockBook(), "operator"))
    for change in changes:
        a.parts.lead.leader = True  # paused, it still believes it leads
        answer = change()
        assert not getattr(answer, "done", getattr(answer, "accepted", None)), answer
        assert answer.reason.startswith("DEPOSED: "), answer
        assert not a.parts.lead.leader
    assert a.parts.book.lock_book == _hold(LockBook(), "operator") and a.parts.book.dms.sources == {}, \
        "nothing changed"
    # (but the one it writes of itself as a standby once it sees the loss: lease_lost, unfenced)
    assert len([k for k in audit_kinds(b) if k != "lease_lost"]) == rows, "no audit row of the deposed leader landed"
    assert b.store.verify_audit() == (True, None)
    assert not b.parts.book.lock_book.in_force(a.clock())
    assert run(a.desk.lock_scope("global", "halted", "still late", None)).reason.startswith("NOT_LEADER")
    # a standby refuses as a standby before its own (stale) view of the book could answer otherwise
    a.parts.book.take_lock_book(LockBook())
    assert run(a.desk.unlock_scope(ACCOUNT, "not locked here")).reason.startswith("NOT_LEADER")
    assert run(a.desk.dms_disarm("bot-never-armed")).reason.startswith("NOT_LEADER")


def test_a_saved_state_from_before_the_switch_loads(tmp_path):
    w = make(tmp_path)
    start(w)
    ticks(w, 1)
    doc = w.store.load_engine_state()
    del doc["dms"], doc["resume"]
    w.store.save_engine_state(doc, "d", w.parts.lead.fence)
    again = make(tmp_path, engine=w.engine, clock=w.clock)
    assert again.parts.book.dms.sources == {} and again.parts.book.resume_starts == {}


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


async def live_close(desk, scope: str, reason: str, **kw):
    """A live close as clients send one: previewed first, then sent with the preview's id."""
    preview = await desk.close(scope, reason, True, symbol=kw.get("symbol"))
    return await desk.close(scope, reason, False, preview_id=preview.preview_id, **kw)


def test_a_refused_arming_is_audited_with_its_author(tmp_path):
    """As a refused lock is: a bad timeout (a caller that is not the API, which refuses it first)."""
    w = make(tmp_path)
    start(w)
    answer = run(w.desk.dms_arm("bot-x", -1.0, actor="alice"))
    assert not answer.done and answer.reason.startswith("BAD_REQUEST: "), answer
    (row,) = [r.payload for r in w.store.audit_rows(kinds=["dms_armed"])]
    assert (row["source"], row["by"], row["refused"]) == ("bot-x", "alice", answer.reason)
