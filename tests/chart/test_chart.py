"""The Helm chart: lint, render for both modes, validate against the Kubernetes schemas offline,
run the helm-unittest suites (charts/killswitch/tests), and check that what the chart mounts and
passes on the command line is what `ksctl run` accepts."""

from __future__ import annotations

import base64
import math
import re
import shlex
from pathlib import Path

import kubernetes_validate
import pytest
from click.testing import CliRunner
from kubernetes_validate.utils import latest_version
from ruamel.yaml import YAML

from killswitch.cli.common import state_url_from_file
from killswitch.cli.main import cli
from killswitch.cli.run import run as run_command
from tests.chart.conftest import CHART, CI_VALUES, Helm, objects_of, one, require, runner_container, write_values
from tests.conftest import POLICIES, ROOT

RUNBOOKS = ROOT / "runbooks"

MODES = sorted(CI_VALUES)


def _min_kube_version() -> str:
    """The oldest Kubernetes the chart claims (Chart.yaml kubeVersion: ">=1.27.0-0")."""
    chart = YAML(typ="safe").load((CHART / "Chart.yaml").read_text())
    m = re.match(r">=\s*(\d+\.\d+)", chart["kubeVersion"])
    assert m, chart["kubeVersion"]
    return m.group(1)


KUBE_VERSIONS = [_min_kube_version(), ".".join(latest_version().split(".")[:2])]


def render(helm: Helm, mode: str, *args: str) -> list[dict]:
    return helm.template("-f", str(CI_VALUES[mode]), *args)


# --- lint and schemas --------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_lint_strict_passes(helm, mode):
    r = helm.run("lint", "--strict", str(CHART), "-f", str(CI_VALUES[mode]))
    assert "1 chart(s) linted, 0 chart(s) failed" in r.stdout, r.stdout


# The other ways in: policies from git-sync, everything from existing ConfigMaps and Secrets.
VARIANTS = {
    "git-sync": ["--set", "policies.files=null", "--set", "policies.gitSync.enabled=true",
                 "--set", "policies.gitSync.repo=https://git.example.internal/risk/policies.git",
                 "--set", "policies.gitSync.credentials.existingSecret=policies-git-credentials",
                 "--set", "policies.gitSync.credentials.username=ks-bot",
                 "--set", "accounts.document=", "--set", "accounts.path=accounts.yaml"],
    "existing": ["--set", "policies.files=null", "--set", "policies.existingConfigMap=desk-policies",
                 "--set", "accounts.document=", "--set", "accounts.existingConfigMap=desk-accounts",
                 "--set", "secrets.env=null", "--set", "secrets.files=null",
                 "--set", "secrets.existingSecret=desk-env", "--set", "secrets.existingFilesSecret=desk-files",
                 "--set", "apiToken.value=", "--set", "apiToken.existingSecret=desk-api-token",
                 "--set", "runbooks.files=null", "--set", "runbooks.existingConfigMap=desk-runbooks"],
    "network-policy": ["--set", "networkPolicy.enabled=true", "--set", "networkPolicy.ingress.namespaces={monitoring}",
                       "--set", "networkPolicy.ingress.podSelectors[0].app=bot",
                       "--set", "networkPolicy.egress.exchanges.allowAll=false",
                       "--set", "networkPolicy.egress.exchanges.cidrs={203.0.113.0/24}",
                       "--set", "networkPolicy.egress.collector.to[0].ipBlock.cidr=10.1.0.0/16",
                       "--set", "podDisruptionBudget.maxUnavailable=50%", "--set", "rolloutToken=1",
                       "--set", "reloader.enabled=true"],
    "tls": ["--set", "tls.enabled=true", "--set", "tls.existingSecret=ks-tls",
            "--set", "tls.clientAuthType=VerifyClientCertIfGiven", "--set", "serviceMonitor.enabled=true"],
}


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
@pytest.mark.parametrize("mode,variant", [(m, None) for m in MODES] + [("single", v) for v in VARIANTS]
                         + [("ha", "existing"), ("ha", "network-policy")])
def test_rendered_objects_match_kubernetes_schemas(helm, mode, variant, kube):
    docs = render(helm, mode, *VARIANTS.get(variant, []))
    kinds = sorted(d["kind"] for d in docs)
    assert {"Deployment", "Service", "PodDisruptionBudget", "ServiceAccount"} <= set(kinds), kinds
    if variant is None:
        assert {"ConfigMap", "Secret"} <= set(kinds), kinds
    assert ("PersistentVolumeClaim" in kinds) == (mode == "single")
    assert ("NetworkPolicy" in kinds) == (variant == "network-policy")
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            continue  # a CRD: no schema ships with kubernetes-validate; see the test below
        # strict: an unknown or misplaced field is an error, not silently dropped by the API server
        kubernetes_validate.validate(doc, kube, strict=True)


@pytest.mark.parametrize("mode", MODES)
def test_every_namespaced_object_names_the_release_namespace(helm, mode):
    """`helm template | kubectl apply` puts nothing in the default namespace (checkov CKV_K8S_21):
    each object names the release's, but the PrometheusRule, the dashboard and the ServiceMonitor,
    which may live where Prometheus and Grafana look (their values' namespace)."""
    cluster_scoped = {"PriorityClass"}
    elsewhere = {"PrometheusRule", "ServiceMonitor"}
    for doc in render(helm, mode, "--set", "grafanaDashboard.namespace=monitoring",
                      "--set", "trustedProxy.enabled=true", "--set", "trustedProxy.sources={10.42.0.0/16}"):
        where = doc["metadata"].get("namespace")
        if doc["kind"] in cluster_scoped:
            assert where is None, doc["metadata"]
        elif doc["kind"] not in elsewhere and not doc["metadata"]["name"].endswith("-dashboard"):
            assert where == "trading", (doc["kind"], doc["metadata"])


def test_schema_validation_rejects_an_unknown_field(helm):
    deployment = one(render(helm, "single"), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessprobe"):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[-1], strict=True)


def test_api_metrics_and_console_share_one_port_behind_the_service_and_the_policy(helm):
    """One container port serves the API, /metrics and the console: the Service, the
    ServiceMonitor and the NetworkPolicy's ingress all name that port."""
    docs = render(helm, "ha", *VARIANTS["network-policy"])
    [port] = runner_container(docs)["ports"]
    service, monitor, policy = (one(docs, "Service", "-killswitch"), one(docs, "ServiceMonitor"),
                                one(docs, "NetworkPolicy"))
    [service_port] = service["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]
    assert monitor["spec"]["endpoints"][0]["port"] == service_port["name"]
    [ingress] = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": port["name"], "protocol": "TCP"}]
    assert policy["spec"]["podSelector"]["matchLabels"] == service["spec"]["selector"]


def test_servicemonitor_scrapes_the_service(helm):
    """The one CRD, checked by hand: it selects the Service and scrapes its named port."""
    docs = render(helm, "ha")
    monitor, service = one(docs, "ServiceMonitor"), one(docs, "Service", "-killswitch")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert _selects(monitor["spec"]["selector"], service["metadata"]["labels"])
    # not the leader Service too: the leader's series would be scraped twice
    assert [s["metadata"]["name"] for s in objects_of(docs, "Service")
            if _selects(monitor["spec"]["selector"], s["metadata"]["labels"])] == ["ks-killswitch"]
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["trading"]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}


def _selects(selector: dict, labels: dict) -> bool:
    """Whether a label selector (matchLabels, and matchExpressions' In / NotIn / Exists /
    DoesNotExist) selects an object with ``labels``."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for e in selector.get("matchExpressions", []):
        key, op, values = e["key"], e["operator"], e.get("values", [])
        ok = {"In": key in labels and labels[key] in values, "NotIn": labels.get(key) not in values,
              "Exists": key in labels, "DoesNotExist": key not in labels}[op]
        if not ok:
            return False
    return True


def test_the_leader_service_selects_the_label_the_runner_sets_with_the_rights_it_needs(helm):
    """ha mode: the runner is told to set the very label the leader Service selects on, its pod
    (named by the downward API) runs under the account the RoleBinding binds, with that account's
    token mounted, and the Role allows patching pods and nothing else."""
    docs = render(helm, "ha")
    container, pod = runner_container(docs), one(docs, "Deployment")["spec"]["template"]
    [flag] = [a for a in container["args"] if a.startswith("--kube-leader-label=")]
    key = flag.partition("=")[2]
    leader = one(docs, "Service", "-leader")
    assert leader["spec"]["selector"] == {**one(docs, "Service", "-killswitch")["spec"]["selector"], key: "leader"}
    assert key not in pod["metadata"]["labels"], "the runner sets the role, the pod template does not"
    without_role = {k: v for k, v in leader["spec"]["selector"].items() if k != key}
    assert without_role.items() <= pod["metadata"]["labels"].items()
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert pod["spec"]["automountServiceAccountToken"] is True
    role, binding = one(docs, "Role"), one(docs, "RoleBinding")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": pod["spec"]["serviceAccountName"],
                                    "namespace": "trading"}]
    assert pod["spec"]["serviceAccountName"] in [a["metadata"]["name"] for a in objects_of(docs, "ServiceAccount")]


# --- helm-unittest -----------------------------------------------------------------------------

def test_helm_unittest_suites_pass(helm):
    if helm.plugins is None:
        require("helm-unittest")
    suites = sorted((CHART / "tests").glob("*_test.yaml"))
    assert suites, "no helm-unittest suites in charts/killswitch/tests"
    r = helm.run("unittest", "--color=false", str(CHART), check=False, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"Test Suites:\s+(\d+) passed, (\d+) total", r.stdout)
    assert m and m.group(1) == m.group(2) == str(len(suites)), r.stdout
    m = re.search(r"Tests:\s+(\d+) passed, (\d+) total", r.stdout)
    assert m and m.group(1) == m.group(2) and int(m.group(1)) > 0, r.stdout


# --- modes and rules ---------------------------------------------------------------------------

def test_single_mode_recreates_one_replica_on_a_claim(helm):
    docs = render(helm, "single")
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    claim = one(docs, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["state"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


def test_ha_mode_rolls_replicas_on_postgresql(helm):
    deployment = one(render(helm, "ha"), "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    env = {e["name"]: e for e in runner_container([deployment])["env"]}
    # the URL is a file of the mounted Secret; the variable holds its path only
    assert env["KS_STATE_URL_FILE"] == {"name": "KS_STATE_URL_FILE", "value": "/var/run/secrets/killswitch-state/url"}
    assert "KS_STATE_URL" not in env
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["state-url"]["secret"]["secretName"] == "killswitch-postgresql"


def test_ha_mode_without_a_postgresql_url_fails_with_a_clear_message(helm):
    r = helm.run("template", "ks", str(CHART), "-f", str(CI_VALUES["single"]), "--set", "mode=ha", check=False)
    assert r.returncode != 0
    assert "mode=ha needs a PostgreSQL URL from a Secret" in r.stderr, r.stderr


def test_policy_checksum_changes_with_the_policy_and_only_with_it(helm, tmp_path):
    def checksum(*args: str) -> str:
        deployment = one(render(helm, "single", *args), "Deployment")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/policies"]

    base = checksum()
    changed = (CHART / "ci" / "single-values.yaml").read_text().replace("dd_15m >= 10%", "dd_15m >= 9%")
    assert changed != (CHART / "ci" / "single-values.yaml").read_text()
    (tmp_path / "changed.yaml").write_text(changed)
    assert checksum("-f", str(tmp_path / "changed.yaml")) != base
    assert checksum("--set", "resources.limits.memory=1Gi", "--set", "image.tag=9.9.9") == base


def test_secret_values_appear_only_in_secrets(helm, tmp_path):
    marker = "SECRET-MARKER"
    values = write_values(tmp_path / "secrets.yaml", {
        "mode": "ha",
        "ha": {"postgresql": {"existingSecret": "", "url": f"postgresql://ks:{marker}-pg@db/ks"}},
        "apiToken": {"value": f"{marker}-token"},
        "secrets": {"env": {"BINANCE_API_KEY": f"{marker}-key", "KS_APPRISE_DESK_CHAT": f"tgram://{marker}-bot"},
                    "files": {"binance-secret": f"{marker}-file"}},
    })
    docs = render(helm, "ha", "-f", values)
    dumped = []
    for doc in docs:
        if doc["kind"] == "Secret":
            dumped += [base64.b64decode(v).decode() for v in doc["data"].values()]
        else:
            text = repr(doc)
            assert marker not in text, f"a secret value is in the {doc['kind']} {doc['metadata']['name']}"
    # every one of the five values did land in a Secret
    assert sum(marker in v for v in dumped) == 5, dumped


@pytest.mark.parametrize("max_unavailable", [None, "1%", "50%", "100%", "2"])
def test_pdb_never_blocks_a_drain(helm, max_unavailable):
    extra = [] if max_unavailable is None else ["--set-string" if "%" in max_unavailable else "--set",
                                                f"podDisruptionBudget.maxUnavailable={max_unavailable}"]
    for mode in MODES:
        docs = render(helm, mode, *extra)
        pdb = one(docs, "PodDisruptionBudget")
        replicas = one(docs, "Deployment")["spec"]["replicas"]
        assert "minAvailable" not in pdb["spec"]
        value = pdb["spec"]["maxUnavailable"]
        # Kubernetes rounds a percentage of maxUnavailable up (the disruption controller's
        # GetScaledValueFromIntOrPercent(..., roundUp=true)): with every pod healthy, at least one
        # may always be evicted
        allowed = math.ceil(int(value[:-1]) * replicas / 100) if isinstance(value, str) else value
        assert 1 <= allowed, (value, replicas)
        assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


@pytest.mark.parametrize("value", ["0", "0%", "101%", "-1", "half"])
def test_pdb_that_would_block_a_drain_is_refused(helm, value):
    r = helm.run("template", "ks", str(CHART), "-f", str(CI_VALUES["single"]), "--set-string" if not value.lstrip(
        "-").isdigit() else "--set", f"podDisruptionBudget.maxUnavailable={value}", check=False)
    assert r.returncode != 0 and "maxUnavailable" in r.stderr, r.stderr


# --- the chart and `ksctl run` agree -----------------------------------------------------------

def _repo_runbooks() -> dict[str, str]:
    """The repository's runbook templates (runbooks/*.j2), file name -> content."""
    templates = {p.name: p.read_text() for p in sorted(RUNBOOKS.glob("*.j2"))}
    assert templates, f"no runbook templates in {RUNBOOKS}"
    return templates


def _repo_policy_values(tmp_path: Path) -> str:
    """The repository's example policies, runbook templates and accounts as chart values, as a
    team would pass them."""
    files = {p.name: p.read_text() for p in sorted(POLICIES.glob("*.yaml")) if p.name != "accounts.yaml"}
    return write_values(tmp_path / "repo-policies.yaml", {
        "policies": {"files": files},
        "runbooks": {"files": _repo_runbooks()},
        "accounts": {"document": (POLICIES / "accounts.yaml").read_text()},
        # what their {env: ...} and {file: ...} references name (the chart refuses them otherwise)
        "secrets": {"existingSecret": "desk-env", "existingFilesSecret": "desk-files"},
    })


SECRET_STAND_INS = {"url": "postgresql://ks@db/ks"}  # the state URL's key, ha.postgresql.key


def _materialize(docs: list[dict], root: Path) -> dict[str, Path]:
    """Lay the runner's volume mounts out under ``root``, filled from the rendered ConfigMaps;
    returns mountPath -> directory."""
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    config_maps = {c["metadata"]["name"]: c for c in objects_of(docs, "ConfigMap")}
    out = {}
    for mount in runner_container(docs)["volumeMounts"]:
        d = root / mount["mountPath"].lstrip("/")
        d.mkdir(parents=True, exist_ok=True)
        source = volumes[mount["name"]]
        if "configMap" in source:
            data = config_maps[source["configMap"]["name"]]["data"]
            items = source["configMap"].get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                (d / item["path"]).write_text(data[item["key"]])
        elif "secret" in source:  # a stand-in value: what the runner reads there is a secret
            for item in source["secret"].get("items", []):
                (d / item["path"]).write_text(SECRET_STAND_INS.get(item["key"], "stand-in-" + "x" * 40) + "\n")
        out[mount["mountPath"]] = d
    return out


def test_repository_policies_mounted_by_the_chart_validate(helm, tmp_path):
    docs = helm.template("-f", _repo_policy_values(tmp_path))
    mounts = _materialize(docs, tmp_path / "pod")
    # the runbook templates the policies name are checked where the runner reads them (--runbooks)
    args = [a for a in runner_container(docs)["args"] if a.startswith("--runbooks=")]
    assert args == ["--runbooks=/etc/killswitch/runbooks"], runner_container(docs)["args"]
    runbooks = mounts["/etc/killswitch/runbooks"]
    assert {p.name: p.read_text() for p in runbooks.glob("*.j2")} == _repo_runbooks()
    r = CliRunner().invoke(cli, ["validate", "--strict", "--runbooks", str(runbooks),
                                 str(mounts["/etc/killswitch/policies"]),
                                 str(mounts["/etc/killswitch/accounts"] / "accounts.yaml")])
    assert r.exit_code == 0, r.output
    assert "1 Accounts, 1 NotificationRoutes, 8 Policy" in r.output
    assert "KS15" not in r.output, r.output


def test_runbook_template_change_rolls_the_pods(helm, tmp_path):
    """A template change is seen by the runner only at start (or after a policy reload): the
    chart's checksum annotation must change with it, and only with it."""
    def annotations(values: dict) -> dict:
        docs = helm.template("-f", _repo_policy_values(tmp_path), "-f", write_values(tmp_path / "rb.yaml", values))
        return one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]

    base = annotations({})
    flatten = _repo_runbooks()["flatten.md.j2"]
    changed = annotations({"runbooks": {"files": {"flatten.md.j2": flatten.replace("Is it flat?", "Flat?")}}})
    assert changed["checksum/runbooks"] != base["checksum/runbooks"]
    assert changed["checksum/policies"] == base["checksum/policies"]
    assert annotations({"resources": {"limits": {"memory": "1Gi"}}})["checksum/runbooks"] == base["checksum/runbooks"]


def test_without_runbooks_the_runner_uses_its_built_in_runbook(helm):
    """No templates given: no ConfigMap, no mount, no --runbooks (ksctl run then falls back to its
    built-in runbook; the NOTES say so, see charts/killswitch/tests/runbooks_test.yaml)."""
    docs = render(helm, "single")
    container = runner_container(docs)
    assert not any(a.startswith("--runbooks") for a in container["args"]), container["args"]
    assert not [m for m in container["volumeMounts"] if m["name"] == "runbooks"]
    assert not [v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == "runbooks"]
    assert not [c for c in objects_of(docs, "ConfigMap") if c["metadata"]["name"].endswith("-runbooks")]
    assert "checksum/runbooks" not in one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]


@pytest.mark.parametrize("mode", MODES)
def test_runner_command_line_is_accepted_by_ksctl_run(helm, mode, tmp_path, monkeypatch):
    docs = render(helm, mode, "-f", _repo_policy_values(tmp_path))
    container = runner_container(docs)
    assert container["command"] == ["ksctl", "run"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    dirs = _materialize(docs, tmp_path / "pod")

    def mount_of(path: str) -> dict:
        found = [m for p, m in mounts.items() if path == p or path.startswith(p.rstrip("/") + "/")]
        assert found, f"{path} is on the read-only root filesystem, not on a volume"
        return max(found, key=lambda m: len(m["mountPath"]))

    def local(path: str) -> str:
        m = mount_of(path)
        return str(dirs[m["mountPath"]] / Path(path).relative_to(m["mountPath"]))

    # the kubelet expands $(VAR) from the container's env; the state URL comes from a Secret
    env = {e["name"] for e in container["env"]}
    args = []
    for arg in container["args"]:
        for var in re.findall(r"\$\((\w+)\)", arg):
            assert var in env, f"{arg} uses ${var}, which the container does not define"
        arg = arg.replace("$(KS_POD_NAME)", "ks-0")
        name, _, value = arg.partition("=")
        if name in ("--policies", "--accounts", "--runbooks"):
            assert mount_of(value).get("readOnly"), f"{name} {value} should be mounted read-only"
            value = local(value)
        elif name == "--lock-file":
            assert not mount_of(value).get("readOnly"), f"the lock file {value} must be writable"
            value = local(value)
        elif name == "--state" and value.startswith("sqlite://"):
            path = value[len("sqlite://"):]
            assert not mount_of(path).get("readOnly", False), f"the state {path} must be writable"
            value = "sqlite://" + local(path)
        args.append(f"{name}={value}")

    # the secrets' variables hold paths of mounted Secrets, which ksctl run reads (ha: the state URL)
    for var in ("KS_STATE_URL", "KS_API_TOKEN", "KS_STATE_URL_FILE", "KS_API_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    for e in container["env"]:
        if e["name"].endswith("_FILE"):
            assert mount_of(e["value"]).get("readOnly"), f"{e['name']} {e['value']} should be mounted read-only"
            monkeypatch.setenv(e["name"], local(e["value"]))
    if mode == "ha":
        assert "KS_STATE_URL_FILE" in env
        assert not any(a.startswith("--state") for a in args), "the URL must not be on the command line"
    ctx = run_command.make_context("run", args)  # click checks the options, types and paths
    params = ctx.params
    assert params["api_host"] == "0.0.0.0"
    assert params["api_port"] == next(p["containerPort"] for p in container["ports"] if p["name"] == "http")
    assert params["api_token_file"] and Path(params["api_token_file"]).read_text().strip()
    state_url = state_url_from_file(params["state_url_file"], creates=True) if params["state_url_file"] \
        else params["state_url"]
    assert state_url.startswith("postgresql://" if mode == "ha" else "sqlite:///")
    assert any(Path(params["policies"][0]).glob("*.yaml"))
    # the runbook templates: a read-only mount of their own (checked above) holding every template
    assert params["runbooks"], "the chart passes no --runbooks though runbooks.files are given"
    assert mount_of(next(a for a in container["args"] if a.startswith("--runbooks="))
                    .partition("=")[2])["mountPath"] == "/etc/killswitch/runbooks"
    mounted = {p.name: p.read_text() for p in Path(params["runbooks"]).glob("*.j2")}
    assert _repo_runbooks().items() <= mounted.items(), sorted(mounted)


# --- the install command of docs/deployment.md starts ---------------------------------------------

def _readme_install_commands() -> list[list[str]]:
    """The commands of the code block of docs/deployment.md that installs the chart, each as its argv."""
    blocks, current = [], None
    for line in (ROOT / "docs" / "deployment.md").read_text().splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    [block] = [b for b in blocks if "helm install ks charts/killswitch" in b]
    return [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def _document_references(paths: list[Path]) -> tuple[set[str], set[str]]:
    """The {file: PATH} and {env: NAME} references of the YAML documents at ``paths``: a walk of the
    parsed documents (not the chart's own text search)."""
    files: set[str] = set()
    envs: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if set(node) == {"file"} and isinstance(node["file"], str):
                files.add(node["file"])
            elif set(node) == {"env"} and isinstance(node["env"], str):
                envs.add(node["env"])
            else:
                for value in node.values():
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in paths:
        for doc in YAML(typ="safe").load_all(path.read_text()):
            walk(doc)
    return files, envs


def _helm_args(install: list[str]) -> tuple[str, list[str], list[Path]]:
    """(release, `helm template` arguments, the documents passed with --set-file) of a README
    `helm install RELEASE CHART ...` line; the --set-file paths made absolute (the docs' are
    relative to the repository root)."""
    assert install[:2] == ["helm", "install"] and install[3] == "charts/killswitch", install
    args, documents = [], []
    rest = install[4:]
    for i, arg in enumerate(rest):
        if i and rest[i - 1] == "--set-file":
            key, _, path = arg.partition("=")
            arg = f"{key}={ROOT / path}"
            if key == "accounts.document" or key.startswith("policies.files."):
                documents.append(ROOT / path)
        args.append(arg)
    return install[2], args, documents


def test_readme_install_command_mounts_every_file_the_documents_reference(helm):
    """What docs/deployment.md tells a platform team to run starts: every {file: PATH} of the documents it
    installs is mounted (read-only) from a Secret that holds that key — either made by the chart, or
    by the kubectl lines of docs/deployment.md — and no secret reaches an environment variable."""
    commands = _readme_install_commands()
    [install] = [c for c in commands if c[:2] == ["helm", "install"]]
    created: dict[str, set[str]] = {}  # Secret made by the docs' kubectl lines -> its keys
    for c in commands:
        if c[:4] == ["kubectl", "create", "secret", "generic"]:
            keys = {a.split("=", 2)[1] for a in c[5:] if a.startswith(("--from-literal=", "--from-file="))}
            created[c[4]] = keys
    release, args, documents = _helm_args(install)
    assert {p.name for p in documents} >= {"accounts.yaml", "routes.yaml"}, documents
    docs = helm.template(*args, release=release)
    files, envs = _document_references(documents)
    assert files, "the example documents reference secrets; the check would check nothing"
    assert not envs, f"the example documents must reference secrets as files, not environment variables: {envs}"
    assert not any(c[:4] == ["kubectl", "create", "secret", "generic"] and any(a.startswith("--from-literal=")
                                                                              for a in c) for c in commands), \
        "the docs' Secrets are made from files (--from-file), never from literals on a command line"

    made = {d["metadata"]["name"]: {k for k in (d.get("data") or {})} for d in objects_of(docs, "Secret")}
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    container = runner_container(docs)

    def secret_keys(name: str) -> set[str]:
        assert name in made or name in created, f"the Secret {name} is made neither by the chart nor by the docs"
        return made.get(name) or created[name]

    for path in sorted(files):
        mounts = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
        assert mounts, f"{path} is referenced by the documents but nothing is mounted there"
        mount = max(mounts, key=lambda m: len(m["mountPath"]))
        assert mount.get("readOnly"), mount
        key = path[len(mount["mountPath"].rstrip("/")) + 1:]
        volume = volumes[mount["name"]]
        sources = ([s["secret"] for s in volume["projected"]["sources"]] if "projected" in volume
                   else [{"name": volume["secret"]["secretName"], **volume["secret"]}])
        assert any(key in secret_keys(s["name"]) and key in {i["path"] for i in s.get("items", [{"path": key}])}
                   for s in sources), f"{path}: no Secret mounted at {mount['mountPath']} holds the key {key}"

    assert not [r for r in container.get("envFrom", []) if "secretRef" in r], container["envFrom"]
    assert not [e for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})], container["env"]


def test_readme_install_command_without_the_files_secret_is_refused(helm):
    """The line the README had before: it cannot start (nothing mounts the secret files), and the
    chart now says so instead of rendering a pod that stops with AUTH."""
    [install] = [c for c in _readme_install_commands() if c[:2] == ["helm", "install"]]
    release, args, _ = _helm_args(install)
    i = args.index("secrets.existingFilesSecret=ks-files")
    del args[i - 1:i + 1]
    r = helm.run("template", release, str(CHART), "--namespace", "trading", *args, check=False)
    assert r.returncode != 0
    assert "the documents reference the file /var/run/secrets/killswitch/" in r.stderr, r.stderr
