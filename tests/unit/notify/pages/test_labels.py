"""Every page carries the labels its scope implies (venue, account, strategy, symbol), so that the
example routes' venue route (``match_re: {venue: "binance.*"}``) takes the page of a venue-level
scope, and ``ksctl routes test`` shows the labels a page will carry."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.events import MANUAL_CLOSE, SCOPE_BLIND, STAGE_TRANSITION, Event, scope_labels
from killswitch.notify.dispatch import placements
from killswitch.notify.explain import explain
from killswitch.notify.routes import trees_of
from killswitch.policy.load import load_sources
from killswitch.runner.names import Catalog
from killswitch.runner.sinks.entries import transition_event

ROOT = Path(__file__).resolve().parents[4]


def example(level: str = "venue"):
    """The example repository, exchange-faults kept at ``level``: (graph, routes trees)."""
    sources = []
    for p in sorted((ROOT / "policies").glob("*.yaml")):
        text = p.read_text()
        if p.name == "exchange-faults.yaml":
            assert "scope: {level: account}" in text
            text = text.replace("scope: {level: account}", f"scope: {{level: {level}}}")
        sources.append((str(p), text))
    result = compile_documents(load_sources(sources))
    assert result.graph is not None, [str(d) for d in result.diagnostics if d.is_error]
    return result.graph, trees_of(result.docs)


def _entry(policy: str, scope: str, level: int = 1):
    t = SimpleNamespace(from_level=0, to_level=level, reason="stale_data", decision_id=f"{policy}/{scope}/L{level}/e1")
    return SimpleNamespace(transition=t, policy=policy, scope=scope, signals=[], triggers=[], plan=None)


@pytest.mark.parametrize("level, scope, want", [
    ("global", "global", {}),
    ("venue", "binanceusdm", {"venue": "binanceusdm"}),
    ("account", "binanceusdm/main", {"venue": "binanceusdm", "account": "binanceusdm/main"}),
    ("strategy", "bot-a", {"strategy": "bot-a"}),
    ("symbol", "BTC/USDT:USDT", {"symbol": "BTC/USDT:USDT"}),  # a symbol's "/" names no venue
    (None, "binanceusdm/main", {}),
])
def test_a_scope_implies_the_labels_of_its_level(level, scope, want):
    assert scope_labels(level, scope) == want


def test_the_stage_entry_of_a_venue_scope_carries_its_venue_and_reaches_the_venue_route():
    graph, trees = example("venue")
    e = transition_event(_entry("exchange-faults", "binanceusdm"), graph, 0, False)
    assert e.labels["venue"] == "binanceusdm" and "account" not in e.labels
    answer = explain(dict(e.labels), trees, graph)
    receivers = [m["receiver"] for d in answer["documents"] for m in d["matches"]]
    assert receivers == ["pager", "desk-chat"]  # the critical route continues into the venue route


def test_a_symbol_scope_is_not_taken_for_a_venue():
    graph, _ = example("symbol")
    e = transition_event(_entry("exchange-faults", "BTC/USDT:USDT"), graph, 0, False)
    assert e.labels["symbol"] == "BTC/USDT:USDT" and "venue" not in e.labels


def test_routes_test_shows_the_labels_a_page_of_the_scope_carries():
    graph, trees = example("venue")
    given = {"event": SCOPE_BLIND, "policy": "exchange-faults", "scope": "binanceusdm", "severity": "warning"}
    answer = explain(given, trees, graph)
    doc = answer["documents"][0]
    assert doc["labels"]["venue"] == "binanceusdm"
    assert [m["receiver"] for m in doc["matches"]] == ["desk-chat"]


def test_every_event_of_a_policy_carries_its_scope_labels_through_the_placements():
    graph, trees = example("account")
    blind = Event.make(SCOPE_BLIND, 0, {}, policy="exchange-faults", scope="binanceusdm/main", reason="NO_DATA")
    (p,) = placements(blind.labels, graph, trees)
    assert p.labels["venue"] == "binanceusdm" and p.labels["account"] == "binanceusdm/main"
    given = Event.make(STAGE_TRANSITION, 0, {}, policy="exchange-faults", scope="binanceusdm/main", level=1,
                       venue="other")
    (p,) = placements(given.labels, graph, trees)
    assert p.labels["venue"] == "other"  # what the event says is kept


def test_a_manual_close_is_labelled_by_what_its_scope_names_in_the_catalog():
    cat = Catalog(accounts=frozenset({"binanceusdm/main"}), strategies=frozenset({"bot-a"}))
    assert cat.labels_of("binanceusdm") == {"venue": "binanceusdm"}
    assert cat.labels_of("binanceusdm/main") == {"venue": "binanceusdm", "account": "binanceusdm/main"}
    assert cat.labels_of("bot-a") == {"strategy": "bot-a"}
    assert cat.labels_of("global") == {}
    e = Event.make(MANUAL_CLOSE, 0, {}, **{**cat.labels_of("binanceusdm"), "scope": "binanceusdm"})
    assert e.labels["venue"] == "binanceusdm"
