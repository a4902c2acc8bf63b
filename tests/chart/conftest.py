"""helm and the helm-unittest plugin for the chart tests, and rendering the chart to objects.

The tools come from .tools/ (built by .ci/install-helm, ``make tools``) or else from PATH and the
user's helm plugins. Without them the chart tests skip, or fail under KS_REQUIRE_ALL=1 as in CI.
helm runs with its cache, config and data homes in a temp dir, so the tests neither read nor
write the user's helm setup (repositories, registries).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest
from ruamel.yaml import YAML

from tests.conftest import ROOT, require_tool

CHART = ROOT / "charts" / "killswitch"
CI_VALUES = {"single": CHART / "ci" / "single-values.yaml", "ha": CHART / "ci" / "ha-values.yaml"}
TOOLS = Path(os.environ.get("KS_TOOLS_DIR") or ROOT / ".tools")  # as .ci/install-helm
INSTALL_HINT = "build it with `make tools` (.ci/install-helm: needs Go and the Go module proxy)"


def require(what: str) -> None:
    """Skip, or fail under KS_REQUIRE_ALL=1 — the rule of tests.conftest.require_tool."""
    if os.environ.get("KS_REQUIRE_ALL") == "1":
        pytest.fail(f"{what} is required (KS_REQUIRE_ALL=1) but not installed; {INSTALL_HINT}")
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
    local = TOOLS / "bin" / "helm"
    path = str(local) if os.access(local, os.X_OK) else require_tool("helm")
    home = tmp_path_factory.mktemp("helm-home")
    env = dict(os.environ)
    plugins: Optional[str] = None
    if (TOOLS / "helm-plugins" / "unittest" / "plugin.yaml").exists():
        plugins = str(TOOLS / "helm-plugins")
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
