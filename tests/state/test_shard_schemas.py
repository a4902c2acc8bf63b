"""Shards' state in one PostgreSQL database: each shard's store on a schema of its own
(``ks_shard_<name>``) holds its own lease, fencing token, journal and audit chain; the firm's
schema (``ks_firm``) registers the shards and refuses a second account set for a shard that a
runner leads (killswitch/state/postgres.py, killswitch/state/firm/)."""

from __future__ import annotations

import threading

import psycopg
import pytest

from killswitch.state import StoreError, open_store
from killswitch.state.firm import FIRM_SCHEMA, ShardMismatch, open_firm, shard_schema
from killswitch.state.store import FencedError, IntentRow


def _shard(url, name, opened):
    s = open_store(url, schema=shard_schema(name))
    opened.append(s)
    return s


def _tables(url, schema):
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = %s", (schema,)).fetchall()}


def test_two_shards_hold_their_own_lease_and_fence_in_one_database(pg_url, opened):
    a, b = _shard(pg_url, "desk-a", opened), _shard(pg_url, "desk-b", opened)
    assert a.acquire_lease("runner-a1", 5_000, 1_000) == 1
    assert b.acquire_lease("runner-b1", 5_000, 1_000) == 1  # a's lease is no obstacle to b's
    assert a.acquire_lease("runner-a2", 5_000, 2_000) is None  # a's standby waits for a's leader
    assert b.release_lease("runner-b1")
    assert b.acquire_lease("runner-b2", 5_000, 3_000) == 3  # b's takeover raises b's token only
    assert a.lease().holder == "runner-a1" and a.current_fence() == 1
    assert {"lease", "order_intent", "audit_log"} <= _tables(pg_url, "ks_shard_desk_a")
    assert {"lease", "order_intent", "audit_log"} <= _tables(pg_url, "ks_shard_desk_b")
    assert "lease" not in _tables(pg_url, "public")  # the default schema is left alone


def test_two_shards_journals_and_audit_chains_are_their_own(pg_url, opened):
    a, b = _shard(pg_url, "desk-a", opened), _shard(pg_url, "desk-b", opened)
    fa = a.acquire_lease("ra", 5_000, 1_000)
    fb = b.acquire_lease("rb", 5_000, 1_000)
    a.journal_intents(fa, [IntentRow("ks-a-1", "d1", "binanceusdm", "acct-a", "BTC/USDT:USDT", "sell", None, 1.0, True,
                                     "{}")])
    b.journal_intents(fb, [IntentRow("ks-b-1", "d2", "bybit", "acct-b", "ETH/USDT:USDT", "buy", None, 2.0, True, "{}"),
                           IntentRow("ks-b-2", "d3", "bybit", "acct-b", "ETH/USDT:USDT", "buy", None, 1.0, True, "{}")])
    assert [e.client_order_id for e in a.pending_intents()] == ["ks-a-1"]
    assert [e.client_order_id for e in b.pending_intents()] == ["ks-b-1", "ks-b-2"]
    a.audit("stage_entered", 1_000, {"shard": "a"}, fence=fa)
    head_b = b.audit_head()
    assert a.audit_head().seq == 1 and (head_b is None or head_b.seq == 0)
    assert a.verify_audit()[0] and b.verify_audit()[0]
    with pytest.raises(FencedError):  # a's token means nothing in b's schema
        b.journal_intents(fb + 7, [IntentRow("ks-x", "d4", "bybit", "acct-b", "ETH/USDT:USDT", "buy", None, 1.0, True,
                                             "{}")])


def test_the_lease_threads_connection_stays_on_the_shards_schema(pg_url, opened):
    a = _shard(pg_url, "desk-a", opened)
    _shard(pg_url, "desk-b", opened).acquire_lease("rb", 5_000, 1_000)
    again = a.reopen(lock_timeout_ms=1_000)
    opened.append(again)
    assert again.acquire_lease("ra", 5_000, 1_000) == 1
    assert a.lease().holder == "ra"


def test_replicas_of_one_shard_migrating_together_create_its_schema_once(pg_url, opened):
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(open_store(pg_url, schema="ks_shard_desk_c"))
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(s.schema_version() == opened[0].schema_version() for s in opened)


def test_a_schema_on_sqlite_or_one_that_is_no_plain_name_is_refused(tmp_path, pg_url):
    with pytest.raises(StoreError, match="needs a postgresql"):
        open_store(f"sqlite://{tmp_path / 's.db'}", schema="ks_shard_a")
    with pytest.raises(StoreError, match="schema name"):
        open_store(pg_url, schema='a"; DROP TABLE lease; --')


def test_replicas_of_one_shard_register_the_same_set_idempotently(pg_url, opened):
    firm = open_firm(pg_url)
    opened.append(firm)
    keys = ["binanceusdm/a1", "okx/a2"]
    first = firm.register_shard("desk-a", "d" * 64, keys, "a-0", 1_000, "ks_shard_desk_a")
    again = firm.register_shard("desk-a", "d" * 64, list(reversed(keys)), "a-1", 2_000, "ks_shard_desk_a")
    assert (first.outcome, again.outcome) == ("registered", "same")
    assert [(r.name, r.accounts, r.holder) for r in firm.shards()] == [("desk-a", tuple(keys), "a-1")]
    assert {"shard", "lease", "audit_log"} <= _tables(pg_url, FIRM_SCHEMA)


def test_another_set_for_a_shard_its_runner_leads_is_refused_naming_what_differs(pg_url, opened):
    firm = open_firm(pg_url)
    opened.append(firm)
    shard = _shard(pg_url, "desk-a", opened)
    firm.register_shard("desk-a", "a" * 64, ["okx/a1", "okx/a2"], "a-0", 1_000, "ks_shard_desk_a")
    shard.acquire_lease("a-0", 5_000, 1_000)
    with pytest.raises(ShardMismatch) as got:
        firm.register_shard("desk-a", "b" * 64, ["okx/a1", "okx/a3"], "a-9", 2_000, "ks_shard_desk_a")
    assert got.value.only_here == ["okx/a3"] and got.value.only_registered == ["okx/a2"]
    message = str(got.value)
    assert message.startswith("SHARD_MISMATCH: shard desk-a")
    assert "aaaaaaaaaaaa" in message and "bbbbbbbbbbbb" in message and "led by a-0" in message
    assert firm.shards()[0].accounts_digest == "a" * 64  # the registration stands


def test_another_set_replaces_the_registration_once_no_runner_leads_the_shard(pg_url, opened):
    firm = open_firm(pg_url)
    opened.append(firm)
    shard = _shard(pg_url, "desk-a", opened)
    firm.register_shard("desk-a", "a" * 64, ["okx/a1"], "a-0", 1_000, "ks_shard_desk_a")
    shard.acquire_lease("a-0", 5_000, 1_000)
    got = firm.register_shard("desk-a", "b" * 64, ["okx/a1", "okx/a3"], "a-9", 7_000, "ks_shard_desk_a")
    assert got.outcome == "replaced" and got.previous is not None and got.previous.accounts == ("okx/a1",)
    assert firm.shards()[0].accounts_digest == "b" * 64
