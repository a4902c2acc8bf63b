"""Partly blind: a blind trigger says which of its known signals it can still fire on, and a
policy blind on one signal but able to fire on another says so — in the engine's coverage, the
status, the log line, ``ksctl status`` and the page — rather than "cannot act" beside a policy
that just acted on its other signal."""

from __future__ import annotations

import logging

import pytest

from killswitch.engine import coverage as cv
from killswitch.engine.reach import fires_on
from killswitch.events import SCOPE_BLIND, Event
from killswitch.facts import standing, status_lines
from killswitch.notify.alerts import Alert
from killswitch.notify.message import headline
from killswitch.policy.expr.parse import parse
from killswitch.runner.sinks.coverage import BlindReports, log_changes
from killswitch.view import BlindTrigger, CoverageStatus, RunnerStatus
from tests.unit.engine.coverage.test_armed import example_graph, futures
from tests.unit.engine_helpers import MIN, SEC, only, run


@pytest.mark.parametrize("condition, unknown, expected", [
    ("a >= 1 || b >= 2", {"b"}, ("a",)),
    ("a >= 1 || b >= 2", set(), ("a", "b")),
    ("a >= 1 && b >= 2", {"b"}, ()),  # false && unknown can be false, never true
    ("a >= 1", {"a"}, ()),
    ("!(a >= 1 && b >= 2)", {"b"}, ("a",)),  # true as soon as a < 1
    ("!(a >= 1 || b >= 2)", {"b"}, ()),
    ("(a >= 1 && c >= 1) || b >= 2", {"c"}, ("b",)),
    ("(a >= 1 && c >= 1) || b >= 2", {"b"}, ("a", "c")),
    ("(a >= 1) == (b >= 1)", {"b"}, ()),  # a comparison of conditions is taken whole
    ("a >= 1 || b >= 2 || a >= 3", {"b"}, ("a",)),
])
def test_a_blind_condition_can_still_fire_through_its_known_signals_only_where_kleene_allows(
        condition, unknown, expected):
    assert fires_on(parse(condition), unknown) == expected


def test_fires_on_agrees_with_the_evaluated_condition():
    # whatever fires_on names, some values of those signals make the condition true with the
    # unknown ones missing; and nothing makes it true when it names none
    from killswitch.policy.expr.eval import compile_predicate

    for text in ("a >= 1 || b >= 2", "a >= 1 && b >= 2", "!(a >= 1 && b >= 2)", "!(a >= 1 || b >= 2)",
                 "(a >= 1 && c >= 1) || b >= 2"):
        pred = compile_predicate(parse(text))
        for unknown in ({"a"}, {"b"}, {"c"}, {"a", "b"}):
            names = [n for n in ("a", "b", "c") if n not in unknown]
            seen = set()
            for bits in range(2 ** len(names)):
                values = {n: (5.0 if bits >> i & 1 else 0.0) for i, n in enumerate(names)}
                values.update({n: None for n in unknown})
                seen.add(pred(values))
            assert (True in seen) == bool(fires_on(parse(text), unknown)), (text, unknown)


def _ladder_at(minutes: float):
    g = example_graph()
    ticks = [(t, [futures(t)]) for t in range(0, int(minutes * MIN) + 1, 5 * SEC)]
    evs, _ = run(g, ticks)
    return evs[-1], only(evs[-1], policy="futures-book").coverage


def test_the_example_ladder_is_blind_then_partly_blind_once_its_short_window_fills():
    _, first = _ladder_at(0)
    assert first.state == cv.BLIND and first.partly is None  # neither window yet: it cannot act
    assert all(t.fires_on == () for t in first.triggers)
    ev, c = _ladder_at(12.5)  # dd_15m needs 80% of 15 minutes, dd_1h 80% of an hour
    assert c.state == cv.BLIND and c.reason == cv.INSUFFICIENT_HISTORY  # still blind on dd_1h
    assert {t.trigger: t.fires_on for t in c.triggers} == {"soft": ("dd_15m",), "harder": ("dd_15m",),
                                                          "hard": ("dd_15m",)}
    assert c.partly == "partly blind: dd_1h unknown; soft, harder and hard can still fire on dd_15m"


def test_partly_blind_names_the_armed_triggers_and_those_that_cannot_fire():
    c = cv.Coverage(cv.BLIND, cv.MISSING_DATA, (
        cv.BlindTrigger("deep", cv.MISSING_DATA, fires_on=()),
        cv.BlindTrigger("soft", cv.STALE_DATA, stale=("dd",), fires_on=("bots",))), armed_triggers=("silent",))
    assert c.partly == ("partly blind: dd read from stale data; soft can still fire on bots; silent is armed; "
                        "deep cannot fire")
    assert cv.Coverage(cv.BLIND, cv.MISSING_DATA, (cv.BlindTrigger("deep", cv.MISSING_DATA),)).partly is None
    assert cv.Coverage().partly is None


def test_status_log_page_and_ksctl_status_say_partly_blind(caplog):
    ev, c = _ladder_at(12.5)
    with caplog.at_level(logging.WARNING, logger="killswitch.runner"):
        log_changes(ev, everything=True)
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("SCOPE_BLIND: futures-book"))
    assert "partly blind: dd_1h unknown; soft, harder and hard can still fire on dd_15m" in line
    assert "cannot act" not in line
    (blind,) = [e for e in BlindReports().events(ev, ev.now_ms)
                if e.kind == SCOPE_BLIND and e.labels["policy"] == "futures-book"]
    said = headline(Alert("fp", blind.labels, blind, 1, 1, False))
    assert said.endswith("partly blind: dd_1h unknown; soft, harder and hard can still fire on dd_15m "
                         "(INSUFFICIENT_HISTORY)"), said
    fully = Event.make(SCOPE_BLIND, 0, {"triggers": "deep"}, policy="p", scope="s", reason="MISSING_DATA")
    assert "BLIND, cannot act" in headline(Alert("fp", fully.labels, fully, 1, 1, False))
    row = CoverageStatus("futures-book", "binanceusdm/main", "blind", "INSUFFICIENT_HISTORY", c.detail, 0,
                         c.until_ms, None, (BlindTrigger("soft", "INSUFFICIENT_HISTORY", "dd_1h: ...", None,
                                                         ("dd_15m",)),), c.partly)
    st = RunnerStatus("live", True, 1, "sha256:x", None, None, 0, coverage=(row,))
    text = "\n".join(status_lines(standing(st)))
    assert "      partly blind: dd_1h unknown; soft, harder and hard can still fire on dd_15m" in text
    assert "trigger soft: dd_1h: ...; can still fire on dd_15m" in text
