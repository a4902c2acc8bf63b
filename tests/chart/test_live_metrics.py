"""The chart's alert rules and dashboard against what a live runner really exports.

A real ``ksctl run`` on the simulated exchange's HTTP face (the flash crash, sped up, so that
stages, orders, a lock and failing pages put samples in the families), with a NotificationRoutes
document whose only receiver listens nowhere and the venue read by a reader process (``--readers
1``); ``/metrics`` is read over HTTP as Prometheus scrapes it. On that page ``promtool check
metrics`` passes, and every metric name used by a rule of files/alerts.yaml or a query of the
dashboard is exported (a family declared by ``# TYPE`` counts even before its first sample).
Every process is killed in ``finally``."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from tests.chart.monitoring import (
    ALERTS,
    DASHBOARD,
    dashboard_queries,
    metric_names,
    missing_metrics,
    promtool,
    rule_queries,
)
from tests.integration.test_processes import API_TOKEN, ENV, KSCTL, Sim, stop, wait_for, write_inputs
from tests.procs import free_port, wait_port

ROUTES = """\
apiVersion: killswitch/v1
kind: NotificationRoutes
metadata: {{name: desk}}
spec:
  route: {{receiver: desk-webhook, group_by: [policy, scope], group_wait: 0s}}
  receivers:
    - name: desk-webhook
      apprise: ["json://127.0.0.1:{port}/killswitch"]
  fallback_receiver: desk-webhook
"""


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def _sample(page: str, name: str) -> float:
    m = re.search(rf"^{name} (\S+)$", page, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.fixture(scope="module")
def live_page(tmp_path_factory) -> str:
    tmp = tmp_path_factory.mktemp("live-metrics")
    sim = Sim(tmp, scenario="flash-crash")
    runner, out = None, open(tmp / "run.out", "w")
    try:
        pol, acc = write_inputs(tmp, sim.port)
        (pol / "routes.yaml").write_text(ROUTES.format(port=free_port()))  # nothing listens there
        port = free_port()
        runner = subprocess.Popen(
            [str(KSCTL), "run", "--policies", str(pol), "--accounts", str(acc), "--state",
             f"sqlite://{tmp / 'state.db'}", "--lock-file", str(tmp / "lock.json"), "--api-port", str(port),
             # an audit sink whose receiver is down: its families (lag, up) are exported as the alerts read them
             "--audit-sink", f"syslog+tcp://127.0.0.1:{free_port()}",
             # a reader process (as the chart's runner.readers starts them): its families (up,
             # restarts) are exported as the alerts read them
             "--readers", "1"],
            stdout=out, stderr=subprocess.STDOUT, env={**ENV, "KS_API_TOKEN": API_TOKEN})
        wait_port(port, 30)
        url = f"http://127.0.0.1:{port}/metrics"
        wait_for(lambda: _sample(_get(url), "killswitch_ticks_total") >= 5, 60, "five ticks", step=0.5)
        # the crash's stage entries, when this machine is quick enough to see them before the
        # crash is over (the checks below hold either way: every family is declared from the start)
        end = time.monotonic() + 30
        while time.monotonic() < end and "killswitch_stage_transitions_total{" not in _get(url):
            time.sleep(0.5)
        time.sleep(2)  # the stage's pages: their delivery attempts fail
        return _get(url)
    finally:
        stop(runner)
        out.close()
        sim.close()


def test_promtool_check_metrics_passes_on_a_live_page(live_page):
    r = promtool("check", "metrics", stdin=live_page)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr
    assert "killswitch_ticks_total" in live_page and "killswitch_leader 1" in live_page


def test_promtool_check_metrics_fails_on_a_family_named_against_the_conventions(live_page):
    """The check above can fail: a counter without _total is refused."""
    bad = live_page + "# HELP killswitch_bad_count Bad.\n# TYPE killswitch_bad_count counter\nkillswitch_bad_count 1\n"
    r = promtool("check", "metrics", stdin=bad)
    assert r.returncode != 0 and "killswitch_bad_count" in r.stdout + r.stderr


def unexported(page: str, alerts: Path = ALERTS, dashboard: Path = DASHBOARD) -> str:
    """One line per metric name that the rules or the dashboard use and ``page`` does not export,
    with where each is used; "" when there is none."""
    missing = missing_metrics({**rule_queries(alerts), **dashboard_queries(dashboard)}, page)
    by_name: dict[str, list[str]] = {}
    for where, names in missing.items():
        for name in names:
            by_name.setdefault(name, []).append(where)
    return "\n".join(f"  {name}: used by {'; '.join(sorted(wheres))}" for name, wheres in sorted(by_name.items()))


def test_every_metric_the_rules_and_the_dashboard_query_is_exported(live_page):
    report = unexported(live_page)
    assert not report, "the live /metrics does not export these metrics:\n" + report


def test_a_planted_unknown_metric_is_named(live_page, tmp_path):
    """The check above can fail, and says what and where: an alert and a dashboard query using
    names the runner does not export."""
    alerts = tmp_path / "alerts.yaml"
    alerts.write_text(ALERTS.read_text() + textwrap.indent(textwrap.dedent("""\
        - alert: PlantedAlert
          expr: rate(killswitch_planted_unknown_total{job="killswitch"}[5m]) > 0 and killswitch_leader == 1
        """), " " * 6))
    dash = json.loads(DASHBOARD.read_text())
    panel = next(p for p in dash["panels"] if p["type"] != "row")
    panel["targets"].append({"refId": "Z", "expr": 'process_planted_unknown_bytes{job=~"$job"}'})
    dashboard = tmp_path / "killswitch.json"
    dashboard.write_text(json.dumps(dash))
    report = unexported(live_page, alerts, dashboard)
    planted = {line.split(":")[0].strip() for line in report.splitlines()}
    assert {"killswitch_planted_unknown_total", "process_planted_unknown_bytes"} <= planted, report
    assert "alerts.yaml PlantedAlert" in report and f"panel {panel['title']!r} Z" in report, report
    # over a page that declares every name the real files use: the planted names, and nothing more
    names = set().union(*(metric_names(q) for q in {**rule_queries(), **dashboard_queries()}.values()))
    full = live_page + "".join(f"# HELP {n} x\n# TYPE {n} gauge\n" for n in sorted(names))
    assert {line.split(":")[0].strip() for line in unexported(full, alerts, dashboard).splitlines()} == \
        {"killswitch_planted_unknown_total", "process_planted_unknown_bytes"}


@pytest.mark.parametrize("query,names", [
    ('time() - killswitch_last_tick_timestamp_seconds{job="killswitch"}\n  > 60 # threshold',
     {"killswitch_last_tick_timestamp_seconds"}),
    ("histogram_quantile(0.99, sum by (le, instance) (rate(a_seconds_bucket{job=~\"$job\"}[$__rate_interval])))",
     {"a_seconds_bucket"}),
    ('max by (policy) (b{reason!="UNMATCHED"} and on (namespace, job, instance) (c{j="k"} == 1)) == 0', {"b", "c"}),
    ('d offset 5m + e @ 1609746000 - f[1h:5m] / ignoring (x) group_left (y) g', {"d", "e", "f", "g"}),
    ('h{l="a}b, by (i)"} > bool 1e3 * 0x1F unless absent(j)', {"h", "j"}),
    ("sum without (instance) (k) or vector(1) and on() Inf > NaN", {"k"}),
    ('label_values(l{namespace=~"$namespace"}, job)', {"l"}),
    ("count(m:recorded:rate5m)", {"m:recorded:rate5m"}),
])
def test_metric_names_of_a_query(query, names):
    assert metric_names(query) == names


@pytest.mark.parametrize("query", ['{__name__="x"}', "label_values(job)"])
def test_a_query_whose_metric_cannot_be_checked_is_refused(query):
    with pytest.raises(ValueError, match=r"__name__|names no metric"):
        metric_names(query)
