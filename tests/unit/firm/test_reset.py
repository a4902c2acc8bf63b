"""A firm-wide reset while its trigger still fires: the shard that takes the approval reads the
firm lease holder's view and refuses it unless confirmed (``RELATCH_UNCONFIRMED`` with the
warning), as a runner's own reset does; and the holder itself, whose trigger may have begun to
fire since the view, applies an unconfirmed reset only while nothing fires."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from killswitch.engine.evaluate import evaluate
from killswitch.firm.board import firm_view
from killswitch.firm.directives import RESET, UNLOCK, Directive
from killswitch.firm.facts import firm_snapshots
from killswitch.firmlink.firm import FirmLink
from killswitch.firmlink.resets import relatch_of, take_resets
from killswitch.policy.accounts_doc import Accounts
from killswitch.process.shard import shard_start

from .test_firm import LEASES, T0, FakeFirm, _all_facts, _compile, _firm

WARNING = ("deep was firing at the last tick (13:00:02 UTC: dd = 15% >= 10%): stage 1 halt will be entered again "
           "at the next tick after the reset if still firing then")


def _holder(equities, directives=()):
    """desk-a's firm link holding the firm lease, its firm state after ``equities`` (one a second)."""
    graph, accounts, assignment = _firm()
    res = _compile()
    spec = next(d.model for d in res.docs if isinstance(d.model, Accounts)).spec
    start = shard_start("desk-a", spec, "postgresql://firm")
    # the shard's ports it reads
    runner = SimpleNamespace(clock=lambda: T0, book=SimpleNamespace(take_firm_graph=lambda graph: None),
                             sinks=SimpleNamespace(holds=lambda *a: True), dry_run=False)
    said: list[str] = []
    link = FirmLink(runner, FakeFirm(list(directives)), start, "postgresql://firm", "a-0", 3_000, said.append,
                    said.append)
    link.graph = graph
    state = ev = reading = None
    for i, equity in enumerate(equities):
        now = T0 + i * 1_000
        reading = firm_snapshots(_all_facts(now, equity), LEASES, assignment, accounts, now, 1_500)
        ev, state = evaluate(graph, reading.snapshots, state, now)
    link.state, link.last_ev = state, ev
    return link, said, ev, reading


def _relatch(link: FirmLink) -> dict:
    """What the holder writes in its view: what a reset of each firm stage runs into now."""
    return relatch_of(link.graph, link.state, link.last_ev)


def test_the_holders_view_says_what_a_reset_of_each_firm_stage_runs_into():
    link, _, ev, reading = _holder((1_000_000.0, 1_000_000.0, 850_000.0))
    assert [(s.scope, s.stage_after) for s in ev.scopes] == [("global", 1)]
    assert _relatch(link) == {("firm-drawdown", "global"): (WARNING,)}
    view = firm_view(ev, reading, "a-0", link.graph.digest, T0, _relatch(link))
    assert view["policies"][0]["relatch"] == [WARNING]
    calm, _, ev2, reading2 = _holder((1_000_000.0, 1_000_000.0, 1_000_000.0))
    assert _relatch(calm) == {} and firm_view(ev2, reading2, "a-0", "d", T0, _relatch(calm))["policies"][0][
        "relatch"] == []


def test_a_firm_reset_sent_while_the_view_says_its_trigger_fires_is_refused_unless_confirmed():
    link, _, ev, reading = _holder((1_000_000.0, 1_000_000.0, 850_000.0))
    view = firm_view(ev, reading, "a-0", link.graph.digest, T0, _relatch(link))
    link.firm.firm_view = lambda: (view, T0)
    got = asyncio.run(link.route_reset("firm-drawdown", "global", "alice", "reviewed"))
    assert got is not None and not got.done and got.warnings == (WARNING,)
    assert got.reason.startswith("RELATCH_UNCONFIRMED: a trigger of firm-drawdown still fires on global")
    assert link.firm.directives == []  # nothing written for the holder
    assert asyncio.run(link.route_reset("not-firm", "global", "alice", "x")) is None  # a shard's own: not routed


def test_the_holder_applies_an_unconfirmed_reset_only_while_nothing_fires():
    unconfirmed = Directive(RESET, "global", {"policy": "firm-drawdown", "reason": "r"}, None, "alice", 1)
    confirmed = Directive(RESET, "global", {"policy": "firm-drawdown", "reason": "r", "confirm_relatch": True},
                          None, "bob", 2)
    link, said, _, _ = _holder((1_000_000.0, 1_000_000.0, 850_000.0), [unconfirmed, confirmed])
    got = asyncio.run(take_resets(link, T0 + 3_000))
    assert any(line.startswith("ksctl run: FIRM_RESET 1 firm-drawdown global: RELATCH_UNCONFIRMED") and
               line.endswith("approved by alice): not applied") for line in said), said
    assert [(d.kind, d.actor) for d in got] == [(UNLOCK, "bob")]  # the confirmed one releases the stage
    assert link.resets_after == 2
