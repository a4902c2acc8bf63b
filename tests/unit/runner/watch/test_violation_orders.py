"""Two bots' fills that grew one leg in one tick keep each its own client order id and strategy
(issue 65): the revert's violation names every bot's order, in status, the closure report and
the runbook, never the larger one's client id for both (the unknown bot is the one to hunt)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from killswitch.facts.violations import violation_lines
from killswitch.render.report import halt_break_lines
from killswitch.runbooks.halt_breaks import halt_breaks
from killswitch.runbooks.render import render_runbook
from killswitch.runbooks.sample import SAMPLE_TIME_MS, sample_incident
from killswitch.runbooks.templates import Templates
from killswitch.runner.watch.attribution import FillRead, attribute
from killswitch.sources import read_sources
from tests.conftest import POLICIES, ROOT
from tests.unit.engine_helpers import compile_graph

from .test_growth_attribution import fill, grown

T = SAMPLE_TIME_MS


@pytest.fixture(scope="module")
def incident() -> dict:
    graph = compile_graph(read_sources([str(POLICIES)]).files)
    return sample_incident(graph.policy("exchange-faults"), 1, digest="sha256:" + "5e" * 32, revision=None)


def test_two_bots_fills_keep_each_its_own_client_order_id_and_strategy(incident):
    v = attribute(grown(5.0, 5.8), FillRead((fill("bot-a-0001", 0.5, strategy="bot-a", oid="4626764238"),
                                              fill("x-rogue-1", 0.3, oid="4626764239"))))
    row = v.to_json()
    said = "bot-a-0001 (bot-a, id 4626764238) 0.5, x-rogue-1 (unknown, id 4626764239) 0.3"
    # status
    [_, line] = violation_lines({"total": 1, "recent": [{**row, "ts_ms": T, "dry_run": False, "outcome": None}]})
    assert f"orders {said} under halted" in line, line
    # the closure report
    [got] = halt_breaks([SimpleNamespace(seq=1, kind="lock_violation", ts_ms=T + 60_000, payload=row)], {}, [],
                        lambda _seq: True)["violations"]
    table = "\n".join(halt_break_lines({"violations": [got]}))
    assert f"| {said} |" in table, table
    # the runbook
    story = {"ended": None, "removed": None, "pages": {"delivered": [], "failed": [], "silenced": [], "handed": [],
                                                       "silences": []},
             "halt_breaks": {"violations": [{**got, "incident": incident["incident"]}], "trading": []}}
    md = render_runbook({**incident, "story": story}, Templates.load(ROOT / "runbooks")).markdown
    assert f"orders {said} under halted" in md, md.split("### What broke the halt")[1][:600]  # as status says it
    # as the audit row keeps them
    assert row["orders"] == [
        {"client_order_id": "bot-a-0001", "order_id": "4626764238", "strategy": "bot-a", "amount": 0.5},
        {"client_order_id": "x-rogue-1", "order_id": "4626764239", "strategy": "unknown", "amount": 0.3}]
