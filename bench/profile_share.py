"""Where a process's core goes: py-spy's samples of it, summed by frame and by kind of work.

``record(pid, seconds, out)`` samples a running process (every thread, only while it runs: py-spy
does not slow the process it samples, which a tracing profiler such as cProfile would, about
twice, and unevenly) into py-spy's collapsed stacks; ``summary(path)`` reads them back:

- the top frames by *own* samples (the frame at the top of the stack: where the core was);
- the shares of the samples whose stack passes through each kind of work (:data:`KINDS`: ccxt,
  JSON parsing, the readers' frames, the venue adapters, the engine, pydantic, the state store,
  the API and the gate, logging), a sample counted in every kind its stack passes through, and
  the event loop's own (the innermost frame asyncio's: selecting, scheduling, a transport).

``python bench/profile_share.py record PID SECONDS OUT`` and ``python bench/profile_share.py show
OUT`` do the same from a shell. Prints figures; asserts nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

# kind → the file paths (their beginnings, as py-spy names a frame: ``func (path:line)``, the path
# relative to the site-packages or the checkout) whose frames are that kind's work
KINDS: dict[str, tuple[str, ...]] = {
    "ccxt": ("(ccxt/",),
    "json parsing": ("(json/", "(orjson", "(ujson"),
    "pickle and frames": ("(pickle.py", "(adapters/remote/wire.py",),
    "venue adapters": ("(adapters/ccxt_exchange/", "(adapters/venues/"),
    "readers' link": ("(adapters/remote/",),
    "engine": ("(killswitch/engine/",),
    "pydantic": ("(pydantic/",),
    "state store": ("(killswitch/state/", "(sqlite3/", "(psycopg/"),
    "api and gate": ("(killswitch/face/api/", "(killswitch/runner/gate/", "(aiohttp/"),
    "logging": ("(logging/",),
}
# a sample whose innermost frame is one of these is the event loop's own work (selecting,
# scheduling, a transport's writes and reads)
LOOP_OWN = ("(asyncio/", "(selectors.py")


def py_spy() -> Optional[str]:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, rate: int = 100) -> Optional[str]:
    """Sample ``pid`` for ``seconds`` into ``out`` (collapsed stacks); why not, or None."""
    tool = py_spy()
    if tool is None:
        return "py-spy not installed (pip install py-spy)"
    run = subprocess.run([tool, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate),
                          "--format", "raw", "--output", str(out), "--nonblocking"],
                         capture_output=True, text=True)
    if run.returncode != 0 or not out.exists():
        return f"py-spy failed ({run.returncode}): {run.stderr.strip()[-300:]}"
    return None


def read(path: Path) -> list[tuple[list[str], int]]:
    """The stacks (outermost frame first) and their samples."""
    out = []
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if stack and n.isdigit():
            out.append((stack.split(";"), int(n)))
    return out


def summary(path: Path, top: int = 15) -> str:
    stacks = read(path)
    total = sum(n for _, n in stacks)
    if not total:
        return "no samples"
    own: Counter[str] = Counter()
    for frames, n in stacks:
        own[frames[-1]] += n
    loop_own = sum(n for frame, n in own.items() if any(m in frame for m in LOOP_OWN))
    lines = [f"{total} samples"]
    lines.append("shares (a sample counts in every kind its stack passes through):")
    for kind, share in shares(path).items():
        lines.append(f"  {kind:<18} {share:5.1f} %")
    lines.append(f"  {'event loop (own)':<18} {100 * loop_own / total:5.1f} %")
    lines.append(f"top {top} frames by own samples:")
    for frame, n in own.most_common(top):
        lines.append(f"  {100 * n / total:5.1f} %  {frame}")
    return "\n".join(lines)


def shares(path: Path) -> dict[str, float]:
    """Each kind's share of the samples, in percent."""
    stacks = read(path)
    total = sum(n for _, n in stacks) or 1
    return {kind: 100 * sum(n for frames, n in stacks if any(m in ";".join(frames) for m in marks)) / total
            for kind, marks in KINDS.items()}


def main(argv: list[str]) -> int:
    if len(argv) == 5 and argv[1] == "record":
        why = record(int(argv[2]), float(argv[3]), Path(argv[4]))
        if why:
            print(why)
            return 1
        print(summary(Path(argv[4])))
        return 0
    if len(argv) == 3 and argv[1] == "show":
        print(summary(Path(argv[2])))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
