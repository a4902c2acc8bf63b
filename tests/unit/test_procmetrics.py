"""The process families read from /proc as Prometheus clients read them (killswitch/procmetrics.py):
a fake /proc with known numbers, the real one, and none at all."""

from __future__ import annotations

import os

from killswitch.metrics import parse_families, render_collected
from killswitch.procmetrics import ProcessMetrics

NAMES = ("process_cpu_seconds_total", "process_virtual_memory_bytes", "process_resident_memory_bytes",
         "process_start_time_seconds", "process_open_fds", "process_max_fds")


def fake_proc(tmp_path, comm: str = "python3 (x) y"):
    (tmp_path / "self" / "fd").mkdir(parents=True)
    for fd in range(5):
        (tmp_path / "self" / "fd" / str(fd)).write_text("")
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
    # priority nice threads itrealvalue starttime vsize rss ...
    fields = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", "250", "50", "0", "0", "20", "0", "4", "0",
              "12000", "104857600", "2560", "18446744073709551615"]
    (tmp_path / "self" / "stat").write_text(f"4242 ({comm}) " + " ".join(fields) + "\n")
    (tmp_path / "stat").write_text("cpu  1 2 3\nbtime 1772450000\nprocesses 10\n")
    return str(tmp_path)


def test_the_families_carry_the_numbers_of_proc(tmp_path):
    pm = ProcessMetrics(fake_proc(tmp_path))
    pm._ticks, pm._page = 100.0, 4096.0
    fams = parse_families(render_collected(pm.collect_metrics))
    assert [n for n in fams] == list(NAMES[:4]) + ["process_open_fds", "process_max_fds"]
    assert fams["process_cpu_seconds_total"]["samples"] == ["process_cpu_seconds_total 3"]  # (250 + 50) / 100
    assert fams["process_cpu_seconds_total"]["type"] == "counter"
    assert fams["process_virtual_memory_bytes"]["samples"] == ["process_virtual_memory_bytes 104857600"]
    assert fams["process_resident_memory_bytes"]["samples"] == ["process_resident_memory_bytes 10485760"]
    assert fams["process_start_time_seconds"]["samples"] == ["process_start_time_seconds 1772450120"]
    assert fams["process_open_fds"]["samples"] == ["process_open_fds 5"]
    assert all(fams[n]["help"] for n in NAMES)


def test_the_real_process_and_no_proc_at_all(tmp_path):
    if os.path.isdir("/proc/self"):
        fams = parse_families(render_collected(ProcessMetrics().collect_metrics))
        assert all(len(fams[n]["samples"]) == 1 for n in NAMES if n != "process_max_fds")
    fams = parse_families(render_collected(ProcessMetrics(str(tmp_path / "nothing")).collect_metrics))
    assert all(fams[n]["samples"] == [] for n in NAMES if n != "process_max_fds")  # the families, no samples
