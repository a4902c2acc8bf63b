"""How many reader processes ``--readers auto`` starts: one per usable core beyond the
decider's, the pod's CPU limit (cgroup v2 ``cpu.max``, else v1's CFS quota) bounding the cores,
never more than the accounts, at least one."""

from __future__ import annotations

import os

import pytest

from adapters.remote.link import default_readers, usable_cores


@pytest.fixture
def cores(monkeypatch):
    def set_cores(n: int) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)))
    return set_cores


@pytest.mark.parametrize("cpu_max, node, want", [
    ("max 100000\n", 16, 16),        # no limit: the cores it may run on
    ("200000 100000\n", 16, 2),      # a limit of 2 cores on a 16-core node
    ("150000 100000\n", 16, 2),      # 1.5 cores: rounded up
    ("50000 100000\n", 16, 1),       # half a core: one
    ("400000 100000\n", 2, 2),       # a limit above the cores it may run on
    (None, 8, 8),                    # no cgroup file
    ("garbage", 4, 4),               # a file that cannot be read as a quota
])
def test_the_usable_cores_are_bounded_by_the_cgroups_quota(tmp_path, cores, cpu_max, node, want):
    cores(node)
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    assert usable_cores(str(path), str(tmp_path / "no-v1")) == want


@pytest.mark.parametrize("node, accounts, want", [(2, 200, 1), (1, 200, 1), (4, 200, 3), (16, 2, 2), (16, 1, 1)])
def test_auto_is_one_reader_per_core_beyond_the_deciders_never_more_than_the_accounts(tmp_path, cores, node,
                                                                                       accounts, want):
    cores(node)
    assert default_readers(accounts, str(tmp_path / "absent"), str(tmp_path / "absent")) == want


def test_a_pods_limit_keeps_auto_from_starting_a_reader_per_node_core(tmp_path, cores):
    cores(64)
    (tmp_path / "cpu.max").write_text("200000 100000\n")
    assert default_readers(200, str(tmp_path / "cpu.max"), str(tmp_path / "absent")) == 1


@pytest.mark.parametrize("quota, period, want", [("-1", "100000", 16), ("200000", "100000", 2),
                                                 ("150000", "100000", 2), ("20000", "100000", 1)])
def test_a_cgroup_v1_cfs_quota_bounds_the_cores_where_there_is_no_v2_file(tmp_path, cores, quota, period, want):
    cores(16)
    (tmp_path / "cpu.cfs_quota_us").write_text(quota + "\n")
    (tmp_path / "cpu.cfs_period_us").write_text(period + "\n")
    assert usable_cores(str(tmp_path / "absent"), str(tmp_path)) == want
