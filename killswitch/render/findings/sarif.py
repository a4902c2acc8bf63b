"""Findings as one SARIF 2.1.0 log (OASIS; the format code scanning uploads).

One run: ``tool.driver`` (name, version, informationUri, and the ``rules`` the command can report,
each with its short description and default level), then a result per finding: ``ruleId`` and
``ruleIndex``, ``level``, ``message.text`` and one location, ``artifactLocation.uri`` relative
to the root (the current directory, or ``--sarif-root``) under ``uriBaseId`` ``%SRCROOT%``, and a
``region`` (``startLine``, ``startColumn``) when the finding has a position. A URI is a URI:
spaces, non-ASCII and the other characters a URI reserves are percent-encoded (UTF-8), ``/``
kept. A file outside the root is named by its absolute ``file:`` URI. Columns count Unicode code
points, as the policy loader counts them (``columnKind``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence
from urllib.parse import quote

from . import INFORMATION_URI, Finding, Rule, relative_to

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"


def artifact_location(file: str, root: str) -> dict[str, Any]:
    rel = relative_to(file, root)
    if rel is None:
        return {"uri": Path(os.path.abspath(file)).as_uri()}
    return {"uri": quote(rel, safe="/"), "uriBaseId": SRCROOT}


def sarif_log(findings: Iterable[Finding], rules: Sequence[Rule], version: str, root: str | None = None,
              tool: str = "ksctl") -> dict[str, Any]:
    base = os.path.abspath(root if root is not None else os.getcwd())
    index = {r.id: i for i, r in enumerate(rules)}
    results = []
    for f in findings:
        location: dict[str, Any] = {"artifactLocation": artifact_location(f.file, base)}
        if f.line is not None:
            location["region"] = {"startLine": f.line, **({"startColumn": f.col} if f.col is not None else {})}
        result: dict[str, Any] = {"ruleId": f.rule, "level": f.level, "message": {"text": f.message},
                                  "locations": [{"physicalLocation": location}]}
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        results.append(result)
    driver = {"name": tool, "version": version, "informationUri": INFORMATION_URI,
              "rules": [{"id": r.id, "shortDescription": {"text": r.title},
                         "defaultConfiguration": {"level": r.level}} for r in rules]}
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "originalUriBaseIds": {SRCROOT: {"uri": Path(base).as_uri().rstrip("/") + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
