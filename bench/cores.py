"""What a bench does with the machine's cores: a process tree's CPU, pinning, and a half-speed quota.

What it owns
    * :func:`tree_cpu`: a process's own CPU seconds and its descendants' (``ksctl run --readers``
      starts its reader processes as children: found by scanning ``/proc`` for their parent, the
      kernel here offering no ``/proc/<pid>/task/*/children``), the children it already reaped
      counted through its ``cutime``/``cstime``;
    * :class:`Quota`: half a core per core a process tree uses, and half a core to each of its
      processes (:class:`Group`), by the first of: cgroup v2 ``cpu.max``, cgroup v1
      ``cpu.cfs_quota_us``/``cpu.cfs_period_us`` (the same CFS bandwidth control, where the cpu
      controller is mounted as v1), else a SIGSTOP/SIGCONT duty cycle of the tree's process
      group from a thread of the bench (every process of it stopped half the time);
      :attr:`Quota.kind` says which;
    * :func:`launcher`: the command that enters a cgroup, a set of cores and a process group of
      its own, then execs the command after it (``python bench/cores.py --cgroup DIR --cpus 1
      --session -- ksctl ...``): a runner is in its quota and on its cores from its first
      instruction, and every child it spawns later inherits both (then a leaf of its own);
    * :func:`quota_reference`: the reference loop (``harness.reference_loop``) run under a quota
      and on given cores, in a process of its own: its CPU milliseconds, and its wall
      milliseconds a loop over two seconds of loops (a quota slows the wall clock, not the CPU
      time a loop takes; a figure measured in wall time under the quota is compared with the
      wall time of the loop under the same quota).

The period is 10 ms (a quota of 5 ms per core in each): a tick and the reactions measured are
tens of milliseconds, and the kernel's default period of 100 ms would stall a process 50 ms at a
time, a figure either untouched or 50 ms late, not that of a machine half as fast; 10 ms keeps a
stall at most 5 ms, at the cost of the scheduler accounting ten times as often (1 ms is the
least it takes). The duty cycle uses the same period, but its stops are as punctual as a Python
thread of the bench on a loaded machine.

What it must not do
    touch a cgroup it did not create, or signal a process group other than one it launched;
    every cgroup it creates is removed by :meth:`Group.close` (its leftover processes, the tree
    it launched, killed first).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional, Sequence

PERIOD_US = 10_000
WATCH_S = 0.01  # how soon a process spawned in a quota's main leaf is given a leaf of its own
HERE = Path(__file__).resolve()
TICK = os.sysconf("SC_CLK_TCK")


# --- a process tree's CPU --------------------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children...), scanning /proc for parents."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent[int(d.name)] = int(_stat(int(d.name))[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def tree_cpu(pid: int) -> tuple[float, dict[int, float], float]:
    """(``pid``'s own CPU seconds, each living descendant's, the reaped children's) from /proc."""
    f = _stat(pid)
    own, reaped = (int(f[11]) + int(f[12])) / TICK, (int(f[13]) + int(f[14])) / TICK
    kids: dict[int, float] = {}
    for c in descendants(pid):
        try:
            g = _stat(c)
            kids[c] = (int(g[11]) + int(g[12])) / TICK
        except (OSError, IndexError, ValueError):
            continue
    return own, kids, reaped


def children_cpu(before: tuple[float, dict[int, float], float], after: tuple[float, dict[int, float], float]) -> float:
    """The descendants' CPU seconds between two :func:`tree_cpu` samples (a child started between
    them counted whole; one that ended and was reaped counted through the parent's cutime)."""
    return sum(v - before[1].get(c, 0.0) for c, v in after[1].items()) + after[2] - before[2]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# --- the quota -------------------------------------------------------------------------------------


def _own_cgroup(controllers: str) -> Optional[str]:
    """This process's cgroup path in the hierarchy holding ``controllers`` ("" : the v2 one)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctl, path = line.split(":", 2)
        if ctl == controllers or (controllers and controllers in ctl.split(",")):
            return path
    return None


def _mounts(fstype: str) -> list[tuple[str, list[str]]]:
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, opts = line.split()[:4]
        if kind == fstype:
            out.append((where, opts.split(",")))
    return out


def _try_dir(base: Path, name: str) -> Optional[Path]:
    d = base / name
    try:
        d.mkdir()
        return d
    except OSError:
        return None


class Group:
    """One quota of a launched process tree: cgroups of its own, or a duty cycle of its process group.

    As cgroups: ``path`` holds the tree's quota (half a core per core it uses) and one leaf per
    process of the tree, each its own quota of half a core: ``main``, which the launcher enters,
    and one for each process that appears in ``main`` (a child spawned there: a reader, the
    resource tracker), moved to a leaf of its own by a watcher within :data:`WATCH_S`. A quota
    shared by the tree alone would let one process run a whole core while the others idle: the
    burst a reaction is made of would not be slowed at all."""

    def __init__(self, quota: Quota, name: str, cores: float):
        self.quota, self.cores, self.path = quota, cores, None
        self.pgid: Optional[int] = None
        self.moved: list[int] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        if quota.kind.startswith("cgroup"):
            self.path = quota.base / name
            self._make(self.path, 0.5 * cores)
            self._make(self.path / "main", 0.5)

    def _make(self, d: Path, cores: float) -> None:
        d.mkdir()
        share = int(PERIOD_US * cores)
        if self.quota.kind.startswith("cgroup v2"):
            (d / "cpu.max").write_text(f"{share} {PERIOD_US}")
            if d == self.path:
                (d / "cgroup.subtree_control").write_text("+cpu")
        else:
            (d / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (d / "cpu.cfs_quota_us").write_text(str(share))

    def _leaves(self) -> list[Path]:
        return [d for d in self.path.iterdir() if d.is_dir()] if self.path is not None else []

    def launcher(self, cpus: Optional[set[int]] = None) -> list[str]:
        """The command prefix that enters this group (and ``cpus``) before exec'ing what follows."""
        return launcher(self.path / "main" if self.path is not None else None, cpus, session=self.path is None)

    def attach(self, pid: int) -> None:
        """Start on the launched process ``pid``: a cgroup's watcher (each other process that
        appears in ``main``, to a leaf of its own), or the duty cycle, which stops and continues
        ``pid``'s process group (the launcher made it lead one) half of every period."""
        if self.path is not None:
            self._thread = threading.Thread(target=self._watch, args=(pid,), name="quota-watch", daemon=True)
            self._thread.start()
            return
        end = time.monotonic() + 10
        while os.getpgid(pid) != pid and time.monotonic() < end:
            time.sleep(0.001)
        self.pgid = pid
        on = off = PERIOD_US / 2e6

        def run() -> None:
            nxt = time.monotonic()
            while not self._stop.is_set():
                try:
                    os.killpg(pid, signal.SIGSTOP)
                    nxt += off
                    time.sleep(max(0.0, nxt - time.monotonic()))
                    os.killpg(pid, signal.SIGCONT)
                except ProcessLookupError:
                    return
                nxt += on
                time.sleep(max(0.0, nxt - time.monotonic()))

        self._thread = threading.Thread(target=run, name="duty-cycle", daemon=True)
        self._thread.start()

    def _watch(self, pid: int) -> None:
        assert self.path is not None
        procs = self.path / "main" / "cgroup.procs"
        while not self._stop.wait(WATCH_S):
            for p in procs.read_text().split():
                if int(p) != pid:
                    try:
                        self._make(self.path / f"p{p}", 0.5)
                        (self.path / f"p{p}" / "cgroup.procs").write_text(p)
                        self.moved.append(int(p))
                    except OSError:
                        pass  # it ended meanwhile (its leaf, if made, is removed with the rest)

    def release(self) -> None:
        """The watcher or the duty cycle ended, its group continued (before its processes are stopped)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self.pgid is not None:
            try:
                os.killpg(self.pgid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def close(self, bound_s: float = 10.0) -> None:
        """Released, and the cgroups removed once the tree launched into them has ended (within
        ``bound_s``, else its leftover processes killed)."""
        self.release()
        if self.path is None:
            return
        end = time.monotonic() + bound_s
        while any(self._procs()) and time.monotonic() < end:
            time.sleep(0.1)
        for p in self._procs():
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        end = time.monotonic() + 5
        for d in [*self._leaves(), self.path]:
            while True:
                try:
                    d.rmdir()
                    break
                except OSError:
                    if time.monotonic() > end:
                        raise
                    time.sleep(0.1)

    def throttled(self) -> str:
        """How often each leaf's quota held its process back so far (``cpu.stat``): the deciding
        process's (``main``) and the other processes' summed, in periods throttled of those it ran
        in; "" for a duty cycle."""
        if self.path is None:
            return ""

        def stat(d: Path) -> tuple[int, int]:
            f = dict(line.split() for line in (d / "cpu.stat").read_text().splitlines())
            return int(f.get("nr_throttled", 0)), int(f.get("nr_periods", 0))

        main = stat(self.path / "main")
        rest = [stat(d) for d in self._leaves() if d.name != "main"]
        return f"main process throttled in {main[0]} of {main[1]} periods, the others in " \
            f"{sum(t for t, _ in rest)} of {sum(n for _, n in rest)}"

    def _procs(self) -> list[int]:
        return [int(p) for d in self._leaves() for p in (d / "cgroup.procs").read_text().split()]


class Quota:
    """Which way this machine halves a process tree's CPU: cgroup v2, v1, or a duty cycle."""

    def __init__(self, prefer: str = "cgroup"):
        self.kind, self.base = "SIGSTOP/SIGCONT duty cycle of the runner's process group", Path("/")
        if prefer == "cgroup":
            self._find_cgroup()
        self.kind += f", period {PERIOD_US // 1000} ms"

    def _find_cgroup(self) -> None:
        for where, _ in _mounts("cgroup2"):
            own = _own_cgroup("")
            ctl = Path(where) / "cgroup.controllers"
            if own is None or not ctl.exists() or "cpu" not in ctl.read_text().split():
                continue
            base = Path(where) / own.lstrip("/")
            try:
                (base / "cgroup.subtree_control").write_text("+cpu")
            except OSError:
                continue  # the cpu controller cannot be given to this cgroup's children
            d = _try_dir(base, f"ks-bench-{os.getpid()}")
            if d is not None:
                try:
                    (d / "cgroup.subtree_control").write_text("+cpu")
                except OSError:
                    d.rmdir()
                    continue
                self.kind, self.base = "cgroup v2 cpu.max", d
                return
        for where, opts in _mounts("cgroup"):
            own = _own_cgroup("cpu")
            if "cpu" not in opts or own is None:
                continue
            d = _try_dir(Path(where) / own.lstrip("/"), f"ks-bench-{os.getpid()}")
            if d is not None:
                self.kind, self.base = "cgroup v1 cpu.cfs_quota_us (cgroup v2 has no cpu controller here)", d
                return

    def group(self, name: str, cores: float) -> Group:
        """A quota of half a core for each of ``cores``."""
        return Group(self, name, cores)

    def close(self) -> None:
        if self.kind.startswith("cgroup"):
            try:
                self.base.rmdir()
            except OSError:
                pass


def launcher(cgroup: Optional[Path], cpus: Optional[set[int]], session: bool) -> list[str]:
    out = [sys.executable, str(HERE)]
    if cgroup is not None:
        out += ["--cgroup", str(cgroup)]
    if cpus:
        out += ["--cpus", ",".join(str(c) for c in sorted(cpus))]
    return out + (["--session"] if session else []) + ["--"]


def quota_reference(group: Optional[Group], cpus: Optional[set[int]], seconds: float = 2.0) -> tuple[float, float]:
    """(CPU ms, wall ms) of one reference loop run in ``group`` on ``cpus``, in a process of its
    own: the CPU median of the loops (as ``harness.reference_ms``), the wall time over ``seconds``
    of loops divided by their count."""
    code = ("import json,statistics,sys,time; sys.path.insert(0, sys.argv[1]); from harness import reference_loop;"
            "reference_loop(); t=time.monotonic(); cpu=[]\n"
            f"while time.monotonic()-t < {seconds}: cpu.append(reference_loop())\n"
            "print(json.dumps([statistics.median(cpu), (time.monotonic()-t)*1000/len(cpu)]))")
    prefix = group.launcher(cpus) if group is not None else launcher(None, cpus, session=False)
    proc = subprocess.Popen([*prefix, sys.executable, "-c", code, str(HERE.parent)], stdout=subprocess.PIPE,
                            text=True)
    if group is not None:
        group.attach(proc.pid)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        if group is not None:
            group.release()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    cpu, wall = json.loads(out)
    return cpu, wall


def _enter(argv: Sequence[str]) -> None:
    """``--cgroup DIR`` ``--cpus 1,2`` ``--session`` ``--`` command...: enter, then exec."""
    args = list(argv)
    cut = args.index("--")
    opts, cmd = args[:cut], args[cut + 1:]
    if "--session" in opts:
        os.setpgid(0, 0)
    if "--cgroup" in opts:
        Path(opts[opts.index("--cgroup") + 1], "cgroup.procs").write_text(str(os.getpid()))
    if "--cpus" in opts:
        os.sched_setaffinity(0, {int(c) for c in opts[opts.index("--cpus") + 1].split(",")})
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    _enter(sys.argv[1:])
