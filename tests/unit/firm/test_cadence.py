"""A shard's pace and the firm's floor: a shard ticks and publishes at the shortest interval of
its local and the firm-wide policies (none of its own included), one interval from one tick's
start to the next; a firm-wide policy whose interval is under the floor is refused (KS244 at its
interval; ``FIRM_INTERVAL_TOO_SHORT`` at a shard's start); a firm close of an account no local
policy has as an instance is planned under the firm policy; a leader's facts that came later
than the firm reads them for are said ``FIRM_FACTS_LATE``."""

from __future__ import annotations

import asyncio
import textwrap
from types import SimpleNamespace

import pytest

from killswitch.compile.graph import DecisionGraph, tick_interval_s
from killswitch.compile.shards import (
    FIRM_MIN_INTERVAL_MS,
    STALE_FACTOR,
    assign,
    firm_interval_refusals,
    local_graph,
    pace_s,
    split,
)
from killswitch.firm.directives import CLOSE_ALL, Directive
from killswitch.firmlink.apply import DirectiveApplier
from killswitch.policy.accounts_doc import Accounts
from killswitch.process.bootstrap import shard_ports
from killswitch.runner.tick.wakes import interval_wait_s

from .test_firm import ACCOUNTS, DRAWDOWN, FIRM, FakeFirm, _compile

LOCAL = textwrap.dedent("""\
    ---
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {{name: desk-a-age}}
    spec:
      scope: {{accounts: {{match_labels: {{desk: a}}}}}}
      interval: {interval}
      signals:
        age: {{data_age: {{}}}}
      triggers:
        ancient: {{when: "age > 1h", on_missing_data: hold}}
      stages:
        - {{level: 1, name: note, on: [ancient], actions: [{{lock_trading: {{mode: reducing}}}}]}}
    """)


def _split(text: str):
    from killswitch.compile.compiler import compile_documents
    from killswitch.policy.load import load_text

    res = compile_documents(load_text(text, "firm.yaml"))
    assert res.graph is not None, [d.message for d in res.errors]
    spec = next(d.model for d in res.docs if isinstance(d.model, Accounts)).spec
    return res.graph, split(res.graph, spec.accounts, assign(spec.accounts, spec.shards))


def _firm_text(interval: str = "1s") -> str:
    return FIRM.format(signal=DRAWDOWN, action="{lock_trading: {mode: halted}}").replace("interval: 1s",
                                                                                        f"interval: {interval}")


@pytest.mark.parametrize("local, firm, desk_a, desk_b", [
    (None, "1s", 1.0, 1.0),  # no local policy at all: the firm's interval, not the 5 s default
    ("5s", "2s", 2.0, 2.0),  # a local policy slower than the firm's: the firm's
    ("500ms", "2s", 0.5, 2.0),  # a local policy faster: its own (desk-b has none: the firm's)
])
def test_a_shard_ticks_at_the_shortest_of_its_local_and_the_firm_wide_policies_intervals(local, firm, desk_a,
                                                                                          desk_b):
    text = ACCOUNTS + _firm_text(firm) + (LOCAL.format(interval=local) if local else "")
    graph, got = _split(text)
    assert got.firm == ["firm-drawdown"]
    assert pace_s(graph, got.local["desk-a"], got.firm) == desk_a
    assert pace_s(graph, got.local["desk-b"], got.firm) == desk_b
    # what the runner ticks at: its own graph (the local policies) and the firm's intervals
    mine = local_graph(graph, got.local["desk-a"])
    assert tick_interval_s(mine, [p.interval_s for p in local_graph(graph, got.firm).policies]) == desk_a
    assert tick_interval_s(DecisionGraph.build([], None)) == 5.0  # no policy at all, no firm: as before


def test_a_shards_wait_counts_from_its_ticks_start_so_a_slow_tick_does_not_stretch_its_publishes():
    # a tick that started at 10.0 and ended at 10.7, paced at 1 s: the next starts at 11.0
    assert interval_wait_s(1.0, 10.0, 10.7, from_start=True) == pytest.approx(0.3)
    assert interval_wait_s(1.0, 10.0, 11.4, from_start=True) == 0.0  # longer than the pace: at once
    # a runner that is no shard waits the whole interval after its tick, as before
    assert interval_wait_s(1.0, 10.0, 10.7, from_start=False) == 1.0
    assert interval_wait_s(1.0, None, 10.7, from_start=True) == 1.0


def test_the_firms_floor_is_the_interval_that_leaves_half_an_interval_of_five_hundred_ms():
    assert STALE_FACTOR == 1.5 and FIRM_MIN_INTERVAL_MS == 1_000


@pytest.mark.parametrize("interval, refused", [("100ms", True), ("999ms", True), ("1s", False), ("5s", False)])
def test_a_firm_wide_interval_under_the_floor_is_refused_ks244_at_its_interval(interval, refused):
    res = _compile_text(ACCOUNTS + _firm_text(interval))
    found = [d for d in res.errors if d.code == "KS244"]
    if not refused:
        assert res.graph is not None and not found
        return
    assert res.graph is None and len(found) == 1, [(d.code, d.message) for d in res.errors]
    d = found[0]
    assert d.message.startswith(f"firm-wide policy firm-drawdown (its scope spans shards desk-a, desk-b): "
                                f"interval {interval} is under the firm-wide floor of 1s")
    line = next(i for i, x in enumerate((ACCOUNTS + _firm_text(interval)).splitlines(), 1)
                if x.strip().startswith("interval:"))
    assert d.pos is not None and (d.pos.line, d.pos.col) == (line, len("  interval: ") + 1)
    assert "give it an interval of 1s or more" in (d.hint or "")


def test_a_local_policy_under_the_floor_is_no_firm_policy_and_is_not_refused():
    res = _compile_text(ACCOUNTS + _firm_text("1s") + LOCAL.format(interval="200ms"))
    assert res.graph is not None, [(d.code, d.message) for d in res.errors]
    graph, got = _split(ACCOUNTS + _firm_text("1s") + LOCAL.format(interval="200ms"))
    assert firm_interval_refusals(graph, got.firm) == []


def _link(graph):
    """A shard's firm link (desk-a of the accounts document), its store never called here."""
    from killswitch.firmlink.firm import FirmLink
    from killswitch.process.shard import shard_start

    res = _compile_text(ACCOUNTS)
    spec = next(d.model for d in res.docs if isinstance(d.model, Accounts)).spec
    start = shard_start("desk-a", spec, "postgresql://firm")
    ports = SimpleNamespace(clock=lambda: 0, book=SimpleNamespace(take_firm_graph=lambda graph: None),
                            sinks=SimpleNamespace(holds=lambda e: True))
    link = FirmLink(ports, None, start, "postgresql://firm", "a-0", 3_000, lambda _: None, lambda _: None)
    return link, link.set_graph(graph)


def test_the_firm_link_gives_the_firm_wide_intervals_and_their_policies_at_account_level_or_refuses_the_floor():
    graph = _compile_text(_firm_text("2s")).graph  # (the policies alone: the runner compiles them so)
    assert graph is not None
    link, refused = _link(graph)
    assert refused == [] and link.intervals() == (2.0,)
    assert [(p.name, p.scope["level"]) for p in link.close_nodes()] == [("firm-drawdown", "account")]
    too_short = _compile_text(_firm_text("500ms")).graph
    assert too_short is not None
    refused = link.set_graph(too_short)
    assert len(refused) == 1 and refused[0].startswith(
        "FIRM_INTERVAL_TOO_SHORT: policy firm-drawdown: interval 500ms is under the firm-wide floor of 1s"), refused
    assert link.intervals() == (2.0,)  # refused: the firm-wide policies running are kept


def _compile_text(text: str):
    from killswitch.compile.compiler import compile_documents
    from killswitch.policy.load import load_text

    return compile_documents(load_text(text, "firm.yaml"))


def _shard_runner(tmp_path):
    """A shard's runner as the bootstrap builds it, over the simulated account (three positions),
    with no local policy."""
    from adapters.simulated.adapter import SimulatedAdapter
    from adapters.simulated.engine import ManualClock
    from adapters.simulated.scenarios import build
    from killswitch.process.bootstrap import build_runner_and_desk
    from killswitch.state import open_store
    from tests.unit.runner.operator.rig import ACCOUNT, T0

    tmp_path.mkdir(exist_ok=True)
    clock = ManualClock(T0)
    engine = build("calm", clock)
    adapter = SimulatedAdapter(engine, "sim-main", venue="simulated", labels={"book": "futures"}, timeout_s=2.0)
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    runner, desk, parts = build_runner_and_desk(DecisionGraph.build([], None), {ACCOUNT: adapter}, store,
                                         lock_path=tmp_path / "lock.json", dry_run=False, clock=clock, holder="a-0",
                                         shard="desk-a")
    return SimpleNamespace(runner=runner, desk=desk, parts=parts, store=store, clock=clock)


def _apply_close(w, also) -> tuple[str, list[str]]:
    """The firm's close of the shard's account, applied and then taken up by the next tick: its
    outcome, and the accounts of the orders journaled."""
    from tests.unit.runner.operator.rig import ACCOUNT

    close = Directive(CLOSE_ALL, "global", {"accounts": [ACCOUNT], "source": "policy", "policy": "firm-drawdown",
                                            "stage": 1, "reason": "FIRM_STAGE: stage=1 (halt)"},
                      "firm-drawdown/global/L1/e1", "firm", 1)
    firm = FakeFirm([close])
    # the firm link as the slot holds it on a shard: what a manual close may also name
    w.parts.firm.fill(SimpleNamespace(close_nodes=also, intervals=tuple), None)
    applier = DirectiveApplier(shard_ports(w.parts), firm, "desk-a", "ks_shard_desk_a", w.clock,
                               lambda _: None, lambda _: None)

    async def go():
        await w.runner.start()
        w.clock.advance(1_000)
        await w.runner.tick()
        await applier.start()
        await applier.apply_new()
        w.clock.advance(1_000)
        await w.runner.tick()  # the queued close: planned and sent
        return [e.account for e in w.store.journal(limit=100)]

    journal = asyncio.run(asyncio.wait_for(go(), 30))
    w.store.close()
    return firm.outcomes[1], journal


def test_a_shard_with_no_local_policy_plans_the_firms_close_of_its_account_under_the_firm_policy(tmp_path):
    from tests.unit.runner.operator.rig import ACCOUNT

    # as before: no policy instance names the account, the firm's close is refused there
    outcome, journal = _apply_close(_shard_runner(tmp_path / "before"), tuple)
    assert outcome == f"{ACCOUNT}: UNKNOWN_SCOPE: no policy instance named '{ACCOUNT}' in the last snapshots"
    assert journal == []
    # under the firm policy at account level (the shard's firm link gives it): planned, sent, journaled
    link, refused = _link(_compile().graph)
    assert refused == []
    outcome, journal = _apply_close(_shard_runner(tmp_path / "after"), link.close_nodes)
    assert outcome.startswith(f"{ACCOUNT}: QUEUED: close of {ACCOUNT} at the next tick (3 order(s) now"), outcome
    assert journal == ["sim-main"] * 3


def test_a_leaders_facts_later_than_the_firm_reads_them_for_are_said_once_a_run_and_counted():
    from killswitch.firmlink.publish import FactsPublisher

    class Store:
        def publish_facts(self, schema, fence, facts):
            return len(facts)

    graph = _compile().graph
    assert graph is not None
    said: list[str] = []
    shard = SimpleNamespace(name="desk-a", schema="ks_shard_desk_a")
    out = FactsPublisher(SimpleNamespace(snapshots={}), Store(), shard, said.append, said.append)
    report = SimpleNamespace(evaluation=None, fence=1, started_ns=10**18, ended_ns=10**18 + 1_200_000_000)

    async def at(*times: int) -> None:
        for t in times:
            await out.publish(report, t, graph)

    asyncio.run(at(0, 1_000, 2_500))  # 1.5 s apart: read for 1.5 s (1 s interval), in time
    assert out.late == 0 and said == []
    asyncio.run(at(4_100, 5_700))  # 1.6 s apart, twice: said once, counted twice
    assert out.late == 2 and len(said) == 1
    assert said[0].startswith("ksctl run: FIRM_FACTS_LATE: shard desk-a published its facts 1.60s after its last "
                              "ones, over the 1.5s the firm lease holder reads them for"), said
    assert "(the firm-wide policies' interval 1s; this tick took 1.20s)" in said[0]
    asyncio.run(at(6_700))
    assert said[1] == "ksctl run: shard desk-a's facts on time again (1.00s apart)"
    out.stopped()  # a standby, then leading again: the first publish starts a new run
    asyncio.run(at(60_000))
    assert out.late == 2 and len(said) == 2
