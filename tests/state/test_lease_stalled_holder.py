"""A leader stalled inside a fenced write (paused, swapped out, its client frozen mid-pipeline)
keeps the lease row locked FOR SHARE where the idle-in-transaction timeout does not reach it; once
its lease has run out, a standby that cannot lock the row ends that session and takes the lease,
and a session holding the row under a lease still valid is left alone
(killswitch/state/postgres.py)."""

from __future__ import annotations

import logging
import time

import psycopg
import pytest

from killswitch.state import StoreError, open_store
from killswitch.state.postgres import PostgresStore

from ..conftest import reset_pg

T = 1_000_000


@pytest.fixture
def pg_url(own_pg_server):
    """This module's own server: its sessions are ended (pg_terminate_backend)."""
    url = own_pg_server.url()
    reset_pg(url)
    return url


def _stalled(url: str) -> psycopg.Connection:
    """A session in a transaction that read the lease row FOR SHARE, as a fenced write does, and
    then stopped: its client sends nothing more (no idle-in-transaction timeout on it)."""
    conn = psycopg.connect(url)
    conn.execute("SELECT fence FROM lease WHERE id = 1 FOR SHARE").fetchone()
    return conn


def test_a_standby_ends_a_session_stalled_on_a_lease_that_ran_out_and_takes_over(pg_url, caplog):
    leader = open_store(pg_url)
    standby = PostgresStore(pg_url, lock_timeout_ms=300)
    try:
        fence = leader.acquire_lease("a", 500, T)
        stalled = _stalled(pg_url)
        time.sleep(0.7)  # the stalled transaction is older than the lease's TTL
        with caplog.at_level(logging.WARNING, logger="killswitch.state.postgres"):
            taken = standby.acquire_lease("b", 500, T + 600)  # the lease ran out at T + 500
        assert taken == fence + 1
        assert standby.lease().holder == "b"
        assert any("LEASE_HOLDER_STALLED" in r.getMessage() and "terminated" in r.getMessage()
                   for r in caplog.records), caplog.text
        with pytest.raises(psycopg.OperationalError):  # its transaction is gone, and nothing it wrote commits
            stalled.execute("SELECT 1").fetchone()
    finally:
        leader.close()
        standby.close()


def test_a_session_on_a_valid_lease_is_left_alone_and_the_look_answers_at_once(pg_url):
    """The lease is a's until T + 60 s: the standby's look reads it without a lock and answers
    None (no lock wait, no LockNotAvailable), and the session on the row is not ended."""
    leader = open_store(pg_url)
    standby = PostgresStore(pg_url, lock_timeout_ms=300)
    stalled = None
    try:
        leader.acquire_lease("a", 60_000, T)
        stalled = _stalled(pg_url)
        time.sleep(0.4)
        assert standby.acquire_lease("b", 500, T + 600) is None
        assert stalled.execute("SELECT 1").fetchone() == (1,)  # not terminated
        assert standby.lease().holder == "a"
    finally:
        if stalled is not None:
            stalled.close()
        leader.close()
        standby.close()


def test_a_young_transaction_on_a_lease_that_ran_out_is_not_ended(pg_url):
    """A holder's write that began within the TTL may be an ordinary slow one: wait for it."""
    leader = open_store(pg_url)
    standby = PostgresStore(pg_url, lock_timeout_ms=300)
    stalled = None
    try:
        leader.acquire_lease("a", 500, T)
        stalled = _stalled(pg_url)
        with pytest.raises(StoreError, match="LockNotAvailable"):
            standby.acquire_lease("b", 60_000, T + 600)  # a TTL of 60 s: the 0.3 s transaction is young
        assert stalled.execute("SELECT 1").fetchone() == (1,)
    finally:
        if stalled is not None:
            stalled.close()
        leader.close()
        standby.close()
