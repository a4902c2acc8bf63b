"""Benchmark: the pre-commit hooks' wall time (.pre-commit-hooks.yaml), run by the `pre-commit`
package as a policy repository runs them, from a .pre-commit-config.yaml that names this
repository by path at its HEAD commit.

Two scratch policy repositories: the example one (policies/ and runbooks/ at its root, the hooks'
default `args: [.]`) and the 1,000-file one that bench/validate.py generates (policies/ and
runbooks/, `args: [policies/]`). For each:

- first run: `pre-commit run ksctl-validate --all-files` with an empty PRE_COMMIT_HOME, so it
  clones this repository and installs the hook's environment (pip, from the package index, with
  pip's own cache as the machine has it) before it validates;
- warm: the same command once that environment exists, as on every commit after the first;
  and `ksctl-test` warm, and `ksctl validate --strict` alone, for what pre-commit adds.

Prints the median (p50) and range of each over the runs, with the machine and the date. Needs the
package registries (the install) and a committed .pre-commit-hooks.yaml. Not a test: the machine
is noisy.

    .venv/bin/python bench/precommit.py                 # 3 first runs, 5 warm, each repository
    .venv/bin/python bench/precommit.py --cold-runs 1 --warm-runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
KSCTL = Path(sys.executable).with_name("ksctl")
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "bench",
           "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com", "PRE_COMMIT_COLOR": "never"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


def hook_rev() -> str:
    rev = git(ROOT, "rev-parse", "HEAD")
    if git(ROOT, "status", "--porcelain", "--", ".pre-commit-hooks.yaml"):
        print("note: .pre-commit-hooks.yaml has uncommitted changes; HEAD's is what runs", file=sys.stderr)
    return rev


def example_repo(root: Path) -> tuple[str, list[str]]:
    shutil.copytree(ROOT / "policies", root, ignore=shutil.ignore_patterns(".github"))
    shutil.copytree(ROOT / "runbooks", root / "runbooks")
    return "the example repository (policies/)", []


def bench_repo(root: Path, files: int) -> tuple[str, list[str]]:
    from validate import write_repo

    root.mkdir()
    n, size = write_repo(root, files)
    return f"the bench repository ({n:,} files, {size:,} bytes; bench/validate.py)", ["policies/"]


def make_repo(root: Path, rev: str, args: list[str]) -> None:
    hooks = "".join(f"      - id: {h}\n" + (f"        args: {args}\n" if args else "")
                    for h in ("ksctl-validate", "ksctl-test"))
    (root / ".pre-commit-config.yaml").write_text(f"repos:\n  - repo: {ROOT}\n    rev: {rev}\n    hooks:\n{hooks}")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "policies")


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t, r.returncode, r.stdout + r.stderr


def line(label: str, walls: list[float], codes: set[int]) -> str:
    walls = sorted(walls)
    return (f"  {label:<44} p50 {statistics.median(walls):6.2f} s  (min {walls[0]:.2f}, max {walls[-1]:.2f}; "
            f"{len(walls)} runs; exit {','.join(map(str, sorted(codes)))})")


def measure(name: str, root: Path, args: list[str], cold_runs: int, warm_runs: int, tmp: Path) -> None:
    pre_commit = [sys.executable, "-m", "pre_commit", "run", "--all-files"]
    env = {**os.environ, **GIT_ENV}
    print(f"{name}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    cold, codes = [], set()
    for i in range(cold_runs):
        home = tmp / f"home-{root.name}-{i}"
        wall, code, out = timed([*pre_commit, "ksctl-validate"], root, {**env, "PRE_COMMIT_HOME": str(home)})
        if "Installing environment" not in out:
            raise SystemExit(f"the first run installed nothing:\n{out}")
        cold.append(wall)
        codes.add(code)
        if i < cold_runs - 1:
            shutil.rmtree(home)
    print(line("ksctl-validate, first run (clone + install)", cold, codes))
    env["PRE_COMMIT_HOME"] = str(home)
    for hook in ("ksctl-validate", "ksctl-test"):
        runs = [timed([*pre_commit, hook], root, env) for _ in range(warm_runs)]
        print(line(f"{hook}, warm", [w for w, _, _ in runs], {c for _, c, _ in runs}))
    direct = [timed([str(KSCTL), "validate", "--strict", *(args or ["."])], root, env) for _ in range(warm_runs)]
    print(line("ksctl validate --strict alone (no pre-commit)", [w for w, _, _ in direct], {c for _, c, _ in direct}))
    said = next((ln for ln in direct[-1][2].splitlines() if ln.startswith(("ok:", "FAILED:"))), "(no summary)")
    print(f"  validate says: {said}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cold-runs", type=int, default=3, help="first runs (each a fresh install), per repository")
    ap.add_argument("--warm-runs", type=int, default=5, help="warm runs of each hook, per repository")
    ap.add_argument("--files", type=int, default=1000, help="files of the generated repository")
    args = ap.parse_args()
    import pre_commit.constants
    from harness import machine

    rev = hook_rev()
    print(f"pre-commit {pre_commit.constants.VERSION}, hooks at {rev[:12]}; {machine()}")
    with tempfile.TemporaryDirectory(prefix="ks-precommit-") as t:
        tmp = Path(t)
        for make in (lambda r: example_repo(r), lambda r: bench_repo(r, args.files)):
            root = tmp / f"repo-{len(list(tmp.glob('repo-*')))}"
            name, hook_args = make(root)
            make_repo(root, rev, hook_args)
            measure(name, root, hook_args, args.cold_runs, args.warm_runs, tmp)


if __name__ == "__main__":
    main()
