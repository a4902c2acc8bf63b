"""A policy instance a reload removed is not shown as guarding, on SQLite and the simulated exchange.

``venue-guard`` keeps one instance per venue over two accounts, each on a venue of its own
(``simulated/sim-main`` and ``simtwo/sim-hedge``); a reload narrows its scope to ``sim-main``.
The instance of ``simtwo`` then guards nothing: at stage 0 it is gone from status, coverage,
the console's page model and charts, and the silence dialog's names, and a runner started
again on the same store does not bring it back; at stage 1 (a manual reset) it stays, shown as
removed, until a reset ends it. The stage is entered by ``bot-x``'s silence; the clock is a
manual one.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from types import SimpleNamespace

from adapters.simulated.adapter import SimulatedAdapter
from adapters.simulated.engine import ManualClock
from adapters.simulated.scenarios import build
from killswitch.client import LockDocument
from killswitch.face.console.http import environment
from killswitch.face.console.model import page_model
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.render.status import status_text
from killswitch.runner.tick.reload import GraphReload
from killswitch.state import open_store
from killswitch.view import decode
from tests.unit.engine_helpers import compile_graph, guard_policy

T0 = 1_772_456_400_000  # 2026-03-02T13:00:00Z
TICK_MS = 5_000
MAIN, TWO = "simulated/sim-main", "simtwo/sim-hedge"
KEPT, GONE = "venue-guard|simulated", "venue-guard|simtwo"

GUARD = guard_policy("venue-guard", scope="{level: venue, accounts: {match_labels: {book: futures}}}", approvals=1)
NARROWED = guard_policy("venue-guard", scope="{level: venue, accounts: {names: [sim-main]}}", approvals=1)


def runner_over(tmp_path, clock, adapters: dict, text: str, *, holder: str = "runner", lock: str = "lock.json",
                **kw) -> SimpleNamespace:
    """A runner and its desk over ``adapters`` running ``text`` on ``clock``, on the store in
    ``tmp_path`` (again: a restart on it); ``kw``: ``build_runner_and_desk``'s."""
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    runner, desk, parts = build_runner_and_desk(compile_graph(text, "guard.yaml"), adapters, store,
                                                lock_path=tmp_path / lock, dry_run=False, clock=clock,
                                                holder=holder, **kw)
    return SimpleNamespace(runner=runner, desk=desk, parts=parts, clock=clock, store=store, db=tmp_path / "state.db")


def make(tmp_path, text: str = GUARD, clock=None):
    """The runner over both accounts, on the store in ``tmp_path`` (again: a restart on it)."""
    clock = clock or ManualClock(T0)
    engine = build("calm", clock)
    return runner_over(tmp_path, clock, {
        MAIN: SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0),
        TWO: SimulatedAdapter(engine, "sim-hedge", venue="simtwo", labels={"book": "futures"}, timeout_s=2.0)}, text)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def ticks(w, n: int, *, beat: bool) -> None:
    async def go():
        for _ in range(n):
            w.clock.advance(TICK_MS)
            if beat:
                await w.desk.heartbeat("bot-x")
            await w.runner.tick()
    run(go())


def started(w) -> None:
    run(w.runner.start())
    run(w.desk.heartbeat("bot-x"))


def stop(w) -> None:
    run(w.runner.aclose())
    w.store.close()


def audited(w, kind: str) -> list[dict]:
    db = sqlite3.connect(w.db)
    try:
        return [json.loads(p) for (p,) in db.execute("SELECT payload FROM audit_log WHERE kind = ? ORDER BY seq",
                                                     (kind,))]
    finally:
        db.close()


def page(w) -> dict:
    d = w.desk
    return page_model(d.status(), (True, "LEADER"), d.lock_document(), d.dms_status(), d.triggers(),
                      run(d.incidents()))


def charted(model: dict) -> str:
    return environment().get_template("charts.html.j2").render(**model)


def shown(w) -> dict:
    """Where the instance of ``simtwo`` shows, by view."""
    st = w.desk.status()
    model = page(w)
    return {"status": [s for s in st.scopes if s.scope == "simtwo"],
            "coverage": [c for c in st.coverage if c.scope == "simtwo"],
            "console": [s for s in model["scopes"] if s["key"] == GONE],
            "chart": "/v1/charts/venue-guard/simtwo" in charted(model),
            # what the silence dialog checks a scope of the policy against, and suggests from
            "names": "simtwo" in w.parts.known.catalog().policy_scopes.get("venue-guard", ())}


def reload(w, text: str = NARROWED) -> None:
    assert run(w.runner.apply_graph(GraphReload(compile_graph(text, "guard.yaml")))).applied


def test_an_armed_instance_a_reload_removed_is_gone_from_every_view_and_stays_gone_after_a_restart(tmp_path):
    w = make(tmp_path)
    started(w)
    ticks(w, 2, beat=True)
    before = shown(w)
    assert [s.stage for s in before["status"]] == [0] and len(before["coverage"]) == 1
    assert before["console"] and before["chart"] and before["names"]
    assert asyncio.run(w.desk.silence_preview(["policy=venue-guard", "scope=simtwo"])).ok

    reload(w)
    after = shown(w)
    assert after == {"status": [], "coverage": [], "console": [], "chart": False, "names": False}, after
    assert GONE not in w.parts.book.state.scopes and KEPT in w.parts.book.state.scopes
    # the silence dialog refuses it, naming the instance that is left
    refused = asyncio.run(w.desk.silence_preview(["policy=venue-guard", "scope=simtwo"]))
    assert not refused.ok and refused.reason.startswith("UNKNOWN_SCOPE: 'simtwo' is not a scope of policy "
                                                             "venue-guard"), refused.reason
    [row] = audited(w, "policy_reloaded")
    assert row["removed"] == [{"policy": "venue-guard", "scope": "simtwo", "stage": 0, "dropped": True}]
    ticks(w, 2, beat=True)
    assert shown(w) == after
    stop(w)

    # a restart on the same store, with the narrowed policy: not brought back
    again = make(tmp_path, NARROWED, clock=w.clock)
    assert GONE not in again.parts.book.state.scopes
    assert shown(again) == after
    started(again)
    ticks(again, 2, beat=True)
    assert shown(again) == after
    assert [s.scope for s in again.desk.status().scopes] == ["simulated"]
    stop(again)


def test_a_restart_with_the_narrowed_policy_drops_what_the_last_runner_kept_and_audits_it(tmp_path):
    w = make(tmp_path)
    started(w)
    ticks(w, 2, beat=True)
    stop(w)
    again = make(tmp_path, NARROWED, clock=w.clock)  # the policies changed while no runner ran
    started(again)
    ticks(again, 1, beat=True)
    assert shown(again) == {"status": [], "coverage": [], "console": [], "chart": False, "names": False}
    [row] = audited(again, "policy_instances_removed")
    assert row["removed"] == [{"policy": "venue-guard", "scope": "simtwo", "stage": 0, "dropped": True}]
    stop(again)


def test_a_latched_instance_a_reload_removed_stays_shown_as_removed_until_a_reset_ends_it(tmp_path):
    w = make(tmp_path)
    started(w)
    ticks(w, 13, beat=False)  # bot-x silent over a minute: both venues halted
    assert w.parts.book.state.scopes[GONE].stage.level == 1
    reload(w)
    ticks(w, 2, beat=True)
    [row] = audited(w, "policy_reloaded")
    assert row["removed"] == [{"policy": "venue-guard", "scope": "simtwo", "stage": 1, "dropped": False}]

    # kept (a latched stage never ends by a reload), and said to be what it is everywhere
    views = shown(w)
    [s] = views["status"]
    assert s.stage == 1 and s.removed is not None
    assert s.removed.startswith("REMOVED BY RELOAD: venue-guard simtwo at stage 1: the scope of policy venue-guard "
                                "no longer selects simtwo; it guards nothing now; reset it to end it"), s.removed
    assert views["coverage"] == [] and not views["chart"]
    [row] = views["console"]
    assert row["removed"] == s.removed and row["coverage"] is None and row["can_reset"]
    text = environment().get_template("view.html.j2").render(**page(w))
    assert "REMOVED BY RELOAD" in text
    assert w.desk.lock_document("simtwo")["locked"]  # its lock stays with its stage
    said = status_text(w.desk.status(), decode(LockDocument, w.desk.lock_document()))  # ksctl status
    assert "REMOVED BY RELOAD: venue-guard simtwo at stage 1" in said, said

    # a restart keeps it as it is
    stop(w)
    w = make(tmp_path, NARROWED, clock=w.clock)
    started(w)
    ticks(w, 1, beat=True)
    [s] = shown(w)["status"]
    assert s.stage == 1 and s.removed is not None

    # the reset ends it: the stage, its lock and the instance go
    answer = run(w.desk.reset("venue-guard", "simtwo", "alice", "venue retired"))
    assert answer.done, answer.reason
    assert "venue-guard simtwo is no longer in the running policies: the instance ended" in answer.reason
    assert GONE not in w.parts.book.state.scopes
    assert not w.desk.lock_document("simtwo")["locked"]
    # once more, after it passed: who reset it and when, not an unknown scope with another offered
    again = run(w.desk.reset("venue-guard", "simtwo", "bob", "is it done?"))
    assert not again.done
    assert again.reason.startswith("ALREADY_RESET: venue-guard simtwo was reset at 2026-03-02T"), again.reason
    assert again.reason.endswith(" by alice (stage 1); the instance ended with it: it is no longer in the running "
                                 "policies; nothing to reset"), again.reason
    assert "did you mean" not in again.reason and "simulated" not in again.reason, again.reason
    assert audited(w, "reset_approval")[-1]["result"] == again.reason  # a reset attempt of the report
    ticks(w, 2, beat=True)
    assert shown(w) == {"status": [], "coverage": [], "console": [], "chart": False, "names": False}
    stop(w)
    w = make(tmp_path, NARROWED, clock=w.clock)
    assert GONE not in w.parts.book.state.scopes
    stop(w)


def test_the_runbook_of_a_removed_instance_says_so_and_then_that_its_reset_ended_it(tmp_path, monkeypatch):
    """Walk 3 M1: the stored runbook of the incident a reload removed says REMOVED BY RELOAD
    (kept until reset), then ENDED with who reset it; a restarted runner's reset renders it from
    the store, and ``ksctl runbook render`` says the same with the runner gone."""
    from click.testing import CliRunner

    from killswitch.cli.main import cli
    from killswitch.runbooks.sink import RunbookSink
    from tests.conftest import ROOT

    def with_runbooks(w):
        w.parts.fanout.sinks.append(RunbookSink(ROOT / "runbooks"))
        return w

    incident = "venue-guard/simtwo/L1/e1"
    w = with_runbooks(make(tmp_path))
    started(w)
    ticks(w, 13, beat=False)
    assert "REMOVED" not in w.store.runbook(incident).markdown
    reload(w)
    ticks(w, 2, beat=True)
    md = w.store.runbook(incident).markdown
    assert "> **REMOVED BY RELOAD** at 2026-03-02T13:01:05Z (kept until reset): the running policies no longer " \
           "have `venue-guard` on `simtwo`; the stage holds until its reset." in md, md[:900]
    assert "ENDED" not in md and "**LATCHED**" in md
    stop(w)
    w = with_runbooks(make(tmp_path, NARROWED, clock=w.clock))  # a restart: nothing of it in memory
    started(w)
    ticks(w, 1, beat=True)
    assert run(w.desk.reset("venue-guard", "simtwo", "alice", "venue retired")).done
    md = w.store.runbook(incident).markdown
    assert re.search(r"^> \*\*ENDED\*\*: reset by alice at 2026-03-02T13:01:\d\dZ\.", md, re.M), md[:900]
    assert "the stage held until its reset" in md and "**LATCHED**" not in md
    assert "until the stage is reset" not in md
    url = w.store.url
    stop(w)
    monkeypatch.chdir(ROOT)
    out = CliRunner().invoke(cli, ["runbook", "render", "--incident", incident, "--state", url])
    assert out.exit_code == 0, out.output
    assert out.output == md


def test_an_instance_kept_removed_is_audited_once_however_often_runners_start(tmp_path):
    """A latched instance the policies no longer produce is marked removed once (by the start that
    found it so); the starts and takeovers after it keep it, and write no second row."""
    w = make(tmp_path)
    started(w)
    ticks(w, 13, beat=False)  # bot-x silent over a minute: both venues halted
    assert w.parts.book.state.scopes[GONE].stage.level == 1
    stop(w)
    for _ in range(3):  # the policies narrowed while no runner ran, then three starts on the store
        w = make(tmp_path, NARROWED, clock=w.clock)
        started(w)
        ticks(w, 1, beat=True)
        assert w.parts.book.state.scopes[GONE].removed is not None
        stop(w)
    [row] = audited(w, "policy_instances_removed")
    assert row["removed"] == [{"policy": "venue-guard", "scope": "simtwo", "stage": 1, "dropped": False}]
