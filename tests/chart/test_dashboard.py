"""The Grafana dashboard the chart ships (charts/killswitch/files/dashboards/killswitch.json): its
panels and variables hold together, every query is PromQL that ``promtool`` parses, the panels
the issue asks for are there, and the chart puts it, unchanged, in a ConfigMap with Grafana's
sidecar label. (Whether the runner exports every metric it queries: test_live_metrics.py.)"""

from __future__ import annotations

import json
import re

import kubernetes_validate
from ruamel.yaml import YAML

from tests.chart.conftest import CI_VALUES, one
from tests.chart.monitoring import DASHBOARD, dashboard_queries, metric_names, promtool

DASH = json.loads(DASHBOARD.read_text())
PANELS = [p for p in DASH["panels"] if p["type"] != "row"]
VARIABLES = {v["name"]: v for v in DASH["templating"]["list"]}
# What Grafana puts in for its variables before a query reaches Prometheus.
GRAFANA_VALUES = {"__rate_interval": "2m", "__interval": "1m", "namespace": ".*", "job": ".*", "policy": ".*"}


def _grafana_expanded(query: str) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: GRAFANA_VALUES[m.group(1)], query)


def test_every_panel_queries_through_the_datasource_variable():
    assert DASH["uid"] == "killswitch" and DASH["title"]
    assert VARIABLES["datasource"]["type"] == "datasource" and VARIABLES["datasource"]["query"] == "prometheus"
    for panel in PANELS:
        assert panel["title"] and panel["description"], panel["id"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target.get("datasource", panel["datasource"]) == panel["datasource"]


def test_panel_ids_are_unique_and_the_panels_do_not_overlap():
    ids = [p["id"] for p in DASH["panels"]]
    assert len(ids) == len(set(ids))
    taken: dict[tuple[int, int], str] = {}
    for panel in DASH["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, panel["title"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


def test_every_variable_a_query_uses_is_defined():
    for where, query in dashboard_queries().items():
        for name in re.findall(r"\$\{?(\w+)\}?", query):
            assert name.startswith("__") or name in VARIABLES, f"{where} uses ${name}, which is not defined"


def test_every_query_is_promql_that_promtool_parses(tmp_path):
    """Each panel's query (with Grafana's variables filled in) as a recording rule: ``promtool
    check rules`` parses it. The variables' label_values() selectors too."""
    rules = []
    for i, (where, query) in enumerate(sorted(dashboard_queries().items())):
        m = re.match(r"\s*label_values\((.*),\s*\w+\)\s*$", query, re.S)
        expr = _grafana_expanded(m.group(1) if m else query)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr, "labels": {"where": where}})
    path = tmp_path / "dashboard-queries.yaml"
    with path.open("w") as f:
        YAML(typ="safe").dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
    r = promtool("check", "rules", str(path))
    assert r.returncode == 0 and f"SUCCESS: {len(rules)} rules found" in r.stdout, r.stdout + r.stderr


def test_the_parse_check_fails_on_a_broken_query(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text('groups: [{name: d, rules: [{record: "d:q", expr: "sum by (le (rate(x[2m]))"}]}]\n')
    assert promtool("check", "rules", str(path)).returncode != 0


def test_the_dashboard_shows_what_the_issue_asks_for():
    """Leader and ticks, tick duration, stages and armed coverage per policy and scope, data age and
    fetch failures per account, failing pages, locks, signal values against their thresholds, and
    the process's memory and CPU."""
    used = set().union(*(metric_names(q) for q in dashboard_queries().values()))
    wanted = {"killswitch_leader", "killswitch_ticks_total", "killswitch_last_tick_timestamp_seconds",
              "killswitch_tick_duration_seconds_bucket", "killswitch_stage", "killswitch_policy_armed",
              "killswitch_data_age_seconds", "killswitch_snapshot_failures_total", "killswitch_account_fetch_ok",
              "killswitch_notification_receiver_failing", "killswitch_notifications_failing_since_seconds",
              "killswitch_lock_state", "killswitch_signal_value", "killswitch_trigger_threshold",
              "process_resident_memory_bytes", "process_cpu_seconds_total"}
    assert wanted <= used, sorted(wanted - used)


# --- the ConfigMap the chart renders ------------------------------------------------------------

def test_the_chart_puts_the_dashboard_unchanged_in_a_sidecar_configmap(helm):
    docs = helm.template("-f", str(CI_VALUES["single"]), "--set", "grafanaDashboard.enabled=true")
    config_map = one(docs, "ConfigMap", "-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "trading"
    assert json.loads(config_map["data"]["killswitch.json"]) == DASH
    kubernetes_validate.validate(config_map, "1.27", strict=True)
    # kubectl's client-side apply (Argo CD, Flux) copies an object into an annotation of at most
    # 256 KiB: a dashboard larger than that could not be applied that way
    assert len(json.dumps(config_map)) < 256 * 1024


def test_the_dashboard_is_off_by_default(helm):
    docs = helm.template("-f", str(CI_VALUES["single"]))
    assert not [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]
