"""``revoke_trading`` carried out by the runner, end to end on SQLite and the simulated exchange.

The venue's permission switch is :class:`KeyVenue`: the bots' keys of the account and their
trading permission, which outlive any runner process (as the venue does), with what the venue
answers (a refusal with its own code and message, no read-back) and where a process dies
(:class:`Crash`). Each runner's adapter is the simulated one with that switch beside it.

The policy ``bot-guard`` enters its one stage (halted, keys revoked; a manual reset by two
people) when bot-x has been silent over a minute; the clock is a manual one.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import textwrap
from dataclasses import replace
from types import SimpleNamespace
from typing import Optional

import pytest

from adapters.base import PermissionResult, Refusal
from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.compile.compiler import compile_documents
from killswitch.events import REVOKE_FAILED, TRADING_RESTORED, TRADING_REVOKED
from killswitch.policy.load import load_text
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.state import open_store

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
TICK_MS = 5_000
ACCOUNT = "simulated/sim-main"
KEYS = ("bot-a-key", "bot-b-key")

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
        - {level: 1, name: revoke, on: [silent], reset: manual, approvals: 2,
           actions: [{lock_trading: {mode: halted}}, revoke_trading]}
    """
)


class Crash(BaseException):
    """Stands for the process dying at this point: no ``except Exception`` absorbs it."""


class KeyVenue:
    """The venue's side: each key's permission, the calls it took (by which runner), and what it
    does next. ``crash``: "before_set" (the process dies before the request leaves),
    "after_set" (the venue applied it; the process dies before hearing back)."""

    def __init__(self, readable: bool = True):
        self.keys = {k: "allowed" for k in KEYS}
        self.readable = readable
        self.refuse: Optional[tuple[str, str]] = None
        self.calls: list[tuple[str, str, int]] = []  # (runner, "revoke" | "restore" | "read", clock)
        self.crash: Optional[str] = None
        self.on_set = None  # called once the venue applied a change (a test's crash point after it)
        self.clock = None

    def set(self, who: str, allowed: bool) -> PermissionResult:
        if self.crash == "before_set":
            self.crash = None
            raise Crash("before the revoke left")
        self.calls.append((who, "restore" if allowed else "revoke", self.clock()))
        if self.refuse is not None:
            return PermissionResult(states={k: "unknown" for k in self.keys},
                                    refusals={k: Refusal(*self.refuse) for k in self.keys}, readable=self.readable)
        self.keys = {k: "allowed" if allowed else "revoked" for k in self.keys}
        if self.crash == "after_set":
            self.crash = None
            raise Crash("after the venue applied it")
        if self.on_set is not None:
            self.on_set()
        return PermissionResult(states=dict(self.keys), readable=self.readable)

    def read(self, who: str) -> PermissionResult:
        self.calls.append((who, "read", self.clock()))
        if not self.readable:
            return PermissionResult(states={k: "unknown" for k in self.keys}, readable=False)
        return PermissionResult(states=dict(self.keys))

    def sent(self, what: str = "revoke", who: Optional[str] = None) -> list[int]:
        return [t for w, k, t in self.calls if k == what and (who is None or w == who)]


class WithKeys:
    """The simulated adapter with the venue's permission switch beside it."""

    def __init__(self, inner, venue: KeyVenue, who: str):
        self.inner, self.venue, self.who = inner, venue, who

    def __getattr__(self, name):
        return getattr(self.inner, name)

    @property
    def capabilities(self):
        return replace(self.inner.capabilities, revoke_trading=True)

    async def set_trading(self, allowed: bool) -> PermissionResult:
        return self.venue.set(self.who, allowed)

    async def read_trading(self) -> PermissionResult:
        return self.venue.read(self.who)


class CrashingSave:
    """The store, whose next state save dies once ``armed`` (after the audit row of a revoke)."""

    def __init__(self, store):
        self.store, self.armed = store, False

    def __getattr__(self, name):
        return getattr(self.store, name)

    def save_engine_state(self, *a, **k):
        if self.armed:
            self.armed = False
            raise Crash("after the audit row, before the save")
        return self.store.save_engine_state(*a, **k)


def compiled(text: str = GUARD):
    res = compile_documents(load_text(text, "guard.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    return res.graph


def make(tmp_path, *, venue: KeyVenue, engine=None, clock=None, holder: str = "runner", lease_ttl_ms: int = 5_000):
    clock = clock or ManualClock(T0)
    venue.clock = clock
    if engine is None:
        engine = build("calm", clock)
        for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
            engine.set_mark(symbol, price)
    adapter = WithKeys(SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                        timeout_s=2.0), venue, holder)
    store = CrashingSave(open_store(f"sqlite://{tmp_path / 'state.db'}"))
    runner, desk, parts = build_runner_and_desk(
        compiled(), {ACCOUNT: adapter}, store, lock_path=tmp_path / "lock.json", dry_run=False,
        clock=clock, holder=holder, lease_ttl_ms=lease_ttl_ms)
    return SimpleNamespace(runner=runner, desk=desk, parts=parts, engine=engine, clock=clock, store=store, venue=venue,
                           db=tmp_path / "state.db")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def ticks(w, n: int, *, beat: bool = False, step_ms: int = TICK_MS) -> list:
    async def go():
        out = []
        for _ in range(n):
            w.clock.advance(step_ms)
            if beat:
                await w.desk.heartbeat("bot-x")
            out.append(await w.runner.tick())
        return out
    return run(go())


def rows(w, kind: str) -> list[dict]:
    db = sqlite3.connect(w.db)
    try:
        return [json.loads(p) for (p,) in db.execute("SELECT payload FROM audit_log WHERE kind = ? ORDER BY seq",
                                                     (kind,))]
    finally:
        db.close()


def events(reports, kind: str) -> list:
    return [e for r in reports for e in r.events if e.kind == kind]


def shown(w) -> str:
    return w.parts.revokes.status().get(ACCOUNT, {}).get("shown", "allowed")


def entered(w) -> list:
    """Ticks until bot-x's silence enters the stage (13 ticks: over a minute of silence)."""
    started(w)
    reports = ticks(w, 13)
    assert w.parts.book.state.scopes[f"bot-guard|{ACCOUNT}"].stage.level == 1
    return reports


def started(w) -> None:
    """Started, and bot-x heard once: from now on its silence counts."""
    run(w.runner.start())
    run(w.desk.heartbeat("bot-x"))


def metric(w, line_start: str) -> Optional[str]:
    return next((ln for ln in w.desk.metrics_text().splitlines() if ln.startswith(line_start)), None)


# --- revoked, confirmed, audited once -------------------------------------------------------------------------------


def test_a_stage_entry_revokes_every_key_reads_it_back_and_audits_it_once(tmp_path):
    w = make(tmp_path, venue=KeyVenue())
    reports = entered(w)
    assert w.venue.keys == {k: "revoked" for k in KEYS}
    assert len(w.venue.sent("revoke")) == 1 and len(w.venue.sent("read")) == 1
    [row] = rows(w, "trading_revoked")
    assert row["account"] == ACCOUNT and row["keys"] == {k: "revoked" for k in KEYS} and row["read_back"] is True
    assert row["holds"] == [f"bot-guard|{ACCOUNT}"] and row["answer"]["states"] == {k: "revoked" for k in KEYS}
    [event] = events(reports, TRADING_REVOKED)
    assert event.labels["account"] == ACCOUNT and event.labels["severity"] == "critical"
    assert shown(w) == "revoked (read back)"
    assert metric(w, "killswitch_trading_revoked{") == f'killswitch_trading_revoked{{account="{ACCOUNT}"}} 1.0'
    assert w.desk.lock_document(ACCOUNT)["mode"] == "halted"  # the gate's lock stays beside it
    ticks(w, 30)
    assert len(w.venue.sent("revoke")) == 1 and len(rows(w, "trading_revoked")) == 1, "sent and audited once"


def test_a_venue_without_a_read_back_is_shown_so_never_as_read(tmp_path):
    w = make(tmp_path, venue=KeyVenue(readable=False))
    entered(w)
    assert shown(w) == "revoked (venue offers no read)"
    [row] = rows(w, "trading_revoked")
    assert row["read_back"] is False and row["keys"] == {k: "revoked" for k in KEYS}


def test_a_read_back_that_disagrees_is_not_confirmed_and_is_sent_again(tmp_path):
    venue = KeyVenue()
    w = make(tmp_path, venue=venue)
    started(w)
    ticks(w, 12)
    real_set = venue.set

    def half(who, allowed):  # the venue answers "revoked" for every key but leaves one allowed
        answer = real_set(who, allowed)
        venue.keys["bot-b-key"] = "allowed"
        return answer

    venue.set = half
    reports = ticks(w, 1)
    [failed] = events(reports, REVOKE_FAILED)
    assert failed.data["code"] == "NOT_CONFIRMED" and "bot-b-key=allowed" in failed.data["message"]
    assert shown(w).startswith("REVOKE_FAILED: NOT_CONFIRMED") and rows(w, "trading_revoked") == []
    venue.set = real_set
    ticks(w, 1)
    assert shown(w) == "revoked (read back)" and len(rows(w, "trading_revoked")) == 1


# --- restored only by the stage's reset -----------------------------------------------------------------------------


def test_only_the_reset_of_two_approvers_restores_and_nothing_else_does(tmp_path):
    w = make(tmp_path, venue=KeyVenue())
    entered(w)
    ticks(w, 20, beat=True)  # the bot is back: the trigger stops firing, the stage stays (manual reset)
    ticks(w, 1, step_ms=48 * 3_600_000)  # two days: no ttl, no timeout
    assert shown(w) == "revoked (read back)" and w.venue.sent("restore") == []
    w.store.close()

    again = make(tmp_path, venue=w.venue, engine=w.engine, clock=w.clock)  # a restart keeps it revoked
    run(again.runner.start())
    ticks(again, 5, beat=True)
    assert shown(again) == "revoked (read back)" and again.venue.sent("restore") == []
    assert len(again.venue.sent("revoke")) == 1, "a restart does not send the revoke again"

    first = run(again.desk.reset("bot-guard", ACCOUNT, "alice", "reviewed", confirm_relatch=True))
    assert not first.done and first.reason.startswith("APPROVAL_RECORDED: 1/2")
    assert not run(again.desk.reset("bot-guard", ACCOUNT, "alice", "again", confirm_relatch=True)).done
    ticks(again, 3, beat=True)
    assert again.venue.sent("restore") == [] and shown(again) == "revoked (read back)"

    second = run(again.desk.reset("bot-guard", ACCOUNT, "bob", "agreed", confirm_relatch=True))
    assert second.done and "trading restore owed" in second.reason and ACCOUNT in second.reason
    assert shown(again) == "revoked (read back); restore owed"  # owed, saved, not yet confirmed
    reports = ticks(again, 1, beat=True)
    assert again.venue.keys == {k: "allowed" for k in KEYS} and len(again.venue.sent("restore")) == 1
    [row] = rows(again, "trading_restored")
    assert row["keys"] == {k: "allowed" for k in KEYS} and row["read_back"] is True
    assert len(events(reports, TRADING_RESTORED)) == 1 and shown(again) == "allowed"
    assert metric(again, "killswitch_trading_revoked{") == f'killswitch_trading_revoked{{account="{ACCOUNT}"}} 0.0'
    ticks(again, 5, beat=True)
    assert len(again.venue.sent("restore")) == 1 and len(rows(again, "trading_restored")) == 1


# --- refused: loud, retried with backoff, paged once, never shown revoked --------------------------------------------


def test_a_refusal_is_retried_with_backoff_paged_once_and_never_shown_revoked(tmp_path):
    venue = KeyVenue()
    venue.refuse = ("-2015", "Invalid API-key, IP, or permissions for action.")
    w = make(tmp_path, venue=venue)
    started(w)
    reports = ticks(w, 13)
    reports += ticks(w, 60)  # five minutes of refusals
    tries = venue.sent("revoke")
    gaps = [(b - a) // 1000 for a, b in zip(tries, tries[1:])]
    assert gaps[:4] == [5, 5, 5, 10] and max(gaps) <= 65, gaps  # 1 s, 2 s, 4 s, 8 s … at the tick's pace
    assert gaps == sorted(gaps), f"the backoff only grows: {gaps}"
    assert 8 <= len(tries) <= 12, f"bounded by the 60 s ceiling: {len(tries)} tries in 5 min"
    [page] = events(reports, REVOKE_FAILED)
    assert page.data["code"] == "-2015" and "Invalid API-key" in page.data["message"]
    assert page.labels["account"] == ACCOUNT and page.labels["severity"] == "critical"
    assert len(rows(w, "trading_permission_failed")) == 1 and rows(w, "trading_revoked") == []
    assert shown(w).startswith("REVOKE_FAILED: -2015: key bot-a-key: Invalid API-key")
    assert "revoked (" not in shown(w)
    assert metric(w, "killswitch_trading_revoked{") == f'killswitch_trading_revoked{{account="{ACCOUNT}"}} 0.0'
    assert metric(w, "killswitch_revoke_failures_total{") == (
        f'killswitch_revoke_failures_total{{account="{ACCOUNT}",code="-2015"}} {float(len(tries))}')
    assert w.desk.lock_document(ACCOUNT)["mode"] == "halted", "the lock stays"

    venue.refuse = None  # the venue takes it at the next try
    reports = ticks(w, 13)
    assert shown(w) == "revoked (read back)" and len(rows(w, "trading_revoked")) == 1
    assert len(events(reports, TRADING_REVOKED)) == 1 and events(reports, REVOKE_FAILED) == []


def test_a_refused_restore_is_loud_and_the_account_stays_shown_revoked(tmp_path):
    venue = KeyVenue()
    w = make(tmp_path, venue=venue)
    entered(w)
    ticks(w, 2, beat=True)
    venue.refuse = ("10003", "API key is invalid.")
    run(w.desk.reset("bot-guard", ACCOUNT, "alice", "ok", confirm_relatch=True))
    run(w.desk.reset("bot-guard", ACCOUNT, "bob", "ok", confirm_relatch=True))
    reports = ticks(w, 12, beat=True)
    [page] = events(reports, REVOKE_FAILED)
    assert page.data["want"] == "allowed" and page.data["code"] == "10003"
    assert shown(w).startswith("revoked (read back); RESTORE_FAILED: 10003")
    assert metric(w, "killswitch_trading_revoked{") == f'killswitch_trading_revoked{{account="{ACCOUNT}"}} 1.0'
    venue.refuse = None
    ticks(w, 13, beat=True)
    assert shown(w) == "allowed" and venue.keys == {k: "allowed" for k in KEYS}


# --- crash points and a takeover -------------------------------------------------------------------------------------


@pytest.mark.parametrize("crash", ["before_set", "after_set", "after_audit"])
def test_a_crash_at_any_point_of_a_revoke_is_finished_by_the_next_runner_audited_once(tmp_path, crash):
    """Before the venue call (the owe saved), after it (the venue applied it, the answer lost),
    after the audit row (the book not saved): the runner that carries on sends it again (which is
    harmless), reads it back, and the audit chain holds exactly one row."""
    venue = KeyVenue()
    w = make(tmp_path, venue=venue)
    started(w)
    ticks(w, 12)
    if crash == "after_audit":
        venue.on_set = lambda: setattr(w.store, "armed", True)
    else:
        venue.crash = crash
    with pytest.raises(Crash):
        ticks(w, 1)
    venue.on_set = None
    assert venue.keys == {k: "allowed" if crash == "before_set" else "revoked" for k in KEYS}
    assert len(rows(w, "trading_revoked")) == (1 if crash == "after_audit" else 0)
    w.store.close()

    again = make(tmp_path, venue=venue, engine=w.engine, clock=w.clock)
    run(again.runner.start())
    ticks(again, 3)
    assert venue.keys == {k: "revoked" for k in KEYS}
    assert len(rows(again, "trading_revoked")) == 1, f"audited exactly once after a crash {crash}"
    assert len(venue.sent("revoke")) == (1 if crash == "before_set" else 2), "sent again, never assumed"
    assert shown(again) == "revoked (read back)"
    ticks(again, 5)
    assert len(rows(again, "trading_revoked")) == 1 and len(venue.sent("revoke")) <= 2


def test_a_takeover_finishes_the_owed_revoke_and_the_deposed_runner_sends_nothing(tmp_path):
    venue = KeyVenue()
    venue.refuse = ("-1003", "Too many requests.")
    a = make(tmp_path, venue=venue, holder="runner-a")
    started(a)
    ticks(a, 13)
    assert venue.sent("revoke", "runner-a") and shown(a).startswith("REVOKE_FAILED: -1003")
    # runner-a stops ticking (a stalled pod); its lease runs out and runner-b takes over the store
    a.clock.advance(10_000)
    venue.refuse = None
    b = make(tmp_path, venue=venue, engine=a.engine, clock=a.clock, holder="runner-b")
    run(b.runner.start())
    ticks(b, 2)
    assert venue.keys == {k: "revoked" for k in KEYS} and venue.sent("revoke", "runner-b")
    [row] = rows(b, "trading_revoked")
    assert row["by"] == "runner-b" and shown(b) == "revoked (read back)"
    # runner-a wakes up: it does not lead, so it sends nothing and writes no row
    sent_by_a = len(venue.sent("revoke", "runner-a")) + len(venue.sent("read", "runner-a"))
    reports = run(a.runner.tick())
    assert not reports.leader
    assert len(venue.sent("revoke", "runner-a")) + len(venue.sent("read", "runner-a")) == sent_by_a
    assert len(rows(b, "trading_revoked")) == 1
    b.store.close()
    a.store.close()


# --- shown: status, the console, the client's decoding ---------------------------------------------------------------


def console_text(w) -> str:
    from killswitch.runner.console.http import environment
    from killswitch.runner.console.model import page_model
    from tests.unit.test_console_model import text_of

    r = w.desk
    m = page_model(r.status(), (True, "LEADER"), r.lock_document(), r.dms_status(), r.triggers(), run(r.incidents()))
    return text_of(environment().get_template("view.html.j2").render(**m))


def test_status_and_the_console_say_revoked_only_once_the_venue_confirmed_it(tmp_path):
    from killswitch.render.status import trading_lines
    from killswitch.runner.api.render import encode
    from killswitch.runner.view import RunnerStatus, decode

    venue = KeyVenue()
    venue.refuse = ("-2015", "Invalid API-key, IP, or permissions for action.")
    w = make(tmp_path, venue=venue)
    entered(w)
    st = decode(RunnerStatus, json.loads(encode(w.desk.status())))  # as the client reads GET /v1/status
    [line] = trading_lines(st)
    assert line.startswith(f"  TRADING {ACCOUNT}: REVOKE_FAILED: -2015: key bot-a-key: Invalid API-key")
    assert f"held by bot-guard {ACCOUNT} stage 1 (restore needs 2 approver(s), have 0)" in line
    page = console_text(w)
    assert f"Trading revoke FAILED {ACCOUNT}: REVOKE_FAILED: -2015" in page and "Trading revoked " not in page

    venue.refuse = None
    ticks(w, 13)
    [line] = trading_lines(w.desk.status())
    assert line.startswith(f"  TRADING {ACCOUNT}: revoked (read back); keys bot-a-key=revoked, bot-b-key=revoked")
    assert f"Trading revoked {ACCOUNT}: revoked (read back)" in console_text(w)


# --- the operator's revoke: previewed, exact scope, restored with approvals -----------------------------------------


class ServedKeys:
    """A runner with the venue's permission switch, behind its API on a thread of its own,
    ticking every few milliseconds of wall time (5 s of its clock each)."""

    def __init__(self, tmp_path, build=None):
        import threading

        from tests.integration.test_ops_commands import PEOPLE, SERVED_LEASE_MS, TOKEN

        # a lease of three ticks, renewed at every tick before it runs out (see Served)
        self.w = (build or make)(tmp_path, venue=KeyVenue(), lease_ttl_ms=SERVED_LEASE_MS)
        self.token, self.people = TOKEN, PEOPLE
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop = False
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self._serve()), daemon=True)

    async def _serve(self):
        from killswitch.runner.api.api import make_app, start_api, stop_api

        w = self.w
        await w.runner.start()
        await w.desk.heartbeat("bot-x")
        w.clock.advance(TICK_MS)
        await w.runner.tick()
        self.site, self.url = await start_api(make_app(w.desk, token=self.token, tokens=self.people))
        self.ready.set()
        while not self.stop:
            w.clock.advance(TICK_MS)
            await w.desk.heartbeat("bot-x")  # the policy's stage stays out of it: the operator revokes
            await w.runner.tick()
            await asyncio.sleep(0.01)
        await stop_api(self.site)

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(60)
        return self

    def __exit__(self, exc_type, *exc):
        from tests.integration.test_ops_commands import assert_kept_its_lease

        self.stop = True
        self.thread.join(30)
        if exc_type is None:
            assert_kept_its_lease(self.w.parts)


def test_ksctl_revoke_previews_the_exact_scope_and_only_approvers_restore_it(tmp_path):
    from click.testing import CliRunner

    from killswitch.cli.main import cli
    from tests.integration.test_ops_commands import ALICE, BOB, TOKEN

    op = CliRunner(env={"KS_API_TOKEN": TOKEN})
    alice, bob = CliRunner(env={"KS_API_TOKEN": ALICE}), CliRunner(env={"KS_API_TOKEN": BOB})
    with ServedKeys(tmp_path) as srv:
        venue, url = srv.w.venue, srv.url
        r = op.invoke(cli, ["revoke", "--scope", "simulated/SIM-MAIN", "--api", url, "--reason", "typo", "--yes"])
        assert r.exit_code == 1 and "UNKNOWN_SCOPE" in r.output and "did you mean 'simulated/sim-main'" in r.output
        args = ["revoke", "--scope", ACCOUNT, "--api", url, "--reason", "bot ignores the halt", "--approvals", "2"]
        r = op.invoke(cli, args)  # no --yes and no terminal: nothing is sent
        assert r.exit_code == 2 and "nothing was sent" in r.output, r.output
        assert r.output.startswith(f"PREVIEW: revoke trading on 1 account(s): {ACCOUNT}")
        assert f"  {ACCOUNT}: every bot key listed for it made read-only at the venue (now allowed)" in r.output
        assert f"  its restore will need 2 distinct approver(s) (--approvals), each with ksctl revoke --scope " \
               f"{ACCOUNT} --restore" in r.output, r.output
        assert venue.sent("revoke") == []
        r = op.invoke(cli, args + ["--yes"])
        assert r.exit_code == 0, r.output
        assert f"\nREVOKED: trading on {ACCOUNT}; {ACCOUNT}: revoked (read back)" in r.output, r.output
        assert venue.keys == {k: "revoked" for k in KEYS} and len(venue.sent("revoke")) == 1
        r = op.invoke(cli, ["status", "--api", url])
        assert f"  TRADING {ACCOUNT}: revoked (read back); keys bot-a-key=revoked, bot-b-key=revoked; held by " \
               f"shared-token's revoke of {ACCOUNT} (restore needs 2 approver(s), have 0)" in r.output, r.output

        restore = ["revoke", "--scope", ACCOUNT, "--restore", "--api", url, "--reason", "bot fixed"]
        r = op.invoke(cli, restore)
        assert r.exit_code == 1 and "ROLE_REQUIRED: shared-token may not do this" in r.output, r.output  # no approver
        r = alice.invoke(cli, restore)  # what her approval does, then it
        assert r.exit_code == 0 and r.output.startswith(
            f"PREVIEW: approval 1/2 of the restore of trading on {ACCOUNT}\n"
            "  revoked by shared-token: MANUAL_REVOKE: bot ignores the halt\n"
            f"  {ACCOUNT}: no lock binds it now; its bots trade freely once restored\n  no approval yet\n"), r.output
        assert "\nAPPROVAL_RECORDED: 1/2 approvers=alice" in r.output, r.output
        r = alice.invoke(cli, restore)
        assert r.exit_code == 1 and r.output.startswith("DUPLICATE_APPROVER: alice"), r.output  # (its preview)
        assert venue.sent("restore") == [] and venue.keys == {k: "revoked" for k in KEYS}
        r = bob.invoke(cli, restore)
        assert r.exit_code == 0 and r.output.startswith(f"PREVIEW: approval 2/2, the last, of the restore of trading "
                                                        f"on {ACCOUNT}\n"), r.output
        assert f"  the last approval: the bots' keys made tradable again at the venue now for {ACCOUNT}\n" in r.output
        assert f"\nRESTORED: trading on {ACCOUNT}; {ACCOUNT}: allowed" in r.output, r.output
        assert venue.keys == {k: "allowed" for k in KEYS} and len(venue.sent("restore")) == 1
        r = bob.invoke(cli, restore)
        assert r.exit_code == 1 and r.output.startswith(f"NOT_REVOKED: no revoke of exactly {ACCOUNT}"), r.output
    kinds = [row.payload.get("op") for row in srv.w.store.audit_rows(kinds=["trading_revoked", "trading_restored"])]
    assert len(kinds) == 2 and len(set(kinds)) == 2
    # each refused attempt, though its preview was refused first, is audited with its author and in
    # the report's operator actions, as a refused lock or reset is (issue 65, walk 8 M2)
    from killswitch.runbooks.operator_actions import operator_actions

    rows = srv.w.store.audit_rows()
    refused = [(r.kind, r.payload.get("by") or r.payload.get("approver"), str(r.payload["refused"]).split(":")[0])
               for r in rows if r.payload.get("refused")]
    assert refused == [("trading_revoke_requested", "shared-token", "UNKNOWN_SCOPE"),
                       ("api_write_refused", "shared-token", "ROLE_REQUIRED"),
                       ("trading_restore_approval", "alice", "DUPLICATE_APPROVER"),
                       ("trading_restore_approval", "bob", "NOT_REVOKED")], refused
    shown = [(a["action"], a["by"], a["outcome"]) for a in operator_actions(rows, srv.w.clock() + 1, lambda s: True,
                                                                            {}, {})
             if a["outcome"].startswith("refused")]
    assert shown == [("revoke", "shared-token", "refused: UNKNOWN_SCOPE"),
                     ("revoke restore", "shared-token", "refused: ROLE_REQUIRED"),
                     ("restore approval", "alice", "refused: DUPLICATE_APPROVER"),
                     ("restore approval", "bob", "refused: NOT_REVOKED")], shown


def test_a_restores_preview_says_the_lock_that_still_binds_and_the_violations_under_it(tmp_path):
    """Restoring the keys lifts no lock: the preview names the lock the account's orders still get
    (as check-order reads it) and the bot's violations of it, so no approver takes the keys back
    for a bot that broke the halt a minute before without being told."""
    w = make(tmp_path, venue=KeyVenue())
    started(w)
    ticks(w, 1, beat=True)
    assert run(w.desk.lock_scope(ACCOUNT, "halted", "desk halt", actor="ann")).done
    w.engine.place_order("sim-main", "BTCUSDT", "BUY", "MARKET", 1.0, client_order_id="bot-a-mkt-1")
    ticks(w, 2, beat=True)  # the venue watch sees the growth under the halt and reverts it
    preview = w.desk.preview_revoke(ACCOUNT)
    assert run(w.desk.revoke_trading(ACCOUNT, "bot ignores the halt", preview_id=preview.preview_id,
                                     actor="ann")).done
    ticks(w, 1, beat=True)
    p = w.desk.preview_restore(ACCOUNT, "alice")
    assert p.allowed, p.reason
    said = "\n".join(p.effects)
    assert f"{ACCOUNT} is still HALTED by ann's lock (since " in said and "the restore does not lift it" in said, said
    # every lock that binds the account is named, not only the strongest (issue 65, walk 8 L1)
    assert run(w.desk.lock_scope("simulated", "reducing", "venue slow", actor="bob")).done
    said = "\n".join(w.desk.preview_restore(ACCOUNT, "alice").effects)
    assert (f"{ACCOUNT} is still HALTED by ann's lock (since " in said
            and "; also held by bob's lock (reducing); the restore does not lift any of them" in said), said
    assert f"{ACCOUNT}: 1 lock violation(s) since the lock, the latest at " in said, said
    # the bot's side and the runner's revert, each named (not "revert buy": the revert sold)
    assert (f"strategy unknown: bot buy BTC/USDT:USDT under halted {ACCOUNT}, reverted by the runner's sell "
            "(revert filled") in said, said


def test_a_stages_revoke_is_restored_by_its_reset_not_by_ksctl_revoke_restore(tmp_path):
    w = make(tmp_path, venue=KeyVenue())
    entered(w)
    answer = run(w.desk.restore_trading(ACCOUNT, "want it back", approver="alice"))
    assert not answer.done and answer.reason.startswith(f"REVOKED_BY_STAGE: {ACCOUNT} is revoked by stage 1 of "
                                                        "policy bot-guard; its reset restores it (ksctl reset")
    assert w.venue.sent("restore") == []


def test_a_revoke_whose_scope_reaches_other_accounts_than_previewed_is_refused(tmp_path):
    w = make(tmp_path, venue=KeyVenue())
    started(w)
    ticks(w, 1, beat=True)
    preview = w.desk.preview_revoke("simulated")
    assert preview.allowed and preview.preview_id
    stale = run(w.desk.revoke_trading("simulated", "r", preview_id="rv-0000000000000000", actor="ann"))
    assert not stale.done and stale.reason.startswith("PREVIEW_MISMATCH: simulated reaches simulated/sim-main now")
    missing = run(w.desk.revoke_trading("simulated", "r", preview_id=None, actor="ann"))
    assert not missing.done and missing.reason.startswith("PREVIEW_REQUIRED")
    assert w.venue.sent("revoke") == [] and shown(w) == "allowed"
    done = run(w.desk.revoke_trading("simulated", "r", preview_id=preview.preview_id, actor="ann"))
    assert done.done and shown(w) == "revoked (read back)"


def test_a_revoke_whose_policy_a_reload_dropped_stays_until_its_approvers_restore_it(tmp_path):
    """A reload never lifts a revoke; with the policy gone no reset can reach it, so the
    restore takes it, with the approvals the stage asked for."""
    from killswitch.runner.tick.loop import GraphReload

    w = make(tmp_path, venue=KeyVenue())
    entered(w)
    other = compiled(GUARD.replace("name: bot-guard", "name: other-guard"))
    assert run(w.runner.apply_graph(GraphReload(other))).applied
    ticks(w, 3, beat=True)
    assert shown(w) == "revoked (read back)" and w.venue.sent("restore") == []
    first = run(w.desk.restore_trading(ACCOUNT, "policy retired", approver="alice"))
    assert first.done and first.reason.startswith("APPROVAL_RECORDED: 1/2 (the revoke of policy bot-guard")
    assert shown(w) == "revoked (read back)"
    second = run(w.desk.restore_trading(ACCOUNT, "agreed", approver="bob"))
    assert second.done and second.reason.startswith(f"RESTORED: trading (policy bot-guard no longer runs this "
                                                    f"scope) on {ACCOUNT}"), second.reason
    assert w.venue.keys == {k: "allowed" for k in KEYS} and shown(w) == "allowed"


# --- a revoke owes only what can be sent --------------------------------------------------------------------------

OTHER = "simulated/sim-hedge"  # an account of the same venue and book without a revoke: block


def two_accounts(tmp_path, venue: KeyVenue, clock=None, lease_ttl_ms: int = 5_000, prefixes=None):
    """sim-main with the venue's switch, sim-hedge without one, one store (a restart: call again);
    ``prefixes``: sim-main's declared strategies (client id prefix → strategy)."""
    clock = clock or ManualClock(T0)
    venue.clock = clock
    engine = build("calm", clock)
    for symbol, price in {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 140.0}.items():
        engine.set_mark(symbol, price)
    main = WithKeys(SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"},
                                     timeout_s=2.0, strategy_prefixes=prefixes), venue, "runner")
    other = SimulatedAdapter(engine, "sim-hedge", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    assert not other.capabilities.revoke_trading
    store = CrashingSave(open_store(f"sqlite://{tmp_path / 'state.db'}"))
    runner, desk, parts = build_runner_and_desk(
        compiled(), {ACCOUNT: main, OTHER: other}, store, lock_path=tmp_path / "lock.json", dry_run=False,
        clock=clock, holder="runner", lease_ttl_ms=lease_ttl_ms)
    return SimpleNamespace(runner=runner, desk=desk, parts=parts, engine=engine, clock=clock, store=store, venue=venue,
                           db=tmp_path / "state.db")


def test_an_operator_revoke_names_the_account_it_cannot_reach_and_never_owes_it(tmp_path):
    w = two_accounts(tmp_path, venue=KeyVenue())
    started(w)
    ticks(w, 1, beat=True)
    preview = w.desk.preview_revoke("simulated")
    assert preview.allowed, preview.reason
    assert f"{OTHER}: OUT OF REACH, not revoked: no revoke: block in the Accounts document" in "\n".join(
        preview.effects), preview.effects
    done = run(w.desk.revoke_trading("simulated", "bot ignores the halt", preview_id=preview.preview_id, actor="ann"))
    assert done.done and done.out_of_reach == (OTHER,)
    assert done.reason.startswith(f"REVOKED: trading on {ACCOUNT}; {ACCOUNT}: revoked (read back); "
                                  f"OUT_OF_REACH, not revoked: {OTHER}"), done.reason
    assert set(w.parts.revokes.status()) == {ACCOUNT}
    reports = ticks(w, 30, beat=True)  # nothing owed on sim-hedge: no retry, no failure, no page
    assert events(reports, REVOKE_FAILED) == [] and set(w.parts.revokes.status()) == {ACCOUNT}
    restored = run(w.desk.restore_trading("simulated", "fixed", approver="bob"))
    assert restored.done and restored.reason.startswith(f"RESTORED: trading on {ACCOUNT}"), restored.reason
    assert w.parts.revokes.status() == {} and w.venue.keys == {k: "allowed" for k in KEYS}
    again = two_accounts(tmp_path, venue=w.venue, clock=w.clock)  # a restart: nothing said of sim-hedge, nothing owed
    started(again)
    ticks(again, 3, beat=True)
    assert again.parts.revokes.status() == {}


def test_a_strategys_revoke_reaches_only_the_accounts_it_trades_on(tmp_path):
    """bot-a is declared on sim-main alone: its revoke reaches sim-main, not sim-hedge (the walk
    saw sim-hedge previewed and then named OUT OF REACH, with no word of why it was reached)."""
    w = two_accounts(tmp_path, venue=KeyVenue(), prefixes={"bot-a-": "bot-a"})
    started(w)
    ticks(w, 1, beat=True)
    preview = w.desk.preview_revoke("bot-a")
    assert preview.allowed, preview.reason
    assert preview.reason == f"PREVIEW: revoke trading on 1 account(s): {ACCOUNT}", preview.reason
    said = "\n".join(preview.effects)
    assert OTHER not in said and f"strategy bot-a trades on {ACCOUNT} (declared in the Accounts document" in said, said
    done = run(w.desk.revoke_trading("bot-a", "bot-a ignores the halt", preview_id=preview.preview_id, actor="ann"))
    assert done.done and done.out_of_reach == (), done.reason
    assert set(w.parts.revokes.status()) == {ACCOUNT}


def test_a_revoke_of_a_strategy_no_account_trades_on_is_refused_with_the_way_out():
    """A strategy known from a policy's scope alone trades on no account this runner can name:
    refused, never every account of the runner."""
    from killswitch.runner.names import Catalog
    from killswitch.runner.operator.revoke_commands import OperatorRevokes

    cat = Catalog(accounts=frozenset({ACCOUNT, OTHER}), strategies=frozenset({"bot-a", "bot-z"}),
                  account_strategies={ACCOUNT: frozenset({"bot-a"}), OTHER: frozenset()})
    me = SimpleNamespace(known=SimpleNamespace(catalog=lambda: cat))
    assert OperatorRevokes._accounts(me, "bot-a") == (None, [ACCOUNT])  # type: ignore[arg-type]
    why, accounts = OperatorRevokes._accounts(me, "bot-z")  # type: ignore[arg-type]
    assert accounts == [] and why.startswith("NO_ACCOUNT: strategy bot-z is declared on no account"), why
    assert "ksctl revoke --scope venue/account" in why
    assert OperatorRevokes._accounts(me, "simulated") == (None, [OTHER, ACCOUNT])  # type: ignore[arg-type]


def test_a_stage_revoke_holds_only_the_accounts_with_the_switch(tmp_path):
    w = two_accounts(tmp_path, venue=KeyVenue())
    started(w)
    reports = ticks(w, 13)
    assert w.parts.book.state.scopes[f"bot-guard|{OTHER}"].stage.level == 1
    reports += ticks(w, 30)
    assert set(w.parts.revokes.status()) == {ACCOUNT} and events(reports, REVOKE_FAILED) == []


def test_a_book_that_owes_a_revoke_where_no_switch_is_forgets_it_without_sending(tmp_path):
    """A book saved before such holds were refused: the owed revoke is dropped, never retried."""
    from killswitch.runner.book.revoke_state import Hold, RevokeBook

    w = two_accounts(tmp_path, venue=KeyVenue())
    started(w)
    hold = Hold(holder=f"operator|{OTHER}", policy="operator", scope=OTHER, since_ms=T0, reason="MANUAL_REVOKE: x")
    w.parts.book.revokes_changed(RevokeBook().hold([OTHER], hold, T0))
    assert set(w.parts.revokes.status()) == {OTHER}
    reports = ticks(w, 3, beat=True)
    assert w.parts.revokes.status() == {} and events(reports, REVOKE_FAILED) == []


def test_ksctl_revoke_exits_1_naming_the_account_out_of_reach(tmp_path):
    from click.testing import CliRunner

    from killswitch.cli.main import cli
    from tests.integration.test_ops_commands import TOKEN

    op = CliRunner(env={"KS_API_TOKEN": TOKEN})
    with ServedKeys(tmp_path, build=two_accounts) as srv:
        args = ["revoke", "--scope", "simulated", "--api", srv.url, "--reason", "bot ignores the halt", "--yes"]
        r = op.invoke(cli, args)
        assert r.exit_code == 1, r.output
        assert f"  {OTHER}: OUT OF REACH, not revoked: no revoke: block" in r.output, r.output
        assert f"\nREVOKED: trading on {ACCOUNT}; {ACCOUNT}: revoked (read back); OUT_OF_REACH, not revoked: " \
               f"{OTHER}" in r.output, r.output
        r = op.invoke(cli, args + ["-o", "json"])
        assert r.exit_code == 1 and json.loads(r.output)["out_of_reach"] == [OTHER], r.output


def test_a_refused_reset_is_audited_and_never_told_to_the_sinks(tmp_path):
    """A duplicate approval or a reset of nothing is the caller's mistake: audited, answered,
    never a page to a chat (a RESET event is told for an approval taken or a release alone)."""
    from killswitch.events import RESET

    told: list = []
    w = make(tmp_path, venue=KeyVenue())
    w.parts.fanout.sinks.append(SimpleNamespace(name="catch", on_event=lambda e, ctx: told.append(e),
                                                on_tick=lambda r, ctx: None))
    entered(w)
    ticks(w, 1, beat=True)  # heard again: its trigger no longer fires
    assert run(w.desk.reset("bot-guard", ACCOUNT, "alice", "checked")).reason.startswith("APPROVAL_RECORDED")
    assert run(w.desk.reset("bot-guard", ACCOUNT, "alice", "again")).reason.startswith("DUPLICATE_APPROVER")
    assert run(w.desk.reset("bot-guard", "simulated", "alice", "x")).reason.startswith(("NOT_ENGAGED", "UNKNOWN"))
    resets = [e.data["result"] for e in told if e.kind == RESET]
    assert len(resets) == 1 and resets[0].startswith("APPROVAL_RECORDED"), resets
    results = [r["result"].split(":")[0] for r in rows(w, "reset_approval")]
    assert results[:2] == ["APPROVAL_RECORDED", "DUPLICATE_APPROVER"], results  # each attempt audited
