"""The firm-wide kill's tables in PostgreSQL (killswitch/state/firm/kill.py): a kill written
only under the sending shard's current token and never while another is in force; each shard's
report written under its own token, the first time each step was reached kept when the kill is
taken up again; the release's approvals — one approver recorded and the kill still in force, the
same person twice refused, a release of no kill refused, the second distinct approver's writing
the release directive — after which a new kill may be sent."""

from __future__ import annotations

import pytest

from killswitch.firm.directives import KILL, KILL_RELEASE, Directive
from killswitch.firm.kill import KillReport
from killswitch.state import open_store
from killswitch.state.firm import open_firm, shard_schema
from killswitch.state.store import FencedError

A = "ks_shard_desk_a"


@pytest.fixture
def firm_and_shard(pg_url):
    firm = open_firm(pg_url)
    a = open_store(pg_url, schema=shard_schema("desk-a"))
    token = a.acquire_lease("a-0", 60_000, 1_000)
    yield firm, a, token
    firm.close()
    a.close()


def _kill() -> Directive:
    return Directive(KILL, "global", {"accounts": ["binanceusdm/a1", "binanceusdm/b1"], "reason": "drill"}, None,
                     "alice")


def test_a_kill_is_written_under_the_shards_token_once_and_refused_while_one_is_in_force(firm_and_shard):
    firm, _, token = firm_and_shard
    with pytest.raises(FencedError):
        firm.send_kill("desk-a", A, token + 1, _kill(), 2_000)
    did, in_force = firm.send_kill("desk-a", A, token, _kill(), 2_000)
    assert did is not None and in_force is None
    again, in_force = firm.send_kill("desk-a", A, token, _kill(), 2_100)
    assert again is None and in_force == did
    kill, release = firm.kills()
    assert kill is not None and (kill.id, kill.actor, release) == (did, "alice", None)


def test_a_report_keeps_the_first_time_each_step_was_reached_and_is_fenced(firm_and_shard):
    firm, _, token = firm_and_shard
    did, _ = firm.send_kill("desk-a", A, token, _kill(), 2_000)
    assert firm.report_kill(A, token, [KillReport(did, "desk-a", "binanceusdm/a1", locked_ms=2_100, ts_ms=2_100)])
    assert firm.report_kill(A, token, [KillReport(did, "desk-a", "binanceusdm/a1", locked_ms=2_900, resting_ms=2_950,
                                                  resting="nothing resting", revoke="OUT_OF_REACH",
                                                  out_of_reach=True, ts_ms=2_950)])
    assert firm.report_kill(A, token + 1, [KillReport(did, "desk-a", "binanceusdm/a1", ts_ms=3_000)]) == 0
    [r] = firm.kill_reports(did)
    assert (r.locked_ms, r.resting_ms, r.revoked_ms, r.out_of_reach, r.done) == (2_100, 2_950, None, True, True)


def test_a_release_needs_two_distinct_approvers(firm_and_shard):
    firm, _, token = firm_and_shard
    taken, why, did = firm.approve_kill_release("desk-a", A, token, "bob", "fixed", 1_500)
    assert (taken, did) == (False, None) and why.startswith("NO_KILL: no firm-wide kill is in force")
    kill_id, _ = firm.send_kill("desk-a", A, token, _kill(), 2_000)
    taken, why, did = firm.approve_kill_release("desk-a", A, token, "bob", "fixed", 3_000)
    assert taken and did is None and why.startswith("APPROVAL_RECORDED: 1/2 approvers=bob")
    taken, why, did = firm.approve_kill_release("desk-a", A, token, "bob", "fixed again", 3_100)
    assert not taken and did is None and why.startswith(f"DUPLICATE_APPROVER: bob already approved the release of "
                                                        f"kill {kill_id} (1/2)")
    assert firm.kills()[1] is None  # still in force
    taken, why, did = firm.approve_kill_release("desk-a", A, token, "carol", "agreed", 3_200)
    assert taken and did is not None and why.startswith(f"KILL_RELEASED: kill {kill_id} released by bob,carol")
    kill, release = firm.kills()
    assert release is not None and release.kind == KILL_RELEASE and release.payload["kill"] == kill_id
    assert release.payload["approvers"] == ["bob", "carol"]
    assert [a["approver"] for a in firm.kill_approvals(kill_id)] == ["bob", "carol"]
    taken, why, _ = firm.approve_kill_release("desk-a", A, token, "dave", "late", 3_300)
    assert not taken and why.startswith("NO_KILL")
    again, in_force = firm.send_kill("desk-a", A, token, _kill(), 4_000)
    assert again is not None and in_force is None  # released: a new kill may be sent
