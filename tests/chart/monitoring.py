"""What the chart's alert rules and Grafana dashboard query, and what a ``/metrics`` page exports.

The rules are charts/killswitch/files/alerts.yaml, the dashboard files/dashboards/killswitch.json
(both rendered by the chart as they are). :func:`metric_names` reads the metric names out of a
PromQL expression (or a Grafana ``label_values(...)`` query) without a PromQL parser: quoted
strings, label matchers, ranges, comments and grouping clauses are cut out first, then every
identifier that is neither a keyword nor called like a function is a metric name. A name given
only as ``__name__="..."`` is refused rather than missed.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Optional

from ruamel.yaml import YAML

from tests.chart.conftest import CHART
from tests.conftest import ROOT, require_tool

ALERTS = CHART / "files" / "alerts.yaml"
DASHBOARD = CHART / "files" / "dashboards" / "killswitch.json"
RULE_TESTS = CHART / "tests" / "rules"

def promtool(*args: str, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    """promtool (Debian's ``prometheus`` package; .ci/run installs it): skips the test without it,
    or fails it under KS_REQUIRE_ALL=1."""
    return subprocess.run([require_tool("promtool"), *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_RANGE = re.compile(r"\[[^\]]*\]")
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_TOKEN = re.compile(r"(?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:ms|s|m|h|d|w|y)*)"
                    r"|(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)")
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
             "offset", "inf", "nan"}
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<args>.*)\)\s*$", re.S)


def metric_names(query: str) -> set[str]:
    """The metric names ``query`` selects (PromQL, or Grafana's ``label_values(expr, label)``)."""
    m = _LABEL_VALUES.match(query)
    if m:
        selector, _, label = m.group("args").rpartition(",")
        if not selector.strip():  # label_values(label): every series, no metric named
            raise ValueError(f"{query!r} names no metric: write label_values(metric, {label.strip()})")
        query = selector
    text = _STRING.sub('""', query)
    if "__name__" in text:
        raise ValueError(f"{query!r} selects a metric by __name__: write the name, so it can be checked")
    text = _COMMENT.sub("", text)
    text = _GRAFANA_VARIABLE.sub("1", text)
    text = _RANGE.sub("", text)
    text = _MATCHERS.sub("", text)
    text = _GROUPING.sub("", text)
    names = set()
    for token in _TOKEN.finditer(text):
        name = token.group("name")
        if name is None or name.lower() in _KEYWORDS:
            continue
        if text[token.end():].lstrip().startswith("("):  # a function or an aggregation
            continue
        names.add(name)
    return names


def load_rules(path: Path = ALERTS) -> list[dict]:
    """Every rule of a rule file, in order."""
    doc = YAML(typ="safe").load(path.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def rule_queries(path: Path = ALERTS) -> dict[str, str]:
    """Where -> PromQL, for every alert of a rule file."""
    return {f"{path.name} {rule['alert']}": rule["expr"] for rule in load_rules(path)}


def dashboard_queries(path: Path = DASHBOARD) -> dict[str, str]:
    """Where -> query, for every target of every panel (rows' panels too) and every query variable."""
    dash = json.loads(path.read_text())
    out: dict[str, str] = {}

    def panels(items: list) -> None:
        for panel in items:
            panels(panel.get("panels", []))
            for target in panel.get("targets", []):
                out[f"{path.name} panel {panel['title']!r} {target['refId']}"] = target["expr"]

    panels(dash["panels"])
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            out[f"{path.name} variable ${var['name']}"] = query
    return out


def exported_names(page: str) -> set[str]:
    """The names a Prometheus scrape of ``page`` can give a query: every family's (declared with
    ``# TYPE`` even when it has no sample yet), a histogram's and a summary's series, and every
    sample's."""
    names = set()
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            names.add(name)
            if kind in ("histogram", "summary"):
                names |= {f"{name}_sum", f"{name}_count"}
            if kind == "histogram":
                names.add(f"{name}_bucket")
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def missing_metrics(queries: dict[str, str], page: str) -> dict[str, list[str]]:
    """Where -> the names its query uses that ``page`` does not export (only where some are).
    A query that names no metric at all counts as missing one: it would check nothing."""
    exported = exported_names(page)
    missing = {}
    for where, query in queries.items():
        names = metric_names(query)
        if not names:
            missing[where] = ["(no metric name found in the query)"]
        elif absent := sorted(names - exported):
            missing[where] = absent
    return missing
