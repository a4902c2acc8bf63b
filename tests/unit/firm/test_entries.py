"""A firm-wide stage transition owed its effects (killswitch/firmlink/entries.py): the firm
lease holder (a real FirmLink on a real firm store in PostgreSQL, its shard runner's sinks a fake that
records what it is told) writes exactly one ``stage_transition`` row in the firm's audit chain;
a holder that stops between its commit and the row or the event leaves the transition owed in
the firm state, and the runner that takes the firm lease writes the row once (completed by it)
and tells the event again, ``resumed``; an owed transition audited and held by the sinks is let
go at the next commit."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from killswitch.events import STAGE_TRANSITION
from killswitch.firm.facts import Fact
from killswitch.firmlink.firm import FirmLink
from killswitch.policy.accounts_doc import Accounts
from killswitch.process.shard import shard_start
from killswitch.state import open_store
from killswitch.state.firm import open_firm, shard_schema

from .test_firm import T0, _compile

FIRST, SECOND = "a-0", "b-0"  # the holder that enters the stage, the one that takes the firm lease after it


class Crash(BaseException):
    """A stop no handler catches (as SIGKILL leaves the process)."""


class FakeSinks:
    """The shard's sinks as the firm link is handed them: emit, and whether they hold an event."""

    def __init__(self) -> None:
        self.emitted: list = []
        self.held: set[str] = set()  # the incidents every holding sink holds
        self.crash_on_emit = False

    def emit(self, event) -> None:
        if self.crash_on_emit:
            raise Crash("stopped before the event was told")
        self.emitted.append(event)

    def holds(self, event) -> bool:
        return event.data.get("incident") in self.held


def _ports(now: list[int], sinks: FakeSinks) -> SimpleNamespace:
    """What FirmLink uses of its shard runner's parts: the clock, the book, the sinks."""
    return SimpleNamespace(clock=lambda: now[0], book=SimpleNamespace(take_firm_graph=lambda graph: None),
                           dry_run=False, sinks=sinks)


@pytest.fixture
def firm_world(pg_database):
    """The firm's store and both shards' leases on the test's database; a factory of firm links."""
    res = _compile(action="{lock_trading: {mode: halted}}")
    assert res.graph is not None, [d.message for d in res.errors]
    spec = next(d.model for d in res.docs if isinstance(d.model, Accounts)).spec
    opened = [open_firm(pg_database)]
    shards = {name: open_store(pg_database, schema=shard_schema(name)) for name in ("desk-a", "desk-b")}
    opened += shards.values()
    fences = {name: s.acquire_lease(f"{name}-leader", 10**9, T0) for name, s in shards.items()}
    now = [T0]

    def link(holder: str) -> tuple[FirmLink, FakeSinks]:
        firm = open_firm(pg_database, migrate=False)
        opened.append(firm)
        sinks = FakeSinks()
        got = FirmLink(_ports(now, sinks), firm, shard_start("desk-a", spec, pg_database), pg_database, holder, 3_000,
                       lambda _: None, lambda _: None)
        assert got.set_graph(res.graph) == []
        return got, sinks

    def tick(lk: FirmLink, at: int, equity: float) -> None:
        """Both shards' facts published at ``at``, then the firm step of ``lk``'s runner."""
        now[0] = at
        for shard, account, venue in (("desk-a", "a1", "binanceusdm"), ("desk-b", "b1", "binanceusdm"),
                                      ("desk-b", "b2", "okx")):
            fact = Fact(shard, venue, account, at - 50, at, equity, 0.0, 0.0, 0.0, 50, True, None, True, fences[shard])
            assert opened[0].publish_facts(shard_schema(shard), fences[shard], [fact]) == 1
        asyncio.run(lk._firm_lease(at))

    yield SimpleNamespace(firm=opened[0], link=link, tick=tick)
    for s in opened:
        s.close()


def _rows(firm) -> list:
    return firm.audit_rows(kinds=["stage_transition"])


def _enter(world, lk: FirmLink) -> int:
    """Three evaluations, the last a 15% drawdown of the firm: the stage entered at the last; its time."""
    for i, equity in enumerate((1_000_000.0, 1_000_000.0, 850_000.0)):
        world.tick(lk, T0 + i * 1_000, equity)
    return T0 + 2_000


def test_a_firm_stage_entry_writes_one_stage_transition_row_in_the_firm_chain(firm_world):
    lk, sinks = firm_world.link(FIRST)
    at = _enter(firm_world, lk)
    (row,) = _rows(firm_world.firm)
    p = row.payload
    assert (row.ts_ms, p["policy"], p["scope"], p["from"], p["to"], p["firm"]) == \
        (at, "firm-drawdown", "global", 0, 1, True)
    assert p["decision_id"] == "firm-drawdown/global/L1/e1" and "completed_by" not in p
    (event,) = [e for e in sinks.emitted if e.kind == STAGE_TRANSITION]
    assert event.data["incident"] == p["decision_id"] and "resumed" not in event.data
    owed = firm_world.firm.load_engine_state()["owed"]
    assert list(owed) == [p["decision_id"]] and owed[p["decision_id"]]["audited"] is False  # (as committed)
    firm_world.tick(lk, at + 1_000, 850_000.0)  # the stage held: no transition, no row again
    assert len(_rows(firm_world.firm)) == 1
    assert firm_world.firm.load_engine_state()["owed"][p["decision_id"]]["audited"] is True


@pytest.mark.parametrize("stop", ["audit", "emit"])
def test_a_holder_stopped_after_its_commit_leaves_the_entry_to_the_next_holder_audited_once_and_told(
        firm_world, stop):
    lk, sinks = firm_world.link(FIRST)
    for i, equity in enumerate((1_000_000.0, 1_000_000.0)):
        firm_world.tick(lk, T0 + i * 1_000, equity)

    def crash(*args, **kwargs):
        raise Crash("stopped before the audit row")

    if stop == "audit":
        lk.firm.audit_many = crash  # the instance's: committed, then stopped before the row
    else:
        sinks.crash_on_emit = True  # the row written, then stopped before the event was told
    with pytest.raises(Crash):
        firm_world.tick(lk, T0 + 2_000, 850_000.0)
    assert sinks.emitted == []
    did = "firm-drawdown/global/L1/e1"
    assert did in firm_world.firm.load_engine_state()["owed"]  # committed with the stage change
    assert len(_rows(firm_world.firm)) == (0 if stop == "audit" else 1)
    # the first holder's firm lease runs out (3 s); another shard's leader takes it
    other, told = firm_world.link(SECOND)
    firm_world.tick(other, T0 + 6_000, 850_000.0)
    assert other.firm_token is not None
    (row,) = _rows(firm_world.firm)
    assert row.payload["decision_id"] == did and row.payload["firm"] is True
    if stop == "audit":
        assert (row.payload["completed_by"], row.payload["entered_ms"], row.ts_ms) == (SECOND, T0 + 2_000, T0 + 6_000)
        assert row.payload["completed_why"].startswith("CARRIED_ON:")
    else:
        assert "completed_by" not in row.payload and row.ts_ms == T0 + 2_000
    (event,) = [e for e in told.emitted if e.kind == STAGE_TRANSITION]
    assert (event.data["incident"], event.data["resumed"], event.ts_ms) == (did, True, T0 + 2_000)
    assert other.entries.retold == 1
    firm_world.tick(other, T0 + 7_000, 850_000.0)  # carried on once: neither row nor event again
    assert len(_rows(firm_world.firm)) == 1
    assert [e for e in told.emitted if e.kind == STAGE_TRANSITION] == [event]


def test_an_owed_entry_audited_and_held_by_the_sinks_is_let_go_a_commit_later(firm_world):
    lk, sinks = firm_world.link(FIRST)
    at = _enter(firm_world, lk)
    did = "firm-drawdown/global/L1/e1"
    firm_world.tick(lk, at + 1_000, 850_000.0)
    assert did in firm_world.firm.load_engine_state()["owed"]  # audited, not yet held: still owed
    sinks.held.add(did)  # the sinks hold its page and its runbook
    firm_world.tick(lk, at + 2_000, 850_000.0)
    # first seen held: the shard's own save (its tick, between two commits) may not have its
    # groups with the event yet, so it is let go at the commit after
    assert did in firm_world.firm.load_engine_state()["owed"]
    firm_world.tick(lk, at + 3_000, 850_000.0)
    assert firm_world.firm.load_engine_state()["owed"] == {}
    assert len(_rows(firm_world.firm)) == 1
