"""bench/cores.py counts a runner's readers apart: its descendants found in /proc by their parent,
a child started between two samples counted whole, one reaped counted through the parent."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import bench_module

cores = bench_module("cores")


def test_children_cpu_counts_new_children_whole_and_reaped_ones_through_the_parent() -> None:
    before = (1.0, {10: 2.0, 11: 0.5}, 0.25)
    after = (1.5, {10: 2.5, 12: 0.75}, 0.25 + 0.75)  # 11 reaped (its 0.75 s in cutime), 12 new
    assert cores.children_cpu(before, after) == 0.5 + 0.75 + 0.75


def test_descendants_finds_a_grandchild_and_tree_cpu_reads_it() -> None:
    code = ("import subprocess,sys; p = subprocess.Popen(['sleep', '60']); print(p.pid, flush=True); "
            "sys.stdin.read(); p.kill(); p.wait()")
    parent = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert cores.descendants(parent.pid) == [child]
        own, kids, reaped = cores.tree_cpu(parent.pid)
        assert list(kids) == [child] and own >= 0 and reaped >= 0
        assert {parent.pid, child} <= set(cores.descendants(os.getpid()))  # the child's child too
    finally:
        parent.kill()
        parent.wait(10)
