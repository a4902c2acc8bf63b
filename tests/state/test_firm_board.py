"""The firm board in PostgreSQL (killswitch/state/firm/board.py, killswitch/firmlink/board.py):
a shard's board is written only under its shard's current token (a leader since replaced, or a
foreign token, writes nothing), read back whole, each shard's newest facts by token in one
aggregate; a runner's board carries its book's open stages, acknowledgements and lock; and the
read of every shard says FIRM_STATE_UNREACHABLE, not an empty firm, when the tables cannot be read."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import psycopg

from killswitch.firm.board import SHARD_LEADER_CHANGED, SHARD_LIVE, Board
from killswitch.firmlink.board import FIRM_STATE_UNREACHABLE, BoardLink, board_of
from killswitch.state import open_store
from killswitch.state.firm import open_firm, shard_schema


def _board(fence: int, now: int, level: int = 1) -> Board:
    return Board("desk-a", f"a-{fence}", fence, now, 1.0, ({"policy": "p", "scope": "s", "level": level,
                                                          "stage": "halt", "since_ms": now - 5},),
                 0, {"mode": "halted", "scope": "global", "policy": "p", "holds": 1}, "https://desk-a.example/")


def test_a_board_is_written_under_its_shards_current_token_only_and_read_back_whole(pg_url, opened):
    firm = open_firm(pg_url)
    a = open_store(pg_url, schema=shard_schema("desk-a"))
    opened += [firm, a]
    t1 = a.acquire_lease("a-0", 5_000, 1_000)
    assert firm.publish_board("ks_shard_desk_a", _board(t1, 1_000))
    assert a.release_lease("a-0")
    t2 = a.acquire_lease("a-1", 5_000, 2_000)  # a takeover: the old leader's token writes nothing
    assert not firm.publish_board("ks_shard_desk_a", _board(t1, 2_000, level=2))
    assert not firm.publish_board("ks_shard_nope", _board(1, 2_000))  # no such shard's lease
    [got] = firm.boards()
    assert got == _board(t1, 1_000)  # nothing overwritten, every field as written
    assert firm.publish_board("ks_shard_desk_a", _board(t2, 3_000, level=2))
    assert [(b.fence, b.published_ms, b.incidents[0]["level"]) for b in firm.boards()] == [(t2, 3_000, 2)]
    for shard, fence, ms in (("desk-a", t1, 900), ("desk-a", t1, 1_000), ("desk-a", t2, 3_000)):
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("INSERT INTO ks_firm.account_fact VALUES (%s, 'binanceusdm', %s, %s, %s, 1, 0, 0, 0, 0, "
                         "true, NULL, true, %s) ON CONFLICT DO NOTHING", (shard, f"x{ms}", ms, ms, fence))
    assert firm.fact_times() == [("desk-a", t1, 1_000), ("desk-a", t2, 3_000)]


def _book(now: int) -> SimpleNamespace:
    from killswitch.runner.lock.lock import LockBook
    from killswitch.silences import Acknowledgement

    node = SimpleNamespace(stages=[SimpleNamespace(level=1, name="halt", manual=True, approvals=2)])
    scopes = {"bot-guard|simulated/sim-main": SimpleNamespace(stage=SimpleNamespace(
                  level=1, entries=1, entered_ms=now - 60_000, approvals=["bob"], manual=True, needs=2)),
              "bot-guard|simulated/sim-hedge": SimpleNamespace(stage=SimpleNamespace(
                  level=0, entries=0, entered_ms=None, approvals=[]))}
    from killswitch.engine.stages import decision_id

    incident = decision_id("bot-guard", "simulated/sim-main", 1, 1)
    lock = LockBook().apply("simulated/sim-main", "halted", now_ms=now - 60_000, policy="bot-guard", stage=1)
    return SimpleNamespace(state=SimpleNamespace(scopes=scopes), snapshots={},
                           node=lambda p: node if p == "bot-guard" else None,
                           acks={incident: (Acknowledgement(incident, "alice", now - 1_000),)}, lock_book=lock)


def test_a_runners_board_is_its_books_open_stages_acknowledgements_and_lock():
    now = 1_772_456_400_000
    b = board_of(_book(now), "desk-a", "a-0", 3, now, 1.0, "https://desk-a.example/")
    [i] = b.incidents
    assert (i["policy"], i["scope"], i["level"], i["stage"], i["acked_by"], i["approvals"], i["needed"]) == (
        "bot-guard", "simulated/sim-main", 1, "halt", ["alice"], 1, 2)
    assert b.lock == {"mode": "halted", "scope": "simulated/sim-main", "policy": "bot-guard", "holds": 1}
    assert (b.fence, b.published_ms, b.console) == (3, now, "https://desk-a.example/")
    assert (b.resting, b.resting_ms) == ({}, None)  # no snapshot read: nothing counted, no read's time



def test_a_board_says_when_the_snapshots_its_resting_orders_are_counted_from_were_read():
    now = 1_772_456_400_000
    order = SimpleNamespace(reduce_only=False)
    snap = lambda ms, ok=True: SimpleNamespace(fetch=SimpleNamespace(ok=ok), orders=[order], ts_observed=ms,  # noqa: E731
                                               ts_event=ms - 50)
    book = _book(now)
    book.snapshots = {"simulated/a": snap(now - 2_000), "simulated/b": snap(now - 7_000),
                      "simulated/c": snap(now - 90_000, ok=False)}  # a failed read: not counted
    b = board_of(book, "desk-a", "a-0", 3, now, 1.0, None)
    assert (b.resting, b.resting_ms) == ({"simulated/a": 1, "simulated/b": 1}, now - 7_000)
    assert Board.of(b.shard, b.holder, b.fence, b.published_ms, b.doc()) == b  # as the table keeps it


def _link(firm, now: list[int], leader: bool = True) -> tuple[BoardLink, SimpleNamespace]:
    start = SimpleNamespace(name="desk-a", schema="ks_shard_desk_a", assignment={"desk-a": [], "desk-b": []},
                            consoles={})
    graph = SimpleNamespace(policies=[SimpleNamespace(interval_s=1.0)])
    errs: list[str] = []
    link = BoardLink(lambda: now[0], _book(now[0]), SimpleNamespace(holder="a-0"), lambda: 1.0, firm, start,
                     lambda: graph, 3_000, None, errs.append)
    return link, SimpleNamespace(errs=errs)


def test_the_leader_publishes_a_standby_does_not_and_every_shard_is_read_back(pg_url, opened):
    firm = open_firm(pg_url)
    a = open_store(pg_url, schema=shard_schema("desk-a"))
    b = open_store(pg_url, schema=shard_schema("desk-b"))
    opened += [firm, a, b]
    now = [1_000_000]
    ta = a.acquire_lease("a-0", 5_000, now[0])
    b.acquire_lease("b-0", 5_000, now[0])
    link, _ = _link(firm, now)
    try:
        asyncio.run(link.after_tick(SimpleNamespace(leader=False, fence=ta)))
        assert firm.boards() == []  # a standby publishes nothing
        asyncio.run(link.after_tick(SimpleNamespace(leader=True, fence=ta)))
        doc = asyncio.run(link.read())
        b_row, a_row = doc["shards"]  # worst first: desk-b never published
        assert (a_row["shard"], a_row["this"], a_row["incidents"][0]["policy"]) == ("desk-a", True, "bot-guard")
        assert a_row["state"] == SHARD_LIVE and a_row["lock"]["mode"] == "halted"
        assert b_row["state"] == "SHARD_NEVER_PUBLISHED" and not b_row["reachable"]
        asyncio.run(link.after_tick(SimpleNamespace(leader=True, fence=ta + 5)))  # a stale token: refused, counted
        assert link.refused == 1
        a.release_lease("a-0")
        a.acquire_lease("a-1", 5_000, now[0])
        rows = {r["shard"]: r for r in asyncio.run(link.read())["shards"]}
        assert rows["desk-a"]["state"] == SHARD_LEADER_CHANGED
    finally:
        link.close()


def test_the_read_says_the_firm_is_unreadable_never_an_empty_firm(pg_url, opened):
    firm = open_firm(pg_url)
    opened.append(firm)
    link, _ = _link(firm, [1_000_000])
    link._reader = _Unreachable()  # the reads' own connection: the database stopped answering
    doc = asyncio.run(link.read())
    assert doc["error"] == FIRM_STATE_UNREACHABLE and "the other shards are not known" in doc["reason"]
    assert "shards" not in doc


class _Unreachable:
    """A firm store whose every call fails as the store's calls do when the database is gone."""

    def __getattr__(self, name):
        from killswitch.state.store import StoreError

        def fail(*a, **k):
            raise StoreError("state store postgresql://…: connection refused")
        return fail
