"""A partial reduction the venue refused (walk 7's M3): its residuals say the shortfall — what the
refused closes would have taken off — beside the leg they leave open, not the whole leg as if the
stage had meant to close it: in status, the console, the page and the runbook's data."""

from __future__ import annotations

from types import SimpleNamespace

from killswitch.events import CLOSE_RESIDUAL
from killswitch.notify.alerts import Alert
from killswitch.notify.message import headline
from killswitch.render.status import status_text
from killswitch.runbooks.incident import residual_docs
from tests.integration.rejections.test_durable import first_screen
from tests.integration.venue import test_truth_runner as truth
from tests.integration.venue.test_truth_runner import NO_LOCKS, run_case, ticks
from tests.unit.face.console.test_model import render, text_of

REDUCE = truth.POLICY.replace("actions: [close_all]", "actions: [{reduce_top_risk: {count: 3, fraction: 50%}}]")


def test_a_refused_partial_reduction_says_its_shortfall_beside_the_leg(tmp_path, monkeypatch):
    assert REDUCE != truth.POLICY
    monkeypatch.setattr(truth, "POLICY", REDUCE)

    async def scenario(runner, desk, srv, clock, rec):
        await ticks(runner, clock, 2)
        srv.engine.set_mark("SOLUSDT", 160.0)  # the SOL short loses 14 %: the stage halves the top three legs
        await ticks(runner, clock, 12)
        return desk.status(), rec.events, await first_screen(desk)

    status, events, screen = run_case(tmp_path, "sim-hedge", scenario,
                                      fault=lambda srv: srv.faults.add("place_order", "reject_reduce_only"))
    refused = [r for r in status.residuals if r.why == "CLOSE_REJECTED"]
    assert refused, status.residuals
    for r in refused:  # half of each leg was meant to go: the shortfall, not the whole leg
        assert r.shortfall is not None and abs(r.shortfall - r.amount / 2) <= r.amount * 0.01, r
    lines = [x for x in status_text(status, NO_LOCKS).splitlines() if x.strip().startswith("RESIDUAL")]
    assert lines and all("(shortfall " in x for x in lines), lines

    pages = [headline(Alert("fp", e.labels, e, e.ts_ms, e.ts_ms, False)) for e in events if e.kind == CLOSE_RESIDUAL]
    assert pages and set(pages) <= {x.strip() for x in lines}, (pages, lines)  # in the words status says them
    html = text_of(render(screen))
    assert "shortfall " in html
    # the runbook's residuals, from what the runner's book holds
    ctx = SimpleNamespace(residuals_of=lambda incident: [r for r in refused if r.incident == incident])
    docs = residual_docs(ctx, refused[0].incident)
    assert docs and all(d["short"].startswith("shortfall ") for d in docs), docs
