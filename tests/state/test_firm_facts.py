"""The firm's tables in PostgreSQL (killswitch/state/firm/tables.py): facts upserted only under the
shard's current token (a stale or foreign one writes nothing), the firm lease and its engine state
handed from one holder to the next, directives fenced by the firm's token or the sending shard's
and notified at commit, a shard's claims of directives made once under its token, and a standby started with an old
account set refusing to lead when it gains the lease (SHARD_MISMATCH)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import psycopg
import pytest

from killswitch.compile.shards import accounts_digest
from killswitch.firm.directives import LOCK, Directive
from killswitch.firm.facts import Fact
from killswitch.firmlink.firm import FirmLink
from killswitch.policy.accounts_doc import Account
from killswitch.process.shard import ShardStart
from killswitch.state import open_store
from killswitch.state.firm import open_firm, shard_schema
from killswitch.state.firm.tables import NOTIFY_CHANNEL
from killswitch.state.store import FencedError


def _open(opened, store):
    opened.append(store)
    return store


def _fact(shard, account, equity, now, fence):
    return Fact(shard, "binanceusdm", account, now - 10, now, equity, 0.0, 1.0, 1.0, 10, True, None, True, fence)


def test_facts_are_written_under_the_shards_current_token_only(pg_url, opened):
    firm = _open(opened, open_firm(pg_url))
    a = _open(opened, open_store(pg_url, schema=shard_schema("desk-a")))
    b = _open(opened, open_store(pg_url, schema=shard_schema("desk-b")))
    t1 = a.acquire_lease("a-0", 5_000, 1_000)
    tb = b.acquire_lease("b-0", 5_000, 1_000)
    assert firm.publish_facts("ks_shard_desk_a", t1, [_fact("desk-a", "a1", 100.0, 1_000, t1)]) == 1
    assert a.release_lease("a-0")
    t2 = a.acquire_lease("a-1", 5_000, 2_000)  # a takeover: the old leader's token is stale
    assert firm.publish_facts("ks_shard_desk_a", t1, [_fact("desk-a", "a1", 1.0, 2_000, t1)]) == 0
    assert firm.publish_facts("ks_shard_desk_a", tb + 40, [_fact("desk-a", "a1", 2.0, 2_000, tb + 40)]) == 0  # foreign
    assert [(f.account, f.equity, f.fence) for f in firm.facts()] == [("a1", 100.0, t1)]  # nothing overwritten
    assert firm.publish_facts("ks_shard_desk_a", t2, [_fact("desk-a", "a1", 90.0, 2_000, t2)]) == 1
    assert [(f.equity, f.fence) for f in firm.facts()] == [(90.0, t2)]
    assert firm.publish_facts("ks_shard_nope", 1, [_fact("nope", "x", 1.0, 1, 1)]) == 0  # no such shard's lease
    leases = firm.shard_leases({"desk-a": "ks_shard_desk_a", "desk-b": "ks_shard_desk_b", "nope": "ks_shard_nope"})
    assert {k: (v.holder, v.fence) for k, v in leases.items()} == {"desk-a": ("a-1", t2), "desk-b": ("b-0", tb)}


def test_the_firm_lease_hands_its_engine_state_to_the_next_holder_and_fences_the_last(pg_url, opened):
    firm = _open(opened, open_firm(pg_url))
    other = _open(opened, open_firm(pg_url, migrate=False))
    t1 = firm.acquire_lease("a-0", 3_000, 1_000)
    assert other.acquire_lease("b-0", 3_000, 2_000) is None  # held
    d = Directive(LOCK, "global", {"accounts": ["binanceusdm/a1"], "mode": "halted"}, "firm-dd/global/L1/e1")
    ids = firm.commit_firm(t1, {"engine": {"marker": 1}}, "digest", {"policies": []}, [d], 1_500)
    t2 = other.acquire_lease("b-0", 3_000, 5_000)  # a-0's lease ran out
    assert t2 is not None and t2 > t1
    assert other.load_engine_state() == {"engine": {"marker": 1}}
    with pytest.raises(FencedError):
        firm.commit_firm(t1, {"engine": {"marker": 2}}, "digest", {}, [d], 5_100)
    assert [x.id for x in other.directives_after(0)] == ids  # the stale holder's second directive never landed
    assert other.firm_view() == ({"policies": []}, 1_500)


def test_a_directive_is_notified_at_commit_and_an_operators_is_fenced_by_its_shard(pg_url, opened):
    firm = _open(opened, open_firm(pg_url))
    a = _open(opened, open_store(pg_url, schema=shard_schema("desk-a")))
    ta = a.acquire_lease("a-0", 5_000, 1_000)
    with psycopg.connect(pg_url, autocommit=True) as listen:
        listen.execute(f"LISTEN {NOTIFY_CHANNEL}")
        d = Directive(LOCK, "global", {"accounts": ["binanceusdm/a1"], "source": "operator"}, None, "alice")
        did = firm.send_directive("desk-a", "ks_shard_desk_a", ta, d, 1_000)
        got = [n.payload for n in listen.notifies(timeout=2, stop_after=1)]
    assert got == [str(did)]
    (row,) = firm.directives_after(0)
    assert (row.kind, row.scope, row.actor, row.payload["source"]) == ("lock", "global", "alice", "operator")
    with pytest.raises(FencedError):
        firm.send_directive("desk-a", "ks_shard_desk_a", ta + 1, d, 1_000)  # a standby's, never issued
    assert len(firm.directives_after(0)) == 1


def test_a_shard_claims_a_directive_once_under_its_token_and_a_stale_token_claims_nothing(pg_url, opened):
    firm = _open(opened, open_firm(pg_url))
    a = _open(opened, open_store(pg_url, schema=shard_schema("desk-a")))
    t1 = a.acquire_lease("a-0", 5_000, 1_000)
    old = firm.send_directive("desk-a", "ks_shard_desk_a", t1, Directive(LOCK, "global", {}), 900)
    assert firm.ensure_applied("ks_shard_desk_a", firm.last_directive_id(), 1_000) == old  # older: not its
    assert firm.ensure_applied("ks_shard_desk_a", 0, 1_100) == old  # the watermark stays
    new = firm.send_directive("desk-a", "ks_shard_desk_a", t1, Directive(LOCK, "global", {}), 1_200)
    assert [d.id for d in firm.directives_after(old)] == [new]
    assert firm.claim_directive("ks_shard_desk_a", t1, new, 1_300)
    assert not firm.claim_directive("ks_shard_desk_a", t1, new, 1_301)  # once
    assert firm.unfinished("ks_shard_desk_a") == [new]  # claimed, not applied: the next leader applies it
    a.release_lease("a-0")
    t2 = a.acquire_lease("a-1", 5_000, 2_000)
    with pytest.raises(FencedError):
        firm.claim_directive("ks_shard_desk_a", t1, new + 1, 2_000)
    assert firm.reclaim("ks_shard_desk_a", t2, new, 2_001)
    firm.applied("ks_shard_desk_a", t2, new, "global: LOCKED", 2_002)
    assert firm.unfinished("ks_shard_desk_a") == []


def test_a_shards_first_run_records_the_locks_it_inherits_and_its_first_leader_takes_them_up(pg_url, opened):
    firm = _open(opened, open_firm(pg_url))
    a = _open(opened, open_store(pg_url, schema=shard_schema("desk-a")))
    t1 = a.acquire_lease("a-0", 5_000, 1_000)
    close = firm.send_directive("desk-a", "ks_shard_desk_a", t1, Directive("close_all", "global", {}), 900)
    lock = firm.send_directive("desk-a", "ks_shard_desk_a", t1, Directive(LOCK, "global", {}), 901)
    seen: list[list[int]] = []

    def pick(old):
        seen.append([d.id for d in old])
        return [d.id for d in old if d.kind == LOCK]

    # desk-b's first run: the last directive (the lock) is both its watermark and inherited
    assert firm.ensure_applied("ks_shard_desk_b", lock, 1_000, pick) == lock
    assert seen == [[close, lock]] and firm.inherited("ks_shard_desk_b") == [lock]
    assert firm.ensure_applied("ks_shard_desk_b", lock + 5, 1_100, pick) == lock  # once: at its creation
    assert firm.directives_after(lock) == []  # the close is older than the watermark: never applied as new
    assert len(seen) == 1
    b = _open(opened, open_store(pg_url, schema=shard_schema("desk-b")))
    tb = b.acquire_lease("b-0", 5_000, 1_200)
    assert firm.reclaim("ks_shard_desk_b", tb, lock, 1_201)
    assert firm.inherited("ks_shard_desk_b") == [] and firm.unfinished("ks_shard_desk_b") == [lock]
    firm.applied("ks_shard_desk_b", tb, lock, "global: LOCKED", 1_202)
    assert not firm.claim_directive("ks_shard_desk_b", tb, lock, 1_203)  # never applied twice


def test_runners_seen_list_every_replica_of_every_shard(pg_url, opened):
    firm = _open(opened, open_firm(pg_url))
    firm.seen("desk-a", "a-0", True, 1_000)
    firm.seen("desk-a", "a-1", False, 1_000)
    firm.seen("desk-a", "a-0", True, 2_000)
    firm.seen("desk-b", "b-0", True, 100)
    assert [(r.shard, r.holder, r.leader, r.seen_ms) for r in firm.runners(500)] == [
        ("desk-a", "a-0", True, 2_000), ("desk-a", "a-1", False, 1_000)]


def test_a_standby_with_an_old_account_set_refuses_to_lead_when_it_gains_the_lease(pg_url, opened):
    def start(names):
        creds = {"api_key": {"env": "K"}, "secret": {"env": "S"}, "password": {"env": "P"}}
        accounts = tuple(Account(name=n, venue="okx", market_type="futures", labels={"desk": "a"}, credentials=creds)
                         for n in names)
        return ShardStart("desk-a", "ks_shard_desk_a", accounts, accounts, {"desk-a": list(names)},
                          accounts_digest(accounts))

    firm = _open(opened, open_firm(pg_url))
    old, new = start(["a1"]), start(["a1", "a3"])
    firm.register_shard("desk-a", old.digest, old.keys, "a-1", 1_000, "ks_shard_desk_a")  # the standby, at its start
    firm.register_shard("desk-a", new.digest, new.keys, "a-2", 2_000, "ks_shard_desk_a")  # a new file, nobody leading
    # the shard's ports FirmLink reads before it acts: its clock, its book, its sinks
    runner = SimpleNamespace(clock=lambda: 3_000, book=SimpleNamespace(take_firm_graph=lambda graph: None),
                             sinks=SimpleNamespace(holds=lambda *a: True), dry_run=False)
    standby = FirmLink(runner, _open(opened, open_firm(pg_url, migrate=False)), old, pg_url, "a-1", 3_000,
                       print, print)
    assert asyncio.run(standby.check_registry(None)) is None  # standing by: nothing to check
    why = asyncio.run(standby.check_registry(4))
    assert why is not None and why.startswith("SHARD_MISMATCH: this runner took shard desk-a's lease (token 4)")
    assert f"registered with {new.digest[:12]} by a-2" in why and "only registered: okx/a3" in why
    current = FirmLink(runner, _open(opened, open_firm(pg_url, migrate=False)), new, pg_url, "a-2", 3_000,
                       print, print)
    assert asyncio.run(current.check_registry(5)) is None
