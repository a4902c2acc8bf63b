"""Was it guarded the whole time? The closure report names the reload that removed an incident's
policy instance, and lists the runner's starts, stops and changes of leader with the gaps between
them (walk 65, M5).

``desk-guard`` halts ``simulated/sim-main`` (stage 1, manual reset); a reload narrows it to
``desk: b``, which removes that instance, kept until reset. Runner ``a`` stops; 60 s later runner
``b`` starts on the same store, takes the lease and resets the instance. On SQLite and the
simulated exchange; the clock is a manual one.
"""

from __future__ import annotations

from adapters.simulated.engine import ManualClock
from killswitch.render.report import report_markdown
from killswitch.runbooks.incident import iso
from killswitch.runbooks.report import closure_report
from tests.integration.test_removed_instances import T0, audited, reload, run, runner_over, started, stop, ticks
from tests.integration.test_unguarded_accounts import GUARD, MAIN, NARROWED, desks


def make(tmp_path, clock: ManualClock, holder: str, text: str = GUARD, lease_ttl_ms: int = 5_000):
    return runner_over(tmp_path, clock, desks(clock), text, holder=holder, lock=f"{holder}.json",
                       lease_ttl_ms=lease_ttl_ms)


def test_the_report_names_the_removing_reload_and_the_runners_gap(tmp_path):
    clock = ManualClock(T0)
    a = make(tmp_path, clock, "runner-a")
    started(a)
    ticks(a, 2, beat=True)
    ticks(a, 13, beat=False)  # bot-x silent over a minute: sim-main halted (stage 1)
    first = a.parts.book.graph.digest
    reload(a, NARROWED)  # sim-main's instance removed, kept until reset
    narrowed = a.parts.book.graph.digest
    reloaded_ms = clock()
    ticks(a, 2, beat=True)
    stop(a)
    stopped_ms = clock()

    clock.advance(60_000)  # nothing runs for a minute (a's lease ran out meanwhile)
    b = make(tmp_path, clock, "runner-b", NARROWED)
    b_started_ms = clock()
    started(b)  # b takes the lease at its start; its first tick audits it, with the time it took it
    ticks(b, 3, beat=True)
    answer = run(b.desk.reset("desk-guard", MAIN, "alice", "desk a moved off this policy"))
    assert answer.done, answer.reason
    ticks(b, 2, beat=True)
    now = clock()
    report = closure_report(b.store, T0, now + 1, now)
    # each row once, however many ticks ran under the token
    assert [p["holder"] for p in audited(b, "runner_started")] == ["runner-a", "runner-b"]
    assert [p["holder"] for p in audited(b, "lease_taken")] == ["runner-a", "runner-b"]
    assert [p["holder"] for p in audited(b, "runner_stopped")] == ["runner-a"]
    stop(b)

    assert report["audit"]["consistent"], report["audit"]  # the rows keep the chain whole
    [incident] = [i for i in report["incidents"] if i["scope"] == MAIN]
    removed = incident["removed_by_reload"]
    assert removed["by"] == "reload" and (removed["from"], removed["to"]) == (first, narrowed), removed
    assert removed["kept"] == "kept until reset" and removed["stage"] == 1
    assert incident["ended"]["how"] == "reset"
    runs = report["runner"]
    assert [(e["event"], e["holder"]) for e in runs["events"]] == [
        ("runner_started", "runner-a"), ("lease_taken", "runner-a"), ("policy_reloaded", None),
        ("runner_stopped", "runner-a"), ("runner_started", "runner-b"), ("lease_taken", "runner-b")], runs["events"]
    [gap] = runs["gaps"]
    assert gap["after"] == "runner-a stopped" and gap["until"] == "runner-b took the lease", gap
    assert (gap["from"], gap["to"], gap["seconds"]) == (iso(stopped_ms), iso(b_started_ms), 60.0), gap
    s = report["summary"]
    assert (s["runner_starts"], s["runner_stops"], s["leader_changes"], s["unguarded_gaps"]) == (2, 1, 2, 1)
    assert not set(report["other_events"]) & {"runner_started", "runner_stopped", "lease_taken", "lease_lost"}

    md = report_markdown(report)
    assert (f"- removed from the running policies by the reload at {iso(reloaded_ms)} (graph `{first}` → "
            f"`{narrowed}`): kept until reset at stage 1") in md, md
    assert "## Runner: starts, stops and leadership" in md
    # the reload that narrowed the policies, with what it removed: not only a count under Other audited events
    assert (f"| {iso(reloaded_ms)} | policy_reloaded | - | graph {first} → {narrowed}, revision not in git; removed "
            f"desk-guard {MAIN} (at stage 1, kept until reset) |") in md, md
    assert "policy_reloaded" not in report["other_events"]
    assert f"from {iso(stopped_ms)} (runner-a stopped) to " in md and "(runner-b took the lease)" in md, md
    assert "| runner | 2 start(s), 1 stop(s), 2 lease(s) taken; **1 gap(s) without a leader** (1m known) |" in md, md


def test_a_lease_lost_to_another_runner_is_audited_once_and_a_late_leader_leaves_a_gap(tmp_path):
    clock = ManualClock(T0)
    a = make(tmp_path, clock, "runner-a", lease_ttl_ms=30_000)
    started(a)
    ticks(a, 1, beat=True)
    clock.advance(31_000)  # a's lease runs out (its loop stalled): b takes it at its start
    b = make(tmp_path, clock, "runner-b", lease_ttl_ms=30_000)
    started(b)
    ticks(a, 2, beat=True)  # a learns it lost the lease: one lease_lost row, however many looks
    ticks(b, 2, beat=True)
    lost = audited(a, "lease_lost")
    assert [(p["holder"], p["standby"]) for p in lost] == [("runner-a", True)], lost
    assert [p["holder"] for p in audited(a, "lease_taken")] == ["runner-a", "runner-b"]
    stop(b)  # b stops; nobody takes the lease by the period's end
    stopped_ms = clock()
    clock.advance(30_000)
    report = closure_report(a.store, T0, clock(), clock())
    stop(a)
    runs = report["runner"]
    assert [(e["event"], e["holder"]) for e in runs["events"]] == [
        ("runner_started", "runner-a"), ("lease_taken", "runner-a"), ("runner_started", "runner-b"),
        ("lease_lost", "runner-a"), ("lease_taken", "runner-b"), ("runner_stopped", "runner-b")], runs["events"]
    # b took the lease before a said it lost it: no gap there; b's stop leaves one to the period's end
    [gap] = runs["gaps"]
    assert (gap["from"], gap["to"], gap["seconds"], gap["after"]) == (iso(stopped_ms), None, 30.0, "runner-b stopped")
    md = report_markdown(report)
    assert (f"- **30s**: from {iso(stopped_ms)} (runner-b stopped) to the period end (no runner took the lease by "
            "the period's end)") in md, md
