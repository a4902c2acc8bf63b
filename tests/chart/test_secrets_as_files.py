"""The chart renders no secret into an environment variable, in any mode (docs/deployment.md,
"Secrets are files"): every secret is a file of a mounted Secret, and checkov, run on
`helm template`'s output of each mode, finds no secret in the environment (CKV_K8S_35, "Prefer
using secrets as files over secrets as environment variables") and no secret outside a Secret
object (its secrets scanner, CKV_SECRET_*).

checkov is a tool of its own, in .venv-checkov/ (`make checkov`, from requirements/checkov.txt
with hashes; never a dependency of the project): built here when it is missing, under a lock so
that two test workers build it once. Without it (no package registry) the checkov tests skip, or
fail under KS_REQUIRE_ALL=1 as in CI.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.chart.conftest import CHART, CI_VALUES, Helm
from tests.conftest import ROOT

THREE_SHARDS = CHART / "tests" / "values" / "three-shards.yaml"
MODES = {"single": ["-f", str(CI_VALUES["single"])], "ha": ["-f", str(CI_VALUES["ha"])],
         "shards": ["-f", str(CI_VALUES["ha"]), "-f", str(THREE_SHARDS)]}
# single mode with its policies from a private repository (git-sync's token a file too)
GIT_SYNC = [*MODES["single"], "--set", "policies.files=null", "--set", "policies.gitSync.enabled=true",
            "--set", "policies.gitSync.repo=https://git.example.internal/risk/policies.git",
            "--set", "policies.gitSync.credentials.existingSecret=policies-git",
            "--set", "policies.gitSync.credentials.username=ks-bot",
            "--set", "accounts.document=", "--set", "accounts.path=accounts.yaml"]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CHECKOV_STAMP = ROOT / ".venv-checkov" / ".installed"
MARKER = "SECRET-MARKER"


def _every_secret_value(tmp_path: Path, mode: str) -> list[str]:
    """Values giving every secret the chart takes a value with the marker in it: the API token, the
    audit key, the PostgreSQL URL (ha), the documents' files, the TLS and audit-sink Secrets."""
    values: dict = {
        "apiToken": {"value": f"{MARKER}-token"},
        "auditKey": {"value": f"{MARKER}-audit-0123456789abcdef0123456789abcdef"},
        "secrets": {"files": {"binance-api-key": f"{MARKER}-key", "binance-secret": f"{MARKER}-secret"}},
        "tls": {"enabled": True, "existingSecret": "ks-tls"},
        "auditSinks": {"urls": ["syslog+tls://siem.example:6514?ca_file=/var/run/secrets/killswitch-audit-sink/ca.crt"],
                       "tlsSecret": "ks-siem-tls"},
    }
    if mode != "single":
        values["ha"] = {"postgresql": {"existingSecret": "", "url": f"postgresql://ks:{MARKER}-pg@db/ks"}}
    path = tmp_path / "secret-values.json"  # JSON is YAML, and quotes the URL's "?" as it is
    path.write_text(json.dumps(values))
    return [*(GIT_SYNC if mode == "git-sync" else MODES[mode]), "-f", str(path)]


def _containers(doc: dict) -> list[dict]:
    pod = doc.get("spec", {}).get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


@pytest.mark.parametrize("mode", [*sorted(MODES), "git-sync"])
def test_no_container_of_any_mode_takes_a_secret_from_the_environment(helm: Helm, mode, tmp_path):
    docs = helm.template(*_every_secret_value(tmp_path, mode))
    workloads = [d for d in docs if _containers(d)]
    if mode == "git-sync":
        assert {c["name"] for c in _containers(workloads[0])} == {"git-sync-init", "git-sync", "runner"}
    assert len(workloads) == (3 if mode == "shards" else 1), [d["metadata"]["name"] for d in workloads]
    in_secrets = []
    for doc in docs:
        if doc["kind"] == "Secret":
            in_secrets += [base64.b64decode(v).decode() for v in (doc.get("data") or {}).values()]
            continue
        assert MARKER not in json.dumps(doc), f"a secret value is in the {doc['kind']} {doc['metadata']['name']}"
        for c in _containers(doc):
            where = f"{doc['metadata']['name']}/{c['name']}"
            refs = [e["name"] for e in c.get("env", []) if "secretKeyRef" in (e.get("valueFrom") or {})]
            assert not refs, f"{where}: a secret as an environment variable: {refs}"
            assert not [r for r in c.get("envFrom", []) if "secretRef" in r], f"{where}: envFrom a Secret"
    # every value did land in a Secret, mounted as a file
    on_sqlite = mode in ("single", "git-sync")
    assert sum(MARKER in v for v in in_secrets) == (4 if on_sqlite else 5), in_secrets
    runner = next(c for c in _containers(workloads[0]) if c["name"] == "runner")
    env = {e["name"]: e.get("value") for e in runner["env"]}
    assert env["KS_API_TOKEN_FILE"] == "/var/run/secrets/killswitch-token/token"
    assert (env.get("KS_STATE_URL_FILE") == "/var/run/secrets/killswitch-state/url") == (not on_sqlite)


def test_the_environment_form_is_rendered_only_when_asked_for(helm: Helm, tmp_path):
    """secrets.env / secrets.existingSecret, for documents that still say {env: NAME}: off by
    default, and then the only secret in the environment (the reason it stays a values switch)."""
    docs = helm.template(*MODES["single"], "--set", "secrets.env.BINANCE_API_KEY=k")
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    runner = next(c for c in _containers(deployment) if c["name"] == "runner")
    assert runner["envFrom"] == [{"secretRef": {"name": "ks-killswitch-env"}}]


# --- checkov ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def checkov() -> str:
    """checkov from .venv-checkov/, built (`make checkov`) once when missing."""
    lock = ROOT / ".venv-checkov.lock"
    with lock.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            if not CHECKOV_STAMP.exists():
                r = subprocess.run(["make", "--no-print-directory", "checkov"], cwd=ROOT, capture_output=True,
                                   text=True, timeout=1200)
                if r.returncode != 0:
                    why = f"checkov could not be installed (make checkov exited {r.returncode}): " \
                          + (r.stderr or r.stdout).strip()[-800:]
                    if os.environ.get("KS_REQUIRE_ALL") == "1":
                        pytest.fail(f"{why} (KS_REQUIRE_ALL=1)")
                    pytest.skip(why)
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
    assert os.access(CHECKOV, os.X_OK), f"{CHECKOV_STAMP} is there but {CHECKOV} is not"
    return str(CHECKOV)


def run_checkov(checkov: str, rendered: list[Path]) -> dict[str, dict[str, list[dict]]]:
    """checkov's failed checks on the files ``rendered`` (one directory's), by file name, then by
    framework (kubernetes, secrets): one checkov run for them all, its start (about 3 s of CPU)
    being most of a run's cost; each finding names the file it is in."""
    args = [a for f in rendered for a in ("-f", f.name)]
    r = subprocess.run([checkov, *args, "--framework", "kubernetes", "secrets", "--skip-download",
                        "--output", "json", "--quiet", "--compact"], cwd=rendered[0].parent, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode in (0, 1), f"checkov exited {r.returncode}: {r.stderr[-2000:]}"
    reports = json.loads(r.stdout) if r.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    found: dict[str, dict[str, list[dict]]] = {f.name: {} for f in rendered}
    for rep in reports:
        if "check_type" not in rep:  # nothing failed: checkov prints its summary only
            continue
        for f in rep["results"]["failed_checks"]:
            found[Path(f["file_path"]).name].setdefault(rep["check_type"], []).append(f)
    return found


SCANNED = [*sorted(MODES), "git-sync"]


@pytest.fixture(scope="module")
def checkov_findings(helm: Helm, checkov, tmp_path_factory) -> tuple[Path, dict[str, dict[str, list[dict]]]]:
    """The directory of `helm template`'s output of each mode (every secret the chart takes given
    a value with the marker in it: ``<mode>.yaml``) and of the environment form (``env.yaml``),
    and checkov's failed checks on each file (:func:`run_checkov`)."""
    out = tmp_path_factory.mktemp("checkov")
    for mode in SCANNED:
        values = _every_secret_value(tmp_path_factory.mktemp(f"values-{mode}"), mode)
        (out / f"{mode}.yaml").write_text(helm.run("template", "ks", str(CHART), "--namespace", "trading",
                                                   *values).stdout)
    (out / "env.yaml").write_text(helm.run("template", "ks", str(CHART), "--namespace", "trading", *MODES["single"],
                                           "--set", "secrets.env.BINANCE_API_KEY=k").stdout)
    return out, run_checkov(checkov, sorted(out.glob("*.yaml")))


def _secret_line_ranges(text: str) -> list[range]:
    """The 1-based line ranges of the `kind: Secret` documents of a `helm template` output."""
    out, start, is_secret = [], 1, False
    lines = text.splitlines()
    for i, line in enumerate(lines + ["---"], start=1):
        if line.startswith("---"):
            if is_secret:
                out.append(range(start, i))
            start, is_secret = i, False
        elif line == "kind: Secret":
            is_secret = True
    return out


@pytest.mark.parametrize("mode", SCANNED)
def test_checkov_finds_no_secret_in_the_environment_of_any_mode(checkov_findings, mode):
    out, findings = checkov_findings
    rendered = out / f"{mode}.yaml"
    failed = findings[rendered.name]
    found = {(f["check_id"], f["resource"]) for f in failed.get("kubernetes", [])}
    print(f"\ncheckov on {mode}: {sorted(found)}")
    assert not [f for f in found if f[0] == "CKV_K8S_35"], sorted(found)
    # the secrets scanner may find the chart's own Secret objects' data, and the pod's checksum
    # annotations (SHA-256 digests, high-entropy hex: CKV_SECRET_6), and nothing else
    lines = rendered.read_text().splitlines()
    secrets = _secret_line_ranges(rendered.read_text())
    stray = [(f["check_id"], f["file_line_range"], lines[f["file_line_range"][0] - 1].strip()[:60])
             for f in failed.get("secrets", [])
             if not any(f["file_line_range"][0] in r for r in secrets)
             and not re.fullmatch(r"\s*checksum/[a-z]+: [0-9a-f]{64}", lines[f["file_line_range"][0] - 1])]
    assert not stray, stray


def test_checkov_sees_a_secret_in_the_environment(checkov_findings):
    """The check above can fail: the environment form (secrets.env) is what checkov flags, in the
    same run as the modes' files."""
    _, findings = checkov_findings
    found = {f["check_id"] for f in findings["env.yaml"].get("kubernetes", [])}
    assert "CKV_K8S_35" in found, found


def test_an_env_reference_with_a_default_needs_nothing_set(helm: Helm, tmp_path):
    """{env: NAME, default: URL} (the example routes' fallback) falls back to its plain local URL
    while NAME is unset: nothing need set it. The same name without a default still must be set."""
    routes = (ROOT / "policies" / "routes.yaml").read_text()
    assert '{env: KS_AUDIT_WEBHOOK_URL, default: "json://127.0.0.1:9099/killswitch"}' in routes
    defaulted = tmp_path / "routes.yaml"
    defaulted.write_text(routes)
    base = [*MODES["single"], "--set", "secrets.existingFilesSecret=ks-files"]
    helm.template(*base, "--set-file", f"policies.files.routes\\.yaml={defaulted}")
    bare = tmp_path / "bare.yaml"
    bare.write_text(routes.replace(', default: "json://127.0.0.1:9099/killswitch"}', "}"))
    r = helm.run("template", "ks", str(CHART), "--namespace", "trading", *base,
                 "--set-file", f"policies.files.routes\\.yaml={bare}", check=False)
    assert r.returncode != 0 and "environment variable KS_AUDIT_WEBHOOK_URL, but nothing sets it" in r.stderr
