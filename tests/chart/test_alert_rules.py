"""The alert rules the chart ships (charts/killswitch/files/alerts.yaml): ``promtool check rules``,
the ``promtool test rules`` unit test of every alert (charts/killswitch/tests/rules/), proof that
each unit test fails when its rule is changed (its threshold, its ``for``, its leader filter),
and the PrometheusRule the chart renders from the same file.

promtool comes from Debian's ``prometheus`` package (.ci/run installs it): without it these tests
skip, or fail under KS_REQUIRE_ALL=1 as in CI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.chart.conftest import CHART, CI_VALUES, Helm, one, write_values
from tests.chart.monitoring import ALERTS, RULE_TESTS, load_rules, metric_names, promtool
from tests.conftest import ROOT, require_tool

RULES = load_rules()
NAMES = [r["alert"] for r in RULES]
THRESHOLD = re.compile(r"(-?\d+(?:\.\d+)?)([ \t]*# threshold)")
LEADER_FILTER = re.compile(r'\s*and on \(namespace, job, instance\) \(killswitch_leader\{job="killswitch"\} == 1\)')
JOB = 'job="killswitch"'


def seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", duration))


def test_ci_installs_promtool_from_debian_before_the_tests():
    """.ci/run, which runs the suite with KS_REQUIRE_ALL=1 (no skip for a missing promtool),
    installs Debian's prometheus package when promtool is missing, without recommends, before
    `make test`."""
    script = (ROOT / ".ci" / "run").read_text()
    guard = script.index("if ! command -v promtool >/dev/null 2>&1; then")
    install = script.index("apt-get install -y -qq --no-install-recommends prometheus", guard)
    assert guard < install < script.index("\nmake test\n")


# --- the file as promtool reads it -------------------------------------------------------------

def test_promtool_check_rules_passes():
    r = promtool("check", "rules", str(ALERTS))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in r.stdout, r.stdout


def test_promtool_check_rules_fails_on_a_broken_rule(tmp_path):
    """The check above can fail: a rule with a PromQL syntax error is refused."""
    broken = tmp_path / "alerts.yaml"
    broken.write_text(ALERTS.read_text().replace("absent(killswitch_leader", "absent((killswitch_leader", 1))
    r = promtool("check", "rules", str(broken))
    assert r.returncode != 0 and "KillswitchRunnerAbsent" in r.stdout + r.stderr, r.stdout + r.stderr


@pytest.mark.parametrize("alert", NAMES)
def test_promtool_unit_test_of_the_alert_passes(alert):
    r = promtool("test", "rules", str(RULE_TESTS / f"{alert}.yaml"))
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def test_every_alert_has_a_unit_test_that_fires_it_and_one_that_must_not():
    tests = {p.stem: YAML(typ="safe").load(p.read_text()) for p in RULE_TESTS.glob("*.yaml")}
    assert sorted(tests) == sorted(NAMES), "one unit test file per alert, named after it"
    for alert, doc in tests.items():
        assert doc["rule_files"] == ["../../files/alerts.yaml"], f"{alert}: test the one source of the rules"
        cases = [c for t in doc["tests"] for c in t.get("alert_rule_test", [])]
        assert cases and all(c["alertname"] == alert for c in cases), f"{alert}: its file tests it alone"
        assert any(c["exp_alerts"] for c in cases), f"{alert}: no case fires it"
        assert any(not c["exp_alerts"] for c in cases), f"{alert}: no case where it must not fire"


MUTATIONS = ["never", "for", "threshold up", "threshold down", "leader filter"]


def _mutate(rule: dict, how: str) -> bool:
    """Change ``rule`` in place the way ``how`` says; False when it does not apply to the rule."""
    expr = rule["expr"]
    if how == "never":
        rule["expr"] = "vector(1) < 0"
    elif how == "for":
        if not rule.get("for"):
            return False
        rule["for"] = f"{seconds(rule['for']) + 60}s"  # a minute longer: the boundary case must see it
    elif how.startswith("threshold"):
        m = THRESHOLD.search(expr)
        if not m:
            return False
        step = 1 if how == "threshold up" else -1
        rule["expr"] = THRESHOLD.sub(lambda m: f"{float(m.group(1)) + step:g}{m.group(2)}", expr)
    elif how == "leader filter":
        if not LEADER_FILTER.search(expr):
            return False
        rule["expr"] = LEADER_FILTER.sub("", expr)
    return True


# every change that applies to the rule (a rule without a `for`, a threshold or a leader filter has
# none of it to change)
CHANGES = [(rule["alert"], how) for rule in RULES for how in MUTATIONS if _mutate(dict(rule), how)]


def _promtool_by_file(*args: str, files: list[Path]) -> dict[Path, str]:
    """One promtool run over ``files``, its output cut into what it said of each file (stdout and
    stderr in one pipe, so each file's FAILED lines stay under its own heading)."""
    r = subprocess.run([require_tool("promtool"), *args, *map(str, files)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120, cwd=ROOT)
    parts = re.split(r"^(?:Checking|Unit Testing:) +(\S+)\n", r.stdout, flags=re.M)
    said = {Path(name): text for name, text in zip(parts[1::2], parts[2::2])}
    assert sorted(said) == sorted(files), f"promtool {' '.join(args)} did not report each file:\n{r.stdout}"
    return said


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    """What ``promtool test rules`` says of an alert's unit test run against its rule alone,
    unchanged ("as shipped") and changed each way that applies: one promtool run per alert for all
    of its changes, made when the first of its cases asks. The rule is written alone in its file
    (promtool evaluates every rule of the file at every step of every test, and the whole file is
    most of the time): no rule reads another's output (see the test below), so the verdict on the
    alert is the same, and the unchanged rule alone must pass for a changed one's failure to count."""
    made: dict[str, dict[str, str]] = {}

    def of(alert: str) -> dict[str, str]:
        if alert not in made:
            root = tmp_path_factory.mktemp(alert)
            yaml = YAML()
            tests = {}
            for how in ["as shipped"] + [h for a, h in CHANGES if a == alert]:
                doc = yaml.load(ALERTS.read_text())
                for group in doc["groups"]:
                    group["rules"] = [r for r in group["rules"] if r["alert"] == alert]
                doc["groups"] = [g for g in doc["groups"] if g["rules"]]
                [rule] = doc["groups"][0]["rules"]
                assert how == "as shipped" or _mutate(rule, how)
                case = root / how.replace(" ", "-")
                (case / "files").mkdir(parents=True)
                with (case / "files" / "alerts.yaml").open("w") as f:
                    yaml.dump(doc, f)
                (case / "tests" / "rules").mkdir(parents=True)
                tests[how] = Path(shutil.copy(RULE_TESTS / f"{alert}.yaml", case / "tests" / "rules"))
            checked = _promtool_by_file("check", "rules", files=[t.parents[2] / "files" / "alerts.yaml"
                                                                 for t in tests.values()])
            for text in checked.values():
                assert "SUCCESS: 1 rules found" in text, text
            said = _promtool_by_file("test", "rules", files=list(tests.values()))
            made[alert] = {how: said[t] for how, t in tests.items()}
        return made[alert]

    return of


def test_no_rule_reads_what_another_rule_makes():
    """What lets an alert's unit test run against its rule alone: every rule is an alert (none
    records a series), none reads the ALERTS series the others write, and the unit tests check
    alerts only (no PromQL expression test that could read another rule's output)."""
    for rule in RULES:
        assert "alert" in rule and "record" not in rule, rule
        assert not metric_names(rule["expr"]) & {"ALERTS", "ALERTS_FOR_STATE"}, rule["alert"]
    for path in RULE_TESTS.glob("*.yaml"):
        doc = YAML(typ="safe").load(path.read_text())
        assert all(set(t) <= {"interval", "input_series", "alert_rule_test", "name"} for t in doc["tests"]), path


@pytest.mark.parametrize("alert,how", CHANGES)
def test_the_unit_test_fails_when_its_rule_is_changed(alert, how, verdicts):
    """A unit test that passes whatever the rule says proves nothing: each one must catch a rule that
    never fires, a ``for`` one minute longer, a threshold one unit higher or lower, and the
    standby's series read as the leader's."""
    said = verdicts(alert)
    assert "SUCCESS" in said["as shipped"] and "FAILED" not in said["as shipped"], \
        f"the unit test of {alert} fails against its rule alone, unchanged:\n{said['as shipped']}"
    assert "FAILED" in said[how] and "SUCCESS" not in said[how], \
        f"the unit test of {alert} still passes with its {how} changed:\n{said[how]}"


# --- what every rule must carry ----------------------------------------------------------------

def test_every_selector_is_scoped_to_the_job():
    """The chart narrows the rules to its release by rewriting job="killswitch": a selector without
    it would read (and alert on) every release's runners."""
    for rule in RULES:
        expr = re.sub(r"#[^\n]*", "", rule["expr"])
        selectors = re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?", expr)
        for name, matchers in selectors:
            if name in metric_names(expr):
                assert JOB in matchers, f"{rule['alert']}: {name} is not scoped with {{{JOB}}}"


def test_every_alert_has_a_severity_its_texts_and_a_runbook_in_the_deployment_docs():
    readme = (ROOT / "docs" / "deployment.md").read_text()
    for rule in RULES:
        alert = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning"), alert
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], alert
        assert notes["runbook_url"] == f"docs/deployment.md#{alert.lower()}", alert
        assert f'<a id="{alert.lower()}"></a>' in readme, f"docs/deployment.md has no entry for {alert}"
        grouped = re.search(r"by \(([^)]*)\)", rule["expr"])
        if grouped:  # what the description names is a label the aggregation keeps
            used = set(re.findall(r"\$labels\.(\w+)", notes["description"]))
            assert used <= {x.strip() for x in grouped.group(1).split(",")}, f"{alert}: {used} aggregated away"


def test_the_schema_knows_every_alert_and_which_have_a_threshold():
    schema = json.loads((CHART / "values.schema.json").read_text())
    alerts = schema["properties"]["prometheusRule"]["properties"]["alerts"]["properties"]
    assert sorted(alerts) == sorted(NAMES)
    for rule in RULES:
        has = bool(THRESHOLD.search(rule["expr"]))
        assert ("threshold" in alerts[rule["alert"]]["properties"]) == has, rule["alert"]
        assert len(THRESHOLD.findall(rule["expr"])) <= 1, f"{rule['alert']}: one threshold at most"


# --- the PrometheusRule the chart renders ------------------------------------------------------

def _rendered_rules(helm: Helm, *args: str) -> dict:
    """The PrometheusRule of the chart rendered with the rules on and ``args``."""
    return one(helm.template("-f", str(CI_VALUES["single"]), "--set", "prometheusRule.enabled=true", *args),
               "PrometheusRule")


def test_the_prometheus_rule_is_the_file_with_only_the_selector_changed(helm):
    obj = _rendered_rules(helm)
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    assert obj["metadata"]["namespace"] == "trading"
    source = YAML(typ="safe").load(ALERTS.read_text())
    selector = 'job="ks-killswitch",namespace="trading"'
    for group in source["groups"]:
        for rule in group["rules"]:
            rule["expr"] = rule["expr"].replace(JOB, selector)
    assert obj["spec"] == source
    assert JOB not in json.dumps(obj["spec"])


def test_rendered_rules_with_every_override_pass_promtool(helm, tmp_path):
    values = write_values(tmp_path / "rules.yaml", {"prometheusRule": {
        "namespace": "monitoring", "labels": {"release": "kube-prometheus-stack"},
        "selector": 'job="desk-killswitch"', "additionalRuleLabels": {"team": "trading", "severity": "low"},
        "runbookBaseUrl": "https://git.example.com/risk/killswitch/blob/v0.1.0/docs/deployment.md",
        "alerts": {"KillswitchTickStalled": {"threshold": 120.5, "for": "3m", "severity": "warning"},
                   "KillswitchSnapshotFailures": {"threshold": 10},
                   "KillswitchLeaseFlapping": {"enabled": False}}}})
    obj = _rendered_rules(helm, "-f", values)
    assert obj["metadata"]["namespace"] == "monitoring"
    assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rules = {r["alert"]: r for g in obj["spec"]["groups"] for r in g["rules"]}
    assert sorted(rules) == sorted(set(NAMES) - {"KillswitchLeaseFlapping"})
    stalled = rules["KillswitchTickStalled"]
    assert "> 120.5 # threshold" in stalled["expr"] and stalled["for"] == "3m"
    assert stalled["labels"] == {"severity": "warning", "team": "trading"}
    assert "> 10 # threshold" in rules["KillswitchSnapshotFailures"]["expr"]
    for rule in rules.values():
        assert 'job="desk-killswitch"' in rule["expr"] and JOB not in rule["expr"]
        assert rule["labels"]["severity"] in ("critical", "warning"), "an alert's own severity wins"
        assert rule["annotations"]["runbook_url"] == \
            f"https://git.example.com/risk/killswitch/blob/v0.1.0/docs/deployment.md#{rule['alert'].lower()}"
    plain = tmp_path / "rendered.yaml"
    with plain.open("w") as f:
        YAML(typ="safe").dump(obj["spec"], f)
    r = promtool("check", "rules", str(plain))
    assert r.returncode == 0 and f"SUCCESS: {len(rules)} rules found" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("setting,message", [
    ("prometheusRule.alerts.KillswitchTickStaled.threshold=1", "KillswitchTickStaled"),
    ("prometheusRule.alerts.KillswitchNoLeader.threshold=1", "threshold"),
    ("prometheusRule.alerts.KillswitchNoLeader.for=5 minutes", "for"),
])
def test_an_alert_override_that_does_not_fit_is_refused(helm, setting, message):
    r = helm.run("template", "ks", str(CHART), "-f", str(CI_VALUES["single"]), "--set", "prometheusRule.enabled=true",
                 "--set", setting, check=False)
    assert r.returncode != 0 and message in r.stderr, r.stderr


def test_the_rules_are_off_by_default(helm):
    docs = helm.template("-f", str(CI_VALUES["single"]))
    assert not [d for d in docs if d["kind"] == "PrometheusRule"]
