"""A firm-wide stage entry told through a shard runner's sinks gets its runbook: the runbook
sink finds the firm policy in the firm graph the shard's firm link evaluates, not only in the
shard's own graph (where it is not: the sink failed with StopIteration before)."""

from __future__ import annotations

import asyncio
import textwrap

from killswitch.events import STAGE_TRANSITION, Event
from killswitch.process.bootstrap import build_runner_and_desk
from killswitch.runbooks.sink import RunbookSink
from killswitch.state import open_store
from tests.unit.engine_helpers import compile_graph

T0 = 1_772_456_400_000

LOCAL = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: desk-local}
    spec:
      scope: {level: account}
      signals: {dd: {equity_drawdown: {window: 10m}}}
      triggers: {hard: {when: "dd >= 4%", on_missing_data: hold}}
      stages:
        - {level: 3, name: flatten, on: [hard], reset: manual, actions: [close_all]}
    """)
FIRM = LOCAL.replace("desk-local", "firm-breaker").replace("level: account", "level: global")


def test_a_firm_entry_told_through_a_shard_runner_gets_its_runbook(tmp_path):
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    sink = RunbookSink(None)
    runner, _, parts = build_runner_and_desk(compile_graph(LOCAL, "local.yaml"), {}, store, sinks=[sink], dry_run=False,
            clock=lambda: T0)
    firm = compile_graph(FIRM, "firm.yaml")
    parts.book.take_firm_graph(firm)  # as the shard's firm link does
    incident = "firm-breaker/global/L3/e1"
    event = Event.make(STAGE_TRANSITION, T0, {
        "from": 0, "to": 3, "reason": "ESCALATED: stage=0->3 triggers=hard", "incident": incident,
        "decision_id": incident, "graph_digest": firm.digest, "revision": None, "signals": [], "triggers": ["hard"],
        "orders": 0}, policy="firm-breaker", scope="global", level=3, stage="flatten")

    async def go():
        assert await parts.lead.lease(T0)
        runner.emit(event)

    asyncio.run(go())
    assert parts.fanout.errors == 0
    record = store.runbook(incident)
    assert record is not None and "firm-breaker" in record.markdown
    assert sink.holds(event)
    store.close()
