"""The chart's shards (values `shards`): one Deployment, leader Service and PDB per shard, all on one
PostgreSQL; and, without shards, the chart exactly as it rendered before shards existed.

The golden files under tests/chart/golden/ are `helm template` outputs of the chart as it was before
`shards` was added (rewrite them with `pytest tests/chart/test_shards.py --update-goldens` only for
a deliberate change of the unsharded chart, and review the diff like code). The helm-unittest
cases of the same feature are in charts/killswitch/tests/shards_test.yaml.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from killswitch.cli.common import state_url_from_file
from killswitch.cli.run import run as run_command
from tests.chart.conftest import CHART, CI_VALUES, Helm, objects_of, one
from tests.chart.test_chart import KUBE_VERSIONS, VARIANTS, _selects
from tests.conftest import check_golden

GOLDEN = Path(__file__).parent / "golden"

# The generated audit key (randAlphaNum) would make every render differ: a fixed one.
FIXED = ["--set", "auditKey.value=golden-audit-key-not-a-secret-0123456789"]

UNSHARDED = [(m, None) for m in sorted(CI_VALUES)] + [("single", v) for v in VARIANTS] + \
    [("ha", "existing"), ("ha", "network-policy")]


def _render_text(helm: Helm, mode: str, *args: str) -> str:
    return helm.run("template", "ks", str(CHART), "--namespace", "trading", "-f", str(CI_VALUES[mode]),
                    *FIXED, *args).stdout


@pytest.mark.parametrize("mode,variant", UNSHARDED)
def test_without_shards_the_chart_renders_byte_for_byte_as_before(helm, mode, variant, update_goldens):
    out = _render_text(helm, mode, *VARIANTS.get(variant, []))
    check_golden(GOLDEN / f"{mode}-{variant or 'default'}.yaml", out, update_goldens)


def test_empty_shards_render_as_no_shards(helm):
    assert _render_text(helm, "ha", "--set", "shards=null") == _render_text(helm, "ha")
    assert _render_text(helm, "ha", "--set-json", "shards=[]") == _render_text(helm, "ha")


# --- a 3-shard release -------------------------------------------------------------------------

THREE_SHARDS = CHART / "tests" / "values" / "three-shards.yaml"
SHARDS = ["desk-a", "desk-b", "desk-c"]
SHARD_LABEL, ROLE_LABEL = "killswitch.io/shard", "killswitch.io/role"


def render_shards(helm: Helm, *args: str) -> list[dict]:
    return helm.template("-f", str(CI_VALUES["ha"]), "-f", str(THREE_SHARDS), *args)


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_three_shard_release_matches_kubernetes_schemas(helm, kube):
    docs = render_shards(helm, *VARIANTS["network-policy"])
    counts = {kind: len(objects_of(docs, kind)) for kind in ("Deployment", "Service", "PodDisruptionBudget")}
    # three runners, three leader Services and the release's, three budgets
    assert counts == {"Deployment": 3, "Service": 4, "PodDisruptionBudget": 3}, counts
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":
            continue  # a CRD: tests/chart/test_chart.py checks it by hand
        kubernetes_validate.validate(doc, kube, strict=True)
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), names
    for kind, name in names:
        if kind == "Service":
            assert len(name) <= 63, name  # a DNS label


def _pods(docs: list[dict]) -> dict[str, dict]:
    """Shard -> the labels of its pods (the Deployment's pod template)."""
    return {d["spec"]["template"]["metadata"]["labels"][SHARD_LABEL]: d["spec"]["template"]["metadata"]["labels"]
            for d in objects_of(docs, "Deployment")}


def test_each_shard_has_its_deployment_leader_service_and_budget_over_its_own_pods(helm):
    """What the runner's leader label (--kube-leader-label) does, per shard: the pod holding a
    shard's lease carries role=leader, and only that shard's leader Service selects it; a shard's
    Deployment and PDB select its pods and no other shard's."""
    docs = render_shards(helm)
    pods = _pods(docs)
    assert sorted(pods) == SHARDS
    for shard, labels in pods.items():
        deployment = one(docs, "Deployment", f"-{shard}")
        assert _selects(deployment["spec"]["selector"], labels)
        args = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "runner")["args"]
        assert [a for a in args if a.startswith("--shard")] == [f"--shard={shard}"]
        assert f"--kube-leader-label={ROLE_LABEL}" in args
        assert ROLE_LABEL not in labels, "the runner sets the role, the pod template does not"
        leader, pdb = one(docs, "Service", f"-{shard}-leader"), one(docs, "PodDisruptionBudget", f"-{shard}")
        for other, other_labels in pods.items():
            as_leader, as_standby = {**other_labels, ROLE_LABEL: "leader"}, {**other_labels, ROLE_LABEL: "standby"}
            assert _selects({"matchLabels": leader["spec"]["selector"]}, as_leader) == (other == shard), (shard, other)
            assert not _selects({"matchLabels": leader["spec"]["selector"]}, as_standby)
            assert _selects(pdb["spec"]["selector"], other_labels) == (other == shard), (shard, other)
            assert _selects(deployment["spec"]["selector"], other_labels) == (other == shard), (shard, other)


def test_release_service_network_policy_and_service_monitor_cover_every_shard(helm):
    docs = render_shards(helm, *VARIANTS["network-policy"])
    service, policy = one(docs, "Service", "-killswitch"), one(docs, "NetworkPolicy")
    monitor = one(docs, "ServiceMonitor")
    for shard, labels in _pods(docs).items():
        assert _selects({"matchLabels": service["spec"]["selector"]}, labels), shard
        assert _selects(policy["spec"]["podSelector"], labels), shard
    # the ServiceMonitor scrapes every pod through the release's Service (not the leader Services,
    # which would scrape leaders twice), and keeps each pod's shard on its series
    assert [s["metadata"]["name"] for s in objects_of(docs, "Service")
            if _selects(monitor["spec"]["selector"], s["metadata"]["labels"])] == ["ks-killswitch"]
    assert monitor["spec"]["podTargetLabels"] == [SHARD_LABEL]
    # every shard reaches the one PostgreSQL (the egress rule) from the one Secret
    assert any(p["port"] == 5432 for rule in policy["spec"]["egress"] for p in rule.get("ports", []))
    for deployment in objects_of(docs, "Deployment"):
        runner = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "runner")
        env = {e["name"]: e for e in runner["env"]}
        assert env["KS_STATE_URL_FILE"]["value"] == "/var/run/secrets/killswitch-state/url"
        assert "KS_STATE_URL" not in env
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes["state-url"]["secret"]["secretName"] == "killswitch-postgresql"


def test_shards_on_sqlite_are_refused_with_the_reason(helm):
    r = helm.run("template", "ks", str(CHART), "-f", str(CI_VALUES["single"]), "-f", str(THREE_SHARDS), check=False)
    assert r.returncode != 0
    assert "shards need the PostgreSQL state" in r.stderr, r.stderr


def test_shard_runner_command_line_is_accepted_by_ksctl_run(helm, tmp_path, monkeypatch):
    """Each shard's arguments, as `ksctl run` parses them (paths replaced by local files)."""
    if "shard" not in {p.name for p in run_command.params}:
        pytest.skip("this ksctl run has no --shard option yet")
    docs = render_shards(helm)
    (tmp_path / "policies").mkdir()
    (tmp_path / "accounts.yaml").write_text("")
    (tmp_path / "runbooks").mkdir()
    local = {"--policies": str(tmp_path / "policies"), "--accounts": str(tmp_path / "accounts.yaml"),
             "--runbooks": str(tmp_path / "runbooks"), "--lock-file": str(tmp_path / "lock.json"),
             "--audit-key-file": str(tmp_path / "audit-key")}
    (tmp_path / "state-url").write_text("postgresql://ks@db/ks\n")
    (tmp_path / "api-token").write_text("stand-in-token\n")
    monkeypatch.delenv("KS_STATE_URL", raising=False)
    for deployment in objects_of(docs, "Deployment"):
        runner = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "runner")
        args = []
        for arg in runner["args"]:
            name, _, value = arg.partition("=")
            args.append(f"{name}={local.get(name, value)}".replace("$(KS_POD_NAME)", "ks-0"))
        files = {"/var/run/secrets/killswitch-state/url": tmp_path / "state-url",
                 "/var/run/secrets/killswitch-token/token": tmp_path / "api-token"}
        for e in runner["env"]:
            if e["name"].endswith("_FILE"):
                monkeypatch.setenv(e["name"], str(files[e["value"]]))
        params = run_command.make_context("run", args).params
        assert params["shard"] == deployment["spec"]["template"]["metadata"]["labels"][SHARD_LABEL]
        assert state_url_from_file(params["state_url_file"], creates=True) == "postgresql://ks@db/ks"
