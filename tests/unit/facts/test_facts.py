"""The standing facts (killswitch/facts/): one module each, found by discovery in rank order,
each with its record, sentence and console line; the status document carries them as one list
that decodes back whole, and a status without the list is read from its fields."""

from __future__ import annotations

import json
import types

import pytest

import killswitch.facts as facts
from killswitch.facts import SEVERITIES, Fact, kind_of, modules, of, standing, status_lines
from killswitch.render.status import status_json, status_text
from killswitch.view import ReceiverFailure, ResidualStatus, RunnerStatus, StillOpenStatus, decode
from tests.unit.cli.test_loud_status import UNLOCKED

T = 1_772_456_400_000
OPEN = StillOpenStatus("binanceusdm/main", "o-1", "BTC/USDT:USDT", "sell", 0.5, "ORDER_STILL_OPEN: still listed",
                       "LOCK_VIOLATION", "book/binanceusdm/main/L3/e1", "book", "binanceusdm/main", T, T)


def status(**kw) -> RunnerStatus:
    return RunnerStatus("live", True, 3, "sha256:" + "0" * 64, None, None, T, **kw)


def test_every_module_has_a_rank_its_facts_and_its_line():
    ranks = [m.RANK for m in modules()]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    for m in modules():
        title = getattr(m, "TITLE", ())
        assert callable(m.facts) and (callable(getattr(m, "shown", None)) or isinstance(title, str)
                                      or len(title) == 3), m.__name__


def test_a_title_said_as_it_is_is_not_counted():
    mode = Fact("modes", "error", "binanceusdm/main", T, "", "", label="binanceusdm/main")
    assert facts.shown("modes", [mode, Fact("modes", "error", "okx/main", T, "", "", label="okx/main")],
                       lambda ms: None) == facts.Line("POSITION MODE",
                                                      "closes follow the venue's mode: binanceusdm/main, okx/main")
    drift = Fact("drift", "error", "policies", T, "", "", label="BEHIND rev 1a2b3c4d5e6f (origin/main), checked by ci")
    assert facts.shown("drift", [drift], lambda ms: None) == facts.Line(
        "POLICY DRIFT", "BEHIND rev 1a2b3c4d5e6f (origin/main), checked by ci")


def test_a_calm_runner_has_no_fact():
    assert standing(status()) == () and status_lines(()) == []


def test_a_fact_says_what_it_stands_on_since_when_what_ends_it_and_its_sentence():
    [fact] = standing(status(still_open=(OPEN,)))
    assert (fact.kind, fact.severity, fact.scope, fact.since_ms) == ("still_open", "error", "binanceusdm/main", T)
    assert fact.ends and fact.severity in SEVERITIES
    assert fact.text == ("STILL OPEN binanceusdm/main BTC/USDT:USDT sell 0.5 order o-1: ORDER_STILL_OPEN: still "
                         "listed; incident book/binanceusdm/main/L3/e1")
    assert status_lines([fact]) == ["  " + fact.text]


def test_the_status_document_carries_the_facts_and_they_decode_back_whole():
    st = status(still_open=(OPEN,), pages_failing=(ReceiverFailure("desk", "pager", "HTTP 401", T, 2),))
    carried = RunnerStatus(**{**st.__dict__, "facts": standing(st)})
    doc = json.loads(status_json(carried, UNLOCKED))
    assert [f["kind"] for f in doc["facts"]] == ["still_open", "pages"]
    doc.pop("lock")
    back = decode(RunnerStatus, doc)
    assert back == carried and of(back) == carried.facts
    assert of(st) == carried.facts  # a status without the list: read from its fields
    # ksctl status prints the list it is given, not its own reading of the fields
    said = Fact("still_open", "error", "binanceusdm/main", T, "", "STILL OPEN as the runner said it")
    text = status_text(RunnerStatus(**{**st.__dict__, "facts": (said,)}), UNLOCKED)
    assert "  STILL OPEN as the runner said it" in text.splitlines() and "o-1" not in text


def test_a_line_that_says_several_facts_is_printed_once():
    st = status(pages_failing=(ReceiverFailure("desk", "pager", "HTTP 401", T, 2),
                               ReceiverFailure("desk", "chat", "timeout", T, 1)))
    fs = standing(st)
    assert [f.scope for f in fs] == ["desk/pager", "desk/chat"]
    assert status_lines(fs) == ["Pages are failing since 13:00:00Z: desk/pager: HTTP 401 (2 failed rounds), no "
                                "fallback receiver has delivered its pages; desk/chat: timeout, no fallback receiver "
                                "has delivered its pages"]


def test_two_modules_of_one_rank_are_refused(monkeypatch):
    twin = types.ModuleType("killswitch.facts.twin")
    twin.RANK = 10  # type: ignore[attr-defined]
    real = facts.importlib.import_module

    def importing(name, *a):
        return twin if name.endswith(".twin") else real(name, *a)

    infos = list(facts.pkgutil.iter_modules(facts.__path__))
    monkeypatch.setattr(facts.pkgutil, "iter_modules", lambda path: infos + [types.SimpleNamespace(name="twin")])
    monkeypatch.setattr(facts.importlib, "import_module", importing)
    modules.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="two standing facts share a rank"):
            modules()
    finally:
        monkeypatch.undo()
        modules.cache_clear()
    assert "twin" not in [kind_of(m.__name__) for m in modules()]


def test_a_page_says_a_fact_in_the_words_ksctl_status_prints():
    """The page of an order still open, a position left open, a position mode read apart and a
    failed reload is the fact's own sentence, not a second phrasing of it."""
    from killswitch import events as ev
    from killswitch.notify.message import headline

    reason = "POSITION_MODE_MISMATCH: declared one-way, the venue reads hedge (positionSide)"
    error = "KS104: nope\n  hint: a hint"  # a page's title is its first line; its body says the rest
    modes = {"binanceusdm/main": {"mismatch": True, "reason": reason, "read_ms": T}}
    left = ResidualStatus("book/binanceusdm/main/L3/e1", "book", "binanceusdm/main", "binanceusdm/main", "ETH/USDT",
                          "long", "LONG", 30.0, "CLOSE_REJECTED", "-2022 ReduceOnly", T, T, shortfall=15.0)
    st = RunnerStatus(**{**status(still_open=(OPEN,), position_modes=modes, residuals=(left,)).__dict__,
                         "policy_error": error})
    said = {f.kind: f.text for f in standing(st)}
    pages = {"still_open": ev.Event.make(ev.ORDER_STILL_OPEN, T, {**vars(OPEN)}, account=OPEN.account),
             "modes": ev.Event.make(ev.POSITION_MODE_MISMATCH, T, {"detail": reason}, account="binanceusdm/main"),
             "reload": ev.Event.make(ev.POLICY_RELOAD_FAILED, T, {"error": error}),
             "residuals": ev.Event.make(ev.CLOSE_RESIDUAL, T, vars(left), account=left.account)}
    for kind, e in pages.items():
        assert headline(types.SimpleNamespace(labels=e.labels, event=e)) == said[kind].split("\n")[0], kind


def test_a_stream_whose_venue_refused_pairs_prices_names_them_on_its_line():
    # the venue refused some held pairs' price subscriptions (STREAM_MARKS_REFUSED): valued from
    # REST each snapshot; the console's line names them (they were on ksctl status alone)
    refused = {"state": "live", "reason": "STREAM_MARKS_REFUSED", "degraded": True, "since_ms": T,
               "unstreamed": ["A/USDT", "B/USDT", "C/USDT", "D/USDT"]}
    [fact] = standing(status(streams={"mexc/spot": refused}))
    assert (fact.kind, fact.severity, fact.data["unstreamed"]) == ("streams", "blind", refused["unstreamed"])
    assert "every held pair's price streamed" in fact.ends
    line = facts.shown("streams", [fact], lambda ms: None)
    assert line is not None and line.line == ("polled over REST: mexc/spot (A/USDT, B/USDT, C/USDT and 1 more "
                                              "priced from REST)")
    assert line.title == "1 STREAM DEGRADED"
    [plain] = standing(status(streams={"okx/a": {"state": "down", "degraded": True, "since_ms": T}}))
    assert plain.label == "okx/a" and "price" not in plain.ends
