"""helm and the helm-unittest plugin for the chart tests, and rendering the chart to objects.

The tools come from the machine's tools cache that .ci/install-helm builds (``make tools``, or in
the background by ``make test``; ``.ci/install-helm --dir`` prints where, KS_TOOLS_DIR overrides
it) or else from PATH and the user's helm plugins. While a build holds the cache's lock, the
``helm`` fixture waits for it (at most KS_TOOLS_WAIT seconds, default 1200): the root conftest
orders the tests that use it last, so the rest of the suite runs meanwhile. Without the tools
the chart tests skip, or fail under KS_REQUIRE_ALL=1 as in CI. helm runs with its cache, config
and data homes in a temp dir, so the tests neither read nor write the user's helm setup
(repositories, registries).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT, require_tool

CHART = ROOT / "charts" / "killswitch"
CI_VALUES = {"single": CHART / "ci" / "single-values.yaml", "ha": CHART / "ci" / "ha-values.yaml"}
INSTALL_HELM = ROOT / ".ci" / "install-helm"
INSTALL_HINT = "build it with `make tools` (.ci/install-helm: needs Go and the Go module proxy)"


def tools_dir() -> Path:
    """Where .ci/install-helm puts the tools (it alone knows the versions in the path)."""
    if os.environ.get("KS_TOOLS_DIR"):
        return Path(os.environ["KS_TOOLS_DIR"])
    out = subprocess.run(["bash", str(INSTALL_HELM), "--dir"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip(), out.stderr
    return Path(out.stdout.strip())


def wait_for_tools_build(tools: Path, timeout_s: float) -> None:
    """Block while a build of ``tools`` holds its lock (.ci/install-helm --background), at most
    ``timeout_s``; pytest.fail when it takes longer."""
    lock = tools.with_name(tools.name + ".lock")
    if not lock.exists():
        return
    deadline, announced = time.monotonic() + timeout_s, False
    with lock.open("a") as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the helm build (.ci/install-helm) still runs after {timeout_s:.0f}s; "
                                f"see {tools.with_name(tools.name + '.log')}")
                if not announced:
                    print(f"\nwaiting for the helm build to finish (log {tools.with_name(tools.name + '.log')})",
                          file=sys.stderr)
                    announced = True
                time.sleep(1)
                continue
            fcntl.flock(f, fcntl.LOCK_UN)
            return


def build_log_tail(tools: Path, lines: int = 15) -> str:
    log = tools.with_name(tools.name + ".log")
    if not log.exists():
        return ""
    return "\nlast lines of " + str(log) + ":\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def require(what: str) -> None:
    """Skip, or fail under KS_REQUIRE_ALL=1 — the rule of tests.conftest.require_tool."""
    if os.environ.get("KS_REQUIRE_ALL") == "1":
        pytest.fail(f"{what} is required (KS_REQUIRE_ALL=1) but not installed; {INSTALL_HINT}"
                    + build_log_tail(tools_dir()))
    pytest.skip(f"{what} not installed; {INSTALL_HINT}")


@dataclass
class Helm:
    path: str
    env: dict
    plugins: Optional[str]  # HELM_PLUGINS holding `unittest`, None when it is not installed

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        r = subprocess.run([self.path, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    def template(self, *args: str, release: str = "ks", namespace: str = "trading") -> list[dict]:
        """The chart rendered with ``args`` (values files, --set ...), as a list of objects."""
        out = self.run("template", release, str(CHART), "--namespace", namespace, *args).stdout
        return [d for d in YAML(typ="safe").load_all(out) if d]


@pytest.fixture(scope="session")
def helm(tmp_path_factory) -> Helm:
    tools = tools_dir()
    wait_for_tools_build(tools, float(os.environ.get("KS_TOOLS_WAIT", "1200")))
    local = tools / "bin" / "helm"
    path = str(local) if os.access(local, os.X_OK) else require_tool("helm")
    home = tmp_path_factory.mktemp("helm-home")
    env = dict(os.environ)
    plugins: Optional[str] = None
    if (tools / "helm-plugins" / "unittest" / "plugin.yaml").exists():
        plugins = str(tools / "helm-plugins")
    else:  # a helm-unittest the user installed with `helm plugin install`
        listed = subprocess.run([path, "plugin", "list"], env=env, capture_output=True, text=True, timeout=30)
        if any(line.split()[:1] == ["unittest"] for line in listed.stdout.splitlines()):
            plugins = subprocess.run([path, "env", "HELM_PLUGINS"], env=env, capture_output=True, text=True,
                                     timeout=30).stdout.strip()
    env.update(HELM_CACHE_HOME=str(home / "cache"), HELM_CONFIG_HOME=str(home / "config"),
               HELM_DATA_HOME=str(home / "data"), HELM_PLUGINS=plugins or str(home / "plugins"))
    return Helm(path, env, plugins)


def objects_of(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, name_suffix: str = "") -> dict:
    found = [d for d in objects_of(docs, kind) if d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} named *{name_suffix}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def runner_container(docs: list[dict]) -> dict:
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == "runner")


def write_values(path: Path, values: dict) -> str:
    """``values`` as a values file for ``helm -f``; its path."""
    with path.open("w") as f:
        YAML(typ="safe").dump(values, f)
    return str(path)
