"""The pre-commit hooks (.pre-commit-hooks.yaml) run the way a policy repository runs them: by the
`pre-commit` package, from a .pre-commit-config.yaml that names this repository (by path, at its
HEAD commit), on a scratch git repository holding a copy of the example policies.

pre-commit installs the hooks' environment itself (`language: python`: this repository, with its
dependencies from the package index), so the test needs the registries: marked ``network``. One
install serves both runs (a good repository, then a broken policy). pip does not byte-compile
what it installs (``PIP_COMPILE=0``; pip reads ``PIP_NO_COMPILE=1`` as "compile"): ccxt alone is
some 700 modules, which neither hook imports, and what they import is compiled as they import
it. 14-16 CPU-s and about 20 s on two cores with pip's cache warm (30 CPU-s with the compile).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.conftest import POLICIES, ROOT, require_module, require_tool

GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "risk desk",
           "GIT_AUTHOR_EMAIL": "risk@example.com", "GIT_COMMITTER_NAME": "risk desk",
           "GIT_COMMITTER_EMAIL": "risk@example.com"}
HOOKS = ROOT / ".pre-commit-hooks.yaml"


def git(cwd: Path, *args: str) -> str:
    r = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                       env={**os.environ, **GIT_ENV})
    return r.stdout.strip()


def test_hooks_check_the_whole_policy_directory():
    hooks = {h["id"]: h for h in YAML(typ="safe").load(HOOKS.read_text())}
    assert set(hooks) == {"ksctl-validate", "ksctl-test"}
    assert hooks["ksctl-validate"]["entry"] == "ksctl validate --strict"
    assert hooks["ksctl-test"]["entry"] == "ksctl test"
    for hook in hooks.values():
        # a policy's meaning depends on the documents beside it: the directory, once, not the changed files
        assert hook["pass_filenames"] is False and hook["args"] == ["."]
        assert hook["language"] == "python"
    assert re.search(hooks["ksctl-validate"]["files"], "runbooks/flatten.md.j2")
    assert re.search(hooks["ksctl-test"]["files"], "tests/futures-book.test.yaml")
    assert not re.search(hooks["ksctl-test"]["files"], "README.md")


@pytest.mark.network
def test_hooks_run_through_pre_commit_on_a_policy_repository(tmp_path):
    require_tool("git")
    require_module("pre_commit")
    if git(ROOT, "rev-parse", "--is-inside-work-tree") != "true":
        pytest.skip("not a git checkout: pre-commit clones the hook repository at a commit")
    rev = git(ROOT, "rev-parse", "HEAD")
    committed = subprocess.run(["git", "cat-file", "-e", f"{rev}:.pre-commit-hooks.yaml"], cwd=ROOT)
    assert committed.returncode == 0, "the hooks are not in HEAD: commit .pre-commit-hooks.yaml"

    repo = tmp_path / "policy-repo"
    shutil.copytree(POLICIES, repo, ignore=shutil.ignore_patterns(".github"))
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {rev}\n    hooks:\n      - id: ksctl-validate\n      - id: ksctl-test\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "policies")
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "PRE_COMMIT_COLOR": "never",
           "PIP_COMPILE": "0"}

    def pre_commit() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=600)

    good = pre_commit()
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ksctl validate --strict" in good.stdout and "ksctl test" in good.stdout
    assert good.stdout.count("Passed") == 2, good.stdout

    text = (repo / "futures-book.yaml").read_text()
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "for: 3 ticks" in ln)
    (repo / "futures-book.yaml").write_text(text.replace("for: 3 ticks", "for: three ticks", 1))
    broken = pre_commit()
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert broken.stdout.count("Failed") == 2, broken.stdout
    col = text.splitlines()[line - 1].index("3 ticks") + 1
    assert f"futures-book.yaml:{line}:{col}: error" in broken.stdout, broken.stdout
