"""The Action run by `act` (github.com/nektos/act), GitHub's runner re-implemented: a workflow that
uses it, on a scratch policy repository with a pull request, with the real install step (the
locks, from the package index) and act's own reading of the composite action (expressions,
`if:`, outputs, the job summary).

act runs here without docker, on the host (`-P ubuntu-latest=-self-hosted`); `actions/checkout`
is act's own copy of the repository, this checkout stands in for the Action's repository and a
composite that prints the machine's Python for `actions/setup-python` (`--local-repository`), so
nothing is fetched from GitHub. act is not in the project's environments (a Go program: `go install
github.com/nektos/act@v0.2.89`, about a minute), so the test runs where it is on PATH and skips
elsewhere, CI included; it takes one to two minutes, most of it the install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.cli.test_action_run import RECORDING, TIGHTER, git
from tests.conftest import POLICIES, ROOT, require_tool

SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065"
STAND_IN = """name: the machine's Python, standing in for actions/setup-python
inputs:
  python-version: {default: "3.11"}
runs:
  using: composite
  steps:
    - shell: bash
      run: python3 --version
"""


@pytest.mark.network
def test_act_runs_the_action_on_a_pull_request(tmp_path):
    act = shutil.which("act")
    if act is None:
        # optional, never a missing tool CI must have: test_action_run.py runs the Action's steps through
        # bash in every run; act (go install github.com/nektos/act@v0.2.89) runs them as GitHub's runner would
        pytest.skip("optional: act is not on PATH (go install github.com/nektos/act@v0.2.89)")
    require_tool("git")
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert rev, "not a git checkout"
    origin = tmp_path / "policy-repo"
    shutil.copytree(POLICIES, origin, ignore=shutil.ignore_patterns(".github"))
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", ".")
    git(origin, "commit", "-q", "-m", "policies")
    ws = tmp_path / "workspace"
    git(tmp_path, "clone", "-q", str(origin), str(ws))
    git(ws, "checkout", "-q", "-b", "pr")
    shutil.copy(TIGHTER, ws / "futures-book.yaml")
    (ws / "tests" / "futures-book.test.yaml").unlink()
    (ws / ".github" / "workflows").mkdir(parents=True)
    (ws / ".github" / "workflows" / "review.yml").write_text(f"""name: review
on: pull_request
jobs:
  review:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: {{fetch-depth: 0}}
      - uses: trading-platform/killswitch@{rev}
        id: ks
        with: {{recording: {RECORDING}, github-token: ""}}
      - run: echo "outputs verdict=${{{{ steps.ks.outputs.verdict }}}} coverage=${{{{ steps.ks.outputs.coverage }}}}"
""")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "futures book: cut earlier")
    stand_in = tmp_path / "setup-python"
    stand_in.mkdir()
    (stand_in / "action.yml").write_text(STAND_IN)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "base": {"ref": "main"}, "head": {
        "ref": "pr", "repo": {"full_name": "desk/policies"}}}, "repository": {"full_name": "desk/policies"}}))

    r = subprocess.run(
        [act, "pull_request", "-e", str(event), "-P", "ubuntu-latest=-self-hosted",
         "--local-repository", f"trading-platform/killswitch@{rev}={ROOT}",
         "--local-repository", f"{SETUP_PYTHON}={stand_in}"],
        cwd=ws, capture_output=True, text=True, timeout=600,
        # act's work directories under a HOME of the test's; pip's cache where it was
        env={**os.environ, "HOME": str(tmp_path),
             "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", os.path.expanduser("~/.cache/pip"))})

    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-5000:]
    assert "Success - Main Install killswitch" in out
    assert "outputs verdict=changed coverage=" in out
    assert "OLD reaches stage 1 at 2026-03-02T14:07:00Z, NEW at 2026-03-02T14:04:00Z" in out
