"""The firm's channel: what a ``NOTIFY killswitch_firm`` payload says (a directive written, a
shard's runner stopped), and what a shard's firm link does on hearing one — the firm lease holder
wakes its next tick for another shard's stop, a leader wakes when the stopped runner gave the firm
lease up too, nobody wakes for a shard's own stop or a payload no runner writes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from killswitch.firm.notices import DIRECTIVE, STOPPED, UNKNOWN, Notice, read_notice, shard_stopped
from killswitch.firmlink.firm import FirmLink


def test_a_directive_id_is_read_as_a_directive():
    assert read_notice("17") == Notice(DIRECTIVE, directive_id=17)
    assert read_notice(" 3\n") == Notice(DIRECTIVE, directive_id=3)


@pytest.mark.parametrize("firm_released", [False, True])
def test_a_shards_stop_is_read_back_as_written(firm_released):
    payload = shard_stopped("desk-b2", firm_released)
    assert payload == "shard-stopped:desk-b2" + (":firm" if firm_released else "")
    assert read_notice(payload) == Notice(STOPPED, shard="desk-b2", firm_released=firm_released)


@pytest.mark.parametrize("payload", ["", "shard-stopped", "shard-stopped:", "shard-stopped:Desk B",
                                     "shard-stopped:desk-b:lease", "shard-started:desk-b", "-4", "hello"])
def test_a_payload_no_runner_writes_is_unknown(payload):
    assert read_notice(payload) == Notice(UNKNOWN)


def _ports(leader: bool) -> SimpleNamespace:
    """What the firm link reads of its shard runner's parts when it hears a notification."""
    return SimpleNamespace(lead=SimpleNamespace(leader=leader), clock=lambda: 0, book=SimpleNamespace(snapshots={}),
                           sinks=SimpleNamespace(holds=lambda e: True))


class FakeStart:
    name = "desk-a"
    schema = "ks_shard_desk_a"
    assignment = {"desk-a": ["a1"], "desk-b": ["b1"]}
    declared = ()


def _link(leader: bool, firm_token):
    link = FirmLink(_ports(leader), None, FakeStart(), "postgresql://unused", "a-0", 3_000, print, print)
    link.firm_token = firm_token
    woken: list[int] = []
    link.wake = lambda: woken.append(1)
    return link, woken


def test_the_firm_lease_holder_wakes_for_another_shards_stop_and_counts_it():
    link, woken = _link(leader=True, firm_token=7)
    link.heard("shard-stopped:desk-b")
    link.heard("shard-stopped:desk-b")
    assert len(woken) == 2 and link.stops_heard == {"desk-b": 2}


def test_a_leader_not_holding_the_firm_lease_wakes_only_when_the_stopped_runner_gave_the_firm_lease_up():
    link, woken = _link(leader=True, firm_token=None)
    link.heard("shard-stopped:desk-b")
    assert woken == []
    link.heard("shard-stopped:desk-b:firm")
    assert woken == [1] and link.stops_heard == {"desk-b": 2}


def test_a_standby_a_shards_own_stop_and_an_unknown_payload_wake_nobody():
    standby, woken = _link(leader=False, firm_token=None)
    standby.heard("shard-stopped:desk-b:firm")
    holder, woken_holder = _link(leader=True, firm_token=7)
    holder.heard("shard-stopped:desk-a")  # its own shard: a replica of it stopped, this one leads it
    holder.heard("shard-stopped:Desk B")
    assert woken == [] and woken_holder == [] and holder.stops_heard == {}
