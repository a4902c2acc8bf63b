"""The runner's registry (killswitch/metrics.py ``runner_registry``): its families, then the
process's read from /proc by prometheus_client's collector — a fake /proc with known numbers, the
real one, and none at all — and the platform's; a registry of its own, never the global one."""

from __future__ import annotations

import os

import prometheus_client

from killswitch.metrics import exposition, parse_families, runner_registry

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
    (tmp_path / "self" / "limits").write_text("Limit                     Soft Limit   Hard Limit   Units\n"
                                              "Max open files            1024         4096         files\n")
    (tmp_path / "stat").write_text("cpu  1 2 3\nbtime 1772450000\nprocesses 10\n")
    return str(tmp_path)


def _own(reg) -> None:
    reg.sampled("killswitch_ticks_total", "counter", "Ticks.").add(3)


def test_the_runners_families_then_the_processs_with_the_numbers_of_proc(tmp_path):
    registry = runner_registry(_own, proc=fake_proc(tmp_path))
    collector = next(c for c in registry._collector_to_names if isinstance(c, prometheus_client.ProcessCollector))
    collector._ticks, collector._pagesize = 100.0, 4096  # the fake's clock ticks and pages
    fams = parse_families(exposition(registry))
    assert list(fams)[0] == "killswitch_ticks_total" and fams["killswitch_ticks_total"]["samples"] == [
        "killswitch_ticks_total 3.0"]
    assert fams["process_cpu_seconds_total"]["samples"] == ["process_cpu_seconds_total 3.0"]  # (250 + 50) / 100
    assert fams["process_cpu_seconds_total"]["type"] == "counter"
    assert fams["process_virtual_memory_bytes"]["samples"] == ["process_virtual_memory_bytes 1.048576e+08"]
    assert fams["process_resident_memory_bytes"]["samples"] == ["process_resident_memory_bytes 1.048576e+07"]
    assert fams["process_start_time_seconds"]["samples"] == ["process_start_time_seconds 1.77245012e+09"]
    assert fams["process_open_fds"]["samples"] == ["process_open_fds 5.0"]
    assert fams["process_max_fds"]["samples"] == ["process_max_fds 1024.0"]
    assert all(fams[n]["help"] for n in NAMES)
    assert fams["python_info"]["type"] == "gauge" and len(fams["python_info"]["samples"]) == 1


def test_the_real_process_and_no_proc_at_all(tmp_path):
    if os.path.isdir("/proc/self"):
        fams = parse_families(exposition(runner_registry(_own)))
        assert all(len(fams[n]["samples"]) == 1 for n in NAMES)
    fams = parse_families(exposition(runner_registry(_own, proc=str(tmp_path / "nothing"))))
    assert not set(NAMES) & set(fams) and "killswitch_ticks_total" in fams  # the runner's own stay


def test_each_runner_has_a_registry_of_its_own_and_the_global_one_is_left_alone():
    before = set(prometheus_client.REGISTRY._names_to_collectors)
    pages = [exposition(runner_registry(_own)) for _ in range(2)]  # two runners of one process: no clash
    assert set(prometheus_client.REGISTRY._names_to_collectors) == before
    for page in pages:
        fams = parse_families(page)
        assert "killswitch_ticks_total" in fams and "python_info" in fams
        assert not [n for n in fams if n.startswith("python_gc_")], "the global registry's collectors stay out"
        assert not [n for n in fams if n.endswith("_created")]
