"""A blind policy says when it can act again, not only when it is armed again (issue 65): the
example ladder, blind on dd_15m and dd_1h, can fire on dd_15m once its window fills (12 min),
long before dd_1h's (48 min). One figure (the engine's ``Coverage.acts_from_ms``) in status,
the console and ``ksctl plan``; unknown said so."""

from __future__ import annotations

from types import SimpleNamespace

from killswitch.engine import coverage as cv
from killswitch.facts import standing, status_lines
from killswitch.preview.coverage import BlindTally
from killswitch.render.coverage import blind_lines
from killswitch.view import RunnerStatus
from killswitch.view.coverage import coverage_rows
from tests.unit.engine.coverage.test_armed import example_graph
from tests.unit.engine.coverage.test_partly import _ladder_at
from tests.unit.engine_helpers import MIN
from tests.unit.face.console.test_model import model, render, status, text_of


def test_a_blind_ladder_says_when_its_first_trigger_can_fire_before_it_is_armed_again():
    ev, c = _ladder_at(0)
    assert c.state == cv.BLIND and c.partly is None
    assert (c.acts_from_ms, c.until_ms) == (12 * MIN, 48 * MIN)  # dd_15m's window fills first
    assert c.acts_first == ("soft", "harder", "hard")
    # true: at that time the ladder can fire (partly blind), a tick before it cannot
    assert _ladder_at(12)[1].partly is not None and _ladder_at(11.9)[1].partly is None

    graph = example_graph()
    book = SimpleNamespace(evaluation=ev, graph=graph, node=lambda name: graph.policy(name))
    rows = [r for r in coverage_rows(book) if r.policy == "futures-book"]  # type: ignore[arg-type]
    assert rows and all((r.acts_from_ms, r.until_ms) == (12 * MIN, 48 * MIN) for r in rows)
    # status
    text = "\n".join(status_lines(standing(RunnerStatus("live", True, 1, "sha256:x", None, None, 0,
                                                              coverage=tuple(rows)))))
    assert ("can fire again at 1970-01-01T00:12:00Z (soft, harder, hard); armed again at 1970-01-01T00:48:00Z"
            in text), text
    assert "trigger soft: dd_15m: INSUFFICIENT_HISTORY" in text and "; can fire again at 1970-01-01T00:12:00Z" in text
    # the console: its cell and the banner
    page = text_of(render(model(status(coverage=tuple(rows)))))
    assert "can fire again at 00:12 UTC (" in page and "soft, harder, hard); armed again at 00:48 UTC" in page, page
    # ksctl plan
    tally = BlindTally(live=True)
    tally.saw(ev)
    plan = "\n".join(blind_lines(tally.spells(), "plan"))
    assert ("a trigger can fire again at 1970-01-01T00:12:00Z; armed at 1970-01-01T00:48:00Z if every tick reads"
            in plan), plan


def test_when_no_trigger_can_tell_when_it_fires_again_it_says_so():
    c = cv.Coverage(cv.BLIND, cv.MISSING_DATA, (cv.BlindTrigger("deep", cv.MISSING_DATA),))
    assert c.acts_from_ms is None and c.acts_first == ()
    assert cv.Coverage().acts_from_ms is None

