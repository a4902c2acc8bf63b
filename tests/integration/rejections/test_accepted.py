"""A refused close a person accepted, as the walk of issue 65 left it (M3, M5, M4, L12).

The hedge account's SOL short is closed by hand and the venue refuses it (-2022); alice accepts
it. The residual says who accepted it, when and why (status, the console's incident details, its
Residuals table) and the position stays on the first screen as accepted, not an error; a second
acceptance answers ALREADY_ACCEPTED with the first one's author, never that nothing stands; a
close preview of the leg says the venue refused it before and that it was accepted; the closure
report lists the position as left open at the period's end, with who accepted it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from killswitch.render.closes import close_plan_text
from killswitch.render.report import report_markdown
from killswitch.render.status import status_text
from killswitch.runbooks.report import closure_report
from killswitch.runbooks.sink import RunbookSink
from tests.integration.rejections.test_durable import ACCOUNT, LEGS, SAID, Venue, first_screen, go
from tests.integration.venue.test_truth_runner import NO_LOCKS, ticks
from tests.unit.face.console.test_model import render, text_of

SOL = "SOL/USDT:USDT"
RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"  # the repository's templates
WHY = "venue refuses reduce-only; desk closes by hand"


async def _refused_and_accepted(v: Venue) -> dict:
    a, desk, store = await v.runner("a")
    await a.start()
    await ticks(a, v.clock, 2)
    start = v.clock()
    preview = await desk.close(ACCOUNT, "flatten SOL by hand", dry_run=True, symbol=SOL)
    closed = await desk.close(ACCOUNT, "flatten SOL by hand", dry_run=False, symbol=SOL,
                              preview_id=preview.preview_id, actor="alice")
    assert closed.accepted, closed.reason
    await ticks(a, v.clock, 3)
    before_accept = await desk.close(ACCOUNT, "again?", dry_run=True, symbol=SOL)
    first = await desk.accept_rejection(ACCOUNT, WHY, symbol=SOL, actor="alice")
    await ticks(a, v.clock, 2)
    second = await desk.accept_rejection(ACCOUNT, WHY, symbol=SOL, actor="bob")
    after_accept = await desk.close(ACCOUNT, "again?", dry_run=True, symbol=SOL)
    console_preview = await desk.preview_close(ACCOUNT, SOL)
    screen = await first_screen(desk)
    incidents = await desk.incidents()
    report = closure_report(store, start, v.clock() + 1, v.clock())
    later = closure_report(store, v.clock(), v.clock() + 1, v.clock())  # a period after it was left open
    return {"later": later, "status": desk.status(), "first": first, "second": second, "screen": screen,
            "html": text_of(render(screen)), "incidents": incidents, "before": before_accept,
            "after": after_accept, "console_preview": console_preview, "report": report}


def test_an_accepted_refusal_stays_visible_with_who_accepted_it(tmp_path):
    out = go(_refused_and_accepted, tmp_path, f"sqlite://{tmp_path / 's.db'}")
    assert out["first"].done and out["first"].reason.startswith("CLOSE_REJECTION_ACCEPTED"), out["first"].reason
    # M3: the residual says who accepted it, when and why, in status, the console and the incident
    [res] = [r for r in out["status"].residuals if r.symbol == SOL]
    assert res.why == "CLOSE_REJECTED" and res.accepted is not None
    assert (res.accepted["by"], res.accepted["reason"]) == ("alice", WHY)
    text = status_text(out["status"], NO_LOCKS)
    line = next(x for x in text.splitlines() if x.strip().startswith("RESIDUAL") and SOL in x)
    assert "; accepted by alice at 2026-" in line and line.endswith(f": {WHY}"), line
    screen, html = out["screen"], out["html"]
    assert not screen["close_rejected"]  # not an error any more ...
    assert screen["standing"]["accepted"].line.startswith("by alice: SOL/USDT:USDT SHORT"), screen["standing"]
    assert "1 POSITION LEFT OPEN, ACCEPTED by alice" in html  # ... but still on the first screen
    [row] = [r for r in screen["residuals"] if r["symbol"] == SOL]
    assert row["accepted"].startswith("accepted by alice at 2026-") and row["accepted"].endswith(WHY)
    assert html.count("accepted by alice at ") >= 3, html  # the strip, the incident, the Residuals table
    [incident] = [i for i in out["incidents"] if i.kind == "manual_close"]
    assert [r.accepted["by"] for r in incident.residuals if r.symbol == SOL] == ["alice"]


def test_a_second_acceptance_says_who_accepted_it_never_that_nothing_stands(tmp_path):
    out = go(_refused_and_accepted, tmp_path, f"sqlite://{tmp_path / 's.db'}")
    second = out["second"]
    assert second.done and second.reason.startswith(
        f"ALREADY_ACCEPTED: {SOL} SHORT on {ACCOUNT} accepted by alice at 2026-"), second.reason
    assert WHY in second.reason and "UNKNOWN_REJECTION" not in second.reason and "standing" not in second.reason


def test_a_close_preview_of_a_refused_leg_says_so_and_whether_it_was_accepted(tmp_path):
    out = go(_refused_and_accepted, tmp_path, f"sqlite://{tmp_path / 's.db'}")
    before, after = out["before"], out["after"]
    assert before.accepted and after.accepted, (before.reason, after.reason)
    [note] = before.refused
    assert note.startswith(f"REFUSED_BEFORE: the venue refused 1 close(s) of {SOL} SHORT on {ACCOUNT}, the last at ")
    assert SAID in note and "incident manual/binanceusdm/sim-hedge/m" in note
    assert note.endswith("not accepted: it stands as CLOSE_REJECTED"), note
    [note] = after.refused
    assert "accepted by alice at 2026-" in note and note.endswith(WHY), note
    assert f"  ! {note}" in close_plan_text(ACCOUNT, after, live=False).splitlines()
    # the console's close dialog (POST /v1/preview/close) says the same among its effects
    assert note in out["console_preview"].effects, out["console_preview"].effects


def test_the_closure_report_lists_the_positions_left_open_at_the_periods_end(tmp_path):
    out = go(_refused_and_accepted, tmp_path, f"sqlite://{tmp_path / 's.db'}")
    report = out["report"]
    [left] = report["positions_left_open"]
    assert (left["account"], left["symbol"], left["leg"], left["why"]) == (ACCOUNT, SOL, "SHORT", "CLOSE_REJECTED")
    assert left["amount"] and SAID in left["detail"]
    assert (left["accepted"]["by"], left["accepted"]["reason"]) == ("alice", WHY)
    assert (report["summary"]["positions_left_open"], report["summary"]["positions_left_open_accepted"]) == (1, 1)
    md = report_markdown(report)
    assert "## Positions left open at the period's end" in md
    assert "| positions left open at the period's end | 1 (1 accepted by a person) |" in md
    # left open before the period and still open at its end: listed too
    assert [(x["symbol"], x["accepted"]["by"]) for x in out["later"]["positions_left_open"]] == [(SOL, "alice")]
    row = next(x for x in md.splitlines() if x.startswith(f"| {ACCOUNT} | {SOL} | SHORT |"))
    assert "CLOSE_REJECTED" in row and "alice at 2026-" in row and WHY in row, row


def test_a_reset_preview_under_a_firing_trigger_says_how_many_refused_legs_are_sent_again(tmp_path):
    async def case(v: Venue):
        a, desk, _ = await v.runner("a")
        await v.refused(a)  # leg-guard's flatten closes the whole book: the venue refuses every leg
        first = await desk.accept_rejection(ACCOUNT, WHY, symbol=SOL, actor="alice")
        assert first.done, first.reason
        return desk.preview_reset("leg-guard", ACCOUNT, "alice")

    preview = go(case, tmp_path, f"sqlite://{tmp_path / 's.db'}")
    assert preview.allowed, preview.reason
    entered, again = preview.relatch  # what ksctl reset shows before it asks to confirm
    assert entered.endswith("stage 1 flatten will be entered again at the next tick after the reset "
                            "if still firing then"), entered
    assert again.startswith(f"{len(LEGS)} leg(s) whose close the venue refused will be sent again when stage 1 "
                            "flatten is entered again (a new incident tries anew; 1 of them accepted by a person): "
                            f"BTC/USDT:USDT LONG on {ACCOUNT}, "), again
    assert again.endswith(f" and {len(LEGS) - 3} more"), again
    assert again in preview.effects


@pytest.mark.parametrize("templates", [None, RUNBOOKS], ids=["builtin", "runbooks-dir"])
def test_the_runbook_says_who_accepted_a_refused_close_and_offers_its_acceptance_no_more(tmp_path, templates):
    async def case(v: Venue):
        a, desk, store = await v.runner("a", RunbookSink(templates))
        await v.refused(a)  # leg-guard's flatten: the venue refuses every leg
        [record] = store.runbooks()
        before = record.markdown
        assert (await desk.accept_rejection(ACCOUNT, WHY, symbol=SOL, actor="alice")).done
        await ticks(a, v.clock, 1)
        return before, store.runbook(record.incident).markdown

    before, after = go(case, tmp_path, f"sqlite://{tmp_path / 's.db'}")
    accept = f"ksctl close-accept --account {ACCOUNT} --symbol {SOL} --leg SHORT"
    assert accept in before, before
    # rendered again at the acceptance: the leg says who accepted it, its command is gone
    assert accept not in after, after
    line = next(x for x in after.splitlines() if x.strip().startswith((f"- residual {ACCOUNT} {SOL} short",
                                                                        f"- {ACCOUNT} {SOL} SHORT: refused")))
    assert "not sent again" in line and "left open, accepted by alice at 2026-" in line and line.endswith(WHY), line
    assert "ksctl close-accept --account" in after  # the other legs still stand
