"""The process's own metrics, as Prometheus client libraries name them, read from ``/proc/self``.

``process_resident_memory_bytes``, ``process_virtual_memory_bytes``, ``process_cpu_seconds_total``,
``process_open_fds``, ``process_max_fds`` and ``process_start_time_seconds``: the families every
Prometheus client exports, so the usual dashboards and alerts (memory growth, fd exhaustion, a
restart) work unchanged. Read the way ``prometheus_client``'s process collector reads them:
``/proc/self/stat`` (CPU ticks, virtual size, resident pages, start time in ticks since boot),
the boot time from ``/proc/stat`` (once), the open descriptors from ``/proc/self/fd`` and the
limit from ``getrlimit``. No dependency; a scrape costs a few small reads (``/metrics`` is
scraped while a tick may run).

Where there is no ``/proc`` (not Linux) the families are there with no samples.
"""

from __future__ import annotations

import os
from typing import Optional

from .metrics import Registry

_PROC = "/proc"


class ProcessMetrics:
    """``collect_metrics(registry)`` adds the process families. ``proc``: where ``/proc`` is (tests)."""

    def __init__(self, proc: str = _PROC):
        self.proc = proc
        self._boot_s: Optional[float] = None
        try:
            self._ticks = float(os.sysconf("SC_CLK_TCK"))
            self._page = float(os.sysconf("SC_PAGESIZE"))
        except (AttributeError, ValueError, OSError):
            self._ticks, self._page = 100.0, 4096.0

    def _boot_time(self) -> Optional[float]:
        if self._boot_s is None:
            try:
                with open(f"{self.proc}/stat", "rb") as f:
                    for line in f:
                        if line.startswith(b"btime "):
                            self._boot_s = float(line.split()[1])
                            break
            except OSError:
                return None
        return self._boot_s

    def _stat(self) -> Optional[list[bytes]]:
        try:
            with open(f"{self.proc}/self/stat", "rb") as f:
                raw = f.read()
        except OSError:
            return None
        # the command name (2nd field) is in parentheses and may hold spaces: count from after it
        return raw[raw.rfind(b")") + 2:].split()

    def collect_metrics(self, reg: Registry) -> None:
        cpu = reg.sampled("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.")
        virt = reg.sampled("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.")
        rss = reg.sampled("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
        start = reg.sampled("process_start_time_seconds", "gauge",
                            "Start time of the process since unix epoch in seconds.")
        fds = reg.sampled("process_open_fds", "gauge", "Number of open file descriptors.")
        max_fds = reg.sampled("process_max_fds", "gauge", "Maximum number of open file descriptors.")
        fields = self._stat()
        if fields is not None and len(fields) > 21:
            # after the name: state(0) ... utime(11) stime(12) ... starttime(19) vsize(20) rss(21)
            cpu.add((int(fields[11]) + int(fields[12])) / self._ticks)
            virt.add(int(fields[20]))
            rss.add(int(fields[21]) * self._page)
            boot = self._boot_time()
            if boot is not None:
                start.add(boot + int(fields[19]) / self._ticks)
        try:
            fds.add(len(os.listdir(f"{self.proc}/self/fd")))
        except OSError:
            pass
        try:
            import resource

            soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
            if soft != resource.RLIM_INFINITY:
                max_fds.add(soft)
        except (ImportError, OSError, ValueError):
            pass
